//! A session's keep-and-look row: capture to a file while the session runs (pcapng for
//! Wireshark, text or CSV, chosen by the file name), with its size and records growing live;
//! save the log as it stands; open a capture file (pcap or pcapng, from any tool) in a
//! read-only viewer with the same log view, encodings and search, whose rows can be sent again
//! on this session.
//!
//! The capture itself runs in the worker (a tap in the session's pipeline) and on its own
//! writer thread: the window only shows its figures.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use egui::{RichText, Ui};
use rust_i18n::t;

use crate::capture::{
    Capture, CaptureFormat, CaptureHandle, CaptureOptions, CaptureRecord, CaptureState,
    CaptureStatus, FormatWriter, OpenedBy, RecordKind, Transport, open_capture,
};
use crate::codec::TextEncoding;
use crate::engine::session::TapHandoff;
use crate::gui::widgets::traffic_view::{RowAction, ViewSettings};
use crate::gui::widgets::{ERROR_COLOR, OK_COLOR, TrafficView};
use crate::traffic::{Direction, Record, TrafficLog, format_bytes};

/// What the session's capture is about: given by the tab each frame.
#[derive(Debug, Clone)]
pub struct CaptureContext {
    pub transport: Transport,
    /// Names the session in the file ("Sockpit TCP Client 127.0.0.1:7000").
    pub label: String,
    pub opened_by: Option<OpenedBy>,
    pub encoding: TextEncoding,
    /// This end, for records of a saved log (which keeps only the peer).
    pub local: SocketAddr,
    /// The plot may draw one line per peer (the TCP Server's clients).
    pub plot_peers: bool,
    /// The session is connected, listening or bound (an automatic capture starts then).
    pub active: bool,
}

/// What the bar asks of its session's worker.
#[derive(Debug)]
pub enum CaptureAction {
    /// Put this tap on the worker.
    Start(TapHandoff),
    /// Take the tap off (ending the file).
    Stop,
    /// Send these bytes on the session (a row of an opened capture).
    SendAgain(Vec<u8>),
}

/// What a session keeps of its capture choices across restarts.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CaptureSettings {
    /// Start a capture into `folder` whenever the session connects, listens or binds and
    /// none runs.
    pub auto: bool,
    pub folder: String,
    pub format: CaptureFormat,
}

impl crate::settings::Bounded for CaptureSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        crate::settings::cut_fields(path, &mut [("folder", &mut self.folder)], notes);
    }
}

/// Which records "Save log…" writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SaveScope {
    #[default]
    All,
    /// The rows selected in the log.
    Selected,
    /// The rows the log's filters show (matches only, direction, peer, bad checksums).
    Shown,
}

impl SaveScope {
    fn label(self) -> Cow<'static, str> {
        match self {
            Self::All => t!("capture.scope.all"),
            Self::Selected => t!("capture.scope.selected"),
            Self::Shown => t!("capture.scope.shown"),
        }
    }
}

/// A capture file opened for reading.
pub struct CaptureViewer {
    pub title: String,
    pub summary: String,
    pub log: TrafficLog,
    pub view: TrafficView,
    pub encoding: TextEncoding,
    open: bool,
}

/// The capture row of one session.
#[derive(Default)]
pub struct CaptureBar {
    running: Option<CaptureHandle>,
    /// The last capture's final figures.
    ended: Option<CaptureStatus>,
    /// Why the last action failed.
    error: Option<String>,
    /// What the last save or open did.
    note: Option<String>,
    /// Used by the next Capture/Save/Open instead of asking with the file dialog (tests).
    pub next_path: Option<PathBuf>,
    /// What the next save writes.
    pub save_scope: SaveScope,
    /// Automatic capture waits: it failed (until the folder or the switch changes), or the
    /// user stopped it (until the session starts again).
    auto_held: bool,
    was_active: bool,
    pub viewer: Option<CaptureViewer>,
}

