//! The traffic view: a virtualised table of the log (only visible rows are formatted), hex and
//! text side by side, a detail pane with the whole selected record, counters, and copy.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use egui::{Color32, RichText, Ui};
use egui_extras::{Column, Size, StripBuilder, TableBuilder};
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::codec::hex::{format_hex, format_hex_into};
use crate::traffic::{Direction, Record, TrafficLog, format_bytes, format_time_us};

/// Bytes of payload previewed in a row's hex column.
const HEX_PREVIEW_BYTES: usize = 16;
const HEX_ONLY_PREVIEW_BYTES: usize = 48;
/// Bytes decoded for a row's text column, and characters shown of them.
const TEXT_PREVIEW_BYTES: usize = 512;
const TEXT_PREVIEW_CHARS: usize = 160;
/// Bytes per line of the detail pane's hex dump.
const DUMP_LINE_BYTES: usize = 16;
/// Most bytes the detail pane decodes as text.
const DETAIL_TEXT_BYTES: usize = 64 * 1024;

/// Which payload columns the log shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum PayloadView {
    #[default]
    HexAndText,
    Hex,
    Text,
}

impl PayloadView {
    fn shows_hex(self) -> bool {
        matches!(self, Self::HexAndText | Self::Hex)
    }
    fn shows_text(self) -> bool {
        matches!(self, Self::HexAndText | Self::Text)
    }
}

/// View options that are saved with the tab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ViewSettings {
    pub payload: PayloadView,
    pub timestamps: bool,
    pub autoscroll: bool,
    pub show_peer: bool,
    pub cap_mib: u32,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            payload: PayloadView::HexAndText,
            timestamps: true,
            autoscroll: true,
            show_peer: true,
            cap_mib: 64,
        }
    }
}

/// The traffic view's runtime state: selection and a cache of the detail pane's text.
#[derive(Debug, Default)]
pub struct TrafficView {
    pub settings: ViewSettings,
    selected: BTreeSet<u64>,
    anchor: Option<u64>,
    detail_cache: Option<(u64, TextEncoding, String)>,
    utc_offset_seconds: i64,
}

fn direction_color(direction: Direction) -> Color32 {
    match direction {
        Direction::Received => Color32::from_rgb(0x4C, 0x9E, 0xEB),
        Direction::Sent => Color32::from_rgb(0x46, 0xA7, 0x58),
        Direction::Info => Color32::GRAY,
        Direction::Error => super::widgets::ERROR_COLOR,
    }
}

/// The hex preview of a payload: the first `max` bytes, with an ellipsis when cut.
pub fn hex_preview(bytes: &[u8], max: usize) -> String {
    let mut s = String::with_capacity(max * 3 + 2);
    format_hex_into(&bytes[..bytes.len().min(max)], &mut s);
    if bytes.len() > max {
        s.push_str(" …");
    }
    s
}

/// The text preview of a payload decoded with `encoding`, cut to a row's width.
pub fn text_preview(bytes: &[u8], encoding: TextEncoding) -> String {
    let cut = bytes.len().min(TEXT_PREVIEW_BYTES);
    let decoded = encoding.decode_for_display(&bytes[..cut]);
    let mut chars = decoded.chars();
    let mut shown: String = chars.by_ref().take(TEXT_PREVIEW_CHARS).collect();
    if chars.next().is_some() || cut < bytes.len() {
        shown.push('…');
    }
    shown
}

/// What a record's text column says: the decoded payload, or the message of info/error rows.
fn record_text(record: &Record, encoding: TextEncoding) -> String {
    match record.direction {
        Direction::Info | Direction::Error => String::from_utf8_lossy(&record.bytes).into_owned(),
        Direction::Received | Direction::Sent => text_preview(&record.bytes, encoding),
    }
}

impl TrafficView {
    pub fn new(settings: ViewSettings) -> Self {
        Self {
            settings,
            utc_offset_seconds: i64::from(chrono::Local::now().offset().local_minus_utc()),
            ..Self::default()
        }
    }

