//! The auto-reply rules of a traffic session: a list the user edits (match, reply, delay,
//! peer, on/off), first match or every match, Import/Export as the JSON file the CLI's
//! `--rules` reads, and each rule's hit count while the session runs. The rules run in the
//! worker ([`RuleSet`]); this only holds the text and shows the counts.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use egui::{RichText, Ui};
use rust_i18n::t;

use crate::capture::Transport;
use crate::codec::TextEncoding;
use crate::engine::session::rules::{
    MAX_DELAY_MS, MAX_RULES, RuleError, RuleHits, RuleSet, RuleText, RulesFile,
};
use crate::engine::session::{PipelineSpec, mock};
use crate::gui::widgets::{error_text, labelled_drag, labelled_hint};
use crate::settings::{Bounded, clamp_number, cut_fields, join};

impl Bounded for RulesFile {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        if self.rules.len() > MAX_RULES {
            notes.push(format!(
                "{}: {} rules, keeping the first {MAX_RULES}", // i18n-exempt: settings notes precede the saved language.
                join(path, "rules"),
                self.rules.len()
            ));
            self.rules.truncate(MAX_RULES);
        }
        for (i, rule) in self.rules.iter_mut().enumerate() {
            let name = join(path, &format!("rules[{i}]"));
            clamp_number(
                &mut rule.delay_ms,
                &(0..=MAX_DELAY_MS),
                &join(&name, "delay_ms"),
                notes,
            );
            cut_fields(
                &name,
                &mut [
                    ("match", &mut rule.pattern),
                    ("reply", &mut rule.reply),
                    ("peer", &mut rule.peer),
                ],
                notes,
            );
        }
    }
}

/// What the rules row keeps while the window runs (not saved).
#[derive(Debug, Default)]
pub struct RulesEditor {
    /// The conversations "Mock a device from a capture…" reads (TCP on a TCP Server, UDP on
    /// a UDP session); `None` offers no mock (a client cannot answer as a device).
    mock_transport: Option<Transport>,
    /// The capture the next mock reads, instead of asking with a dialog (tests).
    pub next_mock_path: Option<PathBuf>,
    /// The running session's counters, one per rule as it was started.
    hits: Option<RuleHits>,
    /// Why the rules could not be used at the last start, or what Import/Export said.
    pub error: Option<String>,
    /// A file Import/Export worked on, said once.
    note: Option<String>,
    /// Unfold the list on the next frame (rules arrived from elsewhere, with their note).
    unfold: bool,
}

/// Rules made from rows a user selected in a session's log, on their way to the session that
/// will answer as the device.
#[derive(Debug, Clone)]
pub struct MockOfRows {
    pub plan: mock::MockPlan,
    /// How many rows were selected.
    pub rows: usize,
    /// The session they came from, in words ("TCP Client 127.0.0.1:502").
    pub source: String,
    /// The device's port (a server answering as it listens there).
    pub port: String,
}

impl RulesEditor {
    /// Replaces the rules with ones made from selected log rows, saying from where; `extra`
    /// is appended (what to do next).
    pub fn adopt_mock(&mut self, rules: &mut RulesFile, mock: MockOfRows, extra: &str) {
        let mut note = t!(
            "log_mock.made",
            rows = mock.rows,
            source = mock.source,
            note = mock.plan.note(false)
        )
        .into_owned();
        note.push_str(extra);
        self.note = Some(note);
        *rules = mock.plan.rules;
        self.error = None;
        self.unfold = true;
    }

    /// An editor that can make rules from a recording of `transport` conversations.
    pub fn mocking(transport: Transport) -> Self {
        Self {
            mock_transport: Some(transport),
            ..Self::default()
        }
    }

    /// Checks `rules` and puts them into `pipeline`; keeps their counters to show.
    pub fn apply(
        &mut self,
        rules: &RulesFile,
        encoding: TextEncoding,
        pipeline: &mut PipelineSpec,
    ) -> Result<(), RuleError> {
        self.hits = None;
        if rules.rules.is_empty() {
            return Ok(());
        }
        let set = Arc::new(RuleSet::build(rules, encoding)?);
        self.hits = Some(set.hits());
        set.install(pipeline);
        Ok(())
    }

    /// Hits of rule `index` in the running session.
    pub fn hits(&self, index: usize) -> Option<u64> {
        self.hits
            .as_ref()
            .and_then(|h| h.get(index))
            .map(|h| h.load(Ordering::Relaxed))
    }

    /// The rules list, collapsed under a header that counts them; `editable` is false while the
    /// session runs (changes apply from the next start).
    pub fn ui(&mut self, ui: &mut Ui, rules: &mut RulesFile, editable: bool) {
        let header = t!("rules.header", n = rules.rules.len());
        let mut header = egui::CollapsingHeader::new(header).id_salt("auto-reply-rules");
        if std::mem::take(&mut self.unfold) {
            header = header.open(Some(true));
        }
        header.show(ui, |ui| {
            ui.add_enabled_ui(editable, |ui| self.list_ui(ui, rules));
            if !editable {
                ui.label(RichText::new(t!("rules.stop_to_edit")).weak());
            }
        });
        if let Some(e) = &self.error {
            error_text(ui, &t!("rules.error", e = e));
        }
    }

