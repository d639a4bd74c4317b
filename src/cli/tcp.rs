//! `sockpit tcp-server` and `sockpit tcp-client`, on the engine's TCP workers.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use rust_i18n::t;
use serde_json::json;

use super::{
    CaptureArgs, CliError, FramingArgs, JobArgs, OutputArgs, PayloadArgs, parse_ms, parse_secs,
    secs, split_host_port,
};
use crate::capture::{OpenedBy, Transport};
use crate::engine::session::JobState;
use crate::engine::session::TapHandoff;
use crate::engine::tcp_client::{
    CloseReason, Command as ClientCommand, ConnectOptions, EventKind as ClientEvent,
    TcpClientHandle,
};
use crate::engine::tcp_server::{
    Command as ServerCommand, EventKind as ServerEvent, ServerOptions, TcpServerHandle,
};
use crate::engine::worker::{SessionId, no_wake};
use crate::net::NetError;

const S: SessionId = SessionId(1);
const TICK: Duration = Duration::from_millis(50);
/// How long a command may wait for room in the worker's queue. The worker takes commands on
/// every turn, so only a hung worker makes this run out.
const COMMAND_WAIT: Duration = Duration::from_secs(30);
/// `--stdin` reads no further while this many bytes it sent are not yet written to the
/// socket: a peer that does not read holds the input back instead of filling memory.
const STDIN_WINDOW_BYTES: usize = 4 * 1024 * 1024;
/// Longest `--stdin` line; a longer one is reported and skipped, never held whole.
const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Hands a command to the worker, waiting while its queue is full (back-pressure).
fn command<C: Send + 'static, E: crate::engine::worker::WorkerEvent>(
    worker: &crate::engine::worker::WorkerHandle<C, E>,
    c: C,
) -> Result<(), CliError> {
    worker
        .send_wait(c, COMMAND_WAIT)
        .map_err(|e| CliError::Network(e.to_string()))
}

#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Address to listen on (0.0.0.0 = all IPv4, :: = all IPv6).
    #[arg(long, default_value = "0.0.0.0")]
    pub bind: IpAddr,
    /// Port to listen on (0 = any free port; the chosen one is printed).
    #[arg(long, short)]
    pub port: u16,
    /// Send back everything a client sends.
    #[arg(long)]
    pub echo: bool,
    /// Stop after this many seconds, 0.001 to 31536000 (default: until Ctrl-C).
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub duration: Option<f64>,
    /// Greet each client with this when it connects (--send TEXT or --hex HEX).
    #[command(flatten)]
    pub payload: PayloadArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    #[command(flatten)]
    pub framing: FramingArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn server(args: &ServerArgs) -> Result<(), CliError> {
    let label = format!(
        "Sockpit TCP Server {}", // i18n-exempt: written into capture files
        SocketAddr::new(args.bind, args.port)
    );
    let capture = args.capture.start(
        Transport::Tcp,
        label,
        Some(OpenedBy::Peer),
        args.output.encoding,
    )?;
    let tap = capture.as_ref().map(|c| c.tap.clone());
    let result = server_session(args, tap);
    super::end_capture(capture, &args.output, result)
}

