//! The window: the shell in [`app`], widgets shared by the tabs in [`widgets`], one room per
//! tab in [`tabs`]. Everything here draws and holds what the user typed; the work is done by
//! `crate::engine`, whose events the tabs turn into rows and status lines.

pub mod app;
pub mod help;
pub mod session;
pub mod sessions;
pub mod tabs;
pub mod widgets;
