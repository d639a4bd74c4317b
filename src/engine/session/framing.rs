//! The framers users choose: they cut a byte stream into the messages a device speaks — by a
//! delimiter, a fixed length, a length field in a header, or a gap of silence. Every one holds
//! at most its frame limit: a longer frame goes up in pieces of the limit, and says so.
//!
//! A rule reads and prints as the CLI's `--frame` text (`lf`, `delim:0D0A:keep`, `fixed:8`,
//! `len:0:2:be`, `idle:50`), the one format the window's settings and the CLI share.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use rust_i18n::t;

use super::framer::Framer;
use crate::codec::hex::{format_hex, parse_hex};

/// The frame limit unless the user sets one: large for a device's message, small enough that
/// a peer that never sends a delimiter costs little memory.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 1024 * 1024;

/// The largest frame limit accepted (each stream may hold this much).
pub const MAX_FRAME_LIMIT_BYTES: usize = 64 * 1024 * 1024;

/// The largest length adjustment accepted, either way: the frame limit.
pub const MAX_ADJUST: i64 = 64 * 1024 * 1024;

/// The longest idle gap accepted: a minute of silence is a closed conversation, not a frame.
pub const MAX_IDLE_GAP_MS: u64 = 60_000;

/// The longest delimiter accepted.
pub const MAX_DELIMITER_BYTES: usize = 64;

/// How a stream is cut into records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameRule {
    /// A record ends at each occurrence of `delimiter`, which the record keeps or drops.
    Delimiter { delimiter: Vec<u8>, keep: bool },
    /// Every `len` bytes are a record.
    Fixed { len: usize },
    /// A header carries the frame's length.
    LengthPrefix(LengthPrefix),
    /// A record ends after `gap_ms` of silence.
    IdleGap { gap_ms: u64 },
}

/// Where a frame's length is read and what it counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefix {
    /// Bytes before the length field (a sync word, an address).
    pub offset: usize,
    /// 1, 2 or 4 bytes.
    pub width: u8,
    pub big_endian: bool,
    /// Added to the value read (e.g. -2 when it also counts a trailing checksum's absence).
    pub adjust: i64,
    /// Whether the value counts the header (offset and field) too.
    pub includes_header: bool,
}

impl LengthPrefix {
    /// Bytes up to the end of the length field.
    pub fn header_len(&self) -> usize {
        self.offset + usize::from(self.width)
    }

    /// The whole frame's length for the header at the start of `header` and true, or the
    /// value read and false when it says less than the header itself.
    fn frame_len(&self, header: &[u8]) -> (u64, bool) {
        let field = &header[self.offset..self.header_len()];
        let value = field.iter().enumerate().fold(0u64, |acc, (i, &b)| {
            let shift = if self.big_endian {
                8 * (field.len() - 1 - i)
            } else {
                8 * i
            };
            acc | (u64::from(b) << shift)
        });
        let header = self.header_len() as i128;
        let total = i128::from(value)
            + i128::from(self.adjust)
            + if self.includes_header { 0 } else { header };
        if total < header {
            (value, false)
        } else {
            (u64::try_from(total).unwrap_or(u64::MAX), true)
        }
    }
}

/// A rule with the limit every framer holds to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    pub rule: FrameRule,
    pub max_frame_bytes: usize,
}

impl Framing {
    /// `rule` with a checked limit.
    pub fn new(rule: FrameRule, max_frame_bytes: usize) -> Result<Self, FrameSpecError> {
        if !(1..=MAX_FRAME_LIMIT_BYTES).contains(&max_frame_bytes) {
            return Err(FrameSpecError::Limit(max_frame_bytes));
        }
        if let FrameRule::Fixed { len } = rule
            && len > max_frame_bytes
        {
            return Err(FrameSpecError::FixedOverLimit {
                len,
                limit: max_frame_bytes,
            });
        }
        Ok(Self {
            rule,
            max_frame_bytes,
        })
    }

