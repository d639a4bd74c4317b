//! Route to host: which way the kernel would send a packet to an address, asked the way
//! `ip route get` asks (a netlink `RTM_GETROUTE` request over a `NETLINK_ROUTE` socket). Nothing
//! is sent to the destination. The answer carries the interface, the source address, the
//! gateway, the table entry that decided (the longest prefix that matched) and the whole main
//! table beside it, so a learner can see the choice. Every sentence for users is at the end of
//! this file, in one place.

#[cfg(target_os = "linux")]
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr};

use ipnet::{IpNet, Ipv4Net};
use rust_i18n::t;

use super::subnet::BinaryView;

/// The kernel's main routing table (`ip route` shows it).
pub const TABLE_MAIN: u32 = 254;
/// The kernel's local table: this machine's own and broadcast addresses.
pub const TABLE_LOCAL: u32 = 255;
/// A main table of more rows than this is cut (a full BGP table has a million; a window
/// cannot show them usefully; the deciding entry is still in `RouteAnswer::entry`).
pub const MAX_TABLE_ROWS: usize = 10_000;

/// What kind of route an entry is, by the kernel's `RTN_*` types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RouteKind {
    Unicast,
    Local,
    Broadcast,
    Multicast,
    Anycast,
    Unreachable,
    Prohibit,
    Blackhole,
    Throw,
    Other(u8),
}

impl RouteKind {
    /// The kernel's `RTN_*` number.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => Self::Unicast,
            2 => Self::Local,
            3 => Self::Broadcast,
            4 => Self::Anycast,
            5 => Self::Multicast,
            6 => Self::Blackhole,
            7 => Self::Unreachable,
            8 => Self::Prohibit,
            9 => Self::Throw,
            other => Self::Other(other),
        }
    }

    /// The word `ip route` prints before such an entry (`unicast` prints nothing there).
    pub fn name(self) -> &'static str {
        match self {
            Self::Unicast => "unicast",
            Self::Local => "local",
            Self::Broadcast => "broadcast",
            Self::Multicast => "multicast",
            Self::Anycast => "anycast",
            Self::Unreachable => "unreachable",
            Self::Prohibit => "prohibit",
            Self::Blackhole => "blackhole",
            Self::Throw => "throw",
            Self::Other(_) => "other",
        }
    }
}

/// The name `ip route` gives a route's origin (`proto kernel`, `proto dhcp`…).
pub fn protocol_name(code: u8) -> &'static str {
    match code {
        0 => "unspec",
        1 => "redirect",
        2 => "kernel",
        3 => "boot",
        4 => "static",
        8 => "gated",
        9 => "ra",
        11 => "zebra",
        12 => "bird",
        16 => "dhcp",
        42 => "babel",
        186 => "bgp",
        187 => "isis",
        188 => "ospf",
        189 => "rip",
        _ => "other",
    }
}

/// The name `ip route` gives a route's scope (`scope link`, `scope host`…).
pub fn scope_name(code: u8) -> &'static str {
    match code {
        0 => "global",
        200 => "site",
        253 => "link",
        254 => "host",
        255 => "nowhere",
        _ => "other",
    }
}

/// One entry of a routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// The prefix the entry covers (`0.0.0.0/0` for the default route).
    pub destination: IpNet,
    pub kind: RouteKind,
    pub gateway: Option<IpAddr>,
    pub interface_index: Option<u32>,
    pub interface: Option<String>,
    /// The source address the kernel prefers for this entry (`src`), when it names one.
    pub source: Option<IpAddr>,
    /// The route's priority (`metric`); lower wins between equal prefixes.
    pub metric: u32,
    pub table: u32,
    /// Who added it: `kernel`, `boot`, `static`, `dhcp`, `ra`…
    pub protocol: &'static str,
    /// `global`, `link` or `host`.
    pub scope: &'static str,
}

