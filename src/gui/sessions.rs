//! Several sessions in one tab: a strip of named sessions above the tab's controls, each
//! session with its own worker, log, send box and settings. "+" (or Ctrl+T) opens another, a
//! double-click or the context menu renames one, × (or Ctrl+W) closes one — asking first when
//! it holds a connection, a listener or a bound socket. Closing drops the session, which stops
//! and joins its worker.
//!
//! The strip is generic: a tab's session only says what the strip needs ([`SessionTab`]).

use crate::gui::widgets::library::LibraryPanel;
use egui::{Id, Key, KeyboardShortcut, Modifiers, Ui};
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::engine::worker::Wake;
use crate::gui::widgets::ERROR_COLOR;
use crate::settings::{Bounded, TEXT_FIELD_MAX_BYTES, clamp_number, cut_text, join};

/// Most sessions one tab holds: each has a worker thread and a log of up to its history cap,
/// and a strip of more than this no longer fits a window's width.
pub const MAX_SESSIONS: usize = 32;

/// Longest session name kept, in characters: longer names make the strip unreadable.
pub const NAME_MAX_CHARS: usize = 40;

/// Opens a session in the visible tab.
pub const OPEN_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::T);
/// Closes the visible session (asking first when it is connected).
pub const CLOSE_SHORTCUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::W);

/// What the strip needs from one session of a tab.
pub trait SessionTab {
    type Settings: Clone + Default;
    /// Names new sessions: "Client 2", in the language shown.
    fn noun() -> std::borrow::Cow<'static, str>;
    /// Stem of the egui ids of this tab's panels: "tcp-client".
    const ID: &'static str;
    fn open(settings: Self::Settings, wake: Wake) -> Self;
    fn settings_to_save(&self) -> Self::Settings;
    /// Applies waiting worker events; true if more are waiting.
    fn drain_events(&mut self) -> bool;
    /// The session's controls and log; `id` is unique among all sessions.
    fn ui(&mut self, ui: &mut Ui, id: &str, library: &mut LibraryPanel);
    /// What closing would cut, as a sentence ("It is connected to 127.0.0.1:502."), or
    /// `None` when nothing is open.
    fn busy(&self) -> Option<String>;
    /// The session's figures for `sockpit gui --report`.
    fn report(&self) -> serde_json::Map<String, serde_json::Value>;
}

/// One saved session: its name and its settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, bound(deserialize = "S: Deserialize<'de> + Default"))]
pub struct SavedSession<S> {
    pub name: String,
    pub settings: S,
}

/// A tab's saved sessions, in strip order, and which one was shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, bound(deserialize = "S: Deserialize<'de> + Default"))]
pub struct SavedSessions<S> {
    pub selected: usize,
    pub sessions: Vec<SavedSession<S>>,
}

impl<S> Default for SavedSessions<S> {
    fn default() -> Self {
        Self {
            selected: 0,
            sessions: Vec::new(),
        }
    }
}

impl<S: Default> SavedSessions<S> {
    /// A file from before sessions saved one settings struct per tab: with no list saved, that
    /// struct (its defaults, when it was not saved either) becomes the one session.
    pub fn adopt(&mut self, old: &mut S) {
        if self.sessions.is_empty() {
            self.sessions.push(SavedSession {
                name: String::new(),
                settings: std::mem::take(old),
            });
            self.selected = 0;
        }
    }

    /// The first session's settings, made when there is none.
    pub fn first_mut(&mut self) -> &mut S {
        if self.sessions.is_empty() {
            self.sessions.push(SavedSession::default());
        }
        &mut self.sessions[0].settings
    }
}

impl<S: Bounded> Bounded for SavedSessions<S> {
    /// At most [`MAX_SESSIONS`], names cut to [`NAME_MAX_CHARS`], each session's settings
    /// within their own bounds, and the selection on a session that exists.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        let sessions = join(path, "sessions");
        if self.sessions.len() > MAX_SESSIONS {
            notes.push(format!(
                "{sessions}: {} sessions, more than the {MAX_SESSIONS} a tab holds; kept the first {MAX_SESSIONS}", // i18n-exempt: notes precede the saved language.
                self.sessions.len()
            ));
            self.sessions.truncate(MAX_SESSIONS);
        }
        for (i, session) in self.sessions.iter_mut().enumerate() {
            let at = format!("{sessions}[{i}]");
            cut_text(
                &mut session.name,
                TEXT_FIELD_MAX_BYTES,
                &join(&at, "name"),
                notes,
            );
            session.name = clean_name(&session.name);
            session.settings.bound(&join(&at, "settings"), notes);
        }
        let last = self.sessions.len().saturating_sub(1);
        clamp_number(
            &mut self.selected,
            &(0..=last),
            &join(path, "selected"),
            notes,
        );
    }
}

