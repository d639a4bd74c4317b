//! Layouts a user writes for a device's own protocol: named fields at fixed offsets, each a
//! number of a given width and byte order, raw bytes or text, with optional labels for
//! enumerated values. Saved and shared as JSON (one layout, or a list of them).
//!
//! Fields may overlap on purpose: device protocols often read the same bytes two ways (a
//! 32-bit counter and its two 16-bit halves, a status byte and the enum it encodes), so
//! [`Layout::check`] only rejects what cannot be decoded at all.

use std::collections::BTreeMap;
use std::fmt;

use rust_i18n::t;
use serde::{Deserialize, Serialize};

use super::{Decoded, Field, hex_preview, named, truncated};

/// One layout: its name and its fields in the order they are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    pub name: String,
    pub fields: Vec<LayoutField>,
}

/// A field of a layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayoutField {
    pub name: String,
    /// Where the field starts, in bytes from the record's start.
    pub offset: usize,
    /// How many bytes it covers; a number's must equal its type's width.
    pub length: usize,
    pub kind: FieldType,
    #[serde(default)]
    pub order: ByteOrder,
    /// Names for values of an integer field ("1" → "Running"); shown beside the number.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<i64, String>,
}

/// What a field's bytes hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FieldType {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F32,
    F64,
    /// Raw bytes, shown as hex.
    Bytes,
    /// Text (UTF-8; trailing NUL padding is dropped).
    Text,
}

impl FieldType {
    pub const ALL: [Self; 12] = [
        Self::U8,
        Self::U16,
        Self::U32,
        Self::U64,
        Self::I8,
        Self::I16,
        Self::I32,
        Self::I64,
        Self::F32,
        Self::F64,
        Self::Bytes,
        Self::Text,
    ];

    /// The type's short name, as JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::U8 => "U8",
            Self::U16 => "U16",
            Self::U32 => "U32",
            Self::U64 => "U64",
            Self::I8 => "I8",
            Self::I16 => "I16",
            Self::I32 => "I32",
            Self::I64 => "I64",
            Self::F32 => "F32",
            Self::F64 => "F64",
            Self::Bytes => "Bytes", // i18n-exempt: protocol name
            Self::Text => "Text",   // i18n-exempt: protocol name
        }
    }

    /// The width of a number type in bytes; `None` for bytes and text (any length).
    pub fn width(self) -> Option<usize> {
        match self {
            Self::U8 | Self::I8 => Some(1),
            Self::U16 | Self::I16 => Some(2),
            Self::U32 | Self::I32 | Self::F32 => Some(4),
            Self::U64 | Self::I64 | Self::F64 => Some(8),
            Self::Bytes | Self::Text => None,
        }
    }

    /// Whether values of this type can carry enum labels.
    pub fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64 | Self::Bytes | Self::Text)
    }
}

/// Which byte of a number comes first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum ByteOrder {
    /// Most significant first (network order), the default.
    #[default]
    Big,
    /// Least significant first (most microcontrollers).
    Little,
}

/// A file of layouts: a JSON list (one object is read as a list of one).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Layouts(pub Vec<Layout>);

/// What is wrong with a layout; fields are numbered from 1, as a user counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The JSON could not be read (serde's message says where).
    Json {
        message: String,
    },
    EmptyLayoutName,
    NoFields,
    EmptyName {
        field: usize,
    },
    ZeroLength {
        field: usize,
        name: String,
    },
    /// A number's length differs from its type's width.
    LengthMismatch {
        field: usize,
        name: String,
        kind: FieldType,
        length: usize,
        width: usize,
    },
    /// The field would end past the largest offset the machine can count.
    TooFar {
        field: usize,
        name: String,
    },
    /// Labels on a type that has no integer values (float, bytes, text).
    LabelsOnNonInteger {
        field: usize,
        name: String,
        kind: FieldType,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Json { message } => t!("protocol.layout.error.json", message = message),
            Self::EmptyLayoutName => t!("protocol.layout.error.empty_layout_name"),
            Self::NoFields => t!("protocol.layout.error.no_fields"),
            Self::EmptyName { field } => t!("protocol.layout.error.empty_name", field = field),
            Self::ZeroLength { field, name } => {
                t!(
                    "protocol.layout.error.zero_length",
                    field = field,
                    name = name
                )
            }
            Self::LengthMismatch {
                field,
                name,
                kind,
                length,
                width,
            } => t!(
                "protocol.layout.error.length_mismatch",
                field = field,
                name = name,
                kind = kind.name(),
                length = length,
                width = width
            ),
            Self::TooFar { field, name } => {
                t!("protocol.layout.error.too_far", field = field, name = name)
            }
            Self::LabelsOnNonInteger { field, name, kind } => t!(
                "protocol.layout.error.labels_on_non_integer",
                field = field,
                name = name,
                kind = kind.name()
            ),
        };
        f.write_str(&text)
    }
}

impl std::error::Error for LayoutError {}

impl Layout {
    /// A layout from JSON, checked.
    pub fn from_json(json: &str) -> Result<Layout, LayoutError> {
        let layout: Layout = serde_json::from_str(json).map_err(|e| LayoutError::Json {
            message: e.to_string(),
        })?;
        layout.check()?;
        Ok(layout)
    }

