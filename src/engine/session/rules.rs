//! Auto-reply rules: any number per session, each a match on a received record (exact, prefix,
//! contains or a regex on the text in the session's encoding, or a hex pattern with `??`
//! wildcards) and a reply (text with escapes and `$1`…`$9` captures, or hex with captures as
//! bytes), with an optional delay and a scope (every peer, or one). They run as a stage in the
//! worker, so a reply leaves as the request is read, headless too.
//!
//! Rules are written as text (`prefix:PING` ⇒ `PONG $0\r\n`), which is what the window saves,
//! what `--rule`/`--rules` read and what Import/Export writes ([`RulesFile`], JSON).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use regex::Regex;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::stage::{Record, Replies, Stage};
use super::{Factory, PipelineSpec};
use crate::codec::TextEncoding;
use crate::codec::hex::parse_hex;
use crate::codec::payload::{LineEnding, PayloadSpec, SendMode, encode_payload};

/// The longest delay a rule may wait before it answers.
pub const MAX_DELAY_MS: u64 = 60_000;

/// Most rules in one set (a list a person can read; the matcher is a loop over them).
pub const MAX_RULES: usize = 1000;

/// One rule as text: what the window saves and the rules file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleText {
    pub enabled: bool,
    /// `exact:TEXT`, `prefix:TEXT`, `contains:TEXT`, `regex:RE` or `hex:HEX` (`??` any byte).
    #[serde(rename = "match")]
    pub pattern: String,
    /// Text with escapes and `$0`…`$9`, or `hex:HEX` with `$0`…`$9` between the bytes.
    pub reply: String,
    pub delay_ms: u64,
    /// Empty for every peer; else `IP` (any port) or `IP:PORT`.
    pub peer: String,
}

impl Default for RuleText {
    fn default() -> Self {
        Self {
            enabled: true,
            pattern: String::new(),
            reply: String::new(),
            delay_ms: 0,
            peer: String::new(),
        }
    }
}

/// A set of rules as text: the JSON file the CLI's `--rules` reads and the window exports.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RulesFile {
    /// Every rule that matches answers (else only the first).
    pub every_match: bool,
    pub rules: Vec<RuleText>,
}

/// Why a rule cannot be used, naming the rule (1-based) and the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleError {
    Kind {
        rule: usize,
        text: String,
    },
    EmptyMatch {
        rule: usize,
    },
    Regex {
        rule: usize,
        reason: String,
    },
    MatchBytes {
        rule: usize,
        reason: String,
    },
    Reply {
        rule: usize,
        reason: String,
    },
    Capture {
        rule: usize,
        index: usize,
        captures: usize,
    },
    Delay {
        rule: usize,
        delay_ms: u64,
    },
    Peer {
        rule: usize,
        text: String,
    },
    TooMany(usize),
    NoArrow(String),
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::Kind { rule, text } => t!("engine.rule.kind", rule = rule, text = text),
            Self::EmptyMatch { rule } => t!("engine.rule.empty_match", rule = rule),
            Self::Regex { rule, reason } => t!("engine.rule.regex", rule = rule, reason = reason),
            Self::MatchBytes { rule, reason } => {
                t!("engine.rule.match_bytes", rule = rule, reason = reason)
            }
            Self::Reply { rule, reason } => t!("engine.rule.reply", rule = rule, reason = reason),
            Self::Capture {
                rule,
                index,
                captures,
            } => t!(
                "engine.rule.capture",
                rule = rule,
                index = index,
                captures = captures
            ),
            Self::Delay { rule, delay_ms } => t!(
                "engine.rule.delay",
                rule = rule,
                delay_ms = delay_ms,
                max = MAX_DELAY_MS
            ),
            Self::Peer { rule, text } => t!("engine.rule.peer", rule = rule, text = text),
            Self::TooMany(count) => t!("engine.rule.too_many", count = count, max = MAX_RULES),
            Self::NoArrow(text) => t!("engine.rule.no_arrow", text = text),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for RuleError {}

impl RuleText {
    /// Reads the CLI's `MATCH=>REPLY` (the first `=>` splits).
    pub fn from_arrow(text: &str) -> Result<Self, RuleError> {
        let (pattern, reply) = text
            .split_once("=>")
            .ok_or_else(|| RuleError::NoArrow(text.to_owned()))?;
        Ok(Self {
            pattern: pattern.to_owned(),
            reply: reply.to_owned(),
            ..Self::default()
        })
    }
}

