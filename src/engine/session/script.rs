//! Scripted responders: what rule tables cannot say (a counter, a register map, a checksum
//! over the answer) written as a small [Rhai](https://rhai.rs) script, run as a stage in the
//! worker of each session, headless too.
//!
//! # The script
//!
//! ```text
//! let count = 0;                        // top-level `let`s are the session's state
//!
//! fn on_receive(data, peer) {           // data: a blob of the record; peer: "ip:port"
//!     count += 1;
//!     `${count}`                        // a string (in the session's encoding), a blob,
//! }                                     // or () for no answer
//! ```
//!
//! - The top level runs once when a session starts (each TCP Server session, each TCP
//!   Client connection, each UDP bind); its variables persist from call to call, for every
//!   peer of that session.
//! - `fn on_receive(data, peer)` is required; it runs for every received record (after the
//!   framer, so with `--frame` it sees whole frames) and its value is the answer to that
//!   record's peer, sent through the outbound chain like a rule's: a blob, a string, `()`
//!   for none, an array of answers (one datagram each on UDP), or `after(ms, answer)` to
//!   send it later (at most 60 s; the same delayed queue as the rules' delays).
//! - Helpers: `crc16_modbus(blob)`, `crc32(blob)`, `xor8(blob)`, `sum8(blob)` → int (the
//!   checksums of [`crate::codec::checksum`]); `u16_be(int)`, `u16_le`, `u32_be`, `u32_le` →
//!   blob (a value that does not fit is an error); `hex("01 03 ff")` → blob; `to_hex(blob)`
//!   → "01 03 FF"; `text(blob)` → string and `blob(string)` → blob, both in the session's
//!   encoding (lossy the one way); `decode(blob, "Modbus/TCP")` → a map of field name (as the
//!   decoders name them in the current language) to shown value, plus `summary`, for every
//!   protocol of [`Protocol::ALL`]. Rhai's own blob, string, array and map functions are all
//!   there (`data[7]`, `data.len()`, `b + c`, `data.extract(8, 2)`…); `print(x)` goes to
//!   the owner as a [`ScriptNotice::Printed`].
//! - `fn on_connect(peer)` is optional: it runs when a stream begins (the TCP Client's
//!   connection, each client of the TCP Server) and on UDP when a peer is heard from for
//!   the first time (among the last [`UDP_PEERS_MAX`]), before that peer's first
//!   `on_receive`. Its value is a greeting to that peer, like `on_receive`'s.
//! - `every(ms)` (from [`TIMER_MIN_MS`] to [`TIMER_MAX_MS`]; `every(0)` stops it) starts the
//!   session's timer; called again (in any function) it changes the period. Each period
//!   `fn on_timer()` runs and its value goes to every peer the session has: the open
//!   connections, or on UDP the peers heard from. With none, it goes nowhere. A tick missed
//!   because the worker was busy is not made up in a burst.
//!
//! # Safety and errors
//!
//! The engine is built without a module resolver (no `import`), and Rhai has no file,
//! process or network functions: a script touches nothing but its session's records. Every
//! call is bounded ([`MAX_OPERATIONS`], [`MAX_CALL_LEVELS`], the string, blob, array and map
//! sizes), so an endless loop ends with a sentence instead of holding the worker.
//!
//! A script that does not compile (or whose top level fails, or that has no `on_receive`)
//! is refused by [`Script::compile`] with its line and column, before any session starts.
//! An error while it runs stops that session's script: later records get no scripted
//! answer, the session keeps running, and the owner gets a [`ScriptNotice::Stopped`] naming
//! the line, through the [`ScriptReports`] it polls.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rhai::{AST, Blob, CallFnOptions, Dynamic, Engine, EvalAltResult, Map, Position, Scope};
use rust_i18n::t;

use super::rules::MAX_DELAY_MS;
use super::stage::{Record, Replies, Stage};
use super::{Factory, PipelineSpec};
use crate::codec::TextEncoding;
use crate::codec::checksum::ChecksumKind;
use crate::codec::hex::{format_hex, parse_hex};
use crate::codec::protocol::Protocol;

/// Operations one call (or the top level) may run: about a tenth of a second of a tight
/// loop, far more than any answer needs. Rhai reports this limit without a line, so the error
/// names the function that was running.
pub const MAX_OPERATIONS: u64 = 1_000_000;
/// How deep script functions may call each other (recursion included).
pub const MAX_CALL_LEVELS: usize = 32;
/// The longest string a script may build, in bytes.
pub const MAX_STRING_BYTES: usize = 1 << 20;
/// The largest blob or array a script may build (one datagram is at most 64 KiB; a stream
/// answer of a megabyte is still plenty).
pub const MAX_ARRAY_ITEMS: usize = 1 << 20;
/// The most entries in a map.
pub const MAX_MAP_ENTRIES: usize = 10_000;
/// Notices waiting for the owner; more are counted in [`ScriptReports::dropped`].
pub const NOTICES_MAX: usize = 256;
/// The script's longest source text (a script a person writes and reads).
pub const MAX_SOURCE_BYTES: usize = 1 << 20;

