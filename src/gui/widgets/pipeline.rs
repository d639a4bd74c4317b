//! A session's pipeline from its rows — framing, checksum, auto-reply rules and the script —
//! checked when the session starts, each row's error set beside it. Written once for every
//! traffic tab.

use crate::codec::TextEncoding;
use crate::engine::session::PipelineSpec;
use crate::engine::session::rules::RulesFile;
use crate::gui::widgets::checksum::ChecksumSettings;
use crate::gui::widgets::framing::FramingSettings;
use crate::gui::widgets::rules::RulesEditor;
use crate::gui::widgets::script_box::{ScriptEditor, ScriptSettings};

/// What a tab's rows say the pipeline is.
pub struct PipelineRows<'a> {
    pub framing: &'a FramingSettings,
    pub checksum: &'a ChecksumSettings,
    pub rules: &'a RulesFile,
    pub script: &'a ScriptSettings,
    pub encoding: TextEncoding,
}

/// The pipeline the rows describe, or `None` when one of them is wrong (its error is then set:
/// `framing_error`, the rules editor's or the script editor's).
pub fn session_pipeline(
    rows: &PipelineRows<'_>,
    framing_error: &mut Option<String>,
    editor: &mut RulesEditor,
    script: &mut ScriptEditor,
) -> Option<PipelineSpec> {
    let mut pipeline = match rows.framing.pipeline() {
        Ok(pipeline) => {
            *framing_error = None;
            pipeline
        }
        Err(e) => {
            *framing_error = Some(e.to_string());
            return None;
        }
    };
    rows.checksum.apply(&mut pipeline);
    match editor.apply(rows.rules, rows.encoding, &mut pipeline) {
        Ok(()) => editor.error = None,
        Err(e) => {
            editor.error = Some(e.to_string());
            return None;
        }
    }
    match script.apply(rows.script, rows.encoding, &mut pipeline) {
        Ok(()) => {
            script.error = None;
            Some(pipeline)
        }
        Err(e) => {
            script.error = Some(e.to_string());
            None
        }
    }
}
