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
    settings.analyze.all_paths = args.all_paths;
    settings.analyze.layer_files = args.files;
    settings.analyze.treemap = args.output.format == Format::Html;
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
            let plan = Plan::new(&image, &analysis.findings, Some(dockerfile));
            if !plan.dockerfile_matched {
                anstream::eprintln!(
                    "warning: `{}` does not match the history of `{}`; findings carry no Dockerfile lines",
                    dockerfile.path,
                    args.image
                );
            }
            analysis.findings = plan.annotate(&analysis.findings);
        }
        analysis
    };
    let rendered = match args.output.format {
        Format::Json => json::render(&analysis),
        Format::Text => text::render(&analysis, &super::text_options(&args.output)),
        Format::Html => crate::report::html::render(&crate::report::html::Page {
            analysis: Some(&analysis),
            treemap: analysis.treemap.as_ref(),
            check: None,
            diff: None,
        }),
    };
    let rendered = if analysis.manifest_only && matches!(args.output.format, Format::Text) {
        format!(
            "note: --manifest-only: no layer was read; uncompressed sizes, waste and findings need a full analysis\n\n{rendered}"
        )
    } else {
        rendered
    };
    super::emit(&rendered, args.output.output.as_deref())?;
    Ok(0)
}
