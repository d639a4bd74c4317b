//! A connection's TCP states as the kernel reports them, for learners: the timeline (each
//! state, when it was first seen, one line of why) beside a drawing of the three-way handshake
//! and the four-way close with the packets this connection has certainly exchanged lit. The
//! states come from the session's [`StateWatch`](crate::engine::tcp_states::StateWatch).

use egui::{Color32, RichText, Stroke, Ui, pos2, vec2};
use rust_i18n::t;

use crate::iptools::tcp_state::{Side, Step, TcpState, Timeline, why};

/// The drawing's colour for a packet that was exchanged.
const LIT: Color32 = Color32::from_rgb(0x46, 0xA7, 0x58);

/// The timeline's one-line summary: `SYN_SENT → ESTABLISHED → …` (and "closed" at the end).
pub fn summary(timeline: &Timeline) -> String {
    let mut text = timeline
        .seen
        .iter()
        .map(|s| s.state.name())
        .collect::<Vec<_>>()
        .join(" → ");
    if timeline.is_gone() {
        text.push_str(" → ");
        text.push_str(&t!("tcp_states.gone"));
    }
    text
}

/// The collapsible TCP-states section of a session. `timeline` is the connection shown (none
/// before the first connection); `empty` says what to do to get one.
pub fn states_ui(
    ui: &mut Ui,
    id: &str,
    timeline: Option<&Timeline>,
    error: Option<&str>,
    empty: &str,
) {
    let headline = match timeline {
        Some(t) if !t.seen.is_empty() => t!("tcp_states.heading_with", states = summary(t)),
        _ => t!("tcp_states.heading"),
    };
    egui::CollapsingHeader::new(headline)
        .id_salt(format!("{id}-tcp-states"))
        .default_open(false)
        .show(ui, |ui| {
            if let Some(e) = error {
                ui.label(RichText::new(e).color(crate::gui::widgets::ERROR_COLOR));
                return;
            }
            let Some(t) = timeline else {
                ui.label(RichText::new(empty).weak());
                return;
            };
            ui.horizontal_top(|ui| {
                ui.vertical(|ui| {
                    ui.set_max_width((ui.available_width() - 250.0).max(260.0));
                    timeline_ui(ui, t);
                });
                handshake_ui(ui, t.side, &t.steps());
            });
        });
}

fn timeline_ui(ui: &mut Ui, t: &Timeline) {
    ui.label(
        RichText::new(t!(
            "tcp_states.connection",
            local = t.local,
            remote = t.remote,
            side = side_word(t.side)
        ))
        .weak(),
    );
    if t.seen.is_empty() {
        ui.label(RichText::new(t!("tcp_states.not_yet")).weak());
    }
    let start = t.seen.first().map(|s| s.at);
    let current = t.current();
    for seen in &t.seen {
        let after = start.map_or(0.0, |s| seen.at.duration_since(s).as_secs_f64() * 1000.0);
        ui.horizontal_wrapped(|ui| {
            let name = RichText::new(seen.state.name()).monospace().strong();
            if current == Some(seen.state) {
                ui.label(name.color(LIT));
            } else {
                ui.label(name);
            }
            ui.label(RichText::new(format!("+{after:.0} ms")).weak());
        });
        ui.label(RichText::new(why(seen.state)).weak());
        ui.add_space(2.0);
    }
    if let Some(gone) = t.gone {
        let after = start.map_or(0.0, |s| gone.duration_since(s).as_secs_f64() * 1000.0);
        ui.label(RichText::new(t!("tcp_states.gone_after", ms = after : {:.0})).strong());
    } else if current == Some(TcpState::TimeWait) {
        ui.label(RichText::new(t!("tcp_states.time_wait_note")).weak());
    }
}

fn side_word(side: Side) -> std::borrow::Cow<'static, str> {
    match side {
        Side::Client => t!("tcp_states.side.client"),
        Side::Server => t!("tcp_states.side.server"),
    }
}

