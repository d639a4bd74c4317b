//! The TCP Server tab: listen, accept many clients in one readiness loop, see and address each.

pub mod worker;

pub use worker::{
    ClientCloseReason, ClientId, Command, Event, EventKind, ServerOptions, Target, TcpServerHandle,
};

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::net::{NetError, parse_port};
use crate::traffic::{
    Direction, RateMeter, Record, TrafficLog, format_bytes, format_time_us, now_us,
};
use crate::ui::peer_filter::PeerFilter;
use crate::ui::traffic_view::ViewSettings;
use crate::ui::widgets::{ERROR_COLOR, OK_COLOR, error_text, labelled_drag, labelled_text};
use crate::ui::{SendBox, TrafficView};
use crate::worker::{SessionId, Wake, drain_bounded};

const MAX_EVENTS_PER_FRAME: usize = 4096;
const MAX_BYTES_PER_FRAME: usize = 64 * 1024 * 1024;

/// Bind addresses offered in the picker.
pub const BIND_CHOICES: [(&str, &str); 4] = [
    ("0.0.0.0", "All IPv4 (0.0.0.0)"),
    ("::", "All IPv6 (::, dual-stack)"),
    ("127.0.0.1", "Loopback (127.0.0.1)"),
    ("::1", "Loopback IPv6 (::1)"),
];

/// What the tab saves across restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpServerSettings {
    pub bind: String,
    pub port: String,
    pub backlog: i32,
    pub reuse_addr: bool,
    pub echo: bool,
    /// 0 = no limit.
    pub max_clients: usize,
    /// 0 = no limit.
    pub max_per_ip: usize,
    /// 0 = off.
    pub idle_timeout_s: u64,
    pub encoding: TextEncoding,
    pub view: ViewSettings,
    pub send_box: SendBox,
}

impl Default for TcpServerSettings {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".to_owned(),
            port: "8080".to_owned(),
            backlog: 1024,
            reuse_addr: true,
            echo: false,
            max_clients: 0,
            max_per_ip: 0,
            idle_timeout_s: 0,
            encoding: TextEncoding::Utf8,
            view: ViewSettings::default(),
            send_box: SendBox::default(),
        }
    }
}

/// One row of the client table.
#[derive(Debug, Clone)]
pub struct ClientRow {
    pub peer: SocketAddr,
    pub since_us: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub last_us: u64,
}

/// Server state as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStatus {
    Stopped,
    Starting,
    Listening(SocketAddr),
    Failed(NetError),
    WorkerFailed(String),
}

pub struct TcpServerTab {
    pub settings: TcpServerSettings,
    wake: Wake,
    worker: Option<TcpServerHandle>,
    session: SessionId,
    pub status: ServerStatus,
    pub clients: BTreeMap<ClientId, ClientRow>,
    /// The selected client; `None` is "All".
    pub selected: Option<ClientId>,
    pub log: TrafficLog,
    view: TrafficView,
    filter: PeerFilter,
    rate: RateMeter,
    bind_error: Option<String>,
    port_error: Option<String>,
    last_stop_note: Option<String>,
    /// This machine's addresses for the bind picker, and when they were read.
    local_addresses: crate::net::iface::InterfaceCache,
}

fn reason_text(reason: &ClientCloseReason, idle_s: u64) -> String {
    match reason {
        ClientCloseReason::ClosedByPeer => "closed by peer".to_owned(),
        ClientCloseReason::Reset => "reset by peer".to_owned(),
        ClientCloseReason::ByUs => "disconnected by us".to_owned(),
        ClientCloseReason::IdleTimeout => format!("idle timeout ({idle_s} s without data)"),
        ClientCloseReason::LimitReached(why) => format!("refused: {why}"),
        ClientCloseReason::Error(e) => format!("error: {e}"),
    }
}

impl TcpServerTab {
    pub fn new(mut settings: TcpServerSettings, wake: Wake) -> Self {
        let log = TrafficLog::with_cap(settings.view.cap_mib as usize * 1024 * 1024);
        let view = TrafficView::new(std::mem::take(&mut settings.view));
        let mut tab = Self {
            settings,
            wake,
            worker: None,
            session: SessionId::default(),
            status: ServerStatus::Stopped,
            clients: BTreeMap::new(),
            selected: None,
            log,
            view,
            filter: PeerFilter::default(),
            rate: RateMeter::default(),
            bind_error: None,
            port_error: None,
            last_stop_note: None,
            local_addresses: crate::net::iface::InterfaceCache::default(),
        };
        tab.start_worker();
        tab
    }

