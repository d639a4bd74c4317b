//! The UDP tab: bind a port, send datagrams to any host, see every datagram with its sender,
//! reply with one click, join multicast groups.

use crate::engine::udp::{Command, Event, EventKind, UdpHandle, UdpStats};

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use egui::{RichText, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::engine::session::JobStatus;
use crate::engine::session::rules::RulesFile;
use crate::engine::worker::Wake;
use crate::gui::session::{DrainLimits, Session, Traffic};
use crate::gui::widgets::SendBox;
use crate::gui::widgets::checksum::ChecksumSettings;
use crate::gui::widgets::framing::FramingSettings;
use crate::gui::widgets::library::{LibraryPanel, PacketSend};
use crate::gui::widgets::rules::RulesEditor;
use crate::gui::widgets::send_tools::{self, SendTools, ToolAction};
use crate::gui::widgets::traffic_view::ViewSettings;
use crate::gui::widgets::{ERROR_COLOR, error_slot, error_text, labelled_drag, labelled_hint};
use crate::gui::widgets::{Tone, status_line};
use crate::net::iface::InterfaceCache;
use crate::net::udp::{Membership, MulticastInterface, MulticastSend, UdpBindOptions, check_group};
use crate::net::{NetError, normalize_host, parse_port};
use crate::settings::{Bounded, clamp_number, cut_fields, join};
use crate::traffic::{Direction, Record};

use crate::gui::widgets::bind_picker::bind_picker;

/// What the tab saves across restarts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UdpSettings {
    pub bind: String,
    pub port: String,
    pub reuse_addr: bool,
    /// `SO_RCVBUF` in KiB; 0 keeps the system default. The default asks for 4 MiB (the OS
    /// caps it at its maximum): the system's usual 208 KiB holds only a few milliseconds of a
    /// flood of small datagrams, and whatever does not fit is lost in the kernel.
    pub recv_buffer_kib: u32,
    pub remote_host: String,
    pub remote_port: String,
    pub group: String,
    /// Interface name for joins and multicast sends; empty = let the system choose.
    pub multicast_interface: String,
    pub multicast_ttl: u32,
    pub multicast_loop: bool,
    pub encoding: TextEncoding,
    pub framing: FramingSettings,
    pub checksum: ChecksumSettings,
    pub rules: RulesFile,
    pub script: crate::gui::widgets::script_box::ScriptSettings,
    pub view: ViewSettings,
    pub send_box: SendBox,
    pub send_tools: SendTools,
    pub capture: crate::gui::widgets::capture_bar::CaptureSettings,
}

impl Default for UdpSettings {
    fn default() -> Self {
        Self {
            bind: "0.0.0.0".to_owned(),
            port: "9000".to_owned(),
            reuse_addr: true,
            recv_buffer_kib: 4096,
            remote_host: "127.0.0.1".to_owned(),
            remote_port: "9000".to_owned(),
            group: "239.255.0.1".to_owned(),
            multicast_interface: String::new(),
            multicast_ttl: 1,
            multicast_loop: true,
            encoding: TextEncoding::Utf8,
            framing: FramingSettings::default(),
            checksum: ChecksumSettings::default(),
            rules: RulesFile::default(),
            script: crate::gui::widgets::script_box::ScriptSettings::default(),
            view: ViewSettings::default(),
            send_box: SendBox::default(),
            send_tools: SendTools::default(),
            capture: crate::gui::widgets::capture_bar::CaptureSettings::default(),
        }
    }
}

impl Bounded for UdpSettings {
    /// Ranges as the fields' drag values offer them.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        clamp_number(
            &mut self.recv_buffer_kib,
            &(0..=65_536),
            &join(path, "recv_buffer_kib"),
            notes,
        );
        clamp_number(
            &mut self.multicast_ttl,
            &(0..=255),
            &join(path, "multicast_ttl"),
            notes,
        );
        cut_fields(
            path,
            &mut [
                ("bind", &mut self.bind),
                ("port", &mut self.port),
                ("remote_host", &mut self.remote_host),
                ("remote_port", &mut self.remote_port),
                ("group", &mut self.group),
                ("multicast_interface", &mut self.multicast_interface),
            ],
            notes,
        );
        self.framing.bound(&join(path, "framing"), notes);
        self.checksum.bound(&join(path, "checksum"), notes);
        self.rules.bound(&join(path, "rules"), notes);
        self.script.bound(&join(path, "script"), notes);
        self.view.bound(&join(path, "view"), notes);
        self.send_box.bound(&join(path, "send_box"), notes);
        self.send_tools.bound(&join(path, "send_tools"), notes);
        self.capture.bound(&join(path, "capture"), notes);
    }
}

