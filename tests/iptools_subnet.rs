//! Subnet calculator, classification, same-subnet, split and supernet, table-driven.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use sockpit::iptools::classify::{Ipv4Class, V4Kind, V6Kind, v4_special};
use sockpit::iptools::subnet::{
    MaskForm, SubnetError, SubnetInfo, V4Info, nets_as_table, parse_address_with_prefix,
    parse_net_list, same_subnet, split_by_count, split_by_prefix, supernet,
};

fn v4(text: &str) -> V4Info {
    match SubnetInfo::parse(text).unwrap_or_else(|e| panic!("{text}: {e}")) {
        SubnetInfo::V4(i) => i,
        SubnetInfo::V6(_) => panic!("{text} parsed as IPv6"),
    }
}

fn ip4(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// input, network, broadcast ("-" for none), netmask, wildcard, prefix, first, last, hosts.
type V4Case = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u8,
    &'static str,
    &'static str,
    u64,
);

const V4_CASES: &[V4Case] = &[
    (
        "192.168.1.12/24",
        "192.168.1.0",
        "192.168.1.255",
        "255.255.255.0",
        "0.0.0.255",
        24,
        "192.168.1.1",
        "192.168.1.254",
        254,
    ),
    (
        "192.168.1.12 255.255.255.0",
        "192.168.1.0",
        "192.168.1.255",
        "255.255.255.0",
        "0.0.0.255",
        24,
        "192.168.1.1",
        "192.168.1.254",
        254,
    ),
    (
        "192.168.1.12 0.0.0.255",
        "192.168.1.0",
        "192.168.1.255",
        "255.255.255.0",
        "0.0.0.255",
        24,
        "192.168.1.1",
        "192.168.1.254",
        254,
    ),
    (
        "10.1.2.3/255.255.240.0",
        "10.1.0.0",
        "10.1.15.255",
        "255.255.240.0",
        "0.0.15.255",
        20,
        "10.1.0.1",
        "10.1.15.254",
        4094,
    ),
    (
        "172.16.5.4/30",
        "172.16.5.4",
        "172.16.5.7",
        "255.255.255.252",
        "0.0.0.3",
        30,
        "172.16.5.5",
        "172.16.5.6",
        2,
    ),
    (
        "10.0.0.1/31",
        "10.0.0.0",
        "-",
        "255.255.255.254",
        "0.0.0.1",
        31,
        "10.0.0.0",
        "10.0.0.1",
        2,
    ),
    (
        "203.0.113.9/32",
        "203.0.113.9",
        "-",
        "255.255.255.255",
        "0.0.0.0",
        32,
        "203.0.113.9",
        "203.0.113.9",
        1,
    ),
    (
        "203.0.113.9",
        "203.0.113.9",
        "-",
        "255.255.255.255",
        "0.0.0.0",
        32,
        "203.0.113.9",
        "203.0.113.9",
        1,
    ),
    (
        "8.8.8.8/0",
        "0.0.0.0",
        "255.255.255.255",
        "0.0.0.0",
        "255.255.255.255",
        0,
        "0.0.0.1",
        "255.255.255.254",
        4_294_967_294,
    ),
    (
        "130.5.6.7/16",
        "130.5.0.0",
        "130.5.255.255",
        "255.255.0.0",
        "0.0.255.255",
        16,
        "130.5.0.1",
        "130.5.255.254",
        65534,
    ),
];

#[test]
fn ipv4_fields() {
    for &(input, network, broadcast, netmask, wildcard, prefix, first, last, hosts) in V4_CASES {
        let i = v4(input);
        assert_eq!(i.network, ip4(network), "{input} network");
        let want_bcast = (broadcast != "-").then(|| ip4(broadcast));
        assert_eq!(i.broadcast, want_bcast, "{input} broadcast");
        assert_eq!(i.netmask, ip4(netmask), "{input} netmask");
        assert_eq!(i.wildcard, ip4(wildcard), "{input} wildcard");
        assert_eq!(i.prefix, prefix, "{input} prefix");
        assert_eq!(i.first_host, ip4(first), "{input} first");
        assert_eq!(i.last_host, ip4(last), "{input} last");
        assert_eq!(i.host_count, hosts, "{input} hosts");
        assert_eq!(
            i.address_count,
            1u64 << (32 - u32::from(prefix)),
            "{input} addresses"
        );
    }
}

