//! The packets a pcapng capture writes around a session's bytes.
//!
//! A socket sees bytes, not packets, so the capture builds the frames Wireshark expects:
//!
//! - Ethernet II with made-up, locally administered MAC addresses: [`LOCAL_MAC`] for this end,
//!   [`PEER_MAC`] for the peer (so a reader can tell the directions apart again), then IPv4 or
//!   IPv6 (TTL 64, don't-fragment) with the session's real addresses, then TCP or UDP with its
//!   real ports. Lengths and all checksums are correct.
//! - UDP: one datagram per record, at the record's time (the kernel's arrival time).
//! - TCP: a three-way handshake before a stream's first record (from the side that opened it,
//!   see [`OpenedBy`]), then one or more segments per record whose sequence numbers follow the
//!   bytes in each direction, each acknowledging everything the other side sent so far, so
//!   "Follow TCP stream" gives the bytes back. A record larger than [`MAX_SEGMENT`] is split.
//!   When the stream ends, FIN/ACK from each side and the last ACK close it.
//! - The two addresses are given one family: an IPv4 peer of a socket bound to `[::]` gets
//!   `0.0.0.0`, an IPv6 peer of an IPv4 socket gets the IPv4-mapped address.
//!
//! What cannot be known is not invented beyond that: retransmissions, window changes and the
//! real segment sizes never reached the socket.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{Direction, Head, OpenedBy, RecordKind, Transport};

/// This end's MAC address in synthesised frames.
pub const LOCAL_MAC: [u8; 6] = [0x02, 0x53, 0x50, 0x00, 0x00, 0x01];
/// The peer's MAC address in synthesised frames.
pub const PEER_MAC: [u8; 6] = [0x02, 0x53, 0x50, 0x00, 0x00, 0x02];

/// Largest TCP payload per synthesised segment: fits an IPv4 packet's 16-bit total length.
pub const MAX_SEGMENT: usize = 65_495;

/// Largest UDP payload a synthesised datagram holds (IPv4's limit); longer ones are cut, which
/// no socket can receive anyway.
const MAX_DATAGRAM: usize = 65_507;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86DD;
const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// One TCP stream's sequence numbers: the next byte each side will send.
#[derive(Debug, Clone, Copy)]
struct Stream {
    next_local: u32,
    next_peer: u32,
}

/// Builds frames for records, keeping each TCP stream's sequence numbers.
#[derive(Debug, Default)]
pub struct Synth {
    opened_by: Option<OpenedBy>,
    streams: HashMap<(SocketAddr, SocketAddr), Stream>,
    ip_id: u16,
    frame: Vec<u8>,
}

/// Which end sends a synthesised packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum From {
    Local,
    Peer,
}

impl Synth {
    pub fn new(opened_by: Option<OpenedBy>) -> Self {
        Self {
            opened_by,
            ..Self::default()
        }
    }

    /// The frames for one record, each given to `emit` with its time; a record may give none
    /// (the close of a UDP "stream") or several (a handshake, a long record's segments).
    pub fn frames<E>(&mut self, head: &Head, bytes: &[u8], mut emit: E) -> Result<(), E::Error>
    where
        E: Emit,
    {
        let (local_ip, peer_ip) = one_family(head.local.ip(), head.peer.ip());
        let ends = Ends {
            local: SocketAddr::new(local_ip, head.local.port()),
            peer: SocketAddr::new(peer_ip, head.peer.port()),
        };
        let from = match head.direction {
            Direction::Sent => From::Local,
            Direction::Received => From::Peer,
        };
        match (head.transport, head.kind) {
            (Transport::Udp, RecordKind::Data) => {
                let payload = &bytes[..bytes.len().min(MAX_DATAGRAM)];
                self.build(&ends, from, Proto::Udp, payload);
                emit.frame(head.time_us, &self.frame, payload)
            }
            (Transport::Udp, RecordKind::Closed) => Ok(()),
            (Transport::Tcp, RecordKind::Data) => {
                let mut stream = self.stream_for(&ends, from, head.time_us, &mut emit)?;
                let chunks = bytes.chunks(MAX_SEGMENT);
                for chunk in chunks {
                    let (seq, ack) = match from {
                        From::Local => (stream.next_local, stream.next_peer),
                        From::Peer => (stream.next_peer, stream.next_local),
                    };
                    self.build(&ends, from, Proto::Tcp(seq, ack, PSH | ACK), chunk);
                    emit.frame(head.time_us, &self.frame, chunk)?;
                    let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                    match from {
                        From::Local => stream.next_local = stream.next_local.wrapping_add(len),
                        From::Peer => stream.next_peer = stream.next_peer.wrapping_add(len),
                    }
                }
                self.streams.insert((ends.local, ends.peer), stream);
                Ok(())
            }
            (Transport::Tcp, RecordKind::Closed) => {
                let stream = self.stream_for(&ends, From::Local, head.time_us, &mut emit)?;
                self.streams.remove(&(ends.local, ends.peer));
                let (l, p) = (stream.next_local, stream.next_peer);
                let t = head.time_us;
                self.build(&ends, From::Local, Proto::Tcp(l, p, FIN | ACK), &[]);
                emit.frame(t, &self.frame, &[])?;
                let l = l.wrapping_add(1);
                self.build(&ends, From::Peer, Proto::Tcp(p, l, FIN | ACK), &[]);
                emit.frame(t, &self.frame, &[])?;
                let p = p.wrapping_add(1);
                self.build(&ends, From::Local, Proto::Tcp(l, p, ACK), &[]);
                emit.frame(t, &self.frame, &[])
            }
        }
    }