/// A name as the strip shows it: one line, trimmed, at most [`NAME_MAX_CHARS`] characters.
fn clean_name(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(NAME_MAX_CHARS)
        .collect()
}

struct Entry<T> {
    /// Stable while the session lives (names can repeat and indices shift on close).
    uid: u64,
    name: String,
    tab: T,
}

/// The rename in progress: which session, and the text typed so far.
struct Rename {
    uid: u64,
    text: String,
    /// Focus is asked for once, on the frame the field appears.
    focused: bool,
}

/// A tab's sessions, the one shown, and the strip's own state.
pub struct Sessions<T> {
    entries: Vec<Entry<T>>,
    selected: usize,
    wake: Wake,
    next_uid: u64,
    rename: Option<Rename>,
    /// The session whose close waits for the user's answer.
    confirm_close: Option<u64>,
    /// Why the last open or close was refused, until the next one succeeds.
    refusal: Option<String>,
}

impl<T: SessionTab> Sessions<T> {
    /// The saved sessions, each with its worker started; one default session when none was
    /// saved.
    pub fn from_saved(saved: SavedSessions<T::Settings>, wake: Wake) -> Self {
        let mut sessions = Self {
            entries: Vec::new(),
            selected: 0,
            wake,
            next_uid: 0,
            rename: None,
            confirm_close: None,
            refusal: None,
        };
        for s in saved.sessions.into_iter().take(MAX_SESSIONS) {
            sessions.push(clean_name(&s.name), s.settings);
        }
        if sessions.entries.is_empty() {
            sessions.push(String::new(), T::Settings::default());
        }
        sessions.selected = saved.selected.min(sessions.entries.len() - 1);
        sessions
    }

    /// What to save: every session's name and settings, in strip order.
    pub fn to_saved(&self) -> SavedSessions<T::Settings> {
        SavedSessions {
            selected: self.selected,
            sessions: self
                .entries
                .iter()
                .map(|e| SavedSession {
                    name: e.name.clone(),
                    settings: e.tab.settings_to_save(),
                })
                .collect(),
        }
    }

    fn push(&mut self, name: String, settings: T::Settings) {
        let name = if name.is_empty() {
            self.unused_name()
        } else {
            name
        };
        self.next_uid += 1;
        self.entries.push(Entry {
            uid: self.next_uid,
            name,
            tab: T::open(settings, self.wake.clone()),
        });
    }

    /// "Client N" for the smallest N no session is named after.
    fn unused_name(&self) -> String {
        // Among one more number than there are sessions, one is always free.
        let noun = T::noun();
        (1..=self.entries.len() + 1)
            .map(|n| format!("{noun} {n}"))
            .find(|name| self.entries.iter().all(|e| e.name != *name))
            .unwrap_or_else(|| noun.into_owned())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Always false: a tab keeps one session at least.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The index of the session shown.
    pub fn selected(&self) -> usize {
        self.selected
    }

    /// Shows session `index` (ignored when there is none).
    pub fn select(&mut self, index: usize) {
        if index < self.entries.len() {
            self.selected = index;
        }
    }

    /// The session shown.
    pub fn current(&self) -> &T {
        &self.entries[self.selected].tab
    }

    pub fn current_mut(&mut self) -> &mut T {
        &mut self.entries[self.selected].tab
    }

    pub fn get(&self, index: usize) -> Option<&T> {
        self.entries.get(index).map(|e| &e.tab)
    }

    pub fn get_mut(&mut self, index: usize) -> Option<&mut T> {
        self.entries.get_mut(index).map(|e| &mut e.tab)
    }

    pub fn name(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|e| e.name.as_str())
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().map(|e| &mut e.tab)
    }

    /// Every session's figures, named, in strip order (`sockpit gui --report`).
    pub fn report(&self) -> Vec<serde_json::Value> {
        self.entries
            .iter()
            .map(|e| {
                let mut m = e.tab.report();
                m.insert("tab".into(), serde_json::json!(T::ID));
                m.insert("name".into(), serde_json::json!(e.name));
                serde_json::Value::Object(m)
            })
            .collect()
    }

