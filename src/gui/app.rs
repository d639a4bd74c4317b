//! The window: five tabs in a bar, each drawn by its own room ([`Room`]). This file only
//! composes them and saves their settings. The TCP Client, TCP Server and UDP rooms are strips
//! of sessions ([`Sessions`]).

use std::sync::Arc;
use std::time::Duration;

use egui::Ui;
use serde::{Deserialize, Serialize};

use rust_i18n::t;

use crate::codec::library::Library;
use crate::engine::worker::Wake;
use crate::gui::sessions::{SavedSessions, Sessions};
use crate::gui::tabs::broadcast::{BroadcastSettings, BroadcastTab};
use crate::gui::tabs::ip_tools::{IpToolsSettings, IpToolsTab};
use crate::gui::tabs::tcp_client::{TcpClientSettings, TcpClientTab};
use crate::gui::tabs::tcp_server::{TcpServerSettings, TcpServerTab};
use crate::gui::tabs::udp::{UdpSettings, UdpTab};
use crate::gui::widgets::capture_bar::CaptureSettings;
use crate::gui::widgets::library::LibraryPanel;
use crate::i18n::{self, Language};
use crate::settings::{Bounded, from_ron_lenient, join};

/// Key under which the settings are stored by eframe.
pub const STORAGE_KEY: &str = "sockpit-settings";

/// The five tabs, in the order the bar shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Tab {
    TcpServer,
    #[default]
    TcpClient,
    Udp,
    Broadcast,
    IpTools,
}

impl Tab {
    pub const ALL: [Self; 5] = [
        Self::TcpServer,
        Self::TcpClient,
        Self::Udp,
        Self::Broadcast,
        Self::IpTools,
    ];

    /// The tab's one line for beginners: what is happening on it.
    pub fn tip(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::TcpServer => t!("app.tip.tcp_server"),
            Self::TcpClient => t!("app.tip.tcp_client"),
            Self::Udp => t!("app.tip.udp"),
            Self::Broadcast => t!("app.tip.broadcast"),
            Self::IpTools => t!("app.tip.ip_tools"),
        }
    }

    /// The tab's name in the language shown.
    pub fn title(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::TcpServer => t!("app.tab.tcp_server"),
            Self::TcpClient => t!("app.tab.tcp_client"),
            Self::Udp => t!("app.tab.udp"),
            Self::Broadcast => t!("app.tab.broadcast"),
            Self::IpTools => t!("app.tab.ip_tools"),
        }
    }
}

/// Everything saved across restarts. A field that cannot be read falls back to its default
/// alone, at every level (see [`crate::settings::from_ron_lenient`]); numbers out of range are
/// clamped and over-long text is cut ([`Bounded`]).
///
/// The TCP Client, TCP Server and UDP tabs save a list of named sessions. Files from before
/// sessions hold one settings struct per tab under `tcp_client`, `tcp_server` and `udp`; those
/// are read into the `old_*` fields and become the tab's one session ([`Self::migrate`]).
/// They are never written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    pub tcp_client_sessions: SavedSessions<TcpClientSettings>,
    pub tcp_server_sessions: SavedSessions<TcpServerSettings>,
    pub udp_sessions: SavedSessions<UdpSettings>,
    pub broadcast: BroadcastSettings,
    pub ip_tools: IpToolsSettings,
    /// The packet library every traffic tab shows.
    pub library: Library,
    /// Whether the library's side panel was hidden.
    pub library_hidden: bool,
    /// The language the user picked; `None` follows the system's locale.
    pub language: Option<Language>,
    /// Whether each tab shows its one line for beginners: `None` until the first start has
    /// been saved (shown then), afterwards off unless the user turned it on.
    pub learner_tips: Option<bool>,
    #[serde(rename = "tcp_client", skip_serializing)]
    pub old_tcp_client: TcpClientSettings,
    #[serde(rename = "tcp_server", skip_serializing)]
    pub old_tcp_server: TcpServerSettings,
    #[serde(rename = "udp", skip_serializing)]
    pub old_udp: UdpSettings,
}

