//! IP Tools › Route to host: which interface, source address and gateway the kernel would use
//! for a destination, why (the AND for an attached subnet, the longest prefix that matched),
//! and the route table with the deciding entry lit. The lookup (`crate::iptools::route`) asks
//! the kernel as `ip route get` does; no packet is sent. It runs on a named thread, since a
//! host name may take a while to resolve.

use crossbeam_channel::{Receiver, TryRecvError};
use egui::{Color32, RichText, Ui};
use egui_extras::{Column, TableBuilder};
use rust_i18n::t;

use super::IpToolsTab;
use super::calculator::binary_ui;
use crate::engine::worker::Wake;
use crate::gui::widgets::{ERROR_COLOR, OK_COLOR, labelled_hint};
use crate::iptools::route::{Reach, RouteAnswer, RouteEntry, RouteError, lookup_host};

/// A lookup under way or done.
#[derive(Default)]
pub(super) enum RouteState {
    #[default]
    Idle,
    Asking(String, Receiver<Result<RouteAnswer, RouteError>>),
    Answered(Box<Result<RouteAnswer, RouteError>>),
    /// The input was not a host; nothing was asked.
    BadInput(String),
}

/// Background of the table row that decided.
const CHOSEN_ROW: Color32 = Color32::from_rgb(0x1F, 0x5F, 0xB0);

/// Starts a lookup of `query` on its own thread; the window is woken when it answers.
fn ask(query: &str, wake: &Wake) -> Result<Receiver<Result<RouteAnswer, RouteError>>, String> {
    let (tx, rx) = crossbeam_channel::bounded(1);
    let host = query.to_owned();
    let wake = wake.clone();
    std::thread::Builder::new()
        .name("route-lookup".to_owned())
        .spawn(move || {
            // The channel holds this one answer; a window that stopped listening needs none.
            let _ = tx.send(lookup_host(&host));
            wake();
        })
        .map(|_| rx)
        .map_err(|e| e.to_string())
}

impl IpToolsTab {
    /// Takes a finished lookup's answer; true when one arrived.
    pub(super) fn poll_route(&mut self) -> bool {
        let RouteState::Asking(_, rx) = &self.route else {
            return false;
        };
        match rx.try_recv() {
            Ok(answer) => {
                self.route = RouteState::Answered(Box::new(answer));
                true
            }
            Err(TryRecvError::Empty) => false,
            Err(TryRecvError::Disconnected) => {
                self.route = RouteState::BadInput(t!("route_view.lookup_ended").into_owned());
                true
            }
        }
    }

    fn start_route(&mut self) {
        let query = self.settings.route_query.trim().to_owned();
        if query.is_empty() {
            self.route = RouteState::BadInput(t!("route_view.empty").into_owned());
            return;
        }
        self.route = match ask(&query, &self.wake) {
            Ok(rx) => RouteState::Asking(query, rx),
            Err(e) => RouteState::BadInput(t!("route_view.no_thread", error = e).into_owned()),
        };
    }

    pub(super) fn route_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("route_view.intro")).weak());
        ui.add_space(4.0);
        let mut go = false;
        ui.horizontal_wrapped(|ui| {
            let field = labelled_hint(
                ui,
                &t!("route_view.host_label"),
                &mut self.settings.route_query,
                260.0,
                &t!("route_view.host_hint"),
            );
            go |= field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let asking = matches!(self.route, RouteState::Asking(..));
            go |= ui
                .add_enabled(!asking, egui::Button::new(t!("route_view.look_up")))
                .on_hover_text(t!("route_view.look_up_hover"))
                .on_disabled_hover_text(t!("disabled.looking_up"))
                .clicked();
            for example in ["127.0.0.1", "::1", "1.1.1.1"] {
                if ui.small_button(example).clicked() {
                    example.clone_into(&mut self.settings.route_query);
                    go = true;
                }
            }
        });
        if go {
            self.start_route();
        }
        ui.add_space(6.0);
        match &self.route {
            RouteState::Idle => {}
            RouteState::Asking(query, _) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(t!("route_view.asking", query = query));
                });
            }
            RouteState::BadInput(message) => {
                ui.label(RichText::new(message).color(ERROR_COLOR));
            }
            RouteState::Answered(answer) => match answer.as_ref() {
                Err(e) => {
                    ui.label(RichText::new(e.to_string()).color(ERROR_COLOR));
                }
                Ok(answer) => answer_ui(ui, answer),
            },
        }
    }
}

