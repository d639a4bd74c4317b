//! Subnet arithmetic that shows its reasoning: parse what people type (`192.168.1.12/24`,
//! address + netmask, address + wildcard, IPv6 with a prefix), compute every field, lay the
//! bits out for the binary view, compare two addresses, split and aggregate networks.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use rust_i18n::t;

use super::classify::{Ipv4Class, V4Special, V6Kind, v4_special, v6_expanded};

/// Why typed input is not a subnet; each message says what is wrong and what would work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetError {
    Empty,
    BadAddress(String),
    BadPrefix {
        text: String,
        max: u8,
    },
    BadMask(String),
    V6Mask,
    MissingPrefix {
        text: String,
        address: String,
        max: u8,
        example: u8,
    },
    TooManyParts,
    MixedFamilies(String),
    BadSplit {
        from: u8,
        to: u8,
        max: u8,
    },
    BadCount {
        max: u64,
    },
    NoNetworks,
}

impl fmt::Display for SubnetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Empty => t!("iptools.subnet.error.empty"),
            Self::BadAddress(text) => t!("iptools.subnet.error.bad_address", text = text),
            Self::BadPrefix { text, max } => {
                t!("iptools.subnet.error.bad_prefix", text = text, max = max)
            }
            Self::BadMask(text) => t!("iptools.subnet.error.bad_mask", text = text),
            Self::V6Mask => t!("iptools.subnet.error.v6_mask"),
            Self::MissingPrefix {
                text,
                address,
                max,
                example,
            } => t!(
                "iptools.subnet.error.missing_prefix",
                text = text,
                address = address,
                max = max,
                example = example
            ),
            Self::TooManyParts => t!("iptools.subnet.error.too_many_parts"),
            Self::MixedFamilies(net) => t!("iptools.subnet.error.mixed_families", net = net),
            Self::BadSplit { from, to, max } => t!(
                "iptools.subnet.error.bad_split",
                from = from,
                to = to,
                max = max
            ),
            Self::BadCount { max } => t!("iptools.subnet.error.bad_count", max = max),
            Self::NoNetworks => t!("iptools.subnet.error.no_networks"),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for SubnetError {}

/// What the mask the user typed was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskForm {
    Prefix,
    Netmask,
    Wildcard,
    /// No mask typed: a single host (/32 or /128).
    None,
}

/// An address with the prefix length of its network, as the user gave it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressWithPrefix {
    pub ip: IpAddr,
    pub prefix: u8,
    pub form: MaskForm,
}

impl AddressWithPrefix {
    pub fn max_prefix(&self) -> u8 {
        if self.ip.is_ipv4() { 32 } else { 128 }
    }

    /// The network this address lies in.
    pub fn net(&self) -> IpNet {
        IpNet::new(self.ip, self.prefix)
            .unwrap_or_else(|_| IpNet::new(self.ip, self.max_prefix()).unwrap_or_default())
    }
}

/// Parses an IP address, accepting `[v6]` brackets.
pub fn parse_ip(text: &str) -> Result<IpAddr, SubnetError> {
    let t = crate::net::normalize_host(text);
    if t.is_empty() {
        return Err(SubnetError::Empty);
    }
    t.parse::<IpAddr>()
        .map_err(|_| SubnetError::BadAddress(t.to_owned()))
}

/// The prefix length of a netmask (ones then zeros), or of a wildcard mask (zeros then ones).
pub fn v4_mask_prefix(mask: Ipv4Addr) -> Option<(u8, MaskForm)> {
    let m = u32::from(mask);
    if m.leading_ones() + m.trailing_zeros() == 32 {
        return Some((m.leading_ones() as u8, MaskForm::Netmask));
    }
    let w = !m;
    if w.leading_ones() + w.trailing_zeros() == 32 {
        return Some((w.leading_ones() as u8, MaskForm::Wildcard));
    }
    None
}

