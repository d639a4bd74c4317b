//! The command line: `sockpit` alone opens the window; subcommands run headless on the same
//! workers and codecs the tabs use. Readable output by default, `--json` (one object per line)
//! for scripts. Exit codes: 0 success, 2 usage error, 3 network error, 4 timeout, 5 an
//! --expect not met (or a replayed answer that differs), 6 an incomplete --capture.

// Doc comments here are clap's help text, shown to users as written: no Markdown backticks.
#![allow(clippy::doc_markdown)]

mod broadcast;
mod expect;
mod iptools;
mod output;
mod replay;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rust_i18n::t;

use crate::codec::TextEncoding;
use crate::codec::macros::Template;
use crate::codec::payload::{LineEnding, PayloadSpec, SendMode};
use crate::engine::session::JobSpec;
use crate::engine::session::job::{EVERY_MAX, TCP_FILE_CHUNK, UDP_CHUNK_MAX};
use crate::net::host::quote;

pub use output::Printer;

#[derive(Debug, Parser)]
#[command(
    name = "sockpit",
    version,
    about = "A socket workbench: TCP server and client, UDP, broadcast discovery, IP tools.", // i18n-exempt: clap's help stays English
    long_about = "A socket workbench. With no subcommand, opens the window. Subcommands run headless on the same engine.\n\nExit codes: 0 success, 2 usage error, 3 network error, 4 timeout, 5 an --expect not met or a replayed answer that differs, 6 an incomplete --capture." // i18n-exempt: clap's help stays English
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<CliCommand>,
}

#[derive(Debug, Subcommand)]
pub enum CliCommand {
    /// Open the window, optionally with a session already started.
    Gui(GuiArgs),
    /// Listen for TCP clients and print what they send.
    TcpServer(tcp::ServerArgs),
    /// Connect to a TCP server, send, and print the reply.
    TcpClient(tcp::ClientArgs),
    /// Bind a UDP port, send datagrams, print what arrives with its sender.
    Udp(udp::UdpArgs),
    /// Replay the client side of a capture (pcap/pcapng) to a device and report where its
    /// answers differ from the recording (exit 5).
    Replay(replay::ReplayArgs),
    /// Send a discovery probe on an interface and print who answered.
    Broadcast(broadcast::BroadcastArgs),
    /// Send a Wake-on-LAN magic packet.
    Wol(broadcast::WolArgs),
    /// The subnet calculator, with the binary AND view.
    Subnet(iptools::SubnetArgs),
    /// Find the hosts of an IPv4 subnet (UDP probes, optional TCP ports, neighbour table).
    Sweep(iptools::SweepArgs),
    /// This machine's neighbour (ARP/NDP) table with MAC vendors.
    Neighbours(iptools::ListArgs),
    /// This machine's TCP and UDP sockets (like netstat -an).
    Sockets(iptools::SocketsArgs),
    /// Which way the kernel would send to a host (like ip route get): interface, source,
    /// gateway, the table entry that decided, and why. Nothing is sent.
    Route(iptools::RouteArgs),
}

/// A tab name on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TabArg {
    TcpServer,
    TcpClient,
    Udp,
    Broadcast,
    IpTools,
}

/// Start-up options for the window: open tabs with sessions already started, as if the user
/// had clicked Start / Connect / Bind. `--listen`, `--connect` and `--bind` may repeat: each
/// address gets its own session of its tab (the first the tab's first session, and so on).
/// Errors show in the session as usual.
#[derive(Debug, Clone, Default, Args)]
pub struct GuiArgs {
    /// The tab to open.
    #[arg(long, value_enum)]
    pub tab: Option<TabArg>,
    /// Start a TCP Server session on ADDRESS:PORT (repeat for more sessions).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub listen: Vec<SocketAddr>,
    /// Connect a TCP Client session to HOST:PORT (repeat for more sessions).
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Vec<String>,
    /// Bind a UDP session to ADDRESS:PORT (repeat for more sessions).
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub bind: Vec<SocketAddr>,
    /// Text encoding for every tab (utf-8, gbk, gb18030, big5, shift_jis, …).
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<TextEncoding>,
    /// Open a pcap or pcapng file in the read-only capture viewer (of the tab given, or the
    /// TCP Client's).
    #[arg(long, value_name = "FILE")]
    pub open: Option<std::path::PathBuf>,
    /// Capture every session started by --listen, --connect or --bind from its start, as
    /// pcapng files in DIR (the session's automatic capture, switched on).
    #[arg(long, value_name = "DIR")]
    pub capture_dir: Option<std::path::PathBuf>,
    /// Write every session's figures (bytes and records each way, drops, capture) to FILE as
    /// JSON, each second while the window runs and when it closes: for scripts that watch a
    /// long run.
    #[arg(long, value_name = "FILE")]
    pub report: Option<std::path::PathBuf>,
}

