//! One writer for the three formats: the background capture writes through it, and so does
//! saving a log at once.

use std::io::{self, Write};

use super::synth::{Emit, Synth};
use super::{CaptureFormat, CaptureOptions, CaptureRecord, Head, pcapng, text};
use crate::codec::TextEncoding;

/// Counts what goes through to the file.
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Kind {
    Pcapng(Synth),
    Text(TextEncoding, String),
    Csv(TextEncoding, String),
}

/// Writes records in one [`CaptureFormat`].
pub struct FormatWriter<W: Write> {
    out: Counting<W>,
    kind: Kind,
}

struct ToPcapng<'a, W: Write>(&'a mut Counting<W>);

impl<W: Write> Emit for ToPcapng<'_, W> {
    type Error = io::Error;
    fn frame(&mut self, time_us: u64, headers: &[u8], payload: &[u8]) -> io::Result<()> {
        pcapng::write_packet(self.0, time_us, headers, payload)
    }
}

impl<W: Write> FormatWriter<W> {
    /// Starts a file: writes its header.
    pub fn new(format: CaptureFormat, out: W, options: &CaptureOptions) -> io::Result<Self> {
        let mut out = Counting {
            inner: out,
            written: 0,
        };
        let kind = match format {
            CaptureFormat::Pcapng => {
                pcapng::write_header(
                    &mut out,
                    &options.session_label,
                    "Sockpit session; Ethernet, IP and TCP/UDP headers are reconstructed from the socket's bytes", // i18n-exempt: a comment stored in the pcapng file
                )?;
                Kind::Pcapng(Synth::new(options.opened_by))
            }
            CaptureFormat::Text => {
                out.write_all(
                    text::text_header(&options.session_label, options.encoding).as_bytes(),
                )?;
                Kind::Text(options.encoding, String::new())
            }
            CaptureFormat::Csv => {
                out.write_all(text::CSV_HEADER.as_bytes())?;
                Kind::Csv(options.encoding, String::new())
            }
        };
        Ok(Self { out, kind })
    }

    /// Writes one record.
    pub fn write_record(&mut self, record: &CaptureRecord) -> io::Result<()> {
        self.write(&record.head(), &record.bytes)
    }

    pub fn write(&mut self, head: &Head, bytes: &[u8]) -> io::Result<()> {
        match &mut self.kind {
            Kind::Pcapng(synth) => synth.frames(head, bytes, ToPcapng(&mut self.out)),
            Kind::Text(encoding, line) => {
                line.clear();
                text::text_record(head, bytes, *encoding, line);
                self.out.write_all(line.as_bytes())
            }
            Kind::Csv(encoding, line) => {
                line.clear();
                text::csv_record(head, bytes, *encoding, line);
                self.out.write_all(line.as_bytes())
            }
        }
    }

    /// Bytes written to the file so far (what a buffer in `W` holds included).
    pub fn bytes_written(&self) -> u64 {
        self.out.written
    }

    /// Flushes what `W` buffers.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and gives the output back.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out.inner)
    }
}
