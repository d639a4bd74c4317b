//! `sockpit tcp-server` and `sockpit tcp-client`, on the tabs' workers.

use std::io::BufRead as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{CliError, OutputArgs, PayloadArgs, secs, split_host_port};
use crate::net::NetError;
use crate::tabs::tcp_client::{
    CloseReason, Command as ClientCommand, ConnectOptions, EventKind as ClientEvent,
    TcpClientHandle,
};
use crate::tabs::tcp_server::{
    Command as ServerCommand, EventKind as ServerEvent, ServerOptions, TcpServerHandle,
};
use crate::worker::{SessionId, no_wake};

const S: SessionId = SessionId(1);
const TICK: Duration = Duration::from_millis(50);

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
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Greet each client with this when it connects (--send TEXT or --hex HEX).
    #[command(flatten)]
    pub payload: PayloadArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

pub fn server(args: &ServerArgs) -> Result<(), CliError> {
    let greeting = args.payload.bytes(args.output.encoding)?;
    let mut p = args.output.printer();
    let server = TcpServerHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(format!("could not start the worker: {e}")))?;
    let mut options = ServerOptions::new(SocketAddr::new(args.bind, args.port));
    options.echo = args.echo;
    server.send(ServerCommand::Start {
        session: S,
        options,
    });
    let deadline = args.duration.map(|d| Instant::now() + secs(d));
    loop {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            server.send(ServerCommand::Stop { session: S });
            let stop_by = Instant::now() + Duration::from_secs(5);
            while Instant::now() < stop_by {
                if let Ok(e) = server.events().recv_timeout(TICK)
                    && let ServerEvent::Stopped { clients_closed } = e.kind
                {
                    p.status(
                        "stopped",
                        &format!("Stopped; {clients_closed} client(s) disconnected."),
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
            ServerEvent::Listening { local } => p.status(
                "listening",
                &format!("Listening on {local}."),
                json!({ "local": local.to_string() }),
            ),
            ServerEvent::StartFailed(e) => return Err(CliError::network(&e)),
            ServerEvent::Accepted { client, peer } => {
                p.status(
                    "connected",
                    &format!("Client {peer} connected."),
                    json!({ "peer": peer.to_string() }),
                );
                if let Some(bytes) = &greeting {
                    server.send(ServerCommand::Send {
                        session: S,
                        target: crate::tabs::tcp_server::Target::Clients(vec![client]),
                        bytes: bytes.clone(),
                    });
                }
            }
            ServerEvent::Received { peer, bytes, .. } => p.record("rx", Some(peer), &bytes),
            ServerEvent::Sent { peer, bytes, .. } => p.record("tx", Some(peer), &bytes),
            ServerEvent::ClientClosed { peer, reason, .. } => p.status(
                "closed",
                &format!("Client {peer} disconnected: {reason:?}."),
                json!({ "peer": peer.to_string(), "reason": format!("{reason:?}") }),
            ),
            ServerEvent::AcceptError { message } => {
                p.status("error", &format!("Accept failed: {message}"), json!({}));
            }
            ServerEvent::Stopped { .. } => return Ok(()),
            ServerEvent::WorkerFailed { message } => {
                return Err(CliError::Network(format!("worker failed: {message}")));
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
    /// Seconds to wait for the connection and for the reply.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    pub timeout: f64,
    /// Keep one connection open and send each line read from standard input.
    #[arg(long, conflicts_with_all = ["send", "hex"])]
    pub stdin: bool,
    /// Line ending appended to each --stdin line.
    #[arg(long, value_enum, default_value = "lf")]
    pub line_ending: LineEndingArg,
    /// A reply is complete once the peer has been quiet this long (milliseconds).
    #[arg(long, value_name = "MS", default_value_t = 300)]
    pub quiet_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn connect_error(e: &NetError) -> CliError {
    match e {
        NetError::TimedOut { .. } => CliError::Timeout(format!("{e}. {}", e.explanation())),
        other => CliError::network(other),
    }
}

pub fn client(args: &ClientArgs) -> Result<(), CliError> {
    let (host, port) = split_host_port(&args.target)?;
    let payload = args.payload.bytes(args.output.encoding)?;
    let mut p = args.output.printer();
    let client = TcpClientHandle::spawn(no_wake())
        .map_err(|e| CliError::Network(format!("could not start the worker: {e}")))?;
    let timeout = secs(args.timeout);
    let mut options = ConnectOptions::new(host, port);
    options.connect_timeout = timeout.max(Duration::from_millis(1));
    options.nodelay = true;
    client.send(ClientCommand::Connect {
        session: S,
        options,
    });
    // Connect.
    let connect_by = Instant::now() + timeout + Duration::from_secs(5);
    loop {
        if Instant::now() > connect_by {
            return Err(CliError::Timeout(format!(
                "no connection to {} within {:.1} s",
                args.target, args.timeout
            )));
        }
        let Ok(event) = client.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ClientEvent::Connected { local, remote } => {
                p.status(
                    "connected",
                    &format!("Connected: {local} → {remote}"),
                    json!({ "local": local.to_string(), "remote": remote.to_string() }),
                );
                break;
            }
            ClientEvent::ConnectFailed(e) => return Err(connect_error(&e)),
            ClientEvent::WorkerFailed { message } => {
                return Err(CliError::Network(format!("worker failed: {message}")));
            }
            _ => {}
        }
    }
    let quiet = Duration::from_millis(args.quiet_ms);
    if args.stdin {
        return stdin_session(args, &client, &mut p, quiet);
    }
    let sent = payload.is_some();
    if let Some(bytes) = payload {
        client.send(ClientCommand::Send { session: S, bytes });
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
                    return Err(CliError::Timeout(format!(
                        "no reply from {} within {:.1} s",
                        args.target, args.timeout
                    )));
                }
                break;
            }
            _ => {}
        }
        let Ok(event) = client.events().recv_timeout(TICK) else {
            continue;
        };
        match event.kind {
            ClientEvent::Received { peer, bytes } => {
                p.record("rx", Some(peer), &bytes);
                quiet_until = Some(Instant::now() + quiet);
            }
            ClientEvent::Sent { peer, bytes } => p.record("tx", Some(peer), &bytes),
            ClientEvent::Closed { remote, reason } => {
                return closed(&mut p, remote, &reason, sent && quiet_until.is_none(), args);
            }
            ClientEvent::SendRejected { reason } => return Err(CliError::Network(reason)),
            _ => {}
        }
    }
    client.send(ClientCommand::Disconnect { session: S });
    Ok(())
}

fn closed(
    p: &mut super::Printer,
    remote: SocketAddr,
    reason: &CloseReason,
    awaiting_reply: bool,
    args: &ClientArgs,
) -> Result<(), CliError> {
    p.status(
        "closed",
        &format!("Connection to {remote} closed: {reason:?}."),
        json!({ "remote": remote.to_string(), "reason": format!("{reason:?}") }),
    );
    match reason {
        CloseReason::Error(e) => Err(CliError::network(e)),
        CloseReason::Reset => Err(CliError::network(&NetError::Reset { addr: remote })),
        _ if awaiting_reply => Err(CliError::Network(format!(
            "{} closed the connection without replying",
            args.target
        ))),
        _ => Ok(()),
    }
}

fn stdin_session(
    args: &ClientArgs,
    client: &TcpClientHandle,
    p: &mut super::Printer,
    quiet: Duration,
) -> Result<(), CliError> {
    let (line_tx, line_rx) = crossbeam_channel::bounded::<Option<String>>(64);
    crate::worker::spawn_named(
        "stdin-lines",
        move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if line_tx.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = line_tx.send(None);
        },
        |_| {},
    )
    .map_err(|e| CliError::Network(format!("could not read standard input: {e}")))?;
    let ending = match args.line_ending {
        LineEndingArg::Lf => "\n",
        LineEndingArg::Crlf => "\r\n",
        LineEndingArg::None => "",
    };
    let never = crossbeam_channel::never();
    let mut lines = &line_rx;
    let mut input_done_at: Option<Instant> = None;
    let mut last_rx = Instant::now();
    loop {
        if let Some(done) = input_done_at
            && done.elapsed() >= quiet
            && last_rx.elapsed() >= quiet
        {
            client.send(ClientCommand::Disconnect { session: S });
            return Ok(());
        }
        crossbeam_channel::select! {
            recv(lines) -> line => {
                if let Ok(Some(line)) = line {
                    let payload = PayloadArgs { send: Some(format!("{line}{ending}")), hex: None }
                        .bytes(args.output.encoding);
                    match payload {
                        Ok(Some(bytes)) => {
                            client.send(ClientCommand::Send { session: S, bytes });
                        }
                        Ok(None) => {}
                        Err(e) => p.status("error", &format!("Not sent: {e}"), json!({})),
                    }
                } else {
                    input_done_at = Some(Instant::now());
                    lines = &never;
                }
            },
            recv(client.events()) -> event => {
                let Ok(event) = event else {
                    return Err(CliError::Network("the connection worker stopped".to_owned()));
                };
                match event.kind {
                    ClientEvent::Received { peer, bytes } => {
                        last_rx = Instant::now();
                        p.record("rx", Some(peer), &bytes);
                    }
                    ClientEvent::Sent { peer, bytes } => p.record("tx", Some(peer), &bytes),
                    ClientEvent::Closed { remote, reason } => {
                        return closed(p, remote, &reason, false, args);
                    }
                    _ => {}
                }
            },
            default(TICK) => {}
        }
    }
}
