//! The `sockpit` binary: opens the window.

fn main() -> eframe::Result {
    // The TCP Server tab holds one descriptor per client; lift the default 1,024 cap.
    let _ = sockpit::net::raise_open_file_limit();
    let mut options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("Sockpit")
            .with_inner_size([1200.0, 780.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    if let Some(dir) = std::env::var_os("SOCKPIT_STATE_DIR") {
        options.persistence_path = Some(std::path::PathBuf::from(dir).join("sockpit.ron"));
    }
    eframe::run_native(
        "sockpit",
        options,
        Box::new(|cc| Ok(Box::new(sockpit::SockpitApp::new(cc)))),
    )
}
