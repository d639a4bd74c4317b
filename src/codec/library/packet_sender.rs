//! Packet Sender's exports, read into our packets so users bring their library along.
//!
//! Packet Sender (dannagle/PacketSender, `src/packet.cpp`) writes two formats:
//! - **JSON** (`Packet::ExportJSON`, also its cloud and `.panels` files): an array of flat
//!   objects with lower-case keys — `name`, `hexstring` (the payload, hex bytes separated by
//!   spaces, any case), `tcporudp` (`TCP`, `UDP`, `SSL`, `DTLS`, `HTTP Get`…), `toip`, `port`
//!   (a string), `repeat` (seconds, a number), and fields it leaves empty or we do not need
//!   (`asciistring` base64, `errorstring`, `fromip`, `fromport`, `requestpath`,
//!   `sendresponse`).
//! - **INI** (File › Export Database copies its `packets.ini`, `QSettings` format): a
//!   `[NAMES]` section listing `1\name=…`, `size=N`, then one section per packet (its name,
//!   %-escaped) with `name`, `hexString`, `toIP`, `port`, `tcpOrUdp`, `repeat`… Qt 5 writes
//!   `repeat` as `@Variant(\0\0\0\x87…)` (a float, big-endian) and non-ASCII as `\xNNNN`.
//!
//! Each becomes a hex packet in the group "Packet Sender"; a UDP packet keeps its destination,
//! and the note says the protocol, target and repeat it had there.

use std::collections::HashMap;

use rust_i18n::t;
use serde_json::Value;

use super::{ImportReport, Packet};
use crate::codec::payload::SendMode;

const GROUP: &str = "Packet Sender";
/// The catalogue key of the format's name.
const FORMAT: &str = "codec.library.format.packet_sender";

/// One packet as Packet Sender describes it.
#[derive(Debug, Default)]
struct Foreign {
    name: String,
    hex: String,
    protocol: String,
    to_ip: String,
    port: String,
    repeat_s: f64,
}

impl Foreign {
    /// Our packet, or a note saying why it was left out.
    fn into_packet(self) -> Result<Packet, String> {
        // Packet Sender reads the hex with QByteArray::fromHex, which skips anything that is
        // not a hex digit; keep the digits in pairs so our hex parser reads the same bytes.
        let mut digits: String = self.hex.chars().filter(char::is_ascii_hexdigit).collect();
        if digits.is_empty() {
            return Err(t!("codec.library.ps.no_bytes", name = self.name).into_owned());
        }
        // fromHex pairs digits from the end, so a lone digit is the first byte (0x0N).
        if digits.len() % 2 == 1 {
            digits.insert(0, '0');
        }
        let payload = digits
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect::<Vec<_>>()
            .join(" ");
        let protocol = if self.protocol.is_empty() {
            "TCP".to_owned()
        } else {
            self.protocol
        };
        let udp = protocol.eq_ignore_ascii_case("udp");
        let target = match (self.to_ip.trim(), self.port.trim()) {
            ("", _) => String::new(),
            (ip, port) if ip.contains(':') && !ip.starts_with('[') => format!("[{ip}]:{port}"),
            (ip, port) => format!("{ip}:{port}"),
        };
        let seconds = round1(self.repeat_s);
        let note = match (target.is_empty(), self.repeat_s > 0.0) {
            (true, false) => t!("codec.library.ps.note", protocol = protocol),
            (false, false) => t!(
                "codec.library.ps.note_to",
                protocol = protocol,
                target = target
            ),
            (true, true) => t!(
                "codec.library.ps.note_repeat",
                protocol = protocol,
                seconds = seconds
            ),
            (false, true) => t!(
                "codec.library.ps.note_to_repeat",
                protocol = protocol,
                target = target,
                seconds = seconds
            ),
        }
        .into_owned();
        Ok(Packet {
            name: self.name,
            payload,
            mode: SendMode::Hex,
            group: GROUP.to_owned(),
            note,
            destination: if udp { target } else { String::new() },
            ..Packet::default()
        })
    }
}

/// Packet Sender keeps one decimal (its floats print as 0.30000001192092896).
fn round1(s: f64) -> f64 {
    (s * 10.0).round() / 10.0
}

