//! Reads pcap and pcapng files (Sockpit's, Wireshark's, tcpdump's) back into records: the
//! TCP and UDP payloads, with their times, addresses and direction.
//!
//! - Link types: Ethernet (with VLAN tags), raw IP, Linux cooked (SLL and SLL2), BSD
//!   loopback. Other packets are skipped and counted.
//! - TCP: segments carrying bytes become records; a retransmitted segment's old bytes are cut
//!   (by sequence number per direction); the first FIN of a stream becomes its close.
//!   Handshakes and bare ACKs carry nothing and are counted as skipped.
//! - Direction: in Sockpit's own files the synthesised MAC addresses say which end was this
//!   one. Elsewhere the end that opened a conversation (sent the SYN, or the first packet) is
//!   taken as "this end", so its records show as sent.
//! - A file that ends inside a block (still being written, or cut) gives what it holds before
//!   that, with a note; so do the limits on records and bytes, which keep a huge file from
//!   taking all memory.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufReader, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};

use rust_i18n::t;

use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionOption;
use pcap_file::pcapng::{Block, PcapNgReader};
use pcap_file::{DataLink, PcapError};

use super::synth::{LOCAL_MAC, PEER_MAC};
use super::{CaptureError, CaptureRecord, Direction, RecordKind, Transport};

/// Most records read from one file.
pub const RECORDS_MAX: usize = 5_000_000;
/// Most payload bytes read from one file.
pub const PAYLOAD_BYTES_MAX: usize = 1 << 30;

/// Limits on what one file may give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    pub records: usize,
    pub payload_bytes: usize,
}

impl Default for ReadLimits {
    fn default() -> Self {
        Self {
            records: RECORDS_MAX,
            payload_bytes: PAYLOAD_BYTES_MAX,
        }
    }
}

/// Which format the file was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Pcap,
    Pcapng,
}

impl FileKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pcap => "pcap",
            Self::Pcapng => "pcapng",
        }
    }
}

/// Packets that gave no record, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Skipped {
    /// Not IPv4/IPv6 carrying TCP or UDP (ARP, ICMP, other link types).
    pub not_tcp_udp: u64,
    /// TCP segments without bytes: handshakes, ACKs, later FINs, resets.
    pub no_payload: u64,
    /// TCP segments whose bytes had all been seen (retransmissions).
    pub retransmitted: u64,
    /// IP fragments and packets cut short by the capture's snap length.
    pub incomplete: u64,
}

impl Skipped {
    pub fn total(&self) -> u64 {
        self.not_tcp_udp + self.no_payload + self.retransmitted + self.incomplete
    }
}

/// Why reading stopped before the end of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutOff {
    /// The file ends inside a block or a block is damaged: the records before it are kept.
    Damaged(String),
    /// [`ReadLimits::records`] reached.
    Records(usize),
    /// [`ReadLimits::payload_bytes`] reached.
    Bytes(usize),
}

impl CutOff {
    pub fn sentence(&self) -> String {
        match self {
            Self::Damaged(d) => t!("capture.explain.damaged_end", detail = d),
            Self::Records(n) => t!("capture.explain.first_records", count = n),
            Self::Bytes(n) => t!(
                "capture.explain.first_bytes",
                bytes = crate::traffic::format_bytes(*n as u64)
            ),
        }
        .into_owned()
    }
}

/// A file read back.
#[derive(Debug, Clone)]
pub struct OpenedCapture {
    pub path: PathBuf,
    pub kind: FileKind,
    pub records: Vec<CaptureRecord>,
    /// Packets read in all.
    pub packets: u64,
    pub skipped: Skipped,
    pub cut_off: Option<CutOff>,
}

impl OpenedCapture {
    /// One line on what was read.
    pub fn summary(&self) -> String {
        let mut s = t!(
            "capture.explain.opened",
            path = self.path.display(),
            packets = self.packets,
            kind = self.kind.label(),
            records = self
                .records
                .iter()
                .filter(|r| r.kind == RecordKind::Data)
                .count()
        )
        .into_owned();
        if self.skipped.total() > 0 {
            s.push_str(&t!("capture.explain.skipped", count = self.skipped.total()));
        }
        s.push_str(&t!("capture.explain.end"));
        if let Some(c) = &self.cut_off {
            s.push(' ');
            s.push_str(&c.sentence());
        }
        s
    }
}

