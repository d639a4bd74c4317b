//! The command line speaks the language of the locale: under `LANG=zh_CN.UTF-8` its own
//! messages are the catalogue's Chinese, under `LANG=C.UTF-8` the same runs print English.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use sockpit::i18n::{Language, lookup};

const BIN: &str = env!("CARGO_BIN_EXE_sockpit");

/// Runs the binary with `LANG=lang` and no other locale variable.
fn sockpit(lang: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("LANG", lang)
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .env_remove("LANGUAGE")
        .output()
        .unwrap()
}

/// The catalogue text of `key` in `language` with its placeholders filled in.
fn text(language: Language, key: &str, values: &[(&str, &str)]) -> String {
    let mut text = lookup(language, key)
        .unwrap_or_else(|| panic!("{key} is not in the catalogue"))
        .into_owned();
    for (name, value) in values {
        text = text.replace(&format!("%{{{name}}}"), value);
    }
    assert!(!text.contains("%{"), "{key}: a placeholder left: {text}");
    text
}

fn has_cjk(text: &str) -> bool {
    text.chars().any(|c| ('\u{4E00}'..='\u{9FFF}').contains(&c))
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_subnet_is_explained_in_chinese() {
    let out = sockpit("zh_CN.UTF-8", &["subnet", "/"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let expected = text(Language::Chinese, "iptools.subnet.error.empty", &[]);
    assert!(has_cjk(&expected), "{expected}");
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

#[test]
fn the_route_to_loopback_is_explained_in_chinese() {
    let out = sockpit("zh_CN.UTF-8", &["route", "127.0.0.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = text(
        Language::Chinese,
        "route.explain.local",
        &[("d", "127.0.0.1"), ("dev", "lo")],
    );
    assert!(has_cjk(&expected), "{expected}");
    let printed = stdout(&out);
    // The sentence may go on with why (the local table), so its full stop is left out.
    assert!(
        printed.contains(expected.trim_end_matches('。')),
        "{printed}"
    );
    // The field names are Chinese too.
    let destination = text(Language::Chinese, "cli.route.destination", &[]);
    assert!(printed.starts_with(&destination), "{printed}");
}

#[test]
fn a_refused_connection_says_the_fix_in_chinese() {
    let out = sockpit("zh_CN.UTF-8", &["tcp-client", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let refused = text(
        Language::Chinese,
        "net.error.refused",
        &[("addr", "127.0.0.1:1")],
    );
    let fix = text(
        Language::Chinese,
        "net.explain.refused",
        &[("port", "1"), ("ip", "127.0.0.1")],
    );
    let expected = text(
        Language::Chinese,
        "cli.error_with_fix",
        &[("error", &refused), ("fix", &fix)],
    );
    assert!(has_cjk(&expected), "{expected}");
    assert!(stderr(&out).contains(&expected), "{}", stderr(&out));
}

#[test]
fn the_c_locale_keeps_english() {
    let out = sockpit("C.UTF-8", &["subnet", "/"]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim_end(),
        "sockpit: Type an address, e.g. 192.168.1.12/24 or 2001:db8::1/64."
    );
    let out = sockpit("C.UTF-8", &["route", "127.0.0.1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    assert!(printed.starts_with("Destination  127.0.0.1\n"), "{printed}");
    assert!(
        printed.contains("127.0.0.1 is an address of this machine: packets to it never leave"),
        "{printed}"
    );
    assert!(!has_cjk(&printed), "{printed}");
    let out = sockpit("C.UTF-8", &["tcp-client", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(
            "connection to 127.0.0.1:1 refused. Nothing is listening on port 1 at 127.0.0.1: \
             start the server, or check the port."
        ),
        "{}",
        stderr(&out)
    );
}
