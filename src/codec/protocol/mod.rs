//! Protocol views: a record's bytes read as the fields of a known protocol (Modbus/TCP, MQTT,
//! DNS and mDNS, HTTP/1.x and SSDP, CoAP) or of a layout the user wrote for a device's own
//! protocol.
//!
//! Every decoder is a pure function from bytes to a [`Decoded`] tree whose fields know which
//! bytes of the record they cover, so the window can highlight them in the hex view and map a
//! click in the hex back to a field ([`Decoded::field_at`]). Decoding never fails and never
//! panics: bytes that end early or make no sense become a field with a `problem`, because a
//! workbench mostly shows traffic that is still being debugged.

mod coap;
mod dns;
mod http;
pub mod layout;
mod modbus;
mod mqtt;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::ops::Range;

use rust_i18n::t;
use serde::{Deserialize, Serialize};

pub use layout::{ByteOrder, FieldType, Layout, LayoutError, LayoutField, Layouts};
pub use mqtt::decode as decode_mqtt;

/// A protocol the decoders know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    ModbusTcp,
    Mqtt,
    Dns,
    Mdns,
    Http,
    Ssdp,
    Coap,
}

impl Protocol {
    /// Every protocol, in the order pickers list them.
    pub const ALL: [Protocol; 7] = [
        Self::ModbusTcp,
        Self::Mqtt,
        Self::Dns,
        Self::Mdns,
        Self::Http,
        Self::Ssdp,
        Self::Coap,
    ];

    /// The protocol's name, the same in every language.
    pub fn name(self) -> &'static str {
        match self {
            Self::ModbusTcp => "Modbus/TCP",
            Self::Mqtt => "MQTT",
            Self::Dns => "DNS",
            Self::Mdns => "mDNS",
            Self::Http => "HTTP/1.x",
            Self::Ssdp => "SSDP",
            Self::Coap => "CoAP",
        }
    }

    /// The protocol usually spoken on `port` (the IANA assignment), to preselect a view.
    /// MQTT over TLS (8883) and HTTPS are left out: their records are encrypted.
    pub fn suggest_for_port(port: u16) -> Option<Protocol> {
        match port {
            502 => Some(Self::ModbusTcp),
            1883 => Some(Self::Mqtt),
            53 => Some(Self::Dns),
            5353 => Some(Self::Mdns),
            1900 => Some(Self::Ssdp),
            80 | 8080 => Some(Self::Http),
            5683 => Some(Self::Coap),
            _ => None,
        }
    }

    /// The record's bytes as this protocol's fields.
    pub fn decode(self, bytes: &[u8]) -> Decoded {
        let mut decoded = match self {
            Self::ModbusTcp => modbus::decode(bytes),
            Self::Mqtt => mqtt::decode(bytes, None),
            Self::Dns => dns::decode(bytes, false),
            Self::Mdns => dns::decode(bytes, true),
            Self::Http => http::decode(bytes, false),
            Self::Ssdp => http::decode(bytes, true),
            Self::Coap => coap::decode(bytes),
        };
        decoded.summary = one_line(&decoded.summary);
        decoded
    }
}

/// A decoded record: a one-line summary and the fields, in the order of their bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decoded {
    /// One line for a log row or a tooltip, e.g. "Read Holding Registers, unit 1, 2 registers
    /// from 100".
    pub summary: String,
    pub fields: Vec<Field>,
}

/// One decoded field and the bytes of the record it covers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Field {
    /// The field's label in the current language (or a protocol's own name for it).
    pub name: String,
    /// The value as shown, e.g. "3 (Read Holding Registers)".
    pub value: String,
    /// The bytes of the record this field covers, for highlighting.
    pub range: Range<usize>,
    pub children: Vec<Field>,
    /// What is wrong with the field, e.g. "truncated: 4 of 7 bytes".
    pub problem: Option<String>,
    /// A field worth showing prominently (SSDP's ST, NT, USN and LOCATION headers).
    pub highlight: bool,
}