/// Reads `path` with the default limits.
pub fn open_capture(path: &Path) -> Result<OpenedCapture, CaptureError> {
    open_capture_with(path, ReadLimits::default())
}

/// Reads `path`.
pub fn open_capture_with(path: &Path, limits: ReadLimits) -> Result<OpenedCapture, CaptureError> {
    let open_err = |source| CaptureError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(open_err)?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).map_err(open_err)?;
    drop(file);
    let kind = match (got, magic) {
        (4, [0x0A, 0x0D, 0x0D, 0x0A]) => FileKind::Pcapng,
        (
            4,
            [0xA1, 0xB2, 0xC3, 0xD4]
            | [0xD4, 0xC3, 0xB2, 0xA1]
            | [0xA1, 0xB2, 0x3C, 0x4D]
            | [0x4D, 0x3C, 0xB2, 0xA1],
        ) => FileKind::Pcap,
        _ => {
            return Err(CaptureError::NotACapture {
                path: path.to_path_buf(),
            });
        }
    };
    let reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(open_err)?);
    let mut sink = Sink::new(path, kind, limits);
    let corrupt = |e: PcapError| CaptureError::Corrupt {
        path: path.to_path_buf(),
        detail: pcap_detail(&e),
    };
    match kind {
        FileKind::Pcap => {
            let mut r = PcapReader::new(reader).map_err(corrupt)?;
            let link = r.header().datalink;
            while sink.wants_more() {
                match r.next_packet() {
                    None => break,
                    Some(Ok(p)) => {
                        let t = u64::try_from(p.timestamp.as_micros()).unwrap_or(u64::MAX);
                        sink.packet(link, t, &p.data);
                    }
                    Some(Err(e)) => {
                        sink.damaged(&e);
                        break;
                    }
                }
            }
        }
        FileKind::Pcapng => {
            let mut r = PcapNgReader::new(reader).map_err(corrupt)?;
            let mut interfaces: Vec<Interface> = Vec::new();
            while sink.wants_more() {
                match r.next_block() {
                    None => break,
                    Some(Ok(block)) => match block {
                        Block::SectionHeader(_) => interfaces.clear(),
                        Block::InterfaceDescription(idb) => interfaces.push(Interface::of(&idb)),
                        Block::EnhancedPacket(p) => {
                            let i = interfaces.get(p.interface_id as usize).copied();
                            let i = i.unwrap_or_default();
                            let raw = u64::try_from(p.timestamp.as_nanos()).unwrap_or(u64::MAX);
                            sink.packet(i.link, i.micros(raw), &p.data);
                        }
                        Block::SimplePacket(p) => {
                            let i = interfaces.first().copied().unwrap_or_default();
                            sink.packet(i.link, 0, &p.data);
                        }
                        Block::Packet(p) => {
                            let i = interfaces.get(usize::from(p.interface_id)).copied();
                            let i = i.unwrap_or_default();
                            sink.packet(i.link, i.micros(p.timestamp), &p.data);
                        }
                        _ => {}
                    },
                    Some(Err(e)) => {
                        sink.damaged(&e);
                        break;
                    }
                }
            }
        }
    }
    Ok(sink.done())
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

