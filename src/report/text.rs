//! The terminal report: a short summary first (image, sizes, efficiency,
//! the top fixes and what each saves), then the details (layers, findings,
//! Python, system packages, largest directories and files, pull cost,
//! warnings), every line fitted to the width ([`super::fit`],
//! [`super::grid`]).

use std::fmt::Write as _;

use super::fit::{self, para};
use super::grid::{Fit, Grid, Tone};
use super::units::percent;
use super::{RenderOptions, Report};
use crate::analyze::system::SystemPackages;
use crate::analyze::{Analysis, Finding, Severity};
use crate::display::short_created_by;
use crate::packages::Reason;

pub use super::pull_text::{pull_section, render_pull};

/// Knobs of the text report (the options every renderer takes).
pub type TextOptions = RenderOptions;

/// How many fixes the summary lists.
const TOP_FIXES: usize = 3;

/// Renders any report for a terminal.
pub fn render_report(report: &Report<'_>, options: &RenderOptions) -> String {
    let text = match report {
        Report::Analysis(a) => {
            let body = render(a.analysis, options);
            if a.analysis.manifest_only {
                para(
                    "",
                    0,
                    "note: --manifest-only: no layer was read; uncompressed sizes, waste and findings need a full analysis",
                    options.wrap_width(),
                ) + "\n"
                    + &body
            } else {
                body
            }
        }
        Report::Check(c) => super::check::render_text(c, options),
        Report::Diff(d) => super::diff::render_text(d, options),
        Report::Pull(p) => render_pull(p, options),
        Report::Optimize(o) => super::optimize::render_text(o, options.units),
    };
    fit_out(text, options)
}

/// The last guard: every line within the width (unless `--no-trunc`).
pub fn fit_out(text: String, options: &RenderOptions) -> String {
    match options.wrap_width() {
        Some(w) => fit::fit_lines(&text, w),
        _ => text,
    }
}

/// The colour of a severity.
pub fn severity_tone(s: Severity) -> Tone {
    match s {
        Severity::Error => Tone::Red,
        Severity::Warning => Tone::Yellow,
        Severity::Info => Tone::Plain,
    }
}

/// `text` in the tone's colour (or as is).
pub fn toned(options: &TextOptions, tone: Tone, text: &str) -> String {
    tone.paint(options.paint(), text)
}

/// A section heading.
pub fn heading(out: &mut String, options: &TextOptions, title: &str) {
    let _ = writeln!(out, "\n{}", options.paint().bold(title));
}

/// `Label    value`, the value wrapped under itself (a sha256 digest
/// fits whole at 80 columns).
fn field(out: &mut String, options: &TextOptions, label: &str, value: &str) {
    out.push_str(&para(
        &format!("{label:<9}"),
        9,
        value,
        options.wrap_width(),
    ));
}

/// The findings, one block each: kind, bytes and layers on one line, then
/// what, the fix, the Dockerfile line and a sample path, wrapped.
pub fn findings_blocks(out: &mut String, findings: &[Finding], options: &TextOptions) {
    let u = options.units;
    let w = options.wrap_width();
    for f in findings.iter().take(options.top) {
        let layers = f
            .layers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let kind = toned(options, severity_tone(f.severity), &f.kind.id());
        out.push_str(&para(
            " ",
            3,
            &format!(
                "{kind}  {} {}  layer{} {layers}",
                u.bytes(f.bytes),
                options
                    .paint()
                    .dim(&format!("({} compressed)", u.bytes(f.compressed_bytes))),
                if f.layers.len() == 1 { "" } else { "s" },
            ),
            w,
        ));
        out.push_str(&para("   ", 3, &esc(&f.message), w));
        out.push_str(&para("   fix: ", 8, &esc(&f.fix), w));
        if let Some(line) = f.dockerfile_line {
            let _ = writeln!(out, "   Dockerfile line {line}");
        }
        if let Some(p) = f.paths.first() {
            let more = f.path_count.saturating_sub(1);
            let more = if more > 0 {
                format!(" (+{more} more)")
            } else {
                String::new()
            };
            let path = match w {
                Some(w) => fit::shorten_path(&esc(p), w.saturating_sub(8 + more.len()).max(12)),
                _ => esc(p),
            };
            let _ = writeln!(out, "   e.g. {path}{more}");
        }
    }
}

/// Text from the image, control characters escaped (see [`crate::text`]).
pub fn esc(s: &str) -> String {
    crate::text::escape_controls(s).into_owned()
}