impl Field {
    pub fn new(name: impl Into<String>, value: impl Into<String>, range: Range<usize>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
            range,
            ..Self::default()
        }
    }

    #[must_use]
    pub fn with_children(mut self, children: Vec<Field>) -> Self {
        self.children = children;
        self
    }

    #[must_use]
    pub fn with_problem(mut self, problem: impl Into<String>) -> Self {
        self.problem = Some(problem.into());
        self
    }

    /// This field and all below it, depth first.
    pub fn walk(&self) -> Vec<&Field> {
        let mut out = vec![self];
        for child in &self.children {
            out.extend(child.walk());
        }
        out
    }
}

impl Decoded {
    /// Every field of the tree, depth first (parents before their children).
    pub fn all_fields(&self) -> Vec<&Field> {
        self.fields.iter().flat_map(Field::walk).collect()
    }

    /// Every problem found anywhere in the tree.
    pub fn problems(&self) -> Vec<&str> {
        self.all_fields()
            .into_iter()
            .filter_map(|f| f.problem.as_deref())
            .collect()
    }

    /// The path (child indexes from the top) of the deepest field covering `byte_index`, so
    /// a click in the hex view selects the field it falls in. Empty fields never match.
    pub fn field_at(&self, byte_index: usize) -> Option<Vec<usize>> {
        fn search(fields: &[Field], byte_index: usize, path: &mut Vec<usize>) -> bool {
            for (i, field) in fields.iter().enumerate() {
                if field.range.contains(&byte_index) {
                    path.push(i);
                    search(&field.children, byte_index, path);
                    return true;
                }
            }
            false
        }
        let mut path = Vec::new();
        search(&self.fields, byte_index, &mut path).then_some(path)
    }

    /// The field a path from [`Self::field_at`] names.
    pub fn field(&self, path: &[usize]) -> Option<&Field> {
        let (first, rest) = path.split_first()?;
        let mut field = self.fields.get(*first)?;
        for i in rest {
            field = field.children.get(*i)?;
        }
        Some(field)
    }
}

/// The decoder stopped because the record ended; the field saying so is already pushed.
#[derive(Debug)]
pub(crate) struct Stop;

/// The "truncated: 4 of 7 bytes" problem.
pub(crate) fn truncated(got: usize, needed: usize) -> String {
    t!("protocol.problem.truncated", got = got, needed = needed).into_owned()
}

/// Reads a record front to back; each read that runs past the end pushes a field with a
/// "truncated" problem and stops the decoder.
pub(crate) struct Cursor<'a> {
    pub bytes: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, pos: 0 }
    }

    /// Bytes left to read.
    pub fn left(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes, or a truncated field named `name` over what is there.
    pub fn take(
        &mut self,
        n: usize,
        out: &mut Vec<Field>,
        name: &str,
    ) -> Result<(Range<usize>, &'a [u8]), Stop> {
        let start = self.pos.min(self.bytes.len());
        if self.left() < n {
            let got = self.left();
            out.push(
                Field::new(
                    name,
                    hex_preview(&self.bytes[start..]),
                    start..self.bytes.len(),
                )
                .with_problem(truncated(got, n)),
            );
            self.pos = self.bytes.len();
            return Err(Stop);
        }
        self.pos = start + n;
        Ok((start..self.pos, &self.bytes[start..self.pos]))
    }

    pub fn u8(&mut self, out: &mut Vec<Field>, name: &str) -> Result<(Range<usize>, u8), Stop> {
        let (r, b) = self.take(1, out, name)?;
        Ok((r, b[0]))
    }

    pub fn u16(&mut self, out: &mut Vec<Field>, name: &str) -> Result<(Range<usize>, u16), Stop> {
        let (r, b) = self.take(2, out, name)?;
        Ok((r, u16::from_be_bytes([b[0], b[1]])))
    }

    pub fn u32(&mut self, out: &mut Vec<Field>, name: &str) -> Result<(Range<usize>, u32), Stop> {
        let (r, b) = self.take(4, out, name)?;
        Ok((r, u32::from_be_bytes([b[0], b[1], b[2], b[3]])))
    }

    /// A big-endian number field shown as decimal, pushed to `out`.
    pub fn u16_field(&mut self, out: &mut Vec<Field>, name: &str) -> Result<u16, Stop> {
        let (r, v) = self.u16(out, name)?;
        out.push(Field::new(name, v.to_string(), r));
        Ok(v)
    }

    pub fn u8_field(&mut self, out: &mut Vec<Field>, name: &str) -> Result<u8, Stop> {
        let (r, v) = self.u8(out, name)?;
        out.push(Field::new(name, v.to_string(), r));
        Ok(v)
    }
}

