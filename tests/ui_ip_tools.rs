//! The IP Tools tab driven by labels, as a user would. Traffic goes to loopback only.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::time::Duration;

use common::{harness, shows, step_until};
use egui_kittest::kittest::Queryable as _;
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::ip_tools::{Section, SweepStatus};

const WAIT: Duration = Duration::from_secs(15);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn ip_tools(section: Section) -> H {
    let mut settings = Settings::default();
    settings.tab = Tab::IpTools;
    settings.ip_tools.section = section;
    settings.ip_tools.calc_input = "10.0.0.1/8".into();
    settings.ip_tools.sweep_reverse_dns = false;
    harness(settings)
}

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

/// Replaces the text of the field labelled `label` with `text`.
fn type_into(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    settle(h);
}

// The calculator only computes: the private addresses below (the issue's own example,
// 192.168.1.12/24, and 10.0.0.0/8 from the tab's table of private ranges) are text on screen,
// and nothing is sent to them.
#[test]
fn calculator_shows_fields_binary_and_classification() {
    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    assert!(shows(&h, "10.0.0.0/8"));
    type_into(&mut h, "Address or network", "192.168.1.12/24");
    assert!(shows(&h, "192.168.1.0/24"), "network");
    assert!(shows(&h, "192.168.1.255"), "broadcast");
    assert!(shows(&h, "255.255.255.0"), "netmask");
    assert!(shows(&h, "0.0.0.255"), "wildcard");
    assert!(shows(&h, "192.168.1.1"), "first host");
    assert!(shows(&h, "192.168.1.254"), "last host");
    assert!(shows(&h, "254 usable hosts (256 addresses)"));
    assert!(shows(&h, "0xC0A8010C"));
    assert!(shows(&h, "3232235788"));
    assert!(shows(&h, "Class C: leading bits 110"));
    assert!(shows(&h, "Private (192.168.0.0/16, RFC 1918)"));
    // The binary rows: address AND mask = network.
    assert!(shows(&h, "11000000.10101000.00000001.00001100"));
    assert!(shows(&h, "11111111.11111111.11111111.00000000"));
    assert!(shows(&h, "11000000.10101000.00000001.00000000"));
    assert!(shows(&h, "→ 192.168.1.0"));
    assert!(!shows(&h, "10.0.0.0/8"), "the old result is replaced");
}

#[test]
fn invalid_input_shows_its_message_and_keeps_the_last_result() {
    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    type_into(&mut h, "Address or network", "192.168.1.300/24");
    assert!(shows(
        &h,
        "Address or network: \"192.168.1.300\" is not an IPv4 or IPv6 address."
    ));
    assert!(shows(&h, "10.0.0.0/8"), "nothing else changes");
    type_into(&mut h, "Address or network", "192.168.1.12/33");
    assert!(shows(&h, "use a number 0–32"));
    type_into(&mut h, "Address or network", "192.168.1.12 255.0.255.0");
    assert!(shows(&h, "neither a netmask"));
    type_into(&mut h, "Address or network", "2001:db8::1/64");
    assert!(!shows(&h, "Address or network: "), "the message goes away");
    assert!(shows(&h, "2001:0db8:0000:0000:0000:0000:0000:0001"));
    assert!(shows(&h, "Documentation (2001:db8::/32)"));
    assert!(shows(&h, "0x20010DB8000000000000000000000001"));
}

