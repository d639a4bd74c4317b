//! The traffic view: a virtualised table of the log (only visible rows are formatted), hex and
//! text side by side, a detail pane with the whole selected record, counters, and copy.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use egui::{Color32, RichText, Ui};
use egui_extras::{Column, Size, StripBuilder, TableBuilder};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::codec::hex::{format_hex, format_hex_into};
use crate::gui::widgets::protocol_view::{ProtocolPane, ProtocolSettings};
use crate::traffic::peer_filter::{PeerFilter, RowFilter};
use crate::traffic::search::{Search, SearchMode};
use crate::traffic::{Check, Direction, RecordRef, TrafficLog, format_bytes, format_time_us};

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
// Independent checkboxes of the toolbar, saved as they are.
#[allow(clippy::struct_excessive_bools)]
pub struct ViewSettings {
    pub payload: PayloadView,
    pub timestamps: bool,
    pub autoscroll: bool,
    pub show_peer: bool,
    pub cap_mib: u32,
    /// Whether the detail pane under the log shows the selected record (off: the log keeps
    /// the whole height).
    pub details: bool,
    /// "Text only where readable": a lone non-ASCII character among escapes (a CRC read as a
    /// Chinese character) is shown as its bytes.
    pub readable_only: bool,
    /// How the detail pane reads a record: a protocol, by port, or a layout.
    pub protocol: ProtocolSettings,
}

impl Default for ViewSettings {
    fn default() -> Self {
        Self {
            payload: PayloadView::HexAndText,
            timestamps: true,
            autoscroll: true,
            show_peer: true,
            cap_mib: 64,
            details: true,
            readable_only: false,
            protocol: ProtocolSettings::default(),
        }
    }
}

/// The traffic view's runtime state: selection, where the log is scrolled to and a cache of
/// the detail pane's text.
#[derive(Debug, Default)]
pub struct TrafficView {
    pub settings: ViewSettings,
    /// The detail pane's protocol fields.
    pub protocol: ProtocolPane,
    /// The session's own port (a server's or a bound socket's), for choosing a protocol by
    /// port when the peer's says nothing.
    pub local_port: Option<u16>,
    selected: BTreeSet<u64>,
    anchor: Option<u64>,
    detail_cache: Option<(u64, TextEncoding, String)>,
    utc_offset_seconds: i64,
    follow: Follow,
    /// A row of the log had keyboard focus in the last frame (End and Escape apply to it).
    log_focused: bool,
    /// The records with a bad checksum, kept as they arrive.
    bad_checks: PeerFilter,
    /// Show only received records whose checksum was wrong (not saved: a look, not a setting).
    bad_checks_only: bool,
    /// The search bar: what is typed, how it is read, and the incremental search it runs.
    search_text: String,
    search_mode: SearchMode,
    search: Search,
    search_error: Option<String>,
    /// Show only the records that match the search.
    matches_only: bool,
    /// Show only records of one direction.
    direction_only: Option<Direction>,
    direction_filter: PeerFilter,
    /// Show only records of one peer (an IP, any port, or IP:PORT), as typed.
    peer_text: String,
    peer_filter: PeerFilter,
    /// A record to select and bring into view on the next frame (Next / Previous).
    jump_to: Option<u64>,
    /// What a row's right-click menu asked of the tab, until the tab takes it.
    row_action: Option<RowAction>,
    /// What the tab adds to the row menu.
    menu_offers: MenuOffers,
}

/// Entries a tab adds to the log's row menu.
#[derive(Debug, Default)]
struct MenuOffers {
    /// The hover text of "Mock this device from the selected rows", where the tab offers it
    /// (a TCP Client or UDP session talking to a device).
    mock: Option<String>,
    /// "Reply to this sender" on received rows (UDP).
    reply: bool,
}

/// What a log row's right-click menu asks of its tab (copying is done by the menu itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowAction {
    /// Send these bytes again in the session.
    SendAgain(Vec<u8>),
    /// Keep these bytes as a packet in the library; `peer` and `direction` name where from.
    AddToLibrary {
        bytes: Vec<u8>,
        peer: Option<std::net::SocketAddr>,
        direction: Direction,
    },
    /// Make auto-reply rules from the selected rows ([`TrafficView::mock_plan`]).
    MockSelection,
    /// Send to the peer of this received row from now on.
    ReplyTo(std::net::SocketAddr),
}

/// `bytes` as a C array initialiser: `{ 0x01, 0x03 }`.
pub fn c_array(bytes: &[u8]) -> String {
    let items: Vec<String> = bytes.iter().map(|b| format!("0x{b:02X}")).collect();
    format!("{{ {} }}", items.join(", "))
}

/// `bytes` as a Python bytes literal: printable ASCII as itself, the rest `\xNN`.
pub fn python_bytes(bytes: &[u8]) -> String {
    let mut out = String::from("b'");
    for &b in bytes {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7E => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push('\'');
    out
}

/// Payload bytes the search looks at per frame: a full 64 MiB ring is searched in a few
/// frames, and a frame never waits long for it.
const SEARCH_BYTES_PER_FRAME: usize = 16 * 1024 * 1024;

/// Highlight behind search matches.
const MATCH_BG: Color32 = Color32::from_rgb(0x80, 0x6A, 0x00);

/// Whether the log follows the newest row, and where it stands when it does not.
///
/// Following pauses while the pointer is over the log, while a click has a row selected, and
/// after the user scrolled away from the bottom, so that rows never move under the mouse; the
/// Auto-scroll setting itself is left as the user set it. While paused, the top of the view is
/// kept by record id: appended rows do not move it, and when the ring evicts the oldest
/// records the offset shrinks by their rows, so the same records stay under the pointer.
#[derive(Debug, Default)]
struct Follow {
    /// The user asked to follow (button or End) and has not moved the pointer since: hovering
    /// does not pause until the pointer moves again.
    hover_suppressed: bool,
    /// A click selected rows; cleared by deselecting or by jumping to the newest row.
    selection_pause: bool,
    /// The user scrolled (wheel or scroll bar) to somewhere above the bottom.
    scrolled_away: bool,
    /// The top of the view: the record in the top row and how many points of it are scrolled
    /// past. Taken from what was drawn while following, else from the scroll area's offset.
    top: Option<(u64, f32)>,
    /// The offset the scroll area will start the next frame with unless it is told another.
    next_offset: f32,
    /// Records from this id on arrived after following last showed the newest row.
    seen_end: u64,
    /// The last frame's viewport height, and how much taller the content was than its rows.
    viewport_height: Option<f32>,
    content_extra: f32,
}

/// The rows the table shows: every stored record, or a filtered list of ids (oldest first).
#[derive(Debug, Clone, Copy)]
enum RowIds<'a> {
    All { first: u64, len: usize },
    Only(&'a [u64]),
}

impl RowIds<'_> {
    fn len(self) -> usize {
        match self {
            Self::All { len, .. } => len,
            Self::Only(ids) => ids.len(),
        }
    }

    fn id_at(self, index: usize) -> Option<u64> {
        match self {
            Self::All { first, len } => (index < len).then(|| first + index as u64),
            Self::Only(ids) => ids.get(index).copied(),
        }
    }

    /// The row of the first record with an id of at least `id` (`len` when there is none).
    fn index_from(self, id: u64) -> usize {
        match self {
            Self::All { first, len } => {
                usize::try_from(id.saturating_sub(first)).map_or(len, |i| i.min(len))
            }
            Self::Only(ids) => ids.partition_point(|x| *x < id),
        }
    }
}