impl RouteEntry {
    /// Whether `ip` falls inside the entry's prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.destination.contains(&ip)
    }

    /// Whether this is the default route (prefix length 0).
    pub fn is_default(&self) -> bool {
        self.destination.prefix_len() == 0
    }

    /// The entry as `ip route` prints it: `default via 10.0.0.1 dev eth0 proto dhcp metric 100`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        if self.kind != RouteKind::Unicast {
            let _ = write!(s, "{} ", self.kind.name());
        }
        if self.is_default() {
            s.push_str("default");
        } else {
            let _ = write!(s, "{}", self.destination);
        }
        if let Some(gw) = self.gateway {
            let _ = write!(s, " via {gw}");
        }
        if let Some(dev) = &self.interface {
            let _ = write!(s, " dev {dev}");
        }
        let _ = write!(s, " proto {}", self.protocol);
        if self.scope != "global" {
            let _ = write!(s, " scope {}", self.scope);
        }
        if let Some(src) = self.source {
            let _ = write!(s, " src {src}");
        }
        if self.metric != 0 {
            let _ = write!(s, " metric {}", self.metric);
        }
        s
    }
}

/// How the destination is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// The address is this machine's own; packets never leave it (they go over `lo`).
    Local,
    /// On a directly attached subnet: sent straight to it, its MAC found by ARP or NDP.
    Direct,
    /// Beyond this machine's subnets: sent to a gateway (a router) that forwards it.
    Gateway,
    /// A broadcast address of an attached subnet.
    Broadcast,
    /// A multicast group address.
    Multicast,
}

impl Reach {
    /// A short name for JSON and tables.
    pub fn name(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Direct => "direct",
            Self::Gateway => "gateway",
            Self::Broadcast => "broadcast",
            Self::Multicast => "multicast",
        }
    }
}

/// `destination AND mask = network`, as the subnet calculator shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AndView {
    pub destination: IpAddr,
    pub prefix: u8,
    /// Dotted netmask for IPv4, `/prefix` for IPv6.
    pub mask: String,
    pub network: IpAddr,
    /// The bits of the three lines (`binary.text(&binary.address)` and so on).
    pub binary: BinaryView,
}

impl AndView {
    pub fn new(destination: IpAddr, prefix: u8) -> Self {
        let binary = BinaryView::new(destination, prefix);
        let mask = match destination {
            IpAddr::V4(_) => Ipv4Net::new(Ipv4Addr::UNSPECIFIED, prefix)
                .map_or_else(|_| format!("/{prefix}"), |n| n.netmask().to_string()),
            IpAddr::V6(_) => format!("/{prefix}"),
        };
        Self {
            destination,
            prefix,
            mask,
            network: binary.network_ip,
            binary,
        }
    }
}

/// The kernel's answer for one destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteAnswer {
    /// What was asked: the host name typed, or the address.
    pub query: String,
    pub destination: IpAddr,
    pub reach: Reach,
    pub interface_index: u32,
    /// The output interface (`lo` for local addresses).
    pub interface: String,
    /// The source address this machine would put on the packets.
    pub source: Option<IpAddr>,
    pub gateway: Option<IpAddr>,
    /// The table entry that decided (the longest prefix that matched), when the kernel said.
    pub entry: Option<RouteEntry>,
    /// The main table of the destination's family, in the kernel's order (at most
    /// `MAX_TABLE_ROWS` rows).
    pub table: Vec<RouteEntry>,
    /// How many rows of a larger table were left out of `table`.
    pub table_rows_left_out: usize,
    /// Which row of `table` decided (`None` when a table other than main did, as for local
    /// addresses, which the local table holds).
    pub chosen: Option<usize>,
    /// For a direct route: the destination `AND` the entry's mask.
    pub and: Option<AndView>,
}

impl RouteAnswer {
    /// Whether the destination is on a directly attached subnet.
    pub fn is_direct(&self) -> bool {
        self.reach == Reach::Direct
    }

    /// Plain English lines saying why the kernel chose this way.
    pub fn explanation(&self) -> Vec<String> {
        explain(self)
    }
}

/// Why the route could not be found. Every variant names the destination it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// The typed text is not a host (the reason is the host checker's sentence).
    BadHost {
        text: String,
        reason: String,
    },
    NotResolved {
        host: String,
        detail: String,
    },
    /// No route matches (the kernel said `ENETUNREACH`).
    NetworkUnreachable {
        destination: IpAddr,
    },
    /// An `unreachable` route matches (`EHOSTUNREACH`).
    HostUnreachable {
        destination: IpAddr,
    },
    /// A `prohibit` route matches (`EACCES`).
    Prohibited {
        destination: IpAddr,
    },
    /// A `blackhole` route matches (`EINVAL`).
    Blackhole {
        destination: IpAddr,
    },
    /// Netlink itself failed (socket, message or timeout).
    Netlink {
        destination: IpAddr,
        message: String,
    },
    Unsupported(&'static str),
}

