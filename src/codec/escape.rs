//! Backslash escapes typed in the send box: `\r \n \t \\ \0 \xNN`.
//!
//! `\r`, `\n`, `\t`, `\\` and `\0` stand for characters (encoded with the tab's encoding, so
//! `\n` in UTF-16LE is `0A 00`); `\xNN` stands for one raw byte, inserted as-is.

use std::fmt;

use rust_i18n::t;

/// A piece of parsed send-box text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Characters, to be encoded with the selected encoding.
    Text(String),
    /// One raw byte from `\xNN`.
    Byte(u8),
}

/// Why escapes could not be parsed. Positions are 1-based character columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscapeError {
    Unknown { ch: char, position: usize },
    BadHexEscape { position: usize },
    Trailing { position: usize },
}

impl fmt::Display for EscapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Unknown { ch, position } => {
                t!("codec.escape.unknown", ch = ch, position = position)
            }
            Self::BadHexEscape { position } => t!("codec.escape.bad_hex", position = position),
            Self::Trailing { position } => t!("codec.escape.trailing", position = position),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for EscapeError {}

/// Splits `input` into text runs and raw bytes, interpreting escapes.
pub fn parse_escapes(input: &str) -> Result<Vec<Segment>, EscapeError> {
    let chars: Vec<char> = input.chars().collect();
    let mut segments = Vec::new();
    let mut text = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' {
            text.push(c);
            i += 1;
            continue;
        }
        let position = i + 1;
        let Some(&next) = chars.get(i + 1) else {
            return Err(EscapeError::Trailing { position });
        };
        match next {
            'r' => text.push('\r'),
            'n' => text.push('\n'),
            't' => text.push('\t'),
            '0' => text.push('\0'),
            '\\' => text.push('\\'),
            'x' | 'X' => {
                let digits: Option<u32> = match (chars.get(i + 2), chars.get(i + 3)) {
                    (Some(h), Some(l)) => {
                        h.to_digit(16).zip(l.to_digit(16)).map(|(h, l)| h * 16 + l)
                    }
                    _ => None,
                };
                let Some(value) = digits else {
                    return Err(EscapeError::BadHexEscape { position });
                };
                if !text.is_empty() {
                    segments.push(Segment::Text(std::mem::take(&mut text)));
                }
                segments.push(Segment::Byte(value as u8));
                i += 4;
                continue;
            }
            other => {
                return Err(EscapeError::Unknown {
                    ch: other,
                    position,
                });
            }
        }
        i += 2;
    }
    if !text.is_empty() {
        segments.push(Segment::Text(text));
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_escape() {
        assert_eq!(
            parse_escapes(r"a\r\n\t\\\0b\x1Bc\xff").unwrap(),
            vec![
                Segment::Text("a\r\n\t\\\0b".into()),
                Segment::Byte(0x1B),
                Segment::Text("c".into()),
                Segment::Byte(0xFF),
            ]
        );
        assert_eq!(parse_escapes("").unwrap(), vec![]);
        assert_eq!(
            parse_escapes("你好").unwrap(),
            vec![Segment::Text("你好".into())]
        );
    }

    #[test]
    fn errors_name_position() {
        assert_eq!(
            parse_escapes(r"ab\q").unwrap_err(),
            EscapeError::Unknown {
                ch: 'q',
                position: 3
            }
        );
        assert_eq!(
            parse_escapes(r"\x1").unwrap_err(),
            EscapeError::BadHexEscape { position: 1 }
        );
        assert_eq!(
            parse_escapes(r"\xZZ").unwrap_err(),
            EscapeError::BadHexEscape { position: 1 }
        );
        assert_eq!(
            parse_escapes("abc\\").unwrap_err(),
            EscapeError::Trailing { position: 4 }
        );
    }
}
