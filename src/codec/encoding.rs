//! Text encodings the user can pick per tab, backed by `encoding_rs`.
//!
//! Decoding is for display: control characters and bytes that are not valid in the chosen
//! encoding come out as visible escapes (`\r`, `\n`, `\x1B`) so nothing is silently hidden.

use std::fmt::Write as _;

use encoding_rs::{DecoderResult, Encoding};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// An encoding offered in every tab's encoding picker and by the CLI's `--encoding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum TextEncoding {
    #[default]
    Utf8,
    Gbk,
    Gb18030,
    /// GB2312 text is decoded and encoded as GBK, its superset (as browsers do).
    Gb2312,
    Big5,
    ShiftJis,
    EucJp,
    EucKr,
    /// Latin-1 as it is really used: windows-1252.
    Latin1,
    Utf16Le,
    Utf16Be,
    Ascii,
}

/// A character the selected encoding cannot represent.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error(
    "'{ch}' at position {position} cannot be written in {encoding}: pick another encoding or send it as hex"
)]
pub struct EncodeError {
    pub ch: char,
    pub position: usize,
    pub encoding: &'static str,
}

impl TextEncoding {
    /// Every encoding, in the order the pickers show them.
    pub const ALL: [Self; 12] = [
        Self::Utf8,
        Self::Gbk,
        Self::Gb18030,
        Self::Gb2312,
        Self::Big5,
        Self::ShiftJis,
        Self::EucJp,
        Self::EucKr,
        Self::Latin1,
        Self::Utf16Le,
        Self::Utf16Be,
        Self::Ascii,
    ];