fn collect(foreign: Vec<Foreign>) -> (Vec<Packet>, ImportReport) {
    let mut report = ImportReport {
        format: FORMAT,
        ..ImportReport::default()
    };
    let mut packets = Vec::new();
    for f in foreign {
        if f.name.trim().is_empty() {
            continue; // Packet Sender itself skips nameless packets.
        }
        match f.into_packet() {
            Ok(p) => packets.push(p),
            Err(note) => report.notes.push(note),
        }
    }
    (packets, report)
}

/// A JSON value as text: strings as they are, numbers printed.
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

/// Reads Packet Sender's JSON export (an array of packet objects).
pub fn from_json(value: &Value) -> Result<(Vec<Packet>, ImportReport), String> {
    let Value::Array(items) = value else {
        return Err(t!("codec.library.ps.not_list").into_owned());
    };
    let mut foreign = Vec::new();
    for item in items {
        let Value::Object(o) = item else {
            continue;
        };
        if !o.contains_key("hexstring") && !o.contains_key("name") {
            return Err(t!("codec.library.ps.no_fields").into_owned());
        }
        let repeat = match o.get("repeat") {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
            _ => 0.0,
        };
        foreign.push(Foreign {
            name: text(o.get("name")).trim().to_owned(),
            hex: text(o.get("hexstring")),
            protocol: text(o.get("tcporudp")),
            to_ip: text(o.get("toip")),
            port: text(o.get("port")),
            repeat_s: repeat,
        });
    }
    Ok(collect(foreign))
}

/// Whether the text reads as Packet Sender's `packets.ini`.
pub fn looks_like_ini(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "[NAMES]")
}

/// Reads Packet Sender's `packets.ini` (its "Export Database").
pub fn from_ini(text: &str) -> Result<(Vec<Packet>, ImportReport), String> {
    let mut sections: Vec<(String, HashMap<String, String>)> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push((unescape_section(name), HashMap::new()));
            continue;
        }
        let (Some((key, value)), Some((_, entries))) = (line.split_once('='), sections.last_mut())
        else {
            continue;
        };
        entries.insert(key.trim().to_owned(), value.trim().to_owned());
    }
    let names = sections
        .iter()
        .find(|(s, _)| s == "NAMES")
        .ok_or_else(|| t!("codec.library.ps.no_names").into_owned())?;
    let size: usize = names
        .1
        .get("size")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let listed: Vec<String> = (1..=size)
        .filter_map(|i| {
            names
                .1
                .get(&format!("{i}\\name"))
                .map(|v| unescape_value(v))
        })
        .collect();
    let mut foreign = Vec::new();
    for name in listed {
        let Some((_, e)) = sections.iter().find(|(s, _)| *s == name) else {
            continue;
        };
        let get = |k: &str| e.get(k).map(|v| unescape_value(v)).unwrap_or_default();
        foreign.push(Foreign {
            name: {
                let n = get("name");
                if n.is_empty() { name.clone() } else { n }
            },
            hex: get("hexString"),
            protocol: get("tcpOrUdp"),
            to_ip: get("toIP"),
            port: get("port"),
            repeat_s: e.get("repeat").map_or(0.0, |v| ini_float(v)),
        });
    }
    Ok(collect(foreign))
}

