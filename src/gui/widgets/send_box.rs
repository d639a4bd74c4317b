//! The send box: text (encoded with the tab's encoding, with optional escapes and a line
//! ending) or hex, both with macros (`{{COUNTER}}`, `{{TIME}}`… see `codec::macros`), a
//! Send button that also answers to Enter, a history of recent sends, the exact bytes the
//! next send will be (hex) under it, and an inline error that says exactly what is wrong.

use egui::{TextEdit, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::codec::hex::format_hex;
use crate::codec::macros::{Rng, Template};
use crate::codec::payload::PayloadSpec;
pub use crate::codec::payload::{LineEnding, SendMode};
use crate::settings::{SEND_TEXT_MAX_BYTES, cut_text, join};

/// Sends the history keeps (and a saved history is cut to).
pub const HISTORY_LEN: usize = 20;

/// A previous send, to pick again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub text: String,
    pub mode: SendMode,
}

/// Send box state; everything but the error is saved with the tab's settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SendBox {
    pub text: String,
    pub mode: SendMode,
    pub escapes: bool,
    pub line_ending: LineEnding,
    pub history: Vec<HistoryEntry>,
    #[serde(skip)]
    pub error: Option<String>,
    /// Sends of this text so far: the next send's `{{COUNTER}}` index (a new text starts
    /// again at 0).
    #[serde(skip)]
    pub sends: u64,
    #[serde(skip)]
    preview: Option<(PreviewKey, String)>,
}

/// What the preview was made from; it is made again only when one of these changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PreviewKey {
    text: String,
    mode: SendMode,
    escapes: bool,
    line_ending: LineEnding,
    encoding: TextEncoding,
    sends: u64,
    /// The line is in the window's language.
    language: crate::i18n::Language,
}

/// Bytes the preview shows; more are summed up as a count.
pub const PREVIEW_BYTES: usize = 48;

impl Default for SendBox {
    fn default() -> Self {
        Self {
            text: String::new(),
            mode: SendMode::Text,
            escapes: true,
            line_ending: LineEnding::None,
            history: Vec::new(),
            error: None,
            sends: 0,
            preview: None,
        }
    }
}

impl crate::settings::Bounded for SendBox {
    /// Keeps the history the box shows and cuts the text (and each remembered one) to
    /// [`SEND_TEXT_MAX_BYTES`]: a saved file cannot make the window hold more than it uses.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        cut_text(
            &mut self.text,
            SEND_TEXT_MAX_BYTES,
            &join(path, "text"),
            notes,
        );
        if self.history.len() > HISTORY_LEN {
            notes.push(format!(
                "{}: {} entries; kept the {HISTORY_LEN} most recent", // i18n-exempt: settings notes precede the saved language.
                join(path, "history"),
                self.history.len()
            ));
            self.history.truncate(HISTORY_LEN);
        }
        for (i, entry) in self.history.iter_mut().enumerate() {
            let name = join(path, &format!("history[{i}]"));
            cut_text(&mut entry.text, SEND_TEXT_MAX_BYTES, &name, notes);
        }
    }
}

impl SendBox {
    /// The current input compiled with its macros, or a sentence saying what is wrong.
    pub fn template(&self, encoding: TextEncoding) -> Result<Template, String> {
        Template::compile(&PayloadSpec {
            text: &self.text,
            mode: self.mode,
            escapes: self.escapes,
            line_ending: self.line_ending,
            encoding,
        })
    }

    /// The bytes the next send will be (macros expanded now), or what is wrong.
    pub fn payload(&self, encoding: TextEncoding) -> Result<Vec<u8>, String> {
        Ok(self
            .template(encoding)?
            .render_now(self.sends, &mut Rng::from_clock()))
    }