/// Most a scroll offset may differ from another and still count as the same (floating point).
const SAME_OFFSET: f32 = 0.01;

/// A row's hex preview with the bytes of `matches` on a highlight.
/// One line of the detail pane's dump (`offset  hex  ascii`), with the bytes of the selected
/// protocol field (`mark`, in record offsets) on the selection colour in both columns. A line
/// without marked bytes is one run of text, as before.
/// Which byte of a dump line (of `len` bytes) character column `column` shows: the hex
/// column starts after the 8-digit offset and two spaces, 3 characters a byte; the text
/// column after 47 hex characters and two spaces, one a byte.
fn dump_column_byte(column: usize, len: usize) -> Option<usize> {
    const HEX_START: usize = 10;
    const TEXT_START: usize = HEX_START + 3 * DUMP_LINE_BYTES + 1;
    let byte = if column >= TEXT_START {
        column - TEXT_START
    } else {
        column.checked_sub(HEX_START)? / 3
    };
    (byte < len).then_some(byte)
}

fn dump_line(
    ui: &Ui,
    start: usize,
    chunk: &[u8],
    mark: Option<&std::ops::Range<usize>>,
    mark_bg: Color32,
) -> egui::text::LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let color = ui.visuals().text_color();
    let plain = egui::TextFormat {
        font_id: font,
        color,
        ..Default::default()
    };
    let marked = egui::TextFormat {
        background: mark_bg,
        ..plain.clone()
    };
    let ascii = |b: u8| {
        if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '.'
        }
    };
    let mut job = egui::text::LayoutJob::default();
    let end = start + chunk.len();
    let Some(mark) = mark.filter(|m| m.start < end && m.end > start) else {
        let text: String = chunk.iter().map(|&b| ascii(b)).collect();
        job.append(
            &format!("{start:08X}  {:<47}  {text}", format_hex(chunk)),
            0.0,
            plain,
        );
        return job;
    };
    job.append(&format!("{start:08X}  "), 0.0, plain.clone());
    let hit = |i: usize| mark.contains(&(start + i));
    for (i, b) in chunk.iter().enumerate() {
        let f = if hit(i) { &marked } else { &plain };
        job.append(&format!("{b:02X}"), 0.0, f.clone());
        if i + 1 < DUMP_LINE_BYTES {
            let gap = if hit(i) && hit(i + 1) && i + 1 < chunk.len() {
                &marked
            } else {
                &plain
            };
            job.append(" ", 0.0, gap.clone());
        }
    }
    // The text column starts where it does on an unmarked line: 47 hex characters, 2 spaces.
    let written = 2 * chunk.len() + chunk.len().min(DUMP_LINE_BYTES - 1);
    let pad = (3 * DUMP_LINE_BYTES + 1).saturating_sub(written);
    job.append(&format!("{:pad$}", ""), 0.0, plain.clone());
    for (i, &b) in chunk.iter().enumerate() {
        let f = if hit(i) { &marked } else { &plain };
        job.append(&ascii(b).to_string(), 0.0, f.clone());
    }
    job
}

fn highlighted_hex(
    ui: &Ui,
    bytes: &[u8],
    max: usize,
    matches: &[std::ops::Range<usize>],
    color: Color32,
) -> egui::text::LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let mut job = egui::text::LayoutJob::default();
    let shown = bytes.len().min(max);
    for (i, b) in bytes[..shown].iter().enumerate() {
        let hit = matches.iter().any(|m| m.contains(&i));
        let format = egui::TextFormat {
            font_id: font.clone(),
            color,
            background: if hit { MATCH_BG } else { Color32::TRANSPARENT },
            ..Default::default()
        };
        let sep = if i + 1 < shown { " " } else { "" };
        job.append(&format!("{b:02X}"), 0.0, format.clone());
        if !sep.is_empty() {
            let next_hit = matches.iter().any(|m| m.contains(&(i + 1)));
            let gap = egui::TextFormat {
                background: if hit && next_hit {
                    MATCH_BG
                } else {
                    Color32::TRANSPARENT
                },
                ..format
            };
            job.append(sep, 0.0, gap);
        }
    }
    if bytes.len() > max {
        job.append(
            " …",
            0.0,
            egui::TextFormat {
                font_id: font,
                color,
                ..Default::default()
            },
        );
    }
    job
}

/// A row's text with each occurrence of `query` on a highlight.
fn highlighted_text(ui: &Ui, text: &str, query: &str, color: Color32) -> egui::text::LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let plain = egui::TextFormat {
        font_id: font,
        color,
        ..Default::default()
    };
    let hit = egui::TextFormat {
        background: MATCH_BG,
        ..plain.clone()
    };
    let mut job = egui::text::LayoutJob::default();
    let mut rest = text;
    while let Some(at) = rest.find(query) {
        job.append(&rest[..at], 0.0, plain.clone());
        job.append(&rest[at..at + query.len()], 0.0, hit.clone());
        rest = &rest[at + query.len()..];
    }
    job.append(rest, 0.0, plain);
    job
}

/// How long the escape starting at `rest` (which begins with a backslash) is, in bytes:
/// `\r`, `\\`, `\xNN`, `\u{…}`.
fn escape_len(rest: &str) -> usize {
    let mut after = rest.char_indices().skip(1);
    match after.next() {
        None => rest.len(),
        // Up to two hex digits (a cut row may end inside an escape, as in `\x…`).
        Some((i, 'x')) => {
            let digits = rest[i + 1..]
                .chars()
                .take(2)
                .take_while(char::is_ascii_hexdigit)
                .count();
            i + 1 + digits
        }
        Some((i, 'u')) if rest[i + 1..].starts_with('{') => {
            rest.find('}').map_or(rest.len(), |end| end + 1)
        }
        Some((i, c)) => i + c.len_utf8(),
    }
}

/// A row's text with its escapes in a dimmer shade of `color`, so bytes that are not text
/// do not read as text.
pub fn escaped_text(ui: &Ui, text: &str, color: Color32) -> egui::text::LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let plain = egui::TextFormat {
        font_id: font,
        color,
        ..Default::default()
    };
    let dim = egui::TextFormat {
        color: color.gamma_multiply(0.55),
        ..plain.clone()
    };
    let mut job = egui::text::LayoutJob::default();
    let mut rest = text;
    while let Some(at) = rest.find('\\') {
        if at > 0 {
            job.append(&rest[..at], 0.0, plain.clone());
        }
        let len = escape_len(&rest[at..]);
        job.append(&rest[at..at + len], 0.0, dim.clone());
        rest = &rest[at + len..];
    }
    if !rest.is_empty() {
        job.append(rest, 0.0, plain);
    }
    job
}

/// The ids in both sorted lists, in order.
fn sorted_intersection(a: &[u64], b: &[u64]) -> Vec<u64> {
    let (mut i, mut j) = (0, 0);
    let mut both = Vec::new();
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    both
}

