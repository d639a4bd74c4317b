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