/// Two lifelines (client left, server right) and the seven packets of the handshake and the
/// close, the exchanged ones lit.
fn handshake_ui(ui: &mut Ui, side: Side, steps: &[Step; 7]) {
    let drawing = vec2(240.0, 36.0 + 17.0 * steps.len() as f32);
    let (rect, response) = ui.allocate_exact_size(drawing, egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let text_colour = ui.visuals().text_color();
    let dim = ui.visuals().weak_text_color();
    let font = egui::FontId::proportional(12.0);
    let mono = egui::FontId::monospace(11.0);
    let left = rect.left() + 40.0;
    let right = rect.right() - 40.0;
    let top = rect.top() + 24.0;
    let me = t!("tcp_states.this_side");
    let peer = t!("tcp_states.peer");
    let (left_name, right_name) = match side {
        Side::Client => (me.as_ref(), peer.as_ref()),
        Side::Server => (peer.as_ref(), me.as_ref()),
    };
    let client_label = format!("{} ({left_name})", t!("tcp_states.side.client"));
    let server_label = format!("{} ({right_name})", t!("tcp_states.side.server"));
    painter.text(
        pos2(left, rect.top() + 2.0),
        egui::Align2::CENTER_TOP,
        client_label,
        font.clone(),
        text_colour,
    );
    painter.text(
        pos2(right, rect.top() + 2.0),
        egui::Align2::CENTER_TOP,
        server_label,
        font,
        text_colour,
    );
    painter.line_segment(
        [pos2(left, top), pos2(left, rect.bottom() - 4.0)],
        Stroke::new(1.0, dim),
    );
    painter.line_segment(
        [pos2(right, top), pos2(right, rect.bottom() - 4.0)],
        Stroke::new(1.0, dim),
    );
    for (i, step) in steps.iter().enumerate() {
        let y = top + 12.0 + 17.0 * i as f32;
        let (from, to) = match step.from {
            Side::Client => (left, right),
            Side::Server => (right, left),
        };
        let colour = if step.happened { LIT } else { dim };
        let width = if step.happened { 2.0 } else { 1.0 };
        let start = pos2(from, y);
        let end = pos2(to, y + 5.0);
        let stroke = Stroke::new(width, colour);
        painter.line_segment([start, end], stroke);
        // A small head at the receiving end.
        let back = (start - end).normalized() * 8.0;
        let side = vec2(-back.y, back.x) * 0.45;
        painter.line_segment([end, end + back + side], stroke);
        painter.line_segment([end, end + back - side], stroke);
        painter.text(
            pos2(f32::midpoint(left, right), y - 1.0),
            egui::Align2::CENTER_BOTTOM,
            step.label,
            mono.clone(),
            colour,
        );
    }
    let lit: Vec<&str> = steps
        .iter()
        .filter(|s| s.happened)
        .map(|s| s.label)
        .collect();
    response.on_hover_text(t!(
        "tcp_states.drawing_hover",
        n = lit.len(),
        total = steps.len()
    ));
}

/// A session's TCP-states section: its watcher thread (started at the first connection), the
/// connection shown, and the drawing.
pub struct SessionStates {
    wake: crate::engine::worker::Wake,
    watch: Option<Result<crate::engine::tcp_states::StateWatch, String>>,
    next_key: u64,
    shown: Option<u64>,
}

impl SessionStates {
    pub fn new(wake: crate::engine::worker::Wake) -> Self {
        Self {
            wake,
            watch: None,
            next_key: 0,
            shown: None,
        }
    }

    /// Starts watching a connection; it becomes the one shown when `show`. Returns its key.
    pub fn watch(
        &mut self,
        local: std::net::SocketAddr,
        remote: std::net::SocketAddr,
        side: Side,
        show: bool,
    ) -> u64 {
        let key = self.next_key;
        self.next_key += 1;
        let wake = self.wake.clone();
        let watch = self.watch.get_or_insert_with(|| {
            crate::engine::tcp_states::StateWatch::start(wake).map_err(|e| e.to_string())
        });
        if let Ok(w) = watch {
            w.watch(key, local, remote, side);
        }
        if show {
            self.shown = Some(key);
        }
        key
    }

    /// Shows the connection watched under `key` (`None`: nothing).
    pub fn show(&mut self, key: Option<u64>) {
        self.shown = key;
    }

    /// The timeline of the connection shown, as last read.
    pub fn shown_timeline(&self) -> Option<Timeline> {
        let key = self.shown?;
        match &self.watch {
            Some(Ok(w)) => w.timeline(key),
            _ => None,
        }
    }

    pub fn ui(&self, ui: &mut Ui, id: &str, empty: &str) {
        let error = match &self.watch {
            Some(Err(e)) => Some(t!("tcp_states.no_watcher", error = e).into_owned()),
            Some(Ok(w)) => w.error(),
            None => None,
        };
        let timeline = self.shown_timeline();
        states_ui(ui, id, timeline.as_ref(), error.as_deref(), empty);
    }
}
