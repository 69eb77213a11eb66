//! `layerscope analyze IMAGE`.

use crate::analyze;
use crate::cli::AnalyzeArgs;
use crate::dockerfile::{Dockerfile, Plan};
use crate::error::Error;
use crate::pipeline;
use crate::report::{Format, json, text};

/// Analyzes one image and prints the report.
pub fn run(args: AnalyzeArgs) -> Result<i32, Error> {
    let mut settings = super::settings(&args.source)?;
    settings.analyze.top = args.output.top;
    settings.analyze.pull = super::pull::options(&args.pull, &settings.source)?;
    // A bad Dockerfile is a usage error: report it before reading the image.
    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(Dockerfile::read)
        .transpose()
        .map_err(|e| Error::Config(e.to_string()))?;
    let analysis = if settings.source.registry.manifest_only {
        pipeline::analyze_manifest_only(&args.image, &settings)?
    } else {
        let (image, stats) = pipeline::load(&args.image, &settings)?;
        let mut analysis = analyze::run(&image, &settings.analyze, stats);
        if let Some(dockerfile) = &dockerfile {
            analysis.findings = Plan::new(&image, &analysis.findings, Some(dockerfile))
                .annotate(&analysis.findings);
        }
        analysis
    };
    let rendered = match args.output.format {
        Format::Json => json::render(&analysis),
        Format::Text => text::render(&analysis, &super::text_options(&args.output)),
    };
    super::emit(&rendered, args.output.output.as_deref())?;
    Ok(0)
}
