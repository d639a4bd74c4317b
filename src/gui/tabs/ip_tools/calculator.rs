//! The calculator sections: subnet fields and the binary view, same subnet, split and supernet.

use std::borrow::Cow;

use egui::{Color32, FontId, RichText, Sense, Ui, vec2};
use egui_extras::{Column, TableBuilder};
use rust_i18n::t;

use super::{HOST_BITS, IpToolsTab, NETWORK_BITS, SplitMode};
use crate::gui::widgets::error_text;
use crate::gui::widgets::labelled_hint;
use crate::iptools::subnet::{
    BinaryView, SubnetError, SubnetInfo, V4Info, V6Info, nets_as_table, parse_net, parse_net_list,
    same_subnet, split_by_count, split_by_prefix, supernet,
};

/// One row of `label: value` in a two-column grid.
fn field_ui(ui: &mut Ui, name: &str, value: impl Into<String>) {
    ui.label(RichText::new(name).weak());
    ui.label(RichText::new(value.into()).monospace());
    ui.end_row();
}

/// One row of bits, one cell per bit: network bits on blue, host bits on orange, a white
/// marker at the prefix boundary. Screen readers and tests read it as the grouped bit text.
/// `scale` shrinks the cells (down to 0.6) so a row fits a narrow window.
fn bits_row_ui(ui: &mut Ui, view: &BinaryView, bits: &[bool], scale: f32) {
    // IPv4: 32 cells on one line; IPv6: two lines of 64, so it fits the window.
    let v4 = view.group_bits == 8;
    let (cell_w, cell_h, gap, group_gap, font) = if v4 {
        (17.0, 24.0, 2.0, 10.0, 15.0)
    } else {
        (9.0, 16.0, 1.0, 6.0, 10.0)
    };
    let (cell_w, cell_h, gap, group_gap, font) = (
        cell_w * scale,
        cell_h * scale,
        gap * scale,
        group_gap * scale,
        font * scale,
    );
    let per_line = if v4 { 32 } else { 64 };
    let lines = bits.len().div_ceil(per_line);
    let line_gap = 3.0;
    let groups_per_line = per_line / view.group_bits;
    let width = per_line as f32 * (cell_w + gap) + (groups_per_line - 1) as f32 * group_gap;
    let height = lines as f32 * (cell_h + line_gap) - line_gap;
    let (response, painter) = ui.allocate_painter(vec2(width, height), Sense::hover());
    let text = view.text(bits);
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &text));
    let origin = response.rect.min;
    let pos_of = |i: usize| {
        let col = i % per_line;
        let x = col as f32 * (cell_w + gap) + (col / view.group_bits) as f32 * group_gap;
        let y = (i / per_line) as f32 * (cell_h + line_gap);
        origin + vec2(x, y)
    };
    let font_id = FontId::monospace(font);
    for (i, bit) in bits.iter().enumerate() {
        let fill = if i < view.prefix as usize {
            NETWORK_BITS
        } else {
            HOST_BITS
        };
        let rect = egui::Rect::from_min_size(pos_of(i), vec2(cell_w, cell_h));
        painter.rect_filled(rect, 2.0, fill);
        painter.text(
            rect.center(),
            egui::Align2::CENTER_CENTER,
            if *bit { "1" } else { "0" },
            font_id.clone(),
            Color32::WHITE,
        );
    }
    // A white line where the network part ends.
    let boundary = view.prefix as usize;
    if boundary > 0 && boundary < bits.len() {
        let at = pos_of(boundary);
        let shift = if boundary.is_multiple_of(view.group_bits) {
            group_gap / 2.0
        } else {
            0.0
        };
        painter.vline(
            at.x - gap / 2.0 - shift,
            egui::Rangef::new(at.y - 2.0, at.y + cell_h + 2.0),
            egui::Stroke::new(2.0, Color32::WHITE),
        );
    }
}

/// The heading over a result that no longer matches the input: the input it was computed
/// from, in canonical form (`192.168.1.12 255.255.255.0` shows as `192.168.1.12/24`).
fn stale_heading(info: &SubnetInfo) -> Cow<'static, str> {
    t!(
        "ip_tools.calc.last_valid",
        address = info.address(),
        prefix = info.prefix()
    )
}

impl IpToolsTab {
    /// Parses the calculator input; a bad input keeps the last result and says what is wrong.
    pub(super) fn recalculate(&mut self) {
        match SubnetInfo::parse(&self.settings.calc_input) {
            Ok(info) => {
                self.calc = Some(info);
                self.calc_error = None;
            }
            Err(e) => self.calc_error = Some(e.to_string()),
        }
    }

