//! The mutation engine behind `tests/fuzz_targets.rs`: no instrumentation, no extra crate.
//!
//! Each target starts from its corpus (files kept in the repository, plus inputs made by the
//! code under test, such as a default settings file), runs every entry once as it is, then
//! runs mutations of them: bit flips, interesting bytes and words, inserted, deleted and
//! duplicated ranges, splices of two entries, truncation, random tails, tokens of the
//! target's grammar, and now and then bytes that owe nothing to the corpus. A `SplitMix64`
//! generator seeded by the target's name makes every run of a target the same sequence.
//!
//! Without coverage, what a target "finds" is approximated by what its code did: each target
//! returns a signature of its outcome (which error, how many fields, ...), and an input with
//! a signature not seen before joins the corpus (up to [`GROW_MAX`] of them).
//!
//! A panic is caught per input: the input goes to `target/fuzz-crashes/<target>/<hash>.bin`
//! and the target's test fails naming it. Replay one with
//! `SOCKPIT_FUZZ_REPLAY=target/fuzz-crashes/<target>/<hash>.bin cargo test --test
//! fuzz_targets <target>`, which runs only that file, with the panic printed as usual.
//!
//! Budgets: `SOCKPIT_FUZZ_SECS` (seconds per target) or `SOCKPIT_FUZZ_EXECS` (inputs per
//! target); without either, [`DEFAULT_EXECS`], so `cargo test` stays quick. With
//! `SOCKPIT_FUZZ_REPORT=FILE`, each target appends a row to a TSV file (`scripts/fuzz.sh`).

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};
use std::io::Write as _;
use std::panic::{AssertUnwindSafe, PanicHookInfo};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Inputs per target when no budget is set: a few seconds for the whole file.
pub const DEFAULT_EXECS: u64 = 2_000;

/// Most inputs a run adds to a target's corpus.
pub const GROW_MAX: usize = 256;

/// Longest input unless the target says otherwise.
pub const DEFAULT_MAX_LEN: usize = 4096;

/// Most crashes kept per target before it stops (the first ones are what matter).
const CRASHES_MAX: usize = 5;

/// Where a target's corpus comes from, besides `tests/fixtures/fuzz/<target>/`.
#[derive(Debug, Clone, Copy)]
pub enum Seed {
    /// One file, as bytes.
    File(&'static str),
    /// Every file of a directory, as the bytes it describes: `.hex` files are hex with `#`
    /// comment lines, `.http` files are text whose line ends become CRLF, others as bytes.
    Wire(&'static str),
}

/// One fuzz target: a parser fed outside bytes.
pub struct Target {
    pub name: &'static str,
    /// Feeds the input to the code under test, asserts what must hold, and returns a
    /// signature of what happened (see the module's notes).
    pub run: fn(&[u8]) -> u64,
    pub seeds: &'static [Seed],
    /// Inputs made by the code itself (a default settings file, an export).
    pub generated: fn() -> Vec<Vec<u8>>,
    /// Tokens of the target's grammar, inserted and overwritten by mutations.
    pub dict: &'static [&'static str],
    pub max_len: usize,
}

/// Tokens every target gets: the separators and numbers parsers trip on.
const COMMON_TOKENS: &[&str] = &[
    "\n",
    "\r\n",
    "\0",
    " ",
    ":",
    "/",
    ",",
    ".",
    "\\",
    "\"",
    "[",
    "]",
    "{",
    "}",
    "{{",
    "}}",
    "0x",
    "-1",
    "0",
    "255",
    "256",
    "65535",
    "65536",
    "4294967295",
    "18446744073709551615",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "é",
    "温度",
    "\u{FEFF}",
    "\u{FFFD}",
];

const INTERESTING_BYTES: [u8; 12] = [
    0x00, 0x01, 0x7F, 0x80, 0xFF, 0xFE, 0x20, 0x0A, 0x0D, 0x5C, 0x7B, 0xC0,
];

const INTERESTING_WORDS: [u32; 10] = [
    0,
    1,
    0x7F,
    0x80,
    0xFF,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
];

/// `SplitMix64`: small, fast and the same everywhere.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next_u64() % n as u64) as usize
        }
    }

    pub fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    pub fn byte(&mut self) -> u8 {
        self.next_u64() as u8
    }
}

