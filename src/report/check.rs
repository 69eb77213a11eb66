//! The report of `layerscope check`: the budget verdicts with the analysis
//! they were judged on, rendered for the terminal and as JSON (the analysis
//! contract plus a `check` object). The budget sentences every format
//! shares (Markdown, SARIF, JUnit, GitHub annotations) are made here.

use std::fmt::Write as _;

use serde::Serialize;

use super::RenderError;
use super::units::{Units, percent};
use crate::analyze::Analysis;
use crate::diff::ImageDiff;
use crate::policy::budgets::{Amount, BudgetResult, Comparison, Unit};

/// Findings the terminal report lists under the budgets.
const TOP_FINDINGS: usize = 5;

/// Everything one check run reports.
#[derive(Clone, Copy, Debug)]
pub struct CheckReport<'a> {
    /// The analysis of the checked image.
    pub analysis: &'a Analysis,
    /// The verdicts, in evaluation order.
    pub results: &'a [BudgetResult],
    /// How many bottom layers were accepted as the base image's.
    pub base_layers: u32,
    /// The comparison with the baseline, when one was given.
    pub growth: Option<&'a ImageDiff>,
    /// The Dockerfile path as given (SARIF locations).
    pub dockerfile: Option<&'a str>,
}

impl CheckReport<'_> {
    /// Whether every budget holds.
    pub fn passed(&self) -> bool {
        self.results.iter().all(|r| r.passed)
    }

    /// The failed budgets.
    pub fn failures(&self) -> impl Iterator<Item = &BudgetResult> {
        self.results.iter().filter(|r| !r.passed)
    }
}

/// `value` in the budget's unit: `1.2 GB`, `7`, `81.2%`; byte growth signed.
pub fn amount(a: Amount, unit: Unit, u: Units) -> String {
    match (a, unit) {
        (Amount::Ratio(r), _) => percent(r),
        (Amount::Int(v), Unit::Bytes) if v < 0 => format!("-{}", u.bytes(v.unsigned_abs())),
        (Amount::Int(v), Unit::Bytes) => u.bytes(v.unsigned_abs()),
        (Amount::Int(v), _) => v.to_string(),
    }
}

/// The top contributors on one line: `layer 3: RUN pip … (700.0 MB), /x (1 B)`.
pub fn contributors(r: &BudgetResult, u: Units) -> String {
    r.contributors
        .iter()
        .map(|c| {
            if c.bytes == 0 {
                c.name.clone()
            } else {
                format!(
                    "{} ({})",
                    c.name,
                    amount(Amount::Int(c.bytes), Unit::Bytes, u)
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a budget measures, saying when the base layers are left out.
pub fn measure(r: &BudgetResult) -> String {
    if r.base_layers_excluded {
        format!("{}, base layers excluded,", r.measure)
    } else {
        r.measure.clone()
    }
}

/// One sentence for a verdict, naming the budget, the value, the limit and
/// (on failure) the top contributors.
pub fn message(r: &BudgetResult, u: Units) -> String {
    let value = amount(r.value, r.unit, u);
    let limit = amount(r.limit, r.unit, u);
    let measure = measure(r);
    let mut s = match (r.passed, r.comparison) {
        (true, Comparison::AtMost) => format!(
            "budget `{}` holds: {} is {value}, within the limit of {limit}",
            r.budget, measure
        ),
        (true, Comparison::AtLeast) => format!(
            "budget `{}` holds: {} is {value}, at least {limit}",
            r.budget, measure
        ),
        (false, Comparison::AtMost) => format!(
            "budget `{}` failed: {} is {value}, over the limit of {limit}",
            r.budget, measure
        ),
        (false, Comparison::AtLeast) => format!(
            "budget `{}` failed: {} is {value}, under the minimum of {limit}",
            r.budget, measure
        ),
    };
    if !r.passed && !r.contributors.is_empty() {
        let _ = write!(s, "; top contributors: {}", contributors(r, u));
    }
    s
}

/// The terminal report: PASS in green and FAIL in red when colour is on,
/// each verdict wrapped under itself.
pub fn render_text(report: &CheckReport<'_>, options: &super::RenderOptions) -> String {
    let u = options.units;
    let p = options.paint();
    let a = report.analysis;
    let mut out = String::new();
    let _ = writeln!(out, "Image    {}", super::text::esc(&a.image.reference));
    let _ = writeln!(
        out,
        "Size     {}{} compressed{}, {} uncompressed, {} layers",
        if a.image.pull_estimated() { "~" } else { "" },
        u.bytes(a.image.pull_bytes()),
        if a.image.pull_estimated() {
            " (estimated)"
        } else {
            ""
        },
        u.bytes(a.image.uncompressed_bytes),
        a.layers.len()
    );
    match report.base_layers {
        0 => {}
        1 => out.push_str("Base     the first layer is accepted as the base image\n"),
        n => {
            let _ = writeln!(
                out,
                "Base     the first {n} layers are accepted as the base image"
            );
        }
    }
    out.push('\n');
    if report.results.is_empty() {
        out.push_str("No budgets set: pass --max-compressed, --max-shadowed, ... or write a layerscope.toml\n");
        return out;
    }
    for r in report.results {
        let verdict = if r.passed {
            p.green("PASS")
        } else {
            p.red("FAIL")
        };
        out.push_str(&super::fit::para(
            &format!("{verdict}  "),
            6,
            &message(r, u),
            options.wrap_width(),
        ));
    }
    if !a.findings.is_empty() {
        out.push_str("\nTop findings\n");
        for f in a.findings.iter().take(TOP_FINDINGS) {
            let place = f
                .paths
                .first()
                .map_or(String::new(), |p| match options.wrap_width() {
                    Some(w) => super::fit::shorten_path(p, w.saturating_sub(39).max(12)),
                    _ => p.clone(),
                });
            let _ = writeln!(
                out,
                "  {:>10}  {} {place}",
                u.bytes(f.bytes),
                super::text::toned(
                    options,
                    super::text::severity_tone(f.severity),
                    &format!("{:<24}", f.kind.id())
                )
            );
        }
    }
    let failed = report.failures().count();
    out.push('\n');
    if failed == 0 {
        let _ = writeln!(
            out,
            "{}",
            p.green(&format!("All {} budgets hold", report.results.len()))
        );
    } else {
        let _ = writeln!(
            out,
            "{}",
            p.red(&format!(
                "{failed} of {} budgets failed",
                report.results.len()
            ))
        );
    }
    out
}

#[derive(Serialize)]
struct CheckJson<'a> {
    passed: bool,
    base_layers: u32,
    budgets: &'a [BudgetResult],
    #[serde(skip_serializing_if = "Option::is_none")]
    growth: Option<&'a ImageDiff>,
}

/// The JSON report as a value: the analysis (the DESIGN.md contract) with
/// a `check` object added: `passed`, `base_layers`, `budgets[]` and, with a
/// baseline, `growth` (the diff).
pub fn json_value(report: &CheckReport<'_>) -> Result<serde_json::Value, RenderError> {
    let mut value = serde_json::to_value(report.analysis).map_err(RenderError::Json)?;
    let check = CheckJson {
        passed: report.passed(),
        base_layers: report.base_layers,
        budgets: report.results,
        growth: report.growth,
    };
    if let serde_json::Value::Object(map) = &mut value {
        map.insert(
            "check".into(),
            serde_json::to_value(check).map_err(RenderError::Json)?,
        );
    }
    Ok(value)
}
