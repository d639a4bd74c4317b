//! The display decoders behind [`TextEncoding::decode_for_display`]: bytes in, visible UTF-8
//! out, with controls and invalid bytes as escapes (`\r`, `\x1B`, `\u{85}`).
//!
//! Random bytes are mostly escapes (about 3.3 output bytes per input byte), so the cost per
//! character is what decides how fast binary is shown. These decoders write into a `Vec<u8>`
//! through a zero-filled window opened one block ahead: every character or escape is one
//! fixed-size copy from a table at a cursor, with no capacity check, no `str` validation of
//! short runs and no `format!`. Printable ASCII is copied eight bytes at a time. What they
//! write is UTF-8 by construction, checked once for the whole output by [`push_checked`].
//!
//! [`TextEncoding::decode_for_display`]: super::TextEncoding::decode_for_display

use std::cell::RefCell;
use std::sync::OnceLock;

use encoding_rs::{DecoderResult, Encoding};

use super::encoding::push_display_char;

/// Input bytes per output window: its few KiB of zeroes stay in the cache between blocks.
const BLOCK: usize = 4096;

/// Largest output of one input byte, in any decoder here (`\xNN`; `\u{FEFF}` is 8 bytes of 3).
const MAX_OUT_PER_BYTE: usize = 4;

/// Spare bytes past the worst case, for the fixed 8-byte copies and a sequence that starts in
/// a block and ends up to 3 bytes after it.
const SLACK: usize = 32;

/// Opens `room` zeroed bytes at the end of `out`, lets `fill` write from their start and
/// return how many it wrote, and cuts the rest away.
fn with_window(out: &mut Vec<u8>, room: usize, fill: impl FnOnce(&mut [u8]) -> usize) {
    let start = out.len();
    out.resize(start + room, 0);
    let written = fill(&mut out[start..]);
    out.truncate(start + written);
}

/// Runs `decode` into this thread's scratch buffer and appends what it wrote to `out` (see
/// [`push_checked`]). A fresh buffer for each payload of random bytes (output four times its
/// size) cost page faults and copies as it grew; up to 1 MiB is kept between calls.
pub fn push_through_scratch(out: &mut String, decode: impl FnOnce(&mut Vec<u8>)) {
    const KEEP: usize = 1 << 20;
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with_borrow_mut(|buf| {
        buf.clear();
        decode(buf);
        push_checked(buf, out);
        if buf.capacity() > KEEP {
            *buf = Vec::new();
        }
    });
}

/// Appends what the decoders wrote to `out`. They write only whole UTF-8 characters, but a
/// `String` wants proof: `simdutf8` checks it at many GB/s, where `String::from_utf8` took
/// most of the time on output that mixes ASCII escapes with other characters (random bytes
/// as windows-1252: 86 against 690 MiB/s as ASCII). If the check ever failed, the text would
/// show U+FFFD rather than panic.
fn push_checked(bytes: &[u8], out: &mut String) {
    if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        out.push_str(text);
    } else {
        debug_assert!(false, "a display decoder wrote invalid UTF-8");
        out.push_str(&String::from_utf8_lossy(bytes));
    }
}

/// A table entry: the first `len` bytes of `text` are what one input byte shows as.
#[derive(Clone, Copy)]
struct Shown<const N: usize> {
    text: [u8; N],
    len: u8,
}

const HEX: &[u8; 16] = b"0123456789ABCDEF";

/// `\xNN` for every byte.
const BYTE_ESCAPES: [[u8; 4]; 256] = {
    let mut table = [[0u8; 4]; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = [b'\\', b'x', HEX[b >> 4], HEX[b & 0x0F]];
        b += 1;
    }
    table
};