fn pcap_detail(e: &PcapError) -> String {
    match e {
        PcapError::IncompleteBuffer => t!("capture.explain.header_short").into_owned(),
        PcapError::IoError(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// What a pcapng interface says about its packets.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: DataLink,
    /// `if_tsresol`: the timestamp unit.
    tsresol: u8,
    /// `if_tsoffset`: seconds added to every timestamp.
    tsoffset: u64,
}

impl Default for Interface {
    fn default() -> Self {
        Self {
            link: DataLink::ETHERNET,
            tsresol: 6,
            tsoffset: 0,
        }
    }
}

impl Interface {
    fn of(
        idb: &pcap_file::pcapng::blocks::interface_description::InterfaceDescriptionBlock<'_>,
    ) -> Self {
        let mut i = Self {
            link: idb.linktype,
            ..Self::default()
        };
        for o in &idb.options {
            match o {
                InterfaceDescriptionOption::IfTsResol(r) => i.tsresol = *r,
                InterfaceDescriptionOption::IfTsOffset(s) => i.tsoffset = *s,
                _ => {}
            }
        }
        i
    }

    /// A raw timestamp (in units of `tsresol`) as microseconds since the epoch.
    fn micros(self, raw: u64) -> u64 {
        let exp = u32::from(self.tsresol & 0x7F);
        let us = if self.tsresol & 0x80 == 0 {
            if exp >= 6 {
                10u64.checked_pow(exp - 6).map_or(0, |d| raw / d)
            } else {
                raw.saturating_mul(10u64.pow(6 - exp))
            }
        } else {
            // 2^-exp seconds per unit.
            let units_per_s = 1u128.checked_shl(exp).unwrap_or(u128::MAX);
            u64::try_from(u128::from(raw) * 1_000_000 / units_per_s).unwrap_or(u64::MAX)
        };
        us.saturating_add(self.tsoffset.saturating_mul(1_000_000))
    }
}

/// One direction of a TCP conversation.
type Flow = (SocketAddr, SocketAddr);

struct Sink {
    out: OpenedCapture,
    limits: ReadLimits,
    payload_bytes: usize,
    /// Per conversation (ends in a fixed order): which end is "this end".
    this_end: HashMap<Flow, SocketAddr>,
    /// Per direction: the next sequence number expected.
    next_seq: HashMap<Flow, u32>,
    /// Conversations whose close was given.
    closed: HashSet<Flow>,
}

struct Packet<'a> {
    src_mac: Option<[u8; 6]>,
    src: SocketAddr,
    dst: SocketAddr,
    transport: Transport,
    /// TCP: sequence number and flags.
    tcp: Option<(u32, u8)>,
    payload: &'a [u8],
}

const TCP_FIN: u8 = 0x01;
const TCP_SYN: u8 = 0x02;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

impl Sink {
    fn new(path: &Path, kind: FileKind, limits: ReadLimits) -> Self {
        Self {
            out: OpenedCapture {
                path: path.to_path_buf(),
                kind,
                records: Vec::new(),
                packets: 0,
                skipped: Skipped::default(),
                cut_off: None,
            },
            limits,
            payload_bytes: 0,
            this_end: HashMap::new(),
            next_seq: HashMap::new(),
            closed: HashSet::new(),
        }
    }

    fn wants_more(&self) -> bool {
        self.out.cut_off.is_none()
    }

    fn damaged(&mut self, e: &PcapError) {
        self.out.cut_off = Some(CutOff::Damaged(pcap_detail(e)));
    }

    fn done(self) -> OpenedCapture {
        self.out
    }

    fn packet(&mut self, link: DataLink, time_us: u64, data: &[u8]) {
        self.out.packets += 1;
        let parsed = match parse(link, data) {
            Ok(p) => p,
            Err(Skip::NotTcpUdp) => {
                self.out.skipped.not_tcp_udp += 1;
                return;
            }
            Err(Skip::Incomplete) => {
                self.out.skipped.incomplete += 1;
                return;
            }
        };
        let key = conversation(parsed.src, parsed.dst);
        let this_end =
            *self
                .this_end
                .entry(key)
                .or_insert_with(|| match (parsed.src_mac, parsed.tcp) {
                    (Some(m), _) if m == LOCAL_MAC => parsed.src,
                    (Some(m), _) if m == PEER_MAC => parsed.dst,
                    (_, Some((_, flags))) if flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK => {
                        parsed.dst
                    }
                    _ => parsed.src,
                });
        let (direction, local, peer) = if parsed.src == this_end {
            (Direction::Sent, parsed.src, parsed.dst)
        } else {
            (Direction::Received, parsed.dst, parsed.src)
        };
        let mut payload = parsed.payload;
        if let Some((seq, flags)) = parsed.tcp {
            let flow = (parsed.src, parsed.dst);
            if flags & TCP_SYN != 0 {
                self.next_seq.insert(flow, seq.wrapping_add(1));
                self.closed.remove(&key);
            } else if !payload.is_empty() {
                let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
                let end = seq.wrapping_add(len);
                if let Some(&expected) = self.next_seq.get(&flow) {
                    let already = expected.wrapping_sub(seq);
                    // `already` counts bytes of this segment seen before, when the segment
                    // starts at or before `expected` (a difference below 2^31).
                    if already < 0x8000_0000 {
                        if already >= len {
                            self.out.skipped.retransmitted += 1;
                            return;
                        }
                        payload = &payload[already as usize..];
                    }
                }
                let next = self.next_seq.entry(flow).or_insert(end);
                if end.wrapping_sub(*next) < 0x8000_0000 {
                    *next = end;
                }
            }
            if payload.is_empty() {
                if flags & (TCP_FIN | TCP_RST) != 0 && self.closed.insert(key) {
                    self.push(CaptureRecord::closed(time_us, local, peer));
                } else {
                    self.out.skipped.no_payload += 1;
                }
                return;
            }
        }
        if self.payload_bytes + payload.len() > self.limits.payload_bytes {
            self.out.cut_off = Some(CutOff::Bytes(self.payload_bytes));
            return;
        }
        self.payload_bytes += payload.len();
        let record = CaptureRecord::data(
            time_us,
            direction,
            parsed.transport,
            local,
            peer,
            payload.to_vec(),
        );
        self.push(record);
        if parsed.tcp.is_some_and(|(_, f)| f & TCP_FIN != 0) && self.closed.insert(key) {
            self.push(CaptureRecord::closed(time_us, local, peer));
        }
    }

    fn push(&mut self, record: CaptureRecord) {
        if self.out.records.len() >= self.limits.records {
            self.out.cut_off = Some(CutOff::Records(self.out.records.len()));
            return;
        }
        self.out.records.push(record);
    }
}

fn conversation(a: SocketAddr, b: SocketAddr) -> Flow {
    if (a.ip(), a.port()) <= (b.ip(), b.port()) {
        (a, b)
    } else {
        (b, a)
    }
}

enum Skip {
    NotTcpUdp,
    Incomplete,
}

fn parse(link: DataLink, data: &[u8]) -> Result<Packet<'_>, Skip> {
    let (src_mac, ethertype, ip) = match link {
        DataLink::ETHERNET => {
            let src_mac = data.get(6..12).and_then(|m| <[u8; 6]>::try_from(m).ok());
            let mut at = 12;
            let mut ethertype = be16(data, at).ok_or(Skip::Incomplete)?;
            while ethertype == 0x8100 || ethertype == 0x88A8 {
                at += 4;
                ethertype = be16(data, at).ok_or(Skip::Incomplete)?;
            }
            (
                src_mac,
                Some(ethertype),
                data.get(at + 2..).ok_or(Skip::Incomplete)?,
            )
        }
        DataLink::RAW | DataLink::IPV4 | DataLink::IPV6 => (None, None, data),
        DataLink::LINUX_SLL => (
            None,
            be16(data, 14),
            data.get(16..).ok_or(Skip::Incomplete)?,
        ),
        DataLink::LINUX_SLL2 => (None, be16(data, 0), data.get(20..).ok_or(Skip::Incomplete)?),
        DataLink::NULL | DataLink::LOOP => {
            let family = data.get(0..4).ok_or(Skip::Incomplete)?;
            let le = u32::from_le_bytes([family[0], family[1], family[2], family[3]]);
            let be = u32::from_be_bytes([family[0], family[1], family[2], family[3]]);
            let ethertype = match (le, be) {
                (2, _) | (_, 2) => 0x0800,
                (24 | 28 | 30, _) | (_, 24 | 28 | 30) => 0x86DD,
                _ => return Err(Skip::NotTcpUdp),
            };
            (None, Some(ethertype), &data[4..])
        }
        _ => return Err(Skip::NotTcpUdp),
    };
    let version = ip.first().ok_or(Skip::Incomplete)? >> 4;
    match (ethertype, version) {
        (Some(0x0800) | None, 4) | (Some(0x86DD) | None, 6) => {}
        _ => return Err(Skip::NotTcpUdp),
    }
    let (src_ip, dst_ip, proto, l4) = if version == 4 {
        let ihl = usize::from(ip[0] & 0x0F) * 4;
        let total = usize::from(be16(ip, 2).ok_or(Skip::Incomplete)?);
        let frag = be16(ip, 6).ok_or(Skip::Incomplete)?;
        if frag & 0x3FFF != 0 {
            return Err(Skip::Incomplete);
        }
        if ihl < 20 || total < ihl || ip.len() < total {
            return Err(Skip::Incomplete);
        }
        let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
        let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
        (IpAddr::V4(src), IpAddr::V4(dst), ip[9], &ip[ihl..total])
    } else {
        if ip.len() < 40 {
            return Err(Skip::Incomplete);
        }
        let plen = usize::from(be16(ip, 4).ok_or(Skip::Incomplete)?);
        let src = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[8..24]).map_err(|_| Skip::Incomplete)?);
        let dst = Ipv6Addr::from(<[u8; 16]>::try_from(&ip[24..40]).map_err(|_| Skip::Incomplete)?);
        let body = ip.get(40..40 + plen).ok_or(Skip::Incomplete)?;
        let (mut next, mut rest) = (ip[6], body);
        // Hop-by-hop, routing and destination options headers; a fragment is skipped.
        while matches!(next, 0 | 43 | 60) {
            let len = (usize::from(*rest.get(1).ok_or(Skip::Incomplete)?) + 1) * 8;
            next = rest[0];
            rest = rest.get(len..).ok_or(Skip::Incomplete)?;
        }
        if next == 44 {
            return Err(Skip::Incomplete);
        }
        (IpAddr::V6(src), IpAddr::V6(dst), next, rest)
    };
    let sport = be16(l4, 0).ok_or(Skip::Incomplete)?;
    let dport = be16(l4, 2).ok_or(Skip::Incomplete)?;
    let src = SocketAddr::new(src_ip, sport);
    let dst = SocketAddr::new(dst_ip, dport);
    match proto {
        6 => {
            let offset = usize::from(*l4.get(12).ok_or(Skip::Incomplete)? >> 4) * 4;
            let seq = u32::from_be_bytes(
                l4.get(4..8)
                    .and_then(|s| <[u8; 4]>::try_from(s).ok())
                    .ok_or(Skip::Incomplete)?,
            );
            let flags = *l4.get(13).ok_or(Skip::Incomplete)?;
            let payload = l4.get(offset..).ok_or(Skip::Incomplete)?;
            Ok(Packet {
                src_mac,
                src,
                dst,
                transport: Transport::Tcp,
                tcp: Some((seq, flags)),
                payload,
            })
        }
        17 => {
            let len = usize::from(be16(l4, 4).ok_or(Skip::Incomplete)?);
            let payload = l4.get(8..len.max(8)).ok_or(Skip::Incomplete)?;
            Ok(Packet {
                src_mac,
                src,
                dst,
                transport: Transport::Udp,
                tcp: None,
                payload,
            })
        }
        _ => Err(Skip::NotTcpUdp),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let b = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([b[0], b[1]]))
}

