//! How the command line prints: readable lines (data on stdout, status on stderr) or one JSON
//! object per line on stdout.

use std::io::Write;
use std::net::SocketAddr;

use serde_json::json;

use crate::codec::TextEncoding;
use crate::codec::hex::format_hex;
use crate::traffic::{format_time_us, now_us};

pub struct Printer {
    out: Box<dyn Write>,
    err: Box<dyn Write>,
    pub json: bool,
    pub hex_out: bool,
    pub encoding: TextEncoding,
}

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
        }
    }

    /// Prints a JSON object (scripts) as one line.
    pub fn object(&mut self, value: &serde_json::Value) {
        let _ = writeln!(self.out, "{value}");
        let _ = self.out.flush();
    }

    /// A payload that crossed the wire: `rx`/`tx` with the peer.
    pub fn record(&mut self, dir: &str, peer: Option<SocketAddr>, bytes: &[u8]) {
        let text = self.encoding.decode_for_display(bytes);
        let time_us = now_us();
        if self.json {
            let mut v = json!({
                "event": dir,
                "time_us": time_us,
                "peer": peer.map(|p| p.to_string()),
                "len": bytes.len(),
                "text": text,
            });
            if self.hex_out {
                v["hex"] = json!(format_hex(bytes));
            }
            self.object(&v);
            return;
        }
        let time = format_time_us(time_us, utc_offset());
        let peer = peer.map(|p| format!(" {p}")).unwrap_or_default();
        let dir = dir.to_ascii_uppercase();
        let _ = writeln!(self.out, "{time} {dir}{peer} {} B: {text}", bytes.len());
        if self.hex_out {
            let _ = writeln!(self.out, "    {}", format_hex(bytes));
        }
        let _ = self.out.flush();
    }

    /// A state change (listening, connected, closed…): stderr when readable, an object with
    /// `event` when JSON.
    pub fn status(&mut self, event: &str, text: &str, extra: serde_json::Value) {
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

    /// A readable line on stdout (tables), or nothing in JSON mode.
    pub fn line(&mut self, text: &str) {
        if !self.json {
            let _ = writeln!(self.out, "{text}");
            let _ = self.out.flush();
        }
    }
}