impl RouteError {
    /// Whether the user typed something that is not a host (the CLI exits 2 for those).
    pub fn is_usage(&self) -> bool {
        matches!(self, Self::BadHost { .. })
    }

    /// The error for the kernel's `errno` on a route request for `destination`.
    pub fn from_errno(errno: i32, destination: IpAddr) -> Self {
        match errno {
            libc::ENETUNREACH => Self::NetworkUnreachable { destination },
            libc::EHOSTUNREACH => Self::HostUnreachable { destination },
            libc::EACCES => Self::Prohibited { destination },
            libc::EINVAL => Self::Blackhole { destination },
            other => Self::Netlink {
                destination,
                message: std::io::Error::from_raw_os_error(other).to_string(),
            },
        }
    }
}

impl std::error::Error for RouteError {}

/// Resolves `host` (an address or a name) and looks up its route; a name uses the first
/// address the resolver gives.
pub fn lookup_host(host: &str) -> Result<RouteAnswer, RouteError> {
    let parsed = crate::net::host::parse_host(host).map_err(|e| RouteError::BadHost {
        text: crate::net::host::quote(host.trim()),
        reason: e.to_string(),
    })?;
    let ip = match &parsed {
        crate::net::host::Host::Ip(ip) => *ip,
        crate::net::host::Host::ScopedV6 { ip, .. } => IpAddr::V6(*ip),
        crate::net::host::Host::Name(name) => {
            let addrs = crate::net::resolve(name, 0).map_err(|e| RouteError::NotResolved {
                host: name.clone(),
                detail: match e {
                    crate::net::NetError::NameNotResolved { detail, .. } => detail,
                    other => other.to_string(),
                },
            })?;
            let Some(first) = addrs.first() else {
                return Err(RouteError::NotResolved {
                    host: name.clone(),
                    detail: String::new(),
                });
            };
            first.ip()
        }
    };
    let mut answer = lookup(ip)?;
    answer.query = parsed.to_string();
    Ok(answer)
}

/// Picks the row of `table` that decided: the one equal to the kernel's matched `entry`, or,
/// when the kernel could not say (before Linux 4.13), the longest prefix containing
/// `destination` (lowest metric between equals).
pub fn chosen_row(
    table: &[RouteEntry],
    entry: Option<&RouteEntry>,
    destination: IpAddr,
) -> Option<usize> {
    if let Some(e) = entry {
        let same = |r: &RouteEntry| {
            r.destination == e.destination
                && r.table == e.table
                && r.metric == e.metric
                && r.kind == e.kind
                && (e.interface_index.is_none() || r.interface_index == e.interface_index)
        };
        // The kernel's match not in the main table: another table decided (local addresses).
        return table.iter().position(same);
    }
    table
        .iter()
        .enumerate()
        .filter(|(_, r)| r.contains(destination))
        .max_by(|(_, a), (_, b)| {
            a.destination
                .prefix_len()
                .cmp(&b.destination.prefix_len())
                .then(b.metric.cmp(&a.metric))
        })
        .map(|(i, _)| i)
}

/// How the destination is reached, from the kernel's answer.
pub fn reach_of(kind: RouteKind, gateway: Option<IpAddr>) -> Reach {
    match kind {
        RouteKind::Local => Reach::Local,
        RouteKind::Broadcast => Reach::Broadcast,
        RouteKind::Multicast => Reach::Multicast,
        _ if gateway.is_some() => Reach::Gateway,
        _ => Reach::Direct,
    }
}

/// Asks the kernel how it would send to `destination`.
#[cfg(target_os = "linux")]
pub fn lookup(destination: IpAddr) -> Result<RouteAnswer, RouteError> {
    netlink::lookup(destination)
}

#[cfg(not(target_os = "linux"))]
pub fn lookup(_destination: IpAddr) -> Result<RouteAnswer, RouteError> {
    Err(RouteError::Unsupported(std::env::consts::OS))
}

