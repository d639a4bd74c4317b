//! Small widgets that keep every input labelled (for screen readers and UI tests).

use egui::{Color32, Response, RichText, TextEdit, Ui};

/// Colour for inline error messages.
pub const ERROR_COLOR: Color32 = Color32::from_rgb(0xE5, 0x48, 0x4D);
/// Colour for good news (connected, listening).
pub const OK_COLOR: Color32 = Color32::from_rgb(0x46, 0xA7, 0x58);
/// Colour for in-between states (connecting, waiting).
pub const WAIT_COLOR: Color32 = Color32::from_rgb(0xD9, 0xA4, 0x41);

/// How a status line should feel; the colour is chosen here, not where the words are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Neutral,
    Ok,
    Wait,
    Error,
}

impl Tone {
    pub fn colour(self) -> Color32 {
        match self {
            Self::Neutral => Color32::GRAY,
            Self::Ok => OK_COLOR,
            Self::Wait => WAIT_COLOR,
            Self::Error => ERROR_COLOR,
        }
    }
}

/// A session's status: the headline in its tone, then one weaker line of explanation.
pub fn status_line(ui: &mut Ui, tone: Tone, headline: &str, explanation: &str) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(headline).color(tone.colour()).strong());
        ui.label(RichText::new(explanation).weak());
    });
}

/// A field's label, kept on one line: in a wrapping toolbar the label and its field move to
/// the next row whole instead of the label breaking in two.
pub fn field_label(ui: &mut Ui, label: &str) -> Response {
    ui.add(egui::Label::new(label).wrap_mode(egui::TextWrapMode::Extend))
}

/// A label followed by a single-line text field tied to it.
pub fn labelled_text(ui: &mut Ui, label: &str, text: &mut String, width: f32) -> Response {
    let label = field_label(ui, label);
    ui.add(TextEdit::singleline(text).desired_width(width))
        .labelled_by(label.id)
}

/// A label followed by a single-line text field tied to it, with `hint` shown while it is
/// empty (an example of what to type).
pub fn labelled_hint(
    ui: &mut Ui,
    label: &str,
    text: &mut String,
    width: f32,
    hint: &str,
) -> Response {
    let label = field_label(ui, label);
    ui.add(
        TextEdit::singleline(text)
            .desired_width(width)
            .hint_text(hint),
    )
    .labelled_by(label.id)
}

/// A label followed by a drag value tied to it.
pub fn labelled_drag<N: egui::emath::Numeric>(
    ui: &mut Ui,
    label: &str,
    value: &mut N,
    range: std::ops::RangeInclusive<N>,
) -> Response {
    let label = field_label(ui, label);
    ui.add(egui::DragValue::new(value).range(range))
        .labelled_by(label.id)
}

/// A red one-line message under an input.
pub fn error_text(ui: &mut Ui, message: &str) {
    ui.label(RichText::new(message).color(ERROR_COLOR));
}

/// A line kept for an area's error, drawn whether or not there is one, so an error that comes
/// or goes never moves the controls below it (the next click lands where the user aimed). A
/// message longer than the line is cut with "…" and shown whole on hover.
pub fn error_slot(ui: &mut Ui, message: Option<&str>) {
    // A pixel more than a line of body text: a label rounds its height to pixels.
    let height = ui.text_style_height(&egui::TextStyle::Body).ceil() + 1.0;
    let (rect, _) = ui.allocate_exact_size(
        egui::vec2(ui.available_width(), height),
        egui::Sense::hover(),
    );
    if let Some(message) = message {
        let label = egui::Label::new(RichText::new(message).color(ERROR_COLOR)).truncate();
        ui.put(rect, label).on_hover_text(message);
    }
}

/// A drop-down list whose label stands before it ("Encoding [UTF-8 ▾]") and names it for
/// screen readers and tests; built like `egui::ComboBox` (`selected_text`, `width`,
/// `show_ui`). The label is drawn when this is made.
pub struct LabelFirst<'a> {
    label: egui::Id,
    combo: egui::ComboBox<'a>,
}

/// Draws `label`, then returns the list to fill in (its id is the label, as
/// `ComboBox::from_label` would have it).
pub fn label_first<'a>(ui: &mut Ui, label: impl AsRef<str>) -> LabelFirst<'a> {
    let label = label.as_ref();
    let shown = field_label(ui, label);
    LabelFirst {
        label: shown.id,
        combo: egui::ComboBox::from_id_salt(label),
    }
}

impl<'a> LabelFirst<'a> {
    #[must_use]
    pub fn selected_text(mut self, text: impl egui::IntoAtoms<'a>) -> Self {
        self.combo = self.combo.selected_text(text);
        self
    }

    #[must_use]
    pub fn width(mut self, width: f32) -> Self {
        self.combo = self.combo.width(width);
        self
    }

    pub fn show_ui<R>(
        self,
        ui: &mut Ui,
        add: impl FnOnce(&mut Ui) -> R,
    ) -> egui::InnerResponse<Option<R>> {
        let mut shown = self.combo.show_ui(ui, add);
        shown.response = shown.response.labelled_by(self.label);
        shown
    }
}
