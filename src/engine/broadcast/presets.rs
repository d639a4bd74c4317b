//! Discovery presets: each builds its request and reads the fields a user cares about out of
//! the replies (SSDP, mDNS, WS-Discovery, USR-IOT/Hi-Flying, Lantronix, `MikroTik` MNDP), and
//! the Wake-on-LAN magic packet.

use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use rust_i18n::t;
use serde::{Deserialize, Serialize};

/// Where a preset's request goes by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultTarget {
    /// The interface's broadcast address (directed), on this port.
    Broadcast(u16),
    /// A multicast group and port.
    Multicast(Ipv4Addr, u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Preset {
    #[default]
    Custom,
    Ssdp,
    Mdns,
    WsDiscovery,
    UsrIot,
    Lantronix,
    Mndp,
}

/// One parsed field of a reply.
pub type Field = (String, String);

pub const SSDP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
pub const MDNS_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 251);

impl Preset {
    pub const ALL: [Self; 7] = [
        Self::Custom,
        Self::Ssdp,
        Self::Mdns,
        Self::WsDiscovery,
        Self::UsrIot,
        Self::Lantronix,
        Self::Mndp,
    ];

    pub fn name(self) -> Cow<'static, str> {
        match self {
            Self::Custom => t!("engine.preset.custom"),
            Self::Ssdp => Cow::Borrowed("SSDP M-SEARCH (UPnP)"), // i18n-exempt: protocol and message names
            Self::Mdns => t!("engine.preset.mdns"),
            Self::WsDiscovery => t!("engine.preset.ws_discovery"),
            Self::UsrIot => t!("engine.preset.usr_iot"),
            Self::Lantronix => t!("engine.preset.lantronix"),
            Self::Mndp => Cow::Borrowed("MikroTik MNDP"), // i18n-exempt: product and protocol names
        }
    }

    /// What the preset finds, for the tooltip.
    pub fn description(self) -> Cow<'static, str> {
        match self {
            Self::Custom => t!("engine.preset.about.custom"),
            Self::Ssdp => t!("engine.preset.about.ssdp"),
            Self::Mdns => t!("engine.preset.about.mdns"),
            Self::WsDiscovery => t!("engine.preset.about.ws_discovery"),
            Self::UsrIot => t!("engine.preset.about.usr_iot"),
            Self::Lantronix => t!("engine.preset.about.lantronix"),
            Self::Mndp => t!("engine.preset.about.mndp"),
        }
    }

    pub fn default_target(self) -> Option<DefaultTarget> {
        match self {
            Self::Custom => None,
            Self::Ssdp => Some(DefaultTarget::Multicast(SSDP_GROUP, 1900)),
            Self::Mdns => Some(DefaultTarget::Multicast(MDNS_GROUP, 5353)),
            Self::WsDiscovery => Some(DefaultTarget::Multicast(SSDP_GROUP, 3702)),
            Self::UsrIot => Some(DefaultTarget::Broadcast(48899)),
            Self::Lantronix => Some(DefaultTarget::Broadcast(30718)),
            Self::Mndp => Some(DefaultTarget::Broadcast(5678)),
        }
    }

    /// The request bytes; `None` for Custom (the user's payload is used).
    pub fn request(self) -> Option<Vec<u8>> {
        match self {
            Self::Custom => None,
            Self::Ssdp => Some(
                "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 1\r\nST: ssdp:all\r\n\r\n" // i18n-exempt: the protocol's request bytes
                    .as_bytes()
                    .to_vec(),
            ),
            Self::Mdns => Some(mdns_services_query()),
            Self::WsDiscovery => Some(ws_discovery_probe().into_bytes()),
            Self::UsrIot => Some(b"HF-A11ASSISTHREAD".to_vec()),
            Self::Lantronix => Some(vec![0x00, 0x00, 0x00, 0xF6]),
            Self::Mndp => Some(vec![0x00, 0x00, 0x00, 0x00]),
        }
    }

    /// The fields this preset reads from a reply; empty when the reply is not in its format.
    pub fn parse(self, reply: &[u8]) -> Vec<Field> {
        match self {
            Self::Custom => Vec::new(),
            Self::Ssdp => parse_ssdp(reply),
            Self::Mdns => parse_mdns(reply),
            Self::WsDiscovery => parse_ws_discovery(reply),
            Self::UsrIot => parse_usr_iot(reply),
            Self::Lantronix => parse_lantronix(reply),
            Self::Mndp => parse_mndp(reply),
        }
    }
}

