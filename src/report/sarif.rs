//! SARIF 2.1.0 for code scanning: one result per finding (at its
//! Dockerfile line when the finding has one and a Dockerfile was given) and
//! one per failed budget. Rules are the finding kinds and `budget/<key>`.
//! Every result has a location: the Dockerfile (its path relative to the
//! repository, as the settings resolved it) or else the image itself as
//! the artifact.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::check::{CheckReport, message};
use super::units::Units;
use super::{RenderError, RenderOptions, Report};
use crate::analyze::Severity;

/// The SARIF schema URI written into the log.
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn location(report: &CheckReport<'_>, line: Option<u32>) -> Vec<Value> {
    match report.dockerfile {
        Some(path) => vec![json!({
            "physicalLocation": {
                "artifactLocation": {"uri": path.trim_start_matches("./")},
                "region": {"startLine": line.unwrap_or(1).max(1)},
            }
        })],
        // No Dockerfile: the image is the artifact.
        None => vec![json!({
            "physicalLocation": {
                "artifactLocation": {"uri": report.analysis.image.reference},
            }
        })],
    }
}

/// Renders an analysis or a check as SARIF.
pub fn render_report(report: &Report<'_>, o: &RenderOptions) -> Result<String, RenderError> {
    match report.as_check() {
        Some(c) => render(&c, o.units),
        None => Err(report.kind().unsupported(super::Format::Sarif)),
    }
}

/// Renders the check as a SARIF 2.1.0 log.
pub fn render(report: &CheckReport<'_>, u: Units) -> Result<String, RenderError> {
    let mut rules: BTreeMap<String, Value> = BTreeMap::new();
    let mut results = Vec::new();
    for f in &report.analysis.findings {
        let id = f.kind.id();
        rules.entry(id.clone()).or_insert_with(|| {
            json!({"id": id, "name": id, "shortDescription": {"text": f.message}, "help": {"text": f.fix}})
        });
        let mut text = format!(
            "{} ({}, about {} compressed). {}",
            f.message,
            u.bytes(f.bytes),
            u.bytes(f.compressed_bytes),
            f.fix
        );
        if let Some(p) = f.paths.first() {
            text.push_str(&format!(" Path: {p}"));
            if f.path_count > 1 {
                text.push_str(&format!(" and {} more.", f.path_count - 1));
            }
        }
        results.push(json!({
            "ruleId": id,
            "level": level(f.severity),
            "message": {"text": text},
            "locations": location(report, f.dockerfile_line),
            "properties": {
                "bytes": f.bytes,
                "compressedBytes": f.compressed_bytes,
                "layers": f.layers,
                "paths": f.paths,
            },
        }));
    }
    for r in report.failures() {
        let id = format!("budget/{}", r.budget);
        rules.entry(id.clone()).or_insert_with(|| json!({"id": id, "name": id, "shortDescription": {"text": format!("Size budget on {}", r.measure)}}));
        results.push(json!({
            "ruleId": id,
            "level": "error",
            "message": {"text": message(r, u)},
            "locations": location(report, None),
            "properties": {"limit": r.limit, "value": r.value, "contributors": r.contributors},
        }));
    }
    let index: BTreeMap<String, usize> = rules
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    for r in &mut results {
        let i = r["ruleId"]
            .as_str()
            .and_then(|id| index.get(id))
            .copied()
            .unwrap_or(0);
        r["ruleIndex"] = json!(i);
    }
    let log = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "layerscope",
                "semanticVersion": env!("CARGO_PKG_VERSION"),
                "rules": rules.into_values().collect::<Vec<_>>(),
            }},
            "automationDetails": {"id": format!("layerscope/{}/", report.analysis.image.reference)},
            "results": results,
        }],
    });
    super::json::to_string(&log)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::{Finding, FindingKind};
    use crate::fixture::{image, layer, sized_file};

    #[test]
    fn findings_sit_on_their_dockerfile_line() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("i.tar");
        image(vec![layer(vec![sized_file("a", 10, 1)])])
            .write_oci_archive(&path, "x")
            .unwrap_or_else(|e| panic!("{e}"));
        let settings = crate::pipeline::Settings::default();
        let mut analysis = crate::pipeline::analyze(&path.to_string_lossy(), &settings)
            .unwrap_or_else(|e| panic!("{e}"));
        let finding = |line| Finding {
            kind: FindingKind::PipCache,
            severity: Severity::Warning,
            bytes: 5,
            compressed_bytes: 2,
            layers: vec![0],
            paths: vec!["/root/.cache/pip".into()],
            path_count: 1,
            message: "a pip cache".into(),
            fix: "--no-cache-dir".into(),
            dockerfile_line: line,
            packages: Vec::new(),
            members: Default::default(),
        };
        analysis.findings = vec![finding(Some(7)), finding(None)];
        let report = CheckReport {
            analysis: &analysis,
            results: &[],
            base_layers: 0,
            growth: None,
            dockerfile: Some("./docker/Dockerfile"),
        };
        let log: Value = serde_json::from_str(&render(&report, Units::Si).unwrap_or_default())
            .unwrap_or_default();
        let results = &log["runs"][0]["results"];
        let loc = &results[0]["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "docker/Dockerfile");
        assert_eq!(loc["region"]["startLine"], 7);
        assert_eq!(results[0]["level"], "warning");
        assert_eq!(
            results[1]["locations"][0]["physicalLocation"]["region"]["startLine"],
            1
        );
        assert_eq!(
            log["runs"][0]["tool"]["driver"]["rules"][0]["id"],
            "pip-cache"
        );
        // Without a Dockerfile the image is the artifact.
        let report = CheckReport {
            dockerfile: None,
            ..report
        };
        let log: Value = serde_json::from_str(&render(&report, Units::Si).unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(
            log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            json!(analysis.image.reference)
        );
    }
}
