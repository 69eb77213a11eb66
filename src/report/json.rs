//! The JSON report: the [`Analysis`] serialised as the DESIGN.md contract.

use crate::analyze::Analysis;

/// Renders the analysis as pretty-printed JSON with a trailing newline.
pub fn render(analysis: &Analysis) -> String {
    let mut out = serde_json::to_string_pretty(analysis)
        .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    out.push('\n');
    out
}
