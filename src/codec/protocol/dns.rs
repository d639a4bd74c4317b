//! DNS (RFC 1035) and multicast DNS (RFC 6762): the header and its flags, the questions and
//! the answer, authority and additional records, with names decompressed.
//!
//! Names may point back into the message (compression). A hostile or broken message can make
//! pointers loop, so every pointer must go strictly backwards from the one before it: a chain
//! of pointers then always ends. Over TCP a message follows a two-byte length; a record whose
//! first two bytes equal the rest's length is read that way.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;

use rust_i18n::t;

use super::{Cursor, Decoded, Field, Protocol, Stop, hex_preview, named, s, shift, truncated};

/// The longest name DNS allows (RFC 1035 section 2.3.4), in wire bytes.
const MAX_NAME_LEN: usize = 255;

/// The record type's mnemonic, the same in every language.
fn type_name(rtype: u16) -> &'static str {
    match rtype {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        28 => "AAAA",
        33 => "SRV",
        35 => "NAPTR",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        64 => "SVCB",
        65 => "HTTPS",
        255 => "ANY",
        257 => "CAA",
        _ => "?",
    }
}

fn class_name(class: u16) -> &'static str {
    match class {
        1 => "IN",
        3 => "CH",
        4 => "HS",
        254 => "NONE",
        255 => "ANY",
        _ => "?",
    }
}

fn rcode_name(rcode: u8) -> &'static str {
    match rcode {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        _ => "?",
    }
}

fn opcode_name(opcode: u8) -> &'static str {
    match opcode {
        0 => "QUERY",
        1 => "IQUERY",
        2 => "STATUS",
        4 => "NOTIFY",
        5 => "UPDATE",
        _ => "?",
    }
}

pub fn decode(bytes: &[u8], mdns: bool) -> Decoded {
    let protocol = if mdns { Protocol::Mdns } else { Protocol::Dns };
    // DNS over TCP: a two-byte length, then the message.
    let tcp = bytes.len() >= 14
        && usize::from(u16::from_be_bytes([bytes[0], bytes[1]])) == bytes.len() - 2;
    let (message, base) = if tcp { (&bytes[2..], 2) } else { (bytes, 0) };
    let mut fields = Vec::new();
    let summary = match decode_message(message, mdns, &mut fields) {
        Ok(summary) => summary,
        Err(Stop) => super::truncated_summary(protocol),
    };
    shift(&mut fields, base);
    if tcp {
        fields.insert(
            0,
            Field::new(
                s(t!("protocol.dns.tcp_length")),
                (bytes.len() - 2).to_string(),
                0..2,
            ),
        );
    }
    Decoded { summary, fields }
}

