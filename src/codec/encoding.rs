//! Text encodings the user can pick per tab, backed by `encoding_rs`.
//!
//! Decoding is for display: control characters and bytes that are not valid in the chosen
//! encoding come out as visible escapes (`\r`, `\n`, `\x1B`) so nothing is silently hidden.

use std::fmt::Write as _;

use encoding_rs::Encoding;

use super::display;
use rust_i18n::t;
use serde::{Deserialize, Serialize};

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    pub ch: char,
    pub position: usize,
    pub encoding: &'static str,
}

impl std::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&t!(
            "codec.encoding.cannot_encode",
            ch = self.ch,
            position = self.position,
            encoding = self.encoding
        ))
    }
}

impl std::error::Error for EncodeError {}

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
            Self::Big5 => "Big5", // i18n-exempt: a standard encoding name
            Self::ShiftJis => "Shift_JIS",
            Self::EucJp => "EUC-JP",
            Self::EucKr => "EUC-KR",
            Self::Latin1 => "Latin-1 (windows-1252)", // i18n-exempt: standard encoding names
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

    /// `bytes` as text, with U+FFFD where they are not valid in this encoding (for matching,
    /// not for display: escapes are the display's job).
    pub fn decode_lossy(self, bytes: &[u8]) -> String {
        match self.backing() {
            Some(enc) => enc.decode_without_bom_handling(bytes).0.into_owned(),
            None => String::from_utf8_lossy(bytes).into_owned(),
        }
    }

    /// `text` in this encoding; a character it lacks goes as UTF-8 rather than be lost.
    pub fn encode_text(self, text: &str) -> Vec<u8> {
        self.encode(text)
            .unwrap_or_else(|_| text.as_bytes().to_vec())
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
        let mut out = String::new();
        self.decode_for_display_into(bytes, &mut out);
        out
    }

    /// Like [`Self::decode_for_display`], appending to `out`.
    pub fn decode_for_display_into(self, bytes: &[u8], out: &mut String) {
        display::push_through_scratch(out, |buf| self.decode_for_display_to_vec(bytes, buf));
    }

    /// Like [`Self::decode_for_display`], appending the text's UTF-8 bytes to `out` (for a
    /// writer that takes bytes, such as the CLI's standard output: no `String` in between).
    ///
    /// Text and binary cost about the same per byte: UTF-8, UTF-16 and the single-byte
    /// encodings are decoded here in one pass (an invalid byte is one escape, not a restart
    /// of a decoder), each character or escape one copy from a table. The multi-byte CJK
    /// encodings go through a table of every lead byte and its follower read from
    /// `encoding_rs` (see [`display::PairTable`]), which takes over only where a sequence
    /// needs more than two bytes.
    pub fn decode_for_display_to_vec(self, bytes: &[u8], out: &mut Vec<u8>) {
        out.reserve(bytes.len() + bytes.len() / 2);
        match self {
            Self::Utf8 => display::utf8(bytes, out),
            Self::Utf16Le => display::utf16(bytes, false, out),
            Self::Utf16Be => display::utf16(bytes, true, out),
            Self::Ascii => display::single_byte(bytes, display::ascii_table(), out),
            Self::Latin1 => display::single_byte(bytes, display::windows_1252_table(), out),
            _ => {
                if let Some(enc) = self.backing() {
                    display::multi_byte(bytes, display::pair_table(enc), enc, out);
                }
            }
        }
    }
}

impl TextEncoding {
    /// The bytes `c` has in this encoding (what decoding them gave), for showing it as
    /// escapes instead.
    fn char_bytes(self, c: char) -> Vec<u8> {
        let mut utf8 = [0u8; 4];
        let text = c.encode_utf8(&mut utf8);
        match self {
            Self::Utf8 | Self::Ascii => text.as_bytes().to_vec(),
            Self::Utf16Le => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
            Self::Utf16Be => c
                .encode_utf16(&mut [0; 2])
                .iter()
                .flat_map(|u| u.to_be_bytes())
                .collect(),
            _ => self.backing().map_or_else(
                || text.as_bytes().to_vec(),
                |enc| enc.encode(text).0.into_owned(),
            ),
        }
    }

