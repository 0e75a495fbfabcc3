//! Text chosen by others: PTR names, terminal text, command lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(name) = stuckconn::resolve::clean_name(&text) {
        assert!(name.chars().count() <= 253);
        assert!(!name.chars().any(char::is_control));
    }
    assert!(!stuckconn::render::sanitize(&text).chars().any(char::is_control));
    let once = stuckconn::redact::redact(&text);
    assert_eq!(stuckconn::redact::redact(&once), once);
});