/// FNV-1a: names crash files and seeds generators.
pub fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xCBF2_9CE4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    })
}

/// A signature of anything hashable (std's hasher: fixed keys, the same every run).
pub fn sig(value: impl Hash) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// A signature of an error sentence: its start without digits, so the same error at another
/// position or with another number is not new.
pub fn sig_text(text: &str) -> u64 {
    let shape: String = text
        .chars()
        .filter(|c| !c.is_ascii_digit())
        .take(24)
        .collect();
    sig(shape)
}

/// 0, 1, 2-3, 4-7, ...: lengths and counts as a signature sees them.
pub fn bucket(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

/// The input cut at its first NUL byte: a spec and the data it runs on.
pub fn split0(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| manifest_dir().join("target"), PathBuf::from)
}

/// The bytes a `.hex` fixture describes: hex digits, `#` lines are comments.
fn hex_file(text: &str) -> Option<Vec<u8>> {
    let hex: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ");
    sockpit::codec::hex::parse_hex(&hex).ok()
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The target's corpus: its own directory, its seeds, its generated inputs, each once.
fn load_corpus(target: &Target) -> Vec<Vec<u8>> {
    let root = manifest_dir();
    let mut out: Vec<Vec<u8>> = Vec::new();
    let own = root.join("tests/fixtures/fuzz").join(target.name);
    for file in files_in(&own) {
        if let Ok(bytes) = std::fs::read(&file) {
            out.push(bytes);
        }
    }
    for seed in target.seeds {
        match *seed {
            Seed::File(file) => {
                let bytes = std::fs::read(root.join(file));
                assert!(bytes.is_ok(), "{}: seed {file} is missing", target.name);
                out.extend(bytes.ok());
            }
            Seed::Wire(dir) => {
                for file in files_in(&root.join(dir)) {
                    let Ok(text) = std::fs::read_to_string(&file) else {
                        continue;
                    };
                    match file.extension().and_then(|e| e.to_str()) {
                        Some("hex") => out.extend(hex_file(&text)),
                        Some("http") => out.push(text.replace('\n', "\r\n").into_bytes()),
                        Some("md") => {}
                        _ => out.push(text.into_bytes()),
                    }
                }
            }
        }
    }
    out.extend((target.generated)());
    for entry in &mut out {
        entry.truncate(target.max_len);
    }
    let mut seen = HashSet::new();
    out.retain(|e| seen.insert(e.clone()));
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// How long a target runs.
#[derive(Debug, Clone, Copy)]
enum Budget {
    Secs(f64),
    Execs(u64),
}

impl Budget {
    fn from_env() -> Self {
        let secs = std::env::var("SOCKPIT_FUZZ_SECS")
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s > 0.0);
        let execs = std::env::var("SOCKPIT_FUZZ_EXECS")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .filter(|n| *n > 0);
        match (secs, execs) {
            (Some(s), _) => Self::Secs(s),
            (None, Some(n)) => Self::Execs(n),
            (None, None) => Self::Execs(DEFAULT_EXECS),
        }
    }

    fn done(self, execs: u64, started: Instant) -> bool {
        match self {
            // The clock is read every 16 inputs: cheap targets run in microseconds.
            Self::Secs(s) => execs.is_multiple_of(16) && started.elapsed().as_secs_f64() >= s,
            Self::Execs(n) => execs >= n,
        }
    }
}

/// Mutates `input` in place, with `other` (another corpus entry) for splices.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], dict: &[&str], max_len: usize) {
    let rounds = 1 << rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        match rng.below(13) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = INTERESTING_BYTES[rng.below(INTERESTING_BYTES.len())];
            }
            2 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.byte();
            }
            3 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.byte()).collect();
                input.splice(at..at, bytes);
            }
            4 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                input.drain(at..at + n);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(256));
                let copy = input[at..at + n].to_vec();
                let to = rng.below(len + 1);
                input.splice(to..to, copy);
            }
            6 => {
                // This entry's start, the other's end.
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                input.truncate(cut);
                input.extend_from_slice(&other[from..]);
            }
            7 if len > 0 => input.truncate(rng.below(len)),
            8 => {
                let n = 1 + rng.below(32);
                input.extend((0..n).map(|_| rng.byte()));
            }
            9 | 10 => {
                let tokens = if dict.is_empty() || rng.chance(3) {
                    COMMON_TOKENS
                } else {
                    dict
                };
                let token = tokens[rng.below(tokens.len())].as_bytes();
                let at = rng.below(len + 1);
                if rng.chance(2) {
                    input.splice(at..at, token.iter().copied());
                } else {
                    let end = (at + token.len()).min(len);
                    input.splice(at..end, token.iter().copied());
                }
            }
            11 if len > 0 => {
                let i = rng.below(len);
                let delta = 1 + rng.below(16) as u8;
                input[i] = if rng.chance(2) {
                    input[i].wrapping_add(delta)
                } else {
                    input[i].wrapping_sub(delta)
                };
            }
            12 if len > 0 => {
                let word = INTERESTING_WORDS[rng.below(INTERESTING_WORDS.len())];
                let bytes = if rng.chance(2) {
                    word.to_be_bytes()
                } else {
                    word.to_le_bytes()
                };
                let width = [1, 2, 4][rng.below(3)];
                let bytes = if rng.chance(2) {
                    &bytes[4 - width..]
                } else {
                    &bytes[..width]
                };
                let at = rng.below(len);
                let end = (at + width).min(len);
                input.splice(at..end, bytes.iter().copied());
            }
            _ => {}
        }
        input.truncate(max_len);
    }
}

