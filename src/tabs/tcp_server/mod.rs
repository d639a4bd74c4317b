//! The TCP Server tab: listen, accept many clients in one readiness loop, see and address each.
//!
//! This session delivers the engine (worker) with its tests; the tab's UI is still the
//! placeholder drawn by `app.rs`.

pub mod worker;

pub use worker::{
    ClientCloseReason, ClientId, Command, Event, EventKind, ServerOptions, Target, TcpServerHandle,
};
