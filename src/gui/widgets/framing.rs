//! The framing row of a traffic session: how received bytes are cut into records (one per
//! read, by delimiter, fixed length, length prefix or idle gap). It only holds what the user
//! chose; the engine's [`Framing`] does the cutting, in the worker.

use std::borrow::Cow;

use egui::Ui;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

use crate::codec::hex::parse_hex;
use crate::engine::session::framing::{
    DEFAULT_MAX_FRAME_BYTES, FrameRule, FrameSpecError, Framing, LengthPrefix, MAX_ADJUST,
    MAX_FRAME_LIMIT_BYTES, MAX_IDLE_GAP_MS, check_delimiter,
};
use crate::engine::session::{FramerSpec, PipelineSpec};
use crate::gui::widgets::{error_text, labelled_drag, labelled_hint};
use crate::settings::{Bounded, clamp_number, cut_fields, join};

/// How records are cut, as the picker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FrameMode {
    /// One record per read (TCP) or datagram (UDP).
    #[default]
    Raw,
    Delimiter,
    Fixed,
    LengthPrefix,
    IdleGap,
}

impl FrameMode {
    const ALL: [Self; 5] = [
        Self::Raw,
        Self::Delimiter,
        Self::Fixed,
        Self::LengthPrefix,
        Self::IdleGap,
    ];

    fn name(self) -> Cow<'static, str> {
        match self {
            Self::Raw => t!("framing.mode.raw"),
            Self::Delimiter => t!("framing.mode.delimiter"),
            Self::Fixed => t!("framing.mode.fixed"),
            Self::LengthPrefix => t!("framing.mode.length_prefix"),
            Self::IdleGap => t!("framing.mode.idle_gap"),
        }
    }
}

/// Which delimiter, as the picker offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum DelimiterChoice {
    #[default]
    Lf,
    CrLf,
    Cr,
    Nul,
    /// The bytes typed as hex.
    Hex,
}

impl DelimiterChoice {
    const ALL: [Self; 5] = [Self::Lf, Self::CrLf, Self::Cr, Self::Nul, Self::Hex];

    fn name(self) -> Cow<'static, str> {
        match self {
            Self::Lf => "LF (\\n)".into(),
            Self::CrLf => "CRLF (\\r\\n)".into(),
            Self::Cr => "CR (\\r)".into(),
            Self::Nul => "NUL (\\0)".into(),
            Self::Hex => t!("framing.hex_sequence"),
        }
    }
}

/// What the framing row saves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FramingSettings {
    pub mode: FrameMode,
    pub delimiter: DelimiterChoice,
    pub delimiter_hex: String,
    pub keep_delimiter: bool,
    pub fixed_len: usize,
    pub len_offset: usize,
    pub len_width: u8,
    pub len_big_endian: bool,
    pub len_adjust: i64,
    pub len_includes_header: bool,
    pub idle_gap_ms: u64,
    pub max_frame_kib: usize,
}

impl Default for FramingSettings {
    fn default() -> Self {
        Self {
            mode: FrameMode::Raw,
            delimiter: DelimiterChoice::Lf,
            delimiter_hex: "0D 0A".to_owned(),
            keep_delimiter: false,
            fixed_len: 8,
            len_offset: 0,
            len_width: 2,
            len_big_endian: true,
            len_adjust: 0,
            len_includes_header: false,
            idle_gap_ms: 20,
            max_frame_kib: DEFAULT_MAX_FRAME_BYTES / 1024,
        }
    }
}