fn reach_words(reach: Reach) -> std::borrow::Cow<'static, str> {
    match reach {
        Reach::Local => t!("route_view.reach.local"),
        Reach::Direct => t!("route_view.reach.direct"),
        Reach::Gateway => t!("route_view.reach.gateway"),
        Reach::Broadcast => t!("route_view.reach.broadcast"),
        Reach::Multicast => t!("route_view.reach.multicast"),
    }
}

fn answer_ui(ui: &mut Ui, a: &RouteAnswer) {
    ui.label(
        RichText::new(t!(
            "route_view.headline",
            destination = a.destination,
            reach = reach_words(a.reach)
        ))
        .color(OK_COLOR)
        .strong(),
    );
    egui::Grid::new("route-answer")
        .num_columns(2)
        .spacing([12.0, 4.0])
        .show(ui, |ui| {
            let none = t!("route_view.none");
            let rows = [
                (t!("route_view.field.query"), a.query.clone()),
                (
                    t!("route_view.field.destination"),
                    a.destination.to_string(),
                ),
                (t!("route_view.field.interface"), a.interface.clone()),
                (
                    t!("route_view.field.source"),
                    a.source.map_or_else(|| none.to_string(), |s| s.to_string()),
                ),
                (
                    t!("route_view.field.gateway"),
                    a.gateway.map_or_else(
                        || t!("route_view.no_gateway").into_owned(),
                        |g| g.to_string(),
                    ),
                ),
                (
                    t!("route_view.field.entry"),
                    a.entry
                        .as_ref()
                        .map_or_else(|| none.to_string(), RouteEntry::text),
                ),
            ];
            for (name, value) in rows {
                ui.label(RichText::new(name).weak());
                ui.label(RichText::new(value).monospace());
                ui.end_row();
            }
        });
    ui.add_space(6.0);
    ui.heading(t!("route_view.why"));
    for line in a.explanation() {
        ui.label(format!("• {line}"));
    }
    if let Some(and) = &a.and {
        ui.add_space(6.0);
        ui.label(RichText::new(t!("route_view.and_heading", mask = &and.mask)).strong());
        binary_ui(ui, &and.binary);
    }
    ui.add_space(8.0);
    ui.heading(crate::iptools::route::table_title());
    ui.label(RichText::new(t!("route_view.table_explain")).weak());
    table_ui(ui, a);
}

fn table_ui(ui: &mut Ui, a: &RouteAnswer) {
    let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
    let headers = [
        t!("route_view.column.destination"),
        t!("route_view.column.gateway"),
        t!("route_view.column.interface"),
        t!("route_view.column.metric"),
        t!("route_view.column.source"),
        t!("route_view.column.matches"),
    ];
    let yes = t!("route_view.matches_yes");
    let chosen = crate::iptools::route::chosen_mark();
    TableBuilder::new(ui)
        .id_salt("route-table")
        .striped(true)
        .column(Column::initial(170.0).at_least(90.0))
        .column(Column::initial(130.0).at_least(60.0))
        .column(Column::initial(80.0).at_least(40.0))
        .column(Column::initial(60.0).at_least(40.0))
        .column(Column::initial(130.0).at_least(60.0))
        .column(Column::remainder().at_least(80.0))
        .max_scroll_height(280.0)
        .header(row_h + 2.0, |mut h| {
            for title in headers {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        .body(|body| {
            body.rows(row_h, a.table.len(), |mut row| {
                let i = row.index();
                let e = &a.table[i];
                let is_chosen = a.chosen == Some(i);
                let matches = e.contains(a.destination);
                let cells = [
                    e.destination.to_string(),
                    e.gateway.map(|g| g.to_string()).unwrap_or_default(),
                    e.interface.clone().unwrap_or_default(),
                    e.metric.to_string(),
                    e.source.map(|s| s.to_string()).unwrap_or_default(),
                    if is_chosen {
                        chosen.to_string()
                    } else if matches {
                        yes.to_string()
                    } else {
                        String::new()
                    },
                ];
                for text in cells {
                    row.col(|ui| {
                        let mut rich = RichText::new(text).monospace();
                        if is_chosen {
                            rich = rich.background_color(CHOSEN_ROW).color(Color32::WHITE);
                        }
                        ui.add(egui::Label::new(rich).truncate());
                    });
                }
            });
        });
}