fn direction_color(direction: Direction) -> Color32 {
    match direction {
        Direction::Received => Color32::from_rgb(0x4C, 0x9E, 0xEB),
        Direction::Sent => Color32::from_rgb(0x46, 0xA7, 0x58),
        Direction::Info => Color32::GRAY,
        Direction::Error => super::ERROR_COLOR,
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
pub fn text_preview(bytes: &[u8], encoding: TextEncoding, readable_only: bool) -> String {
    let cut = bytes.len().min(TEXT_PREVIEW_BYTES);
    let mut decoded = encoding.decode_for_display(&bytes[..cut]);
    if readable_only {
        decoded = encoding.readable_only(&decoded).into_owned();
    }
    let mut chars = decoded.chars();
    let mut shown: String = chars.by_ref().take(TEXT_PREVIEW_CHARS).collect();
    if chars.next().is_some() || cut < bytes.len() {
        shown.push('…');
    }
    shown
}

/// What a record's text column says: the decoded payload, or the message of info/error rows.
fn record_text(record: &RecordRef<'_>, encoding: TextEncoding, readable_only: bool) -> String {
    match record.direction {
        Direction::Info | Direction::Error => String::from_utf8_lossy(record.bytes).into_owned(),
        Direction::Received | Direction::Sent => {
            text_preview(record.bytes, encoding, readable_only)
        }
    }
}

/// A payload's whole display text, with "text only where readable" when asked.
fn payload_text(bytes: &[u8], encoding: TextEncoding, readable_only: bool) -> String {
    let text = encoding.decode_for_display(bytes);
    if readable_only {
        encoding.readable_only(&text).into_owned()
    } else {
        text
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

    /// What a row's right-click menu asked for, once.
    pub fn take_row_action(&mut self) -> Option<RowAction> {
        self.row_action.take()
    }

    /// Offers "Mock this device from the selected rows" in the row menu, with `hover` saying
    /// where the rules go.
    pub fn offer_mock(&mut self, hover: String) {
        self.menu_offers.mock = Some(hover);
    }

    /// Offers "Reply to this sender" in the menu of received rows.
    pub fn offer_reply(&mut self) {
        self.menu_offers.reply = true;
    }

    /// The sender the row menu asked to reply to, if it did; takes that request only.
    pub fn take_reply_request(&mut self) -> Option<std::net::SocketAddr> {
        match self.row_action {
            Some(RowAction::ReplyTo(peer)) => {
                self.row_action = None;
                Some(peer)
            }
            _ => None,
        }
    }

    /// Whether the row menu asked to mock the selection; takes that request only, leaving
    /// any other action for [`TrafficView::take_row_action`].
    pub fn take_mock_request(&mut self) -> bool {
        if self.row_action == Some(RowAction::MockSelection) {
            self.row_action = None;
            true
        } else {
            false
        }
    }

    /// The selected rows as a recording of a device (sent rows are this side's requests,
    /// received ones the device's answers, in log order; messages are skipped) made into
    /// rules. `datagrams`: each received row is its own datagram (UDP).
    pub fn mock_plan(
        &self,
        log: &TrafficLog,
        datagrams: bool,
    ) -> Result<crate::engine::session::mock::MockPlan, String> {
        let mut builder = crate::engine::session::mock::MockBuilder::default();
        for id in &self.selected {
            let Some(record) = log.get_by_id(*id) else {
                continue;
            };
            match record.direction {
                Direction::Sent => builder.request(record.bytes),
                Direction::Received => builder.answer(record.bytes),
                Direction::Info | Direction::Error => {}
            }
        }
        let plan = builder.finish(datagrams);
        if plan.exchanges == 0 {
            return Err(t!("log_mock.no_requests").into_owned());
        }
        Ok(plan)
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
            .map(|r| format_hex(r.bytes))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Selected records as decoded text (escapes visible), one line per record.
    pub fn copy_text(&self, log: &TrafficLog, encoding: TextEncoding) -> String {
        self.selected
            .iter()
            .filter_map(|id| log.get_by_id(*id))
            .map(|r| match r.direction {
                Direction::Info | Direction::Error => String::from_utf8_lossy(r.bytes).into_owned(),
                _ => payload_text(r.bytes, encoding, self.settings.readable_only),
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

    /// The toolbar: encoding, columns, options, clear and copy (the counters are in the
    /// status bar under the log).
    pub fn toolbar_ui(&mut self, ui: &mut Ui, log: &mut TrafficLog, encoding: &mut TextEncoding) {
        ui.horizontal_wrapped(|ui| {
            crate::gui::widgets::label_first(ui, t!("log.encoding"))
                .selected_text(encoding.name())
                .show_ui(ui, |ui| {
                    for enc in TextEncoding::ALL {
                        ui.selectable_value(encoding, enc, enc.name());
                    }
                });
            ui.separator();
            // Label before its list; one list instead of three buttons keeps the row short.
            let show = super::field_label(ui, &t!("log.show"));
            let s = &mut self.settings;
            let payload_name = |p: PayloadView| match p {
                PayloadView::HexAndText => t!("log.payload.hex_and_text"),
                PayloadView::Hex => t!("log.payload.hex"),
                PayloadView::Text => t!("log.payload.text"),
            };
            egui::ComboBox::from_id_salt("log-payload")
                .selected_text(payload_name(s.payload))
                .show_ui(ui, |ui| {
                    for p in [PayloadView::HexAndText, PayloadView::Hex, PayloadView::Text] {
                        ui.selectable_value(&mut s.payload, p, payload_name(p));
                    }
                })
                .response
                .labelled_by(show.id);
            let mut readable_changed = false;
            // Set-and-forget choices live in one menu, so the toolbar keeps to fewer rows.
            // Clicks inside (a checkbox, the cap) keep it open; a click outside closes it.
            egui::containers::menu::MenuButton::new(t!("log.view_menu"))
                .config(
                    egui::containers::menu::MenuConfig::new()
                        .close_behavior(egui::PopupCloseBehavior::CloseOnClickOutside),
                )
                .ui(ui, |ui| {
                    ui.checkbox(&mut s.timestamps, t!("log.timestamps"));
                    ui.checkbox(&mut s.details, t!("log.details.label"))
                        .on_hover_text(t!("log.details.hover"));
                    if ui
                        .checkbox(&mut s.readable_only, t!("log.readable_only.label"))
                        .on_hover_text(t!("log.readable_only.hover"))
                        .changed()
                    {
                        readable_changed = true;
                    }
                    ui.horizontal(|ui| {
                        let cap =
                            super::labelled_drag(ui, &t!("log.cap"), &mut s.cap_mib, 1..=16_384);
                        if cap.changed() {
                            log.set_cap_bytes(s.cap_mib as usize * 1024 * 1024);
                        }
                    });
                })
                .0
                .on_hover_text(t!("log.view_menu_hover"));
            if ui
                .checkbox(&mut s.autoscroll, t!("log.autoscroll"))
                .changed()
                && s.autoscroll
            {
                self.follow.resume();
            }
            if log.counters().bad_checks > 0 || self.bad_checks_only {
                ui.checkbox(&mut self.bad_checks_only, t!("log.bad_checks_only"));
            }
            ui.separator();
            if ui.button(t!("log.clear")).clicked() {
                log.clear();
                self.selected.clear();
                self.anchor = None;
                self.detail_cache = None;
                self.follow.top = None;
            }
            let has_selection = !self.selected.is_empty();
            let select_first = t!("log.select_first");
            if ui
                .add_enabled(has_selection, egui::Button::new(t!("log.copy_hex")))
                .on_disabled_hover_text(select_first.as_ref())
                .clicked()
            {
                let text = self.copy_hex(log);
                ui.ctx().copy_text(text);
            }
            if ui
                .add_enabled(has_selection, egui::Button::new(t!("log.copy_text")))
                .on_disabled_hover_text(select_first.as_ref())
                .clicked()
            {
                let text = self.copy_text(log, *encoding);
                ui.ctx().copy_text(text);
            }
            if readable_changed {
                self.detail_cache = None;
            }
        });
    }

    /// The counters: bytes and reads each way, the rates, what the ring holds and evicted.
    fn stats_line(log: &TrafficLog, rates: (f64, f64)) -> String {
        let c = log.counters();
        let mut stats = t!(
            "log.stats.main",
            rx = format_bytes(c.rx_bytes),
            reads = c.rx_packets,
            tx = format_bytes(c.tx_bytes),
            writes = c.tx_packets,
            rate_in = format_bytes(rates.0 as u64),
            rate_out = format_bytes(rates.1 as u64),
            records = log.len(),
            stored = format_bytes(log.stored_bytes() as u64),
            cap = format_bytes(log.cap_bytes() as u64)
        )
        .into_owned();
        if c.bad_checks > 0 {
            stats.push_str(&t!("log.stats.bad_checks", n = c.bad_checks));
        }
        if log.evicted_records() > 0 {
            stats.push_str(&t!(
                "log.stats.evicted",
                n = log.evicted_records(),
                bytes = format_bytes(log.evicted_bytes())
            ));
        }
        stats
    }

    /// The detail pane for a single selected record: full hex dump and decoded text.
    pub fn detail_ui(&mut self, ui: &mut Ui, log: &TrafficLog, encoding: TextEncoding) {
        let Some(&id) = self.selected.iter().next() else {
            ui.label(t!("log.detail.none"));
            return;
        };
        if self.selected.len() > 1 {
            ui.label(t!("log.detail.many", n = self.selected.len()));
            return;
        }
        let Some(record) = log.get_by_id(id) else {
            ui.label(t!("log.detail.evicted"));
            return;
        };
        let peer = match (record.direction, record.peer) {
            (Direction::Received, Some(p)) => t!("log.detail.from", peer = p),
            (_, Some(p)) => t!("log.detail.to", peer = p),
            (_, None) => Cow::Borrowed(""),
        };
        if matches!(record.direction, Direction::Info | Direction::Error) {
            if record.direction == Direction::Info {
                ui.label(t!("log.detail.event", id = id, peer = peer));
            } else {
                ui.label(t!("log.detail.error", id = id, peer = peer));
            }
        } else {
            let key = match record.direction {
                Direction::Received => "log.detail.received",
                Direction::Sent => "log.detail.sent",
                Direction::Info => "log.detail.info_bytes",
                Direction::Error => "log.detail.error_bytes",
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(t!(key, id = id, n = record.bytes.len(), peer = peer));
                self.protocol.picker_ui(ui, &mut self.settings.protocol);
            });
        }
        let fresh =
            matches!(&self.detail_cache, Some((cid, cenc, _)) if *cid == id && *cenc == encoding);
        if !fresh {
            let cut = record.bytes.len().min(DETAIL_TEXT_BYTES);
            let text = match record.direction {
                Direction::Info | Direction::Error => {
                    String::from_utf8_lossy(record.bytes).into_owned()
                }
                _ => payload_text(&record.bytes[..cut], encoding, self.settings.readable_only),
            };
            self.detail_cache = Some((id, encoding, text));
        }
        if matches!(record.direction, Direction::Info | Direction::Error) {
            // An event (connected, closed, an error) is a sentence, not data: no hex dump.
            if let Some((_, _, text)) = &self.detail_cache {
                egui::ScrollArea::vertical()
                    .id_salt("detail-event")
                    .auto_shrink(false)
                    .show(ui, |ui| {
                        let colour = direction_color(record.direction);
                        ui.label(RichText::new(text).color(colour));
                    });
            }
            return;
        }
        let bytes = &record.bytes;
        let decoded = self
            .protocol
            .decoded(
                &self.settings.protocol,
                id,
                bytes,
                (record.peer.map(|p| p.port()), self.local_port),
            )
            .is_some();
        let highlight = self.protocol.highlight();
        let mark = ui.visuals().selection.bg_fill;
        // A click on a byte of the dump (hex or text column) selects the field it belongs to.
        let mut clicked_byte = None;
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
                                let job = dump_line(ui, start, chunk, highlight.as_ref(), mark);
                                let sense = if decoded {
                                    egui::Sense::click()
                                } else {
                                    egui::Sense::hover()
                                };
                                let r = ui.add(egui::Label::new(job).extend().sense(sense));
                                if r.clicked()
                                    && let Some(pos) = r.interact_pointer_pos()
                                {
                                    let column = ((pos.x - r.rect.left()) / char_w).max(0.0);
                                    clicked_byte = dump_column_byte(column as usize, chunk.len())
                                        .map(|b| start + b);
                                }
                            }
                        });
                });
                strip.cell(|ui| {
                    if decoded {
                        self.protocol.fields_ui(ui);
                    } else if let Some((_, _, text)) = &self.detail_cache {
                        egui::ScrollArea::vertical()
                            .id_salt("detail-text")
                            .auto_shrink(false)
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(text.as_str()).monospace())
                                        .wrap(),
                                );
                                if bytes.len() > DETAIL_TEXT_BYTES {
                                    ui.label(t!(
                                        "log.detail.first_shown",
                                        size = format_bytes(DETAIL_TEXT_BYTES as u64)
                                    ));
                                }
                            });
                    }
                });
            });
        if let Some(byte) = clicked_byte {
            self.protocol.select_byte(byte);
        }
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
        // The counters in a status bar of their own, at the body text's size.
        egui::Panel::bottom(format!("{id}-status")).show(ui, |ui| {
            ui.label(Self::stats_line(log, rates));
        });
        if !self.selected.is_empty() && self.settings.details {
            // In a short window the pane must leave the log room for the rows around the
            // selection (and the new-rows button).
            let pane = DETAIL_PANE_HEIGHT.min(ui.available_height() / 3.0);
            egui::Panel::bottom(format!("{id}-detail"))
                .resizable(true)
                .default_size(pane)
                .show(ui, |ui| self.detail_ui(ui, log, *encoding));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            // Scoped by `id` so each session keeps its own scroll position and column widths.
            ui.push_id(id, |ui| {
                self.toolbar_ui(ui, log, encoding);
                self.search_ui(ui, log, *encoding);
                ui.separator();
                self.filtered_table_ui(ui, log, *encoding, rows);
            });
        });
    }

    /// The search bar: text, hex or regex; Previous / Next select and show a match; the
    /// search runs over new records each frame within a budget.
    fn search_ui(&mut self, ui: &mut Ui, log: &TrafficLog, encoding: TextEncoding) {
        let mut step: Option<bool> = None;
        ui.horizontal_wrapped(|ui| {
            let hint = match self.search_mode {
                SearchMode::Text => t!("log.search.hint.text"),
                SearchMode::Hex => t!("log.search.hint.hex"),
                SearchMode::Regex => t!("log.search.hint.regex"),
            };
            let field = super::labelled_hint(
                ui,
                &t!("log.search.label"),
                &mut self.search_text,
                160.0,
                &hint,
            );
            if field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                step = Some(true);
            }
            for mode in SearchMode::ALL {
                ui.selectable_value(&mut self.search_mode, mode, mode.name());
            }
            let found = self.search.ids().len();
            if ui
                .add_enabled(found > 0, egui::Button::new(t!("log.search.previous")))
                .on_disabled_hover_text(t!("disabled.search_step"))
                .clicked()
            {
                step = Some(false);
            }
            if ui
                .add_enabled(found > 0, egui::Button::new(t!("log.search.next")))
                .on_disabled_hover_text(t!("disabled.search_step"))
                .clicked()
            {
                step = Some(true);
            }
            ui.checkbox(&mut self.matches_only, t!("log.search.matches_only"));
            super::labelled_hint(
                ui,
                &t!("log.peer.label"),
                &mut self.peer_text,
                120.0,
                &t!("log.peer.hint"),
            )
            .on_hover_text(t!("log.peer.hover"));
            if !self.peer_text.trim().is_empty() && self.peer_only().is_none() {
                ui.label(RichText::new(t!("log.peer.invalid")).color(super::ERROR_COLOR));
            }
            let label = match self.direction_only {
                None => t!("log.direction.all"),
                Some(Direction::Received) => t!("log.direction.received"),
                Some(Direction::Sent) => t!("log.direction.sent"),
                Some(_) => t!("log.direction.messages"),
            };
            crate::gui::widgets::label_first(ui, t!("log.direction.label"))
                .selected_text(label)
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.direction_only, None, t!("log.direction.all"));
                    ui.selectable_value(
                        &mut self.direction_only,
                        Some(Direction::Received),
                        t!("log.direction.received"),
                    );
                    ui.selectable_value(
                        &mut self.direction_only,
                        Some(Direction::Sent),
                        t!("log.direction.sent"),
                    );
                });
            if let Some(e) = &self.search_error {
                ui.label(RichText::new(t!("log.search.error", e = e)).color(super::ERROR_COLOR));
            } else if self.search.is_active() {
                let progress = self.search.progress(log);
                let text = if progress < 1.0 {
                    t!(
                        "log.search.progress",
                        n = found,
                        percent = progress * 100.0 : {:.0}
                    )
                } else {
                    t!("log.search.found", n = found)
                };
                ui.label(RichText::new(text).weak());
            }
        });
        self.search_error = self
            .search
            .set(&self.search_text, self.search_mode, encoding)
            .err();
        if self.search.advance(log, SEARCH_BYTES_PER_FRAME) {
            ui.ctx().request_repaint();
        }
        if let Some(forward) = step {
            let from = self
                .anchor
                .or_else(|| self.selected.iter().next_back().copied());
            let target = if forward {
                self.search.next_after(from)
            } else {
                self.search.previous_before(from)
            };
            self.jump_to = target;
        }
    }

    /// The table with the view's own filters (bad checksums, search matches, direction) on
    /// top of the tab's `rows`. One list is shown as it is kept; only two or more are
    /// intersected.
    fn filtered_table_ui(
        &mut self,
        ui: &mut Ui,
        log: &TrafficLog,
        encoding: TextEncoding,
        rows: Option<&[u64]>,
    ) {
        let mut lists: Vec<Vec<u64>> = Vec::new();
        if self.bad_checks_only {
            self.bad_checks.ids_where(log, RowFilter::BadCheck);
            lists.push(self.bad_checks.take_ids());
        }
        if self.matches_only && self.search.is_active() {
            lists.push(self.search.take_ids());
        }
        if let Some(direction) = self.direction_only {
            self.direction_filter
                .ids_where(log, RowFilter::Direction(direction));
            lists.push(self.direction_filter.take_ids());
        }
        let peer = self.peer_only();
        if let Some(peer) = peer {
            self.peer_filter.ids_where(log, peer);
            lists.push(self.peer_filter.take_ids());
        }
        if lists.is_empty() {
            self.table_rows_ui(ui, log, encoding, rows);
            return;
        }
        let combined = (lists.len() > 1 || rows.is_some()).then(|| {
            let mut all = lists.iter();
            let first =
                rows.map_or_else(|| all.next().cloned().unwrap_or_default(), <[u64]>::to_vec);
            all.fold(first, |acc, list| sorted_intersection(&acc, list))
        });
        match &combined {
            Some(shown) => self.table_rows_ui(ui, log, encoding, Some(shown)),
            None => self.table_rows_ui(ui, log, encoding, Some(&lists[0])),
        }
        // The lists go back to the filters that keep them.
        let mut lists = lists.into_iter();
        if self.bad_checks_only {
            self.bad_checks.put_ids(lists.next().unwrap_or_default());
        }
        if self.matches_only && self.search.is_active() {
            self.search.put_ids(lists.next().unwrap_or_default());
        }
        if self.direction_only.is_some() {
            self.direction_filter
                .put_ids(lists.next().unwrap_or_default());
        }
        if peer.is_some() {
            self.peer_filter.put_ids(lists.next().unwrap_or_default());
        }
    }

    /// The ids of the rows the filters let through now (matches only, a direction, a peer,
    /// bad checksums), oldest first; `None` when no filter is on (every row shows).
    pub fn shown_ids(&mut self, log: &TrafficLog) -> Option<Vec<u64>> {
        let mut lists: Vec<Vec<u64>> = Vec::new();
        if self.bad_checks_only {
            lists.push(self.bad_checks.ids_where(log, RowFilter::BadCheck).to_vec());
        }
        if self.matches_only && self.search.is_active() {
            lists.push(self.search.ids().to_vec());
        }
        if let Some(direction) = self.direction_only {
            lists.push(
                self.direction_filter
                    .ids_where(log, RowFilter::Direction(direction))
                    .to_vec(),
            );
        }
        if let Some(peer) = self.peer_only() {
            lists.push(self.peer_filter.ids_where(log, peer).to_vec());
        }
        let mut all = lists.into_iter();
        let first = all.next()?;
        Some(all.fold(first, |acc, list| sorted_intersection(&acc, &list)))
    }

    /// The peer filter as typed, if it reads as an address.
    fn peer_only(&self) -> Option<RowFilter> {
        let text = self.peer_text.trim();
        if text.is_empty() {
            return None;
        }
        if let Ok(addr) = text.parse::<std::net::SocketAddr>() {
            return Some(RowFilter::Peer(addr));
        }
        text.trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .ok()
            .map(RowFilter::Ip)
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
        let ids = rows.map_or(
            RowIds::All {
                first: log.first_id(),
                len: log.len(),
            },
            RowIds::Only,
        );
        let row_h = ui.text_style_height(&egui::TextStyle::Monospace) + 4.0;
        let spacing_y = ui.spacing().item_spacing.y;
        let pitch = row_h + spacing_y;
        if let Some(id) = self.jump_to.take() {
            // Select the match and put it a few rows below the top of the view.
            self.selected.clear();
            self.selected.insert(id);
            self.anchor = Some(id);
            self.detail_cache = None;
            self.follow.selection_pause = true;
            let index = ids.index_from(id);
            let top = ids.id_at(index.saturating_sub(3)).unwrap_or(id);
            self.follow.top = Some((top, 0.0));
        }
        let log_rect = ui.available_rect_before_wrap();
        let hovered = ui.rect_contains_pointer(log_rect);
        let moved = ui.input(|i| i.pointer.delta() != egui::Vec2::ZERO);
        self.follow.note_pointer(hovered, moved);
        self.keys(ui, hovered);
        if self.selected.is_empty() {
            self.follow.selection_pause = false;
        }
        let following = self.settings.autoscroll && !self.follow.paused(hovered);
        let offset = self.follow.offset_to_draw(following, ids, pitch, spacing_y);
        let drawn = ui
            .scope(|ui| {
                // The view sets its offset itself (the newest row's, or its top record's after
                // appends and evictions); a rubber band would pull such an offset back to the
                // last frame's bounds and keep drifting the rows after the pointer stopped.
                ui.spacing_mut().scroll.kinetic.rubber_band = false;
                self.table(ui, log, encoding, ids, row_h, following, offset)
            })
            .inner;
        // Without a rubber band the scroll area draws at the offset it starts the frame with.
        let drawn_at = offset.unwrap_or(self.follow.next_offset);
        self.follow.observe(
            following,
            drawn_at,
            &drawn.scroll,
            ids,
            pitch,
            spacing_y,
            log.end_id(),
        );
        self.log_focused = drawn.focused;
        if drawn.action.is_some() {
            self.row_action = drawn.action;
        }
        if let Some(id) = drawn.clicked {
            let modifiers = ui.input(|i| i.modifiers);
            self.click_row(id, modifiers);
            self.follow.selection_pause = !self.selected.is_empty();
        }
        if self.settings.autoscroll && !following {
            // Only rows below the view are news; rows that arrived in sight are seen.
            let bottom = drawn.scroll.state.clamped_offset().y + drawn.scroll.inner_rect.height();
            let in_sight = ((bottom / pitch).floor().max(0.0) as usize).min(ids.len());
            self.new_rows_button_ui(ui, drawn.scroll.inner_rect, ids, ids.len() - in_sight);
        }
    }

    /// End jumps to the newest row, Escape deselects, while the pointer is over the log or one
    /// of its rows has focus (a text field keeps its own End and Escape).
    fn keys(&mut self, ui: &Ui, hovered: bool) {
        if !(hovered || self.log_focused) || ui.ctx().text_edit_focused() {
            return;
        }
        let (end, escape) = ui.input(|i| {
            (
                i.key_pressed(egui::Key::End),
                i.key_pressed(egui::Key::Escape),
            )
        });
        if end {
            self.follow.resume();
        }
        if escape {
            self.selected.clear();
            self.anchor = None;
            self.follow.selection_pause = false;
        }
    }

    /// "N new rows ↓" over the bottom of the log while following is paused and rows arrived
    /// below the view since it last showed the newest; clicking it jumps there and follows
    /// again.
    fn new_rows_button_ui(
        &mut self,
        ui: &mut Ui,
        viewport: egui::Rect,
        ids: RowIds<'_>,
        below_view: usize,
    ) {
        let new_rows = (ids.len() - ids.index_from(self.follow.seen_end)).min(below_view);
        if new_rows == 0 {
            return;
        }
        let text = RichText::new(t!("log.new_rows.button", n = new_rows)).strong();
        let font = egui::TextStyle::Button.resolve(ui.style());
        let galley =
            ui.painter()
                .layout_no_wrap(text.text().to_owned(), font, Color32::PLACEHOLDER);
        let size = galley.size() + 2.0 * ui.spacing().button_padding;
        let center = egui::pos2(
            viewport.center().x,
            viewport.bottom() - size.y / 2.0 - NEW_ROWS_MARGIN,
        );
        let button = egui::Button::new(text).fill(ui.visuals().selection.bg_fill);
        if ui
            .put(egui::Rect::from_center_size(center, size), button)
            .on_hover_text(t!("log.new_rows.hover"))
            .clicked()
        {
            self.follow.resume();
        }
    }

    /// Draws the table at `offset` (or where the scroll area stands) and says what was drawn.
    #[expect(
        clippy::too_many_arguments,
        reason = "one frame's table inputs, all used once"
    )]
    fn table(
        &self,
        ui: &mut Ui,
        log: &TrafficLog,
        encoding: TextEncoding,
        ids: RowIds<'_>,
        row_h: f32,
        following: bool,
        offset: Option<f32>,
    ) -> DrawnTable {
        let s = &self.settings;
        let avail_width = ui.available_width();
        // egui gives a click to the widget that was under the pointer in an earlier pass, and
        // the table names rows by index, which evictions shift: the record clicked is the one
        // drawn under the pointer now (following is paused there, so it is the one the user
        // saw).
        let pointer = ui.input(|i| i.pointer.press_origin().or(i.pointer.interact_pos()));
        let half_pitch = 0.5 * (row_h + ui.spacing().item_spacing.y);
        // Below this width (a small window, or beside the TCP Server's client table) every
        // column gets less, so the text column still shows; the two widths keep their own
        // remembered column sizes.
        let narrow = avail_width < 560.0;
        let spacing = ui.spacing().item_spacing.x;
        let mut table = TableBuilder::new(ui)
            .id_salt(("traffic-log", narrow))
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .stick_to_bottom(following)
            // Fit the space the panel has: taller, the rows at the bottom (and the new-rows
            // button) would be hidden under the detail pane.
            .min_scrolled_height(0.0)
            .auto_shrink(false)
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center));
        if let Some(offset) = offset {
            table = table.vertical_scroll_offset(offset);
        }
        let time_w = if narrow { 80.0 } else { 95.0 };
        if s.timestamps {
            table = table.column(Column::initial(time_w).at_least(40.0).clip(true));
        }
        table = table.column(Column::initial(26.0).at_least(20.0));
        let peer_w = if narrow {
            90.0
        } else if avail_width < 700.0 {
            115.0
        } else {
            150.0
        };
        if s.show_peer {
            table = table.column(Column::initial(peer_w).at_least(40.0).clip(true));
        }
        let bytes_w = if narrow { 45.0 } else { 55.0 };
        table = table.column(Column::initial(bytes_w).at_least(30.0).clip(true));
        if s.payload.shows_hex() {
            let columns =
                4.0 + f32::from(u8::from(s.timestamps)) + f32::from(u8::from(s.show_peer));
            let fixed = if s.timestamps { time_w } else { 0.0 }
                + 26.0
                + if s.show_peer { peer_w } else { 0.0 }
                + bytes_w
                + columns * spacing;
            let w = if s.payload == PayloadView::Hex {
                900.0
            } else if narrow {
                ((avail_width - fixed) * 0.45).clamp(40.0, 380.0)
            } else {
                ((avail_width - fixed) * 0.55).clamp(60.0, 380.0)
            };
            table = if s.payload.shows_text() {
                table.column(Column::initial(w).at_least(40.0).clip(true))
            } else {
                table.column(Column::remainder().at_least(60.0).clip(true))
            };
        }
        if s.payload.shows_text() {
            table = table.column(Column::remainder().at_least(40.0).clip(true));
        }
        let hex_bytes = if s.payload == PayloadView::Hex {
            HEX_ONLY_PREVIEW_BYTES
        } else {
            HEX_PREVIEW_BYTES
        };
        let mut any_clicked = false;
        let mut action: Option<RowAction> = None;
        let mut under_pointer: Option<u64> = None;
        let mut clicked_here: Option<u64> = None;
        let mut focused = false;
        // The rows' words, looked up once per frame rather than per row.
        let words = RowWords::new();
        let scroll = table
            .header(20.0, |mut header| {
                if s.timestamps {
                    header.col(|ui| {
                        ui.strong(t!("log.column.time"));
                    });
                }
                header.col(|ui| {
                    ui.strong(t!("log.column.dir"));
                });
                if s.show_peer {
                    header.col(|ui| {
                        ui.strong(t!("log.column.peer"));
                    });
                }
                header.col(|ui| {
                    ui.strong(t!("log.column.bytes"));
                });
                if s.payload.shows_hex() {
                    header.col(|ui| {
                        ui.strong(t!("log.column.hex"));
                    });
                }
                if s.payload.shows_text() {
                    header.col(|ui| {
                        ui.strong(t!("log.column.text", encoding = encoding.name()));
                    });
                }
            })
            .body(|body| {
                body.rows(row_h, ids.len(), |mut row| {
                    let index = row.index();
                    let Some(id) = ids.id_at(index) else {
                        return;
                    };
                    let Some(record) = log.get_by_id(id) else {
                        return;
                    };
                    row.set_selected(self.selected.contains(&id));
                    let cell = self.row_cells(&mut row, &record, encoding, hex_bytes, &words);
                    let response = row.response();
                    focused |= response.has_focus();
                    // The row's response has the last pass's rect; the cell is where it is now.
                    if pointer.is_some_and(|p| (p.y - cell.center().y).abs() <= half_pitch) {
                        under_pointer = Some(id);
                    }
                    if response.clicked() {
                        any_clicked = true;
                        clicked_here = Some(id);
                    }
                    if !matches!(record.direction, Direction::Info | Direction::Error) {
                        response.context_menu(|ui| {
                            let offers = RowOffers {
                                mock: self
                                    .menu_offers
                                    .mock
                                    .as_deref()
                                    .map(|hover| (hover, self.selected.len())),
                                reply: self.menu_offers.reply,
                            };
                            if let Some(a) = row_menu(ui, &record, encoding, offers) {
                                action = Some(a);
                            }
                        });
                    }
                });
            });
        DrawnTable {
            scroll,
            clicked: if any_clicked {
                under_pointer.or(clicked_here)
            } else {
                None
            },
            focused,
            action,
        }
    }

    /// The cells of one row (only called for rows in view); returns where this frame put
    /// the direction cell.
    fn row_cells(
        &self,
        row: &mut egui_extras::TableRow<'_, '_>,
        record: &RecordRef<'_>,
        encoding: TextEncoding,
        hex_bytes: usize,
        words: &RowWords,
    ) -> egui::Rect {
        let s = &self.settings;
        let color = if record.check == Check::Bad {
            super::ERROR_COLOR
        } else {
            direction_color(record.direction)
        };
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
        let (dir_cell, _) = row.col(|ui| {
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
                let len = record.bytes.len();
                match record.check {
                    Check::Unchecked => ui.add(mono(len.to_string())),
                    Check::Good => ui
                        .add(mono(format!("{len} {}", words.ok)))
                        .on_hover_text(words.ok_hover.as_ref()),
                    Check::Bad => ui
                        .add(mono(format!("{len} {}", words.bad)))
                        .on_hover_text(words.bad_hover.as_ref()),
                };
            }
        });
        let matches = if self.search.is_active() && !is_message {
            self.search.ranges(record.bytes, 64)
        } else {
            Vec::new()
        };
        if s.payload.shows_hex() {
            row.col(|ui| {
                if is_message && !s.payload.shows_text() {
                    ui.add(mono(record_text(record, encoding, s.readable_only)));
                } else if !is_message && matches.is_empty() {
                    ui.add(mono(hex_preview(record.bytes, hex_bytes)));
                } else if !is_message {
                    let job = highlighted_hex(ui, record.bytes, hex_bytes, &matches, color);
                    ui.add(egui::Label::new(job).selectable(false).truncate());
                }
            });
        }
        if s.payload.shows_text() {
            row.col(|ui| {
                let text = record_text(record, encoding, s.readable_only);
                let typed = (self.search_mode == SearchMode::Text && !matches.is_empty())
                    .then_some(self.search_text.as_str());
                match typed {
                    Some(query) if text.contains(query) => {
                        let job = highlighted_text(ui, &text, query, color);
                        ui.add(egui::Label::new(job).selectable(false).truncate());
                    }
                    _ if !is_message && text.contains('\\') => {
                        // Escapes (\r, \x1B, \u{85}) stand for bytes, not text: dimmer.
                        let job = escaped_text(ui, &text, color);
                        ui.add(egui::Label::new(job).selectable(false).truncate());
                    }
                    _ => {
                        ui.add(mono(text));
                    }
                }
            });
        }
        dir_cell
    }
}

