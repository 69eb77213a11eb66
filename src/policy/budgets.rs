//! Budget evaluation: [`evaluate`] holds the [`Measures`] of an image
//! against a [`Policy`] and, for growth, a baseline's measures. See
//! [`super::measures`] for what is counted.

use serde::Serialize;

use super::Policy;
pub use super::measures::{DistributionMeasure, LayerMeasure, Measures, PathBytes, glob};
use crate::analyze::Finding;
use crate::display::short_created_by;

/// How many contributors a result names.
pub const CONTRIBUTORS: usize = 3;

/// What a budget measures.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Bytes (growth may be negative).
    Bytes,
    /// A count.
    Count,
    /// A ratio between 0 and 1.
    Ratio,
}

/// A limit or a value: an integer (bytes, counts) or a ratio.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Amount {
    /// Bytes or a count.
    Int(i64),
    /// A ratio.
    Ratio(f64),
}

/// Which way a budget points.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Comparison {
    /// The value must not exceed the limit.
    AtMost,
    /// The value must reach the limit.
    AtLeast,
}

/// Something that makes up a budget's value.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Contributor {
    /// What it is: a path, `layer 3`, a distribution.
    pub name: String,
    /// The layer it lives in, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<u32>,
    /// Its share of the value (bytes, or bytes of growth).
    pub bytes: i64,
}

/// The verdict on one budget.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct BudgetResult {
    /// The budget's key as in the config file: `max-compressed`,
    /// `findings.pip-cache`, `distributions.torch`, `growth.layer`.
    pub budget: String,
    /// What is measured, in words (no numbers).
    pub measure: String,
    /// Bytes, count or ratio.
    pub unit: Unit,
    /// Which way the budget points.
    pub comparison: Comparison,
    /// The limit.
    pub limit: Amount,
    /// The measured value.
    pub value: Amount,
    /// Whether the budget holds.
    pub passed: bool,
    /// The top contributors to the value, largest first (at most three).
    pub contributors: Vec<Contributor>,
    /// The accepted base layers were left out of the value (every budget
    /// but growth, when there are base layers).
    pub base_layers_excluded: bool,
}

fn result(
    budget: String,
    measure: &str,
    unit: Unit,
    limit: i64,
    value: i64,
    contributors: Vec<Contributor>,
) -> BudgetResult {
    BudgetResult {
        budget,
        measure: measure.to_owned(),
        unit,
        comparison: Comparison::AtMost,
        limit: Amount::Int(limit),
        value: Amount::Int(value),
        passed: value <= limit,
        contributors: contributors.into_iter().take(CONTRIBUTORS).collect(),
        base_layers_excluded: false,
    }
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn layer_name(l: &LayerMeasure) -> String {
    match l
        .created_by
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(by) => format!("layer {}: {}", l.index, short_created_by(by, 60)),
        None => format!("layer {}", l.index),
    }
}

fn top_layers(m: &Measures, key: impl Fn(&LayerMeasure) -> u64) -> Vec<Contributor> {
    let mut ls: Vec<&LayerMeasure> = m.counted_layers().collect();
    ls.sort_by(|a, b| key(b).cmp(&key(a)).then(a.index.cmp(&b.index)));
    ls.into_iter()
        .map(|l| Contributor {
            name: layer_name(l),
            layer: Some(l.index),
            bytes: int(key(l)),
        })
        .collect()
}

fn top_shadowed(m: &Measures) -> Vec<Contributor> {
    m.shadowed
        .iter()
        .map(|p| Contributor {
            name: p.path.clone(),
            layer: Some(p.layer),
            bytes: int(p.bytes),
        })
        .collect()
}