/// The function every script defines.
const ON_RECEIVE: &str = "on_receive";
/// Optional: a stream began, or a UDP peer was first heard from.
const ON_CONNECT: &str = "on_connect";
/// Called each period of `every(ms)`.
const ON_TIMER: &str = "on_timer";
/// The shortest timer period: 100 answers a second per peer is plenty for a simulator.
pub const TIMER_MIN_MS: u64 = 10;
/// The longest timer period (an hour).
pub const TIMER_MAX_MS: u64 = 3_600_000;
/// UDP peers a script remembers (for `on_connect` and the timer's answers); the one heard
/// from longest ago is forgotten first, and counts as new if heard from again.
pub const UDP_PEERS_MAX: usize = 256;

/// What went wrong with a script, where its source says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub kind: ScriptErrorKind,
    /// 1-based line and column in the script, when the error has a place.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Rhai's description (in English) or ours.
    pub reason: String,
    /// The script function that was running, said where the error has no line (Rhai names
    /// none for its operation limit).
    pub function: Option<String>,
}

/// When a [`ScriptError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// The text is not a script (a syntax error), or is too long.
    Compile,
    /// It compiled but cannot serve: no `on_receive(data, peer)`, a timer without
    /// `on_timer()`, or its top level failed.
    Start,
    /// A call failed while the session ran; the script stopped.
    Runtime,
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let place = match (self.line, self.column) {
            (Some(line), Some(column)) => {
                t!("script.error.at", line = line, column = column).into_owned()
            }
            (Some(line), None) => t!("script.error.at_line", line = line).into_owned(),
            _ => match &self.function {
                Some(name) => t!("script.error.in_function", name = name).into_owned(),
                None => String::new(),
            },
        };
        let text = match self.kind {
            ScriptErrorKind::Compile => {
                t!("script.error.compile", place = place, reason = self.reason)
            }
            ScriptErrorKind::Start => t!("script.error.start", place = place, reason = self.reason),
            ScriptErrorKind::Runtime => {
                t!("script.error.runtime", place = place, reason = self.reason)
            }
        };
        f.write_str(&text)
    }
}

impl std::error::Error for ScriptError {}

impl ScriptError {
    fn new(kind: ScriptErrorKind, position: Position, reason: String) -> Self {
        Self {
            kind,
            line: position.line(),
            column: position.position(),
            reason,
            function: None,
        }
    }

    /// The innermost error of a call (where the script really failed), with its place.
    fn from_eval(kind: ScriptErrorKind, error: EvalAltResult) -> Self {
        let mut error = error;
        // A failure inside a function the script called is wrapped once per call level;
        // the line worth showing is the innermost one.
        while let EvalAltResult::ErrorInFunctionCall(_, _, inner, _) = error {
            error = *inner;
        }
        let position = error.take_position();
        let reason = match error {
            EvalAltResult::ErrorTooManyOperations(_) => {
                t!("script.error.too_many_operations", max = MAX_OPERATIONS).into_owned()
            }
            EvalAltResult::ErrorStackOverflow(_) => {
                t!("script.error.too_deep", max = MAX_CALL_LEVELS).into_owned()
            }
            EvalAltResult::ErrorRuntime(value, _) if value.is_string() => value.to_string(),
            other => other.to_string(),
        };
        Self::new(kind, position, reason)
    }
}

/// What a running script tells its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptNotice {
    /// The script called `print` or `debug`.
    Printed { text: String },
    /// The script stopped (its session goes on without it), answering `peer` (none when
    /// the top level failed as a session started).
    Stopped {
        peer: Option<SocketAddr>,
        error: ScriptError,
    },
}

/// The owner's end of a script's notices: poll it as events arrive (the window each frame,
/// the CLI each turn). Shared by every session the script runs in.
#[derive(Debug, Clone)]
pub struct ScriptReports {
    notices: Receiver<ScriptNotice>,
    dropped: Arc<AtomicU64>,
}

impl ScriptReports {
    /// Up to `max` notices, oldest first.
    pub fn take(&self, max: usize) -> Vec<ScriptNotice> {
        self.notices.try_iter().take(max).collect()
    }