/// The right-click menu of a data row: copy it in four forms, send it again, keep it.
/// What a tab adds to the row menu, for one menu.
#[derive(Clone, Copy)]
struct RowOffers<'a> {
    /// The hover text of the mock entry and how many rows are selected, where offered.
    mock: Option<(&'a str, usize)>,
    /// "Reply to this sender" on received rows.
    reply: bool,
}

fn row_menu(
    ui: &mut Ui,
    record: &RecordRef<'_>,
    encoding: TextEncoding,
    offers: RowOffers<'_>,
) -> Option<RowAction> {
    let copy = |ui: &mut Ui, label: &str, text: &dyn Fn() -> String| {
        if ui.button(label).clicked() {
            ui.ctx().copy_text(text());
            ui.close();
        }
    };
    copy(ui, &t!("log.menu.copy_hex"), &|| format_hex(record.bytes));
    copy(ui, &t!("log.menu.copy_text"), &|| {
        encoding.decode_lossy(record.bytes)
    });
    copy(ui, &t!("log.menu.copy_c"), &|| c_array(record.bytes));
    copy(ui, &t!("log.menu.copy_python"), &|| {
        python_bytes(record.bytes)
    });
    ui.separator();
    let mut action = None;
    if ui.button(t!("log.menu.send_again")).clicked() {
        action = Some(RowAction::SendAgain(record.bytes.to_vec()));
        ui.close();
    }
    if offers.reply
        && record.direction == Direction::Received
        && let Some(peer) = record.peer
        && ui
            .button(t!("log.menu.reply_to", peer = peer))
            .on_hover_text(t!("log.menu.reply_to_hover"))
            .clicked()
    {
        action = Some(RowAction::ReplyTo(peer));
        ui.close();
    }
    if ui.button(t!("log.menu.add_to_library")).clicked() {
        action = Some(RowAction::AddToLibrary {
            bytes: record.bytes.to_vec(),
            peer: record.peer,
            direction: record.direction,
        });
        ui.close();
    }
    if let Some((hover, selected)) = offers.mock {
        ui.separator();
        let clicked = ui
            .add_enabled(
                selected >= 2,
                egui::Button::new(t!("log_mock.menu", count = selected)),
            )
            .on_hover_text(hover)
            .on_disabled_hover_text(t!("log_mock.disabled"))
            .clicked();
        if clicked {
            action = Some(RowAction::MockSelection);
            ui.close();
        }
    }
    action
}