/// Makes the folder `gui --capture-dir` names (and its parents), as `--capture FILE` makes its
/// file; a usage error saying why when it cannot be made.
pub fn make_capture_dir(dir: &std::path::Path) -> Result<(), CliError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::Usage(t!("report.capture_dir", dir = dir.display(), error = e).into_owned())
    })
}

/// What a failed command was about; decides the exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Network(String),
    #[error("{0}")]
    Timeout(String),
    /// The device did not answer as `--expect` said (or as a replayed capture recorded).
    #[error("{0}")]
    Expectation(String),
    /// The session ran but its `--capture` file is incomplete (stopped by an error, or
    /// records the disk could not keep up with).
    #[error("{0}")]
    Capture(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Network(_) => 3,
            Self::Timeout(_) => 4,
            Self::Expectation(_) => 5,
            Self::Capture(_) => 6,
        }
    }

    pub fn network(e: &crate::net::NetError) -> Self {
        Self::Network(t!("cli.error_with_fix", error = e, fix = e.explanation()).into_owned())
    }
}

/// `--encoding` takes the names the window shows (case and punctuation ignored).
pub fn parse_encoding(name: &str) -> Result<TextEncoding, String> {
    TextEncoding::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = TextEncoding::ALL.iter().map(|e| e.name()).collect();
        t!(
            "cli.encoding.unknown",
            name = name,
            names = names.join(", ")
        )
        .into_owned()
    })
}

/// `--send TEXT` (escapes such as `\r\n` allowed, encoded in the chosen encoding) or
/// `--hex HEX`, both with macros; or `--file PATH`; optionally repeated.
#[derive(Debug, Clone, Default, Args)]
pub struct PayloadArgs {
    /// Text to send; escapes \r \n \t \xNN are understood; encoded with --encoding. Macros
    /// are expanded for each send: {{COUNTER}} or {{COUNTER:START:STEP:WIDTH}}, {{TIME}}
    /// ({{TIME:MS}}, {{TIME:DATE}}, {{TIME:ISO}}), {{UNIXTIME}}, {{UNIXTIME_MS}},
    /// {{RANDOM:N}} (N random bytes), {{HEX:0D0A}}.
    #[arg(long, value_name = "TEXT", conflicts_with = "hex")]
    pub send: Option<String>,
    /// Bytes to send as hex (48 65 6C, 48656C, 0x48,0x65); macros as with --send.
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,
    /// A packet library to send from: a Sockpit export (JSON) or Packet Sender's export (its
    /// JSON, or the packets.ini of File > Export Database). Pick the packet with --packet.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["send", "hex"])]
    pub packets: Option<std::path::PathBuf>,
    /// The name of the packet in --packets to send (any case).
    #[arg(long, value_name = "NAME", requires = "packets")]
    pub packet: Option<String>,
}

/// `--file PATH`, `--repeat N`, `--every-ms MS` and `--chunk BYTES`: what a session sends by
/// itself, in its worker.
#[derive(Debug, Clone, Default, Args)]
pub struct JobArgs {
    /// Send this file: over TCP streamed as fast as the peer reads, over UDP in datagrams of
    /// --chunk bytes, one every --every-ms.
    #[arg(long, value_name = "PATH", conflicts_with_all = ["send", "hex", "repeat"])]
    pub file: Option<std::path::PathBuf>,
    /// Send the payload N times, one every --every-ms (default 1000); each send gets the
    /// next {{COUNTER}}.
    #[arg(long, value_name = "N")]
    pub repeat: Option<u64>,
    /// Milliseconds between repeats, or between the datagrams of a UDP --file (0 to
    /// 86400000; 0 is as fast as the socket takes them).
    #[arg(long, value_name = "MS", value_parser = parse_ms)]
    pub every_ms: Option<u64>,
    /// UDP --file: bytes per datagram, 1 to 65507 (default 1024).
    #[arg(long, value_name = "BYTES")]
    pub chunk: Option<usize>,
    /// Run the steps in this file, one per line: send TEXT, hex HEX, packet NAME (from
    /// --packets), wait MS, expect MS text|hex|regex WHAT, repeat K. A wait that times out
    /// exits 4 naming the step.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["send", "hex", "file", "repeat", "packet"])]
    pub sequence: Option<std::path::PathBuf>,
}

