//! `sockpit udp`: bind, send to, listen, reply — on the engine's UDP worker.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use rust_i18n::t;
use serde_json::json;

use super::{
    CliError, FramingArgs, JobArgs, OutputArgs, PayloadArgs, check_datagram_sizes, parse_ms,
    parse_secs, secs, split_host_port,
};
use crate::engine::session::JobState;
use crate::engine::udp::{Command, EventKind, UdpHandle, UdpStats};
use crate::engine::worker::{SessionId, no_wake};
use crate::net::udp::{MulticastSend, UdpBindOptions};

const S: SessionId = SessionId(1);
const TICK: Duration = Duration::from_millis(50);
/// How long a command may wait for room in the worker's queue (only a hung worker is slower).
const COMMAND_WAIT: Duration = Duration::from_secs(30);

fn command(udp: &UdpHandle, c: Command) -> Result<(), CliError> {
    udp.send_wait(c, COMMAND_WAIT)
        .map_err(|e| CliError::Network(e.to_string()))
}

/// Says how many datagrams were dropped since the last report, by the kernel (receive buffer
/// full) or by Sockpit (output behind), and how many replies were not sent, so a burst never
/// loses datagrams in silence.
fn report_drops(p: &mut super::Printer, stats: &UdpStats, reported: &mut (u64, u64, u64)) {
    let kernel = stats.dropped_by_kernel.unwrap_or(0);
    let app = stats.dropped_by_app;
    if kernel > reported.0 {
        p.status(
            "dropped",
            &t!("cli.udp.kernel_dropped", n = kernel),
            json!({ "by": "kernel", "total": kernel }),
        );
    }
    if app > reported.1 {
        p.status(
            "dropped",
            &t!("cli.udp.app_dropped", n = app),
            json!({ "by": "sockpit", "total": app }),
        );
    }
    if stats.unsent > reported.2 {
        p.status(
            "unsent",
            &t!("cli.udp.unsent", n = stats.unsent),
            json!({ "total": stats.unsent }),
        );
    }
    *reported = (kernel, app, stats.unsent);
}

#[derive(Debug, Clone, Args)]
pub struct UdpArgs {
    /// Local ADDRESS:PORT to bind (port 0 = any free port).
    #[arg(long, value_name = "ADDRESS:PORT", default_value = "0.0.0.0:0")]
    pub bind: SocketAddr,
    /// Where to send: HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub to: Option<String>,
    #[command(flatten)]
    pub payload: PayloadArgs,
    #[command(flatten)]
    pub jobs: JobArgs,
    /// Listen this many seconds, then stop (default: after a send, until the reply is
    /// complete; without a send, until Ctrl-C). 0.001 to 31536000.
    #[arg(long, value_name = "SECS", value_parser = parse_secs)]
    pub listen: Option<f64>,
    /// Stop after this many datagrams were received.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// The socket receive buffer to ask the kernel for, in KiB: 0 keeps the system's default,
    /// at most 1048576 (the kernel may cap it at net.core.rmem_max; a datagram that finds it
    /// full is dropped and counted as dropped by the kernel).
    #[arg(long, value_name = "KIB", default_value_t = (crate::net::udp::DEFAULT_RECV_BUFFER_BYTES / 1024) as u32,
          value_parser = clap::value_parser!(u32).range(0..=1_048_576))]
    pub recv_buffer: u32,
    /// Answer every datagram received with this text (escapes allowed), to its sender.
    #[arg(long, value_name = "TEXT")]
    pub reply: Option<String>,
    /// After a send: seconds to wait for the first reply (exit 4 if none), 0.001 to 31536000.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = parse_secs)]
    pub timeout: f64,
    /// After the first reply, stop once no datagram came for this long (milliseconds, at most
    /// a year).
    #[arg(long, value_name = "MS", default_value_t = 300, value_parser = parse_ms)]
    pub quiet_ms: u64,
    #[command(flatten)]
    pub expect: super::expect::ExpectArgs,
    #[command(flatten)]
    pub framing: FramingArgs,
    #[command(flatten)]
    pub capture: super::CaptureArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: &UdpArgs) -> Result<(), CliError> {
    let capture = args.capture.start(
        crate::capture::Transport::Udp,
        format!("Sockpit UDP {}", args.bind), // i18n-exempt: written into capture files
        None,
        args.output.encoding,
    )?;
    let tap = capture.as_ref().map(|c| c.tap.clone());
    let result = session(args, tap);
    super::end_capture(capture, &args.output, result)
}

