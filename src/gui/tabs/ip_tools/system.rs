//! The machine sections: local sockets, DNS lookups and port facts.

use std::time::Instant;

use egui::{RichText, Ui};
use egui_extras::{Column, TableBuilder};
use rust_i18n::t;

use super::IpToolsTab;
use crate::gui::widgets::labelled_hint;
use crate::gui::widgets::{ERROR_COLOR, OK_COLOR, error_text};
use crate::iptools::dns::{DnsAnswer, DnsLookup, DnsQuery};
use crate::iptools::ports::{PortRange, check_bind, services};
use crate::iptools::sockets::read_sockets;
use crate::net::{NetError, parse_port};

fn bind_line_ui(ui: &mut Ui, what: &str, result: &Result<(), NetError>) {
    match result {
        Ok(()) => {
            ui.label(RichText::new(t!("ip_tools.ports.free", what = what)).color(OK_COLOR));
        }
        Err(e) => {
            ui.label(
                RichText::new(t!(
                    "ip_tools.ports.busy",
                    what = what,
                    error = e,
                    explanation = e.explanation()
                ))
                .color(ERROR_COLOR),
            );
        }
    }
}

impl IpToolsTab {
    fn refresh_sockets(&mut self) {
        match read_sockets() {
            Ok(s) => {
                self.sockets = s;
                self.sockets_error = None;
            }
            Err(e) => self.sockets_error = Some(e.to_string()),
        }
        self.sockets_read = Some(Instant::now());
    }