#[test]
fn sections_same_subnet_split_and_ports() {
    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    h.get_by_label("Same subnet?").click();
    settle(&mut h);
    assert!(shows(&h, "No: different subnets."));
    assert!(shows(&h, "192.168.2.20 AND 255.255.255.0 = 192.168.2.0"));
    // Both addresses in binary, and both networks.
    assert!(shows(&h, "11000000.10101000.00000010.00010100"));
    assert!(shows(&h, "11000000.10101000.00000010.00000000"));
    assert!(shows(&h, "11000000.10101000.00000001.00000000"));
    type_into(&mut h, "Second address", "192.168.1.99");
    assert!(shows(&h, "Yes: same subnet."));
    assert!(shows(&h, "reach each other directly"));

    h.get_by_label("Split / supernet").click();
    settle(&mut h);
    assert!(shows(&h, "192.168.1.0/24 split into 4 subnets of /26."));
    assert!(shows(&h, "192.168.1.192/26"));
    assert!(shows(&h, "Supernet of 2 network(s): 192.168.0.0/23"));
    h.get_by_label("by prefix").click();
    settle(&mut h);
    type_into(&mut h, "N or prefix", "/x");
    assert!(shows(&h, "Prefix \"x\" is not valid: use a number 0–32."));
    type_into(&mut h, "N or prefix", "/25");
    assert!(shows(&h, "192.168.1.0/24 split into 2 subnets of /25."));
    type_into(
        &mut h,
        "Networks (comma separated)",
        "10.0.0.0/24, nonsense",
    );
    assert!(shows(&h, "\"nonsense\" is not an IPv4 or IPv6 address."));

    h.get_by_label("Port facts").click();
    settle(&mut h);
    assert!(shows(&h, "Modbus/TCP"));
    assert!(shows(&h, "Well-known (0–1023)"));
    type_into(&mut h, "Port number", "70000");
    assert!(shows(&h, "Port number: Port 70000 is out of range"));
    // A port held by this test is reported as in use.
    let holder = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    type_into(&mut h, "Port number", &port.to_string());
    h.get_by_label("Check if free to bind").click();
    settle(&mut h);
    assert!(shows(&h, "TCP IPv4: address 0.0.0.0:"), "bind result shown");
    assert!(shows(&h, "Another program already uses port"));
}

#[test]
fn local_sockets_lists_a_listener_and_filters() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let local = listener.local_addr().unwrap().to_string();
    let mut h = ip_tools(Section::Sockets);
    settle(&mut h);
    type_into(&mut h, "Filter sockets", &local);
    assert!(shows(&h, &local), "the listener's row");
    assert!(shows(&h, "LISTEN"));
    assert!(shows(&h, &format!("{}/", std::process::id())), "owner");
    type_into(&mut h, "Filter sockets", "no-such-socket-anywhere");
    assert!(!shows(&h, &local));
    assert!(shows(&h, "0 of "));
}

#[test]
fn dns_resolves_localhost_off_the_ui_thread() {
    let mut h = ip_tools(Section::Dns);
    settle(&mut h);
    type_into(&mut h, "Name or address", "localhost");
    h.get_by_label("Look up").click();
    step_until(&mut h, "an answer for localhost", WAIT, |h| {
        shows(h, "localhost has ")
    });
    assert!(shows(&h, "127.0.0.1") || shows(&h, "::1"));
    type_into(&mut h, "Name or address", "   ");
    h.get_by_label("Look up").click();
    settle(&mut h);
    assert!(shows(&h, "Name or address: Type a name"));
}

