//! UDP socket plumbing shared by the UDP and Broadcast workers: binding with the options users
//! set, ICMP errors on unconnected sockets (Linux `IP_RECVERR`), the kernel's drop counter, and
//! multicast membership.

use rust_i18n::t;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use socket2::{Domain, SockRef, Socket, Type};

/// The receive buffer the UDP tab and `sockpit udp` ask for: room for thousands of small
/// datagrams, so a burst is not dropped by the kernel while the worker is busy (the OS may cap
/// it at `net.core.rmem_max`).
pub const DEFAULT_RECV_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// How to bind a UDP socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpBindOptions {
    pub bind: SocketAddr,
    pub reuse_addr: bool,
    pub broadcast: bool,
    /// `SO_RCVBUF` in bytes; `None` keeps the system default.
    pub recv_buffer_bytes: Option<usize>,
}

impl UdpBindOptions {
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            reuse_addr: true,
            broadcast: false,
            recv_buffer_bytes: None,
        }
    }
}

/// Binds a non-blocking UDP socket for mio. An unspecified IPv6 address is dual-stack where
/// the OS allows. ICMP errors (port unreachable…) are queued for [`take_icmp_errors`].
pub fn bind_udp(options: &UdpBindOptions) -> io::Result<mio::net::UdpSocket> {
    let socket = Socket::new(Domain::for_address(options.bind), Type::DGRAM, None)?;
    socket.set_reuse_address(options.reuse_addr)?;
    if options.bind.is_ipv6() && options.bind.ip().is_unspecified() {
        let _ = socket.set_only_v6(false);
    }
    if options.broadcast {
        socket.set_broadcast(true)?;
    }
    if let Some(bytes) = options.recv_buffer_bytes {
        socket.set_recv_buffer_size(bytes)?;
    }
    enable_icmp_errors(&socket, options.bind.is_ipv6());
    enable_arrival_times(&socket);
    socket.bind(&options.bind.into())?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::UdpSocket::from_std(socket.into()))
}

/// An ICMP error the kernel reported for a datagram we sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcmpError {
    /// Where the datagram that failed was going.
    pub destination: Option<SocketAddr>,
    /// Who sent the ICMP message (the host or router that refused it).
    pub reporter: Option<IpAddr>,
    pub error: io::ErrorKind,
    pub os_message: String,
}

#[cfg(target_os = "linux")]
fn enable_icmp_errors(socket: &Socket, ipv6: bool) {
    use nix::sys::socket::{setsockopt, sockopt};
    if ipv6 {
        let _ = setsockopt(socket, sockopt::Ipv6RecvErr, &true);
    }
    // Also for dual-stack sockets, whose IPv4 traffic reports through the IPv4 option.
    let _ = setsockopt(socket, sockopt::Ipv4RecvErr, &true);
}

#[cfg(not(target_os = "linux"))]
fn enable_icmp_errors(_socket: &Socket, _ipv6: bool) {}

/// Asks the kernel to stamp each datagram with its arrival time (`SO_TIMESTAMPNS`), so the
/// times shown stay exact when datagrams are read in batches.
#[cfg(target_os = "linux")]
fn enable_arrival_times(socket: &Socket) {
    use nix::sys::socket::{setsockopt, sockopt};
    let _ = setsockopt(socket, sockopt::ReceiveTimestampns, &true);
}

#[cfg(not(target_os = "linux"))]
fn enable_arrival_times(_socket: &Socket) {}

