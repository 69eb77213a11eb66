//! The `layerscope` binary: parse flags, run, map errors to exit codes.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = layerscope::cli::Cli::parse();
    tracing_subscriber::fmt()
        // Only our own errors by default; dependencies (rustls, hyper) stay quiet
        // so an error is one line. `LAYERSCOPE_LOG=debug` shows everything.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAYERSCOPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("layerscope=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .without_time()
        .init();
    match layerscope::commands::run(cli) {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            let code = err.exit_code();
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {}", layerscope::error::one_line(&err));
            }
            ExitCode::from(code as u8)
        }
    }
}
