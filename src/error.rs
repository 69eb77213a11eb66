//! The library's top-level error, the exit code of each class (DESIGN.md:
//! 0 ok, 1 budget failed, 2 usage or configuration, 3 the image could not
//! be read) and the `hint:` lines `main` prints under it.
//!
//! Errors stay typed up to here: the cause of each variant is its
//! `#[source]`, and [`crate::display::one_line`] renders the chain.

use std::path::PathBuf;

use crate::dockerfile::DockerfileError;
use crate::policy::ConfigError;
use crate::report::RenderError;
use crate::scan::ScanError;
use crate::source::SourceError;

pub use crate::display::one_line;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag whose value cannot be used.
    #[error("--{flag}: {reason}")]
    Flag {
        /// The flag, without dashes.
        flag: &'static str,
        /// The value as given.
        value: String,
        /// What is wrong with it.
        reason: String,
        /// What to do instead, when there is something to say.
        hint: Option<String>,
    },
    /// Flags that do not go together, or a missing one.
    #[error("{message}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do instead.
        hint: Option<String>,
    },
    /// The budget file cannot be used.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Dockerfile cannot be used.
    #[error(transparent)]
    Dockerfile(#[from] DockerfileError),
    /// The image could not be opened.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A layer could not be read.
    #[error("reading layer {index} ({digest}) of `{input}`")]
    Scan {
        /// The image.
        input: String,
        /// Layer index, 0 = bottom.
        index: usize,
        /// The layer's digest as the manifest gives it.
        digest: String,
        /// The cause.
        #[source]
        source: ScanError,
    },
    /// A report could not be rendered or written.
    #[error(transparent)]
    Report(#[from] RenderError),
    /// Writing a file other than a report failed.
    #[error("writing `{path}`")]
    Output {
        /// The output path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// A usage error without a hint.
    pub fn usage(message: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: None,
        }
    }

    /// A usage error with a hint.
    pub fn usage_hint(message: impl Into<String>, hint: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    /// A bad flag value.
    pub fn flag(flag: &'static str, value: &str, reason: impl std::fmt::Display) -> Error {
        Error::Flag {
            flag,
            value: value.to_owned(),
            reason: reason.to_string(),
            hint: None,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Flag { .. }
            | Error::Usage { .. }
            | Error::Config(_)
            | Error::Dockerfile(_)
            | Error::Report(_)
            | Error::Output { .. } => 2,
            Error::Source(SourceError::BadReference(_) | SourceError::UnknownTransport { .. }) => 2,
            Error::Source(_) | Error::Scan { .. } => 3,
        }
    }

    /// What to try, for `hint:` lines under the error.
    pub fn hints(&self) -> Vec<String> {
        match self {
            Error::Flag { hint, .. } | Error::Usage { hint, .. } => hint.iter().cloned().collect(),
            Error::Source(e) => source_hints(e),
            Error::Report(RenderError::NotYet(_)) => {
                vec!["`--format text` or `--format json` work today".into()]
            }
            _ => Vec::new(),
        }
    }
}

/// Hints for an image that could not be opened.
fn source_hints(e: &SourceError) -> Vec<String> {
    let transports = crate::source::reference::TRANSPORTS.join(", ");
    match e {
        SourceError::BadReference(_) => vec![format!(
            "an image is `NAME[:TAG]` or `TRANSPORT:WHERE` with a transport among {transports}, or a path that exists"
        )],
        SourceError::UnknownTransport { .. } => vec![format!(
            "known transports: {transports}; a path that exists needs none"
        )],
        SourceError::Remote(message) if refused(message) => {
            // Remote messages start with the reference in backticks.
            let registry = message
                .split('`')
                .nth(1)
                .and_then(|r| r.split('/').next())
                .unwrap_or("the registry");
            vec![
                format!(
                    "nothing answers at `{registry}`: is the registry running, and are the host and port right?"
                ),
                format!(
                    "a registry without TLS needs `--insecure-registry {registry}`; a local file needs its path (`./image.tar`)"
                ),
            ]
        }
        _ => Vec::new(),
    }
}

/// Whether a remote error is a refused or unresolvable connection.
fn refused(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("connection refused")
        || m.contains("dns error")
        || m.contains("failed to lookup address")
        || m.contains("name or service not known")
}