    /// The stream's numbers, after writing its handshake if this is its first record.
    fn stream_for<E: Emit>(
        &mut self,
        ends: &Ends,
        first_from: From,
        time_us: u64,
        emit: &mut E,
    ) -> Result<Stream, E::Error> {
        if let Some(s) = self.streams.get(&(ends.local, ends.peer)) {
            return Ok(*s);
        }
        let isn_local = initial_sequence(ends.local, ends.peer);
        let isn_peer = initial_sequence(ends.peer, ends.local);
        let opener = match self.opened_by {
            Some(OpenedBy::Local) => From::Local,
            Some(OpenedBy::Peer) => From::Peer,
            None => first_from,
        };
        let (open_isn, other_isn, other) = match opener {
            From::Local => (isn_local, isn_peer, From::Peer),
            From::Peer => (isn_peer, isn_local, From::Local),
        };
        self.build(ends, opener, Proto::Tcp(open_isn, 0, SYN), &[]);
        emit.frame(time_us, &self.frame, &[])?;
        let open_next = open_isn.wrapping_add(1);
        self.build(
            ends,
            other,
            Proto::Tcp(other_isn, open_next, SYN | ACK),
            &[],
        );
        emit.frame(time_us, &self.frame, &[])?;
        let other_next = other_isn.wrapping_add(1);
        self.build(ends, opener, Proto::Tcp(open_next, other_next, ACK), &[]);
        emit.frame(time_us, &self.frame, &[])?;
        let stream = Stream {
            next_local: isn_local.wrapping_add(1),
            next_peer: isn_peer.wrapping_add(1),
        };
        self.streams.insert((ends.local, ends.peer), stream);
        Ok(stream)
    }

