//! What a session sends by itself, run in its worker: a payload repeated every N ms (for a
//! count or until stopped), or a file sent in chunks (TCP: as fast as the peer reads; UDP:
//! datagrams of a chosen size at a chosen pace).
//!
//! A worker holds at most one [`SendJob`] per session. Each turn it asks [`SendJob::due`]
//! when to wake, and while the socket has room takes payloads with [`SendJob::next`]; each
//! goes out through the session's outbound chain like a typed send. Stop ends it at once
//! (what is already queued for the socket still goes). Progress goes up as a [`JobStatus`]
//! at most every [`REPORT_EVERY`], and once more when the job ends.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::PathBuf;

use rust_i18n::t;
use std::time::{Duration, Instant};

use super::sequence::{SEEN_MAX, Sequence, Step};
use crate::codec::macros::{Rng, Template};

/// How often a running job's progress goes up.
pub const REPORT_EVERY: Duration = Duration::from_millis(200);
/// Most payloads one worker turn takes from a job, so commands and reads are served between.
pub const BURST: usize = 64;
/// A job waits while this much is queued for a TCP peer, so a file is read only a little
/// ahead of the socket (well under the workers' refusal limit).
pub const QUEUE_AHEAD_BYTES: usize = 4 * 1024 * 1024;
/// Chunk size of a TCP file send (a few large writes cost less than many small ones).
pub const TCP_FILE_CHUNK: usize = 256 * 1024;
/// Most bytes a datagram of a UDP file send may carry.
pub const UDP_CHUNK_MAX: usize = 65_507;
/// Longest interval between repeats (24 hours).
pub const EVERY_MAX: Duration = Duration::from_hours(24);

/// Where a job's payloads come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSource {
    /// The template rendered for send 0, 1, 2, …; `count` sends, or until stopped.
    Repeat {
        template: Template,
        count: Option<u64>,
    },
    /// The file's bytes, `chunk` bytes per payload, read as they are sent.
    File { path: PathBuf, chunk: usize },
    /// Steps: sends, pauses and waits for a matching reply.
    Sequence(Sequence),
}

/// A job as the owner asks for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSpec {
    pub source: JobSource,
    /// Time between payloads; zero is as fast as the socket takes them.
    pub every: Duration,
}

impl JobSpec {
    pub fn repeat(template: Template, every: Duration, count: Option<u64>) -> Self {
        Self {
            source: JobSource::Repeat { template, count },
            every,
        }
    }

    pub fn sequence(sequence: Sequence) -> Self {
        Self {
            source: JobSource::Sequence(sequence),
            every: Duration::ZERO,
        }
    }

    pub fn file(path: impl Into<PathBuf>, chunk: usize, every: Duration) -> Self {
        Self {
            source: JobSource::File {
                path: path.into(),
                chunk,
            },
            every,
        }
    }

    /// Checks the numbers before anything is sent; the sentence says what to change.
    pub fn check(&self) -> Result<(), String> {
        if self.every > EVERY_MAX {
            return Err(t!("engine.job.interval_too_long").into_owned());
        }
        match &self.source {
            JobSource::Repeat { count: Some(0), .. } => {
                Err(t!("engine.job.count_zero").into_owned())
            }
            JobSource::Repeat { template, .. } if template.is_empty() => {
                Err(t!("engine.job.nothing_to_repeat").into_owned())
            }
            JobSource::File { chunk, .. } if *chunk == 0 || *chunk > TCP_FILE_CHUNK => {
                Err(t!("engine.job.chunk_size", max = TCP_FILE_CHUNK).into_owned())
            }
            _ => Ok(()),
        }
    }
}

/// What kind of job a status is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    Repeat,
    File,
    Sequence,
}

/// Where a job stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    Running,
    /// Every payload went out (count reached, end of file).
    Done,
    /// The owner stopped it.
    Stopped,
    /// It could not go on; the sentence says why (file unreadable, connection closed…).
    Failed(String),
}

