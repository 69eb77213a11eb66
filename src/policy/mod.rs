//! Size budgets: what `layerscope check` holds an image to, where the
//! budgets come from ([`config`]: `layerscope.toml`, `--config FILE`, or
//! `[tool.layerscope]` in `pyproject.toml`, then flags), and their
//! evaluation against an analysed image ([`budgets`]).
//!
//! The policy computes; reporters format. A [`budgets::BudgetResult`] carries
//! the limit, the value and the top contributors as numbers.

pub mod budgets;
pub mod config;
pub mod measures;
pub mod size;

use std::collections::BTreeMap;

use crate::analyze::FindingKind;

pub use budgets::{BudgetResult, Measures, evaluate};
pub use config::ConfigError;

/// Every budget and option of a check, merged from the config file and the
/// flags (flags win). `None` and empty maps mean "no such budget".
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Policy {
    /// Total compressed bytes (what a pull downloads).
    pub max_compressed: Option<u64>,
    /// Total uncompressed bytes (the layers' tar streams).
    pub max_uncompressed: Option<u64>,
    /// The largest layer's compressed bytes.
    pub max_layer: Option<u64>,
    /// Number of layers.
    pub max_layers: Option<u64>,
    /// Shadowed bytes (files a later layer deleted, replaced or rewrote).
    pub max_shadowed: Option<u64>,
    /// Minimum efficiency (final bytes / content bytes), 0 to 1.
    pub min_efficiency: Option<f64>,
    /// Uncompressed bytes allowed per finding kind (`pip-cache = 0`).
    pub findings: BTreeMap<FindingKind, u64>,
    /// Bytes allowed per Python distribution, by normalised name.
    pub distributions: BTreeMap<String, u64>,
    /// Growth budgets against the baseline image.
    pub growth: Growth,
    /// The baseline image growth is measured against.
    pub baseline: Option<String>,
    /// Path globs whose files count toward no waste budget.
    pub ignore_paths: Vec<String>,
    /// Finding kinds that count toward no budget.
    pub ignore_kinds: Vec<FindingKind>,
    /// Accept the first N layers (the base image's) as they are.
    pub base_layers: Option<u32>,
    /// Accept the layers this image shares with the image's bottom.
    pub base_image: Option<String>,
}

/// Growth budgets: how much the image may grow since the baseline.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Growth {
    /// Total compressed bytes.
    pub compressed: Option<u64>,
    /// Compressed bytes of any one layer (compared position by position).
    pub layer: Option<u64>,
    /// Bytes of any one Python distribution.
    pub distribution: Option<u64>,
}

impl Policy {
    /// Lays `over` on top of `self`: every budget `over` sets wins; lists
    /// are concatenated, maps merged.
    pub fn merge(mut self, over: Policy) -> Policy {
        fn pick<T>(a: &mut Option<T>, b: Option<T>) {
            if b.is_some() {
                *a = b;
            }
        }
        pick(&mut self.max_compressed, over.max_compressed);
        pick(&mut self.max_uncompressed, over.max_uncompressed);
        pick(&mut self.max_layer, over.max_layer);
        pick(&mut self.max_layers, over.max_layers);
        pick(&mut self.max_shadowed, over.max_shadowed);
        pick(&mut self.min_efficiency, over.min_efficiency);
        self.findings.extend(over.findings);
        self.distributions.extend(over.distributions);
        pick(&mut self.growth.compressed, over.growth.compressed);
        pick(&mut self.growth.layer, over.growth.layer);
        pick(&mut self.growth.distribution, over.growth.distribution);
        pick(&mut self.baseline, over.baseline);
        self.ignore_paths.extend(over.ignore_paths);
        self.ignore_kinds.extend(over.ignore_kinds);
        // One way of naming the base wins as a whole.
        if over.base_layers.is_some() || over.base_image.is_some() {
            self.base_layers = over.base_layers;
            self.base_image = over.base_image;
        }
        self
    }

    /// Whether any budget is set at all.
    pub fn has_budgets(&self) -> bool {
        self.max_compressed.is_some()
            || self.max_uncompressed.is_some()
            || self.max_layer.is_some()
            || self.max_layers.is_some()
            || self.max_shadowed.is_some()
            || self.min_efficiency.is_some()
            || !self.findings.is_empty()
            || !self.distributions.is_empty()
            || self.growth != Growth::default()
    }
}

/// Every finding kind's identifier, as serde knows them (so the list can
/// never miss a kind added later).
pub fn finding_kinds() -> Vec<String> {
    let err = match serde_json::from_value::<FindingKind>(serde_json::Value::String(String::new()))
    {
        Err(e) => e.to_string(),
        Ok(_) => return Vec::new(),
    };
    // "unknown variant ``, expected one of `a`, `b`, ..."
    err.split_once("expected one of")
        .map(|(_, list)| {
            list.split(',')
                .map(|s| s.trim().trim_matches('`').to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_kind_is_listed() {
        let kinds = finding_kinds();
        assert!(kinds.len() > 20, "{kinds:?}");
        assert!(
            kinds.iter().all(|k| FindingKind::from_id(k).is_some()),
            "{kinds:?}"
        );
        assert!(kinds.contains(&"pip-cache".to_owned()));
    }
}
