//! Name → addresses and address → name through the system resolver (getaddrinfo and
//! getnameinfo, so the hosts file, mDNS and DNS all count), off the UI thread.

use std::net::IpAddr;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rust_i18n::t;

use crate::engine::worker::Wake;

/// What to look up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsQuery {
    Forward(String),
    Reverse(IpAddr),
}

impl DnsQuery {
    /// An address is looked up in reverse, anything else as a name: checked by
    /// [`crate::net::parse_host`], with an international name in punycode.
    pub fn parse(text: &str) -> Result<Self, DnsError> {
        let t = crate::net::normalize_host(text);
        if t.is_empty() {
            return Err(DnsError::Empty);
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Self::Reverse(ip));
        }
        match crate::net::parse_host(text) {
            Ok(crate::net::Host::Ip(ip)) => Ok(Self::Reverse(ip)),
            Ok(host) => Ok(Self::Forward(host.to_string())),
            Err(e) => Err(DnsError::BadName(e)),
        }
    }
}

/// A lookup's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsAnswer {
    Addresses(Vec<IpAddr>),
    Name(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsError {
    Empty,
    BadName(crate::net::HostError),
    NotResolved { name: String, detail: String },
    NoName { ip: IpAddr, detail: String },
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Empty => t!("iptools.dns.error.empty"),
            Self::BadName(e) => return write!(f, "{e}"),
            Self::NotResolved { name, detail } => {
                t!(
                    "iptools.dns.error.not_resolved",
                    name = name,
                    detail = detail
                )
            }
            Self::NoName { ip, detail } => {
                t!("iptools.dns.error.no_name", ip = ip, detail = detail)
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for DnsError {}

/// Runs one lookup on the calling thread (it may block for the resolver's timeout).
pub fn lookup(query: &DnsQuery) -> Result<DnsAnswer, DnsError> {
    match query {
        DnsQuery::Forward(name) => match dns_lookup::lookup_host(name) {
            Ok(addrs) => {
                let mut v: Vec<IpAddr> = Vec::new();
                for a in addrs {
                    if !v.contains(&a) {
                        v.push(a);
                    }
                }
                if v.is_empty() {
                    Err(DnsError::NotResolved {
                        name: name.clone(),
                        detail: t!("iptools.dns.no_addresses").into_owned(),
                    })
                } else {
                    Ok(DnsAnswer::Addresses(v))
                }
            }
            Err(e) => Err(DnsError::NotResolved {
                name: name.clone(),
                detail: std::io::Error::from(e).to_string(),
            }),
        },
        DnsQuery::Reverse(ip) => dns_lookup::lookup_addr(ip)
            .map(DnsAnswer::Name)
            .map_err(|e| DnsError::NoName {
                ip: *ip,
                detail: std::io::Error::from(e).to_string(),
            }),
    }
}

/// A lookup running on its own named thread; the answer arrives on a one-slot channel.
pub struct DnsLookup {
    pub query: DnsQuery,
    answer: Receiver<Result<DnsAnswer, DnsError>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsLookup {
    pub fn start(query: DnsQuery, wake: Wake) -> std::io::Result<Self> {
        let (tx, rx): (Sender<_>, _) = crossbeam_channel::bounded(1);
        let q = query.clone();
        let panic_tx = tx.clone();
        let thread = crate::engine::worker::spawn_named(
            "dns-lookup",
            move || {
                let _ = tx.send(lookup(&q));
                wake();
            },
            move |message| {
                let _ = panic_tx.send(Err(DnsError::NotResolved {
                    name: String::new(),
                    detail: t!("iptools.dns.failed", message = message).into_owned(),
                }));
            },
        )?;
        Ok(Self {
            query,
            answer: rx,
            thread: Some(thread),
        })
    }

    /// The answer, once it is there.
    pub fn poll(&mut self) -> Option<Result<DnsAnswer, DnsError>> {
        let answer = self.answer.try_recv().ok()?;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        Some(answer)
    }
}
