//! Timed and file sends under the send box: repeat the send box's payload every N ms (for a
//! count or until stopped), or send a file (picked, typed or dropped on the window). The
//! worker runs them; this row only says what to start and shows the job's progress.

use std::path::PathBuf;
use std::time::Duration;

use egui::{RichText, TextEdit, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::{Tone, labelled_hint};
use crate::codec::library::Library;
use crate::engine::session::JobSpec;
use crate::engine::session::job::{EVERY_MAX, JobKind, JobState, JobStatus, UDP_CHUNK_MAX};
use crate::engine::session::sequence::Sequence;
use crate::settings::cut_text;

/// Longest path kept in the settings.
const PATH_MAX_BYTES: usize = 4096;

/// What the user asked the row to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolAction {
    /// Repeat the send box's payload.
    Repeat { every: Duration, count: Option<u64> },
    /// Send a file: UDP in `chunk`-byte datagrams one every `every`.
    File {
        path: PathBuf,
        chunk: usize,
        every: Duration,
    },
    /// Run a sequence (parsed in the session's encoding).
    Sequence(Sequence),
    /// Stop the running job.
    Stop,
}

/// The row's fields, saved with the tab's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendTools {
    /// Milliseconds between repeats.
    pub every_ms: String,
    /// How many sends; empty repeats until stopped.
    pub count: String,
    pub file: String,
    /// UDP: bytes per datagram of a file.
    pub chunk: String,
    /// UDP: milliseconds between a file's datagrams.
    pub file_every_ms: String,
    /// A sequence's steps, one per line (see `engine::session::sequence`).
    pub sequence: String,
    #[serde(skip)]
    pub error: Option<String>,
    /// The steps of the sequence last run, to show which one is running.
    #[serde(skip)]
    ran_steps: Vec<String>,
    /// Whether the tools were unfolded in the last frame (folded, the header says more).
    #[serde(skip)]
    unfolded: bool,
}

impl Default for SendTools {
    fn default() -> Self {
        Self {
            every_ms: "1000".to_owned(),
            count: "10".to_owned(),
            file: String::new(),
            chunk: "1024".to_owned(),
            file_every_ms: "0".to_owned(),
            sequence: String::new(),
            error: None,
            ran_steps: Vec::new(),
            unfolded: false,
        }
    }
}

impl crate::settings::Bounded for SendTools {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        for (name, field) in [
            ("every_ms", &mut self.every_ms),
            ("count", &mut self.count),
            ("chunk", &mut self.chunk),
            ("file_every_ms", &mut self.file_every_ms),
        ] {
            cut_text(field, 32, &crate::settings::join(path, name), notes);
        }
        cut_text(
            &mut self.file,
            PATH_MAX_BYTES,
            &crate::settings::join(path, "file"),
            notes,
        );
        cut_text(
            &mut self.sequence,
            crate::settings::SEND_TEXT_MAX_BYTES,
            &crate::settings::join(path, "sequence"),
            notes,
        );
    }
}

/// Milliseconds typed into `field` (named `what` in the message): 0 (or 1) to 24 hours.
fn parse_every(text: &str, what: &str, min: u64) -> Result<Duration, String> {
    let max = EVERY_MAX.as_millis() as u64;
    match text.trim().parse::<u64>() {
        Ok(ms) if (min..=max).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(t!("send_tools.every_error", what = what, min = min, max = max).into_owned()),
    }
}

impl SendTools {
    /// What the repeat fields ask for, or a sentence saying what to fix.
    pub fn repeat(&self) -> Result<ToolAction, String> {
        let every = parse_every(&self.every_ms, &t!("send_tools.what.repeat_every"), 1)?;
        let count = match self.count.trim() {
            "" => None,
            t => match t.parse::<u64>() {
                Ok(n) if n >= 1 => Some(n),
                _ => {
                    return Err(t!("send_tools.times_error").into_owned());
                }
            },
        };
        Ok(ToolAction::Repeat { every, count })
    }

