//! From what the user typed to a [`Probe`]: the interface, the target (directed or limited
//! broadcast, a multicast group, one host), ports and timing, each checked with an error that
//! names the field. The Broadcast tab shows the error beside that field; the CLI prints it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use rust_i18n::t;

use super::Probe;
use super::presets::{DefaultTarget, Preset, magic_packet, parse_mac};
use crate::net::iface::InterfaceV4;
use crate::net::{Host, normalize_host, parse_port};

/// Why an IPv6 target is refused: probes leave from an IPv4 interface address.
fn no_v6() -> String {
    t!("engine.broadcast.no_v6").into_owned()
}

/// Where the probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TargetKind {
    /// The interface's subnet broadcast (e.g. 192.168.1.255).
    #[default]
    Directed,
    /// 255.255.255.255, sent out of the chosen interface.
    Limited,
    Multicast,
    Unicast,
}

/// The probe's fields as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInput {
    /// The chosen interface's IPv4 address.
    pub interface_addr: String,
    pub target: TargetKind,
    pub group: String,
    pub unicast_host: String,
    pub port: String,
    pub source_port: String,
    pub listen_ms: u64,
    pub sends: u32,
    pub repeat_ms: u64,
    pub ttl: u32,
}

/// A field that stops the plan, with the sentence to show beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanError {
    Interface(String),
    Target(String),
    Mac(String),
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Interface(m) | Self::Target(m) | Self::Mac(m) => f.write_str(m),
        }
    }
}

/// The usual target and port of a preset: (target, group, port), when it has one.
pub fn preset_target(preset: Preset) -> Option<(TargetKind, Option<Ipv4Addr>, u16)> {
    match preset.default_target()? {
        DefaultTarget::Broadcast(port) => Some((TargetKind::Directed, None, port)),
        DefaultTarget::Multicast(group, port) => Some((TargetKind::Multicast, Some(group), port)),
    }
}

/// Parses the multicast group field: an IPv4 group, 224.0.0.0–239.255.255.255.
pub fn parse_v4_group(text: &str) -> Result<Ipv4Addr, String> {
    let shown: String = text.trim().chars().take(40).collect();
    match normalize_host(text).parse::<IpAddr>() {
        Ok(IpAddr::V4(group)) => {
            crate::net::udp::check_group(IpAddr::V4(group))?;
            Ok(group)
        }
        Ok(IpAddr::V6(_)) => Err(no_v6()),
        Err(_) => Err(t!("engine.broadcast.not_ip", shown = shown).into_owned()),
    }
}

/// The interface with the address typed, among `interfaces`.
pub fn find_interface(interfaces: &[InterfaceV4], addr: &str) -> Result<InterfaceV4, PlanError> {
    let want = addr.trim();
    if want.is_empty() {
        return Err(PlanError::Interface(
            t!("engine.broadcast.pick_interface").into_owned(),
        ));
    }
    interfaces
        .iter()
        .find(|i| i.addr.to_string() == want)
        .cloned()
        .ok_or_else(|| {
            PlanError::Interface(t!("engine.broadcast.interface_gone", addr = want).into_owned())
        })
}

/// The destination address for `input` sent on `iface` (a unicast host is resolved here).
pub fn target_addr(input: &PlanInput, iface: &InterfaceV4) -> Result<SocketAddr, String> {
    let port = parse_port(&input.port, false)
        .map_err(|e| t!("engine.broadcast.port", error = e).into_owned())?;
    let ip = match input.target {
        TargetKind::Directed => IpAddr::V4(iface.broadcast),
        TargetKind::Limited => IpAddr::V4(Ipv4Addr::BROADCAST),
        TargetKind::Multicast => IpAddr::V4(parse_v4_group(&input.group)?),
        TargetKind::Unicast => unicast_ip(&input.unicast_host, port)?,
    };
    Ok(SocketAddr::new(ip, port))
}

fn unicast_ip(text: &str, port: u16) -> Result<IpAddr, String> {
    if normalize_host(text).is_empty() {
        return Err(t!("engine.broadcast.no_target").into_owned());
    }
    let host = match crate::net::parse_host(text) {
        Ok(Host::Ip(IpAddr::V6(_)) | Host::ScopedV6 { .. }) => return Err(no_v6()),
        Ok(host) => host.to_string(),
        Err(e) => return Err(e.to_string()),
    };
    let addrs = crate::net::resolve(&host, port).map_err(|e| {
        t!(
            "engine.broadcast.error_explained",
            error = e,
            explanation = e.explanation()
        )
        .into_owned()
    })?;
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .map(SocketAddr::ip)
        .ok_or_else(|| t!("engine.broadcast.no_ipv4", host = host).into_owned())
}

