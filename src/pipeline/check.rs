//! `check` through the pipeline: the image, the layers accepted as its
//! base (`--base-layers`, the shared prefix with `--base IMAGE`, or the
//! Dockerfile's final-stage base), the baseline for growth budgets, and
//! the verdicts.

use std::collections::BTreeSet;

use super::{Analyzed, Pipeline};
use crate::analyze::python::normalize_name;
use crate::diff::ImageDiff;
use crate::dockerfile::base_layer_count;
use crate::error::Error;
use crate::policy::{self, BudgetResult, Growth, Measures, Policy};

/// A checked image.
#[derive(Debug)]
pub struct Checked {
    /// The image and its analysis.
    pub target: Analyzed,
    /// How many bottom layers were accepted as the base image's.
    pub base_layers: u32,
    /// The verdicts, in evaluation order.
    pub results: Vec<BudgetResult>,
    /// The comparison with the baseline, when there is one.
    pub growth: Option<ImageDiff>,
}

impl Pipeline {
    /// Reads `reference` (and the base and baseline images the policy
    /// names) and holds it to every budget of `policy`.
    pub fn check(&self, reference: &str, policy: &Policy) -> Result<Checked, Error> {
        if policy.growth != Growth::default() && policy.baseline.is_none() {
            return Err(Error::usage_hint(
                "growth budgets need a baseline",
                "pass `--baseline IMAGE` or set `baseline` in the config",
            ));
        }
        let target = self.analyze(reference)?;
        known_distributions(policy, &target)?;
        let image = &target.image;
        let dockerfile = self.settings.dockerfile.as_ref();
        let base_layers = match (&policy.base_image, policy.base_layers, dockerfile) {
            (_, Some(n), _) => n.min(image.layers.len() as u32),
            (Some(base), None, _) => self.shared_prefix(&target, base)?,
            // With a Dockerfile: the layers below the final stage's first instruction.
            (None, None, Some(d)) => base_layer_count(&image.info, Some(d)) as u32,
            (None, None, None) => 0,
        };
        let measures = Measures::new(image, &target.analysis, policy, base_layers)
            .map_err(|e| Error::usage(format!("--ignore: {e}")))?;
        let baseline = match &policy.baseline {
            Some(reference) => {
                let old = self.analyze_baseline(reference)?;
                let old_measures = Measures::new(&old.image, &old.analysis, policy, 0)
                    .map_err(|e| Error::usage(format!("--ignore: {e}")))?;
                let growth = self.compare(&old, &target);
                Some((old_measures, growth))
            }
            None => None,
        };
        let results = policy::evaluate(policy, &measures, baseline.as_ref().map(|(m, _)| m));
        Ok(Checked {
            target,
            base_layers,
            results,
            growth: baseline.map(|(_, d)| d),
        })
    }

    /// How many bottom layers of the image the base image `base` also has
    /// (by digest or diff id, position by position). Reads the base's
    /// manifest and config only.
    fn shared_prefix(&self, target: &Analyzed, base: &str) -> Result<u32, Error> {
        let base_info = self.info(base)?;
        let n = target
            .image
            .layers
            .iter()
            .zip(&base_info.layers)
            .take_while(|(l, b)| {
                l.digest == b.digest || b.diff_id.as_ref().is_some_and(|d| *d == l.diff_id)
            })
            .count();
        Ok(n as u32)
    }
}

/// A distribution budget must name a distribution the image has: a typo
/// would otherwise hold forever at 0 bytes.
fn known_distributions(policy: &Policy, target: &Analyzed) -> Result<(), Error> {
    let present: BTreeSet<String> = target
        .analysis
        .python
        .environments
        .iter()
        .flat_map(|e| &e.distributions)
        .map(|d| normalize_name(&d.name))
        .collect();
    let missing: Vec<&str> = policy
        .distributions
        .keys()
        .filter(|n| !present.contains(*n))
        .map(String::as_str)
        .collect();
    if missing.is_empty() || target.analysis.manifest_only {
        return Ok(());
    }
    let hint = if present.is_empty() {
        "the image has no Python distributions".to_owned()
    } else {
        let names: Vec<&str> = present.iter().map(String::as_str).collect();
        format!("the image's distributions: {}", names.join(", "))
    };
    Err(Error::usage_hint(
        format!(
            "distribution budget for `{}`, which the image does not have",
            missing.join("`, `")
        ),
        hint,
    ))
}