/// The socket as the user sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UdpStatus {
    Closed,
    Binding,
    Bound(SocketAddr),
    Failed(NetError),
}

/// One UDP session: its settings, status and memberships over its own worker and log.
pub struct UdpTab {
    pub settings: UdpSettings,
    pub session: Session<Command, Event>,
    pub status: UdpStatus,
    pub stats: UdpStats,
    pub memberships: BTreeSet<Membership>,
    bind_error: Option<String>,
    port_error: Option<String>,
    framing_error: Option<String>,
    pub rules: RulesEditor,
    pub script: crate::gui::widgets::script_box::ScriptEditor,
    /// Problem with the destination: bad input, or the last send's failure.
    pub remote_error: Option<String>,
    pub group_error: Option<String>,
    interfaces: InterfaceCache,
    /// The running (or last) repeat or file send.
    pub job: Option<JobStatus>,
}

impl UdpTab {
    pub fn new(mut settings: UdpSettings, wake: Wake) -> Self {
        let view = std::mem::take(&mut settings.view);
        let mut session = Session::new(view, wake, UdpHandle::spawn);
        session
            .view
            .offer_mock(t!("log_mock.hover_udp").into_owned());
        session.view.offer_reply();
        Self {
            settings,
            session,
            status: UdpStatus::Closed,
            stats: UdpStats::default(),
            memberships: BTreeSet::new(),
            bind_error: None,
            port_error: None,
            framing_error: None,
            rules: RulesEditor::mocking(crate::capture::Transport::Udp),
            script: crate::gui::widgets::script_box::ScriptEditor::default(),
            remote_error: None,
            group_error: None,
            interfaces: InterfaceCache::default(),
            job: None,
        }
    }

    pub fn settings_to_save(&self) -> UdpSettings {
        let mut s = self.settings.clone();
        s.view = self.session.view_settings();
        s
    }

    /// The traffic log of this session.
    pub fn log(&self) -> &crate::traffic::TrafficLog {
        &self.session.log
    }

    /// What closing this session would cut, in words; `None` when nothing is open.
    pub fn busy(&self) -> Option<String> {
        match self.status {
            UdpStatus::Bound(local) => Some(t!("udp.busy.bound", local = local).into_owned()),
            UdpStatus::Binding => Some(t!("udp.busy.binding").into_owned()),
            _ => None,
        }
    }

    pub fn bound(&self) -> Option<SocketAddr> {
        match self.status {
            UdpStatus::Bound(local) => Some(local),
            _ => None,
        }
    }

    fn active(&self) -> bool {
        matches!(self.status, UdpStatus::Binding | UdpStatus::Bound(_))
    }

    fn multicast_send(&mut self) -> MulticastSend {
        let name = self.settings.multicast_interface.clone();
        let iface = self.interfaces.named(&name);
        MulticastSend {
            ttl: self.settings.multicast_ttl,
            loopback: self.settings.multicast_loop,
            interface_v4: iface.as_ref().and_then(|i| i.v4.first().map(|v| v.addr)),
            interface_v6: iface.map(|i| i.index),
        }
    }

