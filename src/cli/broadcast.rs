//! `sockpit broadcast` and `sockpit wol`: the broadcast engine's planner and worker, as the
//! Broadcast tab uses them.

use std::time::Duration;

use clap::{Args, ValueEnum};
use rust_i18n::t;
use serde_json::json;

use super::output::{pad, pad_left};
use super::{CliError, OutputArgs, PayloadArgs, parse_ms, parse_secs};
use crate::engine::broadcast::plan::{self, PlanInput, TargetKind};
use crate::engine::broadcast::{Preset, run_probe};
use crate::net::iface::{InterfaceV4, ipv4_interfaces};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PresetArg {
    Custom,
    Ssdp,
    Mdns,
    WsDiscovery,
    UsrIot,
    Lantronix,
    Mndp,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Self {
        match p {
            PresetArg::Custom => Self::Custom,
            PresetArg::Ssdp => Self::Ssdp,
            PresetArg::Mdns => Self::Mdns,
            PresetArg::WsDiscovery => Self::WsDiscovery,
            PresetArg::UsrIot => Self::UsrIot,
            PresetArg::Lantronix => Self::Lantronix,
            PresetArg::Mndp => Self::Mndp,
        }
    }
}

#[derive(Debug, Clone, Args)]
pub struct BroadcastArgs {
    /// Interface to send on: its name (eth0) or IPv4 address.
    #[arg(long, short)]
    pub interface: String,
    /// A discovery protocol (builds the request and parses replies), or custom.
    #[arg(long, value_enum, default_value = "custom")]
    pub preset: PresetArg,
    /// directed (the subnet's broadcast), limited (255.255.255.255), or an address (a
    /// multicast group or one host). Default: the preset's usual target, else directed.
    #[arg(long)]
    pub target: Option<String>,
    /// Destination port (default: the preset's).
    #[arg(long, short)]
    pub port: Option<u16>,
    /// Source port (0 = any).
    #[arg(long, default_value_t = 0)]
    pub source_port: u16,
    #[command(flatten)]
    pub payload: PayloadArgs,
    /// Seconds to listen for replies after the last send, 0.001 to 31536000.
    #[arg(
        long,
        visible_alias = "timeout",
        value_name = "SECS",
        default_value_t = 2.0,
        value_parser = parse_secs
    )]
    pub listen: f64,
    /// How many times to send.
    #[arg(long, default_value_t = 1)]
    pub sends: u32,
    /// Milliseconds between sends (at most a year).
    #[arg(long, value_name = "MS", default_value_t = 500, value_parser = parse_ms)]
    pub every_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WolArgs {
    /// The MAC address of the machine to wake: 00:11:22:33:44:55, 00-11-22-33-44-55,
    /// 0011.2233.4455 or 001122334455.
    pub mac: String,
    /// Interface whose broadcast address gets the packet: its name or IPv4 address.
    #[arg(long, short)]
    pub interface: String,
}

fn find_interface(wanted: &str) -> Result<InterfaceV4, CliError> {
    let all = ipv4_interfaces();
    all.iter()
        .find(|i| i.name == wanted || i.addr.to_string() == wanted)
        .cloned()
        .ok_or_else(|| {
            let names: Vec<String> = all.iter().map(InterfaceV4::describe).collect();
            CliError::Usage(
                t!(
                    "cli.broadcast.no_interface",
                    wanted = wanted,
                    names = names.join("; ")
                )
                .into_owned(),
            )
        })
}

/// Longest a run may take beyond its own sends and listening.
const RUN_SLACK: Duration = Duration::from_secs(30);