#[cfg(test)]
mod tests {
    use super::super::{CaptureFormat, CaptureOptions, FormatWriter, OpenedBy};
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("sockpit-read-{name}-{}", std::process::id()))
    }

    fn l(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn our_pcapng_reads_back_into_the_same_records() {
        let local = l("127.0.0.1:5000");
        let peer = l("127.0.0.2:7000");
        let records = vec![
            CaptureRecord::data(
                1_000_001,
                Direction::Sent,
                Transport::Tcp,
                local,
                peer,
                b"hello".to_vec(),
            ),
            CaptureRecord::data(
                1_000_002,
                Direction::Received,
                Transport::Tcp,
                local,
                peer,
                vec![9; 70_000],
            ),
            CaptureRecord::closed(1_000_003, local, peer),
        ];
        let path = scratch("tcp.pcapng");
        let options = CaptureOptions {
            opened_by: Some(OpenedBy::Local),
            ..CaptureOptions::default()
        };
        let mut w = FormatWriter::new(
            CaptureFormat::Pcapng,
            File::create(&path).unwrap(),
            &options,
        )
        .unwrap();
        for r in &records {
            w.write_record(r).unwrap();
        }
        w.finish().unwrap();
        let opened = open_capture(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(opened.kind, FileKind::Pcapng);
        // The 70,000 bytes came as two segments: two records of the same direction.
        let data: Vec<_> = opened
            .records
            .iter()
            .filter(|r| r.kind == RecordKind::Data)
            .collect();
        assert_eq!(data[0], &records[0]);
        let received: Vec<u8> = data[1..].iter().flat_map(|r| r.bytes.clone()).collect();
        assert_eq!(received, vec![9; 70_000]);
        assert!(
            data[1..]
                .iter()
                .all(|r| r.direction == Direction::Received && r.local == local)
        );
        assert_eq!(opened.records.last().unwrap().kind, RecordKind::Closed);
        assert!(opened.cut_off.is_none());
    }

    #[test]
    fn a_file_cut_inside_a_packet_keeps_what_came_before() {
        let local = l("[::1]:5000");
        let peer = l("[::1]:7000");
        let path = scratch("cut.pcapng");
        let mut w = FormatWriter::new(
            CaptureFormat::Pcapng,
            Vec::new(),
            &CaptureOptions::default(),
        )
        .unwrap();
        for i in 0..10u8 {
            w.write_record(&CaptureRecord::data(
                u64::from(i),
                Direction::Received,
                Transport::Udp,
                local,
                peer,
                vec![i; 100],
            ))
            .unwrap();
        }
        let mut bytes = w.finish().unwrap();
        bytes.truncate(bytes.len() - 50);
        std::fs::write(&path, &bytes).unwrap();
        let opened = open_capture(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(opened.records.len(), 9);
        assert!(matches!(opened.cut_off, Some(CutOff::Damaged(_))));
        assert!(
            opened.summary().contains("damaged or unfinished"),
            "{}",
            opened.summary()
        );
    }

    #[test]
    fn not_a_capture_and_missing_files_say_so() {
        let path = scratch("not.pcap");
        std::fs::write(&path, b"hello world").unwrap();
        let e = open_capture(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(e.to_string().contains("not a capture file"), "{e}");
        let e = open_capture(Path::new("/nonexistent/x.pcapng")).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
    }

    #[test]
    fn retransmitted_bytes_are_cut_by_sequence_number() {
        // Ethernet/IPv4/TCP frames built by hand: seq 1 "abcd", then a retransmission of
        // seq 1 "abcdef" (2 new bytes), then the same again (nothing new).
        fn frame(seq: u32, payload: &[u8]) -> Vec<u8> {
            let mut f = vec![0u8; 14];
            f[12] = 0x08;
            let total = u16::try_from(40 + payload.len()).unwrap();
            f.extend_from_slice(&[0x45, 0]);
            f.extend_from_slice(&total.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 127, 0, 0, 1, 127, 0, 0, 2]);
            f.extend_from_slice(&1000u16.to_be_bytes());
            f.extend_from_slice(&80u16.to_be_bytes());
            f.extend_from_slice(&seq.to_be_bytes());
            f.extend_from_slice(&[0, 0, 0, 0, 0x50, 0x18, 0xFF, 0xFF, 0, 0, 0, 0]);
            f.extend_from_slice(payload);
            f
        }
        let mut sink = Sink::new(Path::new("x"), FileKind::Pcap, ReadLimits::default());
        sink.packet(DataLink::ETHERNET, 1, &frame(1, b"abcd"));
        sink.packet(DataLink::ETHERNET, 2, &frame(1, b"abcdef"));
        sink.packet(DataLink::ETHERNET, 3, &frame(1, b"abcdef"));
        let out = sink.done();
        let bytes: Vec<_> = out.records.iter().map(|r| r.bytes.clone()).collect();
        assert_eq!(bytes, vec![b"abcd".to_vec(), b"ef".to_vec()]);
        assert_eq!(out.skipped.retransmitted, 1);
        assert!(out.records.iter().all(|r| r.direction == Direction::Sent));
    }

    #[test]
    fn garbage_after_a_header_never_panics() {
        let mut sink = Sink::new(Path::new("x"), FileKind::Pcap, ReadLimits::default());
        let mut seed = 12345u64;
        for len in 0..300 {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect();
            for link in [
                DataLink::ETHERNET,
                DataLink::RAW,
                DataLink::LINUX_SLL,
                DataLink::NULL,
            ] {
                sink.packet(link, 0, &bytes);
                let mut b = bytes.clone();
                if !b.is_empty() {
                    b[0] = 0x45;
                }
                sink.packet(link, 0, &b);
            }
        }
        assert_eq!(sink.done().packets, 300 * 8);
    }
}
