//! The UDP tab: bind a port, send datagrams to any host, see every datagram with its sender,
//! reply with one click, join multicast groups.

pub mod worker;

pub use worker::{Command, Datagram, Event, EventKind, UdpHandle, UdpStats};

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use egui::{RichText, Ui};
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::net::iface::InterfaceCache;
use crate::net::udp::{Membership, MulticastInterface, MulticastSend, UdpBindOptions, check_group};
use crate::net::{NetError, normalize_host, parse_port};
use crate::traffic::{Direction, RateMeter, Record, TrafficLog};
use crate::ui::traffic_view::ViewSettings;
use crate::ui::widgets::{ERROR_COLOR, OK_COLOR, error_text, labelled_drag, labelled_text};
use crate::ui::{SendBox, TrafficView};
use crate::worker::{SessionId, Wake, drain_bounded};

const MAX_EVENTS_PER_FRAME: usize = 256;
const MAX_BYTES_PER_FRAME: usize = 64 * 1024 * 1024;

/// Local addresses offered in the bind picker.
pub const BIND_CHOICES: [(&str, &str); 4] = [
    ("0.0.0.0", "All IPv4 (0.0.0.0)"),
    ("::", "All IPv6 (::, dual-stack)"),
    ("127.0.0.1", "Loopback (127.0.0.1)"),
    ("::1", "Loopback IPv6 (::1)"),
];

/// What the tab saves across restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UdpSettings {
    pub bind: String,
    pub port: String,
    pub reuse_addr: bool,
    /// `SO_RCVBUF` in KiB; 0 keeps the system default. The default asks for 4 MiB (the OS
    /// caps it at its maximum): the system's usual 208 KiB holds only a few milliseconds of a
    /// flood of small datagrams, and whatever does not fit is lost in the kernel.
    pub recv_buffer_kib: u32,
    pub remote_host: String,
    pub remote_port: String,
    pub group: String,
    /// Interface name for joins and multicast sends; empty = let the system choose.
    pub multicast_interface: String,
    pub multicast_ttl: u32,
    pub multicast_loop: bool,
    pub encoding: TextEncoding,
    pub view: ViewSettings,
    pub send_box: SendBox,
}

impl Default for UdpSettings {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".to_owned(),
            port: "9000".to_owned(),
            reuse_addr: true,
            recv_buffer_kib: 4096,
            remote_host: "127.0.0.1".to_owned(),
            remote_port: "9000".to_owned(),
            group: "239.255.0.1".to_owned(),
            multicast_interface: String::new(),
            multicast_ttl: 1,
            multicast_loop: true,
            encoding: TextEncoding::Utf8,
            view: ViewSettings::default(),
            send_box: SendBox::default(),
        }
    }
}

/// The socket as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpStatus {
    Closed,
    Binding,
    Bound(SocketAddr),
    Failed(NetError),
    WorkerFailed(String),
}

pub struct UdpTab {
    pub settings: UdpSettings,
    wake: Wake,
    worker: Option<UdpHandle>,
    session: SessionId,
    pub status: UdpStatus,
    pub log: TrafficLog,
    view: TrafficView,
    rate: RateMeter,
    pub stats: UdpStats,
    pub memberships: BTreeSet<Membership>,
    bind_error: Option<String>,
    port_error: Option<String>,
    /// Problem with the destination: bad input, or the last send's failure.
    pub remote_error: Option<String>,
    pub group_error: Option<String>,
    interfaces: InterfaceCache,
}

impl UdpTab {
    pub fn new(mut settings: UdpSettings, wake: Wake) -> Self {
        let log = TrafficLog::with_cap(settings.view.cap_mib as usize * 1024 * 1024);
        let view = TrafficView::new(std::mem::take(&mut settings.view));
        let mut tab = Self {
            settings,
            wake,
            worker: None,
            session: SessionId::default(),
            status: UdpStatus::Closed,
            log,
            view,
            rate: RateMeter::default(),
            stats: UdpStats::default(),
            memberships: BTreeSet::new(),
            bind_error: None,
            port_error: None,
            remote_error: None,
            group_error: None,
            interfaces: InterfaceCache::default(),
        };
        tab.start_worker();
        tab
    }

    fn start_worker(&mut self) {
        match UdpHandle::spawn(self.wake.clone()) {
            Ok(h) => {
                self.worker = Some(h);
                if matches!(self.status, UdpStatus::WorkerFailed(_)) {
                    self.status = UdpStatus::Closed;
                }
            }
            Err(e) => self.status = UdpStatus::WorkerFailed(format!("could not start: {e}")),
        }
    }