#[cfg(target_os = "linux")]
mod netlink {
    use std::collections::HashMap;
    use std::net::IpAddr;
    use std::time::{Duration, Instant};

    use ipnet::IpNet;
    use netlink_packet_core::{
        NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST, NetlinkMessage, NetlinkPayload,
    };
    use netlink_packet_route::route::{
        RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage,
    };
    use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
    use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};
    use rust_i18n::t;

    use super::{
        AndView, MAX_TABLE_ROWS, Reach, RouteAnswer, RouteEntry, RouteError, RouteKind, TABLE_MAIN,
        chosen_row, interface_name, protocol_name, reach_of, scope_name,
    };

    /// The kernel answers route requests at once; this only bounds a broken socket.
    const REPLY_TIMEOUT: Duration = Duration::from_secs(3);
    /// One datagram of a dump is at most a few pages; this holds any of them.
    const RECV_BUFFER_BYTES: usize = 1 << 16;
    /// How long to sleep between reads of the non-blocking socket.
    const POLL_SLEEP: Duration = Duration::from_millis(1);

    /// A failed netlink exchange: the kernel's errno, or a local failure.
    enum Failure {
        Errno(i32),
        Local(String),
    }

    pub(super) fn lookup(destination: IpAddr) -> Result<RouteAnswer, RouteError> {
        let fail = |f: Failure| match f {
            Failure::Errno(errno) => RouteError::from_errno(errno, destination),
            Failure::Local(message) => RouteError::Netlink {
                destination,
                message,
            },
        };
        let mut names = HashMap::new();
        let get = request(&query(destination, false), false).map_err(fail)?;
        let Some(answer) = get.first() else {
            return Err(fail(Failure::Local(
                t!("iptools.netlink.no_route").into_owned(),
            )));
        };
        let answer = entry_of(answer, &mut names);
        // The plain answer is a clone for this one address; RTM_F_FIB_MATCH asks for the
        // table entry that matched (kernel 4.13 and later). Without it, the longest prefix
        // of the dump is taken.
        let entry = request(&query(destination, true), false)
            .ok()
            .and_then(|m| m.first().map(|m| entry_of(m, &mut names)));
        let mut table: Vec<RouteEntry> = request(&dump(destination), true)
            .map_err(fail)?
            .iter()
            .map(|m| entry_of(m, &mut names))
            .filter(|e| e.table == TABLE_MAIN)
            .collect();
        let chosen = chosen_row(&table, entry.as_ref(), destination);
        let entry = entry.or_else(|| chosen.and_then(|i| table.get(i).cloned()));
        let table_rows_left_out = table.len().saturating_sub(MAX_TABLE_ROWS);
        table.truncate(MAX_TABLE_ROWS);
        let chosen = chosen.filter(|i| *i < MAX_TABLE_ROWS);
        let reach = reach_of(answer.kind, answer.gateway);
        let and = match (&entry, reach) {
            (Some(e), Reach::Direct) => Some(AndView::new(destination, e.destination.prefix_len())),
            _ => None,
        };
        Ok(RouteAnswer {
            query: destination.to_string(),
            destination,
            reach,
            interface_index: answer.interface_index.unwrap_or(0),
            interface: answer.interface.unwrap_or_default(),
            source: answer.source,
            gateway: answer.gateway,
            entry,
            table,
            table_rows_left_out,
            chosen,
            and,
        })
    }

    fn family(ip: IpAddr) -> AddressFamily {
        if ip.is_ipv4() {
            AddressFamily::Inet
        } else {
            AddressFamily::Inet6
        }
    }

    /// `ip route get DESTINATION` (with `fibmatch` when `fib_match`).
    // The crate's header and message are `#[non_exhaustive]`: they can only be built from
    // `Default` and then filled in.
    #[allow(clippy::field_reassign_with_default)]
    fn query(destination: IpAddr, fib_match: bool) -> RouteMessage {
        let mut header = RouteHeader::default();
        header.address_family = family(destination);
        header.destination_prefix_length = if destination.is_ipv4() { 32 } else { 128 };
        if fib_match {
            header.flags = RouteFlags::FibMatch;
        }
        let mut message = RouteMessage::default();
        message.header = header;
        message
            .attributes
            .push(RouteAttribute::Destination(match destination {
                IpAddr::V4(a) => RouteAddress::Inet(a),
                IpAddr::V6(a) => RouteAddress::Inet6(a),
            }));
        message
    }

    /// Every route of the destination's family (`ip route show table all`, filtered later).
    fn dump(destination: IpAddr) -> RouteMessage {
        let mut message = RouteMessage::default();
        message.header.address_family = family(destination);
        message
    }

    fn address(a: &RouteAddress) -> Option<IpAddr> {
        match a {
            RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
            RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        }
    }

    fn entry_of(m: &RouteMessage, names: &mut HashMap<u32, String>) -> RouteEntry {
        let h = &m.header;
        let v4 = h.address_family == AddressFamily::Inet;
        let mut dst = None;
        let mut gateway = None;
        let mut oif = None;
        let mut source = None;
        let mut metric = 0;
        let mut table = u32::from(h.table);
        for a in &m.attributes {
            match a {
                RouteAttribute::Destination(d) => dst = address(d),
                RouteAttribute::Gateway(g) => gateway = address(g),
                RouteAttribute::Oif(i) => oif = Some(*i),
                RouteAttribute::PrefSource(s) => source = address(s),
                RouteAttribute::Priority(p) => metric = *p,
                RouteAttribute::Table(t) => table = *t,
                RouteAttribute::MultiPath(hops) => {
                    // A multipath route: show its first hop.
                    if let Some(hop) = hops.first() {
                        oif = oif.or(Some(hop.interface_index));
                        for ha in &hop.attributes {
                            if let RouteAttribute::Gateway(g) = ha {
                                gateway = gateway.or_else(|| address(g));
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        let unspecified = if v4 {
            IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
        } else {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        };
        let destination = IpNet::new(dst.unwrap_or(unspecified), h.destination_prefix_length)
            .unwrap_or_else(|_| IpNet::from(unspecified));
        RouteEntry {
            destination,
            kind: RouteKind::from_code(u8::from(h.kind)),
            gateway,
            interface_index: oif,
            interface: oif.and_then(|i| interface_name(i, names)),
            source,
            metric,
            table,
            protocol: protocol_name(u8::from(h.protocol)),
            scope: scope_name(u8::from(h.scope)),
        }
    }

    /// Sends one request and collects the route messages of the reply (all parts of a dump).
    fn request(message: &RouteMessage, dump: bool) -> Result<Vec<RouteMessage>, Failure> {
        let local = |what: &str, e: std::io::Error| Failure::Local(format!("{what}: {e}"));
        let mut socket =
            Socket::new(NETLINK_ROUTE).map_err(|e| local(&t!("iptools.netlink.socket"), e))?;
        socket
            .bind_auto()
            .map_err(|e| local(&t!("iptools.netlink.bind"), e))?;
        socket
            .set_non_blocking(true)
            .map_err(|e| local(&t!("iptools.netlink.socket"), e))?;
        let sequence = 1;
        let mut nl = NetlinkMessage::from(RouteNetlinkMessage::GetRoute(message.clone()));
        nl.header.flags = NLM_F_REQUEST | if dump { NLM_F_DUMP } else { 0 };
        nl.header.sequence_number = sequence;
        nl.finalize();
        let mut bytes = vec![0; nl.buffer_len()];
        nl.serialize(&mut bytes);
        socket
            .send_to(&bytes, &SocketAddr::new(0, 0), 0)
            .map_err(|e| local(&t!("iptools.netlink.send"), e))?;
        let mut out = Vec::new();
        let mut buf = vec![0u8; RECV_BUFFER_BYTES];
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if Instant::now() >= deadline {
                return Err(Failure::Local(
                    t!("iptools.netlink.no_answer", secs = REPLY_TIMEOUT.as_secs()).into_owned(),
                ));
            }
            let size = match socket.recv_from(&mut &mut buf[..], libc::MSG_TRUNC) {
                Ok((size, from)) if from.port_number() == 0 => size,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(POLL_SLEEP);
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(local(&t!("iptools.netlink.receive"), e)),
            };
            let Some(datagram) = buf.get(..size) else {
                return Err(Failure::Local(
                    t!(
                        "iptools.netlink.too_big",
                        size = size,
                        max = RECV_BUFFER_BYTES
                    )
                    .into_owned(),
                ));
            };
            if parse_datagram(datagram, sequence, dump, &mut out)? {
                return Ok(out);
            }
        }
    }

    /// Reads the messages of one datagram into `out`; true when the reply is complete.
    fn parse_datagram(
        mut bytes: &[u8],
        sequence: u32,
        dump: bool,
        out: &mut Vec<RouteMessage>,
    ) -> Result<bool, Failure> {
        const HEADER_BYTES: usize = 16;
        while bytes.len() >= HEADER_BYTES {
            let len = u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
            let Some(one) = bytes.get(..len).filter(|_| len >= HEADER_BYTES) else {
                return Err(Failure::Local(
                    t!("iptools.netlink.bad_length", len = len, have = bytes.len()).into_owned(),
                ));
            };
            let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(one).map_err(|e| {
                Failure::Local(t!("iptools.netlink.unparsed", error = e).into_owned())
            })?;
            bytes = bytes.get(len.next_multiple_of(4)..).unwrap_or_default();
            if message.header.sequence_number != sequence {
                continue;
            }
            match message.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewRoute(route)) => {
                    out.push(route);
                    if !dump {
                        return Ok(true);
                    }
                }
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        return Err(Failure::Errno(-code.get()));
                    }
                    return Ok(true);
                }
                NetlinkPayload::Done(_) => {
                    if message.header.flags & NLM_F_DUMP_INTR != 0 {
                        return Err(Failure::Local(t!("iptools.netlink.changed").into_owned()));
                    }
                    return Ok(true);
                }
                NetlinkPayload::Overrun(_) => {
                    return Err(Failure::Local(t!("iptools.netlink.overrun").into_owned()));
                }
                _ => {}
            }
        }
        Ok(false)
    }
}

