//! Network errors as values that carry the address they concern, and a sentence for users.

use std::io;
use std::net::SocketAddr;
use thiserror::Error;

/// A network failure, translated from the OS error, with the address it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum NetError {
    #[error("could not resolve \"{host}\": {detail}")]
    NameNotResolved { host: String, detail: String },
    #[error("connection to {addr} refused")]
    Refused { addr: SocketAddr },
    #[error("connecting to {addr} timed out after {timeout_ms} ms")]
    TimedOut { addr: SocketAddr, timeout_ms: u64 },
    #[error("connection to {addr} reset by the peer")]
    Reset { addr: SocketAddr },
    #[error("network unreachable for {addr}")]
    NetworkUnreachable { addr: SocketAddr },
    #[error("host {addr} unreachable")]
    HostUnreachable { addr: SocketAddr },
    #[error("address {addr} already in use")]
    AddrInUse { addr: SocketAddr },
    #[error("permission denied for {addr}")]
    PermissionDenied { addr: SocketAddr },
    #[error("address {addr} is not available on this machine")]
    AddrNotAvailable { addr: SocketAddr },
    #[error("{addr}: {message}")]
    Other { addr: SocketAddr, message: String },
}

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
            Self::NameNotResolved { .. } => {
                "The name could not be turned into an address: check the spelling, or type an IP address.".to_owned()
            }
            Self::Refused { addr } => format!(
                "Nothing is listening on port {} at {}: start the server, or check the port.",
                addr.port(),
                addr.ip()
            ),
            Self::TimedOut { .. } => {
                "No answer in time: the host may be down, a firewall may drop the packets, or the address is wrong.".to_owned()
            }
            Self::Reset { .. } => {
                "The peer aborted the connection (it crashed, was killed, or rejected us).".to_owned()
            }
            Self::NetworkUnreachable { .. } => {
                "This machine has no route to that network: check the address and your network settings.".to_owned()
            }
            Self::HostUnreachable { .. } => {
                "The host did not answer on the local network (no ARP reply): is it powered and cabled?".to_owned()
            }
            Self::AddrInUse { addr } => format!(
                "Another program already uses port {}: stop it, or pick another port.",
                addr.port()
            ),
            Self::PermissionDenied { addr } if addr.port() < 1024 && addr.port() != 0 => format!(
                "Ports below 1024 need administrator rights: use a port above 1023, or run with the needed rights (port {}).",
                addr.port()
            ),
            Self::PermissionDenied { .. } => {
                "The system refused this operation (permissions or a firewall rule).".to_owned()
            }
            Self::AddrNotAvailable { .. } => {
                "That address does not belong to any interface of this machine: pick one from the list.".to_owned()
            }
            Self::Other { .. } => "The system reported an unexpected error.".to_owned(),
        }
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
