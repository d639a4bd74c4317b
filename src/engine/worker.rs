//! What every tab's worker shares: the wake-up callback, session ids and a named, panic-safe
//! thread.

use rust_i18n::t;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, SendTimeoutError, Sender, TrySendError};
use mio::{Poll, Token};

/// How a worker tells its owner there is news. The GUI fills it with
/// `ctx.request_repaint_after(16 ms)` (one display refresh), so a burst of events costs one
/// repaint; tests and the CLI pass their own.
pub type Wake = Arc<dyn Fn() + Send + Sync>;

/// A wake-up that does nothing, for owners that poll.
pub fn no_wake() -> Wake {
    Arc::new(|| {})
}

/// Identifies one session of a tab (one Connect, one Start). Events carry it, and the UI drops
/// events whose session it has already replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SessionId(pub u64);

impl SessionId {
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0 + 1)
    }
}

/// Spawns a named thread running `body`. If `body` panics, the panic is caught and its message
/// handed to `on_panic` (which reports it to the tab) instead of taking the app down.
pub fn spawn_named<F, P>(name: &str, body: F, on_panic: P) -> std::io::Result<JoinHandle<()>>
where
    F: FnOnce() + Send + 'static,
    P: FnOnce(String) + Send + 'static,
{
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| t!("engine.worker.unknown_panic").into_owned());
                on_panic(message);
            }
        })
}

/// Why a command did not reach its worker. Nothing of it was carried out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CommandRefused {
    #[error("{}", t!("engine.worker.busy"))]
    Busy,
    #[error("{}", t!("engine.worker.gone"))]
    Gone,
}

/// An event type that can report its worker's end: a panic in the worker, or a thread that is
/// gone. Every worker's `Event` implements it, so the handle and the owners' drains build the
/// report in one place.
pub trait WorkerEvent: Send + 'static {
    /// The event saying the worker failed with `message`; it belongs to no session.
    fn worker_failed(message: String) -> Self;
    /// Whether this is such a report.
    fn is_worker_failed(&self) -> bool;
}

/// Implements [`WorkerEvent`] for a worker's `Event { session, kind }` whose `EventKind` has a
/// `WorkerFailed { message }` variant, so every worker reports its end the same way.
macro_rules! impl_worker_event {
    ($event:ty, $kind:ident) => {
        impl $crate::engine::worker::WorkerEvent for $event {
            fn worker_failed(message: String) -> Self {
                Self {
                    session: $crate::engine::worker::NO_SESSION,
                    kind: $kind::WorkerFailed { message },
                }
            }

            fn is_worker_failed(&self) -> bool {
                matches!(self.kind, $kind::WorkerFailed { .. })
            }
        }
    };
}
pub(crate) use impl_worker_event;

/// The session id of events that belong to no session (a worker's failure).
pub const NO_SESSION: SessionId = SessionId(u64::MAX);

/// The mio token of the waker every readiness-loop worker registers first.
pub const WAKER_TOKEN: Token = Token(0);

/// The UI's end of a readiness-loop worker: send commands (each wakes the loop), receive
/// events; dropping it is the shutdown signal, and it joins the thread.
pub struct WorkerHandle<C, E> {
    commands: Option<Sender<C>>,
    events: Receiver<E>,
    waker: Arc<mio::Waker>,
    thread: Option<JoinHandle<()>>,
}

impl<C: Send + 'static, E: WorkerEvent> WorkerHandle<C, E> {
    /// Creates the poll, its waker, both bounded channels and the outbox, then runs `body` on
    /// a thread named `name`. A panic in `body` becomes [`WorkerEvent::worker_failed`] with its
    /// message.
    pub fn start(
        name: &str,
        capacities: (usize, usize),
        wake: Wake,
        body: impl FnOnce(Poll, Receiver<C>, Outbox<E>) + Send + 'static,
    ) -> std::io::Result<Self> {
        let poll = Poll::new()?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER_TOKEN)?);
        let (cmd_tx, cmd_rx) = crossbeam_channel::bounded(capacities.0);
        let (ev_tx, ev_rx) = crossbeam_channel::bounded(capacities.1);
        let panic_tx = ev_tx.clone();
        let panic_wake = wake.clone();
        let outbox = Outbox::new(ev_tx, wake);
        let thread = spawn_named(
            name,
            move || body(poll, cmd_rx, outbox),
            move |message| {
                // The owner may be gone too; then nobody is left to tell.
                let _ = panic_tx.send(E::worker_failed(message));
                panic_wake();
            },
        )?;
        Ok(Self {
            commands: Some(cmd_tx),
            events: ev_rx,
            waker,
            thread: Some(thread),
        })
    }

    /// Sends a command without waiting. When the queue is full or the worker is gone the
    /// command is handed back unsent, so the caller can say so where the user sees it.
    pub fn send(&self, command: C) -> Result<(), CommandRefused> {
        let Some(tx) = &self.commands else {
            return Err(CommandRefused::Gone);
        };
        let outcome = match tx.try_send(command) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) => Err(CommandRefused::Busy),
            Err(TrySendError::Disconnected(_)) => Err(CommandRefused::Gone),
        };
        let _ = self.waker.wake();
        outcome
    }

    /// Sends a command, waiting up to `timeout` for room in the queue: back-pressure for
    /// owners that produce commands faster than the worker takes them (the CLI reading
    /// standard input). The worker takes commands on every turn of its loop, also while its
    /// events wait for the owner, so the wait ends as soon as it has looked at its queue.
    pub fn send_wait(&self, command: C, timeout: Duration) -> Result<(), CommandRefused> {
        let Some(tx) = &self.commands else {
            return Err(CommandRefused::Gone);
        };
        let _ = self.waker.wake();
        let outcome = match tx.send_timeout(command, timeout) {
            Ok(()) => Ok(()),
            Err(SendTimeoutError::Timeout(_)) => Err(CommandRefused::Busy),
            Err(SendTimeoutError::Disconnected(_)) => Err(CommandRefused::Gone),
        };
        let _ = self.waker.wake();
        outcome
    }

    pub fn events(&self) -> &Receiver<E> {
        &self.events
    }
}