    /// Notices lost since the start because the owner did not take them in time.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// The sending end, inside the engine's `print` and the stages.
#[derive(Debug, Clone)]
struct NoticeSink {
    notices: Sender<ScriptNotice>,
    dropped: Arc<AtomicU64>,
}

impl NoticeSink {
    fn send(&self, notice: ScriptNotice) {
        // A gone owner (Disconnected) leaves nobody to tell; a slow one gets the count.
        if let Err(TrySendError::Full(_)) = self.notices.try_send(notice) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A compiled script, ready to run in any number of sessions (cloneable: the engine and
/// the compiled text are shared).
#[derive(Clone)]
pub struct Script {
    ast: Arc<AST>,
    sink: NoticeSink,
    /// The session's text encoding: strings a script answers with are sent in it.
    encoding: TextEncoding,
    has_on_connect: bool,
}

impl fmt::Debug for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Script") // i18n-exempt: a developer's debug output
    }
}

impl Script {
    /// Compiles `source` for sessions whose text is in `encoding`, and checks it can serve
    /// (an `on_receive(data, peer)`, a top level that runs). The reports are where the
    /// running script's prints and errors go.
    pub fn compile(
        source: &str,
        encoding: TextEncoding,
    ) -> Result<(Self, ScriptReports), ScriptError> {
        let (tx, rx) = crossbeam_channel::bounded(NOTICES_MAX);
        let dropped = Arc::new(AtomicU64::new(0));
        let sink = NoticeSink {
            notices: tx,
            dropped: Arc::clone(&dropped),
        };
        // The trial run of the top level reports into nothing: only a session's prints
        // matter to the owner.
        let ast = checked_ast(encoding, source)?;
        let has_on_connect = has_function(&ast, ON_CONNECT, 1);
        let script = Self {
            ast: Arc::new(ast),
            sink,
            encoding,
            has_on_connect,
        };
        Ok((
            script,
            ScriptReports {
                notices: rx,
                dropped,
            },
        ))
    }

    /// A pipeline stage running this script: each session gets its own state (the top level
    /// runs again), the notices go to the same reports.
    pub fn stage(&self) -> Factory<dyn Stage> {
        let script = self.clone();
        let name = "script"; // i18n-exempt: the factory's identity, for Debug
        Factory::new(name, move || Box::new(script.start()) as Box<dyn Stage>)
    }

    /// Adds this script's stage to `pipeline` (after the rules, so both may answer).
    pub fn install(&self, pipeline: &mut PipelineSpec) {
        pipeline.stages.push(self.stage());
    }

    /// A new session's stage: its own engine (so `every` sets this session's timer) and
    /// the top level run into a fresh scope.
    fn start(&self) -> ScriptStage {
        let timer = TimerCell::default();
        let engine = build_engine(self.encoding, Some(self.sink.clone()), timer.clone());
        let mut scope = Scope::new();
        let stopped = match engine.run_ast_with_scope(&mut scope, &self.ast) {
            Ok(()) => false,
            Err(e) => {
                self.sink.send(ScriptNotice::Stopped {
                    peer: None,
                    error: ScriptError::from_eval(ScriptErrorKind::Start, *e),
                });
                true
            }
        };
        let mut stage = ScriptStage {
            script: self.clone(),
            engine,
            scope,
            stopped,
            timer,
            period_ms: 0,
            next_due: None,
            opened: BTreeMap::new(),
            heard: VecDeque::new(),
        };
        stage.sync_timer(Instant::now());
        stage
    }
}

/// The period `every(ms)` last set in one session (0: no timer), shared between the
/// engine's `every` and the stage that ticks.
#[derive(Debug, Clone, Default)]
struct TimerCell(Arc<AtomicU64>);

impl TimerCell {
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::Relaxed);
    }
}

/// Whether `ast` defines `name` with `arity` parameters.
fn has_function(ast: &AST, name: &str, arity: usize) -> bool {
    ast.iter_functions()
        .any(|f| f.name == name && f.params.len() == arity)
}

/// Whether `source` would run, for an editor to show the error beside the text as it is
/// typed (the same checks as [`Script::compile`]).
pub fn check(source: &str) -> Result<(), ScriptError> {
    checked_ast(TextEncoding::Utf8, source).map(|_| ())
}

/// `source` compiled, with an `on_receive(data, peer)`, a top level that runs, and an
/// `on_timer()` if the top level starts a timer.
fn checked_ast(encoding: TextEncoding, source: &str) -> Result<AST, ScriptError> {
    let timer = TimerCell::default();
    let engine = build_engine(encoding, None, timer.clone());
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ScriptError {
            kind: ScriptErrorKind::Compile,
            line: None,
            column: None,
            function: None,
            reason: t!(
                "script.error.too_long",
                bytes = source.len(),
                max = MAX_SOURCE_BYTES
            )
            .into_owned(),
        });
    }
    let ast = engine.compile(source).map_err(|e| {
        ScriptError::new(
            ScriptErrorKind::Compile,
            e.position(),
            e.err_type().to_string(),
        )
    })?;
    if !has_function(&ast, ON_RECEIVE, 2) {
        return Err(ScriptError {
            kind: ScriptErrorKind::Start,
            line: None,
            column: None,
            function: None,
            reason: t!("script.error.no_handler").into_owned(),
        });
    }
    engine
        .run_ast_with_scope(&mut Scope::new(), &ast)
        .map_err(|e| ScriptError::from_eval(ScriptErrorKind::Start, *e))?;
    if timer.get() > 0 && !has_function(&ast, ON_TIMER, 0) {
        return Err(ScriptError {
            kind: ScriptErrorKind::Start,
            line: None,
            column: None,
            function: None,
            reason: t!("script.error.no_timer_handler").into_owned(),
        });
    }
    Ok(ast)
}

