//! The TCP Client tab: connect to a host, send, receive, see what happened and why.

use crate::gui::widgets::tcp_states::SessionStates;
use crate::iptools::tcp_state::Side;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use egui::Ui;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::engine::session::JobStatus;
use crate::engine::session::rules::RulesFile;
use crate::engine::tcp_client::{
    CloseReason, Command, ConnectOptions, ConnectionMode, Event, EventKind, TcpClientHandle,
};
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
use crate::traffic::{Direction, Record};

/// What the tab saves across restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct TcpClientSettings {
    pub host: String,
    pub port: String,
    pub connect_timeout_ms: u64,
    pub mode: ConnectionMode,
    pub idle_timeout_ms: u64,
    pub auto_reconnect: bool,
    pub nodelay: bool,
    pub keepalive: bool,
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

impl Default for TcpClientSettings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".to_owned(),
            port: "8080".to_owned(),
            connect_timeout_ms: 5000,
            mode: ConnectionMode::Long,
            idle_timeout_ms: 2000,
            auto_reconnect: false,
            nodelay: true,
            keepalive: false,
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

impl Bounded for TcpClientSettings {
    /// Ranges as the fields' drag values offer them.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        let timeout_ms = 1..=600_000;
        clamp_number(
            &mut self.connect_timeout_ms,
            &timeout_ms,
            &join(path, "connect_timeout_ms"),
            notes,
        );
        clamp_number(
            &mut self.idle_timeout_ms,
            &timeout_ms,
            &join(path, "idle_timeout_ms"),
            notes,
        );
        cut_fields(
            path,
            &mut [("host", &mut self.host), ("port", &mut self.port)],
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

/// The connection state as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Idle,
    /// Short mode armed: each send opens a connection.
    ShortReady,
    Connecting {
        remote: Option<SocketAddr>,
    },
    Connected {
        local: SocketAddr,
        remote: SocketAddr,
    },
    /// Still connected, but the peer shut down its sending side (half-close).
    PeerFinished {
        local: SocketAddr,
        remote: SocketAddr,
    },
    Closed {
        remote: SocketAddr,
        reason: CloseReason,
    },
    Failed(NetError),
    Reconnecting {
        previous: Box<Status>,
        delay: Duration,
        attempt: u32,
        at: Instant,
    },
}

impl Status {
    /// Headline and one-line explanation.
    pub fn describe(&self, idle_timeout_ms: u64) -> (Tone, String, String) {
        match self {
            Self::Idle => (
                Tone::Neutral,
                t!("tcp_client.status.idle").into_owned(),
                t!("tcp_client.status.idle_hint").into_owned(),
            ),
            Self::ShortReady => (
                Tone::Ok,
                t!("tcp_client.status.short_ready").into_owned(),
                t!("tcp_client.status.short_ready_hint").into_owned(),
            ),
            Self::Connecting { remote } => (
                Tone::Wait,
                if let Some(r) = remote {
                    t!("tcp_client.status.connecting_to", remote = r)
                } else {
                    t!("tcp_client.status.connecting")
                }
                .into_owned(),
                t!("tcp_client.status.connecting_hint").into_owned(),
            ),
            Self::Connected { local, remote } => (
                Tone::Ok,
                t!(
                    "tcp_client.status.connected",
                    local = local,
                    remote = remote
                )
                .into_owned(),
                t!("tcp_client.status.connected_hint").into_owned(),
            ),
            Self::PeerFinished { local, remote } => (
                Tone::Wait,
                t!(
                    "tcp_client.status.peer_finished",
                    local = local,
                    remote = remote
                )
                .into_owned(),
                t!("tcp_client.status.peer_finished_hint").into_owned(),
            ),
            Self::Closed { remote, reason } => match reason {
                CloseReason::ClosedByPeer => (
                    Tone::Wait,
                    t!("tcp_client.status.closed_by_peer", remote = remote).into_owned(),
                    t!("tcp_client.status.closed_by_peer_hint").into_owned(),
                ),
                CloseReason::Reset => (
                    Tone::Error,
                    t!("tcp_client.status.reset", remote = remote).into_owned(),
                    NetError::Reset { addr: *remote }.explanation(),
                ),
                CloseReason::ByUser => (
                    Tone::Neutral,
                    t!("tcp_client.status.disconnected").into_owned(),
                    t!("tcp_client.status.disconnected_hint").into_owned(),
                ),
                CloseReason::IdleTimeout => (
                    Tone::Wait,
                    t!(
                        "tcp_client.status.idle_timeout",
                        ms = idle_timeout_ms,
                        remote = remote
                    )
                    .into_owned(),
                    t!("tcp_client.status.idle_timeout_hint").into_owned(),
                ),
                CloseReason::Error(e) => (
                    Tone::Error,
                    t!("tcp_client.status.lost", error = e).into_owned(),
                    e.explanation(),
                ),
            },
            Self::Failed(e) => (
                Tone::Error,
                t!("tcp_client.status.failed", error = e).into_owned(),
                e.explanation(),
            ),
            Self::Reconnecting {
                previous,
                delay,
                attempt,
                ..
            } => {
                let (tone, headline, explanation) = previous.describe(idle_timeout_ms);
                (
                    tone,
                    t!(
                        "tcp_client.status.reconnecting",
                        headline = headline,
                        delay = delay.as_secs_f32() : {:.1},
                        attempt = attempt
                    )
                    .into_owned(),
                    explanation,
                )
            }
        }
    }
}

/// One TCP Client session: its settings and status over its own worker and log.
pub struct TcpClientTab {
    pub settings: TcpClientSettings,
    pub session: Session<Command, Event>,
    /// Whether a connection is running (between Connect and Disconnect).
    active: bool,
    pub status: Status,
    host_error: Option<String>,
    port_error: Option<String>,
    framing_error: Option<String>,
    rules: RulesEditor,
    pub script: crate::gui::widgets::script_box::ScriptEditor,
    /// The running (or last) repeat or file send.
    pub job: Option<JobStatus>,
    /// The kernel's TCP states of this session's connections.
    pub states: SessionStates,
    /// The connection `states` shows (watched since connecting began).
    watching: Option<(SocketAddr, SocketAddr)>,
    /// Rules made from selected rows, until the window hands them to a TCP Server session.
    mock_out: Option<crate::gui::widgets::rules::MockOfRows>,
}

impl TcpClientTab {
    pub fn new(mut settings: TcpClientSettings, wake: Wake) -> Self {
        let view = std::mem::take(&mut settings.view);
        let states = SessionStates::new(wake.clone());
        let mut session = Session::new(view, wake, TcpClientHandle::spawn);
        session
            .view
            .offer_mock(t!("log_mock.hover_tcp").into_owned());
        Self {
            settings,
            states,
            watching: None,
            mock_out: None,
            session,
            active: false,
            status: Status::Idle,
            host_error: None,
            port_error: None,
            framing_error: None,
            rules: RulesEditor::default(),
            script: crate::gui::widgets::script_box::ScriptEditor::default(),
            job: None,
        }
    }