/// The name of interface `index`, cached in `names`.
#[cfg(target_os = "linux")]
fn interface_name(index: u32, names: &mut HashMap<u32, String>) -> Option<String> {
    if let Some(n) = names.get(&index) {
        return Some(n.clone());
    }
    let name = nix::net::if_::if_indextoname(index)
        .ok()?
        .to_string_lossy()
        .into_owned();
    names.insert(index, name.clone());
    Some(name)
}

// ---------------------------------------------------------------------------------------------
// Sentences for users: everything this module says, in one place for the translation catalogue.
// ---------------------------------------------------------------------------------------------

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::BadHost { text, reason } => {
                t!("route.error.bad_host", text = text, reason = reason)
            }
            Self::NotResolved { host, detail } if detail.is_empty() => {
                t!("route.error.not_resolved_empty", host = host)
            }
            Self::NotResolved { host, detail } => {
                t!("route.error.not_resolved", host = host, detail = detail)
            }
            Self::NetworkUnreachable { destination } => t!(
                "route.error.network_unreachable",
                destination = destination,
                default = if destination.is_ipv4() {
                    "default"
                } else {
                    "::/0"
                }
            ),
            Self::HostUnreachable { destination } => {
                t!("route.error.host_unreachable", destination = destination)
            }
            Self::Prohibited { destination } => {
                t!("route.error.prohibited", destination = destination)
            }
            Self::Blackhole { destination } => {
                t!("route.error.blackhole", destination = destination)
            }
            Self::Netlink {
                destination,
                message,
            } => t!(
                "route.error.netlink",
                destination = destination,
                message = message
            ),
            Self::Unsupported(os) => t!("route.error.unsupported", os = os),
        };
        f.write_str(&text)
    }
}

