//! Protocol views (issue 21): each decoder on real-world byte samples from
//! `tests/fixtures/protocol/`, with exact field values and byte ranges; every truncation of
//! every sample and thousands of random buffers decode without panic, inside the record's
//! bounds, and a cut sample says "truncated"; user layouts round-trip through JSON and name
//! the field that is wrong.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use sockpit::codec::protocol::{
    ByteOrder, Decoded, Field, FieldType, Layout, LayoutError, LayoutField, Layouts, Protocol,
    decode_mqtt,
};
use sockpit::i18n::{Language, set_language};

fn fixture_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/protocol")
        .join(name)
}

/// A fixture's bytes: `.hex` files are hex with `#` comments, `.http` files are text whose
/// LF line ends become CRLF.
fn fixture(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(fixture_path(name)).unwrap();
    if Path::new(name).extension().is_some_and(|e| e == "http") {
        return text.replace('\n', "\r\n").into_bytes();
    }
    let digits: String = text
        .lines()
        .map(|l| l.split('#').next().unwrap())
        .flat_map(|l| l.chars().filter(char::is_ascii_hexdigit))
        .collect();
    assert!(
        digits.len().is_multiple_of(2),
        "{name}: odd number of hex digits"
    );
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap())
        .collect()
}

/// A sample, its protocol, the prefix lengths at which it is itself complete (a record of
/// several packets, or a CoAP message, which has no length field, can end there), and where
/// a payload that runs to the end of the record starts (any cut in it is still complete).
type Sample = (&'static str, Protocol, &'static [usize], Option<usize>);

const FIXTURES: &[Sample] = &[
    (
        "modbus_read_holding_request.hex",
        Protocol::ModbusTcp,
        &[],
        None,
    ),
    (
        "modbus_read_holding_response.hex",
        Protocol::ModbusTcp,
        &[],
        None,
    ),
    ("modbus_exception.hex", Protocol::ModbusTcp, &[], None),
    (
        "modbus_write_multiple_request.hex",
        Protocol::ModbusTcp,
        &[],
        None,
    ),
    (
        "modbus_write_single_coil.hex",
        Protocol::ModbusTcp,
        &[],
        None,
    ),
    (
        "modbus_read_coils_response.hex",
        Protocol::ModbusTcp,
        &[],
        None,
    ),
    (
        "mqtt311_connect_publish_disconnect.hex",
        Protocol::Mqtt,
        &[22, 35],
        None,
    ),
    ("mqtt5_connect.hex", Protocol::Mqtt, &[], None),
    ("mqtt5_publish_qos1.hex", Protocol::Mqtt, &[], None),
    (
        "mqtt311_subscribe_suback_ping.hex",
        Protocol::Mqtt,
        &[10, 15, 17],
        None,
    ),
    ("dns_query_example_com.hex", Protocol::Dns, &[], None),
    ("dns_response_example_com.hex", Protocol::Dns, &[], None),
    ("mdns_ptr_answer.hex", Protocol::Mdns, &[], None),
    (
        "coap_get_well_known_core.hex",
        Protocol::Coap,
        &[6, 18],
        None,
    ),
    (
        "coap_content_response.hex",
        Protocol::Coap,
        &[6, 8, 11],
        Some(13),
    ),
    ("http_get.http", Protocol::Http, &[], None),
    ("http_200_response.http", Protocol::Http, &[], None),
    ("ssdp_msearch.http", Protocol::Ssdp, &[], None),
    ("ssdp_notify.http", Protocol::Ssdp, &[], None),
];

/// The language is one switch for the whole process: tests that read words hold this lock
/// so a Chinese test cannot change them halfway.
static LANGUAGE: Mutex<()> = Mutex::new(());

fn speaking(language: Language) -> MutexGuard<'static, ()> {
    let guard = LANGUAGE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    set_language(language);
    guard
}

fn english() -> MutexGuard<'static, ()> {
    speaking(Language::English)
}

/// The first field (depth first) named `name`.
fn find<'a>(decoded: &'a Decoded, name: &str) -> &'a Field {
    decoded
        .all_fields()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name:?} in {decoded:#?}"))
}

fn find_in<'a>(field: &'a Field, name: &str) -> &'a Field {
    field
        .walk()
        .into_iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| panic!("no field {name:?} in {field:#?}"))
}

fn assert_field(field: &Field, value: &str, range: std::ops::Range<usize>) {
    assert_eq!(field.value, value, "value of {:?}", field.name);
    assert_eq!(field.range, range, "range of {:?}", field.name);
}

fn assert_clean(decoded: &Decoded) {
    assert!(
        decoded.problems().is_empty(),
        "problems {:?} in {decoded:#?}",
        decoded.problems()
    );
}

