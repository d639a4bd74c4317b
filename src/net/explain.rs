//! Sentences for users, in one place: what went wrong on the network and what to do about it.
//! The window and the CLI print the same words. OS errors on a socket are explained by
//! [`NetError::explanation`](super::NetError::explanation); this module adds what is said about
//! ICMP errors and broadcast sends. Connection close reasons are `Display` on the engine's
//! reason types, next to their definition.

use std::fmt;

use rust_i18n::t;

use super::NetError;
use super::udp::IcmpError;

impl fmt::Display for IcmpError {
    /// One sentence for an ICMP error on a datagram we sent.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let from = self
            .reporter
            .map(|r| t!("net.icmp.from", reporter = r).into_owned())
            .unwrap_or_default();
        let text = if let Some(dest) = self.destination {
            match NetError::from_io(&std::io::Error::from(self.error), dest) {
                NetError::Refused { .. } => t!(
                    "net.icmp.port_unreachable",
                    port = dest.port(),
                    ip = dest.ip(),
                    from = from
                ),
                other => t!(
                    "net.icmp.failed_to",
                    dest = dest,
                    message = self.os_message,
                    from = from,
                    explanation = other.explanation()
                ),
            }
        } else {
            t!("net.icmp.failed", message = self.os_message, from = from)
        };
        f.write_str(&text)
    }
}

/// Turns an OS error during a broadcast into a sentence with the fix.
pub fn broadcast_explanation(e: &NetError) -> String {
    match e {
        NetError::NetworkUnreachable { addr } => {
            t!("net.broadcast.no_route", ip = addr.ip()).into_owned()
        }
        NetError::PermissionDenied { addr }
            if addr.port() != 0 && addr.port() < 1024 && addr.ip().is_unspecified() =>
        {
            e.explanation()
        }
        NetError::PermissionDenied { .. } => t!("net.broadcast.refused").into_owned(),
        NetError::AddrNotAvailable { addr } => {
            t!("net.broadcast.addr_gone", ip = addr.ip()).into_owned()
        }
        other => other.explanation(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use rust_i18n::t;

    use crate::i18n::{Language, lookup};

    #[test]
    fn sentences_are_in_chinese_too() {
        // Asked for one language directly, so parallel tests keep the process's language.
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let zh = t!(
            "net.explain.refused",
            locale = "zh-CN",
            port = addr.port(),
            ip = addr.ip()
        );
        assert_eq!(
            zh,
            "127.0.0.1 的端口 80 上没有程序在监听：请启动服务器，或检查端口。"
        );
        let en = t!(
            "net.explain.refused",
            locale = "en",
            port = addr.port(),
            ip = addr.ip()
        );
        assert_eq!(
            en,
            "Nothing is listening on port 80 at 127.0.0.1: start the server, or check the port."
        );
        let zh_reset = lookup(Language::Chinese, "engine.close.reset_by_peer").unwrap();
        assert_eq!(zh_reset, "被对方重置");
    }
}
