//! MQTT 3.1.1 (OASIS, 2014) and 5.0 (OASIS, 2019): every control packet of a record, each
//! with its fixed header and, where the packet has them, its variable header, properties and
//! payload.
//!
//! A packet does not say its protocol version; only CONNECT does. The version comes from the
//! caller, else from a CONNECT earlier in the same record, else from the packet's shape
//! (a 3.1.1 PUBACK is exactly 2 bytes, a 5.0 one may carry a reason code; see [`looks_v5`]).

use std::ops::Range;

use rust_i18n::t;

use super::{
    Cursor, Decoded, Field, Protocol, Stop, hex_preview, named, payload_field, s, text_or_hex,
    truncated, yes_no,
};

/// The fixed header's packet type names, the same in every language.
fn packet_name(kind: u8) -> &'static str {
    match kind {
        1 => "CONNECT",
        2 => "CONNACK",
        3 => "PUBLISH",
        4 => "PUBACK",
        5 => "PUBREC",
        6 => "PUBREL",
        7 => "PUBCOMP",
        8 => "SUBSCRIBE",
        9 => "SUBACK",
        10 => "UNSUBSCRIBE",
        11 => "UNSUBACK",
        12 => "PINGREQ",
        13 => "PINGRESP",
        14 => "DISCONNECT",
        15 => "AUTH",
        _ => "?",
    }
}

/// MQTT 5's reason code names (section 2.4), the specification's own words.
fn reason_name(code: u8) -> &'static str {
    match code {
        0x00 => "Success",                                // i18n-exempt: protocol name
        0x01 => "Granted QoS 1",                          // i18n-exempt: protocol name
        0x02 => "Granted QoS 2",                          // i18n-exempt: protocol name
        0x04 => "Disconnect with Will Message",           // i18n-exempt: protocol name
        0x10 => "No matching subscribers",                // i18n-exempt: protocol name
        0x11 => "No subscription existed",                // i18n-exempt: protocol name
        0x18 => "Continue authentication",                // i18n-exempt: protocol name
        0x19 => "Re-authenticate",                        // i18n-exempt: protocol name
        0x80 => "Unspecified error",                      // i18n-exempt: protocol name
        0x81 => "Malformed Packet",                       // i18n-exempt: protocol name
        0x82 => "Protocol Error",                         // i18n-exempt: protocol name
        0x83 => "Implementation specific error",          // i18n-exempt: protocol name
        0x84 => "Unsupported Protocol Version",           // i18n-exempt: protocol name
        0x85 => "Client Identifier not valid",            // i18n-exempt: protocol name
        0x86 => "Bad User Name or Password",              // i18n-exempt: protocol name
        0x87 => "Not authorized",                         // i18n-exempt: protocol name
        0x88 => "Server unavailable",                     // i18n-exempt: protocol name
        0x89 => "Server busy",                            // i18n-exempt: protocol name
        0x8A => "Banned",                                 // i18n-exempt: protocol name
        0x8B => "Server shutting down",                   // i18n-exempt: protocol name
        0x8C => "Bad authentication method",              // i18n-exempt: protocol name
        0x8D => "Keep Alive timeout",                     // i18n-exempt: protocol name
        0x8E => "Session taken over",                     // i18n-exempt: protocol name
        0x8F => "Topic Filter invalid",                   // i18n-exempt: protocol name
        0x90 => "Topic Name invalid",                     // i18n-exempt: protocol name
        0x91 => "Packet Identifier in use",               // i18n-exempt: protocol name
        0x92 => "Packet Identifier not found",            // i18n-exempt: protocol name
        0x93 => "Receive Maximum exceeded",               // i18n-exempt: protocol name
        0x94 => "Topic Alias invalid",                    // i18n-exempt: protocol name
        0x95 => "Packet too large",                       // i18n-exempt: protocol name
        0x96 => "Message rate too high",                  // i18n-exempt: protocol name
        0x97 => "Quota exceeded",                         // i18n-exempt: protocol name
        0x98 => "Administrative action",                  // i18n-exempt: protocol name
        0x99 => "Payload format invalid",                 // i18n-exempt: protocol name
        0x9A => "Retain not supported",                   // i18n-exempt: protocol name
        0x9B => "QoS not supported",                      // i18n-exempt: protocol name
        0x9C => "Use another server",                     // i18n-exempt: protocol name
        0x9D => "Server moved",                           // i18n-exempt: protocol name
        0x9E => "Shared Subscriptions not supported",     // i18n-exempt: protocol name
        0x9F => "Connection rate exceeded",               // i18n-exempt: protocol name
        0xA0 => "Maximum connect time",                   // i18n-exempt: protocol name
        0xA1 => "Subscription Identifiers not supported", // i18n-exempt: protocol name
        0xA2 => "Wildcard Subscriptions not supported",   // i18n-exempt: protocol name
        _ => "?",
    }
}

