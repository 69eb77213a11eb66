//! `layerscope optimize IMAGE --dockerfile FILE [--write OUT] [--apply
//! KINDS] [--force]`: the changes ranked by bytes saved, each applied by
//! the rewrite or saying why not; with `--write`, the rewritten Dockerfile
//! and a unified diff of it. Without an image, the structural changes of
//! the Dockerfile alone (`Plan::lint`).

use crate::dockerfile::pin::{self, Pins};
use crate::dockerfile::{ChangeKind, Dockerfile, Plan, rewrite};
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::OptimizeReport;
use crate::report::{Dest, Report, render, sink};
use crate::settings::Optimize;

/// Runs the command.
pub fn run(s: Optimize) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let settings = pipeline.settings();
    let dockerfile = settings.dockerfile.as_ref();
    let mut pins = None;
    let mut plan = match (&s.image, dockerfile) {
        (Some(reference), _) => {
            let analyzed = pipeline.analyze(reference)?;
            if let Some(df) = dockerfile.filter(|_| s.apply.names(ChangeKind::Pin)) {
                let digest = base_digest(&pipeline, s.base.as_deref())?;
                let context = settings
                    .context
                    .clone()
                    .unwrap_or_else(|| dockerfile_dir(df));
                pins = Some(Pins::from_image(
                    &analyzed.image,
                    &analyzed.analysis,
                    df,
                    &context,
                    digest,
                ));
            }
            let Some(plan) = analyzed.plan else {
                return Err(Error::usage("no advice plan was made"));
            };
            match (&plan.mismatch, dockerfile) {
                (Some(m), Some(df)) => {
                    let what = format!(
                        "`{}` does not line up with the history of `{reference}`: {m}",
                        df.path
                    );
                    if !s.force {
                        return Err(Error::usage_hint(
                            what,
                            "is it the Dockerfile the image was built from? --force goes on",
                        ));
                    }
                    super::warn(&format!("{what}; going on (--force)"));
                    Plan::forced(
                        &analyzed.image,
                        &analyzed.analysis.findings,
                        analyzed.analysis.packages.as_deref(),
                        Some(df),
                    )
                }
                _ => plan,
            }
        }
        (None, Some(df)) => Plan::lint(df),
        (None, None) => {
            return Err(Error::usage(
                "optimize needs an image, a --dockerfile, or both",
            ));
        }
    };
    if let (Some(p), Some(df)) = (&pins, dockerfile) {
        plan.advice.push(p.advice(df));
    }
    plan.select(&s.apply);
    let mut diff = None;
    if let (Some(out), Some(df)) = (&s.write, dockerfile) {
        let mut new = plan.rewrite(df);
        let pinned = plan
            .advice
            .iter()
            .any(|a| a.change_kind == ChangeKind::Pin && a.applied);
        if let (Some(p), true) = (&pins, pinned) {
            new = pin::apply(&new, p);
            let dir = out.parent().unwrap_or(std::path::Path::new("."));
            let mut files = Vec::new();
            if p.writes_constraints(df) {
                files.push((pin::CONSTRAINTS_FILE, p.constraints()));
            }
            if p.writes_conda_pins(df) {
                files.push((pin::CONDA_PINS_FILE, p.conda_pins()));
            }
            for (name, text) in files {
                let path = dir.join(name);
                std::fs::write(&path, text).map_err(|source| Error::Output { path, source })?;
            }
        }
        std::fs::write(out, &new).map_err(|source| Error::Output {
            path: out.clone(),
            source,
        })?;
        let name = std::path::Path::new(&df.path)
            .file_name()
            .map_or("Dockerfile".into(), |n| n.to_string_lossy().into_owned());
        diff = Some(rewrite::unified_diff(&name, &df.text, &new));
    }
    let written = s.write.as_ref().map(|p| p.display().to_string());
    let report = OptimizeReport::new(s.image.as_deref(), &plan, dockerfile, written);
    let report = Report::Optimize(&report);
    let Some(diff) = diff else {
        sink::emit(&report, &s.output.sinks, &s.output.options)?;
        return Ok(0);
    };
    // With --write, standard output carries the diff; the advice that
    // would have gone there goes to standard error.
    for k in &s.output.sinks {
        let text = render(k.format, &report, &s.output.options)?;
        match k.dest {
            Dest::Stdout => anstream::eprint!("{text}"),
            Dest::File(_) => sink::write(&text, &k.dest)?,
        }
    }
    sink::stdout(&diff)?;
    Ok(0)
}

/// The base image's digest for `--apply pin`: from `--base REF` (its
/// `@sha256:...`, or its manifest read from the source).
fn base_digest(pipeline: &Pipeline, base: Option<&str>) -> Result<Option<String>, Error> {
    let Some(base) = base else {
        return Ok(None);
    };
    if let Some((_, d)) = base.rsplit_once('@')
        && d.starts_with("sha256:")
    {
        return Ok(Some(d.to_owned()));
    }
    Ok(pipeline.info(base)?.manifest_digest.map(|d| d.to_string()))
}

/// The Dockerfile's directory (the default build context).
fn dockerfile_dir(df: &Dockerfile) -> std::path::PathBuf {
    std::path::Path::new(&df.path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| ".".into(), std::path::Path::to_path_buf)
}
