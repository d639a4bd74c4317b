//! A capture running beside a session: the tap copies each record into a shared batch on the
//! network worker (no disk, no allocation per record once batches are warm), a named writer
//! thread takes the batch every few milliseconds and writes it through a [`FormatWriter`].
//!
//! The batch is bounded ([`CaptureLimits::in_flight_bytes`]). When the disk falls behind, the
//! worker waits for room for up to [`CaptureLimits::wait_for_room`] (so a TCP peer is slowed
//! by flow control rather than anything being lost); past that a record is dropped and
//! counted, and the status says so. When writing fails (disk full, the file removed) the
//! capture stops with a sentence and the tap lets records pass untouched: the session and its
//! log go on.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rust_i18n::t;

use super::{
    CaptureError, CaptureFormat, CaptureOptions, Direction, FormatWriter, Head, RecordKind,
    Transport, explain,
};
use crate::engine::session::{Record, Replies, Stage};

/// Bytes waiting for the writer before the worker has to wait: a second of a fast flood.
pub const IN_FLIGHT_BYTES_MAX: usize = 64 << 20;

/// How long stopping waits for the writer to put what it holds on disk.
pub const STOP_WAIT: Duration = Duration::from_secs(30);

/// A batch is handed over at once from this size; smaller ones every [`TICK`].
const HAND_OVER_AT: usize = 256 << 10;

/// How often the writer looks for records, and how often it checks the file is still there.
const TICK: Duration = Duration::from_millis(20);
const FILE_CHECK: Duration = Duration::from_secs(1);

/// The file's write buffer (a smaller one, which let segments bypass it, measured no faster:
/// writing new pages of the file is what costs).
const WRITE_BUFFER: usize = 1 << 20;

/// What a record costs in flight beyond its bytes.
const HEAD_COST: usize = std::mem::size_of::<Head>() + std::mem::size_of::<usize>();

/// How much a capture may hold in memory, and how long the worker waits for room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureLimits {
    pub in_flight_bytes: usize,
    pub wait_for_room: Duration,
}

impl Default for CaptureLimits {
    fn default() -> Self {
        Self {
            in_flight_bytes: IN_FLIGHT_BYTES_MAX,
            wait_for_room: Duration::from_secs(2),
        }
    }
}

/// Where a capture stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureState {
    Running,
    /// Stopped by its owner (or its session ended); everything taken is on disk.
    Finished,
    /// Stopped by an error: the sentence for the user.
    Failed(String),
}

/// A capture's figures, for the owner to show while it runs and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureStatus {
    pub path: PathBuf,
    pub format: CaptureFormat,
    pub state: CaptureState,
    /// Records written to the file.
    pub records: u64,
    /// Their payload bytes.
    pub payload_bytes: u64,
    /// The file's size so far.
    pub file_bytes: u64,
    /// Records the writer could not keep up with (see [`CaptureLimits`]).
    pub dropped_records: u64,
    pub dropped_bytes: u64,
}

impl CaptureStatus {
    /// One line for a status bar or the CLI's summary.
    pub fn summary(&self) -> String {
        let mut s = t!(
            "capture.explain.status",
            records = self.records,
            payload = crate::traffic::format_bytes(self.payload_bytes),
            path = self.path.display(),
            file = crate::traffic::format_bytes(self.file_bytes)
        )
        .into_owned();
        if self.dropped_records > 0 {
            s.push_str(&t!(
                "capture.explain.dropped",
                records = self.dropped_records,
                bytes = crate::traffic::format_bytes(self.dropped_bytes)
            ));
        }
        s
    }
}

#[derive(Default)]
struct Batch {
    heads: Vec<(Head, usize)>,
    bytes: Vec<u8>,
}

impl Batch {
    fn is_empty(&self) -> bool {
        self.heads.is_empty()
    }

    fn cost(&self) -> usize {
        self.bytes.len() + self.heads.len() * HEAD_COST
    }
}

#[derive(Default)]
struct Pending {
    batch: Batch,
    /// Bytes taken and not yet written (the batch, and the one being written).
    in_flight: usize,
    /// The tap was dropped (its session's worker took it off or ended).
    tap_gone: bool,
    /// The owner asked to stop.
    stop: bool,
}

struct Shared {
    pending: Mutex<Pending>,
    wake_writer: Condvar,
    room: Condvar,
    /// Set when writing failed: the tap then takes nothing.
    failed: AtomicBool,
    records: AtomicU64,
    payload_bytes: AtomicU64,
    file_bytes: AtomicU64,
    dropped_records: AtomicU64,
    dropped_bytes: AtomicU64,
    state: Mutex<CaptureState>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn set_state(&self, state: CaptureState) {
        *self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = state;
    }
}