/// MQTT 3.1.1's CONNACK return codes (section 3.2.2.3).
fn connack_v3_name(code: u8) -> &'static str {
    match code {
        0 => "Connection Accepted",           // i18n-exempt: protocol name
        1 => "unacceptable protocol version", // i18n-exempt: protocol name
        2 => "identifier rejected",           // i18n-exempt: protocol name
        3 => "Server unavailable",            // i18n-exempt: protocol name
        4 => "bad user name or password",     // i18n-exempt: protocol name
        5 => "not authorized",                // i18n-exempt: protocol name
        _ => "?",
    }
}

/// How a property's value is written (MQTT 5 section 2.2.2.2).
#[derive(Clone, Copy)]
enum PropKind {
    Byte,
    Two,
    Four,
    Varint,
    Text,
    Binary,
    Pair,
}

/// A property's name and kind, by identifier.
fn property(id: u32) -> Option<(&'static str, PropKind)> {
    use PropKind::{Binary, Byte, Four, Pair, Text, Two, Varint};
    Some(match id {
        0x01 => ("Payload Format Indicator", Byte), // i18n-exempt: protocol name
        0x02 => ("Message Expiry Interval", Four),  // i18n-exempt: protocol name
        0x03 => ("Content Type", Text),             // i18n-exempt: protocol name
        0x08 => ("Response Topic", Text),           // i18n-exempt: protocol name
        0x09 => ("Correlation Data", Binary),       // i18n-exempt: protocol name
        0x0B => ("Subscription Identifier", Varint), // i18n-exempt: protocol name
        0x11 => ("Session Expiry Interval", Four),  // i18n-exempt: protocol name
        0x12 => ("Assigned Client Identifier", Text), // i18n-exempt: protocol name
        0x13 => ("Server Keep Alive", Two),         // i18n-exempt: protocol name
        0x15 => ("Authentication Method", Text),    // i18n-exempt: protocol name
        0x16 => ("Authentication Data", Binary),    // i18n-exempt: protocol name
        0x17 => ("Request Problem Information", Byte), // i18n-exempt: protocol name
        0x18 => ("Will Delay Interval", Four),      // i18n-exempt: protocol name
        0x19 => ("Request Response Information", Byte), // i18n-exempt: protocol name
        0x1A => ("Response Information", Text),     // i18n-exempt: protocol name
        0x1C => ("Server Reference", Text),         // i18n-exempt: protocol name
        0x1F => ("Reason String", Text),            // i18n-exempt: protocol name
        0x21 => ("Receive Maximum", Two),           // i18n-exempt: protocol name
        0x22 => ("Topic Alias Maximum", Two),       // i18n-exempt: protocol name
        0x23 => ("Topic Alias", Two),               // i18n-exempt: protocol name
        0x24 => ("Maximum QoS", Byte),              // i18n-exempt: protocol name
        0x25 => ("Retain Available", Byte),         // i18n-exempt: protocol name
        0x26 => ("User Property", Pair),            // i18n-exempt: protocol name
        0x27 => ("Maximum Packet Size", Four),      // i18n-exempt: protocol name
        0x28 => ("Wildcard Subscription Available", Byte), // i18n-exempt: protocol name
        0x29 => ("Subscription Identifier Available", Byte), // i18n-exempt: protocol name
        0x2A => ("Shared Subscription Available", Byte), // i18n-exempt: protocol name
        _ => return None,
    })
}