    /// The layout as pretty JSON (what [`Self::from_json`] reads back).
    pub fn to_json(&self) -> String {
        // Serializing plain structs with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Whether every field can be decoded; the error names the first field that cannot.
    pub fn check(&self) -> Result<(), LayoutError> {
        if self.name.trim().is_empty() {
            return Err(LayoutError::EmptyLayoutName);
        }
        if self.fields.is_empty() {
            return Err(LayoutError::NoFields);
        }
        for (i, field) in self.fields.iter().enumerate() {
            let n = i + 1;
            let name = field.name.clone();
            if field.name.trim().is_empty() {
                return Err(LayoutError::EmptyName { field: n });
            }
            if field.length == 0 {
                return Err(LayoutError::ZeroLength { field: n, name });
            }
            if let Some(width) = field.kind.width()
                && width != field.length
            {
                return Err(LayoutError::LengthMismatch {
                    field: n,
                    name,
                    kind: field.kind,
                    length: field.length,
                    width,
                });
            }
            if field.offset.checked_add(field.length).is_none() {
                return Err(LayoutError::TooFar { field: n, name });
            }
            if !field.labels.is_empty() && !field.kind.is_integer() {
                return Err(LayoutError::LabelsOnNonInteger {
                    field: n,
                    name,
                    kind: field.kind,
                });
            }
        }
        Ok(())
    }

    /// The record read through this layout. A field past the record's end is shown with a
    /// "truncated" problem; a layout that fails [`Self::check`] still decodes what it can.
    pub fn decode(&self, bytes: &[u8]) -> Decoded {
        let fields: Vec<Field> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| f.decode(bytes, i + 1))
            .collect();
        let shown: Vec<String> = fields
            .iter()
            .take(4)
            .map(|f| format!("{} = {}", f.name, f.value))
            .collect();
        let mut summary = format!("{}: {}", self.name, shown.join(", "));
        if fields.len() > 4 {
            summary.push_str(", …");
        }
        Decoded {
            summary: super::one_line(&summary),
            fields,
        }
    }
}

impl LayoutField {
    /// This field's value in `bytes`; `number` (from 1) names it in a problem.
    fn decode(&self, bytes: &[u8], number: usize) -> Field {
        let start = self.offset.min(bytes.len());
        let end = self.offset.saturating_add(self.length).min(bytes.len());
        let data = &bytes[start..end];
        if data.len() < self.length {
            return Field::new(self.name.clone(), hex_preview(data), start..end)
                .with_problem(truncated(data.len(), self.length));
        }
        if let Some(width) = self.kind.width()
            && width != self.length
        {
            // An unchecked layout: say what `check` would, rather than read a wrong number.
            let problem = LayoutError::LengthMismatch {
                field: number,
                name: self.name.clone(),
                kind: self.kind,
                length: self.length,
                width,
            };
            return Field::new(self.name.clone(), hex_preview(data), start..end)
                .with_problem(problem.to_string());
        }
        let value = self.value(data);
        Field::new(self.name.clone(), value, start..end)
    }

    /// The value of exactly `self.length` bytes.
    fn value(&self, data: &[u8]) -> String {
        let mut buf = [0u8; 8];
        let width = self.kind.width().unwrap_or(0);
        if width > 0 && data.len() == width {
            buf[..width].copy_from_slice(data);
            if self.order == ByteOrder::Little {
                buf[..width].reverse();
            }
            // Big-endian now: right-align in 8 bytes for the wide readers below.
            buf.rotate_right(8 - width);
        }
        let unsigned = u64::from_be_bytes(buf);
        let labelled = |v: i64, shown: String| match self.labels.get(&v) {
            Some(label) => named(shown, label),
            None => shown,
        };
        match self.kind {
            FieldType::U8 | FieldType::U16 | FieldType::U32 => {
                labelled(unsigned.cast_signed(), unsigned.to_string())
            }
            FieldType::U64 => match i64::try_from(unsigned) {
                Ok(v) => labelled(v, unsigned.to_string()),
                Err(_) => unsigned.to_string(),
            },
            FieldType::I8 => {
                let v = (unsigned as u8).cast_signed();
                labelled(i64::from(v), v.to_string())
            }
            FieldType::I16 => {
                let v = (unsigned as u16).cast_signed();
                labelled(i64::from(v), v.to_string())
            }
            FieldType::I32 => {
                let v = (unsigned as u32).cast_signed();
                labelled(i64::from(v), v.to_string())
            }
            FieldType::I64 => {
                let v = unsigned.cast_signed();
                labelled(v, v.to_string())
            }
            FieldType::F32 => f32::from_bits(unsigned as u32).to_string(),
            FieldType::F64 => f64::from_bits(unsigned).to_string(),
            FieldType::Bytes => hex_preview(data),
            FieldType::Text => {
                let trimmed = data
                    .iter()
                    .rposition(|&b| b != 0)
                    .map_or(&data[..0], |last| &data[..=last]);
                format!("{:?}", String::from_utf8_lossy(trimmed))
            }
        }
    }
}

impl Layouts {
    /// A file of layouts: a JSON list, or one layout alone. Every layout is checked.
    pub fn from_json(json: &str) -> Result<Layouts, LayoutError> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| LayoutError::Json {
                message: e.to_string(),
            })?;
        let layouts = if value.is_array() {
            serde_json::from_value::<Vec<Layout>>(value)
        } else {
            serde_json::from_value::<Layout>(value).map(|l| vec![l])
        }
        .map_err(|e| LayoutError::Json {
            message: e.to_string(),
        })?;
        for layout in &layouts {
            layout.check()?;
        }
        Ok(Layouts(layouts))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The label a field type shows in a picker (the same in every language).
impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