    /// Validates the local address and port, then binds.
    pub fn bind(&mut self) {
        let ip = normalize_host(&self.settings.bind).parse::<IpAddr>();
        self.bind_error = ip
            .is_err()
            .then(|| t!("udp.not_ip", text = self.settings.bind.trim()).into_owned());
        let port = parse_port(&self.settings.port, true);
        self.port_error = port.as_ref().err().cloned();
        let pipeline = crate::gui::widgets::pipeline::session_pipeline(
            &crate::gui::widgets::pipeline::PipelineRows {
                framing: &self.settings.framing,
                checksum: &self.settings.checksum,
                rules: &self.settings.rules,
                script: &self.settings.script,
                encoding: self.settings.encoding,
            },
            &mut self.framing_error,
            &mut self.rules,
            &mut self.script,
        );
        let (Ok(ip), Ok(port), Some(pipeline)) = (ip, port, pipeline) else {
            return;
        };
        let options = UdpBindOptions {
            bind: SocketAddr::new(ip, port),
            reuse_addr: self.settings.reuse_addr,
            broadcast: true,
            recv_buffer_bytes: (self.settings.recv_buffer_kib > 0)
                .then(|| self.settings.recv_buffer_kib as usize * 1024),
        };
        let multicast = self.multicast_send();
        let session = self.session.next_id();
        self.stats = UdpStats::default();
        self.memberships.clear();
        if self.session.command(Command::BindWith {
            session,
            options,
            multicast,
            pipeline,
        }) {
            self.status = UdpStatus::Binding;
        }
    }

    pub fn close(&mut self) {
        let session = self.session.id();
        self.session.command(Command::Close { session });
        // Errors about sends on this socket no longer apply once it is closed.
        self.remote_error = None;
        self.settings.send_box.error = None;
    }

    /// Sends to the destination fields; bad input is reported next to them and nothing is
    /// sent.
    /// The destination as typed, checked; a problem is said next to it.
    fn destination(&mut self) -> Option<(String, u16)> {
        if normalize_host(&self.settings.remote_host).is_empty() {
            self.remote_error = Some(t!("udp.remote_empty").into_owned());
            return None;
        }
        let host = match crate::net::parse_host(&self.settings.remote_host) {
            Ok(h) => h.to_string(),
            Err(e) => {
                self.remote_error = Some(e.to_string());
                return None;
            }
        };
        let port = match parse_port(&self.settings.remote_port, false) {
            Ok(p) => p,
            Err(e) => {
                self.remote_error = Some(e);
                return None;
            }
        };
        self.remote_error = None;
        Some((host, port))
    }

    /// Whether a send can go now (bound, worker alive).
    pub fn can_send(&self) -> bool {
        self.bound().is_some() && self.session.has_worker()
    }

    /// Why the send buttons are greyed out, when they are.
    fn send_blocked(&self) -> Option<String> {
        self.session
            .send_blocked(self.can_send(), || t!("disabled.send.udp"))
    }

