//! This machine's interfaces as the UDP and Broadcast tabs need them: name, index, and each
//! IPv4 network with its computed broadcast address (netdev for the list, ipnet for the math).

use rust_i18n::t;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// One IPv4 address of an interface, with its network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceV4 {
    pub name: String,
    pub index: u32,
    pub up: bool,
    pub loopback: bool,
    pub addr: Ipv4Addr,
    pub prefix: u8,
    /// The subnet's directed broadcast address (`addr | !mask`).
    pub broadcast: Ipv4Addr,
}

impl InterfaceV4 {
    pub fn from_net(name: &str, index: u32, up: bool, loopback: bool, net: ipnet::Ipv4Net) -> Self {
        Self {
            name: name.to_owned(),
            index,
            up,
            loopback,
            addr: net.addr(),
            prefix: net.prefix_len(),
            broadcast: net.broadcast(),
        }
    }

    /// `eth0 192.168.1.12/24 (broadcast 192.168.1.255)`.
    pub fn describe(&self) -> String {
        let key = if self.up {
            "net.iface.describe"
        } else {
            "net.iface.describe_down"
        };
        t!(
            key,
            name = self.name,
            addr = self.addr,
            prefix = self.prefix,
            broadcast = self.broadcast
        )
        .into_owned()
    }
}

/// One interface with what multicast needs: its index and addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    pub index: u32,
    pub up: bool,
    pub v4: Vec<InterfaceV4>,
    pub v6: Vec<Ipv6Addr>,
}

use netdev::ipnet;

/// Every interface of this machine as netdev reads it, in a stable order: by name (then
/// index), each interface's addresses by address. The OS's own order changes from one read
/// to the next, and a picker whose rows move under the pointer sends on the wrong network.
pub fn netdev_interfaces() -> Vec<netdev::Interface> {
    let mut all = netdev::get_interfaces();
    all.sort_by(|a, b| a.name.cmp(&b.name).then(a.index.cmp(&b.index)));
    for i in &mut all {
        i.ipv4.sort_by_key(|n| (n.addr(), n.prefix_len()));
        i.ipv6.sort_by_key(|n| (n.addr(), n.prefix_len()));
    }
    all
}

/// Every interface of this machine, in the stable order of [`netdev_interfaces`].
pub fn interfaces() -> Vec<InterfaceInfo> {
    netdev_interfaces()
        .into_iter()
        .map(|i| {
            let up = i.is_up();
            let loopback = i.is_loopback();
            InterfaceInfo {
                v4: i
                    .ipv4
                    .iter()
                    .map(|n| InterfaceV4::from_net(&i.name, i.index, up, loopback, *n))
                    .collect(),
                v6: i.ipv6.iter().map(ipnet::Ipv6Net::addr).collect(),
                name: i.name,
                index: i.index,
                up,
            }
        })
        .collect()
}

/// Every IPv4 address of every interface, each with its broadcast address.
pub fn ipv4_interfaces() -> Vec<InterfaceV4> {
    interfaces().into_iter().flat_map(|i| i.v4).collect()
}

/// This machine's interfaces for the pickers, read at most every 2 s: interfaces come and go
/// while the app runs, but reading them every frame would cost a netlink round trip per frame.
#[derive(Debug, Default)]
pub struct InterfaceCache {
    list: Vec<InterfaceInfo>,
    read_at: Option<Instant>,
}

impl InterfaceCache {
    const MAX_AGE: Duration = Duration::from_secs(2);

    pub fn all(&mut self) -> &[InterfaceInfo] {
        if self.read_at.is_none_or(|t| t.elapsed() > Self::MAX_AGE) {
            self.list = interfaces();
            self.read_at = Some(Instant::now());
        }
        &self.list
    }

    /// Every IPv4 address with its interface and broadcast address.
    pub fn ipv4(&mut self) -> Vec<InterfaceV4> {
        self.all()
            .iter()
            .flat_map(|i| i.v4.iter().cloned())
            .collect()
    }

    /// `(interface name, address)` for every address, IPv4 first.
    pub fn addresses(&mut self) -> Vec<(String, IpAddr)> {
        let all = self.all();
        let v4 = all
            .iter()
            .flat_map(|i| i.v4.iter().map(|v| (i.name.clone(), IpAddr::V4(v.addr))));
        let v6 = all
            .iter()
            .flat_map(|i| i.v6.iter().map(|v| (i.name.clone(), IpAddr::V6(*v))));
        v4.chain(v6).collect()
    }

    /// The interface called `name`, if it exists.
    pub fn named(&mut self, name: &str) -> Option<InterfaceInfo> {
        self.all().iter().find(|i| i.name == name).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_is_computed_from_the_prefix() {
        let net: ipnet::Ipv4Net = "192.168.1.12/24".parse().unwrap();
        let i = InterfaceV4::from_net("eth0", 2, true, false, net);
        assert_eq!(i.broadcast, Ipv4Addr::new(192, 168, 1, 255));
        assert_eq!(
            i.describe(),
            "eth0 192.168.1.12/24 (broadcast 192.168.1.255)"
        );
        let net: ipnet::Ipv4Net = "10.1.2.3/12".parse().unwrap();
        let i = InterfaceV4::from_net("eth1", 3, false, false, net);
        assert_eq!(i.broadcast, Ipv4Addr::new(10, 15, 255, 255));
        assert!(i.describe().ends_with(", down)"));
    }

    #[test]
    fn the_cache_lists_loopback_addresses_ipv4_first() {
        let mut cache = InterfaceCache::default();
        let addrs = cache.addresses();
        let lo = addrs
            .iter()
            .position(|(_, ip)| *ip == IpAddr::V4(Ipv4Addr::LOCALHOST))
            .expect("127.0.0.1 listed");
        if let Some(v6) = addrs.iter().position(|(_, ip)| ip.is_ipv6()) {
            assert!(lo < v6, "IPv4 first: {addrs:?}");
        }
        assert!(cache.named(&addrs[lo].0).is_some());
        assert!(cache.ipv4().iter().any(|i| i.addr == Ipv4Addr::LOCALHOST));
    }

    /// UX issue, item 1: every read lists interfaces and addresses in one order.
    #[test]
    fn every_read_lists_interfaces_in_one_sorted_order() {
        let key = |list: &[InterfaceInfo]| -> Vec<(String, Vec<Ipv4Addr>, Vec<Ipv6Addr>)> {
            list.iter()
                .map(|i| {
                    let v4 = i.v4.iter().map(|v| v.addr).collect();
                    (i.name.clone(), v4, i.v6.clone())
                })
                .collect()
        };
        let first = key(&interfaces());
        let mut names: Vec<&String> = first.iter().map(|(n, _, _)| n).collect();
        let in_order = names.clone();
        names.sort();
        assert_eq!(in_order, names, "by name");
        for (_, v4, v6) in &first {
            assert!(
                v4.is_sorted() && v6.is_sorted(),
                "addresses sorted: {first:?}"
            );
        }
        for _ in 0..50 {
            assert_eq!(key(&interfaces()), first);
        }
    }

    #[test]
    fn loopback_interface_is_listed_with_its_broadcast() {
        let lo = ipv4_interfaces()
            .into_iter()
            .find(|i| i.addr == Ipv4Addr::LOCALHOST)
            .expect("lo has 127.0.0.1");
        assert!(lo.loopback);
        assert_eq!(lo.prefix, 8);
        assert_eq!(lo.broadcast, Ipv4Addr::new(127, 255, 255, 255));
    }
}