    /// Why the last open or close was refused, if it was.
    pub fn refusal(&self) -> Option<&str> {
        self.refusal.as_deref()
    }

    /// Opens a session with `settings` and shows it; refused (with a sentence in the strip)
    /// when the tab already holds [`MAX_SESSIONS`].
    pub fn open(&mut self, settings: T::Settings) -> Option<usize> {
        if self.entries.len() >= MAX_SESSIONS {
            self.refusal = Some(t!("sessions.not_opened", max = MAX_SESSIONS).into_owned());
            return None;
        }
        self.refusal = None;
        self.push(String::new(), settings);
        self.selected = self.entries.len() - 1;
        Some(self.selected)
    }

    /// Opens a session with default settings (the "+" button, Ctrl+T).
    pub fn open_new(&mut self) -> Option<usize> {
        self.open(T::Settings::default())
    }

    /// Closes session `index` at once: dropping it stops and joins its worker. The last
    /// session stays (with a sentence saying why).
    pub fn close(&mut self, index: usize) -> bool {
        if index >= self.entries.len() {
            return false;
        }
        if self.entries.len() == 1 {
            self.refusal = Some(t!("sessions.only_session").into_owned());
            return false;
        }
        self.refusal = None;
        let entry = self.entries.remove(index);
        if self.confirm_close == Some(entry.uid) {
            self.confirm_close = None;
        }
        if self.selected > index || self.selected >= self.entries.len() {
            self.selected = self.selected.saturating_sub(1);
        }
        drop(entry);
        true
    }

    /// Closes session `index`, or asks first when it holds something open.
    pub fn request_close(&mut self, index: usize) {
        let Some(entry) = self.entries.get(index) else {
            return;
        };
        if entry.tab.busy().is_some() && self.entries.len() > 1 {
            self.confirm_close = Some(entry.uid);
        } else {
            self.close(index);
        }
    }

    /// The session waiting for the user to confirm its close, if any.
    pub fn confirming(&self) -> Option<usize> {
        let uid = self.confirm_close?;
        self.entries.iter().position(|e| e.uid == uid)
    }

    /// Renames session `index`; a name that is empty once trimmed keeps the old one.
    pub fn rename(&mut self, index: usize, name: &str) {
        let name = clean_name(name);
        if let Some(entry) = self.entries.get_mut(index)
            && !name.is_empty()
        {
            entry.name = name;
        }
    }

    /// Applies every session's waiting events, shown or not, so nothing piles up.
    pub fn drain_events(&mut self) -> bool {
        let mut more = false;
        for entry in &mut self.entries {
            more |= entry.tab.drain_events();
        }
        more
    }

    /// The strip, then the session shown. Ctrl+T and Ctrl+W act here, so only on the tab
    /// the user sees.
    pub fn ui(&mut self, ui: &mut Ui, library: &mut LibraryPanel) {
        self.shortcuts(ui);
        egui::Panel::top(format!("{}-sessions", T::ID)).show(ui, |ui| {
            ui.add_space(3.0);
            self.strip_ui(ui);
            ui.add_space(1.0);
        });
        self.confirm_ui(ui);
        let entry = &mut self.entries[self.selected];
        let id = format!("{}-{}", T::ID, entry.uid);
        entry.tab.ui(ui, &id, library);
    }

    fn shortcuts(&mut self, ui: &Ui) {
        if self.confirm_close.is_some() {
            return;
        }
        let (open, close) = ui.input_mut(|i| {
            (
                i.consume_shortcut(&OPEN_SHORTCUT),
                i.consume_shortcut(&CLOSE_SHORTCUT),
            )
        });
        if open {
            self.open_new();
        }
        if close {
            self.request_close(self.selected);
        }
    }