/// The summary: image, sizes, waste, and the top fixes with what each
/// saves.
fn summary(out: &mut String, a: &Analysis, options: &TextOptions) {
    let u = options.units;
    let img = &a.image;
    field(out, options, "Image", &esc(&img.reference));
    if let Some(d) = &img.manifest_digest {
        field(out, options, "Digest", &d.to_string());
    }
    if !img.platform.is_empty() {
        field(out, options, "Platform", &esc(&img.platform));
    }
    field(
        out,
        options,
        "Size",
        &format!(
            "{}{} compressed (pull{}) · {} uncompressed · {} in {} files in the final filesystem",
            if img.pull_estimated() { "~" } else { "" },
            u.bytes(img.pull_bytes()),
            if img.pull_estimated() {
                ", estimated: the source holds layers uncompressed, gzip -6 assumed"
            } else {
                ""
            },
            u.bytes(img.uncompressed_bytes),
            u.bytes(img.final_bytes),
            img.final_files
        ),
    );
    let waste = u.bytes(img.shadowed_bytes);
    field(
        out,
        options,
        "Waste",
        &format!(
            "{} shadowed by later layers · efficiency {}",
            if img.shadowed_bytes > 0 {
                options.paint().yellow(&waste)
            } else {
                waste
            },
            percent(img.efficiency)
        ),
    );
    let unverified = a.verification.layers_unverified;
    if unverified > 0 && !a.manifest_only {
        field(
            out,
            options,
            "Verified",
            &format!(
                "no: {unverified} layer(s) read as the source states them, digests not checked (--verify checks them)"
            ),
        );
    }
    if a.findings.is_empty() {
        return;
    }
    heading(out, options, "Top fixes (what each saves)");
    for f in a.findings.iter().take(TOP_FIXES.min(options.top)) {
        let kind = toned(options, severity_tone(f.severity), &f.kind.id());
        out.push_str(&para(
            &format!("  {:>9}  ", u.bytes(f.bytes)),
            13,
            &format!("{kind}: {}", esc(&f.fix)),
            options.wrap_width(),
        ));
    }
    if a.findings.len() > TOP_FIXES.min(options.top) {
        let _ = writeln!(
            out,
            "  {}",
            options.paint().dim(&format!(
                "{} findings in all, detailed below",
                a.findings.len()
            ))
        );
    }
}

/// Renders the analysis for a terminal.
pub fn render(a: &Analysis, options: &TextOptions) -> String {
    let u = options.units;
    let layout = options.layout();
    let mut out = String::new();
    summary(&mut out, a, options);

    heading(&mut out, options, "Layers");
    let mut t = Grid::new()
        .col("#", true, Fit::Fixed)
        .col("created by", false, Fit::Words(3))
        .col("compressed", true, Fit::Fixed)
        .col("uncompressed", true, Fit::Fixed)
        .col("files", true, Fit::Fixed)
        .col("shadowed", true, Fit::Fixed);
    for l in &a.layers {
        let compressed = if l.pull_estimated() {
            format!("~{}", u.bytes(l.pull_bytes()))
        } else {
            u.bytes(l.pull_bytes())
        };
        let shadowed = if l.shadowed_bytes == 0 {
            ("-".to_owned(), Tone::Dim)
        } else {
            (u.bytes(l.shadowed_bytes), Tone::Yellow)
        };
        t.row_toned(vec![
            (l.index.to_string(), Tone::Plain),
            (
                short_created_by(
                    l.created_by.as_deref().unwrap_or(l.digest.short()),
                    usize::MAX,
                ),
                Tone::Plain,
            ),
            (compressed, Tone::Dim),
            (u.bytes(l.uncompressed_bytes), Tone::Plain),
            (l.files.to_string(), Tone::Plain),
            shadowed,
        ]);
    }
    out.push_str(&t.render(&layout));

    heading(&mut out, options, "Findings");
    if a.findings.is_empty() {
        let _ = writeln!(out, "  none: nothing to reclaim");
    } else {
        findings_blocks(&mut out, &a.findings, options);
        if a.findings.len() > options.top {
            let _ = writeln!(
                out,
                "  … {} more findings (see --format json)",
                a.findings.len() - options.top
            );
        }
    }

    for env in &a.python.environments {
        heading(
            &mut out,
            options,
            &format!(
                "Python environment {}{}",
                esc(&env.path),
                env.python
                    .as_deref()
                    .map(|v| format!(" (Python {v})"))
                    .unwrap_or_default()
            ),
        );
        let mut t = Grid::new()
            .col("distribution", false, Fit::Words(2))
            .col("version", false, Fit::Path)
            .col("bytes", true, Fit::Fixed)
            .col("files", true, Fit::Fixed)
            .col("layer", true, Fit::Fixed);
        for d in env.distributions.iter().take(options.top) {
            t.row(vec![
                if d.system_packages.is_empty() {
                    esc(&d.name)
                } else {
                    esc(&format!("{}: {}", d.name, d.system_packages.join(" + ")))
                },
                esc(&d.version),
                u.bytes(d.bytes),
                d.files.to_string(),
                d.layer.to_string(),
            ]);
        }
        if env.unclaimed_files > 0 {
            t.row(vec![
                "(no distribution)".into(),
                String::new(),
                u.bytes(env.unclaimed_bytes),
                env.unclaimed_files.to_string(),
                String::new(),
            ]);
        }
        out.push_str(&t.render(&layout));
    }

    system_packages_section(&mut out, &a.system_packages, options);

    heading(&mut out, options, "Largest directories");
    let mut t = Grid::new()
        .col("directory", false, Fit::Path)
        .col("bytes", true, Fit::Fixed);
    for d in &a.largest_directories {
        t.row(vec![esc(&d.path), u.bytes(d.bytes)]);
    }
    out.push_str(&t.render(&layout));

    heading(&mut out, options, "Largest files");
    let mut t = Grid::new()
        .col("file", false, Fit::Path)
        .col("bytes", true, Fit::Fixed)
        .col("layer", true, Fit::Fixed);
    for f in &a.largest_files {
        t.row(vec![
            esc(&f.path),
            u.bytes(f.bytes),
            f.layer.map(|l| l.to_string()).unwrap_or_default(),
        ]);
    }
    out.push_str(&t.render(&layout));
    pull_section(&mut out, &a.pull, options);
    warnings_section(&mut out, &a.warnings, options);
    out
}

