//! Checksums devices put at the end of their messages: the CRCs of the `crc` crate's catalogue
//! that field protocols use, and the simple sums (XOR, SUM8, SUM16, LRC). Pure functions: the
//! session's stages append them on send and verify them on receive, the calculator shows them
//! all.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crc::{Algorithm, Crc};
use rust_i18n::t;

/// The algorithms offered, in the order pickers list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumKind {
    Crc8,
    Crc8Maxim,
    Crc16Modbus,
    Crc16CcittFalse,
    Crc16Xmodem,
    Crc16Kermit,
    Crc16Arc,
    Crc16X25,
    Crc16Usb,
    Crc32,
    Crc32C,
    Crc32Bzip2,
    Crc32Mpeg2,
    Xor8,
    Sum8,
    Sum16,
    Lrc,
}

/// Which byte of a checksum wider than one byte goes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ByteOrder {
    /// Most significant byte first.
    Big,
    /// Least significant byte first (Modbus RTU).
    Little,
}

const CRC_8: Crc<u8> = Crc::<u8>::new(&crc::CRC_8_SMBUS);
const CRC_8_MAXIM: Crc<u8> = Crc::<u8>::new(&crc::CRC_8_MAXIM_DOW);
const CRC_16_MODBUS: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_MODBUS);
const CRC_16_CCITT_FALSE: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_IBM_3740);
const CRC_16_XMODEM: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_XMODEM);
const CRC_16_KERMIT: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_KERMIT);
const CRC_16_ARC: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_ARC);
const CRC_16_X25: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);
const CRC_16_USB: Crc<u16> = Crc::<u16>::new(&crc::CRC_16_USB);
const CRC_32: Crc<u32> = Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
const CRC_32C: Crc<u32> = Crc::<u32>::new(&crc::CRC_32_ISCSI);
const CRC_32_BZIP2: Crc<u32> = Crc::<u32>::new(&crc::CRC_32_BZIP2);
const CRC_32_MPEG2: Crc<u32> = Crc::<u32>::new(&crc::CRC_32_MPEG_2);

impl ChecksumKind {
    pub const ALL: [Self; 17] = [
        Self::Crc8,
        Self::Crc8Maxim,
        Self::Crc16Modbus,
        Self::Crc16CcittFalse,
        Self::Crc16Xmodem,
        Self::Crc16Kermit,
        Self::Crc16Arc,
        Self::Crc16X25,
        Self::Crc16Usb,
        Self::Crc32,
        Self::Crc32C,
        Self::Crc32Bzip2,
        Self::Crc32Mpeg2,
        Self::Xor8,
        Self::Sum8,
        Self::Sum16,
        Self::Lrc,
    ];

