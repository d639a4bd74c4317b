//! Saved state: read field by field (a bad field falls back to its default alone, at every
//! nesting level), kept within bounds, and eframe's state file repaired before the window
//! opens, with a backup of the file as it was whenever anything had to change.
//!
//! eframe keeps one RON file: a map from keys to strings, each string itself RON (`"egui"`
//! for egui's memory, `"window"` for the window geometry, ours for [`crate::gui::app::Settings`]).
//! eframe reads the whole file or nothing, and each value whole or not at all, so a single
//! bad byte would otherwise reset everything and be overwritten at the next exit.

pub mod shape;

use std::borrow::Cow;
use std::fmt::{Display, Write as _};
use std::io::Write as _;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use rust_i18n::t;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::gui::app::{STORAGE_KEY, Settings};
use shape::{Shape, byte_offset, close_cut_short, scan};

/// Most entries dropped from one text before giving up on it: each RON error costs one
/// parse of the text, and a file with more broken entries than this is not worth salvaging.
const MAX_REPAIRS: usize = 256;

/// Longest saved text in a short field (host, port, filter, address list): far above any
/// real value, small enough that a corrupted file cannot make the window lay out megabytes.
pub const TEXT_FIELD_MAX_BYTES: usize = 4 * 1024;

/// Longest saved send-box text (and history entry): a 20 KiB payload as spaced hex.
pub const SEND_TEXT_MAX_BYTES: usize = 64 * 1024;

/// Zoom factors kept from egui's memory: the range egui's own zoom keys allow. A saved 0 or
/// 1000 makes winit panic before the first frame.
pub const ZOOM_RANGE: RangeInclusive<f32> = 0.2..=5.0;

/// eframe's keys in the state file.
const EGUI_KEY: &str = "egui";
const WINDOW_KEY: &str = "window";

/// Most notes listed in the window's notice; the rest are counted.
const NOTICE_LINES: usize = 8;

/// Saved settings clamp what is out of range and cut what is too long, once, on load.
pub trait Bounded {
    /// Brings every field within bounds; each change is described in `notes`, named by
    /// `path` (e.g. `tcp_client`) and the field.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>);
}

impl Bounded for crate::gui::widgets::traffic_view::ViewSettings {
    /// The range the history cap's drag value offers.
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        clamp_number(
            &mut self.cap_mib,
            &(1..=16_384),
            &join(path, "cap_mib"),
            notes,
        );
        self.protocol.bound(&join(path, "protocol"), notes);
    }
}

/// `path.field`, or `field` at the top.
pub fn join(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_owned()
    } else {
        format!("{path}.{field}")
    }
}

/// The language notes are written in: the environment's, since they are written while the
/// settings load, before the saved language is known.
fn note_locale() -> &'static str {
    crate::i18n::Language::from_environment().code()
}

/// Clamps `value` into `range`, noting the change.
pub fn clamp_number<T: PartialOrd + Copy + Display>(
    value: &mut T,
    range: &RangeInclusive<T>,
    name: &str,
    notes: &mut Vec<String>,
) {
    let clamped = if *value < *range.start() {
        *range.start()
    } else if *value > *range.end() {
        *range.end()
    } else {
        return;
    };
    notes.push(
        t!(
            "settings.note.clamped",
            locale = note_locale(),
            name = name,
            value = *value,
            min = range.start(),
            max = range.end(),
            clamped = clamped
        )
        .into_owned(),
    );
    *value = clamped;
}

/// Cuts `text` to at most `max_bytes` (on a character boundary), noting the cut.
pub fn cut_text(text: &mut String, max_bytes: usize, name: &str, notes: &mut Vec<String>) {
    if text.len() <= max_bytes {
        return;
    }
    let len = text.len();
    text.truncate(text.floor_char_boundary(max_bytes));
    notes.push(
        t!(
            "settings.note.cut",
            locale = note_locale(),
            name = name,
            len = len,
            max = max_bytes,
            kept = text.len()
        )
        .into_owned(),
    );
}

/// Cuts each short text field to [`TEXT_FIELD_MAX_BYTES`].
pub fn cut_fields(path: &str, fields: &mut [(&str, &mut String)], notes: &mut Vec<String>) {
    for (name, text) in fields {
        cut_text(text, TEXT_FIELD_MAX_BYTES, &join(path, name), notes);
    }
}