#[test]
fn sweep_sizes_are_checked_before_anything_is_sent() {
    let mut h = ip_tools(Section::Sweep);
    settle(&mut h);
    // Loopback ranges only: even if a check failed, no probe could leave this machine.
    type_into(&mut h, "Range to sweep", "127.0.0.0/8");
    h.get_by_label("Sweep").click();
    settle(&mut h);
    assert!(shows(&h, "sweeps larger than a /16 are refused"));
    assert_eq!(h.state().ip_tools.sweep_status, SweepStatus::Idle);
    type_into(&mut h, "Range to sweep", "127.0.0.0/20");
    h.get_by_label("Sweep").click();
    settle(&mut h);
    assert!(shows(&h, "127.0.0.0/20 has 4096 addresses"));
    assert!(matches!(
        h.state().ip_tools.sweep_status,
        SweepStatus::Confirm(..)
    ));
    h.get_by_label("Don't sweep").click();
    settle(&mut h);
    assert_eq!(h.state().ip_tools.sweep_status, SweepStatus::Idle);
    // A range on none of this machine's links asks first (and this test never confirms).
    let test_net: ipnet::Ipv4Net = "198.51.100.0/24".parse().unwrap();
    assert!(
        sockpit::iptools::interfaces::list()
            .iter()
            .all(|i| i.ipv4.iter().all(|a| !test_net.contains(&a.addr()))),
        "this machine must not be on TEST-NET-2, or clicking Sweep would probe it"
    );
    type_into(&mut h, "Range to sweep", "198.51.100.0/24");
    h.get_by_label("Sweep").click();
    settle(&mut h);
    assert!(shows(
        &h,
        "198.51.100.0/24 is not on any of this machine's links"
    ));
    assert!(shows(&h, "Sweep 198.51.100.0/24 anyway"));
    h.get_by_label("Don't sweep").click();
    settle(&mut h);
    assert_eq!(h.state().ip_tools.sweep_status, SweepStatus::Idle);
    assert!(h.state().ip_tools.sweep_report.is_none());
    type_into(&mut h, "Range to sweep", "2001:db8::/64");
    h.get_by_label("Sweep").click();
    settle(&mut h);
    assert!(shows(&h, "IPv6 subnets hold billions"));
    type_into(&mut h, "Range to sweep", "127.0.0.0/29");
    type_into(&mut h, "TCP ports (optional)", "80, 99999");
    h.get_by_label("Sweep").click();
    settle(&mut h);
    assert!(shows(&h, "TCP ports: Port 99999 is out of range"));
}