/// Parses a prefix length (`24`, `/24`), a netmask or a wildcard mask for an address family.
pub fn parse_mask(text: &str, v4: bool) -> Result<(u8, MaskForm), SubnetError> {
    let t = text.trim().trim_start_matches('/').trim();
    let max = if v4 { 32 } else { 128 };
    if t.is_empty() {
        return Err(SubnetError::BadPrefix {
            text: String::new(),
            max,
        });
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        return match t.parse::<u8>() {
            Ok(p) if p <= max => Ok((p, MaskForm::Prefix)),
            _ => Err(SubnetError::BadPrefix {
                text: t.to_owned(),
                max,
            }),
        };
    }
    if !v4 {
        return Err(SubnetError::V6Mask);
    }
    match t.parse::<Ipv4Addr>() {
        Ok(mask) => v4_mask_prefix(mask).ok_or_else(|| SubnetError::BadMask(t.to_owned())),
        Err(_) => Err(SubnetError::BadPrefix {
            text: t.to_owned(),
            max,
        }),
    }
}

/// The words of an address or mask: split at whitespace and commas, empty pieces dropped.
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|p| !p.is_empty())
        .collect()
}

/// Parses `192.168.1.12/24`, `192.168.1.12 255.255.255.0`, `192.168.1.12/255.255.255.0`,
/// `192.168.1.12 0.0.0.255` (wildcard), `2001:db8::1/64`, or a bare address (a single host).
///
/// Anything else is an error value, never a panic: `/`, `,` or `1.2.3.4/` (a slash with
/// nothing after it is a prefix left out, not a single host) are all said to be wrong.
pub fn parse_address_with_prefix(text: &str) -> Result<AddressWithPrefix, SubnetError> {
    let t = text.trim();
    let (address, mask) = match t.split_once('/') {
        Some((address, mask)) => match words(address).as_slice() {
            [] => return Err(SubnetError::Empty),
            [one] => (*one, Some(mask)),
            _ => return Err(SubnetError::TooManyParts),
        },
        None => match words(t).as_slice() {
            [] => return Err(SubnetError::Empty),
            [one] => (*one, None),
            [one, mask] => (*one, Some(*mask)),
            _ => return Err(SubnetError::TooManyParts),
        },
    };
    let ip = parse_ip(address)?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let Some(mask) = mask else {
        return Ok(AddressWithPrefix {
            ip,
            prefix: max,
            form: MaskForm::None,
        });
    };
    match words(mask).as_slice() {
        [] => Err(missing_prefix(t, ip)),
        [one] if one.trim_start_matches('/').is_empty() => Err(missing_prefix(t, ip)),
        [one] if one.trim_start_matches('/').contains('/') => Err(SubnetError::TooManyParts),
        [one] => {
            let (prefix, form) = parse_mask(one, ip.is_ipv4())?;
            Ok(AddressWithPrefix { ip, prefix, form })
        }
        _ => Err(SubnetError::TooManyParts),
    }
}

fn missing_prefix(text: &str, ip: IpAddr) -> SubnetError {
    let (max, example) = if ip.is_ipv4() { (32, 24) } else { (128, 64) };
    SubnetError::MissingPrefix {
        text: text.to_owned(),
        address: ip.to_string(),
        max,
        example,
    }
}

/// Parses a network like `192.168.0.0/24` (host bits are cleared).
pub fn parse_net(text: &str) -> Result<IpNet, SubnetError> {
    Ok(parse_address_with_prefix(text)?.net().trunc())
}

/// Every field of an IPv4 subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V4Info {
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub network: Ipv4Addr,
    /// `None` for /31 and /32, which have no broadcast address (RFC 3021).
    pub broadcast: Option<Ipv4Addr>,
    pub netmask: Ipv4Addr,
    pub wildcard: Ipv4Addr,
    pub first_host: Ipv4Addr,
    pub last_host: Ipv4Addr,
    pub host_count: u64,
    pub address_count: u64,
    pub as_integer: u32,
    pub as_hex: String,
    pub class: Ipv4Class,
    pub special: V4Special,
    /// Why the host count is what it is.
    pub host_note: String,
}

