//! The kernel's neighbour table (ARP for IPv4, NDP for IPv6): who this machine has recently
//! talked to on its links, with their MAC addresses. The parsers take text, so fixtures test
//! them; the readers find the text on the running system.

use std::net::IpAddr;

use rust_i18n::t;

use super::vendor::Mac;

/// One resolved neighbour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Neighbour {
    pub ip: IpAddr,
    pub mac: Mac,
    pub interface: String,
    /// The kernel's state word: REACHABLE, STALE, PERMANENT…
    pub state: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeighbourError {
    Unsupported(&'static str),
    Read { path: String, message: String },
}

impl std::fmt::Display for NeighbourError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Unsupported(os) => t!("iptools.neighbours.error.unsupported", os = os),
            Self::Read { path, message } => {
                t!(
                    "iptools.neighbours.error.read",
                    path = path,
                    message = message
                )
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for NeighbourError {}

/// `/proc/net/arp` flag: the entry is complete (someone answered).
const ATF_COM: u32 = 0x02;
/// `/proc/net/arp` flag: a static entry.
const ATF_PERM: u32 = 0x04;

/// Parses Linux's `/proc/net/arp`. Incomplete entries (flags 0x0, MAC all zeros) are skipped:
/// nobody answered for them.
pub fn parse_proc_arp(text: &str) -> Vec<Neighbour> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 6 {
            continue;
        }
        let (Ok(ip), Ok(mac)) = (f[0].parse::<IpAddr>(), f[3].parse::<Mac>()) else {
            continue;
        };
        let flags = u32::from_str_radix(f[2].trim_start_matches("0x"), 16).unwrap_or(0);
        if mac.is_zero() || flags & ATF_COM == 0 {
            continue;
        }
        let state = if flags & ATF_PERM == 0 {
            "complete"
        } else {
            "permanent"
        };
        out.push(Neighbour {
            ip,
            mac,
            interface: f[5].to_owned(),
            state: state.to_owned(),
        });
    }
    out
}

/// Parses the output of `ip neigh show` (either family). Lines without `lladdr`
/// (INCOMPLETE, FAILED) and zero MACs are skipped.
pub fn parse_ip_neigh(text: &str) -> Vec<Neighbour> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some(Ok(ip)) = f.first().map(|s| s.parse::<IpAddr>()) else {
            continue;
        };
        let after = |key: &str| {
            f.iter()
                .position(|w| *w == key)
                .and_then(|i| f.get(i + 1))
                .copied()
        };
        let Some(Ok(mac)) = after("lladdr").map(str::parse::<Mac>) else {
            continue;
        };
        if mac.is_zero() {
            continue;
        }
        let state = f
            .last()
            .filter(|w| w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .map_or_else(|| "unknown".to_owned(), |s| (*s).to_owned());
        out.push(Neighbour {
            ip,
            mac,
            interface: after("dev").unwrap_or("?").to_owned(),
            state,
        });
    }
    out
}

/// The IPv4 neighbour table of this machine (in the caller's network namespace).
#[cfg(target_os = "linux")]
pub fn read_v4() -> Result<Vec<Neighbour>, NeighbourError> {
    let path = "/proc/net/arp";
    std::fs::read_to_string(path)
        .map(|t| parse_proc_arp(&t))
        .map_err(|e| NeighbourError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })
}

#[cfg(not(target_os = "linux"))]
pub fn read_v4() -> Result<Vec<Neighbour>, NeighbourError> {
    Err(NeighbourError::Unsupported(std::env::consts::OS))
}

/// The IPv4 neighbour table with the kernel's states (REACHABLE, STALE…) from
/// `ip -4 neigh show`, falling back to `/proc/net/arp` (no states) when `ip` is missing.
#[cfg(target_os = "linux")]
pub fn read_v4_with_states() -> Result<Vec<Neighbour>, NeighbourError> {
    run_ip_neigh("-4").or_else(|_| read_v4())
}

#[cfg(not(target_os = "linux"))]
pub fn read_v4_with_states() -> Result<Vec<Neighbour>, NeighbourError> {
    read_v4()
}

/// The IPv6 neighbour table, from `ip -6 neigh show` (Linux has no /proc file for it).
#[cfg(target_os = "linux")]
pub fn read_v6() -> Result<Vec<Neighbour>, NeighbourError> {
    run_ip_neigh("-6")
}

#[cfg(target_os = "linux")]
fn run_ip_neigh(family: &str) -> Result<Vec<Neighbour>, NeighbourError> {
    let read_err = |message: String| NeighbourError::Read {
        path: format!("ip {family} neigh show"), // i18n-exempt: the command that was run
        message,
    };
    let output = std::process::Command::new("ip")
        .args([family, "neigh", "show"])
        .output()
        .map_err(|e| read_err(e.to_string()))?;
    if !output.status.success() {
        return Err(read_err(
            String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        ));
    }
    Ok(parse_ip_neigh(&String::from_utf8_lossy(&output.stdout)))
}

#[cfg(not(target_os = "linux"))]
pub fn read_v6() -> Result<Vec<Neighbour>, NeighbourError> {
    Err(NeighbourError::Unsupported(std::env::consts::OS))
}

/// Both tables, IPv4 first; an IPv6 failure is returned beside the IPv4 entries.
pub fn read_all() -> (Vec<Neighbour>, Vec<NeighbourError>) {
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for result in [read_v4(), read_v6()] {
        match result {
            Ok(mut v) => all.append(&mut v),
            Err(e) => errors.push(e),
        }
    }
    errors.dedup();
    (all, errors)
}