#[test]
fn loopback_sweep_draws_the_map_and_offers_the_host() {
    // 127.0.0.3 listens; the loopback interface answers for the whole 127/8.
    let listener = std::net::TcpListener::bind("127.0.0.3:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut h = ip_tools(Section::Sweep);
    settle(&mut h);
    type_into(&mut h, "Range to sweep", "127.0.0.0/29");
    type_into(&mut h, "TCP ports (optional)", &port.to_string());
    h.get_by_label("Sweep").click();
    step_until(&mut h, "the sweep to finish", WAIT, |h| {
        h.state().ip_tools.sweep_status == SweepStatus::Done
    });
    settle(&mut h);
    let report = h.state().ip_tools.sweep_report.clone().unwrap();
    let h3 = report
        .hosts
        .iter()
        .find(|x| x.ip == std::net::Ipv4Addr::new(127, 0, 0, 3))
        .expect("127.0.0.3 answered");
    assert!(
        h3.found_by
            .contains(&sockpit::iptools::sweep::FoundBy::TcpOpen(port)),
        "{h3:?}"
    );
    assert!(shows(&h, &format!("TCP {port} open")));
    assert!(shows(&h, "127.0.0.0/29: "));
    // Clicking the map selects a host and offers it to the TCP Client.
    h.get_by_label("Sweep map").click();
    settle(&mut h);
    h.get_by_label("Open in TCP Client").click();
    settle(&mut h);
    // The app takes the request: the TCP Client tab opens with the host filled in.
    assert_eq!(h.state().tab, sockpit::gui::app::Tab::TcpClient);
    let host: std::net::Ipv4Addr = h
        .state()
        .tcp_client
        .current()
        .settings
        .host
        .parse()
        .unwrap();
    assert!(
        ipnet::Ipv4Net::new(std::net::Ipv4Addr::new(127, 0, 0, 0), 29)
            .unwrap()
            .contains(&host),
        "{host}"
    );
    assert!(h.state_mut().ip_tools.take_open_request().is_none());
}

#[test]
fn every_section_draws_with_every_input_labelled() {
    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    for section in Section::ALL {
        h.get_by_label(&section.title()).click();
        settle(&mut h);
        assert_eq!(h.state().ip_tools.settings.section, section);
        assert!(shows(&h, &format!("IP Tools › {}", section.title())));
        h.check_accessibility();
    }
}

#[test]
fn inputs_survive_a_restart() {
    use eframe::App as _;

    #[derive(Default)]
    struct MemStorage(std::collections::HashMap<String, String>);
    impl eframe::Storage for MemStorage {
        fn get_string(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn set_string(&mut self, key: &str, value: String) {
            self.0.insert(key.to_owned(), value);
        }
        fn remove_string(&mut self, key: &str) {
            self.0.remove(key);
        }
        fn flush(&mut self) {}
    }

    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    type_into(&mut h, "Address or network", "172.16.5.4/30");
    h.get_by_label("Port facts").click();
    settle(&mut h);
    let mut storage = MemStorage::default();
    h.state_mut().save(&mut storage);
    let loaded = Settings::load(Some(&storage));
    assert_eq!(loaded.ip_tools.calc_input, "172.16.5.4/30");
    assert_eq!(loaded.ip_tools.section, Section::Ports);
    let mut h = harness(loaded);
    settle(&mut h);
    assert!(shows(&h, "Modbus/TCP"));
}

#[test]
fn a_running_sweep_can_be_cancelled() {
    let mut h = ip_tools(Section::Sweep);
    settle(&mut h);
    type_into(&mut h, "Range to sweep", "127.0.0.0/22");
    h.get_by_label("Sweep").click();
    step_until(&mut h, "the sweep to run", WAIT, |h| {
        matches!(h.state().ip_tools.sweep_status, SweepStatus::Running { .. })
    });
    h.step();
    h.get_by_label("Cancel sweep").click();
    step_until(&mut h, "the sweep to stop", WAIT, |h| {
        h.state().ip_tools.sweep_status == SweepStatus::Done
    });
    settle(&mut h);
    let report = h.state().ip_tools.sweep_report.clone().unwrap();
    assert!(report.cancelled, "{report:?}");
    assert!(shows(&h, "(cancelled)"));
    assert!(
        h.get_by_label("Sweep").rect().width() > 0.0,
        "Sweep is offered again"
    );
}

/// The button labelled `button` on the same row as the text `row`.
fn button_on_row<'a>(h: &'a H, row: &str, button: &'a str) -> egui_kittest::Node<'a> {
    let y = h.get_by_label(row).rect().center().y;
    h.query_all_by_label(button)
        .find(|b| (b.rect().center().y - y).abs() < 6.0)
        .unwrap_or_else(|| panic!("no {button} button on the row of {row}"))
}

#[test]
fn interfaces_list_loopback_and_feed_the_calculator_and_the_sweep() {
    let mut h = ip_tools(Section::Interfaces);
    settle(&mut h);
    assert!(shows(&h, "127.0.0.1/8"));
    assert!(shows(&h, "mask 255.0.0.0"));
    assert!(shows(&h, "MTU "));
    button_on_row(&h, "127.0.0.1/8", "calculate").click();
    settle(&mut h);
    assert_eq!(h.state().ip_tools.settings.section, Section::Calculator);
    assert_eq!(h.state().ip_tools.settings.calc_input, "127.0.0.1/8");
    assert!(shows(&h, "127.0.0.0/8"));
    assert!(shows(&h, "Loopback (127.0.0.0/8, RFC 1122)"));

    h.get_by_label("Interfaces").click();
    settle(&mut h);
    button_on_row(&h, "127.0.0.1/8", "sweep this subnet").click();
    settle(&mut h);
    assert_eq!(h.state().ip_tools.settings.section, Section::Sweep);
    assert_eq!(h.state().ip_tools.settings.sweep_range, "127.0.0.0/8");
    assert_eq!(
        h.state().ip_tools.sweep_status,
        SweepStatus::Idle,
        "filling the range does not start a sweep"
    );
}

/// Asserts the app is still there and drawing: a panic in a frame would have ended the test.
fn still_draws(h: &mut H) {
    settle(h);
    assert!(shows(h, "IP Tools ›"), "the tab still draws");
}

// Text only: nothing is sent to the private addresses typed below.
#[test]
fn a_lone_slash_or_comma_is_an_inline_error_not_a_crash() {
    let mut h = ip_tools(Section::Calculator);
    settle(&mut h);
    for input in ["/", "//", " / , "] {
        type_into(&mut h, "Address or network", input);
        still_draws(&mut h);
        assert!(
            shows(&h, "Address or network: Type an address"),
            "{input:?} is explained inline"
        );
        assert!(shows(&h, "10.0.0.0/8"), "the last result stays");
    }
    type_into(&mut h, "Address or network", "10.1.2.3/");
    still_draws(&mut h);
    assert!(shows(&h, "Nothing after \"/\""));

    h.get_by_label("Split / supernet").click();
    settle(&mut h);
    type_into(&mut h, "Networks (comma separated)", "192.168.0.0 /");
    still_draws(&mut h);
    assert!(shows(&h, "Nothing after \"/\" in \"192.168.0.0/\""));
    type_into(&mut h, "Networks (comma separated)", "192.168.0.0 /23");
    assert!(shows(&h, "Supernet of 1 network(s): 192.168.0.0/23"));
    type_into(&mut h, "Network to split", ",");
    still_draws(&mut h);
    assert!(shows(&h, "Type an address"));
}

#[test]
fn saved_inputs_of_a_slash_or_comma_start_the_tab_with_inline_errors() {
    let mut settings = Settings::default();
    settings.tab = Tab::IpTools;
    settings.ip_tools.calc_input = "/".into();
    settings.ip_tools.supernet_input = " /".into();
    settings.ip_tools.split_network = ",".into();
    let mut h = harness(settings);
    still_draws(&mut h);
    assert!(shows(&h, "Address or network: Type an address"));
    h.get_by_label("Split / supernet").click();
    still_draws(&mut h);
    assert!(h.query_all_by_label_contains("Type an address").count() >= 2);

    // The tab on its own, from its settings struct, draws a frame too.
    let mut tab_settings = sockpit::gui::tabs::ip_tools::IpToolsSettings::default();
    tab_settings.calc_input = "/".into();
    let mut tab = sockpit::gui::tabs::ip_tools::IpToolsTab::new(
        tab_settings,
        sockpit::engine::worker::no_wake(),
    );
    assert!(tab.calc.is_none());
    assert_eq!(
        tab.calc_error.as_deref(),
        Some("Type an address, e.g. 192.168.1.12/24 or 2001:db8::1/64.")
    );
    let mut single = egui_kittest::Harness::new_ui(move |ui| tab.ui(ui));
    single.run();
    assert!(
        single
            .query_all_by_label_contains("Address or network: Type an address")
            .next()
            .is_some()
    );
}

/// Route to host asks the kernel (nothing is sent): loopback is this machine's own address
/// over `lo`, the table is shown, and a bad host is an inline error with nothing asked.
#[test]
fn route_to_host_explains_loopback_and_rejects_bad_input() {
    let mut h = ip_tools(Section::Route);
    settle(&mut h);
    type_into(&mut h, "Host or address", "127.0.0.1");
    h.get_by_label("Look up route").click();
    step_until(&mut h, "the route answer", WAIT, |h| {
        shows(h, "127.0.0.1: an address of this machine")
    });
    assert!(shows(&h, "Main routing table"), "the table is shown");
    assert!(shows(&h, "lo"), "the interface");
    // Rejected by the host checker before any resolver is asked.
    type_into(&mut h, "Host or address", "bad host!");
    h.get_by_label("Look up route").click();
    step_until(&mut h, "the inline error", WAIT, |h| {
        shows(h, "\"bad host!\":") && !shows(h, "127.0.0.1: an address of this machine")
    });
}

#[test]
fn the_rows_of_bits_and_their_results_fit_a_small_window() {
    let mut settings = Settings::default();
    settings.tab = Tab::IpTools;
    settings.ip_tools.section = Section::Calculator;
    settings.ip_tools.calc_input = "192.168.1.12/24".into();
    let mut h = common::harness_sized(settings, egui::vec2(900.0, 600.0));
    settle(&mut h);
    for label in [
        "11000000.10101000.00000001.00001100",
        "= 255.255.255.0",
        "→ 192.168.1.0",
    ] {
        let right = h.get_by_label(label).rect().right();
        assert!(right <= 900.0, "{label} ends at x={right}, past the window");
    }
}