/// Reads a `T` from RON, dropping each entry RON rejects so that it alone takes its default
/// (every saved struct has `#[serde(default)]`). Each drop is described in `notes` by the
/// entry's path, and `what` names the whole text in notes about all of it; a text
/// cut short keeps its whole entries. `keep_open_string` keeps a string that was cut off
/// (for eframe's outer map, whose strings hold everything else).
pub fn from_ron_lenient<T: DeserializeOwned + Default>(
    text: &str,
    what: &str,
    keep_open_string: bool,
    notes: &mut Vec<String>,
) -> T {
    let mut text = Cow::Borrowed(text);
    if let Some(closed) = close_cut_short(&text, &scan(&text), keep_open_string) {
        notes.push(
            t!(
                "settings.note.stops_short",
                locale = note_locale(),
                what = what
            )
            .into_owned(),
        );
        text = Cow::Owned(closed);
    }
    for _ in 0..MAX_REPAIRS {
        let error = match ron::from_str::<T>(&text) {
            Ok(value) => return value,
            Err(error) => error,
        };
        let at = byte_offset(&text, error.span.start.line, error.span.start.col);
        let shape = scan(&text);
        let Some(entry) = shape.innermost_at(at) else {
            break;
        };
        let name = shape.path_of(&text, entry);
        let note = if entry.key.is_some() {
            "settings.note.entry_default"
        } else {
            "settings.note.entry_dropped"
        };
        notes.push(
            t!(
                note,
                locale = note_locale(),
                name = name,
                error = error.code
            )
            .into_owned(),
        );
        let mut owned = text.into_owned();
        owned.replace_range(Shape::removal(entry), "");
        text = Cow::Owned(owned);
    }
    notes.push(
        t!(
            "settings.note.unreadable",
            locale = note_locale(),
            what = what
        )
        .into_owned(),
    );
    T::default()
}

/// What [`repair_state_file`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Repair {
    /// The file as it was, kept beside it.
    pub backup: Option<PathBuf>,
    /// One sentence per thing that was dropped, clamped or cut.
    pub notes: Vec<String>,
}

impl Repair {
    /// The sentence the window shows once, or `None` when everything was read as saved.
    pub fn notice(&self) -> Option<String> {
        if self.notes.is_empty() {
            return None;
        }
        let locale = note_locale();
        let mut text = t!("settings.notice.heading", locale = locale).into_owned();
        for note in self.notes.iter().take(NOTICE_LINES) {
            text.push_str("\n• ");
            text.push_str(note);
        }
        if self.notes.len() > NOTICE_LINES {
            let more = self.notes.len() - NOTICE_LINES;
            let _ = write!(
                text,
                "\n• {}",
                t!("settings.notice.more", locale = locale, n = more)
            );
        }
        let _ = match &self.backup {
            Some(backup) => write!(
                text,
                "\n{}",
                t!(
                    "settings.notice.backup",
                    locale = locale,
                    file = backup.display()
                )
            ),
            None => write!(
                text,
                "\n{}",
                t!("settings.notice.no_backup", locale = locale)
            ),
        };
        Some(text)
    }
}

/// Reads eframe's state file at `path`, repairs what cannot be used (per field for our
/// settings; a zoom factor out of range; window geometry that no screen has), and, if
/// anything changed, keeps the original bytes in a backup beside it and writes the repaired
/// file in eframe's format. A missing file is left alone.
pub fn repair_state_file(path: &Path) -> Repair {
    let mut repair = Repair::default();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return repair,
        Err(e) => {
            repair.notes.push(
                t!(
                    "settings.note.unreadable_file",
                    locale = note_locale(),
                    file = path.display(),
                    error = e
                )
                .into_owned(),
            );
            return repair;
        }
    };
    let kv = repair_state_text(&bytes, &mut repair.notes);
    if repair.notes.is_empty() {
        return repair;
    }
    match keep_backup(path, &bytes) {
        Ok(backup) => repair.backup = Some(backup),
        Err(e) => {
            repair.notes.push(
                t!(
                    "settings.note.backup_failed",
                    locale = note_locale(),
                    file = path.display(),
                    error = e
                )
                .into_owned(),
            );
            // Without a backup the file stays as it is on disk until eframe saves over it.
            return repair;
        }
    }
    if let Err(e) = write_state_file(path, &kv) {
        repair.notes.push(
            t!(
                "settings.note.write_failed",
                locale = note_locale(),
                file = path.display(),
                error = e
            )
            .into_owned(),
        );
    }
    repair
}

/// The repaired key–value map of a state file's bytes; every change is noted.
pub fn repair_state_text(
    bytes: &[u8],
    notes: &mut Vec<String>,
) -> std::collections::HashMap<String, String> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(e) => {
            notes.push(
                t!(
                    "settings.note.not_utf8",
                    locale = note_locale(),
                    offset = e.valid_up_to()
                )
                .into_owned(),
            );
            String::from_utf8_lossy(bytes)
        }
    };
    let mut kv: std::collections::HashMap<String, String> = from_ron_lenient(
        &text,
        &t!("settings.note.the_file", locale = note_locale()),
        true,
        notes,
    );
    if let Some(saved) = kv.get(STORAGE_KEY) {
        let before = notes.len();
        let settings = Settings::from_ron(saved, notes);
        if notes.len() > before {
            store(&mut kv, STORAGE_KEY, &settings, notes);
        }
    }
    if let Some(memory) = kv.get(EGUI_KEY)
        && let Ok(mut memory) = ron::from_str::<egui::Memory>(memory)
        && bound_zoom(&mut memory.options.zoom_factor, notes)
    {
        store(&mut kv, EGUI_KEY, &memory, notes);
    }
    if let Some(window) = kv.get(WINDOW_KEY)
        && let Err(why) = check_window(window)
    {
        notes.push(t!("settings.note.window", locale = note_locale(), why = why).into_owned());
        kv.remove(WINDOW_KEY);
    }
    kv
}

