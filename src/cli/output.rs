//! How the command line prints: readable lines (data on stdout, status on stderr) or one JSON
//! object per line on stdout.

use std::io::Write;
use std::net::SocketAddr;

use rust_i18n::t;
use serde_json::json;

use crate::codec::TextEncoding;
use crate::codec::hex::format_hex;
use crate::engine::session::FrameNotice;
use crate::traffic::{Check, format_time_us, now_us};

pub struct Printer {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    pub json: bool,
    pub hex_out: bool,
    pub encoding: TextEncoding,
    /// A payload's display text, reused from record to record: a fast sender's reads are
    /// up to 512 KiB, so a fresh buffer each time (four times that for binary) was
    /// allocated and faulted in for every one.
    text: Vec<u8>,
    /// The marks after a checked record's size, looked up once (not per record).
    good_mark: String,
    bad_mark: String,
    /// A `--script`'s notices, shown among the traffic as they come.
    script: Option<crate::engine::session::script::ScriptReports>,
    /// Notices of the script already said to be lost.
    script_dropped: u64,
}

/// How many terminal columns `text` takes: two for a wide (CJK, full-width) character.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let wide = matches!(c,
                '\u{1100}'..='\u{115F}'
                | '\u{2E80}'..='\u{A4CF}'
                | '\u{AC00}'..='\u{D7A3}'
                | '\u{F900}'..='\u{FAFF}'
                | '\u{FE30}'..='\u{FE4F}'
                | '\u{FF00}'..='\u{FF60}'
                | '\u{FFE0}'..='\u{FFE6}');
            if wide { 2 } else { 1 }
        })
        .sum()
}