impl V4Info {
    pub fn new(address: Ipv4Addr, prefix: u8) -> Self {
        let prefix = prefix.min(32);
        let net = Ipv4Net::new(address, prefix).unwrap_or_default();
        let network = net.network();
        let last = net.broadcast();
        let address_count = 1u64 << (32 - u32::from(prefix));
        let (broadcast, first_host, last_host, host_count, host_note) = match prefix {
            32 => (
                None,
                network,
                network,
                1,
                t!("iptools.subnet.host_note.single").into_owned(),
            ),
            31 => (
                None,
                network,
                last,
                2,
                t!("iptools.subnet.host_note.point_to_point").into_owned(),
            ),
            _ => (
                Some(last),
                Ipv4Addr::from(u32::from(network) + 1),
                Ipv4Addr::from(u32::from(last) - 1),
                address_count - 2,
                t!(
                    "iptools.subnet.host_note.count",
                    bits = 32 - prefix,
                    count = address_count
                )
                .into_owned(),
            ),
        };
        let as_integer = u32::from(address);
        Self {
            address,
            prefix,
            network,
            broadcast,
            netmask: net.netmask(),
            wildcard: net.hostmask(),
            first_host,
            last_host,
            host_count,
            address_count,
            as_integer,
            as_hex: format!("0x{as_integer:08X}"),
            class: Ipv4Class::of(address),
            special: v4_special(address),
            host_note,
        }
    }
}

/// Every field of an IPv6 subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V6Info {
    pub address: Ipv6Addr,
    pub prefix: u8,
    pub network: Ipv6Addr,
    pub last: Ipv6Addr,
    pub netmask: Ipv6Addr,
    /// Addresses in the network; `None` for /0, whose 2^128 does not fit in a u128.
    pub address_count: Option<u128>,
    pub expanded: String,
    pub compressed: String,
    pub kind: V6Kind,
}

impl V6Info {
    pub fn new(address: Ipv6Addr, prefix: u8) -> Self {
        let prefix = prefix.min(128);
        let net = Ipv6Net::new(address, prefix).unwrap_or_default();
        Self {
            address,
            prefix,
            network: net.network(),
            last: net.broadcast(),
            netmask: net.netmask(),
            address_count: 1u128.checked_shl(128 - u32::from(prefix)),
            expanded: v6_expanded(address),
            compressed: address.to_string(),
            kind: V6Kind::of(address),
        }
    }

    /// "2^64 = 18446744073709551616".
    pub fn count_text(&self) -> String {
        let bits = 128 - u32::from(self.prefix);
        match self.address_count {
            Some(n) => format!("2^{bits} = {n}"),
            None => "2^128 = 340282366920938463463374607431768211456".to_owned(),
        }
    }
}

/// The calculator's result for one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetInfo {
    V4(V4Info),
    V6(V6Info),
}

impl SubnetInfo {
    pub fn new(input: AddressWithPrefix) -> Self {
        match input.ip {
            IpAddr::V4(a) => Self::V4(V4Info::new(a, input.prefix)),
            IpAddr::V6(a) => Self::V6(V6Info::new(a, input.prefix)),
        }
    }

    /// Parses and calculates in one step.
    pub fn parse(text: &str) -> Result<Self, SubnetError> {
        parse_address_with_prefix(text).map(Self::new)
    }

    pub fn prefix(&self) -> u8 {
        match self {
            Self::V4(i) => i.prefix,
            Self::V6(i) => i.prefix,
        }
    }

    pub fn address(&self) -> IpAddr {
        match self {
            Self::V4(i) => IpAddr::V4(i.address),
            Self::V6(i) => IpAddr::V6(i.address),
        }
    }

