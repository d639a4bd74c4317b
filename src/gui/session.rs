//! What every traffic tab's session is made of, written once and composed into each tab: its
//! worker (started, restarted after a failure, dropped to stop and join it), the id of its
//! current run (events from an older run are dropped), its traffic log, its view of that log
//! and its rate meter; and the one drain that applies the worker's events to the tab.
//!
//! A tab keeps only what is its own: its settings, its status and how an event changes them
//! ([`Traffic::apply`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use egui::{RichText, Ui};
use rust_i18n::t;

use crate::engine::session::{FrameNotice, TapCommand};
use crate::engine::worker::{
    CommandRefused, SessionId, Wake, WorkerEvent, WorkerHandle, drain_worker,
};
use crate::gui::widgets::capture_bar::{
    CaptureAction, CaptureBar, CaptureContext, CaptureSettings,
};
use crate::gui::widgets::traffic_plot::TrafficPlot;
use crate::gui::widgets::traffic_view::ViewSettings;
use crate::gui::widgets::{Tone, TrafficView, status_line};
use crate::traffic::history::TrafficHistory;
use crate::traffic::{Direction, RateMeter, Record, TrafficLog};

/// How a worker's event tells the drain what it needs: the run it belongs to, its payload size
/// (for the per-frame byte budget) and, for the worker's own end, why.
pub trait SessionEvent: WorkerEvent {
    fn run(&self) -> SessionId;
    fn payload_len(&self) -> usize;
    fn failure(&self) -> Option<&str>;
}

/// Starts a worker: each tab passes its engine's `spawn`.
pub type Spawn<C, E> = fn(Wake) -> std::io::Result<WorkerHandle<C, E>>;

/// How much of a worker's news one frame applies; the rest waits for the next frame.
#[derive(Debug, Clone, Copy)]
pub struct DrainLimits {
    pub events: usize,
    pub bytes: usize,
}

/// One session's worker, run id, log, view and rate meter.
pub struct Session<C, E> {
    wake: Wake,
    spawn: Spawn<C, E>,
    worker: Option<WorkerHandle<C, E>>,
    id: SessionId,
    /// Why there is no worker: it failed, or could not start.
    failure: Option<String>,
    pub log: TrafficLog,
    pub view: TrafficView,
    pub rate: RateMeter,
    /// Bytes each peer's framer holds for a frame not yet complete (shown under the log).
    pending: BTreeMap<SocketAddr, usize>,
    /// Capture to file, save and open: the row above the counters.
    pub capture: CaptureBar,
    /// Traffic per second for the live plot.
    pub history: TrafficHistory,
    pub plot: TrafficPlot,
}

/// Most peers named in the line of partial frames; the rest are counted.
const PENDING_SHOWN: usize = 3;