fn session(
    args: &UdpArgs,
    tap: Option<crate::engine::session::TapHandoff>,
) -> Result<(), CliError> {
    let encoding = args.output.encoding;
    let job = args.jobs.job(&args.payload, encoding, true)?;
    let file = job.as_ref().is_some_and(|j| {
        matches!(
            j.source,
            crate::engine::session::job::JobSource::File { .. }
        )
    });
    // A repeat's first payload stands for its size; a file's datagrams are --chunk bytes.
    let payload = if file {
        None
    } else {
        args.payload.bytes(encoding)?
    };
    // A library packet may name where it goes; --to wins.
    let packet_to = args
        .payload
        .library_packet()?
        .map(|p| p.destination)
        .filter(|d| !d.trim().is_empty());
    let to = args
        .to
        .as_deref()
        .or(packet_to.as_deref())
        .map(split_host_port)
        .transpose()?;
    if (payload.is_some() || job.is_some()) && to.is_none() {
        return Err(CliError::Usage(t!("cli.udp.needs_to").into_owned()));
    }
    let reply = args
        .reply
        .as_ref()
        .map(|text| {
            PayloadArgs {
                send: Some(text.clone()),
                ..PayloadArgs::default()
            }
            .bytes(encoding)
        })
        .transpose()?
        .flatten();
    check_datagram_sizes(args.bind, payload.as_deref(), to.as_ref(), reply.as_deref())?;
    let mock = args.framing.mock_plan(crate::capture::Transport::Udp)?;
    let mut pipeline = args
        .framing
        .pipeline_with(args.output.encoding, mock.as_ref())?;
    if let Some(reply) = reply.clone() {
        // Answered in the worker as it reads, so a burst is answered at reading speed. The
        // responder comes with the socket, so no datagram is read before it is there (set
        // after Bound, the first datagrams of a burst that follows at once went unanswered).
        pipeline.stages.insert(
            0,
            crate::engine::session::Factory::new("reply", move || {
                Box::new(crate::engine::session::AutoReply::new(reply.clone()))
                    as Box<dyn crate::engine::session::Stage>
            }),
        );
    }
    let script = args
        .framing
        .install_script(args.output.encoding, &mut pipeline)?;
    let expectations = args.expect.expectations(encoding, job.is_some())?;
    // The expectations end the command by themselves; a second way to end it would race them.
    if expectations.is_some() && (args.listen.is_some() || args.count.is_some()) {
        return Err(CliError::Usage(t!("expect.not_with_listen").into_owned()));
    }
    let mut p = args.output.printer();
    if let Some(reports) = script {
        p.watch_script(reports);
    }
    if let Some(m) = &mock {
        p.status(
            "mock",
            &m.note(false),
            json!({ "rules": m.rules.rules.len() }),
        );
    }
    let udp = UdpHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(t!("cli.worker.not_started", error = e).into_owned()))?;
    if tap.is_some() {
        command(&udp, Command::SetTap { tap })?;
    }
    let mut options = UdpBindOptions::new(args.bind);
    options.broadcast = true;
    // By default the same buffer the UDP tab asks for, so a burst fits while replies go out.
    options.recv_buffer_bytes = (args.recv_buffer > 0).then(|| args.recv_buffer as usize * 1024);
    command(
        &udp,
        Command::BindWith {
            session: S,
            options,
            multicast: MulticastSend::default(),
            pipeline,
        },
    )?;
    let bind_by = Instant::now() + Duration::from_secs(10);
    loop {
        if Instant::now() > bind_by {
            return Err(CliError::Timeout(t!("cli.udp.not_bound").into_owned()));
        }
        let Ok(e) = udp.events().recv_timeout(TICK) else {
            continue;
        };
        match e.kind {
            EventKind::Bound { local } => {
                p.status(
                    "bound",
                    &t!("cli.udp.bound", local = local),
                    json!({ "local": local.to_string() }),
                );
                break;
            }
            EventKind::BindFailed(e) => return Err(CliError::network(&e)),
            _ => {}
        }
    }
    let mut job_running = false;
    let sent = match (job, payload, to) {
        (Some(job), _, Some((host, port))) => {
            command(
                &udp,
                Command::StartJob {
                    session: S,
                    host,
                    port,
                    job,
                },
            )?;
            job_running = true;
            false
        }
        (None, Some(bytes), Some((host, port))) => {
            command(
                &udp,
                Command::Send {
                    session: S,
                    host,
                    port,
                    bytes,
                },
            )?;
            true
        }
        _ => false,
    };
    let mut reported = (0, 0, 0);
    if let Some(mut expectations) = expectations {
        expectations.start(Instant::now());
        expect_datagrams(&udp, &mut p, &mut expectations, &mut reported)?;
        return finish(&udp, &mut p, &mut reported, true);
    }
    let mut reported = (0, 0, 0);
    let listen_until = args.listen.map(|l| Instant::now() + secs(l));
    let first_by = Instant::now() + secs(args.timeout);
    let quiet = Duration::from_millis(args.quiet_ms);
    let mut last_rx: Option<Instant> = None;
    let mut received = 0u64;
    loop {
        let now = Instant::now();
        if let Some(until) = listen_until {
            if now >= until {
                if job_running {
                    command(&udp, Command::StopJob { session: S })?;
                }
                return finish(&udp, &mut p, &mut reported, !file);
            }
        } else if sent {
            match last_rx {
                None if now >= first_by => {
                    return Err(CliError::Timeout(
                        t!("cli.udp.no_reply", secs = args.timeout : {:.1}).into_owned(),
                    ));
                }
                Some(t) if t.elapsed() >= quiet => {
                    return finish(&udp, &mut p, &mut reported, !file);
                }
                _ => {}
            }
        }
        if args.count.is_some_and(|c| received >= c) {
            return finish(&udp, &mut p, &mut reported, !file);
        }
        let Ok(e) = udp.events().recv_timeout(TICK) else {
            continue;
        };
        match e.kind {
            EventKind::Received(batch) => {
                for d in batch {
                    p.received(d.from, &d.bytes, d.check);
                    received += 1;
                    last_rx = Some(Instant::now());
                    if args.count.is_some_and(|c| received >= c) {
                        break;
                    }
                }
            }
            EventKind::Framing { peer, notice } => {
                p.frame_notice(peer, &notice);
                last_rx = Some(Instant::now());
            }
            EventKind::Sent { to, bytes, .. } if !file => p.record("tx", Some(to), &bytes),
            EventKind::Job(status) => {
                super::print_job(&mut p, &status);
                match &status.state {
                    JobState::Running => {}
                    // Without --listen the command ends with the job.
                    JobState::Done | JobState::Stopped => {
                        job_running = false;
                        if listen_until.is_none() {
                            return finish(&udp, &mut p, &mut reported, !file);
                        }
                    }
                    JobState::Failed(why) => return Err(super::job_failed(&status, why.clone())),
                }
            }
            EventKind::JobRefused { reason } => return Err(CliError::Usage(reason)),
            EventKind::SendFailed { error, .. } => return Err(CliError::network(&error)),
            EventKind::Icmp(e) if sent => return Err(CliError::Network(e.to_string())),
            EventKind::Icmp(e) => p.status("error", &e.to_string(), json!({})),
            EventKind::Stats(stats) => report_drops(&mut p, &stats, &mut reported),
            _ => {}
        }
    }
}

