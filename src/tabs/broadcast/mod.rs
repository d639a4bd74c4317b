//! The Broadcast tab: send a probe on one interface's broadcast or multicast address and list
//! every device that answers (device discovery), with presets that speak common discovery
//! protocols, and Wake-on-LAN.

pub mod presets;
pub mod responders;
pub mod worker;

pub use presets::Preset;
pub use responders::{Responder, Responders};
pub use worker::{BroadcastHandle, Command, Event, EventKind, Probe};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::net::iface::{InterfaceCache, InterfaceV4};
use crate::net::{NetError, normalize_host, parse_port};
use crate::traffic::{Direction, Record, TrafficLog, format_time_us};
use crate::ui::traffic_view::ViewSettings;
use crate::ui::widgets::{
    ERROR_COLOR, OK_COLOR, WAIT_COLOR, error_text, labelled_drag, labelled_text,
};
use crate::ui::{SendBox, TrafficView};
use crate::worker::{SessionId, Wake, drain_bounded};
use presets::DefaultTarget;

const MAX_EVENTS_PER_FRAME: usize = 2048;

/// Where the probe goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum TargetKind {
    /// The interface's subnet broadcast (e.g. 192.168.1.255).
    #[default]
    Directed,
    /// 255.255.255.255, sent out of the chosen interface.
    Limited,
    Multicast,
    Unicast,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BroadcastSettings {
    /// The chosen interface's IPv4 address.
    pub interface_addr: String,
    pub target: TargetKind,
    pub group: String,
    pub unicast_host: String,
    pub port: String,
    pub source_port: String,
    pub preset: Preset,
    pub listen_ms: u64,
    pub sends: u32,
    pub repeat_ms: u64,
    pub ttl: u32,
    pub wol_mac: String,
    pub encoding: TextEncoding,
    pub view: ViewSettings,
    pub send_box: SendBox,
}

