//! A session's live plot: bytes/s or packets/s received and sent over the last 1–10 minutes,
//! or one line per client (the TCP Server), from the session's [`TrafficHistory`].

use std::time::{Duration, Instant};

use egui::Ui;
use egui_plot::{HoverPosition, Legend, Line, Plot};
use rust_i18n::t;

use crate::traffic::format_bytes;
use crate::traffic::history::{Metric, TrafficHistory};

/// The windows a plot can span, in minutes.
pub const WINDOWS_MIN: [u64; 4] = [1, 2, 5, 10];

/// Whether and how the plot is shown.
#[derive(Debug, Clone)]
pub struct TrafficPlot {
    pub show: bool,
    pub window_min: u64,
    pub metric: Metric,
    /// One line per peer instead of in and out.
    pub per_peer: bool,
}

impl Default for TrafficPlot {
    fn default() -> Self {
        Self {
            show: false,
            window_min: 1,
            metric: Metric::Bytes,
            per_peer: false,
        }
    }
}

fn rate_text(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Bytes => format!("{}/s", format_bytes(v.max(0.0) as u64)),
        Metric::Packets => format!("{v:.0}/s"),
    }
}

impl TrafficPlot {
    /// The plot in a resizable panel at the bottom of the session; `peers` offers per-peer
    /// lines.
    pub fn panel_ui(&mut self, ui: &mut Ui, id: &str, history: &mut TrafficHistory, peers: bool) {
        if !self.show {
            return;
        }
        egui::Panel::bottom(format!("{id}-plot"))
            .resizable(true)
            .default_size(160.0)
            .show(ui, |ui| self.ui(ui, id, history, peers));
    }

    fn ui(&mut self, ui: &mut Ui, id: &str, history: &mut TrafficHistory, peers: bool) {
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(t!("plot.window"));
            egui::ComboBox::from_id_salt((id, "plot-window"))
                .selected_text(t!("plot.minutes", n = self.window_min))
                .show_ui(ui, |ui| {
                    for m in WINDOWS_MIN {
                        ui.selectable_value(&mut self.window_min, m, t!("plot.minutes", n = m));
                    }
                })
                .response
                .labelled_by(label.id);
            ui.selectable_value(&mut self.metric, Metric::Bytes, t!("plot.bytes"));
            if !(peers && self.per_peer) {
                ui.selectable_value(&mut self.metric, Metric::Packets, t!("plot.packets"));
            }
            if peers {
                ui.checkbox(&mut self.per_peer, t!("plot.per_client"));
                if history.peers_left_out() > 0 {
                    ui.label(
                        egui::RichText::new(t!("plot.left_out", n = history.peers_left_out()))
                            .weak(),
                    );
                }
            }
        });
        let now = Instant::now();
        let window = self.window_min * 60;
        let metric = if peers && self.per_peer {
            Metric::Bytes
        } else {
            self.metric
        };
        let plot = Plot::new((id, "traffic-plot"))
            .legend(Legend::default())
            .include_y(0.0)
            .include_x(-(window as f64))
            .include_x(0.0)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .x_axis_label(t!("plot.seconds_ago"))
            .x_axis_formatter(|mark, _| format!("{:.0}", (-mark.value).max(0.0) + 0.0))
            .y_axis_formatter(move |mark, _| rate_text(metric, mark.value))
            .label_formatter(move |hover| match hover {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => Some(
                    t!(
                        "plot.hover",
                        name = plot_name,
                        secs = -position.x : {:.0},
                        rate = rate_text(metric, position.y)
                    )
                    .into_owned(),
                ),
                HoverPosition::Elsewhere { .. } => None,
            });
        if peers && self.per_peer {
            let lines = history.peer_series(now, window);
            plot.show(ui, |plot_ui| {
                for (peer, points) in lines {
                    plot_ui.line(Line::new(peer.to_string(), points));
                }
            });
        } else {
            let (rx, tx) = history.series(now, window, metric);
            plot.show(ui, |plot_ui| {
                plot_ui.line(Line::new(t!("plot.received"), rx));
                plot_ui.line(Line::new(t!("plot.sent"), tx));
            });
        }
        // Whole seconds close on the clock, so the plot moves on even when nothing arrives.
        ui.ctx().request_repaint_after(Duration::from_secs(1));
    }
}