/// An engine with the limits, the helpers, and `print` going to `sink` (or nowhere).
/// `every(ms)` sets `timer`.
fn build_engine(encoding: TextEncoding, sink: Option<NoticeSink>, timer: TimerCell) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(MAX_OPERATIONS);
    engine.set_max_call_levels(MAX_CALL_LEVELS);
    engine.set_max_string_size(MAX_STRING_BYTES);
    engine.set_max_array_size(MAX_ARRAY_ITEMS);
    engine.set_max_map_size(MAX_MAP_ENTRIES);
    let print_sink = sink.clone();
    engine.on_print(move |text| {
        if let Some(sink) = &print_sink {
            sink.send(ScriptNotice::Printed {
                text: text.to_owned(),
            });
        }
    });
    engine.on_debug(move |text, _source, _position| {
        if let Some(sink) = &sink {
            sink.send(ScriptNotice::Printed {
                text: text.to_owned(),
            });
        }
    });
    register_helpers(&mut engine, encoding);
    engine.register_fn("every", move |ms: i64| -> HelperResult<()> {
        match u64::try_from(ms) {
            Ok(0) => {
                timer.set(0);
                Ok(())
            }
            Ok(ms) if (TIMER_MIN_MS..=TIMER_MAX_MS).contains(&ms) => {
                timer.set(ms);
                Ok(())
            }
            _ => Err(t!(
                "script.helper.timer_range",
                value = ms,
                min = TIMER_MIN_MS,
                max = TIMER_MAX_MS
            )
            .into_owned()
            .into()),
        }
    });
    engine
}

type HelperResult<T> = Result<T, Box<EvalAltResult>>;

fn register_helpers(engine: &mut Engine, encoding: TextEncoding) {
    engine.register_fn("crc16_modbus", |b: Blob| {
        i64::from(ChecksumKind::Crc16Modbus.value(&b))
    });
    engine.register_fn("crc32", |b: Blob| i64::from(ChecksumKind::Crc32.value(&b)));
    engine.register_fn("xor8", |b: Blob| i64::from(ChecksumKind::Xor8.value(&b)));
    engine.register_fn("sum8", |b: Blob| i64::from(ChecksumKind::Sum8.value(&b)));
    engine.register_fn("u16_be", |v: i64| -> HelperResult<Blob> {
        u16_of(v).map(|v| v.to_be_bytes().to_vec())
    });
    engine.register_fn("u16_le", |v: i64| -> HelperResult<Blob> {
        u16_of(v).map(|v| v.to_le_bytes().to_vec())
    });
    engine.register_fn("u32_be", |v: i64| -> HelperResult<Blob> {
        u32_of(v).map(|v| v.to_be_bytes().to_vec())
    });
    engine.register_fn("u32_le", |v: i64| -> HelperResult<Blob> {
        u32_of(v).map(|v| v.to_le_bytes().to_vec())
    });
    engine.register_fn("hex", |text: &str| -> HelperResult<Blob> {
        parse_hex(text).map_err(|e| t!("script.helper.hex", error = e).into_owned().into())
    });
    engine.register_fn("to_hex", |b: Blob| format_hex(&b));
    engine.register_fn("text", move |b: Blob| encoding.decode_lossy(&b));
    engine.register_fn("blob", move |text: &str| -> Blob {
        encoding.encode_text(text)
    });
    // The type's name in Rhai's messages ("on_receive returned a Later…").
    let later = "Later"; // i18n-exempt: a type name of the script language
    engine.register_type_with_name::<Later>(later);
    engine.register_fn("after", |ms: i64, answer: Dynamic| -> HelperResult<Later> {
        match u64::try_from(ms) {
            Ok(delay_ms) if delay_ms <= MAX_DELAY_MS => Ok(Later { delay_ms, answer }),
            _ => Err(t!("script.helper.range", value = ms, max = MAX_DELAY_MS)
                .into_owned()
                .into()),
        }
    });
    engine.register_fn("decode", |b: Blob, name: &str| -> HelperResult<Map> {
        decode(&b, name)
    });
}

fn u16_of(v: i64) -> HelperResult<u16> {
    u16::try_from(v).map_err(|_| {
        t!("script.helper.range", value = v, max = u16::MAX)
            .into_owned()
            .into()
    })
}

