//! The translation catalogue is whole, and the window's words come from it.
//!
//! - Every key has its English and its Chinese text, neither empty, with the same `%{name}`
//!   placeholders (a missing key would show English in the Chinese window, or the key itself).
//! - Window code (`src/gui`) and the sentence modules shows no words of its own: a string
//!   literal that reads as words for people (a capital letter then small ones, or two words)
//!   outside a `t!` call fails the test, naming file and line. Identifiers (`"tab-bar"`,
//!   `"app.tab.udp"`), formats (`"{} · {}"`) and names that are the same in every language
//!   (`UDP`, `MiB`) pass. A line may say `// i18n-exempt: <why>` for a literal that is
//!   deliberately not translated (a name that is the same in every language, a developer's
//!   message).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sockpit::i18n::{Language, catalogue, placeholders};

#[test]
fn every_key_has_both_languages_with_the_same_placeholders() {
    let en = catalogue(Language::English);
    let zh = catalogue(Language::Chinese);
    assert!(
        en.len() > 5,
        "the catalogue is nearly empty: {} keys",
        en.len()
    );
    let en_keys: BTreeSet<&str> = en.iter().map(|(k, _)| k.as_str()).collect();
    let zh_keys: BTreeSet<&str> = zh.iter().map(|(k, _)| k.as_str()).collect();
    let no_zh: Vec<&&str> = en_keys.difference(&zh_keys).collect();
    let no_en: Vec<&&str> = zh_keys.difference(&en_keys).collect();
    assert!(no_zh.is_empty(), "keys without Chinese text: {no_zh:?}");
    assert!(no_en.is_empty(), "keys without English text: {no_en:?}");
    let mut bad = Vec::new();
    for ((key, en_text), (_, zh_text)) in en.iter().zip(&zh) {
        if en_text.trim().is_empty() || zh_text.trim().is_empty() {
            bad.push(format!("{key}: empty text"));
        }
        if placeholders(en_text) != placeholders(zh_text) {
            bad.push(format!(
                "{key}: placeholders differ: en {:?}, zh-CN {:?}",
                placeholders(en_text),
                placeholders(zh_text)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn chinese_text_is_chinese() {
    // A Chinese text that is the English one copied is a translation left undone — unless the
    // text holds no words (a unit, a protocol name, a format).
    let en = catalogue(Language::English);
    let zh = catalogue(Language::Chinese);
    let mut copied = Vec::new();
    for ((key, en_text), (_, zh_text)) in en.iter().zip(&zh) {
        if en_text == zh_text && has_words(en_text) {
            copied.push(key.as_str());
        }
    }
    assert!(
        copied.is_empty(),
        "Chinese text equal to the English for {copied:?}"
    );
}

/// Words that are the same in every language: protocol, unit and format names.
const SAME_EVERYWHERE: &[&str] = &[
    "TCP",
    "UDP",
    "IP",
    "IPv",
    "IPv4",
    "IPv6",
    "ARP",
    "DNS",
    "mDNS",
    "SSDP",
    "HTTP",
    "MAC",
    "MiB",
    "KiB",
    "GiB",
    "TiB",
    "MB",
    "KB",
    "GB",
    "ms",
    "µs",
    "ns",
    "s",
    "B",
    "Hz",
    "CRC",
    "ASCII",
    "UTF",
    "LF",
    "CR",
    "CRLF",
    "hex",
    "Hex",
    "pcap",
    "pcapng",
    "CSV",
    "JSON",
    "Sockpit",
    "README",
    "TTL",
    "RST",
    "SYN",
    "FIN",
    "ACK",
    "NIC",
    "LAN",
    "WoL",
    "OUI",
    "Modbus",
    "MQTT",
    "Big5",
    "GBK",
    "GB18030",
    "EUC",
    "JP",
    "KR",
    "Shift_JIS",
    "Latin",
    "ISO",
    "UTF-8",
    "UTF-16LE",
    "UTF-16BE",
    "RTT",
    "NAT",
    "ID",
    "id",
    "IDs",
    "px",
    "Ctrl",
    "Shift",
    "Alt",
    "Esc",
    "Enter",
    "Tab",
    "F1",
    "CPU",
    "SO_REUSEADDR",
    "lo",
    "eth",
    "x",
    "N",
    "Wireshark",
    "tshark",
    "Packet",
    "Sender",
    "bps",
];

/// Whether `text` holds words people read (not only units, names and formats).
fn has_words(text: &str) -> bool {
    let mut placeholder_free = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("%{") {
        placeholder_free.push_str(&rest[..at]);
        rest = rest[at..].find('}').map_or("", |end| &rest[at + end + 1..]);
    }
    placeholder_free.push_str(rest);
    placeholder_free
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| w.len() >= 2)
        .any(|w| !SAME_EVERYWHERE.contains(&w))
}

/// Whether a string literal in window code reads as words for people.
fn reads_as_words(text: &str) -> bool {
    let trimmed = text.trim();
    if trimmed.chars().any(|c| !c.is_ascii() && c.is_alphabetic()) {
        return true;
    }
    // Keys and identifiers: no spaces, no capitals (`app.tab.udp`, `tab-bar`, `udp_log`).
    if !trimmed.contains(' ') && !trimmed.chars().any(|c| c.is_ascii_uppercase()) {
        return false;
    }
    // Format arguments only (`{:.1}`), units and names.
    let without_args = strip_format_args(trimmed);
    if !has_words(&without_args) {
        return false;
    }
    let capital_word = without_args
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| {
            let mut chars = w.chars();
            w.len() >= 2
                && chars.next().is_some_and(|c| c.is_ascii_uppercase())
                && chars.all(|c| c.is_ascii_lowercase())
                && !SAME_EVERYWHERE.contains(&w)
        });
    let two_words = without_args
        .split_whitespace()
        .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
        .count()
        >= 2;
    capital_word || two_words
}

/// Code whose literals are for developers, not users: attributes (`reason = "…"`) and
/// messages of assertions that never reach a user.
const FOR_DEVELOPERS: &[&str] = &["reason =", "#[", "debug_assert", "unreachable!("];

/// `text` with `{…}` format arguments removed.
fn strip_format_args(text: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    for c in text.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// The string literals of Rust source before its first `#[cfg(test)]`, with their line
/// numbers (comments and char literals skipped; raw strings read whole).
fn string_literals(source: &str) -> Vec<(usize, String)> {
    let code = source.split("#[cfg(test)]").next().unwrap_or_default();
    let bytes = code.as_bytes();
    let mut out = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\n' => {
                line += 1;
                i += 1;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    i += 1;
                }
                i += 2;
            }
            b'\'' => {
                // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
                if bytes.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < bytes.len() && bytes[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                } else if bytes.get(i + 2) == Some(&b'\'') {
                    i += 3;
                } else {
                    let ch_len = code[i + 1..].chars().next().map_or(1, char::len_utf8);
                    if bytes.get(i + 1 + ch_len) == Some(&b'\'') {
                        i += 2 + ch_len;
                    } else {
                        i += 1;
                    }
                }
            }
            b'r' if (bytes.get(i + 1) == Some(&b'"') || bytes.get(i + 1) == Some(&b'#'))
                && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_')) =>
            {
                let mut j = i + 1;
                let mut hashes = 0;
                while bytes.get(j) == Some(&b'#') {
                    hashes += 1;
                    j += 1;
                }
                if bytes.get(j) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let start = j + 1;
                let close: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let end = code[start..].find(&close).map_or(code.len(), |e| start + e);
                let text = &code[start..end];
                out.push((line, text.to_owned()));
                line += text.matches('\n').count();
                i = end + close.len();
            }
            b'"' => {
                let start_line = line;
                let mut text = String::new();
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        // Keep escapes out of the words: a line continuation or an escape.
                        if bytes.get(i + 1) == Some(&b'\n') {
                            line += 1;
                        }
                        i += 2;
                        text.push(' ');
                        continue;
                    }
                    if bytes[i] == b'\n' {
                        line += 1;
                    }
                    let ch = code[i..].chars().next().unwrap_or(' ');
                    text.push(ch);
                    i += ch.len_utf8();
                }
                i += 1;
                out.push((start_line, text));
            }
            _ => i += 1,
        }
    }
    out
}

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

