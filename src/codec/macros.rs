//! Macros in payloads: `{{COUNTER}}`, `{{TIME}}`, `{{UNIXTIME}}`, `{{UNIXTIME_MS}}`,
//! `{{RANDOM:N}}` and `{{HEX:…}}`, expanded afresh for every send.
//!
//! A payload is compiled once into a [`Template`] (escapes, encoding and line ending applied,
//! every macro checked), then [`Template::render`]ed for each send with the send's index, so
//! the n-th repeat carries the n-th counter value. Compiling is where errors are found, with
//! the 1-based character position of what is wrong; rendering cannot fail.
//!
//! | Macro | Stands for |
//! |---|---|
//! | `{{COUNTER}}` | 0, 1, 2, … (decimal text) |
//! | `{{COUNTER:START:STEP:WIDTH}}` | START + n·STEP; with WIDTH, zero-padded to WIDTH digits and wrapping after WIDTH nines (`{{COUNTER:998:1:3}}` gives 998, 999, 000). Fields may be left empty: `{{COUNTER:::4}}` |
//! | `{{TIME}}` | local time `HH:MM:SS`; `{{TIME:MS}}` adds `.mmm`; `{{TIME:DATE}}` is `YYYY-MM-DD`; `{{TIME:ISO}}` is RFC 3339 with milliseconds and offset |
//! | `{{UNIXTIME}}`, `{{UNIXTIME_MS}}` | seconds, milliseconds since 1970 (decimal text) |
//! | `{{RANDOM:N}}` | N random bytes (1 to 65,536; not for cryptography) |
//! | `{{HEX:…}}` | the bytes the hex stands for, as in hex mode (`{{HEX:7B7B}}` is a literal `{{`) |
//!
//! Text macros (counter, times) are encoded with the payload's encoding, so in UTF-16 a
//! counter's digits are two bytes each. In hex mode the same macros may stand between hex
//! digits. Names are not case-sensitive.

use std::borrow::Cow;
use std::fmt::Write as _;

use chrono::{DateTime, FixedOffset, Local};
use rust_i18n::t;

use super::TextEncoding;
use super::escape::{EscapeError, Segment, parse_escapes};
use super::hex::{HexError, parse_hex};
use super::payload::{PayloadSpec, SendMode};

/// Most random bytes one `{{RANDOM:N}}` may stand for.
pub const RANDOM_MAX: usize = 65_536;
/// Most bytes one send may render to (random bytes and text together).
pub const RENDERED_MAX: usize = 16 * 1024 * 1024;
/// Most digits a counter may be padded to (10^18 still fits a u64).
pub const WIDTH_MAX: u32 = 18;

/// How a `{{TIME}}` is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeFormat {
    /// `HH:MM:SS`
    Seconds,
    /// `HH:MM:SS.mmm`
    Millis,
    /// `YYYY-MM-DD`
    Date,
    /// RFC 3339 with milliseconds and the offset.
    Iso,
}

/// A counter: START + n·STEP, optionally zero-padded and wrapping at WIDTH digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counter {
    pub start: i64,
    pub step: i64,
    pub width: Option<u32>,
}

impl Counter {
    /// The counter's text in the send with index `n` (0 for the first).
    pub fn text(&self, n: u64) -> String {
        let value =
            i128::from(self.start).wrapping_add(i128::from(n).wrapping_mul(i128::from(self.step)));
        match self.width {
            Some(width) => {
                let modulus = 10_i128.pow(width);
                let wrapped = value.rem_euclid(modulus);
                format!("{wrapped:0width$}", width = width as usize)
            }
            None => value.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Bytes(Vec<u8>),
    Counter(Counter),
    Time(TimeFormat),
    UnixTime,
    UnixTimeMs,
    Random(usize),
}

/// A payload with its macros, ready to be rendered for each send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    encoding: TextEncoding,
}

/// A small, fast generator for `{{RANDOM:N}}` (splitmix64): test data, not secrets.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    /// Seeded from the clock and the address of a local, so two sessions differ.
    pub fn from_clock() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let local = 0_u8;
        Self(nanos ^ (std::ptr::from_ref(&local) as u64).rotate_left(32))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill(&mut self, out: &mut Vec<u8>, n: usize) {
        let mut left = n;
        while left > 0 {
            let word = self.next_u64().to_le_bytes();
            let take = left.min(8);
            out.extend_from_slice(&word[..take]);
            left -= take;
        }
    }
}