#[derive(Debug)]
enum Matcher {
    Exact(Vec<u8>),
    Prefix(Vec<u8>),
    Contains(Vec<u8>),
    /// On the record decoded in the session's encoding.
    Regex(Regex),
    /// The whole record, byte by byte; `None` is `??`, and each is a capture.
    Hex(Vec<Option<u8>>),
}

impl Matcher {
    /// How many `$1`… captures a match has.
    fn captures(&self) -> usize {
        match self {
            Self::Exact(_) | Self::Prefix(_) | Self::Contains(_) => 0,
            Self::Regex(re) => re.captures_len() - 1,
            Self::Hex(pattern) => pattern.iter().filter(|b| b.is_none()).count(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Bytes(Vec<u8>),
    /// `$0` is the whole record, `$1`… the match's captures.
    Capture(usize),
}

#[derive(Debug)]
struct Rule {
    enabled: bool,
    matcher: Matcher,
    reply: Vec<Piece>,
    delay: Duration,
    peer: Option<Scope>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Ip(IpAddr),
    Addr(SocketAddr),
}

impl Scope {
    fn admits(self, peer: SocketAddr) -> bool {
        match self {
            Self::Ip(ip) => peer.ip() == ip,
            Self::Addr(addr) => peer == addr,
        }
    }
}

/// A checked set of rules, ready to run, with a hit counter per rule that the owner reads.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    every_match: bool,
    encoding: TextEncoding,
    hits: Arc<[AtomicU64]>,
}

/// The hit counters of a running set, one per rule in its order.
pub type RuleHits = Arc<[AtomicU64]>;

impl RuleSet {
    /// Checks every rule of `file`; texts are encoded (and regex captures re-encoded) in
    /// `encoding`.
    pub fn build(file: &RulesFile, encoding: TextEncoding) -> Result<Self, RuleError> {
        if file.rules.len() > MAX_RULES {
            return Err(RuleError::TooMany(file.rules.len()));
        }
        let rules = file
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| build_rule(i + 1, r, encoding))
            .collect::<Result<Vec<_>, _>>()?;
        let hits: Vec<AtomicU64> = rules.iter().map(|_| AtomicU64::new(0)).collect();
        Ok(Self {
            rules,
            every_match: file.every_match,
            encoding,
            hits: hits.into(),
        })
    }

    /// The counters the running stage adds to.
    pub fn hits(&self) -> RuleHits {
        Arc::clone(&self.hits)
    }

    /// The replies to a record from `peer`, each with its delay, in rule order.
    pub fn answer(&self, peer: SocketAddr, record: &[u8]) -> Vec<(Duration, Vec<u8>)> {
        let mut out = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.enabled || rule.peer.is_some_and(|s| !s.admits(peer)) {
                continue;
            }
            let Some(captures) = self.matches(&rule.matcher, record) else {
                continue;
            };
            self.hits[i].fetch_add(1, Ordering::Relaxed);
            let mut reply = Vec::new();
            for piece in &rule.reply {
                match piece {
                    Piece::Bytes(b) => reply.extend_from_slice(b),
                    Piece::Capture(0) => reply.extend_from_slice(record),
                    Piece::Capture(n) => {
                        if let Some(c) = captures.get(n - 1) {
                            reply.extend_from_slice(c);
                        }
                    }
                }
            }
            out.push((rule.delay, reply));
            if !self.every_match {
                break;
            }
        }
        out
    }

    /// The captures (`$1`…) when `matcher` matches `record`.
    fn matches(&self, matcher: &Matcher, record: &[u8]) -> Option<Vec<Vec<u8>>> {
        match_record(matcher, self.encoding, record)
    }

    /// A pipeline stage running this set (one per session; the counters are shared).
    pub fn stage(self: &Arc<Self>) -> Factory<dyn Stage> {
        let set = Arc::clone(self);
        let name = "auto-reply rules"; // i18n-exempt: the factory's identity, for Debug
        Factory::new(name, move || {
            Box::new(RuleStage(Arc::clone(&set))) as Box<dyn Stage>
        })
    }

