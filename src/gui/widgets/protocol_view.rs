//! The detail pane's protocol view: the selected record read as a protocol's fields (chosen
//! per session, or suggested by the port), or as a layout the user imported for a device's
//! own protocol. Selecting a field highlights its bytes in the hex dump beside it. Decoding
//! is done once per selected record and choice, not per frame.

use std::ops::Range;
use std::path::PathBuf;

use egui::{RichText, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::protocol::{Decoded, Field, Layout, Layouts, Protocol};
use crate::gui::widgets::{ERROR_COLOR, label_first};
use crate::settings::{Bounded, join};

/// Most layouts a session keeps, and fields in one (a list a person reads).
pub const MAX_LAYOUTS: usize = 64;
pub const MAX_LAYOUT_FIELDS: usize = 512;

/// How a session reads its records (saved with the tab's view).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProtocolChoice {
    /// By port: the peer's, then the session's own (502 Modbus/TCP, 1883 MQTT, 53 DNS, …).
    #[default]
    Auto,
    /// Bytes only.
    Off,
    Known(Protocol),
    /// An imported layout, by name.
    Layout(String),
}

/// What a choice comes to for one record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reader {
    Known(Protocol),
    Layout(String),
}

impl ProtocolChoice {
    /// The reader for a record whose peer has `peer_port`, in a session on `local_port`.
    fn reader(&self, peer_port: Option<u16>, local_port: Option<u16>) -> Option<Reader> {
        match self {
            Self::Off => None,
            Self::Known(p) => Some(Reader::Known(*p)),
            Self::Layout(name) => Some(Reader::Layout(name.clone())),
            Self::Auto => peer_port
                .and_then(Protocol::suggest_for_port)
                .or_else(|| local_port.and_then(Protocol::suggest_for_port))
                .map(Reader::Known),
        }
    }
}

/// Saved with the view: the choice and the imported layouts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ProtocolSettings {
    pub choice: ProtocolChoice,
    pub layouts: Vec<Layout>,
}

impl Bounded for ProtocolSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        if self.layouts.len() > MAX_LAYOUTS {
            notes.push(format!(
                "{}: {} layouts, keeping the first {MAX_LAYOUTS}", // i18n-exempt: settings notes precede the saved language.
                join(path, "layouts"),
                self.layouts.len()
            ));
            self.layouts.truncate(MAX_LAYOUTS);
        }
        let before = self.layouts.len();
        self.layouts
            .retain(|l| l.fields.len() <= MAX_LAYOUT_FIELDS && l.check().is_ok());
        if self.layouts.len() < before {
            notes.push(format!(
                "{}: {} unusable layouts left out", // i18n-exempt: settings notes precede the saved language.
                join(path, "layouts"),
                before - self.layouts.len()
            ));
        }
    }
}

/// The pane's state while the window runs.
#[derive(Debug, Default)]
pub struct ProtocolPane {
    /// The record, the reader and what it read.
    cache: Option<(u64, Reader, Decoded)>,
    /// The selected field, as a path of child indices.
    selected: Option<Vec<usize>>,
    /// What the last import said.
    note: Option<(bool, String)>,
    /// The file the next import reads, instead of asking with a dialog (tests).
    pub next_layout_path: Option<PathBuf>,
    /// The file the next export writes, instead of asking with a dialog (tests).
    pub next_export_path: Option<PathBuf>,
    /// The layouts being edited as JSON, while the editor window is open.
    pub editor: Option<LayoutEditor>,
}

/// The "Edit layouts" window: every layout of the session as JSON, checked as it is typed.
#[derive(Debug, Default)]
pub struct LayoutEditor {
    pub text: String,
    /// The text last checked and what the check found, so typing re-checks once per change.
    checked: Option<(String, Result<Vec<Layout>, String>)>,
}

/// A layout to start from when a session has none: two fields, one with value names.
const EXAMPLE_LAYOUTS: &str = r#"[
  {
    "name": "My device",
    "fields": [
      { "name": "Voltage", "offset": 0, "length": 2, "kind": "U16", "order": "Big" },
      { "name": "State", "offset": 2, "length": 1, "kind": "U8", "labels": { "0": "Idle", "1": "Running", "2": "Fault" } }
    ]
  }
]"#;

impl LayoutEditor {
    fn new(layouts: &[Layout]) -> Self {
        let text = if layouts.is_empty() {
            EXAMPLE_LAYOUTS.to_owned()
        } else {
            Layouts(layouts.to_vec()).to_json()
        };
        Self {
            text,
            checked: None,
        }
    }