/// The protocol level CONNECT announces: 3 (3.1), 4 (3.1.1) or 5.
fn level_name(level: u8) -> &'static str {
    match level {
        3 => "3.1",
        4 => "3.1.1",
        5 => "5.0",
        _ => "?",
    }
}

/// Every MQTT packet of `bytes`. `version` is the protocol level (4 for 3.1.1, 5 for 5.0)
/// when the caller knows it from the connection's CONNECT; `None` guesses per packet.
pub fn decode(bytes: &[u8], version: Option<u8>) -> Decoded {
    let mut fields = Vec::new();
    let mut summaries = Vec::new();
    let mut cursor = Cursor::new(bytes);
    let mut version = version;
    while cursor.left() > 0 {
        let start = cursor.pos;
        let mut children = Vec::new();
        let result = decode_packet(&mut cursor, &mut children, &mut version);
        let kind = bytes[start] >> 4;
        let mut packet = Field::new(
            packet_name(kind),
            String::new(),
            start..cursor.pos.max(start + 1),
        )
        .with_children(children);
        // A collapsed packet still shows that something inside it is wrong.
        packet.problem = packet
            .children
            .iter()
            .flat_map(Field::walk)
            .find_map(|f| f.problem.clone());
        if let Ok(summary) = result {
            packet.value.clone_from(&summary);
            summaries.push(summary);
            fields.push(packet);
        } else {
            summaries.push(s(t!(
                "protocol.summary_truncated",
                protocol = packet_name(kind)
            )));
            fields.push(packet);
            break;
        }
    }
    let summary = if summaries.is_empty() {
        super::truncated_summary(Protocol::Mqtt)
    } else {
        super::one_line(&super::join_summaries(&summaries))
    };
    Decoded { summary, fields }
}

/// A variable byte integer (1 to 4 bytes, 7 bits each, least significant first).
fn varint(bytes: &[u8], at: usize) -> Result<(u32, usize), VarintError> {
    let mut value = 0u32;
    for i in 0..4 {
        let Some(&b) = bytes.get(at + i) else {
            return Err(VarintError::Short(i));
        };
        value |= u32::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(VarintError::TooLong)
}

enum VarintError {
    /// The record ended after this many bytes.
    Short(usize),
    /// A fifth byte would be needed: not MQTT.
    TooLong,
}

fn read_varint(c: &mut Cursor<'_>, out: &mut Vec<Field>, name: &str) -> Result<u32, Stop> {
    let start = c.pos;
    match varint(c.bytes, start) {
        Ok((value, len)) => {
            c.pos += len;
            out.push(Field::new(name, value.to_string(), start..c.pos));
            Ok(value)
        }
        Err(VarintError::Short(got)) => {
            c.pos = c.bytes.len();
            out.push(
                Field::new(name, hex_preview(&c.bytes[start..]), start..c.bytes.len())
                    .with_problem(truncated(got, got + 1)),
            );
            Err(Stop)
        }
        Err(VarintError::TooLong) => {
            c.pos = c.bytes.len().min(start + 4);
            out.push(
                Field::new(name, hex_preview(&c.bytes[start..c.pos]), start..c.pos)
                    .with_problem(s(t!("protocol.mqtt.varint_too_long"))),
            );
            Err(Stop)
        }
    }
}

/// A two-byte length then that many bytes (a UTF-8 string or binary data), as one field with
/// the length as a child.
fn read_prefixed<'a>(
    c: &mut Cursor<'a>,
    out: &mut Vec<Field>,
    name: &str,
) -> Result<(Range<usize>, &'a [u8]), Stop> {
    let start = c.pos;
    let mut inner = Vec::new();
    let length_name = s(t!("protocol.mqtt.length"));
    let result = c.u16(&mut inner, &length_name).and_then(|(r, len)| {
        inner.push(Field::new(length_name.clone(), len.to_string(), r));
        c.take(usize::from(len), &mut inner, name)
    });
    if let Ok((_, data)) = result {
        out.push(Field::new(name, text_or_hex(data), start..c.pos).with_children(inner));
        Ok((start..c.pos, data))
    } else {
        let problem = inner.iter().find_map(|f| f.problem.clone());
        let mut field = Field::new(name, String::new(), start..c.pos).with_children(inner);
        field.problem = problem;
        out.push(field);
        Err(Stop)
    }
}