impl Settings {
    /// Loads saved settings field by field; what cannot be read gives its default, never a
    /// crash.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        Self::load_noting(storage, &mut Vec::new())
    }

    /// Like [`Self::load`], describing in `notes` each field that fell back or was adjusted.
    pub fn load_noting(storage: Option<&dyn eframe::Storage>, notes: &mut Vec<String>) -> Self {
        match storage.and_then(|s| s.get_string(STORAGE_KEY)) {
            Some(text) => Self::from_ron(&text, notes),
            None => Self::default(),
        }
    }

    /// Reads settings from the RON eframe stored, field by field, within bounds.
    pub fn from_ron(text: &str, notes: &mut Vec<String>) -> Self {
        let what = "the saved settings"; // i18n-exempt: notes precede the saved language.
        let mut settings: Self = from_ron_lenient(text, what, false, notes);
        settings.migrate();
        settings.bound("", notes);
        settings
    }

    /// A tab with no saved list of sessions gets one session from the settings it saved
    /// before sessions existed (or from the defaults).
    pub fn migrate(&mut self) {
        self.tcp_client_sessions.adopt(&mut self.old_tcp_client);
        self.tcp_server_sessions.adopt(&mut self.old_tcp_server);
        self.udp_sessions.adopt(&mut self.old_udp);
    }

    /// The first TCP Client session's settings (made when there is none), for setting up a
    /// start.
    pub fn tcp_client_mut(&mut self) -> &mut TcpClientSettings {
        self.tcp_client_sessions.first_mut()
    }

    pub fn tcp_server_mut(&mut self) -> &mut TcpServerSettings {
        self.tcp_server_sessions.first_mut()
    }

    pub fn udp_mut(&mut self) -> &mut UdpSettings {
        self.udp_sessions.first_mut()
    }

    /// The first TCP Client session's settings, as loaded.
    pub fn tcp_client(&self) -> &TcpClientSettings {
        self.tcp_client_sessions
            .sessions
            .first()
            .map_or(&self.old_tcp_client, |s| &s.settings)
    }

    pub fn tcp_server(&self) -> &TcpServerSettings {
        self.tcp_server_sessions
            .sessions
            .first()
            .map_or(&self.old_tcp_server, |s| &s.settings)
    }

    pub fn udp(&self) -> &UdpSettings {
        self.udp_sessions
            .sessions
            .first()
            .map_or(&self.old_udp, |s| &s.settings)
    }
}

impl Bounded for Settings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        self.tcp_client_sessions
            .bound(&join(path, "tcp_client_sessions"), notes);
        self.tcp_server_sessions
            .bound(&join(path, "tcp_server_sessions"), notes);
        self.udp_sessions.bound(&join(path, "udp_sessions"), notes);
        self.broadcast.bound(&join(path, "broadcast"), notes);
        self.ip_tools.bound(&join(path, "ip_tools"), notes);
        self.library.bound(&join(path, "library"), notes);
    }
}

/// What the shell needs from each tab's room.
pub trait Room {
    /// Applies waiting worker events (a bounded amount); true if more are waiting.
    fn drain_events(&mut self) -> bool;
    fn ui(&mut self, ui: &mut Ui, library: &mut LibraryPanel);
}

impl<T: crate::gui::sessions::SessionTab> Room for Sessions<T> {
    fn drain_events(&mut self) -> bool {
        Self::drain_events(self)
    }
    fn ui(&mut self, ui: &mut Ui, library: &mut LibraryPanel) {
        Self::ui(self, ui, library);
    }
}

impl Room for BroadcastTab {
    fn drain_events(&mut self) -> bool {
        Self::drain_events(self)
    }
    fn ui(&mut self, ui: &mut Ui, _library: &mut LibraryPanel) {
        Self::ui(self, ui);
    }
}

impl Room for IpToolsTab {
    fn drain_events(&mut self) -> bool {
        Self::drain_events(self)
    }
    fn ui(&mut self, ui: &mut Ui, _library: &mut LibraryPanel) {
        Self::ui(self, ui);
    }
}