impl Template {
    /// Compiles what the user typed; the error is a sentence with the position of the fault.
    pub fn compile(spec: &PayloadSpec<'_>) -> Result<Self, String> {
        let mut parts: Vec<Part> = Vec::new();
        let push_bytes = |parts: &mut Vec<Part>, bytes: Vec<u8>| {
            if bytes.is_empty() {
                return;
            }
            if let Some(Part::Bytes(last)) = parts.last_mut() {
                last.extend(bytes);
            } else {
                parts.push(Part::Bytes(bytes));
            }
        };
        for piece in split_macros(spec.text)? {
            match piece {
                Piece::Literal { text, offset } => {
                    let bytes = literal_bytes(spec, text, offset)?;
                    push_bytes(&mut parts, bytes);
                }
                Piece::Macro { body, position } => match parse_macro(body, position)? {
                    Part::Bytes(bytes) => push_bytes(&mut parts, bytes),
                    part => parts.push(part),
                },
            }
        }
        if spec.mode == SendMode::Text {
            let ending = spec.encoding.encode(spec.line_ending.text()).map_err(|e| {
                t!("codec.macros.cannot_encode_line_ending", error = e).into_owned()
            })?;
            push_bytes(&mut parts, ending);
        }
        let template = Self {
            parts,
            encoding: spec.encoding,
        };
        let most = template.max_len();
        if most > RENDERED_MAX {
            return Err(t!(
                "codec.macros.too_large",
                most = most / (1024 * 1024),
                max = RENDERED_MAX / (1024 * 1024)
            )
            .into_owned());
        }
        Ok(template)
    }

    /// The most bytes one send can render to (text macros at their widest, UTF-16 included).
    pub fn max_len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Bytes(b) => b.len(),
                Part::Random(n) => *n,
                // 40 characters cover a signed 128-bit counter and an RFC 3339 time; 4 bytes
                // each covers any encoding.
                _ => 160,
            })
            .fold(0usize, usize::saturating_add)
    }

    /// A template that is always `bytes`.
    pub fn fixed(bytes: Vec<u8>) -> Self {
        Self {
            parts: vec![Part::Bytes(bytes)],
            encoding: TextEncoding::Utf8,
        }
    }

    /// Whether every send is the same bytes (no macro that changes).
    pub fn is_fixed(&self) -> bool {
        self.parts.iter().all(|p| matches!(p, Part::Bytes(_)))
    }

    /// Whether the template stands for no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The bytes of the send with index `n` (0 for the first) at time `now`.
    pub fn render(&self, n: u64, now: &DateTime<FixedOffset>, rng: &mut Rng) -> Vec<u8> {
        let mut out = Vec::new();
        for part in &self.parts {
            match part {
                Part::Bytes(bytes) => out.extend_from_slice(bytes),
                Part::Counter(counter) => self.push_text(&mut out, &counter.text(n)),
                Part::Time(format) => self.push_text(&mut out, &time_text(*format, now)),
                Part::UnixTime => self.push_text(&mut out, &now.timestamp().to_string()),
                Part::UnixTimeMs => self.push_text(&mut out, &now.timestamp_millis().to_string()),
                Part::Random(len) => rng.fill(&mut out, *len),
            }
        }
        out
    }

    /// [`Template::render`] at the local time now.
    pub fn render_now(&self, n: u64, rng: &mut Rng) -> Vec<u8> {
        self.render(n, &Local::now().fixed_offset(), rng)
    }

    /// Digits, colons and dashes: ASCII, so every encoding can write them.
    fn push_text(&self, out: &mut Vec<u8>, text: &str) {
        out.extend(self.encoding.encode_text(text));
    }
}

fn time_text(format: TimeFormat, now: &DateTime<FixedOffset>) -> String {
    let mut s = String::new();
    let _ = match format {
        TimeFormat::Seconds => write!(s, "{}", now.format("%H:%M:%S")),
        TimeFormat::Millis => write!(s, "{}", now.format("%H:%M:%S%.3f")),
        TimeFormat::Date => write!(s, "{}", now.format("%Y-%m-%d")),
        TimeFormat::Iso => write!(s, "{}", now.format("%Y-%m-%dT%H:%M:%S%.3f%:z")),
    };
    s
}

