//! UI pieces shared by the tabs: the traffic view, the send box and small labelled widgets.

pub mod peer_filter;
pub mod send_box;
pub mod traffic_view;
pub mod widgets;

pub use send_box::SendBox;
pub use traffic_view::TrafficView;