/// A job's progress, as the owner shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    pub kind: JobKind,
    /// Payloads handed to the socket's queue.
    pub sent: u64,
    /// How many there will be, when known (a repeat's count).
    pub count: Option<u64>,
    pub bytes: u64,
    /// A file's size.
    pub total_bytes: Option<u64>,
    pub elapsed: Duration,
    pub state: JobState,
    /// A sequence's current step (0-based) and how it was written.
    pub step: Option<(usize, String)>,
    /// A sequence's round (1-based) and how many it runs.
    pub rounds: (u32, u32),
}

impl JobStatus {
    /// Payloads per second since the start.
    pub fn rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.sent as f64 / secs
        } else {
            0.0
        }
    }

    /// Bytes per second since the start.
    pub fn byte_rate(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.bytes as f64 / secs
        } else {
            0.0
        }
    }

    pub fn is_running(&self) -> bool {
        self.state == JobState::Running
    }

    /// One line for the window and the CLI: "Repeat: 120 of 1,000 sent (99.8/s)".
    pub fn describe(&self) -> String {
        use crate::traffic::format_bytes;
        let what = match self.kind {
            JobKind::Sequence => {
                let (round, rounds) = self.rounds;
                let sent = self.sent;
                match (self.step.as_ref(), rounds > 1) {
                    (None, false) => t!("engine.job.sequence", sent = sent),
                    (Some((_, step)), false) => {
                        t!("engine.job.sequence_at", step = step, sent = sent)
                    }
                    (None, true) => t!(
                        "engine.job.sequence_round",
                        round = round,
                        rounds = rounds,
                        sent = sent
                    ),
                    (Some((_, step)), true) => t!(
                        "engine.job.sequence_at_round",
                        step = step,
                        round = round,
                        rounds = rounds,
                        sent = sent
                    ),
                }
            }
            JobKind::Repeat => {
                if let Some(c) = self.count {
                    t!(
                        "engine.job.repeat_of",
                        sent = self.sent,
                        count = c,
                        rate = self.rate() : {:.1}
                    )
                } else {
                    t!("engine.job.repeat", sent = self.sent, rate = self.rate() : {:.1})
                }
            }
            JobKind::File => {
                let bytes = format_bytes(self.bytes);
                let rate = format_bytes(self.byte_rate() as u64);
                if let Some(total) = self.total_bytes {
                    t!(
                        "engine.job.file_of",
                        bytes = bytes,
                        total = format_bytes(total),
                        sent = self.sent,
                        rate = rate
                    )
                } else {
                    t!(
                        "engine.job.file",
                        bytes = bytes,
                        sent = self.sent,
                        rate = rate
                    )
                }
            }
        };
        match &self.state {
            JobState::Running => what.into_owned(),
            JobState::Done => t!("engine.job.done", what = what).into_owned(),
            JobState::Stopped => t!("engine.job.stopped", what = what).into_owned(),
            JobState::Failed(why) => t!("engine.job.failed", what = what, why = why).into_owned(),
        }
    }
}

/// Where a job's payloads go: each worker's socket side, so one driver
/// ([`SendJob::turn`]) serves the TCP Client, the TCP Server and UDP alike.
pub trait JobSink {
    /// Whether the job must wait now (no connection or client yet, the socket's queue full);
    /// `Err` ends the job with that sentence (the client it was for has left).
    fn blocked(&self) -> Result<bool, String>;
    /// Queues one payload through the session's outbound chain; `Err` ends the job.
    fn send(&mut self, bytes: Vec<u8>) -> Result<(), String>;
}

/// What a worker turn of the job calls for.
#[derive(Debug, PartialEq, Eq)]
pub enum Turn {
    /// Nothing to say yet.
    Quiet,
    /// Progress to report; the job goes on.
    Report(JobStatus),
    /// The job has ended (its last status); drop it.
    Ended(JobStatus),
}

/// What [`SendJob::next`] gives.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    Payload(Vec<u8>),
    /// Not due yet; wake at [`SendJob::due`].
    NotYet,
    /// Nothing more to send.
    Done,
    Failed(String),
}