impl PayloadArgs {
    /// The typed payload compiled with its macros, if one was given; bad hex, escapes,
    /// macros or unencodable text are a usage error.
    pub fn template(&self, encoding: TextEncoding) -> Result<Option<Template>, CliError> {
        if let Some(packet) = self.library_packet()? {
            return packet
                .template()
                .map(Some)
                .map_err(|e| CliError::Usage(format!("--packet \"{}\": {e}", packet.name)));
        }
        let (text, mode) = match (&self.send, &self.hex) {
            (Some(t), _) => (t.as_str(), SendMode::Text),
            (None, Some(h)) => (h.as_str(), SendMode::Hex),
            (None, None) => return Ok(None),
        };
        let flag = if mode == SendMode::Text {
            "--send"
        } else {
            "--hex"
        };
        Template::compile(&PayloadSpec {
            text,
            mode,
            escapes: true,
            line_ending: LineEnding::None,
            encoding,
        })
        .map(Some)
        .map_err(|e| CliError::Usage(format!("{flag}: {e}")))
    }

    /// The packet `--packets FILE --packet NAME` names, if given; a file that cannot be read
    /// or a name it lacks is a usage error listing what it has.
    pub fn library_packet(&self) -> Result<Option<crate::codec::library::Packet>, CliError> {
        let Some(name) = &self.packet else {
            return Ok(None);
        };
        let Some((path, library)) = self.library()? else {
            return Ok(None);
        };
        if let Some(p) = library.find(name) {
            Ok(Some(p.clone()))
        } else {
            let names: Vec<&str> = library
                .packets
                .iter()
                .take(12)
                .map(|p| p.name.as_str())
                .collect();
            let more = if library.packets.len() > 12 {
                ", …"
            } else {
                ""
            };
            Err(CliError::Usage(
                t!(
                    "cli.packets.no_packet",
                    file = path.display(),
                    name = name,
                    names = format!("{}{more}", names.join(", "))
                )
                .into_owned(),
            ))
        }
    }

    /// The library `--packets FILE` reads, if given.
    pub fn library(
        &self,
    ) -> Result<Option<(std::path::PathBuf, crate::codec::library::Library)>, CliError> {
        let Some(path) = &self.packets else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).map_err(|e| cannot_read("--packets", path, &e))?;
        let (packets, _) = crate::codec::library::Library::parse(&String::from_utf8_lossy(&bytes))
            .map_err(|e| CliError::Usage(format!("--packets {}: {e}", path.display())))?;
        Ok(Some((
            path.clone(),
            crate::codec::library::Library { packets },
        )))
    }

    /// The bytes of one send (macros expanded once), if a payload was given.
    pub fn bytes(&self, encoding: TextEncoding) -> Result<Option<Vec<u8>>, CliError> {
        let mut rng = crate::codec::macros::Rng::from_clock();
        Ok(self.template(encoding)?.map(|t| t.render_now(0, &mut rng)))
    }
}

impl JobArgs {
    /// What the session sends by itself, if `--repeat` or `--file` asks for it; `udp` picks
    /// the file's datagram size. Every number and the file are checked here, before any
    /// traffic.
    pub fn job(
        &self,
        payload: &PayloadArgs,
        encoding: TextEncoding,
        udp: bool,
    ) -> Result<Option<JobSpec>, CliError> {
        let usage = |key: &str| Err(CliError::Usage(t!(key).into_owned()));
        if let Some(path) = &self.sequence {
            if self.every_ms.is_some() || self.chunk.is_some() {
                return usage("cli.job.sequence_pace");
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| cannot_read("--sequence", path, &e))?;
            let library = payload.library()?;
            let packet = |name: &str| match &library {
                None => Err(t!("cli.job.needs_library").into_owned()),
                Some((file, lib)) => match lib.find(name) {
                    Some(p) => p.template(),
                    None => Err(t!("cli.job.no_such_packet", file = file.display()).into_owned()),
                },
            };
            let sequence =
                crate::engine::session::sequence::Sequence::parse_with(&text, encoding, &packet)
                    .map_err(|e| CliError::Usage(format!("--sequence {}: {e}", path.display())))?;
            return Ok(Some(JobSpec::sequence(sequence)));
        }
        let every = self.every_ms.map(std::time::Duration::from_millis);
        if every.is_some_and(|e| e > EVERY_MAX) {
            return usage("cli.job.every_too_long");
        }
        if let Some(path) = &self.file {
            let chunk = if udp {
                let chunk = self.chunk.unwrap_or(1024);
                if !(1..=UDP_CHUNK_MAX).contains(&chunk) {
                    return usage("cli.job.bad_chunk");
                }
                chunk
            } else {
                if self.chunk.is_some() {
                    return usage("cli.job.chunk_tcp");
                }
                TCP_FILE_CHUNK
            };
            match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => {
                    return Err(CliError::Usage(
                        t!("cli.job.file_is_folder", file = path.display()).into_owned(),
                    ));
                }
                Ok(_) => {}
                Err(e) => {
                    return Err(cannot_read("--file", path, &e));
                }
            }
            if let Err(e) = std::fs::File::open(path) {
                return Err(cannot_read("--file", path, &e));
            }
            return Ok(Some(JobSpec::file(
                path,
                chunk,
                every.unwrap_or(std::time::Duration::ZERO),
            )));
        }
        if self.chunk.is_some() {
            return usage("cli.job.chunk_needs_file");
        }
        if payload.packets.is_some() && payload.packet.is_none() {
            return usage("cli.job.packets_need_packet");
        }
        let Some(count) = self.repeat else {
            if every.is_some() {
                return usage("cli.job.every_needs_repeat");
            }
            return Ok(None);
        };
        if count == 0 {
            return usage("cli.job.repeat_zero");
        }
        let Some(template) = payload.template(encoding)? else {
            return usage("cli.job.repeat_needs_payload");
        };
        let spec = JobSpec::repeat(
            template,
            every.unwrap_or(std::time::Duration::from_secs(1)),
            Some(count),
        );
        spec.check().map_err(CliError::Usage)?;
        Ok(Some(spec))
    }
}

