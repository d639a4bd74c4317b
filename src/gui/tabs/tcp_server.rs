//! The TCP Server tab: listen, accept many clients in one readiness loop, see and address each.

use crate::engine::tcp_server::{
    ClientCloseReason, ClientId, Command, Event, EventKind, ServerOptions, Target, TcpServerHandle,
};
use crate::gui::widgets::tcp_states::SessionStates;
use crate::iptools::tcp_state::Side;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::engine::session::JobStatus;
use crate::engine::session::rules::RulesFile;
use crate::engine::worker::Wake;
use crate::gui::session::{DrainLimits, Session, Traffic};
use crate::gui::widgets::SendBox;
use crate::gui::widgets::checksum::ChecksumSettings;
use crate::gui::widgets::framing::FramingSettings;
use crate::gui::widgets::library::{LibraryPanel, PacketSend};
use crate::gui::widgets::rules::RulesEditor;
use crate::gui::widgets::send_tools::{self, SendTools, ToolAction};
use crate::gui::widgets::traffic_view::ViewSettings;
use crate::gui::widgets::{Tone, status_line};
use crate::gui::widgets::{error_text, labelled_drag, labelled_hint};
use crate::net::{NetError, parse_port};
use crate::settings::{Bounded, clamp_number, cut_fields, join};
use crate::traffic::peer_filter::PeerFilter;
use crate::traffic::{Direction, Record, format_bytes, format_time_us, now_us};

use crate::gui::widgets::bind_picker::bind_picker;

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
    pub framing: FramingSettings,
    pub checksum: ChecksumSettings,
    pub rules: RulesFile,
    pub script: crate::gui::widgets::script_box::ScriptSettings,
    pub view: ViewSettings,
    pub send_box: SendBox,
    pub send_tools: SendTools,
    pub capture: crate::gui::widgets::capture_bar::CaptureSettings,
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
            framing: FramingSettings::default(),
            checksum: ChecksumSettings::default(),
            rules: RulesFile::default(),
            script: crate::gui::widgets::script_box::ScriptSettings::default(),
            view: ViewSettings::default(),
            send_box: SendBox::default(),
            send_tools: SendTools::default(),
            capture: crate::gui::widgets::capture_bar::CaptureSettings::default(),
        }
    }
}

impl Bounded for TcpServerSettings {
    /// Ranges as the fields' drag values offer them.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        clamp_number(
            &mut self.backlog,
            &(1..=65_535),
            &join(path, "backlog"),
            notes,
        );
        clamp_number(
            &mut self.max_clients,
            &(0..=1_000_000),
            &join(path, "max_clients"),
            notes,
        );
        clamp_number(
            &mut self.max_per_ip,
            &(0..=1_000_000),
            &join(path, "max_per_ip"),
            notes,
        );
        clamp_number(
            &mut self.idle_timeout_s,
            &(0..=86_400),
            &join(path, "idle_timeout_s"),
            notes,
        );
        cut_fields(
            path,
            &mut [("bind", &mut self.bind), ("port", &mut self.port)],
            notes,
        );
        self.framing.bound(&join(path, "framing"), notes);
        self.checksum.bound(&join(path, "checksum"), notes);
        self.rules.bound(&join(path, "rules"), notes);
        self.script.bound(&join(path, "script"), notes);
        self.view.bound(&join(path, "view"), notes);
        self.send_box.bound(&join(path, "send_box"), notes);
        self.send_tools.bound(&join(path, "send_tools"), notes);
        self.capture.bound(&join(path, "capture"), notes);
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
    /// The client shut down its sending side (half-close); it can still be sent to.
    pub finished: bool,
}

/// Server state as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStatus {
    Stopped,
    Starting,
    Listening(SocketAddr),
    Failed(NetError),
}