/// Bytes that owe nothing to the corpus: raw, or text from the grammar's tokens.
fn random_input(rng: &mut Rng, dict: &[&str], max_len: usize) -> Vec<u8> {
    let len = rng.below(max_len.min(512) + 1);
    if rng.chance(2) {
        return (0..len).map(|_| rng.byte()).collect();
    }
    let mut out = Vec::new();
    while out.len() < len {
        if rng.chance(3) {
            let tokens = if dict.is_empty() { COMMON_TOKENS } else { dict };
            out.extend_from_slice(tokens[rng.below(tokens.len())].as_bytes());
        } else {
            out.push(0x20 + rng.below(0x5F) as u8);
        }
    }
    out.truncate(max_len);
    out
}

type Hook = Arc<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// The hook that was there before any target ran, and how many targets run now.
static HOOK: Mutex<(usize, Option<Hook>)> = Mutex::new((0, None));

thread_local! {
    /// This thread runs inputs: its panics are kept, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
    /// Where and why the last quiet panic happened.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// While alive, panics on this thread are recorded instead of printed; the hook that was
/// there before comes back when the last running target ends.
struct Quiet;

impl Quiet {
    fn enter() -> Self {
        let mut hook = HOOK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if hook.0 == 0 {
            let previous: Hook = Arc::from(std::panic::take_hook());
            let chained = Arc::clone(&previous);
            std::panic::set_hook(Box::new(move |info| {
                if QUIET.get() {
                    LAST_PANIC.set(Some(info.to_string()));
                } else {
                    chained(info);
                }
            }));
            hook.1 = Some(previous);
        }
        hook.0 += 1;
        QUIET.set(true);
        Self
    }
}

impl Drop for Quiet {
    fn drop(&mut self) {
        QUIET.set(false);
        let mut hook = HOOK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        hook.0 -= 1;
        if hook.0 == 0
            && let Some(previous) = hook.1.take()
        {
            std::panic::set_hook(Box::new(move |info| previous(info)));
        }
    }
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    LAST_PANIC.take().unwrap_or_else(|| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}

/// What one target's run did.
pub struct Outcome {
    pub execs: u64,
    pub elapsed: Duration,
    pub crashes: Vec<(PathBuf, String)>,
    pub corpus_start: usize,
    pub corpus_end: usize,
    pub slowest: Duration,
}

static REPORT: Mutex<()> = Mutex::new(());

fn report(target: &Target, o: &Outcome) {
    let secs = o.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        o.execs as f64 / secs
    } else {
        0.0
    };
    eprintln!(
        "fuzz {}: {} execs in {secs:.1} s ({rate:.0}/s), {} crashes, corpus {} -> {}, slowest input {:.1} ms",
        target.name,
        o.execs,
        o.crashes.len(),
        o.corpus_start,
        o.corpus_end,
        o.slowest.as_secs_f64() * 1000.0
    );
    let Some(path) = std::env::var_os("SOCKPIT_FUZZ_REPORT") else {
        return;
    };
    let _lock = REPORT
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let path = PathBuf::from(path);
    let new = std::fs::metadata(&path).map_or(true, |m| m.len() == 0);
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap();
    let mut row = String::new();
    if new {
        row.push_str(
            "target\texecs\tsecs\texecs_per_s\tcrashes\tcorpus_start\tcorpus_end\tslowest_ms\n",
        );
    }
    let _ = writeln!(
        row,
        "{}\t{}\t{secs:.1}\t{rate:.0}\t{}\t{}\t{}\t{:.1}",
        target.name,
        o.execs,
        o.crashes.len(),
        o.corpus_start,
        o.corpus_end,
        o.slowest.as_secs_f64() * 1000.0
    );
    file.write_all(row.as_bytes()).unwrap();
}

fn save_crash(target: &Target, input: &[u8]) -> PathBuf {
    let dir = target_dir().join("fuzz-crashes").join(target.name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{:016x}.bin", fnv(input)));
    std::fs::write(&path, input).unwrap();
    path
}

/// Runs `target` for its budget, or only the file in `SOCKPIT_FUZZ_REPLAY`, and fails if
/// any input made it panic.
pub fn fuzz(target: &Target) {
    if let Some(file) = std::env::var_os("SOCKPIT_FUZZ_REPLAY") {
        let input = std::fs::read(&file).unwrap();
        (target.run)(&input);
        return;
    }
    let budget = Budget::from_env();
    let seed = std::env::var("SOCKPIT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let mut rng = Rng::new(fnv(target.name.as_bytes()) ^ seed);
    let mut corpus = load_corpus(target);
    let corpus_start = corpus.len();
    let mut signatures = HashSet::new();
    let mut crashes: Vec<(PathBuf, String)> = Vec::new();
    let mut slowest = Duration::ZERO;
    let mut slowest_input = Vec::new();
    let mut execs = 0u64;
    let started = Instant::now();
    let quiet = Quiet::enter();
    // Once untimed, so tables built on first use do not count as the slowest input.
    let _ = std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&corpus[0])));
    LAST_PANIC.take();
    while !budget.done(execs, started) {
        let input = if (execs as usize) < corpus_start {
            corpus[execs as usize].clone()
        } else if rng.chance(16) {
            random_input(&mut rng, target.dict, target.max_len)
        } else {
            let mut input = corpus[rng.below(corpus.len())].clone();
            let other = &corpus[rng.below(corpus.len())];
            mutate(&mut rng, &mut input, other, target.dict, target.max_len);
            input
        };
        let t0 = Instant::now();
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| (target.run)(&input)));
        let took = t0.elapsed();
        if took > slowest {
            slowest = took;
            slowest_input.clone_from(&input);
        }
        execs += 1;
        match result {
            Ok(signature) => {
                if signatures.insert(signature) && corpus.len() < corpus_start + GROW_MAX {
                    corpus.push(input);
                }
            }
            Err(payload) => {
                let why = panic_text(payload.as_ref());
                let path = save_crash(target, &input);
                crashes.push((path, why));
                if crashes.len() >= CRASHES_MAX {
                    break;
                }
            }
        }
    }
    drop(quiet);
    // The slowest input, to look at (a parser that is slow on some input is worth knowing).
    let slow_dir = target_dir().join("fuzz-slowest");
    if std::fs::create_dir_all(&slow_dir).is_ok() {
        let _ = std::fs::write(
            slow_dir.join(format!("{}.bin", target.name)),
            &slowest_input,
        );
    }
    let outcome = Outcome {
        execs,
        elapsed: started.elapsed(),
        crashes,
        corpus_start,
        corpus_end: corpus.len(),
        slowest,
    };
    report(target, &outcome);
    if !outcome.crashes.is_empty() {
        let list: Vec<String> = outcome
            .crashes
            .iter()
            .map(|(path, why)| format!("  {}\n    {why}", path.display()))
            .collect();
        panic!(
            "fuzz target {} crashed on {} input(s):\n{}",
            target.name,
            outcome.crashes.len(),
            list.join("\n")
        );
    }
}
