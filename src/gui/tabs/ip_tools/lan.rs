//! The LAN sections: this machine's interfaces, its neighbour table, the sweep and its map.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use egui::{Color32, RichText, Sense, Ui, vec2};
use egui_extras::{Column, TableBuilder};
use ipnet::Ipv4Net;
use rust_i18n::t;

use super::{IpToolsTab, Section, SweepStatus};
use crate::gui::widgets::labelled_hint;
use crate::gui::widgets::{ERROR_COLOR, OK_COLOR, error_text};
use crate::iptools::ports::parse_ports;
use crate::iptools::sweep::parse_sweep_range;
use crate::iptools::sweep::{
    FoundBy, SweepHandle, SweepHost, SweepOptions, SweepPhase, SweepReport, SweepSize,
};
use crate::iptools::vendor::vendor_text;
use crate::iptools::{interfaces, neighbours};

/// Map colours.
const OWN_COLOR: Color32 = Color32::from_rgb(0x3D, 0x8B, 0xFD);
const GATEWAY_COLOR: Color32 = Color32::from_rgb(0xC0, 0x6C, 0xE0);
const ANSWERED_COLOR: Color32 = OK_COLOR;
const CACHED_COLOR: Color32 = crate::gui::widgets::WAIT_COLOR;
const SILENT_COLOR: Color32 = Color32::from_rgb(0x3A, 0x3A, 0x3A);
/// Light where "no answer" is dark, and struck through where the cell is large enough: the
/// two differ in lightness and shape, not only in hue (so also for colour-blind users).
const NOT_HOST_COLOR: Color32 = Color32::from_rgb(0xB4, 0xB4, 0xB4);

fn cell_text_ui(ui: &mut egui_extras::TableRow<'_, '_>, text: impl Into<String>) {
    let text = text.into();
    ui.col(|ui| {
        ui.add(
            egui::Label::new(RichText::new(text).monospace())
                .truncate()
                .selectable(true),
        );
    });
}

/// Whether `net` overlaps a network of one of this machine's interfaces that is up.
fn on_a_local_link(net: Ipv4Net) -> bool {
    interfaces::list().iter().filter(|i| i.up).any(|i| {
        i.ipv4.iter().any(|a| {
            let local = a.trunc();
            local.contains(&net.network()) || net.contains(&local.network())
        })
    })
}

impl IpToolsTab {
    fn refresh_interfaces_if_stale(&mut self) {
        if self
            .interfaces_read
            .is_none_or(|t| t.elapsed() > Duration::from_secs(5))
        {
            self.interfaces = interfaces::list();
            self.interfaces_read = Some(Instant::now());
        }
    }