fn read_text(c: &mut Cursor<'_>, out: &mut Vec<Field>, name: &str) -> Result<String, Stop> {
    let (_, data) = read_prefixed(c, out, name)?;
    Ok(String::from_utf8_lossy(data).into_owned())
}

fn decode_packet(
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    version: &mut Option<u8>,
) -> Result<String, Stop> {
    let start = c.pos;
    let (r, first) = c.u8(out, &s(t!("protocol.mqtt.packet_type")))?;
    let kind = first >> 4;
    let flags = first & 0x0F;
    let name = packet_name(kind);
    let mut type_field = Field::new(
        s(t!("protocol.mqtt.packet_type")),
        named(kind, name),
        r.clone(),
    );
    if kind == 0 {
        type_field = type_field.with_problem(s(t!("protocol.mqtt.reserved_type")));
    }
    out.push(type_field);
    let mut flags_field = Field::new(s(t!("protocol.mqtt.flags")), format!("0x{flags:X}"), r);
    let required = match kind {
        6 | 8 | 10 => Some(0b0010),
        3 => None,
        _ => Some(0),
    };
    if let Some(required) = required
        && flags != required
    {
        flags_field = flags_field.with_problem(s(t!(
            "protocol.mqtt.bad_flags",
            expected = format!("0x{required:X}")
        )));
    }
    if kind == 3 {
        flags_field = flags_field.with_children(publish_flags(flags, start));
    }
    out.push(flags_field);
    let remaining = read_varint(c, out, &s(t!("protocol.mqtt.remaining_length")))?;
    let body_start = c.pos;
    let body_len = remaining as usize;
    let end = body_start.saturating_add(body_len).min(c.bytes.len());
    let mut body = Cursor {
        bytes: &c.bytes[..end],
        pos: body_start,
    };
    let short = body_start.saturating_add(body_len) > c.bytes.len();
    let result = decode_body(kind, flags, &mut body, out, version);
    c.pos = end;
    if short {
        if result.is_ok() {
            out.push(
                Field::new(s(t!("protocol.mqtt.body")), String::new(), end..end)
                    .with_problem(truncated(end - body_start, body_len)),
            );
        }
        return Err(Stop);
    }
    let summary = result?;
    if body.left() > 0 {
        out.push(
            Field::new(
                s(t!("protocol.trailing")),
                hex_preview(&body.bytes[body.pos..]),
                body.pos..end,
            )
            .with_problem(s(t!("protocol.mqtt.extra_in_packet"))),
        );
    }
    Ok(summary)
}

fn publish_flags(flags: u8, at: usize) -> Vec<Field> {
    let r = at..at + 1;
    let mut qos = Field::new("QoS", (flags >> 1 & 3).to_string(), r.clone());
    if flags >> 1 & 3 == 3 {
        qos = qos.with_problem(s(t!("protocol.mqtt.bad_qos")));
    }
    vec![
        Field::new("DUP", yes_no(flags & 0x08 != 0), r.clone()),
        qos,
        Field::new("RETAIN", yes_no(flags & 0x01 != 0), r),
    ]
}