    /// Settings to save, with the view settings folded back in.
    pub fn settings_to_save(&self) -> TcpClientSettings {
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
        if !self.active {
            return None;
        }
        Some(match &self.status {
            Status::Connected { remote, .. } | Status::PeerFinished { remote, .. } => {
                t!("tcp_client.busy.connected", remote = remote).into_owned()
            }
            Status::Connecting {
                remote: Some(remote),
            } => t!("tcp_client.busy.connecting", remote = remote).into_owned(),
            Status::ShortReady => t!("tcp_client.busy.short_ready").into_owned(),
            Status::Reconnecting { .. } => t!("tcp_client.busy.reconnecting").into_owned(),
            _ => t!(
                "tcp_client.busy.connecting_host",
                host = self.settings.host,
                port = self.settings.port
            )
            .into_owned(),
        })
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Checks host and port and starts a session. Errors are shown next to the fields.
    pub fn connect(&mut self) {
        let (host, host_error) = match crate::net::parse_host(&self.settings.host) {
            Ok(h) => (h.to_string(), None),
            Err(e) => (String::new(), Some(e.to_string())),
        };
        self.host_error = host_error;
        let port = match parse_port(&self.settings.port, false) {
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
        let (Some(port), None, Some(pipeline)) = (port, &self.host_error, pipeline) else {
            return;
        };
        let s = &self.settings;
        let options = ConnectOptions {
            host,
            port,
            connect_timeout: Duration::from_millis(s.connect_timeout_ms.max(1)),
            mode: s.mode,
            idle_timeout: Duration::from_millis(s.idle_timeout_ms.max(1)),
            auto_reconnect: s.auto_reconnect,
            nodelay: s.nodelay,
            keepalive: s.keepalive,
            linger: Duration::from_secs(5),
            pipeline,
        };
        let session = self.session.next_id();
        if self.session.command(Command::Connect { session, options }) {
            self.active = true;
            self.status = Status::Connecting { remote: None };
        }
    }

    pub fn disconnect(&mut self) {
        let session = self.session.id();
        if self.session.command(Command::Disconnect { session }) {
            self.active = false;
            self.status = Status::Idle;
        }
        // Refused: still connected; the log says so and the user can click again.
    }

    /// Sends bytes in the current session. Refused bytes stay in the send box.
    pub fn send(&mut self, bytes: Vec<u8>) {
        let session = self.session.id();
        if let Err(e) = self.session.send(Command::Send { session, bytes }) {
            self.settings.send_box.error = Some(e.to_string());
        }
    }

    /// Whether a send can go now (connected, worker alive).
    pub fn can_send(&self) -> bool {
        self.active && self.session.has_worker()
    }

    /// Why the send buttons are greyed out, when they are.
    fn send_blocked(&self) -> Option<String> {
        self.session
            .send_blocked(self.can_send(), || t!("disabled.send.tcp_client"))
    }

    /// Sends a packet from the library.
    pub fn send_packet(&mut self, packet: PacketSend, _library: &mut LibraryPanel) {
        self.send(packet.bytes);
    }

    /// Starts (or stops) a repeat or a file send in the worker.
    pub fn tool(&mut self, action: &ToolAction) {
        let session = self.session.id();
        let command =
            match send_tools::job_spec(action, &mut self.settings.send_box, self.settings.encoding)
            {
                Some(job) => Command::StartJob { session, job },
                None if *action == ToolAction::Stop => Command::StopJob { session },
                None => return,
            };
        if let Err(e) = self.session.send(command) {
            self.settings.send_tools.error = Some(e.to_string());
        }
    }

    /// Applies waiting worker events (bounded per frame). Returns true if more are waiting.
    pub fn drain_events(&mut self) -> bool {
        crate::gui::session::drain_capturing(self)
    }

    /// This session's figures for `sockpit gui --report`.
    pub fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = self.session.report();
        m.insert(
            "connected".into(),
            serde_json::json!(matches!(
                self.status,
                Status::Connected { .. } | Status::PeerFinished { .. }
            )),
        );
        m
    }

    fn info(&mut self, peer: Option<SocketAddr>, text: &str) {
        self.session.note(Direction::Info, peer, text);
    }
}

impl Traffic for TcpClientTab {
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
    /// Events and received bytes applied per frame; the rest wait for the next frame (which
    /// is requested).
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
        self.active = false;
        self.status = Status::Idle;
    }