/// Starts captures.
pub struct Capture;

impl Capture {
    /// Creates `path` and starts writing `transport` records to it in `format`.
    pub fn start(
        path: &Path,
        format: CaptureFormat,
        transport: Transport,
        options: &CaptureOptions,
    ) -> Result<(CaptureTap, CaptureHandle), CaptureError> {
        Self::start_with(path, format, transport, options, CaptureLimits::default())
    }

    /// [`Capture::start`] with other limits (tests).
    pub fn start_with(
        path: &Path,
        format: CaptureFormat,
        transport: Transport,
        options: &CaptureOptions,
        limits: CaptureLimits,
    ) -> Result<(CaptureTap, CaptureHandle), CaptureError> {
        let create = |source| CaptureError::Create {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(create)?;
        let identity = file_identity(&file);
        let mut writer = FormatWriter::new(
            format,
            BufWriter::with_capacity(WRITE_BUFFER, file),
            options,
        )
        .map_err(create)?;
        writer.flush().map_err(create)?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            wake_writer: Condvar::new(),
            room: Condvar::new(),
            failed: AtomicBool::new(false),
            records: AtomicU64::new(0),
            payload_bytes: AtomicU64::new(0),
            file_bytes: AtomicU64::new(writer.bytes_written()),
            dropped_records: AtomicU64::new(0),
            dropped_bytes: AtomicU64::new(0),
            state: Mutex::new(CaptureState::Running),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            let owned = path.to_path_buf();
            std::thread::Builder::new()
                .name("capture-writer".to_owned())
                .spawn(move || write_loop(&shared, writer, &owned, identity))
                .map_err(|source| CaptureError::Thread {
                    path: path.to_path_buf(),
                    source,
                })?
        };
        let tap = CaptureTap {
            shared: Arc::clone(&shared),
            transport,
            limits,
        };
        let handle = CaptureHandle {
            shared,
            thread: Some(thread),
            path: path.to_path_buf(),
            format,
        };
        Ok((tap, handle))
    }
}

/// The pipeline stage of a capture, on the session's worker.
pub struct CaptureTap {
    shared: Arc<Shared>,
    transport: Transport,
    limits: CaptureLimits,
}

impl CaptureTap {
    fn take(&self, head: Head, bytes: &[u8]) {
        if self.shared.failed.load(Ordering::Relaxed) {
            return;
        }
        let cost = bytes.len() + HEAD_COST;
        let mut p = self.shared.lock();
        if p.stop {
            return;
        }
        if p.in_flight + cost > self.limits.in_flight_bytes && p.in_flight > 0 {
            let deadline = Instant::now() + self.limits.wait_for_room;
            self.shared.wake_writer.notify_one();
            while p.in_flight + cost > self.limits.in_flight_bytes
                && p.in_flight > 0
                && !p.stop
                && !self.shared.failed.load(Ordering::Relaxed)
            {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    drop(p);
                    self.shared.dropped_records.fetch_add(1, Ordering::Relaxed);
                    self.shared
                        .dropped_bytes
                        .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                    return;
                }
                p = self
                    .shared
                    .room
                    .wait_timeout(p, left)
                    .map_or_else(|e| e.into_inner().0, |(g, _)| g);
            }
            if p.stop || self.shared.failed.load(Ordering::Relaxed) {
                return;
            }
        }
        p.batch.heads.push((head, bytes.len()));
        p.batch.bytes.extend_from_slice(bytes);
        p.in_flight += cost;
        let full = p.batch.bytes.len() >= HAND_OVER_AT;
        drop(p);
        if full {
            self.shared.wake_writer.notify_one();
        }
    }

    fn head(&self, record: &Record<'_>) -> Head {
        Head {
            time_us: record.time_us,
            direction: record.direction,
            kind: RecordKind::Data,
            transport: self.transport,
            local: record.local,
            peer: record.peer,
        }
    }
}

impl Stage for CaptureTap {
    fn on_received(&mut self, record: &Record<'_>, _replies: &mut Replies) {
        self.take(self.head(record), record.bytes);
    }

    fn on_sent(&mut self, record: &Record<'_>) {
        self.take(self.head(record), record.bytes);
    }

