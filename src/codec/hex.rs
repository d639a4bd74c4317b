//! Hex parsing (what users type in the send box) and fast hex formatting (what the log shows).

use std::fmt;

use rust_i18n::t;

/// Why a hex string could not be parsed. Positions are 1-based character columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HexError {
    /// A character that is not a hex digit, separator or `0x` prefix.
    BadChar { ch: char, position: usize },
    /// A group of digits with an odd count, so one byte would be half a byte. `group` quotes
    /// the group, shortened around its ends when long (see [`excerpt`]).
    OddDigits {
        group: String,
        digits: usize,
        position: usize,
    },
    /// A `0x` with no digits after it.
    NoDigits { position: usize },
}

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::BadChar { ch, position } => {
                t!("codec.hex.bad_char", ch = ch : {:?}, position = position)
            }
            Self::OddDigits {
                group,
                digits,
                position,
            } => t!(
                "codec.hex.odd_digits",
                digits = digits,
                group = group,
                position = position
            ),
            Self::NoDigits { position } => t!("codec.hex.no_digits", position = position),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for HexError {}

impl HexError {
    /// The 1-based character column the error points at.
    pub fn position(&self) -> usize {
        match self {
            Self::BadChar { position, .. }
            | Self::OddDigits { position, .. }
            | Self::NoDigits { position } => *position,
        }
    }
}

/// Quoted input longer than this is shortened, so an error about a 100 KB paste stays a line.
pub const EXCERPT_CHARS: usize = 24;

/// `chars` for a message: whole when short, else its first and last ten characters around
/// an ellipsis.
pub fn excerpt(chars: &[char]) -> String {
    if chars.len() <= EXCERPT_CHARS {
        return chars.iter().collect();
    }
    let mut s: String = chars[..10].iter().collect();
    s.push('…');
    s.extend(&chars[chars.len() - 10..]);
    s
}

fn is_separator(c: char) -> bool {
    c.is_whitespace() || matches!(c, ',' | ';' | ':' | '-')
}

/// Parses hex such as `48 65 6C`, `48656C`, `0x48,0x65` or `48:65:6c`, with any whitespace.
///
/// Groups are separated by whitespace, `,`, `;`, `:` or `-`; each group may start with `0x`
/// and must hold an even number of digits.
pub fn parse_hex(input: &str) -> Result<Vec<u8>, HexError> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::with_capacity(chars.len() / 2);
    let mut i = 0;
    while i < chars.len() {
        if is_separator(chars[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits_start = i;
        if chars[i] == '0' && matches!(chars.get(i + 1), Some('x' | 'X')) {
            digits_start = i + 2;
        }
        let mut end = digits_start;
        while end < chars.len() && !is_separator(chars[end]) {
            if !chars[end].is_ascii_hexdigit() {
                return Err(HexError::BadChar {
                    ch: chars[end],
                    position: end + 1,
                });
            }
            end += 1;
        }
        let digits = &chars[digits_start..end];
        if digits.is_empty() {
            return Err(HexError::NoDigits {
                position: start + 1,
            });
        }
        if !digits.len().is_multiple_of(2) {
            return Err(HexError::OddDigits {
                group: excerpt(&chars[start..end]),
                digits: digits.len(),
                position: start + 1,
            });
        }
        for pair in digits.chunks_exact(2) {
            let hi = pair[0].to_digit(16).unwrap_or(0);
            let lo = pair[1].to_digit(16).unwrap_or(0);
            out.push((hi * 16 + lo) as u8);
        }
        i = end;
    }
    Ok(out)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Appends `bytes` as upper-case hex pairs separated by single spaces (`48 65 6C`).
///
/// Table-driven and allocation-free apart from growing `out`: this runs for every visible
/// row of every frame, so it must be cheap.
pub fn format_hex_into(bytes: &[u8], out: &mut String) {
    if bytes.is_empty() {
        return;
    }
    let mut buf = Vec::with_capacity(bytes.len() * 3);
    for &b in bytes {
        buf.push(HEX_UPPER[usize::from(b >> 4)]);
        buf.push(HEX_UPPER[usize::from(b & 0x0F)]);
        buf.push(b' ');
    }
    buf.pop();
    // Every byte pushed is ASCII, so this cannot fail; fall back to lossy just in case.
    match String::from_utf8(buf) {
        Ok(s) => out.push_str(&s),
        Err(e) => out.push_str(&String::from_utf8_lossy(e.as_bytes())),
    }
}

/// `bytes` as upper-case hex pairs separated by spaces.
pub fn format_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    format_hex_into(bytes, &mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        let want = vec![0x48, 0x65, 0x6C];
        for input in [
            "48 65 6C",
            "48656C",
            "0x48,0x65,0x6C",
            "0x48, 0x65 ,0x6c",
            "  48\t65\n6c  ",
            "48:65:6C",
            "48-65-6C",
            "4865 6C",
            "0X48 0x656C",
        ] {
            assert_eq!(parse_hex(input), Ok(want.clone()), "input {input:?}");
        }
        assert_eq!(parse_hex(""), Ok(vec![]));
        assert_eq!(parse_hex("  , "), Ok(vec![]));
    }

    #[test]
    fn bad_char_names_position() {
        let err = parse_hex("48 6G").unwrap_err();
        assert_eq!(
            err,
            HexError::BadChar {
                ch: 'G',
                position: 5
            }
        );
        assert!(err.to_string().contains("position 5"), "{err}");
        let err = parse_hex("zz").unwrap_err();
        assert_eq!(err.position(), 1);
    }

    #[test]
    fn odd_digits_names_group_and_position() {
        let err = parse_hex("48 656").unwrap_err();
        assert_eq!(
            err,
            HexError::OddDigits {
                group: "656".into(),
                digits: 3,
                position: 4
            }
        );
        assert!(err.to_string().contains("odd number"), "{err}");
        assert_eq!(
            parse_hex("0x").unwrap_err(),
            HexError::NoDigits { position: 1 }
        );
        assert_eq!(parse_hex("4").unwrap_err().position(), 1);
    }

    #[test]
    fn format_round_trips() {
        let all: Vec<u8> = (0..=255).collect();
        let text = format_hex(&all);
        assert_eq!(&text[..8], "00 01 02");
        assert_eq!(&text[text.len() - 5..], "FE FF");
        assert_eq!(parse_hex(&text).unwrap(), all);
        assert_eq!(format_hex(&[]), "");
        assert_eq!(format_hex(&[0xC4, 0xE3, 0xBA, 0xC3]), "C4 E3 BA C3");
    }
}