    fn strip_ui(&mut self, ui: &mut Ui) {
        let mut select = None;
        let mut close = None;
        let mut start_rename = None;
        let only_one = self.entries.len() == 1;
        ui.horizontal_wrapped(|ui| {
            ui.label(t!("sessions.label"));
            let nothing_open = t!("sessions.nothing_open");
            for (i, entry) in self.entries.iter().enumerate() {
                if let Some(rename) = &mut self.rename
                    && rename.uid == entry.uid
                {
                    rename_ui(ui, rename);
                    continue;
                }
                let busy = entry.tab.busy();
                let label = ui
                    .selectable_label(i == self.selected, &entry.name)
                    .on_hover_text(busy.as_deref().unwrap_or(&nothing_open));
                if label.clicked() {
                    select = Some(i);
                }
                if label.double_clicked() {
                    start_rename = Some(i);
                }
                label.context_menu(|ui| {
                    if ui.button(t!("sessions.rename")).clicked() {
                        start_rename = Some(i);
                        ui.close();
                    }
                    if ui
                        .add_enabled(!only_one, egui::Button::new(t!("sessions.close")))
                        .clicked()
                    {
                        close = Some(i);
                        ui.close();
                    }
                });
                let name = &entry.name;
                let x = ui
                    .add_enabled(!only_one, egui::Button::new("×").small().frame(false))
                    .on_hover_text(t!("sessions.close_hover", name = name))
                    .on_disabled_hover_text(t!("sessions.keep_one"));
                x.widget_info(|| {
                    egui::WidgetInfo::labeled(
                        egui::Role::Button,
                        !only_one,
                        t!("sessions.close_named", name = name),
                    )
                });
                if x.clicked() {
                    close = Some(i);
                }
            }
            let plus = ui
                .add_enabled(self.entries.len() < MAX_SESSIONS, egui::Button::new("+"))
                .on_hover_text(t!("sessions.open_hover"))
                .on_disabled_hover_text(t!("sessions.at_most", max = MAX_SESSIONS));
            plus.widget_info(|| {
                egui::WidgetInfo::labeled(
                    egui::Role::Button,
                    self.entries.len() < MAX_SESSIONS,
                    t!("sessions.new_session"),
                )
            });
            if plus.clicked() {
                self.open_new();
            }
            if let Some(why) = &self.refusal {
                ui.label(egui::RichText::new(why).color(ERROR_COLOR));
            }
        });
        self.finish_rename(ui);
        if let Some(i) = select {
            self.select(i);
        }
        if let Some(i) = start_rename {
            self.rename = self.entries.get(i).map(|e| Rename {
                uid: e.uid,
                text: e.name.clone(),
                focused: false,
            });
        }
        if let Some(i) = close {
            self.request_close(i);
        }
    }

    /// Ends a rename on Enter or when the field loses focus (keeping the new name), or on
    /// Escape (keeping the old one).
    fn finish_rename(&mut self, ui: &Ui) {
        let Some(rename) = &self.rename else {
            return;
        };
        let field = Id::unique(("session-rename", rename.uid));
        let focused = ui.memory(|m| m.has_focus(field));
        if !rename.focused || focused {
            return;
        }
        let escaped = ui.input(|i| i.key_pressed(Key::Escape));
        if let Some(rename) = self.rename.take()
            && !escaped
            && let Some(index) = self.entries.iter().position(|e| e.uid == rename.uid)
        {
            self.rename(index, &rename.text);
        }
    }

    /// "Close NAME? It is connected to …" with Close session / Cancel.
    fn confirm_ui(&mut self, ui: &Ui) {
        let Some(index) = self.confirming() else {
            self.confirm_close = None;
            return;
        };
        let entry = &self.entries[index];
        let question = t!(
            "sessions.confirm.question",
            name = entry.name,
            busy = entry.tab.busy().unwrap_or_default()
        );
        let mut answer = None;
        let modal = egui::Modal::new(Id::unique((T::ID, "confirm-close"))).show(ui.ctx(), |ui| {
            ui.set_max_width(420.0);
            ui.label(egui::RichText::new(question).strong());
            ui.label(t!("sessions.confirm.explanation"));
            ui.add_space(6.0);
            ui.horizontal(|ui| {
                if ui.button(t!("sessions.confirm.close")).clicked() {
                    answer = Some(true);
                }
                if ui.button(t!("sessions.confirm.cancel")).clicked() {
                    answer = Some(false);
                }
            });
        });
        if modal.should_close() && answer.is_none() {
            answer = Some(false);
        }
        match answer {
            Some(true) => {
                self.confirm_close = None;
                self.close(index);
            }
            Some(false) => self.confirm_close = None,
            None => {}
        }
    }
}

/// The field a session's name is edited in, in place of its label.
fn rename_ui(ui: &mut Ui, rename: &mut Rename) {
    let field = Id::unique(("session-rename", rename.uid));
    let label = ui.label(t!("sessions.name"));
    let response = ui
        .add(
            egui::TextEdit::singleline(&mut rename.text)
                .id(field)
                .desired_width(120.0)
                .char_limit(NAME_MAX_CHARS),
        )
        .labelled_by(label.id);
    if !rename.focused {
        response.request_focus();
        rename.focused = true;
    }
}