/// Every range lies inside the record and no field's range is reversed.
fn assert_in_bounds(decoded: &Decoded, len: usize, what: &str) {
    for field in decoded.all_fields() {
        assert!(
            field.range.start <= field.range.end && field.range.end <= len,
            "{what}: field {:?} has range {:?} in a record of {len} bytes",
            field.name,
            field.range
        );
    }
    assert!(
        !decoded.summary.contains('\n'),
        "{what}: summary is one line"
    );
}

#[test]
fn names_and_ports() {
    let names: Vec<&str> = Protocol::ALL.iter().map(|p| p.name()).collect();
    assert_eq!(
        names,
        [
            "Modbus/TCP",
            "MQTT",
            "DNS",
            "mDNS",
            "HTTP/1.x",
            "SSDP",
            "CoAP"
        ]
    );
    assert_eq!(Protocol::suggest_for_port(502), Some(Protocol::ModbusTcp));
    assert_eq!(Protocol::suggest_for_port(1883), Some(Protocol::Mqtt));
    assert_eq!(
        Protocol::suggest_for_port(8883),
        None,
        "MQTT over TLS is encrypted"
    );
    assert_eq!(Protocol::suggest_for_port(53), Some(Protocol::Dns));
    assert_eq!(Protocol::suggest_for_port(5353), Some(Protocol::Mdns));
    assert_eq!(Protocol::suggest_for_port(1900), Some(Protocol::Ssdp));
    assert_eq!(Protocol::suggest_for_port(80), Some(Protocol::Http));
    assert_eq!(Protocol::suggest_for_port(8080), Some(Protocol::Http));
    assert_eq!(Protocol::suggest_for_port(5683), Some(Protocol::Coap));
    assert_eq!(Protocol::suggest_for_port(22), None);
    let json = serde_json::to_string(&Protocol::ModbusTcp).unwrap();
    assert_eq!(
        serde_json::from_str::<Protocol>(&json).unwrap(),
        Protocol::ModbusTcp
    );
}

