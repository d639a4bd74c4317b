//! Network helpers shared by the tabs: error translation and address parsing.

pub mod error;
pub mod explain;
pub mod host;
pub mod iface;
pub mod udp;

pub use error::NetError;
pub use host::{Host, HostError, parse_host};

use rust_i18n::t;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

/// An address assigned to one of this machine's interfaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddress {
    pub interface: String,
    pub ip: std::net::IpAddr,
}

/// Every IPv4 and IPv6 address of this machine's interfaces (netdev), IPv4 first, each in
/// the stable order of [`iface::netdev_interfaces`].
pub fn local_addresses() -> Vec<LocalAddress> {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for iface in iface::netdev_interfaces() {
        for net in &iface.ipv4 {
            v4.push(LocalAddress {
                interface: iface.name.clone(),
                ip: std::net::IpAddr::V4(net.addr()),
            });
        }
        for net in &iface.ipv6 {
            v6.push(LocalAddress {
                interface: iface.name.clone(),
                ip: std::net::IpAddr::V6(net.addr()),
            });
        }
    }
    v4.extend(v6);
    v4
}

/// Raises this process's open-file limit as far as the OS allows, so a server can hold
/// thousands of clients. Returns the limit now in force, or `None` where it cannot be read.
pub fn raise_open_file_limit() -> Option<u64> {
    rlimit::increase_nofile_limit(u64::MAX).ok()
}

/// Strips the brackets users often type around IPv6 literals (`[::1]`).
pub fn normalize_host(host: &str) -> &str {
    let host = host.trim();
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// Resolves `host` (a name, IPv4 or IPv6 literal) and `port` with the system resolver.
pub fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, NetError> {
    let name = normalize_host(host);
    let not_resolved = |detail: String| NetError::NameNotResolved {
        host: name.to_owned(),
        detail,
    };
    match (name, port).to_socket_addrs() {
        Ok(addrs) => {
            let addrs: Vec<SocketAddr> = addrs.collect();
            if addrs.is_empty() {
                Err(not_resolved(t!("net.error.no_addresses").into_owned()))
            } else {
                Ok(addrs)
            }
        }
        Err(e) => Err(not_resolved(e.to_string())),
    }
}

/// Splits `HOST:PORT` (`[::1]:80` for IPv6 literals) and checks the host (see
/// [`parse_host`]): the host returned is what the resolver is given, with an international
/// name in punycode. The error is a sentence quoting what was typed.
pub fn split_host_port(text: &str) -> Result<(String, u16), String> {
    let shown = host::quote(text);
    let bad = |why: &str| t!("net.addr.bad_host_port", shown = shown, why = why).into_owned();
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| bad(&t!("net.addr.no_port")))?;
    if host.contains(':') && !host.trim_start().starts_with('[') {
        return Err(bad(&t!("net.addr.needs_brackets")));
    }
    if host.trim().is_empty() {
        return Err(bad(&t!("net.addr.no_host")));
    }
    let port = parse_port(port, false).map_err(|e| bad(&e))?;
    let host = parse_host(host)
        .map_err(|e| t!("net.addr.quoted", shown = shown, error = e).into_owned())?;
    Ok((host.to_string(), port))
}

/// Parses a port typed by the user: a number 1–65535 (0 only when `allow_zero`).
pub fn parse_port(text: &str, allow_zero: bool) -> Result<u16, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err(t!("net.port.empty").into_owned());
    }
    // Digits only: `str::parse` would also take a leading `+`.
    if !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(t!("net.port.not_a_number", text = t).into_owned());
    }
    match t.parse::<u32>() {
        Ok(0) if allow_zero => Ok(0),
        Ok(p @ 1..=65535) => Ok(p as u16),
        Ok(_) => Err(t!(
            "net.port.out_of_range",
            text = t,
            min = u8::from(!allow_zero)
        )
        .into_owned()),
        Err(_) => Err(t!("net.port.not_a_number", text = t).into_owned()),
    }
}

/// The largest UDP payload over IPv4: 65,535 bytes less the 20-byte IPv4 and 8-byte UDP
/// headers.
pub const MAX_UDP_PAYLOAD_V4: usize = 65_507;
/// The largest UDP payload over IPv6 (without jumbograms): the 16-bit payload length less the
/// 8-byte UDP header.
pub const MAX_UDP_PAYLOAD_V6: usize = 65_527;

/// Whether `len` bytes fit in one UDP datagram over IPv4 (`ipv6` false) or IPv6.
pub fn check_datagram_len(len: usize, ipv6: bool) -> Result<(), String> {
    let max = if ipv6 {
        MAX_UDP_PAYLOAD_V6
    } else {
        MAX_UDP_PAYLOAD_V4
    };
    if len <= max {
        return Ok(());
    }
    Err(if ipv6 {
        t!("net.datagram.too_long", len = len)
    } else {
        t!("net.datagram.too_long_v4", len = len)
    }
    .into_owned())
}

