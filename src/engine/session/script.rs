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
//! - Not offered: `on_connect` and `every(ms)`/`on_timer`. The pipeline gives stages no
//!   event when a client connects and no tick of their own, only records, sends and
//!   closes; a script answers what it receives (`after` is the one timer: a reply later).
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

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

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
/// loop, far more than any answer needs. Rhai reports this limit without a line.
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

/// What went wrong with a script, where its source says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub kind: ScriptErrorKind,
    /// 1-based line and column in the script, when the error has a place.
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// Rhai's description (in English) or ours.
    pub reason: String,
}

/// When a [`ScriptError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptErrorKind {
    /// The text is not a script (a syntax error), or is too long.
    Compile,
    /// It compiled but cannot serve: no `on_receive(data, peer)`, or its top level failed.
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
            _ => String::new(),
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
    engine: Arc<Engine>,
    ast: Arc<AST>,
    sink: NoticeSink,
    /// The session's text encoding: strings a script answers with are sent in it.
    encoding: TextEncoding,
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
        let ast = checked_ast(&build_engine(encoding, None), source)?;
        let engine = build_engine(encoding, Some(sink.clone()));
        let script = Self {
            engine: Arc::new(engine),
            ast: Arc::new(ast),
            sink,
            encoding,
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

    /// A new session's stage: the top level run into a fresh scope.
    fn start(&self) -> ScriptStage {
        let mut scope = Scope::new();
        let stopped = match self.engine.run_ast_with_scope(&mut scope, &self.ast) {
            Ok(()) => false,
            Err(e) => {
                self.sink.send(ScriptNotice::Stopped {
                    peer: None,
                    error: ScriptError::from_eval(ScriptErrorKind::Start, *e),
                });
                true
            }
        };
        ScriptStage {
            script: self.clone(),
            scope,
            stopped,
        }
    }
}

/// Whether `source` would run, for an editor to show the error beside the text as it is
/// typed (the same checks as [`Script::compile`]).
pub fn check(source: &str) -> Result<(), ScriptError> {
    checked_ast(&build_engine(TextEncoding::Utf8, None), source).map(|_| ())
}

/// `source` compiled, with an `on_receive(data, peer)` and a top level that runs.
fn checked_ast(engine: &Engine, source: &str) -> Result<AST, ScriptError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(ScriptError {
            kind: ScriptErrorKind::Compile,
            line: None,
            column: None,
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
    let has_handler = ast
        .iter_functions()
        .any(|f| f.name == ON_RECEIVE && f.params.len() == 2);
    if !has_handler {
        return Err(ScriptError {
            kind: ScriptErrorKind::Start,
            line: None,
            column: None,
            reason: t!("script.error.no_handler").into_owned(),
        });
    }
    engine
        .run_ast_with_scope(&mut Scope::new(), &ast)
        .map_err(|e| ScriptError::from_eval(ScriptErrorKind::Start, *e))?;
    Ok(ast)
}

/// An engine with the limits, the helpers, and `print` going to `sink` (or nowhere).
fn build_engine(encoding: TextEncoding, sink: Option<NoticeSink>) -> Engine {
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
    /// The top level's variables: the session's state between calls.
    scope: Scope<'static>,
    /// After an error: the session goes on, the script answers no more.
    stopped: bool,
}

impl ScriptStage {
    /// The script's answer to one record, as bytes to send (none for `()`).
    /// The script's answers to one record, each with its delay (none for `()`).
    fn answer(&mut self, record: &Record<'_>) -> Result<Vec<(Duration, Vec<u8>)>, ScriptError> {
        let args = (
            Dynamic::from_blob(record.bytes.to_vec()),
            Dynamic::from(record.peer.to_string()),
        );
        // The top level ran when the session started; running it again would reset the
        // state. The scope keeps the changes a call makes to its variables.
        let options = CallFnOptions::new().eval_ast(false);
        let value: Dynamic = self
            .script
            .engine
            .call_fn_with_options(options, &mut self.scope, &self.script.ast, ON_RECEIVE, args)
            .map_err(|e| ScriptError::from_eval(ScriptErrorKind::Runtime, *e))?;
        let mut answers = Vec::new();
        collect_answers(value, Duration::ZERO, self.script.encoding, &mut answers)?;
        Ok(answers)
    }
}

/// How deep arrays and `after` may nest in an answer (`[after(10, ["a", "b"])]` is 3).
const ANSWER_DEPTH_MAX: usize = 4;

/// `value` as answers: `()` none, a blob or string one, an array one per item (each its own
/// datagram on UDP), `after(ms, answer)` the answer later.
fn collect_answers(
    value: Dynamic,
    delay: Duration,
    encoding: TextEncoding,
    out: &mut Vec<(Duration, Vec<u8>)>,
) -> Result<(), ScriptError> {
    fn walk(
        value: Dynamic,
        delay: Duration,
        encoding: TextEncoding,
        depth: usize,
        out: &mut Vec<(Duration, Vec<u8>)>,
    ) -> Result<(), ScriptError> {
        let bad = |kind: &str| ScriptError {
            kind: ScriptErrorKind::Runtime,
            line: None,
            column: None,
            reason: t!("script.error.bad_answer", kind = kind).into_owned(),
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
                walk(item, delay, encoding, depth + 1, out)?;
            }
            return Ok(());
        }
        let kind = value.type_name();
        match value.try_cast::<Later>() {
            Some(later) => walk(
                later.answer,
                delay + Duration::from_millis(later.delay_ms),
                encoding,
                depth + 1,
                out,
            ),
            None => Err(bad(kind)),
        }
    }
    walk(value, delay, encoding, 0, out)
}

/// `after(ms, answer)`: an answer to send later (a reply timer; the pipeline gives stages
/// no tick of their own).
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
        match self.answer(record) {
            Ok(answers) => {
                for (delay, bytes) in answers {
                    replies.push_after(bytes, delay);
                }
            }
            Err(error) => {
                self.stopped = true;
                self.script.sink.send(ScriptNotice::Stopped {
                    peer: Some(record.peer),
                    error,
                });
            }
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
    }
}