impl<C: Send + 'static, E: SessionEvent> Session<C, E> {
    /// A log capped as `view` says, and a worker started with `spawn`.
    pub fn new(view: ViewSettings, wake: Wake, spawn: Spawn<C, E>) -> Self {
        let log = TrafficLog::with_cap(view.cap_mib as usize * 1024 * 1024);
        let mut session = Self {
            wake,
            spawn,
            worker: None,
            id: SessionId::default(),
            failure: None,
            log,
            view: TrafficView::new(view),
            rate: RateMeter::default(),
            pending: BTreeMap::new(),
            capture: CaptureBar::default(),
            history: TrafficHistory::default(),
            plot: TrafficPlot::default(),
        };
        session.start_worker();
        session
    }

    /// Starts the worker (again); if it cannot start, [`Self::failure`] says why.
    pub fn start_worker(&mut self) {
        match (self.spawn)(self.wake.clone()) {
            Ok(handle) => {
                self.worker = Some(handle);
                self.failure = None;
            }
            Err(e) => self.failure = Some(t!("session.could_not_start", error = e).into_owned()),
        }
    }

    pub fn has_worker(&self) -> bool {
        self.worker.is_some()
    }

    /// The session's figures for `sockpit gui --report`: traffic totals, records held, the
    /// running (or last) capture's figures and why the worker stopped, if it did.
    pub fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        use serde_json::json;
        let c = self.log.counters();
        let mut m = serde_json::Map::new();
        m.insert("rx_bytes".into(), json!(c.rx_bytes));
        m.insert("rx_records".into(), json!(c.rx_packets));
        m.insert("tx_bytes".into(), json!(c.tx_bytes));
        m.insert("tx_records".into(), json!(c.tx_packets));
        m.insert("bad_checksums".into(), json!(c.bad_checks));
        m.insert("records_held".into(), json!(self.log.len()));
        let capture = self
            .capture
            .status()
            .or_else(|| self.capture.ended().cloned());
        if let Some(s) = capture {
            let (state, error) = match &s.state {
                crate::capture::CaptureState::Running => ("running", None),
                crate::capture::CaptureState::Finished => ("finished", None),
                crate::capture::CaptureState::Failed(e) => ("failed", Some(e.clone())),
            };
            m.insert(
                "capture".into(),
                json!({
                    "path": s.path.display().to_string(),
                    "state": state,
                    "error": error,
                    "records": s.records,
                    "payload_bytes": s.payload_bytes,
                    "file_bytes": s.file_bytes,
                    "dropped_records": s.dropped_records,
                    "dropped_bytes": s.dropped_bytes,
                }),
            );
        }
        if let Some(e) = self.capture.error() {
            m.insert("capture_error".into(), json!(e));
        }
        if let Some(f) = &self.failure {
            m.insert("worker_failed".into(), json!(f));
        }
        m
    }

    /// Why the tab's send buttons are greyed out: nothing when it `can_send`; the stopped
    /// worker when there is none; else `why` (not connected, not bound…).
    pub fn send_blocked(
        &self,
        can_send: bool,
        why: impl FnOnce() -> std::borrow::Cow<'static, str>,
    ) -> Option<String> {
        if can_send {
            None
        } else if self.worker.is_none() {
            Some(t!("disabled.send.no_worker").into_owned())
        } else {
            Some(why().into_owned())
        }
    }

    /// The selected rows of the log as rules answering as the device did (`datagrams`: each
    /// received row is its own datagram), from `source`, a device listening on `port`; why
    /// not goes into the log.
    pub fn mock_of_selection(
        &mut self,
        datagrams: bool,
        source: String,
        port: String,
    ) -> Option<crate::gui::widgets::rules::MockOfRows> {
        match self.view.mock_plan(&self.log, datagrams) {
            Ok(plan) => Some(crate::gui::widgets::rules::MockOfRows {
                plan,
                rows: self.view.selected().len(),
                source,
                port,
            }),
            Err(error) => {
                let text = t!("log_mock.failed", error = error).into_owned();
                self.note(Direction::Error, None, &text);
                None
            }
        }
    }

    /// Why the worker is not running, if it failed.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// The current run's id.
    pub fn id(&self) -> SessionId {
        self.id
    }

    /// Starts a new run: events of the old one are dropped from now on.
    pub fn next_id(&mut self) -> SessionId {
        self.id = self.id.next();
        self.pending.clear();
        self.id
    }

    /// What a framer said: bytes waiting for a frame's end are kept for the line under the
    /// log; anything else is said in the log, after the records it concerns.
    pub fn frame_notice(&mut self, peer: SocketAddr, notice: &FrameNotice) {
        match notice {
            FrameNotice::Pending { bytes: 0 } => {
                self.pending.remove(&peer);
            }
            FrameNotice::Pending { bytes } => {
                self.pending.insert(peer, *bytes);
            }
            FrameNotice::EndedInside { .. } => {
                self.note(Direction::Info, Some(peer), &format!("{peer}: {notice}."));
            }
            FrameNotice::OverLimit { .. }
            | FrameNotice::BadLength { .. }
            | FrameNotice::ReplyDropped { .. } => {
                self.note(Direction::Error, Some(peer), &format!("{peer}: {notice}."));
            }
        }
    }

    /// Peers whose framer holds part of a frame, with the bytes held.
    pub fn pending_frames(&self) -> &BTreeMap<SocketAddr, usize> {
        &self.pending
    }

    /// Hands a command to the worker without waiting; a missing worker refuses as gone.
    pub fn send(&self, command: C) -> Result<(), CommandRefused> {
        self.worker
            .as_ref()
            .map_or(Err(CommandRefused::Gone), |w| w.send(command))
    }

    /// Hands a command to the worker, saying in the log when it could not take it.
    pub fn command(&mut self, command: C) -> bool {
        match self.send(command) {
            Ok(()) => true,
            Err(e) => {
                self.refused(e);
                false
            }
        }
    }

    /// A command the worker could not take: said in the log, where the user looks.
    pub fn refused(&mut self, e: CommandRefused) {
        self.note(Direction::Error, None, &e.to_string());
    }

    pub fn note(&mut self, direction: Direction, peer: Option<std::net::SocketAddr>, text: &str) {
        self.log.push(Record::message(direction, peer, text));
    }

    /// The view settings as the user left them, to save.
    pub fn view_settings(&self) -> ViewSettings {
        self.view.settings.clone()
    }

    /// A "Restart worker" button in place of the tab's action when the worker is gone. True
    /// when it was drawn (the tab then draws no action of its own).
    pub fn restart_ui(&mut self, ui: &mut Ui) -> bool {
        if self.worker.is_some() {
            return false;
        }
        if ui.button(t!("session.restart_worker")).clicked() {
            self.start_worker();
        }
        true
    }

    /// The status line when the worker failed; false (nothing drawn) while it runs.
    pub fn failure_ui(&self, ui: &mut Ui, what: &str) -> bool {
        let Some(message) = &self.failure else {
            return false;
        };
        status_line(
            ui,
            Tone::Error,
            &t!("session.worker_stopped", what = what, message = message),
            &t!("session.restart_hint"),
        );
        true
    }

    /// The log under the tab's own panels (see [`TrafficView::panes_ui`]); `rows` limits it to
    /// those records.
    pub fn panes_ui(
        &mut self,
        ui: &mut Ui,
        id: &str,
        encoding: &mut crate::codec::TextEncoding,
        rows: Option<&[u64]>,
    ) {
        if !self.pending.is_empty() {
            egui::Panel::bottom(format!("{id}-pending")).show(ui, |ui| self.pending_ui(ui));
        }
        let rates = self.rate.rates_bytes_per_sec();
        self.view
            .panes_ui(ui, id, &mut self.log, encoding, rates, rows);
    }

    /// The line under the log while frames are incomplete: who, and how many bytes wait.
    fn pending_ui(&self, ui: &mut Ui) {
        let mut parts: Vec<String> = self
            .pending
            .iter()
            .take(PENDING_SHOWN)
            .map(|(peer, bytes)| format!("{peer}: {bytes} B"))
            .collect();
        if self.pending.len() > PENDING_SHOWN {
            parts.push(
                t!(
                    "session.pending.more_peers",
                    n = self.pending.len() - PENDING_SHOWN
                )
                .into_owned(),
            );
        }
        ui.label(RichText::new(t!("session.pending.line", peers = parts.join(", "))).weak())
            .on_hover_text(t!("session.pending.hover"));
    }

    fn worker_gone(&mut self, message: &str) {
        self.note(
            Direction::Error,
            None,
            &t!("session.worker_failed", message = message),
        );
        self.worker = None;
        self.failure = Some(message.to_owned());
    }
}

