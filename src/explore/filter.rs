//! The explorer's filters: changed only, one finding kind (or one finding,
//! or one Python distribution), a size threshold and a search.

use super::app::View;
use crate::analyze::{Analysis, Finding, FindingKind};
use crate::model::tree::Item;
use crate::model::{Image, Loc, LocSet};

/// The size thresholds `s` steps through.
pub const SIZE_STEPS: [u64; 4] = [0, 1_000_000, 10_000_000, 100_000_000];

/// The filters in force.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// Merged view: only files the selected layer wrote.
    pub changed_only: bool,
    /// Only files of findings of this kind.
    pub kind: Option<FindingKind>,
    /// Only files of this finding (by index).
    pub finding: Option<usize>,
    /// Only files of this distribution (environment, distribution).
    pub distribution: Option<(usize, usize)>,
    /// Index into [`SIZE_STEPS`].
    pub size_step: usize,
    /// Only paths containing this (ASCII case ignored).
    pub search: String,
}

/// A compiled filter (the search is not in it: `search::SearchIndex`
/// finds those items, then this filter runs on them).
pub struct Predicate {
    layer: Option<u32>,
    set: Option<LocSet>,
    min_size: u64,
}

impl Predicate {
    /// Whether the tree keeps `item`.
    pub fn keep(&self, item: &Item) -> bool {
        self.layer.is_none_or(|l| item.loc.layer == l)
            && self.set.as_ref().is_none_or(|s| s.contains(item.loc))
            && item.size >= self.min_size
    }
}

impl Filters {
    /// Whether anything is filtered in `view`.
    pub fn active(&self, view: View) -> bool {
        (self.changed_only && view == View::Merged)
            || self.kind.is_some()
            || self.finding.is_some()
            || self.distribution.is_some()
            || self.size_step > 0
            || !self.search.is_empty()
    }

    /// The filter as a predicate over the items of a tree.
    pub fn predicate(
        &self,
        image: &Image,
        analysis: &Analysis,
        view: View,
        layer: u32,
    ) -> Predicate {
        let mut set: Option<LocSet> = None;
        let mut add = |locs: &[Loc]| {
            let s = set.get_or_insert_with(|| LocSet::new(image));
            for &l in locs {
                s.insert(l);
            }
        };
        if let Some(kind) = self.kind {
            for f in analysis.findings.iter().filter(|f| f.kind == kind) {
                add(&finding_locs(image, f));
            }
        }
        if let Some(f) = self.finding.and_then(|i| analysis.findings.get(i)) {
            add(&finding_locs(image, f));
        }
        if let Some(d) = self.distribution.and_then(|(e, d)| {
            analysis
                .python
                .environments
                .get(e)
                .and_then(|env| env.distributions.get(d))
        }) {
            add(&d.locs);
        }
        Predicate {
            layer: (self.changed_only && view == View::Merged).then_some(layer),
            set,
            min_size: SIZE_STEPS.get(self.size_step).copied().unwrap_or(0),
        }
    }

    /// The filters in words, for the tree's title.
    pub fn describe(&self, analysis: &Analysis) -> String {
        let mut parts = Vec::new();
        if self.changed_only {
            parts.push("changed only".to_owned());
        }
        if let Some(k) = self.kind {
            parts.push(format!("kind {}", k.id()));
        }
        if let Some(f) = self.finding.and_then(|i| analysis.findings.get(i)) {
            parts.push(format!("finding {}", f.kind.id()));
        }
        if let Some((e, d)) = self.distribution
            && let Some(d) = analysis
                .python
                .environments
                .get(e)
                .and_then(|env| env.distributions.get(d))
        {
            parts.push(format!("dist {}", d.name));
        }
        if self.size_step > 0 {
            let min = SIZE_STEPS.get(self.size_step).copied().unwrap_or(0);
            parts.push(format!(">= {}", crate::report::units::Units::Si.bytes(min)));
        }
        if !self.search.is_empty() {
            parts.push(format!("/{}", self.search));
        }
        parts.join(", ")
    }
}

/// Every entry of a finding: its own entries, else its paths resolved in
/// the final filesystem.
pub fn finding_locs(image: &Image, f: &Finding) -> Vec<Loc> {
    if !f.members.locs.is_empty() {
        return f.members.locs.clone();
    }
    let source = if f.members.paths.is_empty() {
        &f.paths
    } else {
        &f.members.paths
    };
    let mut paths: Vec<&[u8]> = source
        .iter()
        .map(|p| p.trim_start_matches('/').as_bytes())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let mut out = image.find_sorted(&paths);
    // A directory (a cache, a test suite): everything under it.
    let dirs: Vec<Loc> = out
        .iter()
        .copied()
        .filter(|&l| image.entry(l).kind == crate::scan::EntryKind::Dir)
        .collect();
    for d in dirs {
        let dir = image.entry(d).path.as_bytes();
        let start = image
            .files
            .partition_point(|&l| image.entry(l).path.as_bytes() <= dir);
        out.extend(
            image.files[start..]
                .iter()
                .take_while(|&&l| image.entry(l).path.is_within(dir))
                .copied(),
        );
    }
    out
}
