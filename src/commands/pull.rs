//! `layerscope pull IMAGE [IMAGE...]`: what pulling each image costs, with
//! `--have` images already on the node, and which layers the images share.

use crate::analyze::pull::PullOutput;
use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::{Report, sink};
use crate::settings::Pull;

/// Reports the pull of every image given.
pub fn run(s: Pull) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let images = s
        .images
        .iter()
        .map(|reference| pipeline.pull(reference))
        .collect::<Result<Vec<_>, _>>()?;
    let output = PullOutput::new(images);
    sink::emit(&Report::Pull(&output), &s.output.sinks, &s.output.options)?;
    Ok(0)
}
