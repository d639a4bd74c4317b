//! What a typed host may be before it goes to the resolver: an IPv4 or IPv6 literal (IPv6 with
//! or without brackets, optionally with a `%zone`), or a host name by the DNS rules, with
//! international names converted to their ASCII (punycode) form. The CLI and the window's host
//! fields use the same function, so both say the same reason.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rust_i18n::t;

/// The longest host name DNS carries (RFC 1035: 255 bytes on the wire, 253 as text).
pub const MAX_NAME_LEN: usize = 253;
/// The longest label (the part between dots) DNS carries.
pub const MAX_LABEL_LEN: usize = 63;

/// Why typed text is not a host. Each message says what is wrong and what would work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    Empty,
    BadChar { ch: char, position: usize },
    TooLong { len: usize },
    LabelTooLong { label: String, len: usize },
    EmptyLabel(String),
    HyphenAtEdge(String),
    BadIpv4(String),
    BadIpv6(String),
    UnclosedBracket(String),
    NotIpv6InBrackets(String),
    BadIdn(String),
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Empty => t!("net.host.empty"),
            Self::BadChar { ch, position } => {
                t!("net.host.bad_char", ch = ch : {:?}, position = position)
            }
            Self::TooLong { len } => t!("net.host.too_long", len = len, max = MAX_NAME_LEN),
            Self::LabelTooLong { label, len } => t!(
                "net.host.label_too_long",
                label = label,
                len = len,
                max = MAX_LABEL_LEN
            ),
            Self::EmptyLabel(text) => t!("net.host.empty_label", text = text),
            Self::HyphenAtEdge(text) => t!("net.host.hyphen_at_edge", text = text),
            Self::BadIpv4(text) => t!("net.host.bad_ipv4", text = text),
            Self::BadIpv6(text) => t!("net.host.bad_ipv6", text = text),
            Self::UnclosedBracket(text) => t!("net.host.unclosed_bracket", text = text),
            Self::NotIpv6InBrackets(text) => t!("net.host.not_ipv6_in_brackets", text = text),
            Self::BadIdn(text) => t!("net.host.bad_idn", text = text),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for HostError {}

/// A host that may be handed to the resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Ip(IpAddr),
    /// A link-local IPv6 address with its interface, `fe80::1%eth0`.
    ScopedV6 {
        ip: Ipv6Addr,
        zone: String,
    },
    /// A host name in ASCII: international names are already in punycode (`xn--…`).
    Name(String),
}