/// The whole probe: `payload` to the target from the interface, with the timing typed.
pub fn plan_probe(
    input: &PlanInput,
    interfaces: &[InterfaceV4],
    payload: Vec<u8>,
) -> Result<Probe, PlanError> {
    let iface = find_interface(interfaces, &input.interface_addr)?;
    let target = target_addr(input, &iface).map_err(PlanError::Target)?;
    let source_port = parse_port(&input.source_port, true).map_err(|e| {
        PlanError::Target(t!("engine.broadcast.source_port", error = e).into_owned())
    })?;
    // The probe leaves by an IPv4 interface address.
    crate::net::check_datagram_len(payload.len(), false).map_err(PlanError::Target)?;
    Ok(Probe {
        source: SocketAddr::new(IpAddr::V4(iface.addr), source_port),
        interface: Some(iface.name.clone()),
        target,
        payload,
        listen: Duration::from_millis(input.listen_ms),
        repeat_every: (input.sends > 1).then(|| Duration::from_millis(input.repeat_ms.max(1))),
        sends: input.sends.max(1),
        ttl: input.ttl,
    })
}

/// A Wake-on-LAN magic packet for the MAC typed, to the interface's broadcast on port 9.
pub fn wake_on_lan_probe(
    mac: &str,
    interfaces: &[InterfaceV4],
    interface_addr: &str,
) -> Result<Probe, PlanError> {
    let mac = parse_mac(mac).map_err(PlanError::Mac)?;
    let iface = find_interface(interfaces, interface_addr)?;
    Ok(Probe {
        source: SocketAddr::new(IpAddr::V4(iface.addr), 0),
        interface: Some(iface.name.clone()),
        target: SocketAddr::new(IpAddr::V4(iface.broadcast), 9),
        payload: magic_packet(mac),
        listen: Duration::ZERO,
        repeat_every: None,
        sends: 1,
        ttl: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lo() -> InterfaceV4 {
        InterfaceV4 {
            name: "lo".to_owned(),
            index: 1,
            up: true,
            loopback: true,
            addr: Ipv4Addr::LOCALHOST,
            prefix: 8,
            broadcast: Ipv4Addr::new(127, 255, 255, 255),
        }
    }

    fn input() -> PlanInput {
        PlanInput {
            interface_addr: "127.0.0.1".to_owned(),
            target: TargetKind::Directed,
            group: "239.255.255.250".to_owned(),
            unicast_host: String::new(),
            port: "48899".to_owned(),
            source_port: "0".to_owned(),
            listen_ms: 2000,
            sends: 3,
            repeat_ms: 100,
            ttl: 1,
        }
    }

    #[test]
    fn a_directed_probe_goes_to_the_interfaces_broadcast() {
        let probe = plan_probe(&input(), &[lo()], b"hi".to_vec()).unwrap();
        assert_eq!(probe.target, "127.255.255.255:48899".parse().unwrap());
        assert_eq!(probe.source, "127.0.0.1:0".parse().unwrap());
        assert_eq!(probe.repeat_every, Some(Duration::from_millis(100)));
        assert_eq!(probe.interface.as_deref(), Some("lo"));
    }

    #[test]
    fn each_bad_field_is_named() {
        let mut i = input();
        i.interface_addr = "127.0.0.9".to_owned();
        assert!(matches!(
            plan_probe(&i, &[lo()], vec![1]),
            Err(PlanError::Interface(m)) if m.contains("127.0.0.9")
        ));
        let mut i = input();
        i.port = "70000".to_owned();
        assert!(matches!(
            plan_probe(&i, &[lo()], vec![1]),
            Err(PlanError::Target(m)) if m.starts_with("Port:")
        ));
        let mut i = input();
        i.target = TargetKind::Unicast;
        i.unicast_host = "::1".to_owned();
        assert!(matches!(
            plan_probe(&i, &[lo()], vec![1]),
            Err(PlanError::Target(m)) if m.contains("IPv4 interface")
        ));
        assert!(matches!(
            wake_on_lan_probe("00:11", &[lo()], "127.0.0.1"),
            Err(PlanError::Mac(_))
        ));
    }
}