/// How many bytes a preview shows before it says how many more there are.
const PREVIEW_BYTES: usize = 64;

/// Bytes as spaced hex, cut after [`PREVIEW_BYTES`] (a value column has no room for more;
/// the hex view beside it shows them all).
pub(crate) fn hex_preview(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (i, b) in bytes.iter().take(PREVIEW_BYTES).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        let _ = write!(out, "{b:02X}");
    }
    if bytes.len() > PREVIEW_BYTES {
        out.push_str(&t!(
            "protocol.more_bytes",
            count = bytes.len() - PREVIEW_BYTES
        ));
    }
    out
}

/// Bytes as text when they are printable UTF-8, else as hex.
pub(crate) fn text_or_hex(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if text.chars().all(|c| !c.is_control() || c.is_whitespace()) => {
            let cut: String = text.chars().take(PREVIEW_BYTES * 4).collect();
            let mut shown = format!("{cut:?}");
            if cut.len() < text.len() {
                shown.push('…');
            }
            shown
        }
        _ => hex_preview(bytes),
    }
}

/// The payload field ("Payload: 5 bytes") with its value shown as text or hex.
pub(crate) fn payload_field(name: &str, bytes: &[u8], start: usize) -> Field {
    let value = if bytes.is_empty() {
        t!("protocol.empty").into_owned()
    } else {
        format!(
            "{} · {}",
            t!("protocol.bytes", count = bytes.len()),
            text_or_hex(bytes)
        )
    };
    Field::new(name, value, start..start + bytes.len())
}

/// `value (name)`, the way a code is shown beside what it means.
pub(crate) fn named(value: impl std::fmt::Display, name: &str) -> String {
    format!("{value} ({name})")
}

/// `text` with control characters (a topic's or a name's newlines) escaped, so a summary
/// stays one line in a log row.
pub(crate) fn one_line(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// How many messages of one record a summary names before it only counts the rest: a record
/// of thousands of MQTT pings still makes one short line.
const SUMMARY_PARTS: usize = 4;

/// The summaries of a record's messages as one line.
pub(crate) fn join_summaries(parts: &[String]) -> String {
    let mut line = parts
        .iter()
        .take(SUMMARY_PARTS)
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join("; ");
    if parts.len() > SUMMARY_PARTS {
        line.push_str(&t!(
            "protocol.summary_more",
            count = parts.len() - SUMMARY_PARTS
        ));
    }
    line
}

/// "yes" or "no" for a flag.
pub(crate) fn yes_no(on: bool) -> String {
    s(if on {
        t!("protocol.flag_yes")
    } else {
        t!("protocol.flag_no")
    })
}

/// A key's text as an owned string (field names are stored, not borrowed).
pub(crate) fn s(text: Cow<'_, str>) -> String {
    text.into_owned()
}

/// Moves every range of `fields` (and their children) `by` bytes on, for a message decoded
/// inside a larger record (DNS over TCP behind its length prefix).
pub(crate) fn shift(fields: &mut [Field], by: usize) {
    for field in fields {
        field.range = field.range.start + by..field.range.end + by;
        shift(&mut field.children, by);
    }
}

/// The summary of a record that ended before its decoder could say what it is.
pub(crate) fn truncated_summary(protocol: Protocol) -> String {
    s(t!("protocol.summary_truncated", protocol = protocol.name()))
}
