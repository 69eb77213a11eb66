//! The terminal and JSON renderings of `layerscope diff`.

use std::fmt::Write as _;

use super::RenderOptions;
use super::units::Units;
use crate::diff::{ImageDiff, MatchedBy};
use crate::display::short_created_by;

fn signed(u: Units, v: i64) -> String {
    if v >= 0 {
        format!("+{}", u.bytes(v.unsigned_abs()))
    } else {
        format!("-{}", u.bytes(v.unsigned_abs()))
    }
}

/// One line on a changed layer's files against the old build's layer.
pub fn file_drift(f: &crate::diff::FileDrift) -> String {
    let mut line = format!(
        "files vs old layer {}: {} content, {} owner/mode only, {} same, {} added, {} removed",
        f.old_index, f.content, f.ownership_or_mode, f.same, f.added, f.removed
    );
    if f.metadata_only {
        line.push_str(" (no content changed: timestamps, ownership or mode only)");
    }
    line
}

/// The terminal rendering.
pub fn render_text(d: &ImageDiff, options: &RenderOptions) -> String {
    let u = options.units;
    // "created by" takes what the layer columns leave of the width (all of
    // it with --no-trunc or no known width).
    let by_width = |indent: usize| {
        options
            .wrap_width()
            .map_or(usize::MAX, |w| w.saturating_sub(indent).max(24))
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Old       {}  {} compressed, {} uncompressed, {} layers",
        d.old.reference,
        u.bytes(d.old.compressed_bytes),
        u.bytes(d.old.uncompressed_bytes),
        d.old.layers
    );
    let _ = writeln!(
        out,
        "New       {}  {} compressed, {} uncompressed, {} layers",
        d.new.reference,
        u.bytes(d.new.compressed_bytes),
        u.bytes(d.new.uncompressed_bytes),
        d.new.layers
    );
    let _ = writeln!(
        out,
        "Change    {} compressed, {} uncompressed; a node with the old image downloads {}",
        signed(u, d.layers.compressed_delta),
        signed(u, d.layers.uncompressed_delta),
        u.bytes(d.layers.download_bytes)
    );
    let by_content = d
        .layers
        .shared
        .iter()
        .filter(|l| l.matched_by == Some(MatchedBy::DiffId))
        .count();
    let _ = write!(
        out,
        "\nLayers: {} shared, {} added, {} removed",
        d.layers.shared.len(),
        d.layers.added.len(),
        d.layers.removed.len()
    );
    if by_content > 0 {
        let _ = write!(
            out,
            " ({by_content} shared by diff_id: same content, another blob)"
        );
    }
    out.push('\n');
    for (sign, list) in [("+", &d.layers.added), ("-", &d.layers.removed)] {
        for l in list {
            let by = short_created_by(l.created_by.as_deref().unwrap_or(""), by_width(53));
            let _ = writeln!(
                out,
                "  {sign} {:>3}  {:>10} {:>10}  {}  {}",
                l.index,
                u.bytes(l.compressed_bytes),
                u.bytes(l.uncompressed_bytes),
                &l.digest[..l.digest.len().min(19)],
                by
            );
        }
    }
    if !d.layers.drift.is_empty() {
        out.push_str("\nChanged layers and what drifted in them:\n");
        for l in &d.layers.drift {
            let by = short_created_by(l.created_by.as_deref().unwrap_or(""), by_width(7));
            let _ = writeln!(out, "  {:>3}  {}", l.index, by);
            for x in &l.distributions {
                let _ = writeln!(
                    out,
                    "       {} {} -> {}",
                    x.name, x.old_version, x.new_version
                );
            }
            for x in &l.packages {
                let _ = writeln!(
                    out,
                    "       apt {} {} -> {}",
                    x.name, x.old_version, x.new_version
                );
            }
            if let Some(f) = &l.files {
                let _ = writeln!(out, "       {}", file_drift(f));
                if !f.content_paths.is_empty() {
                    let _ = writeln!(
                        out,
                        "       content differs: {}",
                        f.content_paths.join(", ")
                    );
                }
            }
        }
    }
    let p = &d.distributions;
    if !(p.added.is_empty()
        && p.removed.is_empty()
        && p.upgraded.is_empty()
        && p.resized.is_empty())
    {
        out.push_str("\nPython distributions:\n");
        for x in &p.added {
            let _ = writeln!(
                out,
                "  + {} {}  {}",
                x.name,
                x.version,
                signed(u, x.bytes as i64)
            );
        }
        for x in &p.removed {
            let _ = writeln!(
                out,
                "  - {} {}  {}",
                x.name,
                x.version,
                signed(u, -(x.bytes as i64))
            );
        }
        for x in p.upgraded.iter().chain(&p.resized) {
            let _ = writeln!(
                out,
                "  ~ {} {} -> {}  {}",
                x.name,
                x.old_version,
                x.new_version,
                signed(u, x.delta)
            );
        }
    }
    for (title, list) in [
        ("Directories that grew most", &d.directories),
        ("Files that grew most", &d.files),
        ("Directories that shrank most", &d.directories_shrunk),
        ("Files that shrank most", &d.files_shrunk),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "\n{title}:");
            for x in list {
                let _ = writeln!(out, "  {:>10}  {}", signed(u, x.delta), x.path);
            }
        }
    }
    let f = &d.findings;
    if !(f.appeared.is_empty() && f.vanished.is_empty() && f.changed.is_empty()) {
        out.push_str("\nFindings:\n");
        for (label, list) in [
            ("appeared", &f.appeared),
            ("vanished", &f.vanished),
            ("changed", &f.changed),
        ] {
            for x in list {
                let _ = writeln!(
                    out,
                    "  {label:<8}  {:<26} {}",
                    x.kind.id(),
                    signed(u, x.delta)
                );
            }
        }
    }
    out
}
