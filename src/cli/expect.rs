//! `--expect MATCH --within MS` on `tcp-client` and `udp`: a device test from the command
//! line. The received records (after `--frame`, as printed) are checked in order against the
//! expectations; each must be met within its budget, counted from when the one before it was
//! met (the first from when the sends were handed over). What did not match is remembered,
//! so a failure can say what came instead.
//!
//! This lives in the CLI, not as a pipeline stage: a stage sees records on the worker thread
//! and can only answer them, while an expectation decides when the command ends and with
//! which exit code, on the same `Received` events both commands already print. The match
//! itself is the rules' ([`crate::engine::session::rules::Pattern`]), so `--expect` and
//! `--rule` read a MATCH the same way.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use clap::Args;
use rust_i18n::t;
use serde_json::json;

use super::{CliError, MAX_MS, Printer, parse_ms};
use crate::codec::TextEncoding;
use crate::engine::session::rules::{Pattern, RuleError};

/// The budget of an `--expect` given without `--within`.
pub const DEFAULT_WITHIN_MS: u64 = 2000;
/// How many of the records that matched nothing a failure shows (the last ones): enough to
/// see what the device said, short enough to read in one sentence.
const SHOW_ARRIVED: usize = 3;
/// Characters of one record a failure shows; a longer record is cut and its size said.
const SHOW_CHARS: usize = 60;
/// Most expectations on one command line (each a pattern and a line of output).
pub const MAX_EXPECTATIONS: usize = 1000;

/// `--expect MATCH` and `--within MS`, paired in order.
#[derive(Debug, Clone, Default, Args)]
pub struct ExpectArgs {
    /// Expect a received record matching MATCH (repeat for more; met in order): exact:TEXT,
    /// prefix:TEXT, contains:TEXT, regex:RE or hex:HEX (?? = any byte), as in --rule. With
    /// --frame each frame is a record. The command ends when all are met (exit 0) or one is
    /// not met in time or the peer ends the stream first (exit 5); --timeout then only
    /// bounds connecting, and udp's --listen and --count are refused. Not with --stdin,
    /// --repeat, --file or --sequence (a sequence has its own expect step).
    #[arg(long = "expect", value_name = "MATCH")]
    pub expect: Vec<String>,
    /// Milliseconds each --expect may take, counted from when the one before was met (the
    /// first from the send); one per --expect, in order, 1 to 31536000000. Default: 2000 for
    /// each.
    #[arg(long = "within", value_name = "MS", value_parser = parse_ms, requires = "expect")]
    pub within_ms: Vec<u64>,
}

/// One expectation: what the user wrote, its matcher and its budget.
#[derive(Debug)]
struct Expectation {
    text: String,
    pattern: Pattern,
    within: Duration,
}

/// The expectations of one command and how far they are met.
#[derive(Debug)]
pub struct Expectations {
    list: Vec<Expectation>,
    /// The next expectation to meet (`list.len()` when all are met).
    next: usize,
    /// When the budget of `next` started.
    since: Instant,
    /// The last records that met nothing, newest last, at most [`SHOW_ARRIVED`]: each its
    /// full length and the bytes a failure may show.
    arrived: VecDeque<(usize, Vec<u8>)>,
    /// How many records met nothing in all.
    unmatched: u64,
    encoding: TextEncoding,
}

/// A bad MATCH as a sentence naming the expectation.
fn bad_match(number: usize, text: &str, error: &RuleError) -> CliError {
    let why = match error {
        RuleError::Kind { .. } => t!("expect.bad.kind").into_owned(),
        RuleError::EmptyMatch { .. } => t!("expect.bad.empty").into_owned(),
        RuleError::Regex { reason, .. } => t!("expect.bad.regex", reason = reason).into_owned(),
        RuleError::MatchBytes { reason, .. } => {
            t!("expect.bad.bytes", reason = reason).into_owned()
        }
        other => other.to_string(),
    };
    CliError::Usage(t!("expect.bad.sentence", n = number, text = text, why = why).into_owned())
}

