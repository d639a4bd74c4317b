//! A session's scripted responder in the window: the Rhai text the CLI's `--script` reads,
//! checked as it is typed (the error with its line under the text), loaded from and saved to
//! a file, and run in the worker as a pipeline stage from the next start. What the running
//! script prints, and why it stopped, go to the session's log and beside the box.
//! The script itself is engine code ([`crate::engine::session::script`]).

use std::collections::VecDeque;
use std::path::PathBuf;

use egui::{RichText, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::TextEncoding;
use crate::engine::session::PipelineSpec;
use crate::engine::session::script::{
    self, MAX_SOURCE_BYTES, Script, ScriptError, ScriptNotice, ScriptReports,
};
use crate::gui::widgets::{error_text, field_label};
use crate::settings::{Bounded, cut_text, join};
use crate::traffic::Direction;

/// Lines of the script's output kept beside the box (the log keeps them all).
pub const OUTPUT_LINES: usize = 50;
/// Notices taken from a running script per frame; the rest wait for the next frame.
const NOTICES_PER_FRAME: usize = 64;

/// What the tab saves of its script.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScriptSettings {
    /// Whether the next start runs the script.
    pub enabled: bool,
    pub source: String,
}

impl Bounded for ScriptSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        cut_text(
            &mut self.source,
            MAX_SOURCE_BYTES,
            &join(path, "source"),
            notes,
        );
    }
}

/// What the script box keeps while the window runs (not saved).
#[derive(Debug, Default)]
pub struct ScriptEditor {
    /// The running script's notices (none when no script runs).
    reports: Option<ScriptReports>,
    /// Notices the reports had dropped when last looked at.
    dropped_seen: u64,
    /// The newest lines the running script printed, oldest first.
    output: VecDeque<String>,
    /// Why the script stopped while its session ran.
    stopped: Option<String>,
    /// Why the script could not start, or what Load/Save said went wrong.
    pub error: Option<String>,
    /// The text last checked as typed and what the check said, so each frame need not
    /// compile it again.
    checked: Option<(String, Option<String>)>,
    /// A file Load/Save worked on, said once.
    note: Option<String>,
    /// The file the next Load reads or Save writes, instead of asking with a dialog (tests).
    pub next_path: Option<PathBuf>,
}

impl ScriptEditor {
    /// Compiles the script (when it is on and not empty) into `pipeline`, after the rules;
    /// keeps its reports to show what it says.
    pub fn apply(
        &mut self,
        settings: &ScriptSettings,
        encoding: TextEncoding,
        pipeline: &mut PipelineSpec,
    ) -> Result<(), ScriptError> {
        self.reports = None;
        self.stopped = None;
        self.dropped_seen = 0;
        if !settings.enabled || settings.source.trim().is_empty() {
            return Ok(());
        }
        let (script, reports) = Script::compile(&settings.source, encoding)?;
        script.install(pipeline);
        self.output.clear();
        self.reports = Some(reports);
        Ok(())
    }

    /// Whether a script runs in the current session.
    pub fn is_running(&self) -> bool {
        self.reports.is_some() && self.stopped.is_none()
    }

    /// Why the running script stopped, if it did.
    pub fn stopped(&self) -> Option<&str> {
        self.stopped.as_deref()
    }

    /// The lines the running script printed lately, oldest first.
    pub fn output(&self) -> impl Iterator<Item = &str> {
        self.output.iter().map(String::as_str)
    }

    /// What the running script said since the last call, as lines for the session's log:
    /// prints as information, a stop (with its line) and lost notices as errors.
    pub fn poll(&mut self) -> Vec<(Direction, String)> {
        let Some(reports) = &self.reports else {
            return Vec::new();
        };
        let mut lines = Vec::new();
        for notice in reports.take(NOTICES_PER_FRAME) {
            match notice {
                ScriptNotice::Printed { text } => {
                    if self.output.len() == OUTPUT_LINES {
                        self.output.pop_front();
                    }
                    self.output.push_back(text.clone());
                    lines.push((
                        Direction::Info,
                        t!("script_box.printed", text = text).into_owned(),
                    ));
                }
                ScriptNotice::Stopped { peer, error } => {
                    let text = match peer {
                        Some(peer) => {
                            t!("script_box.stopped_peer", peer = peer, e = error).into_owned()
                        }
                        None => t!("script_box.stopped", e = error).into_owned(),
                    };
                    self.stopped = Some(text.clone());
                    lines.push((Direction::Error, text));
                }
            }
        }
        let dropped = reports.dropped();
        if dropped > self.dropped_seen {
            lines.push((
                Direction::Error,
                t!("script_box.dropped", n = dropped - self.dropped_seen).into_owned(),
            ));
            self.dropped_seen = dropped;
        }
        lines
    }

