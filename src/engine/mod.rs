//! The engine: one worker thread per session, driven by typed commands and reporting typed
//! events, with no window. The GUI and the CLI are two owners of the same workers.
//!
//! - [`worker`]: the handle (bounded command channel, join on drop, a panic becomes an event),
//!   the outbox that counts bytes in flight for back-pressure, session ids.
//! - [`tcp_client`], [`tcp_server`], [`udp`]: the traffic workers.
//! - [`session`]: the pipeline every session's bytes pass through in its worker (framer,
//!   stages, outbound chain), so receive- and send-side tools are written once.
//! - [`broadcast`]: discovery probes, their presets and reply parsers.
//! - [`tcp_states`]: the kernel's TCP states of a session's connections, on a thread of their
//!   own.

pub mod broadcast;
pub mod session;
pub mod tcp_client;
pub mod tcp_server;
pub mod tcp_states;
pub mod udp;
pub mod worker;
