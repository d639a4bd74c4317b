//! What every tab's worker shares: the wake-up callback, session ids and a named, panic-safe
//! thread.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

/// How a worker tells its owner there is news. The GUI fills it with
/// `ctx.request_repaint_after(10 ms)`, so a burst of events costs one repaint; tests and the
/// CLI pass their own.
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
                    .unwrap_or_else(|| "unknown panic".to_owned());
                on_panic(message);
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

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