/// Fills below this many bytes are copied out at their exact size (see [`RecvBuffer`]).
const SMALL_RECORD_BYTES: usize = 64 * 1024;

/// The buffer a worker receives into, which then becomes a record's bytes. A large fill is
/// handed over as the record (trimmed to its length), so a flood costs no copy; a small one is
/// copied out at its exact size and the buffer is kept for the next read, so a stream of small
/// messages never leaves each record holding a large (possibly separately mapped) block.
#[derive(Debug)]
pub struct RecvBuffer {
    buf: Vec<u8>,
    capacity: usize,
}

impl RecvBuffer {
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: Vec::new(),
            capacity,
        }
    }

    /// An empty buffer with room for `capacity` bytes, reused when the last fill was small.
    pub fn fresh(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        if buf.capacity() < self.capacity {
            buf = Vec::with_capacity(self.capacity);
        }
        buf
    }

    /// The bytes of a filled buffer as a record; keeps the buffer if the fill was small.
    pub fn into_record(&mut self, mut filled: Vec<u8>) -> Vec<u8> {
        if filled.len() < SMALL_RECORD_BYTES.min(self.capacity) {
            let record = filled.as_slice().to_vec();
            filled.clear();
            self.buf = filled;
            record
        } else {
            filled.shrink_to_fit();
            filled
        }
    }
}

/// Receives into `chunk`'s spare capacity (without initialising it first) and extends its
/// length by what came. Returns 0 at end of stream. Each call asks for all the room left, so a
/// flooding peer is read in a few large calls (std's `read_to_end` starts each call at 8 KiB).
#[cfg(unix)]
pub fn recv_spare(stream: &mio::net::TcpStream, chunk: &mut Vec<u8>) -> io::Result<usize> {
    debug_assert!(
        chunk.len() < chunk.capacity(),
        "no room: 0 would read as end of stream" // i18n-exempt: a developer's assertion
    );
    rustix::net::recv(
        stream,
        rustix::buffer::spare_capacity(chunk),
        rustix::net::RecvFlags::DONTWAIT,
    )
    .map(|(n, _)| n)
    .map_err(io::Error::from)
}

#[cfg(not(unix))]
pub fn recv_spare(mut stream: &mio::net::TcpStream, chunk: &mut Vec<u8>) -> io::Result<usize> {
    use std::io::Read;
    let before = chunk.len();
    chunk.resize(chunk.capacity(), 0);
    let got = stream.read(&mut chunk[before..]);
    chunk.truncate(before + *got.as_ref().unwrap_or(&0));
    got
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_fills_are_copied_out_and_the_buffer_is_kept_large_ones_handed_over() {
        let mut rb = RecvBuffer::new(512 * 1024);
        let mut buf = rb.fresh();
        assert!(buf.capacity() >= 512 * 1024);
        let kept = buf.as_ptr();
        buf.extend_from_slice(b"hello");
        let record = rb.into_record(buf);
        assert_eq!(record, b"hello");
        assert_eq!(record.capacity(), 5, "a small record holds only its bytes");
        let again = rb.fresh();
        assert_eq!(again.as_ptr(), kept, "the large buffer is reused");
        assert!(again.is_empty());
        let mut big = again;
        big.resize(100 * 1024, 7);
        let record = rb.into_record(big);
        assert_eq!(
            record.as_ptr(),
            kept,
            "a large fill becomes the record without a copy"
        );
        assert_eq!(record.len(), 100 * 1024);
        let next = rb.fresh();
        assert_ne!(next.as_ptr(), kept, "and the next read gets a new buffer");
    }

    #[test]
    fn loopback_is_among_local_addresses() {
        let all = local_addresses();
        assert!(
            all.iter()
                .any(|a| a.ip == std::net::IpAddr::from([127, 0, 0, 1])),
            "{all:?}"
        );
    }

    #[test]
    fn ports() {
        assert_eq!(parse_port(" 8080 ", false), Ok(8080));
        assert!(parse_port("0", false).is_err());
        assert_eq!(parse_port("0", true), Ok(0));
        assert!(
            parse_port("65536", false)
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_port("80a", false).unwrap_err().contains("not a port"));
        assert!(parse_port("", false).is_err());
    }

    #[test]
    fn resolves_literals_and_reports_bad_names() {
        assert_eq!(
            resolve("127.0.0.1", 80).unwrap()[0],
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            resolve("[::1]", 80).unwrap()[0],
            "[::1]:80".parse().unwrap()
        );
        let err = resolve("no-such-host.invalid", 80).unwrap_err();
        assert!(matches!(err, NetError::NameNotResolved { .. }), "{err:?}");
    }
}
