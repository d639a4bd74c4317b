//! The IP Tools tab: interfaces, a subnet calculator that shows its bits, same-subnet checks,
//! split and supernet, the neighbour table with vendors, a LAN sweep drawn as a map, local
//! sockets, DNS and port facts. The work is done by `crate::iptools`; this room only draws.

mod calculator;
mod checksums;
mod lan;
mod route;
mod system;

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use egui::{Color32, RichText, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::engine::worker::{SessionId, Wake};
use crate::iptools::dns::{DnsAnswer, DnsError, DnsLookup};
use crate::iptools::interfaces::InterfaceInfo;
use crate::iptools::neighbours::Neighbour;
use crate::iptools::ports::BindCheck;
use crate::iptools::sockets::SocketEntry;
use crate::iptools::subnet::{SameSubnet, Split, SubnetInfo};
use crate::iptools::sweep::{SweepEvent, SweepHandle, SweepPhase, SweepReport};
use crate::settings::{Bounded, cut_fields};

/// Sweep events applied per frame at most.
const MAX_EVENTS_PER_FRAME: usize = 64;

/// The tab's sections, in the order of the list on the left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Section {
    Interfaces,
    #[default]
    Calculator,
    SameSubnet,
    SplitSupernet,
    Neighbours,
    Sweep,
    Sockets,
    Dns,
    Ports,
    Checksums,
    Route,
}

impl Section {
    pub const ALL: [Self; 11] = [
        Self::Interfaces,
        Self::Calculator,
        Self::SameSubnet,
        Self::SplitSupernet,
        Self::Neighbours,
        Self::Sweep,
        Self::Sockets,
        Self::Route,
        Self::Dns,
        Self::Ports,
        Self::Checksums,
    ];

    /// The section's name in the language shown.
    pub fn title(self) -> Cow<'static, str> {
        match self {
            Self::Interfaces => t!("ip_tools.section.interfaces"),
            Self::Calculator => t!("ip_tools.section.calculator"),
            Self::SameSubnet => t!("ip_tools.section.same_subnet"),
            Self::SplitSupernet => t!("ip_tools.section.split_supernet"),
            Self::Neighbours => t!("ip_tools.section.neighbours"),
            Self::Sweep => t!("ip_tools.section.sweep"),
            Self::Sockets => t!("ip_tools.section.sockets"),
            Self::Dns => t!("ip_tools.section.dns"),
            Self::Ports => t!("ip_tools.section.ports"),
            Self::Checksums => t!("ip_tools.section.checksums"),
            Self::Route => t!("route_view.section"),
        }
    }
}

/// How the split field is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SplitMode {
    #[default]
    Count,
    Prefix,
}

/// What the tab saves across restarts: the inputs, not the results.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IpToolsSettings {
    pub section: Section,
    pub calc_input: String,
    pub same_a: String,
    pub same_b: String,
    pub same_mask: String,
    pub split_network: String,
    pub split_mode: SplitMode,
    pub split_value: String,
    pub supernet_input: String,
    pub sweep_range: String,
    pub sweep_ports: String,
    pub sweep_reverse_dns: bool,
    pub sockets_filter: String,
    pub dns_query: String,
    pub port_query: String,
    pub checksum_input: String,
    pub checksum_hex: bool,
    /// The host or address asked about in Route to host.
    pub route_query: String,
}

impl Default for IpToolsSettings {
    fn default() -> Self {
        Self {
            section: Section::Calculator,
            calc_input: "192.168.1.12/24".to_owned(),
            same_a: "192.168.1.12".to_owned(),
            same_b: "192.168.2.20".to_owned(),
            same_mask: "255.255.255.0".to_owned(),
            split_network: "192.168.1.0/24".to_owned(),
            split_mode: SplitMode::Count,
            split_value: "4".to_owned(),
            supernet_input: "192.168.0.0/24, 192.168.1.0/24".to_owned(),
            sweep_range: String::new(),
            sweep_ports: String::new(),
            sweep_reverse_dns: true,
            sockets_filter: String::new(),
            dns_query: "localhost".to_owned(),
            port_query: "502".to_owned(),
            checksum_input: "01 03 00 00 00 0A".to_owned(),
            checksum_hex: true,
            route_query: "1.1.1.1".to_owned(),
        }
    }
}

