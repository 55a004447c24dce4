//! The `sluice` binary: parse arguments, set up logging, run, print errors as one line.
//!
//! This crate is the command line over the `sluice` library: [`cli`] (commands,
//! printing, the daemon API client, the demo) and [`scaffold`] (`new-connector`).
//! Only it links the mock providers, for `sluice demo`.

/// `println!` for everything the CLI prints: terminal-safe, quiet on a closed pipe.
macro_rules! outln {
    () => {
        $crate::cli::output::write_out("", true)
    };
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(&format!($($arg)*), true)
    };
}

/// `print!` likewise.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::write_out(&format!($($arg)*), false)
    };
}

mod cli;
mod scaffold;

use clap::Parser;
use cli::{Cli, LogFormat, run};
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let default = match cli.global.verbose {
        0 => "warn",
        1 => "info,sluice=debug,plugin=debug",
        _ => "debug,sluice=trace,plugin=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.global.log_format {
        LogFormat::Human => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // Errors carry provider and connector text: terminal-safe too.
            eprintln!("error: {}", cli::output::terminal_safe(&format!("{e:#}")));
            std::process::ExitCode::FAILURE
        }
    }
}