/// Whether a packet whose version nobody announced is MQTT 5, by its shape.
fn looks_v5(kind: u8, flags: u8, body: &[u8]) -> bool {
    match kind {
        // CONNACK, PUBACK..PUBCOMP and UNSUBACK are exactly 2 bytes in 3.1.1; DISCONNECT 0.
        2 | 4..=7 => body.len() > 2,
        11 => body.len() > 2 && properties_fit(body, 2).is_some_and(|end| end < body.len()),
        14 => !body.is_empty(),
        15 => true,
        3 => {
            let topic_len = body
                .get(..2)
                .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
            let id_len = if flags >> 1 & 3 > 0 { 2 } else { 0 };
            properties_fit(body, 2 + topic_len + id_len).is_some()
        }
        9 => properties_fit(body, 2).is_some_and(|end| end < body.len()),
        8 | 10 => !filters_fit(body, 2, kind == 8) && properties_fit(body, 2).is_some(),
        _ => false,
    }
}

/// Where properties starting at `at` end, when their length and every property fit exactly.
fn properties_fit(body: &[u8], at: usize) -> Option<usize> {
    let (len, len_bytes) = varint(body, at).ok()?;
    let start = at + len_bytes;
    let end = start.checked_add(len as usize)?;
    if end > body.len() {
        return None;
    }
    let mut pos = start;
    while pos < end {
        let (id, id_len) = varint(body, pos).ok()?;
        pos += id_len;
        let (_, kind) = property(id)?;
        let size = match kind {
            PropKind::Byte => 1,
            PropKind::Two => 2,
            PropKind::Four => 4,
            PropKind::Varint => varint(body, pos).ok()?.1,
            PropKind::Text | PropKind::Binary => prefixed_len(body, pos)?,
            PropKind::Pair => {
                let first = prefixed_len(body, pos)?;
                first + prefixed_len(body, pos + first)?
            }
        };
        pos += size;
    }
    (pos == end).then_some(end)
}

fn prefixed_len(body: &[u8], at: usize) -> Option<usize> {
    let b = body.get(at..at + 2)?;
    Some(2 + usize::from(u16::from_be_bytes([b[0], b[1]])))
}

/// Whether the 3.1.1 list of topic filters (each with an options byte for SUBSCRIBE) from
/// `at` fills the body exactly.
fn filters_fit(body: &[u8], at: usize, with_options: bool) -> bool {
    let mut pos = at;
    if pos >= body.len() {
        return false;
    }
    while pos < body.len() {
        let Some(len) = prefixed_len(body, pos) else {
            return false;
        };
        pos += len;
        if with_options {
            match body.get(pos) {
                Some(&o) if o <= 2 => pos += 1,
                _ => return false,
            }
        }
    }
    pos == body.len()
}

fn is_v5(version: Option<u8>, kind: u8, flags: u8, body: &[u8]) -> bool {
    match version {
        Some(v) => v >= 5,
        None => looks_v5(kind, flags, body),
    }
}