    pub fn settings_to_save(&self) -> UdpSettings {
        let mut s = self.settings.clone();
        s.view = self.view.settings.clone();
        s
    }

    pub fn bound(&self) -> Option<SocketAddr> {
        match self.status {
            UdpStatus::Bound(local) => Some(local),
            _ => None,
        }
    }

    fn active(&self) -> bool {
        matches!(self.status, UdpStatus::Binding | UdpStatus::Bound(_))
    }

    fn multicast_send(&mut self) -> MulticastSend {
        let name = self.settings.multicast_interface.clone();
        let iface = self.interfaces.named(&name);
        MulticastSend {
            ttl: self.settings.multicast_ttl,
            loopback: self.settings.multicast_loop,
            interface_v4: iface.as_ref().and_then(|i| i.v4.first().map(|v| v.addr)),
            interface_v6: iface.map(|i| i.index),
        }
    }

    /// Validates the local address and port, then binds.
    pub fn bind(&mut self) {
        let ip = normalize_host(&self.settings.bind).parse::<IpAddr>();
        self.bind_error = ip.is_err().then(|| {
            format!(
                "\"{}\" is not an IP address: pick one from the list or type e.g. 0.0.0.0.",
                self.settings.bind.trim()
            )
        });
        let port = parse_port(&self.settings.port, true);
        self.port_error = port.as_ref().err().cloned();
        let (Ok(ip), Ok(port)) = (ip, port) else {
            return;
        };
        let options = UdpBindOptions {
            bind: SocketAddr::new(ip, port),
            reuse_addr: self.settings.reuse_addr,
            broadcast: true,
            recv_buffer_bytes: (self.settings.recv_buffer_kib > 0)
                .then(|| self.settings.recv_buffer_kib as usize * 1024),
        };
        let multicast = self.multicast_send();
        self.session = self.session.next();
        self.stats = UdpStats::default();
        self.memberships.clear();
        let ok = self.worker.as_ref().is_some_and(|w| {
            w.send(Command::Bind {
                session: self.session,
                options,
                multicast,
            })
        });
        self.status = if ok {
            UdpStatus::Binding
        } else {
            UdpStatus::WorkerFailed("the worker is not running".to_owned())
        };
    }

    pub fn close(&mut self) {
        if let Some(w) = &self.worker {
            w.send(Command::Close {
                session: self.session,
            });
        }
    }

    /// Sends to the destination fields; bad input is reported next to them and nothing is
    /// sent.
    pub fn send(&mut self, bytes: Vec<u8>) -> bool {
        let host = normalize_host(&self.settings.remote_host).to_owned();
        if host.is_empty() {
            self.remote_error =
                Some("Enter the host to send to (a name or an IP address).".to_owned());
            return false;
        }
        let port = match parse_port(&self.settings.remote_port, false) {
            Ok(p) => p,
            Err(e) => {
                self.remote_error = Some(e);
                return false;
            }
        };
        self.remote_error = None;
        self.worker.as_ref().is_some_and(|w| {
            w.send(Command::Send {
                session: self.session,
                host,
                port,
                bytes,
            })
        })
    }

    /// Sets the destination to the sender of the selected received datagram.
    pub fn reply_to_selected(&mut self) -> bool {
        let Some(peer) = self.selected_sender() else {
            return false;
        };
        self.settings.remote_host = peer.ip().to_string();
        self.settings.remote_port = peer.port().to_string();
        self.remote_error = None;
        true
    }

    fn selected_sender(&self) -> Option<SocketAddr> {
        self.view
            .selected()
            .iter()
            .rev()
            .filter_map(|id| self.log.get_by_id(*id))
            .find(|r| r.direction == Direction::Received)
            .and_then(|r| r.peer)
    }

    fn membership_from_input(&mut self) -> Option<Membership> {
        let Ok(group) = normalize_host(&self.settings.group).parse::<IpAddr>() else {
            self.group_error = Some(format!(
                "\"{}\" is not an IP address: type a group such as 239.255.0.1 or ff02::1:3.",
                self.settings.group.trim()
            ));
            return None;
        };
        if let Err(e) = check_group(group) {
            self.group_error = Some(e);
            return None;
        }
        let name = self.settings.multicast_interface.clone();
        let iface = self.interfaces.named(&name);
        let interface = match (group, iface) {
            (IpAddr::V4(_), None) => MulticastInterface::V4(Ipv4Addr::UNSPECIFIED),
            (IpAddr::V4(_), Some(i)) => {
                let Some(v4) = i.v4.first() else {
                    self.group_error = Some(format!(
                        "Interface {} has no IPv4 address: pick another for an IPv4 group.",
                        i.name
                    ));
                    return None;
                };
                MulticastInterface::V4(v4.addr)
            }
            (IpAddr::V6(_), None) => MulticastInterface::V6Index(0),
            (IpAddr::V6(_), Some(i)) => MulticastInterface::V6Index(i.index),
        };
        self.group_error = None;
        Some(Membership { group, interface })
    }

