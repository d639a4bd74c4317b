//! The `sockpit` binary: with no subcommand (or `gui`) it opens the window; otherwise it runs
//! the headless command on the same engine.

use std::process::ExitCode;

use clap::Parser as _;
use sockpit::app::Startup;
use sockpit::cli::{Cli, CliCommand, GuiArgs, split_host_port};

fn main() -> ExitCode {
    // The TCP Server holds one descriptor per client; lift the default 1,024 cap.
    let _ = sockpit::net::raise_open_file_limit();
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
    let connect = match args.connect.as_deref().map(split_host_port).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sockpit: {e}");
            return ExitCode::from(e.exit_code());
        }
    };
    let startup = Startup {
        tab: args.tab.map(Into::into),
        listen: args.listen,
        connect,
        bind: args.bind,
        encoding: args.encoding,
    };
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
