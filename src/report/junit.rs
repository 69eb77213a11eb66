//! JUnit XML: one test case per budget, failed budgets as `<failure>`, so CI
//! systems that read test reports (GitLab, Jenkins, Azure) show them.

use std::fmt::Write as _;

use super::check::{CheckReport, message};
use super::units::Units;
use super::{RenderError, RenderOptions, Report};

/// Renders a check as JUnit XML.
pub fn render_report(report: &Report<'_>, o: &RenderOptions) -> Result<String, RenderError> {
    match report {
        Report::Check(c) => Ok(render(c, o.units)),
        _ => Err(report.kind().unsupported(super::Format::Junit)),
    }
}

/// Escapes text for XML content and attribute values.
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Renders the check as a JUnit XML report.
pub fn render(report: &CheckReport<'_>, u: Units) -> String {
    let tests = report.results.len();
    let failures = report.failures().count();
    let suite = format!("layerscope check {}", report.analysis.image.reference);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"layerscope\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"0\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"0\">",
        xml(&suite)
    );
    for r in report.results {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"layerscope.budgets\" time=\"0\"",
            xml(&r.budget)
        );
        if r.passed {
            out.push_str("/>\n");
        } else {
            let text = message(r, u);
            let _ = writeln!(
                out,
                ">\n      <failure type=\"budget\" message=\"{}\">{}</failure>\n    </testcase>",
                xml(&text),
                xml(&text)
            );
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