    /// A fresh framer state for one stream.
    pub fn build(&self) -> Box<dyn Framer> {
        let max = self.max_frame_bytes.max(1);
        match &self.rule {
            FrameRule::Delimiter { delimiter, keep } => Box::new(DelimiterFramer {
                delimiter: delimiter.clone(),
                keep: *keep,
                held: Held::new(max),
                scanned: 0,
            }),
            FrameRule::Fixed { len } => Box::new(FixedFramer {
                len: (*len).clamp(1, max),
                held: Held::new(max),
            }),
            FrameRule::LengthPrefix(prefix) => Box::new(LengthFramer {
                prefix: *prefix,
                held: Held::new(max),
                over: None,
            }),
            FrameRule::IdleGap { gap_ms } => Box::new(IdleFramer {
                gap: Duration::from_millis(*gap_ms),
                held: Held::new(max),
                last: None,
            }),
        }
    }

    /// Whether framers of this rule end records by time.
    pub fn has_timer(&self) -> bool {
        matches!(self.rule, FrameRule::IdleGap { .. })
    }
}

/// What a framer tells the user besides its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameNotice {
    /// Bytes held for a frame not yet complete (0: nothing held any more).
    Pending { bytes: usize },
    /// A frame longer than the limit went up in pieces of at most `limit` bytes; `declared`
    /// is the length its header gave, where it has one.
    OverLimit { limit: usize, declared: Option<u64> },
    /// A length field gave less than its own header: the header went up alone.
    BadLength { value: u64, header: usize },
    /// The stream ended inside a frame: its held bytes went up as a last, partial record.
    EndedInside { bytes: usize },
    /// A delayed auto-reply was not sent: `waiting` replies already wait for their delay.
    ReplyDropped { waiting: usize },
}

impl fmt::Display for FrameNotice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Pending { bytes: 0 } => t!("engine.frame.no_partial"),
            Self::Pending { bytes } => t!("engine.frame.pending", bytes = bytes),
            Self::OverLimit {
                limit,
                declared: Some(declared),
            } => t!(
                "engine.frame.over_limit_declared",
                declared = declared,
                limit = limit
            ),
            Self::OverLimit {
                limit,
                declared: None,
            } => t!("engine.frame.over_limit", limit = limit),
            Self::BadLength { value, header } => {
                t!("engine.frame.bad_length", value = value, header = header)
            }
            Self::EndedInside { bytes } => t!("engine.frame.ended_inside", bytes = bytes),
            Self::ReplyDropped { waiting } => t!("engine.frame.reply_dropped", waiting = waiting),
        };
        f.write_str(&text)
    }
}

/// A frame rule or limit that cannot be used, said so the user can fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameSpecError {
    Unknown(String),
    DelimiterHex(String),
    EmptyDelimiter,
    LongDelimiter(usize),
    FixedLen(String),
    FixedOverLimit { len: usize, limit: usize },
    Offset(String),
    Width(String),
    Order(String),
    Adjust(String),
    Gap(String),
    Limit(usize),
}