/// Literals that read as words outside the catalogue, as `file:line: "text"`.
fn bypasses(files: &[PathBuf]) -> Vec<String> {
    let mut found = Vec::new();
    for file in files {
        let source = std::fs::read_to_string(file).unwrap();
        let lines: Vec<&str> = source.lines().collect();
        for (line, text) in string_literals(&source) {
            let code_line = lines.get(line - 1).copied().unwrap_or_default();
            if code_line.contains("// i18n-exempt: ")
                || FOR_DEVELOPERS.iter().any(|d| code_line.contains(d))
            {
                continue;
            }
            if reads_as_words(&text) {
                found.push(format!("{}:{line}: {text:?}", file.display()));
            }
        }
    }
    found
}

/// The folders (under `src`) whose words must all come from the catalogue: the window and
/// every module whose sentences reach it or the command line.
const CHECKED: &[&str] = &[
    "gui", "net", "codec", "capture", "engine", "iptools", "traffic", "cli", "settings",
];

/// Files (under `src`) whose words are still being moved into the catalogue. The list only
/// shrinks.
const NOT_YET_MOVED: &[&str] = &[];

/// The files whose words must all come from the catalogue.
fn checked_files() -> Vec<PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for folder in CHECKED {
        rust_files(&src.join(folder), &mut files);
    }
    files.retain(|f| {
        let rel = f
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        !NOT_YET_MOVED.contains(&rel.as_str())
    });
    files.sort();
    files
}

