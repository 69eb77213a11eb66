//! The one JSON writer: every command's JSON report (the DESIGN.md
//! contracts) is serialised here, pretty-printed with a trailing newline.
//! One error policy: a value that cannot be serialised is an error, never
//! a half-written or placeholder document.

use serde::Serialize;

use super::{RenderError, Report, check};
use crate::analyze::Analysis;

/// Serialises `value` as pretty JSON with a trailing newline.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, RenderError> {
    let mut out = serde_json::to_string_pretty(value).map_err(RenderError::Json)?;
    out.push('\n');
    Ok(out)
}

/// Renders the analysis as the DESIGN.md contract.
pub fn render(analysis: &Analysis) -> Result<String, RenderError> {
    to_string(analysis)
}

/// Renders any report as JSON.
pub fn render_report(report: &Report<'_>) -> Result<String, RenderError> {
    match report {
        Report::Analysis(a) => to_string(a.analysis),
        Report::Check(c) => to_string(&check::json_value(c)?),
        Report::Diff(d) => to_string(d),
        Report::Pull(p) => to_string(p),
        Report::Optimize(o) => to_string(o),
    }
}