    /// Builds one frame's headers into `self.frame` (the payload stays where it is: a long
    /// capture copies each byte once, not once more into a frame).
    fn build(&mut self, ends: &Ends, from: From, proto: Proto, payload: &[u8]) {
        let (src, dst, src_mac, dst_mac) = match from {
            From::Local => (ends.local, ends.peer, LOCAL_MAC, PEER_MAC),
            From::Peer => (ends.peer, ends.local, PEER_MAC, LOCAL_MAC),
        };
        let f = &mut self.frame;
        f.clear();
        f.extend_from_slice(&dst_mac);
        f.extend_from_slice(&src_mac);
        let transport_len = proto.header_len() + payload.len();
        let ip_start = f.len() + 2;
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                f.extend_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
                self.ip_id = self.ip_id.wrapping_add(1);
                let total = u16::try_from(20 + transport_len).unwrap_or(u16::MAX);
                f.extend_from_slice(&[0x45, 0]);
                f.extend_from_slice(&total.to_be_bytes());
                f.extend_from_slice(&self.ip_id.to_be_bytes());
                f.extend_from_slice(&[0x40, 0, 64, proto.number(), 0, 0]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
                let sum = checksum(&[&f[ip_start..ip_start + 20]]);
                f[ip_start + 10..ip_start + 12].copy_from_slice(&sum.to_be_bytes());
            }
            (s, d) => {
                let (s, d) = (v6(s), v6(d));
                f.extend_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
                let len = u16::try_from(transport_len).unwrap_or(u16::MAX);
                f.extend_from_slice(&[0x60, 0, 0, 0]);
                f.extend_from_slice(&len.to_be_bytes());
                f.extend_from_slice(&[proto.number(), 64]);
                f.extend_from_slice(&s.octets());
                f.extend_from_slice(&d.octets());
            }
        }
        let t_start = f.len();
        f.extend_from_slice(&src.port().to_be_bytes());
        f.extend_from_slice(&dst.port().to_be_bytes());
        let sum_at = match proto {
            Proto::Udp => {
                let len = u16::try_from(transport_len).unwrap_or(u16::MAX);
                f.extend_from_slice(&len.to_be_bytes());
                f.extend_from_slice(&[0, 0]);
                t_start + 6
            }
            Proto::Tcp(seq, ack, flags) => {
                f.extend_from_slice(&seq.to_be_bytes());
                f.extend_from_slice(&ack.to_be_bytes());
                f.extend_from_slice(&[5 << 4, flags, 0xFF, 0xFF, 0, 0, 0, 0]);
                t_start + 16
            }
        };
        let length = u32::try_from(transport_len).unwrap_or(u32::MAX);
        let mut pseudo = Vec::with_capacity(40);
        match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                pseudo.extend_from_slice(&s.octets());
                pseudo.extend_from_slice(&d.octets());
                pseudo.extend_from_slice(&[0, proto.number()]);
                pseudo.extend_from_slice(&u16::try_from(length).unwrap_or(u16::MAX).to_be_bytes());
            }
            (s, d) => {
                pseudo.extend_from_slice(&v6(s).octets());
                pseudo.extend_from_slice(&v6(d).octets());
                pseudo.extend_from_slice(&length.to_be_bytes());
                pseudo.extend_from_slice(&[0, 0, 0, proto.number()]);
            }
        }
        let mut sum = checksum(&[&pseudo, &f[t_start..], payload]);
        if sum == 0 && matches!(proto, Proto::Udp) {
            sum = 0xFFFF;
        }
        f[sum_at..sum_at + 2].copy_from_slice(&sum.to_be_bytes());
    }
}

/// Receives synthesised frames.
pub trait Emit {
    type Error;
    /// One frame: its headers, then its payload.
    fn frame(&mut self, time_us: u64, headers: &[u8], payload: &[u8]) -> Result<(), Self::Error>;
}

impl<E: Emit> Emit for &mut E {
    type Error = E::Error;
    fn frame(&mut self, time_us: u64, headers: &[u8], payload: &[u8]) -> Result<(), Self::Error> {
        (**self).frame(time_us, headers, payload)
    }
}

struct Ends {
    local: SocketAddr,
    peer: SocketAddr,
}

#[derive(Debug, Clone, Copy)]
enum Proto {
    Udp,
    /// Sequence number, acknowledgement number, flags.
    Tcp(u32, u32, u8),
}

impl Proto {
    fn number(self) -> u8 {
        match self {
            Self::Udp => PROTO_UDP,
            Self::Tcp(..) => PROTO_TCP,
        }
    }

    fn header_len(self) -> usize {
        match self {
            Self::Udp => 8,
            Self::Tcp(..) => 20,
        }
    }
}

fn v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

/// The two addresses in one family, the peer's deciding (see the module's notes).
fn one_family(local: IpAddr, peer: IpAddr) -> (IpAddr, IpAddr) {
    match (local, peer) {
        (IpAddr::V6(l), IpAddr::V4(_)) => {
            let l4 = l.to_ipv4_mapped().unwrap_or(if l.is_loopback() {
                Ipv4Addr::LOCALHOST
            } else {
                Ipv4Addr::UNSPECIFIED
            });
            (IpAddr::V4(l4), peer)
        }
        (IpAddr::V4(l), IpAddr::V6(_)) => (IpAddr::V6(l.to_ipv6_mapped()), peer),
        _ => (local, peer),
    }
}

/// A stream's first sequence number, from its ends: fixed for a given pair, different for
/// each direction, so two captures of the same conversation agree.
fn initial_sequence(from: SocketAddr, to: SocketAddr) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    let mut eat = |b: u8| h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    for b in v6(from.ip()).octets() {
        eat(b);
    }
    for b in from.port().to_be_bytes() {
        eat(b);
    }
    for b in v6(to.ip()).octets() {
        eat(b);
    }
    for b in to.port().to_be_bytes() {
        eat(b);
    }
    h
}