/// The application: owns every tab.
pub struct SockpitApp {
    pub tab: Tab,
    pub tcp_client: Sessions<TcpClientTab>,
    pub tcp_server: Sessions<TcpServerTab>,
    pub udp: Sessions<UdpTab>,
    pub broadcast: BroadcastTab,
    pub ip_tools: IpToolsTab,
    /// The packet library, drawn beside the traffic tabs.
    pub library: LibraryPanel,
    /// Whether the Help window is open.
    pub help_open: bool,
    /// The language the user picked in the window (`None`: the system's).
    pub language: Option<Language>,
    /// Whether the one-line tips for beginners are shown.
    pub tips: bool,
    /// Whether the user switched the tips on or off (else they are off from the next start).
    tips_chosen: bool,
    /// Said once at start when saved settings fell back or were adjusted; dismissable.
    pub notice: Option<String>,
    frames: u64,
    exit_after_frames: Option<u64>,
    /// `--report FILE`: where the sessions' figures go, and when they last went.
    report: Option<std::path::PathBuf>,
    report_written: Option<std::time::Instant>,
}

/// How soon news from a worker is drawn. Rows pouring in need about ten updates a second to
/// look live; input (pointer, keys) is still drawn at once, because egui repaints on input
/// whatever is scheduled. On machines without a GPU every frame is rasterised in software on
/// threads of this process (about 16 ms of CPU for the default window), so drawing a flood at
/// 60 frames a second cost a whole core while these ten cost a sixth of one, and a frame in
/// progress no longer delays the answer to a click.
pub const LIVE_REPAINT_INTERVAL: Duration = Duration::from_millis(100);

/// A wake-up that asks egui for a repaint within [`LIVE_REPAINT_INTERVAL`]: a burst of worker
/// events costs one frame, and a flood is drawn about ten times a second, no more.
pub fn repaint_waker(ctx: &egui::Context) -> Wake {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint_after(LIVE_REPAINT_INTERVAL))
}

/// Label and weak (explanation) text colours that meet WCAG AA contrast (4.5:1) against the
/// panels, in both themes: egui's weak text is its label colour at 60 % (about 2.9:1 on the
/// dark panel). Drop-down lists are tall enough for every encoding (egui's 200 px hid the
/// last, Latin-1, below a scroll).
pub fn readable_text(ctx: &egui::Context) {
    ctx.all_styles_mut(|s| s.spacing.combo_height = COMBO_HEIGHT);
    ctx.style_mut_of(egui::Theme::Dark, |s| {
        s.visuals.widgets.noninteractive.fg_stroke.color = egui::Color32::from_gray(190);
        s.visuals.weak_text_color = Some(egui::Color32::from_gray(150));
    });
    ctx.style_mut_of(egui::Theme::Light, |s| {
        s.visuals.widgets.noninteractive.fg_stroke.color = egui::Color32::from_gray(40);
        s.visuals.weak_text_color = Some(egui::Color32::from_gray(95));
    });
}

/// Most height a drop-down list takes before it scrolls.
pub const COMBO_HEIGHT: f32 = 420.0;

/// The WCAG contrast ratio of two opaque colours (1 to 21).
pub fn contrast(a: egui::Color32, b: egui::Color32) -> f32 {
    fn luminance(c: egui::Color32) -> f32 {
        let lin = |v: u8| {
            let v = f32::from(v) / 255.0;
            if v <= 0.039_28 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c.r()) + 0.7152 * lin(c.g()) + 0.0722 * lin(c.b())
    }
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// Sessions to open at start, as if the user had clicked (from `sockpit gui --tab … --listen …`).
/// Each address goes to its own session of its tab: the first to the tab's first session, the
/// second to its second, and so on, opening sessions when there are more addresses than
/// sessions (so starting twice with the same options gives the same sessions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    pub tab: Option<Tab>,
    /// Start a TCP Server session on each.
    pub listen: Vec<std::net::SocketAddr>,
    /// Connect a TCP Client session to each host and port.
    pub connect: Vec<(String, u16)>,
    /// Bind a UDP session to each.
    pub bind: Vec<std::net::SocketAddr>,
    pub encoding: Option<crate::codec::TextEncoding>,
    /// A capture file to open in the viewer of the tab's current session.
    pub open: Option<std::path::PathBuf>,
    /// What the state file's repair found (see [`crate::settings::Repair::notice`]).
    pub notice: Option<String>,
    /// Every session started here captures (pcapng) into this folder from its start.
    pub capture_dir: Option<std::path::PathBuf>,
    /// Write every session's figures to this file as JSON, each second and at exit.
    pub report: Option<std::path::PathBuf>,
}