/// What each byte shows as on its own: printable ASCII as itself, `\r` `\n` `\t`, and `\xNN`
/// for the other controls and for every byte above 0x7F (in UTF-8 such a byte is invalid
/// unless it leads a valid sequence, which is then copied instead).
const BYTE_SHOWN: [Shown<4>; 256] = {
    let mut table = [Shown {
        text: [0; 4],
        len: 0,
    }; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'\r' => Shown {
                text: *b"\\r\0\0",
                len: 2,
            },
            b'\n' => Shown {
                text: *b"\\n\0\0",
                len: 2,
            },
            b'\t' => Shown {
                text: *b"\\t\0\0",
                len: 2,
            },
            0x20..=0x7E => Shown {
                text: [b as u8, 0, 0, 0],
                len: 1,
            },
            _ => Shown {
                text: BYTE_ESCAPES[b],
                len: 4,
            },
        };
        b += 1;
    }
    table
};

/// For each byte that can lead a multi-byte UTF-8 sequence: the sequence's length and the
/// range of its second byte (Unicode table 3-7). `(0, 0, 0)` for every other byte.
const UTF8_LEADS: [(u8, u8, u8); 256] = {
    let mut table = [(0u8, 0u8, 0u8); 256];
    let mut b = 0xC2;
    while b <= 0xF4 {
        table[b] = match b {
            0xC2..=0xDF => (2, 0x80, 0xBF),
            0xE0 => (3, 0xA0, 0xBF),
            0xED => (3, 0x80, 0x9F),
            0xE1..=0xEF => (3, 0x80, 0xBF),
            0xF0 => (4, 0x90, 0xBF),
            0xF4 => (4, 0x80, 0x8F),
            _ => (4, 0x80, 0xBF),
        };
        b += 1;
    }
    table
};

/// `\u{80}` … `\u{9F}`: the C1 controls, eight bytes each of which six are the escape.
const C1_ESCAPES: [[u8; 8]; 32] = {
    let mut table = [[0u8; 8]; 32];
    let mut i = 0;
    while i < 32 {
        let c = 0x80 + i;
        table[i] = [b'\\', b'u', b'{', HEX[c >> 4], HEX[c & 0x0F], b'}', 0, 0];
        i += 1;
    }
    table
};

/// Whether all eight bytes of `word` are printable ASCII (0x20..=0x7E).
fn all_plain(word: u64) -> bool {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // A byte at or above 0x80 sets its high bit; one below 0x20 sets it in `w - 0x20`
    // (and not in `w`); 0x7F becomes 0x80 when 1 is added (bytes below 0x80 do not carry).
    let below_space = word.wrapping_sub(LOW * 0x20) & !word;
    ((word | below_space | word.wrapping_add(LOW)) & HIGH) == 0
}

/// The eight bytes at `bytes[i]`, if they are all printable ASCII. The loops check this at
/// every position first, a branch that is predictable on text (mostly taken) and on random
/// bytes (almost never), unlike a branch on each byte's class.
fn plain_word(bytes: &[u8], i: usize) -> Option<&[u8; 8]> {
    let word: &[u8; 8] = bytes.get(i..i + 8)?.try_into().ok()?;
    all_plain(u64::from_le_bytes(*word)).then_some(word)
}

/// The length of the valid multi-byte UTF-8 sequence at `bytes[i]`, or 0 if none starts
/// there (an ASCII byte, a continuation byte, an invalid lead or a broken sequence).
///
/// Each check gives an integer that is 0 when it passes, and only their OR is compared: a
/// chain of `&&` (or of `&` on booleans, which the compiler splits again) is a branch per
/// check, mispredicted on random bytes at nearly every lead, a fifth of them.
fn utf8_sequence_len(bytes: &[u8], i: usize) -> usize {
    let lead = UTF8_LEADS[usize::from(bytes[i])];
    // Past the end reads as 0, which is neither a continuation byte nor in `lo..=hi`.
    let next = |k: usize| u32::from(bytes.get(i + k).copied().unwrap_or(0));
    let (lo, hi) = (u32::from(lead.1), u32::from(lead.2));
    // 0 when lo <= b1 <= hi: both differences are then non-negative (no sign bit).
    let second = (next(1).wrapping_sub(lo) | hi.wrapping_sub(next(1))) >> 31;
    let need = |n: u8| if lead.0 >= n { 0xFF } else { 0 };
    let third = ((next(2) & 0xC0) ^ 0x80) & need(3);
    let fourth = ((next(3) & 0xC0) ^ 0x80) & need(4);
    let not_lead = u32::from(lead.0 == 0);
    if (not_lead | second | third | fourth) == 0 {
        usize::from(lead.0)
    } else {
        0
    }
}