#[test]
fn modbus_read_holding_registers_request_and_response() {
    let _language = english();
    let d = Protocol::ModbusTcp.decode(&fixture("modbus_read_holding_request.hex"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "Read Holding Registers, unit 1, 2 registers from 100"
    );
    assert_field(find(&d, "MBAP header"), "", 0..7);
    assert_field(find(&d, "Transaction identifier"), "1 (0x0001)", 0..2);
    assert_field(find(&d, "Protocol identifier"), "0", 2..4);
    assert_field(find(&d, "Length"), "6", 4..6);
    assert_field(find(&d, "Unit identifier"), "1", 6..7);
    assert_field(
        find(&d, "Function code"),
        "3 (Read Holding Registers)",
        7..8,
    );
    assert_field(find(&d, "Starting address"), "100", 8..10);
    assert_field(find(&d, "Quantity"), "2", 10..12);

    let d = Protocol::ModbusTcp.decode(&fixture("modbus_read_holding_response.hex"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "Read Holding Registers response, unit 1, 4 bytes of data"
    );
    assert_field(find(&d, "Byte count"), "4", 8..9);
    let values = find(&d, "Values");
    assert_eq!(values.range, 9..13);
    assert_field(&values.children[0], "10 (0x000A)", 9..11);
    assert_eq!(values.children[0].name, "Register #1");
    assert_field(&values.children[1], "258 (0x0102)", 11..13);
}

#[test]
fn modbus_exception_write_multiple_coil_and_coils() {
    let _language = english();
    let d = Protocol::ModbusTcp.decode(&fixture("modbus_exception.hex"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "Exception to Read Holding Registers, unit 1: Illegal Data Address"
    );
    assert_field(
        find(&d, "Function code"),
        "131 (0x83: 3 (Read Holding Registers) | 0x80)",
        7..8,
    );
    assert_field(find(&d, "Exception code"), "2 (Illegal Data Address)", 8..9);

    let d = Protocol::ModbusTcp.decode(&fixture("modbus_write_multiple_request.hex"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "Write Multiple Registers, unit 1, 2 values from 1"
    );
    let values = find(&d, "Values");
    assert_eq!(values.children[0].name, "Register 1");
    assert_field(&values.children[1], "258 (0x0102)", 15..17);
    assert_eq!(values.children[1].name, "Register 2");

    let d = Protocol::ModbusTcp.decode(&fixture("modbus_write_single_coil.hex"));
    assert_clean(&d);
    assert_eq!(d.summary, "Write Single Coil, unit 17, 172 = 0xFF00 (ON)");
    assert_field(find(&d, "Value"), "0xFF00 (ON)", 10..12);

    let d = Protocol::ModbusTcp.decode(&fixture("modbus_read_coils_response.hex"));
    assert_clean(&d);
    let values = find(&d, "Values");
    assert_eq!(values.children.len(), 8);
    let on: Vec<&str> = values
        .children
        .iter()
        .map(|f| f.value.as_str())
        .take(3)
        .collect();
    assert_eq!(on, ["ON", "OFF", "ON"]);
    assert_eq!(values.children[2].range, 9..10);

    // A response cut short is still read as one: the header's length gives its shape.
    let cut = &fixture("modbus_read_holding_response.hex")[..11];
    let d = Protocol::ModbusTcp.decode(cut);
    assert_field(find(&d, "Byte count"), "4", 8..9);
    assert_eq!(
        find(&d, "Values").problem.as_deref(),
        Some("truncated: 2 of 4 bytes")
    );
    // A length that says more than the record holds.
    let short = [
        0x00, 0x01, 0x00, 0x00, 0x00, 0x09, 0x01, 0x03, 0x00, 0x64, 0x00, 0x02,
    ];
    let d = Protocol::ModbusTcp.decode(&short);
    assert!(
        d.problems().iter().any(|p| p.contains("truncated: 5 of 8")),
        "{d:#?}"
    );
}

#[test]
fn modbus_several_adus_in_one_record() {
    let _language = english();
    let mut bytes = fixture("modbus_read_holding_request.hex");
    bytes.extend(fixture("modbus_read_holding_response.hex"));
    let d = Protocol::ModbusTcp.decode(&bytes);
    assert_clean(&d);
    let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["ADU 1", "ADU 2"]);
    assert_eq!(d.fields[0].range, 0..12);
    assert_eq!(d.fields[1].range, 12..25);
    assert_field(find_in(&d.fields[1], "Byte count"), "4", 20..21);
    assert_eq!(
        d.summary,
        "Read Holding Registers, unit 1, 2 registers from 100; Read Holding Registers \
         response, unit 1, 4 bytes of data"
    );
    // Bytes after an ADU that are no MBAP header are left over, and said so.
    let mut bytes = fixture("modbus_exception.hex");
    bytes.extend([0xAA, 0xBB]);
    let d = Protocol::ModbusTcp.decode(&bytes);
    let last = d.fields.last().unwrap();
    assert_field(last, "AA BB", 9..11);
    assert!(last.problem.is_some());
}

#[test]
fn mqtt_311_connect_publish_disconnect_in_one_record() {
    let _language = english();
    let bytes = fixture("mqtt311_connect_publish_disconnect.hex");
    let d = Protocol::Mqtt.decode(&bytes);
    assert_clean(&d);
    let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["CONNECT", "PUBLISH", "DISCONNECT"]);
    assert_eq!(
        d.summary,
        "CONNECT client mosq-pub, MQTT 3.1.1, keep alive 60 s; PUBLISH test, QoS 0, 5 bytes; \
         DISCONNECT"
    );
    let connect = &d.fields[0];
    assert_eq!(connect.range, 0..22);
    assert_field(find_in(connect, "Packet type"), "1 (CONNECT)", 0..1);
    assert_field(find_in(connect, "Remaining length"), "20", 1..2);
    assert_field(find_in(connect, "Protocol name"), "\"MQTT\"", 2..8);
    assert_field(find_in(connect, "Protocol level"), "4 (3.1.1)", 8..9);
    let flags = find_in(connect, "Connect flags");
    assert_field(flags, "0x02", 9..10);
    assert_eq!(
        find_in(flags, "Clean session (5.0: clean start)").value,
        "yes"
    );
    assert_eq!(find_in(flags, "User name").value, "no");
    assert_field(find_in(connect, "Keep alive"), "60 s", 10..12);
    assert_field(
        find_in(connect, "Client identifier"),
        "\"mosq-pub\"",
        12..22,
    );
    let publish = &d.fields[1];
    assert_eq!(publish.range, 22..35);
    assert_field(find_in(publish, "Topic name"), "\"test\"", 24..30);
    assert_field(find_in(publish, "Payload"), "5 bytes · \"hello\"", 30..35);
    assert_eq!(find_in(publish, "QoS").value, "0");
    assert_eq!(d.fields[2].range, 35..37);
}

#[test]
fn mqtt_5_connect_and_publish_with_properties() {
    let _language = english();
    let d = Protocol::Mqtt.decode(&fixture("mqtt5_connect.hex"));
    assert_clean(&d);
    assert_field(find(&d, "Protocol level"), "5 (5.0)", 8..9);
    let props = find(&d, "Properties");
    assert_field(props, "count: 1", 12..18);
    assert_field(find_in(props, "Session Expiry Interval"), "120", 13..18);
    assert_field(find(&d, "Client identifier"), "\"abc\"", 18..23);

    // No CONNECT in the record: the properties' shape says MQTT 5.
    let bytes = fixture("mqtt5_publish_qos1.hex");
    let d = Protocol::Mqtt.decode(&bytes);
    assert_clean(&d);
    assert_eq!(d.summary, "PUBLISH sensors/t1, QoS 1, packet 10, 4 bytes");
    assert_field(find(&d, "QoS"), "1", 0..1);
    assert_field(find(&d, "Remaining length"), "36", 1..2);
    assert_field(find(&d, "Topic name"), "\"sensors/t1\"", 2..14);
    assert_field(find(&d, "Packet identifier"), "10", 14..16);
    let props = find(&d, "Properties");
    assert_field(props, "count: 3", 16..34);
    assert_field(find_in(props, "Payload Format Indicator"), "1", 17..19);
    assert_field(find_in(props, "Message Expiry Interval"), "60", 19..24);
    assert_field(find_in(props, "User Property"), "\"unit\" = \"C\"", 24..34);
    assert_field(find(&d, "Payload"), "4 bytes · \"21.5\"", 34..38);
    // Told it is 3.1.1, the same bytes have no properties: the payload starts at once.
    let d = decode_mqtt(&bytes, Some(4));
    assert!(d.all_fields().iter().all(|f| f.name != "Properties"));
    assert_eq!(find(&d, "Payload").range, 16..38);
}

#[test]
fn mqtt_subscribe_suback_and_pings() {
    let _language = english();
    let d = Protocol::Mqtt.decode(&fixture("mqtt311_subscribe_suback_ping.hex"));
    assert_clean(&d);
    let names: Vec<&str> = d.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["SUBSCRIBE", "SUBACK", "PINGREQ", "PINGRESP"]);
    assert_field(find(&d, "Topic filter 1"), "\"a/b\"", 4..9);
    assert_field(find(&d, "Subscription options"), "0x01", 9..10);
    assert_field(
        find(&d, "Return code 1"),
        "1 (Success - Maximum QoS 1)",
        14..15,
    );
    assert_eq!(
        d.summary,
        "SUBSCRIBE packet 1: a/b; SUBACK packet 1, codes 1; PINGREQ; PINGRESP"
    );
}

#[test]
fn dns_query_and_response_with_compression() {
    let _language = english();
    let d = Protocol::Dns.decode(&fixture("dns_query_example_com.hex"));
    assert_clean(&d);
    assert_eq!(d.summary, "Query 0x1A2B: example.com A");
    assert_field(find(&d, "Transaction ID"), "0x1A2B", 0..2);
    let flags = find(&d, "Flags");
    assert_field(flags, "0x0100", 2..4);
    assert_eq!(find_in(flags, "Recursion desired").value, "yes");
    assert_eq!(find_in(flags, "Query or response").value, "query");
    assert_field(find(&d, "Question 1"), "example.com A", 12..29);
    assert_field(find(&d, "Name"), "example.com", 12..25);
    assert_field(find(&d, "Type"), "1 (A)", 25..27);
    assert_field(find(&d, "Class"), "1 (IN)", 27..29);

    let d = Protocol::Dns.decode(&fixture("dns_response_example_com.hex"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "Response 0x1A2B, NOERROR: example.com A → example.com CNAME cdn.example.com, \
         cdn.example.com A 93.184.216.34"
    );
    let answer = find(&d, "Answer 1");
    assert_eq!(answer.range, 29..47);
    assert_field(find_in(answer, "Name"), "example.com", 29..31);
    assert_field(find_in(answer, "Data"), "cdn.example.com", 41..47);
    assert_field(find_in(answer, "Time to live"), "3600 s", 35..39);
    let answer = find(&d, "Answer 2");
    assert_field(find_in(answer, "Name"), "cdn.example.com", 47..49);
    assert_field(find_in(answer, "Data"), "93.184.216.34", 59..63);
}

#[test]
fn dns_pointer_loops_and_tcp_framing() {
    let _language = english();
    // A question whose name points at itself, then one pointing forward to a pointer back.
    let mut looped = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    looped.extend([0xC0, 0x0C, 0, 1, 0, 1]);
    let d = Protocol::Dns.decode(&looped);
    assert!(
        d.problems().iter().any(|p| p.contains("not backwards")),
        "{d:#?}"
    );
    let mut forward = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    forward.extend([0xC0, 0x0E, 0xC0, 0x0C]);
    let d = Protocol::Dns.decode(&forward);
    assert!(
        d.problems().iter().any(|p| p.contains("not backwards")),
        "{d:#?}"
    );

    // Over TCP the same query follows its two-byte length; ranges are the record's.
    let query = fixture("dns_query_example_com.hex");
    let mut tcp = vec![0, query.len() as u8];
    tcp.extend(&query);
    let d = Protocol::Dns.decode(&tcp);
    assert_clean(&d);
    assert_field(find(&d, "Message length (TCP)"), "29", 0..2);
    assert_field(find(&d, "Name"), "example.com", 14..27);
}

#[test]
fn mdns_ptr_answer_and_cache_flush() {
    let _language = english();
    let d = Protocol::Mdns.decode(&fixture("mdns_ptr_answer.hex"));
    assert_clean(&d);
    assert_eq!(
        find(&d, "Authoritative answer").value,
        "yes",
        "mDNS answers are authoritative"
    );
    let answer = find(&d, "Answer 1");
    assert_field(find_in(answer, "Name"), "_http._tcp.local", 12..30);
    assert_field(find_in(answer, "Type"), "12 (PTR)", 30..32);
    assert_field(find_in(answer, "Cache flush"), "no", 32..34);
    assert_field(find_in(answer, "Data"), "printer._http._tcp.local", 40..50);
    let srv = find(&d, "Additional 1");
    assert_field(find_in(srv, "Name"), "printer._http._tcp.local", 50..52);
    assert_field(find_in(srv, "Class"), "1 (IN)", 54..56);
    assert_field(find_in(srv, "Cache flush"), "yes", 54..56);
    let data = find_in(srv, "Data");
    assert_field(data, "0 0 631 printer.local", 62..78);
    assert_field(find_in(data, "Port"), "631", 66..68);
    assert_field(find_in(data, "Target"), "printer.local", 68..78);
    // The same question asked for a unicast answer (the QU bit of the class).
    let mut question = vec![0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    question.extend([5, b'_', b'i', b'p', b'p', b's', 4, b'_', b't', b'c', b'p']);
    question.extend([5, b'l', b'o', b'c', b'a', b'l', 0, 0, 12, 0x80, 1]);
    let d = Protocol::Mdns.decode(&question);
    assert_clean(&d);
    assert_eq!(find(&d, "Unicast response requested (QU)").value, "yes");
    assert_eq!(find(&d, "Class").value, "1 (IN)");
}

#[test]
fn http_get_and_response_with_body() {
    let _language = english();
    let bytes = fixture("http_get.http");
    let d = Protocol::Http.decode(&bytes);
    assert_clean(&d);
    assert_eq!(d.summary, "GET /index.html on example.com");
    let start = find(&d, "Start line");
    assert_field(start, "GET /index.html HTTP/1.1", 0..24);
    assert_field(find_in(start, "Method"), "GET", 0..3);
    assert_field(find_in(start, "Target"), "/index.html", 4..15);
    assert_field(find_in(start, "Version"), "HTTP/1.1", 16..24);
    assert_field(find(&d, "Host"), "example.com", 26..43);
    assert_field(find(&d, "Accept"), "*/*", 69..80);

    let bytes = fixture("http_200_response.http");
    let d = Protocol::Http.decode(&bytes);
    assert_clean(&d);
    assert_eq!(d.summary, "200 OK, 13 bytes of text/html; charset=UTF-8");
    assert_field(find(&d, "Status code"), "200", 9..12);
    assert_field(find(&d, "Reason phrase"), "OK", 13..15);
    assert_field(find(&d, "Content-Length"), "13", 57..75);
    let body = find(&d, "Body");
    assert_field(body, "13 bytes · \"Hello, world!\"", 79..92);
    assert_eq!(&bytes[body.range.clone()], b"Hello, world!");

    // A chunked body: each chunk with its size.
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nHello\r\n0\r\n\r\n";
    let d = Protocol::Http.decode(chunked);
    assert_clean(&d);
    let body = find(&d, "Body");
    assert_eq!(body.value, "5 bytes in chunks");
    assert_field(find_in(body, "Chunk"), "5 bytes · \"Hello\"", 50..55);
}

#[test]
fn ssdp_search_and_notify_highlight_what_they_are_about() {
    let _language = english();
    let d = Protocol::Ssdp.decode(&fixture("ssdp_msearch.http"));
    assert_clean(&d);
    assert_eq!(d.summary, "M-SEARCH for ssdp:all, answer within 2 s");
    let st = find(&d, "ST");
    assert_eq!(st.value, "ssdp:all");
    assert!(st.highlight);
    assert!(!find(&d, "MX").highlight);
    assert_eq!(find(&d, "MAN").value, "\"ssdp:discover\"");

    let d = Protocol::Ssdp.decode(&fixture("ssdp_notify.http"));
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "NOTIFY ssdp:alive: upnp:rootdevice \
         (uuid:2f402f80-da50-11e1-9b23-001788255acc::upnp:rootdevice)"
    );
    let highlighted: Vec<&str> = d
        .all_fields()
        .into_iter()
        .filter(|f| f.highlight)
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(highlighted, ["LOCATION", "NT", "NTS", "USN"]);
    assert_eq!(
        find(&d, "LOCATION").value,
        "http://192.168.1.10:80/description.xml"
    );
}

#[test]
fn ssdp_search_response() {
    let _language = english();
    let answer = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: upnp:rootdevice\r\n\
                   USN: uuid:1::upnp:rootdevice\r\nLOCATION: http://10.0.0.2:49152/desc.xml\r\n\r\n";
    let d = Protocol::Ssdp.decode(answer);
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "200 OK: upnp:rootdevice at http://10.0.0.2:49152/desc.xml"
    );
    assert!(find(&d, "USN").highlight);
    assert!(!find(&d, "CACHE-CONTROL").highlight);
}

#[test]
fn coap_get_well_known_core_and_its_content() {
    let _language = english();
    let d = Protocol::Coap.decode(&fixture("coap_get_well_known_core.hex"));
    assert_clean(&d);
    assert_eq!(d.summary, "CON GET /.well-known/core, message 32052");
    assert_field(find(&d, "Version"), "1", 0..1);
    assert_field(find(&d, "Type"), "0 (CON)", 0..1);
    assert_field(find(&d, "Token length"), "2", 0..1);
    assert_field(find(&d, "Code"), "0.01 GET", 1..2);
    assert_field(find(&d, "Message ID"), "32052 (0x7D34)", 2..4);
    assert_field(find(&d, "Token"), "20 4A", 4..6);
    let paths: Vec<&Field> = d.fields.iter().filter(|f| f.name == "Uri-Path").collect();
    assert_eq!(paths.len(), 2);
    assert_field(paths[0], "11 · \".well-known\"", 6..18);
    assert_field(paths[1], "11 · \"core\"", 18..23);

    let bytes = fixture("coap_content_response.hex");
    let d = Protocol::Coap.decode(&bytes);
    assert_clean(&d);
    assert_eq!(
        d.summary,
        "ACK 2.05 Content, message 32052 · 56 bytes · application/link-format"
    );
    assert_field(find(&d, "Code"), "2.05 Content", 1..2);
    assert_field(
        find(&d, "Content-Format"),
        "12 · 40 (application/link-format)",
        6..8,
    );
    let size2 = find(&d, "Size2");
    assert_field(size2, "28 · 56", 8..11);
    assert_field(find_in(size2, "Option delta"), "16", 9..10);
    assert_field(find(&d, "Payload marker"), "0xFF", 11..12);
    assert_eq!(find(&d, "Payload").range, 12..68);

    // A two-byte delta extension (14: +269): option 300, empty.
    let d = Protocol::Coap.decode(&[0x40, 0x01, 0, 1, 0xE0, 0x00, 0x1F]);
    assert_clean(&d);
    assert_field(find(&d, "Option delta"), "300", 5..7);
    assert_eq!(find(&d, "Option 300").range, 4..7);
}

#[test]
fn every_truncation_decodes_and_says_truncated() {
    let _language = english();
    for &(name, protocol, complete, open_end) in FIXTURES {
        let bytes = fixture(name);
        assert_clean(&protocol.decode(&bytes));
        for len in 0..bytes.len() {
            let prefix = &bytes[..len];
            for other in Protocol::ALL {
                assert_in_bounds(&other.decode(prefix), len, name);
            }
            let d = protocol.decode(prefix);
            if len == 0 || complete.contains(&len) || open_end.is_some_and(|at| len >= at) {
                continue;
            }
            assert!(
                d.problems().iter().any(|p| p.starts_with("truncated")),
                "{name} cut to {len} bytes shows no truncation: {d:#?}"
            );
        }
    }
}

/// A small xorshift generator: the same buffers on every run, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn random_and_mutated_buffers_never_panic() {
    let _language = english();
    let mut rng = XorShift(0x5EED_1234_ABCD_0001);
    let samples: Vec<Vec<u8>> = FIXTURES.iter().map(|(n, ..)| fixture(n)).collect();
    let layout = sample_layout();
    for round in 0..4000 {
        let bytes: Vec<u8> = if round % 2 == 0 {
            let len = (rng.next() % 300) as usize;
            (0..len).map(|_| rng.next() as u8).collect()
        } else {
            // A real sample with a few bytes changed reaches deeper than noise does.
            let mut sample = samples[(rng.next() as usize) % samples.len()].clone();
            for _ in 0..=(rng.next() % 4) {
                if sample.is_empty() {
                    break;
                }
                let at = (rng.next() as usize) % sample.len();
                sample[at] = rng.next() as u8;
            }
            sample
        };
        for protocol in Protocol::ALL {
            let d = protocol.decode(&bytes);
            assert_in_bounds(&d, bytes.len(), protocol.name());
            for i in 0..bytes.len() {
                if let Some(path) = d.field_at(i) {
                    assert!(d.field(&path).unwrap().range.contains(&i));
                }
            }
        }
        assert_in_bounds(&layout.decode(&bytes), bytes.len(), "layout");
    }
}

