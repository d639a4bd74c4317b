//! CoAP (RFC 7252): the 4-byte header (version, type, token length, code as c.dd, message
//! id), the token, the options with their delta and length extensions, and the payload after
//! the 0xFF marker. Option and code names are the RFC's and the same in every language.

use rust_i18n::t;

use super::{Cursor, Decoded, Field, Protocol, Stop, hex_preview, named, payload_field, s};

/// The byte that ends the options and starts the payload.
const PAYLOAD_MARKER: u8 = 0xFF;

fn type_name(kind: u8) -> &'static str {
    match kind {
        0 => "CON",
        1 => "NON",
        2 => "ACK",
        _ => "RST",
    }
}

/// The name of a code `class.detail` (RFC 7252 section 12.1, RFC 8132 for FETCH/PATCH).
fn code_name(code: u8) -> &'static str {
    match (code >> 5, code & 0x1F) {
        (0, 0) => "Empty", // i18n-exempt: protocol name
        (0, 1) => "GET",
        (0, 2) => "POST",
        (0, 3) => "PUT",
        (0, 4) => "DELETE",
        (0, 5) => "FETCH",
        (0, 6) => "PATCH",
        (0, 7) => "iPATCH",
        (2, 1) => "Created",                     // i18n-exempt: protocol name
        (2, 2) => "Deleted",                     // i18n-exempt: protocol name
        (2, 3) => "Valid",                       // i18n-exempt: protocol name
        (2, 4) => "Changed",                     // i18n-exempt: protocol name
        (2, 5) => "Content",                     // i18n-exempt: protocol name
        (2, 31) => "Continue",                   // i18n-exempt: protocol name
        (4, 0) => "Bad Request",                 // i18n-exempt: protocol name
        (4, 1) => "Unauthorized",                // i18n-exempt: protocol name
        (4, 2) => "Bad Option",                  // i18n-exempt: protocol name
        (4, 3) => "Forbidden",                   // i18n-exempt: protocol name
        (4, 4) => "Not Found",                   // i18n-exempt: protocol name
        (4, 5) => "Method Not Allowed",          // i18n-exempt: protocol name
        (4, 6) => "Not Acceptable",              // i18n-exempt: protocol name
        (4, 8) => "Request Entity Incomplete",   // i18n-exempt: protocol name
        (4, 12) => "Precondition Failed",        // i18n-exempt: protocol name
        (4, 13) => "Request Entity Too Large",   // i18n-exempt: protocol name
        (4, 15) => "Unsupported Content-Format", // i18n-exempt: protocol name
        (5, 0) => "Internal Server Error",       // i18n-exempt: protocol name
        (5, 1) => "Not Implemented",             // i18n-exempt: protocol name
        (5, 2) => "Bad Gateway",                 // i18n-exempt: protocol name
        (5, 3) => "Service Unavailable",         // i18n-exempt: protocol name
        (5, 4) => "Gateway Timeout",             // i18n-exempt: protocol name
        (5, 5) => "Proxying Not Supported",      // i18n-exempt: protocol name
        _ => "?",
    }
}

/// How an option's value is written (RFC 7252 section 3.2).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Empty,
    Opaque,
    Uint,
    Text,
    /// Block1/Block2 (RFC 7959): a uint holding number, more flag and size exponent.
    Block,
}

fn option(number: u32) -> (&'static str, Format) {
    match number {
        1 => ("If-Match", Format::Opaque), // i18n-exempt: protocol name
        3 => ("Uri-Host", Format::Text),   // i18n-exempt: protocol name
        4 => ("ETag", Format::Opaque),
        5 => ("If-None-Match", Format::Empty), // i18n-exempt: protocol name
        6 => ("Observe", Format::Uint),        // i18n-exempt: protocol name
        7 => ("Uri-Port", Format::Uint),       // i18n-exempt: protocol name
        8 => ("Location-Path", Format::Text),  // i18n-exempt: protocol name
        11 => ("Uri-Path", Format::Text),      // i18n-exempt: protocol name
        12 => ("Content-Format", Format::Uint), // i18n-exempt: protocol name
        14 => ("Max-Age", Format::Uint),       // i18n-exempt: protocol name
        15 => ("Uri-Query", Format::Text),     // i18n-exempt: protocol name
        17 => ("Accept", Format::Uint),        // i18n-exempt: protocol name
        20 => ("Location-Query", Format::Text), // i18n-exempt: protocol name
        23 => ("Block2", Format::Block),       // i18n-exempt: protocol name
        27 => ("Block1", Format::Block),       // i18n-exempt: protocol name
        28 => ("Size2", Format::Uint),         // i18n-exempt: protocol name
        35 => ("Proxy-Uri", Format::Text),     // i18n-exempt: protocol name
        39 => ("Proxy-Scheme", Format::Text),  // i18n-exempt: protocol name
        60 => ("Size1", Format::Uint),         // i18n-exempt: protocol name
        258 => ("No-Response", Format::Uint),  // i18n-exempt: protocol name
        _ => ("?", Format::Opaque),
    }
}