    fn on_closed(&mut self, local: std::net::SocketAddr, peer: std::net::SocketAddr, time_us: u64) {
        if self.transport == Transport::Tcp {
            let head = Head {
                time_us,
                direction: Direction::Received,
                kind: RecordKind::Closed,
                transport: Transport::Tcp,
                local,
                peer,
            };
            self.take(head, &[]);
        }
    }
}

impl Drop for CaptureTap {
    fn drop(&mut self) {
        self.shared.lock().tap_gone = true;
        self.shared.wake_writer.notify_one();
    }
}

/// The owner's side of a capture: its status, and stop.
pub struct CaptureHandle {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    path: PathBuf,
    format: CaptureFormat,
}

impl std::fmt::Debug for CaptureHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureHandle")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl CaptureHandle {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The figures now.
    pub fn status(&self) -> CaptureStatus {
        let s = &self.shared;
        CaptureStatus {
            path: self.path.clone(),
            format: self.format,
            state: s
                .state
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
            records: s.records.load(Ordering::Relaxed),
            payload_bytes: s.payload_bytes.load(Ordering::Relaxed),
            file_bytes: s.file_bytes.load(Ordering::Relaxed),
            dropped_records: s.dropped_records.load(Ordering::Relaxed),
            dropped_bytes: s.dropped_bytes.load(Ordering::Relaxed),
        }
    }

    /// Whether the writer still runs.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Asks the capture to stop: what it took is written, later records are not taken.
    /// Returns at once; see [`CaptureHandle::wait`].
    pub fn stop(&self) {
        self.shared.lock().stop = true;
        self.shared.wake_writer.notify_one();
        self.shared.room.notify_all();
    }

    /// Waits up to `timeout` for the writer to end (after [`CaptureHandle::stop`], or once the
    /// tap is gone), and gives the final figures.
    pub fn wait(&mut self, timeout: Duration) -> CaptureStatus {
        let deadline = Instant::now() + timeout;
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(t) = self.thread.take_if(|t| t.is_finished()) {
            let _ = t.join();
        }
        self.status()
    }
}

impl Drop for CaptureHandle {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(unix)]
fn file_identity(file: &File) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    file.metadata().ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn file_identity(_file: &File) -> Option<(u64, u64)> {
    None
}

/// Whether `path` still names the file being written (it was not removed or replaced).
fn still_there(path: &Path, identity: Option<(u64, u64)>) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (std::fs::metadata(path), identity) {
            (Ok(m), Some(id)) => (m.dev(), m.ino()) == id,
            (Ok(_), None) => true,
            (Err(_), _) => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = identity;
        path.exists()
    }
}

fn write_loop(
    shared: &Shared,
    mut writer: FormatWriter<BufWriter<File>>,
    path: &Path,
    identity: Option<(u64, u64)>,
) {
    let mut spare = Batch::default();
    let mut checked = Instant::now();
    loop {
        let mut p = shared.lock();
        while p.batch.is_empty() && !p.tap_gone && !p.stop {
            p = shared
                .wake_writer
                .wait_timeout(p, TICK)
                .map_or_else(|e| e.into_inner().0, |(g, _)| g);
            if p.batch.is_empty() && checked.elapsed() >= FILE_CHECK {
                break;
            }
        }
        let ending = p.tap_gone || p.stop;
        std::mem::swap(&mut p.batch, &mut spare);
        drop(p);
        let result = write_batch(shared, &mut writer, &spare).and_then(|()| writer.flush());
        shared
            .file_bytes
            .store(writer.bytes_written(), Ordering::Relaxed);
        let cost = spare.cost();
        spare.heads.clear();
        spare.bytes.clear();
        {
            let mut p = shared.lock();
            p.in_flight = p.in_flight.saturating_sub(cost);
        }
        shared.room.notify_all();
        let result = result.and_then(|()| {
            if checked.elapsed() >= FILE_CHECK {
                checked = Instant::now();
                if !still_there(path, identity) {
                    return Err(std::io::Error::other(removed_marker()));
                }
            }
            Ok(())
        });
        if let Err(e) = result {
            fail(shared, path, &e, writer.bytes_written());
            return;
        }
        if ending && shared.lock().batch.is_empty() {
            break;
        }
    }
    // The buffer was flushed after the last batch; what the disk says at the sync (a full
    // disk on a network or lazy file system) still decides whether the file is whole.
    let synced = writer
        .finish()
        .and_then(|file| {
            file.into_inner()
                .map_err(std::io::IntoInnerError::into_error)
        })
        .and_then(|f| f.sync_data());
    match synced {
        Ok(()) => shared.set_state(CaptureState::Finished),
        Err(e) => fail(shared, path, &e, shared.file_bytes.load(Ordering::Relaxed)),
    }
}

