//! HTTP/1.x messages (RFC 9112) and SSDP, which is HTTP over UDP (`UPnP` Device Architecture
//! 2.0): the start line, each header as a field, and the body with its length.
//!
//! Header names and values are the message's own text and are shown as sent. For SSDP the
//! headers that say what is searched for or announced (ST, NT, NTS, USN, LOCATION) are
//! marked [`Field::highlight`] and go into the summary.

use std::ops::Range;

use rust_i18n::t;

use super::{Decoded, Field, Protocol, hex_preview, payload_field, s, truncated};

/// SSDP's headers that name what a message is about.
const SSDP_KEY_HEADERS: [&str; 5] = ["ST", "NT", "NTS", "USN", "LOCATION"];

const CONTENT_LENGTH: &str = "Content-Length"; // i18n-exempt: protocol name
const CONTENT_TYPE: &str = "Content-Type"; // i18n-exempt: protocol name
const TRANSFER_ENCODING: &str = "Transfer-Encoding"; // i18n-exempt: protocol name
const HOST: &str = "Host"; // i18n-exempt: protocol name

/// The next line from `at`: its range without the line end, and where the next one starts.
/// `None` when no line end follows (the record ends inside the line).
fn line_at(bytes: &[u8], at: usize) -> Option<(Range<usize>, usize)> {
    let rest = bytes.get(at..)?;
    let lf = memchr::memchr(b'\n', rest)?;
    let end = if lf > 0 && rest[lf - 1] == b'\r' {
        at + lf - 1
    } else {
        at + lf
    };
    Some((at..end, at + lf + 1))
}

fn text(bytes: &[u8], range: Range<usize>) -> String {
    String::from_utf8_lossy(&bytes[range]).into_owned()
}

pub fn decode(bytes: &[u8], ssdp: bool) -> Decoded {
    let protocol = if ssdp { Protocol::Ssdp } else { Protocol::Http };
    let mut fields = Vec::new();
    let Some((first, mut pos)) = line_at(bytes, 0) else {
        let start_line = Field::new(
            s(t!("protocol.http.start_line")),
            text(bytes, 0..bytes.len()),
            0..bytes.len(),
        )
        .with_problem(s(t!("protocol.http.line_unfinished")));
        fields.push(start_line);
        return Decoded {
            summary: super::truncated_summary(protocol),
            fields,
        };
    };
    let start = start_line(bytes, first.clone());
    fields.push(start.field);

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut ended = false;
    while pos < bytes.len() {
        let Some((line, next)) = line_at(bytes, pos) else {
            fields.push(
                Field::new(
                    s(t!("protocol.http.header")),
                    text(bytes, pos..bytes.len()),
                    pos..bytes.len(),
                )
                .with_problem(s(t!("protocol.http.line_unfinished"))),
            );
            pos = bytes.len();
            break;
        };
        pos = next;
        if line.is_empty() {
            ended = true;
            break;
        }
        let content = text(bytes, line.clone());
        let field = if let Some((name, value)) = content.split_once(':') {
            let name = name.trim().to_owned();
            let value = value.trim().to_owned();
            let mut field = Field::new(name.clone(), value.clone(), line);
            field.highlight = ssdp
                && SSDP_KEY_HEADERS
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(&name));
            headers.push((name, value));
            field
        } else {
            Field::new(s(t!("protocol.http.header")), content, line)
                .with_problem(s(t!("protocol.http.no_colon")))
        };
        fields.push(field);
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    if !ended {
        fields.push(
            Field::new(
                s(t!("protocol.http.end_of_headers")),
                String::new(),
                pos..pos,
            )
            .with_problem(s(t!("protocol.http.headers_unfinished"))),
        );
    }
    let body_len = if ended {
        body(
            bytes,
            pos,
            header(CONTENT_LENGTH),
            header(TRANSFER_ENCODING),
            &mut fields,
        )
    } else {
        0
    };
    let summary = if ssdp {
        ssdp_summary(&start.kind, &header)
    } else {
        http_summary(&start.kind, &header, body_len)
    };
    let summary = if ended {
        summary
    } else {
        format!("{summary} · {}", super::truncated_summary(protocol))
    };
    Decoded { summary, fields }
}

/// What the start line says.
enum StartKind {
    Request { method: String, target: String },
    Response { status: String, reason: String },
    Unknown,
}

struct StartLine {
    field: Field,
    kind: StartKind,
}

fn start_line(bytes: &[u8], range: Range<usize>) -> StartLine {
    let line = &bytes[range.clone()];
    let content = text(bytes, range.clone());
    // The three parts, each with its byte range in the record.
    let mut parts: Vec<(String, Range<usize>)> = Vec::new();
    let mut from = 0;
    for (i, &b) in line.iter().enumerate() {
        if b == b' ' && parts.len() < 2 {
            parts.push((text(line, from..i), range.start + from..range.start + i));
            from = i + 1;
        }
    }
    parts.push((text(line, from..line.len()), range.start + from..range.end));
    let mut field = Field::new(s(t!("protocol.http.start_line")), content, range);
    let kind = match parts.as_slice() {
        [(version, vr), (status, sr), (reason, rr)] if version.starts_with("HTTP/") => {
            field.children = vec![
                Field::new(s(t!("protocol.http.version")), version.clone(), vr.clone()),
                Field::new(s(t!("protocol.http.status")), status.clone(), sr.clone()),
                Field::new(s(t!("protocol.http.reason")), reason.clone(), rr.clone()),
            ];
            StartKind::Response {
                status: status.clone(),
                reason: reason.clone(),
            }
        }
        [(method, mr), (target, tr), (version, vr)] if version.starts_with("HTTP/") => {
            field.children = vec![
                Field::new(s(t!("protocol.http.method")), method.clone(), mr.clone()),
                Field::new(s(t!("protocol.http.target")), target.clone(), tr.clone()),
                Field::new(s(t!("protocol.http.version")), version.clone(), vr.clone()),
            ];
            StartKind::Request {
                method: method.clone(),
                target: target.clone(),
            }
        }
        _ => {
            field.problem = Some(s(t!("protocol.http.bad_start_line")));
            StartKind::Unknown
        }
    };
    StartLine { field, kind }
}