    /// Adds this set's stage to `pipeline`.
    pub fn install(self: &Arc<Self>, pipeline: &mut PipelineSpec) {
        pipeline.stages.push(self.stage());
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// The stage that answers records with a rule set.
struct RuleStage(Arc<RuleSet>);

impl Stage for RuleStage {
    fn on_received(&mut self, record: &Record<'_>, replies: &mut Replies) {
        for (delay, bytes) in self.0.answer(record.peer, record.bytes) {
            replies.push_after(bytes, delay);
        }
    }
}

/// The captures (`$1`…) when `matcher` matches `record`; a regex sees the record decoded in
/// `encoding`.
fn match_record(matcher: &Matcher, encoding: TextEncoding, record: &[u8]) -> Option<Vec<Vec<u8>>> {
    match matcher {
        Matcher::Exact(needle) => (record == needle.as_slice()).then(Vec::new),
        Matcher::Prefix(needle) => record.starts_with(needle).then(Vec::new),
        Matcher::Contains(needle) => memchr::memmem::find(record, needle).map(|_| Vec::new()),
        Matcher::Regex(re) => {
            let text = encoding.decode_lossy(record);
            let caps = re.captures(&text)?;
            Some(
                caps.iter()
                    .skip(1)
                    .map(|m| m.map_or_else(Vec::new, |m| encoding.encode_text(m.as_str())))
                    .collect(),
            )
        }
        Matcher::Hex(pattern) => {
            if record.len() != pattern.len() {
                return None;
            }
            let mut captures = Vec::new();
            for (want, &got) in pattern.iter().zip(record) {
                match want {
                    Some(b) if *b != got => return None,
                    Some(_) => {}
                    None => captures.push(vec![got]),
                }
            }
            Some(captures)
        }
    }
}

/// One match written as a rule's match side (`exact:TEXT`, `prefix:TEXT`, `contains:TEXT`,
/// `regex:RE`, `hex:HEX` with `??`), checked, for owners that only ask "does this record
/// match" (the CLI's `--expect`): the same parser and matcher the rules use, not a second one.
#[derive(Debug)]
pub struct Pattern {
    matcher: Matcher,
    encoding: TextEncoding,
}

impl Pattern {
    /// Reads `text`; an error names `number` as its rule (the caller's 1-based position).
    pub fn parse(number: usize, text: &str, encoding: TextEncoding) -> Result<Self, RuleError> {
        Ok(Self {
            matcher: build_matcher(number, text, encoding)?,
            encoding,
        })
    }

    /// Whether `record` matches.
    pub fn matches(&self, record: &[u8]) -> bool {
        match_record(&self.matcher, self.encoding, record).is_some()
    }
}

fn build_rule(rule: usize, text: &RuleText, encoding: TextEncoding) -> Result<Rule, RuleError> {
    let matcher = build_matcher(rule, &text.pattern, encoding)?;
    let reply = build_reply(rule, &text.reply, encoding)?;
    let captures = matcher.captures();
    for piece in &reply {
        if let Piece::Capture(index) = *piece
            && index > captures
        {
            return Err(RuleError::Capture {
                rule,
                index,
                captures,
            });
        }
    }
    if text.delay_ms > MAX_DELAY_MS {
        return Err(RuleError::Delay {
            rule,
            delay_ms: text.delay_ms,
        });
    }
    let peer = text.peer.trim();
    let peer = if peer.is_empty() {
        None
    } else if let Ok(addr) = peer.parse::<SocketAddr>() {
        Some(Scope::Addr(addr))
    } else if let Ok(ip) = peer.trim_matches(['[', ']']).parse::<IpAddr>() {
        Some(Scope::Ip(ip))
    } else {
        return Err(RuleError::Peer {
            rule,
            text: peer.to_owned(),
        });
    };
    Ok(Rule {
        enabled: text.enabled,
        matcher,
        reply,
        delay: Duration::from_millis(text.delay_ms),
        peer,
    })
}

/// Text as the send box reads it: escapes, in the session's encoding.
fn encode(text: &str, encoding: TextEncoding) -> Result<Vec<u8>, String> {
    encode_payload(&PayloadSpec {
        text,
        mode: SendMode::Text,
        escapes: true,
        line_ending: LineEnding::None,
        encoding,
    })
}

fn build_matcher(rule: usize, text: &str, encoding: TextEncoding) -> Result<Matcher, RuleError> {
    let Some((kind, rest)) = text.split_once(':') else {
        return Err(RuleError::Kind {
            rule,
            text: text.to_owned(),
        });
    };
    if rest.is_empty() {
        return Err(RuleError::EmptyMatch { rule });
    }
    let bytes = |rest: &str| {
        encode(rest, encoding).map_err(|reason| RuleError::MatchBytes { rule, reason })
    };
    Ok(match kind.trim().to_ascii_lowercase().as_str() {
        "exact" => Matcher::Exact(bytes(rest)?),
        "prefix" => Matcher::Prefix(bytes(rest)?),
        "contains" => Matcher::Contains(bytes(rest)?),
        "regex" => Matcher::Regex(Regex::new(rest).map_err(|e| RuleError::Regex {
            rule,
            reason: e.to_string(),
        })?),
        "hex" => {
            let mut pattern = Vec::new();
            for token in rest.split(|c: char| c.is_whitespace() || c == ',') {
                if token.is_empty() {
                    continue;
                }
                if token == "??" {
                    pattern.push(None);
                } else {
                    let b = parse_hex(token).map_err(|e| RuleError::MatchBytes {
                        rule,
                        reason: e.to_string(),
                    })?;
                    pattern.extend(b.into_iter().map(Some));
                }
            }
            if pattern.is_empty() {
                return Err(RuleError::EmptyMatch { rule });
            }
            Matcher::Hex(pattern)
        }
        _ => {
            return Err(RuleError::Kind {
                rule,
                text: text.to_owned(),
            });
        }
    })
}

/// Splits a reply at `$0`…`$9` (`$$` is a `$`); the literal parts become bytes.
fn build_reply(rule: usize, text: &str, encoding: TextEncoding) -> Result<Vec<Piece>, RuleError> {
    let (hex, body) = match text.strip_prefix("hex:") {
        Some(body) => (true, body),
        None => (false, text),
    };
    let literal = |s: &str| -> Result<Vec<u8>, RuleError> {
        if hex {
            parse_hex(s).map_err(|e| RuleError::Reply {
                rule,
                reason: e.to_string(),
            })
        } else {
            encode(s, encoding).map_err(|reason| RuleError::Reply { rule, reason })
        }
    };
    let mut pieces = Vec::new();
    let mut pending = String::new();
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            pending.push(c);
            continue;
        }
        match chars.peek().copied() {
            Some('$') => {
                chars.next();
                pending.push('$');
            }
            Some(d @ '0'..='9') => {
                chars.next();
                if !pending.trim().is_empty() || (!hex && !pending.is_empty()) {
                    pieces.push(Piece::Bytes(literal(&pending)?));
                }
                pending.clear();
                pieces.push(Piece::Capture(d as usize - '0' as usize));
            }
            _ => pending.push('$'),
        }
    }
    if !pending.trim().is_empty() || (!hex && !pending.is_empty()) {
        pieces.push(Piece::Bytes(literal(&pending)?));
    }
    Ok(pieces)
}