    /// The preview line: the next send's bytes in hex (the first [`PREVIEW_BYTES`]), made
    /// again only when the input changes; `None` when there is nothing valid to show.
    fn preview(&mut self, encoding: TextEncoding) -> Option<&str> {
        if self.text.is_empty() {
            return None;
        }
        // Compared field by field, so an unchanged box costs no copy of its text per frame.
        let fresh = self.preview.as_ref().is_some_and(|(k, _)| {
            k.text == self.text
                && k.mode == self.mode
                && k.escapes == self.escapes
                && k.line_ending == self.line_ending
                && k.encoding == encoding
                && k.sends == self.sends
                && k.language == crate::i18n::language()
        });
        if !fresh {
            let key = PreviewKey {
                text: self.text.clone(),
                mode: self.mode,
                escapes: self.escapes,
                line_ending: self.line_ending,
                encoding,
                sends: self.sends,
                language: crate::i18n::language(),
            };
            let line = match self.template(encoding) {
                Ok(t) => {
                    let bytes = t.render_now(self.sends, &mut Rng::from_clock());
                    let shown = format_hex(&bytes[..bytes.len().min(PREVIEW_BYTES)]);
                    let more = if bytes.len() > PREVIEW_BYTES {
                        " …"
                    } else {
                        ""
                    };
                    let when = if t.is_fixed() {
                        "".into()
                    } else {
                        t!("send.preview.macros")
                    };
                    t!(
                        "send.preview.line",
                        n = bytes.len(),
                        when = when,
                        shown = shown,
                        more = more
                    )
                    .into_owned()
                }
                Err(_) => String::new(),
            };
            self.preview = Some((key, line));
        }
        self.preview
            .as_ref()
            .map(|(_, line)| line.as_str())
            .filter(|l| !l.is_empty())
    }

    fn remember(&mut self) {
        let entry = HistoryEntry {
            text: self.text.clone(),
            mode: self.mode,
        };
        self.history.retain(|e| e != &entry);
        self.history.insert(0, entry);
        self.history.truncate(HISTORY_LEN);
    }

    /// Builds the payload and, when valid, records the send in the history. An invalid input
    /// leaves the text as typed and sets the inline error; nothing is returned to send.
    pub fn take_payload(&mut self, encoding: TextEncoding) -> Option<Vec<u8>> {
        match self.payload(encoding) {
            Ok(bytes) if bytes.is_empty() => {
                self.error = Some(t!("send.nothing").into_owned());
                None
            }
            Ok(bytes) => {
                self.error = None;
                self.remember();
                self.sends += 1;
                Some(bytes)
            }
            Err(message) => {
                self.error = Some(message);
                None
            }
        }
    }

