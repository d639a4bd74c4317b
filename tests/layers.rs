//! The layer rule: the engine and everything below it, and the CLI, never name the window.
//! A file under these folders that names egui, eframe or the `gui` module fails this test, so
//! the engine keeps working (and being tested) without a window.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// Folders that must not know about the window.
const BELOW_THE_WINDOW: [&str; 7] = [
    "engine", "capture", "codec", "net", "traffic", "iptools", "cli",
];
/// Words that name the window's crates or module.
const WINDOW_WORDS: [&str; 3] = ["egui", "eframe", "crate::gui"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Whether `word` occurs in `line` as a whole word (so `egui_kittest` or `regui` do not
/// count, but `egui::Ui` and `use egui;` do).
fn names(line: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    line.match_indices(word).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Every line under `folders` (relative to `src`) that names the window.
fn offences(src: &Path, folders: &[&str]) -> Vec<String> {
    let mut files = Vec::new();
    for folder in folders {
        rust_files(&src.join(folder), &mut files);
    }
    files.sort();
    assert!(!files.is_empty(), "no Rust files under {folders:?}");
    let mut found = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if WINDOW_WORDS.iter().any(|w| names(line, w)) {
                found.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn the_engine_and_the_cli_never_name_the_window() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = offences(&src, &BELOW_THE_WINDOW);
    assert!(
        found.is_empty(),
        "the window belongs only in src/gui:\n{}",
        found.join("\n")
    );
}

/// The check itself can fail: a file that names egui is caught, a look-alike is not.
#[test]
fn the_check_catches_a_file_that_uses_egui() {
    let dir = std::env::temp_dir().join(format!("sockpit-layers-{}", std::process::id()));
    let engine = dir.join("engine");
    std::fs::create_dir_all(&engine).unwrap();
    std::fs::write(
        engine.join("ok.rs"),
        "use egui_kittest::Harness; // regui\n",
    )
    .unwrap();
    assert!(offences(&dir, &["engine"]).is_empty());
    std::fs::write(engine.join("bad.rs"), "fn f() {}\nuse egui::Ui;\n").unwrap();
    let found = offences(&dir, &["engine"]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].ends_with("bad.rs:2: use egui::Ui;"), "{found:?}");
}

/// The window is where egui lives: if this fails, the folders above were renamed and the rule
/// no longer looks where the window is.
#[test]
fn the_window_is_under_src_gui() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    assert!(!offences(&src, &["gui"]).is_empty());
}