/// UTF-8 in one pass. Each byte that starts no valid sequence becomes `\xNN` and decoding
/// goes on at the next byte, which gives the WHATWG decoder's result: the bytes of a maximal
/// invalid subpart after its first are continuation bytes, which never start a sequence.
pub fn utf8(bytes: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < bytes.len() {
        let end = bytes.len().min(i + BLOCK);
        with_window(out, (end - i) * MAX_OUT_PER_BYTE + SLACK, |dst| {
            let mut o = 0;
            while i < end {
                if let Some(word) = plain_word(bytes, i) {
                    dst[o..o + 8].copy_from_slice(word);
                    o += 8;
                    i += 8;
                    continue;
                }
                // Not all printable: show the next eight bytes one by one (a sequence may
                // run past them) before looking at a word again.
                let group_end = bytes.len().min(i + 8);
                while i < group_end {
                    let len = utf8_sequence_len(bytes, i);
                    if len > 0 {
                        o += push_utf8_char(&bytes[i..i + len], &mut dst[o..]);
                        i += len;
                        continue;
                    }
                    let shown = BYTE_SHOWN[usize::from(bytes[i])];
                    dst[o..o + 4].copy_from_slice(&shown.text);
                    o += usize::from(shown.len);
                    i += 1;
                }
            }
            o
        });
    }
}

/// Writes one valid multi-byte UTF-8 sequence at the start of `dst` as it shows (itself, or
/// `\u{…}` for C1 controls, U+FEFF and U+FFFD) and returns the bytes written.
fn push_utf8_char(seq: &[u8], dst: &mut [u8]) -> usize {
    match *seq {
        [0xC2, second @ 0x80..=0x9F] => {
            dst[..8].copy_from_slice(&C1_ESCAPES[usize::from(second - 0x80)]);
            6
        }
        [0xEF, 0xBB, 0xBF] => {
            dst[..8].copy_from_slice(b"\\u{FEFF}");
            8
        }
        [0xEF, 0xBF, 0xBD] => {
            dst[..8].copy_from_slice(b"\\u{FFFD}");
            8
        }
        _ => {
            dst[..seq.len()].copy_from_slice(seq);
            seq.len()
        }
    }
}

/// UTF-16: an unpaired surrogate shows as its two bytes, a trailing odd byte as itself.
pub fn utf16(bytes: &[u8], big_endian: bool, out: &mut Vec<u8>) {
    let unit_at = |i: usize| {
        let pair = [bytes[i], bytes[i + 1]];
        if big_endian {
            u16::from_be_bytes(pair)
        } else {
            u16::from_le_bytes(pair)
        }
    };
    let even = bytes.len() & !1;
    let mut i = 0;
    while i < even {
        let end = even.min(i + BLOCK);
        with_window(out, (end - i) * MAX_OUT_PER_BYTE + SLACK, |dst| {
            let mut o = 0;
            while i < end {
                let unit = unit_at(i);
                let (c, len) = match unit {
                    0xD800..=0xDBFF if i + 4 <= even => {
                        let low = unit_at(i + 2);
                        let c = (0xDC00..=0xDFFF).contains(&low).then(|| {
                            0x10000 + ((u32::from(unit) - 0xD800) << 10) + (u32::from(low) - 0xDC00)
                        });
                        (c.and_then(char::from_u32), 4)
                    }
                    _ => (char::from_u32(u32::from(unit)), 2),
                };
                match c {
                    Some(c) => o += push_char(c, &mut dst[o..]),
                    None => {
                        for &b in &bytes[i..i + 2] {
                            dst[o..o + 4].copy_from_slice(&BYTE_ESCAPES[usize::from(b)]);
                            o += 4;
                        }
                    }
                }
                i += if c.is_some() { len } else { 2 };
            }
            o
        });
    }
    for &b in &bytes[even..] {
        out.extend_from_slice(&BYTE_ESCAPES[usize::from(b)]);
    }
}

