//! Sequences: ordered steps a session runs in its worker — send a payload, wait N ms, wait
//! for a reply that matches text, hex or a regex within a timeout — the whole block repeated
//! K times. A wait that times out stops the sequence with a sentence naming the step and
//! showing what arrived instead.
//!
//! The window's sequence box and the CLI's `--sequence FILE` use one text form, a step per
//! line (`#` starts a comment):
//!
//! ```text
//! send AT\r\n              text with escapes and macros, in the session's encoding
//! hex 01 03 00 00 00 0A    hex bytes (macros allowed)
//! packet status query      a packet from the library, by name
//! wait 100                 pause, milliseconds
//! expect 1000 text OK      wait up to 1000 ms for a reply containing "OK"
//! expect 500 hex 01 03     … containing these bytes
//! expect 500 regex ^\+CSQ: (\d+)   … whose text matches
//! repeat 3                 run the block three times (once, anywhere in the file)
//! ```

use std::fmt;
use std::time::Duration;

use regex::bytes::Regex;
use rust_i18n::t;

use crate::codec::TextEncoding;
use crate::codec::hex::parse_hex;
use crate::codec::macros::Template;
use crate::codec::payload::{LineEnding, PayloadSpec, SendMode};

/// Most steps a sequence holds.
pub const STEPS_MAX: usize = 1000;
/// Most times a block repeats.
pub const REPEAT_MAX: u32 = 1_000_000;
/// Longest wait or timeout (one hour).
pub const WAIT_MAX: Duration = Duration::from_hours(1);
/// Received bytes a wait keeps to match against (the newest).
pub const SEEN_MAX: usize = 64 * 1024;

/// What a reply must contain.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Text, encoded in the session's encoding.
    Text(String, Vec<u8>),
    Hex(Vec<u8>),
    Regex(Regex),
}

impl PartialEq for Expect {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Text(a, _), Self::Text(b, _)) => a == b,
            (Self::Hex(a), Self::Hex(b)) => a == b,
            (Self::Regex(a), Self::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

impl Eq for Expect {}

impl Expect {
    /// Whether `seen` (the bytes received since the wait began) holds a match.
    pub fn matches(&self, seen: &[u8]) -> bool {
        match self {
            Self::Text(_, bytes) | Self::Hex(bytes) => memchr::memmem::find(seen, bytes).is_some(),
            Self::Regex(re) => re.is_match(seen),
        }
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(text, _) => write!(f, "text \"{text}\""),
            Self::Hex(bytes) => write!(f, "hex {}", crate::codec::hex::format_hex(bytes)),
            Self::Regex(re) => write!(f, "regex /{}/", re.as_str()),
        }
    }
}

/// One step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send(Template),
    Wait(Duration),
    Expect { expect: Expect, within: Duration },
}

/// The steps, what each line said (for messages), and how many times the block runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sequence {
    pub steps: Vec<Step>,
    /// The step as typed, for "step 3 (expect 1000 text OK)".
    pub lines: Vec<String>,
    pub repeat: u32,
}

impl Sequence {
    /// "step 3 (expect 1000 text OK)".
    pub fn describe(&self, step: usize) -> String {
        match self.lines.get(step) {
            Some(line) => t!("engine.sequence.step", n = step + 1, line = line).into_owned(),
            None => t!("engine.sequence.step_n", n = step + 1).into_owned(),
        }
    }

    /// Reads the text form; an error names the line and says what to write. `packet NAME`
    /// steps are refused (there is no library here; see [`Sequence::parse_with`]).
    pub fn parse(text: &str, encoding: TextEncoding) -> Result<Self, String> {
        Self::parse_with(text, encoding, &|_| {
            Err(t!("engine.sequence.no_library").into_owned())
        })
    }