#[test]
fn edge_cases_of_lengths_and_names() {
    let _language = english();
    // A remaining length of five bytes is no MQTT; the largest four-byte one says how much
    // of its 256 MiB is missing.
    let d = Protocol::Mqtt.decode(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]);
    assert!(
        d.problems().iter().any(|p| p.contains("at most 4 bytes")),
        "{d:#?}"
    );
    let d = Protocol::Mqtt.decode(&[0x30, 0xFF, 0xFF, 0xFF, 0x7F, 0x00, 0x01, b'a']);
    assert!(
        d.problems()
            .iter()
            .any(|p| p.contains("of 268435455 bytes")),
        "{d:#?}"
    );
    // A record of many packets still has a short summary.
    let pings: Vec<u8> = [0xC0, 0x00].repeat(1000);
    let d = Protocol::Mqtt.decode(&pings);
    assert_eq!(d.fields.len(), 1000);
    assert_eq!(
        d.summary,
        "PINGREQ; PINGREQ; PINGREQ; PINGREQ; … and 996 more"
    );
    // MQTT 5 acknowledgements told by their length: a reason code and properties.
    let d = Protocol::Mqtt.decode(&[0x20, 0x03, 0x01, 0x00, 0x00, 0x40, 0x03, 0x00, 0x0A, 0x10]);
    assert_clean(&d);
    assert_eq!(find(&d, "Session present").value, "yes");
    assert_eq!(find(&d, "Reason code").value, "0 (Success)");
    assert_eq!(
        find_in(&d.fields[1], "Reason code").value,
        "16 (No matching subscribers)"
    );
    assert_eq!(d.summary, "CONNACK 0 (Success); PUBACK for packet 10");

    // Five labels of 63 bytes make a name longer than DNS allows.
    let mut long = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for _ in 0..5 {
        long.push(63);
        long.extend([b'a'; 63]);
    }
    long.extend([0, 0, 1, 0, 1]);
    let d = Protocol::Dns.decode(&long);
    assert!(
        d.problems()
            .iter()
            .any(|p| p.contains("longer than 255 bytes")),
        "{d:#?}"
    );
    // A name that is only a pointer back to an earlier one.
    let mut chain = vec![0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0];
    chain.extend([1, b'x', 0, 0, 1, 0, 1]);
    chain.extend([0xC0, 0x0C, 0, 1, 0, 1]);
    let d = Protocol::Dns.decode(&chain);
    assert_clean(&d);
    assert_field(find_in(&d.fields[7], "Name"), "x", 19..21);
    // A record type without its own reader shows its data as hex.
    let mut other = vec![0, 1, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0];
    other.extend([0, 0, 99, 0, 1, 0, 0, 0, 60, 0, 2, 0xAB, 0xCD]);
    let d = Protocol::Dns.decode(&other);
    assert_clean(&d);
    assert_field(find(&d, "Data"), "AB CD", 23..25);
    assert_field(find(&d, "Type"), "99 (?)", 13..15);
}