    fn list_ui(&mut self, ui: &mut Ui, rules: &mut RulesFile) {
        let before = rules.clone();
        ui.horizontal(|ui| {
            ui.label(t!("rules.answer_with"));
            ui.selectable_value(&mut rules.every_match, false, t!("rules.first_match"));
            ui.selectable_value(&mut rules.every_match, true, t!("rules.every_match"));
        });
        ui.label(RichText::new(t!("rules.syntax")).weak());
        let mut remove = None;
        // Looked up once, not per rule and frame.
        let words = [
            t!("rules.rule"),
            t!("rules.match"),
            t!("rules.reply"),
            t!("rules.delay"),
            t!("rules.peer.label"),
            t!("rules.hits"),
            t!("rules.remove"),
        ];
        let peer_hover = t!("rules.peer.hover");
        let (match_hint, reply_hint, peer_hint) = (
            t!("rules.hint.match"),
            t!("rules.hint.reply"),
            t!("rules.hint.peer"),
        );
        let fill = |word: usize, n: &str| words[word].replace("%{n}", n);
        egui::ScrollArea::vertical()
            .id_salt("rules-list")
            .max_height(160.0)
            .show(ui, |ui| {
                for (i, rule) in rules.rules.iter_mut().enumerate() {
                    let n = (i + 1).to_string();
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut rule.enabled, fill(0, &n));
                        labelled_hint(ui, &fill(1, &n), &mut rule.pattern, 180.0, &match_hint);
                        labelled_hint(ui, &fill(2, &n), &mut rule.reply, 180.0, &reply_hint);
                        labelled_drag(ui, &fill(3, &n), &mut rule.delay_ms, 0..=MAX_DELAY_MS);
                        labelled_hint(ui, &fill(4, &n), &mut rule.peer, 120.0, &peer_hint)
                            .on_hover_text(peer_hover.as_ref());
                        if let Some(hits) = self.hits(i) {
                            ui.label(fill(5, &hits.to_string()));
                        }
                        if ui.button(fill(6, &n)).clicked() {
                            remove = Some(i);
                        }
                    });
                }
            });
        if let Some(i) = remove {
            rules.rules.remove(i);
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    rules.rules.len() < MAX_RULES,
                    egui::Button::new(t!("rules.add")),
                )
                .clicked()
            {
                rules.rules.push(RuleText {
                    pattern: "prefix:PING".to_owned(),
                    reply: "PONG\\r\\n".to_owned(),
                    ..RuleText::default()
                });
            }
            if ui.button(t!("rules.import")).clicked() {
                self.import(rules);
            }
            if ui.button(t!("rules.export")).clicked() {
                self.export(rules);
            }
            if let Some(transport) = self.mock_transport
                && ui
                    .button(t!("rules.mock.button"))
                    .on_hover_text(t!("rules.mock.hover"))
                    .clicked()
            {
                self.mock(rules, transport);
            }
        });
        if let Some(note) = &self.note {
            ui.label(RichText::new(note).weak());
        }
        if *rules != before {
            self.error = None;
        }
    }

    fn import(&mut self, rules: &mut RulesFile) {
        let Some(path) = rfd::FileDialog::new()
            .add_filter(t!("rules.filter"), &["json"])
            .pick_file()
        else {
            return;
        };
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<RulesFile>(&text).map_err(|e| e.to_string()))
        {
            Ok(file) => {
                self.note = Some(
                    t!(
                        "rules.imported",
                        n = file.rules.len(),
                        path = path.display()
                    )
                    .into_owned(),
                );
                *rules = file;
                self.error = None;
            }
            Err(e) => {
                self.error =
                    Some(t!("rules.read_error", path = path.display(), e = e).into_owned());
            }
        }
    }

    /// Replaces the rules with ones that answer as the device in a capture did.
    fn mock(&mut self, rules: &mut RulesFile, transport: Transport) {
        let path = self.next_mock_path.take().or_else(|| {
            rfd::FileDialog::new()
                .add_filter(t!("rules.mock.filter"), &["pcapng", "pcap"])
                .pick_file()
        });
        let Some(path) = path else {
            return;
        };
        let plan = crate::capture::open_capture(&path)
            .map_err(|e| e.to_string())
            .and_then(|opened| mock::from_capture(&opened.records, transport));
        match plan {
            Ok(plan) => {
                self.note = Some(
                    t!(
                        "rules.mock.made",
                        path = path.display(),
                        note = plan.note(false)
                    )
                    .into_owned(),
                );
                *rules = plan.rules;
                self.error = None;
            }
            Err(e) => {
                self.error =
                    Some(t!("rules.read_error", path = path.display(), e = e).into_owned());
            }
        }
    }

    fn export(&mut self, rules: &RulesFile) {
        let Some(path) = rfd::FileDialog::new()
            .add_filter(t!("rules.filter"), &["json"])
            .set_file_name("sockpit-rules.json")
            .save_file()
        else {
            return;
        };
        let written = serde_json::to_string_pretty(rules)
            .map_err(|e| e.to_string())
            .and_then(|text| std::fs::write(&path, text).map_err(|e| e.to_string()));
        match written {
            Ok(()) => {
                self.note = Some(
                    t!(
                        "rules.exported",
                        n = rules.rules.len(),
                        path = path.display()
                    )
                    .into_owned(),
                );
            }
            Err(e) => {
                self.error =
                    Some(t!("rules.write_error", path = path.display(), e = e).into_owned());
            }
        }
    }
}