/// Content-Format numbers' media types (the IANA CoAP registry's common ones).
fn content_format(n: u64) -> Option<&'static str> {
    Some(match n {
        0 => "text/plain; charset=utf-8", // i18n-exempt: protocol name
        16 => "application/cose; cose-type=\"cose-encrypt0\"", // i18n-exempt: protocol name
        40 => "application/link-format",
        41 => "application/xml",
        42 => "application/octet-stream",
        47 => "application/exi",
        50 => "application/json",
        60 => "application/cbor",
        110 => "application/senml+json",
        112 => "application/senml+cbor",
        _ => return None,
    })
}

pub fn decode(bytes: &[u8]) -> Decoded {
    let mut fields = Vec::new();
    let mut c = Cursor::new(bytes);
    let summary = match decode_message(&mut c, &mut fields) {
        Ok(summary) => summary,
        Err(Stop) => super::truncated_summary(Protocol::Coap),
    };
    Decoded { summary, fields }
}

fn decode_message(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<String, Stop> {
    let (r, first) = c.u8(out, &s(t!("protocol.coap.header")))?;
    let version = first >> 6;
    let kind = first >> 4 & 3;
    let tkl = first & 0xF;
    let mut version_field = Field::new(
        s(t!("protocol.coap.version")),
        version.to_string(),
        r.clone(),
    );
    if version != 1 {
        version_field = version_field.with_problem(s(t!("protocol.coap.bad_version")));
    }
    out.push(version_field);
    out.push(Field::new(
        s(t!("protocol.coap.type")),
        named(kind, type_name(kind)),
        r.clone(),
    ));
    let mut tkl_field = Field::new(s(t!("protocol.coap.token_length")), tkl.to_string(), r);
    if tkl > 8 {
        tkl_field = tkl_field.with_problem(s(t!("protocol.coap.bad_token_length")));
    }
    out.push(tkl_field);
    let code_label = s(t!("protocol.coap.code"));
    let (r, code) = c.u8(out, &code_label)?;
    let dotted = format!("{}.{:02}", code >> 5, code & 0x1F);
    out.push(Field::new(
        code_label,
        format!("{dotted} {}", code_name(code)),
        r,
    ));
    let id_label = s(t!("protocol.coap.message_id"));
    let (r, id) = c.u16(out, &id_label)?;
    out.push(Field::new(id_label, format!("{id} (0x{id:04X})"), r));
    if tkl > 0 {
        let token_label = s(t!("protocol.coap.token"));
        let (r, token) = c.take(usize::from(tkl.min(8)), out, &token_label)?;
        out.push(Field::new(token_label, hex_preview(token), r));
    }
    let mut number = 0u32;
    let mut path = Vec::new();
    let mut query = Vec::new();
    let mut format = None;
    while c.left() > 0 {
        if c.bytes[c.pos] == PAYLOAD_MARKER {
            let marker = c.pos;
            c.pos += 1;
            out.push(Field::new(
                s(t!("protocol.coap.payload_marker")),
                "0xFF",
                marker..marker + 1,
            ));
            let start = c.pos;
            let payload = &c.bytes[start..];
            c.pos = c.bytes.len();
            let mut field = payload_field(&s(t!("protocol.coap.payload")), payload, start);
            if payload.is_empty() {
                // RFC 7252 section 3: a marker followed by nothing is a format error.
                field = field.with_problem(s(t!("protocol.coap.empty_payload")));
            }
            out.push(field);
            let summary = summary(kind, code, id, &path, &query);
            let format = format
                .and_then(content_format)
                .map_or(String::new(), |f| format!(" · {f}"));
            return Ok(format!(
                "{summary} · {}{format}",
                t!("protocol.bytes", count = payload.len())
            ));
        }
        let (name, value, n) = one_option(c, out, &mut number)?;
        match name {
            11 => path.push(value),
            15 => query.push(value),
            12 => format = Some(n),
            _ => {}
        }
    }
    Ok(summary(kind, code, id, &path, &query))
}

fn summary(kind: u8, code: u8, id: u16, path: &[String], query: &[String]) -> String {
    let dotted = format!("{}.{:02}", code >> 5, code & 0x1F);
    let mut target = String::new();
    for part in path {
        target.push('/');
        target.push_str(part);
    }
    if !query.is_empty() {
        target.push('?');
        target.push_str(&query.join("&"));
    }
    let what = if code >> 5 == 0 && code != 0 {
        format!("{} {target}", code_name(code))
    } else {
        format!("{dotted} {}", code_name(code))
    };
    s(t!(
        "protocol.coap.summary",
        kind = type_name(kind),
        what = what.trim_end(),
        id = id
    ))
}

/// An extended delta or length: 13 adds a byte (+13), 14 two bytes (+269), 15 is reserved.
fn extended(
    nibble: u8,
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    label: &str,
) -> Result<u32, Stop> {
    match nibble {
        13 => {
            let (r, b) = c.u8(out, label)?;
            let v = u32::from(b) + 13;
            out.push(Field::new(label, v.to_string(), r));
            Ok(v)
        }
        14 => {
            let (r, w) = c.u16(out, label)?;
            let v = u32::from(w) + 269;
            out.push(Field::new(label, v.to_string(), r));
            Ok(v)
        }
        15 => {
            let at = c.pos;
            out.push(
                Field::new(label, "15", at.saturating_sub(1)..at)
                    .with_problem(s(t!("protocol.coap.reserved_nibble"))),
            );
            Err(Stop)
        }
        n => Ok(u32::from(n)),
    }
}

/// One option: its header byte, extensions and value. Returns its number, its value as text
/// and as a number (for Content-Format).
fn one_option(
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    number: &mut u32,
) -> Result<(u32, String, u64), Stop> {
    let start = c.pos;
    let mut inner = Vec::new();
    let result = (|| {
        let head_label = s(t!("protocol.coap.option_header"));
        let (r, head) = c.u8(&mut inner, &head_label)?;
        inner.push(Field::new(head_label, format!("0x{head:02X}"), r));
        let delta = extended(head >> 4, c, &mut inner, &s(t!("protocol.coap.delta")))?;
        let length = extended(head & 0xF, c, &mut inner, &s(t!("protocol.coap.length")))?;
        *number = number.saturating_add(delta);
        let value_label = s(t!("protocol.coap.value"));
        let (r, value) = c.take(length as usize, &mut inner, &value_label)?;
        Ok::<_, Stop>((*number, r, value))
    })();
    let Ok((n, range, value)) = result else {
        let problem = inner.iter().find_map(|f| f.problem.clone());
        let mut field = Field::new(s(t!("protocol.coap.option")), String::new(), start..c.pos)
            .with_children(inner);
        field.problem = problem;
        out.push(field);
        return Err(Stop);
    };
    let (name, format) = option(n);
    let uint = value.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b));
    let (shown, plain) = match format {
        Format::Empty => (String::new(), String::new()),
        Format::Text => {
            let text = String::from_utf8_lossy(value).into_owned();
            (format!("{text:?}"), text)
        }
        Format::Uint if n == 12 || n == 17 => (
            content_format(uint).map_or(uint.to_string(), |f| named(uint, f)),
            uint.to_string(),
        ),
        Format::Uint => (uint.to_string(), uint.to_string()),
        Format::Block => (
            s(t!(
                "protocol.coap.block",
                num = uint >> 4,
                more = super::yes_no(uint & 8 != 0),
                size = 1u64 << ((uint & 7) + 4)
            )),
            uint.to_string(),
        ),
        Format::Opaque => (hex_preview(value), hex_preview(value)),
    };
    inner.push(Field::new(
        s(t!("protocol.coap.value")),
        shown.clone(),
        range,
    ));
    let title = if name == "?" {
        s(t!("protocol.coap.option_n", n = n))
    } else {
        name.to_owned()
    };
    out.push(Field::new(title, format!("{n} · {shown}"), start..c.pos).with_children(inner));
    Ok((n, plain, uint))
}
