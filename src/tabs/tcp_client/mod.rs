//! The TCP Client tab: connect to a host, send, receive, see what happened and why.

pub mod worker;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use egui::{RichText, Ui};
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::net::{NetError, parse_port};
use crate::traffic::{Direction, RateMeter, Record, TrafficLog};
use crate::ui::traffic_view::ViewSettings;
use crate::ui::widgets::{
    ERROR_COLOR, OK_COLOR, WAIT_COLOR, error_text, labelled_drag, labelled_text,
};
use crate::ui::{SendBox, TrafficView};
use crate::worker::{SessionId, Wake, drain_bounded};
pub use worker::{
    CloseReason, Command, ConnectOptions, ConnectionMode, Event, EventKind, TcpClientHandle,
};

/// Most events applied per frame; the rest wait for the next frame (which is requested).
const MAX_EVENTS_PER_FRAME: usize = 1024;
/// Most received bytes applied per frame.
const MAX_BYTES_PER_FRAME: usize = 64 * 1024 * 1024;

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
    pub view: ViewSettings,
    pub send_box: SendBox,
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
            view: ViewSettings::default(),
            send_box: SendBox::default(),
        }
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
    WorkerFailed(String),
}

impl Status {
    /// Headline and one-line explanation.
    pub fn describe(&self, idle_timeout_ms: u64) -> (egui::Color32, String, String) {
        match self {
            Self::Idle => (
                egui::Color32::GRAY,
                "Not connected.".to_owned(),
                "Type a host and port, then click Connect.".to_owned(),
            ),
            Self::ShortReady => (
                OK_COLOR,
                "Short connection mode: ready.".to_owned(),
                "Each send opens a connection, sends, reads the reply until the peer closes or goes quiet, then closes.".to_owned(),
            ),
            Self::Connecting { remote } => (
                WAIT_COLOR,
                match remote {
                    Some(r) => format!("Connecting to {r}…"),
                    None => "Connecting…".to_owned(),
                },
                "Waiting for the server to accept the connection.".to_owned(),
            ),
            Self::Connected { local, remote } => (
                OK_COLOR,
                format!("Connected: {local} → {remote}"),
                "Data you send goes to the server; what it sends appears below.".to_owned(),
            ),
            Self::Closed { remote, reason } => match reason {
                CloseReason::ClosedByPeer => (
                    WAIT_COLOR,
                    format!("Closed by peer ({remote})."),
                    "The server closed the connection (read returned 0): it finished, or it shut down.".to_owned(),
                ),
                CloseReason::Reset => (
                    ERROR_COLOR,
                    format!("Connection reset by {remote}."),
                    NetError::Reset { addr: *remote }.explanation(),
                ),
                CloseReason::ByUser => (
                    egui::Color32::GRAY,
                    "Disconnected.".to_owned(),
                    "You closed the connection.".to_owned(),
                ),
                CloseReason::IdleTimeout => (
                    WAIT_COLOR,
                    format!("Closed after {idle_timeout_ms} ms without data from {remote}."),
                    "Short connection: the reply is complete when the peer stays quiet for the idle timeout.".to_owned(),
                ),
                CloseReason::Error(e) => (ERROR_COLOR, format!("Connection lost: {e}."), e.explanation()),
            },
            Self::Failed(e) => (ERROR_COLOR, format!("Could not connect: {e}."), e.explanation()),
            Self::Reconnecting {
                previous,
                delay,
                attempt,
                ..
            } => {
                let (color, headline, explanation) = previous.describe(idle_timeout_ms);
                (
                    color,
                    format!(
                        "{headline} Reconnecting in {:.1} s (attempt {attempt}).",
                        delay.as_secs_f32()
                    ),
                    explanation,
                )
            }
            Self::WorkerFailed(message) => (
                ERROR_COLOR,
                format!("The connection worker stopped unexpectedly: {message}"),
                "Click Restart worker to carry on; the log is kept.".to_owned(),
            ),
        }
    }
}

