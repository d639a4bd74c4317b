//! Corpus-driven fuzzing of every parser and decoder that takes outside bytes or text, on
//! stable Rust with no extra crate (the engine is in `fuzz_targets/engine.rs`).
//!
//! Each test is one target: its corpus (`tests/fixtures/fuzz/<target>/` plus the fixtures
//! it names) and mutations of it go through the code under test for a budget; an input
//! that panics is written to `target/fuzz-crashes/<target>/` and fails the test. Where a
//! property is cheap it is checked too (hex that parses formats back to itself, framers
//! neither invent nor lose bytes, a checksum appended verifies, an exported library imports
//! back to itself, display text is the reference decoding, settings repair once).
//!
//! `cargo test --test fuzz_targets` runs a small budget per target (a few seconds for the
//! file); `scripts/fuzz.sh SECONDS` runs each target for SECONDS and writes the table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "fuzz_targets/engine.rs"]
mod engine;

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use engine::{DEFAULT_MAX_LEN, Rng, Seed, Target, bucket, fnv, sig, sig_text, split0};
use sockpit::codec::TextEncoding;
use sockpit::codec::checksum::{ByteOrder, ChecksumKind, ChecksumSpec, Verdict};
use sockpit::codec::escape::{Segment, parse_escapes};
use sockpit::codec::hex::{format_hex, parse_hex};
use sockpit::codec::library::{Library, packet_sender};
use sockpit::codec::macros::{Rng as MacroRng, Template};
use sockpit::codec::payload::{LineEnding, PayloadSpec, SendMode, encode_payload};
use sockpit::codec::protocol::{Layouts, Protocol};
use sockpit::engine::session::framing::{FrameRule, Framing, LengthPrefix, parse_frame_rule};
use sockpit::engine::session::{Record, Replies};

fn lossy(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A number from the input's hash, for choices a crash file must reproduce.
fn pick(data: &[u8], salt: u64, n: usize) -> usize {
    (Rng::new(fnv(data) ^ salt).next_u64() % n.max(1) as u64) as usize
}

fn no_generated() -> Vec<Vec<u8>> {
    Vec::new()
}

const PEER: &str = "127.0.0.1:40000";
const LOCAL: &str = "127.0.0.1:7000";

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

/// One test per target, `<target>::fuzz`, so `cargo test --test fuzz_targets framers::`
/// runs one.
macro_rules! targets {
    ($($name:ident { $($field:ident: $value:expr),* $(,)? })*) => {
        $(
            mod $name {
                use super::*;

                #[test]
                fn fuzz() {
                    crate::engine::fuzz(&Target {
                        name: stringify!($name),
                        $($field: $value,)*
                        ..BASE
                    });
                }
            }
        )*
    };
}

const BASE: Target = Target {
    name: "",
    run: |_| 0,
    seeds: &[],
    generated: no_generated,
    dict: &[],
    max_len: DEFAULT_MAX_LEN,
};

// ---------------------------------------------------------------------------------------
// Payload text: hex, escapes, macros, encodings and the log's display decoder.

fn hex(data: &[u8]) -> u64 {
    let text = lossy(data);
    match parse_hex(&text) {
        Ok(bytes) => {
            assert_eq!(parse_hex(&format_hex(&bytes)), Ok(bytes.clone()));
            sig((0, bucket(bytes.len())))
        }
        Err(e) => {
            let chars = text.chars().count();
            assert!(
                (1..=chars).contains(&e.position()),
                "position {} of {chars}: {e}",
                e.position()
            );
            sig((1, sig_text(&e.to_string())))
        }
    }
}

/// The escapes that stand for `segments`, merged runs and all.
fn escaped(segments: &[Segment]) -> String {
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Text(t) => {
                for c in t.chars() {
                    match c {
                        '\\' => out.push_str("\\\\"),
                        '\r' => out.push_str("\\r"),
                        '\n' => out.push_str("\\n"),
                        '\t' => out.push_str("\\t"),
                        '\0' => out.push_str("\\0"),
                        c => out.push(c),
                    }
                }
            }
            Segment::Byte(b) => {
                let _ = write!(out, "\\x{b:02X}");
            }
        }
    }
    out
}

fn escapes(data: &[u8]) -> u64 {
    let text = lossy(data);
    match parse_escapes(&text) {
        Ok(segments) => {
            assert!(
                segments
                    .iter()
                    .all(|s| !matches!(s, Segment::Text(t) if t.is_empty())),
                "an empty text run: {segments:?}"
            );
            assert_eq!(parse_escapes(&escaped(&segments)), Ok(segments.clone()));
            sig((0, bucket(segments.len())))
        }
        Err(e) => sig((1, sig_text(&e.to_string()))),
    }
}

/// The spec a macros input stands for: its first byte picks mode, escapes, line ending
/// and encoding; the rest is the text.
fn payload_spec(data: &[u8]) -> (SendMode, bool, LineEnding, TextEncoding, Cow<'_, str>) {
    let (head, text) = data.split_first().map_or((0, &[][..]), |(h, t)| (*h, t));
    let mode = if head & 1 == 0 {
        SendMode::Text
    } else {
        SendMode::Hex
    };
    let escapes = head & 2 == 0;
    let ending = LineEnding::ALL[usize::from(head >> 2) % 4];
    let encoding = TextEncoding::ALL[usize::from(head >> 4) % TextEncoding::ALL.len()];
    (mode, escapes, ending, encoding, lossy(text))
}