    fn apply(&mut self, event: Event) {
        match event.kind {
            EventKind::Received { peer, bytes, check } => {
                self.session
                    .log
                    .push(Record::new(Direction::Received, Some(peer), bytes).checked(check));
            }
            EventKind::Sent { peer, bytes } => {
                self.session
                    .log
                    .push(Record::new(Direction::Sent, Some(peer), bytes));
            }
            EventKind::Framing { peer, notice } => self.session.frame_notice(peer, &notice),
            EventKind::Ready => {
                self.status = Status::ShortReady;
                self.info(None, &t!("tcp_client.log.short_mode"));
            }
            EventKind::Connecting { remote, local } => {
                self.status = Status::Connecting {
                    remote: Some(remote),
                };
                // Watched from the SYN on, so a slow or silent host shows SYN_SENT.
                if let Some(local) = local {
                    self.states.watch(local, remote, Side::Client, true);
                    self.watching = Some((local, remote));
                }
            }
            EventKind::Connected { local, remote } => {
                self.status = Status::Connected { local, remote };
                if self.watching != Some((local, remote)) {
                    self.states.watch(local, remote, Side::Client, true);
                    self.watching = Some((local, remote));
                }
                self.info(
                    Some(remote),
                    &t!("tcp_client.log.connected", local = local, remote = remote),
                );
            }
            EventKind::PeerFinished { remote } => {
                let local = match self.status {
                    Status::Connected { local, .. } => local,
                    _ => SocketAddr::from(([0, 0, 0, 0], 0)),
                };
                self.info(
                    Some(remote),
                    &t!("tcp_client.log.peer_finished", remote = remote),
                );
                self.status = Status::PeerFinished { local, remote };
            }
            EventKind::Closed {
                remote,
                reason,
                unsent_bytes,
            } => {
                let status = Status::Closed { remote, reason };
                let (_, headline, _) = status.describe(self.settings.idle_timeout_ms);
                self.info(Some(remote), &headline);
                if unsent_bytes > 0 {
                    self.session.note(
                        Direction::Error,
                        Some(remote),
                        &t!(
                            "tcp_client.log.unsent",
                            bytes = unsent_bytes,
                            remote = remote
                        ),
                    );
                }
                self.status = status;
            }
            EventKind::ConnectFailed(error) => {
                self.session.note(
                    Direction::Error,
                    None,
                    &t!(
                        "tcp_client.log.connect_failed",
                        error = error,
                        explanation = error.explanation()
                    ),
                );
                self.status = Status::Failed(error);
                if self.settings.mode == ConnectionMode::Long && !self.settings.auto_reconnect {
                    self.active = false;
                }
            }
            EventKind::SendRejected { reason } => {
                self.settings.send_box.error = Some(reason);
            }
            EventKind::Job(status) => {
                if let Some((direction, text)) = send_tools::end_note(&status) {
                    self.session.note(direction, None, &text);
                }
                self.job = Some(status);
            }
            EventKind::ReconnectScheduled { delay, attempt } => {
                let previous = Box::new(match std::mem::replace(&mut self.status, Status::Idle) {
                    Status::Reconnecting { previous, .. } => *previous,
                    other => other,
                });
                self.status = Status::Reconnecting {
                    previous,
                    delay,
                    attempt,
                    at: Instant::now() + delay,
                };
            }
            EventKind::Stopped => {
                self.active = false;
                self.status = Status::Idle;
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }
}

impl TcpClientTab {
    /// The whole tab; `id` tells this session's panels from its siblings'.
    pub fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel) {
        crate::gui::widgets::say_why_send_is_off(ui, self.send_blocked());
        crate::gui::widgets::top_settings_panel(ui, format!("{id}-connection"), |ui| {
            self.connection_ui(ui);
            self.states.ui(ui, id, &t!("tcp_states.client_empty"));
        });
        egui::Panel::bottom(format!("{id}-send")).show(ui, |ui| {
            ui.add_space(4.0);
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
        self.session
            .panes_ui(ui, id, &mut self.settings.encoding, None);
        if self.session.view.take_mock_request() {
            self.mock_selection();
        }
        if let Some(bytes) = library.take_row_action(&mut self.session.view) {
            self.send(bytes);
        }
    }

    /// The selected rows as rules for a TCP Server answering as this device; the window
    /// takes them with [`TcpClientTab::take_mock`]. Why not, into the log.
    fn mock_selection(&mut self) {
        let source = format!(
            "{} {}:{}",
            t!("app.tab.tcp_client"),
            self.settings.host,
            self.settings.port
        );
        self.mock_out = self
            .session
            .mock_of_selection(false, source, self.settings.port.clone());
    }

    /// Rules the user made from selected rows, once.
    pub fn take_mock(&mut self) -> Option<crate::gui::widgets::rules::MockOfRows> {
        self.mock_out.take()
    }

    fn capture_context(&self) -> crate::gui::widgets::capture_bar::CaptureContext {
        let local = match self.status {
            Status::Connected { local, .. } | Status::PeerFinished { local, .. } => local,
            _ => SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        crate::gui::widgets::capture_bar::CaptureContext {
            transport: crate::capture::Transport::Tcp,
            label: format!(
                "Sockpit TCP Client to {}:{}", // i18n-exempt: written into capture files.
                self.settings.host, self.settings.port
            ),
            opened_by: Some(crate::capture::OpenedBy::Local),
            encoding: self.settings.encoding,
            local,
            active: self.is_active(),
            plot_peers: false,
        }
    }

    fn connection_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.active;
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(editable, |ui| {
                let host = labelled_hint(
                    ui,
                    &t!("tcp_client.host"),
                    &mut self.settings.host,
                    200.0,
                    &t!("hint.host"),
                );
                if host.changed() {
                    self.host_error = None;
                }
                let port = labelled_hint(
                    ui,
                    &t!("tcp_client.port"),
                    &mut self.settings.port,
                    60.0,
                    &t!("hint.remote_port"),
                );
                if port.changed() {
                    self.port_error = None;
                }
                let enter = (host.lost_focus() || port.lost_focus())
                    && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if enter {
                    self.connect();
                }
            });
            if self.session.restart_ui(ui) {
                // No worker: the button above restarts it.
            } else if self.active {
                if ui.button(t!("tcp_client.disconnect")).clicked() {
                    self.disconnect();
                }
            } else if ui.button(t!("tcp_client.connect")).clicked() {
                self.connect();
            }
        });
        if let Some(e) = &self.host_error {
            error_text(ui, &t!("tcp_client.host_error", error = e));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &t!("tcp_client.port_error", error = e));
        }
        ui.add_enabled_ui(editable, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label(t!("tcp_client.mode.label"));
                ui.selectable_value(
                    &mut self.settings.mode,
                    ConnectionMode::Long,
                    t!("tcp_client.mode.long"),
                )
                .on_hover_text(t!("tcp_client.mode.long_hover"));
                ui.selectable_value(
                    &mut self.settings.mode,
                    ConnectionMode::Short,
                    t!("tcp_client.mode.short"),
                )
                .on_hover_text(t!("tcp_client.mode.short_hover"));
                labelled_drag(
                    ui,
                    &t!("tcp_client.connect_timeout"),
                    &mut self.settings.connect_timeout_ms,
                    1..=600_000,
                );
                if self.settings.mode == ConnectionMode::Short {
                    labelled_drag(
                        ui,
                        &t!("tcp_client.idle_timeout"),
                        &mut self.settings.idle_timeout_ms,
                        1..=600_000,
                    );
                } else {
                    ui.checkbox(
                        &mut self.settings.auto_reconnect,
                        t!("tcp_client.auto_reconnect"),
                    )
                    .on_hover_text(t!("tcp_client.auto_reconnect_hover"));
                }
                ui.checkbox(&mut self.settings.nodelay, "TCP_NODELAY")
                    .on_hover_text(t!("tcp_client.nodelay_hover"));
                ui.checkbox(&mut self.settings.keepalive, t!("tcp_client.keepalive"))
                    .on_hover_text(t!("tcp_client.keepalive_hover"));
            });
            ui.horizontal_wrapped(|ui| {
                self.settings.framing.ui(ui, &mut self.framing_error);
                ui.separator();
                self.settings.checksum.ui(ui);
            });
        });
        self.rules.ui(ui, &mut self.settings.rules, editable);
        self.script.ui(ui, &mut self.settings.script, editable);
        if !self.session.failure_ui(ui, &t!("tcp_client.worker_noun")) {
            let (tone, headline, explanation) = self.status.describe(self.settings.idle_timeout_ms);
            status_line(ui, tone, &headline, &explanation);
        }
        ui.add_space(2.0);
    }
}

impl crate::gui::sessions::SessionTab for TcpClientTab {
    type Settings = TcpClientSettings;
    fn noun() -> std::borrow::Cow<'static, str> {
        t!("tcp_client.noun")
    }
    const ID: &'static str = "tcp-client";

    fn open(settings: TcpClientSettings, wake: Wake) -> Self {
        Self::new(settings, wake)
    }

    fn settings_to_save(&self) -> TcpClientSettings {
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
