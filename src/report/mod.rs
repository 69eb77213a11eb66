//! Reporters are sinks: they render what a command produced (a
//! [`Report`]) in one [`Format`] and compute nothing. Every human-readable
//! number is formatted here.
//!
//! Adding a format: a file here with a `render_report(&Report, &RenderOptions)`
//! function, a [`Format`] variant, and its arm in [`render`].

pub mod check;
pub mod diff;
pub mod fit;
pub mod github;
pub mod grid;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod optimize;
pub mod pull_text;
pub mod sarif;
pub mod sink;
pub mod text;
pub mod units;

use std::fmt;

use crate::analyze::Analysis;
use crate::analyze::pull::PullOutput;
use crate::diff::ImageDiff;

pub use check::CheckReport;
pub use optimize::OptimizeReport;
pub use sink::{Dest, Sink};
pub use units::Units;

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Format {
    /// A readable terminal report.
    Text,
    /// The JSON contract of DESIGN.md.
    Json,
    /// SARIF 2.1.0 (code scanning).
    Sarif,
    /// JUnit XML (CI test reports).
    Junit,
    /// GitHub-flavoured Markdown (pull-request comments).
    Markdown,
    /// A self-contained HTML page.
    Html,
}

impl Format {
    /// Every format, in the order help texts list them.
    pub const ALL: [Format; 6] = [
        Format::Text,
        Format::Json,
        Format::Sarif,
        Format::Junit,
        Format::Markdown,
        Format::Html,
    ];

    /// The format's name as flags spell it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Sarif => "sarif",
            Format::Junit => "junit",
            Format::Markdown => "markdown",
            Format::Html => "html",
        }
    }

    /// Parses a format name or a common alias (`md`, `xml`, `txt`).
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name.trim().to_ascii_lowercase().as_str() {
            "text" | "txt" => Format::Text,
            "json" => Format::Json,
            "sarif" => Format::Sarif,
            "junit" | "xml" => Format::Junit,
            "markdown" | "md" => Format::Markdown,
            "html" | "htm" => Format::Html,
            _ => return None,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a command reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportKind {
    /// `analyze`: one image.
    Analysis,
    /// `check`: budgets over one image.
    Check,
    /// `diff`: two images.
    Diff,
    /// `pull`: pull costs of images.
    Pull,
    /// `optimize`: Dockerfile advice.
    Optimize,
}

impl ReportKind {
    /// The command that makes this report.
    pub fn command(self) -> &'static str {
        match self {
            ReportKind::Analysis => "analyze",
            ReportKind::Check => "check",
            ReportKind::Diff => "diff",
            ReportKind::Pull => "pull",
            ReportKind::Optimize => "optimize",
        }
    }

    /// The formats this report can be rendered in (HTML is listed where it
    /// is planned, and refused until it exists).
    pub fn formats(self) -> &'static [Format] {
        use Format::*;
        match self {
            ReportKind::Analysis => &[Text, Json, Sarif, Markdown, Html],
            ReportKind::Check => &[Text, Json, Sarif, Junit, Markdown, Html],
            ReportKind::Diff => &[Text, Json, Markdown, Html],
            ReportKind::Pull => &[Text, Json],
            ReportKind::Optimize => &[Text, Json],
        }
    }

    /// The error for a format this report does not have.
    pub fn unsupported(self, format: Format) -> RenderError {
        RenderError::Unsupported {
            format,
            command: self.command(),
            available: self
                .formats()
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// Whether `format` can be rendered now; the error says why not.
    pub fn check(self, format: Format) -> Result<(), RenderError> {
        if !self.formats().contains(&format) {
            return Err(self.unsupported(format));
        }
        Ok(())
    }
}

/// The analysis of one image as `analyze` reports it.
#[derive(Clone, Copy, Debug)]
pub struct AnalysisReport<'a> {
    /// The analysis.
    pub analysis: &'a Analysis,
    /// The Dockerfile path as given, when there is one (SARIF locations).
    pub dockerfile: Option<&'a str>,
}