    /// The local time zone's offset used for timestamps.
    pub fn utc_offset_seconds(&self) -> i64 {
        self.utc_offset_seconds
    }

    /// Ids of the selected records, oldest first.
    pub fn selected(&self) -> &BTreeSet<u64> {
        &self.selected
    }

    /// Selected records as hex, one line per record.
    pub fn copy_hex(&self, log: &TrafficLog) -> String {
        self.selected
            .iter()
            .filter_map(|id| log.get_by_id(*id))
            .map(|r| format_hex(&r.bytes))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Selected records as decoded text (escapes visible), one line per record.
    pub fn copy_text(&self, log: &TrafficLog, encoding: TextEncoding) -> String {
        self.selected
            .iter()
            .filter_map(|id| log.get_by_id(*id))
            .map(|r| match r.direction {
                Direction::Info | Direction::Error => {
                    String::from_utf8_lossy(&r.bytes).into_owned()
                }
                _ => encoding.decode_for_display(&r.bytes),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn click_row(&mut self, id: u64, modifiers: egui::Modifiers) {
        if modifiers.shift
            && let Some(anchor) = self.anchor
        {
            let (a, b) = if anchor <= id {
                (anchor, id)
            } else {
                (id, anchor)
            };
            self.selected = (a..=b).collect();
        } else if modifiers.command || modifiers.ctrl {
            if !self.selected.remove(&id) {
                self.selected.insert(id);
            }
            self.anchor = Some(id);
        } else if self.selected.len() == 1 && self.selected.contains(&id) {
            self.selected.clear();
            self.anchor = None;
        } else {
            self.selected = std::iter::once(id).collect();
            self.anchor = Some(id);
        }
    }

    /// The toolbar: encoding, columns, options, clear, copy and counters.
    pub fn toolbar_ui(
        &mut self,
        ui: &mut Ui,
        log: &mut TrafficLog,
        encoding: &mut TextEncoding,
        rates: (f64, f64),
    ) {
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_label("Encoding")
                .selected_text(encoding.name())
                .show_ui(ui, |ui| {
                    for enc in TextEncoding::ALL {
                        ui.selectable_value(encoding, enc, enc.name());
                    }
                });
            ui.separator();
            ui.label("Show");
            let s = &mut self.settings;
            ui.selectable_value(&mut s.payload, PayloadView::HexAndText, "Hex + Text");
            ui.selectable_value(&mut s.payload, PayloadView::Hex, "Hex only");
            ui.selectable_value(&mut s.payload, PayloadView::Text, "Text only");
            ui.checkbox(&mut s.timestamps, "Timestamps");
            ui.checkbox(&mut s.autoscroll, "Auto-scroll");
            ui.separator();
            let cap =
                super::widgets::labelled_drag(ui, "History cap (MiB)", &mut s.cap_mib, 1..=16_384);
            if cap.changed() {
                log.set_cap_bytes(s.cap_mib as usize * 1024 * 1024);
            }
            ui.separator();
            if ui.button("Clear").clicked() {
                log.clear();
                self.selected.clear();
                self.anchor = None;
                self.detail_cache = None;
            }
            let has_selection = !self.selected.is_empty();
            if ui
                .add_enabled(has_selection, egui::Button::new("Copy hex"))
                .on_disabled_hover_text("Select rows first (click, Ctrl+click, Shift+click)")
                .clicked()
            {
                let text = self.copy_hex(log);
                ui.ctx().copy_text(text);
            }
            if ui
                .add_enabled(has_selection, egui::Button::new("Copy text"))
                .on_disabled_hover_text("Select rows first (click, Ctrl+click, Shift+click)")
                .clicked()
            {
                let text = self.copy_text(log, *encoding);
                ui.ctx().copy_text(text);
            }
        });
        let c = log.counters();
        let mut stats = format!(
            "Received {} in {} reads | Sent {} in {} writes | In {}/s  Out {}/s | Stored {} records, {} of {}",
            format_bytes(c.rx_bytes),
            c.rx_packets,
            format_bytes(c.tx_bytes),
            c.tx_packets,
            format_bytes(rates.0 as u64),
            format_bytes(rates.1 as u64),
            log.len(),
            format_bytes(log.stored_bytes() as u64),
            format_bytes(log.cap_bytes() as u64),
        );
        if log.evicted_records() > 0 {
            let _ = write!(
                stats,
                " | Evicted {} oldest records ({}) to stay under the cap",
                log.evicted_records(),
                format_bytes(log.evicted_bytes())
            );
        }
        ui.label(RichText::new(stats).small());
    }

    /// The detail pane for a single selected record: full hex dump and decoded text.
    pub fn detail_ui(&mut self, ui: &mut Ui, log: &TrafficLog, encoding: TextEncoding) {
        let Some(&id) = self.selected.iter().next() else {
            ui.label("Select a row to see all of its bytes here.");
            return;
        };
        if self.selected.len() > 1 {
            ui.label(format!("{} rows selected.", self.selected.len()));
            return;
        }
        let Some(record) = log.get_by_id(id) else {
            ui.label("The selected record was evicted from the history.");
            return;
        };
        let peer = match (record.direction, record.peer) {
            (Direction::Received, Some(p)) => format!(" from {p}"),
            (_, Some(p)) => format!(" to {p}"),
            (_, None) => String::new(),
        };
        ui.label(format!(
            "Record #{id}: {} {} bytes{peer}",
            match record.direction {
                Direction::Received => "received",
                Direction::Sent => "sent",
                Direction::Info => "info",
                Direction::Error => "error",
            },
            record.bytes.len(),
        ));
        let fresh =
            matches!(&self.detail_cache, Some((cid, cenc, _)) if *cid == id && *cenc == encoding);
        if !fresh {
            let cut = record.bytes.len().min(DETAIL_TEXT_BYTES);
            let text = match record.direction {
                Direction::Info | Direction::Error => {
                    String::from_utf8_lossy(&record.bytes).into_owned()
                }
                _ => encoding.decode_for_display(&record.bytes[..cut]),
            };
            self.detail_cache = Some((id, encoding, text));
        }
        let bytes = &record.bytes;
        // The dump gets the width of one full line when there is room (never more than two
        // thirds of the pane), the decoded text the rest; a narrower dump scrolls sideways
        // instead of running under the text.
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let char_w = ui.ctx().fonts_mut(|f| f.glyph_width(&font, '0'));
        let dump_chars = 8 + 2 + 3 * DUMP_LINE_BYTES - 1 + 2 + DUMP_LINE_BYTES;
        let dump_w = (char_w * dump_chars as f32 + 16.0).min(ui.available_width() * 2.0 / 3.0);
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace);
        StripBuilder::new(ui)
            .size(Size::exact(dump_w))
            .size(Size::remainder())
            .horizontal(|mut strip| {
                let lines = bytes.len().div_ceil(DUMP_LINE_BYTES);
                strip.cell(|ui| {
                    egui::ScrollArea::both()
                        .id_salt("detail-hex")
                        .auto_shrink(false)
                        .show_rows(ui, row_h, lines, |ui, range| {
                            for line in range {
                                let start = line * DUMP_LINE_BYTES;
                                let chunk =
                                    &bytes[start..(start + DUMP_LINE_BYTES).min(bytes.len())];
                                let ascii: String = chunk
                                    .iter()
                                    .map(|&b| {
                                        if b.is_ascii_graphic() || b == b' ' {
                                            char::from(b)
                                        } else {
                                            '.'
                                        }
                                    })
                                    .collect();
                                ui.add(
                                    egui::Label::new(
                                        RichText::new(format!(
                                            "{start:08X}  {:<47}  {ascii}",
                                            format_hex(chunk)
                                        ))
                                        .monospace(),
                                    )
                                    .extend(),
                                );
                            }
                        });
                });
                strip.cell(|ui| {
                    if let Some((_, _, text)) = &self.detail_cache {
                        egui::ScrollArea::vertical()
                            .id_salt("detail-text")
                            .auto_shrink(false)
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(text.as_str()).monospace())
                                        .wrap(),
                                );
                                if bytes.len() > DETAIL_TEXT_BYTES {
                                    ui.label(format!(
                                        "(first {} shown; use Copy text for all)",
                                        format_bytes(DETAIL_TEXT_BYTES as u64)
                                    ));
                                }
                            });
                    }
                });
            });
    }

    /// The layout every traffic tab shares: while rows are selected, a resizable detail pane
    /// docked at the bottom (`{id}-detail`); in the central panel, the toolbar over the table of
    /// `rows` (every record when `None`). Panels the tab added before this keep their place.
    pub fn panes_ui(
        &mut self,
        ui: &mut Ui,
        id: &str,
        log: &mut TrafficLog,
        encoding: &mut TextEncoding,
        rates: (f64, f64),
        rows: Option<&[u64]>,
    ) {
        if !self.selected.is_empty() {
            egui::Panel::bottom(format!("{id}-detail"))
                .resizable(true)
                .default_size(160.0)
                .show(ui, |ui| self.detail_ui(ui, log, *encoding));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.toolbar_ui(ui, log, encoding, rates);
            ui.separator();
            self.table_rows_ui(ui, log, *encoding, rows);
        });
    }

    /// The virtualised log table. Only the rows in view are formatted.
    pub fn table_ui(&mut self, ui: &mut Ui, log: &TrafficLog, encoding: TextEncoding) {
        self.table_rows_ui(ui, log, encoding, None);
    }

    /// The log table showing only the records with the given ids (oldest first), or every
    /// record when `rows` is `None`.
    pub fn table_rows_ui(
        &mut self,
        ui: &mut Ui,
        log: &TrafficLog,
        encoding: TextEncoding,
        rows: Option<&[u64]>,
    ) {
        let s = self.settings.clone();
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        let avail_width = ui.available_width();
        let mut table = TableBuilder::new(ui)
            .id_salt("traffic-log")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .stick_to_bottom(s.autoscroll)
            .auto_shrink(false)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        if s.timestamps {
            table = table.column(Column::initial(95.0).at_least(40.0));
        }
        table = table.column(Column::initial(26.0).at_least(20.0));
        if s.show_peer {
            table = table.column(Column::initial(150.0).at_least(40.0));
        }
        table = table.column(Column::initial(55.0).at_least(30.0));
        if s.payload.shows_hex() {
            let fixed = if s.timestamps { 95.0 } else { 0.0 }
                + 26.0
                + if s.show_peer { 150.0 } else { 0.0 }
                + 55.0;
            let w = if s.payload == PayloadView::Hex {
                900.0
            } else {
                ((avail_width - fixed) * 0.55).clamp(120.0, 380.0)
            };
            table = if s.payload.shows_text() {
                table.column(Column::initial(w).at_least(60.0).clip(true))
            } else {
                table.column(Column::remainder().at_least(60.0).clip(true))
            };
        }
        if s.payload.shows_text() {
            table = table.column(Column::remainder().at_least(60.0).clip(true));
        }
        let hex_bytes = if s.payload == PayloadView::Hex {
            HEX_ONLY_PREVIEW_BYTES
        } else {
            HEX_PREVIEW_BYTES
        };
        let mut clicked: Option<u64> = None;
        table
            .header(20.0, |mut header| {
                if s.timestamps {
                    header.col(|ui| {
                        ui.strong("Time");
                    });
                }
                header.col(|ui| {
                    ui.strong("Dir");
                });
                if s.show_peer {
                    header.col(|ui| {
                        ui.strong("Peer");
                    });
                }
                header.col(|ui| {
                    ui.strong("Bytes");
                });
                if s.payload.shows_hex() {
                    header.col(|ui| {
                        ui.strong("Hex bytes");
                    });
                }
                if s.payload.shows_text() {
                    header.col(|ui| {
                        ui.strong(format!("Text ({})", encoding.name()));
                    });
                }
            })
            .body(|body| {
                let count = rows.map_or(log.len(), <[u64]>::len);
                body.rows(row_h, count, |mut row| {
                    let index = row.index();
                    let id = match rows {
                        Some(ids) => ids[index],
                        None => log.first_id() + index as u64,
                    };
                    let Some(record) = log.get_by_id(id) else {
                        return;
                    };
                    row.set_selected(self.selected.contains(&id));
                    let color = direction_color(record.direction);
                    let mono = |text: String| {
                        egui::Label::new(RichText::new(text).monospace().color(color))
                            .selectable(false)
                            .truncate()
                    };
                    if s.timestamps {
                        row.col(|ui| {
                            ui.add(mono(format_time_us(
                                record.time_us,
                                self.utc_offset_seconds,
                            )));
                        });
                    }
                    row.col(|ui| {
                        ui.add(mono(record.direction.marker().to_owned()));
                    });
                    if s.show_peer {
                        row.col(|ui| {
                            ui.add(mono(record.peer.map(|p| p.to_string()).unwrap_or_default()));
                        });
                    }
                    let is_message = matches!(record.direction, Direction::Info | Direction::Error);
                    row.col(|ui| {
                        if !is_message {
                            ui.add(mono(record.bytes.len().to_string()));
                        }
                    });
                    if s.payload.shows_hex() {
                        row.col(|ui| {
                            if is_message && !s.payload.shows_text() {
                                ui.add(mono(record_text(record, encoding)));
                            } else if !is_message {
                                ui.add(mono(hex_preview(&record.bytes, hex_bytes)));
                            }
                        });
                    }
                    if s.payload.shows_text() {
                        row.col(|ui| {
                            ui.add(mono(record_text(record, encoding)));
                        });
                    }
                    if row.response().clicked() {
                        clicked = Some(id);
                    }
                });
            });
        if let Some(id) = clicked {
            let modifiers = ui.input(|i| i.modifiers);
            self.click_row(id, modifiers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_cut_and_mark() {
        assert_eq!(hex_preview(&[0xC4, 0xE3], 16), "C4 E3");
        assert_eq!(hex_preview(&[0u8; 20], 2), "00 00 …");
        assert_eq!(
            text_preview(&[0xC4, 0xE3, 0xBA, 0xC3], TextEncoding::Gbk),
            "你好"
        );
        let long = vec![b'a'; 1000];
        let p = text_preview(&long, TextEncoding::Utf8);
        assert!(p.ends_with('…'));
        assert_eq!(p.chars().count(), TEXT_PREVIEW_CHARS + 1);
    }

    #[test]
    fn selection_click_ctrl_shift_and_copy() {
        let mut log = TrafficLog::default();
        for b in [b"A".as_slice(), b"B", b"C", b"D"] {
            log.push(Record::new(Direction::Received, None, b));
        }
        let mut view = TrafficView::default();
        view.click_row(1, egui::Modifiers::NONE);
        view.click_row(3, egui::Modifiers::SHIFT);
        assert_eq!(
            view.selected().iter().copied().collect::<Vec<_>>(),
            [1, 2, 3]
        );
        assert_eq!(view.copy_hex(&log), "42\n43\n44");
        view.click_row(2, egui::Modifiers::COMMAND);
        assert_eq!(view.copy_text(&log, TextEncoding::Utf8), "B\nD");
        view.click_row(0, egui::Modifiers::NONE);
        assert_eq!(view.selected().len(), 1);
        view.click_row(0, egui::Modifiers::NONE);
        assert!(
            view.selected().is_empty(),
            "clicking the only selected row unselects it"
        );
    }
}