/// Lines for learners about an answer (the route entry's words as `ip route` prints them), in
/// the language shown.
fn explain(a: &RouteAnswer) -> Vec<String> {
    let d = a.destination;
    let dev = &a.interface;
    let mut lines = Vec::new();
    let entry = a.entry.as_ref();
    let prefix_words = |e: &RouteEntry| {
        if e.is_default() {
            t!("route.explain.default_route", net = e.destination)
        } else {
            t!("route.explain.route", net = e.destination)
        }
    };
    let line = match a.reach {
        Reach::Local if a.table.is_empty() || a.chosen.is_none() => {
            t!("route.explain.local_table", d = d, dev = dev)
        }
        Reach::Local => t!("route.explain.local", d = d, dev = dev),
        Reach::Direct => match &a.and {
            Some(and) if and.prefix > 0 && d.is_ipv4() => t!(
                "route.explain.direct_v4",
                d = d,
                mask = and.mask,
                network = and.network,
                dev = dev
            ),
            Some(and) if and.prefix > 0 => t!(
                "route.explain.direct_v6",
                d = d,
                prefix = and.prefix,
                network = and.network,
                dev = dev
            ),
            _ => t!("route.explain.direct_device", d = d, dev = dev),
        },
        Reach::Gateway => {
            let gw = a.gateway.map(|g| g.to_string()).unwrap_or_default();
            let first = if let Some(e) = entry {
                t!(
                    "route.explain.gateway_why",
                    d = d,
                    gw = gw,
                    dev = dev,
                    entry = prefix_words(e)
                )
            } else {
                t!("route.explain.gateway", d = d, gw = gw, dev = dev)
            };
            lines.push(first.into_owned());
            t!("route.explain.router", gw = gw, d = d)
        }
        Reach::Broadcast => t!("route.explain.broadcast", d = d, dev = dev),
        Reach::Multicast => t!("route.explain.multicast", d = d, dev = dev),
    };
    lines.push(line.into_owned());
    if let Some(src) = a.source {
        lines.push(t!("route.explain.source", d = d, src = src, dev = dev).into_owned());
    }
    if a.table_rows_left_out > 0 {
        lines.push(
            t!(
                "route.explain.rows_left_out",
                n = a.table_rows_left_out,
                shown = MAX_TABLE_ROWS
            )
            .into_owned(),
        );
    }
    if let (Some(e), Reach::Direct | Reach::Gateway) = (entry, a.reach) {
        let longer = a
            .table
            .iter()
            .filter(|r| r.contains(d) && r.destination.prefix_len() < e.destination.prefix_len())
            .count();
        if longer > 0 {
            lines.push(
                t!(
                    "route.explain.shorter_prefixes",
                    n = longer,
                    d = d,
                    prefix = e.destination.prefix_len()
                )
                .into_owned(),
            );
        }
        if a.chosen.is_some() && e.table == TABLE_MAIN {
            lines.push(t!("route.explain.deciding_entry", entry = e.text()).into_owned());
        }
    }
    lines
}

