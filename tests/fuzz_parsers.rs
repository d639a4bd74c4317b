//! Random input for every parser of typed text (and of reply bytes from discovery presets):
//! none may panic, and what they accept has the shape they promise. A fixed budget of cases
//! per parser keeps the whole file to a few seconds; nothing here touches the network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use proptest::test_runner::Config;
use sockpit::cli::{parse_ms, parse_secs, parse_tcp_port, split_host_port};
use sockpit::codec::TextEncoding;
use sockpit::codec::escape::{Segment, parse_escapes};
use sockpit::codec::hex::{format_hex, parse_hex};
use sockpit::engine::broadcast::plan::parse_v4_group;
use sockpit::engine::broadcast::presets::{Preset, parse_mac};
use sockpit::iptools::dns::DnsQuery;
use sockpit::iptools::neighbours::{parse_ip_neigh, parse_proc_arp};
use sockpit::iptools::ports::parse_ports;
use sockpit::iptools::sockets::{Proto, parse_proc_net};
use sockpit::iptools::subnet::{
    SPLIT_ROW_LIMIT, SubnetInfo, parse_address_with_prefix, parse_mask, parse_net, parse_net_list,
    same_subnet, split_by_count, split_by_prefix, supernet,
};
use sockpit::iptools::sweep::{MAX_TCP_PORTS, parse_sweep_range};
use sockpit::iptools::vendor::Mac;
use sockpit::net::{Host, parse_host, parse_port};

/// Cases per property: enough to reach the corners of these small grammars.
fn config() -> Config {
    Config {
        cases: 3000,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Text from the characters these parsers care about, plus any character at all.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9./:, \\[\\]%a-fA-Fx-]{0,40}",
        "[0-9a-zA-Z._ -]{0,70}",
        "\\PC{0,40}",
        ".{0,20}",
    ]
}

fn v4() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn v6() -> impl Strategy<Value = Ipv6Addr> {
    any::<u128>().prop_map(Ipv6Addr::from)
}