    pub fn binary(&self) -> BinaryView {
        BinaryView::new(self.address(), self.prefix())
    }
}

/// The bits of an address, mask and network, for `address AND mask = network`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryView {
    pub prefix: u8,
    pub address: Vec<bool>,
    pub mask: Vec<bool>,
    pub network: Vec<bool>,
    /// 8 bits per group (dotted) for IPv4, 16 (colon) for IPv6.
    pub group_bits: usize,
    pub network_ip: IpAddr,
}

fn bits_of(ip: IpAddr) -> Vec<bool> {
    let bytes: Vec<u8> = match ip {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1))
        .collect()
}

impl BinaryView {
    pub fn new(ip: IpAddr, prefix: u8) -> Self {
        let address = bits_of(ip);
        let mask: Vec<bool> = (0..address.len()).map(|i| i < prefix as usize).collect();
        let network = address.iter().zip(&mask).map(|(a, m)| *a && *m).collect();
        let network_ip = IpNet::new(ip, prefix).map_or(ip, |n| n.network());
        Self {
            prefix,
            address,
            mask,
            network,
            group_bits: if ip.is_ipv4() { 8 } else { 16 },
            network_ip,
        }
    }

    /// Bits as text, grouped: `11000000.10101000.00000001.00001100` for IPv4.
    pub fn text(&self, bits: &[bool]) -> String {
        let sep = if self.group_bits == 8 { '.' } else { ':' };
        let mut s = String::with_capacity(bits.len() + bits.len() / self.group_bits);
        for (i, b) in bits.iter().enumerate() {
            if i > 0 && i % self.group_bits == 0 {
                s.push(sep);
            }
            s.push(if *b { '1' } else { '0' });
        }
        s
    }
}

/// The answer to "are these two addresses in the same subnet?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SameSubnet {
    pub a: IpAddr,
    pub b: IpAddr,
    pub prefix: u8,
    pub a_network: IpAddr,
    pub b_network: IpAddr,
    pub same: bool,
}

impl SameSubnet {
    /// The mask as people write it: dotted netmask for IPv4, `/prefix` for IPv6.
    pub fn mask_text(&self) -> String {
        match self.a {
            IpAddr::V4(_) => Ipv4Net::new(Ipv4Addr::UNSPECIFIED, self.prefix)
                .map_or_else(|_| format!("/{}", self.prefix), |n| n.netmask().to_string()),
            IpAddr::V6(_) => format!("/{}", self.prefix),
        }
    }

    /// What the answer means for two hosts that want to talk.
    pub fn meaning(&self) -> String {
        if self.same {
            t!("iptools.subnet.same", a = self.a, b = self.b).into_owned()
        } else {
            t!("iptools.subnet.different", a = self.a, b = self.b).into_owned()
        }
    }
}

/// Compares two addresses under one mask (prefix, netmask or wildcard).
pub fn same_subnet(a: &str, b: &str, mask: &str) -> Result<SameSubnet, SubnetError> {
    let a = parse_ip(a)?;
    let b = parse_ip(b)?;
    if a.is_ipv4() != b.is_ipv4() {
        return Err(SubnetError::MixedFamilies(b.to_string()));
    }
    let (prefix, _) = parse_mask(mask, a.is_ipv4())?;
    let net = |ip| IpNet::new(ip, prefix).map_or(ip, |n| n.network());
    let (a_network, b_network) = (net(a), net(b));
    Ok(SameSubnet {
        a,
        b,
        prefix,
        a_network,
        b_network,
        same: a_network == b_network,
    })
}

/// Rows of a split; long splits are cut at `SPLIT_ROW_LIMIT` and say how many there are.
pub const SPLIT_ROW_LIMIT: usize = 4096;

/// The result of splitting a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub parent: IpNet,
    pub new_prefix: u8,
    /// 2^(new − old); `None` when it does not fit in a u128.
    pub total: Option<u128>,
    pub subnets: Vec<IpNet>,
}