#[test]
fn chinese_names_values_problems_and_summaries() {
    let _language = speaking(Language::Chinese);
    let bytes = fixture("modbus_read_holding_request.hex");
    let d = Protocol::ModbusTcp.decode(&bytes);
    assert_eq!(d.summary, "读保持寄存器，单元 1，从 100 起 2 个寄存器");
    assert_field(find(&d, "功能码"), "3 (读保持寄存器)", 7..8);
    assert_field(find(&d, "事务标识"), "1 (0x0001)", 0..2);
    let d = Protocol::ModbusTcp.decode(&bytes[..5]);
    assert_eq!(d.problems(), ["截断：只有 1 字节，应为 2 字节"]);
    let d = Protocol::Dns.decode(&fixture("dns_query_example_com.hex"));
    assert_eq!(find(&d, "期望递归").value, "是");
    let mut bad = sample_layout();
    bad.fields[1].length = 3;
    assert_eq!(
        bad.check().unwrap_err().to_string(),
        "第 2 个字段（Temperature）：I16 占 2 字节，而不是 3 字节"
    );
}

#[test]
fn field_at_finds_the_deepest_field() {
    let _language = english();
    let d = Protocol::ModbusTcp.decode(&fixture("modbus_read_holding_response.hex"));
    let path = d.field_at(3).unwrap();
    assert_eq!(d.field(&path).unwrap().name, "Protocol identifier");
    assert_eq!(path.len(), 2, "inside the MBAP header");
    let path = d.field_at(12).unwrap();
    assert_eq!(d.field(&path).unwrap().name, "Register #2");
    assert_eq!(d.field_at(13), None, "past the record");
}

