//! UI pieces shared by the tabs: the traffic view, the send box and small labelled widgets.

pub mod bind_picker;
pub mod capture_bar;
pub mod checksum;
pub mod framing;
mod labelled;
pub mod library;
pub mod pipeline;
pub mod protocol_view;
pub mod rules;
pub mod script_box;
pub mod send_box;
pub mod send_tools;
pub mod tcp_states;
pub mod traffic_plot;
pub mod traffic_view;

pub use labelled::*;
pub use send_box::SendBox;
pub use traffic_view::TrafficView;