    pub(super) fn interfaces_ui(&mut self, ui: &mut Ui) {
        self.refresh_interfaces_if_stale();
        let mut calculate: Option<String> = None;
        let mut sweep: Option<String> = None;
        for iface in &self.interfaces {
            ui.push_id(&iface.name, |ui| {
                egui::Frame::group(ui.style()).show(ui, |ui| {
                    ui.set_width(ui.available_width());
                    ui.horizontal_wrapped(|ui| {
                        ui.label(RichText::new(&iface.name).strong().monospace());
                        let (state, color) = if iface.up {
                            (t!("ip_tools.interfaces.up"), OK_COLOR)
                        } else {
                            (t!("ip_tools.interfaces.down"), ERROR_COLOR)
                        };
                        ui.label(RichText::new(state).color(color));
                        if let Some(mac) = &iface.mac {
                            ui.label(format!("MAC {mac}"));
                            ui.label(RichText::new(vendor_text(mac)).weak());
                        }
                        if let Some(mtu) = iface.mtu {
                            ui.label(format!("MTU {mtu}"));
                        }
                        if !iface.gateway.is_empty() {
                            let gw: Vec<String> =
                                iface.gateway.iter().map(ToString::to_string).collect();
                            ui.label(t!("ip_tools.interfaces.gateway", list = gw.join(", ")));
                        }
                    });
                    if iface.ipv4.is_empty() && iface.ipv6.is_empty() {
                        ui.label(RichText::new(t!("ip_tools.interfaces.no_addresses")).weak());
                    }
                    egui::Grid::new("addresses").num_columns(4).show(ui, |ui| {
                        for net in &iface.ipv4 {
                            ui.label(
                                RichText::new(format!("{}/{}", net.addr(), net.prefix_len()))
                                    .monospace(),
                            );
                            ui.label(
                                RichText::new(t!("ip_tools.interfaces.mask", mask = net.netmask()))
                                    .weak(),
                            );
                            if ui.button(t!("ip_tools.interfaces.calculate")).clicked() {
                                calculate = Some(format!("{}/{}", net.addr(), net.prefix_len()));
                            }
                            if ui
                                .button(t!("ip_tools.interfaces.sweep"))
                                .on_hover_text(t!("ip_tools.interfaces.sweep_hover"))
                                .clicked()
                            {
                                sweep = Some(net.trunc().to_string());
                            }
                            ui.end_row();
                        }
                        for net in &iface.ipv6 {
                            ui.label(
                                RichText::new(format!("{}/{}", net.addr(), net.prefix_len()))
                                    .monospace(),
                            );
                            ui.label(
                                RichText::new(
                                    crate::iptools::classify::V6Kind::of(net.addr()).label(),
                                )
                                .weak(),
                            );
                            if ui.button(t!("ip_tools.interfaces.calculate")).clicked() {
                                calculate = Some(format!("{}/{}", net.addr(), net.prefix_len()));
                            }
                            ui.label(RichText::new(t!("ip_tools.interfaces.v6_too_large")).weak());
                            ui.end_row();
                        }
                    });
                });
            });
        }
        if let Some(text) = calculate {
            self.open_in_calculator(text);
        }
        if let Some(range) = sweep {
            self.settings.sweep_range = range;
            self.sweep_range_error = None;
            self.settings.section = Section::Sweep;
        }
    }

    fn refresh_neighbours(&mut self) {
        let (table, errors) = neighbours::read_all();
        self.neighbours = table
            .into_iter()
            .map(|n| {
                let v = vendor_text(&n.mac);
                (n, v)
            })
            .collect();
        self.neighbour_errors = errors.iter().map(ToString::to_string).collect();
        self.neighbours_read = Some(Instant::now());
    }

