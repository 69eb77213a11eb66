//! Where rendered reports go: standard output or files. One run renders
//! each format once and writes it to every destination that asked for it.
//! A closed standard output (`| head`) is not an error.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use super::{Format, RenderError, RenderOptions, Report, render};

/// A destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Standard output (`-`).
    Stdout,
    /// A file, replaced.
    File(PathBuf),
}

impl Dest {
    /// `-` is standard output, anything else a file.
    pub fn parse(path: &str) -> Dest {
        if path == "-" {
            Dest::Stdout
        } else {
            Dest::File(PathBuf::from(path))
        }
    }
}

/// One report to write: a format and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sink {
    /// The format.
    pub format: Format,
    /// The destination.
    pub dest: Dest,
}

/// Renders `report` once per format and writes it to every sink, in order.
pub fn emit(
    report: &Report<'_>,
    sinks: &[Sink],
    options: &RenderOptions,
) -> Result<(), RenderError> {
    let mut rendered: Vec<(Format, String)> = Vec::new();
    for sink in sinks {
        if !rendered.iter().any(|(f, _)| *f == sink.format) {
            rendered.push((sink.format, render(sink.format, report, options)?));
        }
    }
    for sink in sinks {
        if let Some((_, text)) = rendered.iter().find(|(f, _)| *f == sink.format) {
            write(text, &sink.dest)?;
        }
    }
    Ok(())
}

/// Writes `text` to `dest`.
pub fn write(text: &str, dest: &Dest) -> Result<(), RenderError> {
    match dest {
        Dest::File(path) => std::fs::write(path, text).map_err(|source| RenderError::Write {
            path: path.display().to_string(),
            source,
        }),
        Dest::Stdout => stdout(text),
    }
}

/// Writes `text` to standard output; a closed pipe is not an error.
pub fn stdout(text: &str) -> Result<(), RenderError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(RenderError::Write {
            path: "<stdout>".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

/// Appends `text` to the file at `path` (created when missing).
pub fn append(path: &Path, text: &str) -> Result<(), RenderError> {
    let wrap = |source| RenderError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(wrap)?;
    f.write_all(text.as_bytes()).map_err(wrap)
}