/// Inputs ignored or cleaned, one paragraph each.
fn warnings_section(out: &mut String, warnings: &[crate::warning::Warning], options: &TextOptions) {
    if warnings.is_empty() {
        return;
    }
    heading(out, options, "Warnings");
    for w in warnings {
        let layer = w.layer.map(|l| format!("layer {l}: ")).unwrap_or_default();
        let example = w
            .example
            .as_deref()
            .map(|e| format!(" (e.g. {})", esc(e)))
            .unwrap_or_default();
        out.push_str(&para(
            "  ",
            4,
            &format!("{layer}{}{example}", esc(&w.message)),
            options.wrap_width(),
        ));
    }
}

/// The system packages: the largest, bytes per layer, and the packages
/// only a recommendation brought in (what `--no-install-recommends` saves).
pub fn system_packages_section(out: &mut String, s: &SystemPackages, options: &TextOptions) {
    if s.packages.is_empty() {
        return;
    }
    let u = options.units;
    let layout = options.layout();
    heading(
        out,
        options,
        &format!(
            "System packages ({}): {} packages, {} in their files",
            serde_json::to_value(s.manager)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            s.packages.len(),
            u.bytes(s.bytes)
        ),
    );
    let mut t = Grid::new()
        .col("package", false, Fit::Fixed)
        .col("version", false, Fit::Path)
        .col("bytes", true, Fit::Fixed)
        .optional("installed size", true, 2)
        .col("layer", true, Fit::Fixed)
        .optional("reason", false, 1)
        .col("section", false, Fit::Words(1));
    for p in s.packages.iter().take(options.top) {
        t.row(vec![
            p.name.clone(),
            p.version.clone(),
            u.bytes(p.bytes),
            u.bytes(p.installed_size),
            p.layer.to_string(),
            format!("{:?}", p.reason).to_lowercase(),
            if p.category.is_empty() || p.category == "other" {
                p.section.clone()
            } else {
                format!("{} ({})", p.section, p.category)
            },
        ]);
    }
    out.push_str(&t.render(&layout));
    let mut t = Grid::new()
        .col("layer", true, Fit::Fixed)
        .col("packages", true, Fit::Fixed)
        .col("bytes", true, Fit::Fixed)
        .col("recommended only", true, Fit::Fixed);
    for l in &s.layers {
        t.row(vec![
            l.layer.to_string(),
            l.packages.to_string(),
            u.bytes(l.bytes),
            if l.recommended_bytes == 0 {
                "-".into()
            } else {
                u.bytes(l.recommended_bytes)
            },
        ]);
    }
    out.push_str(&t.render(&layout));
    let recommended: Vec<&str> = s
        .packages
        .iter()
        .filter(|p| p.reason == Reason::Recommended)
        .map(|p| p.name.as_str())
        .collect();
    if !recommended.is_empty() {
        let shown = recommended.len().min(options.top.max(1) * 2);
        out.push_str(&para(
            "  ",
            4,
            &format!(
                "{} packages came in only as recommendations: {} ({}); `apt-get install --no-install-recommends` would not install them",
                recommended.len(),
                u.bytes(s.recommended_bytes),
                recommended[..shown].join(", ")
                    + if shown < recommended.len() {
                        ", …"
                    } else {
                        ""
                    }
            ),
            options.wrap_width(),
        ));
    }
}