    pub(super) fn neighbours_ui(&mut self, ui: &mut Ui) {
        if self.neighbours_read.is_none() {
            self.refresh_neighbours();
        }
        ui.horizontal(|ui| {
            if ui.button(t!("ip_tools.neighbours.refresh")).clicked() {
                self.refresh_neighbours();
            }
            ui.label(
                RichText::new(t!(
                    "ip_tools.neighbours.summary",
                    count = self.neighbours.len()
                ))
                .weak(),
            );
        });
        for e in &self.neighbour_errors {
            error_text(ui, e);
        }
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        TableBuilder::new(ui)
            .id_salt("neighbour-table")
            .striped(true)
            .column(Column::initial(220.0).at_least(100.0))
            .column(Column::initial(150.0))
            .column(Column::initial(240.0))
            .column(Column::initial(90.0))
            .column(Column::remainder().at_least(80.0))
            .header(20.0, |mut h| {
                for title in [
                    t!("ip_tools.neighbours.column.address"),
                    Cow::Borrowed("MAC"),
                    t!("ip_tools.neighbours.column.vendor"),
                    t!("ip_tools.neighbours.column.interface"),
                    t!("ip_tools.neighbours.column.state"),
                ] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, self.neighbours.len(), |mut row| {
                    let (n, vendor) = &self.neighbours[row.index()];
                    cell_text_ui(&mut row, n.ip.to_string());
                    cell_text_ui(&mut row, n.mac.to_string());
                    cell_text_ui(&mut row, vendor.clone());
                    cell_text_ui(&mut row, n.interface.clone());
                    cell_text_ui(&mut row, n.state.clone());
                });
            });
    }

    /// Checks the range and starts the sweep, or asks for confirmation first.
    pub fn request_sweep(&mut self, confirmed: bool) {
        self.sweep_range_error = None;
        let net = match parse_sweep_range(&self.settings.sweep_range) {
            Ok(n) => n,
            Err(e) => {
                self.sweep_range_error = Some(e);
                return;
            }
        };
        let ports = match parse_ports(&self.settings.sweep_ports) {
            Ok(p) => p,
            Err(e) => {
                self.sweep_range_error =
                    Some(t!("ip_tools.sweep.ports_error", error = e).into_owned());
                return;
            }
        };
        let mut doubts = Vec::new();
        match SweepSize::of(net) {
            SweepSize::Refused { addresses } => {
                self.sweep_range_error = Some(
                    t!("ip_tools.sweep.refused", net = net, addresses = addresses).into_owned(),
                );
                return;
            }
            SweepSize::NeedsConfirmation { addresses } => doubts
                .push(t!("ip_tools.sweep.large", net = net, addresses = addresses).into_owned()),
            SweepSize::Ok { .. } => {}
        }
        if !on_a_local_link(net) {
            doubts.push(t!("ip_tools.sweep.off_link", net = net).into_owned());
        }
        if doubts.is_empty() || confirmed {
            self.start_sweep(net, ports);
        } else {
            self.sweep_status = SweepStatus::Confirm(net, doubts.join(" "));
        }
    }

    fn start_sweep(&mut self, net: Ipv4Net, ports: Vec<u16>) {
        self.sweep = None;
        self.sweep_session = self.sweep_session.next();
        let mut options = SweepOptions::new(net);
        options.tcp_ports = ports;
        options.reverse_dns = self.settings.sweep_reverse_dns;
        self.map_selected = None;
        match SweepHandle::start(self.sweep_session, options, self.wake.clone()) {
            Ok(h) => {
                self.sweep = Some(h);
                self.sweep_status = SweepStatus::Running {
                    done: 0,
                    total: net.hosts().count(),
                    phase: SweepPhase::Probing,
                    started: Instant::now(),
                };
            }
            Err(e) => {
                self.sweep_status = SweepStatus::Failed(
                    t!("ip_tools.sweep.could_not_start", error = e).into_owned(),
                );
            }
        }
    }

    pub fn cancel_sweep(&mut self) {
        if let Some(s) = &self.sweep {
            s.cancel();
        }
    }

    pub(super) fn sweep_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("ip_tools.sweep.intro")).weak());
        let running = matches!(self.sweep_status, SweepStatus::Running { .. });
        let mut start = false;
        ui.horizontal(|ui| {
            ui.add_enabled_ui(!running, |ui| {
                if labelled_hint(
                    ui,
                    &t!("ip_tools.sweep.range"),
                    &mut self.settings.sweep_range,
                    170.0,
                    "192.168.1.0/24",
                )
                .changed()
                {
                    self.sweep_range_error = None;
                }
                labelled_hint(
                    ui,
                    &t!("ip_tools.sweep.ports"),
                    &mut self.settings.sweep_ports,
                    120.0,
                    &t!("ip_tools.sweep.ports_hint"),
                );
                ui.checkbox(
                    &mut self.settings.sweep_reverse_dns,
                    t!("ip_tools.sweep.reverse_dns"),
                );
            });
            if running {
                if ui.button(t!("ip_tools.sweep.cancel")).clicked() {
                    self.cancel_sweep();
                }
            } else if ui.button(t!("ip_tools.sweep.start")).clicked() {
                start = true;
            }
        });
        if start {
            self.request_sweep(false);
        }
        if let Some(e) = &self.sweep_range_error {
            error_text(ui, &t!("ip_tools.sweep.range_error", error = e));
        }
        match self.sweep_status.clone() {
            SweepStatus::Confirm(net, why) => {
                ui.label(RichText::new(why).color(crate::gui::widgets::WAIT_COLOR));
                ui.horizontal(|ui| {
                    if ui.button(t!("ip_tools.sweep.anyway", net = net)).clicked() {
                        self.request_sweep(true);
                    }
                    if ui.button(t!("ip_tools.sweep.dont")).clicked() {
                        self.sweep_status = SweepStatus::Idle;
                    }
                });
            }
            SweepStatus::Running {
                done,
                total,
                phase,
                started,
            } => {
                let fraction = if total == 0 {
                    0.0
                } else {
                    done as f32 / total as f32
                };
                ui.add(
                    egui::ProgressBar::new(fraction)
                        .desired_width(420.0)
                        .text(format!(
                            "{}: {done}/{total} ({:.1} s)",
                            phase.text(),
                            started.elapsed().as_secs_f32()
                        )),
                );
                ui.ctx().request_repaint_after(Duration::from_millis(100));
            }
            SweepStatus::Failed(m) => error_text(ui, &t!("ip_tools.sweep.failed", message = m)),
            SweepStatus::Idle | SweepStatus::Done => {}
        }
        let Some(report) = self.sweep_report.clone() else {
            return;
        };
        ui.add_space(6.0);
        let answered = report.hosts.len();
        ui.label(
            RichText::new(if report.cancelled {
                t!(
                    "ip_tools.sweep.summary_cancelled",
                    network = report.network,
                    answered = answered,
                    probed = report.probed,
                    seconds = report.elapsed_ms as f64 / 1000.0 : {:.1}
                )
            } else {
                t!(
                    "ip_tools.sweep.summary",
                    network = report.network,
                    answered = answered,
                    probed = report.probed,
                    seconds = report.elapsed_ms as f64 / 1000.0 : {:.1}
                )
            })
            .strong(),
        );
        if let Some(e) = &report.neighbour_error {
            error_text(ui, &t!("ip_tools.sweep.neighbour_error", error = e));
        }
        self.map_ui(ui, &report);
        ui.add_space(6.0);
        response_plot_ui(ui, &report);
        sweep_table_ui(ui, &report);
    }

    fn map_ui(&mut self, ui: &mut Ui, report: &SweepReport) {
        let net = report.network;
        let first = u32::from(net.network());
        let count = 1u32 << (32 - u32::from(net.prefix_len()));
        let cols = count.min(256);
        let rows = count.div_ceil(cols);
        let by_ip: HashMap<Ipv4Addr, &SweepHost> = report.hosts.iter().map(|h| (h.ip, h)).collect();
        let cell_w = (ui.available_width() / cols as f32).clamp(2.0, 40.0);
        let cell_h = match rows {
            0..=4 => 28.0,
            5..=32 => 8.0,
            _ => 3.0,
        };
        ui.horizontal(|ui| {
            for (color, text) in [
                (OWN_COLOR, t!("ip_tools.sweep.legend.own")),
                (GATEWAY_COLOR, t!("ip_tools.sweep.legend.gateway")),
                (ANSWERED_COLOR, t!("ip_tools.sweep.legend.answered")),
                (CACHED_COLOR, t!("ip_tools.sweep.legend.cached")),
                (SILENT_COLOR, t!("ip_tools.sweep.legend.silent")),
                (NOT_HOST_COLOR, t!("ip_tools.sweep.legend.not_host")),
            ] {
                ui.label(RichText::new("■").color(color));
                ui.label(text);
            }
        });
        let (response, painter) = ui.allocate_painter(
            vec2(cell_w * cols as f32, cell_h * rows as f32),
            Sense::click(),
        );
        response.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::Image, true, t!("ip_tools.sweep.map"))
        });
        let origin = response.rect.min;
        let rect_of = |i: u32| {
            let (r, c) = (i / cols, i % cols);
            egui::Rect::from_min_size(
                origin + vec2(c as f32 * cell_w, r as f32 * cell_h),
                vec2((cell_w - 1.0).max(1.0), (cell_h - 1.0).max(1.0)),
            )
        };
        painter.rect_filled(response.rect, 0.0, SILENT_COLOR);
        let color_of = |ip: Ipv4Addr| -> Option<Color32> {
            if report.own.contains(&ip) {
                Some(OWN_COLOR)
            } else if report.gateways.contains(&ip) {
                Some(GATEWAY_COLOR)
            } else {
                by_ip.get(&ip).map(|h| {
                    if h.found_by == [FoundBy::NeighbourUnconfirmed] {
                        CACHED_COLOR
                    } else {
                        ANSWERED_COLOR
                    }
                })
            }
        };
        // Only cells that differ from "no answer" are drawn one by one.
        let mut special: Vec<Ipv4Addr> = report.own.clone();
        special.extend(&report.gateways);
        special.extend(report.hosts.iter().map(|h| h.ip));
        if net.prefix_len() < 31 {
            for rect in [rect_of(0), rect_of(count - 1)] {
                painter.rect_filled(rect, 0.0, NOT_HOST_COLOR);
                if rect.width() >= 6.0 && rect.height() >= 6.0 {
                    painter.line_segment(
                        [rect.left_bottom(), rect.right_top()],
                        egui::Stroke::new(1.5, SILENT_COLOR),
                    );
                }
            }
        }
        for ip in special {
            if net.contains(&ip)
                && let Some(c) = color_of(ip)
            {
                painter.rect_filled(rect_of(u32::from(ip) - first), 1.0, c);
            }
        }
        if let Some(sel) = self.map_selected
            && net.contains(&sel)
        {
            painter.rect_stroke(
                rect_of(u32::from(sel) - first).expand(1.0),
                0.0,
                egui::Stroke::new(2.0, Color32::WHITE),
                egui::StrokeKind::Outside,
            );
        }
        let index_at = |pos: egui::Pos2| -> Option<u32> {
            let rel = pos - origin;
            if rel.x < 0.0 || rel.y < 0.0 {
                return None;
            }
            let (c, r) = ((rel.x / cell_w) as u32, (rel.y / cell_h) as u32);
            let i = r * cols + c;
            (c < cols && i < count).then_some(i)
        };
        let hovered = response.hover_pos().and_then(index_at);
        let clicked = response
            .clicked()
            .then(|| response.interact_pointer_pos().and_then(index_at))
            .flatten();
        if let Some(i) = hovered {
            let ip = Ipv4Addr::from(first + i);
            response.on_hover_ui_at_pointer(|ui| {
                host_details_ui(ui, ip, report, by_ip.get(&ip).copied());
            });
        }
        if let Some(i) = clicked {
            self.map_selected = Some(Ipv4Addr::from(first + i));
        }
        if let Some(sel) = self.map_selected {
            ui.horizontal(|ui| {
                ui.label(RichText::new(t!("ip_tools.sweep.selected", ip = sel)).strong());
                if let Some(h) = by_ip.get(&sel) {
                    ui.label(h.found_by_text());
                }
                if ui.button(t!("ip_tools.sweep.open_in_tcp_client")).clicked() {
                    self.open_request = Some(IpAddr::V4(sel));
                }
                if ui.button(t!("ip_tools.sweep.calculate")).clicked() {
                    self.open_in_calculator(format!("{sel}/{}", net.prefix_len()));
                }
            });
        }
    }
}

