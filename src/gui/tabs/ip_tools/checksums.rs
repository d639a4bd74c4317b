//! The checksum calculator: paste bytes (hex, or text with escapes) and see every checksum the
//! sessions can append or verify, in both byte orders, so a user can tell which one a device
//! uses by comparing with a frame it sent.

use egui::{RichText, Ui};
use rust_i18n::t;

use super::IpToolsTab;
use crate::codec::TextEncoding;
use crate::codec::checksum::{ByteOrder, ChecksumKind};
use crate::codec::hex::format_hex;
use crate::codec::payload::{LineEnding, PayloadSpec, SendMode, encode_payload};
use crate::gui::widgets::error_text;
use crate::gui::widgets::labelled_hint;

/// Input bytes the calculator takes (more is cut, and said).
const INPUT_MAX_BYTES: usize = 1024 * 1024;

/// What the calculator shows for one input: each checksum's wire bytes, both orders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumTable {
    pub len: usize,
    pub rows: Vec<(ChecksumKind, String, String)>,
}

impl ChecksumTable {
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            len: bytes.len(),
            rows: ChecksumKind::ALL
                .into_iter()
                .map(|kind| {
                    (
                        kind,
                        format_hex(&kind.wire_bytes(bytes, ByteOrder::Big)),
                        format_hex(&kind.wire_bytes(bytes, ByteOrder::Little)),
                    )
                })
                .collect(),
        }
    }
}

impl IpToolsTab {
    /// Recomputes the table for the current input (only when it changed).
    fn checksum_input_changed(&mut self) {
        let s = &self.settings;
        let spec = PayloadSpec {
            text: &s.checksum_input,
            mode: if s.checksum_hex {
                SendMode::Hex
            } else {
                SendMode::Text
            },
            escapes: true,
            line_ending: LineEnding::None,
            encoding: TextEncoding::Utf8,
        };
        self.checksums = Some(
            encode_payload(&spec)
                .map(|bytes| ChecksumTable::of(&bytes[..bytes.len().min(INPUT_MAX_BYTES)])),
        );
    }

    pub(super) fn checksums_ui(&mut self, ui: &mut Ui) {
        ui.label(RichText::new(t!("ip_tools.checksums.intro")).weak());
        let mut changed = self.checksums.is_none();
        ui.horizontal(|ui| {
            ui.label(t!("ip_tools.checksums.input_as"));
            changed |= ui
                .selectable_value(&mut self.settings.checksum_hex, true, "Hex")
                .changed();
            changed |= ui
                .selectable_value(
                    &mut self.settings.checksum_hex,
                    false,
                    t!("ip_tools.checksums.text"),
                )
                .changed();
        });
        ui.horizontal(|ui| {
            changed |= labelled_hint(
                ui,
                &t!("ip_tools.checksums.bytes"),
                &mut self.settings.checksum_input,
                420.0,
                "01 03 00 00 00 0A",
            )
            .changed();
        });
        if changed {
            self.checksum_input_changed();
        }
        match &self.checksums {
            Some(Err(e)) => error_text(ui, &t!("ip_tools.checksums.bytes_error", error = e)),
            Some(Ok(table)) => {
                ui.label(t!("ip_tools.checksums.count", count = table.len));
                egui::Grid::new("checksum-table")
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        ui.strong(t!("ip_tools.checksums.column.checksum"));
                        ui.strong(t!("ip_tools.checksums.column.high_first"));
                        ui.strong(t!("ip_tools.checksums.column.low_first"));
                        ui.end_row();
                        for (kind, be, le) in &table.rows {
                            let name = ui.label(kind.name());
                            if !kind.about().is_empty() {
                                name.on_hover_text(kind.about());
                            }
                            ui.monospace(be);
                            if kind.width_bytes() > 1 {
                                ui.monospace(le);
                            } else {
                                ui.label("");
                            }
                            ui.end_row();
                        }
                    });
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_every_checksum_in_both_orders() {
        let table = ChecksumTable::of(&[0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]);
        assert_eq!(table.rows.len(), ChecksumKind::ALL.len());
        let modbus = table
            .rows
            .iter()
            .find(|r| r.0 == ChecksumKind::Crc16Modbus)
            .unwrap();
        assert_eq!((modbus.1.as_str(), modbus.2.as_str()), ("CD C5", "C5 CD"));
    }
}
