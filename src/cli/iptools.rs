//! `sockpit subnet`, `sweep`, `neighbours`, `sockets` and `route`: the IP Tools engine on the
//! command line.

use std::io::Write as _;
use std::sync::atomic::AtomicBool;

use clap::Args;
use rust_i18n::t;
use serde_json::json;

use super::output::{pad, pad_left};
use super::{CliError, Printer, parse_ms, parse_tcp_port};
use crate::codec::TextEncoding;
use crate::iptools::neighbours;
use crate::iptools::route::{
    self as route_lookup, RouteAnswer, RouteEntry, chosen_mark, table_title,
};
use crate::iptools::sockets;
use crate::iptools::subnet::{SubnetInfo, parse_address_with_prefix};
use crate::iptools::sweep::{SweepOptions, SweepSize, run_sweep};
use crate::iptools::tcp_state::{TcpState, why};

#[derive(Debug, Clone, Args)]
pub struct SubnetArgs {
    /// An address with a prefix (192.168.1.12/24), a netmask (192.168.1.12 255.255.255.0) or a
    /// wildcard mask; IPv4 or IPv6.
    #[arg(required = true, num_args = 1..=2, value_name = "ADDRESS[/PREFIX] [MASK]")]
    pub input: Vec<String>,
    /// One JSON object instead of readable text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// The IPv4 subnet to sweep, e.g. 192.168.1.0/24.
    #[arg(value_name = "SUBNET")]
    pub subnet: String,
    /// TCP ports to try on every host (comma-separated, 1–65535, at most 16).
    #[arg(long, value_delimiter = ',', value_name = "PORTS", value_parser = parse_tcp_port)]
    pub ports: Vec<u16>,
    /// Sweep more than a /22 (up to a /16) without asking.
    #[arg(long)]
    pub yes: bool,
    /// Skip reverse-DNS names.
    #[arg(long)]
    pub no_dns: bool,
    /// Milliseconds each batch of probes waits for answers (at most a year).
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = parse_ms)]
    pub timeout_ms: u64,
    /// One JSON object per host instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Only rows containing this text (any column).
    #[arg(long)]
    pub filter: Option<String>,
    /// One JSON object per row instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SocketsArgs {
    #[command(flatten)]
    pub list: ListArgs,
    /// Add a WHY column: beside each TCP state, what it means in one plain line. The JSON
    /// always has a "why" field (with or without this flag): that line for TCP sockets, null
    /// for UDP.
    #[arg(long)]
    pub explain: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RouteArgs {
    /// The host to route to: an IPv4 or IPv6 address, or a name (resolved first).
    #[arg(value_name = "HOST")]
    pub host: String,
    /// One JSON object instead of readable text.
    #[arg(long)]
    pub json: bool,
}

fn printer(json: bool) -> Printer {
    Printer::stdout(json, false, TextEncoding::Utf8)
}