fn host_details_ui(ui: &mut Ui, ip: Ipv4Addr, report: &SweepReport, host: Option<&SweepHost>) {
    ui.set_min_width(320.0);
    ui.strong(ip.to_string());
    if report.own.contains(&ip) {
        ui.label(t!("ip_tools.sweep.host.own"));
    }
    if report.gateways.contains(&ip) {
        ui.label(t!("ip_tools.sweep.host.gateway"));
    }
    match host {
        Some(h) => {
            if let Some(mac) = &h.mac {
                ui.label(format!("MAC {mac} ({})", vendor_text(mac)));
            }
            if let Some(name) = &h.name {
                ui.label(t!("ip_tools.sweep.host.name", name = name));
            }
            ui.label(t!("ip_tools.sweep.host.found_by", how = h.found_by_text()));
            if let Some(rtt) = h.rtt_ms {
                ui.label(t!("ip_tools.sweep.host.response_time", ms = rtt : {:.1}));
            }
        }
        None if !report.own.contains(&ip) => {
            ui.label(t!("ip_tools.sweep.host.no_answer"));
        }
        None => {}
    }
}

/// Each answering host's response time as a bar, in address order, so a slow or distant
/// device stands out; hosts found without a timed answer (the neighbour table) have no bar.
fn response_plot_ui(ui: &mut Ui, report: &SweepReport) {
    let bars: Vec<egui_plot::Bar> = report
        .hosts
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            h.rtt_ms
                .map(|ms| egui_plot::Bar::new(i as f64, ms).name(h.ip.to_string()))
        })
        .collect();
    if bars.is_empty() {
        return;
    }
    let names: Vec<String> = report.hosts.iter().map(|h| h.ip.to_string()).collect();
    ui.label(RichText::new(t!("ip_tools.sweep.plot.title")).strong());
    egui_plot::Plot::new("sweep-response-times")
        .height(140.0)
        .include_y(0.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .y_axis_label("ms")
        .x_axis_formatter(move |mark, _| {
            let i = mark.value.round();
            if (mark.value - i).abs() > 1e-6 || i < 0.0 {
                return String::new();
            }
            names.get(i as usize).cloned().unwrap_or_default()
        })
        .show(ui, |plot_ui| {
            plot_ui.bar_chart(
                egui_plot::BarChart::new(t!("ip_tools.sweep.plot.series"), bars).width(0.6),
            );
        });
    ui.add_space(6.0);
}

