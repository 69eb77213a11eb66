//! The figures budgets are judged on: [`Measures`],
//! taken from the model and the analysis after the check's filters (the
//! accepted base layers, ignored paths and finding kinds).
//!
//! Filters, precisely:
//! - base layers (the first N) count toward no size budget, their
//!   findings (all of whose layers are base layers) and distributions are
//!   dropped, and shadowed bytes count only when a non-base layer did the
//!   shadowing. Growth budgets compare whole images and ignore the base.
//! - an ignored path counts toward neither shadowed bytes nor efficiency;
//!   a finding is dropped when every path it lists is ignored.

use std::collections::BTreeMap;

use globset::{GlobBuilder, GlobMatcher, GlobSet, GlobSetBuilder};
use serde::Serialize;

use super::Policy;
use crate::analyze::python::normalize_name;
use crate::analyze::{Analysis, Finding};
use crate::model::Image;
use crate::scan::EntryKind;

/// Compiles one ignore glob. Globs match absolute paths (`/opt/models/**`;
/// a leading `/` is added when missing); `*` stays within a directory,
/// `**` crosses directories.
pub fn glob(pattern: &str) -> Result<GlobMatcher, String> {
    let p = if pattern.starts_with('/') {
        pattern.to_owned()
    } else {
        format!("/{pattern}")
    };
    GlobBuilder::new(&p)
        .literal_separator(true)
        .build()
        .map(|g| g.compile_matcher())
        .map_err(|e| format!("`{pattern}` is not a glob: {e}"))
}

fn glob_set(patterns: &[String]) -> Result<GlobSet, String> {
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        let pat = if p.starts_with('/') {
            p.clone()
        } else {
            format!("/{p}")
        };
        let g = GlobBuilder::new(&pat)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("`{p}` is not a glob: {e}"))?;
        b.add(g);
    }
    b.build().map_err(|e| e.to_string())
}

/// One layer as budgets see it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerMeasure {
    /// 0 = bottom.
    pub index: u32,
    /// Blob digest.
    pub digest: String,
    /// The history entry.
    pub created_by: Option<String>,
    /// Blob bytes.
    pub compressed_bytes: u64,
    /// Tar stream bytes.
    pub uncompressed_bytes: u64,
    /// One of the accepted base layers.
    pub base: bool,
}

/// One Python distribution as budgets see it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DistributionMeasure {
    /// The PEP 503 normalised name.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its bytes in the final filesystem.
    pub bytes: u64,
    /// The environment it is installed in.
    pub environment: String,
    /// The layer that installed it.
    pub layer: u32,
}

/// A path and its bytes.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathBytes {
    /// The absolute path.
    pub path: String,
    /// Its content bytes.
    pub bytes: u64,
    /// The layer that wrote it.
    pub layer: u32,
}

/// The figures budgets are judged on (see the module docs for the filters).
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct Measures {
    /// How many bottom layers are accepted as the base.
    pub base_layers: u32,
    /// Every layer, base ones marked.
    pub layers: Vec<LayerMeasure>,
    /// Counted shadowed entries, largest first.
    pub shadowed: Vec<PathBytes>,
    /// Regular-file bytes of the non-base layers (ignored paths excluded).
    pub content_bytes: u64,
    /// Of those, the bytes still in the final filesystem.
    pub final_bytes: u64,
    /// The findings that count, largest first.
    pub findings: Vec<Finding>,
    /// Python distributions that count.
    pub distributions: Vec<DistributionMeasure>,
}

impl Measures {
    /// Takes the measures of an analysed image. `base_layers` is clamped to
    /// the number of layers. Fails only on an invalid ignore glob.
    pub fn new(
        image: &Image,
        analysis: &Analysis,
        policy: &Policy,
        base_layers: u32,
    ) -> Result<Measures, String> {
        let base = base_layers.min(image.layers.len() as u32);
        let ignore = glob_set(&policy.ignore_paths)?;
        let ignored = |path: &str| !policy.ignore_paths.is_empty() && ignore.is_match(path);
        let layers = analysis
            .layers
            .iter()
            .map(|l| LayerMeasure {
                index: l.index,
                digest: l.digest.to_string(),
                created_by: l.created_by.clone(),
                compressed_bytes: l.compressed_bytes,
                uncompressed_bytes: l.uncompressed_bytes,
                base: l.index < base,
            })
            .collect();
        let mut shadowed: Vec<PathBytes> = image
            .shadowed
            .iter()
            .filter(|s| s.by_layer >= base)
            .map(|s| {
                let e = image.entry(s.loc);
                PathBytes {
                    path: e.path.display(),
                    bytes: e.size,
                    layer: s.loc.layer,
                }
            })
            .filter(|p| p.bytes > 0 && !ignored(&p.path))
            .collect();
        shadowed.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.path.cmp(&b.path)));
        let content_bytes = image
            .layers
            .iter()
            .skip(base as usize)
            .flat_map(|l| &l.entries)
            .filter(|e| e.kind == EntryKind::File && e.size > 0 && !ignored(&e.path.display()))
            .map(|e| e.size)
            .sum();
        let final_bytes = image
            .final_entries()
            .filter(|(loc, e)| {
                loc.layer >= base
                    && e.kind == EntryKind::File
                    && e.size > 0
                    && !ignored(&e.path.display())
            })
            .map(|(_, e)| e.size)
            .sum();
        let findings = analysis
            .findings
            .iter()
            .filter(|f| !policy.ignore_kinds.contains(&f.kind))
            .filter(|f| f.layers.is_empty() || f.layers.iter().any(|&l| l >= base))
            .filter(|f| f.paths.is_empty() || !f.paths.iter().all(|p| ignored(p)))
            .cloned()
            .collect();
        let distributions = analysis
            .python
            .environments
            .iter()
            .flat_map(|env| {
                env.distributions.iter().map(|d| DistributionMeasure {
                    name: normalize_name(&d.name),
                    version: d.version.clone(),
                    bytes: d.bytes,
                    environment: env.path.clone(),
                    layer: d.layer,
                })
            })
            .filter(|d| d.layer >= base)
            .collect();
        Ok(Measures {
            base_layers: base,
            layers,
            shadowed,
            content_bytes,
            final_bytes,
            findings,
            distributions,
        })
    }

    pub(super) fn counted_layers(&self) -> impl Iterator<Item = &LayerMeasure> {
        self.layers.iter().filter(|l| !l.base)
    }

    /// Bytes per distribution name (summed over environments).
    pub(super) fn distribution_bytes(&self) -> BTreeMap<&str, u64> {
        let mut m: BTreeMap<&str, u64> = BTreeMap::new();
        for d in &self.distributions {
            *m.entry(&d.name).or_default() += d.bytes;
        }
        m
    }
}
