//! `layerscope diff OLD NEW`: what changed between two versions of an image.
//!
//! Layers are matched by blob digest, or failing that by diff id (the
//! digest of the uncompressed content, so the same image as a docker
//! archive and as an OCI archive shares every layer), into shared, added
//! and removed, with their compressed and uncompressed deltas; each added
//! (changed) layer names the Python distributions whose version it changed; Python distributions by normalised
//! name (added, removed, and changed version with the size change); files
//! and directories of the final filesystems by path, ranked by growth;
//! finding kinds that appeared, vanished or changed in bytes.
//!
//! Computing only: reporters render an [`ImageDiff`].

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::analyze::python::normalize_name;
use crate::analyze::{Analysis, FindingKind};
use crate::model::Image;
use paths::{dir_sizes, file_sizes, grew, shrank};

mod drift;
mod paths;

pub use drift::{FileDrift, LayerDrift, VersionChange};

/// The schema identifier of the JSON diff.
pub const SCHEMA: &str = "layerscope/diff/v1";

/// Directories at most this deep are compared (as in the analysis).
const DIR_DEPTH: usize = 4;

/// One side of the comparison: an image and its analysis.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    /// The stacked image.
    pub image: &'a Image,
    /// Its analysis.
    pub analysis: &'a Analysis,
}

/// Everything that changed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ImageDiff {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The old image's totals.
    pub old: Totals,
    /// The new image's totals.
    pub new: Totals,
    /// Layers by digest.
    pub layers: LayerChanges,
    /// Python distributions by name.
    pub distributions: DistributionChanges,
    /// Files of the final filesystem that grew most (new files included),
    /// largest growth first.
    pub files: Vec<PathDelta>,
    /// Directories (up to four levels deep) that grew most.
    pub directories: Vec<PathDelta>,
    /// Files of the final filesystem that shrank most (removed files
    /// included), largest shrink first; `delta` is negative.
    pub files_shrunk: Vec<PathDelta>,
    /// Directories (up to four levels deep) that shrank most.
    pub directories_shrunk: Vec<PathDelta>,
    /// Finding kinds by their bytes.
    pub findings: FindingChanges,
}

/// An image's totals.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Totals {
    /// The reference as given.
    pub reference: String,
    /// The manifest digest, when there is one.
    pub manifest_digest: Option<String>,
    /// Number of layers.
    pub layers: u64,
    /// Sum of blob sizes.
    pub compressed_bytes: u64,
    /// Sum of tar stream lengths.
    pub uncompressed_bytes: u64,
    /// Regular-file bytes of the final filesystem.
    pub final_bytes: u64,
    /// Shadowed bytes.
    pub shadowed_bytes: u64,
}

/// A layer named by digest.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerRef {
    /// Position in its image, 0 = bottom.
    pub index: u32,
    /// Blob digest.
    pub digest: String,
    /// The history entry.
    pub created_by: Option<String>,
    /// Blob bytes.
    pub compressed_bytes: u64,
    /// Tar stream bytes.
    pub uncompressed_bytes: u64,
    /// For a shared layer: whether it matched by blob `digest` or, with
    /// another blob, by `diff_id` (same content); `null` otherwise.
    pub matched_by: Option<MatchedBy>,
    #[serde(skip)]
    diff_id: String,
}

/// How a shared layer was matched.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum MatchedBy {
    /// The same blob.
    Digest,
    /// Another blob (compression, format) of the same uncompressed content.
    DiffId,
}

/// Layers shared, added and removed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerChanges {
    /// In both images (positions from the new image).
    pub shared: Vec<LayerRef>,
    /// Only in the new image.
    pub added: Vec<LayerRef>,
    /// Only in the old image.
    pub removed: Vec<LayerRef>,
    /// New minus old total compressed bytes.
    pub compressed_delta: i64,
    /// New minus old total uncompressed bytes.
    pub uncompressed_delta: i64,
    /// Compressed bytes a node holding the old image downloads to get the
    /// new one (the added layers).
    pub download_bytes: u64,
    /// The added layers with what drifted in them (distribution and dpkg
    /// versions, files against the old layer at the same position), bottom
    /// first.
    pub drift: Vec<LayerDrift>,
}