    fn capture_context(&self) -> crate::gui::widgets::capture_bar::CaptureContext {
        crate::gui::widgets::capture_bar::CaptureContext {
            transport: crate::capture::Transport::Udp,
            label: format!("Sockpit UDP {}:{}", self.settings.bind, self.settings.port),
            opened_by: None,
            encoding: self.settings.encoding,
            active: self.bound().is_some(),
            plot_peers: false,
            local: self
                .bound()
                .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0))),
        }
    }

    /// Sends a packet from the library: to its own destination when it names one, else to
    /// the tab's.
    pub fn send_packet(&mut self, packet: PacketSend, library: &mut LibraryPanel) {
        let Some(destination) = packet.destination else {
            self.send(packet.bytes);
            return;
        };
        let (host, port) = match crate::net::split_host_port(&destination) {
            Ok(hp) => hp,
            Err(e) => {
                library.say(
                    crate::gui::widgets::Tone::Error,
                    format!("\"{}\": {e}", packet.name),
                );
                return;
            }
        };
        let ipv6 = host
            .parse::<IpAddr>()
            .map_or(self.bound().is_some_and(|a| a.is_ipv6()), |ip| ip.is_ipv6());
        if let Err(e) = crate::net::check_datagram_len(packet.bytes.len(), ipv6) {
            library.say(
                crate::gui::widgets::Tone::Error,
                format!("\"{}\": {e}", packet.name),
            );
            return;
        }
        let session = self.session.id();
        if let Err(e) = self.session.send(Command::Send {
            session,
            host,
            port,
            bytes: packet.bytes,
        }) {
            library.say(crate::gui::widgets::Tone::Error, e.to_string());
        }
    }

    /// Starts (or stops) a repeat or a file send to the destination.
    pub fn tool(&mut self, action: &ToolAction) {
        let session = self.session.id();
        let command = if *action == ToolAction::Stop {
            Command::StopJob { session }
        } else {
            let Some((host, port)) = self.destination() else {
                return;
            };
            let Some(job) =
                send_tools::job_spec(action, &mut self.settings.send_box, self.settings.encoding)
            else {
                return;
            };
            Command::StartJob {
                session,
                host,
                port,
                job,
            }
        };
        if let Err(e) = self.session.send(command) {
            self.settings.send_tools.error = Some(e.to_string());
        }
    }

    pub fn send(&mut self, bytes: Vec<u8>) -> bool {
        let Some((host, port)) = self.destination() else {
            return false;
        };
        // Too big for one datagram: said next to the payload, nothing sent.
        let ipv6 = host
            .parse::<IpAddr>()
            .map_or(self.bound().is_some_and(|a| a.is_ipv6()), |ip| ip.is_ipv6());
        if let Err(e) = crate::net::check_datagram_len(bytes.len(), ipv6) {
            self.settings.send_box.error = Some(e);
            return false;
        }
        let session = self.session.id();
        match self.session.send(Command::Send {
            session,
            host,
            port,
            bytes,
        }) {
            Ok(()) => true,
            Err(e) => {
                // The text stays in the send box, to send again.
                self.settings.send_box.error = Some(e.to_string());
                false
            }
        }
    }

    /// Sets the destination to the sender of the selected received datagram.
    pub fn reply_to_selected(&mut self) -> bool {
        let Some(peer) = self.selected_sender() else {
            return false;
        };
        self.reply_to(peer);
        true
    }

    /// Makes `peer` the destination of what is sent next.
    fn reply_to(&mut self, peer: SocketAddr) {
        self.settings.remote_host = peer.ip().to_string();
        self.settings.remote_port = peer.port().to_string();
        self.remote_error = None;
    }

    fn selected_sender(&self) -> Option<SocketAddr> {
        self.session
            .view
            .selected()
            .iter()
            .rev()
            .filter_map(|id| self.session.log.get_by_id(*id))
            .find(|r| r.direction == Direction::Received)
            .and_then(|r| r.peer)
    }

    fn membership_from_input(&mut self) -> Option<Membership> {
        let Ok(group) = normalize_host(&self.settings.group).parse::<IpAddr>() else {
            self.group_error =
                Some(t!("udp.group.not_ip", text = self.settings.group.trim()).into_owned());
            return None;
        };
        if let Err(e) = check_group(group) {
            self.group_error = Some(e);
            return None;
        }
        let name = self.settings.multicast_interface.clone();
        let iface = self.interfaces.named(&name);
        let interface = match (group, iface) {
            (IpAddr::V4(_), None) => MulticastInterface::V4(Ipv4Addr::UNSPECIFIED),
            (IpAddr::V4(_), Some(i)) => {
                let Some(v4) = i.v4.first() else {
                    self.group_error = Some(t!("udp.group.no_ipv4", name = i.name).into_owned());
                    return None;
                };
                MulticastInterface::V4(v4.addr)
            }
            (IpAddr::V6(_), None) => MulticastInterface::V6Index(0),
            (IpAddr::V6(_), Some(i)) => MulticastInterface::V6Index(i.index),
        };
        self.group_error = None;
        Some(Membership { group, interface })
    }

    pub fn join(&mut self) {
        if self.bound().is_none() {
            self.group_error = Some(t!("udp.group.bind_first").into_owned());
            return;
        }
        if let Some(membership) = self.membership_from_input() {
            let session = self.session.id();
            self.session.command(Command::Join {
                session,
                membership,
            });
        }
    }

    pub fn leave(&mut self, membership: Membership) {
        let session = self.session.id();
        self.session.command(Command::Leave {
            session,
            membership,
        });
    }

    fn apply_multicast_settings(&mut self) {
        let multicast = self.multicast_send();
        let session = self.session.id();
        self.session
            .command(Command::SetMulticast { session, multicast });
    }

    /// Applies waiting worker events (bounded per frame). Returns true if more are waiting.
    pub fn drain_events(&mut self) -> bool {
        crate::gui::session::drain_capturing(self)
    }

    /// This session's figures for `sockpit gui --report`.
    pub fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut m = self.session.report();
        let s = self.stats;
        m.insert("bound".into(), serde_json::json!(self.bound().is_some()));
        m.insert("received".into(), serde_json::json!(s.received));
        m.insert("sent".into(), serde_json::json!(s.sent));
        m.insert(
            "dropped_by_sockpit".into(),
            serde_json::json!(s.dropped_by_app),
        );
        m.insert(
            "dropped_by_kernel".into(),
            serde_json::json!(s.dropped_by_kernel),
        );
        m.insert("unsent".into(), serde_json::json!(s.unsent));
        m
    }

    fn note(&mut self, direction: Direction, peer: Option<SocketAddr>, text: &str) {
        self.session.note(direction, peer, text);
    }
}