fn field(k: &str, v: impl Into<String>) -> Field {
    (k.to_owned(), v.into())
}

/// An SSDP reply is an HTTP response; the headers are case-insensitive.
pub fn parse_ssdp(reply: &[u8]) -> Vec<Field> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n").flat_map(|l| l.split('\n'));
    let Some(status) = lines.next() else {
        return Vec::new();
    };
    if !(status.starts_with("HTTP/") || status.starts_with("NOTIFY")) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim().to_ascii_uppercase();
        if ["LOCATION", "SERVER", "ST", "USN", "NT"].contains(&name.as_str()) {
            out.push(field(&name, value.trim()));
        }
    }
    out
}

/// A DNS-SD service enumeration query (`_services._dns-sd._udp.local` PTR) asking for a
/// unicast reply (the QU bit), so answers come back to our port.
pub fn mdns_services_query() -> Vec<u8> {
    use simple_dns::{CLASS, Name, Packet, QCLASS, QTYPE, Question, TYPE};
    let mut packet = Packet::new_query(0);
    if let Ok(name) = Name::new("_services._dns-sd._udp.local") {
        packet.questions.push(Question::new(
            name,
            QTYPE::TYPE(TYPE::PTR),
            QCLASS::CLASS(CLASS::IN),
            true,
        ));
    }
    packet.build_bytes_vec().unwrap_or_default()
}

/// Service names (PTR targets), host addresses and SRV targets from an mDNS answer.
pub fn parse_mdns(reply: &[u8]) -> Vec<Field> {
    use simple_dns::rdata::RData;
    let Ok(packet) = simple_dns::Packet::parse(reply) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for rr in packet.answers.iter().chain(&packet.additional_records) {
        match &rr.rdata {
            RData::PTR(p) => out.push(field("Service", p.0.to_string())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            RData::SRV(s) => out.push(field("Host", format!("{}:{}", s.target, s.port))), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            RData::A(a) => out.push(field("Address", Ipv4Addr::from(a.address).to_string())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            _ => {}
        }
    }
    out
}

/// A WS-Discovery Probe (SOAP over UDP), the request ONVIF cameras answer.
pub fn ws_discovery_probe() -> String {
    let id = crate::traffic::now_us();
    format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#, // i18n-exempt: the protocol's request bytes
            r#"<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope" "#, // i18n-exempt: the protocol's request bytes
            r#"xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing" "#,
            r#"xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery">"#,
            "<e:Header><w:MessageID>uuid:{:08x}-0000-4000-8000-{:012x}</w:MessageID>", // i18n-exempt: the protocol's request bytes
            "<w:To e:mustUnderstand=\"true\">urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>", // i18n-exempt: the protocol's request bytes
            "<w:Action e:mustUnderstand=\"true\">http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action>", // i18n-exempt: the protocol's request bytes
            "</e:Header><e:Body><d:Probe/></e:Body></e:Envelope>" // i18n-exempt: the protocol's request bytes
        ),
        (id >> 32) as u32,
        id & 0xFFFF_FFFF_FFFF
    )
}

/// The text inside every `<prefix:Tag ...>…</prefix:Tag>`, whatever the namespace prefix.
fn xml_elements(text: &str, tag: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        let Some(end) = rest.find('>') else {
            break;
        };
        let head = &rest[..end];
        let name = head.split_whitespace().next().unwrap_or("");
        let local = name.rsplit(':').next().unwrap_or(name);
        if local == tag && !head.starts_with('/') && !head.ends_with('/') {
            let body = &rest[end + 1..];
            if let Some(close) = body.find("</") {
                out.push(body[..close].trim().to_owned());
            }
        }
        rest = &rest[end..];
    }
    out
}

