//! The local-address picker of the TCP Server and UDP tabs: the usual choices, then this
//! machine's addresses by interface, each address once and in a stable order.

use std::net::IpAddr;

use egui::Ui;
use rust_i18n::t;

/// The choices every machine has, before its own addresses: the address and the catalogue key
/// of its label.
pub const BIND_CHOICES: [(&str, &str); 4] = [
    ("0.0.0.0", "bind.all_ipv4"),
    ("::", "bind.all_ipv6"),
    ("127.0.0.1", "bind.loopback"),
    ("::1", "bind.loopback_ipv6"),
];

/// What the picker lists: `(address, label)`, the usual choices first (a choice that is also
/// an interface's address names the interface too, "Loopback (127.0.0.1, lo)"), then each
/// other interface address once, in the order given (the cache sorts by name, then address).
pub fn bind_entries(interfaces: &[(String, IpAddr)]) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = BIND_CHOICES
        .iter()
        .map(|(ip, key)| {
            let label = t!(*key);
            let names: Vec<&str> = interfaces
                .iter()
                .filter(|(_, a)| a.to_string() == *ip)
                .map(|(name, _)| name.as_str())
                .collect();
            let label = if names.is_empty() {
                label.into_owned()
            } else {
                format!("{}, {})", label.trim_end_matches(')'), names.join(", "))
            };
            ((*ip).to_owned(), label)
        })
        .collect();
    for (name, ip) in interfaces {
        let ip = ip.to_string();
        if entries.iter().any(|(a, _)| *a == ip) {
            continue;
        }
        entries.push((ip.clone(), format!("{name}: {ip}")));
    }
    entries
}

/// The picker; true when the user chose an entry (`bind` then holds its address).
pub fn bind_picker(
    ui: &mut Ui,
    label: &str,
    bind: &mut String,
    interfaces: &[(String, IpAddr)],
) -> bool {
    let entries = bind_entries(interfaces);
    let shown = entries
        .iter()
        .find(|(ip, _)| ip == bind)
        .map_or(bind.as_str(), |(_, l)| l.as_str())
        .to_owned();
    let mut chosen = false;
    crate::gui::widgets::label_first(ui, label)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for (i, (ip, label)) in entries.iter().enumerate() {
                if i == BIND_CHOICES.len() {
                    ui.separator();
                }
                if ui.selectable_label(bind == ip, label).clicked() {
                    bind.clone_from(ip);
                    chosen = true;
                }
            }
        });
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_shows_once_and_names_its_interface() {
        let interfaces = vec![
            ("eth0".to_owned(), "10.0.0.5".parse().unwrap()),
            ("lo".to_owned(), "127.0.0.1".parse().unwrap()),
            ("lo".to_owned(), "::1".parse().unwrap()),
        ];
        let entries = bind_entries(&interfaces);
        let labels: Vec<&str> = entries.iter().map(|(_, l)| l.as_str()).collect();
        assert_eq!(
            labels,
            [
                "All IPv4 (0.0.0.0)",
                "All IPv6 (::, dual-stack)",
                "Loopback (127.0.0.1, lo)",
                "Loopback IPv6 (::1, lo)",
                "eth0: 10.0.0.5",
            ]
        );
        assert_eq!(
            entries.iter().filter(|(ip, _)| ip == "127.0.0.1").count(),
            1
        );
    }
}
