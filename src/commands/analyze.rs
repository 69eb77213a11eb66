//! `layerscope analyze IMAGE`.

use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::{AnalysisReport, Report, sink};
use crate::settings::Analyze;

/// Analyzes one image and writes the reports.
pub fn run(s: Analyze) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let analyzed = pipeline.analyze(&s.image)?;
    if analyzed.dockerfile_mismatch(pipeline.settings()) {
        super::warn(&format!(
            "`{}` does not match the history of `{}`; findings carry no Dockerfile lines",
            dockerfile_path(pipeline.settings()),
            s.image
        ));
    }
    let report = Report::Analysis(AnalysisReport {
        analysis: &analyzed.analysis,
        dockerfile: s.dockerfile_uri.as_deref(),
    });
    sink::emit(&report, &s.output.sinks, &s.output.options)?;
    Ok(0)
}

/// The Dockerfile's path as given.
pub(crate) fn dockerfile_path(settings: &crate::pipeline::Settings) -> String {
    settings
        .dockerfile
        .as_ref()
        .map(|d| d.path.clone())
        .unwrap_or_default()
}