    /// Like [`Sequence::parse`], with `packet NAME` steps compiled by `packet`.
    pub fn parse_with(
        text: &str,
        encoding: TextEncoding,
        packet: &dyn Fn(&str) -> Result<Template, String>,
    ) -> Result<Self, String> {
        let mut steps = Vec::new();
        let mut lines = Vec::new();
        let mut repeat = None;
        for (n, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = |e: &str| t!("engine.sequence.line", n = n + 1, error = e).into_owned();
            let (word, rest) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
            let rest = rest.trim_start();
            let step = match word.to_ascii_lowercase().as_str() {
                "send" | "hex" => {
                    let mode = if word.eq_ignore_ascii_case("hex") {
                        SendMode::Hex
                    } else {
                        SendMode::Text
                    };
                    let template = Template::compile(&PayloadSpec {
                        text: rest,
                        mode,
                        escapes: true,
                        line_ending: LineEnding::None,
                        encoding,
                    })
                    .map_err(|e| at(&e))?;
                    if template.is_empty() {
                        return Err(at(&t!("engine.sequence.nothing_to_send")));
                    }
                    Step::Send(template)
                }
                "packet" => {
                    if rest.is_empty() {
                        return Err(at(&t!("engine.sequence.which_packet")));
                    }
                    Step::Send(
                        packet(rest).map_err(|e| {
                            at(&t!("engine.sequence.packet", name = rest, error = e))
                        })?,
                    )
                }
                "wait" => Step::Wait(parse_ms(rest).map_err(|e| at(&e))?),
                "expect" => {
                    let (ms, rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                    let within = parse_ms(ms).map_err(|e| at(&e))?;
                    let (kind, what) = rest
                        .trim_start()
                        .split_once(char::is_whitespace)
                        .unwrap_or((rest.trim(), ""));
                    let what = what.trim_start();
                    if what.is_empty() {
                        return Err(at(&t!("engine.sequence.what_to_wait_for")));
                    }
                    let expect = match kind.to_ascii_lowercase().as_str() {
                        "text" => {
                            let segments =
                                crate::codec::escape::parse_escapes(what).map_err(|e| {
                                    at(&t!("engine.sequence.invalid_escape", error = e))
                                })?;
                            let mut bytes = Vec::new();
                            for s in segments {
                                match s {
                                    crate::codec::escape::Segment::Text(t) => {
                                        bytes.extend(encoding.encode(&t).map_err(|e| {
                                            at(&t!("engine.sequence.cannot_encode", error = e))
                                        })?);
                                    }
                                    crate::codec::escape::Segment::Byte(b) => bytes.push(b),
                                }
                            }
                            Expect::Text(what.to_owned(), bytes)
                        }
                        "hex" => Expect::Hex(
                            parse_hex(what)
                                .map_err(|e| at(&t!("engine.sequence.invalid_hex", error = e)))?,
                        ),
                        "regex" => Expect::Regex(
                            Regex::new(what)
                                .map_err(|e| at(&t!("engine.sequence.invalid_regex", error = e)))?,
                        ),
                        other => {
                            return Err(at(&t!("engine.sequence.bad_kind", kind = other)));
                        }
                    };
                    Step::Expect { expect, within }
                }
                "repeat" => {
                    if repeat.is_some() {
                        return Err(at(&t!("engine.sequence.repeat_twice")));
                    }
                    match rest.parse::<u32>() {
                        Ok(k) if (1..=REPEAT_MAX).contains(&k) => repeat = Some(k),
                        _ => {
                            return Err(at(&t!("engine.sequence.repeat_count", max = REPEAT_MAX)));
                        }
                    }
                    continue;
                }
                other => {
                    return Err(at(&t!("engine.sequence.unknown_step", step = other)));
                }
            };
            steps.push(step);
            lines.push(line.to_owned());
            if steps.len() > STEPS_MAX {
                return Err(t!("engine.sequence.too_many_steps", max = STEPS_MAX).into_owned());
            }
        }
        if steps.is_empty() {
            return Err(t!("engine.sequence.no_steps").into_owned());
        }
        Ok(Self {
            steps,
            lines,
            repeat: repeat.unwrap_or(1),
        })
    }
}

fn parse_ms(text: &str) -> Result<Duration, String> {
    let max = WAIT_MAX.as_millis() as u64;
    match text.trim().parse::<u64>() {
        Ok(ms) if ms <= max => Ok(Duration::from_millis(ms)),
        _ => Err(t!("engine.sequence.bad_ms", text = text.trim(), max = max).into_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_form_reads_every_step() {
        let s = Sequence::parse(
            "# modem check\nsend AT\\r\\n\nexpect 1000 text OK\nwait 50\nhex 01 03\nexpect 200 hex 01 03\nexpect 200 regex ^\\+CSQ: (\\d+)\nrepeat 3\n",
            TextEncoding::Utf8,
        )
        .unwrap();
        assert_eq!(s.steps.len(), 6);
        assert_eq!(s.repeat, 3);
        assert_eq!(s.describe(1), "step 2 (expect 1000 text OK)");
        assert!(matches!(&s.steps[2], Step::Wait(d) if *d == Duration::from_millis(50)));
        let Step::Expect { expect, within } = &s.steps[1] else {
            panic!()
        };
        assert_eq!(*within, Duration::from_secs(1));
        assert!(expect.matches(b"\r\nOK\r\n"));
        assert!(!expect.matches(b"ERROR"));
        let Step::Expect { expect, .. } = &s.steps[5] else {
            panic!()
        };
        assert!(expect.matches(b"+CSQ: 23,0"));
    }

    #[test]
    fn errors_name_the_line() {
        let e = Sequence::parse("send a\nfly away", TextEncoding::Utf8).unwrap_err();
        assert!(e.starts_with("Line 2: unknown step \"fly\""), "{e}");
        let e = Sequence::parse("wait soon", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("Line 1") && e.contains("milliseconds"), "{e}");
        let e = Sequence::parse("expect 100 text", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("say what to wait for"), "{e}");
        let e = Sequence::parse("expect 100 regex (", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("invalid regex"), "{e}");
        let e = Sequence::parse("send {{NOPE}}", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("Line 1") && e.contains("unknown macro"), "{e}");
        let e = Sequence::parse("# nothing", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("no steps"), "{e}");
        let e = Sequence::parse("send a\nrepeat 0", TextEncoding::Utf8).unwrap_err();
        assert!(e.contains("Line 2") && e.contains("repeat takes"), "{e}");
    }

    #[test]
    fn packet_steps_come_from_the_library() {
        let lib = |name: &str| {
            if name == "ping" {
                Ok(Template::fixed(b"PING".to_vec()))
            } else {
                Err("the library has no such packet".to_owned())
            }
        };
        let s = Sequence::parse_with("packet ping\nexpect 10 text PONG", TextEncoding::Utf8, &lib)
            .unwrap();
        assert!(matches!(&s.steps[0], Step::Send(t) if *t == Template::fixed(b"PING".to_vec())));
        let e = Sequence::parse_with("packet pong", TextEncoding::Utf8, &lib).unwrap_err();
        assert!(
            e.contains("Line 1: packet \"pong\": the library has no such packet"),
            "{e}"
        );
        assert!(Sequence::parse("packet ping", TextEncoding::Utf8).is_err());
    }

    #[test]
    fn text_is_matched_in_the_session_encoding() {
        let s = Sequence::parse("expect 10 text 好", TextEncoding::Gbk).unwrap();
        let Step::Expect { expect, .. } = &s.steps[0] else {
            panic!()
        };
        assert!(expect.matches(&[0x41, 0xBA, 0xC3]));
        assert!(!expect.matches("好".as_bytes()));
    }
}
