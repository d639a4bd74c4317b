//! What kind of address is this: the IPv4 class by its leading bits, the special-purpose block it
//! falls in (IANA special-purpose registries), and the IPv6 address type.

use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

/// The historic IPv4 class, decided by the leading bits of the first octet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ipv4Class {
    A,
    B,
    C,
    D,
    E,
}

impl Ipv4Class {
    /// The class of `ip` from its leading bits.
    pub fn of(ip: Ipv4Addr) -> Self {
        match ip.octets()[0] {
            0..=127 => Self::A,
            128..=191 => Self::B,
            192..=223 => Self::C,
            224..=239 => Self::D,
            240..=255 => Self::E,
        }
    }

    pub fn letter(self) -> char {
        match self {
            Self::A => 'A',
            Self::B => 'B',
            Self::C => 'C',
            Self::D => 'D',
            Self::E => 'E',
        }
    }

    /// The leading bits that decide the class, as written in textbooks.
    pub fn leading_bits(self) -> &'static str {
        match self {
            Self::A => "0",
            Self::B => "10",
            Self::C => "110",
            Self::D => "1110",
            Self::E => "1111",
        }
    }

    /// The class's address range.
    pub fn range(self) -> &'static str {
        match self {
            Self::A => "0.0.0.0 – 127.255.255.255",
            Self::B => "128.0.0.0 – 191.255.255.255",
            Self::C => "192.0.0.0 – 223.255.255.255",
            Self::D => "224.0.0.0 – 239.255.255.255",
            Self::E => "240.0.0.0 – 255.255.255.255",
        }
    }

    /// The classful default prefix (A /8, B /16, C /24); D and E have none.
    pub fn default_prefix(self) -> Option<u8> {
        match self {
            Self::A => Some(8),
            Self::B => Some(16),
            Self::C => Some(24),
            Self::D | Self::E => None,
        }
    }

    /// Hosts per classful network, or what the class is for.
    pub fn hosts_per_network(self) -> &'static str {
        match self {
            Self::A => "16,777,214 hosts per network (/8)",
            Self::B => "65,534 hosts per network (/16)",
            Self::C => "254 hosts per network (/24)",
            Self::D => "multicast groups, no hosts",
            Self::E => "reserved for future use, no hosts",
        }
    }

    /// One sentence: "Class C: leading bits 110, 192.0.0.0 – …, 254 hosts per network (/24)".
    pub fn describe(self) -> String {
        format!(
            "Class {}: leading bits {}, range {}, {}.",
            self.letter(),
            self.leading_bits(),
            self.range(),
            self.hosts_per_network()
        )
    }
}

/// The special-purpose kind of an IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V4Kind {
    Private,
    Loopback,
    LinkLocal,
    SharedAddressSpace,
    Multicast,
    Documentation,
    Benchmarking,
    Reserved,
    LimitedBroadcast,
    ThisNetwork,
    IetfProtocol,
    Public,
}

/// The block an IPv4 address falls in, with its label, reference and meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V4Special {
    pub kind: V4Kind,
    pub label: &'static str,
    pub block: &'static str,
    pub reference: &'static str,
    pub meaning: &'static str,
}

const fn special(
    kind: V4Kind,
    label: &'static str,
    block: &'static str,
    reference: &'static str,
    meaning: &'static str,
) -> V4Special {
    V4Special {
        kind,
        label,
        block,
        reference,
        meaning,
    }
}

