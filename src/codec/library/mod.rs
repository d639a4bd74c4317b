//! The packet library: named payloads a user keeps and sends again (from the window's side
//! panel, by Ctrl+1…9, or with the CLI's `--packets FILE --packet NAME`).
//!
//! A packet is what the send box holds (text in an encoding with escapes and macros, or hex,
//! and a line ending) plus a name, an optional group and note, and for UDP an optional
//! destination. The library is saved with the window's settings and exported as JSON
//! ([`Library::to_json`]); [`Library::import`] reads that JSON back and also Packet Sender's
//! exports (its JSON and its `packets.ini` database export, see [`packet_sender`]).

pub mod packet_sender;

use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::TextEncoding;
use super::macros::Template;
use super::payload::{LineEnding, PayloadSpec, SendMode};

/// Most packets a library holds; an import beyond it keeps the first ones and says so.
pub const PACKETS_MAX: usize = 1000;
/// Longest name, in characters.
pub const NAME_MAX_CHARS: usize = 80;
/// Longest payload text, group or note, in bytes (as the send box).
pub const TEXT_MAX_BYTES: usize = 64 * 1024;
/// What our JSON export says it is.
pub const FORMAT: &str = "sockpit-packets";

/// One saved payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Packet {
    pub name: String,
    /// Text or hex, as typed (macros allowed).
    pub payload: String,
    pub mode: SendMode,
    pub escapes: bool,
    pub line_ending: LineEnding,
    pub encoding: TextEncoding,
    /// Packets with the same group are listed together; empty is no group.
    pub group: String,
    pub note: String,
    /// UDP: `HOST:PORT` to send to instead of the tab's destination; empty for none.
    pub destination: String,
}

impl Default for Packet {
    fn default() -> Self {
        Self {
            name: String::new(),
            payload: String::new(),
            mode: SendMode::Text,
            escapes: true,
            line_ending: LineEnding::None,
            encoding: TextEncoding::Utf8,
            group: String::new(),
            note: String::new(),
            destination: String::new(),
        }
    }
}

impl Packet {
    /// The payload compiled with its macros, or a sentence naming the packet and the fault.
    pub fn template(&self) -> Result<Template, String> {
        Template::compile(&PayloadSpec {
            text: &self.payload,
            mode: self.mode,
            escapes: self.escapes,
            line_ending: self.line_ending,
            encoding: self.encoding,
        })
    }

    /// Whether `query` (lower case) is in its name, group, note or payload.
    pub fn matches(&self, query: &str) -> bool {
        query.is_empty()
            || [&self.name, &self.group, &self.note, &self.payload]
                .iter()
                .any(|f| f.to_lowercase().contains(query))
    }
}

/// The saved packets, in the user's order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Library {
    pub packets: Vec<Packet>,
}

/// What an import did, for the user to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub added: usize,
    /// Sentences about packets renamed (a name already taken), skipped or changed.
    pub notes: Vec<String>,
    /// Which format was read: the catalogue key of its name ("a Sockpit export").
    pub format: &'static str,
}

impl ImportReport {
    /// "Imported 3 packets from a Packet Sender export."
    pub fn summary(&self) -> String {
        let key = if self.added == 1 {
            "codec.library.imported.one"
        } else {
            "codec.library.imported.other"
        };
        let mut text = t!(key, count = self.added, format = t!(self.format)).into_owned();
        for note in self.notes.iter().take(5) {
            text.push(' ');
            text.push_str(note);
        }
        if self.notes.len() > 5 {
            text.push_str(&t!(
                "codec.library.more_notes",
                count = self.notes.len() - 5
            ));
        }
        text
    }
}

#[derive(Serialize, Deserialize)]
struct Export {
    format: String,
    version: u32,
    packets: Vec<Packet>,
}

impl Library {
    pub fn find(&self, name: &str) -> Option<&Packet> {
        self.packets.iter().find(|p| p.name == name).or_else(|| {
            let lower = name.to_lowercase();
            self.packets.iter().find(|p| p.name.to_lowercase() == lower)
        })
    }

    /// A name not yet taken: `name`, else "name (2)", "name (3)"…
    pub fn free_name(&self, name: &str, except: Option<usize>) -> String {
        let taken = |n: &str| {
            self.packets
                .iter()
                .enumerate()
                .any(|(i, p)| Some(i) != except && p.name == n)
        };
        if !taken(name) {
            return name.to_owned();
        }
        (2..=PACKETS_MAX + 1)
            .map(|k| format!("{name} ({k})"))
            .find(|n| !taken(n))
            .unwrap_or_else(|| name.to_owned())
    }

