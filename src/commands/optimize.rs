//! `layerscope optimize IMAGE --dockerfile FILE [--write OUT]`: the advice
//! ranked by bytes saved; with `--write`, the rewritten Dockerfile and a
//! unified diff of it.

use std::fmt::Write as _;

use serde::Serialize;

use crate::analyze;
use crate::cli::OptimizeArgs;
use crate::dockerfile::{Advice, CacheOrderFigure, Class, Dockerfile, Plan, Selection, rewrite};
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
}

/// Runs the command.
pub fn run(args: OptimizeArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.source)?;
    let selection = match &args.apply {
        Some(s) => Selection::parse(s).map_err(Error::Usage)?,
        None => Selection::Safe,
    };
    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(Dockerfile::read)
        .transpose()
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut plan = match (&args.image, &dockerfile) {
        (Some(reference), _) => {
            let (image, stats) = pipeline::load(reference, &settings)?;
            let analysis = analyze::run(&image, &settings.analyze, stats);
            let plan = if args.force {
                Plan::forced(&image, &analysis.findings, dockerfile.as_ref())
            } else {
                Plan::new(&image, &analysis.findings, dockerfile.as_ref())
            };
            if let (Some(m), Some(df)) = (&plan.mismatch, &dockerfile) {
                let what = format!(
                    "`{}` does not line up with the history of `{reference}`: {m}",
                    df.path
                );
                if !args.force {
                    return Err(Error::Usage(format!(
                        "{what}; is it the Dockerfile the image was built from? (--force goes on)"
                    )));
                }
                anstream::eprintln!("warning: {what}; going on (--force)");
            }
            plan
        }
        (None, Some(df)) => Plan::lint(df),
        (None, None) => {
            return Err(Error::Usage(
                "optimize needs an image, a --dockerfile, or both".into(),
            ));
        }
    };
    plan.select(&selection);
    let units = if args.output.binary {
        Units::Binary
    } else {
        Units::Si
    };
    let mut diff = None;
    if let (Some(out), Some(df)) = (&args.write, &dockerfile) {
        let new = plan.rewrite(df);
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
        Format::Json => {
            let promised = plan.promised();
            let report = OptimizeReport {
                schema: SCHEMA,
                image: args.image.as_deref(),
                dockerfile: args.dockerfile.as_ref().map(|p| p.display().to_string()),
                base_layers: plan.mapping.base_layers,
                advice: &plan.advice,
                promised_bytes: promised.map(|p| p.0),
                promised_compressed_bytes: promised.map(|p| p.1),
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
            "\n{:>2}. {at}[{}] {figure}  ({class}: {})",
            i + 1,
            a.change_kind.id(),
            if a.applied {
                "applied by --write"
            } else {
                "not applied"
            }
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
    if let (Some((u, c)), true) = (plan.promised(), dockerfile.is_some()) {
        let _ = writeln!(
            out,
            "\nThe changes `--write` applies save {} ({} compressed).",
            units.bytes(u),
            units.bytes(c)
        );
    } else if plan.measured {
        let _ = writeln!(
            out,
            "\nGive `--dockerfile` for line numbers and `--write` for a rewritten Dockerfile."
        );
    } else {
        let _ = writeln!(
            out,
            "\nWithout an image the savings are unknown; give the image built from it to measure them."
        );
    }
    out
}
