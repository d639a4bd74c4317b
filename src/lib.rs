//! Sockpit: a desktop socket workbench.
//!
//! The layers, from the bottom up (a test in `tests/layers.rs` keeps them apart):
//!
//! - [`codec`], [`net`], [`traffic`], [`iptools`]: pure rules and OS access — payload text,
//!   hex and encodings; sockets and the sentences that explain their errors; the traffic log
//!   and its filters; the IP tools.
//! - [`engine`]: the workers, one per session, each with its receive and send pipeline; typed
//!   `Command`s in and `Event`s out over bounded channels.
//! - [`gui`] (the window) and [`cli`] (the command line): two siblings over the engine. Neither
//!   uses the other's types, and nothing below them names egui.
//!
//! [`settings`] is the window's saved state and its repair on load.

pub mod capture;
pub mod cli;
pub mod codec;
pub mod engine;
pub mod gui;
pub mod i18n;
pub mod iptools;
pub mod net;
pub mod settings;
pub mod traffic;

pub use gui::app::SockpitApp;

// The translation catalogue: every `locales/*.yml`, English as the fallback.
rust_i18n::i18n!("locales", fallback = "en");
