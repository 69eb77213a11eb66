//! Commands: turn parsed flags into settings, run the pipeline, hand the
//! result to a reporter. Each returns the process exit code.

pub mod analyze;
pub mod check;
pub mod diff;
pub mod optimize;
pub mod pull;

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use crate::cli::{Cli, Command, ImageArgs, OutputArgs};
use crate::error::Error;
use crate::pipeline::{ScanOptions, Settings};
use crate::report::text::TextOptions;
use crate::report::units::Units;
use crate::source::{RegistryOptions, SourceOptions};

/// Runs the command line and returns the exit code.
pub fn run(cli: Cli) -> Result<i32, Error> {
    match cli.command {
        Command::Analyze(args) => analyze::run(args),
        Command::Pull(args) => pull::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::Check(args) => check::run(*args),
        Command::Diff(args) => diff::run(args),
    }
}

/// Resolves the image flags into pipeline settings.
pub fn settings(args: &ImageArgs) -> Result<Settings, Error> {
    let password = if args.password_stdin {
        if args.username.is_none() {
            return Err(Error::Usage("--password-stdin needs --username".into()));
        }
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .map_err(|e| Error::Usage(format!("reading the password from standard input: {e}")))?;
        Some(password.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        None
    };
    let progress = !args.quiet && std::io::stderr().is_terminal();
    Ok(Settings {
        source: SourceOptions {
            platform: args.platform.clone(),
            registry: RegistryOptions {
                username: args.username.clone(),
                password,
                ca_certs: args.ca_cert.clone(),
                insecure_registries: args.insecure_registry.clone(),
                manifest_only: args.manifest_only,
                progress,
            },
        },
        scan: ScanOptions {
            cache_dir: if args.no_cache {
                None
            } else {
                args.cache_dir.clone().or_else(default_cache_dir)
            },
            progress,
            verify: if args.verify {
                crate::scan::Verify::DiffIds
            } else {
                crate::scan::Verify::Trust
            },
        },
        analyze: Default::default(),
    })
}

/// `$XDG_CACHE_HOME/layerscope`, or `~/.cache/layerscope`.
pub fn default_cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("layerscope"))
}

/// Text report options from the output flags.
pub fn text_options(args: &OutputArgs) -> TextOptions {
    TextOptions {
        units: if args.binary {
            Units::Binary
        } else {
            Units::Si
        },
        top: args.top,
        width: if std::io::stdout().is_terminal() && args.output.is_none() {
            Some(terminal_width())
        } else {
            Some(120)
        },
    }
}

fn terminal_width() -> u16 {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(120)
}

/// Writes a rendered report to `path`, or to standard output.
pub fn emit(text: &str, path: Option<&Path>) -> Result<(), Error> {
    match path {
        Some(path) => std::fs::write(path, text).map_err(|source| Error::Output {
            path: path.to_owned(),
            source,
        }),
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout
                .write_all(text.as_bytes())
                .and_then(|()| stdout.flush())
            {
                // A closed pipe (`| head`) is not an error.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Output {
                    path: PathBuf::from("<stdout>"),
                    source: e,
                }),
                _ => Ok(()),
            }
        }
    }
}
