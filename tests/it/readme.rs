//! The README's sample output is what the tool prints for the incident fixture, so it cannot
//! drift: this test fails when it is stale; `UPDATE_README=1 cargo test --test it readme`
//! rewrites it. A sample is a fenced block right after a line
//! `<!-- sample: ARGS -->` (ARGS as given to stuckconn, from the repository root); the block's
//! first line is the command as a reader would type it.

use crate::common::*;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");

/// The README with every sample block regenerated.
fn regenerated(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        out.push_str(line);
        out.push('\n');
        let Some(args) = line
            .strip_prefix("<!-- sample: ")
            .and_then(|l| l.strip_suffix(" -->"))
        else {
            continue;
        };
        let fence = lines
            .next()
            .expect("a fenced block after the sample marker");
        assert!(fence.starts_with("```"), "a fence after {line}");
        let prompt = lines.next().expect("the command line");
        for skipped in lines.by_ref() {
            if skipped.starts_with("```") {
                break;
            }
        }
        let (_, stdout, stderr) = run(stuckconn()
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(args.split(' '))
            .args(["--color", "never"]));
        assert!(stderr.is_empty(), "{args}: {stderr}");
        out.push_str(fence);
        out.push('\n');
        out.push_str(prompt);
        out.push('\n');
        out.push_str(&stdout);
        out.push_str("```\n");
    }
    out
}

#[test]
fn readme_samples_are_what_the_tool_prints() {
    let text = std::fs::read_to_string(README).unwrap();
    assert!(text.contains("<!-- sample: "), "the README has samples");
    let fresh = regenerated(&text);
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(README, &fresh).unwrap();
        return;
    }
    assert!(
        text == fresh,
        "README.md's sample output is stale: run `UPDATE_README=1 cargo test --test it readme`"
    );
}
