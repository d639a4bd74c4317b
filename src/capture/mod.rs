//! Capture to file: every record of a session written to a pcapng, text or CSV file, and
//! captures read back as records ("open a capture").
//!
//! - [`FormatWriter`] turns [`CaptureRecord`]s into one of the three [`CaptureFormat`]s in
//!   one pass. It is synchronous: the background capture's thread uses it, and so can a "save
//!   the log now" export.
//! - [`Capture::start`] opens the file at once (so a folder one may not write to fails there,
//!   with a sentence) and gives a [`CaptureTap`], a pipeline [`Stage`] that runs on the
//!   network worker and never blocks or touches the disk, and a [`CaptureHandle`] for the
//!   owner: its status every frame, and stop.
//! - [`open_capture`] reads pcap and pcapng files (ours and other tools') back into records.
//!
//! A socket never sees the packets under its bytes, so a pcapng capture *synthesises* them:
//! Ethernet, IPv4 or IPv6 and TCP or UDP headers with the session's real addresses and ports,
//! correct lengths and checksums, a three-way handshake before a TCP stream's first bytes and
//! FINs after its close (see [`synth`] for the rules). Wireshark then follows streams and
//! decodes protocols as if it had captured them; the interface's description says the headers
//! are reconstructed.
//!
//! This module never names the window: the GUI and the CLI both drive it.
//!
//! [`Stage`]: crate::engine::session::Stage

mod background;
mod explain;
mod pcapng;
mod read;
pub mod synth;
pub mod text;
mod writer;

pub use background::{
    Capture, CaptureHandle, CaptureLimits, CaptureState, CaptureStatus, CaptureTap,
    IN_FLIGHT_BYTES_MAX, STOP_WAIT,
};
pub use explain::io_sentence;
pub use read::{
    CutOff, FileKind, OpenedCapture, PAYLOAD_BYTES_MAX, RECORDS_MAX, ReadLimits, Skipped,
    open_capture, open_capture_with,
};
pub use writer::FormatWriter;

use std::borrow::Cow;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use rust_i18n::t;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::codec::TextEncoding;
pub use crate::engine::session::Direction;
use crate::engine::session::Record;

/// The file formats a capture can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum CaptureFormat {
    /// pcapng with synthesised headers, for Wireshark, tshark and tcpdump.
    #[default]
    Pcapng,
    /// One line per record with time, direction, addresses, length and text; the hex on an
    /// indented line below. For reading and grep.
    Text,
    /// One row per record (RFC 4180), for spreadsheets and scripts.
    Csv,
}

impl CaptureFormat {
    /// Every format, in the order pickers show them.
    pub const ALL: [Self; 3] = [Self::Pcapng, Self::Text, Self::Csv];

    /// The name shown in pickers.
    pub fn label(self) -> Cow<'static, str> {
        match self {
            Self::Pcapng => Cow::Borrowed("pcapng (Wireshark)"),
            Self::Text => t!("capture.explain.format.text"),
            Self::Csv => Cow::Borrowed("CSV"),
        }
    }

    /// The file name extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Pcapng => "pcapng",
            Self::Text => "txt",
            Self::Csv => "csv",
        }
    }

    /// The format a file name's extension names (`.pcapng`, `.txt`, `.log`, `.csv`, any case).
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "pcapng" => Some(Self::Pcapng),
            "txt" | "log" | "text" => Some(Self::Text),
            "csv" => Some(Self::Csv),
            _ => None,
        }
    }
}

/// The transport a session's records travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Transport {
    Tcp,
    Udp,
}

impl Transport {
    pub fn label(self) -> &'static str {
        match self {
            Self::Tcp => "TCP",
            Self::Udp => "UDP",
        }
    }
}

/// What a record says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Bytes that went `direction`.
    Data,
    /// The TCP stream between `local` and `peer` ended (its bytes are empty). In pcapng it
    /// becomes FIN/ACK from each side and the last ACK; UDP has no close, so it writes nothing
    /// there.
    Closed,
}

/// Which side opened a TCP connection, for the synthesised handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpenedBy {
    /// This end connected (a TCP Client session).
    Local,
    /// The peer connected (a TCP Server session's clients).
    Peer,
}

/// One record, owned, as a capture writes it and as [`open_capture`] reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureRecord {
    /// Microseconds since the Unix epoch.
    pub time_us: u64,
    pub direction: Direction,
    pub kind: RecordKind,
    pub transport: Transport,
    /// This end (as the worker knows it: `0.0.0.0:7000` for a socket bound to all interfaces).
    pub local: SocketAddr,
    pub peer: SocketAddr,
    pub bytes: Vec<u8>,
}

