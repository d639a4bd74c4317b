//! Route to host against the real kernel. A network namespace made by the test holds two
//! subnets on veth links (10.77.1.0/24 on `d1`, 10.77.2.0/24 on `d2`; their other ends sit in a
//! second namespace, without addresses, only so the links are up), a default gateway in the
//! first, a more specific route through the second, and an IPv6 subnet; `sockpit route` runs
//! inside it (`ip netns exec`) and its JSON is checked. A route request sends no packet, and
//! these addresses exist only inside the namespaces, which are deleted at the end. Also a
//! loopback test that needs no root.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;
use std::process::{Command, Output};

use serde_json::Value;
use sockpit::iptools::route::{Reach, lookup, lookup_host};

/// Runs `ip` with `args`; the error carries its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Namespaces that are deleted (with their links) when dropped, also when the test fails.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for ns in &self.0 {
            if let Err(e) = ip(&["netns", "del", ns]) {
                eprintln!("cleanup: {e}");
            }
        }
    }
}

/// `sockpit route ARGS` inside namespace `ns`.
fn sockpit_route(ns: &str, args: &[&str]) -> Output {
    Command::new("ip")
        .args(["netns", "exec", ns, env!("CARGO_BIN_EXE_sockpit"), "route"])
        .args(args)
        .output()
        .unwrap()
}