fn server_session(args: &ServerArgs, tap: Option<TapHandoff>) -> Result<(), CliError> {
    let mut job = args.jobs.job(&args.payload, args.output.encoding, false)?;
    let file = job.as_ref().is_some_and(|j| {
        matches!(
            j.source,
            crate::engine::session::job::JobSource::File { .. }
        )
    });
    let mock = args.framing.mock_plan(crate::capture::Transport::Tcp)?;
    let greeting = if job.is_some() {
        None
    } else {
        args.payload.bytes(args.output.encoding)?
    };
    let greeting = greeting.or_else(|| mock.as_ref().and_then(|m| m.greeting.clone()));
    let mut pipeline = args
        .framing
        .pipeline_with(args.output.encoding, mock.as_ref())?;
    let script = args
        .framing
        .install_script(args.output.encoding, &mut pipeline)?;
    let mut p = args.output.printer();
    if let Some(reports) = script {
        p.watch_script(reports);
    }
    if let Some(m) = &mock {
        p.status(
            "mock",
            &m.note(true),
            json!({ "rules": m.rules.rules.len() }),
        );
    }
    let server = TcpServerHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(t!("cli.worker.not_started", error = e).into_owned()))?;
    if tap.is_some() {
        command(&server, ServerCommand::SetTap { tap })?;
    }
    let mut options = ServerOptions::new(SocketAddr::new(args.bind, args.port));
    options.echo = args.echo;
    options.pipeline = pipeline;
    command(
        &server,
        ServerCommand::Start {
            session: S,
            options,
        },
    )?;
    let deadline = args.duration.map(|d| Instant::now() + secs(d));
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            command(&server, ServerCommand::Stop { session: S })?;
            let stop_by = Instant::now() + Duration::from_secs(5);
            while Instant::now() < stop_by {
                if let Ok(e) = server.events().recv_timeout(TICK)
                    && let ServerEvent::Stopped { clients_closed } = e.kind
                {
                    p.status(
                        "stopped",
                        &t!("cli.tcp.stopped", n = clients_closed),
                        json!({ "clients_closed": clients_closed }),
                    );
                    break;
                }
            }
            return Ok(());
        }
        let Ok(event) = server.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ServerEvent::Listening { local } => {
                p.status(
                    "listening",
                    &t!("cli.tcp.listening", local = local),
                    json!({ "local": local.to_string() }),
                );
                // Sent to every client connected at each send; waits for the first one.
                if let Some(job) = job.take() {
                    command(
                        &server,
                        ServerCommand::StartJob {
                            session: S,
                            target: crate::engine::tcp_server::Target::All,
                            job,
                        },
                    )?;
                }
            }
            ServerEvent::Job(status) => super::print_job(&mut p, &status),
            ServerEvent::JobRefused { reason } => return Err(CliError::Usage(reason)),
            ServerEvent::StartFailed(e) => return Err(CliError::network(&e)),
            ServerEvent::Accepted { client, peer } => {
                p.status(
                    "connected",
                    &t!("cli.tcp.client_connected", peer = peer),
                    json!({ "peer": peer.to_string() }),
                );
                if let Some(bytes) = &greeting {
                    command(
                        &server,
                        ServerCommand::Send {
                            session: S,
                            target: crate::engine::tcp_server::Target::Clients(vec![client]),
                            bytes: bytes.clone(),
                        },
                    )?;
                }
            }
            ServerEvent::ClientFinished { peer, .. } => p.status(
                "finished",
                &t!("cli.tcp.client_finished", peer = peer),
                json!({ "peer": peer.to_string() }),
            ),
            ServerEvent::SendRefused {
                peer, len, reason, ..
            } => p.status(
                "error",
                &t!("cli.tcp.not_sent", peer = peer, len = len, reason = reason),
                json!({ "peer": peer.to_string(), "len": len }),
            ),
            ServerEvent::Received {
                peer, bytes, check, ..
            } => p.received(peer, &bytes, check),
            ServerEvent::Framing { peer, notice, .. } => p.frame_notice(peer, &notice),
            ServerEvent::Sent { peer, bytes, .. } => {
                if !file {
                    p.record("tx", Some(peer), &bytes);
                }
            }
            ServerEvent::ClientClosed {
                peer,
                reason,
                unsent_bytes,
                ..
            } => {
                let unsent = if unsent_bytes > 0 {
                    format!(" {}", t!("cli.tcp.queued_unsent", n = unsent_bytes))
                } else {
                    String::new()
                };
                p.status(
                    "closed",
                    &t!(
                        "cli.tcp.client_closed",
                        peer = peer,
                        reason = reason,
                        unsent = unsent
                    ),
                    json!({
                        "peer": peer.to_string(),
                        "reason": reason.to_string(),
                        "unsent_bytes": unsent_bytes,
                    }),
                );
            }
            ServerEvent::AcceptError { message } => {
                p.status(
                    "error",
                    &t!("cli.tcp.accept_failed", message = message),
                    json!({}),
                );
            }
            ServerEvent::Stopped { .. } => return Ok(()),
            ServerEvent::WorkerFailed { message } => {
                return Err(CliError::Network(
                    t!("cli.worker.failed", message = message).into_owned(),
                ));
            }
        }
    }
}