fn sweep_table_ui(ui: &mut Ui, report: &SweepReport) {
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    TableBuilder::new(ui)
        .id_salt("sweep-table")
        .striped(true)
        .max_scroll_height(400.0)
        .column(Column::initial(120.0).at_least(100.0))
        .column(Column::initial(135.0))
        .column(Column::initial(190.0))
        .column(Column::initial(130.0))
        .column(Column::initial(70.0))
        .column(Column::remainder().at_least(120.0))
        .header(20.0, |mut h| {
            for title in [
                t!("ip_tools.sweep.column.address"),
                Cow::Borrowed("MAC"),
                t!("ip_tools.sweep.column.vendor"),
                t!("ip_tools.sweep.column.name"),
                t!("ip_tools.sweep.column.time"),
                t!("ip_tools.sweep.column.found_by"),
            ] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_h, report.hosts.len(), |mut row| {
                let h = &report.hosts[row.index()];
                cell_text_ui(&mut row, h.ip.to_string());
                cell_text_ui(
                    &mut row,
                    h.mac.map_or_else(|| "—".to_owned(), |m| m.to_string()),
                );
                cell_text_ui(
                    &mut row,
                    h.mac.as_ref().map_or_else(String::new, vendor_text),
                );
                cell_text_ui(&mut row, h.name.clone().unwrap_or_default());
                cell_text_ui(
                    &mut row,
                    h.rtt_ms.map_or_else(String::new, |r| format!("{r:.1} ms")),
                );
                cell_text_ui(&mut row, h.found_by_text());
            });
        });
}

#[cfg(test)]
mod tests {
    use crate::iptools::ports::parse_ports;

    #[test]
    fn ports_are_parsed_deduplicated_and_bounded() {
        assert_eq!(parse_ports("22, 80 502,80"), Ok(vec![22, 80, 502]));
        assert_eq!(parse_ports("  "), Ok(vec![]));
        assert!(parse_ports("0").unwrap_err().contains("out of range"));
        assert!(parse_ports("80, http").unwrap_err().contains("not a port"));
        let seventeen: Vec<String> = (1..=17).map(|p| p.to_string()).collect();
        assert!(
            parse_ports(&seventeen.join(","))
                .unwrap_err()
                .contains("At most 16")
        );
    }
}