    pub(super) fn calculator_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("ip_tools.calc.intro")).weak());
        ui.horizontal(|ui| {
            if labelled_hint(
                ui,
                &t!("ip_tools.calc.input"),
                &mut self.settings.calc_input,
                320.0,
                &t!("hint.calc_input"),
            )
            .changed()
            {
                self.recalculate();
            }
        });
        if let Some(e) = &self.calc_error {
            error_text(ui, &t!("ip_tools.calc.input_error", error = e));
        }
        let Some(info) = self.calc.clone() else {
            return;
        };
        if self.calc_error.is_some() {
            // The result belongs to an earlier input: say which one and grey it (disabled, so
            // the prefix slider cannot overwrite what the user is typing either).
            ui.add_space(4.0);
            ui.label(RichText::new(stale_heading(&info)).strong());
            ui.add_enabled_ui(false, |ui| self.result_ui(ui, &info));
        } else {
            self.result_ui(ui, &info);
        }
    }

    /// The prefix slider and every field of `info`.
    fn result_ui(&mut self, ui: &mut Ui, info: &SubnetInfo) {
        // The prefix slider moves the network/host boundary live.
        let max = if matches!(info, SubnetInfo::V4(_)) {
            32
        } else {
            128
        };
        let mut prefix = info.prefix();
        ui.horizontal(|ui| {
            ui.spacing_mut().slider_width = 360.0;
            let label = ui.label(t!("ip_tools.calc.prefix_length"));
            if ui
                .add(egui::Slider::new(&mut prefix, 0..=max).prefix("/"))
                .labelled_by(label.id)
                .changed()
            {
                self.settings.calc_input = format!("{}/{prefix}", info.address());
                self.recalculate();
            }
        });
        let Some(info) = self.calc.clone() else {
            return;
        };
        ui.add_space(6.0);
        match &info {
            SubnetInfo::V4(v4) => v4_fields_ui(ui, v4),
            SubnetInfo::V6(v6) => v6_fields_ui(ui, v6),
        }
        ui.add_space(8.0);
        ui.strong(t!("ip_tools.calc.binary_heading"));
        binary_ui(ui, &info.binary());
        ui.add_space(8.0);
        match &info {
            SubnetInfo::V4(v4) => {
                ui.strong(t!("ip_tools.calc.classification"));
                ui.label(v4.class.describe());
                classes_ui(ui, v4.class);
                let s = v4.special;
                let block = if s.reference.is_empty() {
                    String::new()
                } else {
                    format!(" ({}, {})", s.block, s.reference)
                };
                ui.label(format!("{}{block}: {}", s.label, s.meaning));
            }
            SubnetInfo::V6(v6) => {
                ui.strong(t!("ip_tools.calc.type"));
                ui.label(format!("{}: {}", v6.kind.label(), v6.kind.meaning()));
            }
        }
    }

    pub(super) fn recompute_same(&mut self) {
        let s = &self.settings;
        self.same =
            Some(same_subnet(&s.same_a, &s.same_b, &s.same_mask).map_err(|e| e.to_string()));
    }

    pub(super) fn same_subnet_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("ip_tools.same.intro")).weak());
        let mut changed = false;
        ui.horizontal(|ui| {
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.same.first"),
                &mut self.settings.same_a,
                150.0,
                "192.168.1.10",
            )
            .changed();
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.same.second"),
                &mut self.settings.same_b,
                150.0,
                "192.168.1.200",
            )
            .changed();
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.same.mask"),
                &mut self.settings.same_mask,
                130.0,
                &t!("ip_tools.same.mask_hint"),
            )
            .changed();
        });
        if changed {
            self.recompute_same();
        }
        match &self.same {
            Some(Err(e)) => error_text(ui, e),
            Some(Ok(r)) => {
                egui::Grid::new("same-subnet-grid")
                    .num_columns(2)
                    .show(ui, |ui| {
                        field_ui(
                            ui,
                            &t!("ip_tools.same.first_and_mask"),
                            format!("{} AND {} = {}", r.a, r.mask_text(), r.a_network),
                        );
                        field_ui(
                            ui,
                            &t!("ip_tools.same.second_and_mask"),
                            format!("{} AND {} = {}", r.b, r.mask_text(), r.b_network),
                        );
                    });
                let (va, vb) = (
                    BinaryView::new(r.a, r.prefix),
                    BinaryView::new(r.b, r.prefix),
                );
                ui.add_space(4.0);
                let scale = bits_scale(ui, &va);
                egui::Grid::new("same-subnet-bits")
                    .num_columns(3)
                    .spacing([10.0, 6.0])
                    .show(ui, |ui| {
                        let and_mask = t!("ip_tools.calc.binary.and_mask");
                        let network = t!("ip_tools.calc.binary.network");
                        for (name, is_mask, view, bits, ip) in [
                            (t!("ip_tools.same.row_first"), false, &va, &va.address, r.a),
                            (and_mask.clone(), true, &va, &va.mask, va.network_ip),
                            (network.clone(), false, &va, &va.network, r.a_network),
                            (t!("ip_tools.same.row_second"), false, &vb, &vb.address, r.b),
                            (
                                Cow::Owned(format!("{and_mask} ")),
                                true,
                                &vb,
                                &vb.mask,
                                vb.network_ip,
                            ),
                            (
                                Cow::Owned(format!("{network} ")),
                                false,
                                &vb,
                                &vb.network,
                                r.b_network,
                            ),
                        ] {
                            ui.label(name);
                            bits_row_ui(ui, view, bits, scale);
                            if is_mask {
                                ui.label(RichText::new(r.mask_text()).monospace());
                            } else {
                                ui.label(RichText::new(ip.to_string()).monospace());
                            }
                            ui.end_row();
                        }
                    });
                let (answer, color) = if r.same {
                    (
                        t!("ip_tools.same.answer_same"),
                        crate::gui::widgets::OK_COLOR,
                    )
                } else {
                    (
                        t!("ip_tools.same.answer_different"),
                        crate::gui::widgets::WAIT_COLOR,
                    )
                };
                ui.label(RichText::new(answer).strong().color(color));
                ui.label(r.meaning());
            }
            None => {}
        }
    }

    pub(super) fn recompute_split(&mut self) {
        let s = &self.settings;
        let result = parse_net(&s.split_network).and_then(|net| match s.split_mode {
            SplitMode::Count => {
                let n = s.split_value.trim().parse::<u64>().unwrap_or(0);
                split_by_count(net, n)
            }
            SplitMode::Prefix => {
                let text = s.split_value.trim().trim_start_matches('/');
                match text.parse::<u8>() {
                    Ok(p) => split_by_prefix(net, p),
                    Err(_) => Err(SubnetError::BadPrefix {
                        text: text.to_owned(),
                        max: net.max_prefix_len(),
                    }),
                }
            }
        });
        self.split = Some(result.map_err(|e| e.to_string()));
    }

    pub(super) fn recompute_supernet(&mut self) {
        let result = parse_net_list(&self.settings.supernet_input)
            .and_then(|nets| supernet(&nets).map(|s| (nets, s)));
        self.supernet = Some(result.map_err(|e| e.to_string()));
    }

    pub(super) fn split_supernet_ui(&mut self, ui: &mut Ui) {
        ui.strong(t!("ip_tools.split.heading"));
        let mut changed = false;
        ui.horizontal(|ui| {
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.split.network"),
                &mut self.settings.split_network,
                160.0,
                &t!("hint.split_network"),
            )
            .changed();
            changed |= ui
                .radio_value(
                    &mut self.settings.split_mode,
                    SplitMode::Count,
                    t!("ip_tools.split.by_count"),
                )
                .changed();
            changed |= ui
                .radio_value(
                    &mut self.settings.split_mode,
                    SplitMode::Prefix,
                    t!("ip_tools.split.by_prefix"),
                )
                .changed();
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.split.value"),
                &mut self.settings.split_value,
                60.0,
                &t!("ip_tools.split.value_hint"),
            )
            .changed();
        });
        if changed {
            self.recompute_split();
        }
        match &self.split {
            Some(Err(e)) => error_text(ui, e),
            Some(Ok(split)) => {
                let total = split
                    .total
                    .map_or_else(|| "2^128".to_owned(), |t| t.to_string());
                ui.horizontal(|ui| {
                    ui.label(if split.truncated() {
                        t!(
                            "ip_tools.split.result_truncated",
                            parent = split.parent,
                            total = total,
                            prefix = split.new_prefix,
                            listed = split.subnets.len()
                        )
                    } else {
                        t!(
                            "ip_tools.split.result",
                            parent = split.parent,
                            total = total,
                            prefix = split.new_prefix
                        )
                    });
                    if ui.button(t!("ip_tools.split.copy")).clicked() {
                        ui.ctx().copy_text(nets_as_table(&split.subnets));
                    }
                });
                nets_table_ui(ui, "split-table", &split.subnets);
            }
            None => {}
        }
        ui.add_space(12.0);
        ui.separator();
        ui.strong(t!("ip_tools.supernet.heading"));
        ui.horizontal(|ui| {
            if labelled_hint(
                ui,
                &t!("ip_tools.supernet.networks"),
                &mut self.settings.supernet_input,
                360.0,
                &t!("hint.supernet"),
            )
            .changed()
            {
                self.recompute_supernet();
            }
        });
        match &self.supernet {
            Some(Err(e)) => error_text(ui, e),
            Some(Ok((nets, s))) => {
                ui.horizontal(|ui| {
                    ui.label(
                        RichText::new(t!(
                            "ip_tools.supernet.result",
                            count = nets.len(),
                            supernet = s
                        ))
                        .strong(),
                    );
                    if ui.button(t!("ip_tools.supernet.copy")).clicked() {
                        ui.ctx().copy_text(nets_as_table(&[*s]));
                    }
                });
                ui.label(
                    RichText::new(t!("ip_tools.supernet.explain", prefix = s.prefix_len())).weak(),
                );
            }
            None => {}
        }
    }
}