/// Holds `measures` to every budget of `policy`; growth budgets need the
/// baseline's measures (without them they are not evaluated). Results come
/// in a fixed order: sizes, waste, findings, distributions, growth.
pub fn evaluate(policy: &Policy, m: &Measures, baseline: Option<&Measures>) -> Vec<BudgetResult> {
    let mut out = Vec::new();
    if let Some(limit) = policy.max_compressed {
        let value: u64 = m.counted_layers().map(|l| l.compressed_bytes).sum();
        let estimated = m.counted_layers().any(|l| l.compressed_estimated);
        out.push(result(
            "max-compressed".into(),
            if estimated {
                "total compressed bytes (pull size), estimated: the source holds layers uncompressed, gzip -6 assumed"
            } else {
                "total compressed bytes (pull size)"
            },
            Unit::Bytes,
            int(limit),
            int(value),
            top_layers(m, |l| l.compressed_bytes),
        ));
    }
    if let Some(limit) = policy.max_uncompressed {
        let value: u64 = m.counted_layers().map(|l| l.uncompressed_bytes).sum();
        out.push(result(
            "max-uncompressed".into(),
            "total uncompressed bytes",
            Unit::Bytes,
            int(limit),
            int(value),
            top_layers(m, |l| l.uncompressed_bytes),
        ));
    }
    if let Some(limit) = policy.max_layer {
        let value = m
            .counted_layers()
            .map(|l| l.compressed_bytes)
            .max()
            .unwrap_or(0);
        let estimated = m.counted_layers().any(|l| l.compressed_estimated);
        out.push(result(
            "max-layer".into(),
            if estimated {
                "largest layer, compressed (estimated: held uncompressed, gzip -6 assumed)"
            } else {
                "largest layer, compressed"
            },
            Unit::Bytes,
            int(limit),
            int(value),
            top_layers(m, |l| l.compressed_bytes),
        ));
    }
    if let Some(limit) = policy.max_layers {
        let value = m.counted_layers().count() as u64;
        out.push(result(
            "max-layers".into(),
            "number of layers",
            Unit::Count,
            int(limit),
            int(value),
            top_layers(m, |l| l.compressed_bytes),
        ));
    }
    if let Some(limit) = policy.max_shadowed {
        let value: u64 = m.shadowed.iter().map(|p| p.bytes).sum();
        out.push(result(
            "max-shadowed".into(),
            "shadowed bytes",
            Unit::Bytes,
            int(limit),
            int(value),
            top_shadowed(m),
        ));
    }
    if let Some(limit) = policy.min_efficiency {
        let value = if m.content_bytes == 0 {
            1.0
        } else {
            m.final_bytes as f64 / m.content_bytes as f64
        };
        out.push(BudgetResult {
            budget: "min-efficiency".into(),
            measure: "efficiency (final bytes / content bytes)".into(),
            unit: Unit::Ratio,
            comparison: Comparison::AtLeast,
            limit: Amount::Ratio(limit),
            value: Amount::Ratio(value),
            passed: value >= limit,
            contributors: top_shadowed(m).into_iter().take(CONTRIBUTORS).collect(),
            base_layers_excluded: false,
        });
    }
    for (&kind, &limit) in &policy.findings {
        let of_kind: Vec<&Finding> = m.findings.iter().filter(|f| f.kind == kind).collect();
        let value: u64 = of_kind.iter().map(|f| f.bytes).sum();
        let mut contributors: Vec<Contributor> = of_kind
            .iter()
            .map(|f| Contributor {
                name: f
                    .paths
                    .first()
                    .cloned()
                    .unwrap_or_else(|| f.message.clone()),
                layer: f.layers.first().copied(),
                bytes: int(f.bytes),
            })
            .collect();
        // One finding: name its largest paths instead (their share is not known).
        if let [only] = of_kind.as_slice()
            && only.paths.len() > 1
        {
            contributors = only
                .paths
                .iter()
                .map(|p| Contributor {
                    name: p.clone(),
                    layer: None,
                    bytes: 0,
                })
                .collect();
            contributors[0].bytes = int(only.bytes);
        }
        out.push(result(
            format!("findings.{}", kind.id()),
            &format!("bytes of `{}` findings", kind.id()),
            Unit::Bytes,
            int(limit),
            int(value),
            contributors,
        ));
    }
    for (name, &limit) in &policy.distributions {
        let mut of_name: Vec<&DistributionMeasure> =
            m.distributions.iter().filter(|d| &d.name == name).collect();
        of_name.sort_by_key(|d| std::cmp::Reverse(d.bytes));
        let value: u64 = of_name.iter().map(|d| d.bytes).sum();
        let contributors = of_name
            .iter()
            .map(|d| Contributor {
                name: format!("{} {} in {}", d.name, d.version, d.environment),
                layer: Some(d.layer),
                bytes: int(d.bytes),
            })
            .collect();
        out.push(result(
            format!("distributions.{name}"),
            &format!("bytes of Python distribution `{name}`"),
            Unit::Bytes,
            int(limit),
            int(value),
            contributors,
        ));
    }
    // Growth budgets compare whole images; everything before them
    // left the base out.
    for r in &mut out {
        r.base_layers_excluded = m.base_layers > 0;
    }
    if let Some(old) = baseline {
        growth(policy, m, old, &mut out);
    }
    out
}

fn growth(policy: &Policy, m: &Measures, old: &Measures, out: &mut Vec<BudgetResult>) {
    // Layer growth position by position: a new build changes every digest.
    let per_layer: Vec<Contributor> = {
        let mut v: Vec<Contributor> = m
            .layers
            .iter()
            .map(|l| {
                let before = old
                    .layers
                    .get(l.index as usize)
                    .map_or(0, |o| o.compressed_bytes);
                Contributor {
                    name: layer_name(l),
                    layer: Some(l.index),
                    bytes: int(l.compressed_bytes) - int(before),
                }
            })
            .collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.layer.cmp(&b.layer)));
        v
    };
    if let Some(limit) = policy.growth.compressed {
        let total = |x: &Measures| int(x.layers.iter().map(|l| l.compressed_bytes).sum());
        let contributors = per_layer.iter().filter(|c| c.bytes > 0).cloned().collect();
        out.push(result(
            "growth.compressed".into(),
            "growth of total compressed bytes since the baseline",
            Unit::Bytes,
            int(limit),
            total(m) - total(old),
            contributors,
        ));
    }
    if let Some(limit) = policy.growth.layer {
        let value = per_layer.first().map_or(0, |c| c.bytes.max(0));
        let contributors = per_layer.iter().filter(|c| c.bytes > 0).cloned().collect();
        out.push(result(
            "growth.layer".into(),
            "largest growth of one layer (compressed) since the baseline",
            Unit::Bytes,
            int(limit),
            value,
            contributors,
        ));
    }
    if let Some(limit) = policy.growth.distribution {
        let (new, before) = (m.distribution_bytes(), old.distribution_bytes());
        let mut v: Vec<Contributor> = new
            .iter()
            .map(|(name, &b)| Contributor {
                name: (*name).to_owned(),
                layer: None,
                bytes: int(b) - int(before.get(name).copied().unwrap_or(0)),
            })
            .filter(|c| c.bytes > 0)
            .collect();
        v.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        let value = v.first().map_or(0, |c| c.bytes);
        out.push(result(
            "growth.distribution".into(),
            "largest growth of one Python distribution since the baseline",
            Unit::Bytes,
            int(limit),
            value,
            v,
        ));
    }
}

/// Whether every result holds.
pub fn all_passed(results: &[BudgetResult]) -> bool {
    results.iter().all(|r| r.passed)
}

#[cfg(test)]
mod tests;
