//! Markdown reports: `check` as a pull-request comment (and GitHub step
//! summary) with the budgets table, the top findings and the growth since
//! the baseline; `analyze` as the summary, findings and system packages
//! (the largest, bytes per layer, the recommended-only ones); `diff` as the
//! growth and shrinkage between two images.

use std::fmt::Write as _;

use super::check::{CheckReport, amount, contributors, measure};
use super::units::{Units, percent};
use super::{RenderError, RenderOptions, Report};
use crate::analyze::Analysis;
use crate::analyze::system::SystemPackages;
use crate::diff::ImageDiff;
use crate::policy::budgets::Comparison;

/// Findings listed in the comment.
const TOP_FINDINGS: usize = 10;
/// Rows of each growth list.
const TOP_GROWTH: usize = 5;
/// Rows of the largest system packages.
const TOP_PACKAGES: usize = 10;
/// Recommended-only packages named in the sentence under the tables.
const NAMED_RECOMMENDED: usize = 20;

/// Escapes text for a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders an analysis, a check or a diff as Markdown.
pub fn render_report(report: &Report<'_>, o: &RenderOptions) -> Result<String, RenderError> {
    match report {
        Report::Check(c) => Ok(render(c, o.units)),
        Report::Analysis(a) => {
            let mut out = format!(
                "## layerscope: `{}`\n\n",
                a.analysis.image.reference.replace('`', "'")
            );
            summary(&mut out, a.analysis, o.units);
            findings(&mut out, a.analysis, o.units);
            system_packages(&mut out, &a.analysis.system_packages, o.units);
            Ok(out)
        }
        Report::Diff(d) => {
            let mut out = format!(
                "## layerscope diff: `{}` → `{}`\n\n",
                d.old.reference.replace('`', "'"),
                d.new.reference.replace('`', "'")
            );
            changes(&mut out, d, o.units);
            Ok(out)
        }
        _ => Err(report.kind().unsupported(super::Format::Markdown)),
    }
}

fn signed(u: Units, v: i64) -> String {
    if v >= 0 {
        format!("+{}", u.bytes(v.unsigned_abs()))
    } else {
        format!("-{}", u.bytes(v.unsigned_abs()))
    }
}

/// The one-line image summary.
fn summary(out: &mut String, a: &Analysis, u: Units) {
    let _ = writeln!(
        out,
        "`{}` · {}{} compressed{} · {} uncompressed · {} layers · {} shadowed · efficiency {}\n",
        a.image.reference.replace('`', "'"),
        if a.image.pull_estimated() { "~" } else { "" },
        u.bytes(a.image.pull_bytes()),
        if a.image.pull_estimated() {
            " (estimated)"
        } else {
            ""
        },
        u.bytes(a.image.uncompressed_bytes),
        a.layers.len(),
        u.bytes(a.image.shadowed_bytes),
        percent(a.image.efficiency)
    );
}

/// Renders the check as GitHub-flavoured Markdown.
pub fn render(report: &CheckReport<'_>, u: Units) -> String {
    let a = report.analysis;
    let mut out = String::new();
    let failed = report.failures().count();
    let total = report.results.len();
    let verdict = if failed == 0 {
        format!("✅ all {total} budgets hold")
    } else {
        format!("❌ {failed} of {total} budgets failed")
    };
    let _ = writeln!(out, "## layerscope: {verdict}\n");
    summary(&mut out, a, u);
    match report.base_layers {
        0 => {}
        1 => out.push_str("The first layer (the base image) is accepted as it is.\n\n"),
        n => {
            let _ = writeln!(
                out,
                "The first {n} layers (the base image) are accepted as they are.\n"
            );
        }
    }
    if total > 0 {
        out.push_str("| Budget | Measure | Limit | Value | Result | Top contributors |\n|---|---|---:|---:|---|---|\n");
        for r in report.results {
            let limit = match r.comparison {
                Comparison::AtMost => format!("≤ {}", amount(r.limit, r.unit, u)),
                Comparison::AtLeast => format!("≥ {}", amount(r.limit, r.unit, u)),
            };
            let result = if r.passed { "✅ pass" } else { "❌ fail" };
            let who = if r.passed {
                String::new()
            } else {
                contributors(r, u)
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} | {} |",
                r.budget,
                cell(measure(r).trim_end_matches(',')),
                limit,
                amount(r.value, r.unit, u),
                result,
                cell(&who)
            );
        }
        out.push('\n');
    }
    findings(&mut out, a, u);
    if let Some(d) = report.growth {
        let _ = writeln!(
            out,
            "### Growth since `{}`\n",
            d.old.reference.replace('`', "'")
        );
        changes(&mut out, d, u);
    }
    out
}

/// The top findings table.
fn findings(out: &mut String, a: &Analysis, u: Units) {
    if !a.findings.is_empty() {
        out.push_str("### Top findings\n\n| Kind | Bytes | Compressed | Where | Fix |\n|---|---:|---:|---|---|\n");
        for f in a.findings.iter().take(TOP_FINDINGS) {
            let mut place = f
                .paths
                .first()
                .map(|p| format!("`{}`", p.replace('`', "'")))
                .unwrap_or_default();
            if f.path_count > 1 {
                let _ = write!(place, " and {} more", f.path_count - 1);
            }
            if let Some(line) = f.dockerfile_line {
                let _ = write!(place, " (Dockerfile line {line})");
            }
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                f.kind.id(),
                u.bytes(f.bytes),
                u.bytes(f.compressed_bytes),
                cell(&place),
                cell(&f.fix)
            );
        }
        out.push('\n');
    }
}

