//! Modbus/TCP (Modbus Application Protocol V1.1b3 and Messaging on TCP/IP V1.0b): the MBAP
//! header and the PDU of function codes 1–6, 15, 16 and 23, requests, responses and
//! exceptions.
//!
//! A record does not say whether it is a request or a response, so the PDU's shape decides:
//! a read request is always 4 bytes, a read response is a byte count followed by that many
//! bytes; write-multiple requests carry a byte count, their responses do not.

use rust_i18n::t;

use super::{Cursor, Decoded, Field, Protocol, Stop, hex_preview, named, s, truncated_summary};

/// The name of a function code (without the exception bit), if Modbus defines it here.
fn function_name(code: u8) -> Option<String> {
    let text = match code {
        1 => t!("protocol.modbus.fn.read_coils"),
        2 => t!("protocol.modbus.fn.read_discrete_inputs"),
        3 => t!("protocol.modbus.fn.read_holding_registers"),
        4 => t!("protocol.modbus.fn.read_input_registers"),
        5 => t!("protocol.modbus.fn.write_single_coil"),
        6 => t!("protocol.modbus.fn.write_single_register"),
        15 => t!("protocol.modbus.fn.write_multiple_coils"),
        16 => t!("protocol.modbus.fn.write_multiple_registers"),
        23 => t!("protocol.modbus.fn.read_write_multiple_registers"),
        _ => return None,
    };
    Some(text.into_owned())
}

fn exception_name(code: u8) -> String {
    s(match code {
        1 => t!("protocol.modbus.exception.illegal_function"),
        2 => t!("protocol.modbus.exception.illegal_data_address"),
        3 => t!("protocol.modbus.exception.illegal_data_value"),
        4 => t!("protocol.modbus.exception.server_device_failure"),
        5 => t!("protocol.modbus.exception.acknowledge"),
        6 => t!("protocol.modbus.exception.server_device_busy"),
        8 => t!("protocol.modbus.exception.memory_parity_error"),
        10 => t!("protocol.modbus.exception.gateway_path_unavailable"),
        11 => t!("protocol.modbus.exception.gateway_target_failed"),
        _ => t!("protocol.unknown"),
    })
}

/// The MBAP header's length: transaction, protocol, length (2 bytes each) and unit.
const MBAP_LEN: usize = 7;

/// Every ADU of the record: TCP may deliver several requests or responses in one read. One
/// ADU's fields are shown at the top; several are each grouped under "ADU n".
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut adus: Vec<(Vec<Field>, std::ops::Range<usize>)> = Vec::new();
    let mut summaries = Vec::new();
    let mut cursor = Cursor::new(bytes);
    loop {
        let start = cursor.pos;
        let mut fields = Vec::new();
        let result = decode_adu(&mut cursor, &mut fields);
        adus.push((fields, start..cursor.pos));
        if let Ok(summary) = result {
            summaries.push(summary);
        } else {
            summaries.push(truncated_summary(Protocol::ModbusTcp));
            break;
        }
        // Another ADU follows only if a whole header with protocol identifier 0 is there;
        // anything else is left over.
        let rest = &bytes[cursor.pos..];
        if rest.len() < MBAP_LEN || rest[2..4] != [0, 0] {
            break;
        }
    }
    let mut fields = if adus.len() == 1 {
        adus.pop().map(|(f, _)| f).unwrap_or_default()
    } else {
        adus.into_iter()
            .zip(&summaries)
            .enumerate()
            .map(|(i, ((children, range), summary))| {
                let problem = children
                    .iter()
                    .flat_map(Field::walk)
                    .find_map(|f| f.problem.clone());
                let mut field = Field::new(
                    s(t!("protocol.modbus.adu_n", n = i + 1)),
                    summary.clone(),
                    range,
                )
                .with_children(children);
                field.problem = problem;
                field
            })
            .collect()
    };
    if cursor.left() > 0 {
        let start = cursor.pos;
        fields.push(
            Field::new(
                s(t!("protocol.trailing")),
                hex_preview(&bytes[start..]),
                start..bytes.len(),
            )
            .with_problem(s(t!("protocol.modbus.beyond_length"))),
        );
    }
    Decoded {
        summary: super::join_summaries(&summaries),
        fields,
    }
}

