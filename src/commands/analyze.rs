//! `layerscope analyze IMAGE`.

use crate::cli::AnalyzeArgs;
use crate::error::Error;
use crate::pipeline;
use crate::report::{Format, json, text};

/// Analyzes one image and prints the report.
pub fn run(args: AnalyzeArgs) -> Result<i32, Error> {
    let mut settings = super::settings(&args.source)?;
    settings.analyze.top = args.output.top;
    settings.analyze.pull = super::pull::options(&args.pull, &settings.source)?;
    let analysis = pipeline::analyze(&args.image, &settings)?;
    let rendered = match args.output.format {
        Format::Json => json::render(&analysis),
        Format::Text => text::render(&analysis, &super::text_options(&args.output)),
    };
    super::emit(&rendered, args.output.output.as_deref())?;
    Ok(0)
}
