//! This machine's interfaces as the IP Tools tab lists them (read with netdev).

use std::net::{IpAddr, Ipv4Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::vendor::Mac;

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub up: bool,
    pub loopback: bool,
    pub mac: Option<Mac>,
    pub ipv4: Vec<Ipv4Net>,
    pub ipv6: Vec<Ipv6Net>,
    pub gateway: Vec<IpAddr>,
    pub mtu: Option<u32>,
}

/// Every interface of this machine, in a stable order (by name, addresses sorted).
pub fn list() -> Vec<InterfaceInfo> {
    crate::net::iface::netdev_interfaces()
        .into_iter()
        .map(|i| InterfaceInfo {
            up: i.is_up(),
            loopback: i.is_loopback(),
            mac: i.mac_addr.map(|m| Mac(m.octets())).filter(|m| !m.is_zero()),
            gateway: i
                .gateway
                .as_ref()
                .map(|g| {
                    g.ipv4
                        .iter()
                        .map(|a| IpAddr::V4(*a))
                        .chain(g.ipv6.iter().map(|a| IpAddr::V6(*a)))
                        .collect()
                })
                .unwrap_or_default(),
            mtu: i.mtu,
            ipv4: i.ipv4,
            ipv6: i.ipv6,
            name: i.name,
        })
        .collect()
}

/// This machine's IPv4 addresses inside `net`, and the gateways of interfaces on it.
pub fn local_context(net: Ipv4Net) -> (Vec<Ipv4Addr>, Vec<Ipv4Addr>) {
    let mut own = Vec::new();
    let mut gateways = Vec::new();
    for i in list() {
        for a in &i.ipv4 {
            if net.contains(&a.addr()) {
                own.push(a.addr());
            }
        }
        for g in &i.gateway {
            if let IpAddr::V4(g) = g
                && net.contains(g)
            {
                gateways.push(*g);
            }
        }
    }
    (own, gateways)
}