impl Default for BroadcastSettings {
    fn default() -> Self {
        Self {
            interface_addr: String::new(),
            target: TargetKind::Directed,
            group: "239.255.255.250".to_owned(),
            unicast_host: String::new(),
            port: "48899".to_owned(),
            source_port: "0".to_owned(),
            preset: Preset::Custom,
            listen_ms: 2000,
            sends: 1,
            repeat_ms: 500,
            ttl: 1,
            wol_mac: String::new(),
            encoding: TextEncoding::Utf8,
            view: ViewSettings::default(),
            send_box: SendBox::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Idle,
    Running { local: Option<SocketAddr> },
    Done { sends: u32, cancelled: bool },
    Failed(String),
    WorkerFailed(String),
}

pub struct BroadcastTab {
    pub settings: BroadcastSettings,
    wake: Wake,
    worker: Option<BroadcastHandle>,
    session: SessionId,
    pub status: RunStatus,
    pub responders: Responders,
    pub log: TrafficLog,
    view: TrafficView,
    /// The preset of the run in progress (replies are parsed with it).
    run_preset: Preset,
    pub interface_error: Option<String>,
    pub target_error: Option<String>,
    pub wol_error: Option<String>,
    interfaces: InterfaceCache,
}

/// Turns an OS error during a broadcast into a sentence with the fix.
pub fn broadcast_explanation(e: &NetError) -> String {
    match e {
        NetError::NetworkUnreachable { addr } => format!(
            "No route to {}: pick the interface that is on that network (the probe leaves by the interface's address).",
            addr.ip()
        ),
        NetError::PermissionDenied { addr } if addr.port() != 0 && addr.port() < 1024 && addr.ip().is_unspecified() => e.explanation(),
        NetError::PermissionDenied { .. } => "The system refused to send: broadcasts need SO_BROADCAST (Sockpit sets it), so a firewall rule or policy blocks this.".to_owned(),
        NetError::AddrNotAvailable { addr } => format!(
            "No interface has the address {} any more: refresh the interface list and pick again.",
            addr.ip()
        ),
        other => other.explanation(),
    }
}

impl BroadcastTab {
    pub fn new(mut settings: BroadcastSettings, wake: Wake) -> Self {
        let log = TrafficLog::with_cap(settings.view.cap_mib as usize * 1024 * 1024);
        let view = TrafficView::new(std::mem::take(&mut settings.view));
        let mut tab = Self {
            settings,
            wake,
            worker: None,
            session: SessionId::default(),
            status: RunStatus::Idle,
            responders: Responders::default(),
            log,
            view,
            run_preset: Preset::Custom,
            interface_error: None,
            target_error: None,
            wol_error: None,
            interfaces: InterfaceCache::default(),
        };
        tab.start_worker();
        tab
    }

    fn start_worker(&mut self) {
        match BroadcastHandle::spawn(self.wake.clone()) {
            Ok(h) => {
                self.worker = Some(h);
                if matches!(self.status, RunStatus::WorkerFailed(_)) {
                    self.status = RunStatus::Idle;
                }
            }
            Err(e) => self.status = RunStatus::WorkerFailed(format!("could not start: {e}")),
        }
    }

    pub fn settings_to_save(&self) -> BroadcastSettings {
        let mut s = self.settings.clone();
        s.view = self.view.settings.clone();
        s
    }

    pub fn running(&self) -> bool {
        matches!(self.status, RunStatus::Running { .. })
    }

    /// The chosen interface, or an inline error.
    fn interface(&mut self) -> Option<InterfaceV4> {
        let want = self.settings.interface_addr.trim().to_owned();
        if want.is_empty() {
            self.interface_error = Some("Pick the interface to send on.".to_owned());
            return None;
        }
        let found = self
            .interfaces
            .ipv4()
            .into_iter()
            .find(|i| i.addr.to_string() == want);
        if found.is_none() {
            self.interface_error = Some(format!(
                "No interface has the address {want} now: pick one from the list."
            ));
        }
        found
    }

    /// Applies a preset's usual target and port.
    pub fn set_preset(&mut self, preset: Preset) {
        self.settings.preset = preset;
        match preset.default_target() {
            Some(DefaultTarget::Broadcast(port)) => {
                self.settings.target = TargetKind::Directed;
                self.settings.port = port.to_string();
            }
            Some(DefaultTarget::Multicast(group, port)) => {
                self.settings.target = TargetKind::Multicast;
                self.settings.group = group.to_string();
                self.settings.port = port.to_string();
            }
            None => {}
        }
        self.target_error = None;
    }

    /// The destination address for the current settings, or an inline error.
    fn target(&mut self, iface: &InterfaceV4) -> Option<SocketAddr> {
        let port = match parse_port(&self.settings.port, false) {
            Ok(p) => p,
            Err(e) => {
                self.target_error = Some(format!("Port: {e}"));
                return None;
            }
        };
        let ip: IpAddr = match self.settings.target {
            TargetKind::Directed => IpAddr::V4(iface.broadcast),
            TargetKind::Limited => IpAddr::V4(Ipv4Addr::BROADCAST),
            TargetKind::Multicast => {
                let Ok(group) = normalize_host(&self.settings.group).parse::<IpAddr>() else {
                    self.target_error = Some(format!(
                        "\"{}\" is not an IP address: type a group such as 239.255.255.250.",
                        self.settings.group.trim()
                    ));
                    return None;
                };
                if let Err(e) = crate::net::udp::check_group(group) {
                    self.target_error = Some(e);
                    return None;
                }
                group
            }
            TargetKind::Unicast => {
                let host = normalize_host(&self.settings.unicast_host).to_owned();
                if host.is_empty() {
                    self.target_error = Some("Type the address to send to.".to_owned());
                    return None;
                }
                match crate::net::resolve(&host, port) {
                    Ok(addrs) => {
                        let Some(a) = addrs.iter().find(|a| a.is_ipv4()) else {
                            self.target_error = Some(format!(
                                "{host} has no IPv4 address; this tab sends on an IPv4 interface."
                            ));
                            return None;
                        };
                        a.ip()
                    }
                    Err(e) => {
                        self.target_error = Some(format!("{e}. {}", e.explanation()));
                        return None;
                    }
                }
            }
        };
        self.target_error = None;
        Some(SocketAddr::new(ip, port))
    }

    /// Validates everything, then starts a discovery run. `custom` is the user's payload for
    /// the Custom preset.
    pub fn run(&mut self, custom: Option<Vec<u8>>) -> bool {
        self.interface_error = None;
        let Some(iface) = self.interface() else {
            return false;
        };
        let Some(target) = self.target(&iface) else {
            return false;
        };
        let source_port = match parse_port(&self.settings.source_port, true) {
            Ok(p) => p,
            Err(e) => {
                self.target_error = Some(format!("Source port: {e}"));
                return false;
            }
        };
        let preset = self.settings.preset;
        let payload = match preset.request() {
            Some(p) => p,
            None => {
                if let Some(p) = custom {
                    p
                } else {
                    let encoding = self.settings.encoding;
                    let Some(p) = self.settings.send_box.take_payload(encoding) else {
                        return false;
                    };
                    p
                }
            }
        };
        let s = &self.settings;
        let probe = Probe {
            source: SocketAddr::new(IpAddr::V4(iface.addr), source_port),
            interface: Some(iface.name.clone()),
            target,
            payload,
            listen: Duration::from_millis(s.listen_ms),
            repeat_every: (s.sends > 1).then(|| Duration::from_millis(s.repeat_ms.max(1))),
            sends: s.sends.max(1),
            ttl: s.ttl,
        };
        self.start_probe(probe, preset)
    }

    fn start_probe(&mut self, probe: Probe, preset: Preset) -> bool {
        self.session = self.session.next();
        self.responders.clear();
        self.run_preset = preset;
        let ok = self.worker.as_ref().is_some_and(|w| {
            w.send(Command::Run {
                session: self.session,
                probe,
            })
        });
        self.status = if ok {
            RunStatus::Running { local: None }
        } else {
            RunStatus::WorkerFailed("the worker is not running".to_owned())
        };
        ok
    }

    pub fn cancel(&mut self) {
        if let Some(w) = &self.worker {
            w.send(Command::Cancel {
                session: self.session,
            });
        }
    }

    /// Sends a Wake-on-LAN magic packet for the MAC typed, to the interface's broadcast on
    /// port 9.
    pub fn wake_on_lan(&mut self) -> bool {
        let mac = match presets::parse_mac(&self.settings.wol_mac) {
            Ok(m) => m,
            Err(e) => {
                self.wol_error = Some(e);
                return false;
            }
        };
        self.wol_error = None;
        let Some(iface) = self.interface() else {
            return false;
        };
        let probe = Probe {
            source: SocketAddr::new(IpAddr::V4(iface.addr), 0),
            interface: Some(iface.name.clone()),
            target: SocketAddr::new(IpAddr::V4(iface.broadcast), 9),
            payload: presets::magic_packet(mac),
            listen: Duration::ZERO,
            repeat_every: None,
            sends: 1,
            ttl: 1,
        };
        self.start_probe(probe, Preset::Custom)
    }

    pub fn drain_events(&mut self) -> bool {
        let Some(events) = self.worker.as_ref().map(|w| w.events().clone()) else {
            return false;
        };
        let drained = drain_bounded(
            &events,
            MAX_EVENTS_PER_FRAME,
            usize::MAX,
            |_| 0,
            |e| {
                self.apply(e);
            },
        );
        if drained.dead && !matches!(self.status, RunStatus::WorkerFailed(_)) {
            self.apply(Event {
                session: SessionId(u64::MAX),
                kind: EventKind::WorkerFailed {
                    message: "the worker thread ended".to_owned(),
                },
            });
        }
        drained.more
    }

    fn note(&mut self, direction: Direction, text: &str) {
        self.log.push(Record::message(direction, None, text));
    }

    fn apply(&mut self, event: Event) {
        if let EventKind::WorkerFailed { message } = event.kind {
            self.note(Direction::Error, &format!("Worker failed: {message}"));
            self.worker = None;
            self.status = RunStatus::WorkerFailed(message);
            return;
        }
        if event.session != self.session {
            return;
        }
        match event.kind {
            EventKind::Started { local, time_us } => {
                self.status = RunStatus::Running { local: Some(local) };
                let mut r =
                    Record::message(Direction::Info, None, &format!("Sending from {local}."));
                r.time_us = time_us;
                self.log.push(r);
            }
            EventKind::Sent {
                to, time_us, bytes, ..
            } => {
                let mut r = Record::new(Direction::Sent, Some(to), bytes);
                r.time_us = time_us;
                self.log.push(r);
            }
            EventKind::SendFailed(e) => {
                let text = format!("Send failed: {e}. {}", broadcast_explanation(&e));
                self.target_error = Some(text.clone());
                self.note(Direction::Error, &text);
            }
            EventKind::Reply {
                from,
                time_us,
                rtt_us,
                bytes,
            } => {
                self.responders
                    .record(from, &bytes, time_us, Some(rtt_us), self.run_preset);
                let mut r = Record::new(Direction::Received, Some(from), bytes);
                r.time_us = time_us;
                self.log.push(r);
            }
            EventKind::Unreachable(e) => {
                let text = crate::tabs::udp::icmp_text(&e);
                self.note(Direction::Error, &text);
            }
            EventKind::Failed(e) => {
                let text = format!("Could not start: {e}. {}", broadcast_explanation(&e));
                self.note(Direction::Error, &text);
                self.status = RunStatus::Failed(text);
            }
            EventKind::Finished { cancelled, sends } => {
                let n = self.responders.len();
                let how = if cancelled { "Cancelled" } else { "Finished" };
                self.note(
                    Direction::Info,
                    &format!("{how}: {sends} send(s), {n} responder(s)."),
                );
                if !matches!(self.status, RunStatus::Failed(_)) {
                    self.status = RunStatus::Done { sends, cancelled };
                }
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("broadcast-setup").show(ui, |ui| self.setup_ui(ui));
        if self.settings.preset == Preset::Custom {
            egui::Panel::bottom("broadcast-payload").show(ui, |ui| {
                ui.add_space(4.0);
                ui.label(RichText::new("Custom payload: Send runs the probe with it.").weak());
                let encoding = self.settings.encoding;
                let can = !self.running() && self.worker.is_some();
                if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can) {
                    self.run(Some(bytes));
                }
                ui.add_space(2.0);
            });
        }
        egui::Panel::top("broadcast-responders")
            .resizable(true)
            .default_size(220.0)
            .min_size(150.0)
            .show(ui, |ui| self.responders_ui(ui));
        self.view.panes_ui(
            ui,
            "broadcast",
            &mut self.log,
            &mut self.settings.encoding,
            (0.0, 0.0),
            None,
        );
    }

    fn setup_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.running();
        let ifaces = self.interfaces.ipv4();
        let chosen = ifaces
            .iter()
            .find(|i| i.addr.to_string() == self.settings.interface_addr)
            .cloned();
        ui.add_enabled_ui(editable, |ui| {
            ui.horizontal_wrapped(|ui| {
                let current = ifaces
                    .iter()
                    .find(|i| i.addr.to_string() == self.settings.interface_addr)
                    .map_or_else(
                        || {
                            if self.settings.interface_addr.is_empty() {
                                "Pick an interface".to_owned()
                            } else {
                                format!("{} (not found)", self.settings.interface_addr)
                            }
                        },
                        InterfaceV4::describe,
                    );
                let mut picked = None;
                egui::ComboBox::from_label("Interface")
                    .selected_text(current)
                    .width(330.0)
                    .show_ui(ui, |ui| {
                        for i in &ifaces {
                            let addr = i.addr.to_string();
                            if ui
                                .selectable_label(
                                    addr == self.settings.interface_addr,
                                    i.describe(),
                                )
                                .clicked()
                            {
                                picked = Some(addr);
                            }
                        }
                    });
                if let Some(addr) = picked {
                    self.settings.interface_addr = addr;
                    self.interface_error = None;
                }
                let mut preset = self.settings.preset;
                egui::ComboBox::from_label("Preset")
                    .selected_text(preset.name())
                    .width(260.0)
                    .show_ui(ui, |ui| {
                        for p in Preset::ALL {
                            ui.selectable_value(&mut preset, p, p.name())
                                .on_hover_text(p.description());
                        }
                    });
                if preset != self.settings.preset {
                    self.set_preset(preset);
                }
            });
            if let Some(e) = &self.interface_error {
                error_text(ui, &format!("Interface: {e}"));
            }
            ui.label(RichText::new(self.settings.preset.description()).weak());
            ui.horizontal_wrapped(|ui| {
                ui.label("Send to");
                let bcast = chosen.as_ref().map_or_else(
                    || "subnet broadcast".to_owned(),
                    |i| i.broadcast.to_string(),
                );
                let t = &mut self.settings.target;
                ui.selectable_value(t, TargetKind::Directed, format!("Directed {bcast}"))
                    .on_hover_text(
                        "The subnet's broadcast address: every host on this interface's network.",
                    );
                ui.selectable_value(t, TargetKind::Limited, "Limited 255.255.255.255")
                    .on_hover_text(
                        "Every host on the local link, sent out of the chosen interface.",
                    );
                ui.selectable_value(t, TargetKind::Multicast, "Multicast")
                    .on_hover_text("A multicast group, sent out of the chosen interface.");
                ui.selectable_value(t, TargetKind::Unicast, "Unicast")
                    .on_hover_text("One address.");
                match self.settings.target {
                    TargetKind::Multicast => {
                        labelled_text(ui, "Group", &mut self.settings.group, 130.0);
                    }
                    TargetKind::Unicast => {
                        labelled_text(ui, "Host", &mut self.settings.unicast_host, 130.0);
                    }
                    _ => {}
                }
                labelled_text(ui, "Port", &mut self.settings.port, 55.0);
                labelled_text(
                    ui,
                    "Source port (0 = any)",
                    &mut self.settings.source_port,
                    55.0,
                );
            });
            if let Some(e) = &self.target_error {
                error_text(ui, e);
            }
            ui.horizontal_wrapped(|ui| {
                labelled_drag(ui, "Listen ms", &mut self.settings.listen_ms, 0..=600_000);
                labelled_drag(ui, "Sends", &mut self.settings.sends, 1..=10_000);
                ui.add_enabled_ui(self.settings.sends > 1, |ui| {
                    labelled_drag(ui, "Every ms", &mut self.settings.repeat_ms, 1..=3_600_000);
                });
                labelled_drag(ui, "TTL", &mut self.settings.ttl, 1..=255)
                    .on_hover_text("Multicast hops; 1 stays on the local network.");
            });
        });
        ui.horizontal_wrapped(|ui| {
            if self.worker.is_none() {
                if ui.button("Restart worker").clicked() {
                    self.start_worker();
                }
            } else if self.running() {
                if ui.button("Cancel").clicked() {
                    self.cancel();
                }
            } else if ui.button("Run discovery").clicked() {
                self.run(None);
            }
            let (color, text) = match &self.status {
                RunStatus::Idle => (
                    egui::Color32::GRAY,
                    "Pick an interface and a preset, then Run discovery.".to_owned(),
                ),
                RunStatus::Running { local } => (
                    WAIT_COLOR,
                    match local {
                        Some(l) => format!(
                            "Listening for replies on {l}… {} responder(s) so far.",
                            self.responders.len()
                        ),
                        None => "Starting…".to_owned(),
                    },
                ),
                RunStatus::Done { sends, cancelled } => (
                    OK_COLOR,
                    format!(
                        "{}: {sends} send(s), {} responder(s).",
                        if *cancelled { "Cancelled" } else { "Finished" },
                        self.responders.len()
                    ),
                ),
                RunStatus::Failed(m) | RunStatus::WorkerFailed(m) => (ERROR_COLOR, m.clone()),
            };
            ui.label(RichText::new(text).color(color).strong());
        });
        ui.horizontal_wrapped(|ui| {
            ui.strong("Wake-on-LAN");
            if labelled_text(ui, "MAC", &mut self.settings.wol_mac, 150.0).changed() {
                self.wol_error = None;
            }
            if ui
                .add_enabled(!self.running(), egui::Button::new("Wake"))
                .on_hover_text(
                    "Send the magic packet to the interface's broadcast address, UDP port 9.",
                )
                .clicked()
            {
                self.wake_on_lan();
            }
        });
        if let Some(e) = &self.wol_error {
            error_text(ui, &format!("MAC: {e}"));
        }
        ui.add_space(2.0);
    }

    fn responders_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.strong(format!("Responders ({})", self.responders.len()));
            if ui
                .add_enabled(!self.responders.is_empty(), egui::Button::new("Copy table"))
                .clicked()
            {
                ui.ctx().copy_text(self.responders.to_tsv());
            }
        });
        let offset = self.view.utc_offset_seconds();
        let responders = &self.responders;
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        TableBuilder::new(ui)
            .id_salt("broadcast-responders")
            .striped(true)
            .column(Column::initial(150.0).at_least(90.0))
            .column(Column::initial(55.0))
            .column(Column::initial(75.0))
            .column(Column::initial(520.0).at_least(120.0))
            .column(Column::initial(175.0))
            .column(Column::remainder().at_least(120.0))
            .header(20.0, |mut h| {
                for title in [
                    "Address",
                    "Replies",
                    "RTT",
                    "Fields",
                    "First / last",
                    "Reply",
                ] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, responders.len(), |mut row| {
                    let Some(r) = responders.row(row.index()) else {
                        return;
                    };
                    let cell =
                        |text: String| egui::Label::new(RichText::new(text).monospace()).truncate();
                    row.col(|ui| {
                        ui.add(cell(r.addr.to_string()));
                    });
                    row.col(|ui| {
                        ui.add(cell(r.replies.to_string()));
                    });
                    row.col(|ui| {
                        let rtt = r
                            .rtt_us
                            .map_or_else(String::new, |us| format!("{:.2} ms", us as f64 / 1000.0));
                        ui.add(cell(rtt));
                    });
                    row.col(|ui| {
                        let fields = r
                            .fields
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join("  ");
                        ui.add(cell(fields));
                    });
                    row.col(|ui| {
                        let first = format_time_us(r.first_us, offset);
                        let last = format_time_us(r.last_us, offset);
                        ui.add(cell(format!("{first} / {}", &last[6..])));
                    });
                    row.col(|ui| {
                        ui.add(cell(r.preview.clone()));
                    });
                });
            });
    }
}