fn sample_layout() -> Layout {
    Layout {
        name: "Thermostat".into(),
        fields: vec![
            LayoutField {
                name: "Mode".into(),
                offset: 0,
                length: 1,
                kind: FieldType::U8,
                order: ByteOrder::Big,
                labels: [(0, "Idle".to_owned()), (1, "Heating".to_owned())].into(),
            },
            LayoutField {
                name: "Temperature".into(),
                offset: 1,
                length: 2,
                kind: FieldType::I16,
                order: ByteOrder::Little,
                labels: BTreeMap::new(),
            },
            LayoutField {
                name: "Counter".into(),
                offset: 3,
                length: 4,
                kind: FieldType::U32,
                order: ByteOrder::Big,
                labels: BTreeMap::new(),
            },
            LayoutField {
                name: "Counter low".into(),
                offset: 5,
                length: 2,
                kind: FieldType::U16,
                order: ByteOrder::Big,
                labels: BTreeMap::new(),
            },
            LayoutField {
                name: "Setpoint".into(),
                offset: 7,
                length: 4,
                kind: FieldType::F32,
                order: ByteOrder::Big,
                labels: BTreeMap::new(),
            },
            LayoutField {
                name: "Label".into(),
                offset: 11,
                length: 6,
                kind: FieldType::Text,
                order: ByteOrder::Big,
                labels: BTreeMap::new(),
            },
        ],
    }
}

