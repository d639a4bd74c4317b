//! "Mock this device from the selected rows", driven as a user would: talk to a real device
//! (a std-socket peer on 127.0.0.1), select the requests and answers in the log with clicks,
//! pick the entry in a row's right-click menu, then serve the rules and ask them as a client
//! would ask the device.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::field_reassign_with_default
)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::{accept, harness, shows, start_server, step_until};
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use sockpit::gui::app::{Settings, Tab};
use sockpit::gui::tabs::tcp_client::Status;
use sockpit::gui::tabs::udp::UdpStatus;

const WAIT: Duration = Duration::from_secs(10);

type H = egui_kittest::Harness<'static, sockpit::SockpitApp>;

fn settle(h: &mut H) {
    for _ in 0..3 {
        h.step();
    }
}

fn type_and_send(h: &mut H, text: &str) {
    h.get_by_label("Message").click();
    h.step();
    h.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    h.step();
    h.get_by_label("Message").type_text(text);
    h.step();
    h.get_by_label("Send").click();
    settle(h);
}

/// The log row whose text cell reads `text` (the leftmost such label: the text column,
/// not a detail pane).
fn row<'a>(h: &'a H, text: &'a str) -> egui_kittest::Node<'a> {
    h.query_all_by_label(text)
        .min_by(|a, b| a.rect().top().total_cmp(&b.rect().top()))
        .unwrap_or_else(|| panic!("no row reads {text}"))
}

/// A device that answers two requests the way a real one would, until its peer closes.
fn device(mut s: TcpStream) {
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 64];
    for _ in 0..10 {
        let n = match s.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let answer: &[u8] = match &buf[..n] {
            b"PING" => b"PONG-1",
            b"READ" => b"VALUE=42",
            _ => b"?",
        };
        s.write_all(answer).unwrap();
    }
}

/// Asks `addr` `request` and reads `len` bytes of answer.
fn ask(c: &mut TcpStream, request: &[u8], len: usize) -> Vec<u8> {
    c.write_all(request).unwrap();
    let mut answer = vec![0; len];
    c.read_exact(&mut answer).unwrap();
    answer
}

#[test]
fn selected_rows_of_a_tcp_client_become_a_tcp_server_that_answers_as_the_device() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut s = Settings::default();
    s.tab = Tab::TcpClient;
    "127.0.0.1".clone_into(&mut s.tcp_client_mut().host);
    s.tcp_client_mut().port = port.to_string();
    let mut h = harness(s);
    h.run();
    h.get_by_label("Connect").click();
    let peer = accept(&mut h, &listener);
    drop(listener);
    let device = std::thread::Builder::new()
        .name("device".into())
        .spawn(move || device(peer))
        .unwrap();
    step_until(&mut h, "connected", WAIT, |h| {
        matches!(
            h.state().tcp_client.current().status,
            Status::Connected { .. }
        )
    });
    type_and_send(&mut h, "PING");
    step_until(&mut h, "the first answer", WAIT, |h| {
        h.query_by_label("PONG-1").is_some()
    });
    type_and_send(&mut h, "READ");
    step_until(&mut h, "the second answer", WAIT, |h| {
        h.query_by_label("VALUE=42").is_some()
    });

    // One row selected: the entry is there but disabled (it needs a request and an answer).
    row(&h, "PING").click();
    settle(&mut h);
    row(&h, "PING").click_secondary();
    settle(&mut h);
    let entry = h.get_by_label_contains("Mock this device from the 1 selected rows");
    assert!(
        entry.accesskit_node().is_disabled(),
        "one row is not enough"
    );
    h.key_press(egui::Key::Escape);
    settle(&mut h);

    // The four rows by click and Shift+click, then the entry of the right-click menu.
    row(&h, "PING").click();
    settle(&mut h);
    row(&h, "VALUE=42").click_modifiers(egui::Modifiers::SHIFT);
    settle(&mut h);
    assert_eq!(
        h.state().tcp_client.current().session.view.selected().len(),
        4
    );
    row(&h, "VALUE=42").click_secondary();
    settle(&mut h);
    h.get_by_label("Mock this device from the 4 selected rows")
        .click();
    settle(&mut h);

    assert_eq!(h.state().tab, Tab::TcpServer, "the server tab is shown");
    let server = h.state().tcp_server.current();
    assert_eq!(
        server.settings.port,
        port.to_string(),
        "on the device's port"
    );
    let patterns: Vec<_> = server
        .settings
        .rules
        .rules
        .iter()
        .map(|r| (r.pattern.clone(), r.reply.clone()))
        .collect();
    assert_eq!(
        patterns,
        vec![
            (
                "hex:50 49 4E 47".to_owned(),
                "hex:50 4F 4E 47 2D 31".to_owned()
            ),
            (
                "hex:52 45 41 44".to_owned(),
                "hex:56 41 4C 55 45 3D 34 32".to_owned()
            ),
        ]
    );
    assert!(shows(
        &h,
        &format!("From 4 selected rows of TCP Client 127.0.0.1:{port}")
    ));

    // The device is gone; the mock answers in its place.
    h.state_mut().tcp_client.current_mut().disconnect();
    device.join().unwrap();
    // Listening on all interfaces, ask it on loopback.
    "127.0.0.1".clone_into(&mut h.state_mut().tcp_server.current_mut().settings.bind);
    settle(&mut h);
    let addr = start_server(&mut h);
    assert_eq!(addr.port(), port);
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(ask(&mut c, b"READ", 8), b"VALUE=42");
    assert_eq!(ask(&mut c, b"PING", 6), b"PONG-1");
}

