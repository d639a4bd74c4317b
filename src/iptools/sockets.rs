//! This machine's sockets (the `netstat -an` view): TCP and UDP, IPv4 and IPv6, from Linux's
//! `/proc/net/{tcp,tcp6,udp,udp6}`, with the owning process found through `/proc/<pid>/fd`
//! where permissions allow.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    pub fn name(self, v6: bool) -> &'static str {
        match (self, v6) {
            (Self::Tcp, false) => "TCP",
            (Self::Tcp, true) => "TCP6",
            (Self::Udp, false) => "UDP",
            (Self::Udp, true) => "UDP6",
        }
    }
}

/// One socket of this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketEntry {
    pub proto: Proto,
    pub local: SocketAddr,
    pub remote: SocketAddr,
    /// `LISTEN`, `ESTABLISHED`, `TIME_WAIT`… (UDP: `UNCONN` or `ESTABLISHED`).
    pub state: &'static str,
    pub inode: u64,
    /// `pid/name` of the owner, when this user may see it.
    pub process: Option<String>,
}

impl SocketEntry {
    pub fn proto_text(&self) -> &'static str {
        self.proto.name(self.local.is_ipv6())
    }

    /// Whether the row matches a filter typed by the user (any column, case-insensitive).
    pub fn matches(&self, filter: &str) -> bool {
        let f = filter.trim().to_lowercase();
        if f.is_empty() {
            return true;
        }
        [
            self.proto_text().to_lowercase(),
            self.local.to_string(),
            self.remote.to_string(),
            self.state.to_lowercase(),
            self.process.clone().unwrap_or_default().to_lowercase(),
        ]
        .iter()
        .any(|c| c.contains(&f))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SocketsError {
    #[error("listing sockets is not supported on {0} yet")]
    Unsupported(&'static str),
    #[error("could not read {path}: {message}")]
    Read { path: String, message: String },
}

fn tcp_state(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x02 => "SYN_SENT",
        0x03 => "SYN_RECV",
        0x04 => "FIN_WAIT1",
        0x05 => "FIN_WAIT2",
        0x06 => "TIME_WAIT",
        0x07 => "CLOSE",
        0x08 => "CLOSE_WAIT",
        0x09 => "LAST_ACK",
        0x0A => "LISTEN",
        0x0B => "CLOSING",
        0x0C => "NEW_SYN_RECV",
        _ => "UNKNOWN",
    }
}

fn udp_state(code: u8) -> &'static str {
    match code {
        0x01 => "ESTABLISHED",
        0x07 => "UNCONN",
        _ => "UNKNOWN",
    }
}

/// Parses `0100007F:1F90` (IPv4) or 32 hex digits + port (IPv6). The kernel prints each 32-bit
/// word in the machine's byte order.
fn parse_addr(text: &str) -> Option<SocketAddr> {
    let (ip_hex, port_hex) = text.split_once(':')?;
    let port = u16::from_str_radix(port_hex, 16).ok()?;
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = ip_hex.get(i * 8..i * 8 + 8)?;
        Some(u32::from_str_radix(w, 16).ok()?.to_ne_bytes())
    };
    let ip = match ip_hex.len() {
        8 => IpAddr::V4(Ipv4Addr::from(word(0)?)),
        32 => {
            let mut bytes = [0u8; 16];
            for i in 0..4 {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            IpAddr::V6(Ipv6Addr::from(bytes))
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// Parses one of `/proc/net/tcp`, `tcp6`, `udp`, `udp6`. Malformed lines are skipped.
pub fn parse_proc_net(text: &str, proto: Proto) -> Vec<SocketEntry> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 {
            continue;
        }
        let (Some(local), Some(remote), Ok(code), Ok(inode)) = (
            parse_addr(f[1]),
            parse_addr(f[2]),
            u8::from_str_radix(f[3], 16),
            f[9].parse::<u64>(),
        ) else {
            continue;
        };
        let state = match proto {
            Proto::Tcp => tcp_state(code),
            Proto::Udp => udp_state(code),
        };
        out.push(SocketEntry {
            proto,
            local,
            remote,
            state,
            inode,
            process: None,
        });
    }
    out
}

/// Reads `socket:[12345]` links under `/proc/*/fd` into inode → `pid/name`. Processes this user
/// may not inspect are skipped; at most `MAX_PROCESSES` are looked at.
#[cfg(target_os = "linux")]
fn socket_owners() -> std::collections::HashMap<u64, String> {
    const MAX_PROCESSES: usize = 10_000;
    const MAX_FDS_PER_PROCESS: usize = 100_000;
    let mut owners = std::collections::HashMap::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return owners;
    };
    for entry in procs.flatten().take(MAX_PROCESSES) {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let comm = std::fs::read_to_string(entry.path().join("comm"))
            .map(|c| c.trim().to_owned())
            .unwrap_or_default();
        for fd in fds.flatten().take(MAX_FDS_PER_PROCESS) {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(inode) = target
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok())
            {
                owners
                    .entry(inode)
                    .or_insert_with(|| format!("{pid}/{comm}"));
            }
        }
    }
    owners
}

/// Only the TCP sockets (`/proc/net/tcp` and `tcp6`), without looking for owners: cheap
/// enough to poll many times a second. `TIME_WAIT` sockets, which no process owns, are here.
#[cfg(target_os = "linux")]
pub fn read_tcp_table() -> Result<Vec<SocketEntry>, SocketsError> {
    let mut all = Vec::new();
    for file in ["tcp", "tcp6"] {
        let path = format!("/proc/net/{file}");
        match std::fs::read_to_string(&path) {
            Ok(text) => all.extend(parse_proc_net(&text, Proto::Tcp)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.ends_with('6') => {}
            Err(e) => {
                return Err(SocketsError::Read {
                    path,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(all)
}

#[cfg(not(target_os = "linux"))]
pub fn read_tcp_table() -> Result<Vec<SocketEntry>, SocketsError> {
    Err(SocketsError::Unsupported(std::env::consts::OS))
}

/// Every TCP and UDP socket of this machine, with owners where visible.
#[cfg(target_os = "linux")]
pub fn read_sockets() -> Result<Vec<SocketEntry>, SocketsError> {
    let mut all = Vec::new();
    for (file, proto) in [
        ("tcp", Proto::Tcp),
        ("tcp6", Proto::Tcp),
        ("udp", Proto::Udp),
        ("udp6", Proto::Udp),
    ] {
        let path = format!("/proc/net/{file}");
        match std::fs::read_to_string(&path) {
            Ok(text) => all.extend(parse_proc_net(&text, proto)),
            // A kernel without IPv6 has no tcp6/udp6: that is not an error.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && file.ends_with('6') => {}
            Err(e) => {
                return Err(SocketsError::Read {
                    path,
                    message: e.to_string(),
                });
            }
        }
    }
    let owners = socket_owners();
    for s in &mut all {
        if s.inode != 0 {
            s.process = owners.get(&s.inode).cloned();
        }
    }
    Ok(all)
}

#[cfg(not(target_os = "linux"))]
pub fn read_sockets() -> Result<Vec<SocketEntry>, SocketsError> {
    Err(SocketsError::Unsupported(std::env::consts::OS))
}
