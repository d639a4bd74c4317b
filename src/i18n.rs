//! The words users read, in English and Simplified Chinese.
//!
//! Every sentence of the window and the command line lives in `locales/*.yml` (rust-i18n's
//! format 2: each key holds its `en` and its `zh-CN` text, placeholders written `%{name}`),
//! built into the binary. Code asks for a key with `rust_i18n::t!("area.key")` or
//! `t!("area.key", name = value)`; the language is one switch for the whole process
//! ([`set_language`]), chosen from the system locale ([`Language::from_environment`]) until
//! the user picks one in the window. `tests/i18n.rs` fails when a key lacks either language,
//! when the two disagree on placeholders, or when window code shows text that bypasses the
//! catalogue.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// A language the interface speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Language {
    #[default]
    English,
    /// Simplified Chinese (简体中文).
    Chinese,
}

impl Language {
    pub const ALL: [Self; 2] = [Self::English, Self::Chinese];

    /// The catalogue's name for this language.
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Chinese => "zh-CN",
        }
    }

    /// The language's name in itself, as a language menu shows it (never translated).
    pub fn native_name(self) -> &'static str {
        match self {
            Self::English => "English",
            Self::Chinese => "简体中文",
        }
    }

    /// The language a POSIX locale or a language tag asks for: `zh_CN.UTF-8`, `zh-Hans`,
    /// `zh_SG` → Chinese; `en_US.UTF-8` → English; `C`, `POSIX` or empty → none (no
    /// preference). Traditional-Chinese locales (`zh_TW`, `zh_HK`, `zh-Hant`) read Simplified
    /// Chinese more easily than English, so they get it too.
    pub fn from_locale(tag: &str) -> Option<Self> {
        let tag = tag.trim();
        let lang = tag
            .split(['.', '@'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if lang.is_empty() || lang == "c" || lang == "posix" {
            return None;
        }
        if lang == "zh" || lang.starts_with("zh_") || lang.starts_with("zh-") {
            Some(Self::Chinese)
        } else {
            Some(Self::English)
        }
    }

    /// The language the environment asks for, the way gettext reads it: `LANGUAGE` (a
    /// colon-separated list), then `LC_ALL`, `LC_MESSAGES`, `LANG`; English when none says.
    pub fn from_environment() -> Self {
        Self::from_variables(|name| std::env::var(name).ok())
    }

    /// [`Self::from_environment`] over any variable source (for tests).
    pub fn from_variables(var: impl Fn(&str) -> Option<String>) -> Self {
        let all = var("LC_ALL").filter(|v| !v.trim().is_empty());
        // LANGUAGE only counts when a locale is set at all (gettext ignores it under C).
        let base = all
            .clone()
            .or_else(|| var("LC_MESSAGES").filter(|v| !v.trim().is_empty()))
            .or_else(|| var("LANG").filter(|v| !v.trim().is_empty()));
        if base.as_deref().and_then(Self::from_locale).is_some()
            && let Some(list) = var("LANGUAGE")
            && let Some(first) = list.split(':').find_map(Self::from_locale)
        {
            return first;
        }
        base.as_deref()
            .and_then(Self::from_locale)
            .unwrap_or_default()
    }
}

/// Makes `language` the one every later `t!` speaks (the whole process).
pub fn set_language(language: Language) {
    rust_i18n::set_locale(language.code());
}

/// The language `t!` speaks now.
pub fn language() -> Language {
    if &*rust_i18n::locale() == Language::Chinese.code() {
        Language::Chinese
    } else {
        Language::English
    }
}

/// Every key of the catalogue with its text in `language`, sorted by key (for the
/// completeness test and for tools).
pub fn catalogue(language: Language) -> Vec<(String, String)> {
    let mut all: Vec<(String, String)> = crate::_rust_i18n_backend()
        .messages_for_locale(language.code())
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    all.sort();
    all
}

/// The text of `key` in `language` (whatever the process speaks), or `None` when the
/// catalogue lacks it in that language.
pub fn lookup(language: Language, key: &str) -> Option<Cow<'static, str>> {
    crate::_rust_i18n_backend()
        .translate(language.code(), key)
        .map(|c| Cow::Owned(c.into_owned()))
}

/// The `%{name}` placeholders of a catalogue text, sorted and deduplicated.
pub fn placeholders(text: &str) -> Vec<&str> {
    let mut names: Vec<&str> = text
        .match_indices("%{")
        .filter_map(|(at, _)| {
            let rest = &text[at + 2..];
            rest.find('}').map(|end| &rest[..end])
        })
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_name_their_language() {
        assert_eq!(
            Language::from_locale("zh_CN.UTF-8"),
            Some(Language::Chinese)
        );
        assert_eq!(Language::from_locale("zh-Hans"), Some(Language::Chinese));
        assert_eq!(Language::from_locale("zh_TW.Big5"), Some(Language::Chinese));
        assert_eq!(Language::from_locale("zh"), Some(Language::Chinese));
        assert_eq!(
            Language::from_locale("en_GB.UTF-8"),
            Some(Language::English)
        );
        assert_eq!(Language::from_locale("de_DE@euro"), Some(Language::English));
        assert_eq!(Language::from_locale("C.UTF-8"), None);
        assert_eq!(Language::from_locale("POSIX"), None);
        assert_eq!(Language::from_locale(""), None);
        assert_eq!(Language::from_locale("zhx_XX"), Some(Language::English));
    }

    #[test]
    fn the_environment_is_read_as_gettext_does() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert_eq!(Language::from_variables(env(&[])), Language::English);
        assert_eq!(
            Language::from_variables(env(&[("LANG", "zh_CN.UTF-8")])),
            Language::Chinese
        );
        assert_eq!(
            Language::from_variables(env(&[("LANG", "zh_CN.UTF-8"), ("LC_ALL", "en_US.UTF-8")])),
            Language::English
        );
        assert_eq!(
            Language::from_variables(env(&[("LANG", "en_US.UTF-8"), ("LANGUAGE", "zh_CN:en")])),
            Language::Chinese
        );
        // Under C, LANGUAGE is ignored (as gettext does).
        assert_eq!(
            Language::from_variables(env(&[("LANG", "C"), ("LANGUAGE", "zh_CN")])),
            Language::English
        );
        assert_eq!(
            Language::from_variables(env(&[("LC_MESSAGES", "zh_SG.UTF-8"), ("LANG", "en")])),
            Language::Chinese
        );
    }

    #[test]
    fn placeholders_are_found() {
        assert_eq!(placeholders("%{b} and %{a}, %{b}"), vec!["a", "b"]);
        assert!(placeholders("no names, 100%").is_empty());
        assert_eq!(placeholders("unclosed %{x"), Vec::<&str>::new());
    }
}