fn macros(data: &[u8]) -> u64 {
    let (mode, escapes, line_ending, encoding, text) = payload_spec(data);
    let spec = PayloadSpec {
        text: &text,
        mode,
        escapes,
        line_ending,
        encoding,
    };
    let compiled = Template::compile(&spec);
    // Without macros a template is the payload as the send box encodes it.
    if !text.contains("{{") {
        let plain = encode_payload(&spec);
        match &compiled {
            Ok(t) => {
                let mut rng = MacroRng::seeded(1);
                assert_eq!(Ok(t.render_now(0, &mut rng)), plain, "{text:?}");
            }
            Err(_) => assert!(
                plain.is_err(),
                "compiled fails, encode_payload gives {plain:?}"
            ),
        }
    }
    match compiled {
        Ok(template) => {
            let now =
                chrono::DateTime::parse_from_rfc3339("2026-12-04T19:00:00.123+08:00").unwrap();
            let mut rng = MacroRng::seeded(7);
            if template.max_len() <= 1 << 20 {
                for n in [0, 1, u64::MAX] {
                    let bytes = template.render(n, &now, &mut rng);
                    assert!(
                        bytes.len() <= template.max_len(),
                        "{} bytes over max_len {}",
                        bytes.len(),
                        template.max_len()
                    );
                }
                if template.is_fixed() {
                    assert_eq!(
                        template.render(0, &now, &mut rng),
                        template.render(9, &now, &mut rng)
                    );
                }
            }
            sig((
                0,
                template.is_fixed(),
                template.is_empty(),
                bucket(template.max_len()),
            ))
        }
        Err(e) => sig((1, sig_text(&e))),
    }
}

/// What the log shows for `text`, a character at a time (the reference for display).
fn shown_chars(text: &str, out: &mut String) {
    for c in text.chars() {
        sockpit::codec::encoding::push_display_char(c, out);
    }
}

fn byte_escapes(bytes: &[u8], out: &mut String) {
    for b in bytes {
        let _ = write!(out, "\\x{b:02X}");
    }
}

/// The display text of `bytes` in `enc`, the slow way: every decoded character through
/// `push_display_char`, every byte that is not valid as `\xNN`.
fn reference_display(enc: TextEncoding, bytes: &[u8]) -> String {
    let mut out = String::new();
    match enc {
        TextEncoding::Utf8 => {
            for chunk in bytes.utf8_chunks() {
                shown_chars(chunk.valid(), &mut out);
                byte_escapes(chunk.invalid(), &mut out);
            }
        }
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let units = bytes.chunks_exact(2).map(|p| {
                if enc == TextEncoding::Utf16Le {
                    u16::from_le_bytes([p[0], p[1]])
                } else {
                    u16::from_be_bytes([p[0], p[1]])
                }
            });
            for r in char::decode_utf16(units) {
                match r {
                    Ok(c) => shown_chars(c.encode_utf8(&mut [0; 4]), &mut out),
                    Err(e) => {
                        let u = e.unpaired_surrogate();
                        let pair = if enc == TextEncoding::Utf16Le {
                            u.to_le_bytes()
                        } else {
                            u.to_be_bytes()
                        };
                        byte_escapes(&pair, &mut out);
                    }
                }
            }
            byte_escapes(&bytes[bytes.len() & !1..], &mut out);
        }
        TextEncoding::Ascii => {
            for &b in bytes {
                if b < 0x80 {
                    shown_chars(&char::from(b).to_string(), &mut out);
                } else {
                    byte_escapes(&[b], &mut out);
                }
            }
        }
        _ => {
            let backing = match enc {
                TextEncoding::Gbk | TextEncoding::Gb2312 => encoding_rs::GBK,
                TextEncoding::Gb18030 => encoding_rs::GB18030,
                TextEncoding::Big5 => encoding_rs::BIG5,
                TextEncoding::ShiftJis => encoding_rs::SHIFT_JIS,
                TextEncoding::EucJp => encoding_rs::EUC_JP,
                TextEncoding::EucKr => encoding_rs::EUC_KR,
                _ => encoding_rs::WINDOWS_1252,
            };
            let mut decoder = backing.new_decoder_without_bom_handling();
            // A small buffer: this decoder touches all of its spare room on every call.
            let mut text = String::with_capacity(64);
            let mut pos = 0;
            loop {
                text.clear();
                let (result, read) =
                    decoder.decode_to_string_without_replacement(&bytes[pos..], &mut text, true);
                pos += read;
                shown_chars(&text, &mut out);
                match result {
                    encoding_rs::DecoderResult::InputEmpty => break,
                    encoding_rs::DecoderResult::OutputFull => {
                        text.reserve(text.capacity());
                    }
                    encoding_rs::DecoderResult::Malformed(bad, after) => {
                        let end = pos - usize::from(after);
                        byte_escapes(&bytes[end - usize::from(bad)..end], &mut out);
                    }
                }
            }
        }
    }
    out
}

fn encodings(data: &[u8]) -> u64 {
    let mut signature = Vec::new();
    let text = lossy(data);
    for enc in TextEncoding::ALL {
        let shown = enc.decode_for_display(data);
        assert!(
            !shown.chars().any(|c| (c as u32) < 0x20 || c == '\u{7F}'),
            "{}: a raw control character in {shown:?}",
            enc.name()
        );
        let want = reference_display(enc, data);
        assert!(
            shown == want,
            "{}: {:02X?}\n  shown {shown:?}\n   want {want:?}",
            enc.name(),
            &data[..data.len().min(48)]
        );
        let mut appended = String::from("x");
        enc.decode_for_display_into(data, &mut appended);
        assert_eq!(appended[1..], shown);
        let _ = enc.readable_only(&shown);
        let lossy_text = enc.decode_lossy(data);
        let _ = enc.encode_text(&lossy_text);
        let encoded = enc.encode(&text);
        if let Ok(bytes) = &encoded
            && matches!(
                enc,
                TextEncoding::Utf8
                    | TextEncoding::Utf16Le
                    | TextEncoding::Utf16Be
                    | TextEncoding::Ascii
            )
        {
            assert_eq!(enc.decode_lossy(bytes), text, "{}", enc.name());
        }
        signature.push((encoded.is_ok(), bucket(shown.len())));
    }
    let _ = TextEncoding::from_name(&text);
    sig(signature)
}

