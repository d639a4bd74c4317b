//! Sentences for what went wrong with a capture's file: what happened, to which file, and
//! what to do.

use std::io::{self, ErrorKind};
use std::path::Path;

use rust_i18n::t;

/// Why the file could not be made, as the end of a sentence.
fn why(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => t!("capture.explain.why.no_folder"),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            t!("capture.explain.why.no_write")
        }
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => t!("capture.explain.why.disk_full"),
        ErrorKind::IsADirectory => t!("capture.explain.why.is_folder"),
        ErrorKind::FileTooLarge => t!("capture.explain.why.too_large"),
        _ => t!("capture.explain.why.other", error = e),
    }
    .into_owned()
}

pub fn cannot_create(path: &Path, e: &io::Error) -> String {
    t!(
        "capture.explain.cannot_create",
        path = path.display(),
        why = why(e)
    )
    .into_owned()
}

pub fn cannot_read(path: &Path, e: &io::Error) -> String {
    let why = match e.kind() {
        ErrorKind::NotFound => t!("capture.explain.read_why.not_found").into_owned(),
        ErrorKind::PermissionDenied => t!("capture.explain.read_why.no_read").into_owned(),
        ErrorKind::IsADirectory => t!("capture.explain.read_why.is_folder").into_owned(),
        _ => e.to_string(),
    };
    t!(
        "capture.explain.cannot_open",
        path = path.display(),
        why = why
    )
    .into_owned()
}

/// The sentence for a capture stopped by a write error after `written` bytes reached the file.
pub fn io_sentence(path: &Path, e: &io::Error, written: u64) -> String {
    t!(
        "capture.explain.write_failed",
        path = path.display(),
        written = crate::traffic::format_bytes(written),
        why = why(e)
    )
    .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_full_and_permission_say_what_to_do() {
        let p = Path::new("/x/cap.pcapng");
        let full = io_sentence(p, &io::Error::from(ErrorKind::StorageFull), 2048);
        assert!(
            full.contains("disk is full") && full.contains("2.0 KiB"),
            "{full}"
        );
        assert!(full.contains("/x/cap.pcapng"));
        let denied = cannot_create(p, &io::Error::from(ErrorKind::PermissionDenied));
        assert!(denied.contains("may not write"), "{denied}");
    }
}