fn decode_body(
    kind: u8,
    flags: u8,
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    version: &mut Option<u8>,
) -> Result<String, Stop> {
    let body = &c.bytes[c.pos..];
    match kind {
        1 => connect(c, out, version),
        2 => {
            let v5 = is_v5(*version, kind, flags, body);
            let (r, ack) = c.u8(out, &s(t!("protocol.mqtt.ack_flags")))?;
            out.push(
                Field::new(
                    s(t!("protocol.mqtt.ack_flags")),
                    format!("0x{ack:02X}"),
                    r.clone(),
                )
                .with_children(vec![Field::new(
                    s(t!("protocol.mqtt.session_present")),
                    yes_no(ack & 1 != 0),
                    r,
                )]),
            );
            let code_name = s(t!("protocol.mqtt.reason_code"));
            let (r, code) = c.u8(out, &code_name)?;
            let meaning = if v5 {
                reason_name(code)
            } else {
                connack_v3_name(code)
            };
            out.push(Field::new(code_name, named(code, meaning), r));
            if v5 {
                properties(c, out)?;
            }
            Ok(format!("CONNACK {}", named(code, meaning)))
        }
        3 => publish(flags, c, out, *version),
        4..=7 => {
            let v5 = is_v5(*version, kind, flags, body);
            let id = c.u16_field(out, &s(t!("protocol.mqtt.packet_id")))?;
            if v5 && c.left() > 0 {
                let code_name = s(t!("protocol.mqtt.reason_code"));
                let (r, code) = c.u8(out, &code_name)?;
                out.push(Field::new(code_name, named(code, reason_name(code)), r));
                if c.left() > 0 {
                    properties(c, out)?;
                }
            }
            Ok(s(t!(
                "protocol.mqtt.summary.ack",
                packet = packet_name(kind),
                id = id
            )))
        }
        8 | 10 => {
            let v5 = is_v5(*version, kind, flags, body);
            let id = c.u16_field(out, &s(t!("protocol.mqtt.packet_id")))?;
            if v5 {
                properties(c, out)?;
            }
            let mut topics = Vec::new();
            let mut n = 0usize;
            while c.left() > 0 {
                n += 1;
                let name = s(t!("protocol.mqtt.topic_filter_n", n = n));
                let topic = read_text(c, out, &name)?;
                if kind == 8 {
                    let opt_name = s(t!("protocol.mqtt.options"));
                    let (r, o) = c.u8(out, &opt_name)?;
                    let mut children = vec![Field::new("QoS", (o & 3).to_string(), r.clone())];
                    if v5 {
                        children.push(Field::new(
                            "No Local", // i18n-exempt: protocol name
                            yes_no(o & 0x04 != 0),
                            r.clone(),
                        ));
                        children.push(Field::new(
                            "Retain As Published", // i18n-exempt: protocol name
                            yes_no(o & 0x08 != 0),
                            r.clone(),
                        ));
                        children.push(Field::new(
                            "Retain Handling", // i18n-exempt: protocol name
                            (o >> 4 & 3).to_string(),
                            r.clone(),
                        ));
                    }
                    out.push(Field::new(opt_name, format!("0x{o:02X}"), r).with_children(children));
                }
                topics.push(topic);
            }
            Ok(s(t!(
                "protocol.mqtt.summary.subscribe",
                packet = packet_name(kind),
                id = id,
                topics = topics.join(", ")
            )))
        }
        9 | 11 => {
            let v5 = is_v5(*version, kind, flags, body);
            let id = c.u16_field(out, &s(t!("protocol.mqtt.packet_id")))?;
            if v5 {
                properties(c, out)?;
            }
            let mut codes = Vec::new();
            while c.left() > 0 {
                let n = codes.len() + 1;
                let name = s(t!("protocol.mqtt.return_code_n", n = n));
                let (r, code) = c.u8(out, &name)?;
                let meaning = if v5 {
                    reason_name(code)
                } else {
                    match code {
                        0 => "Success - Maximum QoS 0", // i18n-exempt: protocol name
                        1 => "Success - Maximum QoS 1", // i18n-exempt: protocol name
                        2 => "Success - Maximum QoS 2", // i18n-exempt: protocol name
                        0x80 => "Failure",              // i18n-exempt: protocol name
                        _ => "?",
                    }
                };
                out.push(Field::new(name, named(code, meaning), r));
                codes.push(code.to_string());
            }
            Ok(s(t!(
                "protocol.mqtt.summary.suback",
                packet = packet_name(kind),
                id = id,
                codes = codes.join(", ")
            )))
        }
        12 | 13 => Ok(packet_name(kind).to_owned()),
        14 | 15 => {
            let v5 = is_v5(*version, kind, flags, body);
            if v5 && c.left() > 0 {
                let code_name = s(t!("protocol.mqtt.reason_code"));
                let (r, code) = c.u8(out, &code_name)?;
                out.push(Field::new(code_name, named(code, reason_name(code)), r));
                if c.left() > 0 {
                    properties(c, out)?;
                }
                return Ok(format!(
                    "{} {}",
                    packet_name(kind),
                    named(code, reason_name(code))
                ));
            }
            Ok(packet_name(kind).to_owned())
        }
        _ => {
            let start = c.pos;
            let rest = &c.bytes[start..];
            c.pos = c.bytes.len();
            out.push(Field::new(
                s(t!("protocol.mqtt.body")),
                hex_preview(rest),
                start..start + rest.len(),
            ));
            Ok(s(t!("protocol.mqtt.summary.reserved", kind = kind)))
        }
    }
}

