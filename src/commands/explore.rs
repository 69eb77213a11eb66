//! `layerscope explore IMAGE`: analyse, then browse in the terminal.

use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::settings::Analyze;

/// Analyses the image and opens the browser on it.
pub fn run(s: Analyze) -> Result<i32, Error> {
    let color = s.output.options.color;
    let pipeline = Pipeline::new(s.pipeline)?;
    let analyzed = pipeline.analyze(&s.image)?;
    crate::explore::run(&analyzed.image, &analyzed.analysis, color).map_err(|source| {
        Error::Output {
            path: "<terminal>".into(),
            source,
        }
    })?;
    Ok(0)
}