impl fmt::Display for FrameSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Unknown(text) => t!("engine.frame.unknown", text = text),
            Self::DelimiterHex(error) => t!("engine.frame.delimiter_hex", error = error),
            Self::EmptyDelimiter => t!("engine.frame.empty_delimiter"),
            Self::LongDelimiter(len) => {
                t!(
                    "engine.frame.long_delimiter",
                    len = len,
                    max = MAX_DELIMITER_BYTES
                )
            }
            Self::FixedLen(text) => t!("engine.frame.fixed_len", text = text),
            Self::FixedOverLimit { len, limit } => {
                t!("engine.frame.fixed_over_limit", len = len, limit = limit)
            }
            Self::Offset(text) => t!("engine.frame.offset", text = text),
            Self::Width(text) => t!("engine.frame.width", text = text),
            Self::Order(text) => t!("engine.frame.order", text = text),
            Self::Adjust(text) => t!("engine.frame.adjust", text = text),
            Self::Gap(text) => t!("engine.frame.gap", text = text, max = MAX_IDLE_GAP_MS),
            Self::Limit(limit) => {
                t!(
                    "engine.frame.limit",
                    limit = limit,
                    max = MAX_FRAME_LIMIT_BYTES
                )
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for FrameSpecError {}

/// Reads a rule in the CLI's `--frame` syntax; `raw` (one record per read) is `None`.
pub fn parse_frame_rule(text: &str) -> Result<Option<FrameRule>, FrameSpecError> {
    let text = text.trim();
    let lower = text.to_ascii_lowercase();
    let mut parts: Vec<&str> = lower.split(':').collect();
    let keep = parts.len() > 1 && parts.last() == Some(&"keep");
    let delimiter = |bytes: &[u8]| {
        Ok(Some(FrameRule::Delimiter {
            delimiter: bytes.to_vec(),
            keep,
        }))
    };
    let unknown = || FrameSpecError::Unknown(text.to_owned());
    if keep {
        parts.pop();
    }
    match parts.as_slice() {
        ["raw"] if !keep => Ok(None),
        ["lf"] => delimiter(b"\n"),
        ["crlf"] => delimiter(b"\r\n"),
        ["cr"] => delimiter(b"\r"),
        ["nul"] => delimiter(b"\0"),
        ["delim", hex] => {
            let bytes = parse_hex(hex).map_err(|e| FrameSpecError::DelimiterHex(e.to_string()))?;
            check_delimiter(&bytes)?;
            delimiter(&bytes)
        }
        ["fixed", n] if !keep => match n.parse::<usize>() {
            Ok(len) if len > 0 => Ok(Some(FrameRule::Fixed { len })),
            _ => Err(FrameSpecError::FixedLen((*n).to_owned())),
        },
        ["len", offset, width, order, rest @ ..] if !keep && rest.len() <= 2 => {
            let offset = offset
                .parse::<usize>()
                .ok()
                .filter(|o| *o <= MAX_FRAME_LIMIT_BYTES)
                .ok_or_else(|| FrameSpecError::Offset((*offset).to_owned()))?;
            let width = match *width {
                "1" => 1,
                "2" => 2,
                "4" => 4,
                other => return Err(FrameSpecError::Width(other.to_owned())),
            };
            let big_endian = match *order {
                "be" => true,
                "le" => false,
                other => return Err(FrameSpecError::Order(other.to_owned())),
            };
            let (adjust, includes_header) = match rest {
                [] => (0, false),
                ["incl"] => (0, true),
                [adjust] => (parse_adjust(adjust)?, false),
                [adjust, "incl"] => (parse_adjust(adjust)?, true),
                _ => return Err(unknown()),
            };
            Ok(Some(FrameRule::LengthPrefix(LengthPrefix {
                offset,
                width,
                big_endian,
                adjust,
                includes_header,
            })))
        }
        ["idle", ms] if !keep => parse_gap(ms).map(|gap_ms| Some(FrameRule::IdleGap { gap_ms })),
        _ => Err(unknown()),
    }
}

/// A delimiter the framers can use: 1 to [`MAX_DELIMITER_BYTES`] bytes.
pub fn check_delimiter(bytes: &[u8]) -> Result<(), FrameSpecError> {
    match bytes.len() {
        0 => Err(FrameSpecError::EmptyDelimiter),
        n if n > MAX_DELIMITER_BYTES => Err(FrameSpecError::LongDelimiter(n)),
        _ => Ok(()),
    }
}

/// An adjustment: a whole number within ± the frame limit.
pub fn parse_adjust(text: &str) -> Result<i64, FrameSpecError> {
    let text = text.trim();
    text.strip_prefix('+')
        .unwrap_or(text)
        .parse::<i64>()
        .ok()
        .filter(|a| a.unsigned_abs() <= MAX_ADJUST.unsigned_abs())
        .ok_or_else(|| FrameSpecError::Adjust(text.to_owned()))
}

/// An idle gap in milliseconds, 1 to [`MAX_IDLE_GAP_MS`].
pub fn parse_gap(text: &str) -> Result<u64, FrameSpecError> {
    let text = text.trim();
    text.parse::<u64>()
        .ok()
        .filter(|ms| (1..=MAX_IDLE_GAP_MS).contains(ms))
        .ok_or_else(|| FrameSpecError::Gap(text.to_owned()))
}

impl FromStr for FrameRule {
    type Err = FrameSpecError;

    /// Like [`parse_frame_rule`], but `raw` is not a rule.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_frame_rule(text)?.ok_or_else(|| FrameSpecError::Unknown(text.to_owned()))
    }
}