/// Writes `c` as it shows at the start of `dst` and returns the bytes written.
fn push_char(c: char, dst: &mut [u8]) -> usize {
    if let Ok(b) = u8::try_from(c)
        && b < 0x80
    {
        let shown = BYTE_SHOWN[usize::from(b)];
        dst[..4].copy_from_slice(&shown.text);
        return usize::from(shown.len);
    }
    let mut utf8 = [0u8; 4];
    let len = c.encode_utf8(&mut utf8).len();
    push_utf8_char(&utf8[..len], dst)
}

/// What each byte of a single-byte encoding shows as (at most 6 bytes: `\u{81}`).
pub struct ByteTable([Shown<8>; 256]);

impl ByteTable {
    fn new(show: impl Fn(u8, &mut String)) -> Self {
        Self(std::array::from_fn(|b| {
            let mut s = String::new();
            show(b as u8, &mut s);
            let mut text = [0u8; 8];
            let len = s.len().min(8);
            debug_assert_eq!(len, s.len(), "byte {b:#04X} shows as more than 8 bytes");
            text[..len].copy_from_slice(&s.as_bytes()[..len]);
            Shown {
                text,
                len: len as u8,
            }
        }))
    }
}

/// ASCII: bytes above 0x7F are invalid.
pub fn ascii_table() -> &'static ByteTable {
    static TABLE: OnceLock<ByteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        ByteTable::new(|b, out| {
            if b.is_ascii() {
                push_display_char(char::from(b), out);
            } else {
                out.push_str("\\x");
                out.push(char::from(HEX[usize::from(b >> 4)]));
                out.push(char::from(HEX[usize::from(b & 0x0F)]));
            }
        })
    })
}

/// windows-1252, the Latin-1 that is really used: every byte is a character.
pub fn windows_1252_table() -> &'static ByteTable {
    static TABLE: OnceLock<ByteTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        ByteTable::new(|b, out| {
            let byte = [b];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&byte);
            text.chars().for_each(|c| push_display_char(c, out));
        })
    })
}

/// A single-byte encoding: one table copy per byte, printable ASCII a word at a time.
pub fn single_byte(bytes: &[u8], table: &ByteTable, out: &mut Vec<u8>) {
    for block in bytes.chunks(BLOCK) {
        with_window(out, block.len() * 6 + SLACK, |dst| {
            let mut o = 0;
            let mut i = 0;
            while i < block.len() {
                if let Some(word) = plain_word(block, i) {
                    dst[o..o + 8].copy_from_slice(word);
                    o += 8;
                    i += 8;
                    continue;
                }
                let group_end = block.len().min(i + 8);
                for &b in &block[i..group_end] {
                    let shown = table.0[usize::from(b)];
                    dst[o..o + 8].copy_from_slice(&shown.text);
                    o += usize::from(shown.len);
                }
                i = group_end;
            }
            o
        });
    }
}