    /// "Text only where readable": the display text `text` (as [`Self::decode_for_display`]
    /// makes it) with every lone non-ASCII character — one that stands between escapes or at
    /// an end, with no other readable character beside it — shown as the escapes of its bytes.
    /// Binary data such as a CRC (`F4 FA` after a Modbus frame) then reads as `\xF4\xFA`
    /// instead of a Chinese character (`酊` in GBK), while words (`温度`, `ok 好`) stay.
    pub fn readable_only(self, text: &str) -> std::borrow::Cow<'_, str> {
        // Cut into escapes (`\x0A`, `\r`, `\u{85}`, `\\`) and runs of plain characters.
        let mut out = String::new();
        let mut changed = false;
        let mut run_start = 0usize;
        let mut chars = text.char_indices().peekable();
        let flush = |out: &mut String, run: &str, changed: &mut bool| {
            let mut it = run.chars();
            match (it.next(), it.next()) {
                (Some(c), None) if !c.is_ascii() => {
                    for b in self.char_bytes(c) {
                        let _ = write!(out, "\\x{b:02X}");
                    }
                    *changed = true;
                }
                _ => out.push_str(run),
            }
        };
        while let Some((at, c)) = chars.next() {
            if c != '\\' {
                continue;
            }
            flush(&mut out, &text[run_start..at], &mut changed);
            // The escape's end: `\xNN`, `\u{…}`, or one character.
            let mut end = at + 1;
            match chars.next() {
                Some((i, 'x')) => {
                    end = i + 1;
                    for _ in 0..2 {
                        if let Some(&(j, h)) = chars.peek()
                            && h.is_ascii_hexdigit()
                        {
                            end = j + 1;
                            chars.next();
                        }
                    }
                }
                Some((i, 'u')) => {
                    end = i + 1;
                    if chars.peek().is_some_and(|&(_, b)| b == '{') {
                        for (j, b) in chars.by_ref() {
                            end = j + b.len_utf8();
                            if b == '}' {
                                break;
                            }
                        }
                    }
                }
                Some((i, other)) => end = i + other.len_utf8(),
                None => {}
            }
            out.push_str(&text[at..end]);
            run_start = end;
        }
        flush(&mut out, &text[run_start..], &mut changed);
        if changed {
            std::borrow::Cow::Owned(out)
        } else {
            std::borrow::Cow::Borrowed(text)
        }
    }
}

/// Pushes `text` with the escapes of [`push_display_char`].
pub fn push_display_str(text: &str, out: &mut String) {
    TextEncoding::Utf8.decode_for_display_into(text.as_bytes(), out);
}

