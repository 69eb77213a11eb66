//! The terminal and JSON renderings of `layerscope diff`.

use std::fmt::Write as _;

use super::units::Units;
use crate::diff::ImageDiff;
use crate::display::short_created_by;

fn signed(u: Units, v: i64) -> String {
    if v >= 0 {
        format!("+{}", u.bytes(v.unsigned_abs()))
    } else {
        format!("-{}", u.bytes(v.unsigned_abs()))
    }
}

/// The terminal rendering.
pub fn render_text(d: &ImageDiff, u: Units) -> String {
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
    let _ = writeln!(
        out,
        "\nLayers: {} shared, {} added, {} removed",
        d.layers.shared.len(),
        d.layers.added.len(),
        d.layers.removed.len()
    );
    for (sign, list) in [("+", &d.layers.added), ("-", &d.layers.removed)] {
        for l in list {
            let by = short_created_by(l.created_by.as_deref().unwrap_or(""), 70);
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