impl ExpectArgs {
    /// The checked expectations, or `None` without `--expect`. Everything is checked here,
    /// before any socket is opened: each MATCH, the count of `--within`, each budget, and
    /// that nothing else keeps sending (`sends_more`: a job or `--stdin`).
    pub fn expectations(
        &self,
        encoding: TextEncoding,
        sends_more: bool,
    ) -> Result<Option<Expectations>, CliError> {
        if self.expect.is_empty() {
            return Ok(None);
        }
        let usage = |text: std::borrow::Cow<'_, str>| Err(CliError::Usage(text.into_owned()));
        if sends_more {
            return usage(t!("expect.not_with_more_sends"));
        }
        if self.expect.len() > MAX_EXPECTATIONS {
            return usage(t!(
                "expect.too_many",
                n = self.expect.len(),
                max = MAX_EXPECTATIONS
            ));
        }
        if !self.within_ms.is_empty() && self.within_ms.len() != self.expect.len() {
            return usage(t!(
                "expect.counts",
                expects = self.expect.len(),
                withins = self.within_ms.len()
            ));
        }
        if let Some(i) = self.within_ms.iter().position(|&ms| ms == 0) {
            return usage(t!("expect.zero_within", n = i + 1, max = MAX_MS));
        }
        let mut list = Vec::with_capacity(self.expect.len());
        for (i, text) in self.expect.iter().enumerate() {
            let pattern =
                Pattern::parse(i + 1, text, encoding).map_err(|e| bad_match(i + 1, text, &e))?;
            let ms = self.within_ms.get(i).copied().unwrap_or(DEFAULT_WITHIN_MS);
            list.push(Expectation {
                text: text.clone(),
                pattern,
                within: Duration::from_millis(ms),
            });
        }
        Ok(Some(Expectations {
            list,
            next: 0,
            since: Instant::now(),
            arrived: VecDeque::with_capacity(SHOW_ARRIVED),
            unmatched: 0,
            encoding,
        }))
    }
}

impl Expectations {
    /// Starts the first budget: call once the sends were handed to the worker.
    pub fn start(&mut self, now: Instant) {
        self.since = now;
    }

    /// Every expectation is met.
    pub fn done(&self) -> bool {
        self.next >= self.list.len()
    }

    /// When the budget of the expectation waited for runs out (`None` once all are met).
    pub fn deadline(&self) -> Option<Instant> {
        // Budgets are at most a year (parse_ms), far from where an Instant overflows; checked
        // all the same, so no input can panic here.
        self.list
            .get(self.next)
            .map(|e| self.since.checked_add(e.within).unwrap_or(self.since))
    }

    /// How long to wait for the next event: until the deadline, at most `tick`.
    pub fn wait(&self, now: Instant, tick: Duration) -> Duration {
        self.deadline()
            .map_or(tick, |d| d.saturating_duration_since(now).min(tick))
    }

    /// A received record: meets the expectation waited for, or is remembered as what came
    /// instead. A record after the budget ran out meets nothing (the caller checks
    /// [`Self::check_time`] first, so it is not seen).
    pub fn on_record(&mut self, p: &mut Printer, bytes: &[u8], now: Instant) {
        let Some(e) = self.list.get(self.next) else {
            return;
        };
        if e.pattern.matches(bytes) {
            let elapsed_ms =
                u64::try_from(now.duration_since(self.since).as_millis()).unwrap_or(u64::MAX);
            let number = self.next + 1;
            let of = self.list.len();
            p.status(
                "expect",
                &t!(
                    "expect.met",
                    n = number,
                    of = of,
                    text = e.text,
                    ms = elapsed_ms
                ),
                json!({
                    "index": number,
                    "of": of,
                    "match": e.text,
                    "met": true,
                    "elapsed_ms": elapsed_ms,
                    "within_ms": duration_ms(e.within),
                }),
            );
            self.next += 1;
            self.since = now;
        } else {
            self.unmatched += 1;
            if self.arrived.len() == SHOW_ARRIVED {
                self.arrived.pop_front();
            }
            // Only what a failure may show is kept, so a chatty device costs no memory.
            // Four bytes are the most one character takes in any encoding offered.
            let keep = bytes.len().min(SHOW_CHARS * 4);
            self.arrived
                .push_back((bytes.len(), bytes[..keep].to_vec()));
        }
    }

    /// `Err` (exit 5) once the budget of the expectation waited for ran out.
    pub fn check_time(&self, p: &mut Printer, now: Instant) -> Result<(), CliError> {
        match self.deadline() {
            Some(d) if now >= d => Err(self.failure(p, None)),
            _ => Ok(()),
        }
    }

    /// The stream ended (`why` says how) before every expectation was met: exit 5 now, as no
    /// more records can come.
    pub fn ended(&self, p: &mut Printer, why: &str) -> Result<(), CliError> {
        if self.done() {
            Ok(())
        } else {
            Err(self.failure(p, Some(why)))
        }
    }