impl CaptureBar {
    /// The running capture's figures, if one runs.
    pub fn status(&self) -> Option<CaptureStatus> {
        self.running.as_ref().map(CaptureHandle::status)
    }

    /// The last finished capture's figures.
    pub fn ended(&self) -> Option<&CaptureStatus> {
        self.ended.as_ref()
    }

    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }

    fn pick(&mut self, save: bool, default_name: &str) -> Option<PathBuf> {
        if let Some(p) = self.next_path.take() {
            return Some(p);
        }
        let dialog = rfd::FileDialog::new();
        if save {
            dialog
                .add_filter("pcapng (Wireshark)", &["pcapng"])
                .add_filter(t!("capture.filter.text"), &["txt", "log"])
                .add_filter("CSV", &["csv"])
                .set_file_name(default_name)
                .save_file()
        } else {
            dialog
                .add_filter(t!("capture.filter.captures"), &["pcapng", "pcap", "cap"])
                .add_filter(t!("capture.filter.all_files"), &["*"])
                .pick_file()
        }
    }

    /// Starts a capture to `path` (the format from its name; pcapng when it names none).
    pub fn start(&mut self, path: &Path, ctx: &CaptureContext) -> Option<CaptureAction> {
        let (path, format) = with_format(path);
        let options = CaptureOptions {
            encoding: ctx.encoding,
            session_label: ctx.label.clone(),
            opened_by: ctx.opened_by,
        };
        match Capture::start(&path, format, ctx.transport, &options) {
            Ok((tap, handle)) => {
                self.running = Some(handle);
                self.ended = None;
                self.error = None;
                Some(CaptureAction::Start(TapHandoff::new(Box::new(tap))))
            }
            Err(e) => {
                self.error = Some(e.to_string());
                None
            }
        }
    }

    /// Starts the automatic capture when it should: switched on, the session active, none
    /// running and not held back.
    pub fn auto_start(
        &mut self,
        settings: &CaptureSettings,
        ctx: &CaptureContext,
    ) -> Option<CaptureAction> {
        let started = ctx.active && !self.was_active;
        self.was_active = ctx.active;
        if started
            && self
                .ended
                .as_ref()
                .is_none_or(|e| !matches!(e.state, CaptureState::Failed(_)))
        {
            // A new start lets a capture the user stopped begin again.
            self.auto_held = false;
        }
        if !settings.auto || !ctx.active || self.running.is_some() || self.auto_held {
            return None;
        }
        let folder = settings.folder.trim();
        if folder.is_empty() {
            self.error = Some(t!("capture.no_folder").into_owned());
            self.auto_held = true;
            return None;
        }
        let ext = settings.format.extension();
        let mut path = Path::new(folder).join(default_name(ctx, ext));
        // Two starts within a second must not overwrite each other's file.
        for n in 2..100 {
            if !path.exists() {
                break;
            }
            let name = default_name(ctx, ext);
            let stem = name.trim_end_matches(&format!(".{ext}"));
            path = Path::new(folder).join(format!("{stem}-{n}.{ext}"));
        }
        let action = self.start(&path, ctx);
        if action.is_none() {
            self.auto_held = true;
        }
        action
    }

    /// Stops the running capture at once (what it took is written).
    pub fn stop(&mut self) -> Option<CaptureAction> {
        self.auto_held = true;
        let mut handle = self.running.take()?;
        handle.stop();
        self.ended = Some(handle.wait(Duration::from_secs(2)));
        Some(CaptureAction::Stop)
    }

    /// Whether the worker took the tap; when not, the capture cannot run.
    pub fn handed_over(&mut self, taken: bool) {
        if taken {
            return;
        }
        if let Some(h) = self.running.take() {
            h.stop();
        }
        self.error = Some(t!("capture.not_started").into_owned());
    }

    /// Writes the log's records (sent and received bytes) to `path`: all of them, or only
    /// those with `ids` (oldest first).
    pub fn save_log(
        &mut self,
        path: &Path,
        log: &TrafficLog,
        ids: Option<&[u64]>,
        ctx: &CaptureContext,
    ) {
        let (path, format) = with_format(path);
        match save(&path, format, log, ids, ctx) {
            Ok(n) => {
                self.error = None;
                self.note = Some(t!("capture.saved", n = n, path = path.display()).into_owned());
            }
            Err(e) => self.error = Some(e),
        }
    }

    /// Opens `path` in the viewer.
    pub fn open(&mut self, path: &Path, encoding: TextEncoding) {
        match open_capture(path) {
            Ok(opened) => {
                let records: Vec<Record> = opened.records.iter().map(to_log_record).collect();
                // Room for the whole file (it was read within its own limits).
                let cost: usize = records.iter().map(Record::cost_bytes).sum();
                let mut log = TrafficLog::with_cap(cost.max(crate::traffic::DEFAULT_CAP_BYTES));
                for r in records {
                    log.push(r);
                }
                let name = path.file_name().map_or_else(
                    || path.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                self.viewer = Some(CaptureViewer {
                    title: t!("capture.viewer.title", name = name).into_owned(),
                    summary: opened.summary(),
                    log,
                    view: TrafficView::new(ViewSettings::default()),
                    encoding,
                    open: true,
                });
                self.error = None;
            }
            Err(e) => self.error = Some(e.to_string()),
        }
    }

    /// The row; `id` is the session's. Returns what the worker must do.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        id: &str,
        ctx: &CaptureContext,
        (log, view): (&TrafficLog, &mut TrafficView),
        (settings, plot): (&mut CaptureSettings, &mut bool),
        can_send: bool,
    ) -> Option<CaptureAction> {
        let mut action = self.auto_start(settings, ctx);
        if let Some(h) = &self.running
            && !h.is_running()
        {
            // Stopped by itself: a write error, or its worker went away.
            if let Some(mut h) = self.running.take() {
                self.ended = Some(h.wait(Duration::ZERO));
                action = Some(CaptureAction::Stop);
            }
        }
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(plot, t!("capture.plot.label"))
                .on_hover_text(t!("capture.plot.hover"));
            ui.separator();
            if self.running.is_some() {
                if ui.button(t!("capture.stop")).clicked() {
                    action = self.stop();
                }
                ui.ctx().request_repaint_after(Duration::from_millis(250));
            } else if ui
                .button(t!("capture.to_file.button"))
                .on_hover_text(t!("capture.to_file.hover"))
                .clicked()
                && let Some(path) = self.pick(true, &default_name(ctx, "pcapng"))
            {
                action = self.start(&path, ctx);
            }
            let selected = view.selected().len();
            if self.save_scope == SaveScope::Selected && selected == 0 {
                self.save_scope = SaveScope::All;
            }
            let label = ui.label(t!("capture.save.label"));
            egui::ComboBox::from_id_salt((id, "save-scope"))
                .selected_text(self.save_scope.label())
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut self.save_scope,
                        SaveScope::All,
                        SaveScope::All.label(),
                    );
                    if selected > 0 {
                        ui.selectable_value(
                            &mut self.save_scope,
                            SaveScope::Selected,
                            SaveScope::Selected.label(),
                        );
                    }
                    ui.selectable_value(
                        &mut self.save_scope,
                        SaveScope::Shown,
                        SaveScope::Shown.label(),
                    );
                })
                .response
                .labelled_by(label.id);
            if ui
                .button(t!("capture.save.button"))
                .on_hover_text(t!("capture.save.hover"))
                .clicked()
                && let Some(path) = self.pick(true, &default_name(ctx, "txt"))
            {
                let ids: Option<Vec<u64>> = match self.save_scope {
                    SaveScope::All => None,
                    SaveScope::Selected => Some(view.selected().iter().copied().collect()),
                    SaveScope::Shown => view.shown_ids(log),
                };
                self.save_log(&path, log, ids.as_deref(), ctx);
            }
            if ui
                .button(t!("capture.open.button"))
                .on_hover_text(t!("capture.open.hover"))
                .clicked()
                && let Some(path) = self.pick(false, "")
            {
                self.open(&path, ctx.encoding);
            }
            ui.separator();
            let before = settings.clone();
            let title = if settings.auto {
                t!("capture.keep.is_on")
            } else {
                t!("capture.keep.menu")
            };
            // Clicks inside (the folder field) keep the menu open; a click outside closes it.
            egui::containers::menu::MenuButton::new(title)
                .config(
                    egui::containers::menu::MenuConfig::new()
                        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
                )
                .ui(ui, |ui| {
                    ui.checkbox(&mut settings.auto, t!("capture.keep.check"))
                        .on_hover_text(t!("capture.keep.hover"));
                    ui.horizontal(|ui| {
                        crate::gui::widgets::labelled_hint(
                            ui,
                            &t!("capture.keep.folder"),
                            &mut settings.folder,
                            220.0,
                            &t!("hint.folder"),
                        );
                        if ui.button(t!("capture.keep.choose")).clicked()
                            && let Some(dir) = self
                                .next_path
                                .take()
                                .or_else(|| rfd::FileDialog::new().pick_folder())
                        {
                            settings.folder = dir.display().to_string();
                        }
                    });
                    ui.horizontal(|ui| {
                        let label = ui.label(t!("capture.keep.format"));
                        egui::ComboBox::from_id_salt((id, "auto-format"))
                            .selected_text(settings.format.label())
                            .show_ui(ui, |ui| {
                                for f in CaptureFormat::ALL {
                                    ui.selectable_value(&mut settings.format, f, f.label());
                                }
                            })
                            .response
                            .labelled_by(label.id);
                    });
                });
            if *settings != before {
                self.auto_held = false;
                self.error = None;
            }
            // What the capture is doing comes last, so the buttons keep their places.
            if let Some(status) = self.status() {
                ui.label(
                    RichText::new(t!("capture.capturing"))
                        .color(ERROR_COLOR)
                        .strong(),
                );
                ui.label(live_line(&status)).on_hover_text(t!(
                    "capture.live.hover",
                    path = status.path.display(),
                    payload = format_bytes(status.payload_bytes),
                    records = status.records,
                    file = format_bytes(status.file_bytes)
                ));
            } else if let Some(ended) = &self.ended {
                match &ended.state {
                    CaptureState::Failed(sentence) => {
                        ui.label(RichText::new(sentence).color(ERROR_COLOR));
                    }
                    _ => {
                        ui.label(
                            RichText::new(t!("capture.last", summary = ended.summary()))
                                .color(OK_COLOR),
                        );
                    }
                }
            }
        });
        if let Some(e) = &self.error {
            ui.label(RichText::new(e).color(ERROR_COLOR));
        } else if let Some(n) = &self.note {
            ui.label(RichText::new(n).weak());
        }
        if let Some(bytes) = self.viewer_ui(ui, id, can_send) {
            action = Some(CaptureAction::SendAgain(bytes));
        }
        action
    }

    fn viewer_ui(&mut self, ui: &Ui, id: &str, can_send: bool) -> Option<Vec<u8>> {
        let viewer = self.viewer.as_mut()?;
        let mut open = viewer.open;
        let mut send = None;
        egui::Window::new(viewer.title.clone())
            .id(egui::Id::unique((id, "capture-viewer")))
            .open(&mut open)
            .default_size([860.0, 480.0])
            .resizable(true)
            .show(ui.ctx(), |ui| {
                ui.label(RichText::new(&viewer.summary).weak());
                if !can_send {
                    ui.label(RichText::new(t!("capture.viewer.cannot_send")).weak());
                }
                viewer.view.panes_ui(
                    ui,
                    &format!("{id}-viewer"),
                    &mut viewer.log,
                    &mut viewer.encoding,
                    (0.0, 0.0),
                    None,
                );
                if let Some(RowAction::SendAgain(bytes)) = viewer.view.take_row_action()
                    && can_send
                {
                    send = Some(bytes);
                }
            });
        viewer.open = open;
        if !open {
            self.viewer = None;
        }
        send
    }
}