/// A running job in a worker.
pub struct SendJob {
    kind: JobKind,
    every: Duration,
    template: Option<Template>,
    count: Option<u64>,
    file: Option<(File, PathBuf, usize)>,
    sequence: Option<Sequence>,
    step: usize,
    round: u32,
    /// When the current pause or wait for a reply ends.
    waiting_until: Option<Instant>,
    /// What arrived since the last send, for a wait to match (the newest `SEEN_MAX` bytes).
    seen: Vec<u8>,
    /// The step the last report named, so each step is reported as it starts.
    reported_step: Option<(u32, usize)>,
    total_bytes: Option<u64>,
    rng: Rng,
    started: Instant,
    next_due: Instant,
    sent: u64,
    bytes: u64,
    last_report: Instant,
    finished: bool,
}

impl SendJob {
    /// Starts `spec` now (the first payload is due at once). A file that cannot be opened is a
    /// sentence naming it.
    pub fn start(spec: JobSpec, now: Instant) -> Result<Self, String> {
        spec.check()?;
        let mut job = Self {
            kind: JobKind::Repeat,
            every: spec.every,
            template: None,
            count: None,
            file: None,
            sequence: None,
            step: 0,
            round: 0,
            waiting_until: None,
            seen: Vec::new(),
            reported_step: None,
            total_bytes: None,
            rng: Rng::from_clock(),
            started: now,
            next_due: now,
            sent: 0,
            bytes: 0,
            last_report: now,
            finished: false,
        };
        match spec.source {
            JobSource::Repeat { template, count } => {
                job.template = Some(template);
                job.count = count;
            }
            JobSource::File { path, chunk } => {
                let file = File::open(&path).map_err(|e| file_error(&path, &e))?;
                let meta = file.metadata().map_err(|e| file_error(&path, &e))?;
                if meta.is_dir() {
                    return Err(t!("engine.job.is_folder", path = path.display()).into_owned());
                }
                job.kind = JobKind::File;
                job.total_bytes = Some(meta.len());
                job.file = Some((file, path, chunk));
            }
            JobSource::Sequence(sequence) => {
                job.kind = JobKind::Sequence;
                job.sequence = Some(sequence);
            }
        }
        Ok(job)
    }

    /// When the next payload is due; `None` once the job has ended.
    pub fn due(&self) -> Option<Instant> {
        (!self.finished).then_some(self.waiting_until.unwrap_or(self.next_due))
    }

    /// Shows the job what the session received (only a sequence looks).
    pub fn observe(&mut self, bytes: &[u8]) {
        if self.sequence.is_none() || self.finished {
            return;
        }
        self.seen.extend_from_slice(bytes);
        if self.seen.len() > SEEN_MAX {
            let cut = self.seen.len() - SEEN_MAX;
            self.seen.drain(..cut);
        }
    }

    /// Whether the job is waiting for a reply (so the worker passes received bytes on).
    pub fn wants_received(&self) -> bool {
        self.sequence.is_some() && !self.finished
    }

    /// The sequence's next step at `now`.
    fn next_step(&mut self, now: Instant) -> Next {
        let Some(sequence) = &self.sequence else {
            return Next::Done;
        };
        let (count, rounds) = (sequence.steps.len(), sequence.repeat);
        // Each pass either returns or moves one step on; bounded by the steps of a round.
        for _ in 0..=count {
            if self.step >= count {
                self.round += 1;
                self.step = 0;
                if self.round >= rounds {
                    self.finished = true;
                    return Next::Done;
                }
            }
            let Some(step) = self.sequence.as_ref().map(|s| s.steps[self.step].clone()) else {
                return Next::Done;
            };
            match step {
                Step::Send(template) => {
                    let bytes = template.render_now(self.sent, &mut self.rng);
                    self.seen.clear();
                    self.step += 1;
                    self.sent += 1;
                    self.bytes += bytes.len() as u64;
                    return Next::Payload(bytes);
                }
                Step::Wait(pause) => match self.waiting_until {
                    None if !pause.is_zero() => {
                        self.waiting_until = Some(now + pause);
                        return Next::NotYet;
                    }
                    Some(until) if now < until => return Next::NotYet,
                    _ => {
                        self.waiting_until = None;
                        self.step += 1;
                    }
                },
                Step::Expect { expect, within } => {
                    let until = *self.waiting_until.get_or_insert(now + within);
                    if expect.matches(&self.seen) {
                        self.waiting_until = None;
                        self.step += 1;
                    } else if now >= until {
                        self.finished = true;
                        let what = self
                            .sequence
                            .as_ref()
                            .map_or(String::new(), |s| s.describe(self.step));
                        return Next::Failed(
                            t!(
                                "engine.job.no_match",
                                what = what,
                                expect = expect,
                                ms = within.as_millis(),
                                arrived = arrived(&self.seen)
                            )
                            .into_owned(),
                        );
                    } else {
                        return Next::NotYet;
                    }
                }
            }
        }
        Next::NotYet
    }