    /// The name shown in pickers.
    pub fn name(self) -> &'static str {
        match self {
            Self::Utf8 => "UTF-8",
            Self::Gbk => "GBK",
            Self::Gb18030 => "GB18030",
            Self::Gb2312 => "GB2312",
            Self::Big5 => "Big5",
            Self::ShiftJis => "Shift_JIS",
            Self::EucJp => "EUC-JP",
            Self::EucKr => "EUC-KR",
            Self::Latin1 => "Latin-1 (windows-1252)",
            Self::Utf16Le => "UTF-16LE",
            Self::Utf16Be => "UTF-16BE",
            Self::Ascii => "ASCII",
        }
    }

    /// Parses a name as users type it (`gbk`, `utf8`, `shift-jis`, `latin1`, …), case-insensitively.
    pub fn from_name(name: &str) -> Option<Self> {
        let key: String = name
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        Some(match key.as_str() {
            "utf8" => Self::Utf8,
            "gbk" | "cp936" => Self::Gbk,
            "gb18030" => Self::Gb18030,
            "gb2312" => Self::Gb2312,
            "big5" => Self::Big5,
            "shiftjis" | "sjis" => Self::ShiftJis,
            "eucjp" => Self::EucJp,
            "euckr" => Self::EucKr,
            "latin1" | "latin1windows1252" | "iso88591" | "windows1252" | "cp1252" => Self::Latin1,
            "utf16le" | "utf16" => Self::Utf16Le,
            "utf16be" => Self::Utf16Be,
            "ascii" | "usascii" => Self::Ascii,
            _ => return None,
        })
    }

    fn backing(self) -> Option<&'static Encoding> {
        Some(match self {
            Self::Utf8 => encoding_rs::UTF_8,
            Self::Gbk | Self::Gb2312 => encoding_rs::GBK,
            Self::Gb18030 => encoding_rs::GB18030,
            Self::Big5 => encoding_rs::BIG5,
            Self::ShiftJis => encoding_rs::SHIFT_JIS,
            Self::EucJp => encoding_rs::EUC_JP,
            Self::EucKr => encoding_rs::EUC_KR,
            Self::Latin1 => encoding_rs::WINDOWS_1252,
            Self::Utf16Le => encoding_rs::UTF_16LE,
            Self::Utf16Be => encoding_rs::UTF_16BE,
            Self::Ascii => return None,
        })
    }

    /// Encodes `text`; a character the encoding lacks is an error naming it, nothing is replaced.
    pub fn encode(self, text: &str) -> Result<Vec<u8>, EncodeError> {
        let unmappable = |ch: char, byte_index: usize| EncodeError {
            ch,
            position: text[..byte_index].chars().count() + 1,
            encoding: self.name(),
        };
        match self {
            Self::Utf8 => Ok(text.as_bytes().to_vec()),
            Self::Utf16Le => Ok(text.encode_utf16().flat_map(u16::to_le_bytes).collect()),
            Self::Utf16Be => Ok(text.encode_utf16().flat_map(u16::to_be_bytes).collect()),
            Self::Ascii => match text.char_indices().find(|(_, c)| !c.is_ascii()) {
                Some((i, c)) => Err(unmappable(c, i)),
                None => Ok(text.as_bytes().to_vec()),
            },
            _ => {
                let Some(enc) = self.backing() else {
                    return Ok(text.as_bytes().to_vec());
                };
                let mut encoder = enc.new_encoder();
                let mut out = Vec::with_capacity(text.len() * 2 + 16);
                let mut read_total = 0;
                loop {
                    if let Some(needed) = encoder
                        .max_buffer_length_from_utf8_without_replacement(text.len() - read_total)
                    {
                        out.reserve(needed);
                    }
                    let (result, read) = encoder.encode_from_utf8_to_vec_without_replacement(
                        &text[read_total..],
                        &mut out,
                        true,
                    );
                    read_total += read;
                    match result {
                        encoding_rs::EncoderResult::InputEmpty => return Ok(out),
                        encoding_rs::EncoderResult::OutputFull => out.reserve(64),
                        encoding_rs::EncoderResult::Unmappable(ch) => {
                            return Err(unmappable(ch, read_total - ch.len_utf8()));
                        }
                    }
                }
            }
        }
    }

    /// Decodes `bytes` for display: text stays text, control characters become `\r`, `\n`,
    /// `\t` or `\xNN`, and bytes that are invalid in this encoding become `\xNN`.
    pub fn decode_for_display(self, bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len() + 8);
        self.decode_for_display_into(bytes, &mut out);
        out
    }

    /// Like [`Self::decode_for_display`], appending to `out`.
    pub fn decode_for_display_into(self, bytes: &[u8], out: &mut String) {
        let Some(enc) = self.backing() else {
            for &b in bytes {
                if b.is_ascii() {
                    push_display_char(char::from(b), out);
                } else {
                    push_byte_escape(b, out);
                }
            }
            return;
        };
        let mut decoder = enc.new_decoder_without_bom_handling();
        let mut chunk = String::with_capacity(
            decoder
                .max_utf8_buffer_length_without_replacement(bytes.len())
                .unwrap_or(bytes.len() * 3 + 16),
        );
        let mut pos = 0;
        loop {
            let (result, read) =
                decoder.decode_to_string_without_replacement(&bytes[pos..], &mut chunk, true);
            pos += read;
            for c in chunk.drain(..) {
                push_display_char(c, out);
            }
            match result {
                DecoderResult::InputEmpty => return,
                DecoderResult::OutputFull => chunk.reserve(64),
                DecoderResult::Malformed(bad, after) => {
                    let end = pos.saturating_sub(usize::from(after));
                    let start = end.saturating_sub(usize::from(bad));
                    for &b in &bytes[start..end] {
                        push_byte_escape(b, out);
                    }
                }
            }
        }
    }
}

fn push_byte_escape(b: u8, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0x0F)]));
}

