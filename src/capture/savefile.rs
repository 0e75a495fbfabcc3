//! `--pcap-out`: the classic pcap savefile format (what tcpdump -w writes, libpcap and
//! Wireshark read), written through a descriptor this tool created (`crate::output`), never
//! by reopening a path. Only the headers of each packet are kept: link, IP and TCP, no payload.

use std::io::{self, Write};

/// The pcap magic number for microsecond timestamps, written in native byte order.
const MAGIC: u32 = 0xa1b2_c3d4;

/// A savefile being written.
pub(crate) struct Savefile<W: Write> {
    out: W,
}

impl<W: Write> Savefile<W> {
    /// Writes the file header: version 2.4, `snaplen`, and the capture's link type.
    pub(crate) fn new(mut out: W, linktype: u32, snaplen: u32) -> io::Result<Savefile<W>> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC.to_ne_bytes());
        header.extend_from_slice(&2u16.to_ne_bytes());
        header.extend_from_slice(&4u16.to_ne_bytes());
        header.extend_from_slice(&0i32.to_ne_bytes()); // thiszone
        header.extend_from_slice(&0u32.to_ne_bytes()); // sigfigs
        header.extend_from_slice(&snaplen.to_ne_bytes());
        header.extend_from_slice(&linktype.to_ne_bytes());
        out.write_all(&header)?;
        Ok(Savefile { out })
    }

    /// Writes one packet record: the captured `headers` (the frame cut after its TCP header)
    /// and the packet's length on the wire.
    pub(crate) fn packet(
        &mut self,
        secs: u32,
        micros: u32,
        wire_len: u32,
        headers: &[u8],
    ) -> io::Result<()> {
        let caplen = u32::try_from(headers.len()).unwrap_or(u32::MAX);
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&secs.to_ne_bytes());
        record[4..8].copy_from_slice(&micros.to_ne_bytes());
        record[8..12].copy_from_slice(&caplen.to_ne_bytes());
        record[12..16].copy_from_slice(&wire_len.max(caplen).to_ne_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(headers)
    }

    pub(crate) fn into_inner(self) -> W {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_one_record() {
        let mut file = Savefile::new(Vec::new(), 1, 160).unwrap();
        file.packet(7, 9, 1514, &[0xaa; 54]).unwrap();
        let bytes = file.into_inner();
        assert_eq!(bytes.len(), 24 + 16 + 54);
        assert_eq!(&bytes[0..4], &MAGIC.to_ne_bytes());
        assert_eq!(&bytes[16..20], &160u32.to_ne_bytes());
        assert_eq!(&bytes[32..36], &54u32.to_ne_bytes(), "caplen");
        assert_eq!(&bytes[36..40], &1514u32.to_ne_bytes(), "length on the wire");
    }
}