/// The words of the log's rows, looked up once per frame.
struct RowWords {
    ok: Cow<'static, str>,
    bad: Cow<'static, str>,
    ok_hover: Cow<'static, str>,
    bad_hover: Cow<'static, str>,
}

impl RowWords {
    fn new() -> Self {
        Self {
            ok: t!("log.check.ok"),
            bad: t!("log.check.bad"),
            ok_hover: t!("log.check.ok_hover"),
            bad_hover: t!("log.check.bad_hover"),
        }
    }
}

/// What one frame's table drew.
struct DrawnTable {
    scroll: egui::scroll_area::ScrollAreaOutput<()>,
    /// The record in the row that was clicked.
    clicked: Option<u64>,
    focused: bool,
    /// What a row's right-click menu asked for.
    action: Option<RowAction>,
}

/// Default height of the detail pane, when the window has room for it.
const DETAIL_PANE_HEIGHT: f32 = 160.0;

/// Gap between the new-rows button and the bottom of the log.
const NEW_ROWS_MARGIN: f32 = 10.0;

impl Follow {
    /// A pointer that left the log or moved may pause following by hovering again.
    fn note_pointer(&mut self, hovered: bool, moved: bool) {
        if !hovered || moved {
            self.hover_suppressed = false;
        }
    }

