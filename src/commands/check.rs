//! `layerscope check IMAGE`: budgets from the config file and the flags,
//! evaluated on the image (and a baseline), every requested report written
//! from the one run, exit 1 when a budget fails.

use crate::error::Error;
use crate::pipeline::Pipeline;
use crate::report::check::{self as render, CheckReport};
use crate::report::{Report, markdown, sink};
use crate::settings::Check;

/// Runs the check and returns 0 (all budgets hold) or 1 (one failed).
pub fn run(s: Check) -> Result<i32, Error> {
    let pipeline = Pipeline::new(s.pipeline)?;
    let checked = pipeline.check(&s.image, &s.policy)?;
    let report = CheckReport {
        analysis: &checked.target.analysis,
        results: &checked.results,
        base_layers: checked.base_layers,
        growth: checked.growth.as_ref(),
        dockerfile: s.dockerfile_uri.as_deref(),
    };
    sink::emit(&Report::Check(report), &s.output.sinks, &s.output.options)?;
    if let Some(github) = &s.github {
        let units = s.output.options.units;
        if let Some(summary) = &github.step_summary {
            sink::append(summary, &markdown::render(&report, units))?;
        }
        // The runner reads workflow commands from both streams; keep a
        // machine report on standard output parseable.
        let annotations = render::github_annotations(&report, units);
        if s.output.text_on_stdout() {
            sink::stdout(&annotations)?;
        } else {
            anstream::eprint!("{annotations}");
        }
    }
    Ok(if report.passed() { 0 } else { 1 })
}