pub fn subnet(args: &SubnetArgs) -> Result<(), CliError> {
    let text = args.input.join(" ");
    let input = parse_address_with_prefix(&text).map_err(|e| CliError::Usage(e.to_string()))?;
    let info = SubnetInfo::new(input);
    let bin = info.binary();
    let mut p = printer(args.json);
    match &info {
        SubnetInfo::V4(i) => {
            if args.json {
                p.object(&json!({
                    "address": i.address.to_string(),
                    "prefix": i.prefix,
                    "network": i.network.to_string(),
                    "broadcast": i.broadcast.map(|b| b.to_string()),
                    "netmask": i.netmask.to_string(),
                    "wildcard": i.wildcard.to_string(),
                    "first_host": i.first_host.to_string(),
                    "last_host": i.last_host.to_string(),
                    "hosts": i.host_count,
                    "addresses": i.address_count,
                    "integer": i.as_integer,
                    "hex": i.as_hex,
                    "class": i.class.letter().to_string(),
                    "kind": i.special.label.english(),
                    "binary": {
                        "address": bin.text(&bin.address),
                        "mask": bin.text(&bin.mask),
                        "network": bin.text(&bin.network),
                    },
                }));
                return Ok(());
            }
            let broadcast = i.broadcast.map_or_else(
                || t!("cli.subnet.no_broadcast").into_owned(),
                |b| b.to_string(),
            );
            for (k, v) in [
                (
                    t!("cli.subnet.address"),
                    format!("{}/{}", i.address, i.prefix),
                ),
                (t!("cli.subnet.network"), i.network.to_string()),
                (t!("cli.subnet.broadcast"), broadcast),
                (t!("cli.subnet.netmask"), i.netmask.to_string()),
                (t!("cli.subnet.wildcard"), i.wildcard.to_string()),
                (t!("cli.subnet.first_host"), i.first_host.to_string()),
                (t!("cli.subnet.last_host"), i.last_host.to_string()),
                (
                    t!("cli.subnet.hosts"),
                    t!(
                        "cli.subnet.with_note",
                        value = i.host_count,
                        note = i.host_note
                    )
                    .into_owned(),
                ),
                (
                    t!("cli.subnet.as_integer"),
                    format!("{} = {}", i.as_integer, i.as_hex),
                ),
                (t!("cli.subnet.class"), i.class.describe()),
                (
                    t!("cli.subnet.kind"),
                    t!(
                        "cli.subnet.with_note",
                        value = i.special.label,
                        note = i.special.meaning
                    )
                    .into_owned(),
                ),
            ] {
                p.line(&format!("{} {v}", pad(&k, 11)));
            }
        }
        SubnetInfo::V6(i) => {
            if args.json {
                p.object(&json!({
                    "address": i.compressed,
                    "expanded": i.expanded,
                    "prefix": i.prefix,
                    "network": i.network.to_string(),
                    "last": i.last.to_string(),
                    "netmask": i.netmask.to_string(),
                    "addresses": i.count_text(),
                    "kind": i.kind.label_phrase().english(),
                    "binary": {
                        "address": bin.text(&bin.address),
                        "mask": bin.text(&bin.mask),
                        "network": bin.text(&bin.network),
                    },
                }));
                return Ok(());
            }
            for (k, v) in [
                (
                    t!("cli.subnet.address"),
                    format!("{}/{}", i.compressed, i.prefix),
                ),
                (t!("cli.subnet.expanded"), i.expanded.clone()),
                (t!("cli.subnet.network"), i.network.to_string()),
                (t!("cli.subnet.last"), i.last.to_string()),
                (t!("cli.subnet.netmask"), i.netmask.to_string()),
                (t!("cli.subnet.addresses"), i.count_text()),
                (
                    t!("cli.subnet.kind"),
                    t!(
                        "cli.subnet.with_note",
                        value = i.kind.label(),
                        note = i.kind.meaning()
                    )
                    .into_owned(),
                ),
            ] {
                p.line(&format!("{} {v}", pad(&k, 11)));
            }
        }
    }
    p.line("");
    p.line(&format!(
        "  {}   {}",
        bin.text(&bin.address),
        t!("cli.subnet.binary.address")
    ));
    p.line(&format!(
        "& {}   {}",
        bin.text(&bin.mask),
        t!("cli.subnet.binary.mask", prefix = bin.prefix)
    ));
    p.line(&format!(
        "= {}   {}",
        bin.text(&bin.network),
        t!("cli.subnet.binary.network", network = bin.network_ip)
    ));
    Ok(())
}

