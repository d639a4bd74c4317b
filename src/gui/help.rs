//! Help: a short guide to the tab shown, the keyboard shortcuts, where the full README is, and
//! the version (F1 or the Help button in the tab bar).

use egui::{Key, RichText, Ui};

use crate::gui::app::Tab;

/// Opens and closes Help.
pub const HELP_KEY: Key = Key::F1;

/// The guide to one tab: what it is for, then the steps of its most common use.
pub fn guide(tab: Tab) -> &'static [&'static str] {
    match tab {
        Tab::TcpServer => &[
            "Listen for TCP clients and see what each sends.",
            "Pick the address to listen on (0.0.0.0 = every IPv4 address) and a port, then Start.",
            "Clients appear in the table; select one to see only its traffic and to send to it alone, or All clients to send to everyone.",
            "Echo sends back what each client sends; limits cap clients per server and per IP.",
        ],
        Tab::TcpClient => &[
            "Connect to a TCP server (a device, a service) and talk to it.",
            "Type the host and port, then Connect. The status line says what happened and why.",
            "Short connections connect for each send and close when the peer goes quiet.",
            "Framing cuts the stream into messages; a checksum is added to sends and checked on receipt.",
        ],
        Tab::Udp => &[
            "Send and receive UDP datagrams; each shows its sender.",
            "Bind a local port (0 picks a free one), type where to send, then Send.",
            "Select a received datagram and click Reply to sender to answer it.",
            "Join a multicast group on an interface; drops by the kernel or by Sockpit are counted.",
        ],
        Tab::Broadcast => &[
            "Find devices on a network: send one probe, list who answers.",
            "Pick the interface on the devices' network and a preset (SSDP, mDNS, USR-IOT…), then Run.",
            "Every responder is listed once with its round-trip time and what the preset read.",
            "Wake-on-LAN sends the magic packet for a MAC address.",
        ],
        Tab::IpTools => &[
            "Subnet calculator, host sweep, neighbour (ARP) table, sockets, DNS and checksums.",
            "The calculator shows every field of an address and mask, and the binary AND.",
            "A sweep finds the hosts of a subnet; click one to open it in the TCP Client.",
        ],
    }
}

/// The shortcuts, as (keys, what they do).
pub const SHORTCUTS: [(&str, &str); 9] = [
    ("F1", "open or close this help"),
    ("Ctrl+T", "open a session in the tab shown"),
    (
        "Ctrl+W",
        "close the session shown (asks first when connected)",
    ),
    ("Enter", "send what is typed in the send box"),
    (
        "Ctrl+1 … Ctrl+9",
        "send the first nine packets listed in the packet library",
    ),
    (
        "Click, Ctrl+click, Shift+click",
        "select log rows (then Copy hex / Copy text)",
    ),
    (
        "Right-click a row",
        "copy as hex, text, C array or Python bytes; send again; keep it",
    ),
    ("End", "follow the newest row again"),
    ("Escape", "clear the selection in the log"),
];

/// The sending tools in a few lines (the same in every traffic tab).
pub const SENDING: [&str; 4] = [
    "Macros in a send: {{COUNTER}} (or {{COUNTER:START:STEP:WIDTH}}), {{TIME}}, {{UNIXTIME}}, {{UNIXTIME_MS}}, {{RANDOM:N}}, {{HEX:0D0A}}; the line under the box shows the exact bytes.",
    "Repeat every N ms for a count (or until stopped); send a file (Browse…, or drop it on the window).",
    "Sequence: one step per line — send, hex, packet NAME, wait MS, expect MS text|hex|regex, repeat K.",
    "Packet library (right): click or Ctrl+1…9 to send; Import reads Sockpit and Packet Sender exports.",
];

/// Draws Help as a window while `open`; the close button clears it.
pub fn window(ctx: &egui::Context, open: &mut bool, tab: Tab) {
    egui::Window::new("Help")
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
                ui.label(*line);
            }
            if matches!(tab, Tab::TcpServer | Tab::TcpClient | Tab::Udp) {
                ui.add_space(6.0);
                ui.strong("Sending tools");
                for line in SENDING {
                    ui.label(line);
                }
            }
            ui.add_space(6.0);
            ui.strong("Keyboard");
            egui::Grid::new("help-shortcuts")
                .striped(true)
                .show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.label(RichText::new(keys).monospace());
                        ui.label(what);
                        ui.end_row();
                    }
                });
            ui.add_space(6.0);
            ui.label(
                "Everything in detail, with the command line and what was measured: README.md at \
             the top of Sockpit's source tree.",
            );
            ui.label(
                RichText::new(format!(
                    "Sockpit {} — also headless: sockpit --help",
                    env!("CARGO_PKG_VERSION")
                ))
                .weak(),
            );
        });
}