/// Every class, with the current one highlighted: how the leading bits decide it.
fn classes_ui(ui: &mut Ui, current: crate::iptools::classify::Ipv4Class) {
    use crate::iptools::classify::Ipv4Class;
    ui.collapsing(t!("ip_tools.calc.classes.title"), |ui| {
        egui::Grid::new("classes-grid")
            .num_columns(4)
            .striped(true)
            .show(ui, |ui| {
                for title in [
                    t!("ip_tools.calc.classes.class"),
                    t!("ip_tools.calc.classes.leading_bits"),
                    t!("ip_tools.calc.classes.range"),
                    t!("ip_tools.calc.classes.hosts_per_network"),
                ] {
                    ui.strong(title);
                }
                ui.end_row();
                for class in [
                    Ipv4Class::A,
                    Ipv4Class::B,
                    Ipv4Class::C,
                    Ipv4Class::D,
                    Ipv4Class::E,
                ] {
                    let text = |t: String| {
                        let r = RichText::new(t);
                        if class == current { r.strong() } else { r }
                    };
                    ui.label(text(
                        t!("ip_tools.calc.classes.name", letter = class.letter()).into_owned(),
                    ));
                    ui.label(text(class.leading_bits().to_owned()).monospace());
                    ui.label(text(class.range().to_owned()));
                    ui.label(text(class.hosts_per_network()));
                    ui.end_row();
                }
            });
    });
}