    pub(super) fn sockets_ui(&mut self, ui: &mut Ui) {
        if self.sockets_read.is_none() {
            self.refresh_sockets();
        }
        ui.horizontal(|ui| {
            labelled_hint(
                ui,
                &t!("ip_tools.sockets.filter"),
                &mut self.settings.sockets_filter,
                200.0,
                &t!("ip_tools.sockets.filter_hint"),
            );
            if ui.button(t!("ip_tools.sockets.refresh")).clicked() {
                self.refresh_sockets();
            }
        });
        if let Some(e) = &self.sockets_error {
            error_text(ui, e);
        }
        let filter = self.settings.sockets_filter.clone();
        let rows: Vec<usize> = (0..self.sockets.len())
            .filter(|&i| self.sockets[i].matches(&filter))
            .collect();
        ui.label(
            RichText::new(t!(
                "ip_tools.sockets.summary",
                shown = rows.len(),
                total = self.sockets.len()
            ))
            .weak(),
        );
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        TableBuilder::new(ui)
            .id_salt("sockets-table")
            .striped(true)
            .max_scroll_height(f32::INFINITY)
            .column(Column::initial(60.0))
            .column(Column::initial(230.0).at_least(100.0))
            .column(Column::initial(230.0).at_least(100.0))
            .column(Column::initial(110.0))
            .column(Column::remainder().at_least(80.0))
            .header(20.0, |mut h| {
                for title in [
                    t!("ip_tools.sockets.column.proto"),
                    t!("ip_tools.sockets.column.local"),
                    t!("ip_tools.sockets.column.remote"),
                    t!("ip_tools.sockets.column.state"),
                    t!("ip_tools.sockets.column.process"),
                ] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, rows.len(), |mut row| {
                    let s = &self.sockets[rows[row.index()]];
                    let remote = if s.remote.port() == 0 && s.remote.ip().is_unspecified() {
                        "*".to_owned()
                    } else {
                        s.remote.to_string()
                    };
                    // A TCP state explains itself on hover, for learners.
                    let why = (s.proto == crate::iptools::sockets::Proto::Tcp)
                        .then(|| crate::iptools::tcp_state::TcpState::from_name(s.state))
                        .flatten()
                        .map(crate::iptools::tcp_state::why);
                    for (column, text) in [
                        s.proto_text().to_owned(),
                        s.local.to_string(),
                        remote,
                        s.state.to_owned(),
                        s.process.clone().unwrap_or_else(|| "—".to_owned()),
                    ]
                    .into_iter()
                    .enumerate()
                    {
                        row.col(|ui| {
                            let label = ui
                                .add(egui::Label::new(RichText::new(text).monospace()).truncate());
                            if column == 3
                                && let Some(why) = &why
                            {
                                label.on_hover_text(why.as_ref());
                            }
                        });
                    }
                });
            });
    }

    fn start_dns(&mut self) {
        match DnsQuery::parse(&self.settings.dns_query) {
            Ok(q) => match DnsLookup::start(q, self.wake.clone()) {
                Ok(l) => {
                    self.dns = Some(l);
                    self.dns_input_error = None;
                }
                Err(e) => {
                    self.dns_input_error =
                        Some(t!("ip_tools.dns.could_not_start", error = e).into_owned());
                }
            },
            Err(e) => self.dns_input_error = Some(e.to_string()),
        }
    }

    pub(super) fn dns_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("ip_tools.dns.intro")).weak());
        let mut go = false;
        ui.horizontal(|ui| {
            let r = labelled_hint(
                ui,
                &t!("ip_tools.dns.query"),
                &mut self.settings.dns_query,
                260.0,
                &t!("ip_tools.dns.query_hint"),
            );
            if r.changed() {
                self.dns_input_error = None;
            }
            go |= r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            go |= ui
                .add_enabled(
                    self.dns.is_none(),
                    egui::Button::new(t!("ip_tools.dns.look_up")),
                )
                .on_disabled_hover_text(t!("disabled.looking_up"))
                .clicked();
        });
        if go && self.dns.is_none() {
            self.start_dns();
        }
        if let Some(e) = &self.dns_input_error {
            error_text(ui, &t!("ip_tools.dns.query_error", error = e));
        }
        if self.dns.is_some() {
            ui.label(t!("ip_tools.dns.looking_up"));
        }
        match &self.dns_result {
            Some((query, Ok(DnsAnswer::Addresses(addrs)))) => {
                ui.label(
                    RichText::new(t!(
                        "ip_tools.dns.addresses",
                        query = query,
                        count = addrs.len()
                    ))
                    .strong(),
                );
                for a in addrs {
                    let family = if a.is_ipv4() { "IPv4" } else { "IPv6" };
                    ui.label(RichText::new(format!("{a}  ({family})")).monospace());
                }
            }
            Some((query, Ok(DnsAnswer::Name(name)))) => {
                ui.label(
                    RichText::new(t!("ip_tools.dns.named", query = query, name = name)).strong(),
                );
            }
            Some((_, Err(e))) => error_text(ui, &e.to_string()),
            None => {}
        }
    }

    pub(super) fn ports_ui(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            if labelled_hint(
                ui,
                &t!("ip_tools.ports.number"),
                &mut self.settings.port_query,
                80.0,
                "502",
            )
            .changed()
            {
                self.bind_check = None;
            }
        });
        let port = match parse_port(&self.settings.port_query, true) {
            Ok(p) => p,
            Err(e) => {
                error_text(ui, &t!("ip_tools.ports.number_error", error = e));
                return;
            }
        };
        ui.label(PortRange::of(port).describe());
        let found = services(port);
        if found.is_empty() {
            ui.label(RichText::new(t!("ip_tools.ports.no_service", port = port)).weak());
        } else {
            for s in found {
                ui.label(t!(
                    "ip_tools.ports.service",
                    port = port,
                    transport = s.transport,
                    name = s.name
                ));
            }
        }
        if port == 0 {
            ui.label(RichText::new(t!("ip_tools.ports.zero")).weak());
        }
        ui.add_space(6.0);
        if ui
            .button(t!("ip_tools.ports.check"))
            .on_hover_text(t!("ip_tools.ports.check_hover"))
            .clicked()
        {
            self.bind_check = Some(check_bind(port));
        }
        if let Some(c) = &self.bind_check
            && c.port == port
        {
            bind_line_ui(ui, "TCP IPv4", &c.tcp_v4);
            bind_line_ui(ui, "TCP IPv6", &c.tcp_v6);
            bind_line_ui(ui, "UDP IPv4", &c.udp_v4);
            bind_line_ui(ui, "UDP IPv6", &c.udp_v6);
        }
        ui.add_space(10.0);
        ui.collapsing(t!("ip_tools.ports.common"), |ui| {
            egui::Grid::new("common-ports")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    for s in crate::iptools::ports::SERVICES {
                        ui.label(RichText::new(s.port.to_string()).monospace());
                        ui.label(s.transport);
                        ui.label(s.name);
                        ui.end_row();
                    }
                });
        });
    }
}
