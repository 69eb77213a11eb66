//! Reporters render an [`Analysis`](crate::analyze::Analysis); they compute
//! nothing. Every human-readable number is formatted here.

pub mod check;
pub mod diff;
pub mod fit;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
pub mod sarif;
pub mod text;
pub mod units;

/// Output formats of `analyze`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A readable terminal report.
    Text,
    /// The JSON contract of DESIGN.md.
    Json,
    /// A self-contained HTML page (treemap, layers, findings, Python, pull).
    Html,
}