/// The TCP Client tab's state.
pub struct TcpClientTab {
    pub settings: TcpClientSettings,
    wake: Wake,
    worker: Option<TcpClientHandle>,
    session: SessionId,
    /// Whether a session is running (between Connect and Disconnect).
    active: bool,
    pub status: Status,
    pub log: TrafficLog,
    view: TrafficView,
    rate: RateMeter,
    host_error: Option<String>,
    port_error: Option<String>,
}

impl TcpClientTab {
    pub fn new(mut settings: TcpClientSettings, wake: Wake) -> Self {
        let log = TrafficLog::with_cap(settings.view.cap_mib as usize * 1024 * 1024);
        let view = TrafficView::new(std::mem::take(&mut settings.view));
        let mut tab = Self {
            settings,
            wake,
            worker: None,
            session: SessionId::default(),
            active: false,
            status: Status::Idle,
            log,
            view,
            rate: RateMeter::default(),
            host_error: None,
            port_error: None,
        };
        tab.start_worker();
        tab
    }

    fn start_worker(&mut self) {
        match TcpClientHandle::spawn(self.wake.clone()) {
            Ok(handle) => {
                self.worker = Some(handle);
                if matches!(self.status, Status::WorkerFailed(_)) {
                    self.status = Status::Idle;
                }
            }
            Err(e) => self.status = Status::WorkerFailed(format!("could not start: {e}")),
        }
    }

    /// Settings to save, with the view settings folded back in.
    pub fn settings_to_save(&self) -> TcpClientSettings {
        let mut s = self.settings.clone();
        s.view = self.view.settings.clone();
        s
    }

    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Checks host and port and starts a session. Errors are shown next to the fields.
    pub fn connect(&mut self) {
        let host = self.settings.host.trim().to_owned();
        self.host_error = host
            .is_empty()
            .then(|| "Enter a host name or IP address, e.g. 192.168.1.10 or ::1.".to_owned());
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
        let (Some(port), None) = (port, &self.host_error) else {
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
        };
        self.session = self.session.next();
        let sent = self.worker.as_ref().is_some_and(|w| {
            w.send(Command::Connect {
                session: self.session,
                options,
            })
        });
        if sent {
            self.active = true;
            self.status = Status::Connecting { remote: None };
        } else {
            self.status = Status::WorkerFailed("the worker is not running".to_owned());
        }
    }

    pub fn disconnect(&mut self) {
        if let Some(w) = &self.worker {
            w.send(Command::Disconnect {
                session: self.session,
            });
        }
        self.active = false;
        self.status = Status::Idle;
    }