impl<C: TapCommand + Send + 'static, E: SessionEvent> Session<C, E> {
    /// Starts the automatic capture as soon as the session is active, whether or not it is
    /// shown (called with every drain, so a session in a tab not looked at is captured too).
    pub fn auto_capture(&mut self, ctx: &CaptureContext, settings: &CaptureSettings) {
        if let Some(CaptureAction::Start(tap)) = self.capture.auto_start(settings, ctx) {
            let taken = self.command(C::set_tap(Some(tap)));
            self.capture.handed_over(taken);
        }
    }

    /// The capture row at the bottom of the session: starting a capture puts its tap on the
    /// worker, stopping takes it off. Returns bytes to send again (a row of an opened capture).
    pub fn capture_ui(
        &mut self,
        ui: &mut Ui,
        id: &str,
        ctx: &CaptureContext,
        settings: &mut CaptureSettings,
        can_send: bool,
    ) -> Option<Vec<u8>> {
        let mut send = None;
        egui::Panel::bottom(format!("{id}-capture")).show(ui, |ui| {
            match self.capture.ui(
                ui,
                id,
                ctx,
                (&self.log, &mut self.view),
                (settings, &mut self.plot.show),
                can_send,
            ) {
                Some(CaptureAction::Start(tap)) => {
                    let taken = self.command(C::set_tap(Some(tap)));
                    self.capture.handed_over(taken);
                }
                Some(CaptureAction::Stop) => {
                    self.command(C::set_tap(None));
                }
                Some(CaptureAction::SendAgain(bytes)) => send = Some(bytes),
                None => {}
            }
        });
        self.plot
            .panel_ui(ui, id, &mut self.history, ctx.plot_peers);
        send
    }
}