/// One TCP Server session: its settings, status and clients over its own worker and log.
pub struct TcpServerTab {
    pub settings: TcpServerSettings,
    pub session: Session<Command, Event>,
    pub status: ServerStatus,
    pub clients: BTreeMap<ClientId, ClientRow>,
    /// The selected client; `None` is "All".
    pub selected: Option<ClientId>,
    filter: PeerFilter,
    bind_error: Option<String>,
    framing_error: Option<String>,
    pub rules: RulesEditor,
    pub script: crate::gui::widgets::script_box::ScriptEditor,
    port_error: Option<String>,
    last_stop_note: Option<String>,
    /// This machine's addresses for the bind picker, and when they were read.
    local_addresses: crate::net::iface::InterfaceCache,
    /// The running (or last) repeat or file send.
    pub job: Option<JobStatus>,
    /// The kernel's TCP states of the selected client's connection.
    pub states: SessionStates,
    /// The client whose connection `states` watches.
    states_for: Option<ClientId>,
}

fn reason_text(reason: &ClientCloseReason, idle_s: u64) -> String {
    match reason {
        ClientCloseReason::IdleTimeout => {
            t!("tcp_server.idle_reason", seconds = idle_s).into_owned()
        }
        other => other.to_string(),
    }
}

impl TcpServerTab {
    pub fn new(mut settings: TcpServerSettings, wake: Wake) -> Self {
        let view = std::mem::take(&mut settings.view);
        Self {
            settings,
            states: SessionStates::new(wake.clone()),
            states_for: None,
            session: Session::new(view, wake, TcpServerHandle::spawn),
            status: ServerStatus::Stopped,
            clients: BTreeMap::new(),
            selected: None,
            filter: PeerFilter::default(),
            bind_error: None,
            framing_error: None,
            rules: RulesEditor::mocking(crate::capture::Transport::Tcp),
            script: crate::gui::widgets::script_box::ScriptEditor::default(),
            port_error: None,
            last_stop_note: None,
            local_addresses: crate::net::iface::InterfaceCache::default(),
            job: None,
        }
    }

    /// Takes rules made from a TCP Client's selected rows and listens on the device's port
    /// (a valid one); `extra` says what to do next.
    pub fn adopt_mock(&mut self, mock: crate::gui::widgets::rules::MockOfRows, extra: &str) {
        if mock.port.trim().parse::<u16>().is_ok_and(|p| p != 0) {
            mock.port.trim().clone_into(&mut self.settings.port);
            self.port_error = None;
        }
        self.rules.adopt_mock(&mut self.settings.rules, mock, extra);
    }

    /// A newly selected client's connection is watched (and shown); after it closes, its
    /// timeline stays shown until another client is selected.
    fn watch_selected(&mut self) {
        let Some(id) = self.selected else {
            return;
        };
        if self.states_for == Some(id) {
            return;
        }
        let (ServerStatus::Listening(local), Some(row)) = (&self.status, self.clients.get(&id))
        else {
            return;
        };
        self.states.watch(*local, row.peer, Side::Server, true);
        self.states_for = Some(id);
    }

    pub fn settings_to_save(&self) -> TcpServerSettings {
        let mut s = self.settings.clone();
        s.view = self.session.view_settings();
        s
    }

    /// The traffic log of this session.
    pub fn log(&self) -> &crate::traffic::TrafficLog {
        &self.session.log
    }

    /// What closing this session would cut, in words; `None` when nothing is open.
    pub fn busy(&self) -> Option<String> {
        match self.status {
            ServerStatus::Listening(local) => Some(
                t!(
                    "tcp_server.busy.listening",
                    local = local,
                    n = self.clients.len()
                )
                .into_owned(),
            ),
            ServerStatus::Starting => Some(t!("tcp_server.busy.starting").into_owned()),
            _ => None,
        }
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
            self.bind_error =
                Some(t!("tcp_server.not_ip", text = self.settings.bind.trim()).into_owned());
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
        let pipeline = crate::gui::widgets::pipeline::session_pipeline(
            &crate::gui::widgets::pipeline::PipelineRows {
                framing: &self.settings.framing,
                checksum: &self.settings.checksum,
                rules: &self.settings.rules,
                script: &self.settings.script,
                encoding: self.settings.encoding,
            },
            &mut self.framing_error,
            &mut self.rules,
            &mut self.script,
        );
        let (Some(ip), Some(port), Some(pipeline)) = (ip, port, pipeline) else {
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
            pipeline,
        };
        let session = self.session.next_id();
        self.clients.clear();
        self.selected = None;
        self.last_stop_note = None;
        if self.session.command(Command::Start { session, options }) {
            self.status = ServerStatus::Starting;
        }
    }