fn removed_marker() -> &'static str {
    "the file was removed or replaced while the capture wrote it" // i18n-exempt: an internal marker, replaced by a sentence before users see it
}

fn fail(shared: &Shared, path: &Path, e: &std::io::Error, written: u64) {
    shared.failed.store(true, Ordering::Relaxed);
    let sentence = if e.to_string() == removed_marker() {
        t!(
            "capture.explain.removed",
            path = path.display(),
            written = crate::traffic::format_bytes(written)
        )
        .into_owned()
    } else {
        explain::io_sentence(path, e, written)
    };
    shared.set_state(CaptureState::Failed(sentence));
    let mut p = shared.lock();
    p.batch = Batch::default();
    p.in_flight = 0;
    drop(p);
    shared.room.notify_all();
}

fn write_batch(
    shared: &Shared,
    writer: &mut FormatWriter<BufWriter<File>>,
    batch: &Batch,
) -> std::io::Result<()> {
    let mut at = 0;
    for (head, len) in &batch.heads {
        let bytes = &batch.bytes[at..at + len];
        at += len;
        writer.write(head, bytes)?;
        shared.records.fetch_add(1, Ordering::Relaxed);
        shared
            .payload_bytes
            .fetch_add(*len as u64, Ordering::Relaxed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::Direction;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sockpit-capture-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn record(bytes: &[u8], direction: Direction) -> Record<'_> {
        Record {
            peer: "127.0.0.2:7000".parse().unwrap(),
            local: "127.0.0.1:5000".parse().unwrap(),
            direction,
            time_us: 1,
            bytes,
        }
    }

    #[test]
    fn a_text_capture_holds_every_record_after_the_tap_is_dropped() {
        let dir = scratch("text");
        let path = dir.join("c.txt");
        let (mut tap, mut handle) = Capture::start(
            &path,
            CaptureFormat::Text,
            Transport::Udp,
            &CaptureOptions::default(),
        )
        .unwrap();
        let mut replies = Replies::default();
        for i in 0..1000u32 {
            tap.on_received(
                &record(format!("n{i}").as_bytes(), Direction::Received),
                &mut replies,
            );
        }
        drop(tap);
        let status = handle.wait(STOP_WAIT);
        assert_eq!(status.state, CaptureState::Finished);
        assert_eq!(status.records, 1000);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(" n0\n") && text.contains(" n999\n"));
        assert_eq!(status.file_bytes, text.len() as u64);
    }

    #[test]
    fn a_removed_file_stops_the_capture_with_a_sentence_and_the_tap_lets_records_pass() {
        let dir = scratch("removed");
        let path = dir.join("gone.pcapng");
        let (mut tap, mut handle) = Capture::start(
            &path,
            CaptureFormat::Pcapng,
            Transport::Udp,
            &CaptureOptions::default(),
        )
        .unwrap();
        std::fs::remove_file(&path).unwrap();
        let mut replies = Replies::default();
        let deadline = Instant::now() + Duration::from_secs(10);
        while handle.is_running() && Instant::now() < deadline {
            tap.on_received(&record(b"x", Direction::Received), &mut replies);
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = handle.wait(Duration::from_secs(1));
        match status.state {
            CaptureState::Failed(s) => assert!(s.contains("removed"), "{s}"),
            other => panic!("{other:?}"),
        }
        tap.on_received(&record(b"after", Direction::Received), &mut replies);
    }

    #[test]
    fn a_writer_that_cannot_keep_up_counts_what_it_dropped() {
        let dir = scratch("slow");
        let path = dir.join("slow.csv");
        let limits = CaptureLimits {
            in_flight_bytes: 1,
            wait_for_room: Duration::ZERO,
        };
        let (mut tap, mut handle) = Capture::start_with(
            &path,
            CaptureFormat::Csv,
            Transport::Udp,
            &CaptureOptions::default(),
            limits,
        )
        .unwrap();
        let mut replies = Replies::default();
        for _ in 0..200 {
            tap.on_received(&record(&[7u8; 100], Direction::Received), &mut replies);
        }
        drop(tap);
        let status = handle.wait(STOP_WAIT);
        assert_eq!(status.records + status.dropped_records, 200);
        assert!(status.dropped_records > 0);
        assert_eq!(status.dropped_bytes, status.dropped_records * 100);
        assert!(
            status.summary().contains("NOT captured"),
            "{}",
            status.summary()
        );
    }
}