    /// The next payload if it is due at `now`. The schedule keeps its pace from the start
    /// (no drift); a worker more than one interval late starts the pace again from now
    /// rather than sending a burst to catch up.
    pub fn next(&mut self, now: Instant) -> Next {
        if self.finished {
            return Next::Done;
        }
        if self.kind == JobKind::Sequence {
            return self.next_step(now);
        }
        if now < self.next_due {
            return Next::NotYet;
        }
        let payload = match self.kind {
            JobKind::Sequence => return Next::Done,
            JobKind::Repeat => {
                if self.count.is_some_and(|c| self.sent >= c) {
                    self.finished = true;
                    return Next::Done;
                }
                match &self.template {
                    Some(t) => t.render_now(self.sent, &mut self.rng),
                    None => Vec::new(),
                }
            }
            JobKind::File => match self.read_chunk() {
                Ok(Some(chunk)) => chunk,
                Ok(None) => {
                    self.finished = true;
                    return Next::Done;
                }
                Err(why) => {
                    self.finished = true;
                    return Next::Failed(why);
                }
            },
        };
        self.sent += 1;
        self.bytes += payload.len() as u64;
        self.next_due += self.every;
        if self.every > Duration::ZERO && now.saturating_duration_since(self.next_due) > self.every
        {
            self.next_due = now + self.every;
        }
        if self.kind == JobKind::Repeat && self.count.is_some_and(|c| self.sent >= c) {
            self.finished = true;
        }
        Next::Payload(payload)
    }

    /// One worker turn: hands `sink` what is due, up to [`BURST`] payloads, while it is not
    /// blocked, and says whether to report or drop the job.
    pub fn turn(&mut self, now: Instant, sink: &mut dyn JobSink) -> Turn {
        let mut end = None;
        for _ in 0..BURST {
            match sink.blocked() {
                Ok(true) => break,
                Ok(false) => {}
                Err(why) => {
                    end = Some(JobState::Failed(why));
                    break;
                }
            }
            match self.next(now) {
                Next::Payload(bytes) => {
                    if let Err(why) = sink.send(bytes) {
                        end = Some(JobState::Failed(why));
                        break;
                    }
                }
                Next::NotYet => break,
                Next::Done => {
                    end = Some(JobState::Done);
                    break;
                }
                Next::Failed(why) => {
                    end = Some(JobState::Failed(why));
                    break;
                }
            }
        }
        if end.is_none() && self.finished {
            end = Some(JobState::Done);
        }
        match end {
            Some(state) => Turn::Ended(self.status(state)),
            None if self.report_due(now) => Turn::Report(self.status(JobState::Running)),
            None => Turn::Quiet,
        }
    }

    /// Reads the next chunk; `None` at the end of the file.
    fn read_chunk(&mut self) -> Result<Option<Vec<u8>>, String> {
        let Some((file, path, chunk)) = &mut self.file else {
            return Ok(None);
        };
        // Read into spare capacity (no zero-filling), up to one chunk.
        let mut buf = Vec::with_capacity(*chunk);
        (&mut *file)
            .take(*chunk as u64)
            .read_to_end(&mut buf)
            .map_err(|e| file_error(path, &e))?;
        if buf.is_empty() {
            return Ok(None);
        }
        Ok(Some(buf))
    }