    pub fn stop(&mut self) {
        let session = self.session.id();
        self.session.command(Command::Stop { session });
    }

    fn target(&self) -> Target {
        match self.selected {
            Some(id) => Target::Clients(vec![id]),
            None => Target::All,
        }
    }

    /// Sends to the selected client or to all. Refused bytes stay in the send box.
    pub fn send(&mut self, bytes: Vec<u8>) {
        let target = self.target();
        let session = self.session.id();
        if let Err(e) = self.session.send(Command::Send {
            session,
            target,
            bytes,
        }) {
            self.settings.send_box.error = Some(e.to_string());
        }
    }

    /// Whether a send can go now (a client to send to, worker alive).
    pub fn can_send(&self) -> bool {
        !self.clients.is_empty() && self.session.has_worker()
    }

    /// Why the send buttons are greyed out, when they are.
    fn send_blocked(&self) -> Option<String> {
        self.session.send_blocked(self.can_send(), || {
            if matches!(self.status, ServerStatus::Listening(_)) {
                t!("disabled.send.tcp_server_no_client")
            } else {
                t!("disabled.send.tcp_server_stopped")
            }
        })
    }

    fn capture_context(&self) -> crate::gui::widgets::capture_bar::CaptureContext {
        let local = match self.status {
            ServerStatus::Listening(local) => local,
            _ => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        crate::gui::widgets::capture_bar::CaptureContext {
            transport: crate::capture::Transport::Tcp,
            label: format!(
                "Sockpit TCP Server {}:{}", // i18n-exempt: written into capture files.
                self.settings.bind, self.settings.port
            ),
            opened_by: Some(crate::capture::OpenedBy::Peer),
            encoding: self.settings.encoding,
            local,
            active: matches!(self.status, ServerStatus::Listening(_)),
            plot_peers: true,
        }
    }

    /// Sends a packet from the library to the selected client, or to all.
    pub fn send_packet(&mut self, packet: PacketSend, _library: &mut LibraryPanel) {
        self.send(packet.bytes);
    }

    /// Starts (or stops) a repeat or a file send to the selected client, or to all.
    pub fn tool(&mut self, action: &ToolAction) {
        let session = self.session.id();
        let command =
            match send_tools::job_spec(action, &mut self.settings.send_box, self.settings.encoding)
            {
                Some(job) => Command::StartJob {
                    session,
                    target: self.target(),
                    job,
                },
                None if *action == ToolAction::Stop => Command::StopJob { session },
                None => return,
            };
        if let Err(e) = self.session.send(command) {
            self.settings.send_tools.error = Some(e.to_string());
        }
    }

    pub fn disconnect(&mut self, target: Target) {
        let session = self.session.id();
        self.session
            .command(Command::Disconnect { session, target });
    }

    /// Applies waiting worker events (bounded per frame). Returns true if more are waiting.
    pub fn drain_events(&mut self) -> bool {
        crate::gui::session::drain_capturing(self)
    }

    /// This session's figures for `sockpit gui --report`.
    pub fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = self.session.report();
        m.insert(
            "listening".into(),
            serde_json::json!(matches!(self.status, ServerStatus::Listening(_))),
        );
        m.insert("clients".into(), serde_json::json!(self.clients.len()));
        m
    }

    fn note(&mut self, direction: Direction, peer: Option<SocketAddr>, text: &str) {
        self.session.note(direction, peer, text);
    }
}