pub fn parse_ws_discovery(reply: &[u8]) -> Vec<Field> {
    let text = String::from_utf8_lossy(reply);
    if !text.contains("ProbeMatch") {
        return Vec::new();
    }
    let mut out = Vec::new();
    for x in xml_elements(&text, "XAddrs") {
        out.push(field("XAddrs", x));
    }
    let types = xml_elements(&text, "Types"); // i18n-exempt: an XML element name
    for t in types {
        out.push(field("Types", t)); // i18n-exempt: a JSON key of the CLI's output, read by scripts
    }
    let scopes = xml_elements(&text, "Scopes"); // i18n-exempt: an XML element name
    for s in scopes {
        out.push(field("Scopes", s)); // i18n-exempt: a JSON key of the CLI's output, read by scripts
    }
    out
}

/// `IP,MAC,MODULE` (the MAC as 12 hex digits).
pub fn parse_usr_iot(reply: &[u8]) -> Vec<Field> {
    let text = String::from_utf8_lossy(reply);
    let parts: Vec<&str> = text.trim().split(',').map(str::trim).collect();
    if parts.len() < 2 || parts[0].parse::<IpAddr>().is_err() {
        return Vec::new();
    }
    let mut out = vec![field("IP", parts[0])];
    let mac = parts[1];
    let pretty = if mac.len() == 12 && mac.chars().all(|c| c.is_ascii_hexdigit()) {
        mac.as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
            .collect::<Vec<_>>()
            .join(":")
    } else {
        mac.to_owned()
    };
    out.push(field("MAC", pretty));
    if let Some(module) = parts.get(2).filter(|m| !m.is_empty()) {
        out.push(field("Module", *module)); // i18n-exempt: a JSON key of the CLI's output, read by scripts
    }
    out
}