/// Pushes `c`, or a visible escape when `c` is a control character.
pub fn push_display_char(c: char, out: &mut String) {
    match c {
        '\r' => out.push_str("\\r"),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\\' => out.push('\\'),
        c if (c as u32) < 0x20 || c as u32 == 0x7F => push_byte_escape(c as u8, out),
        c if c.is_control() || c == '\u{FEFF}' || c == '\u{FFFD}' => {
            let _ = write!(out, "\\u{{{:X}}}", c as u32);
        }
        c => out.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gbk_nihao() {
        for enc in [
            TextEncoding::Gbk,
            TextEncoding::Gb2312,
            TextEncoding::Gb18030,
        ] {
            assert_eq!(
                enc.encode("你好").unwrap(),
                vec![0xC4, 0xE3, 0xBA, 0xC3],
                "{enc:?}"
            );
            assert_eq!(enc.decode_for_display(&[0xC4, 0xE3, 0xBA, 0xC3]), "你好");
        }
    }

    #[test]
    fn every_encoding_round_trips_a_sample() {
        let samples: [(TextEncoding, &str, &[u8]); 12] = [
            (
                TextEncoding::Utf8,
                "你好 é",
                &[0xE4, 0xBD, 0xA0, 0xE5, 0xA5, 0xBD, 0x20, 0xC3, 0xA9],
            ),
            (TextEncoding::Gbk, "中文", &[0xD6, 0xD0, 0xCE, 0xC4]),
            (TextEncoding::Gb18030, "€", &[0xA2, 0xE3]),
            (TextEncoding::Gb2312, "你好", &[0xC4, 0xE3, 0xBA, 0xC3]),
            (TextEncoding::Big5, "中文", &[0xA4, 0xA4, 0xA4, 0xE5]),
            (TextEncoding::ShiftJis, "日本", &[0x93, 0xFA, 0x96, 0x7B]),
            (TextEncoding::EucJp, "日本", &[0xC6, 0xFC, 0xCB, 0xDC]),
            (TextEncoding::EucKr, "한국", &[0xC7, 0xD1, 0xB1, 0xB9]),
            (TextEncoding::Latin1, "café", &[0x63, 0x61, 0x66, 0xE9]),
            (TextEncoding::Utf16Le, "你A", &[0x60, 0x4F, 0x41, 0x00]),
            (TextEncoding::Utf16Be, "你A", &[0x4F, 0x60, 0x00, 0x41]),
            (TextEncoding::Ascii, "Hi!", b"Hi!"),
        ];
        for (enc, text, bytes) in samples {
            assert_eq!(enc.encode(text).unwrap(), bytes, "encode {enc:?}");
            assert_eq!(enc.decode_for_display(bytes), text, "decode {enc:?}");
        }
    }

    #[test]
    fn names_parse_back() {
        for enc in TextEncoding::ALL {
            assert_eq!(TextEncoding::from_name(enc.name()), Some(enc), "{enc:?}");
        }
        assert_eq!(
            TextEncoding::from_name("shift-jis"),
            Some(TextEncoding::ShiftJis)
        );
        assert_eq!(TextEncoding::from_name("utf8"), Some(TextEncoding::Utf8));
        assert_eq!(TextEncoding::from_name("klingon"), None);
    }

    #[test]
    fn controls_and_invalid_bytes_are_visible() {
        let enc = TextEncoding::Utf8;
        assert_eq!(
            enc.decode_for_display(b"OK\r\n\x1B[0m\t"),
            "OK\\r\\n\\x1B[0m\\t"
        );
        assert_eq!(enc.decode_for_display(&[0x41, 0xFF, 0x42]), "A\\xFFB");
        assert_eq!(enc.decode_for_display(&[0xE4, 0xBD]), "\\xE4\\xBD");
        assert_eq!(
            TextEncoding::Ascii.decode_for_display(&[0x41, 0xC4]),
            "A\\xC4"
        );
        // A GBK lead byte followed by ASCII: the lead byte is invalid, the ASCII survives.
        assert_eq!(
            TextEncoding::Gbk.decode_for_display(&[0xC4, 0x20, 0x42]),
            "\\xC4 B"
        );
        assert_eq!(TextEncoding::Gbk.decode_for_display(&[0xC4, 0x41]), "腁");
        // UTF-8 bytes read as GBK are not lost, just shown as what they are in GBK.
        assert!(
            !TextEncoding::Gbk
                .decode_for_display("你好".as_bytes())
                .is_empty()
        );
    }

    #[test]
    fn unmappable_characters_are_errors() {
        let err = TextEncoding::Ascii.encode("ab你").unwrap_err();
        assert_eq!((err.ch, err.position), ('你', 3));
        let err = TextEncoding::ShiftJis.encode("a한").unwrap_err();
        assert_eq!((err.ch, err.position), ('한', 2));
        assert!(err.to_string().contains("Shift_JIS"), "{err}");
    }
}