#[test]
fn a_udp_session_mocks_the_device_it_talked_to_and_a_bad_selection_is_said_in_the_log() {
    let device = UdpSocket::bind("127.0.0.1:0").unwrap();
    device.set_read_timeout(Some(WAIT)).unwrap();
    let mut s = Settings::default();
    s.tab = Tab::Udp;
    s.udp_mut().multicast_interface = "lo".into();
    s.udp_mut().bind = "127.0.0.1".into();
    s.udp_mut().port = "0".into();
    s.udp_mut().remote_host = "127.0.0.1".into();
    s.udp_mut().remote_port = device.local_addr().unwrap().port().to_string();
    let mut h = harness(s);
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    type_and_send(&mut h, "STATUS?");
    let mut buf = [0u8; 64];
    let (n, from) = device.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"STATUS?");
    device.send_to(b"READY", from).unwrap();
    step_until(&mut h, "the answer", WAIT, |h| {
        h.query_by_label("READY").is_some()
    });

    // Two answers only (no request among them): said in the log, the rules unchanged.
    device.send_to(b"NOISE", from).unwrap();
    step_until(&mut h, "the noise", WAIT, |h| {
        h.query_by_label("NOISE").is_some()
    });
    row(&h, "READY").click();
    settle(&mut h);
    row(&h, "NOISE").click_modifiers(egui::Modifiers::COMMAND);
    settle(&mut h);
    row(&h, "NOISE").click_secondary();
    settle(&mut h);
    h.get_by_label("Mock this device from the 2 selected rows")
        .click();
    settle(&mut h);
    assert!(shows(&h, "Cannot mock from the selected rows"));
    assert!(h.state().udp.current().settings.rules.rules.is_empty());

    // The request and its answer: this session's rules, served from the next bind.
    row(&h, "STATUS?").click();
    settle(&mut h);
    row(&h, "READY").click_modifiers(egui::Modifiers::SHIFT);
    settle(&mut h);
    row(&h, "READY").click_secondary();
    settle(&mut h);
    h.get_by_label("Mock this device from the 2 selected rows")
        .click();
    settle(&mut h);
    assert_eq!(h.state().tab, Tab::Udp);
    assert_eq!(h.state().udp.current().settings.rules.rules.len(), 1);
    assert!(shows(&h, "From 2 selected rows of UDP"));

    h.get_by_label("Close").click();
    step_until(&mut h, "closed", WAIT, |h| {
        !matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    h.get_by_label("Bind").click();
    step_until(&mut h, "bound again", WAIT, |h| {
        matches!(h.state().udp.current().status, UdpStatus::Bound(_))
    });
    let mock = h.state().udp.current().bound().unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    client.send_to(b"STATUS?", mock).unwrap();
    let mut answer = [0u8; 64];
    let reader = std::thread::Builder::new()
        .name("udp-client".into())
        .spawn(move || {
            let (n, _) = client.recv_from(&mut answer).unwrap();
            answer[..n].to_vec()
        })
        .unwrap();
    step_until(&mut h, "the mock answered", WAIT, |_| reader.is_finished());
    assert_eq!(reader.join().unwrap(), b"READY");
}
