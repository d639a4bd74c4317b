//! The auto-reply rules of a traffic session: a list the user edits (match, reply, delay,
//! peer, on/off), first match or every match, Import/Export as the JSON file the CLI's
//! `--rules` reads, and each rule's hit count while the session runs. The rules run in the
//! worker ([`RuleSet`]); this only holds the text and shows the counts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use egui::{RichText, Ui};

use crate::codec::TextEncoding;
use crate::engine::session::PipelineSpec;
use crate::engine::session::rules::{
    MAX_DELAY_MS, MAX_RULES, RuleError, RuleHits, RuleSet, RuleText, RulesFile,
};
use crate::gui::widgets::{error_text, labelled_drag, labelled_text};
use crate::settings::{Bounded, clamp_number, cut_fields, join};

impl Bounded for RulesFile {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        if self.rules.len() > MAX_RULES {
            notes.push(format!(
                "{}: {} rules, keeping the first {MAX_RULES}",
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
    /// The running session's counters, one per rule as it was started.
    hits: Option<RuleHits>,
    /// Why the rules could not be used at the last start, or what Import/Export said.
    pub error: Option<String>,
    /// A file Import/Export worked on, said once.
    note: Option<String>,
}

impl RulesEditor {
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
        let header = format!("Auto-reply rules ({})", rules.rules.len());
        egui::CollapsingHeader::new(header)
            .id_salt("auto-reply-rules")
            .show(ui, |ui| {
                ui.add_enabled_ui(editable, |ui| self.list_ui(ui, rules));
                if !editable {
                    ui.label(
                        RichText::new("Rules apply from the next start; stop to edit them.").weak(),
                    );
                }
            });
        if let Some(e) = &self.error {
            error_text(ui, &format!("Rules: {e}"));
        }
    }

    fn list_ui(&mut self, ui: &mut Ui, rules: &mut RulesFile) {
        let before = rules.clone();
        ui.horizontal(|ui| {
            ui.label("Answer with");
            ui.selectable_value(&mut rules.every_match, false, "First match");
            ui.selectable_value(&mut rules.every_match, true, "Every match");
        });
        ui.label(
            RichText::new(
                "Match exact:TEXT, prefix:TEXT, contains:TEXT, regex:RE or hex:01 03 ?? ??; \
                 reply with text (\\r\\n, $0 the record, $1… captures) or hex:01 $1.",
            )
            .weak(),
        );
        let mut remove = None;
        egui::ScrollArea::vertical()
            .id_salt("rules-list")
            .max_height(160.0)
            .show(ui, |ui| {
                for (i, rule) in rules.rules.iter_mut().enumerate() {
                    let n = i + 1;
                    ui.horizontal(|ui| {
                        ui.checkbox(&mut rule.enabled, format!("Rule {n}"));
                        labelled_text(ui, &format!("Match {n}"), &mut rule.pattern, 180.0);
                        labelled_text(ui, &format!("Reply {n}"), &mut rule.reply, 180.0);
                        labelled_drag(
                            ui,
                            &format!("Delay {n} (ms)"),
                            &mut rule.delay_ms,
                            0..=MAX_DELAY_MS,
                        );
                        labelled_text(ui, &format!("Peer {n}"), &mut rule.peer, 120.0)
                            .on_hover_text("Empty: every peer. Else an IP (any port) or IP:PORT.");
                        if let Some(hits) = self.hits(i) {
                            ui.label(format!("{hits} hits"));
                        }
                        if ui.button(format!("Remove {n}")).clicked() {
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
                .add_enabled(rules.rules.len() < MAX_RULES, egui::Button::new("Add rule"))
                .clicked()
            {
                rules.rules.push(RuleText {
                    pattern: "prefix:PING".to_owned(),
                    reply: "PONG\\r\\n".to_owned(),
                    ..RuleText::default()
                });
            }
            if ui.button("Import rules…").clicked() {
                self.import(rules);
            }
            if ui.button("Export rules…").clicked() {
                self.export(rules);
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
            .add_filter("Rules (JSON)", &["json"])
            .pick_file()
        else {
            return;
        };
        match std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<RulesFile>(&text).map_err(|e| e.to_string()))
        {
            Ok(file) => {
                self.note = Some(format!(
                    "Imported {} rules from {}.",
                    file.rules.len(),
                    path.display()
                ));
                *rules = file;
                self.error = None;
            }
            Err(e) => self.error = Some(format!("{} could not be read: {e}", path.display())),
        }
    }

    fn export(&mut self, rules: &RulesFile) {
        let Some(path) = rfd::FileDialog::new()
            .add_filter("Rules (JSON)", &["json"])
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
                self.note = Some(format!(
                    "Exported {} rules to {} (sockpit … --rules reads it).",
                    rules.rules.len(),
                    path.display()
                ));
            }
            Err(e) => self.error = Some(format!("{} could not be written: {e}", path.display())),
        }
    }
}