/// A distribution on one side.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DistributionRef {
    /// Name as in METADATA.
    pub name: String,
    /// Version.
    pub version: String,
    /// Bytes in the final filesystem.
    pub bytes: u64,
    /// The environment.
    pub environment: String,
    #[serde(skip)]
    layer: u32,
}

/// A distribution present on both sides whose version or size changed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DistributionChange {
    /// Name as in the new METADATA.
    pub name: String,
    /// The environment (new side).
    pub environment: String,
    /// Old version.
    pub old_version: String,
    /// New version.
    pub new_version: String,
    /// Old bytes.
    pub old_bytes: u64,
    /// New bytes.
    pub new_bytes: u64,
    /// New minus old.
    pub delta: i64,
    /// The new image's layer that installed it.
    pub layer: u32,
}

/// Python distributions added, removed and changed.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct DistributionChanges {
    /// Only in the new image, largest first.
    pub added: Vec<DistributionRef>,
    /// Only in the old image, largest first.
    pub removed: Vec<DistributionRef>,
    /// In both with another version (upgraded or downgraded), largest
    /// growth first.
    pub upgraded: Vec<DistributionChange>,
    /// In both with the same version but a different size.
    pub resized: Vec<DistributionChange>,
}

/// A path's bytes on both sides.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct PathDelta {
    /// The path.
    pub path: String,
    /// Bytes in the old image (0 when absent).
    pub old_bytes: u64,
    /// Bytes in the new image (0 when absent).
    pub new_bytes: u64,
    /// New minus old.
    pub delta: i64,
}

/// A finding kind's bytes on both sides.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct KindDelta {
    /// The kind.
    pub kind: FindingKind,
    /// Bytes of its findings in the old image.
    pub old_bytes: u64,
    /// Bytes of its findings in the new image.
    pub new_bytes: u64,
    /// New minus old.
    pub delta: i64,
}

