//! What only shows on a terminal: colour (unless NO_COLOR), the capture countdown, and the
//! watch screen redrawn in place. `script(1)` gives the command a real pseudo-terminal.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

/// Runs stuckconn with its stdout and stderr on a pseudo-terminal; returns what it printed.
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> String {
    let bin = env!("CARGO_BIN_EXE_stuckconn");
    let line = std::iter::once(bin.to_string())
        .chain(args.iter().map(|a| a.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env("COLUMNS", "160")
        .env_remove("NO_COLOR");
    cmd.envs(env.iter().copied());
    let (_, out, _) = run(&mut cmd);
    out
}

fn hung_call() -> (Proc, Proc, String) {
    let blackhole = testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = testbed(&["hung-recv", &port]);
    std::thread::sleep(Duration::from_millis(1200));
    (blackhole, hung, port)
}

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    if which("script").is_none() {
        skip(
            "colour_only_on_a_terminal_and_never_with_no_color",
            "script(1) is not installed",
        );
        return;
    }
    let (_b, _h, port) = hung_call();
    let args = ["--no-dns", "--min-idle", "1s", "--port", &port];
    let coloured = on_terminal(&args, &[]);
    assert!(coloured.contains("hung call"), "{coloured}");
    assert!(
        coloured.contains("\x1b[1m")
            || coloured.contains("\x1b[31m")
            || coloured.contains("\x1b[38;5;9m"),
        "colour on a terminal: {coloured:?}"
    );
    let plain = on_terminal(&args, &[("NO_COLOR", "1")]);
    assert!(plain.contains("hung call"));
    assert!(!plain.contains("\x1b["), "NO_COLOR: {plain:?}");
    let (_, piped, _) = run(stuckconn().args(args));
    assert!(!piped.contains('\x1b'), "not a terminal: no colour");
}

#[test]
fn capture_counts_down_on_a_terminal_only() {
    if !is_root() || which("script").is_none() {
        skip(
            "capture_counts_down_on_a_terminal_only",
            "needs root (capture) and script(1)",
        );
        return;
    }
    let (_b, _h, port) = hung_call();
    let args = [
        "--no-dns",
        "--min-idle",
        "1s",
        "--port",
        &port,
        "--capture",
        "2s",
    ];
    let tty = on_terminal(&args, &[]);
    assert!(
        tty.contains("capturing: 2s left, 0 packets so far"),
        "{tty:?}"
    );
    assert!(tty.contains("idle 2s"), "the report follows: {tty}");
    let (_, _, stderr) = run(stuckconn().args(args));
    assert!(
        !stderr.contains("capturing"),
        "no progress line when stderr is not a terminal: {stderr}"
    );
}

#[test]
fn watch_redraws_in_place_on_a_terminal() {
    if which("script").is_none() {
        skip(
            "watch_redraws_in_place_on_a_terminal",
            "script(1) is not installed",
        );
        return;
    }
    let (_b, _h, port) = hung_call();
    let screen = on_terminal(
        &[
            "watch",
            "--interval",
            "300ms",
            "--count",
            "3",
            "--no-dns",
            "--min-idle",
            "1s",
            "--port",
            &port,
        ],
        &[],
    );
    assert_eq!(
        screen.matches("\x1b[H\x1b[2J").count(),
        3,
        "one redraw a sample"
    );
    for n in 1..=3 {
        assert!(
            screen.contains(&format!("sample {n} every 300ms")),
            "{screen}"
        );
    }
    assert!(
        screen.contains("▁") || screen.contains("█"),
        "a sparkline: {screen}"
    );
    assert!(screen.contains("Watched 3 samples"), "{screen}");
    assert!(
        !screen.contains("\"schema_version\""),
        "a table, not ndjson"
    );
}