    /// Draws the send box. Returns the bytes to send when the user clicked Send or pressed
    /// Enter with valid input. `can_send` greys out the button (e.g. when not connected).
    pub fn ui(&mut self, ui: &mut Ui, encoding: TextEncoding, can_send: bool) -> Option<Vec<u8>> {
        let mut send = false;
        ui.horizontal(|ui| {
            ui.label(t!("send.send_as"));
            let before = self.mode;
            ui.selectable_value(&mut self.mode, SendMode::Text, t!("send.text"));
            ui.selectable_value(&mut self.mode, SendMode::Hex, t!("send.hex"));
            if before != self.mode {
                self.error = None;
            }
            if self.mode == SendMode::Text {
                ui.checkbox(&mut self.escapes, t!("send.escapes"));
                crate::gui::widgets::label_first(ui, t!("send.line_ending"))
                    .selected_text(self.line_ending.name())
                    .show_ui(ui, |ui| {
                        for ending in LineEnding::ALL {
                            ui.selectable_value(&mut self.line_ending, ending, ending.name());
                        }
                    });
            }
            ui.menu_button(t!("send.history.label"), |ui| {
                if self.history.is_empty() {
                    ui.label(t!("send.history.empty"));
                }
                let mut picked = None;
                let (text_tag, hex_tag) = (t!("send.history.tag_text"), t!("send.history.tag_hex"));
                for entry in &self.history {
                    let tag = match entry.mode {
                        SendMode::Text => &text_tag,
                        SendMode::Hex => &hex_tag,
                    };
                    let shown: String = entry.text.chars().take(60).collect();
                    if ui.button(format!("[{tag}] {shown}")).clicked() {
                        picked = Some(entry.clone());
                    }
                }
                if let Some(entry) = picked {
                    self.text = entry.text;
                    self.mode = entry.mode;
                    self.error = None;
                    self.sends = 0;
                    ui.close();
                }
            });
        });
        ui.horizontal(|ui| {
            let label = ui.label(t!("send.message"));
            let hint = match self.mode {
                SendMode::Text => t!("send.hint.text"),
                SendMode::Hex => t!("send.hint.hex"),
            };
            let width = (ui.available_width() - 70.0).max(100.0);
            let response = ui
                .add(
                    TextEdit::singleline(&mut self.text)
                        .hint_text(hint)
                        .font(egui::TextStyle::Monospace)
                        .desired_width(width),
                )
                .labelled_by(label.id);
            if response.changed() {
                self.error = None;
                self.sends = 0;
            }
            let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let clicked =
                super::send_button(ui, egui::Button::new(t!("send.button")), can_send).clicked();
            if (enter && can_send) || clicked {
                send = true;
                response.request_focus();
            }
        });
        // One line kept for the error or, when there is none, the preview of the next send,
        // drawn whether or not there is either, so typing never moves the Send button (the
        // next click lands where the user aimed).
        if self.error.is_some() {
            super::error_slot(ui, self.error.as_deref());
        } else {
            let height = ui.text_style_height(&egui::TextStyle::Body).ceil() + 1.0;
            let (rect, _) = ui.allocate_exact_size(
                egui::vec2(ui.available_width(), height),
                egui::Sense::hover(),
            );
            if let Some(line) = self.preview(encoding) {
                let label =
                    egui::Label::new(egui::RichText::new(line).monospace().weak()).truncate();
                ui.put(rect, label);
            }
        }
        if send {
            self.take_payload(encoding)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_box(text: &str) -> SendBox {
        SendBox {
            text: text.to_owned(),
            ..SendBox::default()
        }
    }

    #[test]
    fn text_is_encoded_with_the_encoding() {
        let b = text_box("你好");
        assert_eq!(
            b.payload(TextEncoding::Gbk).unwrap(),
            vec![0xC4, 0xE3, 0xBA, 0xC3]
        );
        assert_eq!(b.payload(TextEncoding::Utf8).unwrap(), "你好".as_bytes());
    }

    #[test]
    fn escapes_and_line_endings() {
        let mut b = text_box(r"AT\r\x00\x1B");
        assert_eq!(b.payload(TextEncoding::Utf8).unwrap(), b"AT\r\x00\x1B");
        b.escapes = false;
        assert_eq!(b.payload(TextEncoding::Utf8).unwrap(), br"AT\r\x00\x1B");
        let mut b = text_box("hi");
        b.line_ending = LineEnding::CrLf;
        assert_eq!(b.payload(TextEncoding::Utf8).unwrap(), b"hi\r\n");
        b.line_ending = LineEnding::Lf;
        assert_eq!(b.payload(TextEncoding::Utf16Le).unwrap(), b"h\0i\0\n\0");
    }

    #[test]
    fn hex_mode_and_errors() {
        let mut b = text_box("0x48,0x65 6C");
        b.mode = SendMode::Hex;
        assert_eq!(b.payload(TextEncoding::Utf8).unwrap(), b"Hel");
        b.text = "48 6".to_owned();
        let err = b.payload(TextEncoding::Utf8).unwrap_err();
        assert!(err.contains("position 4"), "{err}");
        assert!(b.take_payload(TextEncoding::Utf8).is_none());
        assert!(b.error.is_some());
        assert!(b.history.is_empty(), "invalid input is not remembered");
        assert_eq!(b.text, "48 6", "invalid input is kept as typed");
    }

    #[test]
    fn unencodable_text_is_an_error_not_a_substitute() {
        let b = text_box("中");
        let err = b.payload(TextEncoding::Ascii).unwrap_err();
        assert!(err.contains("cannot be written in ASCII"), "{err}");
    }

    #[test]
    fn each_send_gets_the_next_counter_and_a_new_text_starts_again() {
        let mut b = text_box("n={{COUNTER:1}}");
        assert_eq!(b.take_payload(TextEncoding::Utf8).unwrap(), b"n=1");
        assert_eq!(b.take_payload(TextEncoding::Utf8).unwrap(), b"n=2");
        assert_eq!(
            b.preview(TextEncoding::Utf8),
            Some("Next send, 3 B (macros filled in as it goes): 6E 3D 33")
        );
        b.text = "{{BAD}}".to_owned();
        assert!(b.take_payload(TextEncoding::Utf8).is_none());
        assert!(b.error.as_deref().unwrap().contains("unknown macro"));
        assert_eq!(b.preview(TextEncoding::Utf8), None);
    }

    #[test]
    fn history_keeps_recent_distinct_sends() {
        let mut b = SendBox::default();
        for t in ["a", "b", "a"] {
            b.text = t.to_owned();
            assert!(b.take_payload(TextEncoding::Utf8).is_some());
        }
        let texts: Vec<_> = b.history.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["a", "b"]);
        b.text.clear();
        assert!(b.take_payload(TextEncoding::Utf8).is_none());
        assert!(b.error.as_deref().unwrap().contains("Nothing to send"));
    }
}