fn v4_fields_ui(ui: &mut Ui, i: &V4Info) {
    egui::Grid::new("calc-v4-grid")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            field_ui(
                ui,
                &t!("ip_tools.calc.field.network"),
                format!("{}/{}", i.network, i.prefix),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.broadcast"),
                i.broadcast.map_or_else(
                    || t!("ip_tools.calc.field.no_broadcast").into_owned(),
                    |b| b.to_string(),
                ),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.netmask"),
                i.netmask.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.wildcard"),
                i.wildcard.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.prefix"),
                format!("/{}", i.prefix),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.first_host"),
                i.first_host.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.last_host"),
                i.last_host.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.hosts"),
                t!(
                    "ip_tools.calc.field.host_count",
                    usable = i.host_count,
                    addresses = i.address_count
                ),
            );
            field_ui(ui, &t!("ip_tools.calc.field.why"), i.host_note.clone());
            field_ui(
                ui,
                &t!("ip_tools.calc.field.as_integer"),
                i.as_integer.to_string(),
            );
            field_ui(ui, &t!("ip_tools.calc.field.as_hex"), i.as_hex.clone());
        });
}

fn v6_fields_ui(ui: &mut Ui, i: &V6Info) {
    egui::Grid::new("calc-v6-grid")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            field_ui(
                ui,
                &t!("ip_tools.calc.field.network"),
                format!("{}/{}", i.network, i.prefix),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.last_address"),
                i.last.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.netmask"),
                i.netmask.to_string(),
            );
            field_ui(
                ui,
                &t!("ip_tools.calc.field.prefix"),
                format!("/{}", i.prefix),
            );
            field_ui(ui, &t!("ip_tools.calc.field.addresses"), i.count_text());
            field_ui(ui, &t!("ip_tools.calc.field.expanded"), i.expanded.clone());
            field_ui(
                ui,
                &t!("ip_tools.calc.field.compressed"),
                i.compressed.clone(),
            );
            let n = u128::from(i.address);
            field_ui(ui, &t!("ip_tools.calc.field.as_integer"), n.to_string());
            field_ui(ui, &t!("ip_tools.calc.field.as_hex"), format!("0x{n:032X}"));
        });
}