fn connect(
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    version: &mut Option<u8>,
) -> Result<String, Stop> {
    let protocol = read_text(c, out, &s(t!("protocol.mqtt.protocol_name")))?;
    let level_label = s(t!("protocol.mqtt.protocol_level"));
    let (r, level) = c.u8(out, &level_label)?;
    let mut level_field = Field::new(level_label, named(level, level_name(level)), r);
    if !matches!(level, 3..=5) {
        level_field = level_field.with_problem(s(t!("protocol.mqtt.unknown_level")));
    }
    out.push(level_field);
    *version = Some(level);
    let v5 = level >= 5;
    let flags_label = s(t!("protocol.mqtt.connect_flags"));
    let (r, flags) = c.u8(out, &flags_label)?;
    let bit = |mask: u8| yes_no(flags & mask != 0);
    let mut children = vec![
        Field::new(s(t!("protocol.mqtt.user_name_flag")), bit(0x80), r.clone()),
        Field::new(s(t!("protocol.mqtt.password_flag")), bit(0x40), r.clone()),
        Field::new(s(t!("protocol.mqtt.will_retain")), bit(0x20), r.clone()),
        Field::new(
            s(t!("protocol.mqtt.will_qos")),
            (flags >> 3 & 3).to_string(),
            r.clone(),
        ),
        Field::new(s(t!("protocol.mqtt.will_flag")), bit(0x04), r.clone()),
        Field::new(s(t!("protocol.mqtt.clean_session")), bit(0x02), r.clone()),
    ];
    if flags & 1 != 0 {
        children.push(
            Field::new(s(t!("protocol.mqtt.reserved")), bit(0x01), r.clone())
                .with_problem(s(t!("protocol.mqtt.reserved_set"))),
        );
    }
    out.push(Field::new(flags_label, format!("0x{flags:02X}"), r).with_children(children));
    let keepalive_label = s(t!("protocol.mqtt.keep_alive"));
    let (r, keepalive) = c.u16(out, &keepalive_label)?;
    out.push(Field::new(
        keepalive_label,
        s(t!("protocol.seconds", n = keepalive)),
        r,
    ));
    if v5 {
        properties(c, out)?;
    }
    let client = read_text(c, out, &s(t!("protocol.mqtt.client_id")))?;
    if flags & 0x04 != 0 {
        if v5 {
            properties_named(c, out, s(t!("protocol.mqtt.will_properties")))?;
        }
        read_text(c, out, &s(t!("protocol.mqtt.will_topic")))?;
        read_prefixed(c, out, &s(t!("protocol.mqtt.will_payload")))?;
    }
    if flags & 0x80 != 0 {
        read_text(c, out, &s(t!("protocol.mqtt.user_name")))?;
    }
    if flags & 0x40 != 0 {
        // The password is shown like any field: this is the user's own traffic.
        read_prefixed(c, out, &s(t!("protocol.mqtt.password")))?;
    }
    Ok(s(t!(
        "protocol.mqtt.summary.connect",
        client = client,
        protocol = protocol,
        level = level_name(level),
        keepalive = keepalive
    )))
}

fn publish(
    flags: u8,
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    version: Option<u8>,
) -> Result<String, Stop> {
    let body = &c.bytes[c.pos..];
    let v5 = is_v5(version, 3, flags, body);
    let qos = flags >> 1 & 3;
    let topic = read_text(c, out, &s(t!("protocol.mqtt.topic")))?;
    let id = if qos > 0 {
        Some(c.u16_field(out, &s(t!("protocol.mqtt.packet_id")))?)
    } else {
        None
    };
    if v5 {
        properties(c, out)?;
    }
    let start = c.pos;
    let payload = &c.bytes[start..];
    c.pos = c.bytes.len();
    out.push(payload_field(
        &s(t!("protocol.mqtt.payload")),
        payload,
        start,
    ));
    Ok(match id {
        Some(id) => s(t!(
            "protocol.mqtt.summary.publish_id",
            topic = topic,
            qos = qos,
            id = id,
            count = payload.len()
        )),
        None => s(t!(
            "protocol.mqtt.summary.publish",
            topic = topic,
            qos = qos,
            count = payload.len()
        )),
    })
}

