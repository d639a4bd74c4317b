//! Tabs whose issues are not delivered yet say so plainly instead of pretending.

use egui::{RichText, Ui};

/// Draws a plain notice for a tab that is planned but not built yet.
pub fn placeholder_ui(ui: &mut Ui, title: &str, what: &str) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.add_space(24.0);
        ui.heading(title);
        ui.add_space(8.0);
        ui.label(RichText::new("Not built yet: this tab arrives in a coming release.").strong());
        ui.label(what);
    });
}