/// How much to shrink rows of bits so they fit beside their labels and results: the rows at
/// full size (IPv4: 32 cells; IPv6: 64 per line) against the room left; a narrow window gets
/// smaller cells, not a cut row.
fn bits_scale(ui: &Ui, view: &BinaryView) -> f32 {
    let full = if view.group_bits == 8 {
        32.0 * 19.0 + 3.0 * 10.0
    } else {
        64.0 * 10.0 + 3.0 * 6.0
    };
    let room = ui.available_width() - 230.0;
    (room / full).clamp(0.6, 1.0)
}

pub(super) fn binary_ui(ui: &mut Ui, view: &BinaryView) {
    let mask_ip = match view.network_ip {
        std::net::IpAddr::V4(_) => std::net::IpAddr::V4(
            ipnet::Ipv4Net::new(std::net::Ipv4Addr::UNSPECIFIED, view.prefix)
                .map_or(std::net::Ipv4Addr::UNSPECIFIED, |n| n.netmask()),
        ),
        std::net::IpAddr::V6(_) => std::net::IpAddr::V6(
            ipnet::Ipv6Net::new(std::net::Ipv6Addr::UNSPECIFIED, view.prefix)
                .map_or(std::net::Ipv6Addr::UNSPECIFIED, |n| n.netmask()),
        ),
    };
    let scale = bits_scale(ui, view);
    egui::Grid::new("binary-grid")
        .num_columns(3)
        .spacing([10.0, 6.0])
        .show(ui, |ui| {
            ui.label(t!("ip_tools.calc.binary.address"));
            bits_row_ui(ui, view, &view.address, scale);
            ui.label(RichText::new(t!("ip_tools.calc.binary.typed")).weak());
            ui.end_row();
            ui.label(t!("ip_tools.calc.binary.and_mask"));
            bits_row_ui(ui, view, &view.mask, scale);
            ui.label(RichText::new(format!("= {mask_ip}")).monospace());
            ui.end_row();
            ui.label(t!("ip_tools.calc.binary.network"));
            bits_row_ui(ui, view, &view.network, scale);
            ui.label(
                RichText::new(format!("→ {}", view.network_ip))
                    .monospace()
                    .strong(),
            );
            ui.end_row();
        });
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(t!("ip_tools.calc.binary.network_bits"))
                .background_color(NETWORK_BITS)
                .color(Color32::WHITE),
        );
        ui.label(
            RichText::new(t!("ip_tools.calc.binary.host_bits"))
                .background_color(HOST_BITS)
                .color(Color32::WHITE),
        );
        ui.label(RichText::new(t!("ip_tools.calc.binary.explain", prefix = view.prefix)).weak());
    });
}

fn nets_table_ui(ui: &mut Ui, id: &str, nets: &[ipnet::IpNet]) {
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    TableBuilder::new(ui)
        .id_salt(id)
        .striped(true)
        .max_scroll_height(300.0)
        .column(Column::initial(200.0).at_least(120.0))
        .column(Column::initial(160.0))
        .column(Column::initial(160.0))
        .column(Column::remainder().at_least(80.0))
        .header(20.0, |mut h| {
            for title in [
                t!("ip_tools.split.column.subnet"),
                t!("ip_tools.split.column.first"),
                t!("ip_tools.split.column.last"),
                t!("ip_tools.split.column.addresses"),
            ] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_h, nets.len(), |mut row| {
                let n = nets[row.index()];
                let count = 1u128
                    .checked_shl(u32::from(n.max_prefix_len() - n.prefix_len()))
                    .map_or_else(|| "2^128".to_owned(), |c| c.to_string());
                for text in [
                    n.to_string(),
                    n.network().to_string(),
                    n.broadcast().to_string(),
                    count,
                ] {
                    row.col(|ui| {
                        ui.label(RichText::new(text).monospace());
                    });
                }
            });
        });
}