/// The system packages: the largest, bytes per layer, and the packages only
/// a recommendation brought in with their total.
fn system_packages(out: &mut String, s: &SystemPackages, u: Units) {
    if s.packages.is_empty() {
        return;
    }
    let id = |v: serde_json::Result<serde_json::Value>| {
        v.ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let _ = writeln!(
        out,
        "### System packages ({})\n\n{} packages, {} in their files in the final filesystem.\n",
        id(serde_json::to_value(s.manager)),
        s.packages.len(),
        u.bytes(s.bytes)
    );
    out.push_str("| Package | Version | Bytes | Installed size | Layer | Reason | Section |\n|---|---|---:|---:|---:|---|---|\n");
    for p in s.packages.iter().take(TOP_PACKAGES) {
        let section = if p.category.is_empty() || p.category == "other" {
            p.section.clone()
        } else {
            format!("{} ({})", p.section, p.category)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            cell(&p.name),
            cell(&p.version),
            u.bytes(p.bytes),
            u.bytes(p.installed_size),
            p.layer,
            id(serde_json::to_value(p.reason)),
            cell(&section)
        );
    }
    if s.packages.len() > TOP_PACKAGES {
        let _ = writeln!(
            out,
            "\n{} more packages in the JSON report (`system_packages`).",
            s.packages.len() - TOP_PACKAGES
        );
    }
    out.push_str("\n| Layer | Packages | Bytes | Recommended only |\n|---:|---:|---:|---:|\n");
    for l in &s.layers {
        let recommended = if l.recommended_bytes == 0 {
            "-".to_owned()
        } else {
            u.bytes(l.recommended_bytes)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            l.layer,
            l.packages,
            u.bytes(l.bytes),
            recommended
        );
    }
    out.push('\n');
    let recommended: Vec<String> = s
        .packages
        .iter()
        .filter(|p| p.reason == crate::packages::Reason::Recommended)
        .map(|p| format!("`{}`", p.name.replace('`', "'")))
        .collect();
    if !recommended.is_empty() {
        let shown = recommended.len().min(NAMED_RECOMMENDED);
        let more = if shown < recommended.len() {
            format!(" and {} more", recommended.len() - shown)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "{} came in only as {}, {}: {}{more}. `apt-get install --no-install-recommends` would not install {}.\n",
            if recommended.len() == 1 {
                "1 package".to_owned()
            } else {
                format!("{} packages", recommended.len())
            },
            if recommended.len() == 1 {
                "a recommendation"
            } else {
                "recommendations"
            },
            u.bytes(s.recommended_bytes),
            recommended[..shown].join(", "),
            if recommended.len() == 1 { "it" } else { "them" }
        );
    }
}

/// What changed between two images: totals, distributions, directories
/// that grew and shrank.
fn changes(out: &mut String, d: &ImageDiff, u: Units) {
    let signed = |v: i64| signed(u, v);
    let _ = writeln!(
        out,
        "Compressed {} · uncompressed {} · {} layers shared, {} added, {} removed · a node with the old image downloads {}\n",
        signed(d.layers.compressed_delta),
        signed(d.layers.uncompressed_delta),
        d.layers.shared.len(),
        d.layers.added.len(),
        d.layers.removed.len(),
        u.bytes(d.layers.download_bytes)
    );
    let dists = &d.distributions;
    if !(dists.added.is_empty() && dists.removed.is_empty() && dists.upgraded.is_empty()) {
        out.push_str("| Distribution | Change | Size |\n|---|---|---:|\n");
        for x in dists.added.iter().take(TOP_GROWTH) {
            let _ = writeln!(
                out,
                "| {} | added {} | {} |",
                cell(&x.name),
                cell(&x.version),
                signed(x.bytes as i64)
            );
        }
        for x in dists.upgraded.iter().take(TOP_GROWTH) {
            let _ = writeln!(
                out,
                "| {} | {} → {} | {} |",
                cell(&x.name),
                cell(&x.old_version),
                cell(&x.new_version),
                signed(x.delta)
            );
        }
        for x in dists.removed.iter().take(TOP_GROWTH) {
            let _ = writeln!(
                out,
                "| {} | removed {} | {} |",
                cell(&x.name),
                cell(&x.version),
                signed(-(x.bytes as i64))
            );
        }
        out.push('\n');
    }
    if !d.layers.drift.is_empty() {
        out.push_str("| Changed layer | What drifted |\n|---|---|\n");
        for l in &d.layers.drift {
            let mut what: Vec<String> = l
                .distributions
                .iter()
                .map(|x| format!("{} {} → {}", x.name, x.old_version, x.new_version))
                .chain(
                    l.packages
                        .iter()
                        .map(|x| format!("apt {} {} → {}", x.name, x.old_version, x.new_version)),
                )
                .collect();
            what.extend(l.files.as_ref().map(super::diff::file_drift));
            let by = l.created_by.as_deref().unwrap_or(&l.digest);
            let _ = writeln!(
                out,
                "| {} `{}` | {} |",
                l.index,
                cell(&crate::display::short_created_by(by, 60)),
                cell(&what.join("; "))
            );
        }
        out.push('\n');
    }
    for (title, list) in [
        ("Directory that grew", &d.directories),
        ("Directory that shrank", &d.directories_shrunk),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "| {title} | Change |\n|---|---:|");
            for p in list.iter().take(TOP_GROWTH) {
                let _ = writeln!(out, "| `{}` | {} |", cell(&p.path), signed(p.delta));
            }
            out.push('\n');
        }
    }
}