fn decode_adu(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<String, Stop> {
    let mut header = Vec::new();
    let started = c.pos;
    let header_result = (|| {
        let transaction = s(t!("protocol.modbus.transaction"));
        let (r, v) = c.u16(&mut header, &transaction)?;
        header.push(Field::new(transaction, format!("{v} (0x{v:04X})"), r));
        let protocol = s(t!("protocol.modbus.protocol_id"));
        let (r, v) = c.u16(&mut header, &protocol)?;
        let mut field = Field::new(protocol, v.to_string(), r);
        if v != 0 {
            field = field.with_problem(s(t!("protocol.modbus.not_modbus", id = v)));
        }
        header.push(field);
        let length_name = s(t!("protocol.modbus.length"));
        let (r, length) = c.u16(&mut header, &length_name)?;
        header.push(Field::new(length_name, length.to_string(), r));
        let unit = c.u8_field(&mut header, &s(t!("protocol.modbus.unit")))?;
        Ok((length, unit))
    })();
    let header_end = c.pos;
    out.push(
        Field::new(
            s(t!("protocol.modbus.mbap")),
            String::new(),
            started..header_end,
        )
        .with_children(header),
    );
    let (length, unit) = header_result?;
    // The length counts the unit byte and the PDU; the PDU ends there even if more follows.
    let pdu_len = usize::from(length).saturating_sub(1);
    let available = c.left();
    let pdu_end = c.pos + pdu_len.min(available);
    let mut pdu = Cursor {
        bytes: &c.bytes[..pdu_end],
        pos: c.pos,
    };
    let result = decode_pdu(&mut pdu, out, unit, pdu_len.saturating_sub(1));
    c.pos = pdu.pos.max(pdu_end);
    if length == 0 {
        if let Some(f) = out.iter_mut().find(|f| f.range.start == started) {
            f.problem = Some(s(t!("protocol.modbus.length_zero")));
        }
    } else if pdu_len > available {
        // Whatever the PDU's fields showed, the record ended before the length the header
        // gives.
        out.push(
            Field::new(
                s(t!("protocol.modbus.pdu")),
                String::new(),
                pdu_end..pdu_end,
            )
            .with_problem(super::truncated(available, pdu_len)),
        );
        return result.and(Err(Stop));
    }
    result
}

/// The PDU; `declared` is how many bytes follow the function code by the header's length,
/// which tells a request from a response even when the record is cut short.
fn decode_pdu(
    c: &mut Cursor<'_>,
    out: &mut Vec<Field>,
    unit: u8,
    declared: usize,
) -> Result<String, Stop> {
    let fc_name = s(t!("protocol.modbus.function"));
    let (r, code) = c.u8(out, &fc_name)?;
    let function = code & 0x7F;
    let name = function_name(function).unwrap_or_else(|| s(t!("protocol.unknown")));
    if code & 0x80 != 0 {
        out.push(Field::new(
            fc_name,
            format!("{code} (0x{code:02X}: {} | 0x80)", named(function, &name)),
            r,
        ));
        let ex_name = s(t!("protocol.modbus.exception_code"));
        let (r, ex) = c.u8(out, &ex_name)?;
        let ex_text = exception_name(ex);
        out.push(Field::new(ex_name, named(ex, &ex_text), r));
        return Ok(s(t!(
            "protocol.modbus.summary.exception",
            function = name,
            unit = unit,
            exception = ex_text
        )));
    }
    out.push(Field::new(fc_name, named(code, &name), r));
    let data = &c.bytes[c.pos..];
    match code {
        1..=4 => {
            if declared == 4 || data.first().is_none_or(|&n| usize::from(n) + 1 != declared) {
                let (address, count) = address_and_count(c, out)?;
                let key = if code <= 2 {
                    t!(
                        "protocol.modbus.summary.read_bits",
                        function = name,
                        unit = unit,
                        count = count,
                        address = address
                    )
                } else {
                    t!(
                        "protocol.modbus.summary.read_registers",
                        function = name,
                        unit = unit,
                        count = count,
                        address = address
                    )
                };
                Ok(s(key))
            } else {
                let count = byte_count(c, out)?;
                let (r, values) = c.take(count, out, &s(t!("protocol.modbus.values")))?;
                let children = if code <= 2 {
                    bit_fields(values, r.start, None, 0)
                } else {
                    register_fields(values, r.start, None)
                };
                out.push(
                    Field::new(s(t!("protocol.modbus.values")), hex_preview(values), r)
                        .with_children(children),
                );
                Ok(s(t!(
                    "protocol.modbus.summary.read_response",
                    function = name,
                    unit = unit,
                    count = count
                )))
            }
        }
        5 | 6 => {
            let address = c.u16_field(out, &s(t!("protocol.modbus.address")))?;
            let value_name = s(t!("protocol.modbus.value"));
            let (r, value) = c.u16(out, &value_name)?;
            let shown = if code == 5 {
                match value {
                    0xFF00 => named("0xFF00", &t!("protocol.modbus.coil_on")),
                    0x0000 => named("0x0000", &t!("protocol.modbus.coil_off")),
                    _ => format!("0x{value:04X}"),
                }
            } else {
                format!("{value} (0x{value:04X})")
            };
            let mut field = Field::new(value_name, shown.clone(), r);
            if code == 5 && value != 0xFF00 && value != 0 {
                field = field.with_problem(s(t!("protocol.modbus.bad_coil_value")));
            }
            out.push(field);
            Ok(s(t!(
                "protocol.modbus.summary.write_single",
                function = name,
                unit = unit,
                address = address,
                value = shown
            )))
        }
        15 | 16 => {
            let (address, count) = address_and_count(c, out)?;
            if declared == 4 {
                return Ok(s(t!(
                    "protocol.modbus.summary.write_response",
                    function = name,
                    unit = unit,
                    count = count,
                    address = address
                )));
            }
            let bytes = byte_count(c, out)?;
            let (r, values) = c.take(bytes, out, &s(t!("protocol.modbus.values")))?;
            let children = if code == 15 {
                bit_fields(values, r.start, Some(address), usize::from(count))
            } else {
                register_fields(values, r.start, Some(address))
            };
            out.push(
                Field::new(s(t!("protocol.modbus.values")), hex_preview(values), r)
                    .with_children(children),
            );
            Ok(s(t!(
                "protocol.modbus.summary.write_multiple",
                function = name,
                unit = unit,
                count = count,
                address = address
            )))
        }
        23 => {
            let is_request =
                declared >= 9 && data.get(8).is_none_or(|&n| usize::from(n) + 9 == declared);
            if !is_request {
                let count = byte_count(c, out)?;
                let (r, values) = c.take(count, out, &s(t!("protocol.modbus.values")))?;
                out.push(
                    Field::new(
                        s(t!("protocol.modbus.values")),
                        hex_preview(values),
                        r.clone(),
                    )
                    .with_children(register_fields(values, r.start, None)),
                );
                return Ok(s(t!(
                    "protocol.modbus.summary.read_response",
                    function = name,
                    unit = unit,
                    count = count
                )));
            }
            let read_address = c.u16_field(out, &s(t!("protocol.modbus.read_address")))?;
            let read_count = c.u16_field(out, &s(t!("protocol.modbus.read_quantity")))?;
            let write_address = c.u16_field(out, &s(t!("protocol.modbus.write_address")))?;
            c.u16_field(out, &s(t!("protocol.modbus.write_quantity")))?;
            let bytes = byte_count(c, out)?;
            let (r, values) = c.take(bytes, out, &s(t!("protocol.modbus.values")))?;
            out.push(
                Field::new(
                    s(t!("protocol.modbus.values")),
                    hex_preview(values),
                    r.clone(),
                )
                .with_children(register_fields(
                    values,
                    r.start,
                    Some(write_address),
                )),
            );
            Ok(s(t!(
                "protocol.modbus.summary.read_registers",
                function = name,
                unit = unit,
                count = read_count,
                address = read_address
            )))
        }
        _ => {
            let start = c.pos;
            let rest = &c.bytes[start..];
            c.pos = c.bytes.len();
            out.push(Field::new(
                s(t!("protocol.modbus.data")),
                hex_preview(rest),
                start..start + rest.len(),
            ));
            Ok(s(t!(
                "protocol.modbus.summary.other",
                code = code,
                unit = unit
            )))
        }
    }
}

fn address_and_count(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<(u16, u16), Stop> {
    let address = c.u16_field(out, &s(t!("protocol.modbus.address")))?;
    let count = c.u16_field(out, &s(t!("protocol.modbus.quantity")))?;
    Ok((address, count))
}

/// The byte count field; a count that disagrees with the bytes there is a problem on it.
fn byte_count(c: &mut Cursor<'_>, out: &mut Vec<Field>) -> Result<usize, Stop> {
    let name = s(t!("protocol.modbus.byte_count"));
    let (r, count) = c.u8(out, &name)?;
    out.push(Field::new(name, count.to_string(), r));
    Ok(usize::from(count))
}

/// One field per register (big-endian 16 bits), named by address when the request said it.
fn register_fields(values: &[u8], start: usize, address: Option<u16>) -> Vec<Field> {
    values
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let at = start + 2 * i;
            let name = match address {
                Some(a) => s(t!(
                    "protocol.modbus.register_at",
                    address = usize::from(a) + i
                )),
                None => s(t!("protocol.modbus.register_n", n = i + 1)),
            };
            if let [hi, lo] = pair {
                let v = u16::from_be_bytes([*hi, *lo]);
                Field::new(name, format!("{v} (0x{v:04X})"), at..at + 2)
            } else {
                Field::new(name, hex_preview(pair), at..at + pair.len())
                    .with_problem(super::truncated(pair.len(), 2))
            }
        })
        .collect()
}

/// One field per coil or input, least significant bit of the first byte first; `count`
/// (when the request says it, else every bit) limits them.
fn bit_fields(values: &[u8], start: usize, address: Option<u16>, count: usize) -> Vec<Field> {
    let total = if count == 0 { values.len() * 8 } else { count };
    (0..total.min(values.len() * 8))
        .map(|i| {
            let byte = values[i / 8];
            let on = byte >> (i % 8) & 1 == 1;
            let name = match address {
                Some(a) => s(t!("protocol.modbus.coil_at", address = usize::from(a) + i)),
                None => s(t!("protocol.modbus.bit_n", n = i + 1)),
            };
            let value = if on {
                t!("protocol.modbus.coil_on")
            } else {
                t!("protocol.modbus.coil_off")
            };
            let at = start + i / 8;
            Field::new(name, s(value), at..at + 1)
        })
        .collect()
}