/// Prints the traffic and checks each datagram (or frame) against `--expect` until all are
/// met (then the caller closes) or one is not met in time (exit 5).
fn expect_datagrams(
    udp: &UdpHandle,
    p: &mut super::Printer,
    expectations: &mut super::expect::Expectations,
    reported: &mut (u64, u64, u64),
) -> Result<(), CliError> {
    // Bounded: each turn waits at most until the budget of the expectation waited for, and
    // every budget is finite, so the loop ends by time or by the last match.
    while !expectations.done() {
        let now = Instant::now();
        expectations.check_time(p, now)?;
        let Ok(e) = udp.events().recv_timeout(expectations.wait(now, TICK)) else {
            continue;
        };
        match e.kind {
            EventKind::Received(batch) => {
                for d in batch {
                    let now = Instant::now();
                    // A datagram after the budget ran out is too late for it.
                    expectations.check_time(p, now)?;
                    p.received(d.from, &d.bytes, d.check);
                    expectations.on_record(p, &d.bytes, now);
                }
            }
            EventKind::Framing { peer, notice } => p.frame_notice(peer, &notice),
            EventKind::Sent { to, bytes, .. } => p.record("tx", Some(to), &bytes),
            EventKind::SendFailed { error, .. } => return Err(CliError::network(&error)),
            // An ICMP error answers one of our sends (port unreachable…): a network error, as
            // without --expect, said now rather than when the budget runs out.
            EventKind::Icmp(e) => return Err(CliError::Network(e.to_string())),
            EventKind::Stats(stats) => report_drops(p, &stats, reported),
            _ => {}
        }
    }
    Ok(())
}

/// Closes the socket and reports drops the worker counted since its last report, and the
/// sends still queued (they are printed as they go out).
fn finish(
    udp: &UdpHandle,
    p: &mut super::Printer,
    reported: &mut (u64, u64, u64),
    print_tx: bool,
) -> Result<(), CliError> {
    command(udp, Command::Close { session: S })?;
    let by = Instant::now() + COMMAND_WAIT;
    while Instant::now() < by {
        let Ok(e) = udp.events().recv_timeout(TICK) else {
            continue;
        };
        match e.kind {
            EventKind::Sent { to, bytes, .. } if print_tx => p.record("tx", Some(to), &bytes),
            // What the senders' framers still held, as the session ends.
            EventKind::Received(batch) => {
                for d in batch {
                    p.received(d.from, &d.bytes, d.check);
                }
            }
            EventKind::Framing { peer, notice } => p.frame_notice(peer, &notice),
            EventKind::Stats(stats) => report_drops(p, &stats, reported),
            EventKind::Closed => return Ok(()),
            EventKind::SendFailed { error, .. } => return Err(CliError::network(&error)),
            _ => {}
        }
    }
    Err(CliError::Network(
        t!("cli.udp.close_unfinished").into_owned(),
    ))
}
