//! The kernel's TCP states of a session's connections, watched on a named thread of their own
//! (`tcp-states`), so the window never reads `/proc/net/tcp` on a frame.
//!
//! A session says which connections it wants ([`StateWatch::watch`], keyed by its own number)
//! and reads their timelines when it draws ([`StateWatch::timelines`]). The thread reads the
//! kernel's table every [`POLL_INTERVAL`] while some watched connection is still in it (a
//! connection in `TIME_WAIT` stays about a minute) and sleeps otherwise. Nothing is queued: the
//! thread keeps the latest timeline of each connection in one shared place, so no state seen is
//! ever dropped on the way, and the window is woken when one changes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::engine::worker::Wake;
use crate::iptools::tcp_state::{ConnId, Side, TcpStateWatcher, Timeline};

/// How often the table is read while a watched connection lives (a state that lasts less than
/// this may be missed; on loopback the handshake takes microseconds).
pub const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Connections watched at most per session; the oldest is forgotten first.
pub const MAX_WATCHED: usize = 16;

#[derive(Default)]
struct Shared {
    /// Connections asked for, by the session's key, that the thread has not taken yet.
    new: Vec<(u64, SocketAddr, SocketAddr, Side)>,
    forget: Vec<u64>,
    timelines: HashMap<u64, Timeline>,
    /// Keys in the order they were asked for.
    order: Vec<u64>,
    /// The last read error (cannot read `/proc/net/tcp`), shown instead of states.
    error: Option<String>,
    stop: bool,
}

/// A session's handle on its state watcher thread; dropping it stops the thread.
pub struct StateWatch {
    shared: Arc<(Mutex<Shared>, Condvar)>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic on the watcher thread leaves plain data behind; keep using it.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StateWatch {
    /// Starts the watcher thread; `wake` is called when a timeline changes.
    pub fn start(wake: Wake) -> std::io::Result<Self> {
        let shared = Arc::new((Mutex::new(Shared::default()), Condvar::new()));
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("tcp-states".to_owned())
            .spawn(move || run(&thread_shared, &wake))?;
        Ok(Self { shared })
    }

    /// Watches the connection from `local` to `remote` under `key` (a local address with an
    /// unspecified IP matches by port). Watching a key again replaces its connection.
    pub fn watch(&self, key: u64, local: SocketAddr, remote: SocketAddr, side: Side) {
        let (mutex, cv) = &*self.shared;
        let mut s = lock(mutex);
        s.new.push((key, local, remote, side));
        s.order.retain(|k| *k != key);
        s.order.push(key);
        while s.order.len() > MAX_WATCHED {
            let old = s.order.remove(0);
            s.timelines.remove(&old);
            s.forget.push(old);
        }
        cv.notify_one();
    }

    /// Stops watching `key` and drops its timeline.
    pub fn forget(&self, key: u64) {
        let (mutex, cv) = &*self.shared;
        let mut s = lock(mutex);
        s.order.retain(|k| *k != key);
        s.timelines.remove(&key);
        s.new.retain(|(k, ..)| *k != key);
        s.forget.push(key);
        cv.notify_one();
    }

    /// The timeline of `key` as last read (`None` before the thread took it).
    pub fn timeline(&self, key: u64) -> Option<Timeline> {
        lock(&self.shared.0).timelines.get(&key).cloned()
    }

    /// Why the table cannot be read, if it cannot.
    pub fn error(&self) -> Option<String> {
        lock(&self.shared.0).error.clone()
    }
}

impl Drop for StateWatch {
    fn drop(&mut self) {
        let (mutex, cv) = &*self.shared;
        lock(mutex).stop = true;
        cv.notify_one();
    }
}

/// The thread: take new wishes, read the table while anything lives, publish changes.
fn run(shared: &(Mutex<Shared>, Condvar), wake: &Wake) {
    let (mutex, cv) = shared;
    let mut watcher = TcpStateWatcher::new();
    // The session's key of each connection the watcher knows, and back.
    let mut ids: HashMap<u64, ConnId> = HashMap::new();
    let mut rebuild;
    loop {
        {
            let mut s = lock(mutex);
            loop {
                if s.stop {
                    return;
                }
                let live = ids
                    .values()
                    .any(|id| watcher.timeline(*id).is_some_and(|t| !t.is_gone()));
                if !s.new.is_empty() || !s.forget.is_empty() {
                    break;
                }
                if live {
                    let (guard, _) = cv
                        .wait_timeout(s, POLL_INTERVAL)
                        .unwrap_or_else(PoisonError::into_inner);
                    s = guard;
                    break;
                }
                s = cv.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            let forgotten = std::mem::take(&mut s.forget);
            rebuild = !forgotten.is_empty();
            for key in forgotten {
                ids.remove(&key);
            }
            for (key, local, remote, side) in std::mem::take(&mut s.new) {
                ids.insert(key, watcher.watch(local, remote, side));
            }
        }
        // Forgotten connections are not read again: the watcher starts afresh with the others.
        if rebuild {
            let mut fresh = TcpStateWatcher::new();
            let mut fresh_ids = HashMap::new();
            for (key, id) in &ids {
                if let Some(t) = watcher.timeline(*id) {
                    let new_id = fresh.watch(t.local, t.remote, t.side);
                    fresh_ids.insert(*key, new_id);
                    if let Some(copy) = fresh.timeline_mut(new_id) {
                        *copy = t.clone();
                    }
                }
            }
            watcher = fresh;
            ids = fresh_ids;
        }
        let result = watcher.poll(Instant::now());
        let mut s = lock(mutex);
        match result {
            Ok(changes) => {
                s.error = None;
                if changes.is_empty() && ids.keys().all(|k| s.timelines.contains_key(k)) {
                    continue;
                }
                for (key, id) in &ids {
                    if let Some(t) = watcher.timeline(*id) {
                        s.timelines.insert(*key, t.clone());
                    }
                }
            }
            Err(e) => s.error = Some(e.to_string()),
        }
        drop(s);
        wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iptools::tcp_state::TcpState;
    use std::net::{TcpListener, TcpStream};

    fn wait_for(watch: &StateWatch, key: u64, what: impl Fn(&Timeline) -> bool) -> Timeline {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(t) = watch.timeline(key)
                && what(&t)
            {
                return t;
            }
            assert!(
                Instant::now() < deadline,
                "timed out: {:?}",
                watch.timeline(key)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn a_loopback_connection_is_followed_to_close_wait_and_its_end() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let wakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&wakes);
        let watch = StateWatch::start(Arc::new(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }))
        .unwrap();
        // The server side, watched as a server listening on every address would know it.
        let any = SocketAddr::from(([0, 0, 0, 0], server.local_addr().unwrap().port()));
        watch.watch(7, any, server.peer_addr().unwrap(), Side::Server);
        wait_for(&watch, 7, |t| t.current() == Some(TcpState::Established));
        drop(client);
        wait_for(&watch, 7, |t| t.current() == Some(TcpState::CloseWait));
        drop(server);
        let t = wait_for(&watch, 7, Timeline::is_gone);
        assert_eq!(
            t.states(),
            vec![TcpState::Established, TcpState::CloseWait],
            "{t:?}"
        );
        assert!(wakes.load(std::sync::atomic::Ordering::Relaxed) >= 3);
        watch.forget(7);
        assert!(watch.timeline(7).is_none());
        assert!(watch.error().is_none());
    }
}