impl Bounded for IpToolsSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        cut_fields(
            path,
            &mut [
                ("calc_input", &mut self.calc_input),
                ("same_a", &mut self.same_a),
                ("same_b", &mut self.same_b),
                ("same_mask", &mut self.same_mask),
                ("split_network", &mut self.split_network),
                ("split_value", &mut self.split_value),
                ("supernet_input", &mut self.supernet_input),
                ("sweep_range", &mut self.sweep_range),
                ("sweep_ports", &mut self.sweep_ports),
                ("sockets_filter", &mut self.sockets_filter),
                ("dns_query", &mut self.dns_query),
                ("port_query", &mut self.port_query),
                ("checksum_input", &mut self.checksum_input),
                ("route_query", &mut self.route_query),
            ],
            notes,
        );
    }
}

/// Sweep state as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepStatus {
    Idle,
    /// Waiting for the user to confirm a large or off-link range; the text says why.
    Confirm(ipnet::Ipv4Net, String),
    Running {
        done: usize,
        total: usize,
        phase: SweepPhase,
        started: Instant,
    },
    Done,
    Failed(String),
}

pub struct IpToolsTab {
    pub settings: IpToolsSettings,
    wake: Wake,
    // Subnet calculator: the last valid result stays while the input is wrong.
    pub calc: Option<SubnetInfo>,
    pub calc_error: Option<String>,
    same: Option<Result<SameSubnet, String>>,
    split: Option<Result<Split, String>>,
    supernet: Option<Result<(Vec<ipnet::IpNet>, ipnet::IpNet), String>>,
    // This machine.
    interfaces: Vec<InterfaceInfo>,
    interfaces_read: Option<Instant>,
    neighbours: Vec<(Neighbour, String)>,
    neighbour_errors: Vec<String>,
    neighbours_read: Option<Instant>,
    sockets: Vec<SocketEntry>,
    sockets_error: Option<String>,
    sockets_read: Option<Instant>,
    // Sweep.
    sweep: Option<SweepHandle>,
    sweep_session: SessionId,
    pub sweep_status: SweepStatus,
    pub sweep_report: Option<SweepReport>,
    sweep_range_error: Option<String>,
    map_selected: Option<Ipv4Addr>,
    // DNS and ports.
    dns: Option<DnsLookup>,
    dns_result: Option<(String, Result<DnsAnswer, DnsError>)>,
    dns_input_error: Option<String>,
    bind_check: Option<BindCheck>,
    /// The checksum calculator's table for the current input (or why it cannot be read).
    checksums: Option<Result<checksums::ChecksumTable, String>>,
    open_request: Option<IpAddr>,
    /// Route to host: the lookup under way or its answer.
    route: route::RouteState,
}

/// Background of network bits in the binary view (reads well in dark and light themes).
pub const NETWORK_BITS: Color32 = Color32::from_rgb(0x1F, 0x5F, 0xB0);
/// Background of host bits in the binary view.
pub const HOST_BITS: Color32 = Color32::from_rgb(0xB0, 0x5A, 0x10);

impl IpToolsTab {
    pub fn new(settings: IpToolsSettings, wake: Wake) -> Self {
        let mut tab = Self {
            settings,
            wake,
            calc: None,
            calc_error: None,
            same: None,
            split: None,
            supernet: None,
            interfaces: Vec::new(),
            interfaces_read: None,
            neighbours: Vec::new(),
            neighbour_errors: Vec::new(),
            neighbours_read: None,
            sockets: Vec::new(),
            sockets_error: None,
            sockets_read: None,
            sweep: None,
            sweep_session: SessionId::default(),
            sweep_status: SweepStatus::Idle,
            sweep_report: None,
            sweep_range_error: None,
            map_selected: None,
            dns: None,
            dns_result: None,
            dns_input_error: None,
            bind_check: None,
            checksums: None,
            open_request: None,
            route: route::RouteState::default(),
        };
        tab.recalculate();
        tab.recompute_same();
        tab.recompute_split();
        tab.recompute_supernet();
        tab
    }

