//! The packet library's side panel, shared by the TCP Client, TCP Server and UDP tabs: click
//! a packet (or press Ctrl+1…Ctrl+9 for the first nine shown) to send it in the session
//! shown; New, Edit, Duplicate, Delete, Move up/down; search; groups; Import (Sockpit or
//! Packet Sender exports) and Export as JSON. Each packet has its own `{{COUNTER}}`.

use std::collections::HashMap;
use std::path::Path;

use egui::{Key, Modifiers, RichText, TextEdit, Ui};
use rust_i18n::t;

use super::{Tone, labelled_hint};
use crate::codec::TextEncoding;
use crate::codec::library::{Library, Packet};
use crate::codec::macros::Rng;
use crate::codec::payload::{LineEnding, SendMode};

const HOTKEYS: [Key; 9] = [
    Key::Num1,
    Key::Num2,
    Key::Num3,
    Key::Num4,
    Key::Num5,
    Key::Num6,
    Key::Num7,
    Key::Num8,
    Key::Num9,
];

/// A packet being written: a new one (`index` None) or packet `index`.
#[derive(Debug, Clone)]
struct Editor {
    index: Option<usize>,
    packet: Packet,
    error: Option<String>,
}

/// What the panel asks its tab to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketSend {
    pub name: String,
    pub bytes: Vec<u8>,
    /// UDP: where to, when the packet names a destination (`HOST:PORT`).
    pub destination: Option<String>,
}

/// The library and the panel's state; the window has one, every traffic tab draws it.
pub struct LibraryPanel {
    pub library: Library,
    pub open: bool,
    pub search: String,
    editor: Option<Editor>,
    message: Option<(Tone, String)>,
    /// Sends of each packet so far: its next `{{COUNTER}}` index.
    sends: HashMap<String, u64>,
    rng: Rng,
    /// In a narrow window the panel folds to its button so the log keeps its columns; this
    /// says the user opened it there anyway (until Hide, not saved).
    shown_while_narrow: bool,
}

/// Below this width of the tab the library folds to a button by itself (it stays open in the
/// settings and unfolds when the window is wide again).
pub const FOLD_BELOW_WIDTH: f32 = 1000.0;

impl LibraryPanel {
    pub fn new(library: Library, open: bool) -> Self {
        Self {
            library,
            open,
            search: String::new(),
            editor: None,
            message: None,
            sends: HashMap::new(),
            rng: Rng::from_clock(),
            shown_while_narrow: false,
        }
    }

    /// The line under the buttons (an import's report, an export's path, a send refused).
    pub fn message(&self) -> Option<&str> {
        self.message.as_ref().map(|(_, m)| m.as_str())
    }

    pub fn say(&mut self, tone: Tone, text: impl Into<String>) {
        self.message = Some((tone, text.into()));
    }