/// How traffic is printed.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Decode received text in this encoding (the names the window shows).
    #[arg(long, default_value = "utf-8", value_parser = parse_encoding)]
    pub encoding: TextEncoding,
    /// One JSON object per line instead of readable text.
    #[arg(long)]
    pub json: bool,
    /// Also print payloads as hex.
    #[arg(long)]
    pub hex_out: bool,
}

impl OutputArgs {
    pub fn printer(&self) -> Printer {
        Printer::stdout(self.json, self.hex_out, self.encoding)
    }
}

/// `--capture FILE`: every record of the session written to a file as it happens.
#[derive(Debug, Clone, Default, Args)]
pub struct CaptureArgs {
    /// Write every byte sent and received to FILE as it happens, in the format its name ends
    /// in: .pcapng (Wireshark and tshark open it; headers are reconstructed), .csv or .txt.
    #[arg(long, value_name = "FILE")]
    pub capture: Option<std::path::PathBuf>,
}

/// A `--capture` that has started: the tap for the worker and the handle for the end.
pub struct StartedCapture {
    pub tap: crate::engine::session::TapHandoff,
    pub handle: crate::capture::CaptureHandle,
}

impl CaptureArgs {
    /// Creates the file (a bad name or folder is a usage error, before any traffic).
    pub fn start(
        &self,
        transport: crate::capture::Transport,
        label: String,
        opened_by: Option<crate::capture::OpenedBy>,
        encoding: TextEncoding,
    ) -> Result<Option<StartedCapture>, CliError> {
        use crate::capture::{Capture, CaptureFormat, CaptureOptions};
        let Some(path) = &self.capture else {
            return Ok(None);
        };
        let format = CaptureFormat::from_path(path).ok_or_else(|| {
            CliError::Usage(t!("cli.capture.no_format", file = path.display()).into_owned())
        })?;
        let options = CaptureOptions {
            encoding,
            session_label: label,
            opened_by,
        };
        let (tap, handle) = Capture::start(path, format, transport, &options)
            .map_err(|e| CliError::Usage(format!("--capture: {e}")))?;
        Ok(Some(StartedCapture {
            tap: crate::engine::session::TapHandoff::new(Box::new(tap)),
            handle,
        }))
    }
}

/// Ends a `--capture` once its session's worker is gone (which let go of the tap): waits for
/// the file, says what it holds, and turns an incomplete capture into exit code 6 when the
/// session itself succeeded.
pub fn end_capture(
    capture: Option<StartedCapture>,
    output: &OutputArgs,
    result: Result<(), CliError>,
) -> Result<(), CliError> {
    use crate::capture::CaptureState;
    let Some(mut capture) = capture else {
        return result;
    };
    drop(capture.tap);
    let status = capture.handle.wait(crate::capture::STOP_WAIT);
    let mut p = output.printer();
    let extra = serde_json::json!({
        "file": status.path.display().to_string(),
        "records": status.records,
        "payload_bytes": status.payload_bytes,
        "file_bytes": status.file_bytes,
        "dropped_records": status.dropped_records,
    });
    let problem = match &status.state {
        CaptureState::Failed(sentence) => Some(sentence.clone()),
        CaptureState::Running => Some(
            t!(
                "cli.capture.unfinished",
                file = status.path.display(),
                secs = crate::capture::STOP_WAIT.as_secs()
            )
            .into_owned(),
        ),
        CaptureState::Finished if status.dropped_records > 0 => {
            Some(t!("cli.capture.incomplete", summary = status.summary()).into_owned())
        }
        CaptureState::Finished => None,
    };
    p.status(
        "capture",
        &t!("cli.capture.captured", summary = status.summary()),
        extra,
    );
    match (problem, result) {
        (_, Err(e)) => Err(e),
        (Some(problem), Ok(())) => Err(CliError::Capture(problem)),
        (None, Ok(())) => Ok(()),
    }
}