impl fmt::Display for Host {
    /// The text the resolver is given (no brackets).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::ScopedV6 { ip, zone } => write!(f, "{ip}%{zone}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// At most this many characters of the user's text are quoted back in a message.
const QUOTE_CHARS: usize = 40;

/// The user's text for a message: whole when short, else its start and an ellipsis.
pub fn quote(text: &str) -> String {
    if text.chars().count() <= QUOTE_CHARS {
        text.to_owned()
    } else {
        let mut q: String = text.chars().take(QUOTE_CHARS).collect();
        q.push('…');
        q
    }
}

/// Parses what a user typed as a host: surrounding spaces are ignored, `[…]` holds an IPv6
/// address, names follow the DNS rules (letters, digits, `-`, `_` and dots; at most 253
/// characters, 63 per part) and international names are converted with IDNA (UTS #46).
pub fn parse_host(text: &str) -> Result<Host, HostError> {
    let t = text.trim();
    if t.is_empty() {
        return Err(HostError::Empty);
    }
    if let Some(inner) = t.strip_prefix('[') {
        let Some(inner) = inner.strip_suffix(']') else {
            return Err(HostError::UnclosedBracket(quote(t)));
        };
        if !inner.contains(':') {
            return Err(HostError::NotIpv6InBrackets(quote(t)));
        }
        return parse_v6(inner);
    }
    if t.contains(':') {
        return parse_v6(t);
    }
    if let Ok(ip) = t.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    parse_name(t)
}

/// An IPv6 literal, with an optional `%zone` (an interface name or index).
fn parse_v6(text: &str) -> Result<Host, HostError> {
    let (addr, zone) = match text.split_once('%') {
        Some((a, z)) => (a, Some(z)),
        None => (text, None),
    };
    let ip = addr
        .parse::<Ipv6Addr>()
        .map_err(|_| HostError::BadIpv6(quote(text)))?;
    match zone {
        None => Ok(Host::Ip(IpAddr::V6(ip))),
        Some(z)
            if !z.is_empty()
                && z.len() <= 64
                && z.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) =>
        {
            Ok(Host::ScopedV6 {
                ip,
                zone: z.to_owned(),
            })
        }
        Some(_) => Err(HostError::BadIpv6(quote(text))),
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_')
}

/// The first character that no host name may hold, with its 1-based position.
fn first_bad_char(text: &str) -> Option<(char, usize)> {
    text.chars()
        .enumerate()
        .find(|(_, c)| c.is_ascii() && !is_name_char(*c))
        .map(|(i, c)| (c, i + 1))
}

fn parse_name(text: &str) -> Result<Host, HostError> {
    if let Some((ch, position)) = first_bad_char(text) {
        return Err(HostError::BadChar { ch, position });
    }
    // Checked before IDNA so a huge paste is refused without converting it.
    let len = text.chars().count();
    if len > MAX_NAME_LEN + 1 {
        return Err(HostError::TooLong { len });
    }
    let ascii = if text.is_ascii() {
        text.to_owned()
    } else {
        let converted = idna::domain_to_ascii(text).map_err(|_| HostError::BadIdn(quote(text)))?;
        if let Some((ch, position)) = first_bad_char(&converted) {
            return Err(HostError::BadChar { ch, position });
        }
        converted
    };
    check_labels(&ascii, text)?;
    Ok(Host::Name(ascii))
}

/// The DNS shape of an ASCII name; `typed` is what the user wrote, for the messages.
fn check_labels(ascii: &str, typed: &str) -> Result<(), HostError> {
    // One trailing dot names the root (an absolute name) and is allowed.
    let name = ascii.strip_suffix('.').unwrap_or(ascii);
    if name.len() > MAX_NAME_LEN {
        return Err(HostError::TooLong { len: name.len() });
    }
    let labels: Vec<&str> = name.split('.').collect();
    for label in &labels {
        if label.is_empty() {
            return Err(HostError::EmptyLabel(quote(typed)));
        }
        if label.len() > MAX_LABEL_LEN {
            return Err(HostError::LabelTooLong {
                label: label.chars().take(20).collect(),
                len: label.len(),
            });
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(HostError::HyphenAtEdge(quote(typed)));
        }
    }
    // Top-level domains are never numeric, so `256.1.1.1` and `1.2.3.4.5` are bad addresses,
    // not names (the rule of RFC 1123 §2.1 and the URL standard).
    if labels
        .last()
        .is_some_and(|l| l.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(HostError::BadIpv4(quote(typed)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names() {
        assert_eq!(
            parse_host(" 127.0.0.1 "),
            Ok(Host::Ip("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(parse_host("[::1]"), Ok(Host::Ip("::1".parse().unwrap())));
        assert_eq!(parse_host("::1"), Ok(Host::Ip("::1".parse().unwrap())));
        assert_eq!(parse_host("fe80::1%lo").unwrap().to_string(), "fe80::1%lo");
        assert_eq!(
            parse_host("Example.COM."),
            Ok(Host::Name("Example.COM.".into()))
        );
        assert_eq!(
            parse_host("bücher.example"),
            Ok(Host::Name("xn--bcher-kva.example".into()))
        );
        assert_eq!(parse_host("localhost").unwrap().to_string(), "localhost");
    }

    #[test]
    fn reasons() {
        assert_eq!(parse_host("  "), Err(HostError::Empty));
        assert_eq!(
            parse_host("a b"),
            Err(HostError::BadChar {
                ch: ' ',
                position: 2
            })
        );
        assert!(matches!(
            parse_host(&"a".repeat(300)),
            Err(HostError::TooLong { len: 300 })
        ));
        assert!(matches!(
            parse_host(&format!("{}.com", "a".repeat(64))),
            Err(HostError::LabelTooLong { len: 64, .. })
        ));
        assert!(matches!(
            parse_host("[::1:7001"),
            Err(HostError::UnclosedBracket(_))
        ));
        assert!(matches!(
            parse_host("256.1.1.1"),
            Err(HostError::BadIpv4(_))
        ));
        assert!(matches!(
            parse_host("1.2.3.4.5"),
            Err(HostError::BadIpv4(_))
        ));
        assert!(matches!(parse_host("a..b"), Err(HostError::EmptyLabel(_))));
        assert!(matches!(
            parse_host("-a.b"),
            Err(HostError::HyphenAtEdge(_))
        ));
        assert!(matches!(parse_host("::1::2"), Err(HostError::BadIpv6(_))));
        assert!(matches!(
            parse_host("[example.com]"),
            Err(HostError::NotIpv6InBrackets(_))
        ));
    }
}
