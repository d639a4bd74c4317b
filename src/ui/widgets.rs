//! Small widgets that keep every input labelled (for screen readers and UI tests).

use egui::{Color32, Response, RichText, TextEdit, Ui};

/// Colour for inline error messages.
pub const ERROR_COLOR: Color32 = Color32::from_rgb(0xE5, 0x48, 0x4D);
/// Colour for good news (connected, listening).
pub const OK_COLOR: Color32 = Color32::from_rgb(0x46, 0xA7, 0x58);
/// Colour for in-between states (connecting, waiting).
pub const WAIT_COLOR: Color32 = Color32::from_rgb(0xD9, 0xA4, 0x41);

/// A label followed by a single-line text field tied to it.
pub fn labelled_text(ui: &mut Ui, label: &str, text: &mut String, width: f32) -> Response {
    let label = ui.label(label);
    ui.add(TextEdit::singleline(text).desired_width(width))
        .labelled_by(label.id)
}

/// A label followed by a drag value tied to it.
pub fn labelled_drag<N: egui::emath::Numeric>(
    ui: &mut Ui,
    label: &str,
    value: &mut N,
    range: std::ops::RangeInclusive<N>,
) -> Response {
    let label = ui.label(label);
    ui.add(egui::DragValue::new(value).range(range))
        .labelled_by(label.id)
}

/// A red one-line message under an input.
pub fn error_text(ui: &mut Ui, message: &str) {
    ui.label(RichText::new(message).color(ERROR_COLOR));
}
