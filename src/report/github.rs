//! GitHub Actions: workflow-command annotations for a check (one
//! `::error` per failed budget, one `::warning` per finding on its
//! Dockerfile line) and the step summary (the Markdown report).

use std::fmt::Write as _;

use super::check::{CheckReport, message};
use super::units::Units;

/// GitHub Actions workflow commands: one `::error` per failed budget, and
/// one `::warning` on its line for each finding tied to a Dockerfile line
/// (when the Dockerfile is known), so the pull request shows it there.
pub fn annotations(report: &CheckReport<'_>, u: Units) -> String {
    let mut out = String::new();
    for r in report.failures() {
        let _ = writeln!(
            out,
            "::error title=layerscope budget {}::{}",
            escape_property(&r.budget),
            escape_data(&message(r, u))
        );
    }
    if let Some(path) = report.dockerfile {
        for f in &report.analysis.findings {
            if let Some(line) = f.dockerfile_line {
                let text = format!("{} ({}). {}", f.message, u.bytes(f.bytes), f.fix);
                let _ = writeln!(
                    out,
                    "::warning file={},line={line},title=layerscope {}::{}",
                    escape_property(path.trim_start_matches("./")),
                    f.kind.id(),
                    escape_data(&text)
                );
            }
        }
    }
    out
}

/// Escapes a workflow-command message (`%`, CR, LF).
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow-command property (also `:` and `,`).
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Finding, FindingKind, Severity};
    use crate::policy::budgets::Contributor;
    use crate::policy::budgets::{Amount, BudgetResult, Comparison, Unit};

    #[test]
    fn annotations_for_failed_budgets_and_dockerfile_findings() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("i.tar");
        crate::fixture::image(vec![crate::fixture::layer(vec![
            crate::fixture::sized_file("a", 10, 1),
        ])])
        .write_oci_archive(&path, "x")
        .unwrap_or_else(|e| panic!("{e}"));
        let mut analysis = crate::pipeline::analyze(&path.to_string_lossy(), &Default::default())
            .unwrap_or_else(|e| panic!("{e}"));
        analysis.findings = vec![Finding {
            kind: FindingKind::PipCache,
            severity: Severity::Warning,
            bytes: 2_000,
            compressed_bytes: 1_000,
            layers: vec![0],
            paths: vec!["/root/.cache/pip".into()],
            path_count: 1,
            message: "a pip cache".into(),
            fix: "use --no-cache-dir".into(),
            dockerfile_line: Some(4),
            packages: Vec::new(),
            members: Default::default(),
        }];
        let results = [BudgetResult {
            budget: "max-shadowed".into(),
            measure: "shadowed bytes".into(),
            unit: Unit::Bytes,
            comparison: Comparison::AtMost,
            limit: Amount::Int(1_000),
            value: Amount::Int(1_500),
            passed: false,
            base_layers_excluded: false,
            contributors: vec![Contributor {
                name: "/a,b".into(),
                layer: Some(1),
                bytes: 1_500,
            }],
        }];
        let report = CheckReport {
            analysis: &analysis,
            results: &results,
            base_layers: 0,
            growth: None,
            dockerfile: Some("./Dockerfile"),
        };
        assert_eq!(
            annotations(&report, Units::Si),
            "::error title=layerscope budget max-shadowed::budget `max-shadowed` failed: shadowed bytes is 1.5 kB, \
             over the limit of 1.0 kB; top contributors: /a,b (1.5 kB)\n\
             ::warning file=Dockerfile,line=4,title=layerscope pip-cache::a pip cache (2.0 kB). use --no-cache-dir\n"
        );
    }
}