/// Reads every queued ICMP error (bounded). Unconnected UDP sockets only learn of "port
/// unreachable" this way; without it a send to a closed port looks like success.
#[cfg(target_os = "linux")]
pub fn take_icmp_errors(socket: &mio::net::UdpSocket) -> Vec<IcmpError> {
    use nix::sys::socket::{
        ControlMessageOwned, MsgFlags, SockaddrStorage, recvmsg, sockaddr_in, sockaddr_in6,
    };
    use std::io::IoSliceMut;
    use std::os::fd::AsRawFd as _;

    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    for _ in 0..256 {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!(libc::sock_extended_err, sockaddr_in6);
        let Ok(msg) = recvmsg::<SockaddrStorage>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_ERRQUEUE | MsgFlags::MSG_DONTWAIT,
        ) else {
            break;
        };
        let destination = msg.address.as_ref().and_then(storage_to_std);
        let Ok(cmsgs) = msg.cmsgs() else {
            continue;
        };
        for c in cmsgs {
            let (errno, reporter) = match c {
                ControlMessageOwned::Ipv4RecvErr(e, addr) => (
                    e.ee_errno,
                    addr.map(|a: sockaddr_in| {
                        IpAddr::V4(Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr)))
                    }),
                ),
                ControlMessageOwned::Ipv6RecvErr(e, addr) => (
                    e.ee_errno,
                    addr.map(|a: sockaddr_in6| IpAddr::V6(Ipv6Addr::from(a.sin6_addr.s6_addr))),
                ),
                _ => continue,
            };
            let os = io::Error::from_raw_os_error(errno.cast_signed());
            out.push(IcmpError {
                destination,
                reporter,
                error: os.kind(),
                os_message: os.to_string(),
            });
        }
    }
    // The pending socket error that came with the queued ones is now stale.
    let _ = socket.take_error();
    out
}

#[cfg(target_os = "linux")]
fn storage_to_std(s: &nix::sys::socket::SockaddrStorage) -> Option<SocketAddr> {
    if let Some(v4) = s.as_sockaddr_in() {
        return Some(SocketAddr::from((v4.ip(), v4.port())));
    }
    s.as_sockaddr_in6()
        .map(|v6| SocketAddr::from((v6.ip(), v6.port())))
}

#[cfg(not(target_os = "linux"))]
pub fn take_icmp_errors(socket: &mio::net::UdpSocket) -> Vec<IcmpError> {
    match socket.take_error() {
        Ok(Some(e)) => vec![IcmpError {
            destination: None,
            reporter: None,
            error: e.kind(),
            os_message: e.to_string(),
        }],
        _ => Vec::new(),
    }
}

/// Receives many datagrams per system call (`recvmmsg` on Linux, one `recv_from` elsewhere),
/// so a flood of small datagrams costs fewer syscalls.
pub struct BatchReceiver {
    #[cfg(target_os = "linux")]
    headers: nix::sys::socket::MultiHeaders<nix::sys::socket::SockaddrStorage>,
    bufs: Vec<Vec<u8>>,
    /// Length, sender and kernel arrival time (µs since the epoch) of each datagram read.
    lens: Vec<(usize, Option<SocketAddr>, Option<u64>)>,
}

impl BatchReceiver {
    /// Room for `count` datagrams of up to `size` bytes each.
    pub fn new(count: usize, size: usize) -> Self {
        let count = count.max(1);
        Self {
            #[cfg(target_os = "linux")]
            headers: nix::sys::socket::MultiHeaders::preallocate(
                count,
                Some(nix::cmsg_space!(nix::sys::time::TimeSpec)),
            ),
            bufs: vec![vec![0; size]; count],
            lens: Vec::with_capacity(count),
        }
    }