impl Traffic for TcpServerTab {
    fn auto_capture_choice(
        &self,
    ) -> Option<(
        crate::gui::widgets::capture_bar::CaptureSettings,
        crate::gui::widgets::capture_bar::CaptureContext,
    )> {
        self.settings
            .capture
            .auto
            .then(|| (self.settings.capture.clone(), self.capture_context()))
    }

    type Command = Command;
    type Event = Event;
    const LIMITS: DrainLimits = DrainLimits {
        // Framed streams are many small records, one event each.
        events: 32 * 1024,
        bytes: 64 * 1024 * 1024,
    };

    fn session(&mut self) -> &mut Session<Command, Event> {
        &mut self.session
    }

    fn script_notes(&mut self) -> Vec<(Direction, String)> {
        self.script.poll()
    }

    fn worker_gone(&mut self) {
        self.clients.clear();
        self.selected = None;
        self.status = ServerStatus::Stopped;
    }

    fn apply(&mut self, event: Event) {
        match event.kind {
            EventKind::Listening { local } => {
                self.status = ServerStatus::Listening(local);
                self.session.view.local_port = Some(local.port());
                self.note(
                    Direction::Info,
                    None,
                    &t!("tcp_server.log.listening", local = local),
                );
            }
            EventKind::StartFailed(e) => {
                self.note(
                    Direction::Error,
                    None,
                    &t!(
                        "tcp_server.log.listen_failed",
                        error = e,
                        explanation = e.explanation()
                    ),
                );
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
                        finished: false,
                    },
                );
                self.note(
                    Direction::Info,
                    Some(peer),
                    &t!("tcp_server.log.client_connected", peer = peer),
                );
            }
            EventKind::Received {
                client,
                peer,
                bytes,
                check,
            } => {
                if let Some(row) = self.clients.get_mut(&client) {
                    row.bytes_in += bytes.len() as u64;
                    row.last_us = now_us();
                }
                self.session
                    .log
                    .push(Record::new(Direction::Received, Some(peer), bytes).checked(check));
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
                self.session
                    .log
                    .push(Record::new(Direction::Sent, Some(peer), bytes));
            }
            EventKind::Framing { peer, notice, .. } => self.session.frame_notice(peer, &notice),
            EventKind::ClientFinished { client, peer } => {
                if let Some(row) = self.clients.get_mut(&client) {
                    row.finished = true;
                }
                self.note(
                    Direction::Info,
                    Some(peer),
                    &t!("tcp_server.log.client_finished", peer = peer),
                );
            }
            EventKind::Job(status) => {
                if let Some((direction, text)) = send_tools::end_note(&status) {
                    self.note(direction, None, &text);
                }
                self.job = Some(status);
            }
            EventKind::JobRefused { reason } => self.settings.send_tools.error = Some(reason),
            EventKind::SendRefused {
                peer, len, reason, ..
            } => {
                self.note(
                    Direction::Error,
                    Some(peer),
                    &t!(
                        "tcp_server.log.not_sent",
                        peer = peer,
                        len = len,
                        reason = reason
                    ),
                );
            }
            EventKind::ClientClosed {
                client,
                peer,
                reason,
                unsent_bytes,
            } => {
                self.clients.remove(&client);
                self.session.history.forget_peer(&peer);
                if self.selected == Some(client) {
                    self.selected = None;
                }
                let direction = match reason {
                    ClientCloseReason::LimitReached(_) | ClientCloseReason::Error(_) => {
                        Direction::Error
                    }
                    _ => Direction::Info,
                };
                let text = t!(
                    "tcp_server.log.client_disconnected",
                    peer = peer,
                    reason = reason_text(&reason, self.settings.idle_timeout_s)
                );
                self.note(direction, Some(peer), &text);
                if unsent_bytes > 0 {
                    self.note(
                        Direction::Error,
                        Some(peer),
                        &t!("tcp_server.log.unsent", bytes = unsent_bytes, peer = peer),
                    );
                }
            }
            EventKind::AcceptError { message } => {
                self.note(
                    Direction::Error,
                    None,
                    &t!("tcp_server.log.accept_failed", message = message),
                );
            }
            EventKind::Stopped { clients_closed } => {
                let note = t!("tcp_server.log.stopped", n = clients_closed).into_owned();
                self.note(Direction::Info, None, &note);
                self.last_stop_note = Some(note);
                self.clients.clear();
                self.selected = None;
                self.status = ServerStatus::Stopped;
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }
}

