//! `sockpit udp`: bind, send to, listen, reply — on the UDP tab's worker.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;

use super::{CliError, OutputArgs, PayloadArgs, secs, split_host_port};
use crate::net::udp::{MulticastSend, UdpBindOptions};
use crate::tabs::udp::{Command, EventKind, UdpHandle, icmp_text};
use crate::worker::{SessionId, no_wake};

const S: SessionId = SessionId(1);
const TICK: Duration = Duration::from_millis(50);

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
    /// Listen this many seconds, then stop (default: after a send, until the reply is
    /// complete; without a send, until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub listen: Option<f64>,
    /// Stop after this many datagrams were received.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Answer every datagram received with this text (escapes allowed), to its sender.
    #[arg(long, value_name = "TEXT")]
    pub reply: Option<String>,
    /// After a send: seconds to wait for the first reply (exit 4 if none).
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// After the first reply, stop once no datagram came for this long (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub quiet_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn run(args: &UdpArgs) -> Result<(), CliError> {
    let encoding = args.output.encoding;
    let payload = args.payload.bytes(encoding)?;
    let to = args.to.as_deref().map(split_host_port).transpose()?;
    if payload.is_some() && to.is_none() {
        return Err(CliError::Usage(
            "--send/--hex need --to HOST:PORT to know where to send".to_owned(),
        ));
    }
    let reply = args
        .reply
        .as_ref()
        .map(|text| {
            PayloadArgs {
                send: Some(text.clone()),
                hex: None,
            }
            .bytes(encoding)
        })
        .transpose()?
        .flatten();
    let mut p = args.output.printer();
    let udp = UdpHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(format!("could not start the worker: {e}")))?;
    let mut options = UdpBindOptions::new(args.bind);
    options.broadcast = true;
    udp.send(Command::Bind {
        session: S,
        options,
        multicast: MulticastSend::default(),
    });
    let bind_by = Instant::now() + Duration::from_secs(10);
    loop {
        if Instant::now() > bind_by {
            return Err(CliError::Timeout("the socket did not bind".to_owned()));
        }
        let Ok(e) = udp.events().recv_timeout(TICK) else {
            continue;
        };
        match e.kind {
            EventKind::Bound { local } => {
                p.status(
                    "bound",
                    &format!("Bound to {local}."),
                    json!({ "local": local.to_string() }),
                );
                break;
            }
            EventKind::BindFailed(e) => return Err(CliError::network(&e)),
            _ => {}
        }
    }
    let sent = match (payload, to) {
        (Some(bytes), Some((host, port))) => {
            udp.send(Command::Send {
                session: S,
                host,
                port,
                bytes,
            });
            true
        }
        _ => false,
    };
    let listen_until = args.listen.map(|l| Instant::now() + secs(l));
    let first_by = Instant::now() + secs(args.timeout);
    let quiet = Duration::from_millis(args.quiet_ms);
    let mut last_rx: Option<Instant> = None;
    let mut received = 0u64;
    loop {
        let now = Instant::now();
        if let Some(until) = listen_until {
            if now >= until {
                return Ok(());
            }
        } else if sent {
            match last_rx {
                None if now >= first_by => {
                    return Err(CliError::Timeout(format!(
                        "no reply within {:.1} s",
                        args.timeout
                    )));
                }
                Some(t) if t.elapsed() >= quiet => return Ok(()),
                _ => {}
            }
        }
        if args.count.is_some_and(|c| received >= c) {
            return Ok(());
        }
        let Ok(e) = udp.events().recv_timeout(TICK) else {
            continue;
        };
        match e.kind {
            EventKind::Received(batch) => {
                for d in batch {
                    p.record("rx", Some(d.from), &d.bytes);
                    received += 1;
                    last_rx = Some(Instant::now());
                    if let Some(answer) = &reply {
                        udp.send(Command::Send {
                            session: S,
                            host: d.from.ip().to_string(),
                            port: d.from.port(),
                            bytes: answer.clone(),
                        });
                    }
                    if args.count.is_some_and(|c| received >= c) {
                        break;
                    }
                }
            }
            EventKind::Sent { to, bytes, .. } => p.record("tx", Some(to), &bytes),
            EventKind::SendFailed { error, .. } => return Err(CliError::network(&error)),
            EventKind::Icmp(e) if sent => return Err(CliError::Network(icmp_text(&e))),
            EventKind::Icmp(e) => p.status("error", &icmp_text(&e), json!({})),
            _ => {}
        }
    }
}
