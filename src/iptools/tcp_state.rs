//! TCP states, live: the kernel's state of chosen connections, read from the socket table
//! (`/proc/net/tcp`, `tcp6`) as often as asked, with a timeline per connection (each state with
//! the time it was first seen, and when the connection left the table). Also what each state
//! means for learners, and which packets of the handshake and the close have certainly been
//! exchanged, for a drawing. Every sentence for users is in [`why`].

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rust_i18n::t;

use super::sockets::{Proto, SocketEntry, SocketsError, read_tcp_table};

/// A TCP state by the kernel's name (`include/net/tcp_states.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TcpState {
    Listen,
    SynSent,
    SynRecv,
    Established,
    FinWait1,
    FinWait2,
    TimeWait,
    Close,
    CloseWait,
    LastAck,
    Closing,
}

impl TcpState {
    pub const ALL: [Self; 11] = [
        Self::Listen,
        Self::SynSent,
        Self::SynRecv,
        Self::Established,
        Self::FinWait1,
        Self::FinWait2,
        Self::TimeWait,
        Self::Close,
        Self::CloseWait,
        Self::LastAck,
        Self::Closing,
    ];

    /// The kernel's name: `SYN_SENT`, `ESTABLISHED`, `TIME_WAIT`…
    pub fn name(self) -> &'static str {
        match self {
            Self::Listen => "LISTEN",
            Self::SynSent => "SYN_SENT",
            Self::SynRecv => "SYN_RECV",
            Self::Established => "ESTABLISHED",
            Self::FinWait1 => "FIN_WAIT1",
            Self::FinWait2 => "FIN_WAIT2",
            Self::TimeWait => "TIME_WAIT",
            Self::Close => "CLOSE",
            Self::CloseWait => "CLOSE_WAIT",
            Self::LastAck => "LAST_ACK",
            Self::Closing => "CLOSING",
        }
    }

    /// The state of a kernel name (as [`SocketEntry::state`] holds it); `None` for names that
    /// are not TCP states (`UNCONN`, `UNKNOWN`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Whether the handshake is complete in this state (it is established or closing).
    pub fn is_synchronised(self) -> bool {
        matches!(
            self,
            Self::Established
                | Self::FinWait1
                | Self::FinWait2
                | Self::TimeWait
                | Self::CloseWait
                | Self::LastAck
                | Self::Closing
        )
    }
}

/// Which end of the connection a watched socket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The side that connected (sent the SYN).
    Client,
    /// The side that accepted.
    Server,
}

impl Side {
    #[must_use]
    pub fn other(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Server => "server",
        }
    }
}

/// A connection as the kernel keys it: this side's address, then the peer's.
pub type Pair = (SocketAddr, SocketAddr);

/// The address with an IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, how a dual-stack socket
/// shows an IPv4 peer in `tcp6`) written as IPv4, so both spellings match.
fn canonical(a: SocketAddr) -> SocketAddr {
    match a.ip() {
        IpAddr::V6(v6) => SocketAddr::new(v6.to_canonical(), a.port()),
        IpAddr::V4(_) => a,
    }
}

fn canonical_pair((local, remote): Pair) -> Pair {
    (canonical(local), canonical(remote))
}

/// The state of each of `pairs` found in `table` (pairs not in the table are left out). A
/// pair whose local address is unspecified (`0.0.0.0:502`) matches this side by port. When a
/// pair appears twice (a `TIME_WAIT` remnant and a new connection), the live one wins.
pub fn states_in(table: &[SocketEntry], pairs: &[Pair]) -> HashMap<Pair, TcpState> {
    let wanted: HashMap<Pair, Pair> = pairs.iter().map(|p| (canonical_pair(*p), *p)).collect();
    // A server knows only the port it listens on when it listens on every address: its side
    // of a connection is then matched by port (the peer's address and port still match whole).
    let by_port: HashMap<(u16, SocketAddr), Pair> = pairs
        .iter()
        .filter(|(local, _)| local.ip().is_unspecified())
        .map(|p| ((p.0.port(), canonical(p.1)), *p))
        .collect();
    let mut out = HashMap::new();
    for entry in table.iter().filter(|e| e.proto == Proto::Tcp) {
        let Some(pair) = wanted
            .get(&canonical_pair((entry.local, entry.remote)))
            .or_else(|| by_port.get(&(entry.local.port(), canonical(entry.remote))))
        else {
            continue;
        };
        let Some(state) = TcpState::from_name(entry.state) else {
            continue;
        };
        out.entry(*pair)
            .and_modify(|old: &mut TcpState| {
                if *old == TcpState::TimeWait {
                    *old = state;
                }
            })
            .or_insert(state);
    }
    out
}

