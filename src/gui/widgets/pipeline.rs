//! A session's pipeline from its rows — framing, checksum and auto-reply rules — checked when
//! the session starts, each row's error set beside it. Written once for every traffic tab.

use crate::codec::TextEncoding;
use crate::engine::session::PipelineSpec;
use crate::engine::session::rules::RulesFile;
use crate::gui::widgets::checksum::ChecksumSettings;
use crate::gui::widgets::framing::FramingSettings;
use crate::gui::widgets::rules::RulesEditor;

/// The pipeline the rows describe, or `None` when one of them is wrong (its error is then set:
/// `framing_error`, or the rules editor's).
pub fn session_pipeline(
    framing: &FramingSettings,
    checksum: &ChecksumSettings,
    rules: &RulesFile,
    encoding: TextEncoding,
    framing_error: &mut Option<String>,
    editor: &mut RulesEditor,
) -> Option<PipelineSpec> {
    let mut pipeline = match framing.pipeline() {
        Ok(pipeline) => {
            *framing_error = None;
            pipeline
        }
        Err(e) => {
            *framing_error = Some(e.to_string());
            return None;
        }
    };
    checksum.apply(&mut pipeline);
    match editor.apply(rules, encoding, &mut pipeline) {
        Ok(()) => {
            editor.error = None;
            Some(pipeline)
        }
        Err(e) => {
            editor.error = Some(e.to_string());
            None
        }
    }
}
