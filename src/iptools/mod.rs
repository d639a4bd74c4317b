//! The IP Tools engine, with no GUI: subnet arithmetic and address classification, this
//! machine's interfaces, neighbour and socket tables, MAC vendors, DNS, port facts and the LAN
//! sweep. The IP Tools tab of the window is a thin layer over it.

pub mod classify;
pub mod dns;
pub mod interfaces;
pub mod neighbours;
pub mod ports;
pub mod route;
pub mod sockets;
pub mod subnet;
pub mod sweep;
pub mod tcp_state;
pub mod vendor;
