//! Commands: wiring only. Each takes its resolved settings
//! ([`crate::settings`]), runs the [`Pipeline`](crate::pipeline::Pipeline)
//! and hands the result to the report sinks. Each returns the process exit
//! code.

pub mod analyze;
pub mod check;
pub mod diff;
pub mod optimize;
pub mod pull;

use crate::error::Error;
use crate::settings::Command;

/// Runs a resolved command and returns the exit code.
pub fn run(command: Command) -> Result<i32, Error> {
    match command {
        Command::Analyze(s) => analyze::run(s),
        Command::Pull(s) => pull::run(s),
        Command::Optimize(s) => optimize::run(s),
        Command::Check(s) => check::run(*s),
        Command::Diff(s) => diff::run(s),
    }
}

/// A warning on standard error.
pub(crate) fn warn(message: &str) {
    anstream::eprintln!("warning: {message}");
}
