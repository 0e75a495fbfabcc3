//! sock_diag datagrams and tcp_info of any length.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut dump = stuckconn::collect::sockdiag::Dump::default();
    let _ = stuckconn::collect::sockdiag::parse_datagram(data, &mut dump);
    let info = stuckconn::snapshot::TcpInfo::parse(data);
    assert_eq!(info.info_len as usize, data.len());
});