impl fmt::Display for FrameRule {
    /// The `--frame` text that reads back as this rule.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Delimiter { delimiter, keep } => {
                match delimiter.as_slice() {
                    b"\n" => write!(f, "lf")?,
                    b"\r\n" => write!(f, "crlf")?,
                    b"\r" => write!(f, "cr")?,
                    b"\0" => write!(f, "nul")?,
                    other => write!(f, "delim:{}", format_hex(other).replace(' ', ""))?,
                }
                if *keep {
                    write!(f, ":keep")?;
                }
                Ok(())
            }
            Self::Fixed { len } => write!(f, "fixed:{len}"),
            Self::LengthPrefix(p) => {
                let order = if p.big_endian { "be" } else { "le" };
                write!(f, "len:{}:{}:{order}", p.offset, p.width)?;
                if p.adjust != 0 {
                    write!(f, ":{}", p.adjust)?;
                }
                if p.includes_header {
                    write!(f, ":incl")?;
                }
                Ok(())
            }
            Self::IdleGap { gap_ms } => write!(f, "idle:{gap_ms}"),
        }
    }
}

/// The bytes a framer holds, bounded by its limit, and what it has to tell.
struct Held {
    bytes: Vec<u8>,
    /// Where the next frame starts in `bytes`; what is before went up already.
    start: usize,
    max: usize,
    notices: Vec<FrameNotice>,
    /// The frame now waiting was already said to be over the limit (said once per frame).
    over_said: bool,
}

impl Held {
    fn new(max: usize) -> Self {
        Self {
            bytes: Vec::new(),
            start: 0,
            max,
            notices: Vec::new(),
            over_said: false,
        }
    }

    /// Says, once for the frame now waiting, that it is over the limit.
    fn note_over(&mut self, declared: Option<u64>) {
        if !self.over_said {
            self.over_said = true;
            self.notices.push(FrameNotice::OverLimit {
                limit: self.max,
                declared,
            });
        }
    }

    /// The waiting frame ended: the next one is said again if it is over the limit.
    fn frame_done(&mut self) {
        self.over_said = false;
    }

    /// Hands `pieces` pieces of the limit up from a frame that goes on past them.
    fn emit_pieces(&mut self, pieces: usize, emit: &mut dyn FnMut(Vec<u8>)) {
        if pieces > 0 {
            self.note_over(None);
        }
        for _ in 0..pieces {
            let start = self.start;
            emit(self.bytes[start..start + self.max].to_vec());
            self.start += self.max;
        }
    }

    /// Adds a read; a read arriving with nothing held is taken over as it is.
    fn append(&mut self, read: Vec<u8>) {
        if self.bytes.is_empty() {
            self.bytes = read;
            self.start = 0;
        } else {
            self.bytes.extend_from_slice(&read);
        }
    }

    fn waiting(&self) -> &[u8] {
        &self.bytes[self.start..]
    }

    /// Hands the next `len` waiting bytes up as the end of a frame, in pieces of the limit if
    /// it is longer (which is then said).
    fn emit(&mut self, len: usize, emit: &mut dyn FnMut(Vec<u8>)) {
        let end = self.start + len;
        if len > self.max {
            self.note_over(None);
        }
        // An empty frame is a record, unless it is the end of one whose pieces all went up.
        if len == 0 && !self.over_said {
            emit(Vec::new());
        }
        self.frame_done();
        while self.start < end {
            let piece = (end - self.start).min(self.max);
            emit(self.bytes[self.start..self.start + piece].to_vec());
            self.start += piece;
        }
    }

    /// Skips `len` waiting bytes (a delimiter the records do not keep).
    fn skip(&mut self, len: usize) {
        self.start += len;
    }

    /// Drops what went up, so the buffer holds only what waits.
    fn compact(&mut self) {
        if self.start == self.bytes.len() {
            self.bytes.clear();
            if self.bytes.capacity() > self.max.max(64 * 1024) {
                self.bytes = Vec::new();
            }
        } else if self.start > 0 {
            self.bytes.drain(..self.start);
        }
        self.start = 0;
    }

    /// Hands everything held up as one last record (pieces of the limit).
    fn flush(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        let len = self.waiting().len();
        if len > 0 {
            self.emit(len, emit);
        }
        self.compact();
    }
}

struct DelimiterFramer {
    delimiter: Vec<u8>,
    keep: bool,
    held: Held,
    /// Waiting bytes (from `held.start`) already searched: no delimiter starts before it.
    scanned: usize,
}