fn u32_of(v: i64) -> HelperResult<u32> {
    u32::try_from(v).map_err(|_| {
        t!("script.helper.range", value = v, max = u32::MAX)
            .into_owned()
            .into()
    })
}

/// `bytes` decoded as the protocol named `name`: field name → shown value (the first field
/// of a name wins), and `summary`.
fn decode(bytes: &[u8], name: &str) -> HelperResult<Map> {
    let Some(protocol) = Protocol::ALL
        .into_iter()
        .find(|p| p.name().eq_ignore_ascii_case(name))
    else {
        let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
        return Err(t!(
            "script.helper.protocol",
            name = name,
            names = names.join(", ")
        )
        .into_owned()
        .into());
    };
    let decoded = protocol.decode(bytes);
    let mut map = Map::new();
    for field in decoded.all_fields() {
        map.entry(field.name.as_str().into())
            .or_insert_with(|| Dynamic::from(field.value.clone()));
    }
    let summary = "summary"; // i18n-exempt: the map key scripts read
    map.insert(summary.into(), Dynamic::from(decoded.summary));
    Ok(map)
}

/// One session's running script.
struct ScriptStage {
    script: Script,
    /// This session's engine: its `every` sets `timer`.
    engine: Engine,
    /// The top level's variables: the session's state between calls.
    scope: Scope<'static>,
    /// After an error: the session goes on, the script answers no more.
    stopped: bool,
    timer: TimerCell,
    /// The period the ticks follow (0: none), as last read from `timer`.
    period_ms: u64,
    next_due: Option<Instant>,
    /// Open streams: peer → where answers go.
    opened: BTreeMap<SocketAddr, SocketAddr>,
    /// UDP peers heard from, oldest first, each with where answers go (at most
    /// [`UDP_PEERS_MAX`]).
    heard: VecDeque<(SocketAddr, SocketAddr)>,
}

impl ScriptStage {
    /// Calls the script's `function` and turns its value into answers, each with its delay
    /// (none for `()`).
    fn call(
        &mut self,
        function: &str,
        args: impl rhai::FuncArgs,
    ) -> Result<Vec<(Duration, Vec<u8>)>, ScriptError> {
        // The top level ran when the session started; running it again would reset the
        // state. The scope keeps the changes a call makes to its variables.
        let options = CallFnOptions::new().eval_ast(false);
        let value: Dynamic = self
            .engine
            .call_fn_with_options(options, &mut self.scope, &self.script.ast, function, args)
            .map_err(|e| {
                let mut error = ScriptError::from_eval(ScriptErrorKind::Runtime, *e);
                if error.line.is_none() {
                    error.function = Some(function.to_owned());
                }
                error
            })?;
        let mut answers = Vec::new();
        collect_answers(
            value,
            function,
            Duration::ZERO,
            self.script.encoding,
            &mut answers,
        )?;
        Ok(answers)
    }

    /// Follows what `every` last set: a new period starts counting now.
    fn sync_timer(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        let period = self.timer.get();
        if period == self.period_ms {
            return;
        }
        self.period_ms = period;
        self.next_due = (period > 0).then(|| now + Duration::from_millis(period));
    }

    /// After an error: no more answers and no more ticks, and the owner is told.
    fn stop(&mut self, peer: Option<SocketAddr>, error: ScriptError) {
        self.stopped = true;
        self.next_due = None;
        self.script.sink.send(ScriptNotice::Stopped { peer, error });
    }

    /// Runs `on_connect(peer)` if the script has one; its answers go to `reply_to`.
    fn greet(&mut self, peer: SocketAddr, reply_to: SocketAddr, replies: &mut Replies) {
        if self.stopped || !self.script.has_on_connect {
            return;
        }
        match self.call(ON_CONNECT, (Dynamic::from(peer.to_string()),)) {
            Ok(answers) => {
                for (delay, bytes) in answers {
                    replies.push_to(reply_to, bytes, delay);
                }
            }
            Err(error) => self.stop(Some(peer), error),
        }
        self.sync_timer(Instant::now());
    }

    /// Remembers a UDP peer; true when it is new (not heard from among the last ones).
    fn hear(&mut self, peer: SocketAddr, reply_to: SocketAddr) -> bool {
        if self.opened.contains_key(&peer) || self.heard.iter().any(|(p, _)| *p == peer) {
            return false;
        }
        if self.heard.len() >= UDP_PEERS_MAX {
            self.heard.pop_front();
        }
        self.heard.push_back((peer, reply_to));
        true
    }
}

/// How deep arrays and `after` may nest in an answer (`[after(10, ["a", "b"])]` is 3).
const ANSWER_DEPTH_MAX: usize = 4;

