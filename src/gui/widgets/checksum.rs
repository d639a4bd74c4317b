//! The checksum row of a traffic session: which checksum (if any) is appended to every send
//! and verified at the end of every received record, in which byte order, over which bytes.
//! The session's pipeline does the work in the worker; this only holds the choice and shows
//! what a send will carry.

use egui::{RichText, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::codec::checksum::{ByteOrder, ChecksumKind, ChecksumSpec};
use crate::codec::hex::format_hex;
use crate::engine::session::PipelineSpec;
use crate::gui::widgets::{SendBox, labelled_drag};
use crate::settings::{Bounded, clamp_number, join};

/// Longest message the send preview computes the checksum of on each frame.
const PREVIEW_MAX_BYTES: usize = 4096;

/// Most bytes at the start a checksum may skip.
const START_MAX: usize = 1024;

/// What the checksum row saves. The kind is saved by its catalogue name, so a file stays
/// readable when the list grows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChecksumSettings {
    /// Catalogue name; empty for none.
    pub kind: String,
    /// True: least significant byte first.
    pub little_endian: bool,
    pub start: usize,
    pub append_on_send: bool,
    pub verify_received: bool,
}

impl Default for ChecksumSettings {
    fn default() -> Self {
        Self {
            kind: String::new(),
            little_endian: false,
            start: 0,
            append_on_send: true,
            verify_received: true,
        }
    }
}

impl Bounded for ChecksumSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        if !self.kind.is_empty() && self.kind.parse::<ChecksumKind>().is_err() {
            notes.push(format!(
                "{}: unknown checksum \"{}\"; using none", // i18n-exempt: settings notes precede the saved language.
                join(path, "kind"),
                self.kind.chars().take(40).collect::<String>()
            ));
            self.kind.clear();
        }
        clamp_number(
            &mut self.start,
            &(0..=START_MAX),
            &join(path, "start"),
            notes,
        );
    }
}

impl ChecksumSettings {
    /// The chosen checksum, if any.
    pub fn spec(&self) -> Option<ChecksumSpec> {
        let kind = self.kind.parse::<ChecksumKind>().ok()?;
        Some(ChecksumSpec {
            kind,
            order: if self.little_endian {
                ByteOrder::Little
            } else {
                ByteOrder::Big
            },
            start: self.start,
        })
    }

    /// Puts the chosen checksum into a session's pipeline, each way as ticked.
    pub fn apply(&self, pipeline: &mut PipelineSpec) {
        let spec = self.spec();
        pipeline.append_checksum = spec.filter(|_| self.append_on_send);
        pipeline.verify_checksum = spec.filter(|_| self.verify_received);
    }

    /// The checksum controls, laid out in the caller's row; a change applies from the next
    /// start.
    pub fn ui(&mut self, ui: &mut Ui) {
        {
            let none = t!("checksum.none");
            let shown = self
                .spec()
                .map_or(none.as_ref(), |s| s.kind.name())
                .to_owned();
            let mut picked: Option<Option<ChecksumKind>> = None;
            crate::gui::widgets::label_first(ui, t!("checksum.label"))
                .selected_text(shown)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(self.kind.is_empty(), none.as_ref())
                        .clicked()
                    {
                        picked = Some(None);
                    }
                    for kind in ChecksumKind::ALL {
                        let chosen = self.spec().is_some_and(|s| s.kind == kind);
                        let mut option = ui.selectable_label(chosen, kind.name());
                        if !kind.about().is_empty() {
                            option = option.on_hover_text(kind.about());
                        }
                        if option.clicked() {
                            picked = Some(Some(kind));
                        }
                    }
                })
                .response
                .on_hover_text(t!("checksum.hover"));
            if let Some(kind) = picked {
                match kind {
                    None => self.kind.clear(),
                    Some(kind) => {
                        kind.name().clone_into(&mut self.kind);
                        self.little_endian = kind.usual_order() == ByteOrder::Little;
                    }
                }
            }
            let Some(spec) = self.spec() else {
                return;
            };
            if spec.kind.width_bytes() > 1 {
                ui.checkbox(&mut self.little_endian, t!("checksum.low_first.label"))
                    .on_hover_text(t!("checksum.low_first.hover"));
            }
            labelled_drag(
                ui,
                &t!("checksum.skip.label"),
                &mut self.start,
                0..=START_MAX,
            )
            .on_hover_text(t!("checksum.skip.hover"));
            ui.checkbox(&mut self.append_on_send, t!("checksum.append"));
            ui.checkbox(&mut self.verify_received, t!("checksum.verify"));
        }
    }

    /// One line under the send box saying what the next send will end with.
    pub fn preview_ui(&self, ui: &mut Ui, send_box: &SendBox, encoding: TextEncoding) {
        let Some(spec) = self.spec().filter(|_| self.append_on_send) else {
            return;
        };
        let order = if spec.kind.width_bytes() == 1 {
            "".into()
        } else if spec.order == ByteOrder::Little {
            t!("checksum.order.low")
        } else {
            t!("checksum.order.high")
        };
        let text = match send_box.payload(encoding) {
            Ok(bytes) if !bytes.is_empty() && bytes.len() <= PREVIEW_MAX_BYTES => {
                let with = spec.append(bytes.clone());
                t!(
                    "checksum.preview.ends",
                    kind = spec.kind.name(),
                    order = order,
                    hex = format_hex(&with[bytes.len()..])
                )
            }
            _ => t!(
                "checksum.preview.each",
                kind = spec.kind.name(),
                order = order
            ),
        };
        ui.label(RichText::new(text).weak());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_choice_goes_into_the_pipeline_each_way_as_ticked() {
        let mut s = ChecksumSettings {
            kind: "CRC-16/MODBUS".to_owned(),
            little_endian: true,
            ..ChecksumSettings::default()
        };
        let mut p = PipelineSpec::default();
        s.apply(&mut p);
        let spec = p.append_checksum.unwrap();
        assert_eq!(spec.kind, ChecksumKind::Crc16Modbus);
        assert_eq!(spec.order, ByteOrder::Little);
        assert_eq!(p.verify_checksum, Some(spec));
        s.append_on_send = false;
        s.apply(&mut p);
        assert_eq!(p.append_checksum, None);
        assert!(p.verify_checksum.is_some());
        s.kind.clear();
        s.apply(&mut p);
        assert_eq!(p.verify_checksum, None);
    }

    #[test]
    fn an_unknown_saved_name_falls_back_to_none_and_says_so() {
        let mut s = ChecksumSettings {
            kind: "CRC-99".to_owned(),
            start: 5000,
            ..ChecksumSettings::default()
        };
        let mut notes = Vec::new();
        s.bound("tcp_client.checksum", &mut notes);
        assert!(s.kind.is_empty());
        assert_eq!(s.start, START_MAX);
        assert_eq!(notes.len(), 2, "{notes:?}");
    }
}
