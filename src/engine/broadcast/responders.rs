//! The responder table: one row per answering address, built from replies as they come.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::presets::{Field, Preset};

/// One device that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Responder {
    /// Where the (last) reply came from.
    pub addr: SocketAddr,
    pub replies: u64,
    pub first_us: u64,
    pub last_us: u64,
    /// From our send to this responder's first reply.
    pub rtt_us: Option<u64>,
    /// The first reply, as text with control bytes escaped, cut short.
    pub preview: String,
    /// What the preset read from the first reply that parsed.
    pub fields: Vec<Field>,
}

/// Responders in address order, one per IP address; indexable, so the table draws only the
/// visible rows without copying the others.
#[derive(Debug, Clone, Default)]
pub struct Responders {
    rows: Vec<Responder>,
}

const PREVIEW_CHARS: usize = 80;

/// Text with control characters shown as escapes, cut to `PREVIEW_CHARS`.
pub fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out = String::new();
    for c in text.chars() {
        if out.chars().count() >= PREVIEW_CHARS {
            out.push('…');
            break;
        }
        match c {
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

impl Responders {
    pub fn clear(&mut self) {
        self.rows.clear();
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Responder> {
        self.rows.iter()
    }

    /// The row at `index` in address order.
    pub fn row(&self, index: usize) -> Option<&Responder> {
        self.rows.get(index)
    }

    pub fn get(&self, ip: IpAddr) -> Option<&Responder> {
        self.position(ip).ok().map(|i| &self.rows[i])
    }

    fn position(&self, ip: IpAddr) -> Result<usize, usize> {
        self.rows.binary_search_by_key(&ip, |r| r.addr.ip())
    }

    /// Adds a reply.
    pub fn record(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        time_us: u64,
        rtt_us: Option<u64>,
        preset: Preset,
    ) {
        let index = match self.position(from.ip()) {
            Ok(i) => i,
            Err(i) => {
                self.rows.insert(
                    i,
                    Responder {
                        addr: from,
                        replies: 0,
                        first_us: time_us,
                        last_us: time_us,
                        rtt_us,
                        preview: preview(bytes),
                        fields: Vec::new(),
                    },
                );
                i
            }
        };
        let row = &mut self.rows[index];
        row.addr = from;
        row.replies += 1;
        row.last_us = time_us;
        if row.fields.is_empty() {
            row.fields = preset.parse(bytes);
        }
    }

    /// The table as tab-separated text (with a header), for the clipboard.
    pub fn to_tsv(&self) -> String {
        let mut out = String::from("Address\tReplies\tRTT ms\tFields\tFirst reply\n"); // i18n-exempt: the header row of a table for spreadsheets and scripts
        for r in self.iter() {
            let fields = r
                .fields
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ");
            let rtt = r
                .rtt_us
                .map_or_else(String::new, |us| format!("{:.2}", us as f64 / 1000.0));
            let _ = writeln!(
                out,
                "{}\t{}\t{rtt}\t{fields}\t{}",
                r.addr, r.replies, r.preview
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_per_address_count_replies_and_keep_first_rtt() {
        let mut t = Responders::default();
        let a: SocketAddr = "198.18.0.2:48899".parse().unwrap();
        let b: SocketAddr = "198.18.0.1:48899".parse().unwrap();
        t.record(
            a,
            b"198.18.0.2,020000000002,HF",
            10,
            Some(1500),
            Preset::UsrIot,
        );
        t.record(b, b"x\r\n", 20, Some(900), Preset::Custom);
        t.record(a, b"again", 30, Some(50), Preset::UsrIot);
        assert_eq!(t.len(), 2);
        let rows: Vec<_> = t.iter().collect();
        assert_eq!(rows[0].addr, b, "sorted by address");
        let ra = t.get(a.ip()).unwrap();
        assert_eq!(ra.replies, 2);
        assert_eq!((ra.first_us, ra.last_us), (10, 30));
        assert_eq!(ra.rtt_us, Some(1500), "RTT of the first reply");
        assert_eq!(ra.fields[1], ("MAC".into(), "02:00:00:00:00:02".into()));
        assert_eq!(t.get(b.ip()).unwrap().preview, "x\\r\\n");
        let tsv = t.to_tsv();
        assert_eq!(tsv.lines().count(), 3);
        assert!(tsv.contains(
            "198.18.0.2:48899\t2\t1.50\tIP=198.18.0.2; MAC=02:00:00:00:00:02; Module=HF"
        ));
    }

    #[test]
    fn previews_are_cut() {
        let long = vec![b'a'; 200];
        let p = preview(&long);
        assert_eq!(p.chars().count(), PREVIEW_CHARS + 1);
        assert!(p.ends_with('…'));
        assert_eq!(preview(&[0, b'A']), "\\x00A");
    }
}
