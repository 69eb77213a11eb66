//! The library's top-level error, and the exit code of each class
//! (DESIGN.md: 0 ok, 1 budget failed, 2 usage or configuration, 3 the image
//! could not be read).

use std::path::PathBuf;

use crate::scan::ScanError;
use crate::source::SourceError;

/// Everything that can stop a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad flags or arguments.
    #[error("{0}")]
    Usage(String),
    /// A configuration file (or Dockerfile) that cannot be used.
    #[error("{0}")]
    Config(String),
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
    /// Writing a report failed.
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
    /// The process exit code for this error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Usage(_) | Error::Config(_) | Error::Output { .. } => 2,
            Error::Source(SourceError::BadReference(_)) => 2,
            Error::Source(_) | Error::Scan { .. } => 3,
        }
    }
}

/// An error and its causes on one line, `a: b: c`, skipping a cause whose
/// text its parent already repeats.
pub fn one_line(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    // Names in errors come from the input: no control character reaches
    // the terminal (line breaks become spaces, the rest are escaped).
    crate::text::escape_controls(&out.replace('\n', " ")).into_owned()
}
