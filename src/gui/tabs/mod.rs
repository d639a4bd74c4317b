//! One room per tab: each holds its UI state, its `*_ui` functions and its worker.

pub mod broadcast;
pub mod ip_tools;
pub mod tcp_client;
pub mod tcp_server;
pub mod udp;
