//! Snapshot files: any bytes are a snapshot or a one-line error.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(err) = stuckconn::collect::parse(std::path::Path::new("fuzz.json"), data) {
        assert!(!err.to_string().contains('\n'));
    }
});