enum Piece<'a> {
    /// Text outside macros; `offset` is how many characters precede it.
    Literal { text: &'a str, offset: usize },
    /// What stands between `{{` and `}}`; `position` is the 1-based column of the `{{`.
    Macro { body: &'a str, position: usize },
}

/// Cuts `text` at every `{{…}}`.
fn split_macros(text: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    let mut chars_before = 0;
    while let Some(open) = rest.find("{{") {
        let literal = &rest[..open];
        if !literal.is_empty() {
            pieces.push(Piece::Literal {
                text: literal,
                offset: chars_before,
            });
        }
        let position = chars_before + literal.chars().count() + 1;
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err(t!("codec.macros.unclosed", position = position).into_owned());
        };
        let body = &after[..close];
        pieces.push(Piece::Macro { body, position });
        chars_before = position - 1 + 2 + body.chars().count() + 2;
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal {
            text: rest,
            offset: chars_before,
        });
    }
    Ok(pieces)
}

/// The bytes of text outside macros, by the payload's mode; error positions count from the
/// start of the whole payload.
fn literal_bytes(spec: &PayloadSpec<'_>, text: &str, offset: usize) -> Result<Vec<u8>, String> {
    match spec.mode {
        SendMode::Hex => parse_hex(text)
            .map_err(|e| t!("codec.macros.invalid_hex", error = shift_hex(e, offset)).into_owned()),
        SendMode::Text => {
            let segments = if spec.escapes {
                parse_escapes(text).map_err(|e| {
                    t!(
                        "codec.macros.invalid_escape",
                        error = shift_escape(&e, offset)
                    )
                    .into_owned()
                })?
            } else {
                vec![Segment::Text(text.to_owned())]
            };
            let mut out = Vec::new();
            let mut column = offset;
            for segment in segments {
                match segment {
                    Segment::Text(run) => {
                        let encoded = spec.encoding.encode(&run).map_err(|mut e| {
                            e.position += column;
                            t!("codec.macros.cannot_encode", error = e).into_owned()
                        })?;
                        column += run.chars().count();
                        out.extend(encoded);
                    }
                    Segment::Byte(b) => {
                        // Four characters (\xNN); positions after it are approximate only
                        // for the rarer two-character escapes, which stand for text.
                        column += 4;
                        out.push(b);
                    }
                }
            }
            Ok(out)
        }
    }
}

fn shift_hex(e: HexError, by: usize) -> HexError {
    match e {
        HexError::BadChar { ch, position } => HexError::BadChar {
            ch,
            position: position + by,
        },
        HexError::OddDigits {
            group,
            digits,
            position,
        } => HexError::OddDigits {
            group,
            digits,
            position: position + by,
        },
        HexError::NoDigits { position } => HexError::NoDigits {
            position: position + by,
        },
    }
}

fn shift_escape(e: &EscapeError, by: usize) -> EscapeError {
    match *e {
        EscapeError::Unknown { ch, position } => EscapeError::Unknown {
            ch,
            position: position + by,
        },
        EscapeError::BadHexEscape { position } => EscapeError::BadHexEscape {
            position: position + by,
        },
        EscapeError::Trailing { position } => EscapeError::Trailing {
            position: position + by,
        },
    }
}

