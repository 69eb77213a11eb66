//! `layerscope optimize IMAGE --dockerfile FILE [--write OUT]`: the advice
//! ranked by bytes saved; with `--write`, the rewritten Dockerfile and a
//! unified diff of it.

use crate::dockerfile::rewrite;
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::OptimizeReport;
use crate::report::{Dest, Report, render, sink};
use crate::settings::Optimize;

/// Runs the command.
pub fn run(s: Optimize) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let analyzed = pipeline.analyze(&s.image)?;
    let settings = pipeline.settings();
    let dockerfile = settings.dockerfile.as_ref();
    let Some(plan) = &analyzed.plan else {
        return Err(Error::usage("no advice plan was made"));
    };
    if analyzed.dockerfile_mismatch(settings) {
        super::warn(&format!(
            "`{}` does not match the history of `{}`; advice comes from the history alone and nothing is rewritten",
            super::analyze::dockerfile_path(settings),
            s.image
        ));
    }
    let mut diff = None;
    if let (Some(out), Some(df)) = (&s.write, dockerfile) {
        let new = rewrite::apply(df, &plan.advice);
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
    let report = OptimizeReport::new(&s.image, plan, dockerfile, written);
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
