//! Sockpit: a desktop socket workbench. The engine (codecs, traffic log, workers) works without
//! the GUI; `app` and `ui` are a thin egui layer over it.

pub mod app;
pub mod cli;
pub mod codec;
pub mod iptools;
pub mod net;
pub mod tabs;
pub mod traffic;
pub mod ui;
pub mod worker;

pub use app::SockpitApp;
