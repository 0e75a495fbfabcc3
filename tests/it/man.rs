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
    // The commands, then each command's own options: one page, no stuckconn-scan(1) pages
    // to point at (clap_mangen's subcommand section would name such pages).
    page.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
        page.extend_from_slice(
            format!(
                ".TP\n\\fBstuckconn {}\\fR\n{}\n",
                sub.get_name(),
                about.replace('-', "\\-")
            )
            .as_bytes(),
        );
    }
    for name in ["record", "watch", "check", "abort", "serve"] {
        let sub = cmd.find_subcommand(name).expect("subcommand").clone();
        let mut options = Vec::new();
        Man::new(sub).render_options_section(&mut options).unwrap();
        let options = String::from_utf8(options).unwrap();
        page.extend_from_slice(
            options
                .replacen(
                    ".SH OPTIONS",
                    &format!(".SH \"{} OPTIONS\"", name.to_uppercase()),
                    1,
                )
                .as_bytes(),
        );
    }
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
        "WATCH OPTIONS",
        "CHECK OPTIONS",
        "ABORT OPTIONS",
        "SERVE OPTIONS",
        "COMMANDS",
        "SEE ALSO",
    ] {
        assert!(
            text.contains(&format!(".SH {section}"))
                || text.contains(&format!(".SH \"{section}\"")),
            "{section}"
        );
    }
    assert!(text.contains("min\\-idle"), "scan options are documented");
    // Every page it points at exists on a Debian host; it names no page of its own that
    // is not installed.
    assert!(
        !text.contains("stuckconn\\-"),
        "no stuckconn-COMMAND(1) pages exist"
    );
}