fn decode_message(msg: &[u8], mdns: bool, out: &mut Vec<Field>) -> Result<String, Stop> {
    let mut c = Cursor::new(msg);
    let id_label = s(t!("protocol.dns.id"));
    let (r, id) = c.u16(out, &id_label)?;
    out.push(Field::new(id_label, format!("0x{id:04X}"), r));
    let flags_label = s(t!("protocol.dns.flags"));
    let (r, flags) = c.u16(out, &flags_label)?;
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11 & 0xF) as u8;
    let rcode = (flags & 0xF) as u8;
    let bit = |mask: u16| super::yes_no(flags & mask != 0);
    let qr = if response {
        t!("protocol.dns.response")
    } else {
        t!("protocol.dns.query")
    };
    let flag_fields = vec![
        Field::new(s(t!("protocol.dns.qr")), s(qr.clone()), r.clone()),
        Field::new(
            s(t!("protocol.dns.opcode")),
            named(opcode, opcode_name(opcode)),
            r.clone(),
        ),
        Field::new(s(t!("protocol.dns.aa")), bit(0x0400), r.clone()),
        Field::new(s(t!("protocol.dns.tc")), bit(0x0200), r.clone()),
        Field::new(s(t!("protocol.dns.rd")), bit(0x0100), r.clone()),
        Field::new(s(t!("protocol.dns.ra")), bit(0x0080), r.clone()),
        Field::new(s(t!("protocol.dns.ad")), bit(0x0020), r.clone()),
        Field::new(s(t!("protocol.dns.cd")), bit(0x0010), r.clone()),
        Field::new(
            s(t!("protocol.dns.rcode")),
            named(rcode, rcode_name(rcode)),
            r.clone(),
        ),
    ];
    out.push(Field::new(flags_label, format!("0x{flags:04X}"), r).with_children(flag_fields));
    let qd = c.u16_field(out, &s(t!("protocol.dns.questions")))?;
    let an = c.u16_field(out, &s(t!("protocol.dns.answers")))?;
    let ns = c.u16_field(out, &s(t!("protocol.dns.authority")))?;
    let ar = c.u16_field(out, &s(t!("protocol.dns.additional")))?;

    let mut question_names = Vec::new();
    for n in 1..=qd {
        let start = c.pos;
        let mut inner = Vec::new();
        let result = question(&mut c, &mut inner, mdns);
        let label = s(t!("protocol.dns.question_n", n = n));
        let value = result.as_ref().map_or(String::new(), Clone::clone);
        out.push(group(label, value, start..c.pos, inner));
        question_names.push(result?);
    }
    let mut answers = Vec::new();
    for (count, key) in [(an, 0), (ns, 1), (ar, 2)] {
        for n in 1..=count {
            let start = c.pos;
            let mut inner = Vec::new();
            let result = record(&mut c, &mut inner, mdns);
            let label = s(match key {
                0 => t!("protocol.dns.answer_n", n = n),
                1 => t!("protocol.dns.authority_n", n = n),
                _ => t!("protocol.dns.additional_n", n = n),
            });
            let value = result.as_ref().map_or(String::new(), Clone::clone);
            out.push(group(label, value, start..c.pos, inner));
            let text = result?;
            if key == 0 {
                answers.push(text);
            }
        }
    }
    if c.left() > 0 {
        let start = c.pos;
        out.push(
            Field::new(
                s(t!("protocol.trailing")),
                hex_preview(&msg[start..]),
                start..msg.len(),
            )
            .with_problem(s(t!("protocol.dns.extra"))),
        );
    }
    let questions = question_names.join(", ");
    Ok(if response {
        let shown: Vec<&str> = answers.iter().take(3).map(String::as_str).collect();
        let mut list = shown.join(", ");
        if answers.len() > 3 {
            list.push_str(", …");
        }
        s(t!(
            "protocol.dns.summary.response",
            id = format!("0x{id:04X}"),
            rcode = rcode_name(rcode),
            questions = questions,
            answers = list
        ))
    } else {
        s(t!(
            "protocol.dns.summary.query",
            id = format!("0x{id:04X}"),
            questions = questions
        ))
    })
}

/// A parent field whose problem (if any) is its first child's, so a collapsed tree still
/// shows that something is wrong inside.
fn group(label: String, value: String, range: Range<usize>, inner: Vec<Field>) -> Field {
    let problem = inner.iter().find_map(|f| f.problem.clone());
    let mut field = Field::new(label, value, range).with_children(inner);
    field.problem = problem;
    field
}

fn question(c: &mut Cursor<'_>, out: &mut Vec<Field>, mdns: bool) -> Result<String, Stop> {
    let name = name_field(c, out, &s(t!("protocol.dns.name")))?;
    let rtype = type_field(c, out)?;
    let class_label = s(t!("protocol.dns.class"));
    let (r, class) = c.u16(out, &class_label)?;
    if mdns {
        let unicast = class & 0x8000 != 0;
        out.push(Field::new(
            class_label,
            named(class & 0x7FFF, class_name(class & 0x7FFF)),
            r.clone(),
        ));
        out.push(Field::new(
            s(t!("protocol.dns.unicast_response")),
            super::yes_no(unicast),
            r,
        ));
    } else {
        out.push(Field::new(class_label, named(class, class_name(class)), r));
    }
    Ok(format!("{name} {}", type_name(rtype)))
}

