//! The report of `layerscope optimize`: the advice ranked by bytes saved,
//! as text and as the `layerscope/optimize/v1` JSON document.

use std::fmt::Write as _;

use serde::Serialize;

use super::units::Units;
use crate::dockerfile::{Advice, CacheOrderFigure, Class, Dockerfile, Plan};

/// The JSON schema identifier of `optimize --format json`.
pub const SCHEMA: &str = "layerscope/optimize/v1";

/// What `optimize --format json` prints.
#[derive(Debug, Serialize)]
pub struct OptimizeReport<'a> {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The image reference (null for `--dockerfile` alone).
    pub image: Option<&'a str>,
    /// The Dockerfile, when given.
    pub dockerfile: Option<String>,
    /// How many layers belong to the base image.
    pub base_layers: usize,
    /// The changes, largest compressed saving first: each with its
    /// `change_kind`, `class` (safe or review), bytes (null without an
    /// image), and `applied` or the `reason` it is not.
    pub advice: &'a [Advice],
    /// Image-size bytes the applied changes save (uncompressed; null
    /// without an image).
    pub promised_bytes: Option<u64>,
    /// Image-size bytes the applied changes save (compressed; null without
    /// an image).
    pub promised_compressed_bytes: Option<u64>,
    /// The cache-order figure, when the source is copied before the
    /// dependencies are installed.
    pub cache_order: Option<CacheOrderFigure>,
    /// Where the rewritten Dockerfile was written.
    pub written: Option<String>,
    /// Whether the Dockerfile matched the image, so that lines are known
    /// and a rewrite is possible (text report only).
    #[serde(skip)]
    pub rewritable: bool,
    /// Whether the figures were measured on an image (text report only).
    #[serde(skip)]
    pub measured: bool,
}

impl<'a> OptimizeReport<'a> {
    /// The report of `plan` for `image`; `written` is where `--write` put
    /// the rewritten Dockerfile.
    pub fn new(
        image: Option<&'a str>,
        plan: &'a Plan,
        dockerfile: Option<&Dockerfile>,
        written: Option<String>,
    ) -> OptimizeReport<'a> {
        let promised = plan.promised();
        OptimizeReport {
            schema: SCHEMA,
            image,
            dockerfile: dockerfile.map(|d| d.path.clone()),
            base_layers: plan.mapping.base_layers,
            advice: &plan.advice,
            promised_bytes: promised.map(|p| p.0),
            promised_compressed_bytes: promised.map(|p| p.1),
            cache_order: plan.cache_order().and_then(|a| a.cache_order),
            written,
            rewritable: dockerfile.is_some() && plan.dockerfile_matched,
            measured: plan.measured,
        }
    }
}

/// The advice as text.
pub fn render_text(report: &OptimizeReport<'_>, units: Units) -> String {
    let mut out = String::new();
    let source = match (&report.dockerfile, report.rewritable || !report.measured) {
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
        let figure = match (a.bytes, a.compressed_bytes) {
            (Some(b), Some(c)) => {
                format!("{what} {} ({} compressed)", units.bytes(b), units.bytes(c))
            }
            _ => "bytes unknown".to_owned(),
        };
        let class = match a.class {
            Class::Safe => "safe",
            Class::Review => "review",
        };
        let _ = writeln!(
            out,
            "\n{:>2}. {at}[{}] {figure}  ({class}, {})",
            i + 1,
            a.change_kind.id(),
            if a.applied { "applied" } else { "not applied" }
        );
        let quoted: String = a.instruction.replace('\n', " ").chars().take(120).collect();
        let _ = writeln!(out, "    `{quoted}`");
        let _ = writeln!(out, "    {}", a.problem);
        let _ = writeln!(out, "    fix: {}", a.change);
        if let Some(r) = &a.reason {
            let _ = writeln!(out, "    not applied: {r}");
        }
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
    match (report.promised_bytes, report.promised_compressed_bytes) {
        (Some(u), Some(c)) if report.rewritable => {
            let _ = writeln!(
                out,
                "\nThe changes the rewrite applies save {} ({} compressed).",
                units.bytes(u),
                units.bytes(c)
            );
        }
        _ if !report.measured => {
            let _ = writeln!(
                out,
                "\nWithout an image the savings are unknown; give the image built from it to measure them."
            );
        }
        _ => {
            let _ = writeln!(
                out,
                "\nGive `--dockerfile` for line numbers and `--write` for a rewritten Dockerfile."
            );
        }
    }
    out
}
