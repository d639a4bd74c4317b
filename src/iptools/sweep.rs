//! Find the hosts of an IPv4 subnet without root, the way Angry IP Scanner does: a small UDP
//! datagram to every host (and optional TCP connects to chosen ports) makes the kernel resolve
//! each address on the link; live hosts answer ARP, and often an ICMP "port unreachable" or a
//! TCP SYN-ACK/RST. After a short wait the kernel's neighbour table says who answered and with
//! which MAC. Everything is bounded in count and time, and can be cancelled at any moment.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use ipnet::Ipv4Net;
use mio::{Events, Interest, Poll, Token};
use rust_i18n::t;

use super::neighbours;
use super::vendor::{Mac, vendor};
use crate::engine::worker::{SessionId, Wake};

/// Sweeps with more addresses than a /22 ask for confirmation first.
pub const CONFIRM_ABOVE_PREFIX: u8 = 22;
/// Sweeps with more addresses than a /16 are refused.
pub const REFUSE_ABOVE_PREFIX: u8 = 16;
/// At most this many TCP ports per sweep.
pub const MAX_TCP_PORTS: usize = 16;

/// Parses the range to sweep: an IPv4 network as the subnet calculator reads it
/// (`192.168.1.0/24`, `192.168.1.7 255.255.255.0`, a bare address for one host).
pub fn parse_sweep_range(text: &str) -> Result<Ipv4Net, String> {
    match super::subnet::parse_net(text) {
        Ok(ipnet::IpNet::V4(n)) => Ok(n),
        Ok(ipnet::IpNet::V6(_)) => Err(t!("iptools.sweep.error.v6").into_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Whether a range may be swept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepSize {
    Ok { addresses: u64 },
    NeedsConfirmation { addresses: u64 },
    Refused { addresses: u64 },
}

impl SweepSize {
    pub fn of(net: Ipv4Net) -> Self {
        let addresses = 1u64 << (32 - u32::from(net.prefix_len()));
        if net.prefix_len() < REFUSE_ABOVE_PREFIX {
            Self::Refused { addresses }
        } else if net.prefix_len() < CONFIRM_ABOVE_PREFIX {
            Self::NeedsConfirmation { addresses }
        } else {
            Self::Ok { addresses }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SweepError {
    TooLarge { net: Ipv4Net, addresses: u64 },
    TooManyPorts,
    PortZero,
    Io(String),
}

impl std::fmt::Display for SweepError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = match self {
            Self::TooLarge { net, addresses } => t!(
                "iptools.sweep.error.too_large",
                net = net,
                addresses = addresses
            ),
            Self::TooManyPorts => t!("iptools.sweep.error.too_many_ports", max = MAX_TCP_PORTS),
            Self::PortZero => t!("iptools.sweep.error.port_zero"),
            Self::Io(e) => t!("iptools.sweep.error.io", error = e),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for SweepError {}

/// What to sweep and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepOptions {
    pub network: Ipv4Net,
    /// TCP ports to try on every host (connect, then close).
    pub tcp_ports: Vec<u16>,
    /// The UDP port probed: the traceroute port, almost never open, so live hosts often answer
    /// "port unreachable".
    pub udp_port: u16,
    /// How long each batch of probes waits for answers.
    pub probe_window_ms: u64,
    /// Extra wait after the last batch so the kernel finishes resolving neighbours.
    pub settle_ms: u64,
    pub reverse_dns: bool,
}

impl SweepOptions {
    pub fn new(network: Ipv4Net) -> Self {
        Self {
            network: network.trunc(),
            tcp_ports: Vec::new(),
            udp_port: 33434,
            probe_window_ms: 1000,
            settle_ms: 500,
            reverse_dns: true,
        }
    }
}

/// How a host showed it is there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FoundBy {
    /// The kernel resolved its MAC (it answered ARP) and confirmed it recently.
    Neighbour,
    /// The neighbour table has its MAC but has not confirmed it since the probe (STALE, DELAY,
    /// PROBE): it may be a cached entry of a host that has since left.
    NeighbourUnconfirmed,
    /// It answered our UDP datagram with ICMP port unreachable.
    UdpUnreachable,
    /// It sent UDP data back.
    UdpReply,
    /// A TCP connect to this port succeeded.
    TcpOpen(u16),
    /// A TCP connect to this port was refused (RST): the host is up, the port closed.
    TcpClosed(u16),
}

impl FoundBy {
    /// The words in English, whatever the language shown (JSON output).
    pub fn english(self) -> String {
        self.words("en")
    }

    fn words(self, locale: &str) -> String {
        match self {
            Self::Neighbour => t!("iptools.sweep.found_by.neighbour", locale = locale),
            Self::NeighbourUnconfirmed => {
                t!(
                    "iptools.sweep.found_by.neighbour_unconfirmed",
                    locale = locale
                )
            }
            Self::UdpUnreachable => t!("iptools.sweep.found_by.udp_unreachable", locale = locale),
            Self::UdpReply => t!("iptools.sweep.found_by.udp_reply", locale = locale),
            Self::TcpOpen(p) => t!("iptools.sweep.found_by.tcp_open", locale = locale, p = p),
            Self::TcpClosed(p) => t!("iptools.sweep.found_by.tcp_closed", locale = locale, p = p),
        }
        .into_owned()
    }
}

impl std::fmt::Display for FoundBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.words(&rust_i18n::locale()))
    }
}

/// One host that answered.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepHost {
    pub ip: Ipv4Addr,
    pub mac: Option<Mac>,
    pub vendor: Option<&'static str>,
    pub interface: Option<String>,
    pub name: Option<String>,
    pub found_by: Vec<FoundBy>,
    /// The first answer's delay, where one was measured (UDP or TCP).
    pub rtt_ms: Option<f64>,
}

impl SweepHost {
    pub fn found_by_text(&self) -> String {
        self.found_by
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// What a sweep found.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepReport {
    pub network: Ipv4Net,
    /// Hosts that answered, by address (this machine's own addresses are not probed).
    pub hosts: Vec<SweepHost>,
    /// This machine's addresses inside the range.
    pub own: Vec<Ipv4Addr>,
    /// Gateways of this machine's interfaces inside the range.
    pub gateways: Vec<Ipv4Addr>,
    pub probed: usize,
    pub elapsed_ms: u64,
    pub cancelled: bool,
    /// Why the neighbour table could not be read, if it could not.
    pub neighbour_error: Option<String>,
}

/// Where a sweep is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SweepPhase {
    Probing,
    Settling,
    ReverseDns,
}

impl SweepPhase {
    pub fn text(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::Probing => t!("iptools.sweep.phase.probing"),
            Self::Settling => t!("iptools.sweep.phase.settling"),
            Self::ReverseDns => t!("iptools.sweep.phase.reverse_dns"),
        }
    }
}