    fn start_worker(&mut self) {
        match TcpServerHandle::spawn(self.wake.clone()) {
            Ok(h) => {
                self.worker = Some(h);
                if matches!(self.status, ServerStatus::WorkerFailed(_)) {
                    self.status = ServerStatus::Stopped;
                }
            }
            Err(e) => self.status = ServerStatus::WorkerFailed(format!("could not start: {e}")),
        }
    }

    pub fn settings_to_save(&self) -> TcpServerSettings {
        let mut s = self.settings.clone();
        s.view = self.view.settings.clone();
        s
    }

    fn running(&self) -> bool {
        matches!(
            self.status,
            ServerStatus::Starting | ServerStatus::Listening(_)
        )
    }

    /// Validates the bind address and port, then starts listening.
    pub fn start(&mut self) {
        let ip = self
            .settings
            .bind
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let ip = if let Ok(ip) = ip.parse::<std::net::IpAddr>() {
            self.bind_error = None;
            Some(ip)
        } else {
            self.bind_error = Some(format!(
                "\"{}\" is not an IP address: pick one from the list or type e.g. 0.0.0.0.",
                self.settings.bind.trim()
            ));
            None
        };
        let port = match parse_port(&self.settings.port, true) {
            Ok(p) => {
                self.port_error = None;
                Some(p)
            }
            Err(e) => {
                self.port_error = Some(e);
                None
            }
        };
        let (Some(ip), Some(port)) = (ip, port) else {
            return;
        };
        let s = &self.settings;
        let options = ServerOptions {
            bind: SocketAddr::new(ip, port),
            backlog: s.backlog,
            reuse_addr: s.reuse_addr,
            echo: s.echo,
            max_clients: (s.max_clients > 0).then_some(s.max_clients),
            max_per_ip: (s.max_per_ip > 0).then_some(s.max_per_ip),
            idle_timeout: (s.idle_timeout_s > 0).then(|| Duration::from_secs(s.idle_timeout_s)),
        };
        self.session = self.session.next();
        self.clients.clear();
        self.selected = None;
        self.last_stop_note = None;
        let ok = self.worker.as_ref().is_some_and(|w| {
            w.send(Command::Start {
                session: self.session,
                options,
            })
        });
        self.status = if ok {
            ServerStatus::Starting
        } else {
            ServerStatus::WorkerFailed("the worker is not running".to_owned())
        };
    }

    pub fn stop(&mut self) {
        if let Some(w) = &self.worker {
            w.send(Command::Stop {
                session: self.session,
            });
        }
    }

    fn target(&self) -> Target {
        match self.selected {
            Some(id) => Target::Clients(vec![id]),
            None => Target::All,
        }
    }

    pub fn send(&mut self, bytes: Vec<u8>) {
        let target = self.target();
        if let Some(w) = &self.worker {
            w.send(Command::Send {
                session: self.session,
                target,
                bytes,
            });
        }
    }