// ---------------------------------------------------------------------------------------
// Framers and checksums.

/// A frame rule from the input's first line (the `--frame` text), else one its hash picks;
/// a frame limit its hash picks; then the rest of the input in chunks its hash sizes.
fn framers(data: &[u8]) -> u64 {
    let (line, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&[][..], data),
    };
    let parsed = parse_frame_rule(&lossy(line));
    let rule = match &parsed {
        Ok(Some(rule)) => {
            // The rule prints as text that reads back as itself.
            assert_eq!(parse_frame_rule(&rule.to_string()), Ok(Some(rule.clone())));
            Some(rule.clone())
        }
        Ok(None) => None,
        Err(_) => {
            let h = fnv(line);
            Some(match h % 4 {
                0 => FrameRule::Delimiter {
                    delimiter: data
                        .get(..1 + (h as usize >> 8) % 3)
                        .unwrap_or(b"\n")
                        .to_vec(),
                    keep: h & 0x10 != 0,
                },
                1 => FrameRule::Fixed {
                    len: 1 + (h as usize >> 8) % 40,
                },
                2 => FrameRule::LengthPrefix(LengthPrefix {
                    offset: (h as usize >> 8) % 4,
                    width: [1, 2, 4][(h as usize >> 12) % 3],
                    big_endian: h & 0x10 != 0,
                    adjust: ((h >> 16) % 9).cast_signed() - 4,
                    includes_header: h & 0x20 != 0,
                }),
                _ => FrameRule::IdleGap { gap_ms: 1 },
            })
        }
    };
    let limits = [1, 2, 3, 5, 16, 64, 1024, 1 << 20];
    let max = limits[pick(data, 1, limits.len())];
    let Some(rule) = rule else {
        return sig("raw");
    };
    let Ok(framing) = Framing::new(rule.clone(), max) else {
        return sig(("refused", std::mem::discriminant(&rule)));
    };
    let mut framer = framing.build();
    let mut rng = Rng::new(fnv(data));
    let mut records: Vec<Vec<u8>> = Vec::new();
    let mut fed = 0usize;
    let mut at = 0;
    let mut notices = 0;
    while at < rest.len() {
        let n = (1 + rng.below(64)).min(rest.len() - at);
        framer.push(rest[at..at + n].to_vec(), &mut |r| records.push(r));
        fed += n;
        at += n;
        if rng.chance(8) {
            framer.push(Vec::new(), &mut |r| records.push(r));
        }
        if framing.has_timer() && rng.chance(4) {
            assert!(framer.deadline().is_some() || framer.pending_bytes() == 0);
            framer.expire(Instant::now() + Duration::from_secs(61), &mut |r| {
                records.push(r);
            });
            assert_eq!(framer.pending_bytes(), 0, "an expired gap holds nothing");
        }
        notices += framer.take_notices().len();
        let out: usize = records.iter().map(Vec::len).sum();
        assert!(
            out + framer.pending_bytes() <= fed,
            "{rule}: more out than in"
        );
    }
    framer.finish(&mut |r| records.push(r));
    notices += framer.take_notices().len();
    assert_eq!(framer.pending_bytes(), 0, "{rule}: bytes held after finish");
    for r in &records {
        assert!(
            r.len() <= max,
            "{rule}: a {}-byte record over the limit {max}",
            r.len()
        );
    }
    let joined: Vec<u8> = records.concat();
    let drops_delimiters = matches!(rule, FrameRule::Delimiter { keep: false, .. });
    if drops_delimiters {
        assert!(joined.len() <= fed);
    } else {
        assert!(
            joined == rest,
            "{rule} (limit {max}): the records are not the bytes fed"
        );
    }
    sig((
        std::mem::discriminant(&rule),
        bucket(records.len()),
        bucket(notices),
        max,
    ))
}

fn checksum(data: &[u8]) -> u64 {
    let (head, payload) = data.split_first().map_or((0, &[][..]), |(h, t)| (*h, t));
    let kind = ChecksumKind::ALL[usize::from(head) % ChecksumKind::ALL.len()];
    let order = if head & 0x80 == 0 {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    };
    let start = usize::from(head >> 5 & 3) * usize::from(head >> 5 & 3);
    let spec = ChecksumSpec { kind, order, start };
    let verdict = spec.verify(payload);
    if let Verdict::TooShort { len, needed } = verdict {
        assert!(len < needed);
    }
    let framed = spec.append(payload.to_vec());
    assert_eq!(framed.len(), payload.len() + kind.width_bytes());
    let again = spec.verify(&framed);
    if payload.len() >= start {
        assert_eq!(again, Verdict::Good, "{kind} {order:?} from {start}");
        // Any change to the checksum itself is seen.
        let mut broken = framed.clone();
        let last = broken.len() - 1;
        broken[last] ^= 1 << (head & 7);
        assert!(
            !spec.verify(&broken).is_good(),
            "{kind}: a flipped bit verified"
        );
    } else {
        assert!(matches!(again, Verdict::TooShort { .. }));
    }
    let _ = again.to_string();
    let name = lossy(payload);
    if let Ok(k) = name.parse::<ChecksumKind>() {
        assert_eq!(k.name().parse::<ChecksumKind>(), Ok(k));
    }
    sig((kind, verdict.is_good(), std::mem::discriminant(&verdict)))
}

// ---------------------------------------------------------------------------------------
// Rules, mock plans, scripts and send sequences.