#[test]
fn mask_forms_are_recognised() {
    let cases = [
        ("192.168.1.12/24", MaskForm::Prefix),
        ("192.168.1.12 255.255.255.0", MaskForm::Netmask),
        ("192.168.1.12 0.0.0.255", MaskForm::Wildcard),
        ("192.168.1.12", MaskForm::None),
        ("192.168.1.12 255.255.255.255", MaskForm::Netmask),
    ];
    for (input, form) in cases {
        assert_eq!(
            parse_address_with_prefix(input).unwrap().form,
            form,
            "{input}"
        );
    }
}

#[test]
fn integer_and_hex() {
    let i = v4("192.168.1.12/24");
    assert_eq!(i.as_integer, 3_232_235_788);
    assert_eq!(i.as_hex, "0xC0A8010C");
    let i = v4("255.255.255.255/32");
    assert_eq!(i.as_integer, u32::MAX);
    assert_eq!(i.as_hex, "0xFFFFFFFF");
}

#[test]
fn rfc3021_notes() {
    assert!(v4("10.0.0.1/31").host_note.contains("RFC 3021"));
    assert!(v4("10.0.0.1/32").host_note.contains("single host"));
    assert!(v4("10.0.0.1/24").host_note.contains("256 addresses"));
}

#[test]
fn binary_view_reads_address_and_mask_equals_network() {
    let b = SubnetInfo::parse("192.168.1.12/24").unwrap().binary();
    assert_eq!(b.text(&b.address), "11000000.10101000.00000001.00001100");
    assert_eq!(b.text(&b.mask), "11111111.11111111.11111111.00000000");
    assert_eq!(b.text(&b.network), "11000000.10101000.00000001.00000000");
    assert_eq!(b.network_ip, IpAddr::from([192, 168, 1, 0]));
    // Moving the boundary (the slider) changes mask and network.
    let b = SubnetInfo::parse("192.168.1.12/28").unwrap().binary();
    assert_eq!(b.text(&b.mask), "11111111.11111111.11111111.11110000");
    assert_eq!(b.text(&b.network), "11000000.10101000.00000001.00000000");
    let b = SubnetInfo::parse("192.168.1.12/30").unwrap().binary();
    assert_eq!(b.text(&b.network), "11000000.10101000.00000001.00001100");
    let b = SubnetInfo::parse("2001:db8::1/16").unwrap().binary();
    assert_eq!(b.address.len(), 128);
    assert!(
        b.text(&b.network)
            .starts_with("0010000000000001:0000000000000000:")
    );
    assert_eq!(b.mask.iter().filter(|m| **m).count(), 16);
}

#[test]
fn classes_at_their_boundaries() {
    let cases = [
        ("0.0.0.0", Ipv4Class::A),
        ("127.255.255.255", Ipv4Class::A),
        ("128.0.0.0", Ipv4Class::B),
        ("191.255.255.255", Ipv4Class::B),
        ("192.0.0.0", Ipv4Class::C),
        ("223.255.255.255", Ipv4Class::C),
        ("224.0.0.0", Ipv4Class::D),
        ("239.255.255.255", Ipv4Class::D),
        ("240.0.0.0", Ipv4Class::E),
        ("255.255.255.255", Ipv4Class::E),
    ];
    for (ip, class) in cases {
        assert_eq!(Ipv4Class::of(ip4(ip)), class, "{ip}");
    }
    assert_eq!(Ipv4Class::C.default_prefix(), Some(24));
    assert!(Ipv4Class::C.describe().contains("254 hosts"));
    assert!(Ipv4Class::A.describe().contains("leading bits 0,"));
    assert!(Ipv4Class::B.describe().contains("65,534"));
    assert_eq!(Ipv4Class::D.default_prefix(), None);
}

