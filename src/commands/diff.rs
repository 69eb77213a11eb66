//! `layerscope diff OLD NEW`.

use crate::analyze;
use crate::cli::DiffArgs;
use crate::diff::{Side, diff};
use crate::error::Error;
use crate::pipeline;
use crate::report::units::Units;
use crate::report::{Format, diff as render};

/// Loads both images, compares them and prints the difference.
pub fn run(args: DiffArgs) -> Result<i32, Error> {
    let mut settings = super::settings(&args.source)?;
    settings.analyze.top = args.output.top;
    let (old_image, old_stats) = pipeline::load(&args.old, &settings)?;
    let old_analysis = analyze::run(&old_image, &settings.analyze, old_stats);
    let (new_image, new_stats) = pipeline::load(&args.new, &settings)?;
    let new_analysis = analyze::run(&new_image, &settings.analyze, new_stats);
    let d = diff(
        Side {
            image: &old_image,
            analysis: &old_analysis,
        },
        Side {
            image: &new_image,
            analysis: &new_analysis,
        },
        args.output.top,
    );
    let units = if args.output.binary {
        Units::Binary
    } else {
        Units::Si
    };
    let rendered = match args.output.format {
        Format::Json => render::render_json(&d),
        Format::Text => render::render_text(&d, units),
        Format::Html => crate::report::html::render(&crate::report::html::Page {
            analysis: None,
            treemap: None,
            check: None,
            diff: serde_json::to_value(&d).ok(),
        }),
    };
    super::emit(&rendered, args.output.output.as_deref())?;
    Ok(0)
}
