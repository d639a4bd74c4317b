//! The window: five tabs in a bar, each drawn by its own room. This file only composes them
//! and saves their settings.

use std::sync::Arc;
use std::time::Duration;

use egui::Ui;
use serde::{Deserialize, Serialize};

use crate::tabs::broadcast::{BroadcastSettings, BroadcastTab};
use crate::tabs::ip_tools::{IpToolsSettings, IpToolsTab};
use crate::tabs::tcp_client::{TcpClientSettings, TcpClientTab};
use crate::tabs::tcp_server::{TcpServerSettings, TcpServerTab};
use crate::tabs::udp::{UdpSettings, UdpTab};
use crate::worker::Wake;

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

    pub fn title(self) -> &'static str {
        match self {
            Self::TcpServer => "TCP Server",
            Self::TcpClient => "TCP Client",
            Self::Udp => "UDP",
            Self::Broadcast => "Broadcast",
            Self::IpTools => "IP Tools",
        }
    }
}

/// Everything saved across restarts. Unknown or broken fields fall back to defaults.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub tab: Tab,
    pub tcp_client: TcpClientSettings,
    pub tcp_server: TcpServerSettings,
    pub udp: UdpSettings,
    pub broadcast: BroadcastSettings,
    pub ip_tools: IpToolsSettings,
}

impl Settings {
    /// Loads saved settings; anything unreadable gives the defaults, never a crash.
    pub fn load(storage: Option<&dyn eframe::Storage>) -> Self {
        storage
            .and_then(|s| eframe::get_value::<Self>(s, STORAGE_KEY))
            .unwrap_or_default()
    }
}

/// The application: owns every tab.
pub struct SockpitApp {
    pub tab: Tab,
    pub tcp_client: TcpClientTab,
    pub tcp_server: TcpServerTab,
    pub udp: UdpTab,
    pub broadcast: BroadcastTab,
    pub ip_tools: IpToolsTab,
    frames: u64,
    exit_after_frames: Option<u64>,
}

/// A wake-up that asks egui for a repaint within one display refresh (16 ms), so a burst of
/// worker events costs one frame and a flood is drawn at about 60 frames a second, no more.
pub fn repaint_waker(ctx: &egui::Context) -> Wake {
    let ctx = ctx.clone();
    Arc::new(move || ctx.request_repaint_after(Duration::from_millis(16)))
}

/// A session to open at start, as if the user had clicked (from `sockpit gui --tab … --listen …`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Startup {
    pub tab: Option<Tab>,
    /// Start the TCP Server here.
    pub listen: Option<std::net::SocketAddr>,
    /// Connect the TCP Client to this host and port.
    pub connect: Option<(String, u16)>,
    /// Bind the UDP tab here.
    pub bind: Option<std::net::SocketAddr>,
    pub encoding: Option<crate::codec::TextEncoding>,
}

impl SockpitApp {
    /// Builds the app from eframe's creation context (settings, egui context for wake-ups).
    pub fn new(cc: &eframe::CreationContext<'_>) -> Self {
        Self::new_with_startup(cc, &Startup::default())
    }

    /// Builds the app, then opens the session `startup` asks for.
    pub fn new_with_startup(cc: &eframe::CreationContext<'_>, startup: &Startup) -> Self {
        let settings = Settings::load(cc.storage);
        let mut app = Self::with_settings(&cc.egui_ctx, settings);
        app.apply_startup(startup);
        app
    }

    /// Fills the tabs' fields from `startup` and starts what it names; errors show in the tab
    /// as if the user had clicked.
    pub fn apply_startup(&mut self, startup: &Startup) {
        if let Some(encoding) = startup.encoding {
            self.tcp_client.settings.encoding = encoding;
            self.tcp_server.settings.encoding = encoding;
            self.udp.settings.encoding = encoding;
            self.broadcast.settings.encoding = encoding;
        }
        if let Some(addr) = startup.listen {
            self.tcp_server.settings.bind = addr.ip().to_string();
            self.tcp_server.settings.port = addr.port().to_string();
            self.tcp_server.start();
            self.tab = Tab::TcpServer;
        }
        if let Some((host, port)) = &startup.connect {
            self.tcp_client.settings.host.clone_from(host);
            self.tcp_client.settings.port = port.to_string();
            self.tcp_client.connect();
            self.tab = Tab::TcpClient;
        }
        if let Some(addr) = startup.bind {
            self.udp.settings.bind = addr.ip().to_string();
            self.udp.settings.port = addr.port().to_string();
            self.udp.bind();
            self.tab = Tab::Udp;
        }
        if let Some(tab) = startup.tab {
            self.tab = tab;
        }
    }

    pub fn with_settings(ctx: &egui::Context, settings: Settings) -> Self {
        let wake = repaint_waker(ctx);
        let exit_after_frames = std::env::var("SOCKPIT_EXIT_AFTER_FRAMES")
            .ok()
            .and_then(|v| v.parse().ok());
        Self {
            tab: settings.tab,
            tcp_client: TcpClientTab::new(settings.tcp_client, wake.clone()),
            tcp_server: TcpServerTab::new(settings.tcp_server, wake.clone()),
            udp: UdpTab::new(settings.udp, wake.clone()),
            broadcast: BroadcastTab::new(settings.broadcast, wake.clone()),
            ip_tools: IpToolsTab::new(settings.ip_tools, wake),
            frames: 0,
            exit_after_frames,
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            tab: self.tab,
            tcp_client: self.tcp_client.settings_to_save(),
            tcp_server: self.tcp_server.settings_to_save(),
            udp: self.udp.settings_to_save(),
            broadcast: self.broadcast.settings_to_save(),
            ip_tools: self.ip_tools.settings_to_save(),
        }
    }

    /// Frames drawn so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    fn tab_bar_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            ui.heading("Sockpit");
            ui.separator();
            for tab in Tab::ALL {
                ui.selectable_value(&mut self.tab, tab, tab.title());
            }
        });
    }
}

impl eframe::App for SockpitApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        // Every tab drains its worker whether or not it is visible, so nothing piles up.
        let client_more = self.tcp_client.drain_events();
        let server_more = self.tcp_server.drain_events();
        let udp_more = self.udp.drain_events();
        let broadcast_more = self.broadcast.drain_events();
        let ip_tools_more = self.ip_tools.drain_events();
        // A host picked on the sweep map opens in the TCP Client, ready to connect.
        if let Some(ip) = self.ip_tools.take_open_request() {
            self.tcp_client.settings.host = ip.to_string();
            self.tab = Tab::TcpClient;
        }
        if client_more || server_more || udp_more || broadcast_more || ip_tools_more {
            ctx.request_repaint();
        }
    }

    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frames += 1;
        egui::Panel::top("tab-bar").show(ui, |ui| {
            ui.add_space(2.0);
            self.tab_bar_ui(ui);
            ui.add_space(2.0);
        });
        match self.tab {
            Tab::TcpClient => self.tcp_client.ui(ui),
            Tab::TcpServer => self.tcp_server.ui(ui),
            Tab::Udp => self.udp.ui(ui),
            Tab::Broadcast => self.broadcast.ui(ui),
            Tab::IpTools => self.ip_tools.ui(ui),
        }
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
}