    pub fn settings_to_save(&self) -> IpToolsSettings {
        self.settings.clone()
    }

    /// An address the user asked to open in the TCP Client (the app acts on it).
    pub fn take_open_request(&mut self) -> Option<IpAddr> {
        self.open_request.take()
    }

    /// Applies waiting sweep and DNS results. Returns true if more are waiting.
    pub fn drain_events(&mut self) -> bool {
        let mut more = false;
        self.poll_route();
        if let Some(lookup) = &mut self.dns
            && let Some(answer) = lookup.poll()
        {
            let query = match &lookup.query {
                crate::iptools::dns::DnsQuery::Forward(n) => n.clone(),
                crate::iptools::dns::DnsQuery::Reverse(ip) => ip.to_string(),
            };
            self.dns_result = Some((query, answer));
            self.dns = None;
        }
        let mut finished = false;
        if let Some(sweep) = &self.sweep {
            for _ in 0..MAX_EVENTS_PER_FRAME {
                let event = match sweep.events().try_recv() {
                    Ok(e) => e,
                    Err(crossbeam_channel::TryRecvError::Empty) => break,
                    Err(crossbeam_channel::TryRecvError::Disconnected) => {
                        finished = true;
                        if matches!(self.sweep_status, SweepStatus::Running { .. }) {
                            self.sweep_status =
                                SweepStatus::Failed(t!("ip_tools.sweep.worker_ended").into_owned());
                        }
                        break;
                    }
                };
                more = !sweep.events().is_empty();
                match event {
                    SweepEvent::Progress {
                        session,
                        done,
                        total,
                        phase,
                    } if session == self.sweep_session => {
                        if let SweepStatus::Running { started, .. } = self.sweep_status {
                            self.sweep_status = SweepStatus::Running {
                                done,
                                total,
                                phase,
                                started,
                            };
                        }
                    }
                    SweepEvent::Finished { session, report } if session == self.sweep_session => {
                        self.sweep_report = Some(report);
                        self.sweep_status = SweepStatus::Done;
                        finished = true;
                    }
                    SweepEvent::Failed { session, message } if session == self.sweep_session => {
                        self.sweep_status = SweepStatus::Failed(message);
                        finished = true;
                    }
                    _ => {}
                }
            }
        }
        if finished {
            self.sweep = None;
        }
        more
    }

    pub fn ui(&mut self, ui: &mut Ui) {
        egui::Panel::left("ip-tools-sections")
            .resizable(false)
            .default_size(190.0)
            .show(ui, |ui| self.sections_ui(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("ip-tools-scroll")
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    ui.heading(t!(
                        "ip_tools.heading",
                        section = self.settings.section.title()
                    ));
                    ui.add_space(4.0);
                    match self.settings.section {
                        Section::Interfaces => self.interfaces_ui(ui),
                        Section::Calculator => self.calculator_ui(ui),
                        Section::SameSubnet => self.same_subnet_ui(ui),
                        Section::SplitSupernet => self.split_supernet_ui(ui),
                        Section::Neighbours => self.neighbours_ui(ui),
                        Section::Sweep => self.sweep_ui(ui),
                        Section::Sockets => self.sockets_ui(ui),
                        Section::Dns => self.dns_ui(ui),
                        Section::Ports => self.ports_ui(ui),
                        Section::Checksums => self.checksums_ui(ui),
                        Section::Route => self.route_ui(ui),
                    }
                });
        });
    }

    fn sections_ui(&mut self, ui: &mut Ui) {
        ui.add_space(6.0);
        for section in Section::ALL {
            let selected = self.settings.section == section;
            if ui
                .selectable_label(selected, RichText::new(section.title()))
                .clicked()
            {
                self.settings.section = section;
            }
        }
        ui.add_space(8.0);
        if let SweepStatus::Running { done, total, .. } = &self.sweep_status {
            ui.label(
                RichText::new(t!("ip_tools.sweep_running", done = done, total = total)).weak(),
            );
        }
    }

    /// Fills the calculator with `text` and shows it.
    fn open_in_calculator(&mut self, text: String) {
        self.settings.calc_input = text;
        self.recalculate();
        self.settings.section = Section::Calculator;
    }
}