    /// Whether the job has ended (its last status is still to be reported by the worker).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether a progress report is due (every [`REPORT_EVERY`], and whenever a sequence
    /// moves to another step); marks it given.
    pub fn report_due(&mut self, now: Instant) -> bool {
        let moved = self.sequence.is_some() && self.reported_step != Some((self.round, self.step));
        if moved || now.saturating_duration_since(self.last_report) >= REPORT_EVERY {
            self.reported_step = Some((self.round, self.step));
            self.last_report = now;
            return true;
        }
        false
    }

    pub fn status(&self, state: JobState) -> JobStatus {
        JobStatus {
            kind: self.kind,
            sent: self.sent,
            count: self.count,
            bytes: self.bytes,
            total_bytes: self.total_bytes,
            elapsed: self.started.elapsed(),
            state,
            step: self.sequence.as_ref().map(|s| {
                let i = self.step.min(s.steps.len().saturating_sub(1));
                (i, s.describe(i))
            }),
            rounds: (
                (self.round + 1).min(self.sequence.as_ref().map_or(1, |s| s.repeat)),
                self.sequence.as_ref().map_or(1, |s| s.repeat),
            ),
        }
    }
}

/// What a failed wait saw instead: the text (control bytes escaped) and the hex of its start.
fn arrived(seen: &[u8]) -> String {
    if seen.is_empty() {
        return t!("engine.job.nothing_arrived").into_owned();
    }
    let text: String = String::from_utf8_lossy(&seen[..seen.len().min(80)])
        .chars()
        .flat_map(char::escape_debug)
        .collect();
    let more = if seen.len() > 32 { " …" } else { "" };
    t!(
        "engine.job.arrived_instead",
        len = seen.len(),
        text = text,
        hex = crate::codec::hex::format_hex(&seen[..seen.len().min(32)]),
        more = more
    )
    .into_owned()
}

