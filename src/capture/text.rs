//! The text and CSV capture formats: one record per line (text: its hex on indented lines
//! below), times in UTC with microseconds, the text decoded as the session shows it.

use std::fmt::Write as _;

use crate::codec::TextEncoding;
use crate::codec::hex::format_hex_into;

use super::{Direction, Head, RecordKind};

/// Bytes of hex per line in the text format.
const HEX_PER_LINE: usize = 32;

/// `time_us` as `2026-12-03 08:31:41.123456` (UTC).
pub fn utc_time(time_us: u64) -> String {
    let micros = i64::try_from(time_us).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(
        || format!("{time_us} us"),
        |t| t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
    )
}

fn direction_word(head: &Head) -> &'static str {
    match (head.kind, head.direction) {
        (RecordKind::Closed, _) => "closed",
        (RecordKind::Data, Direction::Sent) => "TX",
        (RecordKind::Data, Direction::Received) => "RX",
    }
}

fn decoded(encoding: TextEncoding, bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len() + 16);
    encoding.decode_for_display_to_vec(bytes, &mut v);
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The text file's first lines.
pub fn text_header(label: &str, encoding: TextEncoding) -> String {
    format!(
        "# Sockpit capture: {label}\n# times UTC; TX = this end sent, RX = this end received; text as {}, hex below each record\n", // i18n-exempt: the file's header, read by scripts
        encoding.name()
    )
}

/// One record in the text format, appended to `out`.
pub fn text_record(head: &Head, bytes: &[u8], encoding: TextEncoding, out: &mut String) {
    let (from, to) = match head.direction {
        Direction::Sent => (head.local, head.peer),
        Direction::Received => (head.peer, head.local),
    };
    let _ = write!(
        out,
        "{} {} {} {from} > {to}",
        utc_time(head.time_us),
        direction_word(head),
        head.transport.label(),
    );
    if head.kind == RecordKind::Closed {
        out.push('\n');
        return;
    }
    let _ = write!(out, " {} B ", bytes.len());
    out.push_str(&decoded(encoding, bytes));
    out.push('\n');
    for chunk in bytes.chunks(HEX_PER_LINE) {
        out.push_str("    ");
        format_hex_into(chunk, out);
        out.push('\n');
    }
}

/// The CSV file's header row.
pub const CSV_HEADER: &str = "time_utc,time_us,direction,transport,local,peer,length,text,hex\r\n";

/// One record as a CSV row (RFC 4180, CRLF), appended to `out`.
pub fn csv_record(head: &Head, bytes: &[u8], encoding: TextEncoding, out: &mut String) {
    let _ = write!(
        out,
        "{},{},{},{},{},{},{},",
        utc_time(head.time_us),
        head.time_us,
        direction_word(head),
        head.transport.label(),
        head.local,
        head.peer,
        bytes.len()
    );
    push_csv_field(&decoded(encoding, bytes), out);
    out.push(',');
    let mut hex = String::with_capacity(bytes.len() * 3);
    format_hex_into(bytes, &mut hex);
    push_csv_field(&hex, out);
    out.push_str("\r\n");
}

fn push_csv_field(field: &str, out: &mut String) {
    out.push('"');
    for c in field.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::super::Transport;
    use super::*;

    fn head(direction: Direction) -> Head {
        Head {
            time_us: 1_764_750_701_123_456,
            direction,
            kind: RecordKind::Data,
            transport: Transport::Udp,
            local: "127.0.0.1:5000".parse().unwrap(),
            peer: "127.0.0.2:7000".parse().unwrap(),
        }
    }

    #[test]
    fn text_lines_show_time_direction_ends_text_and_hex() {
        let mut out = String::new();
        text_record(
            &head(Direction::Received),
            b"hi\n\"x\"",
            TextEncoding::Utf8,
            &mut out,
        );
        assert_eq!(
            out,
            "2025-12-03 08:31:41.123456 RX UDP 127.0.0.2:7000 > 127.0.0.1:5000 6 B hi\\n\"x\"\n    68 69 0A 22 78 22\n"
        );
    }

    #[test]
    fn csv_rows_quote_text_and_keep_commas_and_newlines_inside() {
        let mut out = String::new();
        csv_record(
            &head(Direction::Sent),
            b"a,\"b\"",
            TextEncoding::Utf8,
            &mut out,
        );
        assert_eq!(
            out,
            "2025-12-03 08:31:41.123456,1764750701123456,TX,UDP,127.0.0.1:5000,127.0.0.2:7000,5,\"a,\"\"b\"\"\",\"61 2C 22 62 22\"\r\n"
        );
    }
}
