//! The report of `layerscope optimize`: the advice ranked by bytes saved,
//! as text and as the `layerscope/optimize/v1` JSON document.

use std::fmt::Write as _;

use serde::Serialize;

use super::units::Units;
use crate::dockerfile::{Advice, CacheOrderFigure, Dockerfile, Plan};

/// The JSON schema identifier of `optimize --format json`.
pub const SCHEMA: &str = "layerscope/optimize/v1";

/// What `optimize --format json` prints.
#[derive(Debug, Serialize)]
pub struct OptimizeReport<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The image reference.
    pub image: &'a str,
    /// The Dockerfile, when given.
    pub dockerfile: Option<String>,
    /// How many layers belong to the base image.
    pub base_layers: usize,
    /// The advice, largest compressed saving first.
    pub advice: &'a [Advice],
    /// Image-size bytes the automated advice saves (uncompressed).
    pub promised_bytes: u64,
    /// Image-size bytes the automated advice saves (compressed).
    pub promised_compressed_bytes: u64,
    /// The cache-order figure, when the source is copied before the
    /// dependencies are installed.
    pub cache_order: Option<CacheOrderFigure>,
    /// Where the rewritten Dockerfile was written.
    pub written: Option<String>,
    /// Whether the Dockerfile matched the image, so that lines are known
    /// and a rewrite is possible (text report only).
    #[serde(skip)]
    pub rewritable: bool,
}

impl<'a> OptimizeReport<'a> {
    /// The report of `plan` for `image`; `written` is where `--write` put
    /// the rewritten Dockerfile.
    pub fn new(
        image: &'a str,
        plan: &'a Plan,
        dockerfile: Option<&Dockerfile>,
        written: Option<String>,
    ) -> OptimizeReport<'a> {
        let (promised_bytes, promised_compressed_bytes) = plan.promised();
        OptimizeReport {
            schema: SCHEMA,
            image,
            dockerfile: dockerfile.map(|d| d.path.clone()),
            base_layers: plan.mapping.base_layers,
            advice: &plan.advice,
            promised_bytes,
            promised_compressed_bytes,
            cache_order: plan.cache_order().and_then(|a| a.cache_order),
            written,
            rewritable: dockerfile.is_some() && plan.dockerfile_matched,
        }
    }
}

/// The advice as text.
pub fn render_text(report: &OptimizeReport<'_>, units: Units) -> String {
    let mut out = String::new();
    let source = match (&report.dockerfile, report.rewritable) {
        (Some(path), true) => format!("`{path}`"),
        _ => "the image history".to_owned(),
    };
    if report.advice.is_empty() {
        let _ = writeln!(out, "No advice for {source}: nothing measurable to save.");
        return out;
    }
    let _ = writeln!(out, "Advice for {source}, largest saving first:");
    for (i, a) in report.advice.iter().enumerate() {
        let at = a.line.map_or(String::new(), |l| format!("line {l}  "));
        let what = if a.shrinks_image {
            "saves"
        } else {
            "re-pushed per source change drops by"
        };
        let _ = writeln!(
            out,
            "\n{:>2}. {at}[{}] {what} {} ({} compressed){}",
            i + 1,
            a.kind.id(),
            units.bytes(a.bytes),
            units.bytes(a.compressed_bytes),
            if a.automated {
                "  [--write applies this]"
            } else {
                ""
            }
        );
        let quoted: String = a.instruction.replace('\n', " ").chars().take(120).collect();
        let _ = writeln!(out, "    `{quoted}`");
        let _ = writeln!(out, "    {}", a.problem);
        let _ = writeln!(out, "    fix: {}", a.change);
        if let Some(c) = &a.cache_order {
            let _ = writeln!(
                out,
                "    each source change re-pushes and re-pulls {} compressed ({} uncompressed) now, {} ({}) after",
                units.bytes(c.before_compressed_bytes),
                units.bytes(c.before_bytes),
                units.bytes(c.after_compressed_bytes),
                units.bytes(c.after_bytes)
            );
        }
    }
    let (u, c) = (report.promised_bytes, report.promised_compressed_bytes);
    if report.rewritable {
        let _ = writeln!(
            out,
            "\nThe changes `--write` applies save {} ({} compressed).",
            units.bytes(u),
            units.bytes(c)
        );
    } else {
        let _ = writeln!(
            out,
            "\nGive `--dockerfile` for line numbers and `--write` for a rewritten Dockerfile."
        );
    }
    out
}