/// A tab that owns a [`Session`]: what the one drain needs from it.
pub trait Traffic {
    type Command: Send + 'static;
    type Event: SessionEvent;
    const LIMITS: DrainLimits;
    fn session(&mut self) -> &mut Session<Self::Command, Self::Event>;
    /// An event of the current run.
    fn apply(&mut self, event: Self::Event);
    /// The worker ended (the log says why): forget what it held open.
    fn worker_gone(&mut self);
    /// What the session's script said since the last drain, for its log.
    fn script_notes(&mut self) -> Vec<(Direction, String)> {
        Vec::new()
    }
    /// The session's capture choices and what its capture is about, when its automatic
    /// capture is switched on (see [`drain_capturing`]).
    fn auto_capture_choice(&self) -> Option<(CaptureSettings, CaptureContext)> {
        None
    }
}

/// [`drain`], then the automatic capture started as soon as the session is active, whether or
/// not it is shown (so a session in a tab nobody looks at is captured from its start).
pub fn drain_capturing<T: Traffic>(tab: &mut T) -> bool
where
    T::Command: TapCommand,
{
    let more = drain(tab);
    if let Some((settings, ctx)) = tab.auto_capture_choice() {
        tab.session().auto_capture(&ctx, &settings);
    }
    more
}

/// Applies the waiting worker events of `tab` within its limits: a worker's failure is noted
/// and ends the worker, events of an older run are dropped, the rest go to [`Traffic::apply`].
/// Returns true if more are waiting.
pub fn drain<T: Traffic>(tab: &mut T) -> bool {
    let Some(events) = tab.session().worker.as_ref().map(|w| w.events().clone()) else {
        return false;
    };
    let limits = T::LIMITS;
    let more = drain_worker(
        &events,
        limits.events,
        limits.bytes,
        T::Event::payload_len,
        |event| {
            if let Some(message) = event.failure() {
                tab.session().worker_gone(message);
                tab.worker_gone();
            } else if event.run() == tab.session().id {
                tab.apply(event);
            }
        },
    );
    for (direction, text) in tab.script_notes() {
        tab.session().note(direction, None, &text);
    }
    let session = tab.session();
    let c = session.log.counters();
    let now = Instant::now();
    session.rate.sample(now, c.rx_bytes, c.tx_bytes);
    session.history.sample(now, c);
    more
}

/// Each engine's events, as the drain reads them.
macro_rules! session_event {
    ($module:ident, |$kind:ident| $payload:expr) => {
        impl SessionEvent for $crate::engine::$module::Event {
            fn run(&self) -> SessionId {
                self.session
            }
            fn payload_len(&self) -> usize {
                use $crate::engine::$module::EventKind;
                let $kind = &self.kind;
                $payload
            }
            fn failure(&self) -> Option<&str> {
                match &self.kind {
                    $crate::engine::$module::EventKind::WorkerFailed { message } => Some(message),
                    _ => None,
                }
            }
        }
    };
}

session_event!(tcp_client, |kind| match kind {
    EventKind::Received { bytes, .. } => bytes.len(),
    _ => 0,
});
session_event!(tcp_server, |kind| match kind {
    EventKind::Received { bytes, .. } => bytes.len(),
    _ => 0,
});
session_event!(udp, |kind| match kind {
    EventKind::Received(batch) => batch.iter().map(|d| d.bytes.len() + 64).sum(),
    _ => 0,
});
session_event!(broadcast, |kind| match kind {
    EventKind::Reply { bytes, .. } => bytes.len(),
    _ => 0,
});