    /// Reads what is waiting (up to the batch size) and hands each datagram to `each` with
    /// its sender and, where the kernel stamped it, its arrival time in µs since the epoch.
    /// Returns how many were read; `WouldBlock` when none was waiting.
    pub fn recv(
        &mut self,
        socket: &mio::net::UdpSocket,
        mut each: impl FnMut(SocketAddr, &[u8], Option<u64>),
    ) -> io::Result<usize> {
        self.lens.clear();
        #[cfg(target_os = "linux")]
        {
            use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmmsg};
            use std::io::IoSliceMut;
            use std::os::fd::AsRawFd as _;
            let mut iovs: Vec<[IoSliceMut<'_>; 1]> =
                self.bufs.iter_mut().map(|b| [IoSliceMut::new(b)]).collect();
            let results = recvmmsg(
                socket.as_raw_fd(),
                &mut self.headers,
                iovs.iter_mut(),
                MsgFlags::MSG_DONTWAIT,
                None,
            )
            .map_err(io::Error::from)?;
            for m in results {
                let arrived = m.cmsgs().ok().and_then(|mut cmsgs| {
                    cmsgs.find_map(|c| match c {
                        ControlMessageOwned::ScmTimestampns(ts) => {
                            let secs = u64::try_from(ts.tv_sec()).ok()?;
                            let nanos = u64::try_from(ts.tv_nsec()).ok()?;
                            Some(secs * 1_000_000 + nanos / 1_000)
                        }
                        _ => None,
                    })
                });
                self.lens.push((
                    m.bytes,
                    m.address.as_ref().and_then(storage_to_std),
                    arrived,
                ));
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let (n, from) = socket.recv_from(&mut self.bufs[0])?;
            self.lens.push((n, Some(from), None));
        }
        for (i, (n, from, arrived)) in self.lens.iter().enumerate() {
            if let Some(from) = from {
                each(*from, &self.bufs[i][..*n], *arrived);
            }
        }
        Ok(self.lens.len())
    }
}

/// Datagrams the kernel dropped for this socket (receive buffer full or a datagram larger
/// than it), from `/proc/net/udp{,6}`. `None` where the OS does not tell.
pub fn kernel_drops(socket: &mio::net::UdpSocket) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd as _;
        use std::os::unix::fs::MetadataExt as _;
        let inode = std::fs::metadata(format!("/proc/self/fd/{}", socket.as_raw_fd()))
            .ok()?
            .ino();
        ["/proc/self/net/udp", "/proc/self/net/udp6"]
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .find_map(|text| drops_for_inode(&text, inode))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        None
    }
}

/// Finds the `drops` column of the row for `inode` in `/proc/net/udp` text.
pub fn drops_for_inode(proc_net_udp: &str, inode: u64) -> Option<u64> {
    proc_net_udp.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
        let row_inode: u64 = cols.get(9)?.parse().ok()?;
        (row_inode == inode)
            .then(|| cols.last()?.parse().ok())
            .flatten()
    })
}

/// Multicast membership: a group joined on one interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Membership {
    pub group: IpAddr,
    /// IPv4: the interface's address (0.0.0.0 = let the system choose). IPv6: its index (0 =
    /// any).
    pub interface: MulticastInterface,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MulticastInterface {
    V4(Ipv4Addr),
    V6Index(u32),
}

impl std::fmt::Display for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.interface {
            MulticastInterface::V4(ip) if ip.is_unspecified() => {
                f.write_str(&t!("net.multicast.default_interface", group = self.group))
            }
            MulticastInterface::V4(ip) => {
                f.write_str(&t!("net.multicast.on_ip", group = self.group, ip = ip))
            }
            MulticastInterface::V6Index(0) => {
                f.write_str(&t!("net.multicast.default_interface", group = self.group))
            }
            MulticastInterface::V6Index(i) => {
                f.write_str(&t!("net.multicast.on_index", group = self.group, index = i))
            }
        }
    }
}

/// Why a multicast join was refused before asking the OS.
pub fn check_group(group: IpAddr) -> Result<(), String> {
    if group.is_multicast() {
        Ok(())
    } else {
        Err(t!("net.multicast.not_multicast", group = group).into_owned())
    }
}

pub fn join(socket: &mio::net::UdpSocket, m: &Membership) -> io::Result<()> {
    match (m.group, m.interface) {
        (IpAddr::V4(g), MulticastInterface::V4(i)) => socket.join_multicast_v4(&g, &i),
        (IpAddr::V6(g), MulticastInterface::V6Index(i)) => socket.join_multicast_v6(&g, i),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            t!("net.multicast.mixed_versions").into_owned(),
        )),
    }
}

pub fn leave(socket: &mio::net::UdpSocket, m: &Membership) -> io::Result<()> {
    match (m.group, m.interface) {
        (IpAddr::V4(g), MulticastInterface::V4(i)) => socket.leave_multicast_v4(&g, &i),
        (IpAddr::V6(g), MulticastInterface::V6Index(i)) => socket.leave_multicast_v6(&g, i),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            t!("net.multicast.mixed_versions").into_owned(),
        )),
    }
}

/// Outgoing multicast settings: TTL / hop limit, loopback, and the interface sends leave by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastSend {
    pub ttl: u32,
    pub loopback: bool,
    pub interface_v4: Option<Ipv4Addr>,
    pub interface_v6: Option<u32>,
}