    /// The script, collapsed under a header that says whether it runs; `editable` is false
    /// while the session runs (changes apply from the next start).
    pub fn ui(&mut self, ui: &mut Ui, settings: &mut ScriptSettings, editable: bool) {
        let state = if self.is_running() {
            t!("script_box.state.running")
        } else if self.stopped.is_some() {
            t!("script_box.state.stopped")
        } else if settings.enabled && !settings.source.trim().is_empty() {
            t!("script_box.state.on")
        } else {
            t!("script_box.state.off")
        };
        egui::CollapsingHeader::new(t!("script_box.header", state = state))
            .id_salt("script-box")
            .show(ui, |ui| {
                // The box sits above the log: its text areas take a share of the window's
                // height, so a small window keeps rows of the log in sight.
                let window_h = ui.ctx().content_rect().height();
                let text_h = (window_h * 0.18).clamp(70.0, 220.0);
                let body = |this: &mut Self, ui: &mut Ui, settings: &mut ScriptSettings| {
                    ui.add_enabled_ui(editable, |ui| this.editor_ui(ui, settings, text_h));
                    if !editable {
                        ui.label(RichText::new(t!("script_box.stop_to_edit")).weak());
                    }
                };
                if self.output.is_empty() || ui.available_width() < 700.0 {
                    body(self, ui, settings);
                    self.output_ui(ui, (window_h * 0.1).clamp(40.0, 100.0));
                } else {
                    // What the script prints beside its text, not below it.
                    ui.columns(2, |cols| {
                        body(self, &mut cols[0], settings);
                        self.output_ui(&mut cols[1], text_h);
                    });
                }
            });
        if let Some(e) = &self.error {
            error_text(ui, &t!("script_box.error", e = e));
        }
        if let Some(stopped) = &self.stopped {
            error_text(ui, stopped);
        }
    }

    /// The buttons and the text; `text_h`: the most height the text takes before it scrolls.
    fn editor_ui(&mut self, ui: &mut Ui, settings: &mut ScriptSettings, text_h: f32) {
        ui.horizontal_wrapped(|ui| {
            ui.checkbox(&mut settings.enabled, t!("script_box.enabled"))
                .on_hover_text(t!("script_box.enabled_hover"));
            if ui.button(t!("script_box.load")).clicked() {
                self.load(settings);
            }
            if ui
                .add_enabled(
                    !settings.source.is_empty(),
                    egui::Button::new(t!("script_box.save")),
                )
                .on_disabled_hover_text(t!("script_box.save_disabled"))
                .clicked()
            {
                self.save(settings);
            }
            if ui
                .add_enabled(
                    settings.source.trim().is_empty(),
                    egui::Button::new(t!("script_box.example")),
                )
                .on_disabled_hover_text(t!("script_box.example_disabled"))
                .clicked()
            {
                settings.source = t!("script_box.example_text").into_owned();
            }
        });
        // The language in one paragraph while the box is empty; on the label's hover after.
        if settings.source.trim().is_empty() {
            ui.label(RichText::new(t!("script_box.syntax")).weak());
        }
        let label = field_label(ui, &t!("script_box.label")).on_hover_text(t!("script_box.syntax"));
        let before = settings.source.len();
        let response = egui::ScrollArea::vertical()
            .id_salt("script-text")
            .max_height(text_h)
            .show(ui, |ui| {
                ui.add(
                    egui::TextEdit::multiline(&mut settings.source)
                        .code_editor()
                        .desired_rows(6)
                        .desired_width(f32::INFINITY)
                        .char_limit(MAX_SOURCE_BYTES)
                        .hint_text(t!("script_box.hint")),
                )
                .labelled_by(label.id)
            })
            .inner;
        if response.changed() || before != settings.source.len() {
            self.error = None;
        }
        if let Some(problem) = self.check(&settings.source) {
            error_text(ui, &problem);
        }
        if let Some(note) = &self.note {
            ui.label(RichText::new(note).weak());
        }
    }

    /// What is wrong with `source` as typed, checked once per change.
    fn check(&mut self, source: &str) -> Option<String> {
        if source.trim().is_empty() {
            return None;
        }
        match &self.checked {
            Some((text, problem)) if text == source => problem.clone(),
            _ => {
                let problem = script::check(source).err().map(|e| e.to_string());
                self.checked = Some((source.to_owned(), problem.clone()));
                problem
            }
        }
    }

    /// What the script printed, up to `max_h` high (it scrolls, newest at the bottom).
    fn output_ui(&self, ui: &mut Ui, max_h: f32) {
        if self.output.is_empty() {
            return;
        }
        ui.label(t!("script_box.output"));
        egui::ScrollArea::vertical()
            .id_salt("script-output")
            .max_height(max_h)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.output {
                    ui.label(RichText::new(line).monospace());
                }
            });
    }

    fn load(&mut self, settings: &mut ScriptSettings) {
        let path = self.next_path.take().or_else(|| {
            rfd::FileDialog::new()
                .add_filter(t!("script_box.filter"), &["rhai", "txt"])
                .pick_file()
        });
        let Some(path) = path else {
            return;
        };
        let read = std::fs::metadata(&path)
            .map_err(|e| e.to_string())
            .and_then(|meta| {
                if meta.len() > MAX_SOURCE_BYTES as u64 {
                    Err(t!(
                        "script_box.too_long",
                        bytes = meta.len(),
                        max = MAX_SOURCE_BYTES
                    )
                    .into_owned())
                } else {
                    std::fs::read_to_string(&path).map_err(|e| e.to_string())
                }
            });
        match read {
            Ok(text) => {
                settings.source = text;
                self.error = None;
                self.note = Some(t!("script_box.loaded", path = path.display()).into_owned());
            }
            Err(e) => {
                self.error =
                    Some(t!("script_box.read_error", path = path.display(), e = e).into_owned());
            }
        }
    }

    fn save(&mut self, settings: &ScriptSettings) {
        let path = self.next_path.take().or_else(|| {
            rfd::FileDialog::new()
                .add_filter(t!("script_box.filter"), &["rhai", "txt"])
                .set_file_name("sockpit-script.rhai")
                .save_file()
        });
        let Some(path) = path else {
            return;
        };
        match std::fs::write(&path, &settings.source) {
            Ok(()) => {
                self.error = None;
                self.note = Some(t!("script_box.saved", path = path.display()).into_owned());
            }
            Err(e) => {
                self.error =
                    Some(t!("script_box.write_error", path = path.display(), e = e).into_owned());
            }
        }
    }
}