/// The kernel's current state of each of `pairs` (one read of the TCP table; no owners are
/// looked up). Pairs the table does not hold are left out.
pub fn current_states(pairs: &[Pair]) -> Result<HashMap<Pair, TcpState>, SocketsError> {
    Ok(states_in(&read_tcp_table()?, pairs))
}

/// A state and when it was first seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub state: TcpState,
    pub at: Instant,
}

/// One watched connection's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub local: SocketAddr,
    pub remote: SocketAddr,
    pub side: Side,
    /// Each state in the order seen; a state is recorded again only after another one.
    pub seen: Vec<Seen>,
    /// When the connection left the table (after it was seen in it).
    pub gone: Option<Instant>,
}

impl Timeline {
    /// The states in order, without times.
    pub fn states(&self) -> Vec<TcpState> {
        self.seen.iter().map(|s| s.state).collect()
    }

    /// The last state seen, `None` before the first one and after the end.
    pub fn current(&self) -> Option<TcpState> {
        if self.gone.is_some() {
            None
        } else {
            self.seen.last().map(|s| s.state)
        }
    }

    pub fn is_gone(&self) -> bool {
        self.gone.is_some()
    }

    /// The packets of the handshake and the close that have certainly happened.
    pub fn steps(&self) -> [Step; 7] {
        steps(self.side, &self.states(), self.is_gone())
    }
}

/// Which watched connection (the index [`TcpStateWatcher::watch`] returned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The connection is now in this state.
    State(TcpState),
    /// The connection left the kernel's table: it is over.
    Gone,
}

/// One change of one connection, seen by a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    pub id: ConnId,
    pub change: Change,
    pub at: Instant,
}

/// Watches connections' states: call [`poll`](Self::poll) as often as the drawing needs (each
/// poll reads the TCP table once, whatever the number of connections).
#[derive(Debug, Default)]
pub struct TcpStateWatcher {
    timelines: Vec<Timeline>,
}

impl TcpStateWatcher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts watching the connection from `local` to `remote`. It may not exist yet (watch
    /// before connecting to see `SYN_SENT`); it ends when it leaves the table after being seen.
    pub fn watch(&mut self, local: SocketAddr, remote: SocketAddr, side: Side) -> ConnId {
        self.timelines.push(Timeline {
            local,
            remote,
            side,
            seen: Vec::new(),
            gone: None,
        });
        ConnId(self.timelines.len() - 1)
    }

    pub fn timeline(&self, id: ConnId) -> Option<&Timeline> {
        self.timelines.get(id.0)
    }

    /// The timeline of `id`, to carry it over into another watcher.
    pub fn timeline_mut(&mut self, id: ConnId) -> Option<&mut Timeline> {
        self.timelines.get_mut(id.0)
    }

    pub fn timelines(&self) -> &[Timeline] {
        &self.timelines
    }

    /// Whether every watched connection has ended.
    pub fn all_gone(&self) -> bool {
        self.timelines.iter().all(Timeline::is_gone)
    }

    /// Reads the kernel's table and records what changed since the last poll.
    pub fn poll(&mut self, now: Instant) -> Result<Vec<Transition>, SocketsError> {
        let pairs: Vec<Pair> = self
            .timelines
            .iter()
            .filter(|t| !t.is_gone())
            .map(|t| (t.local, t.remote))
            .collect();
        if pairs.is_empty() {
            return Ok(Vec::new());
        }
        let states = current_states(&pairs)?;
        Ok(self.update(now, &states))
    }

    /// Records `states` (as [`current_states`] returns them) as seen at `now`.
    pub fn update(&mut self, now: Instant, states: &HashMap<Pair, TcpState>) -> Vec<Transition> {
        let mut out = Vec::new();
        for (i, t) in self.timelines.iter_mut().enumerate() {
            if t.is_gone() {
                continue;
            }
            let id = ConnId(i);
            match states.get(&(t.local, t.remote)) {
                Some(&state) if t.seen.last().map(|s| s.state) != Some(state) => {
                    t.seen.push(Seen { state, at: now });
                    out.push(Transition {
                        id,
                        change: Change::State(state),
                        at: now,
                    });
                }
                None if !t.seen.is_empty() => {
                    t.gone = Some(now);
                    out.push(Transition {
                        id,
                        change: Change::Gone,
                        at: now,
                    });
                }
                _ => {}
            }
        }
        out
    }
}

/// One packet of the handshake or the close, for a drawing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// `SYN`, `SYN-ACK`, `ACK`, `FIN`.
    pub label: &'static str,
    /// Who sends it.
    pub from: Side,
    /// Whether the watched side's states prove it was exchanged.
    pub happened: bool,
}