impl Bounded for FramingSettings {
    fn bound(&mut self, path: &str, notes: &mut Vec<String>) {
        let max_kib = MAX_FRAME_LIMIT_BYTES / 1024;
        clamp_number(
            &mut self.max_frame_kib,
            &(1..=max_kib),
            &join(path, "max_frame_kib"),
            notes,
        );
        clamp_number(
            &mut self.fixed_len,
            &(1..=MAX_FRAME_LIMIT_BYTES),
            &join(path, "fixed_len"),
            notes,
        );
        clamp_number(
            &mut self.len_offset,
            &(0..=1024),
            &join(path, "len_offset"),
            notes,
        );
        if ![1, 2, 4].contains(&self.len_width) {
            notes.push(format!(
                "{}: {} is not 1, 2 or 4; using 2", // i18n-exempt: settings notes precede the saved language.
                join(path, "len_width"),
                self.len_width
            ));
            self.len_width = 2;
        }
        let adjust = MAX_ADJUST;
        clamp_number(
            &mut self.len_adjust,
            &(-adjust..=adjust),
            &join(path, "len_adjust"),
            notes,
        );
        clamp_number(
            &mut self.idle_gap_ms,
            &(1..=MAX_IDLE_GAP_MS),
            &join(path, "idle_gap_ms"),
            notes,
        );
        cut_fields(
            path,
            &mut [("delimiter_hex", &mut self.delimiter_hex)],
            notes,
        );
    }
}

impl FramingSettings {
    /// The engine's framing for these choices; `None` for raw.
    pub fn framing(&self) -> Result<Option<Framing>, FrameSpecError> {
        let rule = match self.mode {
            FrameMode::Raw => return Ok(None),
            FrameMode::Delimiter => FrameRule::Delimiter {
                delimiter: match self.delimiter {
                    DelimiterChoice::Lf => b"\n".to_vec(),
                    DelimiterChoice::CrLf => b"\r\n".to_vec(),
                    DelimiterChoice::Cr => b"\r".to_vec(),
                    DelimiterChoice::Nul => b"\0".to_vec(),
                    DelimiterChoice::Hex => {
                        let bytes = parse_hex(&self.delimiter_hex)
                            .map_err(|e| FrameSpecError::DelimiterHex(e.to_string()))?;
                        check_delimiter(&bytes)?;
                        bytes
                    }
                },
                keep: self.keep_delimiter,
            },
            FrameMode::Fixed => FrameRule::Fixed {
                len: self.fixed_len,
            },
            FrameMode::LengthPrefix => FrameRule::LengthPrefix(LengthPrefix {
                offset: self.len_offset,
                width: self.len_width,
                big_endian: self.len_big_endian,
                adjust: self.len_adjust,
                includes_header: self.len_includes_header,
            }),
            FrameMode::IdleGap => FrameRule::IdleGap {
                gap_ms: self.idle_gap_ms,
            },
        };
        Framing::new(rule, self.max_frame_kib.saturating_mul(1024)).map(Some)
    }

    /// The session's pipeline for these choices.
    pub fn pipeline(&self) -> Result<PipelineSpec, FrameSpecError> {
        Ok(PipelineSpec {
            framer: self.framing()?.map_or(FramerSpec::Raw, FramerSpec::Framed),
            ..PipelineSpec::default()
        })
    }

    /// The framing controls, laid out in the caller's row: the mode, the fields it needs, and
    /// `error` (from the last start) after them (the combo boxes take their ids from their labels within the session's
    /// panel). A change clears the error; it applies from the next start.
    pub fn ui(&mut self, ui: &mut Ui, error: &mut Option<String>) {
        let before = self.clone();
        {
            crate::gui::widgets::label_first(ui, t!("framing.label"))
                .selected_text(self.mode.name())
                .show_ui(ui, |ui| {
                    for mode in FrameMode::ALL {
                        ui.selectable_value(&mut self.mode, mode, mode.name());
                    }
                })
                .response
                .on_hover_text(t!("framing.hover"));
            match self.mode {
                FrameMode::Raw => {}
                FrameMode::Delimiter => self.delimiter_ui(ui),
                FrameMode::Fixed => {
                    labelled_drag(
                        ui,
                        &t!("framing.fixed_len"),
                        &mut self.fixed_len,
                        1..=MAX_FRAME_LIMIT_BYTES,
                    );
                }
                FrameMode::LengthPrefix => self.length_ui(ui),
                FrameMode::IdleGap => {
                    labelled_drag(
                        ui,
                        &t!("framing.idle_gap.label"),
                        &mut self.idle_gap_ms,
                        1..=MAX_IDLE_GAP_MS,
                    )
                    .on_hover_text(t!("framing.idle_gap.hover"));
                }
            }
            if self.mode != FrameMode::Raw {
                labelled_drag(
                    ui,
                    &t!("framing.limit.label"),
                    &mut self.max_frame_kib,
                    1..=MAX_FRAME_LIMIT_BYTES / 1024,
                )
                .on_hover_text(t!("framing.limit.hover"));
            }
        }
        if *self != before {
            *error = None;
        }
        if let Some(e) = error {
            error_text(ui, &t!("framing.error", e = e));
        }
    }