/// Encodes `value` as eframe's `set_value` does.
fn store<T: Serialize>(
    kv: &mut std::collections::HashMap<String, String>,
    key: &str,
    value: &T,
    notes: &mut Vec<String>,
) {
    match ron::ser::to_string(value) {
        Ok(text) => {
            kv.insert(key.to_owned(), text);
        }
        Err(e) => {
            notes.push(
                t!(
                    "settings.note.not_encoded",
                    locale = note_locale(),
                    key = key,
                    error = e
                )
                .into_owned(),
            );
            kv.remove(key);
        }
    }
}

/// Clamps a zoom factor into [`ZOOM_RANGE`] (1 when it is not a number). True if changed.
pub fn bound_zoom(zoom: &mut f32, notes: &mut Vec<String>) -> bool {
    let fixed = if zoom.is_finite() {
        zoom.clamp(*ZOOM_RANGE.start(), *ZOOM_RANGE.end())
    } else {
        1.0
    };
    if fixed.to_bits() == zoom.to_bits() {
        return false;
    }
    notes.push(
        t!(
            "settings.note.zoom",
            locale = note_locale(),
            zoom = zoom,
            min = ZOOM_RANGE.start(),
            max = ZOOM_RANGE.end(),
            fixed = fixed
        )
        .into_owned(),
    );
    *zoom = fixed;
    true
}

/// The parts of eframe's saved window geometry that can break window creation.
#[derive(serde::Deserialize)]
struct SavedWindow {
    normal_geometry: SavedGeometry,
}

#[derive(serde::Deserialize)]
struct SavedGeometry {
    outer_position_pixels: Option<SavedVec>,
    scale_factor: f32,
    inner_size_points: SavedVec,
}

#[derive(serde::Deserialize)]
struct SavedVec {
    x: f32,
    y: f32,
}

/// Largest window side kept, in points or pixels: beyond any screen made.
const WINDOW_SIDE_MAX: f32 = 65_536.0;

/// Whether saved window geometry is something a screen can show. Text eframe cannot read
/// is fine here: eframe ignores it.
fn check_window(text: &str) -> Result<(), String> {
    let Ok(saved) = ron::from_str::<SavedWindow>(text) else {
        return Ok(());
    };
    let g = saved.normal_geometry;
    if !(g.scale_factor.is_finite() && (0.1..=10.0).contains(&g.scale_factor)) {
        return Err(t!(
            "settings.window.scale",
            locale = note_locale(),
            scale = g.scale_factor
        )
        .into_owned());
    }
    let size = g.inner_size_points;
    let side_ok = |v: f32| v.is_finite() && (1.0..=WINDOW_SIDE_MAX).contains(&v);
    if !(side_ok(size.x) && side_ok(size.y)) {
        return Err(t!(
            "settings.window.size",
            locale = note_locale(),
            x = size.x,
            y = size.y
        )
        .into_owned());
    }
    if let Some(pos) = g.outer_position_pixels {
        let ok = |v: f32| v.is_finite() && v.abs() <= WINDOW_SIDE_MAX * 4.0;
        if !(ok(pos.x) && ok(pos.y)) {
            return Err(t!(
                "settings.window.position",
                locale = note_locale(),
                x = pos.x,
                y = pos.y
            )
            .into_owned());
        }
    }
    Ok(())
}

/// Copies `bytes` to a new file beside `path` named `<name>.bad-<time>` (with `-2`, `-3`…
/// when that exists): an earlier backup is never overwritten.
fn keep_backup(path: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let name = path
        .file_name()
        .map_or_else(|| "state".into(), |n| n.to_string_lossy().into_owned());
    for n in 1..=1000 {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let backup = path.with_file_name(format!("{name}.bad-{stamp}{suffix}"));
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&backup)
        {
            Ok(mut file) => {
                file.write_all(bytes)?;
                file.sync_all()?;
                return Ok(backup);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        t!("settings.note.too_many_backups", locale = note_locale()).into_owned(),
    ))
}

/// Writes `kv` as eframe's file storage does (pretty RON), through a temporary file so a
/// crash mid-write cannot leave half a file.
fn write_state_file(
    path: &Path,
    kv: &std::collections::HashMap<String, String>,
) -> std::io::Result<()> {
    let text = ron::Options::default()
        .to_string_pretty(kv, ron::ser::PrettyConfig::default())
        .map_err(std::io::Error::other)?;
    let tmp = path.with_extension("ron.repairing");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