fn mac_text(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Reply type `00 00 00 F7`; the device's MAC is bytes 24–29 of the 30-byte reply.
pub fn parse_lantronix(reply: &[u8]) -> Vec<Field> {
    if reply.len() < 4 || reply[..4] != [0x00, 0x00, 0x00, 0xF7] {
        return Vec::new();
    }
    let mut out = vec![field("Reply", "discovery answer (0xF7)")]; // i18n-exempt: a JSON key and value of the CLI's output, read by scripts
    if reply.len() >= 30 {
        out.push(field("MAC", mac_text(&reply[24..30])));
    }
    out
}

/// MNDP: a 4-byte header, then type-length-value records (big-endian type and length).
pub fn parse_mndp(reply: &[u8]) -> Vec<Field> {
    if reply.len() < 8 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut at = 4;
    while at + 4 <= reply.len() {
        let kind = u16::from_be_bytes([reply[at], reply[at + 1]]);
        let len = usize::from(u16::from_be_bytes([reply[at + 2], reply[at + 3]]));
        let Some(value) = reply.get(at + 4..at + 4 + len) else {
            break;
        };
        let text = || String::from_utf8_lossy(value).into_owned();
        match kind {
            1 if len == 6 => out.push(field("MAC", mac_text(value))),
            5 => out.push(field("Identity", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            7 => out.push(field("Version", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            8 => out.push(field("Platform", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            10 if len == 4 => {
                let secs = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
                out.push(field("Uptime", format!("{secs} s"))); // i18n-exempt: a JSON key of the CLI's output, read by scripts
            }
            11 => out.push(field("Software ID", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            12 => out.push(field("Board", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            16 => out.push(field("Interface", text())), // i18n-exempt: a JSON key of the CLI's output, read by scripts
            17 if len == 4 => out.push(field(
                "IPv4",
                Ipv4Addr::new(value[0], value[1], value[2], value[3]).to_string(),
            )),
            _ => {}
        }
        at += 4 + len;
    }
    out
}

/// Parses a MAC typed in one of the usual forms: `00:11:22:33:44:55`, `00-11-22-33-44-55`,
/// `0011.2233.4455` (Cisco) or `001122334455`. Other groupings of 12 hex digits
/// (`001:122:334:455`, `0.0.1.1…`, mixed separators) are refused: they are typos as often as
/// not, and a magic packet for a wrong MAC wakes nobody without a word.
pub fn parse_mac(text: &str) -> Result<[u8; 6], String> {
    let t = text.trim();
    if let Some(bad) = t
        .chars()
        .find(|c| !c.is_ascii_hexdigit() && !c.is_whitespace() && !matches!(c, ':' | '-' | '.'))
    {
        return Err(t!("engine.preset.mac.bad_digit", ch = bad.escape_debug()).into_owned());
    }
    let digits = t.chars().filter(char::is_ascii_hexdigit).count();
    if digits != 12 {
        return Err(t!("engine.preset.mac.digit_count", digits = digits).into_owned());
    }
    let (separator, group_len) = if t.contains(':') {
        (Some(':'), 2)
    } else if t.contains('-') {
        (Some('-'), 2)
    } else if t.contains('.') {
        (Some('.'), 4)
    } else {
        (None, 12)
    };
    let well_formed = match separator {
        None => t.len() == 12,
        Some(sep) => t
            .split(sep)
            .all(|g| g.len() == group_len && g.chars().all(|c| c.is_ascii_hexdigit())),
    };
    if !well_formed {
        let shown: String = t.chars().take(40).collect();
        return Err(t!(
            "engine.preset.mac.bad_form",
            shown = shown,
            forms = t!("engine.preset.mac.forms")
        )
        .into_owned());
    }
    let hex: Vec<u8> = t
        .bytes()
        .filter(u8::is_ascii_hexdigit)
        .map(|b| match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        })
        .collect();
    let mut mac = [0u8; 6];
    for (byte, pair) in mac.iter_mut().zip(hex.chunks_exact(2)) {
        *byte = pair[0] << 4 | pair[1];
    }
    Ok(mac)
}

/// The Wake-on-LAN magic packet: six 0xFF bytes, then the MAC sixteen times.
pub fn magic_packet(mac: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0xFF; 6];
    for _ in 0..16 {
        p.extend_from_slice(&mac);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssdp_reply_fields() {
        let reply = b"HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=1800\r\nLocation: http://192.0.2.7:49152/desc.xml\r\nSERVER: Linux/5.4 UPnP/1.0 Test/1.0\r\nST: upnp:rootdevice\r\nUSN: uuid:1234::upnp:rootdevice\r\n\r\n";
        let f = parse_ssdp(reply);
        assert_eq!(
            f,
            vec![
                field("LOCATION", "http://192.0.2.7:49152/desc.xml"),
                field("SERVER", "Linux/5.4 UPnP/1.0 Test/1.0"),
                field("ST", "upnp:rootdevice"),
                field("USN", "uuid:1234::upnp:rootdevice"),
            ]
        );
        assert!(parse_ssdp(b"garbage").is_empty());
        let req = Preset::Ssdp.request().unwrap();
        assert!(req.starts_with(b"M-SEARCH * HTTP/1.1\r\n"));
        assert!(req.ends_with(b"\r\n\r\n"));
    }

    #[test]
    fn mdns_query_and_answer() {
        use simple_dns::{CLASS, Name, Packet, ResourceRecord, rdata::PTR, rdata::RData};
        let request = Preset::Mdns.request().unwrap();
        let q = Packet::parse(&request).unwrap();
        assert_eq!(q.questions.len(), 1);
        assert_eq!(
            q.questions[0].qname.to_string(),
            "_services._dns-sd._udp.local"
        );
        assert!(q.questions[0].unicast_response);

        let mut reply = Packet::new_reply(0);
        reply.answers.push(ResourceRecord::new(
            Name::new("_services._dns-sd._udp.local").unwrap(),
            CLASS::IN,
            120,
            RData::PTR(PTR(Name::new("_http._tcp.local").unwrap())),
        ));
        let bytes = reply.build_bytes_vec().unwrap();
        assert_eq!(
            parse_mdns(&bytes),
            vec![field("Service", "_http._tcp.local")]
        );
        assert!(parse_mdns(b"\x01").is_empty());
    }

    #[test]
    fn ws_discovery_fields_whatever_the_prefix() {
        let reply = r#"<?xml version="1.0"?><SOAP-ENV:Envelope><SOAP-ENV:Body><wsdd:ProbeMatches><wsdd:ProbeMatch><wsdd:Types>dn:NetworkVideoTransmitter tds:Device</wsdd:Types><wsdd:XAddrs>http://192.0.2.9/onvif/device_service</wsdd:XAddrs></wsdd:ProbeMatch></wsdd:ProbeMatches></SOAP-ENV:Body></SOAP-ENV:Envelope>"#;
        let f = parse_ws_discovery(reply.as_bytes());
        assert_eq!(
            f,
            vec![
                field("XAddrs", "http://192.0.2.9/onvif/device_service"),
                field("Types", "dn:NetworkVideoTransmitter tds:Device"),
            ]
        );
        let probe = ws_discovery_probe();
        assert!(probe.contains("<d:Probe/>"));
        assert!(parse_ws_discovery(probe.as_bytes()).is_empty());
    }

    #[test]
    fn usr_iot_reply() {
        let f = parse_usr_iot(b"198.18.0.1,020000000001,HF-LPB100");
        assert_eq!(
            f,
            vec![
                field("IP", "198.18.0.1"),
                field("MAC", "02:00:00:00:00:01"),
                field("Module", "HF-LPB100"),
            ]
        );
        assert!(parse_usr_iot(b"HF-A11ASSISTHREAD").is_empty());
    }

    #[test]
    fn lantronix_reply() {
        let mut reply = vec![0, 0, 0, 0xF7];
        reply.resize(24, 0);
        reply.extend_from_slice(&[0x00, 0x20, 0x4A, 0x12, 0x34, 0x56]);
        assert_eq!(
            parse_lantronix(&reply)[1],
            field("MAC", "00:20:4A:12:34:56")
        );
        assert!(parse_lantronix(&[0, 0, 0, 0xF6]).is_empty());
    }

    #[test]
    fn mndp_tlvs() {
        let mut r = vec![0, 0, 0, 1];
        let mut tlv = |t: u16, v: &[u8]| {
            r.extend_from_slice(&t.to_be_bytes());
            r.extend_from_slice(&(v.len() as u16).to_be_bytes());
            r.extend_from_slice(v);
        };
        tlv(1, &[0x4C, 0x5E, 0x0C, 1, 2, 3]);
        tlv(5, b"MikroTik");
        tlv(7, b"7.15");
        tlv(10, &3600u32.to_le_bytes());
        tlv(17, &[198, 18, 0, 1]);
        let f = parse_mndp(&r);
        assert_eq!(
            f,
            vec![
                field("MAC", "4C:5E:0C:01:02:03"),
                field("Identity", "MikroTik"),
                field("Version", "7.15"),
                field("Uptime", "3600 s"),
                field("IPv4", "198.18.0.1"),
            ]
        );
        // A truncated record stops the parse instead of reading past the end.
        r.extend_from_slice(&[0, 5, 0, 50, b'x']);
        assert_eq!(parse_mndp(&r).len(), 5);
    }

    #[test]
    fn macs_and_magic_packets() {
        let mac = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
        for text in [
            "00:11:22:33:44:55",
            "00-11-22-33-44-55",
            "0011.2233.4455",
            "001122334455",
        ] {
            assert_eq!(parse_mac(text), Ok(mac), "{text}");
        }
        assert!(
            parse_mac("00:11:22:33:44")
                .unwrap_err()
                .contains("12 hex digits")
        );
        for odd in [
            "001:122:334:455",
            "0.0.1.1.2.2.3.3.4.4.5.5",
            "00:11:22:33:4:455",
            "00:11-22:33:44:55",
            "00 11 22 33 44 55",
            "001122.334455",
        ] {
            assert!(
                parse_mac(odd)
                    .unwrap_err()
                    .contains("not written like a MAC"),
                "{odd}"
            );
        }
        assert_eq!(
            parse_mac(" aa:BB:cc:DD:ee:FF "),
            Ok([0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF])
        );
        assert!(
            parse_mac("00:11:22:33:44:GG")
                .unwrap_err()
                .contains("\"G\"")
        );
        let p = magic_packet(mac);
        assert_eq!(p.len(), 102);
        assert_eq!(&p[..6], &[0xFF; 6]);
        assert_eq!(&p[6..12], &mac);
        assert_eq!(&p[96..102], &mac);
    }
}