/// Pushes the body field (after the empty line at `at`) and returns its length.
fn body(
    bytes: &[u8],
    at: usize,
    content_length: Option<&str>,
    transfer_encoding: Option<&str>,
    out: &mut Vec<Field>,
) -> usize {
    let rest = &bytes[at..];
    let label = s(t!("protocol.http.body"));
    if transfer_encoding.is_some_and(|te| te.to_ascii_lowercase().contains("chunked")) {
        return chunked(bytes, at, out);
    }
    match content_length.map(|v| v.trim().parse::<usize>()) {
        Some(Ok(expected)) => {
            let got = rest.len().min(expected);
            let mut field = payload_field(&label, &rest[..got], at);
            if got < expected {
                field = field.with_problem(truncated(got, expected));
            }
            out.push(field);
            if rest.len() > expected {
                out.push(
                    Field::new(
                        s(t!("protocol.trailing")),
                        hex_preview(&rest[expected..]),
                        at + expected..bytes.len(),
                    )
                    .with_problem(s(t!("protocol.http.after_body"))),
                );
            }
            got
        }
        Some(Err(_)) => {
            out.push(
                payload_field(&label, rest, at).with_problem(s(t!("protocol.http.bad_length"))),
            );
            rest.len()
        }
        None => {
            if !rest.is_empty() {
                out.push(payload_field(&label, rest, at));
            }
            rest.len()
        }
    }
}

/// A chunked body: each chunk's size line and data as children of the body.
fn chunked(bytes: &[u8], at: usize, out: &mut Vec<Field>) -> usize {
    let mut children = Vec::new();
    let mut pos = at;
    let mut total = 0usize;
    let mut problem = None;
    loop {
        let Some((line, next)) = line_at(bytes, pos) else {
            problem = Some(s(t!("protocol.http.line_unfinished")));
            break;
        };
        let size_text = text(bytes, line.clone());
        let hex = size_text.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(hex, 16) else {
            problem = Some(s(t!("protocol.http.bad_chunk")));
            break;
        };
        children.push(Field::new(
            s(t!("protocol.http.chunk_size")),
            size.to_string(),
            line,
        ));
        pos = next;
        if size == 0 {
            // The last chunk; trailers and the final empty line follow.
            break;
        }
        let available = bytes.len() - pos;
        let data = &bytes[pos..pos + available.min(size)];
        let mut field = payload_field(&s(t!("protocol.http.chunk")), data, pos);
        total += data.len();
        if available < size {
            field = field.with_problem(truncated(available, size));
            problem.clone_from(&field.problem);
            children.push(field);
            pos = bytes.len();
            break;
        }
        children.push(field);
        pos += size;
        // The chunk's data ends with its own line end.
        if let Some((_, next)) = line_at(bytes, pos) {
            pos = next;
        } else {
            problem = Some(s(t!("protocol.http.line_unfinished")));
            pos = bytes.len();
            break;
        }
    }
    let mut field = Field::new(
        s(t!("protocol.http.body")),
        s(t!("protocol.http.chunked", count = total)),
        at..pos.max(at),
    )
    .with_children(children);
    field.problem = problem;
    out.push(field);
    total
}

fn http_summary<'h>(
    kind: &StartKind,
    header: &impl Fn(&str) -> Option<&'h str>,
    body_len: usize,
) -> String {
    match kind {
        StartKind::Request { method, target } => match header(HOST) {
            Some(host) => s(t!(
                "protocol.http.summary.request_host",
                method = method,
                target = target,
                host = host
            )),
            None => format!("{method} {target}"),
        },
        StartKind::Response { status, reason } => match header(CONTENT_TYPE) {
            Some(kind) => s(t!(
                "protocol.http.summary.response_type",
                status = status,
                reason = reason,
                count = body_len,
                kind = kind
            )),
            None => s(t!(
                "protocol.http.summary.response",
                status = status,
                reason = reason,
                count = body_len
            )),
        },
        StartKind::Unknown => s(t!("protocol.http.summary.unknown")),
    }
}

fn ssdp_summary<'h>(kind: &StartKind, header: &impl Fn(&str) -> Option<&'h str>) -> String {
    let get = |name: &str| header(name).unwrap_or("?").to_owned();
    match kind {
        StartKind::Request { method, .. } if method == "M-SEARCH" => s(t!(
            "protocol.ssdp.summary.search",
            st = get("ST"),
            mx = get("MX")
        )),
        StartKind::Request { method, .. } if method == "NOTIFY" => s(t!(
            "protocol.ssdp.summary.notify",
            nts = get("NTS"),
            nt = get("NT"),
            usn = get("USN")
        )),
        StartKind::Request { method, target } => format!("{method} {target}"),
        StartKind::Response { status, reason } => s(t!(
            "protocol.ssdp.summary.response",
            status = status,
            reason = reason,
            st = get("ST"),
            location = get("LOCATION")
        )),
        StartKind::Unknown => s(t!("protocol.http.summary.unknown")),
    }
}
