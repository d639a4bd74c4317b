//! Writes pcapng (draft-ietf-opsawg-pcapng): a section header, one interface (Ethernet,
//! microsecond timestamps) and one enhanced packet block per frame, little-endian.

use std::io::{self, Write};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 0x0000_0001;
const EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
const LINKTYPE_ETHERNET: u16 = 1;
const SNAPLEN: u32 = 262_144;

const OPT_END: u16 = 0;
const OPT_COMMENT: u16 = 1;
const SHB_USERAPPL: u16 = 4;
const IF_NAME: u16 = 2;
const IF_DESCRIPTION: u16 = 3;

/// Writes the section header and the interface block.
pub fn write_header<W: Write>(out: &mut W, if_name: &str, if_description: &str) -> io::Result<()> {
    let mut body = Vec::new();
    body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
    body.extend_from_slice(&1u16.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    let app = format!("Sockpit {}", env!("CARGO_PKG_VERSION"));
    push_option(&mut body, SHB_USERAPPL, app.as_bytes());
    push_option(&mut body, OPT_END, &[]);
    write_block(out, SHB, &body)?;

    let mut body = Vec::new();
    body.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    body.extend_from_slice(&0u16.to_le_bytes());
    body.extend_from_slice(&SNAPLEN.to_le_bytes());
    push_option(&mut body, IF_NAME, if_name.as_bytes());
    push_option(&mut body, IF_DESCRIPTION, if_description.as_bytes());
    push_option(&mut body, OPT_END, &[]);
    write_block(out, IDB, &body)
}

/// Writes one frame of interface 0 at `time_us` (microseconds since the Unix epoch): its
/// headers, then its payload.
pub fn write_packet<W: Write>(
    out: &mut W,
    time_us: u64,
    headers: &[u8],
    payload: &[u8],
) -> io::Result<()> {
    write_packet_with_comment(out, time_us, headers, payload, None)
}

/// [`write_packet`] with an `opt_comment` (shown by Wireshark as the packet's comment).
pub fn write_packet_with_comment<W: Write>(
    out: &mut W,
    time_us: u64,
    headers: &[u8],
    payload: &[u8],
    comment: Option<&str>,
) -> io::Result<()> {
    let frame_len = headers.len() + payload.len();
    let len = u32::try_from(frame_len).unwrap_or(u32::MAX);
    let pad = padding(frame_len);
    let options_len = comment.map_or(0, |c| 4 + c.len() + padding(c.len()) + 4);
    let total = 28 + frame_len + pad + options_len + 4;
    let total = u32::try_from(total).unwrap_or(u32::MAX);
    let mut head = [0u8; 28];
    head[0..4].copy_from_slice(&EPB.to_le_bytes());
    head[4..8].copy_from_slice(&total.to_le_bytes());
    // interface id 0 in head[8..12]
    head[12..16].copy_from_slice(&u32::try_from(time_us >> 32).unwrap_or(0).to_le_bytes());
    head[16..20].copy_from_slice(
        &u32::try_from(time_us & 0xFFFF_FFFF)
            .unwrap_or(0)
            .to_le_bytes(),
    );
    head[20..24].copy_from_slice(&len.to_le_bytes());
    head[24..28].copy_from_slice(&len.to_le_bytes());
    out.write_all(&head)?;
    out.write_all(headers)?;
    out.write_all(payload)?;
    out.write_all(&[0u8; 3][..pad])?;
    if let Some(c) = comment {
        let mut opts = Vec::with_capacity(options_len);
        push_option(&mut opts, OPT_COMMENT, c.as_bytes());
        push_option(&mut opts, OPT_END, &[]);
        out.write_all(&opts)?;
    }
    out.write_all(&total.to_le_bytes())
}

fn padding(len: usize) -> usize {
    (4 - len % 4) % 4
}

fn push_option(body: &mut Vec<u8>, code: u16, value: &[u8]) {
    let len = u16::try_from(value.len()).unwrap_or(u16::MAX);
    let value = &value[..usize::from(len)];
    body.extend_from_slice(&code.to_le_bytes());
    body.extend_from_slice(&len.to_le_bytes());
    body.extend_from_slice(value);
    body.extend_from_slice(&[0u8; 3][..padding(value.len())]);
}

fn write_block<W: Write>(out: &mut W, kind: u32, body: &[u8]) -> io::Result<()> {
    let total = u32::try_from(12 + body.len()).unwrap_or(u32::MAX);
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(&total.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap_file::pcapng::{Block, PcapNgReader};

    #[test]
    fn pcap_file_reads_what_we_write() {
        let mut out = Vec::new();
        write_header(&mut out, "sockpit0", "test").unwrap();
        write_packet(&mut out, 1_700_000_000_123_456, b"abc", b"de").unwrap();
        write_packet_with_comment(&mut out, 1_700_000_000_123_457, b"x", b"y", Some("note"))
            .unwrap();
        let mut r = PcapNgReader::new(&out[..]).unwrap();
        let mut packets = Vec::new();
        while let Some(block) = r.next_block() {
            if let Block::EnhancedPacket(p) = block.unwrap() {
                packets.push((p.timestamp.as_nanos(), p.data.to_vec()));
            }
        }
        // pcap-file reads the raw 64-bit count (our microseconds) as nanoseconds.
        assert_eq!(packets[0], (1_700_000_000_123_456, b"abcde".to_vec()));
        assert_eq!(packets[1].1, b"xy");
        assert_eq!(r.interfaces().len(), 1);
    }
}
