//! "Mock this device": a recording of a conversation with a device becomes auto-reply rules,
//! so someone without the device can keep developing against its answers.
//!
//! The recording is read as request → answer pairs: each record this side sent is a request,
//! the records the device sent after it (until the next request) are its answer. Each
//! request becomes one rule that matches it byte for byte (`hex:`, exact in any encoding)
//! and replies with the answer. What the device said before the first request is its
//! greeting (a TCP Server sends it to every client as it connects).
//!
//! A recording is rarely tidy, and the plan says what it made of it ([`MockPlan::note`]): a
//! request seen again with the same answer is one rule; seen again with another answer, the
//! first answer is kept (rules are stateless); a request the device never answered gets no
//! rule (the mock stays silent too); over UDP an answer of several datagrams is replied as
//! its first (a rule sends one datagram).

use std::collections::HashMap;

use rust_i18n::t;

use super::rules::{MAX_RULES, RuleText, RulesFile};
use crate::capture::{CaptureRecord, Direction, RecordKind, Transport};
use crate::codec::hex::format_hex;

/// Builds a [`MockPlan`] from records fed in order.
#[derive(Debug, Default)]
pub struct MockBuilder {
    greeting: Vec<u8>,
    exchanges: Vec<(Vec<u8>, Vec<Vec<u8>>)>,
}

impl MockBuilder {
    /// Bytes this side sent: a new request.
    pub fn request(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.exchanges.push((bytes.to_vec(), Vec::new()));
        }
    }

    /// Bytes the device sent: part of the answer to the last request (its greeting before
    /// the first).
    pub fn answer(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        match self.exchanges.last_mut() {
            Some((_, answers)) => answers.push(bytes.to_vec()),
            None => self.greeting.extend_from_slice(bytes),
        }
    }

    /// The rules. `datagrams`: answers are separate datagrams (UDP), else one byte stream.
    pub fn finish(self, datagrams: bool) -> MockPlan {
        let mut plan = MockPlan {
            greeting: (!self.greeting.is_empty()).then_some(self.greeting),
            exchanges: self.exchanges.len(),
            ..MockPlan::default()
        };
        // Request → the answer its rule gives, to merge repeats and spot conflicts.
        let mut seen: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for (request, answers) in self.exchanges {
            if answers.is_empty() {
                plan.unanswered += 1;
                continue;
            }
            let reply = if datagrams {
                plan.answers_cut += answers.len() - 1;
                answers.into_iter().next().unwrap_or_default()
            } else {
                answers.concat()
            };
            if let Some(kept) = seen.get(&request) {
                if *kept == reply {
                    plan.repeats += 1;
                } else {
                    plan.conflicts += 1;
                }
                continue;
            }
            if plan.rules.rules.len() == MAX_RULES {
                plan.over_limit += 1;
                continue;
            }
            plan.rules.rules.push(RuleText {
                pattern: format!("hex:{}", format_hex(&request)),
                reply: format!("hex:{}", format_hex(&reply)),
                ..RuleText::default()
            });
            seen.insert(request, reply);
        }
        plan
    }
}

/// What a recording became.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MockPlan {
    /// One rule per distinct request that was answered, in the recording's order.
    pub rules: RulesFile,
    /// What the device said before the first request.
    pub greeting: Option<Vec<u8>>,
    /// Requests in the recording.
    pub exchanges: usize,
    /// Requests seen again with the same answer (merged into one rule).
    pub repeats: usize,
    /// Requests seen again with another answer (the first answer is kept).
    pub conflicts: usize,
    /// Requests the device did not answer (no rule: the mock stays silent too).
    pub unanswered: usize,
    /// UDP answer datagrams beyond the first of their request (not replied).
    pub answers_cut: usize,
    /// Distinct requests beyond the most rules a set holds.
    pub over_limit: usize,
}