pub fn sweep(args: &SweepArgs) -> Result<(), CliError> {
    let net = crate::iptools::sweep::parse_sweep_range(&args.subnet)
        .map_err(|e| CliError::Usage(t!("cli.sweep.bad_range", error = e).into_owned()))?;
    if let SweepSize::NeedsConfirmation { addresses } = SweepSize::of(net.trunc())
        && !args.yes
    {
        return Err(CliError::Usage(
            t!("cli.sweep.confirm", net = net, addresses = addresses).into_owned(),
        ));
    }
    let mut options = SweepOptions::new(net);
    options.tcp_ports.clone_from(&args.ports);
    options.reverse_dns = !args.no_dns;
    options.probe_window_ms = args.timeout_ms;
    let cancel = AtomicBool::new(false);
    let mut stderr = std::io::stderr();
    let report = run_sweep(&options, &cancel, |done, total, phase| {
        let width = 30;
        let filled = (done * width)
            .checked_div(total)
            .unwrap_or(width)
            .min(width);
        let _ = write!(
            stderr,
            "\r[{}{}] {done}/{total} {}   ",
            "#".repeat(filled),
            "-".repeat(width - filled),
            phase.text()
        );
        let _ = stderr.flush();
    })
    .map_err(|e| CliError::Usage(e.to_string()))?;
    let _ = writeln!(stderr);
    let mut p = printer(args.json);
    if let Some(e) = &report.neighbour_error {
        p.status(
            "warning",
            &t!("cli.sweep.neighbour_error", error = e),
            json!({}),
        );
    }
    p.line(&format!(
        "{} {} {} {} {}  {}",
        pad(&t!("cli.column.address"), 16),
        pad("MAC", 18),
        pad(&t!("cli.column.vendor"), 28),
        pad(&t!("cli.column.name"), 24),
        pad_left("RTT ms", 8),
        t!("cli.column.found_by")
    ));
    for h in &report.hosts {
        if args.json {
            p.object(&json!({
                "event": "host",
                "ip": h.ip.to_string(),
                "mac": h.mac.map(|m| m.to_string()),
                "vendor": h.vendor,
                "name": h.name,
                "found_by": h.found_by.iter().map(|f| f.english()).collect::<Vec<_>>(),
                "rtt_ms": h.rtt_ms,
            }));
        } else {
            p.line(&format!(
                "{:<16} {:<18} {:<28} {:<24} {:>8}  {}",
                h.ip.to_string(),
                h.mac.map(|m| m.to_string()).unwrap_or_default(),
                h.vendor.unwrap_or(""),
                h.name.clone().unwrap_or_default(),
                h.rtt_ms.map(|r| format!("{r:.2}")).unwrap_or_default(),
                h.found_by_text()
            ));
        }
    }
    p.status(
        "finished",
        &t!(
            "cli.sweep.finished",
            hosts = report.hosts.len(),
            probed = report.probed,
            ms = report.elapsed_ms
        ),
        json!({ "hosts": report.hosts.len(), "probed": report.probed, "elapsed_ms": report.elapsed_ms }),
    );
    Ok(())
}