    /// Checks a packet before it is saved at `index` (or added, with `None`): a name that is
    /// there and free, a payload that compiles, a destination that reads as HOST:PORT.
    pub fn check(&self, packet: &Packet, index: Option<usize>) -> Result<(), String> {
        let name = packet.name.trim();
        if name.is_empty() {
            return Err(t!("codec.library.name_empty").into_owned());
        }
        if name.chars().count() > NAME_MAX_CHARS {
            return Err(t!("codec.library.name_too_long", max = NAME_MAX_CHARS).into_owned());
        }
        if self
            .packets
            .iter()
            .enumerate()
            .any(|(i, p)| Some(i) != index && p.name == name)
        {
            return Err(t!("codec.library.name_taken", name = name).into_owned());
        }
        if packet.payload.len() > TEXT_MAX_BYTES {
            return Err(t!(
                "codec.library.payload_too_long",
                max = TEXT_MAX_BYTES / 1024
            )
            .into_owned());
        }
        let template = packet
            .template()
            .map_err(|e| t!("codec.library.payload_error", error = e).into_owned())?;
        if template.is_empty() {
            return Err(t!("codec.library.payload_empty").into_owned());
        }
        let destination = packet.destination.trim();
        if !destination.is_empty() {
            crate::net::split_host_port(destination)
                .map_err(|e| t!("codec.library.destination_error", error = e).into_owned())?;
        }
        if index.is_none() && self.packets.len() >= PACKETS_MAX {
            return Err(t!("codec.library.full", max = PACKETS_MAX).into_owned());
        }
        Ok(())
    }

    /// Our export: `{"format": "sockpit-packets", "version": 1, "packets": [...]}`.
    pub fn to_json(&self) -> String {
        let export = Export {
            format: FORMAT.to_owned(),
            version: 1,
            packets: self.packets.clone(),
        };
        serde_json::to_string_pretty(&export).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads a file's text: our export, Packet Sender's JSON export, or its `packets.ini`.
    /// The packets come as read; nothing is added yet (see [`Library::add_all`]).
    pub fn parse(text: &str) -> Result<(Vec<Packet>, ImportReport), String> {
        let text = text.trim_start_matches('\u{feff}');
        let trimmed = text.trim_start();
        if trimmed.starts_with('{') {
            let export: Export = serde_json::from_str(text)
                .map_err(|e| t!("codec.library.not_export", error = e).into_owned())?;
            if export.format != FORMAT {
                return Err(t!("codec.library.other_format", format = export.format).into_owned());
            }
            let report = ImportReport {
                format: "codec.library.format.sockpit",
                ..ImportReport::default()
            };
            return Ok((export.packets, report));
        }
        if trimmed.starts_with('[') {
            // Packet Sender's JSON is an array; its INI starts with a section header.
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
                return packet_sender::from_json(&value);
            }
            if packet_sender::looks_like_ini(text) {
                return packet_sender::from_ini(text);
            }
        }
        Err(t!("codec.library.unknown_file").into_owned())
    }

    /// Adds `packets` at the end; a name already taken gets " (2)", a packet that does not
    /// check is left out, each said in `report`.
    pub fn add_all(&mut self, packets: Vec<Packet>, report: &mut ImportReport) {
        for mut packet in packets {
            packet.name = packet.name.trim().chars().take(NAME_MAX_CHARS).collect();
            if packet.name.is_empty() {
                report.notes.push(t!("codec.library.no_name").into_owned());
                continue;
            }
            let free = self.free_name(&packet.name, None);
            if free != packet.name {
                report.notes.push(
                    t!("codec.library.renamed", name = packet.name, free = free).into_owned(),
                );
                packet.name = free;
            }
            if let Err(e) = self.check(&packet, None) {
                report
                    .notes
                    .push(t!("codec.library.left_out", name = packet.name, error = e).into_owned());
                continue;
            }
            self.packets.push(packet);
            report.added += 1;
        }
    }

    /// Reads and adds a file's packets; the report says what happened.
    pub fn import(&mut self, text: &str) -> Result<ImportReport, String> {
        let (packets, mut report) = Self::parse(text)?;
        self.add_all(packets, &mut report);
        Ok(report)
    }

    /// The packets whose fields contain `query` (any case), as indices, in order.
    pub fn search(&self, query: &str) -> Vec<usize> {
        let query = query.trim().to_lowercase();
        (0..self.packets.len())
            .filter(|&i| self.packets[i].matches(&query))
            .collect()
    }

    /// Moves the packet at `index` one place up (`-1`) or down (`1`).
    pub fn shift(&mut self, index: usize, by: isize) {
        let Some(to) = index.checked_add_signed(by) else {
            return;
        };
        if index < self.packets.len() && to < self.packets.len() {
            self.packets.swap(index, to);
        }
    }

    /// A copy of the packet at `index` right after it, named "name (2)".
    pub fn duplicate(&mut self, index: usize) -> Option<usize> {
        if self.packets.len() >= PACKETS_MAX {
            return None;
        }
        let mut copy = self.packets.get(index)?.clone();
        copy.name = self.free_name(&copy.name, None);
        self.packets.insert(index + 1, copy);
        Some(index + 1)
    }
}

