//! `sockpit replay FILE --to HOST:PORT`: plays the client side of a recorded conversation to
//! a device and says where the device's answers differ from the recording.
//!
//! - The conversation: the first TCP one in the file (the first UDP one with `--udp`), by its
//!   two addresses. The client side is what the reader marks Sent: in Sockpit's own captures
//!   the end that was Sockpit, in foreign ones the end that opened the conversation (sent the
//!   SYN, or the first datagram). See [`crate::capture::open_capture`].
//! - Each Sent record is sent in turn, after the recorded gap since the one before it (or at
//!   once with `--as-fast`); the Received records that follow it until the next send are its
//!   answer. The device's bytes are compared with the answer as one stream (a TCP device may
//!   cut its reply into other reads than the recording did), waiting up to `--within` after
//!   the send for all of them; bytes beyond one answer count towards the next.
//! - A difference names the recorded record it falls in, what was expected and what came,
//!   and the first differing byte (of that record). Exit 0 when every answer matches, 5 when
//!   any differs (the replay goes on, so all differences are listed).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use rust_i18n::t;
use serde_json::json;

use super::{CliError, MAX_MS, OutputArgs, Printer, parse_ms, split_host_port};
use crate::capture::{CaptureRecord, Direction, RecordKind, Transport};
use crate::engine::worker::{SessionId, no_wake};

const S: SessionId = SessionId(1);
const TICK: Duration = Duration::from_millis(50);
/// How long a command may wait for room in the worker's queue (only a hung worker is slower).
const COMMAND_WAIT: Duration = Duration::from_secs(30);
/// How long connecting (TCP) or binding (UDP) may take.
const CONNECT_WAIT: Duration = Duration::from_secs(5);
/// Characters of a record a difference shows.
const SHOW_CHARS: usize = 60;

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The capture to replay: pcap or pcapng (Sockpit's --capture, Wireshark, tcpdump).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The device: HOST:PORT ([::1]:PORT for IPv6).
    #[arg(long, value_name = "HOST:PORT")]
    pub to: String,
    /// Replay the file's first UDP conversation (default: its first TCP one).
    #[arg(long)]
    pub udp: bool,
    /// Send each record as soon as the answer to the one before has come (or --within ran
    /// out), not with the recorded gaps. Without it a send waits for both: that answer and
    /// the recorded gap since the send before.
    #[arg(long)]
    pub as_fast: bool,
    /// Milliseconds to wait after each send for its recorded answer, 1 to 31536000000.
    #[arg(long = "within", value_name = "MS", default_value_t = 2000, value_parser = parse_ms)]
    pub within_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// One send and the answer recorded after it, borrowed from the records read (a capture may
/// hold up to a GiB of payload; it is not copied again).
#[derive(Debug, Default)]
struct Exchange<'a> {
    /// The Sent record: its number in the file (1-based), time and bytes; `None` for what
    /// the device said before the first send (a greeting).
    send: Option<(usize, u64, &'a [u8])>,
    /// The Received records up to the next send: number, bytes.
    answer: Vec<(usize, &'a [u8])>,
}

impl Exchange<'_> {
    fn answer_len(&self) -> usize {
        self.answer.iter().map(|(_, b)| b.len()).sum()
    }
}

/// Picks the conversation and cuts it into exchanges. The file's problems are usage errors.
fn exchanges(records: &[CaptureRecord], transport: Transport) -> Result<Vec<Exchange<'_>>, String> {
    let data = |r: &&CaptureRecord| r.kind == RecordKind::Data && !r.bytes.is_empty();
    let Some(first) = records
        .iter()
        .filter(data)
        .find(|r| r.transport == transport)
    else {
        let other = match transport {
            Transport::Tcp => Transport::Udp,
            Transport::Udp => Transport::Tcp,
        };
        let has_other = records.iter().filter(data).any(|r| r.transport == other);
        return Err(if has_other {
            t!(
                "expect.replay.only_other",
                want = transport.label(),
                other = other.label()
            )
            .into_owned()
        } else {
            t!("expect.replay.no_payloads").into_owned()
        });
    };
    let (local, peer) = (first.local, first.peer);
    let mut out: Vec<Exchange> = Vec::new();
    for (i, r) in records.iter().enumerate() {
        if !data(&r) || r.transport != transport || r.local != local || r.peer != peer {
            continue;
        }
        match r.direction {
            Direction::Sent => out.push(Exchange {
                send: Some((i + 1, r.time_us, r.bytes.as_slice())),
                answer: Vec::new(),
            }),
            Direction::Received => {
                if out.is_empty() {
                    out.push(Exchange::default());
                }
                if let Some(last) = out.last_mut() {
                    last.answer.push((i + 1, r.bytes.as_slice()));
                }
            }
        }
    }
    if !out.iter().any(|e| e.send.is_some()) {
        return Err(t!("expect.replay.nothing_sent").into_owned());
    }
    Ok(out)
}