impl TcpServerTab {
    /// The whole tab; `id` tells this session's panels from its siblings'.
    pub fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel) {
        self.watch_selected();
        crate::gui::widgets::say_why_send_is_off(ui, self.send_blocked());
        crate::gui::widgets::top_settings_panel(ui, format!("{id}-listen"), |ui| {
            self.listen_ui(ui);
            self.states.ui(ui, id, &t!("tcp_states.server_empty"));
        });
        egui::Panel::bottom(format!("{id}-send")).show(ui, |ui| {
            ui.add_space(4.0);
            let to = if let Some(row) = self.selected.and_then(|id| self.clients.get(&id)) {
                t!("tcp_server.send_to.selected", peer = row.peer)
            } else {
                t!("tcp_server.send_to.all", n = self.clients.len())
            };
            ui.label(RichText::new(to).weak());
            let can_send = self.can_send();
            let encoding = self.settings.encoding;
            if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can_send) {
                self.send(bytes);
            }
            self.settings
                .checksum
                .preview_ui(ui, &self.settings.send_box, encoding);
            if let Some(action) = self.settings.send_tools.ui(
                ui,
                self.job.as_ref(),
                can_send,
                (false, encoding, &library.library),
            ) {
                self.tool(&action);
            }
            ui.add_space(2.0);
        });
        if self.session.plot.show {
            let now = std::time::Instant::now();
            for row in self.clients.values() {
                self.session
                    .history
                    .sample_peer(now, row.peer, row.bytes_in, row.bytes_out);
            }
        }
        let ctx = self.capture_context();
        let can_send = self.can_send();
        if let Some(bytes) =
            self.session
                .capture_ui(ui, id, &ctx, &mut self.settings.capture, can_send)
        {
            self.send(bytes);
        }
        if let Some(packet) = library.ui(ui, id, self.can_send()) {
            self.send_packet(packet, library);
        }
        // The client table takes less of a small window, so the log keeps its text column; its
        // divider drags (egui remembers where) within bounds that leave the log room.
        let width = ui.available_width();
        let clients_w = (width * 0.35).clamp(240.0, 400.0);
        egui::Panel::left(format!("{id}-clients"))
            .resizable(true)
            .default_size(clients_w)
            .size_range(200.0..=(width * 0.6).max(220.0))
            .show(ui, |ui| self.clients_ui(ui));
        // Only the selected client's records, when one is selected (disjoint field borrows: no
        // copy of the id list per frame).
        let rows = self
            .selected
            .and_then(|id| self.clients.get(&id))
            .map(|r| r.peer)
            .map(|peer| self.filter.ids(&self.session.log, peer));
        self.session
            .panes_ui(ui, id, &mut self.settings.encoding, rows);
        if let Some(bytes) = library.take_row_action(&mut self.session.view) {
            self.send(bytes);
        }
    }

    fn listen_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.running();
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(editable, |ui| {
                let interfaces = self.local_addresses.addresses();
                if bind_picker(
                    ui,
                    &t!("tcp_server.bind_address"),
                    &mut self.settings.bind,
                    &interfaces,
                ) {
                    self.bind_error = None;
                }
                if labelled_hint(
                    ui,
                    &t!("tcp_server.address"),
                    &mut self.settings.bind,
                    130.0,
                    &t!("hint.bind_address"),
                )
                .changed()
                {
                    self.bind_error = None;
                }
                if labelled_hint(
                    ui,
                    &t!("tcp_server.port"),
                    &mut self.settings.port,
                    60.0,
                    &t!("hint.server_port"),
                )
                .changed()
                {
                    self.port_error = None;
                }
                labelled_drag(
                    ui,
                    &t!("tcp_server.backlog"),
                    &mut self.settings.backlog,
                    1..=65_535,
                );
                ui.checkbox(&mut self.settings.reuse_addr, "SO_REUSEADDR")
                    .on_hover_text(t!("tcp_server.reuse_hover"));
            });
            if self.session.restart_ui(ui) {
                // No worker: the button above restarts it.
            } else if self.running() {
                if ui.button(t!("tcp_server.stop")).clicked() {
                    self.stop();
                }
            } else if ui.button(t!("tcp_server.start")).clicked() {
                self.start();
            }
        });
        if let Some(e) = &self.bind_error {
            error_text(ui, &t!("tcp_server.address_error", error = e));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &t!("tcp_server.port_error", error = e));
        }
        ui.horizontal_wrapped(|ui| {
            if ui
                .checkbox(&mut self.settings.echo, t!("tcp_server.echo"))
                .on_hover_text(t!("tcp_server.echo_hover"))
                .changed()
            {
                let session = self.session.id();
                self.session.command(Command::SetEcho {
                    session,
                    echo: self.settings.echo,
                });
            }
            // The limits are set once: they wait in a menu, so framing and checksum share
            // this row. Clicks inside keep it open; a click outside closes it.
            let limits = if self.settings.max_clients == 0
                && self.settings.max_per_ip == 0
                && self.settings.idle_timeout_s == 0
            {
                t!("tcp_server.limits.none")
            } else {
                t!("tcp_server.limits.some")
            };
            egui::containers::menu::MenuButton::new(limits)
                .config(
                    egui::containers::menu::MenuConfig::new()
                        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
                )
                .ui(ui, |ui| {
                    ui.add_enabled_ui(editable, |ui| {
                        egui::Grid::new("server-limits")
                            .num_columns(2)
                            .show(ui, |ui| {
                                labelled_drag(
                                    ui,
                                    &t!("tcp_server.max_clients"),
                                    &mut self.settings.max_clients,
                                    0..=1_000_000,
                                );
                                ui.end_row();
                                labelled_drag(
                                    ui,
                                    &t!("tcp_server.max_per_ip"),
                                    &mut self.settings.max_per_ip,
                                    0..=1_000_000,
                                );
                                ui.end_row();
                                labelled_drag(
                                    ui,
                                    &t!("tcp_server.idle_timeout"),
                                    &mut self.settings.idle_timeout_s,
                                    0..=86_400,
                                );
                                ui.end_row();
                            });
                    });
                })
                .0
                .on_hover_text(t!("tcp_server.limits.hover"));
            ui.separator();
            ui.add_enabled_ui(editable, |ui| {
                self.settings.framing.ui(ui, &mut self.framing_error);
                ui.separator();
                self.settings.checksum.ui(ui);
            });
        });
        self.rules.ui(ui, &mut self.settings.rules, editable);
        self.script.ui(ui, &mut self.settings.script, editable);
        let (tone, headline, explanation) = match &self.status {
            ServerStatus::Stopped => (
                Tone::Neutral,
                self.last_stop_note
                    .clone()
                    .unwrap_or_else(|| t!("tcp_server.status.stopped").into_owned()),
                t!("tcp_server.status.stopped_hint").into_owned(),
            ),
            ServerStatus::Starting => (
                Tone::Neutral,
                t!("tcp_server.status.starting").into_owned(),
                String::new(),
            ),
            ServerStatus::Listening(local) => (
                Tone::Ok,
                t!(
                    "tcp_server.status.listening",
                    local = local,
                    n = self.clients.len()
                )
                .into_owned(),
                t!("tcp_server.status.listening_hint").into_owned(),
            ),
            ServerStatus::Failed(e) => (
                Tone::Error,
                t!("tcp_server.status.failed", error = e).into_owned(),
                e.explanation(),
            ),
        };
        if !self.session.failure_ui(ui, &t!("tcp_server.worker_noun")) {
            status_line(ui, tone, &headline, &explanation);
        }
        ui.add_space(2.0);
    }

    fn clients_ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.strong(t!("tcp_server.clients.heading", n = self.clients.len()));
            let has = !self.clients.is_empty();
            if ui
                .add_enabled(
                    has && self.selected.is_some(),
                    egui::Button::new(t!("tcp_server.clients.disconnect_selected")),
                )
                .on_disabled_hover_text(if has {
                    t!("disabled.disconnect_selected")
                } else {
                    t!("disabled.disconnect_all")
                })
                .clicked()
                && let Some(id) = self.selected
            {
                self.disconnect(Target::Clients(vec![id]));
            }
            if ui
                .add_enabled(
                    has,
                    egui::Button::new(t!("tcp_server.clients.disconnect_all")),
                )
                .on_disabled_hover_text(t!("disabled.disconnect_all"))
                .clicked()
            {
                self.disconnect(Target::All);
            }
        });
        let offset = self.session.view.utc_offset_seconds();
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        let mut clicked: Option<Option<ClientId>> = None;
        // Looked up once per frame, not per row.
        let titles = [
            t!("tcp_server.clients.peer"),
            t!("tcp_server.clients.since"),
            t!("tcp_server.clients.in"),
            t!("tcp_server.clients.out"),
            t!("tcp_server.clients.last"),
        ];
        let all_clients = t!("tcp_server.clients.all");
        let finished = t!("tcp_server.clients.finished");
        let w = ui.available_width() - 5.0 * ui.spacing().item_spacing.x;
        TableBuilder::new(ui)
            .id_salt("tcp-server-client-table")
            .striped(true)
            .sense(egui::Sense::click())
            // Columns share the panel's width, so the panel is as wide as the user drags it
            // rather than as wide as fixed columns would force it.
            .column(
                Column::initial((w * 0.36).max(80.0))
                    .at_least(60.0)
                    .clip(true),
            )
            .column(
                Column::initial((w * 0.17).max(40.0))
                    .at_least(30.0)
                    .clip(true),
            )
            .column(
                Column::initial((w * 0.14).max(36.0))
                    .at_least(30.0)
                    .clip(true),
            )
            .column(
                Column::initial((w * 0.14).max(36.0))
                    .at_least(30.0)
                    .clip(true),
            )
            .column(Column::remainder().at_least(30.0).clip(true))
            .header(20.0, |mut h| {
                for title in &titles {
                    h.col(|ui| {
                        ui.strong(title.as_ref());
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, ids.len() + 1, |mut row| {
                    let index = row.index();
                    if index == 0 {
                        row.set_selected(self.selected.is_none());
                        row.col(|ui| {
                            ui.add(egui::Label::new(all_clients.as_ref()).selectable(false));
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
                        let peer = if c.finished {
                            format!("{} {finished}", c.peer)
                        } else {
                            c.peer.to_string()
                        };
                        ui.add(cell(peer));
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

impl crate::gui::sessions::SessionTab for TcpServerTab {
    type Settings = TcpServerSettings;
    fn noun() -> std::borrow::Cow<'static, str> {
        t!("tcp_server.noun")
    }
    const ID: &'static str = "tcp-server";

    fn open(settings: TcpServerSettings, wake: Wake) -> Self {
        Self::new(settings, wake)
    }

    fn settings_to_save(&self) -> TcpServerSettings {
        self.settings_to_save()
    }

    fn drain_events(&mut self) -> bool {
        self.drain_events()
    }

    fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel) {
        self.ui(ui, id, library);
    }

    fn busy(&self) -> Option<String> {
        self.busy()
    }

    fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        self.report()
    }
}