/// The note shown beside the chosen row of the table.
pub fn chosen_mark() -> Cow<'static, str> {
    t!("route.chosen_mark")
}

/// The table's title.
pub fn table_title() -> Cow<'static, str> {
    t!("route.table_title")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(net: &str, gw: Option<&str>, dev: &str, metric: u32) -> RouteEntry {
        RouteEntry {
            destination: net.parse().unwrap(),
            kind: RouteKind::Unicast,
            gateway: gw.map(|g| g.parse().unwrap()),
            interface_index: Some(if dev == "eth0" { 2 } else { 3 }),
            interface: Some(dev.to_owned()),
            source: None,
            metric,
            table: TABLE_MAIN,
            protocol: if gw.is_some() { "dhcp" } else { "kernel" },
            scope: if gw.is_some() { "global" } else { "link" },
        }
    }

    fn table() -> Vec<RouteEntry> {
        vec![
            entry("0.0.0.0/0", Some("192.168.1.1"), "eth0", 100),
            entry("10.0.0.0/8", Some("192.168.1.254"), "eth0", 0),
            entry("192.168.1.0/24", None, "eth0", 100),
            entry("192.168.1.0/24", None, "wlan0", 600),
        ]
    }

    #[test]
    fn the_longest_prefix_wins_and_then_the_lowest_metric() {
        let t = table();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(chosen_row(&t, None, ip("192.168.1.20")), Some(2));
        assert_eq!(chosen_row(&t, None, ip("10.1.2.3")), Some(1));
        assert_eq!(chosen_row(&t, None, ip("8.8.8.8")), Some(0));
        // The kernel's own match is taken when it is in the table.
        assert_eq!(chosen_row(&t, Some(&t[3]), ip("192.168.1.20")), Some(3));
        // A local-table match has no row in the main table.
        let mut local = entry("192.168.1.5/32", None, "lo", 0);
        local.table = TABLE_LOCAL;
        local.kind = RouteKind::Local;
        assert_eq!(chosen_row(&t, Some(&local), ip("192.168.1.5")), None);
        assert_eq!(chosen_row(&[], None, ip("1.1.1.1")), None);
    }

    #[test]
    fn entries_print_like_ip_route() {
        let t = table();
        assert_eq!(
            t[0].text(),
            "default via 192.168.1.1 dev eth0 proto dhcp metric 100"
        );
        let mut direct = t[2].clone();
        direct.source = Some("192.168.1.12".parse().unwrap());
        assert_eq!(
            direct.text(),
            "192.168.1.0/24 dev eth0 proto kernel scope link src 192.168.1.12 metric 100"
        );
        assert_eq!(RouteKind::from_code(7).name(), "unreachable");
        assert_eq!(protocol_name(2), "kernel");
        assert_eq!(scope_name(253), "link");
    }

    fn answer(dest: &str, reach: Reach, gw: Option<&str>, chosen: usize) -> RouteAnswer {
        let t = table();
        let destination: IpAddr = dest.parse().unwrap();
        let e = t[chosen].clone();
        RouteAnswer {
            query: dest.to_owned(),
            destination,
            reach,
            interface_index: 2,
            interface: "eth0".to_owned(),
            source: Some("192.168.1.12".parse().unwrap()),
            gateway: gw.map(|g| g.parse().unwrap()),
            and: (reach == Reach::Direct)
                .then(|| AndView::new(destination, e.destination.prefix_len())),
            entry: Some(e),
            table: t,
            table_rows_left_out: 0,
            chosen: Some(chosen),
        }
    }

    #[test]
    fn direct_answers_show_the_and() {
        let a = answer("192.168.1.20", Reach::Direct, None, 2);
        let lines = a.explanation();
        assert_eq!(
            lines[0],
            "192.168.1.20 is on a directly attached subnet: 192.168.1.20 AND 255.255.255.0 = 192.168.1.0, the network of eth0 — packets go straight to it, its MAC address found by ARP."
        );
        assert!(
            lines[1].contains("source address 192.168.1.12"),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.contains("192.168.1.0/24 dev eth0")));
        let and = a.and.unwrap();
        assert_eq!(
            and.binary.text(&and.binary.network),
            "11000000.10101000.00000001.00000000"
        );
    }

    #[test]
    fn gateway_answers_name_the_default_route() {
        let a = answer("8.8.8.8", Reach::Gateway, Some("192.168.1.1"), 0);
        assert_eq!(
            a.explanation()[0],
            "8.8.8.8 is not on any attached subnet, so the kernel sends it to the gateway 192.168.1.1 via eth0 (default route 0.0.0.0/0: the longest prefix that matched)."
        );
        let b = answer("10.1.2.3", Reach::Gateway, Some("192.168.1.254"), 1);
        let lines = b.explanation();
        assert!(
            lines[0].contains("(route 10.0.0.0/8: the longest prefix"),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("1 shorter prefix(es) also match 10.1.2.3")),
            "{lines:?}"
        );
        assert!(b.and.is_none());
    }

    #[test]
    fn errors_say_what_to_do() {
        let d: IpAddr = "203.0.113.9".parse().unwrap();
        let e = RouteError::from_errno(libc::ENETUNREACH, d);
        assert_eq!(e, RouteError::NetworkUnreachable { destination: d });
        let text = e.to_string();
        assert!(
            text.contains("203.0.113.9") && text.contains("ip route add default"),
            "{text}"
        );
        assert!(matches!(
            RouteError::from_errno(libc::EHOSTUNREACH, d),
            RouteError::HostUnreachable { .. }
        ));
        assert!(lookup_host("a b").unwrap_err().is_usage());
        assert_eq!(reach_of(RouteKind::Unicast, None), Reach::Direct);
        assert_eq!(reach_of(RouteKind::Unicast, Some(d)), Reach::Gateway);
        assert_eq!(reach_of(RouteKind::Local, None), Reach::Local);
    }
}