impl SockpitApp {
    /// Builds the app from eframe's creation context (settings, egui context for wake-ups).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::new_with_startup(cc, &Startup::default())
    }

    /// Builds the app, then opens the session `startup` asks for.
    pub fn new_with_startup(cc: &eframe::CreationContext<'_>, startup: &Startup) -> Self {
        let mut notes = Vec::new();
        let settings = Settings::load_noting(cc.storage, &mut notes);
        let mut app = Self::with_settings(&cc.egui_ctx, settings);
        app.apply_startup(startup);
        // The state file is repaired before the window opens, so these are only for storage
        // that was not (nothing was backed up then).
        if app.notice.is_none() && !notes.is_empty() {
            let repair = crate::settings::Repair {
                backup: None,
                notes,
            };
            app.notice = repair.notice();
        }
        app
    }

    /// Fills the sessions' fields from `startup` and starts what it names; errors show in the
    /// session as if the user had clicked.
    pub fn apply_startup(&mut self, startup: &Startup) {
        if startup.notice.is_some() {
            self.notice.clone_from(&startup.notice);
        }
        if let Some(encoding) = startup.encoding {
            self.tcp_client
                .iter_mut()
                .for_each(|t| t.settings.encoding = encoding);
            self.tcp_server
                .iter_mut()
                .for_each(|t| t.settings.encoding = encoding);
            self.udp
                .iter_mut()
                .for_each(|t| t.settings.encoding = encoding);
            self.broadcast.settings.encoding = encoding;
        }
        let capture = startup.capture_dir.as_ref().map(|dir| CaptureSettings {
            auto: true,
            folder: dir.display().to_string(),
            format: crate::capture::CaptureFormat::Pcapng,
        });
        if startup.report.is_some() {
            self.report.clone_from(&startup.report);
        }
        let started = start_each(&mut self.tcp_server, &startup.listen, |tab, addr| {
            if let Some(c) = &capture {
                tab.settings.capture.clone_from(c);
            }
            tab.settings.bind = addr.ip().to_string();
            tab.settings.port = addr.port().to_string();
            tab.start();
        });
        if started {
            self.tab = Tab::TcpServer;
        }
        let started = start_each(
            &mut self.tcp_client,
            &startup.connect,
            |tab, (host, port)| {
                if let Some(c) = &capture {
                    tab.settings.capture.clone_from(c);
                }
                tab.settings.host.clone_from(host);
                tab.settings.port = port.to_string();
                tab.connect();
            },
        );
        if started {
            self.tab = Tab::TcpClient;
        }
        let started = start_each(&mut self.udp, &startup.bind, |tab, addr| {
            if let Some(c) = &capture {
                tab.settings.capture.clone_from(c);
            }
            tab.settings.bind = addr.ip().to_string();
            tab.settings.port = addr.port().to_string();
            tab.bind();
        });
        if started {
            self.tab = Tab::Udp;
        }
        if let Some(tab) = startup.tab {
            self.tab = tab;
        }
        if let Some(path) = &startup.open {
            match self.tab {
                Tab::TcpServer => {
                    let t = self.tcp_server.current_mut();
                    t.session.capture.open(path, t.settings.encoding);
                }
                Tab::Udp => {
                    let t = self.udp.current_mut();
                    t.session.capture.open(path, t.settings.encoding);
                }
                _ => {
                    self.tab = Tab::TcpClient;
                    let t = self.tcp_client.current_mut();
                    t.session.capture.open(path, t.settings.encoding);
                }
            }
        }
    }

    pub fn with_settings(ctx: &egui::Context, mut settings: Settings) -> Self {
        settings.migrate();
        readable_text(ctx);
        i18n::set_language(settings.language.unwrap_or_else(Language::from_environment));
        let wake = repaint_waker(ctx);
        let exit_after_frames = std::env::var("SOCKPIT_EXIT_AFTER_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok());
        Self {
            tab: settings.tab,
            tcp_client: Sessions::from_saved(settings.tcp_client_sessions, wake.clone()),
            tcp_server: Sessions::from_saved(settings.tcp_server_sessions, wake.clone()),
            udp: Sessions::from_saved(settings.udp_sessions, wake.clone()),
            broadcast: BroadcastTab::new(settings.broadcast, wake.clone()),
            ip_tools: IpToolsTab::new(settings.ip_tools, wake),
            library: LibraryPanel::new(settings.library, !settings.library_hidden),
            help_open: false,
            language: settings.language,
            tips: settings.learner_tips.unwrap_or(true),
            tips_chosen: settings.learner_tips == Some(true),
            notice: None,
            frames: 0,
            exit_after_frames,
            report: None,
            report_written: None,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            tab: self.tab,
            tcp_client_sessions: self.tcp_client.to_saved(),
            tcp_server_sessions: self.tcp_server.to_saved(),
            udp_sessions: self.udp.to_saved(),
            broadcast: self.broadcast.settings_to_save(),
            ip_tools: self.ip_tools.settings_to_save(),
            library: self.library.library.clone(),
            library_hidden: !self.library.open,
            language: self.language,
            learner_tips: Some(self.tips && self.tips_chosen),
            ..Settings::default()
        }
    }

    /// The room that draws `tab`.
    pub fn room(&mut self, tab: Tab) -> &mut dyn Room {
        match tab {
            Tab::TcpClient => &mut self.tcp_client,
            Tab::TcpServer => &mut self.tcp_server,
            Tab::Udp => &mut self.udp,
            Tab::Broadcast => &mut self.broadcast,
            Tab::IpTools => &mut self.ip_tools,
        }
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// The start-up notice about saved settings, until the user dismisses it.
    fn notice_ui(&mut self, ui: &mut Ui) {
        let Some(text) = &self.notice else {
            return;
        };
        let mut dismissed = false;
        egui::Panel::top("settings-notice").show(ui, |ui| {
            ui.add_space(4.0);
            ui.horizontal(|ui| {
                ui.label(egui::RichText::new(text).color(crate::gui::widgets::WAIT_COLOR));
                dismissed = ui.button(t!("app.notice.dismiss")).clicked();
            });
            ui.add_space(4.0);
        });
        if dismissed {
            self.notice = None;
        }
    }

    /// The language switch: each language named in itself, so it can be found in either.
    fn language_ui(&mut self, ui: &mut Ui) {
        let current = i18n::language();
        let response = egui::ComboBox::from_id_salt("language")
            .selected_text(current.native_name())
            .show_ui(ui, |ui| {
                for language in Language::ALL {
                    if ui
                        .selectable_label(current == language, language.native_name())
                        .clicked()
                    {
                        self.language = Some(language);
                        i18n::set_language(language);
                    }
                }
            })
            .response
            .on_hover_text(t!("app.language.hover"));
        // Right to left: the label, added after, stands before its list.
        let label = ui.label(t!("app.language.label"));
        let _ = response.labelled_by(label.id);
    }

    fn tab_bar_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.heading("Sockpit");
            ui.separator();
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.title());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                ui.toggle_value(&mut self.help_open, t!("app.help.button"))
                    .on_hover_text(t!("app.help.hover"));
                self.language_ui(ui);
                if ui
                    .toggle_value(&mut self.tips, t!("app.tips.button"))
                    .on_hover_text(t!("app.tips.hover"))
                    .changed()
                {
                    self.tips_chosen = true;
                }
            });
        });
        if ui.input_mut(|i| i.consume_key(egui::Modifiers::NONE, crate::gui::help::HELP_KEY)) {
            self.help_open = !self.help_open;
        }
    }
}

