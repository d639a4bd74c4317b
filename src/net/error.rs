//! Network errors as values that carry the address they concern, and a sentence for users.

use std::fmt;
use std::io;
use std::net::SocketAddr;

use rust_i18n::t;

/// A network failure, translated from the OS error, with the address it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetError {
    NameNotResolved { host: String, detail: String },
    Refused { addr: SocketAddr },
    TimedOut { addr: SocketAddr, timeout_ms: u64 },
    Reset { addr: SocketAddr },
    NetworkUnreachable { addr: SocketAddr },
    HostUnreachable { addr: SocketAddr },
    AddrInUse { addr: SocketAddr },
    PermissionDenied { addr: SocketAddr },
    AddrNotAvailable { addr: SocketAddr },
    Other { addr: SocketAddr, message: String },
}

impl fmt::Display for NetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NameNotResolved { host, detail } => f.write_str(&t!(
                "net.error.name_not_resolved",
                host = host,
                detail = detail
            )),
            Self::Refused { addr } => f.write_str(&t!("net.error.refused", addr = addr)),
            Self::TimedOut { addr, timeout_ms } => f.write_str(&t!(
                "net.error.timed_out",
                addr = addr,
                timeout_ms = timeout_ms
            )),
            Self::Reset { addr } => f.write_str(&t!("net.error.reset", addr = addr)),
            Self::NetworkUnreachable { addr } => {
                f.write_str(&t!("net.error.network_unreachable", addr = addr))
            }
            Self::HostUnreachable { addr } => {
                f.write_str(&t!("net.error.host_unreachable", addr = addr))
            }
            Self::AddrInUse { addr } => f.write_str(&t!("net.error.addr_in_use", addr = addr)),
            Self::PermissionDenied { addr } => {
                f.write_str(&t!("net.error.permission_denied", addr = addr))
            }
            Self::AddrNotAvailable { addr } => {
                f.write_str(&t!("net.error.addr_not_available", addr = addr))
            }
            Self::Other { addr, message } => write!(f, "{addr}: {message}"),
        }
    }
}

impl std::error::Error for NetError {}

impl NetError {
    /// Translates an OS error about `addr`.
    pub fn from_io(err: &io::Error, addr: SocketAddr) -> Self {
        use io::ErrorKind as K;
        match err.kind() {
            K::ConnectionRefused => Self::Refused { addr },
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => Self::Reset { addr },
            K::TimedOut => Self::TimedOut {
                addr,
                timeout_ms: 0,
            },
            K::NetworkUnreachable => Self::NetworkUnreachable { addr },
            K::HostUnreachable => Self::HostUnreachable { addr },
            K::AddrInUse => Self::AddrInUse { addr },
            K::PermissionDenied => Self::PermissionDenied { addr },
            K::AddrNotAvailable => Self::AddrNotAvailable { addr },
            _ => Self::Other {
                addr,
                message: err.to_string(),
            },
        }
    }

    /// One line that says what happened in plain words and what to try.
    pub fn explanation(&self) -> String {
        match self {
            Self::NameNotResolved { .. } => t!("net.explain.name_not_resolved"),
            Self::Refused { addr } => t!("net.explain.refused", port = addr.port(), ip = addr.ip()),
            Self::TimedOut { .. } => t!("net.explain.timed_out"),
            Self::Reset { .. } => t!("net.explain.reset"),
            Self::NetworkUnreachable { .. } => t!("net.explain.network_unreachable"),
            Self::HostUnreachable { .. } => t!("net.explain.host_unreachable"),
            Self::AddrInUse { addr } => t!("net.explain.addr_in_use", port = addr.port()),
            Self::PermissionDenied { addr } if addr.port() < 1024 && addr.port() != 0 => {
                t!("net.explain.low_port", port = addr.port())
            }
            Self::PermissionDenied { .. } => t!("net.explain.permission_denied"),
            Self::AddrNotAvailable { .. } => t!("net.explain.addr_not_available"),
            Self::Other { .. } => t!("net.explain.other"),
        }
        .into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_common_errors() {
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let refused = NetError::from_io(&io::Error::from(io::ErrorKind::ConnectionRefused), addr);
        assert_eq!(refused, NetError::Refused { addr });
        assert!(
            refused
                .explanation()
                .contains("Nothing is listening on port 80")
        );
        let denied = NetError::from_io(&io::Error::from(io::ErrorKind::PermissionDenied), addr);
        assert!(denied.explanation().contains("below 1024"));
        let in_use = NetError::from_io(&io::Error::from(io::ErrorKind::AddrInUse), addr);
        assert!(in_use.explanation().contains("Another program"));
        let unreachable =
            NetError::from_io(&io::Error::from(io::ErrorKind::NetworkUnreachable), addr);
        assert!(unreachable.explanation().contains("no route"));
        assert!(unreachable.to_string().contains("127.0.0.1:80"));
    }
}
