//! `sockpit broadcast` and `sockpit wol`: the Broadcast tab's engine without its window.

use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use serde_json::json;

use super::{CliError, OutputArgs, PayloadArgs};
use crate::net::iface::{InterfaceV4, ipv4_interfaces};
use crate::tabs::broadcast::{BroadcastSettings, BroadcastTab, Preset, RunStatus, TargetKind};
use crate::worker::no_wake;

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
    /// Seconds to listen for replies after the last send.
    #[arg(
        long,
        visible_alias = "timeout",
        value_name = "SECS",
        default_value_t = 2.0
    )]
    pub listen: f64,
    /// How many times to send.
    #[arg(long, default_value_t = 1)]
    pub sends: u32,
    /// Milliseconds between sends.
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub every_ms: u64,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Clone, Args)]
pub struct WolArgs {
    /// The MAC address of the machine to wake (00:11:22:33:44:55).
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
            CliError::Usage(format!(
                "no interface named or addressed \"{wanted}\" with an IPv4 address; this machine has: {}",
                names.join("; ")
            ))
        })
}

/// Runs the tab's engine until the run is over.
fn finish(tab: &mut BroadcastTab) -> Result<(), CliError> {
    let deadline = Instant::now() + Duration::from_hours(24);
    while Instant::now() < deadline {
        tab.drain_events();
        match &tab.status {
            RunStatus::Done { .. } => return Ok(()),
            RunStatus::Failed(m) | RunStatus::WorkerFailed(m) => {
                return Err(CliError::Network(m.clone()));
            }
            _ => {}
        }
        if let Some(e) = &tab.target_error {
            return Err(CliError::Network(e.clone()));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(CliError::Timeout("the run did not finish".to_owned()))
}

fn refused(tab: &BroadcastTab) -> CliError {
    let why = [
        &tab.interface_error,
        &tab.target_error,
        &tab.wol_error,
        &tab.settings.send_box.error,
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect::<Vec<_>>()
    .join(" ");
    CliError::Usage(why)
}

pub fn run(args: &BroadcastArgs) -> Result<(), CliError> {
    let iface = find_interface(&args.interface)?;
    let preset: Preset = args.preset.into();
    let custom = args.payload.bytes(args.output.encoding)?;
    if preset == Preset::Custom && custom.is_none() {
        return Err(CliError::Usage(
            "the custom preset needs --send TEXT or --hex HEX".to_owned(),
        ));
    }
    let settings = BroadcastSettings {
        interface_addr: iface.addr.to_string(),
        source_port: args.source_port.to_string(),
        listen_ms: (args.listen.max(0.0) * 1000.0) as u64,
        sends: args.sends.max(1),
        repeat_ms: args.every_ms.max(1),
        encoding: args.output.encoding,
        ..BroadcastSettings::default()
    };
    let mut tab = BroadcastTab::new(settings, no_wake());
    tab.set_preset(preset);
    match args.target.as_deref() {
        None => {}
        Some("directed") => tab.settings.target = TargetKind::Directed,
        Some("limited") => tab.settings.target = TargetKind::Limited,
        Some(addr) => match addr.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_multicast() => {
                tab.settings.target = TargetKind::Multicast;
                tab.settings.group = ip.to_string();
            }
            _ => {
                tab.settings.target = TargetKind::Unicast;
                addr.clone_into(&mut tab.settings.unicast_host);
            }
        },
    }
    if let Some(port) = args.port {
        tab.settings.port = port.to_string();
    }
    if !tab.run(if preset == Preset::Custom {
        custom
    } else {
        None
    }) {
        return Err(refused(&tab));
    }
    let mut p = args.output.printer();
    p.status(
        "started",
        &format!("Probing on {} with {}…", iface.describe(), preset.name()),
        json!({ "interface": iface.name, "preset": preset.name() }),
    );
    finish(&mut tab)?;
    let rows: Vec<_> = tab.responders.iter().cloned().collect();
    if !p.json {
        p.line(&format!(
            "{:<22} {:>7} {:>9}  {}",
            "ADDRESS", "REPLIES", "RTT ms", "FIELDS / FIRST REPLY"
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
        &format!("{} responder(s).", rows.len()),
        json!({ "responders": rows.len() }),
    );
    Ok(())
}

pub fn wol(args: &WolArgs) -> Result<(), CliError> {
    crate::tabs::broadcast::presets::parse_mac(&args.mac).map_err(CliError::Usage)?;
    let iface = find_interface(&args.interface)?;
    let settings = BroadcastSettings {
        interface_addr: iface.addr.to_string(),
        wol_mac: args.mac.clone(),
        ..BroadcastSettings::default()
    };
    let mut tab = BroadcastTab::new(settings, no_wake());
    if !tab.wake_on_lan() {
        return Err(refused(&tab));
    }
    finish(&mut tab)?;
    let mut p = super::Printer::stdout(false, false, crate::codec::TextEncoding::Utf8);
    p.line(&format!(
        "Magic packet for {} sent to {}:9 on {}.",
        args.mac.trim(),
        iface.broadcast,
        iface.name
    ));
    Ok(())
}
