//! The `sluice` binary: parse arguments, set up logging, run, print errors as one line.
//!
//! This crate is the command line over the `sluice` library: [`cli`] (commands,
//! printing, the daemon API client, the demo) and [`scaffold`] (`new-connector`).
//! Only it links the mock providers, for `sluice demo`.

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
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
