//! The `sockpit` binary: with no subcommand (or `gui`) it opens the window; otherwise it runs
//! the headless command on the same engine.

use std::process::ExitCode;

use clap::Parser as _;
use sockpit::cli::TabArg;
use sockpit::cli::{Cli, CliCommand, GuiArgs, split_host_port};
use sockpit::gui::app::{Startup, Tab};

fn main() -> ExitCode {
    // The TCP Server holds one descriptor per client; lift the default 1,024 cap.
    let _ = sockpit::net::raise_open_file_limit();
    // Messages in the language of the locale (the window then follows its saved choice).
    sockpit::i18n::set_language(sockpit::i18n::Language::from_environment());
    let cli = Cli::parse();
    match cli.command {
        None => gui(&GuiArgs::default()),
        Some(CliCommand::Gui(args)) => gui(&args),
        Some(command) => match sockpit::cli::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sockpit: {e}");
                ExitCode::from(e.exit_code())
            }
        },
    }
}

fn gui(args: &GuiArgs) -> ExitCode {
    let connect = match args
        .connect
        .iter()
        .map(|c| split_host_port(c))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sockpit: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    // A folder named for the captures is made, as `--capture FILE` makes its file.
    if let Some(dir) = &args.capture_dir
        && let Err(e) = sockpit::cli::make_capture_dir(dir)
    {
        eprintln!("sockpit: {e}");
        return ExitCode::from(e.exit_code());
    }
    // eframe reads this file before the app exists (egui's zoom, the window's size), and
    // reads it whole or not at all: repair it first, keeping a backup of what had to change.
    let state_file = state_file_path();
    let repair = state_file
        .as_deref()
        .map(sockpit::settings::repair_state_file)
        .unwrap_or_default();
    for note in &repair.notes {
        eprintln!("sockpit: saved settings: {note}");
    }
    let startup = Startup {
        tab: args.tab.map(tab),
        listen: args.listen.clone(),
        connect,
        bind: args.bind.clone(),
        encoding: args.encoding,
        open: args.open.clone(),
        notice: repair.notice(),
        capture_dir: args.capture_dir.clone(),
        report: args.report.clone(),
    };
    let mut options = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("Sockpit")
            .with_inner_size([1200.0, 780.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    options.persistence_path = state_file;
    let result = eframe::run_native(
        "sockpit",
        options,
        Box::new(move |cc| {
            Ok(Box::new(sockpit::SockpitApp::new_with_startup(
                cc, &startup,
            )))
        }),
    );
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockpit: could not open the window: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The state file: `sockpit.ron` in `SOCKPIT_STATE_DIR`, or where eframe keeps it by default
/// for this app (so that path is the one repaired and the one eframe reads).
fn state_file_path() -> Option<std::path::PathBuf> {
    match std::env::var_os("SOCKPIT_STATE_DIR") {
        Some(dir) => Some(std::path::PathBuf::from(dir).join("sockpit.ron")),
        None => eframe::storage_dir("sockpit").map(|dir| dir.join("app.ron")),
    }
}

/// The window's tab for a tab named on the command line (the CLI and the window share no types;
/// the binary joins them).
fn tab(t: TabArg) -> Tab {
    match t {
        TabArg::TcpServer => Tab::TcpServer,
        TabArg::TcpClient => Tab::TcpClient,
        TabArg::Udp => Tab::Udp,
        TabArg::Broadcast => Tab::Broadcast,
        TabArg::IpTools => Tab::IpTools,
    }
}