/// What the device did, as the replay needs it.
enum Happened {
    Received(Vec<u8>),
    /// No more bytes will come: why.
    Ended(String),
    Nothing,
}

/// The device, over the engine's TCP Client or UDP worker.
enum Device {
    Tcp(crate::engine::tcp_client::TcpClientHandle),
    Udp {
        udp: crate::engine::udp::UdpHandle,
        host: String,
        port: u16,
    },
}

fn network(e: impl std::fmt::Display) -> CliError {
    CliError::Network(e.to_string())
}

impl Device {
    /// Connects (TCP) or binds a socket of the target's family (UDP).
    fn open(to: &str, udp: bool, p: &mut Printer) -> Result<Self, CliError> {
        use crate::engine::tcp_client::{Command, ConnectOptions, EventKind, TcpClientHandle};
        let (host, port) = split_host_port(to)?;
        let not_started = |e: std::io::Error| {
            CliError::Network(t!("cli.worker.not_started", error = e).into_owned())
        };
        let by = Instant::now() + CONNECT_WAIT + Duration::from_secs(5);
        if udp {
            use crate::engine::udp::{Command as U, EventKind as UE, UdpHandle};
            let v6 = host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_ipv6());
            let bind: SocketAddr = if v6 {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            };
            let handle = UdpHandle::spawn(no_wake()).map_err(not_started)?;
            handle
                .send_wait(
                    U::Bind {
                        session: S,
                        options: crate::net::udp::UdpBindOptions::new(bind),
                        multicast: crate::net::udp::MulticastSend::default(),
                    },
                    COMMAND_WAIT,
                )
                .map_err(network)?;
            while Instant::now() < by {
                let Ok(e) = handle.events().recv_timeout(TICK) else {
                    continue;
                };
                match e.kind {
                    UE::Bound { local } => {
                        p.status(
                            "bound",
                            &t!("cli.udp.bound", local = local),
                            json!({ "local": local.to_string() }),
                        );
                        return Ok(Self::Udp {
                            udp: handle,
                            host,
                            port,
                        });
                    }
                    UE::BindFailed(e) => return Err(CliError::network(&e)),
                    _ => {}
                }
            }
            return Err(CliError::Timeout(t!("cli.udp.not_bound").into_owned()));
        }
        let handle = TcpClientHandle::spawn(no_wake()).map_err(not_started)?;
        let mut options = ConnectOptions::new(host, port);
        options.connect_timeout = CONNECT_WAIT;
        options.nodelay = true;
        options.linger = CONNECT_WAIT;
        handle
            .send_wait(
                Command::Connect {
                    session: S,
                    options,
                },
                COMMAND_WAIT,
            )
            .map_err(network)?;
        while Instant::now() < by {
            let Ok(e) = handle.events().recv_timeout(TICK) else {
                continue;
            };
            match e.kind {
                EventKind::Connected { local, remote } => {
                    p.status(
                        "connected",
                        &t!("cli.tcp.connected", local = local, remote = remote),
                        json!({ "local": local.to_string(), "remote": remote.to_string() }),
                    );
                    return Ok(Self::Tcp(handle));
                }
                EventKind::ConnectFailed(e) => return Err(super::tcp::connect_error(&e)),
                EventKind::WorkerFailed { message } => {
                    return Err(CliError::Network(
                        t!("cli.worker.failed", message = message).into_owned(),
                    ));
                }
                _ => {}
            }
        }
        Err(CliError::Timeout(
            t!(
                "cli.tcp.no_connection",
                target = to,
                secs = CONNECT_WAIT.as_secs_f64() : {:.1}
            )
            .into_owned(),
        ))
    }

    fn send(&self, bytes: Vec<u8>) -> Result<(), CliError> {
        match self {
            Self::Tcp(c) => c
                .send_wait(
                    crate::engine::tcp_client::Command::Send { session: S, bytes },
                    COMMAND_WAIT,
                )
                .map_err(network),
            Self::Udp { udp, host, port } => udp
                .send_wait(
                    crate::engine::udp::Command::Send {
                        session: S,
                        host: host.clone(),
                        port: *port,
                        bytes,
                    },
                    COMMAND_WAIT,
                )
                .map_err(network),
        }
    }

    /// The next thing the device did, waiting at most `wait`; what crossed is printed.
    fn next(&self, p: &mut Printer, wait: Duration) -> Result<Happened, CliError> {
        match self {
            Self::Tcp(c) => {
                use crate::engine::tcp_client::EventKind as E;
                let Ok(e) = c.events().recv_timeout(wait) else {
                    return Ok(Happened::Nothing);
                };
                Ok(match e.kind {
                    E::Received { peer, bytes, check } => {
                        p.received(peer, &bytes, check);
                        Happened::Received(bytes)
                    }
                    E::Sent { peer, bytes } => {
                        p.record("tx", Some(peer), &bytes);
                        Happened::Nothing
                    }
                    E::PeerFinished { .. } => {
                        Happened::Ended(t!("expect.peer_finished").into_owned())
                    }
                    E::Closed { reason, .. } => Happened::Ended(reason.to_string()),
                    E::SendRejected { reason } => return Err(CliError::Network(reason)),
                    E::WorkerFailed { message } => {
                        return Err(CliError::Network(
                            t!("cli.worker.failed", message = message).into_owned(),
                        ));
                    }
                    _ => Happened::Nothing,
                })
            }
            Self::Udp { udp, .. } => {
                use crate::engine::udp::EventKind as E;
                let Ok(e) = udp.events().recv_timeout(wait) else {
                    return Ok(Happened::Nothing);
                };
                Ok(match e.kind {
                    E::Received(batch) => {
                        let mut all = Vec::new();
                        for d in batch {
                            p.received(d.from, &d.bytes, d.check);
                            all.extend(d.bytes);
                        }
                        Happened::Received(all)
                    }
                    E::Sent { to, bytes, .. } => {
                        p.record("tx", Some(to), &bytes);
                        Happened::Nothing
                    }
                    E::SendFailed { error, .. } => return Err(CliError::network(&error)),
                    E::Icmp(e) => Happened::Ended(e.to_string()),
                    _ => Happened::Nothing,
                })
            }
        }
    }

    /// Ends the connection or closes the socket, waiting for the worker to say so.
    fn close(&self, p: &mut Printer) {
        let by = Instant::now() + CONNECT_WAIT;
        match self {
            Self::Tcp(c) => {
                use crate::engine::tcp_client::{Command, EventKind as E};
                if c.send_wait(Command::Disconnect { session: S }, COMMAND_WAIT)
                    .is_err()
                {
                    return;
                }
                while Instant::now() < by {
                    if let Ok(e) = c.events().recv_timeout(TICK) {
                        match e.kind {
                            E::Sent { peer, bytes } => p.record("tx", Some(peer), &bytes),
                            E::Closed { .. } | E::Stopped => return,
                            _ => {}
                        }
                    }
                }
            }
            Self::Udp { udp, .. } => {
                use crate::engine::udp::{Command, EventKind as E};
                if udp
                    .send_wait(Command::Close { session: S }, COMMAND_WAIT)
                    .is_err()
                {
                    return;
                }
                while Instant::now() < by {
                    if let Ok(e) = udp.events().recv_timeout(TICK)
                        && matches!(e.kind, E::Closed)
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// The device's bytes so far and whether it can send more.
struct Incoming {
    bytes: Vec<u8>,
    ended: Option<String>,
}

impl Incoming {
    /// Takes what the device does until `until`, or until `enough` bytes are held.
    fn pump(
        &mut self,
        device: &Device,
        p: &mut Printer,
        until: Instant,
        enough: usize,
    ) -> Result<(), CliError> {
        // Bounded by `until`: each turn waits at most a tick, and the deadline is finite.
        while self.ended.is_none() && self.bytes.len() < enough {
            let now = Instant::now();
            if now >= until {
                break;
            }
            match device.next(p, (until - now).min(TICK))? {
                Happened::Received(b) => self.bytes.extend(b),
                Happened::Ended(why) => self.ended = Some(why),
                Happened::Nothing => {}
            }
        }
        Ok(())
    }
}

/// `bytes` as the session's encoding shows them, quoted and escaped, cut at [`SHOW_CHARS`].
fn show(bytes: &[u8], encoding: crate::codec::TextEncoding) -> String {
    let text = encoding.decode_lossy(bytes);
    let shown: String = text.chars().take(SHOW_CHARS).collect();
    if shown.len() < text.len() {
        format!("{shown:?}…")
    } else {
        format!("{shown:?}")
    }
}

/// Where `got` first differs from the recorded answer: the record's number, the offset in
/// that record, and the record's span in the answer. `None` when they are the same.
fn first_difference(answer: &[(usize, &[u8])], got: &[u8]) -> Option<(usize, usize, usize, usize)> {
    let mut start = 0;
    for (number, bytes) in answer {
        let end = start + bytes.len();
        let part = got.get(start..end.min(got.len())).unwrap_or(&[]);
        if let Some(at) = bytes.iter().zip(part).position(|(a, b)| a != b) {
            return Some((*number, at, start, end));
        }
        if part.len() < bytes.len() {
            return Some((*number, part.len(), start, end));
        }
        start = end;
    }
    None
}

/// How the replay went.
#[derive(Default)]
struct Tally {
    matched: usize,
    differed: usize,
    first: Option<String>,
}

impl Tally {
    fn differs(&mut self, p: &mut Printer, sentence: String, extra: serde_json::Value) {
        self.differed += 1;
        p.status("replay", &sentence, extra);
        self.first.get_or_insert(sentence);
    }
}

pub fn run(args: &ReplayArgs) -> Result<(), CliError> {
    if args.within_ms == 0 {
        return Err(CliError::Usage(
            t!("expect.replay.zero_within", max = MAX_MS).into_owned(),
        ));
    }
    split_host_port(&args.to)?;
    let opened =
        crate::capture::open_capture(&args.file).map_err(|e| CliError::Usage(e.to_string()))?;
    let transport = if args.udp {
        Transport::Udp
    } else {
        Transport::Tcp
    };
    let plan = exchanges(&opened.records, transport).map_err(|why| {
        CliError::Usage(
            t!(
                "expect.replay.cannot",
                file = args.file.display(),
                why = why
            )
            .into_owned(),
        )
    })?;
    let mut p = args.output.printer();
    let encoding = args.output.encoding;
    p.status(
        "capture",
        &opened.summary(),
        json!({ "file": args.file.display().to_string() }),
    );
    let device = Device::open(&args.to, args.udp, &mut p)?;
    let result = replay(&device, &mut p, args, &plan, encoding);
    device.close(&mut p);
    let tally = result?;
    let sends = plan.iter().filter(|e| e.send.is_some()).count();
    p.status(
        "replayed",
        &t!(
            "expect.replay.summary",
            sends = sends,
            matched = tally.matched,
            differed = tally.differed
        ),
        json!({ "sends": sends, "matched": tally.matched, "differed": tally.differed }),
    );
    match tally.first {
        None => Ok(()),
        Some(first) => Err(CliError::Expectation(
            t!("expect.replay.failed", n = tally.differed, first = first).into_owned(),
        )),
    }
}

fn replay(
    device: &Device,
    p: &mut Printer,
    args: &ReplayArgs,
    plan: &[Exchange],
    encoding: crate::codec::TextEncoding,
) -> Result<Tally, CliError> {
    let within = Duration::from_millis(args.within_ms);
    let mut incoming = Incoming {
        bytes: Vec::new(),
        ended: None,
    };
    let mut tally = Tally::default();
    let mut last_send: Option<(Instant, u64)> = None;
    for exchange in plan {
        if let Some((number, time_us, bytes)) = &exchange.send {
            if let Some(why) = &incoming.ended {
                tally.differs(
                    p,
                    t!("expect.replay.ended_before", n = number, why = why).into_owned(),
                    json!({ "record": number, "match": false, "ended": why }),
                );
                return Ok(tally);
            }
            if !args.as_fast
                && let Some((at, recorded)) = last_send
            {
                // The recorded gap, capped at a year like every time argument, so a forged
                // timestamp cannot overflow the clock.
                let gap = Duration::from_micros(time_us.saturating_sub(recorded))
                    .min(Duration::from_millis(MAX_MS));
                let due = at.checked_add(gap).unwrap_or(at);
                incoming.pump(device, p, due, usize::MAX)?;
            }
            device.send(bytes.to_vec())?;
            last_send = Some((Instant::now(), *time_us));
        }
        let want = exchange.answer_len();
        let now = Instant::now();
        let by = now.checked_add(within).unwrap_or(now);
        incoming.pump(device, p, by, want)?;
        let take = want.min(incoming.bytes.len());
        let got: Vec<u8> = incoming.bytes.drain(..take).collect();
        match first_difference(&exchange.answer, &got) {
            None => {
                if let (Some((first, _)), Some((last, _))) =
                    (exchange.answer.first(), exchange.answer.last())
                {
                    tally.matched += 1;
                    let said = if first == last {
                        t!("expect.replay.same_one", n = first, len = want)
                    } else {
                        t!("expect.replay.same", first = first, last = last, len = want)
                    };
                    p.status(
                        "replay",
                        &said,
                        json!({ "record": first, "last_record": last, "match": true, "len": want }),
                    );
                }
            }
            Some((record, offset, start, end)) => {
                let expected = exchange
                    .answer
                    .iter()
                    .find(|(n, _)| *n == record)
                    .map_or(&[][..], |(_, b)| b);
                let got_part = got.get(start..end.min(got.len())).unwrap_or(&[]);
                let got_text = if got_part.is_empty() {
                    t!("expect.nothing_arrived").into_owned()
                } else {
                    show(got_part, encoding)
                };
                let sentence = t!(
                    "expect.replay.differs",
                    n = record,
                    expected = show(expected, encoding),
                    got = got_text,
                    offset = offset,
                    ms = args.within_ms
                )
                .into_owned();
                tally.differs(
                    p,
                    sentence,
                    json!({
                        "record": record,
                        "match": false,
                        "offset": offset,
                        "expected": encoding.decode_lossy(expected),
                        "got": encoding.decode_lossy(got_part),
                        "expected_len": expected.len(),
                        "got_len": got_part.len(),
                    }),
                );
            }
        }
    }
    if !incoming.bytes.is_empty() {
        let n = incoming.bytes.len();
        tally.differs(
            p,
            t!(
                "expect.replay.extra",
                n = n,
                got = show(&incoming.bytes, encoding)
            )
            .into_owned(),
            json!({ "match": false, "extra_bytes": n }),
        );
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_difference_names_the_record_and_its_byte() {
        let answer: Vec<(usize, &[u8])> = vec![(2, b"OK 1\n"), (3, b"OK 2\n")];
        assert_eq!(first_difference(&answer, b"OK 1\nOK 2\n"), None);
        assert_eq!(
            first_difference(&answer, b"OK 1\nOK X\n"),
            Some((3, 3, 5, 10))
        );
        assert_eq!(first_difference(&answer, b"OK"), Some((2, 2, 0, 5)));
        assert_eq!(first_difference(&answer, b""), Some((2, 0, 0, 5)));
        assert_eq!(first_difference(&[], b""), None);
    }
}