/// MQTT 5 properties: their length, then each property as a child.
fn properties(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<(), Stop> {
    properties_named(c, out, s(t!("protocol.mqtt.properties")))
}

fn properties_named(c: &mut Cursor<'_>, out: &mut Vec<Field>, label: String) -> Result<(), Stop> {
    let start = c.pos;
    let mut inner = Vec::new();
    let result = (|| {
        let len = read_varint(c, &mut inner, &s(t!("protocol.mqtt.properties_length")))?;
        let end = c.pos.saturating_add(len as usize);
        let short = end > c.bytes.len();
        let mut props = Cursor {
            bytes: &c.bytes[..end.min(c.bytes.len())],
            pos: c.pos,
        };
        while props.left() > 0 {
            one_property(&mut props, &mut inner)?;
        }
        c.pos = props.pos;
        if short {
            inner.push(
                Field::new(label.clone(), String::new(), c.pos..c.pos)
                    .with_problem(truncated(c.pos - start, end - start)),
            );
            return Err(Stop);
        }
        Ok(())
    })();
    let count = inner.len().saturating_sub(1);
    let problem = inner.iter().find_map(|f| f.problem.clone());
    let mut field = Field::new(
        label,
        s(t!("protocol.mqtt.property_count", count = count)),
        start..c.pos,
    )
    .with_children(inner);
    field.problem = problem;
    out.push(field);
    result
}

fn one_property(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<(), Stop> {
    let start = c.pos;
    let mut id_fields = Vec::new();
    let id = read_varint(c, &mut id_fields, &s(t!("protocol.mqtt.property_id")));
    let Ok(id) = id else {
        out.extend(id_fields);
        return Err(Stop);
    };
    let Some((name, kind)) = property(id) else {
        let rest = &c.bytes[start..];
        c.pos = c.bytes.len();
        out.push(
            Field::new(
                format!("0x{id:02X}"),
                hex_preview(rest),
                start..start + rest.len(),
            )
            .with_problem(s(t!("protocol.mqtt.unknown_property", id = id))),
        );
        return Err(Stop);
    };
    let mut inner = Vec::new();
    let value = match kind {
        PropKind::Byte => c.u8(&mut inner, name).map(|(_, v)| v.to_string()),
        PropKind::Two => c.u16(&mut inner, name).map(|(_, v)| v.to_string()),
        PropKind::Four => c.u32(&mut inner, name).map(|(_, v)| v.to_string()),
        PropKind::Varint => read_varint(c, &mut inner, name).map(|v| v.to_string()),
        PropKind::Text | PropKind::Binary => {
            read_prefixed(c, &mut inner, name).map(|(_, d)| text_or_hex(d))
        }
        PropKind::Pair => read_text(c, &mut inner, &s(t!("protocol.mqtt.key"))).and_then(|k| {
            read_text(c, &mut inner, &s(t!("protocol.mqtt.value")))
                .map(|v| format!("{k:?} = {v:?}"))
        }),
    };
    let problem = inner.iter().find_map(|f| f.problem.clone());
    let mut field = Field::new(
        name,
        value.as_ref().map_or(String::new(), Clone::clone),
        start..c.pos,
    );
    // Simple values need no children; strings and pairs keep their lengths.
    if matches!(kind, PropKind::Text | PropKind::Binary | PropKind::Pair) || value.is_err() {
        field = field.with_children(inner);
    }
    field.problem = problem;
    out.push(field);
    value.map(|_| ())
}
