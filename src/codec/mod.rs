//! Codecs: hex parsing and formatting, backslash escapes, and text encodings.
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

pub use encoding::TextEncoding;
