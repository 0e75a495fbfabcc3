//! `stuckconn completions SHELL`: scripts the real shells accept. bash is always there; zsh
//! and fish are checked where installed (else the test says so).

use crate::common::*;
use std::process::Command;

fn script(shell: &str) -> String {
    let (status, out, err) = run(stuckconn().args(["completions", shell]));
    assert_eq!(status, 0, "completions {shell}: {err}");
    assert!(err.is_empty(), "{err}");
    assert!(out.len() > 1000, "completions {shell}: {out}");
    out
}

#[test]
fn bash_completion_parses_registers_and_completes_subcommands_and_flags() {
    let text = script("bash");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stuckconn.bash");
    std::fs::write(&path, &text).unwrap();
    let (status, _, err) = run(Command::new("bash").arg("-n").arg(&path));
    assert_eq!(status, 0, "bash -n: {err}");
    // Sourced, it registers a function for stuckconn, and that function completes the
    // subcommands and a subcommand's flags as bash would ask it to.
    let probe = format!(
        "source {path}\n\
         complete -p stuckconn\n\
         COMP_WORDS=(stuckconn se); COMP_CWORD=1; COMP_LINE='stuckconn se'; COMP_POINT=12\n\
         _stuckconn stuckconn se stuckconn; echo \"words: ${{COMPREPLY[*]}}\"\n\
         COMP_WORDS=(stuckconn serve --li); COMP_CWORD=2; COMP_LINE='stuckconn serve --li'; COMP_POINT=20\n\
         _stuckconn stuckconn --li serve; echo \"flags: ${{COMPREPLY[*]}}\"\n",
        path = path.display()
    );
    let (status, out, err) = run(Command::new("bash").arg("-c").arg(probe));
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("-F _stuckconn stuckconn"), "{out}{err}");
    let words = out.lines().find_map(|l| l.strip_prefix("words: ")).unwrap();
    assert!(words.split(' ').any(|w| w == "serve"), "{out}");
    let flags = out.lines().find_map(|l| l.strip_prefix("flags: ")).unwrap();
    assert!(flags.split(' ').any(|w| w == "--listen"), "{out}");
}

#[test]
fn zsh_and_fish_completions_are_valid_where_those_shells_exist() {
    for (shell, check) in [("zsh", &["-n"][..]), ("fish", &["--no-execute"][..])] {
        let text = script(shell);
        assert!(
            text.contains("serve") && text.contains("min-interval"),
            "{text}"
        );
        if which(shell).is_none() {
            skip(
                &current_test(),
                &format!("{shell} is not installed: only generated"),
            );
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("script");
        std::fs::write(&path, &text).unwrap();
        let (status, _, err) = run(Command::new(shell).args(check).arg(&path));
        assert_eq!(status, 0, "{shell} {check:?}: {err}");
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let (status, out, err) = run(stuckconn().args(["completions", "tcsh"]));
    assert_eq!(status, 2, "{out}");
    assert!(err.contains("tcsh"), "{err}");
}