impl Framer for DelimiterFramer {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.append(bytes);
        let d = self.delimiter.len();
        loop {
            let from = self.scanned;
            let found = memchr::memmem::find(&self.held.waiting()[from..], &self.delimiter);
            let Some(at) = found else {
                // A delimiter may start in the last d-1 bytes and end in the next read.
                let waiting = self.held.waiting().len();
                self.scanned = waiting.saturating_sub(d - 1);
                // Held past the limit with no delimiter: whole pieces go up now.
                if waiting > self.held.max {
                    self.held.emit_pieces(waiting / self.held.max, emit);
                    self.scanned = self.held.waiting().len().saturating_sub(d - 1);
                }
                break;
            };
            let frame = from + at;
            if self.keep {
                self.held.emit(frame + d, emit);
            } else {
                self.held.emit(frame, emit);
                self.held.skip(d);
            }
            self.scanned = 0;
        }
        self.held.compact();
    }

    fn pending_bytes(&self) -> usize {
        self.held.waiting().len()
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.flush(emit);
        self.scanned = 0;
    }

    fn take_notices(&mut self) -> Vec<FrameNotice> {
        std::mem::take(&mut self.held.notices)
    }
}

struct FixedFramer {
    len: usize,
    held: Held,
}

impl Framer for FixedFramer {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.append(bytes);
        while self.held.waiting().len() >= self.len {
            self.held.emit(self.len, emit);
        }
        self.held.compact();
    }

    fn pending_bytes(&self) -> usize {
        self.held.waiting().len()
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.flush(emit);
    }

    fn take_notices(&mut self) -> Vec<FrameNotice> {
        std::mem::take(&mut self.held.notices)
    }
}

struct LengthFramer {
    prefix: LengthPrefix,
    held: Held,
    /// Bytes still to come of a frame over the limit, which goes up in pieces as they fill.
    over: Option<u64>,
}

impl Framer for LengthFramer {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.append(bytes);
        let max = self.held.max;
        loop {
            let waiting = self.held.waiting().len();
            if let Some(left) = self.over {
                // A piece goes up when it is full or ends the frame.
                let piece = usize::try_from(left).unwrap_or(usize::MAX).min(max);
                if piece == 0 {
                    self.over = None;
                    self.held.frame_done();
                    continue;
                }
                if waiting < piece {
                    break;
                }
                let start = self.held.start;
                emit(self.held.bytes[start..start + piece].to_vec());
                self.held.start += piece;
                self.over = Some(left - piece as u64);
                continue;
            }
            let header = self.prefix.header_len();
            if waiting < header {
                break;
            }
            match self.prefix.frame_len(self.held.waiting()) {
                (value, false) => {
                    self.held
                        .notices
                        .push(FrameNotice::BadLength { value, header });
                    self.held.emit(header, emit);
                }
                (total, true) if total > max as u64 => {
                    self.held.note_over(Some(total));
                    self.over = Some(total);
                }
                (total, true) => {
                    let total = total as usize;
                    if waiting < total {
                        break;
                    }
                    self.held.emit(total, emit);
                }
            }
        }
        self.held.compact();
    }

    fn pending_bytes(&self) -> usize {
        self.held.waiting().len()
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.flush(emit);
        self.over = None;
    }

    fn take_notices(&mut self) -> Vec<FrameNotice> {
        std::mem::take(&mut self.held.notices)
    }
}

struct IdleFramer {
    gap: Duration,
    held: Held,
    /// When the last bytes came, while any are held.
    last: Option<Instant>,
}

impl Framer for IdleFramer {
    fn push(&mut self, bytes: Vec<u8>, emit: &mut dyn FnMut(Vec<u8>)) {
        if bytes.is_empty() {
            return;
        }
        self.held.append(bytes);
        self.last = Some(Instant::now());
        let waiting = self.held.waiting().len();
        if waiting >= self.held.max {
            // Whole pieces now; the rest waits for the gap.
            self.held.emit_pieces(waiting / self.held.max, emit);
        }
        self.held.compact();
        if self.held.waiting().is_empty() {
            self.last = None;
        }
    }

    fn pending_bytes(&self) -> usize {
        self.held.waiting().len()
    }