/// Which of the seven packets (SYN, SYN-ACK, ACK; FIN, ACK, FIN, ACK) certainly happened,
/// given the states one side went through (`states`, in order) and whether it left the table.
/// The close's packets are drawn from whoever closed first (the client when nobody has yet).
/// Only what the states prove is claimed: a connection gone straight from `CLOSE_WAIT` may have
/// ended with a reset, so its last FIN and ACK stay unproven.
pub fn steps(side: Side, states: &[TcpState], gone: bool) -> [Step; 7] {
    use TcpState as S;
    let has = |s: TcpState| states.contains(&s);
    let synced = states.iter().any(|s| s.is_synchronised());
    let (syn, syn_ack) = match side {
        Side::Client => (has(S::SynSent) || synced, synced),
        Side::Server => (has(S::SynRecv) || synced, has(S::SynRecv) || synced),
    };
    let we_first = [S::FinWait1, S::FinWait2, S::Closing, S::TimeWait]
        .into_iter()
        .any(has);
    let peer_first = !we_first && [S::CloseWait, S::LastAck].into_iter().any(has);
    let (first, fin1, ack1, fin2, ack2) = if we_first {
        (
            side,
            true,
            has(S::FinWait2) || has(S::TimeWait),
            has(S::Closing) || has(S::TimeWait),
            has(S::Closing) || has(S::TimeWait),
        )
    } else if peer_first {
        let last = has(S::LastAck);
        (side.other(), true, true, last, last && gone)
    } else {
        (Side::Client, false, false, false, false)
    };
    let second = first.other();
    [
        Step {
            label: "SYN",
            from: Side::Client,
            happened: syn,
        },
        Step {
            label: "SYN-ACK",
            from: Side::Server,
            happened: syn_ack,
        },
        Step {
            label: "ACK",
            from: Side::Client,
            happened: synced,
        },
        Step {
            label: "FIN",
            from: first,
            happened: fin1,
        },
        Step {
            label: "ACK",
            from: second,
            happened: ack1,
        },
        Step {
            label: "FIN",
            from: second,
            happened: fin2,
        },
        Step {
            label: "ACK",
            from: first,
            happened: ack2,
        },
    ]
}