/// `--frame RULE`, `--frame-max BYTES` and `--checksum NAME`: how received bytes are cut into
/// records and checked, and what is appended to sends, by the same stages the window uses.
#[derive(Debug, Clone, Default, Args)]
pub struct FramingArgs {
    /// How received bytes become records: raw (each read, the default), lf, crlf, cr, nul,
    /// delim:HEX, fixed:N, len:OFFSET:WIDTH:be|le[:ADJUST][:incl] or idle:MS. Add :keep to a
    /// delimiter to keep it in the record.
    #[arg(long, value_name = "RULE", value_parser = parse_frame)]
    pub frame: Option<FrameArg>,
    /// Longest record a framer holds (bytes); a longer frame is printed in pieces, and said.
    #[arg(long, value_name = "BYTES", default_value_t = crate::engine::session::framing::DEFAULT_MAX_FRAME_BYTES)]
    pub frame_max: usize,
    /// Append this checksum to every payload sent and verify it at the end of every record
    /// received (CRC-8, CRC-16/MODBUS, CRC-16/CCITT-FALSE, CRC-16/XMODEM, CRC-32, XOR, SUM8,
    /// SUM16, LRC, …; JSON records get "checksum_ok").
    #[arg(long, value_name = "NAME", value_parser = parse_checksum)]
    pub checksum: Option<crate::codec::checksum::ChecksumKind>,
    /// Byte order of the checksum: be (most significant first) or le (default: le for
    /// CRC-16/MODBUS, be for the rest).
    #[arg(long, value_name = "ORDER", value_enum, requires = "checksum")]
    pub checksum_order: Option<ByteOrderArg>,
    /// Bytes at the start of each payload and record the checksum does not cover.
    #[arg(long, value_name = "N", default_value_t = 0, requires = "checksum")]
    pub checksum_start: usize,
    /// An auto-reply rule MATCH=>REPLY (repeat for more; the first that matches answers).
    /// MATCH is exact:TEXT, prefix:TEXT, contains:TEXT, regex:RE or hex:HEX (?? = any byte);
    /// REPLY is text with escapes and $0 (the record) $1…$9 (captures), or hex:HEX with $1….
    #[arg(long, value_name = "MATCH=>REPLY")]
    pub rule: Vec<String>,
    /// Auto-reply rules from a JSON file (the window's Export writes one).
    #[arg(long, value_name = "FILE")]
    pub rules: Option<std::path::PathBuf>,
    /// Every rule that matches answers, not only the first.
    #[arg(long)]
    pub every_match: bool,
    /// Answer as the device recorded in this capture (pcap/pcapng, e.g. a tcp-client
    /// --capture): each request this side sent becomes a rule replying with the device's
    /// answer; its greeting goes to each client (tcp-server, unless --send). Before --rule.
    #[arg(long, value_name = "FILE")]
    pub mock: Option<std::path::PathBuf>,
    /// A scripted responder (Rhai): FILE defines fn on_receive(data, peer), returning a
    /// blob, a string or () for each record received; top-level lets keep state. Runs after
    /// the rules; an error stops the script, not the session.
    #[arg(long, value_name = "FILE")]
    pub script: Option<std::path::PathBuf>,
}

/// `--checksum-order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByteOrderArg {
    Be,
    Le,
}

fn parse_checksum(name: &str) -> Result<crate::codec::checksum::ChecksumKind, String> {
    name.parse()
        .map_err(|e: crate::codec::checksum::UnknownChecksum| e.to_string())
}

/// A parsed `--frame`: `None` inside for raw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameArg(Option<crate::engine::session::FrameRule>);

fn parse_frame(text: &str) -> Result<FrameArg, String> {
    crate::engine::session::framing::parse_frame_rule(text)
        .map(FrameArg)
        .map_err(|e| e.to_string())
}