    /// The layouts the text holds, or what is wrong with it (naming the layout).
    fn check(&mut self) -> Result<Vec<Layout>, String> {
        if let Some((text, result)) = &self.checked
            && *text == self.text
        {
            return result.clone();
        }
        let result = check_layouts(&self.text);
        self.checked = Some((self.text.clone(), result.clone()));
        result
    }
}

/// `text` as layouts a session can keep: valid JSON, each layout checked, names unique, at
/// most [`MAX_LAYOUTS`] of at most [`MAX_LAYOUT_FIELDS`] fields.
pub fn check_layouts(text: &str) -> Result<Vec<Layout>, String> {
    let layouts = match Layouts::from_json(text) {
        Ok(Layouts(layouts)) => layouts,
        Err(e @ crate::codec::protocol::LayoutError::Json { .. }) => return Err(e.to_string()),
        Err(e) => {
            // Which layout: the first whose own check fails (a list names none by itself).
            let name = serde_json::from_str::<Vec<Layout>>(text)
                .ok()
                .and_then(|ls| ls.into_iter().find(|l| l.check().is_err()))
                .map(|l| l.name)
                .filter(|n| !n.is_empty());
            return Err(match name {
                Some(name) => t!("layout_editor.in_layout", name = name, e = e).into_owned(),
                None => e.to_string(),
            });
        }
    };
    if layouts.len() > MAX_LAYOUTS {
        return Err(t!(
            "protocol_view.editor.too_many",
            n = layouts.len(),
            max = MAX_LAYOUTS
        )
        .into_owned());
    }
    if let Some(l) = layouts.iter().find(|l| l.fields.len() > MAX_LAYOUT_FIELDS) {
        return Err(t!(
            "protocol_view.editor.too_many_fields",
            name = l.name,
            n = l.fields.len(),
            max = MAX_LAYOUT_FIELDS
        )
        .into_owned());
    }
    for (i, l) in layouts.iter().enumerate() {
        if layouts[..i].iter().any(|other| other.name == l.name) {
            return Err(t!("layout_editor.same_name", name = l.name).into_owned());
        }
    }
    Ok(layouts)
}

impl ProtocolPane {
    /// The picker: Auto, Off, every protocol, every imported layout, and Import.
    pub fn picker_ui(&mut self, ui: &mut Ui, settings: &mut ProtocolSettings) {
        let shown = match &settings.choice {
            ProtocolChoice::Auto => t!("protocol_view.auto").into_owned(),
            ProtocolChoice::Off => t!("protocol_view.off").into_owned(),
            ProtocolChoice::Known(p) => p.name().to_owned(),
            ProtocolChoice::Layout(name) => name.clone(),
        };
        label_first(ui, t!("protocol_view.label"))
            .selected_text(shown)
            .show_ui(ui, |ui| {
                let c = &mut settings.choice;
                ui.selectable_value(c, ProtocolChoice::Auto, t!("protocol_view.auto"));
                ui.selectable_value(c, ProtocolChoice::Off, t!("protocol_view.off"));
                for p in Protocol::ALL {
                    ui.selectable_value(c, ProtocolChoice::Known(p), p.name());
                }
                for l in &settings.layouts {
                    ui.selectable_value(c, ProtocolChoice::Layout(l.name.clone()), &l.name);
                }
            });
        if ui
            .button(t!("protocol_view.import"))
            .on_hover_text(t!("protocol_view.import_hover"))
            .clicked()
        {
            self.import(settings);
        }
        if !settings.layouts.is_empty() && ui.button(t!("protocol_view.export")).clicked() {
            self.export(settings);
        }
        if ui
            .button(t!("layout_editor.button"))
            .on_hover_text(t!("layout_editor.hover"))
            .clicked()
        {
            self.editor = Some(LayoutEditor::new(&settings.layouts));
        }
        self.editor_ui(ui, settings);
        if let Some((bad, note)) = &self.note {
            let text = RichText::new(note.as_str());
            ui.label(if *bad {
                text.color(ERROR_COLOR)
            } else {
                text.weak()
            });
        }
    }