fn type_field(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<u16, Stop> {
    let label = s(t!("protocol.dns.type"));
    let (r, rtype) = c.u16(out, &label)?;
    out.push(Field::new(label, named(rtype, type_name(rtype)), r));
    Ok(rtype)
}

fn record(c: &mut Cursor<'_>, out: &mut Vec<Field>, mdns: bool) -> Result<String, Stop> {
    let name = name_field(c, out, &s(t!("protocol.dns.name")))?;
    let rtype = type_field(c, out)?;
    let class_label = s(t!("protocol.dns.class"));
    let (r, class) = c.u16(out, &class_label)?;
    if rtype == 41 {
        // EDNS(0)'s OPT record puts the sender's UDP payload size where the class goes.
        out.push(Field::new(
            s(t!("protocol.dns.udp_size")),
            class.to_string(),
            r,
        ));
    } else if mdns {
        out.push(Field::new(
            class_label,
            named(class & 0x7FFF, class_name(class & 0x7FFF)),
            r.clone(),
        ));
        out.push(Field::new(
            s(t!("protocol.dns.cache_flush")),
            super::yes_no(class & 0x8000 != 0),
            r,
        ));
    } else {
        out.push(Field::new(class_label, named(class, class_name(class)), r));
    }
    let ttl_label = s(t!("protocol.dns.ttl"));
    let (r, ttl) = c.u32(out, &ttl_label)?;
    out.push(Field::new(ttl_label, s(t!("protocol.seconds", n = ttl)), r));
    let rdlength = c.u16_field(out, &s(t!("protocol.dns.rdlength")))?;
    let data_label = s(t!("protocol.dns.rdata"));
    let (range, _) = c.take(usize::from(rdlength), out, &data_label)?;
    let rdata = rdata(c.bytes, range.clone(), rtype);
    let shown = match &rdata {
        Ok((value, _)) => value.clone(),
        Err(_) => String::new(),
    };
    let field = match rdata {
        Ok((value, children)) => Field::new(data_label, value, range).with_children(children),
        Err(problem) => Field::new(data_label, hex_preview(&c.bytes[range.clone()]), range)
            .with_problem(problem),
    };
    out.push(field);
    Ok(format!("{name} {} {shown}", type_name(rtype)))
}

/// The record data as a value and its parts; `Err` is a problem (the data does not fit its
/// type). The message is passed whole because names in the data may point anywhere before.
fn rdata(msg: &[u8], range: Range<usize>, rtype: u16) -> Result<(String, Vec<Field>), String> {
    let data = &msg[range.clone()];
    let at = range.start;
    let wrong = || s(t!("protocol.dns.bad_rdata", count = data.len()));
    match rtype {
        1 => {
            let octets: [u8; 4] = data.try_into().map_err(|_| wrong())?;
            Ok((Ipv4Addr::from(octets).to_string(), Vec::new()))
        }
        28 => {
            let octets: [u8; 16] = data.try_into().map_err(|_| wrong())?;
            Ok((Ipv6Addr::from(octets).to_string(), Vec::new()))
        }
        2 | 5 | 12 => {
            let (name, end) = read_name(msg, at).map_err(|e| e.problem())?;
            if end != range.end {
                return Err(wrong());
            }
            Ok((name, Vec::new()))
        }
        15 => {
            if data.len() < 3 {
                return Err(wrong());
            }
            let pref = u16::from_be_bytes([data[0], data[1]]);
            let (name, end) = read_name(msg, at + 2).map_err(|e| e.problem())?;
            if end != range.end {
                return Err(wrong());
            }
            let children = vec![
                Field::new(
                    s(t!("protocol.dns.preference")),
                    pref.to_string(),
                    at..at + 2,
                ),
                Field::new(s(t!("protocol.dns.exchange")), name.clone(), at + 2..end),
            ];
            Ok((format!("{pref} {name}"), children))
        }
        33 => {
            if data.len() < 7 {
                return Err(wrong());
            }
            let word = |i: usize| u16::from_be_bytes([data[i], data[i + 1]]);
            let (target, end) = read_name(msg, at + 6).map_err(|e| e.problem())?;
            if end != range.end {
                return Err(wrong());
            }
            let children = vec![
                Field::new(
                    s(t!("protocol.dns.priority")),
                    word(0).to_string(),
                    at..at + 2,
                ),
                Field::new(
                    s(t!("protocol.dns.weight")),
                    word(2).to_string(),
                    at + 2..at + 4,
                ),
                Field::new(
                    s(t!("protocol.dns.port")),
                    word(4).to_string(),
                    at + 4..at + 6,
                ),
                Field::new(s(t!("protocol.dns.target")), target.clone(), at + 6..end),
            ];
            Ok((
                format!("{} {} {} {target}", word(0), word(2), word(4)),
                children,
            ))
        }
        16 => {
            let mut children = Vec::new();
            let mut pos = 0;
            let mut texts = Vec::new();
            while pos < data.len() {
                let len = usize::from(data[pos]);
                let Some(text) = data.get(pos + 1..pos + 1 + len) else {
                    return Err(truncated(data.len() - pos - 1, len));
                };
                let shown = format!("{:?}", String::from_utf8_lossy(text));
                children.push(Field::new(
                    s(t!("protocol.dns.text_n", n = children.len() + 1)),
                    shown.clone(),
                    at + pos..at + pos + 1 + len,
                ));
                texts.push(shown);
                pos += 1 + len;
            }
            Ok((texts.join(" "), children))
        }
        _ => Ok((hex_preview(data), Vec::new())),
    }
}

/// Why a name could not be read.
enum NameError {
    /// The message ended inside the name: this many bytes were there of the label's.
    Truncated {
        got: usize,
        needed: usize,
    },
    /// A pointer that does not go backwards (a loop, or a forward reference).
    BadPointer {
        at: usize,
        to: usize,
    },
    /// Label types 0x40 and 0x80 (extended and reserved).
    BadLabel(u8),
    TooLong,
}

impl NameError {
    fn problem(&self) -> String {
        match self {
            Self::Truncated { got, needed } => truncated(*got, *needed),
            Self::BadPointer { at, to } => s(t!("protocol.dns.bad_pointer", at = at, to = to)),
            Self::BadLabel(b) => s(t!("protocol.dns.bad_label", byte = format!("0x{b:02X}"))),
            Self::TooLong => s(t!("protocol.dns.name_too_long", max = MAX_NAME_LEN)),
        }
    }
}

/// The name at `at`, and where its bytes end at that place (after its first pointer or its
/// root label).
fn read_name(msg: &[u8], at: usize) -> Result<(String, usize), NameError> {
    let mut name = String::new();
    let mut pos = at;
    let mut end = None;
    let mut wire_len = 0usize;
    // Each pointer must go strictly below this: pointer chains then always end.
    let mut limit = at;
    loop {
        let Some(&len) = msg.get(pos) else {
            return Err(NameError::Truncated { got: 0, needed: 1 });
        };
        match len & 0xC0 {
            0x00 => {
                if len == 0 {
                    if name.is_empty() {
                        name.push('.');
                    }
                    return Ok((name, end.unwrap_or(pos + 1)));
                }
                let len = usize::from(len);
                let Some(label) = msg.get(pos + 1..pos + 1 + len) else {
                    return Err(NameError::Truncated {
                        got: msg.len().saturating_sub(pos + 1),
                        needed: len,
                    });
                };
                wire_len += len + 1;
                if wire_len > MAX_NAME_LEN {
                    return Err(NameError::TooLong);
                }
                if !name.is_empty() {
                    name.push('.');
                }
                for &b in label {
                    if b.is_ascii_graphic() && b != b'.' && b != b'\\' {
                        name.push(char::from(b));
                    } else {
                        let _ = write!(name, "\\{b:03}");
                    }
                }
                pos += 1 + len;
            }
            0xC0 => {
                let Some(&low) = msg.get(pos + 1) else {
                    return Err(NameError::Truncated { got: 1, needed: 2 });
                };
                let to = usize::from(u16::from_be_bytes([len & 0x3F, low]));
                if to >= limit {
                    return Err(NameError::BadPointer { at: pos, to });
                }
                end.get_or_insert(pos + 2);
                limit = to;
                pos = to;
            }
            _ => return Err(NameError::BadLabel(len)),
        }
    }
}

/// A name as a field over its bytes in place; a broken name stops the message (what follows
/// it cannot be found).
fn name_field(c: &mut Cursor<'_>, out: &mut Vec<Field>, label: &str) -> Result<String, Stop> {
    let start = c.pos;
    match read_name(c.bytes, start) {
        Ok((name, end)) => {
            c.pos = end;
            out.push(Field::new(label, name.clone(), start..end));
            Ok(name)
        }
        Err(e) => {
            c.pos = c.bytes.len();
            out.push(
                Field::new(label, hex_preview(&c.bytes[start..]), start..c.bytes.len())
                    .with_problem(e.problem()),
            );
            Err(Stop)
        }
    }
}