/// The JSON answer for `host` inside `ns`; fails the test on a non-zero exit.
fn route_json(ns: &str, host: &str) -> Value {
    let out = sockpit_route(ns, &[host, "--json"]);
    assert!(
        out.status.success(),
        "sockpit route {host} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The table row the answer marks as chosen.
fn chosen_row(v: &Value) -> &Value {
    let i = v["chosen"].as_u64().expect("a chosen row") as usize;
    &v["table"][i]
}

fn build(namespaces: &mut Namespaces, ns: &str) -> Result<bool, String> {
    let peer = format!("{ns}p");
    for name in [ns, peer.as_str()] {
        ip(&["netns", "add", name])?;
        namespaces.0.push(name.to_owned());
    }
    let run = |args: &[&str]| {
        let mut all = vec!["-n", ns];
        all.extend_from_slice(args);
        ip(&all)
    };
    run(&["link", "set", "lo", "up"])?;
    for (dev, addr) in [("d1", "10.77.1.1/24"), ("d2", "10.77.2.1/24")] {
        let other = format!("{dev}p");
        run(&[
            "link", "add", dev, "type", "veth", "peer", "name", &other, "netns", &peer,
        ])?;
        ip(&["-n", &peer, "link", "set", &other, "up"])?;
        run(&["addr", "add", addr, "dev", dev])?;
        run(&["link", "set", dev, "up"])?;
    }
    run(&["route", "add", "default", "via", "10.77.1.254", "dev", "d1"])?;
    run(&[
        "route",
        "add",
        "10.99.0.0/16",
        "via",
        "10.77.2.254",
        "dev",
        "d2",
    ])?;
    // IPv6 may be disabled in the namespace; the IPv6 checks are then skipped with a note.
    Ok(run(&["addr", "add", "2001:db8:77:1::1/64", "dev", "d1", "nodad"]).is_ok())
}

#[test]
fn route_in_a_namespace_with_two_subnets_and_a_gateway() {
    let name = format!("spkrt{}", std::process::id() % 1_000_000);
    let mut ns = Namespaces(Vec::new());
    let v6 = match build(&mut ns, &name) {
        Ok(v6) => v6,
        Err(e) if e.contains("Operation not permitted") || e.contains("Permission denied") => {
            eprintln!(
                "SKIPPED route_in_a_namespace_with_two_subnets_and_a_gateway: creating namespaces needs root ({e})"
            );
            return;
        }
        Err(e) if e.contains("No such file") && e.starts_with("ip netns add") => {
            eprintln!(
                "SKIPPED route_in_a_namespace_with_two_subnets_and_a_gateway: `ip netns` is not available ({e})"
            );
            return;
        }
        Err(e) => panic!("building the namespace failed: {e}"),
    };

    // A host on the first subnet: direct, out of d1, from 10.77.1.1, with the AND shown.
    let v = route_json(&name, "10.77.1.20");
    assert_eq!(v["reach"], "direct", "{v}");
    assert_eq!(v["direct"], true);
    assert_eq!(v["interface"], "d1");
    assert_eq!(v["source"], "10.77.1.1");
    assert_eq!(v["gateway"], Value::Null);
    assert_eq!(v["entry"]["destination"], "10.77.1.0/24");
    assert_eq!(chosen_row(&v)["destination"], "10.77.1.0/24");
    assert_eq!(chosen_row(&v)["interface"], "d1");
    assert_eq!(v["and"]["network"], "10.77.1.0");
    assert_eq!(v["and"]["mask"], "255.255.255.0");
    assert_eq!(
        v["and"]["binary"]["network"],
        "00001010.01001101.00000001.00000000"
    );
    let first = v["explanation"][0].as_str().unwrap();
    assert!(
        first.contains("10.77.1.20 AND 255.255.255.0 = 10.77.1.0, the network of d1"),
        "{first}"
    );
    // The whole main table is there: two subnets, the default route, the /16.
    let table: Vec<&str> = v["table"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["destination"].as_str().unwrap())
        .collect();
    for net in ["0.0.0.0/0", "10.77.1.0/24", "10.77.2.0/24", "10.99.0.0/16"] {
        assert!(table.contains(&net), "{net} missing from {table:?}");
    }
    assert_eq!(table.len(), 4, "{table:?}");

    // A host on the second subnet: direct out of d2, from d2's address.
    let v = route_json(&name, "10.77.2.30");
    assert_eq!(v["reach"], "direct", "{v}");
    assert_eq!(v["interface"], "d2");
    assert_eq!(v["source"], "10.77.2.1");
    assert_eq!(v["and"]["network"], "10.77.2.0");

    // Beyond both subnets: the default route, through the gateway on d1.
    let v = route_json(&name, "198.51.100.7");
    assert_eq!(v["reach"], "gateway", "{v}");
    assert_eq!(v["direct"], false);
    assert_eq!(v["gateway"], "10.77.1.254");
    assert_eq!(v["interface"], "d1");
    assert_eq!(v["source"], "10.77.1.1");
    assert_eq!(chosen_row(&v)["destination"], "0.0.0.0/0");
    assert_eq!(v["and"], Value::Null);
    let first = v["explanation"][0].as_str().unwrap();
    assert!(
        first.contains("sends it to the gateway 10.77.1.254 via d1 (default route 0.0.0.0/0"),
        "{first}"
    );

    // The /16 is longer than the default route, so it wins: gateway on d2.
    let v = route_json(&name, "10.99.3.4");
    assert_eq!(v["reach"], "gateway", "{v}");
    assert_eq!(v["gateway"], "10.77.2.254");
    assert_eq!(v["interface"], "d2");
    assert_eq!(v["source"], "10.77.2.1");
    assert_eq!(chosen_row(&v)["destination"], "10.99.0.0/16");
    let lines: Vec<&str> = v["explanation"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1 shorter prefix(es) also match 10.99.3.4")),
        "{lines:?}"
    );

    // The readable form marks the same row.
    let out = sockpit_route(&name, &["10.99.3.4"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let marked: Vec<&str> = text.lines().filter(|l| l.starts_with("=> ")).collect();
    assert_eq!(marked.len(), 1, "{text}");
    assert!(
        marked[0].starts_with("=> 10.99.0.0/16 via 10.77.2.254 dev d2")
            && marked[0].contains("<- chosen"),
        "{text}"
    );

    // This machine's own address: local, over lo.
    let v = route_json(&name, "10.77.1.1");
    assert_eq!(v["reach"], "local", "{v}");
    assert_eq!(v["interface"], "lo");
    assert_eq!(v["entry"]["kind"], "local");

    // The broadcast address of a subnet.
    let v = route_json(&name, "10.77.2.255");
    assert_eq!(v["reach"], "broadcast", "{v}");
    assert_eq!(v["interface"], "d2");

    if v6 {
        let v = route_json(&name, "2001:db8:77:1::20");
        assert_eq!(v["reach"], "direct", "{v}");
        assert_eq!(v["interface"], "d1");
        assert_eq!(v["source"], "2001:db8:77:1::1");
        assert_eq!(chosen_row(&v)["destination"], "2001:db8:77:1::/64");
        assert_eq!(v["and"]["network"], "2001:db8:77:1::");
        assert!(
            v["explanation"][0]
                .as_str()
                .unwrap()
                .contains("found by NDP"),
            "{v}"
        );
        // No IPv6 default route in the namespace: the kernel says ENETUNREACH.
        let out = sockpit_route(&name, &["2001:db8:ff::1"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{err}");
        assert!(
            err.contains("network unreachable for 2001:db8:ff::1")
                && err.contains("ip route add ::/0 via GATEWAY"),
            "{err}"
        );
    } else {
        eprintln!("NOTE: IPv6 is disabled in the test namespace; its checks were skipped");
    }

    // Without a default route, IPv4 beyond the subnets is unreachable too.
    ip(&["-n", &name, "route", "del", "default"]).unwrap();
    let out = sockpit_route(&name, &["198.51.100.7"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("network unreachable for 198.51.100.7")
            && err.contains("ip route add default"),
        "{err}"
    );
    drop(ns);
}

#[test]
fn loopback_routes_are_local_over_lo() {
    let a = lookup("127.0.0.1".parse().unwrap()).unwrap();
    assert_eq!(a.reach, Reach::Local, "{a:?}");
    assert_eq!(a.interface, "lo");
    assert_eq!(a.source, Some("127.0.0.1".parse().unwrap()));
    assert!(a.gateway.is_none());
    assert!(!a.is_direct());
    assert!(
        a.explanation()[0].starts_with("127.0.0.1 is an address of this machine"),
        "{:?}",
        a.explanation()
    );
    // Another address of 127.0.0.0/8 is local too (the kernel's local table has the /8).
    let b = lookup("127.0.0.53".parse().unwrap()).unwrap();
    assert_eq!(b.reach, Reach::Local);
    assert_eq!(b.interface, "lo");

    let has_v6_loopback = std::fs::read_to_string("/proc/net/if_inet6").is_ok_and(|t| {
        t.lines()
            .any(|l| l.starts_with("00000000000000000000000000000001"))
    });
    if has_v6_loopback {
        let a = lookup("::1".parse().unwrap()).unwrap();
        assert_eq!(a.reach, Reach::Local, "{a:?}");
        assert_eq!(a.interface, "lo");
        assert_eq!(a.source, Some("::1".parse::<IpAddr>().unwrap()));
    } else {
        eprintln!("NOTE: this machine has no ::1 (IPv6 disabled); the ::1 check was skipped");
    }

    // A name is resolved first ("localhost" is in every hosts file).
    let named = lookup_host("localhost").unwrap();
    assert_eq!(named.query, "localhost");
    assert_eq!(named.reach, Reach::Local);

    // Bad input is a usage error (exit 2), with the host checker's sentence.
    let out = Command::new(env!("CARGO_BIN_EXE_sockpit"))
        .args(["route", "300.1.1.1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an IPv4 address"));
}
