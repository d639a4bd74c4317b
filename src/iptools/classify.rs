//! What kind of address is this: the IPv4 class by its leading bits, the special-purpose block it
//! falls in (IANA special-purpose registries), and the IPv6 address type.

use std::borrow::Cow;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use rust_i18n::t;

/// A sentence of the catalogue, named by its key: shown (`Display`) in the language of the
/// moment, or in English where a script reads it (JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phrase(pub &'static str);

impl Phrase {
    /// The catalogue key.
    pub fn key(self) -> &'static str {
        self.0
    }

    /// The text in the language shown.
    pub fn text(self) -> Cow<'static, str> {
        t!(self.0)
    }

    /// The English text, whatever language is shown (for JSON output).
    pub fn english(self) -> Cow<'static, str> {
        crate::i18n::lookup(crate::i18n::Language::English, self.0).unwrap_or(Cow::Borrowed(self.0))
    }
}

impl fmt::Display for Phrase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

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
    pub fn hosts_per_network(self) -> String {
        match self {
            Self::A => t!("iptools.class.hosts.a"),
            Self::B => t!("iptools.class.hosts.b"),
            Self::C => t!("iptools.class.hosts.c"),
            Self::D => t!("iptools.class.hosts.d"),
            Self::E => t!("iptools.class.hosts.e"),
        }
        .into_owned()
    }

    /// One sentence: "Class C: leading bits 110, 192.0.0.0 – …, 254 hosts per network (/24)".
    pub fn describe(self) -> String {
        t!(
            "iptools.class.describe",
            letter = self.letter(),
            bits = self.leading_bits(),
            range = self.range(),
            hosts = self.hosts_per_network()
        )
        .into_owned()
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
    /// What the block is called (a catalogue key; `Display` shows it).
    pub label: Phrase,
    pub block: &'static str,
    pub reference: &'static str,
    /// What an address of the block means (a catalogue key).
    pub meaning: Phrase,
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
        label: Phrase(label),
        block,
        reference,
        meaning: Phrase(meaning),
    }
}

/// The IPv4 special-purpose blocks, most specific first.
const V4_BLOCKS: [V4Special; 16] = [
    special(
        V4Kind::LimitedBroadcast,
        "iptools.v4.limited_broadcast.label",
        "255.255.255.255/32",
        "RFC 919",
        "iptools.v4.limited_broadcast.meaning",
    ),
    special(
        V4Kind::ThisNetwork,
        "iptools.v4.this_network.label",
        "0.0.0.0/8",
        "RFC 791",
        "iptools.v4.this_network.meaning",
    ),
    special(
        V4Kind::Private,
        "iptools.v4.private.label",
        "10.0.0.0/8",
        "RFC 1918",
        "iptools.v4.private.meaning",
    ),
    special(
        V4Kind::SharedAddressSpace,
        "iptools.v4.shared.label",
        "100.64.0.0/10",
        "RFC 6598",
        "iptools.v4.shared.meaning",
    ),
    special(
        V4Kind::Loopback,
        "iptools.v4.loopback.label",
        "127.0.0.0/8",
        "RFC 1122",
        "iptools.v4.loopback.meaning",
    ),
    special(
        V4Kind::LinkLocal,
        "iptools.v4.link_local.label",
        "169.254.0.0/16",
        "RFC 3927",
        "iptools.v4.link_local.meaning",
    ),
    special(
        V4Kind::Private,
        "iptools.v4.private.label",
        "172.16.0.0/12",
        "RFC 1918",
        "iptools.v4.private.meaning",
    ),
    special(
        V4Kind::Documentation,
        "iptools.v4.documentation_1.label",
        "192.0.2.0/24",
        "RFC 5737",
        "iptools.v4.documentation.meaning",
    ),
    special(
        V4Kind::IetfProtocol,
        "iptools.v4.ietf.label",
        "192.0.0.0/24",
        "RFC 6890",
        "iptools.v4.ietf.meaning",
    ),
    special(
        V4Kind::Private,
        "iptools.v4.private.label",
        "192.168.0.0/16",
        "RFC 1918",
        "iptools.v4.private.meaning",
    ),
    special(
        V4Kind::Benchmarking,
        "iptools.v4.benchmarking.label",
        "198.18.0.0/15",
        "RFC 2544",
        "iptools.v4.benchmarking.meaning",
    ),
    special(
        V4Kind::Documentation,
        "iptools.v4.documentation_2.label",
        "198.51.100.0/24",
        "RFC 5737",
        "iptools.v4.documentation.meaning",
    ),
    special(
        V4Kind::Documentation,
        "iptools.v4.documentation_3.label",
        "203.0.113.0/24",
        "RFC 5737",
        "iptools.v4.documentation.meaning",
    ),
    special(
        V4Kind::Multicast,
        "iptools.v4.multicast.label",
        "224.0.0.0/4",
        "RFC 5771",
        "iptools.v4.multicast.meaning",
    ),
    special(
        V4Kind::Reserved,
        "iptools.v4.reserved.label",
        "240.0.0.0/4",
        "RFC 1112",
        "iptools.v4.reserved.meaning",
    ),
    special(
        V4Kind::Public,
        "iptools.v4.public.label",
        "0.0.0.0/0",
        "",
        "iptools.v4.public.meaning",
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

    /// What the type is called, in the language shown.
    pub fn label(self) -> String {
        self.label_phrase().to_string()
    }

    /// What the type is called (a catalogue key).
    pub fn label_phrase(self) -> Phrase {
        Phrase(match self {
            Self::Unspecified => "iptools.v6.unspecified.label",
            Self::Loopback => "iptools.v6.loopback.label",
            Self::Ipv4Mapped => "iptools.v6.ipv4_mapped.label",
            Self::Documentation => "iptools.v6.documentation.label",
            Self::UniqueLocal => "iptools.v6.unique_local.label",
            Self::LinkLocal => "iptools.v6.link_local.label",
            Self::Multicast => "iptools.v6.multicast.label",
            Self::Global => "iptools.v6.global.label",
            Self::Reserved => "iptools.v6.reserved.label",
        })
    }

    /// What an address of this type means, in the language shown.
    pub fn meaning(self) -> String {
        t!(match self {
            Self::Unspecified => "iptools.v6.unspecified.meaning",
            Self::Loopback => "iptools.v6.loopback.meaning",
            Self::Ipv4Mapped => "iptools.v6.ipv4_mapped.meaning",
            Self::Documentation => "iptools.v6.documentation.meaning",
            Self::UniqueLocal => "iptools.v6.unique_local.meaning",
            Self::LinkLocal => "iptools.v6.link_local.meaning",
            Self::Multicast => "iptools.v6.multicast.meaning",
            Self::Global => "iptools.v6.global.meaning",
            Self::Reserved => "iptools.v6.reserved.meaning",
        })
        .into_owned()
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