    pub fn join(&mut self) {
        if self.bound().is_none() {
            self.group_error = Some("Bind the socket first, then join a group.".to_owned());
            return;
        }
        if let Some(membership) = self.membership_from_input()
            && let Some(w) = &self.worker
        {
            w.send(Command::Join {
                session: self.session,
                membership,
            });
        }
    }

    pub fn leave(&mut self, membership: Membership) {
        if let Some(w) = &self.worker {
            w.send(Command::Leave {
                session: self.session,
                membership,
            });
        }
    }

    fn apply_multicast_settings(&mut self) {
        let multicast = self.multicast_send();
        if let Some(w) = &self.worker {
            w.send(Command::SetMulticast {
                session: self.session,
                multicast,
            });
        }
    }

    /// Applies waiting worker events (bounded per frame). Returns true if more are waiting.
    pub fn drain_events(&mut self) -> bool {
        let Some(events) = self.worker.as_ref().map(|w| w.events().clone()) else {
            return false;
        };
        let drained = drain_bounded(
            &events,
            MAX_EVENTS_PER_FRAME,
            MAX_BYTES_PER_FRAME,
            |e| match &e.kind {
                EventKind::Received(batch) => batch.iter().map(|d| d.bytes.len() + 64).sum(),
                _ => 0,
            },
            |e| self.apply(e),
        );
        if drained.dead && !matches!(self.status, UdpStatus::WorkerFailed(_)) {
            self.apply(Event {
                session: SessionId(u64::MAX),
                kind: EventKind::WorkerFailed {
                    message: "the worker thread ended".to_owned(),
                },
            });
        }
        let c = self.log.counters();
        self.rate.sample(Instant::now(), c.rx_bytes, c.tx_bytes);
        drained.more
    }

    fn note(&mut self, direction: Direction, peer: Option<SocketAddr>, text: &str) {
        self.log.push(Record::message(direction, peer, text));
    }