#[test]
fn layout_decodes_both_byte_orders_labels_and_truncation() {
    let _language = english();
    let layout = sample_layout();
    layout.check().unwrap();
    let mut bytes = vec![0x01, 0x0B, 0xFF, 0x00, 0x01, 0x02, 0x03];
    bytes.extend(21.5f32.to_be_bytes());
    bytes.extend(b"hall\0\0");
    let d = layout.decode(&bytes);
    assert_clean(&d);
    assert_field(&d.fields[0], "1 (Heating)", 0..1);
    assert_field(&d.fields[1], "-245", 1..3);
    assert_field(&d.fields[2], "66051", 3..7);
    assert_field(&d.fields[3], "515", 5..7);
    assert_field(&d.fields[4], "21.5", 7..11);
    assert_field(&d.fields[5], "\"hall\"", 11..17);
    assert_eq!(
        d.summary,
        "Thermostat: Mode = 1 (Heating), Temperature = -245, Counter = 66051, \
         Counter low = 515, …"
    );
    // Cut inside the setpoint: it shows what is there and says it is truncated; the text
    // after it lies wholly past the end.
    let d = layout.decode(&bytes[..9]);
    assert_eq!(d.fields[4].range, 7..9);
    assert_eq!(
        d.fields[4].problem.as_deref(),
        Some("truncated: 2 of 4 bytes")
    );
    assert_eq!(d.fields[5].range, 9..9);
    assert_eq!(
        d.fields[5].problem.as_deref(),
        Some("truncated: 0 of 6 bytes")
    );
}