    /// What the file fields ask for, or a sentence saying what to fix. The file itself is
    /// opened by the worker, which says if it cannot be read.
    pub fn file(&self, udp: bool) -> Result<ToolAction, String> {
        let path = self.file.trim();
        if path.is_empty() {
            return Err(t!("send_tools.file_error").into_owned());
        }
        let (chunk, every) = if udp {
            let chunk = match self.chunk.trim().parse::<usize>() {
                Ok(n) if (1..=UDP_CHUNK_MAX).contains(&n) => n,
                _ => {
                    return Err(t!("send_tools.chunk_error", max = UDP_CHUNK_MAX).into_owned());
                }
            };
            (
                chunk,
                parse_every(&self.file_every_ms, &t!("send_tools.what.pace"), 0)?,
            )
        } else {
            (crate::engine::session::job::TCP_FILE_CHUNK, Duration::ZERO)
        };
        Ok(ToolAction::File {
            path: PathBuf::from(path),
            chunk,
            every,
        })
    }

    /// Draws the repeat and file rows and the running job's progress. `can_send` greys out
    /// the start buttons; `udp` adds the datagram size and pace of a file send.
    pub fn ui(
        &mut self,
        ui: &mut Ui,
        job: Option<&JobStatus>,
        can_send: bool,
        (udp, encoding, library): (bool, crate::codec::TextEncoding, &Library),
    ) -> Option<ToolAction> {
        let mut action = None;
        let running = job.filter(|j| j.is_running());
        let mut unfold = false;
        if let Some(path) = ui.ctx().input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .find(|p| !p.as_os_str().is_empty())
        }) {
            self.file = path.display().to_string();
            self.error = None;
            // Unfold, so the file dropped is seen where it will be sent from.
            unfold = true;
        }
        // Folded by default so a small window keeps its log; the header says how a job
        // stands (or what went wrong) while it is folded.
        let mut title = t!("send_tools.title").into_owned();
        if !self.unfolded {
            if let Some(e) = &self.error {
                title = format!("{title} — {e}");
            } else if let Some(status) = job {
                title = format!("{title} — {}", status.describe());
            }
        }
        let shown = egui::CollapsingHeader::new(title)
            .id_salt("send-tools")
            .default_open(false)
            .open(unfold.then_some(true))
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    let every = labelled_hint(
                        ui,
                        &t!("send_tools.every"),
                        &mut self.every_ms,
                        60.0,
                        &t!("hint.every_ms"),
                    );
                    let count = ui.label(t!("send_tools.times.label"));
                    let count = ui
                        .add(
                            TextEdit::singleline(&mut self.count)
                                .hint_text(t!("send_tools.times.hint"))
                                .desired_width(70.0),
                        )
                        .labelled_by(count.id);
                    if every.changed() || count.changed() {
                        self.error = None;
                    }
                    if running.is_some_and(|j| j.kind == JobKind::Repeat) {
                        if ui.button(t!("send_tools.stop_repeat")).clicked() {
                            action = Some(ToolAction::Stop);
                        }
                    } else if super::send_button(
                        ui,
                        egui::Button::new(t!("send_tools.start_repeat")),
                        can_send,
                    )
                    .clicked()
                    {
                        match self.repeat() {
                            Ok(a) => {
                                self.error = None;
                                action = Some(a);
                            }
                            Err(e) => self.error = Some(e),
                        }
                    }
                    ui.separator();
                    let file = labelled_hint(
                        ui,
                        &t!("send_tools.file"),
                        &mut self.file,
                        180.0,
                        &t!("send_tools.file_hint"),
                    );
                    if file.changed() {
                        self.error = None;
                    }
                    if ui.button(t!("send_tools.browse")).clicked()
                        && let Some(path) = rfd::FileDialog::new().pick_file()
                    {
                        self.file = path.display().to_string();
                        self.error = None;
                    }
                    if udp {
                        labelled_hint(
                            ui,
                            &t!("send_tools.chunk"),
                            &mut self.chunk,
                            50.0,
                            &t!("hint.chunk"),
                        );
                        labelled_hint(
                            ui,
                            &t!("send_tools.pace"),
                            &mut self.file_every_ms,
                            40.0,
                            &t!("hint.pace"),
                        );
                    }
                    if running.is_some_and(|j| j.kind == JobKind::File) {
                        if ui.button(t!("send_tools.cancel_file")).clicked() {
                            action = Some(ToolAction::Stop);
                        }
                    } else if super::send_button(
                        ui,
                        egui::Button::new(t!("send_tools.send_file")),
                        can_send,
                    )
                    .clicked()
                    {
                        match self.file(udp) {
                            Ok(a) => {
                                self.error = None;
                                action = Some(a);
                            }
                            Err(e) => self.error = Some(e),
                        }
                    }
                });
                egui::CollapsingHeader::new(t!("send_tools.sequence.title"))
                    .id_salt("sequence")
                    .show(ui, |ui| {
                        if let Some(a) =
                            self.sequence_ui(ui, running, can_send, (encoding, library))
                        {
                            action = Some(a);
                        }
                    });
                // The progress has a line of its own whether or not a job ran, so a job that starts
                // never moves the buttons above it.
                let row = egui::vec2(ui.available_width(), ui.spacing().interact_size.y);
                ui.allocate_ui_with_layout(
                    row,
                    egui::Layout::left_to_right(egui::Align::Center),
                    |ui| {
                        ui.set_min_size(row);
                        if let Some(status) = job {
                            job_line(ui, status);
                        }
                    },
                );
                super::error_slot(ui, self.error.as_deref());
            });
        self.unfolded = shown.body_returned.is_some();
        action
    }
}

