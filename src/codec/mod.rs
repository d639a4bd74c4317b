//! Codecs: hex parsing and formatting, backslash escapes, text encodings, and protocol views.
//!
//! Everything here is pure and synchronous, shared by every tab, the send box and the CLI.

pub mod checksum;
mod display;
pub mod encoding;
pub mod escape;
pub mod hex;
pub mod library;
pub mod macros;
pub mod payload;
pub mod protocol;

pub use encoding::TextEncoding;