impl CaptureRecord {
    /// Bytes that went `direction` between `local` and `peer`.
    pub fn data(
        time_us: u64,
        direction: Direction,
        transport: Transport,
        local: SocketAddr,
        peer: SocketAddr,
        bytes: Vec<u8>,
    ) -> Self {
        Self {
            time_us,
            direction,
            kind: RecordKind::Data,
            transport,
            local,
            peer,
            bytes,
        }
    }

    /// The TCP stream between `local` and `peer` ended at `time_us`.
    pub fn closed(time_us: u64, local: SocketAddr, peer: SocketAddr) -> Self {
        Self {
            time_us,
            // A close belongs to neither direction; `Received` is only a placeholder.
            direction: Direction::Received,
            kind: RecordKind::Closed,
            transport: Transport::Tcp,
            local,
            peer,
            bytes: Vec::new(),
        }
    }

    /// A pipeline record, copied.
    pub fn from_record(record: &Record<'_>, transport: Transport) -> Self {
        Self::data(
            record.time_us,
            record.direction,
            transport,
            record.local,
            record.peer,
            record.bytes.to_vec(),
        )
    }

    fn head(&self) -> Head {
        Head {
            time_us: self.time_us,
            direction: self.direction,
            kind: self.kind,
            transport: self.transport,
            local: self.local,
            peer: self.peer,
        }
    }
}

/// A record without its bytes: what the background capture keeps per record, with the bytes
/// in one shared buffer per batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub time_us: u64,
    pub direction: Direction,
    pub kind: RecordKind,
    pub transport: Transport,
    pub local: SocketAddr,
    pub peer: SocketAddr,
}

/// What a writer needs besides the format.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaptureOptions {
    /// How the text columns of text and CSV files show the bytes (escapes as in the log).
    pub encoding: TextEncoding,
    /// Names the session, e.g. "Sockpit TCP Client 127.0.0.1:7000": the pcapng interface's
    /// name, the text file's first line.
    pub session_label: String,
    /// Who opened the TCP connections, for the synthesised handshakes. `None`: the sender of
    /// a stream's first record is taken to be its opener (see [`synth`]).
    pub opened_by: Option<OpenedBy>,
}

/// A capture that could not start, or a file that could not be read. `Display` is the
/// sentence for users, naming the file and what to do.
#[derive(Debug, Error)]
pub enum CaptureError {
    /// The file could not be created or its first bytes written.
    #[error("{}", explain::cannot_create(path, source))]
    Create { path: PathBuf, source: io::Error },
    /// The writer thread could not be started.
    #[error("{}", t!("capture.explain.thread", path = path.display(), error = source))]
    Thread { path: PathBuf, source: io::Error },
    /// The file to read could not be opened or read.
    #[error("{}", explain::cannot_read(path, source))]
    Open { path: PathBuf, source: io::Error },
    /// The file is neither pcap nor pcapng.
    #[error("{}", t!("capture.explain.not_a_capture", path = path.display()))]
    NotACapture { path: PathBuf },
    /// The file starts like a capture but its header is broken.
    #[error("{}", t!("capture.explain.corrupt", path = path.display(), detail = detail))]
    Corrupt { path: PathBuf, detail: String },
}

impl CaptureError {
    /// The file the error concerns.
    pub fn path(&self) -> &Path {
        match self {
            Self::Create { path, .. }
            | Self::Thread { path, .. }
            | Self::Open { path, .. }
            | Self::NotACapture { path }
            | Self::Corrupt { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_distinct_labels_and_extensions_that_map_back() {
        for f in CaptureFormat::ALL {
            let path = PathBuf::from(format!("x.{}", f.extension()));
            assert_eq!(CaptureFormat::from_path(&path), Some(f));
        }
        assert_eq!(
            CaptureFormat::from_path(Path::new("A.PCAPNG")),
            Some(CaptureFormat::Pcapng)
        );
        assert_eq!(CaptureFormat::from_path(Path::new("a.pcap")), None);
        let mut labels: Vec<_> = CaptureFormat::ALL.iter().map(|f| f.label()).collect();
        labels.dedup();
        assert_eq!(labels.len(), 3);
    }

    #[test]
    fn format_round_trips_through_serde() {
        for f in CaptureFormat::ALL {
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(serde_json::from_str::<CaptureFormat>(&json).unwrap(), f);
        }
    }
}