/// Line ending added to each line read with `--stdin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LineEndingArg {
    Lf,
    Crlf,
    None,
}

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Where to connect: HOST:PORT ([::1]:PORT for IPv6).
    #[arg(value_name = "HOST:PORT")]
    pub target: String,
    #[command(flatten)]
    pub payload: PayloadArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Seconds to wait for the connection and for the reply, 0.001 to 31536000.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// Keep one connection open and send each line read from standard input.
    #[arg(long, conflicts_with_all = ["send", "hex", "file", "repeat"])]
    pub stdin: bool,
    /// Line ending appended to each --stdin line.
    #[arg(long, value_enum, default_value = "lf")]
    pub line_ending: LineEndingArg,
    /// A reply is complete once the peer has been quiet this long (milliseconds, at most a
    /// year).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = parse_ms)]
    pub quiet_ms: u64,
    #[command(flatten)]
    pub expect: super::expect::ExpectArgs,
    #[command(flatten)]
    pub framing: FramingArgs,
    #[command(flatten)]
    pub capture: CaptureArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// A connection that could not be made: a timeout (4) when it timed out, else a network
/// error (3).
pub(super) fn connect_error(e: &NetError) -> CliError {
    match e {
        NetError::TimedOut { .. } => CliError::Timeout(
            t!("cli.error_with_fix", error = e, fix = e.explanation()).into_owned(),
        ),
        other => CliError::network(other),
    }
}

pub fn client(args: &ClientArgs) -> Result<(), CliError> {
    let capture = args.capture.start(
        Transport::Tcp,
        format!("Sockpit TCP Client to {}", args.target), // i18n-exempt: written into capture files
        Some(OpenedBy::Local),
        args.output.encoding,
    )?;
    let tap = capture.as_ref().map(|c| c.tap.clone());
    let result = client_session(args, tap);
    super::end_capture(capture, &args.output, result)
}