fn file_error(path: &std::path::Path, e: &std::io::Error) -> String {
    let why = match e.kind() {
        ErrorKind::NotFound => t!("engine.job.no_file").into_owned(),
        ErrorKind::PermissionDenied => t!("engine.job.no_read").into_owned(),
        _ => e.to_string(),
    };
    t!("engine.job.cannot_read", path = path.display(), why = why).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::TextEncoding;
    use crate::codec::payload::{LineEnding, PayloadSpec, SendMode};

    fn template(text: &str) -> Template {
        Template::compile(&PayloadSpec {
            text,
            mode: SendMode::Text,
            escapes: false,
            line_ending: LineEnding::Lf,
            encoding: TextEncoding::Utf8,
        })
        .unwrap()
    }

    #[test]
    fn a_repeat_gives_its_count_in_order_on_its_schedule() {
        let t0 = Instant::now();
        let every = Duration::from_millis(10);
        let mut job = SendJob::start(
            JobSpec::repeat(template("n{{COUNTER}}"), every, Some(3)),
            t0,
        )
        .unwrap();
        assert_eq!(job.next(t0), Next::Payload(b"n0\n".to_vec()));
        assert_eq!(job.next(t0 + Duration::from_millis(5)), Next::NotYet);
        assert_eq!(job.due(), Some(t0 + every));
        assert_eq!(job.next(t0 + every), Next::Payload(b"n1\n".to_vec()));
        // Late by less than an interval: the pace is kept from the start.
        assert_eq!(
            job.next(t0 + Duration::from_millis(25)),
            Next::Payload(b"n2\n".to_vec())
        );
        assert!(job.is_finished());
        assert_eq!(job.next(t0 + Duration::from_secs(1)), Next::Done);
        let status = job.status(JobState::Done);
        assert_eq!((status.sent, status.bytes), (3, 9));
        assert!(
            status.describe().starts_with("Repeat: 3 of 3 sent"),
            "{}",
            status.describe()
        );
    }

    #[test]
    fn a_late_worker_does_not_burst() {
        let t0 = Instant::now();
        let every = Duration::from_millis(10);
        let mut job = SendJob::start(JobSpec::repeat(template("x"), every, None), t0).unwrap();
        assert!(matches!(job.next(t0), Next::Payload(_)));
        let late = t0 + Duration::from_millis(100);
        assert!(matches!(job.next(late), Next::Payload(_)));
        assert_eq!(
            job.next(late),
            Next::NotYet,
            "one payload, then the pace again"
        );
        assert_eq!(job.due(), Some(late + every));
    }

    #[test]
    fn a_file_goes_in_chunks_and_a_missing_one_is_a_sentence() {
        let dir = std::env::temp_dir().join(format!("sockpit-job-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        std::fs::write(&path, b"abcdefghij").unwrap();
        let t0 = Instant::now();
        let mut job = SendJob::start(JobSpec::file(&path, 4, Duration::ZERO), t0).unwrap();
        let mut got = Vec::new();
        while let Next::Payload(p) = job.next(t0) {
            got.push(p);
        }
        assert_eq!(got, [b"abcd".to_vec(), b"efgh".to_vec(), b"ij".to_vec()]);
        assert_eq!(job.status(JobState::Done).total_bytes, Some(10));
        let Err(e) = SendJob::start(JobSpec::file(dir.join("none"), 4, Duration::ZERO), t0) else {
            panic!("a missing file must not start");
        };
        assert!(e.contains("no such file") && e.contains("none"), "{e}");
        let Err(e) = SendJob::start(JobSpec::file(&dir, 4, Duration::ZERO), t0) else {
            panic!("a folder must not start");
        };
        assert!(e.contains("folder"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A sink that takes `room` payloads, then is blocked; or fails every send.
    struct Sink {
        room: usize,
        got: Vec<Vec<u8>>,
        refuse: Option<String>,
    }

    impl JobSink for Sink {
        fn blocked(&self) -> Result<bool, String> {
            Ok(self.got.len() >= self.room)
        }
        fn send(&mut self, bytes: Vec<u8>) -> Result<(), String> {
            if let Some(why) = &self.refuse {
                return Err(why.clone());
            }
            self.got.push(bytes);
            Ok(())
        }
    }

    #[test]
    fn a_turn_sends_while_the_sink_has_room_and_ends_on_its_refusal() {
        let t0 = Instant::now();
        let mut job = SendJob::start(
            JobSpec::repeat(template("{{COUNTER}}"), Duration::ZERO, Some(5)),
            t0,
        )
        .unwrap();
        let mut sink = Sink {
            room: 3,
            got: Vec::new(),
            refuse: None,
        };
        assert_eq!(job.turn(t0, &mut sink), Turn::Quiet);
        assert_eq!(sink.got.len(), 3, "blocked after three");
        sink.room = 10;
        let Turn::Ended(status) = job.turn(t0, &mut sink) else {
            panic!("the last two end it");
        };
        assert_eq!((status.state, status.sent), (JobState::Done, 5));
        let mut job =
            SendJob::start(JobSpec::repeat(template("x"), Duration::ZERO, None), t0).unwrap();
        let mut closed = Sink {
            room: 10,
            got: Vec::new(),
            refuse: Some("closed".to_owned()),
        };
        let Turn::Ended(status) = job.turn(t0, &mut closed) else {
            panic!("a refused send ends the job");
        };
        assert_eq!(status.state, JobState::Failed("closed".to_owned()));
    }

    #[test]
    fn bad_numbers_are_refused_before_sending() {
        let t0 = Instant::now();
        let zero = JobSpec::repeat(template("x"), Duration::from_millis(1), Some(0));
        assert!(SendJob::start(zero, t0).is_err());
        let long = JobSpec::repeat(template("x"), Duration::from_hours(25), None);
        assert!(SendJob::start(long, t0).is_err());
    }
}