/// The Internet checksum (RFC 1071) over the concatenation of `parts`.
///
/// Eight bytes at a time: a big-endian `u64` is four 16-bit words, and since 2^16 ≡ 1 modulo
/// 2^16 − 1, adding `u64`s with an end-around carry keeps the same one's-complement sum. This
/// runs over every captured byte, so it must go at memory speed.
pub(crate) fn checksum(parts: &[&[u8]]) -> u16 {
    let mut acc: u64 = 0;
    let mut add = |v: u64| {
        let (s, carry) = acc.overflowing_add(v);
        acc = s + u64::from(carry);
    };
    let mut odd: Option<u8> = None;
    for part in parts {
        let mut bytes: &[u8] = part;
        if let Some(hi) = odd.take() {
            if let Some((&lo, rest)) = bytes.split_first() {
                add(u64::from(u16::from_be_bytes([hi, lo])));
                bytes = rest;
            } else {
                odd = Some(hi);
                continue;
            }
        }
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            add(u64::from_be_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]));
        }
        let mut pairs = words.remainder().chunks_exact(2);
        for pair in &mut pairs {
            add(u64::from(u16::from_be_bytes([pair[0], pair[1]])));
        }
        if let [last] = pairs.remainder() {
            odd = Some(*last);
        }
    }
    if let Some(hi) = odd {
        add(u64::from(u16::from_be_bytes([hi, 0])));
    }
    let mut sum = (acc >> 32) + (acc & 0xFFFF_FFFF);
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Frames(Vec<(u64, Vec<u8>)>);

    impl Emit for Frames {
        type Error = std::convert::Infallible;
        fn frame(
            &mut self,
            time_us: u64,
            headers: &[u8],
            payload: &[u8],
        ) -> Result<(), Self::Error> {
            self.0.push((time_us, [headers, payload].concat()));
            Ok(())
        }
    }

    fn head(direction: Direction, kind: RecordKind, transport: Transport) -> Head {
        Head {
            time_us: 7,
            direction,
            kind,
            transport,
            local: "127.0.0.1:5000".parse().unwrap(),
            peer: "127.0.0.2:7000".parse().unwrap(),
        }
    }

    fn tcp_seq(frame: &[u8]) -> (u32, u32, u8, usize) {
        let t = 14 + 20;
        let seq = u32::from_be_bytes(frame[t + 4..t + 8].try_into().unwrap());
        let ack = u32::from_be_bytes(frame[t + 8..t + 12].try_into().unwrap());
        (seq, ack, frame[t + 13], frame.len() - t - 20)
    }

    /// RFC 1071's loop, 16 bits at a time, to check the fast one against.
    fn slow_checksum(bytes: &[u8]) -> u16 {
        let mut sum: u32 = 0;
        for pair in bytes.chunks(2) {
            let w = u16::from_be_bytes([pair[0], *pair.get(1).unwrap_or(&0)]);
            sum += u32::from(w);
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        !(sum as u16)
    }

    #[test]
    fn the_fast_checksum_equals_rfc_1071s_loop_for_any_split() {
        let mut seed = 99u64;
        for len in (0usize..300).chain([65_535, 65_536]) {
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    (seed >> 56) as u8
                })
                .collect();
            let want = slow_checksum(&bytes);
            assert_eq!(checksum(&[&bytes]), want, "len {len}");
            for cut in [0, 1, 3, len / 2, len.saturating_sub(1)] {
                let cut = cut.min(len);
                let (a, b) = bytes.split_at(cut);
                assert_eq!(checksum(&[a, b]), want, "len {len} cut {cut}");
                let (b1, b2) = b.split_at(b.len() / 3);
                assert_eq!(checksum(&[a, b1, &[], b2]), want, "len {len} cut {cut}");
            }
        }
        assert_eq!(checksum(&[&[0xFF; 64]]), slow_checksum(&[0xFF; 64]));
    }

    #[test]
    fn checksums_verify_to_zero_over_ip_header_and_segment() {
        let mut s = Synth::new(None);
        let mut out = Frames(Vec::new());
        let h = head(Direction::Sent, RecordKind::Data, Transport::Udp);
        s.frames(&h, b"hello", &mut out).unwrap();
        let f = &out.0[0].1;
        assert_eq!(checksum(&[&f[14..34]]), 0, "IPv4 header checksum");
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&f[26..34]);
        pseudo.extend_from_slice(&[0, 17, 0, 13]);
        assert_eq!(checksum(&[&pseudo, &f[34..]]), 0, "UDP checksum");
        assert_eq!(&f[42..], b"hello");
        assert_eq!(&f[6..12], &LOCAL_MAC);
    }

    #[test]
    fn tcp_sequence_numbers_follow_the_bytes_after_a_handshake_and_close_with_fins() {
        let mut s = Synth::new(Some(OpenedBy::Local));
        let mut out = Frames(Vec::new());
        s.frames(
            &head(Direction::Sent, RecordKind::Data, Transport::Tcp),
            b"abc",
            &mut out,
        )
        .unwrap();
        s.frames(
            &head(Direction::Received, RecordKind::Data, Transport::Tcp),
            b"hello",
            &mut out,
        )
        .unwrap();
        s.frames(
            &head(Direction::Sent, RecordKind::Data, Transport::Tcp),
            b"d",
            &mut out,
        )
        .unwrap();
        s.frames(
            &head(Direction::Received, RecordKind::Closed, Transport::Tcp),
            b"",
            &mut out,
        )
        .unwrap();
        let f: Vec<_> = out.0.iter().map(|(_, f)| tcp_seq(f)).collect();
        assert_eq!(f.len(), 3 + 3 + 3);
        let (isn_l, _, flags, _) = f[0];
        assert_eq!(flags, SYN);
        let (isn_p, ack, flags, _) = f[1];
        assert_eq!((ack, flags), (isn_l + 1, SYN | ACK));
        assert_eq!(f[3], (isn_l + 1, isn_p + 1, PSH | ACK, 3));
        assert_eq!(f[4], (isn_p + 1, isn_l + 4, PSH | ACK, 5));
        assert_eq!(f[5], (isn_l + 4, isn_p + 6, PSH | ACK, 1));
        assert_eq!(f[6], (isn_l + 5, isn_p + 6, FIN | ACK, 0));
        assert_eq!(f[7], (isn_p + 6, isn_l + 6, FIN | ACK, 0));
        assert_eq!(f[8], (isn_l + 6, isn_p + 7, ACK, 0));
        for (_, frame) in &out.0 {
            let mut pseudo = Vec::new();
            pseudo.extend_from_slice(&frame[26..34]);
            let len = u16::try_from(frame.len() - 34).unwrap();
            pseudo.extend_from_slice(&[0, 6]);
            pseudo.extend_from_slice(&len.to_be_bytes());
            assert_eq!(checksum(&[&pseudo, &frame[34..]]), 0);
        }
    }

    #[test]
    fn a_long_record_is_split_into_segments_that_stay_in_sequence() {
        let mut s = Synth::new(Some(OpenedBy::Peer));
        let mut out = Frames(Vec::new());
        let bytes = vec![0x5A; MAX_SEGMENT * 2 + 10];
        s.frames(
            &head(Direction::Received, RecordKind::Data, Transport::Tcp),
            &bytes,
            &mut out,
        )
        .unwrap();
        assert_eq!(out.0.len(), 3 + 3);
        let segs: Vec<_> = out.0[3..].iter().map(|(_, f)| tcp_seq(f)).collect();
        assert_eq!(segs[0].3, MAX_SEGMENT);
        assert_eq!(segs[1].0, segs[0].0.wrapping_add(MAX_SEGMENT as u32));
        assert_eq!(segs[2].3, 10);
        // The IPv4 total length still fits.
        for (_, f) in &out.0[3..] {
            let total = u16::from_be_bytes([f[16], f[17]]) as usize;
            assert_eq!(total, f.len() - 14);
        }
    }

    #[test]
    fn mixed_families_become_one() {
        let v6_any: IpAddr = "::".parse().unwrap();
        let v4: IpAddr = "127.0.0.9".parse().unwrap();
        assert_eq!(
            one_family(v6_any, v4),
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), v4)
        );
        let mapped: IpAddr = "::ffff:127.0.0.3".parse().unwrap();
        assert_eq!(
            one_family(mapped, v4).0,
            "127.0.0.3".parse::<IpAddr>().unwrap()
        );
        let v6peer: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            one_family(v4, v6peer).0,
            IpAddr::V6(Ipv4Addr::new(127, 0, 0, 9).to_ipv6_mapped())
        );
    }
}