    /// The editor window, while open: the JSON, its error beside it, Apply and Cancel.
    fn editor_ui(&mut self, ui: &mut Ui, settings: &mut ProtocolSettings) {
        let Some(editor) = self.editor.as_mut() else {
            return;
        };
        let mut open = true;
        let mut apply = None;
        let mut cancel = false;
        egui::Window::new(t!("layout_editor.title"))
            .id(egui::Id::unique((ui.scope_id(), "layout-editor")))
            .open(&mut open)
            .default_size([560.0, 420.0])
            .show(ui.ctx(), |ui| {
                ui.label(RichText::new(t!("layout_editor.syntax")).weak());
                let label = ui.label(t!("layout_editor.label"));
                egui::ScrollArea::vertical()
                    .max_height(ui.available_height() - 60.0)
                    .show(ui, |ui| {
                        ui.add(
                            egui::TextEdit::multiline(&mut editor.text)
                                .code_editor()
                                .desired_width(f32::INFINITY)
                                .desired_rows(14),
                        )
                        .labelled_by(label.id);
                    });
                let checked = editor.check();
                // One status line, always there, so the buttons stay where they are.
                match &checked {
                    Ok(layouts) => {
                        ui.label(RichText::new(t!("layout_editor.valid", n = layouts.len())).weak())
                    }
                    Err(e) => ui.label(RichText::new(e.as_str()).color(ERROR_COLOR)),
                };
                ui.horizontal(|ui| {
                    let button = ui
                        .add_enabled(
                            checked.is_ok(),
                            egui::Button::new(t!("layout_editor.apply")),
                        )
                        .on_disabled_hover_text(t!("layout_editor.fix_first"));
                    if button.clicked() {
                        apply = checked.ok();
                    }
                    if ui.button(t!("layout_editor.cancel")).clicked() {
                        cancel = true;
                    }
                });
            });
        if let Some(layouts) = apply {
            let n = layouts.len();
            settings.layouts = layouts;
            let kept = match &settings.choice {
                ProtocolChoice::Layout(name) => settings.layouts.iter().any(|l| &l.name == name),
                _ => false,
            };
            if !kept && let Some(last) = settings.layouts.last() {
                settings.choice = ProtocolChoice::Layout(last.name.clone());
            } else if !kept && matches!(settings.choice, ProtocolChoice::Layout(_)) {
                settings.choice = ProtocolChoice::Auto;
            }
            self.cache = None;
            self.note = Some((false, t!("layout_editor.applied", n = n).into_owned()));
            self.editor = None;
        } else if cancel || !open {
            self.editor = None;
        }
    }

    /// Writes every imported layout to one JSON file, the format Import reads.
    fn export(&mut self, settings: &ProtocolSettings) {
        let path = self.next_export_path.take().or_else(|| {
            rfd::FileDialog::new()
                .add_filter(t!("protocol_view.filter"), &["json"])
                .set_file_name("sockpit-layouts.json")
                .save_file()
        });
        let Some(path) = path else {
            return;
        };
        let json = Layouts(settings.layouts.clone()).to_json();
        self.note = Some(match std::fs::write(&path, json) {
            Ok(()) => (
                false,
                t!(
                    "protocol_view.exported",
                    n = settings.layouts.len(),
                    path = path.display()
                )
                .into_owned(),
            ),
            Err(e) => (
                true,
                t!("protocol_view.export_error", path = path.display(), e = e).into_owned(),
            ),
        });
    }

