//! `layerscope explore IMAGE`: analyse, then browse in the terminal.

use crate::analyze;
use crate::cli::AnalyzeArgs;
use crate::dockerfile::{Dockerfile, Plan};
use crate::error::Error;
use crate::pipeline;

/// Analyses the image and opens the browser on it.
pub fn run(args: AnalyzeArgs) -> Result<i32, Error> {
    let mut settings = super::settings(&args.source)?;
    settings.analyze.pull = super::pull::options(&args.pull, &settings.source)?;
    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(Dockerfile::read)
        .transpose()
        .map_err(|e| Error::Config(e.to_string()))?;
    let (image, stats) = pipeline::load(&args.image, &settings)?;
    let mut analysis = analyze::run(&image, &settings.analyze, stats);
    if let Some(dockerfile) = &dockerfile {
        let plan = Plan::new(&image, &analysis.findings, Some(dockerfile));
        analysis.findings = plan.annotate(&analysis.findings);
    }
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    crate::explore::run(&image, &analysis, color).map_err(|source| Error::Output {
        path: "<terminal>".into(),
        source,
    })?;
    Ok(0)
}
