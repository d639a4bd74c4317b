//! Log search: text in the session's encoding, a hex sequence or a regex, over the records of
//! a traffic log. The list of matching records is kept incrementally and filled within a byte
//! budget per call, so a 64 MiB ring (or ten million records) is searched over a few frames,
//! never rescanned from the start while the log grows.

use std::borrow::Cow;
use std::ops::Range;

use regex::bytes::Regex;
use rust_i18n::t;

use crate::codec::TextEncoding;
use crate::codec::hex::parse_hex;
use crate::traffic::TrafficLog;

/// How the search text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum SearchMode {
    /// The text, encoded in the session's encoding (so `温度` finds GBK bytes in a GBK session).
    #[default]
    Text,
    /// Bytes written as hex (`0D 0A`, `0x01,0x03`).
    Hex,
    /// A regular expression over the record's bytes (UTF-8 text; `(?-u)\xFF` for raw bytes).
    Regex,
}

impl SearchMode {
    pub const ALL: [Self; 3] = [Self::Text, Self::Hex, Self::Regex];

    pub fn name(self) -> Cow<'static, str> {
        match self {
            Self::Text => t!("traffic.search.mode.text"),
            Self::Hex => t!("traffic.search.mode.hex"),
            Self::Regex => t!("traffic.search.mode.regex"),
        }
    }
}

/// What the records are searched for.
#[derive(Debug, Clone)]
enum Needle {
    Bytes(Vec<u8>),
    Regex(Regex),
}

impl Needle {
    fn build(text: &str, mode: SearchMode, encoding: TextEncoding) -> Result<Self, String> {
        let bytes = match mode {
            SearchMode::Text => encoding.encode(text).map_err(|e| e.to_string())?,
            SearchMode::Hex => parse_hex(text).map_err(|e| e.to_string())?,
            SearchMode::Regex => {
                return Regex::new(text)
                    .map(Self::Regex)
                    .map_err(|e| t!("traffic.search.bad_regex", error = e).into_owned());
            }
        };
        if bytes.is_empty() {
            return Err(t!("traffic.search.empty").into_owned());
        }
        Ok(Self::Bytes(bytes))
    }

    fn is_match(&self, haystack: &[u8]) -> bool {
        match self {
            Self::Bytes(b) => memchr::memmem::find(haystack, b).is_some(),
            Self::Regex(re) => re.is_match(haystack),
        }
    }

    fn ranges(&self, haystack: &[u8], max: usize) -> Vec<Range<usize>> {
        match self {
            Self::Bytes(b) => memchr::memmem::find_iter(haystack, b)
                .take(max)
                .map(|at| at..at + b.len())
                .collect(),
            Self::Regex(re) => re
                .find_iter(haystack)
                .filter(|m| !m.is_empty())
                .take(max)
                .map(|m| m.range())
                .collect(),
        }
    }
}

/// The query a [`Search`] runs, to tell when it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Query {
    text: String,
    mode: SearchMode,
    encoding: TextEncoding,
}

/// An incremental search over one log.
#[derive(Debug, Default)]
pub struct Search {
    query: Option<Query>,
    needle: Option<Needle>,
    ids: Vec<u64>,
    /// Records before this id were searched.
    scanned_to: u64,
}

impl Search {
    /// Sets what to search for; a changed query starts over. An empty text clears the search.
    pub fn set(
        &mut self,
        text: &str,
        mode: SearchMode,
        encoding: TextEncoding,
    ) -> Result<(), String> {
        let query = Query {
            text: text.to_owned(),
            mode,
            encoding,
        };
        if self.query.as_ref() == Some(&query) {
            return Ok(());
        }
        self.ids.clear();
        self.scanned_to = 0;
        self.needle = None;
        self.query = Some(query);
        if text.is_empty() {
            return Ok(());
        }
        self.needle = Some(Needle::build(text, mode, encoding)?);
        Ok(())
    }

    /// Whether a query is set (and valid).
    pub fn is_active(&self) -> bool {
        self.needle.is_some()
    }

    /// Searches records not yet searched, about `budget_bytes` of payload at most; true when
    /// some remain for the next call.
    pub fn advance(&mut self, log: &TrafficLog, budget_bytes: usize) -> bool {
        let Some(needle) = &self.needle else {
            return false;
        };
        let first = log.first_id();
        if self.scanned_to > log.end_id() {
            // The log was cleared.
            self.ids.clear();
            self.scanned_to = first;
        }
        let gone = self.ids.partition_point(|id| *id < first);
        self.ids.drain(..gone);
        let mut spent = 0;
        let mut id = self.scanned_to.max(first);
        while id < log.end_id() && spent < budget_bytes {
            if let Some(r) = log.get_by_id(id) {
                spent += r.bytes.len() + 64;
                if needle.is_match(r.bytes) {
                    self.ids.push(id);
                }
            }
            id += 1;
        }
        self.scanned_to = id;
        id < log.end_id()
    }

    /// Ids of the matching records found so far, oldest first.
    pub fn ids(&self) -> &[u64] {
        &self.ids
    }