    fn import(&mut self, settings: &mut ProtocolSettings) {
        let path = self.next_layout_path.take().or_else(|| {
            rfd::FileDialog::new()
                .add_filter(t!("protocol_view.filter"), &["json"])
                .pick_file()
        });
        let Some(path) = path else {
            return;
        };
        let read = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| Layouts::from_json(&text).map_err(|e| e.to_string()));
        self.note = Some(match read {
            Ok(Layouts(layouts)) => {
                let n = layouts.len();
                for layout in layouts {
                    if let Some(same) = settings.layouts.iter_mut().find(|l| l.name == layout.name)
                    {
                        *same = layout;
                    } else if settings.layouts.len() < MAX_LAYOUTS {
                        settings.layouts.push(layout);
                    }
                }
                if let Some(last) = settings.layouts.last() {
                    settings.choice = ProtocolChoice::Layout(last.name.clone());
                }
                self.cache = None;
                (
                    false,
                    t!("protocol_view.imported", n = n, path = path.display()).into_owned(),
                )
            }
            Err(e) => (
                true,
                t!("protocol_view.import_error", path = path.display(), e = e).into_owned(),
            ),
        });
    }

    /// Reads record `id` (`bytes`, from `peer_port`) as `settings` say, once; `None` when
    /// no reader applies.
    pub fn decoded(
        &mut self,
        settings: &ProtocolSettings,
        id: u64,
        bytes: &[u8],
        ports: (Option<u16>, Option<u16>),
    ) -> Option<&Decoded> {
        let reader = settings.choice.reader(ports.0, ports.1)?;
        let fresh = matches!(&self.cache, Some((cid, r, _)) if *cid == id && *r == reader);
        if !fresh {
            let decoded = match &reader {
                Reader::Known(p) => p.decode(bytes),
                Reader::Layout(name) => match settings.layouts.iter().find(|l| &l.name == name) {
                    Some(layout) => layout.decode(bytes),
                    None => Decoded {
                        summary: t!("protocol_view.no_layout", name = name).into_owned(),
                        fields: Vec::new(),
                    },
                },
            };
            if self.cache.as_ref().is_none_or(|(cid, _, _)| *cid != id) {
                self.selected = None;
            }
            self.cache = Some((id, reader, decoded));
        }
        self.cache.as_ref().map(|(_, _, d)| d)
    }

    /// Selects the deepest field that covers byte `index` of the record (a click in the dump).
    pub fn select_byte(&mut self, index: usize) {
        if let Some((_, _, decoded)) = &self.cache {
            self.selected = decoded.field_at(index);
        }
    }

    /// The bytes the selected field covers, to highlight in the dump.
    pub fn highlight(&self) -> Option<Range<usize>> {
        let (_, _, decoded) = self.cache.as_ref()?;
        decoded
            .field(self.selected.as_deref()?)
            .map(|f| f.range.clone())
    }

    /// The fields of the cached record as a tree; clicking one selects it.
    pub fn fields_ui(&mut self, ui: &mut Ui) {
        let Some((_, _, decoded)) = &self.cache else {
            return;
        };
        ui.label(RichText::new(decoded.summary.as_str()).strong());
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .id_salt("protocol-fields")
            .auto_shrink(false)
            .show(ui, |ui| {
                // A tree of short lines: tighter than the window's usual spacing.
                ui.spacing_mut().item_spacing.y = 1.0;
                ui.spacing_mut().button_padding.y = 0.0;
                let mut path = Vec::new();
                for (i, field) in decoded.fields.iter().enumerate() {
                    path.push(i);
                    field_ui(ui, field, &mut path, self.selected.as_deref(), &mut clicked);
                    path.pop();
                }
            });
        if let Some(path) = clicked {
            self.selected = Some(path);
        }
    }
}

fn field_ui(
    ui: &mut Ui,
    field: &Field,
    path: &mut Vec<usize>,
    selected: Option<&[usize]>,
    clicked: &mut Option<Vec<usize>>,
) {
    let is_selected = selected == Some(path.as_slice());
    let mut text = RichText::new(format!("{}: {}", field.name, field.value));
    if field.highlight {
        text = text.strong();
    }
    let bytes = t!(
        "protocol_view.bytes",
        from = field.range.start,
        to = field.range.end.saturating_sub(1).max(field.range.start)
    );
    if ui
        .selectable_label(is_selected, text)
        .on_hover_text(bytes)
        .clicked()
    {
        *clicked = Some(path.clone());
    }
    if let Some(problem) = &field.problem {
        ui.label(RichText::new(problem.as_str()).color(ERROR_COLOR));
    }
    if !field.children.is_empty() {
        ui.indent(("field", path.clone()), |ui| {
            for (i, child) in field.children.iter().enumerate() {
                path.push(i);
                field_ui(ui, child, path, selected, clicked);
                path.pop();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_reads_by_the_peer_port_then_the_session_port() {
        let auto = ProtocolChoice::Auto;
        assert_eq!(
            auto.reader(Some(502), Some(40000)),
            Some(Reader::Known(Protocol::ModbusTcp))
        );
        assert_eq!(
            auto.reader(Some(40000), Some(1883)),
            Some(Reader::Known(Protocol::Mqtt))
        );
        assert_eq!(auto.reader(Some(40000), Some(40001)), None);
        assert_eq!(ProtocolChoice::Off.reader(Some(502), None), None);
        assert_eq!(
            ProtocolChoice::Known(Protocol::Coap).reader(None, None),
            Some(Reader::Known(Protocol::Coap))
        );
    }
}
