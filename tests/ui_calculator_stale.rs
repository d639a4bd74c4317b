//! The subnet calculator never lets an old result pass for the current one: while the input
//! is invalid, the last result is greyed (disabled) under a "last valid: …" heading next to
//! the error, and it turns normal again as soon as the input is valid.
//!
//! Only computes: the private addresses below are text on screen, nothing is sent to them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use common::{harness, shows};
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::ip_tools::Section;

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn calculator() -> H {
    let mut settings = Settings::default();
    settings.tab = Tab::IpTools;
    settings.ip_tools.section = Section::Calculator;
    settings.ip_tools.calc_input = "10.0.0.1/8".into();
    harness(settings)
}

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

fn type_into(h: &mut H, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label(label).type_text(text);
    settle(h);
}

/// Whether the nodes labelled exactly `label` exist and are all disabled (greyed).
fn all_disabled(h: &H, label: &str) -> bool {
    let nodes: Vec<_> = h.query_all_by_label(label).collect();
    assert!(!nodes.is_empty(), "{label:?} is shown");
    nodes.iter().all(|n| n.accesskit_node().is_disabled())
}

#[test]
fn invalid_input_greys_the_last_result_under_last_valid_and_valid_input_restores_it() {
    let mut h = calculator();
    settle(&mut h);
    type_into(&mut h, "Address or network", "192.168.1.30/32");
    assert!(shows(&h, "192.168.1.30/32"), "the valid result is shown");
    assert!(
        !shows(&h, "last valid"),
        "a current result has no stale heading"
    );
    assert!(
        !all_disabled(&h, "255.255.255.255"),
        "the netmask is not greyed"
    );

    // The example: a typo while editing.
    type_into(&mut h, "Address or network", "192.168.1.300/24");
    assert!(
        shows(
            &h,
            "Address or network: \"192.168.1.300\" is not an IPv4 or IPv6 address."
        ),
        "the error names what is wrong"
    );
    h.get_by_label("last valid: 192.168.1.30/32");
    assert!(
        all_disabled(&h, "255.255.255.255"),
        "the old /32 netmask is greyed, not shown as current"
    );
    assert!(
        all_disabled(&h, "Prefix length"),
        "the prefix slider of the stale result cannot overwrite the typed input"
    );

    type_into(&mut h, "Address or network", "192.168.1.31/24");
    assert!(!shows(&h, "last valid"), "the heading goes away");
    assert!(!shows(&h, "Address or network: "), "so does the error");
    assert!(shows(&h, "192.168.1.0/24"), "the new result is shown");
    assert!(!all_disabled(&h, "255.255.255.0"), "and it is not greyed");
}