#[derive(Default)]
struct Answers {
    found_by: Vec<FoundBy>,
    rtt_ms: Option<f64>,
}

impl Answers {
    fn add(&mut self, how: FoundBy, rtt: Option<Duration>) {
        if !self.found_by.contains(&how) {
            self.found_by.push(how);
        }
        if let Some(rtt) = rtt {
            let ms = rtt.as_secs_f64() * 1000.0;
            self.rtt_ms = Some(self.rtt_ms.map_or(ms, |m: f64| m.min(ms)));
        }
    }
}

struct TcpProbe {
    ip: Ipv4Addr,
    port: u16,
    stream: Option<mio::net::TcpStream>,
    sent: Instant,
}

struct UdpProbe {
    ip: Ipv4Addr,
    socket: Option<UdpSocket>,
    sent: Instant,
}

/// Sends the probes for one batch of hosts and collects answers until the window closes.
fn probe_batch(
    batch: &[Ipv4Addr],
    options: &SweepOptions,
    cancel: &AtomicBool,
    answers: &mut BTreeMap<Ipv4Addr, Answers>,
) -> Result<(), SweepError> {
    let mut poll = Poll::new().map_err(|e| SweepError::Io(e.to_string()))?;
    let start = Instant::now();
    let mut udp: Vec<UdpProbe> = batch
        .iter()
        .map(|&ip| UdpProbe {
            ip,
            socket: udp_probe(ip, options.udp_port),
            sent: Instant::now(),
        })
        .collect();
    let mut tcp: Vec<TcpProbe> = Vec::new();
    for &ip in batch {
        for &port in &options.tcp_ports {
            let addr = SocketAddr::new(IpAddr::V4(ip), port);
            let sent = Instant::now();
            let mut stream = mio::net::TcpStream::connect(addr).ok();
            if let Some(s) = &mut stream
                && poll
                    .registry()
                    .register(s, Token(tcp.len()), Interest::WRITABLE)
                    .is_err()
            {
                stream = None;
            }
            tcp.push(TcpProbe {
                ip,
                port,
                stream,
                sent,
            });
        }
    }
    let deadline = later(start, options.probe_window_ms);
    let mut events = Events::with_capacity(256);
    let mut buf = [0u8; 64];
    while Instant::now() < deadline && !cancel.load(Ordering::Relaxed) {
        let open_udp = udp.iter().any(|p| p.socket.is_some());
        let open_tcp = tcp.iter().any(|p| p.stream.is_some());
        if !open_udp && !open_tcp {
            break;
        }
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(10));
        if poll.poll(&mut events, Some(wait)).is_err() {
            continue;
        }
        for event in &events {
            let Some(probe) = tcp.get_mut(event.token().0) else {
                continue;
            };
            let Some(stream) = &probe.stream else {
                continue;
            };
            let rtt = probe.sent.elapsed();
            let outcome = match stream.take_error() {
                Ok(Some(e)) | Err(e) => Some(Err(e)),
                Ok(None) => match stream.peer_addr() {
                    Ok(_) => Some(Ok(())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotConnected => None,
                    Err(e) => Some(Err(e)),
                },
            };
            match outcome {
                None => {}
                Some(Ok(())) => {
                    answers
                        .entry(probe.ip)
                        .or_default()
                        .add(FoundBy::TcpOpen(probe.port), Some(rtt));
                    probe.stream = None;
                }
                Some(Err(e)) => {
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        answers
                            .entry(probe.ip)
                            .or_default()
                            .add(FoundBy::TcpClosed(probe.port), Some(rtt));
                    }
                    probe.stream = None;
                }
            }
        }
        for probe in &mut udp {
            let Some(socket) = &probe.socket else {
                continue;
            };
            match socket.recv(&mut buf) {
                Ok(_) => {
                    answers
                        .entry(probe.ip)
                        .or_default()
                        .add(FoundBy::UdpReply, Some(probe.sent.elapsed()));
                    probe.socket = None;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    if e.kind() == std::io::ErrorKind::ConnectionRefused {
                        answers
                            .entry(probe.ip)
                            .or_default()
                            .add(FoundBy::UdpUnreachable, Some(probe.sent.elapsed()));
                    }
                    probe.socket = None;
                }
            }
        }
    }
    Ok(())
}

