//! The Broadcast tab: send a probe on one interface's broadcast or multicast address and list
//! every device that answers (device discovery), with presets that speak common discovery
//! protocols, and Wake-on-LAN.

use std::net::SocketAddr;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::engine::broadcast::plan::{self, PlanError, PlanInput, TargetKind};
use crate::engine::broadcast::{
    BroadcastHandle, Command, Event, EventKind, Preset, Probe, Responders,
};
use crate::engine::worker::Wake;
use crate::gui::session::{DrainLimits, Session, Traffic};
use crate::gui::widgets::SendBox;
use crate::gui::widgets::labelled_hint;
use crate::gui::widgets::traffic_view::ViewSettings;
use crate::gui::widgets::{ERROR_COLOR, OK_COLOR, WAIT_COLOR, error_text, labelled_drag};
use crate::net::explain::broadcast_explanation;
use crate::net::iface::{InterfaceCache, InterfaceV4};
use crate::settings::{Bounded, clamp_number, cut_fields, join};
use crate::traffic::{Direction, Record, format_time_us};

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

impl Bounded for BroadcastSettings {
    /// Ranges as the fields' drag values offer them.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        clamp_number(
            &mut self.listen_ms,
            &(0..=600_000),
            &join(path, "listen_ms"),
            notes,
        );
        clamp_number(&mut self.sends, &(1..=10_000), &join(path, "sends"), notes);
        clamp_number(
            &mut self.repeat_ms,
            &(1..=3_600_000),
            &join(path, "repeat_ms"),
            notes,
        );
        clamp_number(&mut self.ttl, &(1..=255), &join(path, "ttl"), notes);
        cut_fields(
            path,
            &mut [
                ("interface_addr", &mut self.interface_addr),
                ("group", &mut self.group),
                ("unicast_host", &mut self.unicast_host),
                ("port", &mut self.port),
                ("source_port", &mut self.source_port),
                ("wol_mac", &mut self.wol_mac),
            ],
            notes,
        );
        self.view.bound(&join(path, "view"), notes);
        self.send_box.bound(&join(path, "send_box"), notes);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunStatus {
    Idle,
    Running { local: Option<SocketAddr> },
    Done { sends: u32, cancelled: bool },
    Failed(String),
}

pub struct BroadcastTab {
    pub settings: BroadcastSettings,
    pub session: Session<Command, Event>,
    pub status: RunStatus,
    pub responders: Responders,
    /// The preset of the run in progress (replies are parsed with it).
    run_preset: Preset,
    pub interface_error: Option<String>,
    pub target_error: Option<String>,
    pub wol_error: Option<String>,
    interfaces: InterfaceCache,
}

impl BroadcastTab {
    pub fn new(mut settings: BroadcastSettings, wake: Wake) -> Self {
        let view = std::mem::take(&mut settings.view);
        Self {
            settings,
            session: Session::new(view, wake, BroadcastHandle::spawn),
            status: RunStatus::Idle,
            responders: Responders::default(),
            run_preset: Preset::Custom,
            interface_error: None,
            target_error: None,
            wol_error: None,
            interfaces: InterfaceCache::default(),
        }
    }

    pub fn settings_to_save(&self) -> BroadcastSettings {
        let mut s = self.settings.clone();
        s.view = self.session.view_settings();
        s
    }

    pub fn running(&self) -> bool {
        matches!(self.status, RunStatus::Running { .. })
    }

    /// "Run discovery on eth0 (192.168.1.12)": the button says where the probe leaves.
    fn run_button_text(&mut self) -> String {
        let want = self.settings.interface_addr.trim().to_owned();
        match self
            .interfaces
            .ipv4()
            .into_iter()
            .find(|i| i.addr.to_string() == want)
        {
            Some(i) => t!("broadcast.run_on", name = i.name, addr = i.addr).into_owned(),
            None => t!("broadcast.run").into_owned(),
        }
    }