#[test]
fn every_special_purpose_range() {
    let cases = [
        ("10.0.0.0", V4Kind::Private),
        ("10.255.255.255", V4Kind::Private),
        ("172.16.0.0", V4Kind::Private),
        ("172.31.255.255", V4Kind::Private),
        ("172.32.0.0", V4Kind::Public),
        ("172.15.255.255", V4Kind::Public),
        ("192.168.1.12", V4Kind::Private),
        ("192.169.0.0", V4Kind::Public),
        ("127.0.0.1", V4Kind::Loopback),
        ("169.254.10.1", V4Kind::LinkLocal),
        ("100.64.0.1", V4Kind::SharedAddressSpace),
        ("100.127.255.255", V4Kind::SharedAddressSpace),
        ("100.128.0.0", V4Kind::Public),
        ("224.0.0.251", V4Kind::Multicast),
        ("239.255.255.250", V4Kind::Multicast),
        ("192.0.2.7", V4Kind::Documentation),
        ("198.51.100.7", V4Kind::Documentation),
        ("203.0.113.7", V4Kind::Documentation),
        ("198.18.0.1", V4Kind::Benchmarking),
        ("198.19.255.255", V4Kind::Benchmarking),
        ("240.0.0.1", V4Kind::Reserved),
        ("255.255.255.254", V4Kind::Reserved),
        ("255.255.255.255", V4Kind::LimitedBroadcast),
        ("0.0.0.0", V4Kind::ThisNetwork),
        ("192.0.0.8", V4Kind::IetfProtocol),
        ("8.8.8.8", V4Kind::Public),
        ("1.1.1.1", V4Kind::Public),
    ];
    for (ip, kind) in cases {
        assert_eq!(v4_special(ip4(ip)).kind, kind, "{ip}");
    }
    assert_eq!(
        v4_special(ip4("203.0.113.7")).label.to_string(),
        "Documentation (TEST-NET-3)"
    );
    assert_eq!(
        v4_special(ip4("192.0.2.7")).label.to_string(),
        "Documentation (TEST-NET-1)"
    );
    assert_eq!(
        v4_special(ip4("198.51.100.7")).label.to_string(),
        "Documentation (TEST-NET-2)"
    );
    assert_eq!(v4_special(ip4("172.20.0.1")).reference, "RFC 1918");
}