/// Finding kinds that appeared, vanished or changed.
#[derive(Clone, Debug, Serialize, PartialEq, Default)]
pub struct FindingChanges {
    /// Only in the new image.
    pub appeared: Vec<KindDelta>,
    /// Only in the old image.
    pub vanished: Vec<KindDelta>,
    /// In both, with different bytes.
    pub changed: Vec<KindDelta>,
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn totals(s: Side<'_>) -> Totals {
    let i = &s.analysis.image;
    Totals {
        reference: i.reference.clone(),
        manifest_digest: i.manifest_digest.as_ref().map(|d| d.to_string()),
        layers: s.analysis.layers.len() as u64,
        compressed_bytes: i.pull_bytes(),
        uncompressed_bytes: i.uncompressed_bytes,
        final_bytes: i.final_bytes,
        shadowed_bytes: i.shadowed_bytes,
    }
}

fn layer_refs(s: Side<'_>) -> Vec<LayerRef> {
    s.analysis
        .layers
        .iter()
        .map(|l| LayerRef {
            index: l.index,
            digest: l.digest.to_string(),
            created_by: l.created_by.clone(),
            compressed_bytes: l.pull_bytes(),
            uncompressed_bytes: l.uncompressed_bytes,
            matched_by: None,
            diff_id: l.diff_id.to_string(),
        })
        .collect()
}

/// Splits the new layers into shared (by digest, else by diff id) and
/// added, and the old layers into matched and removed.
fn match_layers(
    old: &[LayerRef],
    new: &[LayerRef],
) -> (Vec<LayerRef>, Vec<LayerRef>, Vec<LayerRef>) {
    let digests: BTreeSet<&str> = old.iter().map(|l| l.digest.as_str()).collect();
    let diff_ids: BTreeSet<&str> = old.iter().map(|l| l.diff_id.as_str()).collect();
    let (mut shared, mut added) = (Vec::new(), Vec::new());
    let (mut used_digests, mut used_ids) = (BTreeSet::new(), BTreeSet::new());
    for l in new {
        let by = if digests.contains(l.digest.as_str()) {
            Some(MatchedBy::Digest)
        } else if diff_ids.contains(l.diff_id.as_str()) {
            Some(MatchedBy::DiffId)
        } else {
            None
        };
        match by {
            Some(by) => {
                used_digests.insert(l.digest.clone());
                used_ids.insert(l.diff_id.clone());
                shared.push(LayerRef {
                    matched_by: Some(by),
                    ..l.clone()
                });
            }
            None => added.push(l.clone()),
        }
    }
    let removed = old
        .iter()
        .filter(|l| !used_digests.contains(&l.digest) && !used_ids.contains(&l.diff_id))
        .cloned()
        .collect();
    (shared, added, removed)
}

/// Compares two images; `top` bounds the file and directory lists.
pub fn diff(old: Side<'_>, new: Side<'_>, top: usize) -> ImageDiff {
    let (old_layers, new_layers) = (layer_refs(old), layer_refs(new));
    let (shared, added, removed) = match_layers(&old_layers, &new_layers);
    let (to, tn) = (totals(old), totals(new));
    let distributions = distributions(old.analysis, new.analysis);
    let layers = LayerChanges {
        drift: drift::layers(old, new, &added, &removed, &distributions),
        compressed_delta: int(tn.compressed_bytes) - int(to.compressed_bytes),
        uncompressed_delta: int(tn.uncompressed_bytes) - int(to.uncompressed_bytes),
        download_bytes: added.iter().map(|l| l.compressed_bytes).sum(),
        shared,
        added,
        removed,
    };
    let (old_files, new_files) = (file_sizes(old.image), file_sizes(new.image));
    let (old_dirs, new_dirs) = (dir_sizes(&old_files), dir_sizes(&new_files));
    ImageDiff {
        schema: SCHEMA.to_owned(),
        old: to,
        new: tn,
        layers,
        distributions,
        files: grew(&old_files, &new_files, top),
        directories: grew(&old_dirs, &new_dirs, top),
        files_shrunk: shrank(&old_files, &new_files, top),
        directories_shrunk: shrank(&old_dirs, &new_dirs, top),
        findings: findings(old.analysis, new.analysis),
    }
}

fn dist_map(a: &Analysis) -> BTreeMap<(String, String), DistributionRef> {
    let mut m = BTreeMap::new();
    for env in &a.python.environments {
        for d in &env.distributions {
            m.insert(
                (env.path.clone(), normalize_name(&d.name)),
                DistributionRef {
                    name: d.name.clone(),
                    version: d.version.clone(),
                    bytes: d.bytes,
                    environment: env.path.clone(),
                    layer: d.layer,
                },
            );
        }
    }
    m
}

fn distributions(old: &Analysis, new: &Analysis) -> DistributionChanges {
    let (o, n) = (dist_map(old), dist_map(new));
    let mut c = DistributionChanges::default();
    for (key, d) in &n {
        match o.get(key) {
            None => c.added.push(d.clone()),
            Some(before) if before.version != d.version || before.bytes != d.bytes => {
                let change = DistributionChange {
                    name: d.name.clone(),
                    environment: d.environment.clone(),
                    old_version: before.version.clone(),
                    new_version: d.version.clone(),
                    old_bytes: before.bytes,
                    new_bytes: d.bytes,
                    delta: int(d.bytes) - int(before.bytes),
                    layer: d.layer,
                };
                if before.version != d.version {
                    c.upgraded.push(change)
                } else {
                    c.resized.push(change)
                }
            }
            Some(_) => {}
        }
    }
    c.removed = o
        .iter()
        .filter(|(k, _)| !n.contains_key(*k))
        .map(|(_, d)| d.clone())
        .collect();
    c.added
        .sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    c.removed
        .sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    c.upgraded
        .sort_by(|a, b| b.delta.cmp(&a.delta).then_with(|| a.name.cmp(&b.name)));
    c.resized
        .sort_by(|a, b| b.delta.cmp(&a.delta).then_with(|| a.name.cmp(&b.name)));
    c
}

fn kind_bytes(a: &Analysis) -> BTreeMap<FindingKind, u64> {
    let mut m = BTreeMap::new();
    for f in &a.findings {
        *m.entry(f.kind).or_default() += f.bytes;
    }
    m
}

fn findings(old: &Analysis, new: &Analysis) -> FindingChanges {
    let (o, n) = (kind_bytes(old), kind_bytes(new));
    let mut c = FindingChanges::default();
    for kind in o.keys().chain(n.keys()).copied().collect::<BTreeSet<_>>() {
        let (ob, nb) = (o.get(&kind).copied(), n.get(&kind).copied());
        let d = KindDelta {
            kind,
            old_bytes: ob.unwrap_or(0),
            new_bytes: nb.unwrap_or(0),
            delta: int(nb.unwrap_or(0)) - int(ob.unwrap_or(0)),
        };
        match (ob, nb) {
            (None, Some(_)) => c.appeared.push(d),
            (Some(_), None) => c.vanished.push(d),
            (Some(a), Some(b)) if a != b => c.changed.push(d),
            _ => {}
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analyze::python::{Distribution, Environment};
    use crate::fixture::{image, layer, sized_file};

    fn dist(name: &str, version: &str, bytes: u64) -> Distribution {
        let v = serde_json::json!({"name": name, "version": version, "bytes": bytes, "files": 1, "layer": 0});
        serde_json::from_value(v).unwrap_or_else(|e| panic!("{e}"))
    }

    fn env(dists: Vec<Distribution>) -> Environment {
        Environment {
            path: "/usr/lib/python3/site-packages".into(),
            python: None,
            distributions: dists,
            unclaimed_bytes: 0,
            unclaimed_files: 0,
        }
    }

    #[test]
    fn distributions_added_removed_upgraded() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("i.tar");
        image(vec![layer(vec![sized_file("a", 10, 1)])])
            .write_oci_archive(&path, "x")
            .unwrap_or_else(|e| panic!("{e}"));
        let settings = crate::pipeline::Settings::default();
        let (img, stats) = crate::pipeline::load(&path.to_string_lossy(), &settings)
            .unwrap_or_else(|e| panic!("{e}"));
        let base = crate::analyze::run(&img, &settings.analyze, stats);
        let (mut old, mut new) = (base.clone(), base);
        old.python.environments = vec![env(vec![
            dist("torch", "2.2.0", 800),
            dist("Pillow", "10.0", 50),
            dist("six", "1.16", 10),
            dist("idna", "3.6", 30),
        ])];
        new.python.environments = vec![env(vec![
            dist("torch", "2.3.1", 900),
            dist("pillow", "10.0", 55),
            dist("numpy", "1.26.4", 200),
            dist("idna", "3.6", 30),
        ])];
        let d = diff(
            Side {
                image: &img,
                analysis: &old,
            },
            Side {
                image: &img,
                analysis: &new,
            },
            10,
        );
        let c = &d.distributions;
        assert_eq!(
            c.added
                .iter()
                .map(|x| (x.name.as_str(), x.bytes))
                .collect::<Vec<_>>(),
            [("numpy", 200)]
        );
        assert_eq!(
            c.removed
                .iter()
                .map(|x| (x.name.as_str(), x.bytes))
                .collect::<Vec<_>>(),
            [("six", 10)]
        );
        assert_eq!(
            c.upgraded
                .iter()
                .map(|x| (
                    x.name.as_str(),
                    x.old_version.as_str(),
                    x.new_version.as_str(),
                    x.delta
                ))
                .collect::<Vec<_>>(),
            [("torch", "2.2.0", "2.3.1", 100)]
        );
        assert_eq!(
            c.resized
                .iter()
                .map(|x| (x.name.as_str(), x.delta))
                .collect::<Vec<_>>(),
            [("pillow", 5)]
        );
        // Same image: no layer, file or finding changes.
        assert_eq!(
            (
                d.layers.added.len(),
                d.layers.removed.len(),
                d.layers.shared.len()
            ),
            (0, 0, 1)
        );
        assert!(d.files.is_empty() && d.directories.is_empty());
    }
}