impl Traffic for UdpTab {
    fn auto_capture_choice(
        &self,
    ) -> Option<(
        crate::gui::widgets::capture_bar::CaptureSettings,
        crate::gui::widgets::capture_bar::CaptureContext,
    )> {
        self.settings
            .capture
            .auto
            .then(|| (self.settings.capture.clone(), self.capture_context()))
    }

    type Command = Command;
    type Event = Event;
    /// The window draws live traffic about ten times a second
    /// (`gui::app::LIVE_REPAINT_INTERVAL`), and the worker sends a few thousand batches a
    /// second in a flood; a budget below that would ask for extra frames just to keep up.
    const LIMITS: DrainLimits = DrainLimits {
        events: 4096,
        bytes: 64 * 1024 * 1024,
    };

    fn session(&mut self) -> &mut Session<Command, Event> {
        &mut self.session
    }

    fn script_notes(&mut self) -> Vec<(Direction, String)> {
        self.script.poll()
    }

    fn worker_gone(&mut self) {
        self.memberships.clear();
        self.status = UdpStatus::Closed;
    }

    fn apply(&mut self, event: Event) {
        match event.kind {
            EventKind::Bound { local } => {
                self.status = UdpStatus::Bound(local);
                self.session.view.local_port = Some(local.port());
                self.note(Direction::Info, None, &t!("udp.bound", local = local));
            }
            EventKind::BindFailed(e) => {
                self.note(
                    Direction::Error,
                    None,
                    &t!(
                        "udp.log.bind_failed",
                        error = e,
                        explanation = e.explanation()
                    ),
                );
                self.status = UdpStatus::Failed(e);
            }
            EventKind::Received(batch) => {
                for d in batch {
                    self.session.log.push(
                        Record::at(d.time_us, Direction::Received, Some(d.from), d.bytes)
                            .checked(d.check),
                    );
                }
            }
            EventKind::Framing { peer, notice } => self.session.frame_notice(peer, &notice),
            EventKind::Sent { to, time_us, bytes } => {
                self.remote_error = None;
                let mut r = Record::new(Direction::Sent, Some(to), bytes);
                r.time_us = time_us;
                self.session.log.push(r);
            }
            EventKind::Job(status) => {
                if let Some((direction, text)) = send_tools::end_note(&status) {
                    self.note(direction, None, &text);
                }
                self.job = Some(status);
            }
            EventKind::JobRefused { reason } => self.settings.send_tools.error = Some(reason),
            EventKind::SendFailed { target, error } => {
                let text = t!(
                    "udp.log.send_failed",
                    target = target,
                    error = error,
                    explanation = error.explanation()
                )
                .into_owned();
                self.remote_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::Icmp(e) => {
                let text = e.to_string();
                self.remote_error = Some(text.clone());
                self.note(Direction::Error, e.destination, &text);
            }
            EventKind::Joined(m) => {
                self.note(Direction::Info, None, &t!("udp.log.joined", group = m));
                self.memberships.insert(m);
            }
            EventKind::Left(m) => {
                self.note(Direction::Info, None, &t!("udp.log.left", group = m));
                self.memberships.remove(&m);
            }
            EventKind::MembershipFailed {
                membership,
                join,
                error,
            } => {
                let text = if join {
                    t!(
                        "udp.log.join_failed",
                        membership = membership,
                        error = error
                    )
                } else {
                    t!(
                        "udp.log.leave_failed",
                        membership = membership,
                        error = error
                    )
                }
                .into_owned();
                self.group_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::MulticastFailed { error } => {
                let text = t!("udp.log.multicast_failed", error = error).into_owned();
                self.group_error = Some(text.clone());
                self.note(Direction::Error, None, &text);
            }
            EventKind::Stats(s) => self.stats = s,
            EventKind::Closed => {
                self.note(Direction::Info, None, &t!("udp.log.closed"));
                self.memberships.clear();
                self.status = UdpStatus::Closed;
            }
            EventKind::WorkerFailed { .. } => {}
        }
    }
}

impl UdpTab {
    /// The whole tab; `id` tells this session's panels from its siblings'.
    pub fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel) {
        crate::gui::widgets::say_why_send_is_off(ui, self.send_blocked());
        crate::gui::widgets::top_settings_panel(ui, format!("{id}-bind"), |ui| {
            self.bind_ui(ui);
            let editable = !self.active();
            ui.add_enabled_ui(editable, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.checkbox(&mut self.settings.reuse_addr, "SO_REUSEADDR")
                        .on_hover_text(t!("udp.bind.reuse_hover"));
                    labelled_drag(
                        ui,
                        &t!("udp.bind.recv_buffer"),
                        &mut self.settings.recv_buffer_kib,
                        0..=65_536,
                    );
                    ui.separator();
                    self.settings.framing.ui(ui, &mut self.framing_error);
                    ui.separator();
                    self.settings.checksum.ui(ui);
                });
            });
            self.rules.ui(ui, &mut self.settings.rules, editable);
            self.script.ui(ui, &mut self.settings.script, editable);
            self.multicast_ui(ui);
            ui.add_space(2.0);
        });
        egui::Panel::bottom(format!("{id}-send")).show(ui, |ui| {
            ui.add_space(4.0);
            self.destination_ui(ui);
            let can_send = self.can_send();
            let encoding = self.settings.encoding;
            if let Some(bytes) = self.settings.send_box.ui(ui, encoding, can_send) {
                self.send(bytes);
            }
            self.settings
                .checksum
                .preview_ui(ui, &self.settings.send_box, encoding);
            if let Some(action) = self.settings.send_tools.ui(
                ui,
                self.job.as_ref(),
                can_send,
                (true, encoding, &library.library),
            ) {
                self.tool(&action);
            }
            ui.add_space(2.0);
        });
        let ctx = self.capture_context();
        let can_send = self.can_send();
        if let Some(bytes) =
            self.session
                .capture_ui(ui, id, &ctx, &mut self.settings.capture, can_send)
        {
            self.send(bytes);
        }
        if let Some(packet) = library.ui(ui, id, self.can_send()) {
            self.send_packet(packet, library);
        }
        self.session
            .panes_ui(ui, id, &mut self.settings.encoding, None);
        if self.session.view.take_mock_request() {
            self.mock_selection();
        }
        if let Some(peer) = self.session.view.take_reply_request() {
            self.reply_to(peer);
        }
        if let Some(bytes) = library.take_row_action(&mut self.session.view) {
            self.send(bytes);
        }
    }

    /// The selected rows become this session's rules, to answer as the device did (from the
    /// next bind). Why not, into the log.
    fn mock_selection(&mut self) {
        let source = t!("app.tab.udp").into_owned();
        if let Some(mock) = self.session.mock_of_selection(true, source, String::new()) {
            self.rules.adopt_mock(&mut self.settings.rules, mock, "");
        }
    }

    fn bind_ui(&mut self, ui: &mut Ui) {
        ui.add_space(4.0);
        let editable = !self.active();
        // One row that does not wrap: the address, the port and the button beside them (a
        // disabled scope in a wrapping row would take the whole row and push the button below).
        ui.horizontal(|ui| {
            let interfaces = self.interfaces.addresses();
            ui.add_enabled_ui(editable, |ui| {
                if bind_picker(
                    ui,
                    &t!("udp.bind.local_address"),
                    &mut self.settings.bind,
                    &interfaces,
                ) {
                    self.bind_error = None;
                }
                if labelled_hint(
                    ui,
                    &t!("udp.bind.address"),
                    &mut self.settings.bind,
                    130.0,
                    &t!("hint.bind_address"),
                )
                .changed()
                {
                    self.bind_error = None;
                }
                if labelled_hint(
                    ui,
                    &t!("udp.bind.local_port"),
                    &mut self.settings.port,
                    60.0,
                    &t!("hint.local_port"),
                )
                .changed()
                {
                    self.port_error = None;
                }
            });
            if self.session.restart_ui(ui) {
                // No worker: the button above restarts it.
            } else if self.active() {
                if ui.button(t!("udp.bind.close")).clicked() {
                    self.close();
                }
            } else if ui.button(t!("udp.bind.bind")).clicked() {
                self.bind();
            }
        });
        if let Some(e) = &self.bind_error {
            error_text(ui, &t!("udp.bind.address_error", error = e));
        }
        if let Some(e) = &self.port_error {
            error_text(ui, &t!("udp.bind.port_error", error = e));
        }
        let (tone, headline, explanation) = match &self.status {
            UdpStatus::Closed => (
                Tone::Neutral,
                t!("udp.status.closed").into_owned(),
                t!("udp.status.closed_hint").into_owned(),
            ),
            UdpStatus::Binding => (
                Tone::Neutral,
                t!("udp.status.binding").into_owned(),
                String::new(),
            ),
            UdpStatus::Bound(local) => (
                Tone::Ok,
                t!("udp.bound", local = local).into_owned(),
                t!("udp.status.bound_hint", port = local.port()).into_owned(),
            ),
            UdpStatus::Failed(e) => (
                Tone::Error,
                t!("udp.status.failed", error = e).into_owned(),
                e.explanation(),
            ),
        };
        if !self.session.failure_ui(ui, "UDP") {
            status_line(ui, tone, &headline, &explanation);
        }
        if self.bound().is_none() && self.stats == UdpStats::default() {
            return;
        }
        let s = self.stats;
        let kernel = s.dropped_by_kernel.map_or_else(
            || t!("udp.stats.kernel_unknown").into_owned(),
            |d| d.to_string(),
        );
        let drops = s.dropped_by_app + s.dropped_by_kernel.unwrap_or(0) + s.unsent;
        // Replies that found the send queue full, or what waited when the session closed.
        let unsent = if s.unsent > 0 {
            t!("udp.stats.unsent", n = s.unsent).into_owned()
        } else {
            String::new()
        };
        let text = t!(
            "udp.stats.line",
            received = s.received,
            sent = s.sent,
            app = s.dropped_by_app,
            kernel = kernel,
            unsent = unsent
        );
        let color = if drops > 0 {
            ERROR_COLOR
        } else {
            ui.visuals().weak_text_color()
        };
        ui.label(RichText::new(text).color(color));
    }

    /// Multicast, folded under its header (which counts the groups joined) so a small window
    /// keeps room for the log.
    fn multicast_ui(&mut self, ui: &mut Ui) {
        let heading = if self.memberships.is_empty() {
            t!("udp.multicast.heading")
        } else {
            t!("udp.multicast.heading_joined", n = self.memberships.len())
        };
        egui::CollapsingHeader::new(RichText::new(heading).strong())
            .id_salt("udp-multicast")
            .default_open(false)
            .show(ui, |ui| self.multicast_body_ui(ui));
    }

    fn multicast_body_ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            if labelled_hint(
                ui,
                &t!("udp.multicast.group"),
                &mut self.settings.group,
                150.0,
                &t!("hint.group"),
            )
            .changed()
            {
                self.group_error = None;
            }
            let current = if self.settings.multicast_interface.is_empty() {
                t!("udp.multicast.system_default").into_owned()
            } else {
                self.settings.multicast_interface.clone()
            };
            let before = self.settings.multicast_interface.clone();
            crate::gui::widgets::label_first(ui, t!("udp.multicast.interface"))
                .selected_text(current)
                .show_ui(ui, |ui| {
                    ui.selectable_value(
                        &mut self.settings.multicast_interface,
                        String::new(),
                        t!("udp.multicast.system_default"),
                    );
                    let names: Vec<(String, String)> = self
                        .interfaces
                        .all()
                        .iter()
                        .map(|i| {
                            let addr =
                                i.v4.first()
                                    .map(|v| v.addr.to_string())
                                    .or_else(|| i.v6.first().map(ToString::to_string))
                                    .unwrap_or_default();
                            (i.name.clone(), format!("{} {addr}", i.name))
                        })
                        .collect();
                    for (name, label) in names {
                        ui.selectable_value(&mut self.settings.multicast_interface, name, label);
                    }
                });
            let bound = self.bound().is_some();
            if ui
                .add_enabled(bound, egui::Button::new(t!("udp.multicast.join")))
                .on_disabled_hover_text(t!("disabled.join"))
                .clicked()
            {
                self.join();
            }
            let ttl = labelled_drag(
                ui,
                &t!("udp.multicast.ttl"),
                &mut self.settings.multicast_ttl,
                0..=255,
            );
            let lo = ui
                .checkbox(
                    &mut self.settings.multicast_loop,
                    t!("udp.multicast.loopback"),
                )
                .on_hover_text(t!("udp.multicast.loopback_hover"));
            if bound
                && (ttl.changed() || lo.changed() || before != self.settings.multicast_interface)
            {
                self.apply_multicast_settings();
            }
        });
        if let Some(e) = &self.group_error {
            error_text(ui, &t!("udp.multicast.error", error = e));
        }
        if !self.memberships.is_empty() {
            let mut leave = None;
            ui.horizontal_wrapped(|ui| {
                ui.label(t!("udp.multicast.joined"));
                for m in &self.memberships {
                    ui.label(RichText::new(m.to_string()).monospace());
                    if ui
                        .small_button(t!("udp.multicast.leave", group = m.group))
                        .clicked()
                    {
                        leave = Some(m.clone());
                    }
                }
            });
            if let Some(m) = leave {
                self.leave(m);
            }
        }
    }

    fn destination_ui(&mut self, ui: &mut Ui) {
        ui.horizontal_wrapped(|ui| {
            if labelled_hint(
                ui,
                &t!("udp.destination.remote_host"),
                &mut self.settings.remote_host,
                200.0,
                &t!("hint.host"),
            )
            .changed()
            {
                self.remote_error = None;
            }
            if labelled_hint(
                ui,
                &t!("udp.destination.remote_port"),
                &mut self.settings.remote_port,
                60.0,
                &t!("hint.remote_port"),
            )
            .changed()
            {
                self.remote_error = None;
            }
            let sender = self.selected_sender();
            let hint = if let Some(p) = sender {
                t!("udp.destination.reply_hover", peer = p)
            } else {
                t!("udp.destination.select_first")
            };
            if ui
                .add_enabled(
                    sender.is_some(),
                    egui::Button::new(t!("udp.destination.reply")),
                )
                .on_hover_text(hint)
                .on_disabled_hover_text(t!("udp.destination.select_first"))
                .clicked()
            {
                self.reply_to_selected();
            }
        });
        let error = self
            .remote_error
            .as_ref()
            .map(|e| t!("udp.destination.error", error = e).into_owned());
        error_slot(ui, error.as_deref());
    }
}

impl crate::gui::sessions::SessionTab for UdpTab {
    type Settings = UdpSettings;
    fn noun() -> std::borrow::Cow<'static, str> {
        "UDP".into()
    }
    const ID: &'static str = "udp";

    fn open(settings: UdpSettings, wake: Wake) -> Self {
        Self::new(settings, wake)
    }

    fn settings_to_save(&self) -> UdpSettings {
        self.settings_to_save()
    }

    fn drain_events(&mut self) -> bool {
        self.drain_events()
    }

    fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel) {
        self.ui(ui, id, library);
    }

    fn busy(&self) -> Option<String> {
        self.busy()
    }

    fn report(&self) -> serde_json::Map<String, serde_json::Value> {
        self.report()
    }
}
