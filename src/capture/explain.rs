//! Sentences for what went wrong with a capture's file: what happened, to which file, and
//! what to do.

use std::io::{self, ErrorKind};
use std::path::Path;

/// Why the file could not be made, as the end of a sentence.
fn why(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::NotFound => "its folder does not exist; choose an existing folder".to_owned(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            "you may not write there; choose a folder you own, such as your home folder".to_owned()
        }
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => {
            "the disk is full; free some space or choose another disk".to_owned()
        }
        ErrorKind::IsADirectory => "that is a folder; type a file name".to_owned(),
        ErrorKind::FileTooLarge => {
            "the file system allows no larger files; start a new capture file".to_owned()
        }
        _ => format!("{e}; choose another file"),
    }
}

pub fn cannot_create(path: &Path, e: &io::Error) -> String {
    format!("Cannot capture to {}: {}.", path.display(), why(e))
}

pub fn cannot_read(path: &Path, e: &io::Error) -> String {
    let why = match e.kind() {
        ErrorKind::NotFound => "there is no such file; check the name".to_owned(),
        ErrorKind::PermissionDenied => "you may not read it; choose a file you may read".to_owned(),
        ErrorKind::IsADirectory => "that is a folder; choose a capture file".to_owned(),
        _ => e.to_string(),
    };
    format!("Cannot open {}: {why}.", path.display())
}

/// The sentence for a capture stopped by a write error after `written` bytes reached the file.
pub fn io_sentence(path: &Path, e: &io::Error, written: u64) -> String {
    format!(
        "Capture stopped: writing {} failed after {}: {}. The session goes on and its log is intact.",
        path.display(),
        crate::traffic::format_bytes(written),
        why(e)
    )
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
