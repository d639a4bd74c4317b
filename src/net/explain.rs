//! Sentences for users, in one place: what went wrong on the network and what to do about it.
//! The window and the CLI print the same words. OS errors on a socket are explained by
//! [`NetError::explanation`](super::NetError::explanation); this module adds what is said about
//! ICMP errors and broadcast sends. Connection close reasons are `Display` on the engine's
//! reason types, next to their definition.

use std::fmt;

use super::NetError;
use super::udp::IcmpError;

impl fmt::Display for IcmpError {
    /// One sentence for an ICMP error on a datagram we sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .reporter
            .map(|r| format!(" (ICMP from {r})"))
            .unwrap_or_default();
        match self.destination {
            Some(dest) => match NetError::from_io(&std::io::Error::from(self.error), dest) {
                NetError::Refused { .. } => write!(
                    f,
                    "Port unreachable: nothing listens on UDP port {} at {}{from}. The datagram was delivered to the host, which rejected it: start the receiver or check the port.",
                    dest.port(),
                    dest.ip()
                ),
                other => write!(
                    f,
                    "Datagram to {dest} failed: {}{from}. {}",
                    self.os_message,
                    other.explanation()
                ),
            },
            None => write!(f, "A datagram we sent failed: {}{from}.", self.os_message),
        }
    }
}

/// Turns an OS error during a broadcast into a sentence with the fix.
pub fn broadcast_explanation(e: &NetError) -> String {
    match e {
        NetError::NetworkUnreachable { addr } => format!(
            "No route to {}: pick the interface that is on that network (the probe leaves by the interface's address).",
            addr.ip()
        ),
        NetError::PermissionDenied { addr }
            if addr.port() != 0 && addr.port() < 1024 && addr.ip().is_unspecified() =>
        {
            e.explanation()
        }
        NetError::PermissionDenied { .. } => "The system refused to send: broadcasts need SO_BROADCAST (Sockpit sets it), so a firewall rule or policy blocks this.".to_owned(),
        NetError::AddrNotAvailable { addr } => format!(
            "No interface has the address {} any more: refresh the interface list and pick again.",
            addr.ip()
        ),
        other => other.explanation(),
    }
}