fn parse_macro(body: &str, position: usize) -> Result<Part, String> {
    let (name, args) = match body.split_once(':') {
        Some((name, args)) => (name.trim(), Some(args)),
        None => (body.trim(), None),
    };
    let bad = |what: Cow<'_, str>| {
        Err(t!(
            "codec.macros.invalid",
            body = body,
            position = position,
            what = what
        )
        .into_owned())
    };
    match (name.to_ascii_uppercase().as_str(), args) {
        ("COUNTER", None) => Ok(Part::Counter(Counter {
            start: 0,
            step: 1,
            width: None,
        })),
        ("COUNTER", Some(args)) => {
            let fields: Vec<&str> = args.split(':').map(str::trim).collect();
            if fields.len() > 3 {
                return bad(t!("codec.macros.counter_fields"));
            }
            let number = |i: usize, what: &str, default: i64| -> Result<i64, String> {
                match fields.get(i).copied() {
                    None | Some("") => Ok(default),
                    Some(f) => f.parse::<i64>().map_err(|_| {
                        t!(
                            "codec.macros.not_whole",
                            body = body,
                            position = position,
                            what = what,
                            field = f
                        )
                        .into_owned()
                    }),
                }
            };
            let start = number(0, "START", 0)?;
            let step = number(1, "STEP", 1)?;
            let width = match fields.get(2).copied() {
                None | Some("") => None,
                Some(f) => match f.parse::<u32>() {
                    Ok(w) if (1..=WIDTH_MAX).contains(&w) => Some(w),
                    _ => {
                        return bad(t!("codec.macros.width", field = f, max = WIDTH_MAX));
                    }
                },
            };
            Ok(Part::Counter(Counter { start, step, width }))
        }
        ("TIME", None) => Ok(Part::Time(TimeFormat::Seconds)),
        ("TIME", Some(format)) => match format.trim().to_ascii_uppercase().as_str() {
            "" | "S" => Ok(Part::Time(TimeFormat::Seconds)),
            "MS" => Ok(Part::Time(TimeFormat::Millis)),
            "DATE" => Ok(Part::Time(TimeFormat::Date)),
            "ISO" => Ok(Part::Time(TimeFormat::Iso)),
            other => bad(t!("codec.macros.time_format", other = other)),
        },
        ("UNIXTIME", None) => Ok(Part::UnixTime),
        ("UNIXTIME_MS", None) => Ok(Part::UnixTimeMs),
        ("UNIXTIME" | "UNIXTIME_MS", Some(_)) => bad(t!("codec.macros.no_arguments")),
        ("RANDOM", Some(n)) => match n.trim().parse::<usize>() {
            Ok(n) if (1..=RANDOM_MAX).contains(&n) => Ok(Part::Random(n)),
            _ => bad(t!("codec.macros.random_range", max = RANDOM_MAX)),
        },
        ("RANDOM", None) => bad(t!("codec.macros.random_count")),
        ("HEX", Some(hex)) => {
            // The hex starts after "{{HEX:".
            let offset = position - 1 + 2 + name.len() + 1;
            let bytes = parse_hex(hex).map_err(|e| {
                t!(
                    "codec.macros.invalid_hex_in_macro",
                    error = shift_hex(e, offset)
                )
                .into_owned()
            })?;
            if bytes.is_empty() {
                return bad(t!("codec.macros.hex_bytes"));
            }
            Ok(Part::Bytes(bytes))
        }
        ("HEX", None) => bad(t!("codec.macros.hex_bytes")),
        ("", _) => bad(t!("codec.macros.empty", known = t!("codec.macros.known"))),
        (other, _) => bad(t!(
            "codec.macros.unknown",
            other = other,
            known = t!("codec.macros.known")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::payload::LineEnding;
    use chrono::TimeZone;

    fn spec(text: &str) -> PayloadSpec<'_> {
        PayloadSpec {
            text,
            mode: SendMode::Text,
            escapes: true,
            line_ending: LineEnding::None,
            encoding: TextEncoding::Utf8,
        }
    }

    fn at() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(2026, 12, 2, 9, 5, 7)
            .unwrap()
            + chrono::Duration::milliseconds(42)
    }

    fn render(text: &str, n: u64) -> Vec<u8> {
        Template::compile(&spec(text))
            .unwrap()
            .render(n, &at(), &mut Rng::seeded(1))
    }

    fn error(text: &str) -> String {
        Template::compile(&spec(text)).unwrap_err()
    }

    #[test]
    fn counter_counts_per_send_with_start_step_and_width() {
        assert_eq!(render("n={{COUNTER}}", 0), b"n=0");
        assert_eq!(render("n={{COUNTER}}", 41), b"n=41");
        assert_eq!(render("{{COUNTER:10:5}}", 3), b"25");
        assert_eq!(render("{{counter:::4}}", 7), b"0007");
        assert_eq!(render("{{COUNTER:-2}}", 1), b"-1");
    }

    #[test]
    fn counter_with_width_wraps_after_its_nines() {
        let t = Template::compile(&spec("{{COUNTER:998:1:3}}")).unwrap();
        let mut rng = Rng::seeded(1);
        let got: Vec<Vec<u8>> = (0..4).map(|n| t.render(n, &at(), &mut rng)).collect();
        assert_eq!(
            got,
            [
                b"998".to_vec(),
                b"999".to_vec(),
                b"000".to_vec(),
                b"001".to_vec()
            ]
        );
        // Counting down wraps the other way.
        assert_eq!(render("{{COUNTER:1:-1:2}}", 2), b"99");
        // Large indices neither overflow nor panic.
        assert_eq!(render("{{COUNTER:0:1:2}}", u64::MAX), b"15");
    }

    #[test]
    fn time_formats() {
        assert_eq!(render("{{TIME}}", 0), b"09:05:07");
        assert_eq!(render("{{TIME:MS}}", 0), b"09:05:07.042");
        assert_eq!(render("{{TIME:date}}", 0), b"2026-12-02");
        assert_eq!(render("{{TIME:ISO}}", 0), b"2026-12-02T09:05:07.042+08:00");
        assert_eq!(render("{{UNIXTIME}}", 0), b"1796173507");
        assert_eq!(render("{{UNIXTIME_MS}}", 0), b"1796173507042");
    }

    #[test]
    fn random_and_hex_bytes() {
        let a = render("{{RANDOM:5}}", 0);
        assert_eq!(a.len(), 5);
        let t = Template::compile(&spec("{{RANDOM:16}}")).unwrap();
        let mut rng = Rng::seeded(7);
        assert_ne!(t.render(0, &at(), &mut rng), t.render(1, &at(), &mut rng));
        assert_eq!(render("A{{HEX:00 ff}}B", 0), b"A\x00\xffB");
        assert_eq!(render("{{HEX:7B7B}}", 0), b"{{");
        assert!(Template::compile(&spec("x{{HEX:01}}")).unwrap().is_fixed());
        assert!(!Template::compile(&spec("{{TIME}}")).unwrap().is_fixed());
    }

    #[test]
    fn escapes_encodings_line_endings_and_hex_mode_still_apply() {
        let s = PayloadSpec {
            line_ending: LineEnding::CrLf,
            encoding: TextEncoding::Utf16Le,
            ..spec("{{COUNTER:::2}}\t")
        };
        let t = Template::compile(&s).unwrap();
        assert_eq!(
            t.render(3, &at(), &mut Rng::seeded(1)),
            b"0\x003\x00\t\x00\r\x00\n\x00"
        );
        let hex = PayloadSpec {
            mode: SendMode::Hex,
            ..spec("01 03 {{COUNTER:::2}} 0D")
        };
        let t = Template::compile(&hex).unwrap();
        assert_eq!(t.render(5, &at(), &mut Rng::seeded(1)), b"\x01\x0305\x0d");
        assert_eq!(render(r"\x7B{", 0), b"{{", "escaped braces are no macro");
    }

    #[test]
    fn bad_macros_say_what_and_where() {
        let e = error("ab{{NOPE}}");
        assert!(
            e.contains("position 3") && e.contains("unknown macro \"NOPE\""),
            "{e}"
        );
        let e = error("x{{COUNTER");
        assert!(e.contains("position 2") && e.contains("no closing"), "{e}");
        let e = error("{{COUNTER:a}}");
        assert!(e.contains("START \"a\" is not a whole number"), "{e}");
        let e = error("{{COUNTER:0:1:0}}");
        assert!(e.contains("WIDTH \"0\""), "{e}");
        let e = error("{{COUNTER:0:1:2:3}}");
        assert!(e.contains("at most START:STEP:WIDTH"), "{e}");
        let e = error("{{RANDOM:0}}");
        assert!(e.contains("from 1 to 65536"), "{e}");
        let e = error("{{RANDOM}}");
        assert!(e.contains("how many bytes"), "{e}");
        let e = error("{{TIME:week}}");
        assert!(e.contains("unknown time format"), "{e}");
        let e = error("{{}}");
        assert!(e.contains("empty"), "{e}");
        let e = error("{{UNIXTIME:3}}");
        assert!(e.contains("no arguments"), "{e}");
        // Positions inside a macro and after one count from the start of the payload.
        let e = error("{{HEX:0G}}");
        assert!(e.contains("position 8"), "{e}");
        let e = error("{{TIME}}\\q");
        assert!(e.contains("position 9"), "{e}");
        let hex = PayloadSpec {
            mode: SendMode::Hex,
            ..spec("{{COUNTER}} 0Z")
        };
        let e = Template::compile(&hex).unwrap_err();
        assert!(e.contains("position 14"), "{e}");
        let ascii = PayloadSpec {
            encoding: TextEncoding::Ascii,
            ..spec("{{TIME}}中")
        };
        let e = Template::compile(&ascii).unwrap_err();
        assert!(e.contains("position 9"), "{e}");
    }

    #[test]
    fn a_payload_too_big_to_render_is_refused() {
        let text = "{{RANDOM:65536}}".repeat(300);
        let e = error(&text);
        assert!(e.contains("at most 16 MiB"), "{e}");
        assert!(Template::compile(&spec(&"{{RANDOM:65536}}".repeat(200))).is_ok());
    }

    #[test]
    fn plain_text_compiles_to_its_bytes() {
        assert_eq!(render("hello } { }}", 0), b"hello } { }}");
        assert!(Template::compile(&spec("")).unwrap().is_empty());
    }
}