fn push_byte_escape(b: u8, out: &mut String) {
    let _ = write!(out, "\\x{b:02X}");
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
    use encoding_rs::DecoderResult;

    use super::*;

    #[test]
    fn readable_only_shows_lone_characters_as_their_bytes() {
        let gbk = TextEncoding::Gbk;
        // A Modbus reply with its CRC F4 FA: GBK reads the CRC as one character.
        let frame = [0x01, 0x03, 0x02, 0x00, 0x0A, 0xF4, 0xFA];
        let shown = gbk.decode_for_display(&frame);
        assert!(shown.ends_with("\\n酊"), "{shown}");
        assert_eq!(
            gbk.readable_only(&shown),
            "\\x01\\x03\\x02\\x00\\n\\xF4\\xFA"
        );
        // Words stay, alone in a record or next to other readable characters.
        for text in ["温度 25.5", "ok 好", "a好", "你好\r\n"] {
            let shown = gbk.decode_for_display(&gbk.encode(text).unwrap());
            assert_eq!(gbk.readable_only(&shown), shown, "{text}");
        }
        // A record that is one character and nothing else is shown as its bytes: nothing
        // beside it says it is text.
        let lone = gbk.decode_for_display(&gbk.encode("好").unwrap());
        assert_eq!(gbk.readable_only(&lone), "\\xBA\\xC3");
        // Between escapes of every kind, in UTF-8 and UTF-16.
        let utf8 = TextEncoding::Utf8;
        assert_eq!(
            utf8.readable_only("\\x01é\\u{85}"),
            "\\x01\\xC3\\xA9\\u{85}"
        );
        assert_eq!(utf8.readable_only("\\\\é\\\\"), "\\\\\\xC3\\xA9\\\\");
        assert_eq!(
            TextEncoding::Utf16Le.readable_only("\\x00中\\x00"),
            "\\x00\\x2D\\x4E\\x00"
        );
        // Nothing to change: the same text, not a copy.
        assert!(matches!(
            utf8.readable_only("plain \\r\\n text"),
            std::borrow::Cow::Borrowed(_)
        ));
        // Broken escapes at the end do not panic.
        for tail in ["\\", "\\x", "\\x4", "\\u{", "\\u{85"] {
            let _ = utf8.readable_only(tail);
        }
    }

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

    /// The display decoder as it was before the fast paths: one `encoding_rs` decoder for
    /// every encoding but ASCII, restarted after each invalid byte, pushing char by char.
    fn reference_decode(enc: TextEncoding, bytes: &[u8]) -> String {
        let mut out = String::new();
        let Some(backing) = enc.backing() else {
            for &b in bytes {
                if b.is_ascii() {
                    push_display_char(char::from(b), &mut out);
                } else {
                    let _ = write!(out, "\\x{b:02X}");
                }
            }
            return out;
        };
        let mut decoder = backing.new_decoder_without_bom_handling();
        let mut chunk = String::with_capacity(bytes.len() * 3 + 16);
        let mut pos = 0;
        loop {
            let (result, read) =
                decoder.decode_to_string_without_replacement(&bytes[pos..], &mut chunk, true);
            pos += read;
            for c in chunk.drain(..) {
                push_display_char(c, &mut out);
            }
            match result {
                DecoderResult::InputEmpty => return out,
                DecoderResult::OutputFull => chunk.reserve(64),
                DecoderResult::Malformed(bad, after) => {
                    let end = pos - usize::from(after);
                    for &b in &bytes[end - usize::from(bad)..end] {
                        let _ = write!(out, "\\x{b:02X}");
                    }
                }
            }
        }
    }

    /// A small deterministic generator (xorshift64*), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random bytes, some runs of them mixed with text in `enc` and with the bytes that sit
    /// next to escapes (controls, BOM, replacement character, surrogates).
    fn random_payload(rng: &mut Rng, enc: TextEncoding) -> Vec<u8> {
        let samples = [
            "你好",
            "日本語",
            "한국",
            "café",
            "A\r\n",
            "\u{FEFF}",
            "\u{FFFD}",
            "\u{85}",
        ];
        let len = rng.below(300);
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            match rng.below(6) {
                0 => {
                    let text = samples[rng.below(samples.len())];
                    out.extend(
                        enc.encode(text)
                            .unwrap_or_else(|_| text.as_bytes().to_vec()),
                    );
                }
                1 => out.extend(
                    [0xED, 0xA0, 0x80, 0xDC, 0xD8, 0xC2, 0x9F, 0xEF, 0xBB, 0xBF][rng.below(10)..]
                        .iter(),
                ),
                2 => out.push(rng.below(0x80) as u8),
                _ => out.push(rng.next() as u8),
            }
        }
        out
    }

    #[test]
    fn fast_display_decoding_matches_the_reference_on_random_bytes() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for enc in TextEncoding::ALL {
            for _ in 0..3000 {
                let bytes = random_payload(&mut rng, enc);
                assert_eq!(
                    enc.decode_for_display(&bytes),
                    reference_decode(enc, &bytes),
                    "{enc:?} on {bytes:02X?}"
                );
            }
            let all: Vec<u8> = (0..=255).collect();
            assert_eq!(
                enc.decode_for_display(&all),
                reference_decode(enc, &all),
                "{enc:?}"
            );
        }
    }

    /// Bytes whose display text is known, across the edges of the fast paths: a word of
    /// printable ASCII, a sequence cut by the end or broken inside, and 4 KiB blocks.
    #[test]
    fn escapes_are_right_at_boundaries() {
        let utf8 = TextEncoding::Utf8;
        // A multi-byte character cut at the end, after a full word of ASCII.
        assert_eq!(
            utf8.decode_for_display(b"ABCDEFGH\xE4\xBD"),
            "ABCDEFGH\\xE4\\xBD"
        );
        assert_eq!(
            utf8.decode_for_display(&[0xF0, 0x9F, 0x98]),
            "\\xF0\\x9F\\x98"
        );
        assert_eq!(utf8.decode_for_display("你".as_bytes()), "你");
        // Invalid leads, stray trail bytes, overlong and surrogate forms: one escape a byte.
        assert_eq!(
            utf8.decode_for_display(&[0xC0, 0xAF, 0x80, 0xE0, 0x80, 0xAF, 0xED, 0xA0, 0x80]),
            "\\xC0\\xAF\\x80\\xE0\\x80\\xAF\\xED\\xA0\\x80"
        );
        // A lead whose trail is ASCII: the ASCII is kept.
        assert_eq!(
            utf8.decode_for_display(&[0xE4, 0x41, 0xF4, 0x90, 0x80, 0x80]),
            "\\xE4A\\xF4\\x90\\x80\\x80"
        );
        // The characters that are valid but shown as escapes.
        assert_eq!(
            utf8.decode_for_display("\u{85}\u{9F}\u{A0}\u{FEFF}\u{FFFD}\u{FFFE}\x7F\\".as_bytes()),
            "\\u{85}\\u{9F}\u{A0}\\u{FEFF}\\u{FFFD}\u{FFFE}\\x7F\\"
        );
        // A character across the 4096-byte block edge, and one just before it.
        for at in [4094, 4095, 4096] {
            let mut bytes = vec![b'a'; at];
            bytes.extend("€\r".as_bytes());
            let expected = format!("{}€\\r", "a".repeat(at));
            assert_eq!(utf8.decode_for_display(&bytes), expected, "at {at}");
        }
        // Lone surrogates in UTF-16 show as their two bytes, in the order they came.
        let le = TextEncoding::Utf16Le;
        assert_eq!(
            le.decode_for_display(&[0x3D, 0xD8, 0x41, 0x00]),
            "\\x3D\\xD8A"
        );
        assert_eq!(
            le.decode_for_display(&[0x00, 0xDC, 0x3D, 0xD8]),
            "\\x00\\xDC\\x3D\\xD8"
        );
        assert_eq!(le.decode_for_display(&[0x3D, 0xD8, 0x00, 0xDE]), "😀");
        assert_eq!(le.decode_for_display(&[0x41, 0x00, 0x42]), "A\\x42");
        let be = TextEncoding::Utf16Be;
        assert_eq!(
            be.decode_for_display(&[0xD8, 0x3D, 0x00, 0x0A]),
            "\\xD8\\x3D\\n"
        );
        assert_eq!(
            be.decode_for_display(&[0x00, 0x85, 0xFE, 0xFF]),
            "\\u{85}\\u{FEFF}"
        );
        // A CJK lead byte at the end, and one before an invalid trail.
        assert_eq!(
            TextEncoding::Gbk.decode_for_display(&[0x41, 0xC4]),
            "A\\xC4"
        );
        assert_eq!(
            TextEncoding::ShiftJis.decode_for_display(&[0x93, 0x0A]),
            "\\x93\\n"
        );
        // Single-byte: C1 bytes windows-1252 leaves unassigned, and bytes ASCII lacks.
        assert_eq!(
            TextEncoding::Latin1.decode_for_display(&[0x81, 0x80, 0xE9]),
            "\\u{81}€é"
        );
        assert_eq!(
            TextEncoding::Ascii.decode_for_display(b"ABCDEFGH\x80\t"),
            "ABCDEFGH\\x80\\t"
        );
    }

    #[test]
    fn appending_keeps_what_was_there() {
        let mut out = String::from("rx: ");
        TextEncoding::Utf8.decode_for_display_into(&[0xFF, b'a'], &mut out);
        assert_eq!(out, "rx: \\xFFa");
        let mut bytes = b"tx: ".to_vec();
        TextEncoding::Gbk.decode_for_display_to_vec(&[0xC4, 0xE3, 0xFF], &mut bytes);
        assert_eq!(bytes, "tx: 你\\xFF".as_bytes());
    }

    /// Text in the encoding, its neighbours in other encodings, and random bytes, in runs.
    fn mixed_payload() -> impl proptest::strategy::Strategy<Value = Vec<Vec<u8>>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(0x20u8..0x7F, 0..40),
            "[a-z你好日本語한국é€\r\n\u{85}\u{FEFF}\u{FFFD}\u{1F600}]{0,12}"
                .prop_map(String::into_bytes),
            proptest::collection::vec(
                prop_oneof![
                    Just(0xC2u8),
                    Just(0xEF),
                    Just(0xED),
                    Just(0xD8),
                    Just(0xDC),
                    0x80u8..=0xBF
                ],
                0..6
            ),
        ];
        proptest::collection::vec(piece, 0..40)
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(400))]

        /// The display text is exactly what the restarting, char-by-char decoder gave, for
        /// every encoding: arbitrary bytes, and up to 9 KiB so 4 KiB blocks are crossed.
        #[test]
        fn display_decoding_equals_the_reference(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..9000),
            pieces in mixed_payload(),
        ) {
            for enc in TextEncoding::ALL {
                proptest::prop_assert_eq!(enc.decode_for_display(&bytes), reference_decode(enc, &bytes), "{:?}", enc);
                let native: Vec<u8> = pieces
                    .iter()
                    .flat_map(|p| match std::str::from_utf8(p).ok().and_then(|t| enc.encode(t).ok()) {
                        Some(encoded) => encoded,
                        None => p.clone(),
                    })
                    .collect();
                proptest::prop_assert_eq!(enc.decode_for_display(&native), reference_decode(enc, &native), "{:?} on {:02X?}", enc, native);
            }
        }
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