impl eframe::App for SockpitApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Every tab drains its workers whether or not it is visible, so nothing piles up.
        let mut more = false;
        for tab in Tab::ALL {
            more |= self.room(tab).drain_events();
        }
        // A host picked on the sweep map opens in the TCP Client session shown, ready to
        // connect.
        if let Some(ip) = self.ip_tools.take_open_request() {
            self.tcp_client.current_mut().settings.host = ip.to_string();
            self.tab = Tab::TcpClient;
        }
        // A drain that hit its budget left events waiting: take them in the next frame, so a
        // flood beyond one live frame's budget is not held back by the pacing.
        if more {
            ctx.request_repaint();
        }
        if self.write_report(false) {
            ctx.request_repaint_after(REPORT_INTERVAL);
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frames += 1;
        egui::Panel::top("tab-bar").show(ui, |ui| {
            ui.add_space(2.0);
            self.tab_bar_ui(ui);
            ui.add_space(2.0);
        });
        self.notice_ui(ui);
        if self.tips {
            egui::Panel::top("learner-tip").show(ui, |ui| {
                ui.add_space(2.0);
                ui.label(egui::RichText::new(self.tab.tip()).weak());
                ui.add_space(2.0);
            });
        }
        let library = &mut self.library;
        let room: &mut dyn Room = match self.tab {
            Tab::TcpClient => &mut self.tcp_client,
            Tab::TcpServer => &mut self.tcp_server,
            Tab::Udp => &mut self.udp,
            Tab::Broadcast => &mut self.broadcast,
            Tab::IpTools => &mut self.ip_tools,
        };
        room.ui(ui, library);
        self.hand_over_mock();
        crate::gui::help::window(ui.ctx(), &mut self.help_open, self.tab);
        if let Some(limit) = self.exit_after_frames {
            if self.frames >= limit {
                ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
            } else {
                ui.ctx().request_repaint();
            }
        }
    }

    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, STORAGE_KEY, &self.settings());
    }

    fn on_exit(&mut self, _gl: Option<&eframe::glow::Context>) {
        self.write_report(true);
    }
}

