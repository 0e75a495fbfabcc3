//! Property tests for every parser of outside bytes: whatever they are fed, they return a
//! value or a clean error, never a panic; and what they return keeps its promises.

use proptest::prelude::*;
use stuckconn::capture::{flows::FlowTable, packet};
use stuckconn::collect::{self, cgroup, sockdiag, waits};
use stuckconn::snapshot::{Endpoint, TcpInfo};

/// Programs and pieces of command lines for `command_lines_with_shell_strings`.
const PROGRAMS: [&str; 10] = [
    "bash", "/bin/sh", "sudo", "su", "env", "mysql", "curl", "sshpass", "app", "-bash",
];
#[rustfmt::skip]
const PIECES: [&str; 60] = [
    "'", "\"", "\\", " ", "\t", "\n", ";", "&", "&&", "|", "(", ")", "`", "$(", ">", "2>&1", "=", ":",
    "@", "://", "/", "?", "&token=", "-c", "-lc", "-p", "-u", "-a", "-H", "-S", "--", "-",
    "--password", "--password=", "-Dk.keyStorePassword=", "PGPASSWORD=", "Authorization:",
    "Authorization: ", "Bearer", "Basic ", "token", "X-Api-Key: ", "Cookie:", "mysql", "sudo",
    "bash", "sh", "su", "env", "curl", "sshpass", "timeout 5", "x", "hunter2", "é", "***", "#",
    "{", "if", "https://u:pw@h",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tcp_info_of_any_length(raw in proptest::collection::vec(any::<u8>(), 0..400)) {
        let info = TcpInfo::parse(&raw);
        prop_assert_eq!(info.info_len as usize, raw.len());
        // Fields beyond what the kernel sent are unknown, never invented.
        prop_assert_eq!(info.bytes_received.is_some(), raw.len() >= 136);
        prop_assert_eq!(info.segs_in.is_some(), raw.len() >= 144);
    }

    #[test]
    fn sock_diag_datagrams(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut dump = sockdiag::Dump::default();
        let _ = sockdiag::parse_datagram(&raw, &mut dump);
    }

    #[test]
    fn sock_diag_datagrams_with_a_plausible_header(
        len in 0u32..600, kind in prop_oneof![Just(20u16), Just(2), Just(3), any::<u16>()],
        body in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let mut raw = Vec::new();
        raw.extend_from_slice(&len.to_ne_bytes());
        raw.extend_from_slice(&kind.to_ne_bytes());
        raw.extend_from_slice(&[0u8; 10]);
        raw.extend_from_slice(&body);
        let mut dump = sockdiag::Dump::default();
        let _ = sockdiag::parse_datagram(&raw, &mut dump);
    }

    #[test]
    fn proc_syscall_lines(text in ".{0,200}", nr in -2i64..500, args in proptest::collection::vec(any::<u64>(), 0..9)) {
        let _ = waits::parse_syscall(&text).as_ref().map(|l| waits::classify(l, None));
        let line = std::iter::once(nr.to_string())
            .chain(args.iter().map(|a| format!("{a:#x}")))
            .collect::<Vec<_>>()
            .join(" ");
        if let Some(parsed) = waits::parse_syscall(&line) {
            prop_assert!(nr >= 0 && args.len() >= 6);
            prop_assert_eq!(parsed.args.to_vec(), args[..6].to_vec());
        }
    }

    #[test]
    fn poll_and_select_sets(raw in proptest::collection::vec(any::<u8>(), 0..512), nfds in 0u64..5000) {
        let fds = waits::poll_fds(&raw);
        prop_assert!(fds.len() <= raw.len() / 8);
        let set = waits::fd_set_fds(&raw, nfds);
        prop_assert!(set.iter().all(|&fd| u64::from(fd) < nfds));
    }

    #[test]
    fn cgroup_paths(paths in proptest::collection::vec(".{0,120}", 0..6)) {
        let (_, container) = cgroup::identify(&paths);
        if let Some(id) = container {
            prop_assert!(id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        if let Some(uid) = cgroup::pod_uid(&paths) {
            prop_assert_eq!(uid.len(), 36);
        }
    }

    #[test]
    fn snapshot_files_of_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = collect::parse(std::path::Path::new("fuzz.json"), &raw);
    }

    #[test]
    fn damaged_real_snapshots(cut in 0usize..9364, flips in proptest::collection::vec((0usize..9364, any::<u8>()), 0..8)) {
        let mut raw = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/mixed.json")).unwrap();
        for (at, byte) in flips {
            if at < raw.len() {
                raw[at] = byte;
            }
        }
        raw.truncate(cut);
        // Either it still is a snapshot, or it is refused with a one-line reason.
        if let Err(err) = collect::parse(std::path::Path::new("mixed.json"), &raw) {
            prop_assert!(!err.to_string().contains('\n'));
        }
    }

    #[test]
    fn captured_frames_of_every_link_type(
        linktype in prop_oneof![Just(1), Just(12), Just(101), Just(113), Just(276), any::<i32>()],
        frame in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        if let Some(segment) = packet::parse(linktype, &frame) {
            let mut table = FlowTable::new([(segment.src, segment.dst)]);
            table.add(&segment);
            let counts = table.finish().remove(&(segment.src, segment.dst)).unwrap();
            prop_assert_eq!(counts.packets, 1);
        }
    }

    #[test]
    fn segments_in_any_order(segs in proptest::collection::vec((any::<bool>(), any::<u32>(), any::<u32>(), 0u32..3000, any::<bool>()), 0..60)) {
        let a = Endpoint::normalized("192.0.2.1".parse().unwrap(), 40000);
        let b = Endpoint::normalized("192.0.2.100".parse().unwrap(), 80);
        let mut table = FlowTable::new([(a, b)]);
        for (forward, seq, ack, len, fin) in &segs {
            let (src, dst) = if *forward { (a, b) } else { (b, a) };
            table.add(&packet::Segment { src, dst, seq: *seq, ack: Some(*ack), payload_len: *len, syn: false, fin: *fin, rst: false, headers_len: 54 });
        }
        let counts = table.finish().remove(&(a, b)).unwrap();
        prop_assert_eq!(counts.packets as usize, segs.len());
        prop_assert!(counts.data_packets + counts.retransmissions + counts.keepalives <= counts.packets);
    }

    #[test]
    fn ptr_names(raw in ".{0,400}") {
        if let Some(name) = stuckconn::resolve::clean_name(&raw) {
            prop_assert!(name.chars().count() <= 253);
            prop_assert!(!name.chars().any(|c| c.is_control() || c.is_whitespace()));
            prop_assert_eq!(stuckconn::render::sanitize(&name).into_owned(), name.clone());
        }
    }

    #[test]
    fn terminal_text(raw in ".{0,300}") {
        let safe = stuckconn::render::sanitize(&raw);
        prop_assert!(!safe.chars().any(|c| c.is_control()));
    }

    #[test]
    fn command_lines(raw in ".{0,300}", secret in "[a-zA-Z0-9]{6,20}") {
        let once = stuckconn::redact::redact(&raw);
        prop_assert_eq!(stuckconn::redact::redact(&once), once.clone(), "redacting twice changes nothing");
        for form in [
            format!("app --password={secret}"),
            format!("mysql -p{secret} db"),
            format!("curl https://u:{secret}@h.example/x?token={secret}"),
        ] {
            prop_assert!(!stuckconn::redact::redact(&form).contains(&secret), "{}", form);
        }
    }

    /// Command lines made of pieces of shell syntax and secret forms, shell strings and runners
    /// among them: redaction never panics, keeps the number of arguments, and redacting twice
    /// changes nothing.
    #[test]
    fn command_lines_with_shell_strings(
        program in proptest::sample::select(PROGRAMS.to_vec()),
        args in proptest::collection::vec(
            proptest::collection::vec(proptest::sample::select(PIECES.to_vec()), 0..14)
                .prop_map(|pieces| pieces.concat()),
            0..6,
        ),
    ) {
        let argv: Vec<String> = std::iter::once(program.to_string()).chain(args).collect();
        let once = stuckconn::redact::redact_args(&argv);
        prop_assert_eq!(once.len(), argv.len());
        prop_assert_eq!(stuckconn::redact::redact_args(&once), once.clone(), "{:?}", argv);
    }
}
