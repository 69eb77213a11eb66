//! The pull cost in text: the pull section of `analyze` and the report of
//! `layerscope pull` (each image's pull table and findings, the sharing
//! matrix), fitted to the width.

use std::fmt::Write as _;

use super::fit::para;
use super::grid::{Fit, Grid};
use super::text::{TextOptions, esc, findings_blocks, heading};
use super::units::percent;
use crate::analyze::pull::{PullOutput, PullReport};
use crate::display::short_created_by;

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
    let w = options.wrap_width();
    heading(
        out,
        options,
        &format!(
            "Pull at {}, {} layers at a time",
            bandwidth(p.bandwidth_bits_per_second),
            p.concurrency
        ),
    );
    if !p.have.is_empty() {
        out.push_str(&para(
            "  ",
            4,
            &format!("the node has: {}", p.have.join(", ")),
            w,
        ));
    }
    let mut line = format!(
        "download {}{}",
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
    out.push_str(&para("  ", 4, &line, w));

    let mut t = Grid::new()
        .col("#", true, Fit::Fixed)
        .col("created by", false, Fit::Words(2))
        .col("download", true, Fit::Fixed)
        .col("on disk", true, Fit::Fixed)
        .optional("ratio", true, 2)
        .optional("gzip-6", true, 4)
        .optional("zstd-3", true, 3)
        .optional("precompressed", true, 5)
        .optional("downloading", true, 1);
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_owned(), |b| u.bytes(b));
    for l in &p.layers {
        let what = short_created_by(
            l.created_by.as_deref().unwrap_or(l.digest.short()),
            usize::MAX,
        );
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
        t.row(vec![
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
    out.push_str(&t.render(&options.layout()));

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
        let _ = writeln!(out, "Image    {}", esc(&img.reference));
        if let Some(d) = &img.manifest_digest {
            let _ = writeln!(out, "Digest   {d}");
        }
        pull_section(&mut out, &img.pull, options);
        if !img.findings.is_empty() {
            heading(&mut out, options, "Findings");
            findings_blocks(&mut out, &img.findings, options);
        }
        out.push('\n');
    }
    if let Some(s) = &output.sharing {
        let _ = writeln!(
            out,
            "Shared layers (compressed bytes a node holding the row image does not download for the column image)"
        );
        let mut t = Grid::new().col("", false, Fit::Path);
        for i in 0..s.images.len() {
            t = t.col(&format!("#{i}"), true, Fit::Fixed);
        }
        for (i, row) in s.shared_bytes.iter().enumerate() {
            let mut cells = vec![format!("#{i} {}", esc(&s.images[i]))];
            cells.extend(row.iter().map(|&b| u.bytes(b)));
            t.row(cells);
        }
        out.push_str(&t.render(&options.layout()));
        let _ = writeln!(
            out,
            "  all images together: {} distinct of {} in total",
            u.bytes(s.distinct_bytes),
            u.bytes(s.sum_bytes)
        );
    }
    out
}
