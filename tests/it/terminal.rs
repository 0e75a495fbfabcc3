//! What only shows on a terminal: colour (unless NO_COLOR), the capture countdown, and the
//! watch screen redrawn in place. `script(1)` gives the command a real pseudo-terminal; the
//! command scans only the namespace its test made.

use crate::common::*;
use std::process::Command;
use std::time::Duration;

/// Runs `stuckconn` (a command of the bed's, scoped to it) with `args`, its stdout and stderr
/// on a pseudo-terminal; returns what it printed.
fn on_terminal(mut stuckconn: Command, args: &[&str], env: &[(&str, &str)]) -> String {
    stuckconn.args(args);
    let quote =
        |word: &std::ffi::OsStr| format!("'{}'", word.to_str().unwrap().replace('\'', r"'\''"));
    let line = std::iter::once(stuckconn.get_program())
        .chain(stuckconn.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]);
    for (key, value) in stuckconn.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.env("COLUMNS", "160").env_remove("NO_COLOR");
    cmd.envs(env.iter().copied());
    let (_, out, _) = run(&mut cmd);
    out
}

fn hung_call(bed: &Bed) -> (Proc, Proc, String) {
    let blackhole = bed.testbed(&["blackhole"]);
    let port = blackhole.port().to_string();
    let hung = bed.testbed(&["hung-recv", &port]);
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
    let Some(bed) = Bed::new("colour", &[]) else {
        return;
    };
    let (_b, _h, port) = hung_call(&bed);
    let args = ["--no-dns", "--min-idle", "1s", "--port", &port];
    let coloured = on_terminal(bed.stuckconn(""), &args, &[]);
    assert!(coloured.contains("hung call"), "{coloured}");
    assert!(
        coloured.contains("\x1b[1m")
            || coloured.contains("\x1b[31m")
            || coloured.contains("\x1b[38;5;9m"),
        "colour on a terminal: {coloured:?}"
    );
    let plain = on_terminal(bed.stuckconn(""), &args, &[("NO_COLOR", "1")]);
    assert!(plain.contains("hung call"));
    assert!(!plain.contains("\x1b["), "NO_COLOR: {plain:?}");
    let (_, piped, _) = run(bed.stuckconn("").args(args));
    assert!(piped.contains("hung call"), "{piped}");
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
    let Some(bed) = Bed::new("countdown", &[]) else {
        return;
    };
    let (_b, _h, port) = hung_call(&bed);
    let args = [
        "--no-dns",
        "--min-idle",
        "1s",
        "--port",
        &port,
        "--capture",
        "2s",
    ];
    // Capture watches stuckconn's own namespace: it runs inside the bed.
    let tty = on_terminal(bed.inside(""), &args, &[]);
    assert!(
        tty.contains("capturing: 2s left, 0 packets so far"),
        "{tty:?}"
    );
    assert!(tty.contains("idle 2s"), "the report follows: {tty}");
    let (_, _, stderr) = run(bed.inside("").args(args));
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
    let Some(bed) = Bed::new("redraw", &[]) else {
        return;
    };
    let (_b, _h, port) = hung_call(&bed);
    let screen = on_terminal(
        bed.stuckconn("watch"),
        &[
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
