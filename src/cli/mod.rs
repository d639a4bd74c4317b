//! The command line: `sockpit` alone opens the window; subcommands run headless on the same
//! workers and codecs the tabs use. Readable output by default, `--json` (one object per line)
//! for scripts. Exit codes: 0 success, 2 usage error, 3 network error, 4 timeout.

// Doc comments here are clap's help text, shown to users as written: no Markdown backticks.
#![allow(clippy::doc_markdown)]

mod broadcast;
mod iptools;
mod output;
mod tcp;
mod udp;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::Tab;
use crate::codec::TextEncoding;
use crate::ui::SendBox;
use crate::ui::send_box::SendMode;

pub use output::Printer;

#[derive(Debug, Parser)]
#[command(
    name = "sockpit",
    version,
    about = "A socket workbench: TCP server and client, UDP, broadcast discovery, IP tools.",
    long_about = "A socket workbench. With no subcommand, opens the window. Subcommands run headless on the same engine.\n\nExit codes: 0 success, 2 usage error, 3 network error, 4 timeout."
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
    Sockets(iptools::ListArgs),
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

impl From<TabArg> for Tab {
    fn from(t: TabArg) -> Self {
        match t {
            TabArg::TcpServer => Self::TcpServer,
            TabArg::TcpClient => Self::TcpClient,
            TabArg::Udp => Self::Udp,
            TabArg::Broadcast => Self::Broadcast,
            TabArg::IpTools => Self::IpTools,
        }
    }
}

/// Start-up options for the window: open a tab with its session already started, as if the
/// user had clicked Start / Connect / Bind. Errors show in the tab as usual.
#[derive(Debug, Clone, Default, Args)]
pub struct GuiArgs {
    /// The tab to open.
    #[arg(long, value_enum)]
    pub tab: Option<TabArg>,
    /// Start the TCP Server on ADDRESS:PORT.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub listen: Option<SocketAddr>,
    /// Connect the TCP Client to HOST:PORT.
    #[arg(long, value_name = "HOST:PORT")]
    pub connect: Option<String>,
    /// Bind the UDP tab to ADDRESS:PORT.
    #[arg(long, value_name = "ADDRESS:PORT")]
    pub bind: Option<SocketAddr>,
    /// Text encoding for every tab (utf-8, gbk, gb18030, big5, shift_jis, …).
    #[arg(long, value_parser = parse_encoding)]
    pub encoding: Option<TextEncoding>,
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
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Network(_) => 3,
            Self::Timeout(_) => 4,
        }
    }

    pub fn network(e: &crate::net::NetError) -> Self {
        Self::Network(format!("{e}. {}", e.explanation()))
    }
}

/// `--encoding` takes the names the window shows (case and punctuation ignored).
pub fn parse_encoding(name: &str) -> Result<TextEncoding, String> {
    TextEncoding::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = TextEncoding::ALL.iter().map(|e| e.name()).collect();
        format!(
            "unknown encoding \"{name}\"; use one of: {}",
            names.join(", ")
        )
    })
}

/// `--send TEXT` (escapes such as `\r\n` allowed, encoded in the chosen encoding) or
/// `--hex HEX`.
#[derive(Debug, Clone, Default, Args)]
pub struct PayloadArgs {
    /// Text to send; escapes \r \n \t \xNN are understood; encoded with --encoding.
    #[arg(long, value_name = "TEXT", conflicts_with = "hex")]
    pub send: Option<String>,
    /// Bytes to send as hex (48 65 6C, 48656C, 0x48,0x65).
    #[arg(long, value_name = "HEX")]
    pub hex: Option<String>,
}

impl PayloadArgs {
    /// The bytes to send, if any; bad hex or unencodable text is a usage error.
    pub fn bytes(&self, encoding: TextEncoding) -> Result<Option<Vec<u8>>, CliError> {
        let (text, mode) = match (&self.send, &self.hex) {
            (Some(t), _) => (t.clone(), SendMode::Text),
            (None, Some(h)) => (h.clone(), SendMode::Hex),
            (None, None) => return Ok(None),
        };
        let send_box = SendBox {
            text,
            mode,
            ..SendBox::default()
        };
        send_box
            .payload(encoding)
            .map(Some)
            .map_err(CliError::Usage)
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

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

/// Runs a headless subcommand.
pub fn run(command: CliCommand) -> Result<(), CliError> {
    match command {
        CliCommand::Gui(_) => Err(CliError::Usage(
            "gui is started by the binary, not by cli::run".to_owned(),
        )),
        CliCommand::TcpServer(a) => tcp::server(&a),
        CliCommand::TcpClient(a) => tcp::client(&a),
        CliCommand::Udp(a) => udp::run(&a),
        CliCommand::Broadcast(a) => broadcast::run(&a),
        CliCommand::Wol(a) => broadcast::wol(&a),
        CliCommand::Subnet(a) => iptools::subnet(&a),
        CliCommand::Sweep(a) => iptools::sweep(&a),
        CliCommand::Neighbours(a) => iptools::neighbours(&a),
        CliCommand::Sockets(a) => iptools::sockets(&a),
    }
}

/// Splits `HOST:PORT` (`[::1]:80` for IPv6 literals).
pub fn split_host_port(text: &str) -> Result<(String, u16), CliError> {
    let bad = |why: &str| {
        CliError::Usage(format!(
            "\"{text}\": {why}; write HOST:PORT, e.g. 192.168.1.10:8080 or [::1]:8080"
        ))
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(|| bad("no port"))?;
    if host.contains(':') && !host.starts_with('[') {
        return Err(bad("an IPv6 address needs brackets"));
    }
    let host = crate::net::normalize_host(host);
    if host.is_empty() {
        return Err(bad("no host"));
    }
    let port = crate::net::parse_port(port, false).map_err(|e| bad(&e))?;
    Ok((host.to_owned(), port))
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
    fn payloads_use_the_send_box_rules() {
        let p = PayloadArgs {
            send: Some("你好\\r\\n".into()),
            hex: None,
        };
        assert_eq!(
            p.bytes(TextEncoding::Gbk).unwrap().unwrap(),
            vec![0xC4, 0xE3, 0xBA, 0xC3, b'\r', b'\n']
        );
        let h = PayloadArgs {
            send: None,
            hex: Some("0x48,0x65 6C".into()),
        };
        assert_eq!(h.bytes(TextEncoding::Utf8).unwrap().unwrap(), b"Hel");
        let bad = PayloadArgs {
            send: None,
            hex: Some("4G".into()),
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
