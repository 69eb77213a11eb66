//! The terminal report: summary, layers, findings, largest directories and
//! files, Python distributions, pull cost.

use std::fmt::Write as _;

use comfy_table::{CellAlignment, LineStyle, Table, TableStyle};

use super::units::{Units, percent};
use crate::analyze::Analysis;

/// Knobs of the text report.
#[derive(Clone, Copy, Debug)]
pub struct TextOptions {
    /// SI or binary units.
    pub units: Units,
    /// Rows per section.
    pub top: usize,
    /// Terminal width for wrapping (`None`: no wrapping).
    pub width: Option<u16>,
}

impl Default for TextOptions {
    fn default() -> Self {
        TextOptions {
            units: Units::Si,
            top: 10,
            width: Some(120),
        }
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

/// Shortens a history entry for a table cell.
fn shorten(created_by: &str, max: usize) -> String {
    let s = created_by
        .trim_start_matches("/bin/sh -c ")
        .trim_start_matches("#(nop) ")
        .trim_end_matches(" # buildkit")
        .trim();
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > max {
        format!("{}…", s.chars().take(max - 1).collect::<String>())
    } else {
        s
    }
}

/// Renders the analysis for a terminal.
pub fn render(a: &Analysis, options: &TextOptions) -> String {
    let u = options.units;
    let img = &a.image;
    let mut out = String::new();
    let _ = writeln!(out, "Image     {}", img.reference);
    if let Some(d) = &img.manifest_digest {
        let _ = writeln!(out, "Digest    {d}");
    }
    if !img.platform.is_empty() {
        let _ = writeln!(out, "Platform  {}", img.platform);
    }
    let _ = writeln!(
        out,
        "Size      {} compressed (pull) · {} uncompressed · {} in {} files in the final filesystem",
        u.bytes(img.compressed_bytes),
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
            shorten(l.created_by.as_deref().unwrap_or(l.digest.short()), 60),
            u.bytes(l.compressed_bytes),
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
        for f in a.findings.iter().take(options.top) {
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
                what,
            ]);
        }
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
            env.path,
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
                d.name.clone(),
                d.version.clone(),
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

    let _ = writeln!(out, "\nLargest directories");
    let mut t = table(options, &["directory", "bytes"], &[1]);
    for d in &a.largest_directories {
        t.add_row(vec![d.path.clone(), u.bytes(d.bytes)]);
    }
    let _ = writeln!(out, "{t}");

    let _ = writeln!(out, "\nLargest files");
    let mut t = table(options, &["file", "bytes", "layer"], &[1, 2]);
    for f in &a.largest_files {
        t.add_row(vec![
            f.path.clone(),
            u.bytes(f.bytes),
            f.layer.map(|l| l.to_string()).unwrap_or_default(),
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}
