//! `layerscope optimize IMAGE --dockerfile FILE [--write OUT]`: the advice
//! ranked by bytes saved; with `--write`, the rewritten Dockerfile and a
//! unified diff of it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analyze;
use crate::cli::OptimizeArgs;
use crate::dockerfile::{Advice, CacheOrderFigure, Dockerfile, Plan, rewrite};
use crate::error::Error;
use crate::pipeline;
use crate::report::Format;
use crate::report::units::Units;

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
}

/// Runs the command.
pub fn run(args: OptimizeArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.source)?;
    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(Dockerfile::read)
        .transpose()
        .map_err(|e| Error::Config(e.to_string()))?;
    let (image, stats) = pipeline::load(&args.image, &settings)?;
    let analysis = analyze::run(&image, &settings.analyze, stats);
    let plan = Plan::new(&image, &analysis.findings, dockerfile.as_ref());
    if !plan.dockerfile_matched {
        anstream::eprintln!(
            "warning: `{}` does not match the history of `{}`; advice comes from the history alone and nothing is rewritten",
            args.dockerfile
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            args.image
        );
    }
    let (promised_bytes, promised_compressed_bytes) = plan.promised();
    let units = if args.output.binary {
        Units::Binary
    } else {
        Units::Si
    };
    let mut diff = None;
    if let (Some(out), Some(df)) = (&args.write, &dockerfile) {
        let new = rewrite::apply(df, &plan.advice);
        std::fs::write(out, &new).map_err(|source| Error::Output {
            path: out.clone(),
            source,
        })?;
        let name = args
            .dockerfile
            .as_deref()
            .and_then(|p| p.file_name())
            .map_or("Dockerfile".into(), |n| n.to_string_lossy().into_owned());
        diff = Some(rewrite::unified_diff(&name, &df.text, &new));
    }
    let rendered = match args.output.format {
        Format::Html => {
            return Err(Error::Usage(
                "`optimize` has no html report; use --format text or json".into(),
            ));
        }
        Format::Json => {
            let report = OptimizeReport {
                schema: SCHEMA,
                image: &args.image,
                dockerfile: args.dockerfile.as_ref().map(|p| p.display().to_string()),
                base_layers: plan.mapping.base_layers,
                advice: &plan.advice,
                promised_bytes,
                promised_compressed_bytes,
                cache_order: plan.cache_order().and_then(|a| a.cache_order),
                written: args.write.as_ref().map(|p| p.display().to_string()),
            };
            let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
            s.push('\n');
            s
        }
        Format::Text => render(
            &plan,
            dockerfile.as_ref().filter(|_| plan.dockerfile_matched),
            units,
        ),
    };
    match diff {
        // With --write, stdout carries the diff; the advice goes to stderr
        // (or to --output).
        Some(diff) => {
            match &args.output.output {
                Some(path) => super::emit(&rendered, Some(path))?,
                None => anstream::eprint!("{rendered}"),
            }
            super::emit(&diff, None)?;
        }
        None => super::emit(&rendered, args.output.output.as_deref())?,
    }
    Ok(0)
}

/// The advice as text.
pub fn render(plan: &Plan, dockerfile: Option<&Dockerfile>, units: Units) -> String {
    let mut out = String::new();
    let source = dockerfile.map_or("the image history".to_owned(), |d| format!("`{}`", d.path));
    if plan.advice.is_empty() {
        let _ = writeln!(out, "No advice for {source}: nothing measurable to save.");
        return out;
    }
    let _ = writeln!(out, "Advice for {source}, largest saving first:");
    for (i, a) in plan.advice.iter().enumerate() {
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
    let (u, c) = plan.promised();
    if dockerfile.is_some() {
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