fn rules_json(data: &[u8]) -> u64 {
    use sockpit::engine::session::rules::{RuleSet, RulesFile};
    let (json, record) = split0(data);
    let file: RulesFile = match serde_json::from_slice(json) {
        Ok(file) => file,
        Err(e) => return sig(("json", format!("{:?}", e.classify()))),
    };
    let encoding = TextEncoding::ALL[pick(json, 2, TextEncoding::ALL.len())];
    match RuleSet::build(&file, encoding) {
        Ok(set) => {
            let mut answers = 0;
            for r in [record, json, b"PING\r\n", b""] {
                let out = set.answer(addr(PEER), r);
                assert!(out.len() <= set.len());
                if !file.every_match {
                    assert!(out.len() <= 1);
                }
                for (delay, _) in &out {
                    assert!(delay.as_millis() <= 60_000);
                }
                answers += out.len();
            }
            // What the window exports reads back as the same rules.
            let text = serde_json::to_string(&file).unwrap();
            assert_eq!(serde_json::from_str::<RulesFile>(&text).unwrap(), file);
            sig(("built", bucket(set.len()), bucket(answers)))
        }
        Err(e) => sig(("refused", sig_text(&e.to_string()))),
    }
}

/// `MATCH=>REPLY` lines (the CLI's `--rule`), then a NUL and the record they answer.
fn rules_text(data: &[u8]) -> u64 {
    use sockpit::engine::session::rules::{Pattern, RuleSet, RuleText, RulesFile};
    let (spec, record) = split0(data);
    let spec = lossy(spec);
    let encoding = TextEncoding::ALL[pick(spec.as_bytes(), 3, TextEncoding::ALL.len())];
    let mut rules = Vec::new();
    let mut matched = 0;
    for line in spec.lines() {
        if let Ok(p) = Pattern::parse(1, line, encoding) {
            matched += usize::from(p.matches(record));
        }
        if let Ok(rule) = RuleText::from_arrow(line) {
            rules.push(rule);
        }
    }
    let file = RulesFile {
        every_match: spec.len().is_multiple_of(2),
        rules,
    };
    let built = RuleSet::build(&file, encoding);
    if let Ok(set) = &built {
        let out = set.answer(addr(PEER), record);
        assert!(out.len() <= set.len());
        let _ = set.answer(addr("[::1]:7"), record);
    }
    sig((
        bucket(matched),
        built
            .map(|s| bucket(s.len()))
            .map_err(|e| sig_text(&e.to_string())),
    ))
}

/// Records of a conversation, split at NUL bytes; each starts with `>` (this side sent) or
/// anything else (the device answered).
fn mock_plan(data: &[u8]) -> u64 {
    use sockpit::engine::session::mock::MockBuilder;
    use sockpit::engine::session::rules::RuleSet;
    let mut builder = MockBuilder::default();
    for record in data.split(|&b| b == 0) {
        match record.split_first() {
            Some((b'>', rest)) => builder.request(rest),
            _ => builder.answer(record),
        }
    }
    let plan = builder.finish(data.first() == Some(&b'u'));
    let set = RuleSet::build(&plan.rules, TextEncoding::Utf8);
    assert!(
        set.is_ok(),
        "a mock plan's rules were refused: {:?}",
        set.err()
    );
    assert!(plan.rules.rules.len() <= plan.exchanges);
    let _ = plan.note(true);
    sig((
        bucket(plan.exchanges),
        bucket(plan.rules.rules.len()),
        plan.conflicts > 0,
    ))
}

/// A script, then a NUL and the record it answers.
fn script(data: &[u8]) -> u64 {
    use sockpit::engine::session::script::{Script, check};
    let (source, record) = split0(data);
    let source = lossy(source);
    let checked = check(&source);
    let encoding = TextEncoding::ALL[pick(source.as_bytes(), 4, TextEncoding::ALL.len())];
    let compiled = Script::compile(&source, encoding);
    if encoding == TextEncoding::Utf8 {
        assert_eq!(
            checked.is_ok(),
            compiled.is_ok(),
            "check and compile disagree"
        );
    }
    let Ok((script, reports)) = compiled else {
        return sig(("refused", checked.err().map(|e| sig_text(&e.reason))));
    };
    let mut stage = script.stage().build();
    let mut replies = Replies::default();
    stage.on_opened(addr(LOCAL), addr(PEER), &mut replies);
    for bytes in [record, b"PING\r\n".as_slice(), record] {
        let r = Record {
            peer: addr(PEER),
            local: addr(LOCAL),
            direction: sockpit::engine::session::Direction::Received,
            time_us: 1_764_868_800_000_000,
            bytes,
        };
        stage.on_received(&r, &mut replies);
        stage.on_sent(&r);
    }
    if stage.next_tick().is_some() {
        stage.on_tick(Instant::now() + Duration::from_hours(1), &mut replies);
    }
    stage.on_closed(addr(LOCAL), addr(PEER), 1);
    let notices = reports.take(1000);
    sig(("ran", bucket(notices.len())))
}

fn sequence(data: &[u8]) -> u64 {
    use sockpit::engine::session::sequence::Sequence;
    let text = lossy(data);
    let encoding = TextEncoding::ALL[pick(data, 5, TextEncoding::ALL.len())];
    match Sequence::parse(&text, encoding) {
        Ok(s) => {
            for step in 0..=s.lines.len() {
                let _ = s.describe(step);
            }
            sig(("ok", bucket(s.lines.len()), s.repeat.min(3)))
        }
        Err(e) => sig(("err", sig_text(&e))),
    }
}

// ---------------------------------------------------------------------------------------
// Packet library imports (ours and Packet Sender's JSON and INI) and saved settings.