    /// What the probe fields say, for the engine's planner.
    fn plan_input(&self) -> PlanInput {
        let s = &self.settings;
        PlanInput {
            interface_addr: s.interface_addr.clone(),
            target: s.target,
            group: s.group.clone(),
            unicast_host: s.unicast_host.clone(),
            port: s.port.clone(),
            source_port: s.source_port.clone(),
            listen_ms: s.listen_ms,
            sends: s.sends,
            repeat_ms: s.repeat_ms,
            ttl: s.ttl,
        }
    }

    /// Shows a planning error beside the field it is about.
    fn show_plan_error(&mut self, e: PlanError) {
        match e {
            PlanError::Interface(m) => self.interface_error = Some(m),
            PlanError::Target(m) => self.target_error = Some(m),
            PlanError::Mac(m) => self.wol_error = Some(m),
        }
    }

    /// Applies a preset's usual target and port.
    pub fn set_preset(&mut self, preset: Preset) {
        self.settings.preset = preset;
        if let Some((target, group, port)) = plan::preset_target(preset) {
            self.settings.target = target;
            if let Some(group) = group {
                self.settings.group = group.to_string();
            }
            self.settings.port = port.to_string();
        }
        self.target_error = None;
    }

    /// Validates everything, then starts a discovery run. `custom` is the user's payload for
    /// the Custom preset.
    pub fn run(&mut self, custom: Option<Vec<u8>>) -> bool {
        self.interface_error = None;
        self.target_error = None;
        let interfaces = self.interfaces.ipv4();
        let input = self.plan_input();
        // Checked before the payload, so the field at fault is named first.
        if let Err(e) = plan::find_interface(&interfaces, &input.interface_addr)
            .and_then(|iface| plan::target_addr(&input, &iface).map_err(PlanError::Target))
        {
            self.show_plan_error(e);
            return false;
        }
        let preset = self.settings.preset;
        let payload = match (preset.request(), custom) {
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                let encoding = self.settings.encoding;
                let Some(p) = self.settings.send_box.take_payload(encoding) else {
                    return false;
                };
                p
            }
        };
        match plan::plan_probe(&input, &interfaces, payload) {
            Ok(probe) => self.start_probe(probe, preset),
            Err(e) => {
                self.show_plan_error(e);
                false
            }
        }
    }

    fn start_probe(&mut self, probe: Probe, preset: Preset) -> bool {
        let session = self.session.next_id();
        self.responders.clear();
        self.run_preset = preset;
        let sent = self.session.command(Command::Run { session, probe });
        if sent {
            self.status = RunStatus::Running { local: None };
        }
        sent
    }

    pub fn cancel(&mut self) {
        let session = self.session.id();
        self.session.command(Command::Cancel { session });
    }

    /// Sends a Wake-on-LAN magic packet for the MAC typed, to the interface's broadcast on
    /// port 9.
    pub fn wake_on_lan(&mut self) -> bool {
        self.wol_error = None;
        self.interface_error = None;
        let interfaces = self.interfaces.ipv4();
        match plan::wake_on_lan_probe(
            &self.settings.wol_mac,
            &interfaces,
            &self.settings.interface_addr,
        ) {
            Ok(probe) => self.start_probe(probe, Preset::Custom),
            Err(e) => {
                self.show_plan_error(e);
                false
            }
        }
    }

    pub fn drain_events(&mut self) -> bool {
        crate::gui::session::drain(self)
    }

    fn note(&mut self, direction: Direction, text: &str) {
        self.session.note(direction, None, text);
    }
}

impl Traffic for BroadcastTab {
    type Command = Command;
    type Event = Event;
    /// Replies are small and a run is short: only the number of events per frame is bounded.
    const LIMITS: DrainLimits = DrainLimits {
        events: 2048,
        bytes: usize::MAX,
    };

    fn session(&mut self) -> &mut Session<Command, Event> {
        &mut self.session
    }

    fn worker_gone(&mut self) {
        self.status = RunStatus::Idle;
    }