    /// Imports the file at `path` (what the Import button does once a file is chosen).
    pub fn import_path(&mut self, path: &Path) {
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) => {
                self.say(
                    Tone::Error,
                    t!("library.cannot_read", path = path.display(), e = e),
                );
                return;
            }
        };
        match self.library.import(&text) {
            Ok(report) => {
                let tone = if report.added == 0 {
                    Tone::Error
                } else {
                    Tone::Ok
                };
                self.say(tone, report.summary());
            }
            Err(e) => self.say(Tone::Error, e),
        }
    }

    /// Carries out what a log row's right-click menu asked: a row kept as a packet is added
    /// here; bytes to send again are handed back for the tab to send its own way.
    pub fn take_row_action(
        &mut self,
        view: &mut crate::gui::widgets::TrafficView,
    ) -> Option<Vec<u8>> {
        use crate::gui::widgets::traffic_view::RowAction;
        match view.take_row_action()? {
            RowAction::SendAgain(bytes) => Some(bytes),
            RowAction::AddToLibrary {
                bytes,
                peer,
                direction,
            } => {
                self.add_bytes(&bytes, peer, direction);
                None
            }
            // The tab takes this one first (TrafficView::take_mock_request); one that offers
            // no mock never shows the entry.
            RowAction::MockSelection | RowAction::ReplyTo(_) => None,
        }
    }

    /// Keeps bytes from the log as a hex packet named after where they came from, and opens
    /// it in the editor to name it.
    pub fn add_bytes(
        &mut self,
        bytes: &[u8],
        peer: Option<std::net::SocketAddr>,
        direction: crate::traffic::Direction,
    ) {
        let (name_key, note_key) = match direction {
            crate::traffic::Direction::Sent => {
                ("library.from_log.name_to", "library.from_log.note_sent")
            }
            _ => (
                "library.from_log.name_from",
                "library.from_log.note_received",
            ),
        };
        let peer_text = peer.map_or_else(
            || t!("library.from_log.the_peer").into_owned(),
            |p| p.to_string(),
        );
        let packet = Packet {
            name: self
                .library
                .free_name(&t!(name_key, peer = peer_text), None),
            payload: crate::codec::hex::format_hex(bytes),
            mode: SendMode::Hex,
            note: t!(note_key, n = bytes.len(), peer = peer_text).into_owned(),
            ..Packet::default()
        };
        if let Err(e) = self.library.check(&packet, None) {
            self.say(Tone::Error, t!("library.not_added", e = e));
            return;
        }
        self.library.packets.push(packet.clone());
        self.open = true;
        self.say(Tone::Ok, t!("library.added", name = packet.name));
        self.editor = Some(Editor {
            index: Some(self.library.packets.len() - 1),
            packet,
            error: None,
        });
    }

    /// Writes the library to `path` as JSON (what Export does once a path is chosen).
    pub fn export_path(&mut self, path: &Path) {
        match std::fs::write(path, self.library.to_json()) {
            Ok(()) => {
                let n = self.library.packets.len();
                self.say(
                    Tone::Ok,
                    t!("library.exported", n = n, path = path.display()),
                );
            }
            Err(e) => self.say(
                Tone::Error,
                t!("library.cannot_write", path = path.display(), e = e),
            ),
        }
    }

    /// The bytes of packet `index`'s next send (its counter moves on), or why not.
    pub fn render(&mut self, index: usize) -> Result<PacketSend, String> {
        let packet = self
            .library
            .packets
            .get(index)
            .ok_or_else(|| t!("library.gone").into_owned())?;
        let template = packet
            .template()
            .map_err(|e| format!("\"{}\": {e}", packet.name))?;
        let n = self.sends.entry(packet.name.clone()).or_insert(0);
        let bytes = template.render_now(*n, &mut self.rng);
        *n += 1;
        let destination = packet.destination.trim();
        Ok(PacketSend {
            name: packet.name.clone(),
            bytes,
            destination: (!destination.is_empty()).then(|| destination.to_owned()),
        })
    }

    /// Draws the panel on the right of a tab (`id` tells the sessions' panels apart).
    /// Returns a packet to send when one was clicked or hot-keyed and `can_send`.
    pub fn ui(&mut self, ui: &mut Ui, id: &str, can_send: bool) -> Option<PacketSend> {
        let narrow = ui.available_width() < FOLD_BELOW_WIDTH;
        let folded = self.open && !self.shown_while_narrow && narrow;
        if !self.open || folded {
            let mut show = false;
            egui::Panel::right(format!("{id}-library-closed"))
                .resizable(false)
                .show(ui, |ui| {
                    show = ui
                        .button(t!("library.packets.button"))
                        .on_hover_text(if folded {
                            t!("library.packets.folded")
                        } else {
                            t!("library.packets.show")
                        })
                        .clicked();
                });
            if show {
                self.open = true;
                self.shown_while_narrow = narrow;
            }
            return None;
        }
        let mut send = None;
        egui::Panel::right(format!("{id}-library"))
            .resizable(true)
            .default_size(200.0)
            .size_range(160.0..=480.0)
            .show(ui, |ui| {
                send = self.panel_ui(ui, can_send);
            });
        send
    }

    fn panel_ui(&mut self, ui: &mut Ui, can_send: bool) -> Option<PacketSend> {
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            ui.strong(t!("library.title"));
            if ui.small_button(t!("library.hide")).clicked() {
                self.open = false;
                self.shown_while_narrow = false;
            }
        });
        ui.horizontal_wrapped(|ui| {
            if ui.button(t!("library.new")).clicked() {
                self.editor = Some(Editor {
                    index: None,
                    packet: Packet::default(),
                    error: None,
                });
            }
            if ui.button(t!("library.import")).clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter(t!("library.import_filter"), &["json", "ini"])
                    .pick_file()
            {
                self.import_path(&path);
            }
            if ui.button(t!("library.export")).clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .set_file_name("sockpit-packets.json")
                    .save_file()
            {
                self.export_path(&path);
            }
        });
        if let Some((tone, text)) = &self.message {
            ui.label(RichText::new(text).color(tone.colour()).small());
        }
        if self.editor.is_some() {
            self.editor_ui(ui);
            return None;
        }
        ui.horizontal(|ui| {
            let width = (ui.available_width() - 75.0).max(60.0);
            labelled_hint(
                ui,
                &t!("library.find"),
                &mut self.search,
                width,
                &t!("library.find_hint"),
            );
        });
        ui.separator();
        let shown = self.library.search(&self.search);
        let mut clicked = None;
        // Ctrl+1…9 send the first nine packets shown.
        for (k, key) in HOTKEYS.iter().enumerate() {
            if let Some(&index) = shown.get(k)
                && ui.input_mut(|i| i.consume_key(Modifiers::COMMAND, *key))
            {
                clicked = Some(index);
            }
        }
        let mut action = None;
        // Looked up once, not per packet and frame.
        let no_group = t!("library.no_group");
        let edit_menu = t!("library.edit_menu");
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| {
                if self.library.packets.is_empty() {
                    ui.label(RichText::new(t!("library.empty")).weak());
                } else if shown.is_empty() {
                    ui.label(RichText::new(t!("library.no_match")).weak());
                }
                let mut group: Option<&str> = None;
                for (k, &index) in shown.iter().enumerate() {
                    let packet = &self.library.packets[index];
                    if group != Some(packet.group.as_str()) {
                        group = Some(packet.group.as_str());
                        if !packet.group.is_empty() || k > 0 {
                            let title = if packet.group.is_empty() {
                                no_group.as_ref()
                            } else {
                                packet.group.as_str()
                            };
                            ui.label(RichText::new(title).weak().small());
                        }
                    }
                    ui.horizontal(|ui| {
                        let hint = if k < 9 {
                            format!("Ctrl+{}", k + 1)
                        } else {
                            String::new()
                        };
                        let button =
                            super::send_button(ui, egui::Button::new(&packet.name), can_send)
                                .on_hover_text(if packet.note.is_empty() {
                                    packet.payload.clone()
                                } else {
                                    format!("{}\n{}", packet.note, packet.payload)
                                });
                        if button.clicked() {
                            clicked = Some(index);
                        }
                        if !hint.is_empty() {
                            ui.label(RichText::new(hint).weak().small());
                        }
                        ui.menu_button(edit_menu.as_ref(), |ui| {
                            if ui.button(t!("library.edit_packet")).clicked() {
                                action = Some(("edit", index));
                                ui.close();
                            }
                            if ui.button(t!("library.duplicate")).clicked() {
                                action = Some(("duplicate", index));
                                ui.close();
                            }
                            if ui.button(t!("library.move_up")).clicked() {
                                action = Some(("up", index));
                                ui.close();
                            }
                            if ui.button(t!("library.move_down")).clicked() {
                                action = Some(("down", index));
                                ui.close();
                            }
                            if ui.button(t!("library.delete")).clicked() {
                                action = Some(("delete", index));
                                ui.close();
                            }
                        });
                    });
                }
            });
        match action {
            Some(("edit", i)) => {
                self.editor = self.library.packets.get(i).map(|p| Editor {
                    index: Some(i),
                    packet: p.clone(),
                    error: None,
                });
            }
            Some(("duplicate", i)) if self.library.duplicate(i).is_none() => {
                self.say(Tone::Error, t!("library.full"));
            }
            Some(("up", i)) => self.library.shift(i, -1),
            Some(("down", i)) => self.library.shift(i, 1),
            Some(("delete", i)) if i < self.library.packets.len() => {
                let gone = self.library.packets.remove(i);
                self.say(Tone::Neutral, t!("library.deleted", name = gone.name));
            }
            _ => {}
        }
        let index = clicked.filter(|_| can_send)?;
        match self.render(index) {
            Ok(send) => Some(send),
            Err(e) => {
                self.say(Tone::Error, e);
                None
            }
        }
    }

    fn editor_ui(&mut self, ui: &mut Ui) {
        let Some(editor) = &mut self.editor else {
            return;
        };
        ui.separator();
        ui.strong(if editor.index.is_some() {
            t!("library.edit_packet")
        } else {
            t!("library.new_packet")
        });
        let p = &mut editor.packet;
        let mut changed = false;
        changed |= labelled_hint(
            ui,
            &t!("library.name"),
            &mut p.name,
            140.0,
            &t!("hint.packet_name"),
        )
        .changed();
        changed |= labelled_hint(
            ui,
            &t!("library.group"),
            &mut p.group,
            140.0,
            &t!("hint.packet_group"),
        )
        .changed();
        ui.horizontal(|ui| {
            ui.label(t!("library.payload_as"));
            changed |= ui
                .selectable_value(&mut p.mode, SendMode::Text, t!("library.text"))
                .changed();
            changed |= ui
                .selectable_value(&mut p.mode, SendMode::Hex, t!("library.hex"))
                .changed();
        });
        let label = ui.label(t!("library.payload"));
        changed |= ui
            .add(
                TextEdit::multiline(&mut p.payload)
                    .desired_rows(3)
                    .font(egui::TextStyle::Monospace)
                    .hint_text(t!("library.payload_hint"))
                    .desired_width(ui.available_width()),
            )
            .labelled_by(label.id)
            .changed();
        if p.mode == SendMode::Text {
            changed |= ui.checkbox(&mut p.escapes, t!("library.escapes")).changed();
            crate::gui::widgets::label_first(ui, t!("library.line_ending"))
                .selected_text(p.line_ending.name())
                .show_ui(ui, |ui| {
                    for ending in LineEnding::ALL {
                        changed |= ui
                            .selectable_value(&mut p.line_ending, ending, ending.name())
                            .changed();
                    }
                });
            crate::gui::widgets::label_first(ui, t!("library.encoding"))
                .selected_text(p.encoding.name())
                .show_ui(ui, |ui| {
                    for encoding in TextEncoding::ALL {
                        changed |= ui
                            .selectable_value(&mut p.encoding, encoding, encoding.name())
                            .changed();
                    }
                });
        }
        let dest = ui.label(t!("library.destination.label"));
        changed |= ui
            .add(
                TextEdit::singleline(&mut p.destination)
                    .hint_text(t!("library.destination.hint"))
                    .desired_width(ui.available_width()),
            )
            .labelled_by(dest.id)
            .changed();
        changed |= labelled_hint(
            ui,
            &t!("library.note"),
            &mut p.note,
            160.0,
            &t!("hint.packet_note"),
        )
        .changed();
        if changed {
            editor.error = None;
        }
        let mut save = false;
        let mut cancel = false;
        ui.horizontal(|ui| {
            save = ui.button(t!("library.save")).clicked();
            cancel = ui.button(t!("library.cancel")).clicked();
        });
        super::error_slot(ui, editor.error.as_deref());
        if cancel {
            self.editor = None;
            return;
        }
        if !save {
            return;
        }
        editor.packet.name = editor.packet.name.trim().to_owned();
        if let Err(e) = self.library.check(&editor.packet, editor.index) {
            editor.error = Some(e);
        } else {
            let packet = editor.packet.clone();
            let name = packet.name.clone();
            match editor.index {
                Some(i) if i < self.library.packets.len() => {
                    let old = std::mem::replace(&mut self.library.packets[i], packet);
                    // A changed payload starts its counter again.
                    self.sends.remove(&old.name);
                }
                _ => self.library.packets.push(packet),
            }
            self.editor = None;
            self.say(Tone::Ok, t!("library.saved", name = name));
        }
    }
}