/// `value` (what `function` returned) as answers: `()` none, a blob or string one, an array
/// one per item (each its own datagram on UDP), `after(ms, answer)` the answer later.
fn collect_answers(
    value: Dynamic,
    function: &str,
    delay: Duration,
    encoding: TextEncoding,
    out: &mut Vec<(Duration, Vec<u8>)>,
) -> Result<(), ScriptError> {
    fn walk(
        value: Dynamic,
        function: &str,
        delay: Duration,
        encoding: TextEncoding,
        depth: usize,
        out: &mut Vec<(Duration, Vec<u8>)>,
    ) -> Result<(), ScriptError> {
        let bad = |kind: &str| ScriptError {
            kind: ScriptErrorKind::Runtime,
            line: None,
            column: None,
            function: None,
            reason: t!("script.error.bad_answer", function = function, kind = kind).into_owned(),
        };
        if depth > ANSWER_DEPTH_MAX {
            return Err(bad(value.type_name()));
        }
        if value.is_unit() {
            return Ok(());
        }
        if value.is_blob() {
            out.extend(value.into_blob().ok().map(|b| (delay, b)));
            return Ok(());
        }
        if value.is_string() {
            out.extend(
                value
                    .into_immutable_string()
                    .ok()
                    .map(|s| (delay, encoding.encode_text(&s))),
            );
            return Ok(());
        }
        if value.is_array() {
            for item in value.into_array().unwrap_or_default() {
                walk(item, function, delay, encoding, depth + 1, out)?;
            }
            return Ok(());
        }
        let kind = value.type_name();
        match value.try_cast::<Later>() {
            Some(later) => walk(
                later.answer,
                function,
                delay + Duration::from_millis(later.delay_ms),
                encoding,
                depth + 1,
                out,
            ),
            None => Err(bad(kind)),
        }
    }
    walk(value, function, delay, encoding, 0, out)
}

/// `after(ms, answer)`: an answer to send later.
#[derive(Debug, Clone)]
struct Later {
    delay_ms: u64,
    answer: Dynamic,
}

impl Stage for ScriptStage {
    fn on_received(&mut self, record: &Record<'_>, replies: &mut Replies) {
        if self.stopped {
            return;
        }
        let reply_to = replies.reply_address();
        if self.hear(record.peer, reply_to) {
            self.greet(record.peer, reply_to, replies);
            if self.stopped {
                return;
            }
        }
        let args = (
            Dynamic::from_blob(record.bytes.to_vec()),
            Dynamic::from(record.peer.to_string()),
        );
        match self.call(ON_RECEIVE, args) {
            Ok(answers) => {
                for (delay, bytes) in answers {
                    replies.push_after(bytes, delay);
                }
            }
            Err(error) => self.stop(Some(record.peer), error),
        }
        self.sync_timer(Instant::now());
    }

    fn on_opened(&mut self, _local: SocketAddr, peer: SocketAddr, replies: &mut Replies) {
        let reply_to = replies.reply_address();
        self.opened.insert(peer, reply_to);
        self.greet(peer, reply_to, replies);
    }

    fn on_closed(&mut self, _local: SocketAddr, peer: SocketAddr, _time_us: u64) {
        self.opened.remove(&peer);
    }

    fn next_tick(&self) -> Option<Instant> {
        self.next_due
    }