#[test]
fn ipv6_fields_and_types() {
    let SubnetInfo::V6(i) = SubnetInfo::parse("2001:db8::1/64").unwrap() else {
        panic!("not v6")
    };
    assert_eq!(i.network, "2001:db8::".parse::<Ipv6Addr>().unwrap());
    assert_eq!(
        i.last,
        "2001:db8::ffff:ffff:ffff:ffff".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        i.netmask,
        "ffff:ffff:ffff:ffff::".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(i.expanded, "2001:0db8:0000:0000:0000:0000:0000:0001");
    assert_eq!(i.compressed, "2001:db8::1");
    assert_eq!(i.address_count, Some(1u128 << 64));
    assert_eq!(i.kind, V6Kind::Documentation);
    assert!(i.count_text().starts_with("2^64 = 18446744073709551616"));

    let SubnetInfo::V6(zero) = SubnetInfo::parse("::/0").unwrap() else {
        panic!("not v6")
    };
    assert_eq!(zero.address_count, None);
    assert!(zero.count_text().starts_with("2^128"));
    let SubnetInfo::V6(host) = SubnetInfo::parse("[fe80::1]").unwrap() else {
        panic!("not v6")
    };
    assert_eq!(host.prefix, 128);
    assert_eq!(host.address_count, Some(1));

    let kinds = [
        ("2606:4700::1111", V6Kind::Global),
        ("fd12:3456::1", V6Kind::UniqueLocal),
        ("fe80::1", V6Kind::LinkLocal),
        ("ff02::1", V6Kind::Multicast),
        ("::ffff:192.0.2.1", V6Kind::Ipv4Mapped),
        ("::1", V6Kind::Loopback),
        ("::", V6Kind::Unspecified),
        ("2001:db8:1::5", V6Kind::Documentation),
    ];
    for (ip, kind) in kinds {
        assert_eq!(V6Kind::of(ip.parse().unwrap()), kind, "{ip}");
    }
}

#[test]
fn invalid_input_says_what_is_wrong() {
    let cases: [(&str, &str); 9] = [
        ("", "Type an address"),
        ("192.168.1.300/24", "is not an IPv4 or IPv6 address"),
        ("hello", "\"hello\" is not an IPv4 or IPv6 address"),
        ("192.168.1.1/33", "use a number 0–32"),
        ("2001:db8::/129", "use a number 0–128"),
        ("192.168.1.1 255.0.255.0", "neither a netmask"),
        ("2001:db8::1 ffff::", "IPv6 has no netmask"),
        ("1.2.3.4/24/8", "Too many parts"),
        ("1.2.3.4/x", "\"x\" is not valid"),
    ];
    for (input, message) in cases {
        let e = SubnetInfo::parse(input).unwrap_err().to_string();
        assert!(e.contains(message), "{input}: {e}");
    }
}

#[test]
fn same_subnet_cases() {
    let r = same_subnet("192.168.1.12", "192.168.1.200", "255.255.255.0").unwrap();
    assert!(r.same);
    assert_eq!(r.a_network, IpAddr::from([192, 168, 1, 0]));
    assert_eq!(r.b_network, IpAddr::from([192, 168, 1, 0]));
    assert!(r.meaning().contains("directly"));
    assert_eq!(r.mask_text(), "255.255.255.0");

    let r = same_subnet("192.168.1.12", "192.168.2.12", "/24").unwrap();
    assert!(!r.same);
    assert_eq!(r.b_network, IpAddr::from([192, 168, 2, 0]));
    assert!(r.meaning().contains("gateway"));

    let r = same_subnet("192.168.1.12", "192.168.2.12", "16").unwrap();
    assert!(r.same);
    let r = same_subnet("10.0.0.0", "10.0.0.1", "31").unwrap();
    assert!(r.same);
    let r = same_subnet("10.0.0.1", "10.0.0.2", "31").unwrap();
    assert!(!r.same);
    let r = same_subnet("10.0.0.1", "10.0.0.1", "0.0.0.0").unwrap();
    assert!(r.same, "wildcard 0.0.0.0 is read as netmask /0");
    let r = same_subnet("2001:db8::1", "2001:db8::ffff", "64").unwrap();
    assert!(r.same);
    assert_eq!(r.mask_text(), "/64");
    let r = same_subnet("2001:db8::1", "2001:db8:1::1", "64").unwrap();
    assert!(!r.same);
    assert!(matches!(
        same_subnet("10.0.0.1", "::1", "8"),
        Err(SubnetError::MixedFamilies(_))
    ));
    assert!(same_subnet("10.0.0.1", "10.0.0.2", "40").is_err());
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().map(|n| n.parse().unwrap()).collect()
}

#[test]
fn split_by_count_and_prefix() {
    let s = split_by_count("192.168.1.0/24".parse().unwrap(), 4).unwrap();
    assert_eq!(s.new_prefix, 26);
    assert_eq!(
        s.subnets,
        nets(&[
            "192.168.1.0/26",
            "192.168.1.64/26",
            "192.168.1.128/26",
            "192.168.1.192/26"
        ])
    );
    assert!(!s.truncated());
    // 3 subnets need 2 bits: 4 subnets.
    let s = split_by_count("10.0.0.0/8".parse().unwrap(), 3).unwrap();
    assert_eq!(s.new_prefix, 10);
    assert_eq!(s.subnets.len(), 4);
    let s = split_by_prefix("10.0.0.0/23".parse().unwrap(), 25).unwrap();
    assert_eq!(
        s.subnets,
        nets(&[
            "10.0.0.0/25",
            "10.0.0.128/25",
            "10.0.1.0/25",
            "10.0.1.128/25"
        ])
    );
    let s = split_by_prefix("2001:db8::/32".parse().unwrap(), 34).unwrap();
    assert_eq!(s.subnets.len(), 4);
    assert_eq!(s.subnets[1], "2001:db8:4000::/34".parse::<IpNet>().unwrap());
    // Huge splits are cut and say so.
    let s = split_by_prefix("10.0.0.0/8".parse().unwrap(), 32).unwrap();
    assert!(s.truncated());
    assert_eq!(s.total, Some(1 << 24));
    assert!(split_by_prefix("10.0.0.0/24".parse().unwrap(), 16).is_err());
    assert!(split_by_prefix("10.0.0.0/24".parse().unwrap(), 33).is_err());
    assert!(split_by_count("10.0.0.0/30".parse().unwrap(), 5).is_err());
    assert!(split_by_count("10.0.0.0/30".parse().unwrap(), 0).is_err());
    // Counts past 2^63 do not overflow.
    let huge = split_by_count("::/0".parse().unwrap(), u64::MAX).unwrap();
    assert_eq!(huge.new_prefix, 64);
    assert!(huge.truncated());
    let table = nets_as_table(&s.subnets[..2]);
    assert!(
        table.starts_with("network\tfirst\tlast\taddresses\n10.0.0.0/32\t10.0.0.0\t10.0.0.0\t1\n")
    );
}

#[test]
fn smallest_common_supernet() {
    let cases: [(&[&str], &str); 5] = [
        (&["192.168.0.0/24", "192.168.1.0/24"], "192.168.0.0/23"),
        (&["192.168.0.0/24", "192.168.3.0/24"], "192.168.0.0/22"),
        (&["10.1.2.0/24"], "10.1.2.0/24"),
        (&["10.0.0.0/8", "11.0.0.0/8"], "10.0.0.0/7"),
        (&["2001:db8::/48", "2001:db8:1::/48"], "2001:db8::/47"),
    ];
    for (input, want) in cases {
        assert_eq!(
            supernet(&nets(input)).unwrap(),
            want.parse::<IpNet>().unwrap(),
            "{input:?}"
        );
    }
    let parsed = parse_net_list("192.168.0.0/24, 192.168.1.0/24\n192.168.2.5/24").unwrap();
    assert_eq!(parsed[2], "192.168.2.0/24".parse::<IpNet>().unwrap());
    assert_eq!(
        supernet(&parsed).unwrap(),
        "192.168.0.0/22".parse::<IpNet>().unwrap()
    );
    assert!(matches!(
        supernet(&nets(&["10.0.0.0/8", "::/0"])),
        Err(SubnetError::MixedFamilies(_))
    ));
    assert!(matches!(
        parse_net_list(" , "),
        Err(SubnetError::NoNetworks)
    ));
    assert!(parse_net_list("10.0.0.0/8, nonsense").is_err());
}

#[test]
fn slashes_and_commas_without_an_address_are_errors_not_panics() {
    for input in ["/", ",", "//", " / , ", "/24", ", /"] {
        assert_eq!(
            parse_address_with_prefix(input),
            Err(SubnetError::Empty),
            "{input:?}"
        );
    }
    for input in ["1.2.3.4/", "1.2.3.4 /", "1.2.3.4//", "1.2.3.4/ ,"] {
        assert!(
            matches!(
                parse_address_with_prefix(input),
                Err(SubnetError::MissingPrefix { max: 32, .. })
            ),
            "{input:?} is not a /32"
        );
    }
    assert!(matches!(
        parse_address_with_prefix("2001:db8::/"),
        Err(SubnetError::MissingPrefix { max: 128, .. })
    ));
    assert_eq!(
        parse_address_with_prefix("1.2.3.4 5.6.7.8/24"),
        Err(SubnetError::TooManyParts)
    );
    // A network list: "/24" after a space belongs to the network before it.
    assert_eq!(
        parse_net_list("192.168.0.0 /24, 192.168.1.0/24").unwrap(),
        vec![
            "192.168.0.0/24".parse::<IpNet>().unwrap(),
            "192.168.1.0/24".parse::<IpNet>().unwrap()
        ]
    );
    assert!(matches!(
        parse_net_list("192.168.0.0 /"),
        Err(SubnetError::MissingPrefix { .. })
    ));
    assert_eq!(parse_net_list(" /"), Err(SubnetError::Empty));
    assert_eq!(parse_net_list(","), Err(SubnetError::NoNetworks));
    // 2^63 subnets fit in a /0 of IPv6 with 63 free bits to spare: no wrong "too many".
    let net: IpNet = "::/65".parse().unwrap();
    assert!(split_by_count(net, 1 << 63).is_ok());
    assert!(split_by_count(net, (1 << 63) + 1).is_err());
}