    /// Lends the list out (for a frame's table) without a copy; [`Search::put_ids`] gives it
    /// back.
    pub fn take_ids(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.ids)
    }

    pub fn put_ids(&mut self, ids: Vec<u64>) {
        self.ids = ids;
    }

    /// How much of the log has been searched, 0.0 to 1.0.
    pub fn progress(&self, log: &TrafficLog) -> f32 {
        let total = log.end_id() - log.first_id();
        if total == 0 {
            return 1.0;
        }
        let done = self.scanned_to.saturating_sub(log.first_id()).min(total);
        done as f32 / total as f32
    }

    /// The first match after `id` (or the first of all), wrapping around.
    pub fn next_after(&self, id: Option<u64>) -> Option<u64> {
        let at = id.map_or(0, |id| self.ids.partition_point(|m| *m <= id));
        self.ids.get(at).or_else(|| self.ids.first()).copied()
    }

    /// The last match before `id` (or the last of all), wrapping around.
    pub fn previous_before(&self, id: Option<u64>) -> Option<u64> {
        let at = id.map_or(self.ids.len(), |id| self.ids.partition_point(|m| *m < id));
        at.checked_sub(1)
            .and_then(|i| self.ids.get(i))
            .or_else(|| self.ids.last())
            .copied()
    }

    /// Where the query matches in `bytes` (at most `max` ranges), for highlighting.
    pub fn ranges(&self, bytes: &[u8], max: usize) -> Vec<Range<usize>> {
        self.needle
            .as_ref()
            .map_or_else(Vec::new, |n| n.ranges(bytes, max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traffic::{Direction, Record};

    fn log_of(records: &[&[u8]]) -> TrafficLog {
        let mut log = TrafficLog::default();
        for r in records {
            log.push(Record::new(Direction::Received, None, r.to_vec()));
        }
        log
    }

    #[test]
    fn text_hex_and_regex_find_their_records_and_next_wraps() {
        let mut log = log_of(&[b"temp=21", b"\x01\x03\x00\x0A", b"hum=40", b"temp=22"]);
        let mut s = Search::default();
        s.set("temp", SearchMode::Text, TextEncoding::Utf8).unwrap();
        assert!(!s.advance(&log, usize::MAX));
        assert_eq!(s.ids(), [0, 3]);
        assert_eq!(s.next_after(Some(0)), Some(3));
        assert_eq!(s.next_after(Some(3)), Some(0), "wraps");
        assert_eq!(s.previous_before(Some(0)), Some(3), "wraps back");
        let ranges = s.ranges(b"xtempx", 8);
        assert_eq!((ranges.len(), ranges[0].clone()), (1, 1..5));
        s.set("03 00", SearchMode::Hex, TextEncoding::Utf8).unwrap();
        s.advance(&log, usize::MAX);
        assert_eq!(s.ids(), [1]);
        s.set("(", SearchMode::Regex, TextEncoding::Utf8)
            .unwrap_err();
        s.set(r"=2\d$", SearchMode::Regex, TextEncoding::Utf8)
            .unwrap();
        s.advance(&log, usize::MAX);
        assert_eq!(s.ids(), [0, 3]);
        // New records are searched on the next call, without starting over.
        log.push(Record::new(Direction::Sent, None, b"set=25".to_vec()));
        s.advance(&log, usize::MAX);
        assert_eq!(s.ids(), [0, 3, 4]);
    }

    #[test]
    fn text_is_searched_in_the_session_encoding() {
        let (gbk, _, _) = encoding_rs::GBK.encode("温度=21");
        let log = log_of(&[&gbk, "温度=21".as_bytes()]);
        let mut s = Search::default();
        s.set("温度", SearchMode::Text, TextEncoding::Gbk).unwrap();
        s.advance(&log, usize::MAX);
        assert_eq!(s.ids(), [0], "the GBK record, not the UTF-8 one");
    }

    #[test]
    fn a_budget_spreads_the_search_over_calls_and_eviction_drops_old_matches() {
        let records: Vec<Vec<u8>> = (0..1000).map(|i| format!("r{i:04}").into_bytes()).collect();
        let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let log = log_of(&refs);
        let mut s = Search::default();
        s.set("r0", SearchMode::Text, TextEncoding::Utf8).unwrap();
        let mut calls = 1;
        while s.advance(&log, 10 * 70) {
            calls += 1;
        }
        assert!(
            (80..=110).contains(&calls),
            "about ten records per call: {calls}"
        );
        assert_eq!(s.ids().len(), 1000);
        assert!((s.progress(&log) - 1.0).abs() < f32::EPSILON);
        let mut small = TrafficLog::with_cap(log_of(&[b"r0000"]).stored_bytes() * 2);
        let mut s = Search::default();
        s.set("r", SearchMode::Text, TextEncoding::Utf8).unwrap();
        for r in &refs[..5] {
            small.push(Record::new(Direction::Received, None, r.to_vec()));
        }
        s.advance(&small, usize::MAX);
        assert_eq!(s.ids(), [3, 4], "only what the ring still holds");
        assert!(s.set("", SearchMode::Text, TextEncoding::Utf8).is_ok());
        assert!(!s.is_active());
        assert!(s.set("zz", SearchMode::Hex, TextEncoding::Utf8).is_err());
    }
}
