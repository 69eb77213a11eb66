//! The terminal report: summary, layers, findings, largest directories and
//! files, Python distributions, pull cost.

use std::fmt::Write as _;

use comfy_table::{CellAlignment, LineStyle, Table, TableStyle};

use super::units::percent;
use super::{RenderOptions, Report};
use crate::analyze::pull::{PullOutput, PullReport};
use crate::analyze::system::SystemPackages;
use crate::analyze::{Analysis, Finding};
use crate::display::short_created_by;
use crate::packages::Reason;

/// Knobs of the text report (the options every renderer takes).
pub type TextOptions = RenderOptions;

/// Renders any report for a terminal.
pub fn render_report(report: &Report<'_>, options: &RenderOptions) -> String {
    match report {
        Report::Analysis(a) => {
            let body = render(a.analysis, options);
            if a.analysis.manifest_only {
                format!(
                    "note: --manifest-only: no layer was read; uncompressed sizes, waste and findings need a full analysis\n\n{body}"
                )
            } else {
                body
            }
        }
        Report::Check(c) => super::check::render_text(c, options.units),
        Report::Diff(d) => super::diff::render_text(d, options.units),
        Report::Pull(p) => render_pull(p, options),
        Report::Optimize(o) => super::optimize::render_text(o, options.units),
    }
}

/// Plain columns with one rule under the header: readable without colour,
/// and easy to copy into an issue.
const STYLE: TableStyle =
    TableStyle::new().header_separator(LineStyle::none().fill('─').junction(' '));

fn table(options: &TextOptions, header: &[&str], right: &[usize]) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE);
    if let Some(w) = options.width {
        t.set_width(w);
        t.set_content_arrangement(comfy_table::ContentArrangement::Dynamic);
    }
    t.set_header(header.to_vec());
    for &c in right {
        if let Some(col) = t.column_mut(c) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t
}

/// The findings table: kind, bytes, compressed bytes, layers, and what to
/// do, with the Dockerfile line and a sample path when there are.
fn findings_table(findings: &[Finding], options: &TextOptions) -> Table {
    let u = options.units;
    let mut t = table(
        options,
        &[
            "kind",
            "bytes",
            "compressed",
            "layers",
            "what and how to fix",
        ],
        &[1, 2],
    );
    for f in findings.iter().take(options.top) {
        let layers = f
            .layers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut what = format!("{}\nfix: {}", f.message, f.fix);
        if let Some(line) = f.dockerfile_line {
            what.push_str(&format!("\nDockerfile line {line}"));
        }
        if let Some(p) = f.paths.first() {
            let more = f.path_count.saturating_sub(1);
            what.push_str(&format!("\ne.g. {p}"));
            if more > 0 {
                what.push_str(&format!(" (+{more} more)"));
            }
        }
        t.add_row(vec![
            f.kind.id(),
            u.bytes(f.bytes),
            u.bytes(f.compressed_bytes),
            layers,
            // Our own line breaks stay; anything else from the image is escaped.
            what.lines().map(esc).collect::<Vec<_>>().join("\n"),
        ]);
    }
    t
}

/// Text from the image, control characters escaped (see [`crate::text`]).
fn esc(s: &str) -> String {
    crate::text::escape_controls(s).into_owned()
}