impl Default for MulticastSend {
    fn default() -> Self {
        Self {
            ttl: 1,
            loopback: true,
            interface_v4: None,
            interface_v6: None,
        }
    }
}

/// Applies outgoing multicast settings; the options of the socket's own IP version must
/// succeed, the other version's are best effort (dual-stack sockets).
pub fn apply_multicast_send(
    socket: &mio::net::UdpSocket,
    ipv6: bool,
    s: &MulticastSend,
) -> io::Result<()> {
    let sock = SockRef::from(socket);
    let v4 = || -> io::Result<()> {
        sock.set_multicast_ttl_v4(s.ttl)?;
        sock.set_multicast_loop_v4(s.loopback)?;
        if let Some(i) = s.interface_v4 {
            sock.set_multicast_if_v4(&i)?;
        }
        Ok(())
    };
    let v6 = || -> io::Result<()> {
        sock.set_multicast_hops_v6(s.ttl)?;
        sock.set_multicast_loop_v6(s.loopback)?;
        if let Some(i) = s.interface_v6 {
            sock.set_multicast_if_v6(i)?;
        }
        Ok(())
    };
    if ipv6 {
        v6()?;
        let _ = v4();
    } else {
        v4()?;
    }
    Ok(())
}

/// Picks the destination address a socket of this family can send to: the first of the same
/// family, or an IPv4 address mapped into IPv6 for a dual-stack socket.
pub fn pick_destination(candidates: &[SocketAddr], local: SocketAddr) -> Option<SocketAddr> {
    let same = candidates
        .iter()
        .find(|a| a.is_ipv6() == local.is_ipv6())
        .copied();
    same.or_else(|| {
        if local.is_ipv6() {
            candidates.iter().find_map(|a| match a {
                SocketAddr::V4(v4) => Some(SocketAddr::new(
                    IpAddr::V6(v4.ip().to_ipv6_mapped()),
                    v4.port(),
                )),
                SocketAddr::V6(_) => None,
            })
        } else {
            None
        }
    })
}

/// Shows IPv4-mapped IPv6 sources (from a dual-stack socket) as plain IPv4.
pub fn unmap(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), v6.port()),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_column_is_found_by_inode() {
        let text = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  100: 0100007F:2328 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2 0000000000000000 17\n\
  101: 0100007F:2329 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4243 2 0000000000000000 0\n";
        assert_eq!(drops_for_inode(text, 4242), Some(17));
        assert_eq!(drops_for_inode(text, 4243), Some(0));
        assert_eq!(drops_for_inode(text, 1), None);
    }

    #[test]
    fn destinations_match_the_socket_family() {
        let v4: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let v6: SocketAddr = "[::1]:9".parse().unwrap();
        let local4: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let local6: SocketAddr = "[::]:0".parse().unwrap();
        assert_eq!(pick_destination(&[v6, v4], local4), Some(v4));
        assert_eq!(pick_destination(&[v6], local4), None);
        assert_eq!(
            pick_destination(&[v4], local6),
            Some("[::ffff:127.0.0.1]:9".parse().unwrap())
        );
        assert_eq!(unmap("[::ffff:127.0.0.1]:9".parse().unwrap()), v4);
    }

    #[test]
    fn groups_must_be_multicast() {
        assert!(check_group("239.1.2.3".parse().unwrap()).is_ok());
        assert!(check_group("ff02::1".parse().unwrap()).is_ok());
        assert!(
            check_group("192.168.1.1".parse().unwrap())
                .unwrap_err()
                .contains("not a multicast")
        );
    }

    #[test]
    fn a_send_to_a_closed_port_is_reported_as_refused() {
        let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let closed = free.local_addr().unwrap();
        drop(free);
        let sock = bind_udp(&UdpBindOptions::new("127.0.0.1:0".parse().unwrap())).unwrap();
        sock.send_to(b"anyone?", closed).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let errors = loop {
            let e = take_icmp_errors(&sock);
            if !e.is_empty() || std::time::Instant::now() > deadline {
                break e;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].error, io::ErrorKind::ConnectionRefused);
        if cfg!(target_os = "linux") {
            assert_eq!(errors[0].destination, Some(closed));
        }
    }
}
