//! Port facts: which IANA range a port is in, the services commonly found on it, and whether it
//! is free to bind on this machine right now.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};

use rust_i18n::t;

use super::sweep::MAX_TCP_PORTS;
use crate::net::NetError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortRange {
    WellKnown,
    Registered,
    Dynamic,
}

impl PortRange {
    pub fn of(port: u16) -> Self {
        match port {
            0..=1023 => Self::WellKnown,
            1024..=49151 => Self::Registered,
            _ => Self::Dynamic,
        }
    }

    pub fn describe(self) -> Cow<'static, str> {
        match self {
            Self::WellKnown => t!("iptools.ports.range.well_known"),
            Self::Registered => t!("iptools.ports.range.registered"),
            Self::Dynamic => t!("iptools.ports.range.dynamic"),
        }
    }
}

/// A service commonly found on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub port: u16,
    pub transport: &'static str,
    pub name: &'static str,
}

const fn svc(port: u16, transport: &'static str, name: &'static str) -> Service {
    Service {
        port,
        transport,
        name,
    }
}

/// Common services, sorted by port. Their names are the services' own (as IANA's registry and
/// tools such as nmap list them), the same in every language.
pub const SERVICES: &[Service] = &[
    svc(7, "TCP/UDP", "Echo"),     // i18n-exempt: a service name
    svc(9, "TCP/UDP", "Discard"),  // i18n-exempt: a service name
    svc(20, "TCP", "FTP data"),    // i18n-exempt: a service name
    svc(21, "TCP", "FTP control"), // i18n-exempt: a service name
    svc(22, "TCP", "SSH"),
    svc(23, "TCP", "Telnet"), // i18n-exempt: a service name
    svc(25, "TCP", "SMTP"),
    svc(53, "TCP/UDP", "DNS"),
    svc(67, "UDP", "DHCP server"), // i18n-exempt: a service name
    svc(68, "UDP", "DHCP client"), // i18n-exempt: a service name
    svc(69, "UDP", "TFTP"),
    svc(80, "TCP", "HTTP"),
    svc(102, "TCP", "Siemens S7 (ISO-TSAP)"), // i18n-exempt: a service name
    svc(110, "TCP", "POP3"),
    svc(123, "UDP", "NTP"),
    svc(143, "TCP", "IMAP"),
    svc(161, "UDP", "SNMP"),
    svc(162, "UDP", "SNMP trap"), // i18n-exempt: a service name
    svc(389, "TCP", "LDAP"),
    svc(443, "TCP", "HTTPS"),
    svc(445, "TCP", "SMB"),
    svc(502, "TCP", "Modbus/TCP"), // i18n-exempt: a service name
    svc(514, "UDP", "Syslog"),     // i18n-exempt: a service name
    svc(554, "TCP", "RTSP"),
    svc(587, "TCP", "SMTP submission"), // i18n-exempt: a service name
    svc(993, "TCP", "IMAPS"),
    svc(1883, "TCP", "MQTT"),
    svc(1900, "UDP", "SSDP (UPnP discovery)"), // i18n-exempt: a service name
    svc(2404, "TCP", "IEC 60870-5-104"),       // i18n-exempt: a service name
    svc(3306, "TCP", "MySQL"),
    svc(3389, "TCP", "Remote Desktop (RDP)"), // i18n-exempt: a service name
    svc(4840, "TCP", "OPC UA"),               // i18n-exempt: a service name
    svc(5000, "TCP", "UPnP / Flask dev server"), // i18n-exempt: a service name
    svc(5353, "UDP", "mDNS"),
    svc(5432, "TCP", "PostgreSQL"),
    svc(5683, "UDP", "CoAP"),
    svc(5900, "TCP", "VNC"),
    svc(6379, "TCP", "Redis"),          // i18n-exempt: a service name
    svc(8080, "TCP", "HTTP alternate"), // i18n-exempt: a service name
    svc(8883, "TCP", "MQTT over TLS"),  // i18n-exempt: a service name
    svc(20000, "TCP", "DNP3"),
    svc(44818, "TCP", "EtherNet/IP"),
    svc(47808, "UDP", "BACnet/IP"),
];

/// The services commonly found on `port`.
pub fn services(port: u16) -> Vec<Service> {
    SERVICES
        .iter()
        .filter(|s| s.port == port)
        .copied()
        .collect()
}

/// Whether a port can be bound on this machine now, per transport and family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindCheck {
    pub port: u16,
    pub tcp_v4: Result<(), NetError>,
    pub tcp_v6: Result<(), NetError>,
    pub udp_v4: Result<(), NetError>,
    pub udp_v6: Result<(), NetError>,
}

/// Tries to bind `port` on all addresses, TCP and UDP, IPv4 and IPv6, and releases it at once.
/// Nothing is sent.
pub fn check_bind(port: u16) -> BindCheck {
    let v4 = SocketAddr::from((Ipv4Addr::UNSPECIFIED, port));
    let v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, port));
    let tcp = |a: SocketAddr| {
        TcpListener::bind(a)
            .map(drop)
            .map_err(|e| NetError::from_io(&e, a))
    };
    let udp = |a: SocketAddr| {
        UdpSocket::bind(a)
            .map(drop)
            .map_err(|e| NetError::from_io(&e, a))
    };
    BindCheck {
        port,
        tcp_v4: tcp(v4),
        tcp_v6: tcp(v6),
        udp_v4: udp(v4),
        udp_v6: udp(v6),
    }
}

/// Parses a list of TCP ports to probe, "22, 80 502" (1–65535, duplicates dropped, at most
/// `MAX_TCP_PORTS`), or says which part is wrong.
pub fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    let mut ports = Vec::new();
    for part in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|p| !p.is_empty())
    {
        let p = crate::net::parse_port(part, false)?;
        if !ports.contains(&p) {
            ports.push(p);
        }
    }
    if ports.len() > MAX_TCP_PORTS {
        return Err(t!("iptools.ports.too_many", max = MAX_TCP_PORTS).into_owned());
    }
    Ok(ports)
}