impl SendTools {
    fn sequence_ui(
        &mut self,
        ui: &mut Ui,
        running: Option<&JobStatus>,
        can_send: bool,
        (encoding, library): (crate::codec::TextEncoding, &Library),
    ) -> Option<ToolAction> {
        let mut action = None;
        let packet = |name: &str| match library.find(name) {
            Some(p) => p.template(),
            None => Err(t!("send_tools.sequence.no_packet").into_owned()),
        };
        ui.horizontal(|ui| {
            let label = ui.label(t!("send_tools.sequence.steps"));
            let edit = ui
                .add(
                    TextEdit::multiline(&mut self.sequence)
                        .desired_rows(3)
                        .font(egui::TextStyle::Monospace)
                        .hint_text("send AT\\r\\n\nexpect 1000 text OK\nwait 100\nrepeat 3") // i18n-exempt: an example in the sequence language (its keywords are read as typed).
                        .desired_width((ui.available_width() - 240.0).max(200.0)),
                )
                .labelled_by(label.id);
            if edit.changed() {
                self.error = None;
            }
            ui.vertical(|ui| {
                if running.is_some_and(|j| j.kind == JobKind::Sequence) {
                    if ui.button(t!("send_tools.sequence.stop")).clicked() {
                        action = Some(ToolAction::Stop);
                    }
                } else if super::send_button(
                    ui,
                    egui::Button::new(t!("send_tools.sequence.run")),
                    can_send,
                )
                .clicked()
                {
                    match Sequence::parse_with(&self.sequence, encoding, &packet) {
                        Ok(sequence) => {
                            self.error = None;
                            self.ran_steps.clone_from(&sequence.lines);
                            action = Some(ToolAction::Sequence(sequence));
                        }
                        Err(e) => {
                            self.error = Some(t!("send_tools.sequence.error", e = e).into_owned());
                        }
                    }
                }
                ui.label(
                    RichText::new(t!("send_tools.sequence.syntax"))
                        .weak()
                        .small(),
                );
            });
        });
        // The steps of the last run, the current one marked.
        if !self.ran_steps.is_empty() {
            let current = running
                .filter(|j| j.kind == JobKind::Sequence)
                .and_then(|j| j.step.as_ref())
                .map(|(i, _)| *i);
            egui::ScrollArea::vertical()
                .id_salt("sequence-steps")
                .max_height(60.0)
                .show(ui, |ui| {
                    for (i, step) in self.ran_steps.iter().enumerate() {
                        let text = format!("{}. {step}", i + 1);
                        if current == Some(i) {
                            ui.label(
                                RichText::new(format!("> {text}"))
                                    .strong()
                                    .color(Tone::Wait.colour()),
                            );
                        } else {
                            ui.label(RichText::new(text).weak().monospace());
                        }
                    }
                });
        }
        action
    }
}