/// `text` padded with spaces on the right to `width` columns (`{:<width}` for text of narrow
/// characters; a Chinese column heading lines up too).
pub fn pad(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(display_width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// `text` padded with spaces on the left to `width` columns (`{:>width}`).
pub fn pad_left(text: &str, width: usize) -> String {
    let fill = width.saturating_sub(display_width(text));
    format!("{}{text}", " ".repeat(fill))
}

/// The largest [`Printer::text`] kept between records.
const KEEP_TEXT_BYTES: usize = 4 << 20;

/// The local UTC offset, so readable times match the wall clock.
fn utc_offset() -> i64 {
    i64::from(chrono::Local::now().offset().local_minus_utc())
}

impl Printer {
    pub fn stdout(json: bool, hex_out: bool, encoding: TextEncoding) -> Self {
        Self {
            out: Box::new(std::io::stdout()),
            err: Box::new(std::io::stderr()),
            json,
            hex_out,
            encoding,
            text: Vec::new(),
            good_mark: format!(" {}", t!("cli.output.checksum_ok")),
            bad_mark: format!(" {}", t!("cli.output.checksum_bad")),
            script: None,
            script_dropped: 0,
        }
    }

    /// Shows what `reports` say (a `--script`'s prints and its stop) beside the traffic.
    pub fn watch_script(&mut self, reports: crate::engine::session::script::ScriptReports) {
        self.script = Some(reports);
    }

    /// Prints the script's notices that came since the last look. Called with every record
    /// and status, so a script's error shows right after the record it answered.
    pub fn script_notices(&mut self) {
        use crate::engine::session::script::ScriptNotice;
        /// Enough for one turn; the rest wait for the next record or status.
        const PER_TURN: usize = 64;
        let Some(reports) = &self.script else {
            return;
        };
        let notices = reports.take(PER_TURN);
        let dropped = reports.dropped();
        for notice in notices {
            match notice {
                ScriptNotice::Printed { text } => {
                    let line = t!("script.cli.printed", text = text);
                    self.emit_status("script_print", &line, json!({ "text": text }));
                }
                ScriptNotice::Stopped { peer, error } => {
                    let line = peer.map_or_else(
                        || t!("script.cli.stopped", error = error),
                        |peer| t!("script.cli.stopped_peer", peer = peer, error = error),
                    );
                    self.emit_status(
                        "script_error",
                        &line,
                        json!({
                            "peer": peer.map(|p| p.to_string()),
                            "line": error.line,
                            "column": error.column,
                            "reason": error.reason,
                        }),
                    );
                }
            }
        }
        if dropped > self.script_dropped {
            let count = dropped - self.script_dropped;
            self.script_dropped = dropped;
            let line = t!("script.cli.dropped", count = count);
            self.emit_status("script_dropped", &line, json!({ "count": count }));
        }
    }

    /// Prints a JSON object (scripts) as one line.
    pub fn object(&mut self, value: &serde_json::Value) {
        let _ = writeln!(self.out, "{value}");
        let _ = self.out.flush();
    }

    /// A payload that crossed the wire: `rx`/`tx` with the peer.
    pub fn record(&mut self, dir: &str, peer: Option<SocketAddr>, bytes: &[u8]) {
        self.record_checked(dir, peer, bytes, Check::Unchecked);
    }

    /// A received record with its checksum verdict (JSON: `checksum_ok`; readable: a mark
    /// after the size).
    pub fn received(&mut self, peer: SocketAddr, bytes: &[u8], check: Check) {
        self.record_checked("rx", Some(peer), bytes, check);
    }

    fn record_checked(&mut self, dir: &str, peer: Option<SocketAddr>, bytes: &[u8], check: Check) {
        let time_us = now_us();
        if self.json {
            let mut v = json!({
                "event": dir,
                "time_us": time_us,
                "peer": peer.map(|p| p.to_string()),
                "len": bytes.len(),
                "text": self.encoding.decode_for_display(bytes),
            });
            if self.hex_out {
                v["hex"] = json!(format_hex(bytes));
            }
            if check != Check::Unchecked {
                v["checksum_ok"] = json!(check == Check::Good);
            }
            self.object(&v);
            self.script_notices();
            return;
        }
        // The display text goes out as the decoder's bytes, with no `String` in between.
        self.text.clear();
        self.encoding
            .decode_for_display_to_vec(bytes, &mut self.text);
        self.text.push(b'\n');
        let time = format_time_us(time_us, utc_offset());
        let peer = peer.map(|p| format!(" {p}")).unwrap_or_default();
        let dir = dir.to_ascii_uppercase();
        let mark = match check {
            Check::Unchecked => "",
            Check::Good => self.good_mark.as_str(),
            Check::Bad => self.bad_mark.as_str(),
        };
        let _ = write!(self.out, "{time} {dir}{peer} {} B{mark}: ", bytes.len());
        let _ = self.out.write_all(&self.text);
        if self.hex_out {
            let _ = writeln!(self.out, "    {}", format_hex(bytes));
        }
        let _ = self.out.flush();
        if self.text.capacity() > KEEP_TEXT_BYTES {
            self.text = Vec::new();
        }
        self.script_notices();
    }

    /// A state change (listening, connected, closed…): stderr when readable, an object with
    /// `event` when JSON.
    pub fn status(&mut self, event: &str, text: &str, extra: serde_json::Value) {
        self.script_notices();
        self.emit_status(event, text, extra);
    }

    fn emit_status(&mut self, event: &str, text: &str, extra: serde_json::Value) {
        if self.json {
            let mut v = json!({ "event": event, "message": text });
            if let (Some(obj), serde_json::Value::Object(more)) = (v.as_object_mut(), extra) {
                obj.extend(more);
            }
            self.object(&v);
        } else {
            let _ = writeln!(self.err, "{text}");
            let _ = self.err.flush();
        }
    }

    /// What a framer said about `peer`'s stream. Readable output leaves out the bytes
    /// waiting for a frame's end (they change with every read); JSON has them all.
    pub fn frame_notice(&mut self, peer: SocketAddr, notice: &FrameNotice) {
        let (kind, extra) = match notice {
            FrameNotice::Pending { bytes } => {
                if !self.json {
                    return;
                }
                ("pending", json!({ "bytes": bytes }))
            }
            FrameNotice::OverLimit { limit, declared } => (
                "over_limit",
                json!({ "limit": limit, "declared": declared }),
            ),
            FrameNotice::BadLength { value, header } => {
                ("bad_length", json!({ "value": value, "header": header }))
            }
            FrameNotice::EndedInside { bytes } => ("ended_inside", json!({ "bytes": bytes })),
            FrameNotice::ReplyDropped { waiting } => {
                ("reply_dropped", json!({ "waiting": waiting }))
            }
        };
        let mut extra = extra;
        extra["peer"] = json!(peer.to_string());
        extra["notice"] = json!(kind);
        self.status("frame", &format!("{peer}: {notice}."), extra);
    }

    /// A readable line on stdout (tables), or nothing in JSON mode.
    pub fn line(&mut self, text: &str) {
        if !self.json {
            let _ = writeln!(self.out, "{text}");
            let _ = self.out.flush();
        }
    }
}