impl FramingArgs {
    /// `--mock FILE` read as the rules that answer like its first `transport` conversation.
    pub fn mock_plan(
        &self,
        transport: crate::capture::Transport,
    ) -> Result<Option<crate::engine::session::mock::MockPlan>, CliError> {
        let Some(path) = &self.mock else {
            return Ok(None);
        };
        let opened = crate::capture::open_capture(path)
            .map_err(|e| CliError::Usage(format!("--mock: {e}")))?;
        crate::engine::session::mock::from_capture(&opened.records, transport)
            .map(Some)
            .map_err(|e| CliError::Usage(format!("--mock {}: {e}", path.display())))
    }

    /// The session's pipeline: the chosen framer, or raw.
    pub fn pipeline(
        &self,
        encoding: TextEncoding,
    ) -> Result<crate::engine::session::PipelineSpec, CliError> {
        self.pipeline_with(encoding, None)
    }

    /// The session's pipeline, with the rules of a mock before `--rules` and `--rule`.
    pub fn pipeline_with(
        &self,
        encoding: TextEncoding,
        mock: Option<&crate::engine::session::mock::MockPlan>,
    ) -> Result<crate::engine::session::PipelineSpec, CliError> {
        use crate::engine::session::{FramerSpec, Framing, PipelineSpec};
        let framer = match self.frame.as_ref().and_then(|f| f.0.clone()) {
            None => FramerSpec::Raw,
            Some(rule) => FramerSpec::Framed(
                Framing::new(rule, self.frame_max)
                    .map_err(|e| CliError::Usage(format!("--frame: {e}")))?,
            ),
        };
        let checksum = self
            .checksum
            .map(|kind| crate::codec::checksum::ChecksumSpec {
                kind,
                order: match self.checksum_order {
                    None => kind.usual_order(),
                    Some(ByteOrderArg::Be) => crate::codec::checksum::ByteOrder::Big,
                    Some(ByteOrderArg::Le) => crate::codec::checksum::ByteOrder::Little,
                },
                start: self.checksum_start,
            });
        let mut pipeline = PipelineSpec {
            framer,
            append_checksum: checksum,
            verify_checksum: checksum,
            ..PipelineSpec::default()
        };
        if let Some(set) = self.rule_set(encoding, mock)? {
            std::sync::Arc::new(set).install(&mut pipeline);
        }
        Ok(pipeline)
    }

    /// `--script FILE` compiled and added to `pipeline`; the reports are for the printer.
    /// A file that cannot be read or does not compile is a usage error naming the line.
    pub fn install_script(
        &self,
        encoding: TextEncoding,
        pipeline: &mut crate::engine::session::PipelineSpec,
    ) -> Result<Option<crate::engine::session::script::ScriptReports>, CliError> {
        use crate::engine::session::script::Script;
        let Some(path) = &self.script else {
            return Ok(None);
        };
        let source =
            std::fs::read_to_string(path).map_err(|e| cannot_read("--script", path, &e))?;
        let (script, reports) = Script::compile(&source, encoding)
            .map_err(|e| CliError::Usage(format!("--script {}: {e}", path.display())))?;
        script.install(pipeline);
        Ok(Some(reports))
    }

    /// The rules of `--rules FILE` then `--rule`, checked.
    fn rule_set(
        &self,
        encoding: TextEncoding,
        mock: Option<&crate::engine::session::mock::MockPlan>,
    ) -> Result<Option<crate::engine::session::rules::RuleSet>, CliError> {
        use crate::engine::session::rules::{RuleSet, RuleText, RulesFile};
        let mut file = mock.map(|m| m.rules.clone()).unwrap_or_default();
        if let Some(path) = &self.rules {
            let text =
                std::fs::read_to_string(path).map_err(|e| cannot_read("--rules", path, &e))?;
            let read: RulesFile = serde_json::from_str(&text).map_err(|e| {
                CliError::Usage(
                    t!("cli.rules.not_rules", file = path.display(), error = e).into_owned(),
                )
            })?;
            file.every_match |= read.every_match;
            file.rules.extend(read.rules);
        }
        for rule in &self.rule {
            file.rules.push(
                RuleText::from_arrow(rule).map_err(|e| CliError::Usage(format!("--rule: {e}")))?,
            );
        }
        file.every_match |= self.every_match;
        if file.rules.is_empty() {
            return Ok(None);
        }
        RuleSet::build(&file, encoding)
            .map(Some)
            .map_err(|e| CliError::Usage(format!("auto-reply {e}")))
    }
}