    fn paused(&self, hovered: bool) -> bool {
        (hovered && !self.hover_suppressed) || self.selection_pause || self.scrolled_away
    }

    /// Follow the newest row again: clears every pause (the selection itself stays).
    fn resume(&mut self) {
        self.hover_suppressed = true;
        self.selection_pause = false;
        self.scrolled_away = false;
    }

    /// The offset to draw this frame at: the bottom while following; while paused, the top
    /// record's row wherever appends and evictions put it, when that is not where the scroll
    /// area stands anyway (so wheel and scroll bar keep working).
    fn offset_to_draw(
        &self,
        following: bool,
        ids: RowIds<'_>,
        pitch: f32,
        spacing_y: f32,
    ) -> Option<f32> {
        if following {
            let content = ids.len() as f32 * pitch - spacing_y + self.content_extra;
            return self
                .viewport_height
                .map(|viewport| (content - viewport).max(0.0));
        }
        let (id, into) = self.top?;
        let index = ids.index_from(id);
        // The top record was evicted: the oldest stored row is the nearest to it.
        let into = if ids.id_at(index) == Some(id) {
            into
        } else {
            0.0
        };
        let target = index as f32 * pitch + into;
        ((target - self.next_offset).abs() > SAME_OFFSET).then_some(target)
    }