    fn finish(&mut self, emit: &mut dyn FnMut(Vec<u8>)) {
        self.held.flush(emit);
        self.last = None;
    }

    fn deadline(&self) -> Option<Instant> {
        self.last.map(|last| last + self.gap)
    }

    fn expire(&mut self, now: Instant, emit: &mut dyn FnMut(Vec<u8>)) {
        if self.deadline().is_some_and(|due| due <= now) {
            self.held.flush(emit);
            self.last = None;
        }
    }

    fn take_notices(&mut self) -> Vec<FrameNotice> {
        std::mem::take(&mut self.held.notices)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(text: &str, max: usize) -> Framing {
        Framing::new(text.parse().unwrap(), max).unwrap()
    }

    /// Pushes `input` cut at `cuts`, then finishes; returns the records and notices.
    fn run(framing: &Framing, input: &[u8], cuts: &[usize]) -> (Vec<Vec<u8>>, Vec<FrameNotice>) {
        let mut framer = framing.build();
        let mut records = Vec::new();
        let mut notices = Vec::new();
        let mut at = 0;
        for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
            framer.push(input[at..cut].to_vec(), &mut |r| records.push(r));
            notices.extend(framer.take_notices());
            at = cut;
        }
        framer.finish(&mut |r| records.push(r));
        notices.extend(framer.take_notices());
        (records, notices)
    }

    /// Every way to cut `input` in two and in three gives `expected`.
    fn at_every_split(framing: &Framing, input: &[u8], expected: &[&[u8]]) {
        let expected: Vec<Vec<u8>> = expected.iter().map(|e| e.to_vec()).collect();
        assert_eq!(run(framing, input, &[]).0, expected, "in one read");
        for a in 0..=input.len() {
            assert_eq!(run(framing, input, &[a]).0, expected, "cut at {a}");
            for b in a..=input.len() {
                assert_eq!(run(framing, input, &[a, b]).0, expected, "cut at {a}, {b}");
            }
        }
        let bytes: Vec<usize> = (1..input.len()).collect();
        assert_eq!(run(framing, input, &bytes).0, expected, "a byte per read");
    }

    #[test]
    fn delimiters_cut_at_every_split_position_and_keep_or_drop_the_delimiter() {
        let input = b"one\r\ntwo\r\n\r\nthree";
        at_every_split(
            &framing("crlf", 1024),
            input,
            &[b"one", b"two", b"", b"three"],
        );
        at_every_split(
            &framing("crlf:keep", 1024),
            input,
            &[b"one\r\n", b"two\r\n", b"\r\n", b"three"],
        );
        // A delimiter whose prefix repeats: "AAB" in "AAAB".
        at_every_split(&framing("delim:414142", 1024), b"xAAAByAAB", &[b"xA", b"y"]);
        at_every_split(&framing("lf", 1024), b"a\nb\n", &[b"a", b"b"]);
    }

    #[test]
    fn fixed_and_length_prefix_frames_cut_at_every_split_position() {
        at_every_split(
            &framing("fixed:3", 1024),
            b"abcdefgh",
            &[b"abc", b"def", b"gh"],
        );
        // Two sync bytes, then a big-endian 16-bit length of the payload after it.
        let input = b"\xAA\x55\x00\x02hi\xAA\x55\x00\x00\xAA\x55\x00\x03abc";
        at_every_split(
            &framing("len:2:2:be", 1024),
            input,
            &[
                b"\xAA\x55\x00\x02hi",
                b"\xAA\x55\x00\x00",
                b"\xAA\x55\x00\x03abc",
            ],
        );
        // Little-endian length that counts its header, then a 1-byte one with an adjustment.
        at_every_split(
            &framing("len:0:2:le:incl", 1024),
            b"\x05\x00abc\x02\x00",
            &[b"\x05\x00abc", b"\x02\x00"],
        );
        at_every_split(
            &framing("len:0:1:be:2", 1024),
            b"\x01xCC\x00DD",
            &[b"\x01xCC", b"\x00DD"],
        );
    }