/// The shortest time a seconds argument (`--timeout`, `--duration`, `--listen`) may give.
pub const MIN_SECS: f64 = 0.001;
/// The longest: one year (365 days). Longer than any session, and far from where
/// `Instant + Duration` overflows (about 9.2e18 s, where the float conversion already panics).
pub const MAX_SECS: f64 = 31_536_000.0;
/// The longest time a milliseconds argument (`--quiet-ms`, `--every-ms`, `--timeout-ms`) may
/// give: the same year.
pub const MAX_MS: u64 = 31_536_000_000;

/// A seconds argument: a decimal number from 0.001 to 31536000 (one year). `inf`, `nan`,
/// negative and larger numbers are refused here, before any socket is opened.
pub fn parse_secs(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let value: f64 = t
        .parse()
        .map_err(|_| t!("cli.secs.not_a_number", text = quote(t)).into_owned())?;
    if value.is_finite() && (MIN_SECS..=MAX_SECS).contains(&value) {
        Ok(value)
    } else {
        Err(t!(
            "cli.secs.out_of_range",
            text = quote(t),
            min = MIN_SECS,
            max = MAX_SECS
        )
        .into_owned())
    }
}

/// A milliseconds argument: a whole number from 0 to 31536000000 (one year).
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let out_of_range = || t!("cli.ms.out_of_range", text = quote(t), max = MAX_MS).into_owned();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return Err(t!("cli.ms.not_a_number", text = quote(t)).into_owned());
    }
    match t.parse::<u64>() {
        Ok(ms) if ms <= MAX_MS => Ok(ms),
        _ => Err(out_of_range()),
    }
}

/// A TCP port to probe: 1–65535 (port 0 cannot be connected to).
pub fn parse_tcp_port(text: &str) -> Result<u16, String> {
    crate::net::parse_port(text, false)
}

/// Seconds as a `Duration`. The arguments are checked by [`parse_secs`]; the clamp keeps this
/// panic-free for any value all the same.
fn secs(s: f64) -> Duration {
    Duration::try_from_secs_f64(s.clamp(0.0, MAX_SECS)).unwrap_or(Duration::ZERO)
}

/// A UDP payload larger than one datagram can hold is a usage error, found before binding.
/// The family is the destination's when it is an address literal, else the bound socket's;
/// replies go back over the bound socket's family.
fn check_datagram_sizes(
    bind: SocketAddr,
    payload: Option<&[u8]>,
    to: Option<&(String, u16)>,
    reply: Option<&[u8]>,
) -> Result<(), CliError> {
    let to_v6 = to
        .and_then(|(host, _)| host.parse::<std::net::IpAddr>().ok())
        .map_or(bind.is_ipv6(), |ip| ip.is_ipv6());
    if let Some(bytes) = payload {
        crate::net::check_datagram_len(bytes.len(), to_v6)
            .map_err(|e| CliError::Usage(format!("--send/--hex: {e}")))?;
    }
    if let Some(bytes) = reply {
        crate::net::check_datagram_len(bytes.len(), bind.is_ipv6())
            .map_err(|e| CliError::Usage(format!("--reply: {e}")))?;
    }
    Ok(())
}

/// A job's progress: a status line (kind "job") with its numbers in JSON.
fn print_job(p: &mut Printer, status: &crate::engine::session::JobStatus) {
    use crate::engine::session::JobState;
    let step = status
        .step
        .as_ref()
        .map_or(serde_json::Value::Null, |(i, _)| {
            serde_json::Value::from(i + 1)
        });
    let state = match &status.state {
        JobState::Running => "running",
        JobState::Done => "done",
        JobState::Stopped => "stopped",
        JobState::Failed(_) => "failed",
    };
    let error = match &status.state {
        JobState::Failed(why) => serde_json::Value::String(why.clone()),
        _ => serde_json::Value::Null,
    };
    p.status(
        "job",
        &status.describe(),
        serde_json::json!({
            "state": state,
            "sent": status.sent,
            "count": status.count,
            "bytes": status.bytes,
            "total_bytes": status.total_bytes,
            "elapsed_ms": status.elapsed.as_millis() as u64,
            "error": error,
            "step": step,
        }),
    );
}

/// How a job's failure ends the command: a sequence's wait that ran out is a timeout (4),
/// anything else a network error (3).
fn job_failed(status: &crate::engine::session::JobStatus, why: String) -> CliError {
    if status.kind == crate::engine::session::job::JobKind::Sequence {
        CliError::Timeout(why)
    } else {
        CliError::Network(why)
    }
}