/// `QSettings` escapes section names: `%XX` for a byte-sized character, `%UXXXX` above.
fn unescape_section(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '%' {
            let (len, start) = if chars.get(i + 1) == Some(&'U') {
                (4, i + 2)
            } else {
                (2, i + 1)
            };
            let hex: String = chars.iter().skip(start).take(len).collect();
            if hex.len() == len
                && let Some(c) = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
            {
                out.push(c);
                i = start + len;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A `QSettings` INI value: optionally quoted, with `\"`, `\\`, `\n`, `\t`, `\r`, `\0`… and
/// `\xNNNN` (as many hex digits as follow) for other characters.
fn unescape_value(value: &str) -> String {
    let v = value.trim();
    let v = v
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(v);
    let chars: Vec<char> = v.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&next) = chars.get(i + 1) else {
            break;
        };
        i += 2;
        match next {
            'n' => out.push('\n'),
            'r' => out.push('\r'),
            't' => out.push('\t'),
            '0' => out.push('\0'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' => {
                let digits: String = chars[i..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .take(4)
                    .collect();
                i += digits.len();
                if let Some(c) = u32::from_str_radix(&digits, 16)
                    .ok()
                    .and_then(char::from_u32)
                {
                    out.push(c);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// `repeat=1.5` (Qt 6) or `repeat=@Variant(\0\0\0\x87?\xc0\0\0)` (Qt 5: type 0x87, a float
/// in four big-endian bytes).
fn ini_float(value: &str) -> f64 {
    let v = value.trim();
    if let Some(inner) = v
        .strip_prefix("@Variant(") // i18n-exempt: Qt's settings syntax
        .and_then(|s| s.strip_suffix(')'))
    {
        let bytes: Vec<u32> = unescape_value(inner).chars().map(u32::from).collect();
        if bytes.len() == 8
            && bytes[..4] == [0, 0, 0, 0x87]
            && bytes[4..].iter().all(|b| *b <= 0xFF)
        {
            let b: Vec<u8> = bytes[4..].iter().map(|b| *b as u8).collect();
            return f64::from(f32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        }
        return 0.0;
    }
    unescape_value(v).parse().unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::library::Library;

    const FIXTURE: &str = include_str!("../../../tests/fixtures/packetsender_export.json");
    const INI: &str = include_str!("../../../tests/fixtures/packetsender_export.ini");

    #[test]
    fn the_json_export_comes_in_as_hex_packets() {
        let mut lib = Library::default();
        let report = lib.import(FIXTURE).unwrap();
        assert_eq!(report.added, 3, "{report:?}");
        assert_eq!(report.format, FORMAT);
        let udp = lib.find("UDP Modbus read").unwrap();
        assert_eq!(udp.mode, SendMode::Hex);
        assert_eq!(udp.payload, "01 03 00 00 00 0A C5 CD");
        assert_eq!(udp.destination, "127.0.0.60:502");
        assert_eq!(
            udp.note,
            "From Packet Sender: UDP to 127.0.0.60:502, repeated every 1.5 s."
        );
        assert_eq!(
            udp.template()
                .unwrap()
                .render_now(0, &mut crate::codec::macros::Rng::seeded(1)),
            [1, 3, 0, 0, 0, 0x0A, 0xC5, 0xCD]
        );
        let tcp = lib.find("TCP hello").unwrap();
        assert_eq!(tcp.payload, "68 65 6C 6C 6F 0D 0A");
        assert_eq!(
            tcp.destination, "",
            "TCP packets keep their target in the note"
        );
        assert!(tcp.note.contains("TCP to 127.0.0.50:7000"));
        assert!(lib.find("Grüße Café ✓ 測試").is_some());
    }

    #[test]
    fn the_ini_database_export_comes_in_too() {
        let mut lib = Library::default();
        let report = lib.import(INI).unwrap();
        assert_eq!(report.added, 3, "{report:?}");
        let udp = lib.find("UDP Modbus read").unwrap();
        assert_eq!(udp.payload, "01 03 00 00 00 0A C5 CD");
        assert!(udp.note.ends_with("repeated every 1.5 s."), "{}", udp.note);
        assert!(
            lib.find("Grüße Café").is_some(),
            "Qt 5's \\x escapes are read"
        );
    }

    #[test]
    fn qt_escapes() {
        assert_eq!(unescape_section("UDP%20Modbus%20read"), "UDP Modbus read");
        assert_eq!(unescape_section("%U6E2C"), "測");
        assert_eq!(unescape_value("Gr\\xfc\\xdf\\x65 Caf\\xe9"), "Grüße Café");
        assert_eq!(unescape_value("\"a, b\""), "a, b");
        assert!((ini_float("@Variant(\\0\\0\\0\\x87?\\xc0\\0\\0)") - 1.5).abs() < 1e-9);
        assert!((ini_float("0.30000001192092896") - 0.3).abs() < 1e-6);
        assert!(ini_float("@Variant(\\0\\0\\0\\x87\\0\\0\\0\\0)").abs() < 1e-12);
    }

    #[test]
    fn odd_hex_and_empty_payloads() {
        let v: Value = serde_json::from_str(r#"[{"name":"odd","hexstring":"1 2 3"},{"name":"none","hexstring":""},{"name":"","hexstring":"00"}]"#).unwrap();
        let (packets, report) = from_json(&v).unwrap();
        assert_eq!(packets.len(), 1);
        assert_eq!(packets[0].payload, "01 23");
        assert!(report.notes[0].contains("\"none\" was left out"));
        let not_ps: Value = serde_json::from_str(r#"[{"a":1}]"#).unwrap();
        assert!(from_json(&not_ps).is_err());
    }
}
