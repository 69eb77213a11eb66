//! `layerscope diff OLD NEW`.

use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::{Report, sink};
use crate::settings::Diff;

/// Reads both images, compares them and writes the reports.
pub fn run(s: Diff) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let old = pipeline.analyze(&s.old)?;
    let new = pipeline.analyze(&s.new)?;
    let diff = pipeline.compare(&old, &new);
    sink::emit(&Report::Diff(&diff), &s.output.sinks, &s.output.options)?;
    Ok(0)
}