fn library(data: &[u8]) -> u64 {
    let text = lossy(data);
    let mut signature = Vec::new();
    match Library::parse(&text) {
        Ok((packets, mut report)) => {
            let mut lib = Library::default();
            lib.add_all(packets, &mut report);
            let _ = report.summary();
            assert!(lib.packets.len() <= sockpit::codec::library::PACKETS_MAX);
            for p in &lib.packets {
                if let Ok(t) = p.template()
                    && t.max_len() <= 1 << 16
                {
                    let _ = t.render_now(0, &mut MacroRng::seeded(3));
                }
            }
            // Our export of what was imported imports back to the same packets.
            let (again, _) = Library::parse(&lib.to_json()).unwrap();
            assert_eq!(again, lib.packets);
            let _ = lib.search(&text.chars().take(8).collect::<String>());
            signature.push(sig(("ok", report.format, bucket(lib.packets.len()))));
        }
        Err(e) => signature.push(sig(("err", sig_text(&e)))),
    }
    // Packet Sender's readers, also on what the dispatch would not give them.
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
        signature.push(sig(packet_sender::from_json(&value)
            .map(|(p, _)| bucket(p.len()))
            .is_ok()));
    }
    let ini = packet_sender::looks_like_ini(&text);
    let from_ini = packet_sender::from_ini(&text).map(|(p, _)| bucket(p.len()));
    signature.push(sig((ini, from_ini.map_err(|e| sig_text(&e)))));
    sig(signature)
}

fn state_file(settings_ron: &str) -> String {
    let mut kv = HashMap::new();
    kv.insert(
        sockpit::gui::app::STORAGE_KEY.to_owned(),
        settings_ron.to_owned(),
    );
    kv.insert(
        "egui".to_owned(),
        ron::ser::to_string(&egui::Memory::default()).unwrap(),
    );
    ron::ser::to_string_pretty(&kv, ron::ser::PrettyConfig::default()).unwrap()
}

fn saved_settings() -> Vec<Vec<u8>> {
    use sockpit::gui::app::Settings;
    let ron = ron::ser::to_string(&Settings::default()).unwrap();
    vec![state_file(&ron).into_bytes(), ron.into_bytes()]
}

/// eframe's whole state file, repaired as before the window opens.
fn settings_file(data: &[u8]) -> u64 {
    use sockpit::gui::app::{STORAGE_KEY, Settings};
    let mut notes = Vec::new();
    let kv = sockpit::settings::repair_state_text(data, &mut notes);
    if let Some(text) = kv.get(STORAGE_KEY) {
        let mut more = Vec::new();
        let _ = Settings::from_ron(text, &mut more);
        assert!(
            more.is_empty(),
            "the repaired settings are repaired again: {more:?}"
        );
    }
    // The repaired file needs no more repair.
    let text = ron::ser::to_string_pretty(&kv, ron::ser::PrettyConfig::default()).unwrap();
    let mut again = Vec::new();
    let kv2 = sockpit::settings::repair_state_text(text.as_bytes(), &mut again);
    assert!(
        again.is_empty(),
        "a repaired file was repaired again: {again:?}"
    );
    assert_eq!(kv2, kv);
    sig((bucket(notes.len()), bucket(kv.len())))
}

/// Our entry of the state file alone (a RON struct), read field by field.
fn settings_ron(data: &[u8]) -> u64 {
    use sockpit::gui::app::Settings;
    let text = lossy(data);
    let mut notes = Vec::new();
    let settings = Settings::from_ron(&text, &mut notes);
    let saved = ron::ser::to_string(&settings).unwrap();
    let mut again = Vec::new();
    let _ = Settings::from_ron(&saved, &mut again);
    assert!(
        again.is_empty(),
        "loaded settings do not load cleanly once saved: {again:?}"
    );
    sig(bucket(notes.len()))
}

// ---------------------------------------------------------------------------------------
// Capture files.

thread_local! {
    static CAPTURE_FILE: std::path::PathBuf = {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            std::path::PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("sockpit-fuzz-{}-{:?}.cap", std::process::id(), std::thread::current().id()))
    };
}