    fn on_tick(&mut self, now: Instant, replies: &mut Replies) {
        let Some(due) = self.next_due else {
            return;
        };
        if self.stopped || due > now {
            return;
        }
        // The next tick follows the period, not this call's lateness; one missed by far
        // is skipped, not made up in a burst.
        let period = Duration::from_millis(self.period_ms);
        let next = due + period;
        self.next_due = Some(if next > now { next } else { now + period });
        match self.call(ON_TIMER, ()) {
            Ok(answers) => {
                let peers: Vec<SocketAddr> = self
                    .opened
                    .values()
                    .chain(self.heard.iter().map(|(_, to)| to))
                    .copied()
                    .collect();
                for (delay, bytes) in answers {
                    for to in &peers {
                        replies.push_to(*to, bytes.clone(), delay);
                    }
                }
            }
            Err(error) => self.stop(None, error),
        }
        if !self.stopped {
            self.sync_timer(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(source: &str, requests: &[&[u8]]) -> (Vec<Vec<u8>>, Vec<ScriptNotice>) {
        let (script, reports) = Script::compile(source, TextEncoding::Utf8).unwrap();
        let mut stage = script.start();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut replies = Replies::default();
        replies.address(peer);
        for bytes in requests {
            let record = Record {
                peer,
                local: peer,
                direction: super::super::Direction::Received,
                time_us: 0,
                bytes,
            };
            stage.on_received(&record, &mut replies);
        }
        let answers = replies.take().into_iter().map(|(_, b)| b).collect();
        (answers, reports.take(100))
    }

    #[test]
    fn a_counter_persists_between_calls() {
        let (answers, notices) = run(
            "let count = 0;\nfn on_receive(data, peer) { count += 1; `${count}` }",
            &[b"a", b"b", b"c"],
        );
        assert_eq!(answers, vec![b"1".to_vec(), b"2".to_vec(), b"3".to_vec()]);
        assert!(notices.is_empty(), "{notices:?}");
    }

    #[test]
    fn helpers_build_frames() {
        let (answers, _) = run(
            "fn on_receive(data, peer) { let b = hex(\"01 03\") + u16_be(258); b + u16_le(crc16_modbus(b)) }",
            &[b"x"],
        );
        let body = [1u8, 3, 1, 2];
        let crc = ChecksumKind::Crc16Modbus.value(&body) as u16;
        let mut want = body.to_vec();
        want.extend(crc.to_le_bytes());
        assert_eq!(answers, vec![want]);
    }

    #[test]
    fn arrays_and_after_give_several_answers_some_later() {
        let (script, _reports) = Script::compile(
            "fn on_receive(data, peer) { [\"a\", after(200, [\"b\", hex(\"00\")])] }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let peer: SocketAddr = "127.0.0.1:9".parse().unwrap();
        let mut replies = Replies::default();
        replies.address(peer);
        let record = Record {
            peer,
            local: peer,
            direction: super::super::Direction::Received,
            time_us: 0,
            bytes: b"x",
        };
        stage.on_received(&record, &mut replies);
        assert_eq!(replies.take(), vec![(peer, b"a".to_vec())]);
        let later = Duration::from_millis(200);
        assert_eq!(
            replies.take_delayed(),
            vec![(later, peer, b"b".to_vec()), (later, peer, vec![0])]
        );
        assert!(check("fn on_receive(d, p) { after(-1, \"x\") }").is_ok());
    }

    fn peer_at(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn received(peer: SocketAddr, bytes: &[u8]) -> Record<'_> {
        Record {
            peer,
            local: peer,
            direction: super::super::Direction::Received,
            time_us: 0,
            bytes,
        }
    }

    #[test]
    fn on_connect_greets_each_stream_and_the_timer_answers_every_open_one() {
        let (script, reports) = Script::compile(
            "let ticks = 0;\nevery(50);\nfn on_connect(peer) { `hi ${peer}` }\nfn on_receive(data, peer) { () }\nfn on_timer() { ticks += 1; if ticks == 2 { every(0); } `tick ${ticks}` }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let (a, b) = (peer_at(1), peer_at(2));
        let mut replies = Replies::default();
        for p in [a, b] {
            replies.address(p);
            stage.on_opened(p, p, &mut replies);
        }
        assert_eq!(
            replies.take(),
            vec![
                (a, b"hi 127.0.0.1:1".to_vec()),
                (b, b"hi 127.0.0.1:2".to_vec())
            ]
        );
        let first = stage
            .next_tick()
            .expect("every(50) at the top level starts the timer");
        stage.on_tick(
            first.checked_sub(Duration::from_millis(1)).unwrap(),
            &mut replies,
        );
        assert!(replies.take().is_empty(), "not due yet");
        stage.on_tick(first, &mut replies);
        assert_eq!(
            replies.take(),
            vec![(a, b"tick 1".to_vec()), (b, b"tick 1".to_vec())]
        );
        let second = stage.next_tick().unwrap();
        assert_eq!(second, first + Duration::from_millis(50), "no drift");
        stage.on_closed(b, b, 0);
        stage.on_tick(second, &mut replies);
        assert_eq!(replies.take(), vec![(a, b"tick 2".to_vec())], "b closed");
        assert_eq!(stage.next_tick(), None, "every(0) stopped the timer");
        assert!(reports.take(10).is_empty());
    }

    #[test]
    fn a_tick_missed_by_far_is_skipped_not_made_up() {
        let (script, _reports) = Script::compile(
            "every(10);\nfn on_receive(data, peer) { () }\nfn on_timer() { \"t\" }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let first = stage.next_tick().unwrap();
        let late = first + Duration::from_secs(1);
        let mut replies = Replies::default();
        stage.on_tick(late, &mut replies);
        assert_eq!(stage.next_tick(), Some(late + Duration::from_millis(10)));
        assert!(
            replies.take().is_empty(),
            "no peer: the answer goes nowhere"
        );
    }

    #[test]
    fn a_udp_peer_is_greeted_once_when_first_heard_and_gets_the_ticks() {
        let (script, _reports) = Script::compile(
            "every(20);\nfn on_connect(peer) { \"welcome\" }\nfn on_receive(data, peer) { data }\nfn on_timer() { \"t\" }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let p = peer_at(7);
        let mapped: SocketAddr = "[::ffff:127.0.0.1]:7".parse().unwrap();
        let mut replies = Replies::default();
        replies.address(mapped);
        stage.on_received(&received(p, b"a"), &mut replies);
        stage.on_received(&received(p, b"b"), &mut replies);
        assert_eq!(
            replies.take(),
            vec![
                (mapped, b"welcome".to_vec()),
                (mapped, b"a".to_vec()),
                (mapped, b"b".to_vec())
            ]
        );
        let due = stage.next_tick().unwrap();
        stage.on_tick(due, &mut replies);
        assert_eq!(
            replies.take(),
            vec![(mapped, b"t".to_vec())],
            "to the address answers go"
        );
    }

    #[test]
    fn the_oldest_udp_peer_is_forgotten_first() {
        let (script, _reports) = Script::compile(
            "let n = 0;\nfn on_connect(peer) { n += 1; () }\nfn on_receive(data, peer) { `${n}` }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let mut replies = Replies::default();
        for port in 0..=UDP_PEERS_MAX as u16 {
            replies.address(peer_at(port));
            stage.on_received(&received(peer_at(port), b"x"), &mut replies);
        }
        replies.address(peer_at(0));
        stage.on_received(&received(peer_at(0), b"x"), &mut replies);
        let last = replies.take().pop().unwrap().1;
        assert_eq!(last, (UDP_PEERS_MAX as u64 + 2).to_string().into_bytes());
    }

    #[test]
    fn timer_mistakes_are_refused_or_stop_the_script() {
        let e = check("every(100);\nfn on_receive(data, peer) { () }").unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::Start);
        assert!(e.reason.contains("on_timer"), "{e}");
        let e =
            check("every(5);\nfn on_receive(data, peer) { () }\nfn on_timer() { () }").unwrap_err();
        assert!(e.reason.contains(&TIMER_MIN_MS.to_string()), "{e}");
        assert_eq!(e.line, Some(1), "{e}");
        let (script, reports) = Script::compile(
            "every(10);\nfn on_receive(data, peer) { () }\nfn on_timer() {\n  42\n}",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut stage = script.start();
        let due = stage.next_tick().unwrap();
        stage.on_tick(due, &mut Replies::default());
        assert_eq!(stage.next_tick(), None, "stopped: no more ticks");
        let notices = reports.take(10);
        let [ScriptNotice::Stopped { error, peer: None }] = notices.as_slice() else {
            panic!("one stop");
        };
        assert!(error.reason.contains("on_timer"), "{error}");
    }

    #[test]
    fn a_pipeline_wakes_for_the_timer_and_takes_its_answers() {
        let (script, _reports) = Script::compile(
            "every(20);\nfn on_connect(peer) { \"hello\" }\nfn on_receive(data, peer) { () }\nfn on_timer() { \"tick\" }",
            TextEncoding::Utf8,
        )
        .unwrap();
        let mut spec = PipelineSpec::default();
        script.install(&mut spec);
        let mut pipeline = super::super::Pipeline::new(&spec);
        let p = peer_at(9);
        pipeline.see_opened(p);
        assert_eq!(pipeline.take_replies(), vec![(p, b"hello".to_vec())]);
        let due = pipeline
            .next_reply_due()
            .expect("the timer counts as a reply due");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < due && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(pipeline.take_replies(), vec![(p, b"tick".to_vec())]);
        assert!(pipeline.next_reply_due().is_some_and(|d| d > due));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let e = check("let a = 1;\nfn on_receive(data, peer) {\n  let = ;\n}").unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::Compile);
        assert_eq!(e.line, Some(3));
    }

    #[test]
    fn a_script_without_on_receive_is_refused() {
        let e = check("let a = 1;").unwrap_err();
        assert_eq!(e.kind, ScriptErrorKind::Start);
    }

    #[test]
    fn a_runtime_error_stops_the_script_with_its_line() {
        let (answers, notices) = run(
            "let n = 0;\nfn on_receive(data, peer) {\n  n += 1;\n  if n == 2 { nope(); }\n  \"ok\"\n}",
            &[b"a", b"b", b"c"],
        );
        assert_eq!(answers, vec![b"ok".to_vec()], "stopped after the error");
        let [ScriptNotice::Stopped { error, .. }] = notices.as_slice() else {
            panic!("{notices:?}");
        };
        assert_eq!(error.kind, ScriptErrorKind::Runtime);
        assert_eq!(error.line, Some(4), "{error}");
    }

    #[test]
    fn an_endless_loop_is_stopped_by_the_operation_limit() {
        let (answers, notices) = run(
            "fn on_receive(data, peer) {\n    let n = 0;\n    loop { n += 1; }\n}",
            &[b"a"],
        );
        assert!(answers.is_empty());
        let [ScriptNotice::Stopped { error, .. }] = notices.as_slice() else {
            panic!("{notices:?}");
        };
        assert!(
            error.reason.contains(&MAX_OPERATIONS.to_string()),
            "{error}"
        );
        assert!(
            error.to_string().contains("in fn on_receive"),
            "Rhai gives no line for this limit, so the function is named: {error}"
        );
    }
}