    /// The catalogue name (as reveng's catalogue and the `crc` crate write it).
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc8 => "CRC-8",
            Self::Crc8Maxim => "CRC-8/MAXIM",
            Self::Crc16Modbus => "CRC-16/MODBUS",
            Self::Crc16CcittFalse => "CRC-16/CCITT-FALSE",
            Self::Crc16Xmodem => "CRC-16/XMODEM",
            Self::Crc16Kermit => "CRC-16/KERMIT",
            Self::Crc16Arc => "CRC-16/ARC",
            Self::Crc16X25 => "CRC-16/X-25",
            Self::Crc16Usb => "CRC-16/USB",
            Self::Crc32 => "CRC-32",
            Self::Crc32C => "CRC-32C",
            Self::Crc32Bzip2 => "CRC-32/BZIP2",
            Self::Crc32Mpeg2 => "CRC-32/MPEG-2",
            Self::Xor8 => "XOR",
            Self::Sum8 => "SUM8",
            Self::Sum16 => "SUM16",
            Self::Lrc => "LRC",
        }
    }

    /// What it is, in a few words, for the picker's hover text.
    pub fn about(self) -> Cow<'static, str> {
        match self {
            Self::Crc16Modbus => t!("codec.checksum.about.crc16_modbus"),
            Self::Crc16CcittFalse => t!("codec.checksum.about.crc16_ccitt_false"),
            Self::Crc16Kermit => t!("codec.checksum.about.crc16_kermit"),
            Self::Crc16X25 => t!("codec.checksum.about.crc16_x25"),
            Self::Crc32 => t!("codec.checksum.about.crc32"),
            Self::Crc32C => t!("codec.checksum.about.crc32c"),
            Self::Xor8 => t!("codec.checksum.about.xor8"),
            Self::Sum8 => t!("codec.checksum.about.sum8"),
            Self::Sum16 => t!("codec.checksum.about.sum16"),
            Self::Lrc => t!("codec.checksum.about.lrc"),
            _ => Cow::Borrowed(""),
        }
    }

    /// Bytes the checksum takes on the wire.
    pub fn width_bytes(self) -> usize {
        match self {
            Self::Crc8 | Self::Crc8Maxim | Self::Xor8 | Self::Sum8 | Self::Lrc => 1,
            Self::Crc16Modbus
            | Self::Crc16CcittFalse
            | Self::Crc16Xmodem
            | Self::Crc16Kermit
            | Self::Crc16Arc
            | Self::Crc16X25
            | Self::Crc16Usb
            | Self::Sum16 => 2,
            Self::Crc32 | Self::Crc32C | Self::Crc32Bzip2 | Self::Crc32Mpeg2 => 4,
        }
    }

    /// The byte order devices use for it: low byte first for Modbus, network order else.
    pub fn usual_order(self) -> ByteOrder {
        match self {
            Self::Crc16Modbus => ByteOrder::Little,
            _ => ByteOrder::Big,
        }
    }

    /// The checksum of `bytes` as a number.
    pub fn value(self, bytes: &[u8]) -> u32 {
        match self {
            Self::Crc8 => u32::from(CRC_8.checksum(bytes)),
            Self::Crc8Maxim => u32::from(CRC_8_MAXIM.checksum(bytes)),
            Self::Crc16Modbus => u32::from(CRC_16_MODBUS.checksum(bytes)),
            Self::Crc16CcittFalse => u32::from(CRC_16_CCITT_FALSE.checksum(bytes)),
            Self::Crc16Xmodem => u32::from(CRC_16_XMODEM.checksum(bytes)),
            Self::Crc16Kermit => u32::from(CRC_16_KERMIT.checksum(bytes)),
            Self::Crc16Arc => u32::from(CRC_16_ARC.checksum(bytes)),
            Self::Crc16X25 => u32::from(CRC_16_X25.checksum(bytes)),
            Self::Crc16Usb => u32::from(CRC_16_USB.checksum(bytes)),
            Self::Crc32 => CRC_32.checksum(bytes),
            Self::Crc32C => CRC_32C.checksum(bytes),
            Self::Crc32Bzip2 => CRC_32_BZIP2.checksum(bytes),
            Self::Crc32Mpeg2 => CRC_32_MPEG2.checksum(bytes),
            Self::Xor8 => u32::from(bytes.iter().fold(0u8, |a, &b| a ^ b)),
            Self::Sum8 => u32::from(bytes.iter().fold(0u8, |a, &b| a.wrapping_add(b))),
            Self::Sum16 => u32::from(
                bytes
                    .iter()
                    .fold(0u16, |a, &b| a.wrapping_add(u16::from(b))),
            ),
            Self::Lrc => u32::from(
                bytes
                    .iter()
                    .fold(0u8, |a, &b| a.wrapping_add(b))
                    .wrapping_neg(),
            ),
        }
    }

    /// The checksum of `bytes` as it goes on the wire, in `order`.
    pub fn wire_bytes(self, bytes: &[u8], order: ByteOrder) -> Vec<u8> {
        let value = self.value(bytes);
        let width = self.width_bytes();
        let be = value.to_be_bytes();
        let mut out = be[4 - width..].to_vec();
        if order == ByteOrder::Little {
            out.reverse();
        }
        out
    }

    /// The `crc` crate's parameters, where it is a CRC (for the calculator's details).
    pub fn crc_parameters(self) -> Option<String> {
        fn show<W: crc::Width + fmt::LowerHex>(a: &Algorithm<W>) -> String {
            format!(
                "width {} poly 0x{:x} init 0x{:x} refin {} refout {} xorout 0x{:x}", // i18n-exempt: the CRC catalogue's parameter names
                a.width, a.poly, a.init, a.refin, a.refout, a.xorout
            )
        }
        Some(match self {
            Self::Crc8 => show(&crc::CRC_8_SMBUS),
            Self::Crc8Maxim => show(&crc::CRC_8_MAXIM_DOW),
            Self::Crc16Modbus => show(&crc::CRC_16_MODBUS),
            Self::Crc16CcittFalse => show(&crc::CRC_16_IBM_3740),
            Self::Crc16Xmodem => show(&crc::CRC_16_XMODEM),
            Self::Crc16Kermit => show(&crc::CRC_16_KERMIT),
            Self::Crc16Arc => show(&crc::CRC_16_ARC),
            Self::Crc16X25 => show(&crc::CRC_16_IBM_SDLC),
            Self::Crc16Usb => show(&crc::CRC_16_USB),
            Self::Crc32 => show(&crc::CRC_32_ISO_HDLC),
            Self::Crc32C => show(&crc::CRC_32_ISCSI),
            Self::Crc32Bzip2 => show(&crc::CRC_32_BZIP2),
            Self::Crc32Mpeg2 => show(&crc::CRC_32_MPEG_2),
            Self::Xor8 | Self::Sum8 | Self::Sum16 | Self::Lrc => return None,
        })
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A checksum name nobody knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownChecksum(pub String);

impl fmt::Display for UnknownChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&t!(
            "codec.checksum.unknown",
            name = self.0,
            names = names()
        ))
    }
}

