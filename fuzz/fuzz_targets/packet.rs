//! Captured frames of every link type (the first byte chooses it), through the flow table.
#![no_main]
use libfuzzer_sys::fuzz_target;
use stuckconn::capture::{flows::FlowTable, packet};

fuzz_target!(|data: &[u8]| {
    let Some((&kind, frame)) = data.split_first() else { return };
    let linktype = [1, 12, 101, 113, 276][usize::from(kind) % 5];
    if let Some(segment) = packet::parse(linktype, frame) {
        let mut table = FlowTable::new([(segment.src, segment.dst)]);
        table.add(&segment);
        table.add(&segment);
        let _ = table.finish();
    }
});