impl MockPlan {
    /// One paragraph for the user: what was made and what was not, with why. `greets`: the
    /// recorded greeting is sent to each client (the CLI's tcp-server); else it is only said.
    pub fn note(&self, greets: bool) -> String {
        let mut s = t!(
            "mock.made",
            rules = self.rules.rules.len(),
            exchanges = self.exchanges
        )
        .into_owned();
        if let Some(greeting) = &self.greeting {
            if greets {
                s.push_str(&t!("mock.greeting"));
            } else {
                s.push_str(&t!("mock.greeting_unused", bytes = greeting.len()));
            }
        }
        if self.repeats > 0 {
            s.push_str(&t!("mock.repeats", count = self.repeats));
        }
        if self.conflicts > 0 {
            s.push_str(&t!("mock.conflicts", count = self.conflicts));
        }
        if self.unanswered > 0 {
            s.push_str(&t!("mock.unanswered", count = self.unanswered));
        }
        if self.answers_cut > 0 {
            s.push_str(&t!("mock.answers_cut", count = self.answers_cut));
        }
        if self.over_limit > 0 {
            s.push_str(&t!(
                "mock.over_limit",
                count = self.over_limit,
                max = MAX_RULES
            ));
        }
        s
    }
}

/// The plan for the first `transport` conversation of a capture file (by its two
/// addresses), or why there is none. Sent records are this side's requests.
pub fn from_capture(records: &[CaptureRecord], transport: Transport) -> Result<MockPlan, String> {
    let data = |r: &&CaptureRecord| {
        r.kind == RecordKind::Data && !r.bytes.is_empty() && r.transport == transport
    };
    let Some(first) = records.iter().find(|r| data(r)) else {
        return Err(t!("mock.no_conversation", transport = transport.label()).into_owned());
    };
    let (local, peer) = (first.local, first.peer);
    let mut builder = MockBuilder::default();
    for r in records
        .iter()
        .filter(|r| data(r) && r.local == local && r.peer == peer)
    {
        match r.direction {
            Direction::Sent => builder.request(&r.bytes),
            Direction::Received => builder.answer(&r.bytes),
        }
    }
    let plan = builder.finish(transport == Transport::Udp);
    if plan.exchanges == 0 {
        return Err(t!("mock.no_requests", transport = transport.label()).into_owned());
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::codec::TextEncoding;
    use crate::engine::session::rules::RuleSet;

    #[test]
    fn requests_become_exact_rules_and_the_untidy_parts_are_counted() {
        let mut b = MockBuilder::default();
        b.answer(b"HELLO\r\n");
        b.request(b"PING\r\n");
        b.answer(b"PO");
        b.answer(b"NG\r\n");
        b.request(b"PING\r\n");
        b.answer(b"PONG\r\n");
        b.request(b"TIME?");
        b.answer(b"12:00");
        b.request(b"TIME?");
        b.answer(b"12:01");
        b.request(b"QUIT");
        let plan = b.finish(false);
        assert_eq!(plan.greeting.as_deref(), Some(&b"HELLO\r\n"[..]));
        assert_eq!(plan.exchanges, 5);
        assert_eq!(plan.repeats, 1);
        assert_eq!(plan.conflicts, 1);
        assert_eq!(plan.unanswered, 1);
        let rules: Vec<(&str, &str)> = plan
            .rules
            .rules
            .iter()
            .map(|r| (r.pattern.as_str(), r.reply.as_str()))
            .collect();
        assert_eq!(
            rules,
            [
                ("hex:50 49 4E 47 0D 0A", "hex:50 4F 4E 47 0D 0A"),
                ("hex:54 49 4D 45 3F", "hex:31 32 3A 30 30"),
            ]
        );
        // The rules are valid as a set.
        RuleSet::build(&plan.rules, TextEncoding::Utf8).unwrap();
        let note = plan.note(true);
        for part in [
            "2 rules",
            "5 requests",
            "greeting",
            "first answer",
            "silent",
        ] {
            assert!(note.contains(part), "{part:?} missing in {note}");
        }
    }

    #[test]
    fn over_udp_an_answer_is_its_first_datagram() {
        let mut b = MockBuilder::default();
        b.request(&[0x01, 0x03]);
        b.answer(&[0xAA]);
        b.answer(&[0xBB]);
        let plan = b.finish(true);
        assert_eq!(plan.rules.rules[0].reply, "hex:AA");
        assert_eq!(plan.answers_cut, 1);
    }
}