/// One line per state for learners, in the language shown (`locales/tcp_state.yml`): what
/// it means and what to do about it.
pub fn why(state: TcpState) -> Cow<'static, str> {
    match state {
        TcpState::Listen => t!("tcp_state.why.listen"),
        TcpState::SynSent => t!("tcp_state.why.syn_sent"),
        TcpState::SynRecv => t!("tcp_state.why.syn_recv"),
        TcpState::Established => t!("tcp_state.why.established"),
        TcpState::FinWait1 => t!("tcp_state.why.fin_wait1"),
        TcpState::FinWait2 => t!("tcp_state.why.fin_wait2"),
        TcpState::TimeWait => t!("tcp_state.why.time_wait"),
        TcpState::Close => t!("tcp_state.why.close"),
        TcpState::CloseWait => t!("tcp_state.why.close_wait"),
        TcpState::LastAck => t!("tcp_state.why.last_ack"),
        TcpState::Closing => t!("tcp_state.why.closing"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use TcpState as S;

    fn happened(steps: &[Step; 7]) -> Vec<bool> {
        steps.iter().map(|s| s.happened).collect()
    }

    #[test]
    fn names_round_trip_and_every_state_has_a_why() {
        for s in TcpState::ALL {
            assert_eq!(TcpState::from_name(s.name()), Some(s));
            assert!(why(s).len() > 20, "{s:?}");
        }
        assert_eq!(TcpState::from_name("UNCONN"), None);
        assert!(why(S::TimeWait).contains("SO_REUSEADDR"));
        assert!(why(S::CloseWait).contains("must call close"));
    }

    #[test]
    fn a_client_that_closes_first_proves_every_packet_by_time_wait() {
        let c = Side::Client;
        assert_eq!(happened(&steps(c, &[], false)), [false; 7]);
        assert_eq!(
            happened(&steps(c, &[S::SynSent], false)),
            [true, false, false, false, false, false, false]
        );
        assert_eq!(
            happened(&steps(c, &[S::SynSent, S::Established], false)),
            [true, true, true, false, false, false, false]
        );
        let s = steps(c, &[S::Established, S::FinWait1], false);
        assert_eq!(happened(&s), [true, true, true, true, false, false, false]);
        assert_eq!(s[3].from, Side::Client, "the client's FIN");
        assert_eq!(s[4].from, Side::Server, "acknowledged by the server");
        assert_eq!(
            happened(&steps(c, &[S::Established, S::FinWait2], false)),
            [true, true, true, true, true, false, false]
        );
        assert_eq!(
            happened(&steps(
                c,
                &[S::Established, S::FinWait2, S::TimeWait],
                false
            )),
            [true; 7]
        );
    }

    #[test]
    fn a_server_whose_peer_closes_first_needs_last_ack_and_the_end() {
        let sv = Side::Server;
        assert_eq!(
            happened(&steps(sv, &[S::SynRecv], false)),
            [true, true, false, false, false, false, false]
        );
        let s = steps(sv, &[S::Established, S::CloseWait], false);
        assert_eq!(happened(&s), [true, true, true, true, true, false, false]);
        assert_eq!(s[3].from, Side::Client, "the peer's FIN came first");
        assert_eq!(s[5].from, Side::Server);
        assert_eq!(
            happened(&steps(
                sv,
                &[S::Established, S::CloseWait, S::LastAck],
                false
            )),
            [true, true, true, true, true, true, false]
        );
        assert_eq!(
            happened(&steps(
                sv,
                &[S::Established, S::CloseWait, S::LastAck],
                true
            )),
            [true; 7]
        );
        // Gone straight from CLOSE_WAIT: it may have been a reset, so nothing more is claimed.
        assert_eq!(
            happened(&steps(sv, &[S::Established, S::CloseWait], true)),
            [true, true, true, true, true, false, false]
        );
        // A server that closes first draws the close from its side.
        let s = steps(sv, &[S::Established, S::FinWait2], false);
        assert_eq!(s[3].from, Side::Server);
    }

    #[test]
    fn the_watcher_records_each_state_once_and_the_end() {
        let local: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let remote: SocketAddr = "10.0.0.2:40000".parse().unwrap();
        let mut w = TcpStateWatcher::new();
        let id = w.watch(local, remote, Side::Server);
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        let with = |s: Option<TcpState>| {
            s.map(|s| HashMap::from([((local, remote), s)]))
                .unwrap_or_default()
        };
        assert!(
            w.update(at(0), &with(None)).is_empty(),
            "not there yet, not gone"
        );
        assert_eq!(
            w.update(at(1), &with(Some(S::Established))),
            vec![Transition {
                id,
                change: Change::State(S::Established),
                at: at(1)
            }]
        );
        assert!(w.update(at(2), &with(Some(S::Established))).is_empty());
        assert_eq!(w.update(at(3), &with(Some(S::CloseWait))).len(), 1);
        assert_eq!(w.update(at(4), &with(Some(S::LastAck))).len(), 1);
        let end = w.update(at(5), &with(None));
        assert_eq!(end[0].change, Change::Gone);
        assert!(
            w.update(at(6), &with(Some(S::Established))).is_empty(),
            "ended stays ended"
        );
        let t = w.timeline(id).unwrap();
        assert_eq!(t.states(), [S::Established, S::CloseWait, S::LastAck]);
        assert_eq!(t.seen[1].at, at(3));
        assert_eq!(t.gone, Some(at(5)));
        assert_eq!(t.current(), None);
        assert!(w.all_gone());
        assert_eq!(happened(&t.steps()), [true; 7]);
    }

    #[test]
    fn mapped_addresses_match_and_live_sockets_beat_time_wait() {
        let entry = |local: &str, remote: &str, state: &'static str| SocketEntry {
            proto: Proto::Tcp,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            state,
            inode: 0,
            process: None,
        };
        let table = [
            entry(
                "[::ffff:10.0.0.1]:80",
                "[::ffff:10.0.0.2]:4000",
                "TIME_WAIT",
            ),
            entry("10.0.0.1:80", "10.0.0.2:4000", "ESTABLISHED"),
            entry("10.0.0.1:80", "10.0.0.3:4000", "CLOSE_WAIT"),
        ];
        let pair: Pair = (
            "10.0.0.1:80".parse().unwrap(),
            "10.0.0.2:4000".parse().unwrap(),
        );
        let other: Pair = (
            "10.0.0.1:81".parse().unwrap(),
            "10.0.0.2:4000".parse().unwrap(),
        );
        let got = states_in(&table, &[pair, other]);
        assert_eq!(got.get(&pair), Some(&S::Established));
        assert_eq!(got.get(&other), None);
        // A server listening on every address matches its side by port.
        let any: Pair = (
            "0.0.0.0:80".parse().unwrap(),
            "10.0.0.3:4000".parse().unwrap(),
        );
        let wrong_port: Pair = (
            "0.0.0.0:81".parse().unwrap(),
            "10.0.0.3:4000".parse().unwrap(),
        );
        let got = states_in(&table, &[any, wrong_port]);
        assert_eq!(got.get(&any), Some(&S::CloseWait));
        assert_eq!(got.get(&wrong_port), None);
    }
}