    #[test]
    fn a_frame_over_the_limit_goes_up_in_pieces_and_is_said() {
        let (records, notices) = run(&framing("lf", 4), b"abcdefghij\nk\n", &[3, 7]);
        assert_eq!(
            records,
            vec![
                b"abcd".to_vec(),
                b"efgh".to_vec(),
                b"ij".to_vec(),
                b"k".to_vec()
            ]
        );
        assert!(notices.contains(&FrameNotice::OverLimit {
            limit: 4,
            declared: None
        }));
        // The header says 4,000,000,000 bytes: memory stays at the limit, pieces go up as
        // they fill, and the frame after it is found again.
        let mut input = vec![0xEE, 0x6B, 0x28, 0x00];
        input.extend(b"abcdefgh");
        let huge = Framing::new(
            FrameRule::LengthPrefix(LengthPrefix {
                offset: 0,
                width: 4,
                big_endian: true,
                adjust: 0,
                includes_header: false,
            }),
            4,
        )
        .unwrap();
        let mut framer = huge.build();
        let mut records = Vec::new();
        framer.push(input, &mut |r| records.push(r));
        assert_eq!(records.len(), 3);
        assert!(framer.pending_bytes() < 4);
        assert_eq!(
            framer.take_notices(),
            vec![FrameNotice::OverLimit {
                limit: 4,
                declared: Some(4_000_000_004)
            }]
        );
        // A peer that never sends the delimiter: held bytes never pass the limit.
        let mut framer = framing("lf", 1000).build();
        let mut got = 0;
        for _ in 0..100 {
            framer.push(vec![b'x'; 777], &mut |r| got += r.len());
            assert!(framer.pending_bytes() <= 1000);
        }
        assert_eq!(got + framer.pending_bytes(), 77_700);
    }

    #[test]
    fn a_length_smaller_than_its_header_is_said_and_the_stream_goes_on() {
        let (records, notices) = run(&framing("len:0:1:be:incl", 64), b"\x00\x03ab", &[]);
        assert_eq!(records, vec![b"\x00".to_vec(), b"\x03ab".to_vec()]);
        assert_eq!(
            notices,
            vec![FrameNotice::BadLength {
                value: 0,
                header: 1
            }]
        );
    }

    #[test]
    fn the_idle_gap_ends_a_frame_only_after_the_silence() {
        let framing = framing("idle:50", 1024);
        let mut framer = framing.build();
        let mut records = Vec::new();
        framer.push(b"ab".to_vec(), &mut |r| records.push(r));
        framer.push(b"cd".to_vec(), &mut |r| records.push(r));
        let due = framer.deadline().unwrap();
        framer.expire(
            due.checked_sub(Duration::from_millis(10)).unwrap(),
            &mut |r| records.push(r),
        );
        assert!(records.is_empty(), "not before the gap");
        assert_eq!(framer.pending_bytes(), 4);
        framer.expire(due, &mut |r| records.push(r));
        assert_eq!(records, vec![b"abcd".to_vec()]);
        assert_eq!(framer.deadline(), None);
    }

    #[test]
    fn rules_read_and_print_as_the_cli_writes_them() {
        for text in [
            "lf",
            "crlf:keep",
            "cr",
            "nul",
            "delim:0D0A03",
            "delim:7E:keep",
            "fixed:16",
            "len:0:2:be",
            "len:3:4:le:-2",
            "len:1:1:be:4:incl",
            "len:0:2:le:incl",
            "idle:20",
        ] {
            let rule: FrameRule = text.parse().unwrap();
            assert_eq!(rule.to_string(), text);
        }
        assert_eq!(parse_frame_rule("RAW"), Ok(None));
        for (bad, what) in [
            ("line", "unknown"),
            ("delim:", "empty"),
            ("delim:0G", "not hex"),
            ("fixed:0", "frame length"),
            ("len:0:3:be", "width"),
            ("len:0:2:me", "byte order"),
            ("len:0:2:be:x", "adjustment"),
            ("idle:0", "idle gap"),
            ("idle:99999999", "idle gap"),
            ("raw:keep", "unknown"),
        ] {
            let e = parse_frame_rule(bad).unwrap_err().to_string();
            assert!(e.contains(what), "{bad}: {e}");
        }
        assert!(Framing::new(FrameRule::Fixed { len: 10 }, 5).is_err());
        assert!(Framing::new(FrameRule::Fixed { len: 10 }, 0).is_err());
    }
}