/// Each byte as two lower-case hex digits after `prefix`, run together.
fn each_byte(bytes: &[u8], prefix: &str) -> String {
    use std::fmt::Write as _;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{prefix}{b:02x}");
        s
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn subnet_text_never_panics_and_results_are_in_range(text in typed()) {
        if let Ok(a) = parse_address_with_prefix(&text) {
            prop_assert!(a.prefix <= a.max_prefix());
            let info = SubnetInfo::new(a);
            let bin = info.binary();
            prop_assert_eq!(bin.address.len(), usize::from(a.max_prefix()));
            let _ = bin.text(&bin.network);
        }
        let _ = parse_net(&text);
        let _ = parse_mask(&text, true);
        let _ = parse_mask(&text, false);
        if let Ok(nets) = parse_net_list(&text) {
            prop_assert!(!nets.is_empty());
            if let Ok(s) = supernet(&nets) {
                prop_assert!(nets.iter().all(|n| s.contains(n)));
            }
        }
        let _ = same_subnet(&text, "10.0.0.1", &text);
    }

    #[test]
    fn subnet_forms_round_trip(ip in v4(), prefix in 0u8..=32, ip6 in v6(), prefix6 in 0u8..=128) {
        let a = parse_address_with_prefix(&format!("{ip}/{prefix}")).unwrap();
        prop_assert_eq!((a.ip, a.prefix), (IpAddr::V4(ip), prefix));
        let mask = ipnet::Ipv4Net::new(ip, prefix).unwrap().netmask();
        let m = parse_address_with_prefix(&format!("{ip} {mask}")).unwrap();
        prop_assert_eq!(m.prefix, prefix);
        let b = parse_address_with_prefix(&format!("[{ip6}]/{prefix6}")).unwrap();
        prop_assert_eq!((b.ip, b.prefix), (IpAddr::V6(ip6), prefix6));
        let slash = format!("{ip}/");
        prop_assert!(parse_address_with_prefix(&slash).is_err());
    }

    #[test]
    fn splits_stay_inside_their_parent(ip in v4(), prefix in 0u8..=32, count in any::<u64>(), new in 0u8..=40) {
        let net = ipnet::IpNet::new(IpAddr::V4(ip), prefix).unwrap();
        for split in [split_by_count(net, count), split_by_prefix(net, new)].into_iter().flatten() {
            prop_assert!(split.subnets.len() <= SPLIT_ROW_LIMIT);
            prop_assert!(split.subnets.iter().all(|s| split.parent.contains(s)));
        }
    }

    #[test]
    fn host_port_and_host_names(text in typed(), ip in v4(), ip6 in v6(), port in 1u16..) {
        if let Ok((host, p)) = split_host_port(&text) {
            prop_assert!(p >= 1);
            prop_assert!(parse_host(&host).is_ok(), "{} gave host {}", text, host);
        }
        prop_assert_eq!(
            split_host_port(&format!("{ip}:{port}")).unwrap(),
            (ip.to_string(), port)
        );
        prop_assert_eq!(
            split_host_port(&format!("[{ip6}]:{port}")).unwrap(),
            (ip6.to_string(), port)
        );
        match parse_host(&text) {
            Ok(Host::Name(name)) => {
                prop_assert!(name.is_ascii());
                prop_assert!(name.trim_end_matches('.').len() <= 253);
                prop_assert_eq!(parse_host(&name), Ok(Host::Name(name.clone())));
            }
            Ok(Host::Ip(addr)) => prop_assert_eq!(parse_host(&addr.to_string()), Ok(Host::Ip(addr))),
            Ok(Host::ScopedV6 { .. }) => {}
            Err(e) => prop_assert!(e.to_string().len() < 400, "{}", e),
        }
        let _ = DnsQuery::parse(&text);
    }

    #[test]
    fn international_names_become_ascii(label in "[a-zäöüßéçñ一-龥]{1,20}", tld in "[a-z]{2,6}") {
        if let Ok(Host::Name(name)) = parse_host(&format!("{label}.{tld}")) {
            prop_assert!(name.is_ascii());
        }
    }

    #[test]
    fn macs_parse_only_in_the_usual_forms(text in "[0-9a-fA-F:.\\- ]{0,24}", bytes in any::<[u8; 6]>()) {
        if let Ok(mac) = parse_mac(&text) {
            let digits: String = text.chars().filter(char::is_ascii_hexdigit).collect();
            prop_assert_eq!(digits.len(), 12);
            let hex = each_byte(&mac, "");
            prop_assert_eq!(digits.to_ascii_lowercase(), hex);
        }
        let colon = Mac(bytes).to_string();
        prop_assert_eq!(parse_mac(&colon), Ok(bytes));
        prop_assert_eq!(parse_mac(&colon.replace(':', "-")), Ok(bytes));
        let plain = colon.replace(':', "");
        prop_assert_eq!(parse_mac(&plain), Ok(bytes));
        let cisco = format!("{}.{}.{}", &plain[..4], &plain[4..8], &plain[8..]);
        prop_assert_eq!(parse_mac(&cisco), Ok(bytes));
        prop_assert_eq!(colon.parse::<Mac>(), Ok(Mac(bytes)));
        let _ = text.parse::<Mac>();
    }

    #[test]
    fn any_text_as_a_mac(text in typed()) {
        if let Err(e) = parse_mac(&text) {
            prop_assert!(e.len() < 300, "{}", e);
        }
    }

    #[test]
    fn hex_round_trips_and_errors_point_inside(bytes in proptest::collection::vec(any::<u8>(), 0..200), text in typed()) {
        prop_assert_eq!(parse_hex(&format_hex(&bytes)), Ok(bytes.clone()));
        let compact = each_byte(&bytes, "");
        prop_assert_eq!(parse_hex(&compact), Ok(bytes.clone()));
        let prefixed: Vec<String> = bytes.iter().map(|b| format!("0x{b:02X}")).collect();
        prop_assert_eq!(parse_hex(&prefixed.join(",")), Ok(bytes));
        if let Err(e) = parse_hex(&text) {
            prop_assert!(e.position() >= 1 && e.position() <= text.chars().count());
            prop_assert!(e.to_string().len() < 200, "{}", e);
        }
    }

    #[test]
    fn escapes_never_panic_and_plain_text_is_kept(text in typed(), plain in "[^\\\\]{0,40}", bytes in proptest::collection::vec(any::<u8>(), 0..50)) {
        let _ = parse_escapes(&text);
        let segments = parse_escapes(&plain).unwrap();
        if plain.is_empty() {
            prop_assert!(segments.is_empty());
        } else {
            prop_assert_eq!(segments, vec![Segment::Text(plain.clone())]);
        }
        let escaped = each_byte(&bytes, "\\x");
        let got: Vec<Segment> = parse_escapes(&escaped).unwrap();
        prop_assert_eq!(got, bytes.iter().map(|b| Segment::Byte(*b)).collect::<Vec<_>>());
    }

    #[test]
    fn ports_and_port_lists(text in typed(), port in any::<u16>()) {
        if let Ok(p) = parse_port(&text, true) {
            prop_assert_eq!(text.trim().parse::<u16>().ok(), Some(p));
        }
        prop_assert_eq!(parse_port(&port.to_string(), true), Ok(port));
        prop_assert_eq!(parse_port(&port.to_string(), false).is_ok(), port != 0);
        prop_assert_eq!(parse_tcp_port(&port.to_string()).is_ok(), port != 0);
        if let Ok(ports) = parse_ports(&text) {
            prop_assert!(ports.len() <= MAX_TCP_PORTS);
            prop_assert!(!ports.contains(&0));
            let mut unique = ports.clone();
            unique.sort_unstable();
            unique.dedup();
            prop_assert_eq!(unique.len(), ports.len());
        }
    }

    #[test]
    fn sweep_ranges_and_multicast_groups(text in typed(), ip in v4()) {
        let _ = parse_sweep_range(&text);
        let range = format!("{ip}/24");
        prop_assert!(parse_sweep_range(&range).is_ok());
        if let Ok(group) = parse_v4_group(&text) {
            prop_assert!(group.is_multicast());
        }
        prop_assert_eq!(parse_v4_group(&ip.to_string()).is_ok(), ip.is_multicast());
    }

    #[test]
    fn times_are_finite_and_bounded(text in typed(), secs in 0.001f64..=31_536_000.0, ms in 0u64..=31_536_000_000) {
        if let Ok(v) = parse_secs(&text) {
            prop_assert!(v.is_finite() && (0.001..=31_536_000.0).contains(&v));
        }
        prop_assert_eq!(parse_secs(&secs.to_string()), Ok(secs));
        if let Ok(v) = parse_ms(&text) {
            prop_assert!(v <= 31_536_000_000);
        }
        prop_assert_eq!(parse_ms(&ms.to_string()), Ok(ms));
        let _ = TextEncoding::from_name(&text);
    }

    #[test]
    fn discovery_replies_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for preset in Preset::ALL {
            let _ = preset.parse(&bytes);
        }
    }

    #[test]
    fn mndp_records_of_any_length(records in proptest::collection::vec((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..40), any::<u16>()), 0..8)) {
        let mut reply = vec![0, 0, 0, 0];
        for (kind, value, claimed) in &records {
            reply.extend_from_slice(&kind.to_be_bytes());
            reply.extend_from_slice(&claimed.to_be_bytes());
            reply.extend_from_slice(value);
        }
        let _ = Preset::Mndp.parse(&reply);
    }

    #[test]
    fn system_tables_of_any_text(lines in proptest::collection::vec("[0-9A-Fa-f:. x]{0,80}|.{0,40}", 0..6)) {
        let text = lines.join("\n");
        let _ = parse_proc_arp(&text);
        let _ = parse_ip_neigh(&text);
        let _ = parse_proc_net(&text, Proto::Tcp);
        let _ = parse_proc_net(&text, Proto::Udp);
        let _ = sockpit::net::udp::drops_for_inode(&text, 1);
    }

    #[test]
    fn expect_and_rule_matches_of_any_text(text in typed(), prefix in "(exact|prefix|contains|regex|hex|):?", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let pattern = format!("{prefix}{text}");
        if let Ok(p) = sockpit::engine::session::rules::Pattern::parse(1, &pattern, TextEncoding::Utf8) {
            let _ = p.matches(&bytes);
        }
    }

    #[test]
    fn layouts_of_any_json(text in "\\PC{0,200}", offset in any::<usize>(), length in any::<usize>(), kind in "(U8|U16|U32|U64|I8|I16|I32|I64|F32|F64|Bytes|Text|X)", bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        use sockpit::codec::protocol::{Layout, Layouts};
        let _ = Layouts::from_json(&text);
        // Any numbers in a well-formed file: refused with a reason, or decoded without panic.
        let json = format!(r#"{{"name": "L", "fields": [{{"name": "f", "offset": {offset}, "length": {length}, "kind": "{kind}", "order": "Little"}}]}}"#);
        if let Ok(layout) = Layout::from_json(&json) {
            let d = layout.decode(&bytes);
            for f in d.all_fields() {
                prop_assert!(f.range.start <= f.range.end);
            }
        }
    }

    #[test]
    fn protocol_decoders_of_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        for p in sockpit::codec::protocol::Protocol::ALL {
            let d = p.decode(&bytes);
            for f in d.all_fields() {
                prop_assert!(f.range.end <= bytes.len().max(f.range.start), "{p:?} {f:?}");
            }
        }
    }

    #[test]
    fn mock_plans_of_any_conversation(turns in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..12)), 0..40)) {
        let mut b = sockpit::engine::session::mock::MockBuilder::default();
        for (request, bytes) in &turns {
            if *request { b.request(bytes) } else { b.answer(bytes) }
        }
        let plan = b.finish(false);
        // Every rule it makes is one the rules engine takes.
        sockpit::engine::session::rules::RuleSet::build(&plan.rules, TextEncoding::Utf8).unwrap();
        prop_assert!(plan.rules.rules.len() <= plan.exchanges);
    }
}