fn capture(data: &[u8]) -> u64 {
    use sockpit::capture::{Head, ReadLimits, RecordKind, Transport, open_capture_with};
    use sockpit::engine::session::mock::from_capture;
    let path = CAPTURE_FILE.with(Clone::clone);
    std::fs::write(&path, data).unwrap();
    let limits = ReadLimits {
        records: 10_000,
        payload_bytes: 1 << 22,
    };
    let opened = open_capture_with(&path, limits);
    let _ = std::fs::remove_file(&path);
    match opened {
        Ok(c) => {
            let _ = c.summary();
            assert!(c.records.len() <= limits.records);
            let bytes: usize = c.records.iter().map(|r| r.bytes.len()).sum();
            assert!(bytes <= limits.payload_bytes + (1 << 16));
            let mut text = String::new();
            for r in c.records.iter().take(64) {
                if r.kind == RecordKind::Closed {
                    assert!(r.bytes.is_empty());
                }
                let head = Head {
                    time_us: r.time_us,
                    direction: r.direction,
                    kind: r.kind,
                    transport: r.transport,
                    local: r.local,
                    peer: r.peer,
                };
                sockpit::capture::text::text_record(&head, &r.bytes, TextEncoding::Gbk, &mut text);
                sockpit::capture::text::csv_record(&head, &r.bytes, TextEncoding::Utf8, &mut text);
            }
            let tcp = from_capture(&c.records, Transport::Tcp).map(|p| bucket(p.rules.rules.len()));
            let udp = from_capture(&c.records, Transport::Udp).map(|p| bucket(p.rules.rules.len()));
            sig((
                c.kind.label(),
                bucket(c.records.len()),
                bucket(c.skipped.total() as usize),
                c.cut_off.is_some(),
                tcp.ok(),
                udp.ok(),
            ))
        }
        Err(e) => sig((
            "err",
            sig_text(&e.to_string().replace(&path.display().to_string(), "")),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// Protocol decoders, layouts, discovery replies.

fn check_fields(bytes: &[u8], d: &sockpit::codec::protocol::Decoded, what: &str) -> usize {
    let fields = d.all_fields();
    for f in &fields {
        assert!(f.range.start <= f.range.end, "{what}: {f:?}");
        assert!(
            f.range.end <= bytes.len(),
            "{what}: {f:?} past {} bytes",
            bytes.len()
        );
    }
    for i in [0, bytes.len() / 2, bytes.len().saturating_sub(1)] {
        if let Some(path) = d.field_at(i) {
            assert!(
                d.field(&path).is_some(),
                "{what}: field_at({i}) gave {path:?}"
            );
        }
    }
    assert!(
        !d.summary.contains('\n'),
        "{what}: a summary of several lines"
    );
    fields.len()
}

fn protocols(data: &[u8]) -> u64 {
    let mut counts = Vec::new();
    for p in Protocol::ALL {
        let d = p.decode(data);
        counts.push(bucket(check_fields(data, &d, p.name())));
        let _ = d.problems();
    }
    for version in [Some(4), Some(5)] {
        let d = sockpit::codec::protocol::decode_mqtt(data, version);
        counts.push(bucket(check_fields(data, &d, "mqtt")));
    }
    sig(counts)
}

/// A layouts file, then a NUL and a record to decode with each layout.
fn layouts(data: &[u8]) -> u64 {
    let (json, record) = split0(data);
    match Layouts::from_json(&lossy(json)) {
        Ok(layouts) => {
            let mut fields = 0;
            for l in &layouts.0 {
                for r in [record, json] {
                    fields += check_fields(r, &l.decode(r), &l.name);
                }
            }
            let again = Layouts::from_json(&layouts.to_json()).unwrap();
            assert_eq!(again, layouts);
            sig(("ok", bucket(layouts.0.len()), bucket(fields)))
        }
        Err(e) => sig(("err", sig_text(&e.to_string()))),
    }
}

fn discovery(data: &[u8]) -> u64 {
    use sockpit::engine::broadcast::{Preset, responders};
    let mut counts = Vec::new();
    for preset in Preset::ALL {
        counts.push(bucket(preset.parse(data).len()));
    }
    let mut table = responders::Responders::default();
    table.record(
        addr(PEER),
        data,
        1,
        Some(2),
        Preset::ALL[pick(data, 6, Preset::ALL.len())],
    );
    let _ = table.to_tsv();
    let _ = responders::preview(data);
    sig(counts)
}

// ---------------------------------------------------------------------------------------
// Addresses, ports, MACs and the system tables.

fn addresses(data: &[u8]) -> u64 {
    use sockpit::iptools::subnet::{
        SubnetInfo, parse_address_with_prefix, parse_ip, parse_mask, parse_net, parse_net_list,
        same_subnet, supernet,
    };
    let text = lossy(data);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let second = lines.next().unwrap_or("10.0.0.1");
    let third = lines.next().unwrap_or("255.255.255.0");
    let mut s = Vec::new();
    if let Ok(a) = parse_address_with_prefix(first) {
        assert!(a.prefix <= a.max_prefix());
        let info = SubnetInfo::new(a);
        let bin = info.binary();
        let _ = bin.text(&bin.network);
        if let SubnetInfo::V6(v6) = &info {
            let _ = v6.count_text();
        }
        s.push(1);
    }
    s.push(u8::from(parse_ip(first).is_ok()));
    s.push(u8::from(parse_net(first).is_ok()));
    s.push(u8::from(parse_mask(first, true).is_ok()));
    s.push(u8::from(parse_mask(first, false).is_ok()));
    if let Ok(nets) = parse_net_list(&text) {
        assert!(!nets.is_empty());
        if let Ok(sup) = supernet(&nets) {
            assert!(nets.iter().all(|n| sup.contains(n)));
        }
        let _ = sockpit::iptools::subnet::nets_as_table(&nets);
        s.push(2);
    }
    if let Ok(same) = same_subnet(first, second, third) {
        let _ = (same.mask_text(), same.meaning());
        s.push(3);
    }
    let _ = sockpit::iptools::sweep::parse_sweep_range(first);
    let _ = sockpit::engine::broadcast::plan::parse_v4_group(first);
    sig(s)
}

fn host_port(data: &[u8]) -> u64 {
    use sockpit::net::{Host, parse_host, parse_port};
    let text = lossy(data);
    let mut s = Vec::new();
    if let Ok((host, port)) = sockpit::cli::split_host_port(&text) {
        assert!(port >= 1);
        assert!(parse_host(&host).is_ok(), "{text:?} gave host {host:?}");
        s.push(1);
    }
    match parse_host(&text) {
        Ok(Host::Name(name)) => {
            assert!(name.is_ascii());
            assert_eq!(parse_host(&name), Ok(Host::Name(name.clone())));
            s.push(2);
        }
        Ok(Host::Ip(ip)) => {
            assert_eq!(parse_host(&ip.to_string()), Ok(Host::Ip(ip)));
            s.push(3);
        }
        Ok(_) => s.push(4),
        Err(e) => s.push(sig_text(&e.to_string()) as u8),
    }
    if let Ok(p) = parse_port(&text, true) {
        assert_eq!(text.trim().parse::<u16>().ok(), Some(p));
    }
    let _ = sockpit::iptools::dns::DnsQuery::parse(&text);
    let _ = sockpit::cli::parse_tcp_port(&text);
    let _ = sockpit::cli::parse_secs(&text);
    let _ = sockpit::cli::parse_ms(&text);
    let _ = sockpit::cli::parse_encoding(&text);
    sig(s)
}

fn macs(data: &[u8]) -> u64 {
    use sockpit::iptools::vendor::{Mac, vendor_text};
    let text = lossy(data);
    let parsed = sockpit::engine::broadcast::presets::parse_mac(&text);
    if let Ok(bytes) = parsed {
        let digits = text.chars().filter(char::is_ascii_hexdigit).count();
        assert_eq!(digits, 12, "{text:?}");
        let mac = Mac(bytes);
        assert_eq!(mac.to_string().parse::<Mac>(), Ok(mac));
        let _ = vendor_text(&mac);
    }
    let _ = text.parse::<Mac>();
    sig(parsed.is_ok())
}

fn ports(data: &[u8]) -> u64 {
    let text = lossy(data);
    match sockpit::iptools::ports::parse_ports(&text) {
        Ok(ports) => {
            assert!(ports.len() <= sockpit::iptools::sweep::MAX_TCP_PORTS);
            assert!(!ports.contains(&0));
            let mut unique = ports.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), ports.len());
            sig(("ok", bucket(ports.len())))
        }
        Err(e) => sig(("err", sig_text(&e))),
    }
}

fn neighbours(data: &[u8]) -> u64 {
    use sockpit::iptools::neighbours::{parse_ip_neigh, parse_proc_arp};
    let text = lossy(data);
    let arp = parse_proc_arp(&text);
    let neigh = parse_ip_neigh(&text);
    assert!(arp.len() <= text.lines().count());
    assert!(neigh.len() <= text.lines().count());
    sig((bucket(arp.len()), bucket(neigh.len())))
}

fn sockets(data: &[u8]) -> u64 {
    use sockpit::iptools::sockets::{Proto, parse_proc_net};
    let text = lossy(data);
    let mut s = Vec::new();
    for proto in [Proto::Tcp, Proto::Udp] {
        let table = parse_proc_net(&text, proto);
        assert!(table.len() <= text.lines().count());
        for e in &table {
            let _ = e.proto_text();
            let _ = e.matches(&text.chars().take(6).collect::<String>());
        }
        let pairs: Vec<_> = table.iter().map(|e| (e.local, e.remote)).collect();
        let _ = sockpit::iptools::tcp_state::states_in(&table, &pairs);
        s.push(bucket(table.len()));
    }
    let _ = sockpit::net::udp::drops_for_inode(&text, 1);
    sig(s)
}

// ---------------------------------------------------------------------------------------
// The targets.

const FRAME_WORDS: &[&str] = &[
    "lf", "crlf", "cr", "nul", "delim:", "fixed:", "len:", ":be", ":le", ":incl", ":keep", "idle:",
    "raw", "0D0A", "-2", "+4",
];
const MACRO_WORDS: &[&str] = &[
    "{{COUNTER}}",
    "{{COUNTER:",
    "{{TIME}}",
    "{{TIME:MS}}",
    "{{TIME:ISO}}",
    "{{TIME:DATE}}",
    "{{UNIXTIME}}",
    "{{UNIXTIME_MS}}",
    "{{RANDOM:",
    "{{RANDOM:65536}}",
    "{{HEX:",
    "\\x",
    "\\r\\n",
    "\\0",
    ":::",
];
const RULE_WORDS: &[&str] = &[
    "exact:",
    "prefix:",
    "contains:",
    "regex:",
    "hex:",
    "=>",
    "$0",
    "$1",
    "$9",
    "??",
    "(.*)",
    "\\x",
    "every_match",
    "delay_ms",
    "peer",
    "match",
    "reply",
    "enabled",
    "(?i)",
    "[^",
    "{1000}",
    "\\p{L}",
];
const SCRIPT_WORDS: &[&str] = &[
    "fn on_receive(data, peer) {",
    "fn on_connect(peer) {",
    "fn on_timer() {",
    "every(10);",
    "after(100, ",
    "let x = ",
    "loop { }",
    "while true {",
    "data[",
    "data.len()",
    "hex(\"",
    "to_hex(data)",
    "text(data)",
    "blob(\"",
    "crc16_modbus(data)",
    "u16_be(",
    "u32_le(",
    "decode(data, \"Modbus/TCP\")",
    "print(",
    "throw ",
    "}",
    "();",
    "[\"a\", \"b\"]",
    "#{a: 1}",
    "9223372036854775807",
];
const LIBRARY_WORDS: &[&str] = &[
    "sockpit-packets",
    "\"format\"",
    "\"packets\"",
    "\"payload\"",
    "\"mode\": \"Hex\"",
    "\"encoding\": \"Utf16Be\"",
    "hexstring",
    "asciistring",
    "tcporudp",
    "[General]",
    "[NAMES]",
    "size=",
    "\\name=",
    "hexString=",
    "@Variant(",
    "%20",
    "%FC",
    "\\x",
    "\\\\",
    "=",
];
const RON_WORDS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ":",
    ",",
    "\"",
    "Some(",
    "None",
    "true",
    "false",
    "r#\"",
    "\"sockpit-settings\"",
    "\"egui\"",
    "\"window\"",
    "tab:",
    "TcpServer",
    "zoom_factor:",
    "1e40",
    "-1",
    "cap_mib:",
    "history:",
    "sessions:",
    "'",
    "#",
    "/*",
    "//",
];
const CAPTURE_WORDS: &[&str] = &[
    "\n\r\r\n",
    "\x1A\x2B\x3C\x4D",
    "\u{1}\0\0\0",
    "\u{6}\0\0\0",
    "\u{3}\0\0\0",
    "\u{5}\0\0\0",
    "\u{8}\0",
    "\u{86}\u{dd}",
    "\u{81}\0",
    "E\0",
    "`\0\0\0",
];
const PROTOCOL_WORDS: &[&str] = &[
    "HTTP/1.1 ",
    "GET / HTTP/1.0\r\n",
    "Content-Length: ",
    "Transfer-Encoding: chunked\r\n",
    "\r\n\r\n",
    "NOTIFY * HTTP/1.1\r\n",
    "MQTT",
    "MQIsdp",
    "\u{10}",
    "\u{30}",
    "\u{C0}\u{0C}",
    "\u{3F}",
];
const ADDRESS_WORDS: &[&str] = &[
    "10.0.0.1",
    "/24",
    "/33",
    "/128",
    "255.255.255.0",
    "0.0.0.255",
    "::",
    "::1",
    "fe80::1%eth0",
    "[",
    "]",
    ":80",
    ":0",
    ":65536",
    "192.168.1.0/24,",
    "-",
    "*",
    "localhost",
    "xn--",
    "例子.中国",
    "a.b.c.d",
    "0x7f.1",
    "1.2.3",
    "255.255.255.255/32",
];
const TABLE_WORDS: &[&str] = &[
    "0100007F:1F90",
    "00000000000000000000000001000000:0050",
    " 0A ",
    " 01 ",
    "lladdr ",
    "dev eth0",
    "REACHABLE",
    "STALE",
    "FAILED",
    "0x2",
    "0x0",
    "00:11:22:33:44:55",
    "  sl  local_address",
    "IP address       HW type",
];

targets! {
    hex {
        run: hex,
        dict: &["0x", "0X", " ", ",", ":", "-", "\t", "ff", "0", "g", "x"],
    }
    escapes {
        run: escapes,
        dict: &["\\", "\\r", "\\n", "\\t", "\\0", "\\\\", "\\x", "\\X", "\\xG", "\\x4"],
    }
    macros {
        run: macros,
        dict: MACRO_WORDS,
    }
    encodings {
        run: encodings,
        seeds: &[Seed::Wire("tests/fixtures/protocol")],
        dict: &["\u{85}", "\u{FEFF}", "\u{D7FF}", "\r\n", "温度", "東京", "서울", "ｶﾀｶﾅ", "€", "\u{81}\u{30}"],
    }
    framers {
        run: framers,
        dict: FRAME_WORDS,
    }
    checksum {
        run: checksum,
        dict: &["crc16-modbus", "CRC-32", "xor8", "bcc", "modbus", "lrc", "sum16"],
    }
    rules_json {
        run: rules_json,
        dict: RULE_WORDS,
        generated: || vec![serde_json::to_vec(&sockpit::engine::session::mock::MockBuilder::default().finish(false).rules).unwrap()],
    }
    rules_text {
        run: rules_text,
        dict: RULE_WORDS,
    }
    mock_plan {
        run: mock_plan,
    }
    script {
        run: script,
        dict: SCRIPT_WORDS,
        max_len: 2048,
    }
    sequence {
        run: sequence,
        dict: &["send ", "hex ", "packet ", "wait ", "expect ", "repeat ", " text ", " hex ", " regex ", "#", "\n", "1000", "0"],
    }
    library {
        run: library,
        seeds: &[
            Seed::File("tests/fixtures/packetsender_export.json"),
            Seed::File("tests/fixtures/packetsender_export.ini"),
        ],
        dict: LIBRARY_WORDS,
        max_len: 8192,
    }
    settings_file {
        run: settings_file,
        generated: saved_settings,
        dict: RON_WORDS,
        max_len: 16 * 1024,
    }
    settings_ron {
        run: settings_ron,
        generated: saved_settings,
        dict: RON_WORDS,
        max_len: 16 * 1024,
    }
    capture {
        run: capture,
        dict: CAPTURE_WORDS,
        max_len: 16 * 1024,
    }
    protocols {
        run: protocols,
        seeds: &[Seed::Wire("tests/fixtures/protocol")],
        dict: PROTOCOL_WORDS,
    }
    layouts {
        run: layouts,
        dict: &["\"name\"", "\"fields\"", "\"offset\"", "\"length\"", "\"kind\"", "\"order\"", "\"labels\"", "\"U64\"", "\"F32\"", "\"Text\"", "\"Bytes\"", "\"Big\"", "\"Little\"", "18446744073709551615", "-9223372036854775808"],
    }
    discovery {
        run: discovery,
        seeds: &[Seed::Wire("tests/fixtures/protocol")],
        dict: PROTOCOL_WORDS,
    }
    addresses {
        run: addresses,
        dict: ADDRESS_WORDS,
    }
    host_port {
        run: host_port,
        dict: ADDRESS_WORDS,
    }
    macs {
        run: macs,
        dict: &[":", "-", ".", "00", "ff", "FF:FF:FF:FF:FF:FF", "0011.2233.4455", "001122334455"],
    }
    ports {
        run: ports,
        dict: &[",", "-", " ", "0", "1", "65535", "65536", "1-65535", "80,443", "22-25"],
    }
    neighbours {
        run: neighbours,
        seeds: &[
            Seed::File("tests/fixtures/ip_neigh.txt"),
            Seed::File("tests/fixtures/proc_net_arp.txt"),
        ],
        dict: TABLE_WORDS,
    }
    sockets {
        run: sockets,
        seeds: &[
            Seed::File("tests/fixtures/proc_net_tcp.txt"),
            Seed::File("tests/fixtures/proc_net_tcp6.txt"),
            Seed::File("tests/fixtures/proc_net_udp.txt"),
            Seed::File("tests/fixtures/proc_net_udp6.txt"),
        ],
        dict: TABLE_WORDS,
    }
}