impl std::error::Error for UnknownChecksum {}

fn names() -> String {
    ChecksumKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Letters and digits only, lower case: `crc16-modbus`, `CRC-16/MODBUS` and `crc16modbus`
/// are the same name.
fn squash(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

impl FromStr for ChecksumKind {
    type Err = UnknownChecksum;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        let wanted = squash(name);
        let alias = match wanted.as_str() {
            "modbus" => Some(Self::Crc16Modbus),
            "ccitt" | "ccittfalse" | "crc16ibm3740" => Some(Self::Crc16CcittFalse),
            "xmodem" => Some(Self::Crc16Xmodem),
            "crc32isohdlc" => Some(Self::Crc32),
            "crc32iscsi" => Some(Self::Crc32C),
            "xor8" | "bcc" => Some(Self::Xor8),
            _ => None,
        };
        alias
            .or_else(|| {
                ChecksumKind::ALL
                    .into_iter()
                    .find(|k| squash(k.name()) == wanted)
            })
            .ok_or_else(|| UnknownChecksum(name.trim().to_owned()))
    }
}

/// A checksum as a session uses it: which, in which byte order, over the bytes from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChecksumSpec {
    pub kind: ChecksumKind,
    pub order: ByteOrder,
    /// Bytes at the start the checksum does not cover (a start byte, a sync word).
    pub start: usize,
}

/// What a received record's checksum said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Good,
    /// The record ends with `got`, but its bytes give `expected`.
    Bad {
        expected: Vec<u8>,
        got: Vec<u8>,
    },
    /// The record is too short to hold the covered bytes and the checksum.
    TooShort {
        len: usize,
        needed: usize,
    },
}

impl Verdict {
    pub fn is_good(&self) -> bool {
        matches!(self, Self::Good)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::codec::hex::format_hex;
        match self {
            Self::Good => f.write_str(&t!("codec.checksum.good")),
            Self::Bad { expected, got } => f.write_str(&t!(
                "codec.checksum.bad",
                got = format_hex(got),
                expected = format_hex(expected)
            )),
            Self::TooShort { len, needed } => {
                f.write_str(&t!("codec.checksum.too_short", len = len, needed = needed))
            }
        }
    }
}

impl ChecksumSpec {
    /// `kind` in its usual byte order, over the whole payload.
    pub fn usual(kind: ChecksumKind) -> Self {
        Self {
            kind,
            order: kind.usual_order(),
            start: 0,
        }
    }

    /// `payload` with its checksum appended (over the bytes from `start`; none if shorter).
    pub fn append(&self, mut payload: Vec<u8>) -> Vec<u8> {
        let covered = payload.get(self.start..).unwrap_or(&[]);
        let sum = self.kind.wire_bytes(covered, self.order);
        payload.extend_from_slice(&sum);
        payload
    }