impl crate::settings::Bounded for Library {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        if self.packets.len() > PACKETS_MAX {
            notes.push(
                t!(
                    "codec.library.kept_first",
                    path = crate::settings::join(path, "packets"),
                    count = self.packets.len(),
                    max = PACKETS_MAX
                )
                .into_owned(),
            );
            self.packets.truncate(PACKETS_MAX);
        }
        for (i, p) in self.packets.iter_mut().enumerate() {
            let name = crate::settings::join(path, &format!("packets[{i}]"));
            for (field, text) in [
                ("payload", &mut p.payload),
                ("group", &mut p.group),
                ("note", &mut p.note),
                ("destination", &mut p.destination),
            ] {
                crate::settings::cut_text(
                    text,
                    TEXT_MAX_BYTES,
                    &crate::settings::join(&name, field),
                    notes,
                );
            }
            if p.name.chars().count() > NAME_MAX_CHARS {
                p.name = p.name.chars().take(NAME_MAX_CHARS).collect();
                notes.push(
                    t!("codec.library.name_cut", path = name, max = NAME_MAX_CHARS).into_owned(),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(name: &str, payload: &str) -> Packet {
        Packet {
            name: name.to_owned(),
            payload: payload.to_owned(),
            ..Packet::default()
        }
    }

    #[test]
    fn our_export_reads_back_the_same() {
        let mut lib = Library::default();
        lib.packets.push(Packet {
            group: "Modbus".to_owned(),
            mode: SendMode::Hex,
            destination: "127.0.0.1:502".to_owned(),
            ..packet("read", "01 03 00 00 00 0A")
        });
        lib.packets.push(packet("hello", "hi {{COUNTER}}\\r\\n"));
        let json = lib.to_json();
        let mut other = Library::default();
        let report = other.import(&json).unwrap();
        assert_eq!(report.added, 2);
        assert_eq!(other, lib);
    }

    #[test]
    fn names_stay_unique_and_bad_packets_are_left_out_with_a_note() {
        let mut lib = Library::default();
        lib.packets.push(packet("a", "x"));
        let mut report = ImportReport::default();
        lib.add_all(
            vec![packet("a", "y"), packet("b", "{{NOPE}}"), packet(" ", "z")],
            &mut report,
        );
        assert_eq!(report.added, 1);
        assert_eq!(lib.packets[1].name, "a (2)");
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("came in as \"a (2)\""))
        );
        assert!(
            report
                .notes
                .iter()
                .any(|n| n.contains("\"b\" was left out") && n.contains("unknown macro"))
        );
        assert!(report.notes.iter().any(|n| n.contains("without a name")));
    }

    #[test]
    fn check_says_what_to_fix() {
        let mut lib = Library::default();
        lib.packets.push(packet("a", "x"));
        assert!(
            lib.check(&packet("", "x"), None)
                .unwrap_err()
                .starts_with("Name")
        );
        assert!(
            lib.check(&packet("a", "x"), None)
                .unwrap_err()
                .contains("taken")
        );
        assert!(
            lib.check(&packet("a", "y"), Some(0)).is_ok(),
            "its own name is fine"
        );
        assert!(
            lib.check(&packet("b", ""), None)
                .unwrap_err()
                .contains("type some")
        );
        let bad_dest = Packet {
            destination: "nowhere".to_owned(),
            ..packet("b", "x")
        };
        assert!(
            lib.check(&bad_dest, None)
                .unwrap_err()
                .starts_with("Destination")
        );
    }

    #[test]
    fn search_reorder_and_duplicate() {
        let mut lib = Library::default();
        for (n, g) in [("ping", "net"), ("read", "modbus"), ("write", "modbus")] {
            lib.packets.push(Packet {
                group: g.to_owned(),
                ..packet(n, "x")
            });
        }
        assert_eq!(lib.search("MODBUS"), [1, 2]);
        assert_eq!(lib.search(""), [0, 1, 2]);
        lib.shift(2, -1);
        assert_eq!(lib.packets[1].name, "write");
        lib.shift(0, -1);
        assert_eq!(lib.packets[0].name, "ping");
        assert_eq!(lib.duplicate(0), Some(1));
        assert_eq!(lib.packets[1].name, "ping (2)");
        assert_eq!(lib.find("PING").unwrap().name, "ping");
    }

    #[test]
    fn other_files_are_refused_with_a_sentence() {
        assert!(Library::parse("hello").unwrap_err().contains("neither"));
        assert!(
            Library::parse("{\"format\": \"x\", \"version\": 1, \"packets\": []}")
                .unwrap_err()
                .contains("\"x\"")
        );
    }
}
