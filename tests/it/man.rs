//! The man page is generated from the clap definitions (clap_mangen) plus man/extra.roff.
//! This test fails when the committed man/stuckconn.1 is stale; regenerate it with
//! `UPDATE_MAN=1 cargo test --test it man`.

use clap::CommandFactory;
use clap_mangen::Man;

fn generate() -> Vec<u8> {
    let cmd = stuckconn::cli::Cli::command();
    let man = Man::new(cmd.clone())
        .date("")
        .source(format!("stuckconn {}", env!("CARGO_PKG_VERSION")));
    let mut page = Vec::new();
    man.render_title(&mut page).unwrap();
    man.render_name_section(&mut page).unwrap();
    man.render_synopsis_section(&mut page).unwrap();
    man.render_description_section(&mut page).unwrap();
    man.render_options_section(&mut page).unwrap();
    man.render_subcommands_section(&mut page).unwrap();
    let record = cmd
        .find_subcommand("record")
        .expect("record subcommand")
        .clone();
    let mut record_options = Vec::new();
    Man::new(record)
        .render_options_section(&mut record_options)
        .unwrap();
    let record_options = String::from_utf8(record_options).unwrap();
    page.extend_from_slice(
        record_options
            .replacen(".SH OPTIONS", ".SH \"RECORD OPTIONS\"", 1)
            .as_bytes(),
    );
    let extra = concat!(env!("CARGO_MANIFEST_DIR"), "/man/extra.roff");
    page.extend_from_slice(&std::fs::read(extra).unwrap());
    man.render_version_section(&mut page).unwrap();
    page
}

#[test]
fn committed_man_page_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/man/stuckconn.1");
    let fresh = generate();
    if std::env::var_os("UPDATE_MAN").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let committed = std::fs::read(path).unwrap_or_default();
    assert!(
        committed == fresh,
        "man/stuckconn.1 is stale: run `UPDATE_MAN=1 cargo test --test it man` and commit it"
    );
    let text = String::from_utf8(fresh).unwrap();
    for section in [
        "EXIT STATUS",
        "PERMISSIONS",
        "JSON OUTPUT",
        "EXAMPLES",
        "RECORD OPTIONS",
    ] {
        assert!(
            text.contains(&format!(".SH {section}"))
                || text.contains(&format!(".SH \"{section}\"")),
            "{section}"
        );
    }
    assert!(text.contains("min\\-idle"), "scan options are documented");
}