/// `ms` after `from`, capped at a year so no window can overflow an `Instant`.
fn later(from: Instant, ms: u64) -> Instant {
    const YEAR_MS: u64 = 365 * 24 * 3600 * 1000;
    let wait = Duration::from_millis(ms.min(YEAR_MS));
    from.checked_add(wait).unwrap_or(from)
}

/// A connected, non-blocking UDP socket that has sent one small datagram to `ip`, so ICMP
/// errors come back to it; `None` if any step failed (e.g. no route).
fn udp_probe(ip: Ipv4Addr, port: u16) -> Option<UdpSocket> {
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((ip, port)).ok()?;
    socket.set_nonblocking(true).ok()?;
    socket.send(b"sockpit sweep").ok()?; // i18n-exempt: the probe's bytes on the wire
    Some(socket)
}

/// Reverse-DNS lookups at a time.
const DNS_THREADS: usize = 8;
/// No new lookup starts after this long, so a dead resolver cannot stall a sweep for minutes.
const DNS_BUDGET: Duration = Duration::from_secs(10);

/// Looks up the names of `ips` on a few named threads; a name is `None` when there is none,
/// when the sweep was cancelled, or when the time budget ran out before its turn.
fn reverse_names(
    ips: &[Ipv4Addr],
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize),
) -> Vec<Option<String>> {
    use std::sync::Mutex;
    use std::sync::atomic::AtomicUsize;
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let names: Mutex<Vec<Option<String>>> = Mutex::new(vec![None; ips.len()]);
    let deadline = Instant::now() + DNS_BUDGET;
    std::thread::scope(|scope| {
        let worker = || {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ips.len() || cancel.load(Ordering::Relaxed) || Instant::now() > deadline {
                    break;
                }
                let name = dns_lookup::lookup_addr(&IpAddr::V4(ips[i])).ok();
                if let Ok(mut names) = names.lock() {
                    names[i] = name;
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        };
        let mut started = 0;
        for _ in 0..DNS_THREADS.min(ips.len()) {
            if std::thread::Builder::new()
                .name("ip-sweep-dns".to_owned())
                .spawn_scoped(scope, worker)
                .is_ok()
            {
                started += 1;
            }
        }
        if started == 0 {
            // No thread could start: look up here, one by one.
            worker();
        }
        // Report progress until every lookup is done or abandoned.
        loop {
            let d = done.load(Ordering::Relaxed);
            progress(d, ips.len());
            // On cancel or timeout the workers stop after their current lookup; the scope
            // waits for them.
            if d >= ips.len() || cancel.load(Ordering::Relaxed) || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    names.into_inner().unwrap_or_default()
}

/// Runs a sweep on the calling thread. `progress(done, total, phase)` is called as it goes;
/// `cancel` stops it within about 10 ms and returns what was found so far.
pub fn run_sweep(
    options: &SweepOptions,
    cancel: &AtomicBool,
    mut progress: impl FnMut(usize, usize, SweepPhase),
) -> Result<SweepReport, SweepError> {
    let started = Instant::now();
    let net = options.network.trunc();
    if let SweepSize::Refused { addresses } = SweepSize::of(net) {
        return Err(SweepError::TooLarge { net, addresses });
    }
    if options.tcp_ports.len() > MAX_TCP_PORTS {
        return Err(SweepError::TooManyPorts);
    }
    if options.tcp_ports.contains(&0) {
        return Err(SweepError::PortZero);
    }
    let (own, gateways) = super::interfaces::local_context(net);
    let targets: Vec<Ipv4Addr> = net.hosts().filter(|ip| !own.contains(ip)).collect();
    let total = targets.len();
    let batch_size = (512 / (1 + options.tcp_ports.len())).clamp(16, 256);
    let mut answers: BTreeMap<Ipv4Addr, Answers> = BTreeMap::new();
    let mut done = 0;
    progress(0, total, SweepPhase::Probing);
    for batch in targets.chunks(batch_size) {
        if cancel.load(Ordering::Relaxed) {
            break;
        }
        probe_batch(batch, options, cancel, &mut answers)?;
        done += batch.len();
        progress(done, total, SweepPhase::Probing);
    }
    progress(done, total, SweepPhase::Settling);
    let settle_until = later(Instant::now(), options.settle_ms);
    while Instant::now() < settle_until && !cancel.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut neighbour_error = None;
    let mut macs: BTreeMap<Ipv4Addr, (Mac, String)> = BTreeMap::new();
    match neighbours::read_v4_with_states() {
        Ok(table) => {
            for n in table {
                if let IpAddr::V4(ip) = n.ip
                    && net.contains(&ip)
                    && !own.contains(&ip)
                {
                    let how = if matches!(n.state.as_str(), "STALE" | "DELAY" | "PROBE") {
                        FoundBy::NeighbourUnconfirmed
                    } else {
                        FoundBy::Neighbour
                    };
                    macs.insert(ip, (n.mac, n.interface));
                    answers.entry(ip).or_default().add(how, None);
                }
            }
        }
        Err(e) => neighbour_error = Some(e.to_string()),
    }
    let mut hosts: Vec<SweepHost> = answers
        .into_iter()
        .filter(|(ip, _)| net.contains(ip) && !own.contains(ip))
        .map(|(ip, mut a)| {
            a.found_by.sort();
            let neighbour = macs.remove(&ip);
            SweepHost {
                ip,
                mac: neighbour.as_ref().map(|n| n.0),
                vendor: neighbour.as_ref().and_then(|n| vendor(&n.0)),
                interface: neighbour.map(|n| n.1),
                name: None,
                found_by: a.found_by,
                rtt_ms: a.rtt_ms,
            }
        })
        .collect();
    if options.reverse_dns {
        let ips: Vec<Ipv4Addr> = hosts.iter().map(|h| h.ip).collect();
        let names = reverse_names(&ips, cancel, |done, total| {
            progress(done, total, SweepPhase::ReverseDns);
        });
        for (host, name) in hosts.iter_mut().zip(names) {
            host.name = name;
        }
    }
    Ok(SweepReport {
        network: net,
        hosts,
        own,
        gateways,
        probed: done,
        elapsed_ms: started.elapsed().as_millis() as u64,
        cancelled: cancel.load(Ordering::Relaxed),
        neighbour_error,
    })
}

/// News from a sweep running on its worker thread.
#[derive(Debug, Clone, PartialEq)]
pub enum SweepEvent {
    Progress {
        session: SessionId,
        done: usize,
        total: usize,
        phase: SweepPhase,
    },
    Finished {
        session: SessionId,
        report: SweepReport,
    },
    Failed {
        session: SessionId,
        message: String,
    },
}

/// A sweep on its own named thread. Dropping the handle cancels the sweep and joins it.
pub struct SweepHandle {
    pub session: SessionId,
    cancel: Arc<AtomicBool>,
    events: Receiver<SweepEvent>,
    thread: Option<JoinHandle<()>>,
}

impl SweepHandle {
    pub fn start(session: SessionId, options: SweepOptions, wake: Wake) -> std::io::Result<Self> {
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, rx): (Sender<SweepEvent>, _) = crossbeam_channel::bounded(64);
        let worker_cancel = cancel.clone();
        let panic_tx = tx.clone();
        let panic_wake = wake.clone();
        let thread = crate::engine::worker::spawn_named(
            "ip-sweep",
            move || {
                let mut last_progress = Instant::now();
                let result = run_sweep(&options, &worker_cancel, |done, total, phase| {
                    // Progress is news, not a must: drop it when the UI is behind.
                    if last_progress.elapsed() >= Duration::from_millis(50) || done == 0 {
                        last_progress = Instant::now();
                        let _ = tx.try_send(SweepEvent::Progress {
                            session,
                            done,
                            total,
                            phase,
                        });
                        wake();
                    }
                });
                let event = match result {
                    Ok(report) => SweepEvent::Finished { session, report },
                    Err(e) => SweepEvent::Failed {
                        session,
                        message: e.to_string(),
                    },
                };
                let _ = tx.send_timeout(event, Duration::from_secs(5));
                wake();
            },
            move |message| {
                let _ = panic_tx.try_send(SweepEvent::Failed {
                    session,
                    message: t!("iptools.sweep.worker_failed", message = message).into_owned(),
                });
                panic_wake();
            },
        )?;
        Ok(Self {
            session,
            cancel,
            events: rx,
            thread: Some(thread),
        })
    }

    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    pub fn events(&self) -> &Receiver<SweepEvent> {
        &self.events
    }
}

impl Drop for SweepHandle {
    fn drop(&mut self) {
        self.cancel();
        // Make room so a worker blocked on a full channel can finish.
        while self.events.try_recv().is_ok() {}
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