/// Everything a sink can render.
#[derive(Clone, Copy, Debug)]
pub enum Report<'a> {
    /// `analyze`.
    Analysis(AnalysisReport<'a>),
    /// `check`.
    Check(CheckReport<'a>),
    /// `diff`.
    Diff(&'a ImageDiff),
    /// `pull`.
    Pull(&'a PullOutput),
    /// `optimize`.
    Optimize(&'a OptimizeReport<'a>),
}

impl Report<'_> {
    /// Which report this is.
    pub fn kind(&self) -> ReportKind {
        match self {
            Report::Analysis(_) => ReportKind::Analysis,
            Report::Check(_) => ReportKind::Check,
            Report::Diff(_) => ReportKind::Diff,
            Report::Pull(_) => ReportKind::Pull,
            Report::Optimize(_) => ReportKind::Optimize,
        }
    }

    /// The check view of an analysis or a check: the analysis with its
    /// verdicts (none for `analyze`). SARIF and Markdown render from it.
    pub fn as_check(&self) -> Option<CheckReport<'_>> {
        match self {
            Report::Analysis(a) => Some(CheckReport {
                analysis: a.analysis,
                results: &[],
                base_layers: 0,
                growth: None,
                dockerfile: a.dockerfile,
            }),
            Report::Check(c) => Some(*c),
            _ => None,
        }
    }
}

/// How reports look.
#[derive(Clone, Copy, Debug)]
pub struct RenderOptions {
    /// SI or binary units.
    pub units: Units,
    /// Rows per section.
    pub top: usize,
    /// Terminal width for wrapping (`None`: no wrapping).
    pub width: Option<u16>,
    /// Whether the text report may use colour.
    pub color: bool,
    /// Nothing shortened to the width (`--no-trunc`).
    pub no_trunc: bool,
}

impl RenderOptions {
    /// How tables are laid out under these options.
    pub fn layout(&self) -> grid::Layout {
        grid::Layout {
            width: self.width.map(usize::from),
            no_trunc: self.no_trunc,
            paint: self.paint(),
        }
    }

    /// The colours, or none.
    pub fn paint(&self) -> fit::Paint {
        fit::Paint { on: self.color }
    }

    /// The width prose is wrapped to (`None`: no limit, or `--no-trunc`:
    /// nothing shortened, one line each).
    pub fn wrap_width(&self) -> Option<usize> {
        self.width.map(usize::from).filter(|_| !self.no_trunc)
    }
}

impl Default for RenderOptions {
    fn default() -> Self {
        RenderOptions {
            units: Units::Si,
            top: 10,
            width: Some(120),
            color: false,
            no_trunc: false,
        }
    }
}

/// Why a report could not be rendered or written.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The command has no such report.
    #[error("`{command}` has no {format} report; it writes: {available}")]
    Unsupported {
        /// The format asked for.
        format: Format,
        /// The command.
        command: &'static str,
        /// The formats it has, comma-separated.
        available: String,
    },
    /// A planned format that does not exist yet.
    #[error("the {0} report is not available yet")]
    NotYet(Format),
    /// Serialising JSON failed.
    #[error("serialising the JSON report")]
    Json(#[source] serde_json::Error),
    /// Writing a report failed.
    #[error("writing `{path}`")]
    Write {
        /// The file, or `<stdout>`.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Renders `report` as `format`: one arm per format.
pub fn render(
    format: Format,
    report: &Report<'_>,
    options: &RenderOptions,
) -> Result<String, RenderError> {
    report.kind().check(format)?;
    match format {
        Format::Text => Ok(text::render_report(report, options)),
        Format::Json => json::render_report(report),
        Format::Sarif => sarif::render_report(report, options),
        Format::Junit => junit::render_report(report, options),
        Format::Markdown => markdown::render_report(report, options),
        Format::Html => Ok(html::render_report(report)),
    }
}