impl fmt::Display for RuleText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=>{}", self.pattern, self.reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(rules: &[&str], every: bool) -> RuleSet {
        let file = RulesFile {
            every_match: every,
            rules: rules
                .iter()
                .map(|r| RuleText::from_arrow(r).unwrap())
                .collect(),
        };
        RuleSet::build(&file, TextEncoding::Utf8).unwrap()
    }

    fn peer() -> SocketAddr {
        "127.0.0.1:5000".parse().unwrap()
    }

    fn replies(set: &RuleSet, record: &[u8]) -> Vec<Vec<u8>> {
        set.answer(peer(), record)
            .into_iter()
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn each_kind_of_match_with_its_captures() {
        let s = set(
            &[
                "exact:PING=>PONG\\r\\n",
                "prefix:GET =>OK $0",
                r"regex:^T=(\d+),H=(\d+)$=>temp $1 hum $2",
                "hex:01 03 ?? ?? 00 0A=>hex:01 03 $1 $2",
                "contains:help=>try PING",
            ],
            false,
        );
        assert_eq!(replies(&s, b"PING"), [b"PONG\r\n".to_vec()]);
        assert_eq!(replies(&s, b"GET /x"), [b"OK GET /x".to_vec()]);
        assert_eq!(replies(&s, b"T=21,H=40"), [b"temp 21 hum 40".to_vec()]);
        assert_eq!(
            replies(&s, &[0x01, 0x03, 0x12, 0x34, 0x00, 0x0A]),
            [vec![0x01, 0x03, 0x12, 0x34]]
        );
        assert_eq!(replies(&s, b"please help"), [b"try PING".to_vec()]);
        assert!(
            replies(&s, b"PINGX").is_empty(),
            "exact is the whole record"
        );
        assert!(replies(&s, &[0x01, 0x03, 0x12, 0x34, 0x00]).is_empty());
        let hits = s.hits();
        let counted: Vec<u64> = hits.iter().map(|h| h.load(Ordering::Relaxed)).collect();
        assert_eq!(counted, [1, 1, 1, 1, 1]);
    }

    #[test]
    fn first_match_or_every_match() {
        let rules = ["prefix:A=>one", "contains:A=>two"];
        assert_eq!(replies(&set(&rules, false), b"AB"), [b"one".to_vec()]);
        assert_eq!(
            replies(&set(&rules, true), b"AB"),
            [b"one".to_vec(), b"two".to_vec()]
        );
    }

    #[test]
    fn scope_delay_and_disabled_rules() {
        let file = RulesFile {
            every_match: true,
            rules: vec![
                RuleText {
                    pattern: "prefix:X".into(),
                    reply: "for 5000".into(),
                    peer: "127.0.0.1:5000".into(),
                    delay_ms: 250,
                    ..RuleText::default()
                },
                RuleText {
                    pattern: "prefix:X".into(),
                    reply: "for 6000".into(),
                    peer: "127.0.0.1:6000".into(),
                    ..RuleText::default()
                },
                RuleText {
                    pattern: "prefix:X".into(),
                    reply: "off".into(),
                    enabled: false,
                    ..RuleText::default()
                },
            ],
        };
        let s = RuleSet::build(&file, TextEncoding::Utf8).unwrap();
        assert_eq!(
            s.answer(peer(), b"X"),
            [(Duration::from_millis(250), b"for 5000".to_vec())]
        );
    }

    #[test]
    fn gbk_text_matches_and_captures_in_the_session_encoding() {
        let file = RulesFile {
            rules: vec![RuleText::from_arrow("regex:^温度=(.+)$=>收到 $1").unwrap()],
            ..RulesFile::default()
        };
        let s = RuleSet::build(&file, TextEncoding::Gbk).unwrap();
        let (record, _, _) = encoding_rs::GBK.encode("温度=高");
        let (expected, _, _) = encoding_rs::GBK.encode("收到 高");
        assert_eq!(replies(&s, &record), [expected.to_vec()]);
    }

    #[test]
    fn bad_rules_name_the_rule_and_the_part() {
        for (rule, says) in [
            ("PING=>x", "needs a kind"),
            ("prefix:=>x", "empty"),
            ("regex:(=>x", "regex is not valid"),
            ("hex:0G=>x", "not a hex digit"),
            ("prefix:A=>$1", "$1 is not captured"),
            ("hex:01 ??=>hex:$2", "$2 is not captured"),
            ("prefix:A=>\\q", "reply"),
        ] {
            let file = RulesFile {
                rules: vec![RuleText::from_arrow(rule).unwrap()],
                ..RulesFile::default()
            };
            let e = RuleSet::build(&file, TextEncoding::Utf8)
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("rule 1:") && e.contains(says), "{rule}: {e}");
        }
        assert!(RuleText::from_arrow("no arrow").is_err());
        let file = RulesFile {
            rules: vec![RuleText {
                pattern: "prefix:A".into(),
                peer: "nobody".into(),
                ..RuleText::default()
            }],
            ..RulesFile::default()
        };
        assert!(RuleSet::build(&file, TextEncoding::Utf8).is_err());
    }

    #[test]
    fn a_rules_file_round_trips_through_json() {
        let file = RulesFile {
            every_match: true,
            rules: vec![
                RuleText::from_arrow("prefix:PING=>PONG").unwrap(),
                RuleText {
                    delay_ms: 20,
                    peer: "127.0.0.2".into(),
                    enabled: false,
                    ..RuleText::from_arrow("hex:01 ??=>hex:02 $1").unwrap()
                },
            ],
        };
        let json = serde_json::to_string_pretty(&file).unwrap();
        assert!(json.contains("\"match\": \"prefix:PING\""), "{json}");
        assert_eq!(serde_json::from_str::<RulesFile>(&json).unwrap(), file);
    }
}