    /// Checks a record that ends with its checksum.
    pub fn verify(&self, record: &[u8]) -> Verdict {
        let width = self.kind.width_bytes();
        let needed = self.start + width;
        if record.len() < needed {
            return Verdict::TooShort {
                len: record.len(),
                needed,
            };
        }
        let (body, got) = record.split_at(record.len() - width);
        let expected = self.kind.wire_bytes(&body[self.start..], self.order);
        if expected == got {
            Verdict::Good
        } else {
            Verdict::Bad {
                expected,
                got: got.to_vec(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_crc_gives_its_catalogue_check_value() {
        let check = |kind: ChecksumKind| kind.value(b"123456789");
        for (kind, expected) in [
            (ChecksumKind::Crc8, 0xF4),
            (ChecksumKind::Crc8Maxim, 0xA1),
            (ChecksumKind::Crc16Modbus, 0x4B37),
            (ChecksumKind::Crc16CcittFalse, 0x29B1),
            (ChecksumKind::Crc16Xmodem, 0x31C3),
            (ChecksumKind::Crc16Kermit, 0x2189),
            (ChecksumKind::Crc16Arc, 0xBB3D),
            (ChecksumKind::Crc16X25, 0x906E),
            (ChecksumKind::Crc16Usb, 0xB4C8),
            (ChecksumKind::Crc32, 0xCBF4_3926),
            (ChecksumKind::Crc32C, 0xE306_9283),
            (ChecksumKind::Crc32Bzip2, 0xFC89_1918),
            (ChecksumKind::Crc32Mpeg2, 0x0376_E6E7),
            // The sums of the ASCII digits 0x31..=0x39: 0x1DD.
            (ChecksumKind::Sum8, 0xDD),
            (ChecksumKind::Sum16, 0x01DD),
            (ChecksumKind::Lrc, 0x23),
            (ChecksumKind::Xor8, 0x31),
        ] {
            assert_eq!(check(kind), expected, "{kind}");
        }
    }

    #[test]
    fn modbus_read_request_gets_c5_cd_low_byte_first() {
        let spec = ChecksumSpec::usual(ChecksumKind::Crc16Modbus);
        let framed = spec.append(vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x0A]);
        assert_eq!(framed, [0x01, 0x03, 0x00, 0x00, 0x00, 0x0A, 0xC5, 0xCD]);
        assert_eq!(spec.verify(&framed), Verdict::Good);
        let mut broken = framed.clone();
        broken[2] = 0x01;
        assert!(matches!(spec.verify(&broken), Verdict::Bad { .. }));
        assert_eq!(
            spec.verify(&[0x01]),
            Verdict::TooShort { len: 1, needed: 2 }
        );
        let big = ChecksumSpec {
            order: ByteOrder::Big,
            ..spec
        };
        assert_eq!(
            big.append(vec![0x01, 0x03, 0x00, 0x00, 0x00, 0x0A])[6..],
            [0xCD, 0xC5]
        );
    }

    #[test]
    fn the_range_skips_the_start_bytes() {
        // NMEA-style: '$' is not covered.
        let spec = ChecksumSpec {
            kind: ChecksumKind::Xor8,
            order: ByteOrder::Big,
            start: 1,
        };
        let framed = spec.append(b"$AB".to_vec());
        assert_eq!(framed, [b'$', b'A', b'B', b'A' ^ b'B']);
        assert!(spec.verify(&framed).is_good());
    }

    #[test]
    fn names_read_in_any_spelling() {
        for kind in ChecksumKind::ALL {
            assert_eq!(kind.name().parse::<ChecksumKind>(), Ok(kind));
            assert_eq!(kind.name().to_lowercase().parse::<ChecksumKind>(), Ok(kind));
        }
        assert_eq!("crc16-modbus".parse(), Ok(ChecksumKind::Crc16Modbus));
        assert_eq!("modbus".parse(), Ok(ChecksumKind::Crc16Modbus));
        let e = "crc-17".parse::<ChecksumKind>().unwrap_err().to_string();
        assert!(
            e.contains("unknown checksum \"crc-17\"") && e.contains("CRC-16/MODBUS"),
            "{e}"
        );
    }
}
