//! What the user typed to the bytes it stands for: text in an encoding, with optional
//! backslash escapes and a line ending, or hex. The send box in the window and the CLI's
//! `--send`/`--hex` both call [`encode_payload`], so the same input gives the same bytes and the
//! same error everywhere.

use std::borrow::Cow;

use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::TextEncoding;
use super::escape::{Segment, parse_escapes};
use super::hex::parse_hex;

/// How the typed text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SendMode {
    #[default]
    Text,
    Hex,
}

/// What is appended to text after it is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LineEnding {
    #[default]
    None,
    Lf,
    CrLf,
    Cr,
}

impl LineEnding {
    pub const ALL: [Self; 4] = [Self::None, Self::Lf, Self::CrLf, Self::Cr];

    /// The name shown in pickers.
    pub fn name(self) -> Cow<'static, str> {
        match self {
            Self::None => t!("codec.line_ending.none"),
            Self::Lf => Cow::Borrowed("LF (\\n)"),
            Self::CrLf => Cow::Borrowed("CRLF (\\r\\n)"),
            Self::Cr => Cow::Borrowed("CR (\\r)"),
        }
    }

    pub fn text(self) -> &'static str {
        match self {
            Self::None => "",
            Self::Lf => "\n",
            Self::CrLf => "\r\n",
            Self::Cr => "\r",
        }
    }
}

/// A payload as typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PayloadSpec<'a> {
    pub text: &'a str,
    pub mode: SendMode,
    /// Whether `\r`, `\n`, `\t`, `\xNN`… are read as escapes (text mode).
    pub escapes: bool,
    pub line_ending: LineEnding,
    pub encoding: TextEncoding,
}

/// The bytes `spec` stands for, or a sentence saying what is wrong.
pub fn encode_payload(spec: &PayloadSpec<'_>) -> Result<Vec<u8>, String> {
    match spec.mode {
        SendMode::Hex => parse_hex(spec.text)
            .map_err(|e| t!("codec.payload.invalid_hex", error = e).into_owned()),
        SendMode::Text => {
            let segments = if spec.escapes {
                parse_escapes(spec.text)
                    .map_err(|e| t!("codec.payload.invalid_escape", error = e).into_owned())?
            } else {
                vec![Segment::Text(spec.text.to_owned())]
            };
            let encode = |text: &str| {
                spec.encoding
                    .encode(text)
                    .map_err(|e| t!("codec.payload.cannot_encode", error = e).into_owned())
            };
            let mut out = Vec::new();
            for segment in segments {
                match segment {
                    Segment::Text(text) => out.extend(encode(&text)?),
                    Segment::Byte(b) => out.push(b),
                }
            }
            out.extend(encode(spec.line_ending.text())?);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(text: &str) -> PayloadSpec<'_> {
        PayloadSpec {
            text,
            mode: SendMode::Text,
            escapes: true,
            line_ending: LineEnding::None,
            encoding: TextEncoding::Utf8,
        }
    }

    #[test]
    fn text_is_encoded_with_the_encoding() {
        let spec = PayloadSpec {
            encoding: TextEncoding::Gbk,
            ..text("你好")
        };
        assert_eq!(encode_payload(&spec).unwrap(), vec![0xC4, 0xE3, 0xBA, 0xC3]);
        assert_eq!(encode_payload(&text("你好")).unwrap(), "你好".as_bytes());
    }

    #[test]
    fn escapes_and_line_endings() {
        assert_eq!(
            encode_payload(&text(r"AT\r\x00\x1B")).unwrap(),
            b"AT\r\x00\x1B"
        );
        let raw = PayloadSpec {
            escapes: false,
            ..text(r"AT\r\x00\x1B")
        };
        assert_eq!(encode_payload(&raw).unwrap(), br"AT\r\x00\x1B");
        let crlf = PayloadSpec {
            line_ending: LineEnding::CrLf,
            ..text("hi")
        };
        assert_eq!(encode_payload(&crlf).unwrap(), b"hi\r\n");
        let utf16 = PayloadSpec {
            line_ending: LineEnding::Lf,
            encoding: TextEncoding::Utf16Le,
            ..text("hi")
        };
        assert_eq!(encode_payload(&utf16).unwrap(), b"h\0i\0\n\0");
    }

    #[test]
    fn hex_and_its_errors() {
        let hex = PayloadSpec {
            mode: SendMode::Hex,
            ..text("0x48,0x65 6C")
        };
        assert_eq!(encode_payload(&hex).unwrap(), b"Hel");
        let bad = PayloadSpec {
            mode: SendMode::Hex,
            ..text("48 6")
        };
        let err = encode_payload(&bad).unwrap_err();
        assert!(err.contains("position 4"), "{err}");
    }

    #[test]
    fn unencodable_text_is_an_error_not_a_substitute() {
        let spec = PayloadSpec {
            encoding: TextEncoding::Ascii,
            ..text("中")
        };
        let err = encode_payload(&spec).unwrap_err();
        assert!(err.contains("cannot be written in ASCII"), "{err}");
    }
}