#[test]
fn window_text_comes_from_the_catalogue() {
    let found = bypasses(&checked_files());
    assert!(
        found.is_empty(),
        "{} literals read as words but bypass the catalogue (use t!(\"key\") and add the key \
         to locales/*.yml in both languages):\n{}",
        found.len(),
        found.join("\n")
    );
}

#[test]
fn the_bypass_check_finds_words_and_passes_keys() {
    for words in [
        "Send",
        "Close all",
        "Bind to {}",
        "bytes received",
        "发送",
        "History cap (MiB)",
    ] {
        assert!(reads_as_words(words), "{words:?} should read as words");
    }
    for key in [
        "app.tab.udp",
        "tab-bar",
        "udp_log",
        "{} · {}",
        "{:.1} MiB/s",
        "UDP",
        "",
        "%{n} B",
        "IPv4",
    ] {
        assert!(!reads_as_words(key), "{key:?} should not read as words");
    }
    let source = "fn f() { ui.label(\"Hello there\"); let c = 'x'; // \"Not this\"\n \
                  t!(\"a.b\"); r#\"Raw words\"#; }\n#[cfg(test)]\nmod t { \"Test words\" }";
    let literals: Vec<String> = string_literals(source)
        .into_iter()
        .map(|(_, t)| t)
        .collect();
    assert_eq!(literals, vec!["Hello there", "a.b", "Raw words"]);
}

/// The keys named as `t!("key"` in `source`, with their lines (keys built at run time, such as
/// `t!(key, …)`, are not literals and are not seen).
fn named_keys(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        // Comments show how to call `t!`, with made-up keys.
        if line.trim_start().starts_with("//") {
            continue;
        }
        let mut rest = line;
        while let Some(at) = rest.find("t!(\"") {
            let after = &rest[at + 4..];
            let Some(end) = after.find('"') else { break };
            let key = &after[..end];
            // `t!("` inside another word (`print!("`, `format!("`) is not a translation.
            let before = rest[..at].chars().last();
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                out.push((n + 1, key.to_owned()));
            }
            rest = &after[end..];
        }
    }
    out
}

#[test]
fn every_key_the_code_names_is_in_the_catalogue() {
    // A typo or a key added to the wrong section shows the key itself in the window.
    let known: BTreeSet<String> = catalogue(Language::English)
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut unknown = Vec::new();
    let mut seen = 0;
    for file in files {
        let source = std::fs::read_to_string(&file).unwrap();
        for (line, key) in named_keys(&source) {
            seen += 1;
            if !known.contains(&key) {
                unknown.push(format!("{}:{line}: {key}", file.display()));
            }
        }
    }
    assert!(seen > 500, "only {seen} keys found: the scan is broken");
    assert!(
        unknown.is_empty(),
        "keys named in the code but missing from locales/*.yml:\n{}",
        unknown.join("\n")
    );
    assert_eq!(
        named_keys("x(t!(\"a.b\", n = 1)); print!(\"no\"); t!(\"c\")"),
        [(1, "a.b".to_owned()), (1, "c".to_owned())]
    );
}
