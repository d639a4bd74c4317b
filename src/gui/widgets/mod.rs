//! UI pieces shared by the tabs: the traffic view, the send box and small labelled widgets.

pub mod bind_picker;
pub mod capture_bar;
pub mod checksum;
pub mod framing;
mod labelled;
pub mod library;
pub mod pipeline;
pub mod protocol_view;
pub mod rules;
pub mod script_box;
pub mod send_box;
pub mod send_tools;
pub mod tcp_states;
pub mod traffic_plot;
pub mod traffic_view;

pub use labelled::*;
pub use send_box::SendBox;
pub use traffic_view::TrafficView;

/// A tab's settings panel at the top of its room: at most about a third of the window high, and
/// scrolled when what is unfolded in it (rules, a script, TCP states) needs more, so the log
/// below keeps rows in sight in a small window.
pub fn top_settings_panel(ui: &mut egui::Ui, id: String, add: impl FnOnce(&mut egui::Ui)) {
    let max_h = (ui.ctx().content_rect().height() * 0.35).max(120.0);
    egui::Panel::top(id.clone()).show(ui, |ui| {
        // A panel offers its contents last frame's height; the scroll area is given room to
        // grow up to the cap, and the panel then takes what it used.
        let mut room = ui.available_rect_before_wrap();
        room.max.y = room.min.y + max_h;
        ui.scope_builder(egui::UiBuilder::new().max_rect(room), |ui| {
            egui::ScrollArea::vertical()
                .id_salt(id)
                .max_height(max_h)
                .auto_shrink([false, true])
                .show(ui, add);
        });
    });
}

/// Where a tab says why sending is off this frame, for every send button below it.
fn send_blocked_id() -> egui::Id {
    egui::Id::unique("send-blocked") // i18n-exempt: an id, not shown
}

/// Says, for this frame, why the tab cannot send (`None`: it can); [`send_button`] shows it
/// on the hover of a greyed-out button.
pub fn say_why_send_is_off(ui: &egui::Ui, why: Option<String>) {
    ui.ctx().data_mut(|d| d.insert_temp(send_blocked_id(), why));
}

/// A button that sends: greyed out unless `enabled`, and then its hover says why (as the tab
/// said with [`say_why_send_is_off`]).
pub fn send_button(ui: &mut egui::Ui, button: egui::Button<'_>, enabled: bool) -> egui::Response {
    let response = ui.add_enabled(enabled, button);
    if enabled {
        return response;
    }
    let why: Option<String> = ui
        .ctx()
        .data(|d| d.get_temp::<Option<String>>(send_blocked_id()))
        .flatten();
    match why {
        Some(why) => response.on_disabled_hover_text(why),
        None => response,
    }
}