impl Split {
    pub fn truncated(&self) -> bool {
        self.total.is_none_or(|t| t > self.subnets.len() as u128)
    }
}

/// Splits `net` into subnets of prefix `new_prefix`.
pub fn split_by_prefix(net: IpNet, new_prefix: u8) -> Result<Split, SubnetError> {
    let net = net.trunc();
    let max = net.max_prefix_len();
    if new_prefix < net.prefix_len() || new_prefix > max {
        return Err(SubnetError::BadSplit {
            from: net.prefix_len(),
            to: new_prefix,
            max,
        });
    }
    let subnets = net
        .subnets(new_prefix)
        .map_err(|_| SubnetError::BadSplit {
            from: net.prefix_len(),
            to: new_prefix,
            max,
        })?
        .take(SPLIT_ROW_LIMIT)
        .collect();
    Ok(Split {
        parent: net,
        new_prefix,
        total: 1u128.checked_shl(u32::from(new_prefix - net.prefix_len())),
        subnets,
    })
}

/// Splits `net` into at least `count` equal subnets (the next power of two).
pub fn split_by_count(net: IpNet, count: u64) -> Result<Split, SubnetError> {
    let net = net.trunc();
    let free_bits = net.max_prefix_len() - net.prefix_len();
    // A u64 counts up to 2^64 − 1, so 64 or more free bits allow any count; 63 allow 2^63.
    let max = if free_bits >= 64 {
        u64::MAX
    } else {
        1u64 << free_bits
    };
    if count == 0 || count > max {
        return Err(SubnetError::BadCount { max });
    }
    let extra_bits = count
        .checked_next_power_of_two()
        .map_or(64, u64::trailing_zeros) as u8;
    split_by_prefix(net, net.prefix_len() + extra_bits)
}

/// Parses a list of networks separated by commas, spaces or new lines.
///
/// A piece that starts with `/` belongs to the network before it, so `192.168.0.0 /24` is one
/// network (and `192.168.0.0 /` says its prefix is missing).
pub fn parse_net_list(text: &str) -> Result<Vec<IpNet>, SubnetError> {
    let mut pieces: Vec<String> = Vec::new();
    for piece in text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        match pieces.last_mut() {
            Some(last) if piece.starts_with('/') && !last.contains('/') => last.push_str(piece),
            _ => pieces.push(piece.to_owned()),
        }
    }
    let nets: Vec<IpNet> = pieces
        .iter()
        .map(|p| parse_net(p))
        .collect::<Result<_, _>>()?;
    if nets.is_empty() {
        return Err(SubnetError::NoNetworks);
    }
    Ok(nets)
}

/// The smallest network that contains all of `nets`.
pub fn supernet(nets: &[IpNet]) -> Result<IpNet, SubnetError> {
    let first = *nets.first().ok_or(SubnetError::NoNetworks)?;
    let mut best = first.trunc();
    for n in &nets[1..] {
        if n.addr().is_ipv4() != first.addr().is_ipv4() {
            return Err(SubnetError::MixedFamilies(n.to_string()));
        }
        while !best.contains(n) {
            match best.supernet() {
                Some(s) => best = s,
                None => break,
            }
        }
    }
    Ok(best)
}

/// Rows of a split or supernet as tab-separated text for the clipboard.
pub fn nets_as_table(nets: &[IpNet]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("network\tfirst\tlast\taddresses\n"); // i18n-exempt: a TSV header spreadsheets read
    for n in nets {
        let count = 1u128
            .checked_shl(u32::from(n.max_prefix_len() - n.prefix_len()))
            .map_or_else(|| "2^128".to_owned(), |c| c.to_string());
        let _ = writeln!(out, "{n}\t{}\t{}\t{count}", n.network(), n.broadcast());
    }
    out
}