    /// The sentence for the expectation waited for, printed as an event in JSON too.
    fn failure(&self, p: &mut Printer, ended: Option<&str>) -> CliError {
        let Some(e) = self.list.get(self.next) else {
            return CliError::Expectation(String::new());
        };
        let number = self.next + 1;
        let arrived: Vec<String> = self
            .arrived
            .iter()
            .map(|(len, bytes)| self.show(*len, bytes))
            .collect();
        let instead = if arrived.is_empty() {
            t!("expect.nothing_arrived").into_owned()
        } else {
            let earlier = self.unmatched.saturating_sub(arrived.len() as u64);
            let more = if earlier > 0 {
                t!("expect.and_earlier", n = earlier).into_owned()
            } else {
                String::new()
            };
            t!(
                "expect.arrived_instead",
                records = arrived.join(", "),
                more = more
            )
            .into_owned()
        };
        let ended_note = ended
            .map(|why| t!("expect.ended", why = why).into_owned())
            .unwrap_or_default();
        let sentence = t!(
            "expect.not_met",
            n = number,
            of = self.list.len(),
            text = e.text,
            ms = duration_ms(e.within),
            ended = ended_note,
            instead = instead
        )
        .into_owned();
        if p.json {
            p.status(
                "expect",
                &sentence,
                json!({
                    "index": number,
                    "of": self.list.len(),
                    "match": e.text,
                    "met": false,
                    "within_ms": duration_ms(e.within),
                    "arrived": arrived,
                    "unmatched": self.unmatched,
                }),
            );
        }
        CliError::Expectation(sentence)
    }

    /// One remembered record as the session's encoding shows it, escaped and quoted, cut at
    /// [`SHOW_CHARS`] characters with its size said.
    fn show(&self, len: usize, bytes: &[u8]) -> String {
        let text = self.encoding.decode_lossy(bytes);
        let mut shown: String = text.chars().take(SHOW_CHARS).collect();
        let cut = shown.len() < text.len() || bytes.len() < len;
        // Debug quotes the text and escapes control characters (\r, \n, \u{1b}), keeping
        // printable text in any script as it is.
        shown = format!("{shown:?}");
        if cut {
            format!("{shown}… ({})", t!("expect.bytes", n = len))
        } else {
            shown
        }
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(expect: &[&str], within: &[u64]) -> ExpectArgs {
        ExpectArgs {
            expect: expect.iter().map(|s| (*s).to_owned()).collect(),
            within_ms: within.to_vec(),
        }
    }

    #[test]
    fn counts_budgets_and_matches_are_checked() {
        let e = |a: ExpectArgs| a.expectations(TextEncoding::Utf8, false);
        assert!(e(args(&[], &[])).unwrap().is_none());
        assert!(e(args(&["exact:A", "exact:B"], &[])).unwrap().is_some());
        assert!(e(args(&["exact:A", "exact:B"], &[5, 6])).unwrap().is_some());
        for (bad, says) in [
            (args(&["exact:A", "exact:B"], &[5]), "--within"),
            (args(&["exact:A"], &[0]), "--within"),
            (args(&["regex:("], &[]), "--expect 1"),
            (args(&["exact:A", "nokind"], &[]), "--expect 2"),
            (args(&["hex:4G"], &[]), "--expect 1"),
            (args(&["prefix:"], &[]), "--expect 1"),
        ] {
            let Err(CliError::Usage(m)) = e(bad.clone()) else {
                panic!("{bad:?} accepted");
            };
            assert!(m.contains(says), "{bad:?}: {m}");
        }
        assert!(matches!(
            args(&["exact:A"], &[]).expectations(TextEncoding::Utf8, true),
            Err(CliError::Usage(_))
        ));
    }

    #[test]
    fn met_in_order_and_says_what_came_instead() {
        let mut p = Printer::stdout(true, false, TextEncoding::Utf8);
        let mut x = args(&["exact:A", "prefix:B"], &[1000, 1000])
            .expectations(TextEncoding::Utf8, false)
            .unwrap()
            .unwrap();
        let t0 = Instant::now();
        x.start(t0);
        x.on_record(&mut p, b"B first\r\n", t0);
        x.on_record(&mut p, b"A", t0);
        assert!(!x.done());
        assert!(x.check_time(&mut p, t0).is_ok());
        let Err(CliError::Expectation(m)) = x.check_time(&mut p, t0 + Duration::from_secs(2))
        else {
            panic!("not failed");
        };
        assert!(m.contains("2/2") && m.contains("prefix:B"), "{m}");
        assert!(m.contains(r#""B first\r\n""#), "{m}");
        x.on_record(&mut p, b"Bingo", t0);
        assert!(x.done());
    }

    #[test]
    fn long_records_are_cut_and_nothing_is_said() {
        let mut p = Printer::stdout(true, false, TextEncoding::Utf8);
        let mut x = args(&["exact:A"], &[10])
            .expectations(TextEncoding::Utf8, false)
            .unwrap()
            .unwrap();
        let t0 = Instant::now();
        x.start(t0);
        let Err(CliError::Expectation(m)) = x.check_time(&mut p, t0 + Duration::from_secs(1))
        else {
            panic!("not failed");
        };
        assert!(m.contains("nothing arrived"), "{m}");
        x.on_record(&mut p, &[b'x'; 5000], t0);
        let Err(CliError::Expectation(m)) = x.check_time(&mut p, t0 + Duration::from_secs(1))
        else {
            panic!("not failed");
        };
        assert!(m.contains("5000 B") && m.len() < 400, "{m}");
    }
}
