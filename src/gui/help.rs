//! Help: a short guide to the tab shown, the keyboard shortcuts, where the full README is, and
//! the version (F1 or the Help button in the tab bar).

use std::borrow::Cow;

use egui::{Key, RichText, Ui};
use rust_i18n::t;

use crate::gui::app::Tab;

/// Opens and closes Help.
pub const HELP_KEY: Key = Key::F1;

/// The guide to one tab: what it is for, then the steps of its most common use.
pub fn guide(tab: Tab) -> Vec<Cow<'static, str>> {
    match tab {
        Tab::TcpServer => vec![
            t!("help.guide.tcp_server.purpose"),
            t!("help.guide.tcp_server.start"),
            t!("help.guide.tcp_server.clients"),
            t!("help.guide.tcp_server.echo"),
        ],
        Tab::TcpClient => vec![
            t!("help.guide.tcp_client.purpose"),
            t!("help.guide.tcp_client.connect"),
            t!("help.guide.tcp_client.short"),
            t!("help.guide.tcp_client.framing"),
        ],
        Tab::Udp => vec![
            t!("help.guide.udp.purpose"),
            t!("help.guide.udp.send"),
            t!("help.guide.udp.reply"),
            t!("help.guide.udp.multicast"),
        ],
        Tab::Broadcast => vec![
            t!("help.guide.broadcast.purpose"),
            t!("help.guide.broadcast.run"),
            t!("help.guide.broadcast.responders"),
            t!("help.guide.broadcast.wol"),
        ],
        Tab::IpTools => vec![
            t!("help.guide.ip_tools.purpose"),
            t!("help.guide.ip_tools.calculator"),
            t!("help.guide.ip_tools.sweep"),
        ],
    }
}

/// The shortcuts, as (keys, what they do).
pub fn shortcuts() -> [(Cow<'static, str>, Cow<'static, str>); 9] {
    [
        (Cow::Borrowed("F1"), t!("help.shortcut.help")),
        (Cow::Borrowed("Ctrl+T"), t!("help.shortcut.new_session")),
        (Cow::Borrowed("Ctrl+W"), t!("help.shortcut.close_session")),
        (Cow::Borrowed("Enter"), t!("help.shortcut.send")),
        (
            Cow::Borrowed("Ctrl+1 … Ctrl+9"),
            t!("help.shortcut.send_packet"),
        ),
        (t!("help.keys.click"), t!("help.shortcut.select")),
        (t!("help.keys.right_click"), t!("help.shortcut.row_menu")),
        (Cow::Borrowed("End"), t!("help.shortcut.follow")), // i18n-exempt: a key name
        (t!("help.keys.escape"), t!("help.shortcut.clear_selection")),
    ]
}

/// The sending tools in a few lines (the same in every traffic tab).
pub fn sending() -> [Cow<'static, str>; 4] {
    [
        t!("help.sending.macros"),
        t!("help.sending.repeat"),
        t!("help.sending.sequence"),
        t!("help.sending.library"),
    ]
}

/// Draws Help as a window while `open`; the close button clears it.
pub fn window(ctx: &egui::Context, open: &mut bool, tab: Tab) {
    egui::Window::new(t!("help.title"))
        // The id egui gave it from the English title, so the window keeps its place (and the
        // place saved before) whatever the language.
        .id(egui::Id::unique(Some("Help"))) // i18n-exempt: an id, not shown
        .open(open)
        .collapsible(false)
        .resizable(true)
        .default_width(520.0)
        .show(ctx, |ui| contents(ui, tab));
}

fn contents(ui: &mut Ui, tab: Tab) {
    egui::ScrollArea::vertical()
        .max_height(520.0)
        .show(ui, |ui| {
            ui.heading(tab.title());
            for line in guide(tab) {
                ui.label(line);
            }
            if matches!(tab, Tab::TcpServer | Tab::TcpClient | Tab::Udp) {
                ui.add_space(6.0);
                ui.strong(t!("help.sending.title"));
                for line in sending() {
                    ui.label(line);
                }
            }
            ui.add_space(6.0);
            ui.strong(t!("help.keyboard"));
            egui::Grid::new("help-shortcuts")
                .striped(true)
                .show(ui, |ui| {
                    for (keys, what) in shortcuts() {
                        ui.label(RichText::new(keys).monospace());
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(t!("help.readme"));
            ui.label(RichText::new(t!("help.version", version = env!("CARGO_PKG_VERSION"))).weak());
        });
}