    /// Sends bytes in the current session.
    pub fn send(&mut self, bytes: Vec<u8>) {
        if let Some(w) = &self.worker
            && !w.send(Command::Send {
                session: self.session,
                bytes,
            })
        {
            self.settings.send_box.error =
                Some("The worker is busy or stopped: the data was not sent.".to_owned());
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
        if drained.dead && !matches!(self.status, Status::WorkerFailed(_)) {
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

    fn info(&mut self, peer: Option<SocketAddr>, text: &str) {
        self.log.push(Record::message(Direction::Info, peer, text));
    }

    fn apply(&mut self, event: Event) {
        if let EventKind::WorkerFailed { message } = event.kind {
            self.log.push(Record::message(
                Direction::Error,
                None,
                &format!("Worker failed: {message}"),
            ));
            self.worker = None;
            self.active = false;
            self.status = Status::WorkerFailed(message);
            return;
        }
        if event.session != self.session {
            return; // from a session the user already replaced
        }
        match event.kind {
            EventKind::Received { peer, bytes } => {
                self.log
                    .push(Record::new(Direction::Received, Some(peer), bytes));
            }
            EventKind::Sent { peer, bytes } => {
                self.log
                    .push(Record::new(Direction::Sent, Some(peer), bytes));
            }
            EventKind::Ready => {
                self.status = Status::ShortReady;
                self.info(
                    None,
                    "Short connection mode: each send opens a new connection.",
                );
            }
            EventKind::Connecting { remote } => {
                self.status = Status::Connecting {
                    remote: Some(remote),
                };
            }
            EventKind::Connected { local, remote } => {
                self.status = Status::Connected { local, remote };
                self.info(
                    Some(remote),
                    &format!("Connected from {local} to {remote}."),
                );
            }
            EventKind::Closed { remote, reason } => {
                let status = Status::Closed { remote, reason };
                let (_, headline, _) = status.describe(self.settings.idle_timeout_ms);
                self.info(Some(remote), &headline);
                self.status = status;
            }
            EventKind::ConnectFailed(error) => {
                self.log.push(Record::message(
                    Direction::Error,
                    None,
                    &format!("Could not connect: {error}. {}", error.explanation()),
                ));
                self.status = Status::Failed(error);
                if self.settings.mode == ConnectionMode::Long && !self.settings.auto_reconnect {
                    self.active = false;
                }
            }
            EventKind::SendRejected { reason } => {
                self.settings.send_box.error = Some(reason);
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

    /// The whole tab.
    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("tcp-client-connection").show(ui, |ui| self.connection_ui(ui));
        egui::Panel::bottom("tcp-client-send").show(ui, |ui| {
            ui.add_space(4.0);
            let can_send = self.active && self.worker.is_some();
            let encoding = self.settings.encoding;
            if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can_send) {
                self.send(bytes);
            }
            ui.add_space(2.0);
        });
        let rates = self.rate.rates_bytes_per_sec();
        self.view.panes_ui(
            ui,
            "tcp-client",
            &mut self.log,
            &mut self.settings.encoding,
            rates,
            None,
        );
    }

    fn connection_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.active;
        ui.horizontal_wrapped(|ui| {
            ui.add_enabled_ui(editable, |ui| {
                let host = labelled_text(ui, "Host", &mut self.settings.host, 200.0);
                if host.changed() {
                    self.host_error = None;
                }
                let port = labelled_text(ui, "Port", &mut self.settings.port, 60.0);
                if port.changed() {
                    self.port_error = None;
                }
                let enter = (host.lost_focus() || port.lost_focus())
                    && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if enter {
                    self.connect();
                }
            });
            if self.worker.is_none() {
                if ui.button("Restart worker").clicked() {
                    self.start_worker();
                }
            } else if self.active {
                if ui.button("Disconnect").clicked() {
                    self.disconnect();
                }
            } else if ui.button("Connect").clicked() {
                self.connect();
            }
        });
        if let Some(e) = &self.host_error {
            error_text(ui, &format!("Host: {e}"));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &format!("Port: {e}"));
        }
        ui.add_enabled_ui(editable, |ui| {
            ui.horizontal_wrapped(|ui| {
                ui.label("Connection");
                ui.selectable_value(&mut self.settings.mode, ConnectionMode::Long, "Long")
                    .on_hover_text("Stay connected until you disconnect or the peer closes.");
                ui.selectable_value(&mut self.settings.mode, ConnectionMode::Short, "Short")
                    .on_hover_text("Each send connects, sends, reads the reply, then closes.");
                labelled_drag(ui, "Connect timeout (ms)", &mut self.settings.connect_timeout_ms, 1..=600_000);
                if self.settings.mode == ConnectionMode::Short {
                    labelled_drag(ui, "Idle timeout (ms)", &mut self.settings.idle_timeout_ms, 1..=600_000);
                } else {
                    ui.checkbox(&mut self.settings.auto_reconnect, "Auto-reconnect")
                        .on_hover_text("Reconnect after the connection drops, waiting 0.5 s, 1 s, 2 s … up to 30 s.");
                }
                ui.checkbox(&mut self.settings.nodelay, "TCP_NODELAY")
                    .on_hover_text("Send small writes at once instead of batching them (Nagle off).");
                ui.checkbox(&mut self.settings.keepalive, "Keep-alive")
                    .on_hover_text("Let the OS probe an idle connection so a dead peer is noticed.");
            });
        });
        let (color, headline, explanation) = self.status.describe(self.settings.idle_timeout_ms);
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(headline).color(color).strong());
            ui.label(RichText::new(explanation).weak());
        });
        ui.add_space(2.0);
    }
}