    /// Takes in what the frame drew and where the scroll area ended up.
    #[expect(
        clippy::too_many_arguments,
        reason = "one frame's table outputs, all used once"
    )]
    fn observe(
        &mut self,
        following: bool,
        drawn: f32,
        scroll: &egui::scroll_area::ScrollAreaOutput<()>,
        ids: RowIds<'_>,
        pitch: f32,
        spacing_y: f32,
        end_id: u64,
    ) {
        let after = scroll.state.unclamped_offset().y;
        let viewport = scroll.inner_rect.height();
        let content = scroll.content_size.y;
        self.viewport_height = Some(viewport);
        if ids.len() > 0 {
            self.content_extra = content - (ids.len() as f32 * pitch - spacing_y);
        }
        let top_at = if following {
            // What the user saw, not the jump egui makes after the rows to stay at the bottom.
            self.seen_end = end_id;
            self.scrolled_away = false;
            drawn
        } else {
            if (after - drawn).abs() > SAME_OFFSET {
                self.scrolled_away = after < content - viewport - SAME_OFFSET;
            }
            after
        };
        self.top = anchor_at(ids, top_at, pitch);
        self.next_offset = after;
    }
}

/// The record in the row at `offset` and how far into that row `offset` is.
fn anchor_at(ids: RowIds<'_>, offset: f32, pitch: f32) -> Option<(u64, f32)> {
    let last = ids.len().checked_sub(1)?;
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a non-negative row number, clamped to the rows"
    )]
    let index = ((offset.max(0.0) / pitch).floor() as usize).min(last);
    Some((ids.id_at(index)?, offset - index as f32 * pitch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::Record;

    #[test]
    fn a_dump_column_names_its_byte_in_either_column() {
        assert_eq!(dump_column_byte(0, 16), None, "the offset");
        assert_eq!(dump_column_byte(10, 16), Some(0));
        assert_eq!(dump_column_byte(12, 16), Some(0), "the space after a byte");
        assert_eq!(dump_column_byte(13, 16), Some(1));
        assert_eq!(dump_column_byte(10 + 3 * 15, 16), Some(15));
        assert_eq!(dump_column_byte(59, 16), Some(0), "the text column");
        assert_eq!(dump_column_byte(59 + 11, 12), Some(11));
        assert_eq!(dump_column_byte(59 + 12, 12), None, "past a short line");
        assert_eq!(dump_column_byte(10 + 3 * 12, 12), None, "hex padding");
    }

    #[test]
    fn escapes_are_drawn_dimmer_than_text() {
        egui::__run_test_ui(|ui| {
            let c = Color32::from_rgb(0x4C, 0x9E, 0xEB);
            let job = escaped_text(ui, "OK\\r\\n\\x1B\\u{85}é\\\\z", c);
            let parts: Vec<(&str, bool)> = job
                .sections
                .iter()
                .map(|s| {
                    (
                        &job.text[s.byte_range.start.0..s.byte_range.end.0],
                        s.format.color != c,
                    )
                })
                .collect();
            assert_eq!(
                parts,
                [
                    ("OK", false),
                    // Adjacent escapes are one dim run.
                    ("\\r\\n\\x1B\\u{85}", true),
                    ("é", false),
                    ("\\\\", true),
                    ("z", false)
                ]
            );
            // A row cut inside an escape ends in "…": no panic, the cut part stays dim.
            let cut = escaped_text(ui, "ab\\x…", c);
            assert_eq!(cut.text, "ab\\x…");
            let end = escaped_text(ui, "\\", c);
            assert_eq!(end.text, "\\");
            // Every string of these characters up to five long keeps its text, whole.
            let alphabet = ['\\', 'x', 'u', '{', '}', '…', 'a', '1'];
            let mut text = String::new();
            for n in 0..8usize.pow(5) {
                text.clear();
                let mut k = n;
                for _ in 0..5 {
                    text.push(alphabet[k % 8]);
                    k /= 8;
                }
                assert_eq!(escaped_text(ui, &text, c).text, text);
            }
        });
    }

    #[test]
    fn bytes_copy_as_c_and_python() {
        assert_eq!(c_array(&[0x01, 0xAB]), "{ 0x01, 0xAB }");
        assert_eq!(python_bytes(b"OK\r\n\x00'\\"), "b'OK\\r\\n\\x00\\'\\\\'");
    }

    #[test]
    fn previews_cut_and_mark() {
        assert_eq!(hex_preview(&[0xC4, 0xE3], 16), "C4 E3");
        assert_eq!(hex_preview(&[0u8; 20], 2), "00 00 …");
        assert_eq!(
            text_preview(&[0xC4, 0xE3, 0xBA, 0xC3], TextEncoding::Gbk, false),
            "你好"
        );
        let long = vec![b'a'; 1000];
        let p = text_preview(&long, TextEncoding::Utf8, false);
        assert!(p.ends_with('…'));
        assert_eq!(p.chars().count(), TEXT_PREVIEW_CHARS + 1);
    }

    #[test]
    fn paused_view_keeps_its_top_record_through_appends_and_evictions() {
        let pitch = 20.0;
        let mut follow = Follow {
            top: Some((10, 3.0)),
            ..Follow::default()
        };
        // A filtered view (one peer's records): ids 4 and 7 are above the top record.
        let rows = [4, 7, 10, 12];
        let at = follow.offset_to_draw(false, RowIds::Only(&rows), pitch, 2.0);
        assert_eq!(at, Some(2.0 * pitch + 3.0));
        follow.next_offset = 2.0 * pitch + 3.0;
        let appended = [4, 7, 10, 12, 15, 16];
        let at = follow.offset_to_draw(false, RowIds::Only(&appended), pitch, 2.0);
        assert_eq!(at, None, "appending below does not move the view");
        let evicted = [10, 12, 15, 16];
        let at = follow.offset_to_draw(false, RowIds::Only(&evicted), pitch, 2.0);
        assert_eq!(
            at,
            Some(3.0),
            "two rows evicted above: the offset shrinks by two rows"
        );
        let all = RowIds::All { first: 11, len: 5 };
        let at = follow.offset_to_draw(false, all, pitch, 2.0);
        assert_eq!(
            at,
            Some(0.0),
            "the top record itself is gone: the oldest row is shown"
        );
        assert_eq!(anchor_at(all, 45.0, pitch), Some((13, 5.0)));
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