/// How often `--report` rewrites its file.
const REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

impl SockpitApp {
    /// Every session's figures, as `--report` writes them.
    pub fn report(&self) -> serde_json::Value {
        let mut sessions = self.tcp_server.report();
        sessions.extend(self.tcp_client.report());
        sessions.extend(self.udp.report());
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        serde_json::json!({
            "time_unix_ms": now_ms,
            "frames": self.frames,
            "sessions": sessions,
        })
    }

    /// Rewrites the `--report` file once a second, or now when `now`; true while reports
    /// are asked for (the caller keeps a frame a second coming). Written beside and renamed,
    /// so a reader never sees half a file; a failure is said once on stderr and the window
    /// goes on.
    fn write_report(&mut self, now: bool) -> bool {
        let Some(path) = self.report.clone() else {
            return false;
        };
        let due = self
            .report_written
            .is_none_or(|t| t.elapsed() >= REPORT_INTERVAL);
        if due || now {
            self.report_written = Some(std::time::Instant::now());
            let text = self.report().to_string();
            let tmp = path.with_extension("tmp");
            let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path));
            if let Err(e) = written {
                eprintln!("{}", t!("report.failed", path = path.display(), error = e));
                self.report = None;
                return false;
            }
        }
        true
    }
}

impl SockpitApp {
    /// Rules a TCP Client session made from its selected rows go to a TCP Server session
    /// (a new one when the shown one runs), and that tab is shown.
    fn hand_over_mock(&mut self) {
        let Some(mock) = self.tcp_client.current_mut().take_mock() else {
            return;
        };
        let mut extra = t!("log_mock.start").into_owned();
        if self.tcp_server.current_mut().busy().is_some() {
            if self.tcp_server.open_new().is_some() {
                extra = t!("log_mock.new_session").into_owned();
            } else {
                // At the session limit: the rules wait in the running session for its next
                // start, and its rules list says so.
                extra.clear();
            }
        }
        self.tcp_server.current_mut().adopt_mock(mock, &extra);
        self.tab = Tab::TcpServer;
    }
}

/// Starts one session of `sessions` per address: the i-th address in the i-th session, opening
/// sessions as needed (a refusal past the limit shows in the strip). True if any was started;
/// the first one started is shown.
fn start_each<T: crate::gui::sessions::SessionTab, A>(
    sessions: &mut Sessions<T>,
    addresses: &[A],
    mut start: impl FnMut(&mut T, &A),
) -> bool {
    let mut first = None;
    for (i, address) in addresses.iter().enumerate() {
        if i >= sessions.len() && sessions.open_new().is_none() {
            break;
        }
        if let Some(tab) = sessions.get_mut(i) {
            start(tab, address);
            first.get_or_insert(i);
        }
    }
    if let Some(i) = first {
        sessions.select(i);
    }
    first.is_some()
}
