//! The `layerscope` binary: parse flags, resolve settings, run, print one
//! error line (and its hints), map the result to an exit code.

use std::process::ExitCode;

use clap::Parser;
use layerscope::settings::{self, Env};

fn main() -> ExitCode {
    let cli = layerscope::cli::Cli::parse();
    let env = Env::capture();
    let color = match cli.color {
        layerscope::cli::ColorArg::Always => anstream::ColorChoice::Always,
        layerscope::cli::ColorArg::Never => anstream::ColorChoice::Never,
        layerscope::cli::ColorArg::Auto => anstream::ColorChoice::Auto,
    };
    anstream::ColorChoice::write_global(color);
    tracing_subscriber::fmt()
        // Only our own errors by default; dependencies (rustls, hyper) stay quiet
        // so an error is one line. `LAYERSCOPE_LOG=debug` shows everything.
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LAYERSCOPE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("layerscope=error")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(match color {
            anstream::ColorChoice::Always | anstream::ColorChoice::AlwaysAnsi => true,
            anstream::ColorChoice::Never => false,
            anstream::ColorChoice::Auto => env.stderr_tty && !env.no_color,
        })
        .without_time()
        .init();
    let result = settings::resolve(cli, &env).and_then(layerscope::commands::run);
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(err) => {
            anstream::eprintln!("error: {}", layerscope::display::one_line(&err));
            for hint in err.hints() {
                anstream::eprintln!("hint: {hint}");
            }
            ExitCode::from(err.exit_code() as u8)
        }
    }
}