    fn apply(&mut self, event: Event) {
        if let EventKind::WorkerFailed { message } = event.kind {
            self.note(Direction::Error, None, &format!("Worker failed: {message}"));
            self.worker = None;
            self.memberships.clear();
            self.status = UdpStatus::WorkerFailed(message);
            return;
        }
        if event.session != self.session {
            return;
        }
        match event.kind {
            EventKind::Bound { local } => {
                self.status = UdpStatus::Bound(local);
                self.note(Direction::Info, None, &format!("Bound to {local}."));
            }
            EventKind::BindFailed(e) => {
                self.note(
                    Direction::Error,
                    None,
                    &format!("Could not bind: {e}. {}", e.explanation()),
                );
                self.status = UdpStatus::Failed(e);
            }
            EventKind::Received(batch) => {
                for d in batch {
                    self.log.push(Record::at(
                        d.time_us,
                        Direction::Received,
                        Some(d.from),
                        d.bytes,
                    ));
                }
            }
            EventKind::Sent { to, time_us, bytes } => {
                self.remote_error = None;
                let mut r = Record::new(Direction::Sent, Some(to), bytes);
                r.time_us = time_us;
                self.log.push(r);
            }
            EventKind::SendFailed { target, error } => {
                let text = format!("Send to {target} failed: {error}. {}", error.explanation());
                self.remote_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::Icmp(e) => {
                let text = icmp_text(&e);
                self.remote_error = Some(text.clone());
                self.note(Direction::Error, e.destination, &text);
            }
            EventKind::Joined(m) => {
                self.note(Direction::Info, None, &format!("Joined group {m}."));
                self.memberships.insert(m);
            }
            EventKind::Left(m) => {
                self.note(Direction::Info, None, &format!("Left group {m}."));
                self.memberships.remove(&m);
            }
            EventKind::MembershipFailed {
                membership,
                join,
                error,
            } => {
                let verb = if join { "join" } else { "leave" };
                let text = format!("Could not {verb} group {membership}: {error}.");
                self.group_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::MulticastFailed { error } => {
                let text = format!("Multicast settings were not applied: {error}.");
                self.group_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::Stats(s) => self.stats = s,
            EventKind::Closed => {
                self.note(Direction::Info, None, "Socket closed.");
                self.memberships.clear();
                self.status = UdpStatus::Closed;
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("udp-bind").show(ui, |ui| {
            self.bind_ui(ui);
            ui.separator();
            self.multicast_ui(ui);
            ui.add_space(2.0);
        });
        egui::Panel::bottom("udp-send").show(ui, |ui| {
            ui.add_space(4.0);
            self.destination_ui(ui);
            let can_send = self.bound().is_some() && self.worker.is_some();
            let encoding = self.settings.encoding;
            if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can_send) {
                self.send(bytes);
            }
            ui.add_space(2.0);
        });
        let rates = self.rate.rates_bytes_per_sec();
        self.view.panes_ui(
            ui,
            "udp",
            &mut self.log,
            &mut self.settings.encoding,
            rates,
            None,
        );
    }

    fn bind_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.active();
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(editable, |ui| {
                let label = BIND_CHOICES
                    .iter()
                    .find(|(ip, _)| *ip == self.settings.bind)
                    .map_or(self.settings.bind.as_str(), |(_, l)| l)
                    .to_owned();
                egui::ComboBox::from_label("Local address")
                    .selected_text(label)
                    .show_ui(ui, |ui| {
                        for (ip, label) in BIND_CHOICES {
                            if ui
                                .selectable_label(self.settings.bind == ip, label)
                                .clicked()
                            {
                                ip.clone_into(&mut self.settings.bind);
                                self.bind_error = None;
                            }
                        }
                        ui.separator();
                        let choices: Vec<(String, String)> = self
                            .interfaces
                            .addresses()
                            .into_iter()
                            .map(|(name, ip)| (ip.to_string(), format!("{name}: {ip}")))
                            .collect();
                        for (ip, label) in choices {
                            if ui
                                .selectable_label(self.settings.bind == ip, label)
                                .clicked()
                            {
                                self.settings.bind = ip;
                                self.bind_error = None;
                            }
                        }
                    });
                if labelled_text(ui, "Address", &mut self.settings.bind, 130.0).changed() {
                    self.bind_error = None;
                }
                if labelled_text(ui, "Local port", &mut self.settings.port, 60.0).changed() {
                    self.port_error = None;
                }
                ui.checkbox(&mut self.settings.reuse_addr, "SO_REUSEADDR")
                    .on_hover_text(
                        "Lets several programs (or a restarted one) bind the same port.",
                    );
                labelled_drag(
                    ui,
                    "Receive buffer KiB (0 = system)",
                    &mut self.settings.recv_buffer_kib,
                    0..=65_536,
                );
            });
            if self.worker.is_none() {
                if ui.button("Restart worker").clicked() {
                    self.start_worker();
                }
            } else if self.active() {
                if ui.button("Close").clicked() {
                    self.close();
                }
            } else if ui.button("Bind").clicked() {
                self.bind();
            }
        });
        if let Some(e) = &self.bind_error {
            error_text(ui, &format!("Address: {e}"));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &format!("Local port: {e}"));
        }
        let (color, headline, explanation) = match &self.status {
            UdpStatus::Closed => (
                egui::Color32::GRAY,
                "Not bound.".to_owned(),
                "Pick a local address and port (0 = any free port), then click Bind.".to_owned(),
            ),
            UdpStatus::Binding => (egui::Color32::GRAY, "Binding…".to_owned(), String::new()),
            UdpStatus::Bound(local) => (
                OK_COLOR,
                format!("Bound to {local}."),
                format!(
                    "Others send to port {}; datagrams appear below with their sender.",
                    local.port()
                ),
            ),
            UdpStatus::Failed(e) => (
                ERROR_COLOR,
                format!("Could not bind: {e}."),
                e.explanation(),
            ),
            UdpStatus::WorkerFailed(m) => (
                ERROR_COLOR,
                format!("The UDP worker stopped unexpectedly: {m}"),
                "Click Restart worker to carry on; the log is kept.".to_owned(),
            ),
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(headline).color(color).strong());
            ui.label(RichText::new(explanation).weak());
        });
        if self.bound().is_none() && self.stats == UdpStats::default() {
            return;
        }
        let s = self.stats;
        let kernel = s
            .dropped_by_kernel
            .map_or_else(|| "not reported by this OS".to_owned(), |d| d.to_string());
        let drops = s.dropped_by_app + s.dropped_by_kernel.unwrap_or(0);
        let text = format!(
            "Datagrams received {} · sent {} · dropped by Sockpit (display behind) {} · dropped by the kernel (buffer full) {kernel}",
            s.received, s.sent, s.dropped_by_app
        );
        let color = if drops > 0 {
            ERROR_COLOR
        } else {
            ui.visuals().weak_text_color()
        };
        ui.label(RichText::new(text).color(color));
    }

    fn multicast_ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.strong("Multicast");
            if labelled_text(ui, "Group", &mut self.settings.group, 150.0).changed() {
                self.group_error = None;
            }
            let current = if self.settings.multicast_interface.is_empty() {
                "System default".to_owned()
            } else {
                self.settings.multicast_interface.clone()
            };
            let before = self.settings.multicast_interface.clone();
            egui::ComboBox::from_label("Interface")
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut self.settings.multicast_interface,
                        String::new(),
                        "System default",
                    );
                    let names: Vec<(String, String)> = self
                        .interfaces
                        .all()
                        .iter()
                        .map(|i| {
                            let addr =
                                i.v4.first()
                                    .map(|v| v.addr.to_string())
                                    .or_else(|| i.v6.first().map(ToString::to_string))
                                    .unwrap_or_default();
                            (i.name.clone(), format!("{} {addr}", i.name))
                        })
                        .collect();
                    for (name, label) in names {
                        ui.selectable_value(&mut self.settings.multicast_interface, name, label);
                    }
                });
            let bound = self.bound().is_some();
            if ui.add_enabled(bound, egui::Button::new("Join")).clicked() {
                self.join();
            }
            let ttl = labelled_drag(ui, "TTL / hops", &mut self.settings.multicast_ttl, 0..=255);
            let lo = ui
                .checkbox(&mut self.settings.multicast_loop, "Loopback")
                .on_hover_text("Receive our own multicast sends on this machine too.");
            if bound
                && (ttl.changed() || lo.changed() || before != self.settings.multicast_interface)
            {
                self.apply_multicast_settings();
            }
        });
        if let Some(e) = &self.group_error {
            error_text(ui, &format!("Multicast: {e}"));
        }
        if !self.memberships.is_empty() {
            let mut leave = None;
            ui.horizontal_wrapped(|ui| {
                ui.label("Joined:");
                for m in &self.memberships {
                    ui.label(RichText::new(m.to_string()).monospace());
                    if ui.small_button(format!("Leave {}", m.group)).clicked() {
                        leave = Some(m.clone());
                    }
                }
            });
            if let Some(m) = leave {
                self.leave(m);
            }
        }
    }

    fn destination_ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            if labelled_text(ui, "Remote host", &mut self.settings.remote_host, 200.0).changed() {
                self.remote_error = None;
            }
            if labelled_text(ui, "Remote port", &mut self.settings.remote_port, 60.0).changed() {
                self.remote_error = None;
            }
            let sender = self.selected_sender();
            let hint = match sender {
                Some(p) => format!("Send the next datagram back to {p}."),
                None => "Select a received datagram first.".to_owned(),
            };
            if ui
                .add_enabled(sender.is_some(), egui::Button::new("Reply to sender"))
                .on_hover_text(hint)
                .on_disabled_hover_text("Select a received datagram first.")
                .clicked()
            {
                self.reply_to_selected();
            }
        });
        if let Some(e) = &self.remote_error {
            error_text(ui, &format!("Destination: {e}"));
        }
    }
}

/// One sentence for an ICMP error on a datagram we sent.
pub fn icmp_text(e: &crate::net::udp::IcmpError) -> String {
    let from = e
        .reporter
        .map(|r| format!(" (ICMP from {r})"))
        .unwrap_or_default();
    match e.destination {
        Some(dest) => {
            let err = NetError::from_io(&std::io::Error::from(e.error), dest);
            match err {
                NetError::Refused { .. } => format!(
                    "Port unreachable: nothing listens on UDP port {} at {}{from}. The datagram was delivered to the host, which rejected it: start the receiver or check the port.",
                    dest.port(),
                    dest.ip()
                ),
                other => format!(
                    "Datagram to {dest} failed: {}{from}. {}",
                    e.os_message,
                    other.explanation()
                ),
            }
        }
        None => format!("A datagram we sent failed: {}{from}.", e.os_message),
    }
}