#[test]
fn layout_json_round_trip_and_errors_name_the_field() {
    let _language = english();
    let layout = sample_layout();
    let json = layout.to_json();
    assert_eq!(Layout::from_json(&json).unwrap(), layout);
    assert!(json.contains("\"Little\""), "{json}");

    let file = Layouts(vec![layout.clone(), layout.clone()]);
    assert_eq!(Layouts::from_json(&file.to_json()).unwrap(), file);
    // One layout alone is a file of one.
    assert_eq!(Layouts::from_json(&json).unwrap().0, vec![layout.clone()]);

    // Written by hand: the byte order may be left out (big-endian).
    let hand = r#"{"name": "Meter", "fields": [
        {"name": "Volts", "offset": 0, "length": 2, "kind": "U16"},
        {"name": "State", "offset": 2, "length": 1, "kind": "U8", "labels": {"2": "Fault"}}
    ]}"#;
    let meter = Layout::from_json(hand).unwrap();
    assert_eq!(meter.fields[0].order, ByteOrder::Big);
    let d = meter.decode(&[0x00, 0xE6, 0x02]);
    assert_eq!(d.fields[0].value, "230");
    assert_eq!(d.fields[1].value, "2 (Fault)");

    let mut bad = layout.clone();
    bad.fields[1].length = 3;
    let error = bad.check().unwrap_err();
    assert!(matches!(
        error,
        LayoutError::LengthMismatch { field: 2, .. }
    ));
    assert_eq!(
        error.to_string(),
        "field 2 (Temperature): the type I16 takes 2 bytes, not 3"
    );
    let error = Layout::from_json(&bad.to_json()).unwrap_err();
    assert!(
        error.to_string().starts_with("field 2 (Temperature)"),
        "{error}"
    );

    let mut bad = layout.clone();
    bad.fields[2].name = "  ".into();
    assert_eq!(bad.check().unwrap_err().to_string(), "field 3 needs a name");
    let mut bad = layout.clone();
    bad.fields[5].length = 0;
    assert_eq!(
        bad.check().unwrap_err(),
        LayoutError::ZeroLength {
            field: 6,
            name: "Label".into()
        }
    );
    let mut bad = layout.clone();
    bad.fields[4].labels.insert(1, "On".into());
    assert!(matches!(
        bad.check().unwrap_err(),
        LayoutError::LabelsOnNonInteger { field: 5, .. }
    ));
    let error = Layout::from_json("{\"name\": \"x\", \"fields\": [").unwrap_err();
    assert!(
        error.to_string().starts_with("cannot read the layout:"),
        "{error}"
    );
}