/// What a multi-byte CJK encoding (GBK/GB18030, Big5, Shift-JIS, EUC-JP, EUC-KR) shows for
/// each byte at or above 0x80 and the byte after it, read once from `encoding_rs` itself.
///
/// These decoders are in their first state again after every character and every error, so
/// most of what a lead byte and its follower show does not depend on anything else: a table
/// entry then holds that text, and decoding is one copy per pair, however malformed the input
/// (random bytes went through `encoding_rs` a malformed sequence at a time, about a fifth of
/// text's speed). An entry that does depend on later bytes (GB18030's four-byte sequences,
/// EUC-JP's three-byte JIS X 0212, pairs showing more than 8 bytes) is `None`: from there the
/// bytes go to `encoding_rs` up to the next ASCII byte that is not a digit, after which each
/// of these decoders is in its first state again.
pub struct PairTable {
    /// Per lead byte 0x80..=0xFF: `Ok` when it stands alone whatever follows (a one-byte
    /// character, or an error of its own), else an entry per following byte.
    leads: Vec<Result<Shown<8>, Box<[Option<Shown<8>>; 256]>>>,
    /// GBK/GB18030: a lead and a digit start a four-byte sequence, decided here by the
    /// rules `encoding_rs` follows (so random bytes rarely leave the table).
    gb18030: bool,
}

/// Followers tried to see whether a lead and its follower leave the decoder in its first
/// state: ASCII letters and digits, and bytes that start or continue sequences in each
/// encoding.
const PROBES: [u8; 14] = [
    0x00, 0x30, 0x39, 0x41, 0x7F, 0x80, 0x81, 0x8E, 0x8F, 0xA0, 0xA1, 0xDF, 0xFE, 0xFF,
];

/// Two-byte followers: a character in each encoding, and the start of GB18030's four-byte
/// form.
const PAIR_PROBES: [(u8, u8); 4] = [(0xA4, 0x40), (0xB0, 0xA1), (0x88, 0x9F), (0x81, 0x30)];

fn shown8(text: &[u8]) -> Option<Shown<8>> {
    (text.len() <= 8).then(|| {
        let mut t = [0u8; 8];
        t[..text.len()].copy_from_slice(text);
        Shown {
            text: t,
            len: text.len() as u8,
        }
    })
}

impl PairTable {
    fn new(enc: &'static Encoding) -> Self {
        let decode = |bytes: &[u8]| {
            let mut v = Vec::new();
            with_encoding_rs(enc, bytes, &mut v);
            v
        };
        let alone: Vec<Vec<u8>> = (0..=255u8).map(|b| decode(&[b])).collect();
        let leads = (0x80..=0xFFu8)
            .map(|lead| {
                let single = &alone[usize::from(lead)];
                // Alone whatever follows: also when what follows is a lead with its follower
                // (an error may swallow a non-ASCII follower).
                let stands_alone = (0..=255u8).all(|x| {
                    decode(&[lead, x]) == [single.as_slice(), &alone[usize::from(x)]].concat()
                        && (x < 0x80
                            || [0x40, 0xA1].iter().all(|&y| {
                                decode(&[lead, x, y]) == [single.clone(), decode(&[x, y])].concat()
                            }))
                });
                if stands_alone && let Some(s) = shown8(single) {
                    return Ok(s);
                }
                let pairs: Vec<Option<Shown<8>>> = (0..=255u8)
                    .map(|t| {
                        let pair = decode(&[lead, t]);
                        let free = PROBES.iter().all(|&x| {
                            decode(&[lead, t, x])
                                == [pair.as_slice(), &alone[usize::from(x)]].concat()
                        }) && PAIR_PROBES.iter().all(|&(x, y)| {
                            decode(&[lead, t, x, y]) == [pair.clone(), decode(&[x, y])].concat()
                        });
                        if free { shown8(&pair) } else { None }
                    })
                    .collect();
                let pairs: Box<[Option<Shown<8>>; 256]> = pairs
                    .into_boxed_slice()
                    .try_into()
                    .unwrap_or_else(|_| Box::new([None; 256]));
                Err(pairs)
            })
            .collect();
        let gb18030 = enc == encoding_rs::GBK || enc == encoding_rs::GB18030;
        Self { leads, gb18030 }
    }
}