    fn delimiter_ui(&mut self, ui: &mut Ui) {
        crate::gui::widgets::label_first(ui, t!("framing.ends_with"))
            .selected_text(self.delimiter.name())
            .show_ui(ui, |ui| {
                for choice in DelimiterChoice::ALL {
                    ui.selectable_value(&mut self.delimiter, choice, choice.name());
                }
            });
        if self.delimiter == DelimiterChoice::Hex {
            labelled_hint(
                ui,
                &t!("framing.delimiter_hex"),
                &mut self.delimiter_hex,
                90.0,
                &t!("hint.delimiter_hex"),
            );
        }
        ui.checkbox(&mut self.keep_delimiter, t!("framing.keep_delimiter.label"))
            .on_hover_text(t!("framing.keep_delimiter.hover"));
    }

    fn length_ui(&mut self, ui: &mut Ui) {
        labelled_drag(
            ui,
            &t!("framing.len_offset.label"),
            &mut self.len_offset,
            0..=1024,
        )
        .on_hover_text(t!("framing.len_offset.hover"));
        crate::gui::widgets::label_first(ui, t!("framing.len_width"))
            .selected_text(format!("{} B", self.len_width))
            .show_ui(ui, |ui| {
                for width in [1u8, 2, 4] {
                    ui.selectable_value(&mut self.len_width, width, format!("{width} B"));
                }
            });
        ui.checkbox(&mut self.len_big_endian, t!("framing.big_endian.label"))
            .on_hover_text(t!("framing.big_endian.hover"));
        let adjust = MAX_ADJUST;
        labelled_drag(
            ui,
            &t!("framing.len_adjust.label"),
            &mut self.len_adjust,
            -adjust..=adjust,
        )
        .on_hover_text(t!("framing.len_adjust.hover"));
        ui.checkbox(
            &mut self.len_includes_header,
            t!("framing.counts_header.label"),
        )
        .on_hover_text(t!("framing.counts_header.hover"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_gives_the_rule_the_cli_would_write() {
        let mut s = FramingSettings::default();
        assert_eq!(s.framing().unwrap(), None);
        s.mode = FrameMode::Delimiter;
        s.delimiter = DelimiterChoice::CrLf;
        s.keep_delimiter = true;
        assert_eq!(s.framing().unwrap().unwrap().rule.to_string(), "crlf:keep");
        s.delimiter = DelimiterChoice::Hex;
        s.delimiter_hex = "7e 7f".to_owned();
        assert_eq!(
            s.framing().unwrap().unwrap().rule.to_string(),
            "delim:7E7F:keep"
        );
        s.delimiter_hex = "zz".to_owned();
        assert!(s.framing().unwrap_err().to_string().contains("not hex"));
        s.delimiter_hex = String::new();
        assert!(s.framing().unwrap_err().to_string().contains("empty"));
        s.mode = FrameMode::LengthPrefix;
        s.len_offset = 2;
        s.len_adjust = -1;
        s.len_big_endian = false;
        assert_eq!(
            s.framing().unwrap().unwrap().rule.to_string(),
            "len:2:2:le:-1"
        );
        s.mode = FrameMode::Fixed;
        s.fixed_len = 2048;
        s.max_frame_kib = 1;
        assert!(s.framing().is_err(), "a fixed length over the limit");
        s.mode = FrameMode::IdleGap;
        assert_eq!(s.framing().unwrap().unwrap().rule.to_string(), "idle:20");
    }
}