    fn apply(&mut self, event: Event) {
        match event.kind {
            EventKind::Started { local, time_us } => {
                self.status = RunStatus::Running { local: Some(local) };
                let mut r = Record::message(
                    Direction::Info,
                    None,
                    &t!("broadcast.log.sending_from", local = local),
                );
                r.time_us = time_us;
                self.session.log.push(r);
            }
            EventKind::Sent {
                to, time_us, bytes, ..
            } => {
                let mut r = Record::new(Direction::Sent, Some(to), bytes);
                r.time_us = time_us;
                self.session.log.push(r);
            }
            EventKind::SendFailed(e) => {
                let text = t!(
                    "broadcast.log.send_failed",
                    error = e,
                    explanation = broadcast_explanation(&e)
                )
                .into_owned();
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
                self.session.log.push(r);
            }
            EventKind::Unreachable(e) => {
                let text = e.to_string();
                self.note(Direction::Error, &text);
            }
            EventKind::Failed(e) => {
                let text = t!(
                    "broadcast.log.could_not_start",
                    error = e,
                    explanation = broadcast_explanation(&e)
                )
                .into_owned();
                self.note(Direction::Error, &text);
                self.status = RunStatus::Failed(text);
            }
            EventKind::Finished { cancelled, sends } => {
                let n = self.responders.len();
                let text = if cancelled {
                    t!("broadcast.done.cancelled", sends = sends, n = n)
                } else {
                    t!("broadcast.done.finished", sends = sends, n = n)
                };
                self.note(Direction::Info, &text);
                if !matches!(self.status, RunStatus::Failed(_)) {
                    self.status = RunStatus::Done { sends, cancelled };
                }
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }
}

impl BroadcastTab {
    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::top("broadcast-setup").show(ui, |ui| self.setup_ui(ui));
        if self.settings.preset == Preset::Custom {
            egui::Panel::bottom("broadcast-payload").show(ui, |ui| {
                ui.add_space(4.0);
                ui.label(RichText::new(t!("broadcast.custom_payload")).weak());
                let encoding = self.settings.encoding;
                let can = !self.running() && self.session.has_worker();
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
        self.session
            .panes_ui(ui, "broadcast", &mut self.settings.encoding, None);
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
                                t!("broadcast.pick_interface").into_owned()
                            } else {
                                t!("broadcast.not_found", addr = self.settings.interface_addr)
                                    .into_owned()
                            }
                        },
                        InterfaceV4::describe,
                    );
                let mut picked = None;
                crate::gui::widgets::label_first(ui, t!("broadcast.interface"))
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
                crate::gui::widgets::label_first(ui, t!("broadcast.preset"))
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
                error_text(ui, &t!("broadcast.interface_error", error = e));
            }
            ui.label(RichText::new(self.settings.preset.description()).weak());
            ui.horizontal_wrapped(|ui| {
                ui.label(t!("broadcast.send_to"));
                let bcast = chosen.as_ref().map_or_else(
                    || t!("broadcast.subnet_broadcast").into_owned(),
                    |i| i.broadcast.to_string(),
                );
                let t = &mut self.settings.target;
                ui.selectable_value(
                    t,
                    TargetKind::Directed,
                    t!("broadcast.directed", addr = bcast),
                )
                .on_hover_text(t!("broadcast.directed_hover"));
                ui.selectable_value(t, TargetKind::Limited, t!("broadcast.limited"))
                    .on_hover_text(t!("broadcast.limited_hover"));
                ui.selectable_value(t, TargetKind::Multicast, t!("broadcast.multicast"))
                    .on_hover_text(t!("broadcast.multicast_hover"));
                ui.selectable_value(t, TargetKind::Unicast, t!("broadcast.unicast"))
                    .on_hover_text(t!("broadcast.unicast_hover"));
                match self.settings.target {
                    TargetKind::Multicast => {
                        labelled_hint(
                            ui,
                            &t!("broadcast.group"),
                            &mut self.settings.group,
                            130.0,
                            "239.255.255.250",
                        );
                    }
                    TargetKind::Unicast => {
                        labelled_hint(
                            ui,
                            &t!("broadcast.host"),
                            &mut self.settings.unicast_host,
                            130.0,
                            "192.168.1.50",
                        );
                    }
                    _ => {}
                }
                labelled_hint(
                    ui,
                    &t!("broadcast.port"),
                    &mut self.settings.port,
                    55.0,
                    &t!("hint.broadcast_port"),
                );
                labelled_hint(
                    ui,
                    &t!("broadcast.source_port"),
                    &mut self.settings.source_port,
                    55.0,
                    &t!("hint.source_port"),
                );
            });
            if let Some(e) = &self.target_error {
                error_text(ui, e);
            }
            ui.horizontal_wrapped(|ui| {
                labelled_drag(
                    ui,
                    &t!("broadcast.listen_ms"),
                    &mut self.settings.listen_ms,
                    0..=600_000,
                );
                labelled_drag(
                    ui,
                    &t!("broadcast.sends"),
                    &mut self.settings.sends,
                    1..=10_000,
                );
                ui.add_enabled_ui(self.settings.sends > 1, |ui| {
                    labelled_drag(
                        ui,
                        &t!("broadcast.every_ms"),
                        &mut self.settings.repeat_ms,
                        1..=3_600_000,
                    );
                });
                labelled_drag(ui, "TTL", &mut self.settings.ttl, 1..=255)
                    .on_hover_text(t!("broadcast.ttl_hover"));
            });
        });
        ui.horizontal_wrapped(|ui| {
            if self.session.restart_ui(ui) {
                // No worker: the button above restarts it.
            } else if self.running() {
                if ui.button(t!("broadcast.cancel")).clicked() {
                    self.cancel();
                }
            } else if ui.button(self.run_button_text()).clicked() {
                self.run(None);
            }
            let (color, text) = match &self.status {
                RunStatus::Idle => (
                    egui::Color32::GRAY,
                    t!("broadcast.status.idle").into_owned(),
                ),
                RunStatus::Running { local } => (
                    WAIT_COLOR,
                    match local {
                        Some(l) => t!(
                            "broadcast.status.listening",
                            local = l,
                            n = self.responders.len()
                        )
                        .into_owned(),
                        None => t!("broadcast.status.starting").into_owned(),
                    },
                ),
                RunStatus::Done { sends, cancelled } => (
                    OK_COLOR,
                    if *cancelled {
                        t!(
                            "broadcast.done.cancelled",
                            sends = sends,
                            n = self.responders.len()
                        )
                    } else {
                        t!(
                            "broadcast.done.finished",
                            sends = sends,
                            n = self.responders.len()
                        )
                    }
                    .into_owned(),
                ),
                RunStatus::Failed(m) => (ERROR_COLOR, m.clone()),
            };
            let (color, text) = match self.session.failure() {
                Some(m) => (
                    ERROR_COLOR,
                    t!("broadcast.worker_stopped", message = m).into_owned(),
                ),
                None => (color, text),
            };
            ui.label(RichText::new(text).color(color).strong());
        });
        ui.horizontal_wrapped(|ui| {
            ui.strong(t!("broadcast.wol"));
            if labelled_hint(
                ui,
                "MAC",
                &mut self.settings.wol_mac,
                150.0,
                "00:11:22:33:44:55",
            )
            .changed()
            {
                self.wol_error = None;
            }
            if ui
                .add_enabled(!self.running(), egui::Button::new(t!("broadcast.wake")))
                .on_hover_text(t!("broadcast.wake_hover"))
                .on_disabled_hover_text(t!("disabled.wake"))
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
            ui.strong(t!("broadcast.responders", n = self.responders.len()));
            if ui
                .add_enabled(
                    !self.responders.is_empty(),
                    egui::Button::new(t!("broadcast.copy_table")),
                )
                .on_disabled_hover_text(t!("disabled.copy_table"))
                .clicked()
            {
                ui.ctx().copy_text(self.responders.to_tsv());
            }
        });
        let offset = self.session.view.utc_offset_seconds();
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
                    t!("broadcast.col.address"),
                    t!("broadcast.col.replies"),
                    "RTT".into(),
                    t!("broadcast.col.fields"),
                    t!("broadcast.col.first_last"),
                    t!("broadcast.col.reply"),
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