/// The job an action starts: a repeat of the send box's payload (its error goes to the send
/// box, and nothing starts), or a file. `None` for Stop.
pub fn job_spec(
    action: &ToolAction,
    send_box: &mut super::SendBox,
    encoding: crate::codec::TextEncoding,
) -> Option<JobSpec> {
    match action {
        ToolAction::Repeat { every, count } => match send_box.template(encoding) {
            Ok(t) if t.is_empty() => {
                send_box.error = Some(t!("send_tools.nothing_to_repeat").into_owned());
                None
            }
            Ok(t) => {
                send_box.error = None;
                Some(JobSpec::repeat(t, *every, *count))
            }
            Err(e) => {
                send_box.error = Some(e);
                None
            }
        },
        ToolAction::File { path, chunk, every } => Some(JobSpec::file(path, *chunk, *every)),
        ToolAction::Sequence(sequence) => Some(JobSpec::sequence(sequence.clone())),
        ToolAction::Stop => None,
    }
}

/// What the log says when a job ends: `None` while it runs.
pub fn end_note(status: &JobStatus) -> Option<(crate::traffic::Direction, String)> {
    use crate::traffic::Direction;
    match status.state {
        JobState::Running => None,
        JobState::Failed(_) => Some((Direction::Error, status.describe())),
        _ => Some((Direction::Info, status.describe())),
    }
}

/// The job's progress (a bar for a file), in the tone of how it stands.
fn job_line(ui: &mut Ui, status: &JobStatus) {
    let tone = match status.state {
        JobState::Running => Tone::Wait,
        JobState::Done => Tone::Ok,
        JobState::Stopped => Tone::Neutral,
        JobState::Failed(_) => Tone::Error,
    };
    if let (JobKind::File, Some(total)) = (status.kind, status.total_bytes)
        && total > 0
    {
        let done = status.bytes as f32 / total as f32;
        ui.add(
            egui::ProgressBar::new(done.min(1.0))
                .desired_width(120.0)
                .desired_height(ui.spacing().interact_size.y * 0.8),
        );
    }
    ui.add(egui::Label::new(RichText::new(status.describe()).color(tone.colour())).truncate());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_become_actions_or_sentences() {
        let mut t = SendTools::default();
        assert_eq!(
            t.repeat(),
            Ok(ToolAction::Repeat {
                every: Duration::from_secs(1),
                count: Some(10)
            })
        );
        t.count = String::new();
        assert!(matches!(
            t.repeat(),
            Ok(ToolAction::Repeat { count: None, .. })
        ));
        t.count = "0".to_owned();
        assert!(t.repeat().unwrap_err().contains("Times"));
        t.count = "3".to_owned();
        t.every_ms = "0".to_owned();
        assert!(t.repeat().unwrap_err().contains("from 1 to 86400000"));
        t.every_ms = "99999999999".to_owned();
        assert!(t.repeat().is_err());
        assert!(t.file(false).unwrap_err().contains("choose a file"));
        t.file = "/tmp/x.bin".to_owned();
        assert!(matches!(
            t.file(false),
            Ok(ToolAction::File { chunk: 262_144, .. })
        ));
        t.chunk = "70000".to_owned();
        assert!(t.file(true).unwrap_err().contains("Datagram bytes"));
        t.chunk = "512".to_owned();
        t.file_every_ms = "2".to_owned();
        assert_eq!(
            t.file(true),
            Ok(ToolAction::File {
                path: PathBuf::from("/tmp/x.bin"),
                chunk: 512,
                every: Duration::from_millis(2)
            })
        );
    }
}