/// The live figures of a running capture.
fn live_line(s: &CaptureStatus) -> String {
    let name = s.path.file_name().map_or_else(
        || s.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut line = t!(
        "capture.live.line",
        name = name,
        records = s.records,
        size = format_bytes(s.file_bytes)
    )
    .into_owned();
    if s.dropped_records > 0 {
        line.push_str(&t!("capture.live.dropped", n = s.dropped_records));
    }
    line
}

fn default_name(ctx: &CaptureContext, ext: &str) -> String {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let kind = match ctx.transport {
        Transport::Tcp => "tcp",
        Transport::Udp => "udp",
    };
    format!("sockpit-{kind}-{stamp}.{ext}")
}

/// The path and its format; a name without a known extension gets `.pcapng`.
fn with_format(path: &Path) -> (PathBuf, CaptureFormat) {
    if let Some(f) = CaptureFormat::from_path(path) {
        (path.to_path_buf(), f)
    } else {
        let mut p = path.as_os_str().to_owned();
        p.push(".pcapng");
        (PathBuf::from(p), CaptureFormat::Pcapng)
    }
}

fn to_log_record(r: &CaptureRecord) -> Record {
    match r.kind {
        RecordKind::Data => {
            let direction = match r.direction {
                crate::capture::Direction::Sent => Direction::Sent,
                crate::capture::Direction::Received => Direction::Received,
            };
            Record::at(r.time_us, direction, Some(r.peer), r.bytes.clone())
        }
        RecordKind::Closed => Record::at(
            r.time_us,
            Direction::Info,
            Some(r.peer),
            t!(
                "capture.closed",
                transport = r.transport.label(),
                local = r.local,
                peer = r.peer
            )
            .into_owned()
            .into_bytes(),
        ),
    }
}

fn save(
    path: &Path,
    format: CaptureFormat,
    log: &TrafficLog,
    ids: Option<&[u64]>,
    ctx: &CaptureContext,
) -> Result<usize, String> {
    let create = |e: std::io::Error| {
        crate::capture::CaptureError::Create {
            path: path.to_path_buf(),
            source: e,
        }
        .to_string()
    };
    let file = std::fs::File::create(path).map_err(create)?;
    let options = CaptureOptions {
        encoding: ctx.encoding,
        session_label: ctx.label.clone(),
        opened_by: ctx.opened_by,
    };
    let mut w =
        FormatWriter::new(format, std::io::BufWriter::new(file), &options).map_err(create)?;
    let mut n = 0;
    let chosen: Box<dyn Iterator<Item = crate::traffic::RecordRef<'_>>> = match ids {
        None => Box::new(log.iter()),
        Some(ids) => Box::new(ids.iter().filter_map(|id| log.get_by_id(*id))),
    };
    for r in chosen {
        let (Some(peer), Some(direction)) = (
            r.peer,
            match r.direction {
                Direction::Sent => Some(crate::capture::Direction::Sent),
                Direction::Received => Some(crate::capture::Direction::Received),
                Direction::Info | Direction::Error => None,
            },
        ) else {
            continue;
        };
        let record = CaptureRecord::data(
            r.time_us,
            direction,
            ctx.transport,
            ctx.local,
            peer,
            r.bytes.to_vec(),
        );
        w.write_record(&record)
            .map_err(|e| crate::capture::io_sentence(path, &e, w.bytes_written()))?;
        n += 1;
    }
    w.finish()
        .map_err(|e| crate::capture::io_sentence(path, &e, 0))?;
    Ok(n)
}