fn client_session(args: &ClientArgs, tap: Option<TapHandoff>) -> Result<(), CliError> {
    if args.framing.mock.is_some() {
        return Err(CliError::Usage(t!("mock.not_on_client").into_owned()));
    }
    let (host, port) = split_host_port(&args.target)?;
    let job = args.jobs.job(&args.payload, args.output.encoding, false)?;
    let payload = if job.is_some() {
        None
    } else {
        args.payload.bytes(args.output.encoding)?
    };
    let mut pipeline = args.framing.pipeline(args.output.encoding)?;
    let script = args
        .framing
        .install_script(args.output.encoding, &mut pipeline)?;
    let expectations = args
        .expect
        .expectations(args.output.encoding, job.is_some() || args.stdin)?;
    let mut p = args.output.printer();
    if let Some(reports) = script {
        p.watch_script(reports);
    }
    let client = TcpClientHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(t!("cli.worker.not_started", error = e).into_owned()))?;
    if tap.is_some() {
        command(&client, ClientCommand::SetTap { tap })?;
    }
    let timeout = secs(args.timeout);
    let mut options = ConnectOptions::new(host, port);
    options.connect_timeout = timeout.max(Duration::from_millis(1));
    options.nodelay = true;
    // At the end, what was accepted is written out for as long as the peer keeps taking it.
    options.linger = timeout.max(Duration::from_millis(1));
    options.pipeline = pipeline;
    command(
        &client,
        ClientCommand::Connect {
            session: S,
            options,
        },
    )?;
    // Connect.
    let connect_by = Instant::now() + timeout + Duration::from_secs(5);
    loop {
        if Instant::now() > connect_by {
            return Err(CliError::Timeout(
                t!(
                    "cli.tcp.no_connection",
                    target = args.target,
                    secs = args.timeout : {:.1}
                )
                .into_owned(),
            ));
        }
        let Ok(event) = client.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ClientEvent::Connected { local, remote } => {
                p.status(
                    "connected",
                    &t!("cli.tcp.connected", local = local, remote = remote),
                    json!({ "local": local.to_string(), "remote": remote.to_string() }),
                );
                break;
            }
            ClientEvent::ConnectFailed(e) => return Err(connect_error(&e)),
            ClientEvent::WorkerFailed { message } => {
                return Err(CliError::Network(
                    t!("cli.worker.failed", message = message).into_owned(),
                ));
            }
            _ => {}
        }
    }
    let quiet = Duration::from_millis(args.quiet_ms);
    if args.stdin {
        return stdin_session(args, &client, &mut p, quiet);
    }
    if let Some(job) = job {
        let files = matches!(
            job.source,
            crate::engine::session::job::JobSource::File { .. }
        );
        let every = job.every;
        let sequence = matches!(
            job.source,
            crate::engine::session::job::JobSource::Sequence(_)
        );
        command(&client, ClientCommand::StartJob { session: S, job })?;
        client_job(&client, &mut p, args, (every, files, sequence))?;
        return disconnect(&client, &mut p, args, !files);
    }
    if let Some(mut expectations) = expectations {
        if let Some(bytes) = payload {
            command(&client, ClientCommand::Send { session: S, bytes })?;
        }
        expectations.start(Instant::now());
        expect_replies(&client, &mut p, &mut expectations)?;
        return disconnect(&client, &mut p, args, true);
    }
    let sent = payload.is_some();
    if let Some(bytes) = payload {
        command(&client, ClientCommand::Send { session: S, bytes })?;
    }
    // Wait for the reply: the first bytes within the timeout, then until the peer is quiet.
    let wait_until = Instant::now() + timeout;
    let mut quiet_until: Option<Instant> = None;
    loop {
        let now = Instant::now();
        match quiet_until {
            Some(q) if now >= q => break,
            None if now >= wait_until => {
                if sent {
                    return Err(CliError::Timeout(
                        t!(
                            "cli.tcp.no_reply",
                            target = args.target,
                            secs = args.timeout : {:.1}
                        )
                        .into_owned(),
                    ));
                }
                break;
            }
            _ => {}
        }
        let Ok(event) = client.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ClientEvent::Received { peer, bytes, check } => {
                p.received(peer, &bytes, check);
                quiet_until = Some(Instant::now() + quiet);
            }
            ClientEvent::Framing { peer, notice } => {
                p.frame_notice(peer, &notice);
                // Part of a frame came: the reply has begun.
                quiet_until = Some(Instant::now() + quiet);
            }
            ClientEvent::Sent { peer, bytes } => p.record("tx", Some(peer), &bytes),
            ClientEvent::PeerFinished { remote } => {
                p.status(
                    "finished",
                    &t!("cli.tcp.peer_finished", remote = remote),
                    json!({ "remote": remote.to_string() }),
                );
                if sent && quiet_until.is_none() {
                    return Err(CliError::Network(
                        t!("cli.tcp.closed_without_reply", target = args.target).into_owned(),
                    ));
                }
                // The reply is complete.
                break;
            }
            ClientEvent::Closed {
                remote,
                reason,
                unsent_bytes,
            } => {
                return closed(
                    &mut p,
                    remote,
                    &reason,
                    unsent_bytes,
                    sent && quiet_until.is_none(),
                    args,
                );
            }
            ClientEvent::SendRejected { reason } => return Err(CliError::Network(reason)),
            _ => {}
        }
    }
    disconnect(&client, &mut p, args, true)
}