/// Runs a headless subcommand.
pub fn run(command: CliCommand) -> Result<(), CliError> {
    match command {
        CliCommand::Gui(_) => Err(CliError::Usage(
            "gui is started by the binary, not by cli::run".to_owned(), // i18n-exempt: a developer's message
        )),
        CliCommand::TcpServer(a) => tcp::server(&a),
        CliCommand::TcpClient(a) => tcp::client(&a),
        CliCommand::Udp(a) => udp::run(&a),
        CliCommand::Replay(a) => replay::run(&a),
        CliCommand::Broadcast(a) => broadcast::run(&a),
        CliCommand::Wol(a) => broadcast::wol(&a),
        CliCommand::Subnet(a) => iptools::subnet(&a),
        CliCommand::Sweep(a) => iptools::sweep(&a),
        CliCommand::Neighbours(a) => iptools::neighbours(&a),
        CliCommand::Sockets(a) => iptools::sockets(&a),
        CliCommand::Route(a) => iptools::route(&a),
    }
}

/// A file named on the command line could not be read: a usage error naming the option.
fn cannot_read(option: &str, path: &std::path::Path, error: &std::io::Error) -> CliError {
    CliError::Usage(
        t!(
            "cli.cannot_read",
            option = option,
            file = path.display(),
            error = error
        )
        .into_owned(),
    )
}

/// Splits `HOST:PORT` (`[::1]:80` for IPv6 literals) and checks the host (see
/// [`crate::net::parse_host`]): the host returned is what the resolver is given, with an
/// international name in punycode.
pub fn split_host_port(text: &str) -> Result<(String, u16), CliError> {
    crate::net::split_host_port(text).map_err(CliError::Usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            split_host_port("127.0.0.1:80"),
            Ok(("127.0.0.1".into(), 80))
        );
        assert_eq!(split_host_port("[::1]:8080"), Ok(("::1".into(), 8080)));
        assert_eq!(
            split_host_port("example.com:443"),
            Ok(("example.com".into(), 443))
        );
        assert!(split_host_port("127.0.0.1").is_err());
        assert!(split_host_port("::1:80").is_err());
        assert!(split_host_port("host:99999").is_err());
    }

    #[test]
    fn seconds_and_milliseconds_have_a_range() {
        assert_eq!(parse_secs("0.5"), Ok(0.5));
        assert_eq!(parse_secs("31536000"), Ok(MAX_SECS));
        for bad in [
            "inf",
            "-inf",
            "nan",
            "1e19",
            "0",
            "-1",
            "0.0005",
            "31536000.5",
        ] {
            assert!(
                parse_secs(bad).unwrap_err().contains("out of range"),
                "{bad}"
            );
        }
        assert!(parse_secs("soon").unwrap_err().contains("not a number"));
        assert_eq!(parse_ms("300"), Ok(300));
        assert_eq!(parse_ms("0"), Ok(0));
        assert!(
            parse_ms("18446744073709551615")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(
            parse_ms("99999999999999999999")
                .unwrap_err()
                .contains("out of range")
        );
        assert!(parse_ms("-5").unwrap_err().contains("not a number"));
        assert_eq!(secs(f64::INFINITY), Duration::from_hours(365 * 24));
        assert_eq!(secs(f64::NAN), Duration::ZERO);
    }

    #[test]
    fn host_port_checks_the_host() {
        for (text, says) in [
            ("a b:80", "cannot be in a host name"),
            ("[::1:7001", "not closed"),
            ("256.1.1.1:80", "not an IPv4 address"),
        ] {
            let Err(CliError::Usage(m)) = split_host_port(text) else {
                panic!("{text} accepted");
            };
            assert!(m.contains(says), "{text}: {m}");
        }
        assert_eq!(
            split_host_port("bücher.example:80"),
            Ok(("xn--bcher-kva.example".into(), 80))
        );
    }

    #[test]
    fn payloads_use_the_send_box_rules() {
        let p = PayloadArgs {
            send: Some("你好\\r\\n".into()),
            ..PayloadArgs::default()
        };
        assert_eq!(
            p.bytes(TextEncoding::Gbk).unwrap().unwrap(),
            vec![0xC4, 0xE3, 0xBA, 0xC3, b'\r', b'\n']
        );
        let h = PayloadArgs {
            hex: Some("0x48,0x65 6C".into()),
            ..PayloadArgs::default()
        };
        assert_eq!(h.bytes(TextEncoding::Utf8).unwrap().unwrap(), b"Hel");
        let bad = PayloadArgs {
            hex: Some("4G".into()),
            ..PayloadArgs::default()
        };
        assert!(matches!(
            bad.bytes(TextEncoding::Utf8),
            Err(CliError::Usage(_))
        ));
        assert!(parse_encoding("GBK").is_ok());
        assert!(
            parse_encoding("klingon")
                .unwrap_err()
                .contains("use one of")
        );
    }
}