/// The IPv4 special-purpose blocks, most specific first.
const V4_BLOCKS: [V4Special; 16] = [
    special(
        V4Kind::LimitedBroadcast,
        "Limited broadcast",
        "255.255.255.255/32",
        "RFC 919",
        "Every host on this link; routers never forward it.",
    ),
    special(
        V4Kind::ThisNetwork,
        "This network (unspecified)",
        "0.0.0.0/8",
        "RFC 791",
        "Means \"this host\" or \"any address\"; never a destination.",
    ),
    special(
        V4Kind::Private,
        "Private",
        "10.0.0.0/8",
        "RFC 1918",
        "For private networks; not routed on the Internet, reaches it through NAT.",
    ),
    special(
        V4Kind::SharedAddressSpace,
        "Shared address space (carrier-grade NAT)",
        "100.64.0.0/10",
        "RFC 6598",
        "Used between an ISP's NAT and its customers; not routed on the Internet.",
    ),
    special(
        V4Kind::Loopback,
        "Loopback",
        "127.0.0.0/8",
        "RFC 1122",
        "This machine talking to itself; never leaves the host.",
    ),
    special(
        V4Kind::LinkLocal,
        "Link-local",
        "169.254.0.0/16",
        "RFC 3927",
        "Self-assigned when no DHCP answers; valid on this link only.",
    ),
    special(
        V4Kind::Private,
        "Private",
        "172.16.0.0/12",
        "RFC 1918",
        "For private networks; not routed on the Internet, reaches it through NAT.",
    ),
    special(
        V4Kind::Documentation,
        "Documentation (TEST-NET-1)",
        "192.0.2.0/24",
        "RFC 5737",
        "For examples in documentation; never used on real networks.",
    ),
    special(
        V4Kind::IetfProtocol,
        "IETF protocol assignments",
        "192.0.0.0/24",
        "RFC 6890",
        "Reserved for IETF protocols; not for hosts.",
    ),
    special(
        V4Kind::Private,
        "Private",
        "192.168.0.0/16",
        "RFC 1918",
        "For private networks; not routed on the Internet, reaches it through NAT.",
    ),
    special(
        V4Kind::Benchmarking,
        "Benchmarking",
        "198.18.0.0/15",
        "RFC 2544",
        "For testing network equipment between separate networks.",
    ),
    special(
        V4Kind::Documentation,
        "Documentation (TEST-NET-2)",
        "198.51.100.0/24",
        "RFC 5737",
        "For examples in documentation; never used on real networks.",
    ),
    special(
        V4Kind::Documentation,
        "Documentation (TEST-NET-3)",
        "203.0.113.0/24",
        "RFC 5737",
        "For examples in documentation; never used on real networks.",
    ),
    special(
        V4Kind::Multicast,
        "Multicast",
        "224.0.0.0/4",
        "RFC 5771",
        "One sender, many receivers that joined the group.",
    ),
    special(
        V4Kind::Reserved,
        "Reserved (former class E)",
        "240.0.0.0/4",
        "RFC 1112",
        "Reserved for future use; hosts and routers drop it.",
    ),
    special(
        V4Kind::Public,
        "Public",
        "0.0.0.0/0",
        "",
        "A globally routed Internet address.",
    ),
];

/// The special-purpose block `ip` belongs to ("Public" when none).
pub fn v4_special(ip: Ipv4Addr) -> V4Special {
    for block in &V4_BLOCKS {
        if block.kind == V4Kind::Public {
            continue;
        }
        if let Ok(net) = block.block.parse::<Ipv4Net>()
            && net.contains(&ip)
        {
            return *block;
        }
    }
    V4_BLOCKS[V4_BLOCKS.len() - 1]
}

/// The type of an IPv6 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V6Kind {
    Unspecified,
    Loopback,
    Ipv4Mapped,
    Documentation,
    UniqueLocal,
    LinkLocal,
    Multicast,
    Global,
    Reserved,
}

impl V6Kind {
    pub fn of(ip: Ipv6Addr) -> Self {
        let in_block = |block: &str| block.parse::<Ipv6Net>().is_ok_and(|n| n.contains(&ip));
        if ip.is_unspecified() {
            Self::Unspecified
        } else if ip.is_loopback() {
            Self::Loopback
        } else if in_block("::ffff:0:0/96") {
            Self::Ipv4Mapped
        } else if in_block("2001:db8::/32") {
            Self::Documentation
        } else if in_block("fc00::/7") {
            Self::UniqueLocal
        } else if in_block("fe80::/10") {
            Self::LinkLocal
        } else if in_block("ff00::/8") {
            Self::Multicast
        } else if in_block("2000::/3") {
            Self::Global
        } else {
            Self::Reserved
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Unspecified => "Unspecified (::)",
            Self::Loopback => "Loopback (::1)",
            Self::Ipv4Mapped => "IPv4-mapped (::ffff:0:0/96)",
            Self::Documentation => "Documentation (2001:db8::/32)",
            Self::UniqueLocal => "Unique local (fc00::/7)",
            Self::LinkLocal => "Link-local (fe80::/10)",
            Self::Multicast => "Multicast (ff00::/8)",
            Self::Global => "Global unicast (2000::/3)",
            Self::Reserved => "Reserved by IETF",
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Self::Unspecified => "No address yet, or \"any address\" when binding.",
            Self::Loopback => "This machine talking to itself.",
            Self::Ipv4Mapped => "An IPv4 address seen through an IPv6 socket.",
            Self::Documentation => "For examples in documentation; never used on real networks.",
            Self::UniqueLocal => "Private addressing inside a site, like IPv4's 10/8.",
            Self::LinkLocal => "Valid on one link only; every IPv6 interface has one.",
            Self::Multicast => "One sender, many receivers that joined the group.",
            Self::Global => "A globally routed Internet address.",
            Self::Reserved => "Not assigned for general use.",
        }
    }
}

/// The 8 groups of 4 hex digits: `2001:0db8:0000:0000:0000:0000:0000:0001`.
pub fn v6_expanded(ip: Ipv6Addr) -> String {
    ip.segments()
        .iter()
        .map(|s| format!("{s:04x}"))
        .collect::<Vec<_>>()
        .join(":")
}