/// Renders the analysis for a terminal.
pub fn render(a: &Analysis, options: &TextOptions) -> String {
    let u = options.units;
    let img = &a.image;
    let mut out = String::new();
    let _ = writeln!(out, "Image     {}", esc(&img.reference));
    if let Some(d) = &img.manifest_digest {
        let _ = writeln!(out, "Digest    {d}");
    }
    if !img.platform.is_empty() {
        let _ = writeln!(out, "Platform  {}", esc(&img.platform));
    }
    let _ = writeln!(
        out,
        "Size      {}{} compressed (pull{}) · {} uncompressed · {} in {} files in the final filesystem",
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
    );
    let _ = writeln!(
        out,
        "Waste     {} shadowed by later layers · efficiency {}",
        u.bytes(img.shadowed_bytes),
        percent(img.efficiency)
    );
    let unverified = a.verification.layers_unverified;
    if unverified > 0 && !a.manifest_only {
        let _ = writeln!(
            out,
            "Verified  no: {unverified} layer(s) read as the source states them, digests not checked (--verify checks them)"
        );
    }

    let _ = writeln!(out, "\nLayers");
    let mut t = table(
        options,
        &[
            "#",
            "created by",
            "compressed",
            "uncompressed",
            "files",
            "shadowed",
        ],
        &[0, 2, 3, 4, 5],
    );
    for l in &a.layers {
        t.add_row(vec![
            l.index.to_string(),
            short_created_by(l.created_by.as_deref().unwrap_or(l.digest.short()), 60),
            if l.pull_estimated() {
                format!("~{}", u.bytes(l.pull_bytes()))
            } else {
                u.bytes(l.pull_bytes())
            },
            u.bytes(l.uncompressed_bytes),
            l.files.to_string(),
            if l.shadowed_bytes == 0 {
                "-".into()
            } else {
                u.bytes(l.shadowed_bytes)
            },
        ]);
    }
    let _ = writeln!(out, "{t}");

    let _ = writeln!(out, "\nFindings");
    if a.findings.is_empty() {
        let _ = writeln!(out, "  none: nothing to reclaim");
    } else {
        let t = findings_table(&a.findings, options);
        let _ = writeln!(out, "{t}");
        if a.findings.len() > options.top {
            let _ = writeln!(
                out,
                "  … {} more findings (see --format json)",
                a.findings.len() - options.top
            );
        }
    }

    for env in &a.python.environments {
        let _ = writeln!(
            out,
            "\nPython environment {}{}",
            esc(&env.path),
            env.python
                .as_deref()
                .map(|v| format!(" (Python {v})"))
                .unwrap_or_default()
        );
        let mut t = table(
            options,
            &["distribution", "version", "bytes", "files", "layer"],
            &[2, 3, 4],
        );
        for d in env.distributions.iter().take(options.top) {
            t.add_row(vec![
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
            t.add_row(vec![
                "(no distribution)".into(),
                String::new(),
                u.bytes(env.unclaimed_bytes),
                env.unclaimed_files.to_string(),
                String::new(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }

    system_packages_section(&mut out, &a.system_packages, options);

    let _ = writeln!(out, "\nLargest directories");
    let mut t = table(options, &["directory", "bytes"], &[1]);
    for d in &a.largest_directories {
        t.add_row(vec![esc(&d.path), u.bytes(d.bytes)]);
    }
    let _ = writeln!(out, "{t}");

    let _ = writeln!(out, "\nLargest files");
    let mut t = table(options, &["file", "bytes", "layer"], &[1, 2]);
    for f in &a.largest_files {
        t.add_row(vec![
            esc(&f.path),
            u.bytes(f.bytes),
            f.layer.map(|l| l.to_string()).unwrap_or_default(),
        ]);
    }
    let _ = writeln!(out, "{t}");
    pull_section(&mut out, &a.pull, options);
    warnings_section(&mut out, &a.warnings);
    out
}

/// Inputs ignored or cleaned, one line each.
fn warnings_section(out: &mut String, warnings: &[crate::warning::Warning]) {
    if warnings.is_empty() {
        return;
    }
    let _ = writeln!(out, "\nWarnings");
    for w in warnings {
        let layer = w.layer.map(|l| format!("layer {l}: ")).unwrap_or_default();
        let example = w
            .example
            .as_deref()
            .map(|e| format!(" (e.g. {})", esc(e)))
            .unwrap_or_default();
        let _ = writeln!(out, "  {layer}{}{example}", esc(&w.message));
    }
}

/// The system packages: the largest, bytes per layer, and the packages
/// only a recommendation brought in (what `--no-install-recommends` saves).
pub fn system_packages_section(out: &mut String, s: &SystemPackages, options: &TextOptions) {
    if s.packages.is_empty() {
        return;
    }
    let u = options.units;
    let _ = writeln!(
        out,
        "\nSystem packages ({}): {} packages, {} in their files",
        serde_json::to_value(s.manager)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        s.packages.len(),
        u.bytes(s.bytes)
    );
    let mut t = table(
        options,
        &[
            "package",
            "version",
            "bytes",
            "installed size",
            "layer",
            "reason",
            "section",
        ],
        &[2, 3, 4],
    );
    for p in s.packages.iter().take(options.top) {
        t.add_row(vec![
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
    let _ = writeln!(out, "{t}");
    let mut t = table(
        options,
        &["layer", "packages", "bytes", "recommended only"],
        &[0, 1, 2, 3],
    );
    for l in &s.layers {
        t.add_row(vec![
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
    let _ = writeln!(out, "{t}");
    let recommended: Vec<&str> = s
        .packages
        .iter()
        .filter(|p| p.reason == Reason::Recommended)
        .map(|p| p.name.as_str())
        .collect();
    if !recommended.is_empty() {
        let shown = recommended.len().min(options.top.max(1) * 2);
        let _ = writeln!(
            out,
            "  {} packages came in only as recommendations: {} ({}); `apt-get install --no-install-recommends` would not install them",
            recommended.len(),
            u.bytes(s.recommended_bytes),
            recommended[..shown].join(", ")
                + if shown < recommended.len() {
                    ", …"
                } else {
                    ""
                }
        );
    }
}

// ---- pull section ------------------------------------------------------

/// Seconds for humans: `42.0 s`, `3m 05s`, `1h 02m`.
fn duration(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "-".into();
    }
    let s = seconds.round() as u64;
    if seconds < 60.0 {
        format!("{seconds:.1} s")
    } else if s < 3600 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{}h {:02}m", s / 3600, (s % 3600) / 60)
    }
}

/// A link speed for humans: `100 Mbit/s`, `1 Gbit/s`.
fn bandwidth(bits: u64) -> String {
    let mut value = bits as f64;
    let mut unit = 0;
    let names = ["bit/s", "kbit/s", "Mbit/s", "Gbit/s", "Tbit/s"];
    while value >= 1000.0 && unit < names.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let v = if value.fract().abs() < 1e-9 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    };
    format!("{v} {}", names[unit])
}

/// Appends the pull section (the pull table, compression, advice).
pub fn pull_section(out: &mut String, p: &PullReport, options: &TextOptions) {
    let u = options.units;
    let _ = writeln!(
        out,
        "\nPull at {}, {} layers at a time",
        bandwidth(p.bandwidth_bits_per_second),
        p.concurrency
    );
    if !p.have.is_empty() {
        let _ = writeln!(out, "  the node has: {}", p.have.join(", "));
    }
    let mut line = format!(
        "  download {}{}",
        if p.estimated { "~" } else { "" },
        u.bytes(p.download_bytes)
    );
    if p.estimated {
        line.push_str(" (estimated: layers held uncompressed, gzip -6 assumed)");
    }
    if p.shared_bytes > 0 {
        line.push_str(&format!(
            " of {} ({} already on the node)",
            u.bytes(p.total_compressed_bytes),
            u.bytes(p.shared_bytes)
        ));
    }
    line.push_str(&format!(" in about {}", duration(p.estimated_seconds)));
    if let (Some(disk), Some(ready)) = (p.disk_bytes, p.ready_seconds) {
        line.push_str(&format!(
            " · {} written to disk · ready after about {}",
            u.bytes(disk),
            duration(ready)
        ));
    }
    let _ = writeln!(out, "{line}");

    let mut t = table(
        options,
        &[
            "#",
            "created by",
            "download",
            "on disk",
            "ratio",
            "gzip-6",
            "zstd-3",
            "precompressed",
            "downloading",
        ],
        &[0, 2, 3, 4, 5, 6, 7, 8],
    );
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |b| u.bytes(b));
    for l in &p.layers {
        let what = short_created_by(l.created_by.as_deref().unwrap_or(l.digest.short()), 40);
        let (download, when) = if l.shared {
            ("have".to_owned(), "-".to_owned())
        } else {
            (
                u.bytes(l.compressed_bytes),
                format!(
                    "{} – {}",
                    duration(l.download_start_seconds),
                    duration(l.download_end_seconds)
                ),
            )
        };
        t.add_row(vec![
            l.index.to_string(),
            what,
            download,
            opt(l.uncompressed_bytes),
            l.ratio.map_or_else(|| "-".to_owned(), percent),
            opt(l.gzip6_bytes),
            opt(l.zstd3_bytes),
            if l.precompressed_bytes == 0 {
                "-".into()
            } else {
                u.bytes(l.precompressed_bytes)
            },
            when,
        ]);
    }
    let _ = writeln!(out, "{t}");

    if let Some(c) = &p.compression {
        let _ = writeln!(
            out,
            "  zstd level 3 (estimated from a sample of each layer): download {} ({} less) in about {}, ready after about {} ({} less unpacking)",
            u.bytes(c.zstd3_bytes),
            u.bytes(c.zstd_saved_bytes),
            duration(c.zstd_estimated_seconds),
            duration(c.zstd_ready_seconds),
            duration(c.unpack_seconds_saved)
        );
        if c.precompressed_bytes > 0 {
            let _ = writeln!(
                out,
                "  already compressed files (wheels, archives) and model weights: {} (model weights {}); no codec shrinks them",
                u.bytes(c.precompressed_bytes),
                u.bytes(c.model_bytes)
            );
        }
    }
    if let Some(s) = &p.split {
        let _ = writeln!(
            out,
            "  layer {} sets the pull time: about {} now, about {} if split into {} layers of equal size",
            s.layer,
            duration(s.seconds_now),
            duration(s.seconds_after),
            s.parts
        );
    }
    if let Some(r) = &p.reorder {
        let _ = writeln!(
            out,
            "  layer {} changed and layers {} were rebuilt above it: {} re-downloaded per release, {} with it last (about {} → {})",
            r.layer,
            r.rebuilt_layers
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            u.bytes(r.redownload_bytes),
            u.bytes(r.redownload_bytes_after),
            duration(r.seconds_now),
            duration(r.seconds_after)
        );
    }
    if p.lazy_pull_suggested {
        let _ = writeln!(
            out,
            "  info: a pull this large may be worth lazy pulling: eStargz (stargz-snapshotter) or SOCI start containers before every byte has arrived"
        );
    }
}

/// Renders `layerscope pull`: each image's pull section and findings, then
/// the sharing matrix.
pub fn render_pull(output: &PullOutput, options: &TextOptions) -> String {
    let u = options.units;
    let mut out = String::new();
    for img in &output.images {
        let _ = writeln!(out, "Image     {}", esc(&img.reference));
        if let Some(d) = &img.manifest_digest {
            let _ = writeln!(out, "Digest    {d}");
        }
        pull_section(&mut out, &img.pull, options);
        if !img.findings.is_empty() {
            let t = findings_table(&img.findings, options);
            let _ = writeln!(out, "{t}");
        }
        out.push('\n');
    }
    if let Some(s) = &output.sharing {
        let _ = writeln!(
            out,
            "Shared layers (compressed bytes a node holding the row image does not download for the column image)"
        );
        let mut header = vec!["".to_owned()];
        header.extend((0..s.images.len()).map(|i| format!("#{i}")));
        let hdr: Vec<&str> = header.iter().map(String::as_str).collect();
        let right: Vec<usize> = (1..=s.images.len()).collect();
        let mut t = table(options, &hdr, &right);
        for (i, row) in s.shared_bytes.iter().enumerate() {
            let mut cells = vec![format!("#{i} {}", s.images[i])];
            cells.extend(row.iter().map(|&b| u.bytes(b)));
            t.add_row(cells);
        }
        let _ = writeln!(out, "{t}");
        let _ = writeln!(
            out,
            "  all images together: {} distinct of {} in total",
            u.bytes(s.distinct_bytes),
            u.bytes(s.sum_bytes)
        );
    }
    out
}