    pub fn disconnect(&mut self, target: Target) {
        if let Some(w) = &self.worker {
            w.send(Command::Disconnect {
                session: self.session,
                target,
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
                EventKind::Received { bytes, .. } => bytes.len(),
                _ => 0,
            },
            |e| self.apply(e),
        );
        if drained.dead && !matches!(self.status, ServerStatus::WorkerFailed(_)) {
            self.apply(Event {
                session: SessionId(u64::MAX),
                kind: EventKind::WorkerFailed {
                    message: "the worker thread ended".to_owned(),
                },
            });
        }
        let more = drained.more;
        let c = self.log.counters();
        self.rate.sample(Instant::now(), c.rx_bytes, c.tx_bytes);
        more
    }

    fn apply(&mut self, event: Event) {
        if let EventKind::WorkerFailed { message } = event.kind {
            self.log.push(Record::message(
                Direction::Error,
                None,
                &format!("Worker failed: {message}"),
            ));
            self.worker = None;
            self.clients.clear();
            self.status = ServerStatus::WorkerFailed(message);
            return;
        }
        if event.session != self.session {
            return;
        }
        match event.kind {
            EventKind::Listening { local } => {
                self.status = ServerStatus::Listening(local);
                self.log.push(Record::message(
                    Direction::Info,
                    None,
                    &format!("Listening on {local}."),
                ));
            }
            EventKind::StartFailed(e) => {
                self.log.push(Record::message(
                    Direction::Error,
                    None,
                    &format!("Could not listen: {e}. {}", e.explanation()),
                ));
                self.status = ServerStatus::Failed(e);
            }
            EventKind::Accepted { client, peer } => {
                let now = now_us();
                self.clients.insert(
                    client,
                    ClientRow {
                        peer,
                        since_us: now,
                        bytes_in: 0,
                        bytes_out: 0,
                        last_us: now,
                    },
                );
                self.log.push(Record::message(
                    Direction::Info,
                    Some(peer),
                    &format!("Client {peer} connected."),
                ));
            }
            EventKind::Received {
                client,
                peer,
                bytes,
            } => {
                if let Some(row) = self.clients.get_mut(&client) {
                    row.bytes_in += bytes.len() as u64;
                    row.last_us = now_us();
                }
                self.log
                    .push(Record::new(Direction::Received, Some(peer), bytes));
            }
            EventKind::Sent {
                client,
                peer,
                bytes,
            } => {
                if let Some(row) = self.clients.get_mut(&client) {
                    row.bytes_out += bytes.len() as u64;
                    row.last_us = now_us();
                }
                self.log
                    .push(Record::new(Direction::Sent, Some(peer), bytes));
            }
            EventKind::ClientClosed {
                client,
                peer,
                reason,
            } => {
                self.clients.remove(&client);
                if self.selected == Some(client) {
                    self.selected = None;
                }
                let direction = match reason {
                    ClientCloseReason::LimitReached(_) | ClientCloseReason::Error(_) => {
                        Direction::Error
                    }
                    _ => Direction::Info,
                };
                let text = format!(
                    "Client {peer} disconnected: {}.",
                    reason_text(&reason, self.settings.idle_timeout_s)
                );
                self.log.push(Record::message(direction, Some(peer), &text));
            }
            EventKind::AcceptError { message } => {
                self.log.push(Record::message(
                    Direction::Error,
                    None,
                    &format!("Accept failed: {message}"),
                ));
            }
            EventKind::Stopped { clients_closed } => {
                let note = format!("Server stopped; {clients_closed} client(s) disconnected.");
                self.log.push(Record::message(Direction::Info, None, &note));
                self.last_stop_note = Some(note);
                self.clients.clear();
                self.selected = None;
                self.status = ServerStatus::Stopped;
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("tcp-server-listen").show(ui, |ui| self.listen_ui(ui));
        egui::Panel::bottom("tcp-server-send").show(ui, |ui| {
            ui.add_space(4.0);
            let to = match self.selected.and_then(|id| self.clients.get(&id)) {
                Some(row) => format!("Sends go to the selected client {}.", row.peer),
                None => format!("Sends go to all {} client(s).", self.clients.len()),
            };
            ui.label(RichText::new(to).weak());
            let can_send = !self.clients.is_empty() && self.worker.is_some();
            let encoding = self.settings.encoding;
            if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can_send) {
                self.send(bytes);
            }
            ui.add_space(2.0);
        });
        egui::Panel::left("tcp-server-clients")
            .resizable(true)
            .default_size(430.0)
            .show(ui, |ui| self.clients_ui(ui));
        let rates = self.rate.rates_bytes_per_sec();
        // Only the selected client's records, when one is selected (disjoint field borrows: no
        // copy of the id list per frame).
        let rows = self
            .selected
            .and_then(|id| self.clients.get(&id))
            .map(|r| r.peer)
            .map(|peer| self.filter.ids(&self.log, peer));
        self.view.panes_ui(
            ui,
            "tcp-server",
            &mut self.log,
            &mut self.settings.encoding,
            rates,
            rows,
        );
    }

    fn listen_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.running();
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(editable, |ui| {
                let label = BIND_CHOICES
                    .iter()
                    .find(|(ip, _)| *ip == self.settings.bind)
                    .map_or(self.settings.bind.as_str(), |(_, l)| l);
                egui::ComboBox::from_label("Bind address")
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
                        for (interface, ip) in self.local_addresses.addresses() {
                            let ip = ip.to_string();
                            let label = format!("{interface}: {ip}");
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
                if labelled_text(ui, "Port", &mut self.settings.port, 60.0).changed() {
                    self.port_error = None;
                }
                labelled_drag(ui, "Backlog", &mut self.settings.backlog, 1..=65_535);
                ui.checkbox(&mut self.settings.reuse_addr, "SO_REUSEADDR")
                    .on_hover_text("Lets a restarted server bind the port again at once.");
            });
            if self.worker.is_none() {
                if ui.button("Restart worker").clicked() {
                    self.start_worker();
                }
            } else if self.running() {
                if ui.button("Stop").clicked() {
                    self.stop();
                }
            } else if ui.button("Start").clicked() {
                self.start();
            }
        });
        if let Some(e) = &self.bind_error {
            error_text(ui, &format!("Address: {e}"));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &format!("Port: {e}"));
        }
        ui.horizontal_wrapped(|ui| {
            if ui
                .checkbox(&mut self.settings.echo, "Echo")
                .on_hover_text("Send back everything a client sends.")
                .changed()
                && let Some(w) = &self.worker
            {
                w.send(Command::SetEcho {
                    session: self.session,
                    echo: self.settings.echo,
                });
            }
            ui.add_enabled_ui(editable, |ui| {
                labelled_drag(
                    ui,
                    "Max clients (0 = no limit)",
                    &mut self.settings.max_clients,
                    0..=1_000_000,
                );
                labelled_drag(
                    ui,
                    "Max per IP (0 = no limit)",
                    &mut self.settings.max_per_ip,
                    0..=1_000_000,
                );
                labelled_drag(
                    ui,
                    "Idle timeout s (0 = off)",
                    &mut self.settings.idle_timeout_s,
                    0..=86_400,
                );
            });
        });
        let (color, headline, explanation) = match &self.status {
            ServerStatus::Stopped => (
                egui::Color32::GRAY,
                self.last_stop_note
                    .clone()
                    .unwrap_or_else(|| "Not listening.".to_owned()),
                "Pick an address and port, then click Start.".to_owned(),
            ),
            ServerStatus::Starting => (egui::Color32::GRAY, "Starting…".to_owned(), String::new()),
            ServerStatus::Listening(local) => (
                OK_COLOR,
                format!(
                    "Listening on {local} with {} client(s).",
                    self.clients.len()
                ),
                "Point your device or client at this address and port.".to_owned(),
            ),
            ServerStatus::Failed(e) => (
                ERROR_COLOR,
                format!("Could not listen: {e}."),
                e.explanation(),
            ),
            ServerStatus::WorkerFailed(m) => (
                ERROR_COLOR,
                format!("The server worker stopped unexpectedly: {m}"),
                "Click Restart worker to carry on; the log is kept.".to_owned(),
            ),
        };
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(headline).color(color).strong());
            ui.label(RichText::new(explanation).weak());
        });
        ui.add_space(2.0);
    }

    fn clients_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.strong(format!("Clients ({})", self.clients.len()));
            let has = !self.clients.is_empty();
            if ui
                .add_enabled(
                    has && self.selected.is_some(),
                    egui::Button::new("Disconnect selected"),
                )
                .clicked()
                && let Some(id) = self.selected
            {
                self.disconnect(Target::Clients(vec![id]));
            }
            if ui
                .add_enabled(has, egui::Button::new("Disconnect all"))
                .clicked()
            {
                self.disconnect(Target::All);
            }
        });
        let offset = self.view.utc_offset_seconds();
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        let mut clicked: Option<Option<ClientId>> = None;
        TableBuilder::new(ui)
            .id_salt("tcp-server-client-table")
            .striped(true)
            .sense(egui::Sense::click())
            .column(Column::initial(150.0).at_least(80.0))
            .column(Column::initial(62.0))
            .column(Column::initial(62.0))
            .column(Column::initial(62.0))
            .column(Column::remainder().at_least(60.0))
            .header(20.0, |mut h| {
                for title in ["Peer", "Since", "In", "Out", "Last"] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, ids.len() + 1, |mut row| {
                    let index = row.index();
                    if index == 0 {
                        row.set_selected(self.selected.is_none());
                        row.col(|ui| {
                            ui.add(egui::Label::new("All clients").selectable(false));
                        });
                        for _ in 0..4 {
                            row.col(|_| {});
                        }
                        if row.response().clicked() {
                            clicked = Some(None);
                        }
                        return;
                    }
                    let id = ids[index - 1];
                    let Some(c) = self.clients.get(&id) else {
                        return;
                    };
                    row.set_selected(self.selected == Some(id));
                    let cell = |text: String| {
                        egui::Label::new(RichText::new(text).monospace())
                            .selectable(false)
                            .truncate()
                    };
                    row.col(|ui| {
                        ui.add(cell(c.peer.to_string()));
                    });
                    row.col(|ui| {
                        ui.add(cell(format_time_us(c.since_us, offset)[..8].to_owned()));
                    });
                    row.col(|ui| {
                        ui.add(cell(format_bytes(c.bytes_in)));
                    });
                    row.col(|ui| {
                        ui.add(cell(format_bytes(c.bytes_out)));
                    });
                    row.col(|ui| {
                        ui.add(cell(format_time_us(c.last_us, offset)[..8].to_owned()));
                    });
                    if row.response().clicked() {
                        clicked = Some(Some(id));
                    }
                });
            });
        if let Some(sel) = clicked {
            self.selected = sel;
        }
    }
}
