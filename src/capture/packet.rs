//! Captured bytes to TCP segments: the link layer (Ethernet, Linux cooked v1 and v2, raw IP)
//! sliced here, IP and TCP by etherparse. Truncated or foreign packets give `None`, never a panic.

use crate::snapshot::Endpoint;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TransportSlice};

/// pcap link types this parser knows.
pub(crate) const LINKTYPE_ETHERNET: i32 = 1;
pub(crate) const LINKTYPE_RAW: i32 = 101;
/// What libpcap reports for raw-IP captures (DLT_RAW; 14 on OpenBSD).
pub(crate) const DLT_RAW: [i32; 2] = [12, 14];
pub(crate) const LINKTYPE_LINUX_SLL: i32 = 113;
pub(crate) const LINKTYPE_LINUX_SLL2: i32 = 276;

/// What the flow accounting needs of one TCP segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub seq: u32,
    pub ack: Option<u32>,
    /// TCP payload bytes, from the IP header's length: right even when the capture is truncated.
    pub payload_len: u32,
    pub syn: bool,
    pub fin: bool,
    pub rst: bool,
    /// Bytes of the frame up to the end of the TCP header: what `--pcap-out` keeps.
    pub headers_len: u32,
}

/// Parses one captured frame of the given link type.
pub fn parse(linktype: i32, frame: &[u8]) -> Option<Segment> {
    let sliced = match linktype {
        LINKTYPE_ETHERNET => LaxSlicedPacket::from_ethernet(frame).ok()?,
        LINKTYPE_RAW => LaxSlicedPacket::from_ip(frame).ok()?,
        t if DLT_RAW.contains(&t) => LaxSlicedPacket::from_ip(frame).ok()?,
        // Linux cooked v1: 16-byte header, protocol (EtherType) in its last two bytes.
        LINKTYPE_LINUX_SLL => LaxSlicedPacket::from_ip(frame.get(16..)?).ok()?,
        // Linux cooked v2: 20-byte header, protocol in its first two bytes.
        LINKTYPE_LINUX_SLL2 => LaxSlicedPacket::from_ip(frame.get(20..)?).ok()?,
        _ => return None,
    };
    let (src_ip, dst_ip, ip_payload_len) = match sliced.net.as_ref()? {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            let len = usize::from(h.total_len()).checked_sub(usize::from(h.ihl()) * 4)?;
            (h.source_addr().into(), h.destination_addr().into(), len)
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            let len = usize::from(h.payload_length()).checked_sub(v6.extensions().slice().len())?;
            (h.source_addr().into(), h.destination_addr().into(), len)
        }
        _ => return None,
    };
    let TransportSlice::Tcp(tcp) = sliced.transport.as_ref()? else {
        return None;
    };
    let payload_len = ip_payload_len.saturating_sub(tcp.header_len());
    let headers_len = frame.len().saturating_sub(tcp.payload().len());
    Some(Segment {
        src: Endpoint::normalized(src_ip, tcp.source_port()),
        dst: Endpoint::normalized(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.ack().then(|| tcp.acknowledgment_number()),
        payload_len: u32::try_from(payload_len).unwrap_or(u32::MAX),
        syn: tcp.syn(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        headers_len: u32::try_from(headers_len).unwrap_or(u32::MAX),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    fn tcp_v4(payload: &[u8]) -> Vec<u8> {
        let builder = PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 100], 64)
            .tcp(40000, 80, 1000, 64000)
            .ack(5000);
        let mut out = Vec::new();
        builder.write(&mut out, payload).unwrap();
        out
    }

    #[test]
    fn raw_sll_sll2_and_ethernet_give_the_same_segment() {
        let ip = tcp_v4(b"GET /");
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&ip);
        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        sll2.extend_from_slice(&ip);
        let mut eth = vec![0u8; 12];
        eth.extend_from_slice(&0x0800u16.to_be_bytes());
        eth.extend_from_slice(&ip);
        let expected = parse(LINKTYPE_RAW, &ip).unwrap();
        assert_eq!(expected.payload_len, 5);
        assert_eq!(expected.src.to_string(), "192.0.2.1:40000");
        assert_eq!(expected.ack, Some(5000));
        assert_eq!(
            expected.headers_len, 40,
            "IPv4 and TCP headers, not the 5 payload bytes"
        );
        for (linktype, frame, link_len) in [
            (LINKTYPE_LINUX_SLL, &sll, 16),
            (LINKTYPE_LINUX_SLL2, &sll2, 20),
            (LINKTYPE_ETHERNET, &eth, 14),
        ] {
            let headers_len = expected.headers_len + link_len;
            assert_eq!(
                parse(linktype, frame),
                Some(Segment {
                    headers_len,
                    ..expected
                }),
                "linktype {linktype}"
            );
            assert_eq!(
                &frame[headers_len as usize..],
                b"GET /",
                "the payload starts there"
            );
        }
    }

    #[test]
    fn truncated_capture_keeps_the_real_payload_length() {
        let ip = tcp_v4(&[b'x'; 1000]);
        let seg = parse(LINKTYPE_RAW, &ip[..60]).expect("headers are all there");
        assert_eq!(seg.payload_len, 1000);
    }

    #[test]
    fn garbage_and_short_frames_are_refused() {
        let ip = tcp_v4(b"");
        for cut in 0..40 {
            assert_eq!(parse(LINKTYPE_RAW, &ip[..cut]), None, "cut at {cut}");
        }
        assert_eq!(parse(LINKTYPE_LINUX_SLL2, &[0u8; 10]), None);
        assert_eq!(parse(9999, &ip), None);
        assert_eq!(parse(LINKTYPE_ETHERNET, &[0xffu8; 200]), None);
    }
}