impl<C, E> Drop for WorkerHandle<C, E> {
    fn drop(&mut self) {
        // Dropping the sender is the shutdown signal; the waker makes the worker notice.
        self.commands = None;
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Events waiting for room in the bounded channel to the UI. Workers stop reading while it is
/// not empty, which is how TCP back-pressure reaches the peer.
///
/// It also knows how many payload bytes sit between socket and screen (queued here or still in
/// the channel), so a reader can bound that memory in bytes, not only in events: the channel
/// is first-in first-out, so the events the UI took are always the oldest ones sent.
pub struct Outbox<E> {
    queue: VecDeque<(E, usize)>,
    tx: Sender<E>,
    wake: Wake,
    /// Payload sizes of the events sent into the channel, oldest first.
    in_channel: VecDeque<usize>,
    in_channel_bytes: usize,
    queued_bytes: usize,
}

impl<E> Outbox<E> {
    pub fn new(tx: Sender<E>, wake: Wake) -> Self {
        Self {
            queue: VecDeque::new(),
            tx,
            wake,
            in_channel: VecDeque::new(),
            in_channel_bytes: 0,
            queued_bytes: 0,
        }
    }

    pub fn push(&mut self, event: E) {
        self.queue.push_back((event, 0));
    }

    /// Pushes an event carrying `bytes` of payload, counted until the UI takes it.
    pub fn push_payload(&mut self, event: E, bytes: usize) {
        self.queued_bytes += bytes;
        self.queue.push_back((event, bytes));
    }

    /// Payload bytes pushed that the UI has not taken yet.
    pub fn bytes_in_flight(&mut self) -> usize {
        let in_channel_now = self.tx.len();
        while self.in_channel.len() > in_channel_now {
            if let Some(b) = self.in_channel.pop_front() {
                self.in_channel_bytes -= b;
            }
        }
        self.in_channel_bytes + self.queued_bytes
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Events still waiting for room in the channel.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Moves events into the channel as far as it has room and wakes the UI once. Returns
    /// false when the UI is gone.
    pub fn flush(&mut self) -> bool {
        let _ = self.bytes_in_flight();
        let mut sent_any = false;
        while let Some((event, bytes)) = self.queue.pop_front() {
            match self.tx.try_send(event) {
                Ok(()) => {
                    sent_any = true;
                    self.queued_bytes -= bytes;
                    self.in_channel.push_back(bytes);
                    self.in_channel_bytes += bytes;
                }
                Err(TrySendError::Full(event)) => {
                    self.queue.push_front((event, bytes));
                    break;
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        if sent_any {
            (self.wake)();
        }
        true
    }
}

/// What a tab's drain in one frame found.
pub struct Drained {
    /// More events are waiting (a budget was reached): ask for another frame.
    pub more: bool,
    /// The worker is gone.
    pub dead: bool,
}

/// Takes events until `max_events` or `max_bytes` (as `size_of` counts them) is reached, so one
/// frame never does unbounded work, and hands each to `apply` as soon as it is taken: the
/// worker sees the room at once, and a frame's worth of data is never held twice (once taken,
/// once more refilled by the worker) while the tab files it.
pub fn drain_bounded<E>(
    events: &Receiver<E>,
    max_events: usize,
    max_bytes: usize,
    size_of: impl Fn(&E) -> usize,
    mut apply: impl FnMut(E),
) -> Drained {
    let mut taken = 0;
    let mut bytes = 0;
    let mut dead = false;
    while taken < max_events && bytes < max_bytes {
        match events.try_recv() {
            Ok(e) => {
                taken += 1;
                bytes += size_of(&e);
                apply(e);
            }
            Err(crossbeam_channel::TryRecvError::Empty) => break,
            Err(crossbeam_channel::TryRecvError::Disconnected) => {
                dead = true;
                break;
            }
        }
    }
    Drained {
        more: taken >= max_events || bytes >= max_bytes,
        dead,
    }
}

/// [`drain_bounded`] for a worker's events: when the worker is gone, the owner also gets one
/// [`WorkerEvent::worker_failed`] (and should drop its handle, so it is said once). Returns
/// true when more events are waiting.
pub fn drain_worker<E: WorkerEvent>(
    events: &Receiver<E>,
    max_events: usize,
    max_bytes: usize,
    size_of: impl Fn(&E) -> usize,
    mut apply: impl FnMut(E),
) -> bool {
    let mut failed = false;
    let drained = drain_bounded(events, max_events, max_bytes, size_of, |e| {
        failed |= e.is_worker_failed();
        apply(e);
    });
    // A panic already said why; the end of the thread after it is no news.
    if drained.dead && !failed {
        apply(E::worker_failed(t!("engine.worker.ended").into_owned()));
    }
    drained.more
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events of the test workers: only failures are reported.
    #[derive(Debug, PartialEq, Eq)]
    struct Failed(String);

    impl WorkerEvent for Failed {
        fn worker_failed(message: String) -> Self {
            Self(format!("failed: {message}"))
        }

        fn is_worker_failed(&self) -> bool {
            true
        }
    }

    #[test]
    fn panics_are_reported_not_propagated() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = spawn_named(
            "test-panic",
            || panic!("boom in worker"),
            move |msg| {
                let _ = tx.send(msg);
            },
        )
        .unwrap();
        assert!(handle.join().is_ok(), "the thread itself must end cleanly");
        assert_eq!(rx.recv().unwrap(), "boom in worker");
    }

    #[test]
    fn a_panicking_worker_becomes_an_event_and_the_handle_drops_cleanly() {
        let handle: WorkerHandle<u8, Failed> = WorkerHandle::start(
            "test-worker",
            (1, 1),
            no_wake(),
            |_poll, _commands, _outbox| panic!("worker bug"),
        )
        .unwrap();
        let event = handle
            .events()
            .recv_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        assert_eq!(event, Failed("failed: worker bug".to_owned()));
        drop(handle);
    }

    /// Item 4 of the fix-first issue: a full queue hands the command back as Busy (it was a
    /// silent `false` every caller ignored), and `send_wait` waits for room.
    #[test]
    fn a_full_command_queue_refuses_and_send_wait_waits_for_room() {
        let (release_tx, release_rx) = crossbeam_channel::bounded::<()>(1);
        let (taken_tx, taken_rx) = crossbeam_channel::bounded::<u8>(8);
        let handle: WorkerHandle<u8, Failed> = WorkerHandle::start(
            "test-busy",
            (1, 1),
            no_wake(),
            move |_poll, commands, _outbox| {
                // Busy until released, then takes every command.
                let _ = release_rx.recv();
                while let Ok(c) = commands.recv() {
                    let _ = taken_tx.send(c);
                }
            },
        )
        .unwrap();
        assert_eq!(handle.send(1), Ok(()));
        assert_eq!(handle.send(2), Err(CommandRefused::Busy));
        assert_eq!(
            handle.send_wait(2, std::time::Duration::from_millis(50)),
            Err(CommandRefused::Busy)
        );
        release_tx.send(()).unwrap();
        assert_eq!(
            handle.send_wait(3, std::time::Duration::from_secs(10)),
            Ok(())
        );
        let wait = std::time::Duration::from_secs(10);
        assert_eq!(taken_rx.recv_timeout(wait).unwrap(), 1);
        assert_eq!(taken_rx.recv_timeout(wait).unwrap(), 3);
    }

    #[test]
    fn payload_in_flight_is_counted_until_the_ui_takes_it() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let mut outbox = Outbox::new(tx, no_wake());
        outbox.push_payload("a", 100);
        outbox.push("note");
        outbox.push_payload("b", 50);
        assert_eq!(outbox.bytes_in_flight(), 150);
        assert!(outbox.flush());
        assert_eq!(outbox.len(), 1, "the channel holds two");
        assert_eq!(outbox.bytes_in_flight(), 150);
        assert_eq!(rx.recv().unwrap(), "a");
        assert_eq!(outbox.bytes_in_flight(), 50);
        assert!(outbox.flush());
        assert_eq!(rx.recv().unwrap(), "note");
        assert_eq!(rx.recv().unwrap(), "b");
        assert_eq!(outbox.bytes_in_flight(), 0);
    }

    #[test]
    fn threads_are_named() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        let handle = spawn_named(
            "sockpit-named",
            move || {
                let _ = tx.send(std::thread::current().name().map(str::to_owned));
            },
            |_| {},
        )
        .unwrap();
        handle.join().unwrap();
        assert_eq!(rx.recv().unwrap().as_deref(), Some("sockpit-named"));
    }
}