pub fn run(args: &BroadcastArgs) -> Result<(), CliError> {
    let iface = find_interface(&args.interface)?;
    let preset: Preset = args.preset.into();
    let custom = args.payload.bytes(args.output.encoding)?;
    if preset == Preset::Custom && custom.is_none() {
        return Err(CliError::Usage(
            t!("cli.broadcast.custom_needs_payload").into_owned(),
        ));
    }
    let mut input = PlanInput {
        interface_addr: iface.addr.to_string(),
        target: TargetKind::Directed,
        group: String::new(),
        unicast_host: String::new(),
        port: "48899".to_owned(),
        source_port: args.source_port.to_string(),
        listen_ms: (args.listen.max(0.0) * 1000.0) as u64,
        sends: args.sends.max(1),
        repeat_ms: args.every_ms.max(1),
        ttl: 1,
    };
    if let Some((target, group, port)) = plan::preset_target(preset) {
        input.target = target;
        input.group = group.map(|g| g.to_string()).unwrap_or_default();
        input.port = port.to_string();
    }
    match args.target.as_deref() {
        None => {}
        Some("directed") => input.target = TargetKind::Directed,
        Some("limited") => input.target = TargetKind::Limited,
        Some(addr) => match addr.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_multicast() => {
                input.target = TargetKind::Multicast;
                input.group = ip.to_string();
            }
            _ => {
                input.target = TargetKind::Unicast;
                addr.clone_into(&mut input.unicast_host);
            }
        },
    }
    if let Some(port) = args.port {
        input.port = port.to_string();
    }
    let payload = match (preset.request(), custom) {
        (Some(p), _) | (None, Some(p)) => p,
        (None, None) => Vec::new(),
    };
    let probe = plan::plan_probe(&input, std::slice::from_ref(&iface), payload)
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let budget = probe.listen + probe.repeat_every.unwrap_or_default() * probe.sends + RUN_SLACK;
    let mut p = args.output.printer();
    p.status(
        "started",
        &t!(
            "cli.broadcast.probing",
            interface = iface.describe(),
            preset = preset.name()
        ),
        json!({ "interface": iface.name, "preset": preset.name() }),
    );
    let outcome = run_probe(probe, preset, budget).map_err(CliError::Network)?;
    let rows: Vec<_> = outcome.responders.iter().cloned().collect();
    if !p.json {
        p.line(&format!(
            "{} {} {}  {}",
            pad(&t!("cli.column.address"), 22),
            pad_left(&t!("cli.column.replies"), 7),
            pad_left("RTT ms", 9),
            t!("cli.column.fields")
        ));
    }
    for r in &rows {
        let rtt_ms = r.rtt_us.map(|us| us as f64 / 1000.0);
        if p.json {
            let fields: serde_json::Map<String, serde_json::Value> = r
                .fields
                .iter()
                .map(|(k, v)| (k.clone(), json!(v)))
                .collect();
            p.object(&json!({
                "event": "responder",
                "address": r.addr.to_string(),
                "replies": r.replies,
                "rtt_ms": rtt_ms,
                "fields": fields,
                "preview": r.preview,
            }));
        } else {
            let fields = if r.fields.is_empty() {
                r.preview.clone()
            } else {
                r.fields
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            p.line(&format!(
                "{:<22} {:>7} {:>9}  {fields}",
                r.addr.to_string(),
                r.replies,
                rtt_ms.map_or_else(String::new, |v| format!("{v:.2}"))
            ));
        }
    }
    p.status(
        "finished",
        &t!("cli.broadcast.finished", n = rows.len()),
        json!({ "responders": rows.len() }),
    );
    Ok(())
}

pub fn wol(args: &WolArgs) -> Result<(), CliError> {
    let mac = crate::engine::broadcast::presets::parse_mac(&args.mac).map_err(CliError::Usage)?;
    let iface = find_interface(&args.interface)?;
    let probe = plan::wake_on_lan_probe(
        &args.mac,
        std::slice::from_ref(&iface),
        &iface.addr.to_string(),
    )
    .map_err(|e| CliError::Usage(e.to_string()))?;
    run_probe(probe, Preset::Custom, RUN_SLACK).map_err(CliError::Network)?;
    let mut p = super::Printer::stdout(false, false, crate::codec::TextEncoding::Utf8);
    p.line(&t!(
        "cli.broadcast.wol_sent",
        mac = crate::iptools::vendor::Mac(mac),
        broadcast = iface.broadcast,
        interface = iface.name
    ));
    Ok(())
}