pub fn neighbours(args: &ListArgs) -> Result<(), CliError> {
    let (rows, errors) = neighbours::read_all();
    let mut p = printer(args.json);
    for e in &errors {
        p.status("warning", &e.to_string(), json!({}));
    }
    if rows.is_empty() && !errors.is_empty() {
        return Err(CliError::Network(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let filter = args.filter.clone().unwrap_or_default().to_lowercase();
    p.line(&format!(
        "{} {} {} {} {}",
        pad(&t!("cli.column.address"), 40),
        pad("MAC", 18),
        pad(&t!("cli.column.interface"), 12),
        pad(&t!("cli.column.state"), 11),
        t!("cli.column.vendor")
    ));
    for n in rows {
        let vendor = crate::iptools::vendor::vendor(&n.mac).unwrap_or("");
        let line = format!(
            "{:<40} {:<18} {:<12} {:<11} {vendor}",
            n.ip.to_string(),
            n.mac.to_string(),
            n.interface,
            n.state
        );
        if !filter.is_empty() && !line.to_lowercase().contains(&filter) {
            continue;
        }
        if args.json {
            p.object(&json!({
                "ip": n.ip.to_string(),
                "mac": n.mac.to_string(),
                "interface": n.interface,
                "state": n.state,
                "vendor": vendor,
            }));
        } else {
            p.line(&line);
        }
    }
    Ok(())
}

pub fn sockets(args: &SocketsArgs) -> Result<(), CliError> {
    let rows = sockets::read_sockets().map_err(|e| CliError::Network(e.to_string()))?;
    let mut p = printer(args.list.json);
    let filter = args.list.filter.clone().unwrap_or_default();
    let explain = |s: &sockets::SocketEntry| {
        (s.proto == sockets::Proto::Tcp)
            .then(|| TcpState::from_name(s.state).map(why))
            .flatten()
    };
    let head = format!(
        "{} {} {} {}",
        pad(&t!("cli.column.proto"), 6),
        pad(&t!("cli.column.local"), 46),
        pad(&t!("cli.column.remote"), 46),
        pad(&t!("cli.column.state"), 12)
    );
    if args.explain {
        p.line(&format!(
            "{head} {} {}",
            pad(&t!("cli.column.process"), 20),
            t!("cli.column.why")
        ));
    } else {
        p.line(&format!("{head} {}", t!("cli.column.process")));
    }
    for s in rows.iter().filter(|s| s.matches(&filter)) {
        if args.list.json {
            p.object(&json!({
                "proto": s.proto_text(),
                "local": s.local.to_string(),
                "remote": s.remote.to_string(),
                "state": s.state,
                "process": s.process,
                "why": explain(s),
            }));
        } else if args.explain {
            p.line(&format!(
                "{:<6} {:<46} {:<46} {:<12} {:<20} {}",
                s.proto_text(),
                s.local.to_string(),
                s.remote.to_string(),
                s.state,
                s.process.clone().unwrap_or_default(),
                explain(s).unwrap_or_default()
            ));
        } else {
            p.line(&format!(
                "{:<6} {:<46} {:<46} {:<12} {}",
                s.proto_text(),
                s.local.to_string(),
                s.remote.to_string(),
                s.state,
                s.process.clone().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

fn entry_json(e: &RouteEntry) -> serde_json::Value {
    json!({
        "destination": e.destination.to_string(),
        "kind": e.kind.name(),
        "gateway": e.gateway.map(|g| g.to_string()),
        "interface": e.interface,
        "interface_index": e.interface_index,
        "source": e.source.map(|s| s.to_string()),
        "metric": e.metric,
        "table": e.table,
        "protocol": e.protocol,
        "scope": e.scope,
        "text": e.text(),
    })
}

fn route_json(a: &RouteAnswer) -> serde_json::Value {
    json!({
        "query": a.query,
        "destination": a.destination.to_string(),
        "reach": a.reach.name(),
        "direct": a.is_direct(),
        "interface": a.interface,
        "interface_index": a.interface_index,
        "source": a.source.map(|s| s.to_string()),
        "gateway": a.gateway.map(|g| g.to_string()),
        "entry": a.entry.as_ref().map(entry_json),
        "chosen": a.chosen,
        "table": a.table.iter().map(entry_json).collect::<Vec<_>>(),
        "table_rows_left_out": a.table_rows_left_out,
        "and": a.and.as_ref().map(|and| json!({
            "prefix": and.prefix,
            "mask": and.mask,
            "network": and.network.to_string(),
            "binary": {
                "destination": and.binary.text(&and.binary.address),
                "mask": and.binary.text(&and.binary.mask),
                "network": and.binary.text(&and.binary.network),
            },
        })),
        "explanation": a.explanation(),
    })
}

pub fn route(args: &RouteArgs) -> Result<(), CliError> {
    let answer = route_lookup::lookup_host(&args.host).map_err(|e| {
        if e.is_usage() {
            CliError::Usage(e.to_string())
        } else {
            CliError::Network(e.to_string())
        }
    })?;
    let mut p = printer(args.json);
    if args.json {
        p.object(&route_json(&answer));
        return Ok(());
    }
    let a = &answer;
    let none = || t!("cli.route.none").into_owned();
    let destination = if a.query == a.destination.to_string() {
        a.query.clone()
    } else {
        format!("{} ({})", a.destination, a.query)
    };
    for (k, v) in [
        (t!("cli.route.destination"), destination),
        (t!("cli.route.reached"), a.reach.name().to_owned()),
        (
            t!("cli.route.interface"),
            t!(
                "cli.route.interface_index",
                name = a.interface,
                index = a.interface_index
            )
            .into_owned(),
        ),
        (
            t!("cli.route.source"),
            a.source.map_or_else(none, |s| s.to_string()),
        ),
        (
            t!("cli.route.gateway"),
            a.gateway.map_or_else(none, |g| g.to_string()),
        ),
        (
            t!("cli.route.entry"),
            a.entry.as_ref().map_or_else(none, RouteEntry::text),
        ),
    ] {
        p.line(&format!("{} {v}", pad(&k, 12)));
    }
    p.line("");
    for line in a.explanation() {
        p.line(&line);
    }
    if let Some(and) = &a.and {
        let b = &and.binary;
        p.line("");
        p.line(&format!(
            "  {}   {}",
            b.text(&b.address),
            t!(
                "cli.route.binary.destination",
                destination = and.destination
            )
        ));
        p.line(&format!(
            "& {}   {}",
            b.text(&b.mask),
            t!(
                "cli.route.binary.mask",
                mask = and.mask,
                prefix = and.prefix
            )
        ));
        p.line(&format!(
            "= {}   {}",
            b.text(&b.network),
            t!("cli.subnet.binary.network", network = and.network)
        ));
    }
    p.line("");
    let family = if a.destination.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    };
    p.line(&t!(
        "cli.route.table",
        title = table_title(),
        family = family
    ));
    for (i, e) in a.table.iter().enumerate() {
        if a.chosen == Some(i) {
            p.line(&format!("=> {}   {}", e.text(), chosen_mark()));
        } else {
            p.line(&format!("   {}", e.text()));
        }
    }
    Ok(())
}