/// Prints the traffic and checks each record against `--expect` until all are met (then the
/// caller disconnects) or one is not met in time, or the connection ends first (exit 5).
fn expect_replies(
    client: &TcpClientHandle,
    p: &mut super::Printer,
    expectations: &mut super::expect::Expectations,
) -> Result<(), CliError> {
    // Bounded: each turn waits at most until the budget of the expectation waited for, and
    // every budget is finite (at most a year), so the loop ends by time or by the last match.
    while !expectations.done() {
        let now = Instant::now();
        expectations.check_time(p, now)?;
        let Ok(event) = client.events().recv_timeout(expectations.wait(now, TICK)) else {
            continue;
        };
        match event.kind {
            ClientEvent::Received { peer, bytes, check } => {
                let now = Instant::now();
                // A record after the budget ran out is too late for it.
                expectations.check_time(p, now)?;
                p.received(peer, &bytes, check);
                expectations.on_record(p, &bytes, now);
            }
            ClientEvent::Framing { peer, notice } => p.frame_notice(peer, &notice),
            ClientEvent::Sent { peer, bytes } => p.record("tx", Some(peer), &bytes),
            ClientEvent::PeerFinished { remote } => {
                p.status(
                    "finished",
                    &t!("cli.tcp.peer_finished", remote = remote),
                    json!({ "remote": remote.to_string() }),
                );
                expectations.ended(p, &t!("expect.peer_finished"))?;
            }
            ClientEvent::Closed { reason, .. } => {
                expectations.ended(p, &reason.to_string())?;
            }
            ClientEvent::SendRejected { reason } => return Err(CliError::Network(reason)),
            ClientEvent::WorkerFailed { message } => {
                return Err(CliError::Network(
                    t!("cli.worker.failed", message = message).into_owned(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Prints a job's progress and the traffic until it ends. A file's chunks are not printed
/// one by one (the progress says how far it is). No progress for the timeout (or two
/// intervals, if longer) is an error: the peer stopped reading.
fn client_job(
    client: &TcpClientHandle,
    p: &mut super::Printer,
    args: &ClientArgs,
    (every, file, sequence): (Duration, bool, bool),
) -> Result<(), CliError> {
    let stall = secs(args.timeout).max(every * 2) + crate::engine::session::job::REPORT_EVERY;
    let mut last_progress = (Instant::now(), 0u64);
    loop {
        // A sequence's waits have their own timeouts; a stream that stops moving is a stall.
        if !sequence && last_progress.0.elapsed() > stall {
            command(client, ClientCommand::StopJob { session: S })?;
            return Err(CliError::Timeout(
                t!(
                    "cli.tcp.no_progress",
                    secs = stall.as_secs_f64() : {:.1},
                    target = args.target
                )
                .into_owned(),
            ));
        }
        let Ok(event) = client.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ClientEvent::Job(status) => {
                if status.bytes > last_progress.1 {
                    last_progress = (Instant::now(), status.bytes);
                }
                super::print_job(p, &status);
                match &status.state {
                    JobState::Running => {}
                    JobState::Done | JobState::Stopped => return Ok(()),
                    JobState::Failed(why) => return Err(super::job_failed(&status, why.clone())),
                }
            }
            ClientEvent::Received { peer, bytes, check } => p.received(peer, &bytes, check),
            ClientEvent::Framing { peer, notice } => p.frame_notice(peer, &notice),
            ClientEvent::Sent { peer, bytes } => {
                last_progress.0 = Instant::now();
                if !file {
                    p.record("tx", Some(peer), &bytes);
                }
            }
            ClientEvent::Closed {
                remote,
                reason,
                unsent_bytes,
            } => return closed(p, remote, &reason, unsent_bytes, false, args),
            ClientEvent::SendRejected { reason } => return Err(CliError::Network(reason)),
            ClientEvent::WorkerFailed { message } => {
                return Err(CliError::Network(
                    t!("cli.worker.failed", message = message).into_owned(),
                ));
            }
            _ => {}
        }
    }
}

/// Ends the session and waits until the worker has written what it accepted (or given up
/// on it after the linger time, which is then an error naming the bytes left).
fn disconnect(
    client: &TcpClientHandle,
    p: &mut super::Printer,
    args: &ClientArgs,
    print_tx: bool,
) -> Result<(), CliError> {
    command(client, ClientCommand::Disconnect { session: S })?;
    loop {
        let Ok(event) = client.events().recv_timeout(COMMAND_WAIT) else {
            return Err(CliError::Network(
                t!("cli.tcp.close_unfinished").into_owned(),
            ));
        };
        match event.kind {
            ClientEvent::Sent { peer, bytes } if print_tx => p.record("tx", Some(peer), &bytes),
            ClientEvent::Received { peer, bytes, check } => p.received(peer, &bytes, check),
            ClientEvent::Framing { peer, notice } => p.frame_notice(peer, &notice),
            ClientEvent::Closed {
                remote,
                reason,
                unsent_bytes,
            } => return closed(p, remote, &reason, unsent_bytes, false, args),
            ClientEvent::Stopped => return Ok(()),
            _ => {}
        }
    }
}

fn closed(
    p: &mut super::Printer,
    remote: SocketAddr,
    reason: &CloseReason,
    unsent_bytes: usize,
    awaiting_reply: bool,
    args: &ClientArgs,
) -> Result<(), CliError> {
    p.status(
        "closed",
        &t!("cli.tcp.closed", remote = remote, reason = reason),
        json!({
            "remote": remote.to_string(),
            "reason": reason.to_string(),
            "unsent_bytes": unsent_bytes,
        }),
    );
    if unsent_bytes > 0 {
        return Err(CliError::Network(
            t!(
                "cli.tcp.unsent",
                n = unsent_bytes,
                target = args.target,
                secs = args.timeout : {:.1}
            )
            .into_owned(),
        ));
    }
    match reason {
        CloseReason::Error(e) => Err(CliError::network(e)),
        CloseReason::Reset => Err(CliError::network(&NetError::Reset { addr: remote })),
        _ if awaiting_reply => Err(CliError::Network(
            t!("cli.tcp.closed_without_reply", target = args.target).into_owned(),
        )),
        _ => Ok(()),
    }
}

/// One line of standard input: its number (from 1) and its bytes without the line end, or
/// why it cannot be used.
type StdinLine = (usize, Result<Vec<u8>, String>);

/// Reads standard input line by line on its own thread, each line at most `MAX_LINE_BYTES`
/// (a longer one is skipped, not held). One line waits in the channel and one in the reader:
/// input is read only as fast as it is sent.
fn spawn_stdin_reader() -> Result<crossbeam_channel::Receiver<Option<StdinLine>>, CliError> {
    let (line_tx, line_rx) = crossbeam_channel::bounded::<Option<StdinLine>>(1);
    crate::engine::worker::spawn_named(
        "stdin-lines",
        move || {
            let mut input = std::io::stdin().lock();
            let mut number = 0;
            loop {
                number += 1;
                let line = match read_line_capped(&mut input, MAX_LINE_BYTES) {
                    Ok(Some(line)) => line,
                    Ok(None) => break,
                    Err(e) => Err(t!("cli.stdin.unreadable", error = e).into_owned()),
                };
                let failed = line.is_err();
                if line_tx.send(Some((number, line))).is_err() || failed {
                    return;
                }
            }
            let _ = line_tx.send(None);
        },
        |_| {},
    )
    .map_err(|e| CliError::Network(t!("cli.stdin.not_started", error = e).into_owned()))?;
    Ok(line_rx)
}

/// Reads one line (without its `\n` or `\r\n`); `None` at end of input. A line longer than
/// `cap` is read to its end and dropped, and reported as an error instead.
fn read_line_capped(
    input: &mut impl std::io::BufRead,
    cap: usize,
) -> std::io::Result<Option<Result<Vec<u8>, String>>> {
    let mut line = Vec::new();
    let mut total = 0usize;
    let mut any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        let (part, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        total += part.len();
        if total <= cap {
            line.extend_from_slice(part);
        } else {
            line = Vec::new();
        }
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            break;
        }
    }
    if !any {
        return Ok(None);
    }
    if total > cap {
        return Ok(Some(Err(t!(
            "cli.stdin.too_long",
            mib = cap / (1024 * 1024)
        )
        .into_owned())));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(Ok(line)))
}

/// The bytes to send for one input line: text with escapes, encoded, plus the line ending.
fn stdin_payload(line: &[u8], ending: &str, args: &ClientArgs) -> Result<Vec<u8>, String> {
    let text = std::str::from_utf8(line).map_err(|e| {
        let at = e.valid_up_to();
        t!(
            "cli.stdin.not_utf8",
            byte = format!("{:02X}", line.get(at).copied().unwrap_or(0)),
            position = at + 1
        )
        .into_owned()
    })?;
    // Lines are data: escapes apply, macros do not (a line may well hold "{{").
    crate::codec::payload::encode_payload(&crate::codec::payload::PayloadSpec {
        text: &format!("{text}{ending}"),
        mode: crate::codec::payload::SendMode::Text,
        escapes: true,
        line_ending: crate::codec::payload::LineEnding::None,
        encoding: args.output.encoding,
    })
}

/// `--stdin`: one connection, each input line sent in order. Input is read no faster than
/// the peer takes it; a line that cannot be sent is named and skipped, and the exit code then
/// says so. At the end of input everything accepted is written before the connection closes.
fn stdin_session(
    args: &ClientArgs,
    client: &TcpClientHandle,
    p: &mut super::Printer,
    quiet: Duration,
) -> Result<(), CliError> {
    let line_rx = spawn_stdin_reader()?;
    let ending = match args.line_ending {
        LineEndingArg::Lf => "\n",
        LineEndingArg::Crlf => "\r\n",
        LineEndingArg::None => "",
    };
    let never = crossbeam_channel::never();
    let mut input_done = false;
    let mut skipped = 0usize;
    // Bytes handed to the worker and not yet reported written.
    let mut outstanding = 0usize;
    let mut last_progress = Instant::now();
    let mut last_rx = Instant::now();
    loop {
        if input_done && outstanding == 0 && last_rx.elapsed() >= quiet {
            break;
        }
        if outstanding > 0 && last_progress.elapsed() >= secs(args.timeout) {
            // The peer stopped taking data; the close reports what is left.
            break;
        }
        let lines = if input_done || outstanding >= STDIN_WINDOW_BYTES {
            &never
        } else {
            &line_rx
        };
        crossbeam_channel::select! {
            recv(lines) -> line => match line {
                Ok(Some((number, line))) => {
                    match line.and_then(|l| stdin_payload(&l, ending, args)) {
                        Ok(bytes) if bytes.is_empty() => {}
                        Ok(bytes) => {
                            if outstanding == 0 {
                                last_progress = Instant::now();
                            }
                            outstanding += bytes.len();
                            command(client, ClientCommand::Send { session: S, bytes })?;
                        }
                        Err(e) => {
                            skipped += 1;
                            p.status(
                                "error",
                                &t!("cli.stdin.line_not_sent", number = number, error = e),
                                json!({ "line": number }),
                            );
                        }
                    }
                }
                Ok(None) | Err(_) => input_done = true,
            },
            recv(client.events()) -> event => {
                let Ok(event) = event else {
                    return Err(CliError::Network(t!("cli.tcp.worker_stopped").into_owned()));
                };
                match event.kind {
                    ClientEvent::Received { peer, bytes, check } => {
                        last_rx = Instant::now();
                        p.received(peer, &bytes, check);
                    }
                    ClientEvent::Framing { peer, notice } => {
                        last_rx = Instant::now();
                        p.frame_notice(peer, &notice);
                    }
                    ClientEvent::Sent { peer, bytes } => {
                        outstanding = outstanding.saturating_sub(bytes.len());
                        last_progress = Instant::now();
                        p.record("tx", Some(peer), &bytes);
                    }
                    ClientEvent::PeerFinished { remote } => p.status(
                        "finished",
                        &t!("cli.tcp.peer_finished_sending", remote = remote),
                        json!({ "remote": remote.to_string() }),
                    ),
                    ClientEvent::SendRejected { reason } => {
                        return Err(CliError::Network(reason));
                    }
                    ClientEvent::Closed { remote, reason, unsent_bytes } => {
                        return closed(p, remote, &reason, unsent_bytes, false, args);
                    }
                    _ => {}
                }
            },
            default(TICK) => {}
        }
    }
    disconnect(client, p, args, true)?;
    if skipped > 0 {
        return Err(CliError::Usage(
            t!("cli.stdin.skipped", n = skipped).into_owned(),
        ));
    }
    Ok(())
}