/// What GB18030 does with a lead at `i` followed by a digit: the four bytes lead, digit,
/// lead, digit are one sequence, decoded by `encoding_rs` (an invalid one is one error of all
/// four); anything else mid-input is an error of the lead alone, the digit then read as
/// itself. `None` near the end of the input, where
/// the rest goes to `encoding_rs`.
fn gb18030_four(bytes: &[u8], i: usize, enc: &'static Encoding) -> Option<(Vec<u8>, usize)> {
    let third = *bytes.get(i + 2)?;
    if !(0x81..=0xFE).contains(&third) {
        return Some((BYTE_ESCAPES[usize::from(bytes[i])].to_vec(), 1));
    }
    let fourth = *bytes.get(i + 3)?;
    if !fourth.is_ascii_digit() {
        return Some((BYTE_ESCAPES[usize::from(bytes[i])].to_vec(), 1));
    }
    // A whole four-byte sequence, a character or (`encoding_rs` takes all four) an error.
    let mut shown = Vec::new();
    with_encoding_rs(enc, &bytes[i..i + 4], &mut shown);
    Some((shown, 4))
}

/// The table of `enc`, built on first use (a few tens of milliseconds).
pub fn pair_table(enc: &'static Encoding) -> &'static PairTable {
    static TABLES: [OnceLock<PairTable>; 5] = [const { OnceLock::new() }; 5];
    let slot = if enc == encoding_rs::BIG5 {
        1
    } else if enc == encoding_rs::SHIFT_JIS {
        2
    } else if enc == encoding_rs::EUC_JP {
        3
    } else if enc == encoding_rs::EUC_KR {
        4
    } else {
        // GBK and GB18030 decode alike in `encoding_rs` (the WHATWG gb18030 decoder).
        0
    };
    TABLES[slot].get_or_init(|| PairTable::new(enc))
}

/// The end of the bytes `encoding_rs` must see from a lead at `i` whose entry depends on what
/// follows: just past the next ASCII byte that is not a digit, or the end.
fn resync_end(bytes: &[u8], i: usize) -> usize {
    bytes[i + 1..]
        .iter()
        .position(|&b| b < 0x80 && !b.is_ascii_digit())
        .map_or(bytes.len(), |k| i + 1 + k + 1)
}

/// A multi-byte CJK encoding through its [`PairTable`]: printable ASCII a word at a time, a
/// table copy per character or error, `encoding_rs` only where an entry needs what follows.
pub fn multi_byte(bytes: &[u8], table: &PairTable, enc: &'static Encoding, out: &mut Vec<u8>) {
    let mut i = 0;
    let mut hard: Vec<u8> = Vec::new();
    while i < bytes.len() {
        let end = bytes.len().min(i + BLOCK);
        let mut handoff = None;
        with_window(out, (end - i) * MAX_OUT_PER_BYTE + SLACK, |dst| {
            let mut o = 0;
            while i < end {
                if let Some(word) = plain_word(bytes, i) {
                    dst[o..o + 8].copy_from_slice(word);
                    o += 8;
                    i += 8;
                    continue;
                }
                let b = bytes[i];
                if b < 0x80 {
                    let shown = BYTE_SHOWN[usize::from(b)];
                    dst[o..o + 4].copy_from_slice(&shown.text);
                    o += usize::from(shown.len);
                    i += 1;
                    continue;
                }
                let entry = match &table.leads[usize::from(b - 0x80)] {
                    Ok(single) => Some((*single, 1)),
                    Err(pairs) => bytes
                        .get(i + 1)
                        .and_then(|&t| pairs[usize::from(t)])
                        .map(|s| (s, 2)),
                };
                if let Some((shown, len)) = entry {
                    dst[o..o + 8].copy_from_slice(&shown.text);
                    o += usize::from(shown.len);
                    i += len;
                } else {
                    // Leave the window; `encoding_rs` takes it from here.
                    handoff = Some(i);
                    break;
                }
            }
            o
        });
        if let Some(at) = handoff {
            let four = (table.gb18030 && bytes.get(at + 1).is_some_and(u8::is_ascii_digit))
                .then(|| gb18030_four(bytes, at, enc))
                .flatten();
            if let Some((shown, len)) = four {
                out.extend_from_slice(&shown);
                i = at + len;
            } else {
                let stop = resync_end(bytes, at);
                hard.clear();
                with_encoding_rs(enc, &bytes[at..stop], &mut hard);
                out.extend_from_slice(&hard);
                i = stop;
            }
        }
    }
}

/// Scratch for one `encoding_rs` call: big enough that text needs few calls, small enough to
/// stay in the cache (and to be cheap for the short payloads the window shows).
const SCRATCH_MAX: usize = 16 * 1024;

/// Room every call gets, so that the decoder can always write its next character.
const SCRATCH_MIN: usize = 64;

/// The CJK encodings: `encoding_rs`'s decoder writes into a small scratch `str` and stops at
/// each malformed sequence, which is escaped before it goes on with the same decoder.
///
/// Its `decode_to_string` variant is not used: it touches every page of the `String`'s spare
/// capacity on each call, so with room for the whole payload each malformed byte cost a pass
/// over hundreds of pages (GBK random bytes: 6 MiB/s for 512 KiB reads).
pub fn with_encoding_rs(enc: &'static Encoding, bytes: &[u8], out: &mut Vec<u8>) {
    let mut decoder = enc.new_decoder_without_bom_handling();
    let room = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(SCRATCH_MAX)
        .clamp(SCRATCH_MIN, SCRATCH_MAX);
    let mut scratch = "\0".repeat(room);
    let mut pos = 0;
    loop {
        let (result, read, written) =
            decoder.decode_to_str_without_replacement(&bytes[pos..], &mut scratch, true);
        pos += read;
        utf8(&scratch.as_bytes()[..written], out);
        match result {
            DecoderResult::InputEmpty => return,
            DecoderResult::OutputFull => {
                if read == 0 && written == 0 {
                    scratch.push_str(&"\0".repeat(scratch.len()));
                }
            }
            DecoderResult::Malformed(bad, after) => {
                let end = pos.saturating_sub(usize::from(after));
                let start = end.saturating_sub(usize::from(bad));
                for &b in &bytes[start..end] {
                    out.extend_from_slice(&BYTE_ESCAPES[usize::from(b)]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table decoder shows exactly what `encoding_rs` a malformed sequence at a time
    /// shows, for random bytes, for text, and for every lead with every follower.
    #[test]
    fn cjk_tables_show_what_encoding_rs_shows() {
        let encodings = [
            encoding_rs::GBK,
            encoding_rs::GB18030,
            encoding_rs::BIG5,
            encoding_rs::SHIFT_JIS,
            encoding_rs::EUC_JP,
            encoding_rs::EUC_KR,
        ];
        let mut seed = 0x5EED_u64;
        let mut random = |n: usize, high: bool| -> Vec<u8> {
            (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6_364_136_223_846_793_005)
                        .wrapping_add(1_442_695_040_888_963_407);
                    let b = (seed >> 56) as u8;
                    if high { b | 0x80 } else { b }
                })
                .collect()
        };
        for enc in encodings {
            let table = pair_table(enc);
            let check = |bytes: &[u8]| {
                let mut want = Vec::new();
                with_encoding_rs(enc, bytes, &mut want);
                let mut got = Vec::new();
                multi_byte(bytes, table, enc, &mut got);
                assert!(
                    got == want,
                    "{}: {:02X?}\n got {:?}\nwant {:?}",
                    enc.name(),
                    &bytes[..bytes.len().min(64)],
                    String::from_utf8_lossy(&got),
                    String::from_utf8_lossy(&want)
                );
            };
            for _ in 0..40 {
                check(&random(3000, false));
                check(&random(500, true));
            }
            // Digits after leads (GB18030's four-byte sequences), short inputs, every pair.
            for len in 0..12 {
                for _ in 0..200 {
                    let mut b = random(len, false);
                    for (k, x) in b.iter_mut().enumerate() {
                        if k % 2 == 1 && *x & 1 == 0 {
                            *x = b'0' + (*x % 10);
                        }
                    }
                    check(&b);
                }
            }
            for lead in 0x80..=0xFFu8 {
                let mut b = Vec::with_capacity(256 * 3);
                for t in 0..=255u8 {
                    b.extend_from_slice(&[lead, t, b' ']);
                }
                check(&b);
            }
            let (text, _, _) = enc.encode("温度 25.5℃ 湿度 40% 设备编号 A-17；東京 서울 ｶﾀｶﾅ\r\n");
            check(&text.repeat(50));
        }
    }

    #[test]
    fn a_word_is_plain_only_if_every_byte_is_printable_ascii() {
        for b in 0..=255u8 {
            for at in 0..8 {
                let mut word = *b"abcdefgh";
                word[at] = b;
                assert_eq!(
                    all_plain(u64::from_le_bytes(word)),
                    (0x20..0x7F).contains(&b),
                    "byte {b:#04X} at {at}"
                );
            }
        }
        // Two odd bytes at once, the borrow of one next to the other.
        assert!(!all_plain(u64::from_le_bytes(*b"\x00\x7Fabcdef")));
        assert!(!all_plain(u64::from_le_bytes(*b"abcdef\x1F\x80")));
        assert!(all_plain(u64::from_le_bytes(*b" ~ ~ ~ ~")));
    }

    #[test]
    fn every_multi_byte_lead_and_second_byte_agrees_with_std() {
        for lead in 0x80..=0xFFu8 {
            for second in 0..=0xFFu8 {
                let bytes = [lead, second, 0x80, 0x80, 0x80];
                let expected = std::str::from_utf8(&bytes[..4])
                    .ok()
                    .and_then(|s| s.chars().next())
                    .or_else(|| {
                        std::str::from_utf8(&bytes[..3])
                            .ok()
                            .and_then(|s| s.chars().next())
                    })
                    .or_else(|| {
                        std::str::from_utf8(&bytes[..2])
                            .ok()
                            .and_then(|s| s.chars().next())
                    })
                    .map_or(0, char::len_utf8);
                assert_eq!(
                    utf8_sequence_len(&bytes, 0),
                    expected,
                    "{lead:#04X} {second:#04X}"
                );
            }
        }
    }
}
/// Every input of up to four bytes from an alphabet of leads, followers and digits (where the
/// multi-byte forms differ) shows as `encoding_rs` shows it.
#[cfg(test)]
mod cjk_short_inputs {
    use super::*;

    #[test]
    fn every_short_input_shows_as_encoding_rs_shows() {
        let alphabet = [
            0x30u8, 0x35, 0x41, 0x7F, 0x80, 0x81, 0x84, 0x8E, 0x8F, 0x90, 0xA1, 0xE3, 0xFE, 0xFF,
        ];
        for enc in [
            encoding_rs::GB18030,
            encoding_rs::BIG5,
            encoding_rs::SHIFT_JIS,
            encoding_rs::EUC_JP,
            encoding_rs::EUC_KR,
        ] {
            let table = pair_table(enc);
            for len in 1..=4u32 {
                for k in 0..alphabet.len().pow(len) {
                    let mut x = k;
                    let bytes: Vec<u8> = (0..len)
                        .map(|_| {
                            let v = alphabet[x % alphabet.len()];
                            x /= alphabet.len();
                            v
                        })
                        .collect();
                    let mut want = Vec::new();
                    with_encoding_rs(enc, &bytes, &mut want);
                    let mut got = Vec::new();
                    multi_byte(&bytes, table, enc, &mut got);
                    assert!(
                        got == want,
                        "{}: {bytes:02X?}: got {:?} want {:?}",
                        enc.name(),
                        String::from_utf8_lossy(&got),
                        String::from_utf8_lossy(&want)
                    );
                }
            }
        }
    }
}
