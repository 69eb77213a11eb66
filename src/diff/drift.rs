//! What drifted in each changed layer between two builds: the Python
//! distributions and the dpkg packages it installs at another version,
//! and its files against the old build's layer at the same position
//! (when that layer changed too), told apart by what differs: content,
//! ownership or mode, or nothing the index records (the layer's bytes
//! then differ by timestamps or tar headers only).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::{DistributionChanges, LayerRef, Side};
use crate::scan::{Entry, EntryKind};

/// How many paths each file list of a layer samples.
const FILE_SAMPLE: usize = 10;

/// A package (or distribution) whose version a changed layer changed.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct VersionChange {
    /// Name (the new side's spelling).
    pub name: String,
    /// Old version.
    pub old_version: String,
    /// New version.
    pub new_version: String,
}

/// An added (changed) layer and what drifted in it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LayerDrift {
    /// Position in the new image.
    pub index: u32,
    /// Blob digest.
    pub digest: String,
    /// The history entry.
    pub created_by: Option<String>,
    /// Distributions this layer installs at another version than the old
    /// image held, by name.
    pub distributions: Vec<VersionChange>,
    /// dpkg packages this layer installs at another version, by name.
    #[serde(default)]
    pub packages: Vec<VersionChange>,
    /// Its files against the old layer at the same position (`null` when
    /// the old image has no changed layer there).
    pub files: Option<FileDrift>,
}

/// A changed layer's regular files against its old counterpart's.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct FileDrift {
    /// The old layer's position.
    pub old_index: u32,
    /// Same path, other content (by size and content hash).
    pub content: u64,
    /// Same content, other owner or mode.
    pub ownership_or_mode: u64,
    /// Same path, content, owner and mode: any difference is a timestamp
    /// or a tar header field the index does not keep.
    pub same: u64,
    /// Only in the new layer.
    pub added: u64,
    /// Only in the old layer.
    pub removed: u64,
    /// True when no file differs in content and none was added or
    /// removed: the layer changed by timestamps, ownership or mode only.
    pub metadata_only: bool,
    /// Up to ten paths whose content differs, by path.
    pub content_paths: Vec<String>,
    /// Up to ten paths whose owner or mode differs, by path.
    pub ownership_paths: Vec<String>,
    /// Up to ten added paths, by path.
    pub added_paths: Vec<String>,
    /// Up to ten removed paths, by path.
    pub removed_paths: Vec<String>,
}

/// The changed layers of the new image with what drifted in each: those
/// with an old counterpart (a changed layer at the same position) or a
/// distribution or package at another version.
pub fn layers(
    old: Side<'_>,
    new: Side<'_>,
    added: &[LayerRef],
    removed: &[LayerRef],
    dists: &DistributionChanges,
) -> Vec<LayerDrift> {
    let apt = packages(old, new);
    added
        .iter()
        .filter_map(|l| {
            let mut distributions: Vec<VersionChange> = dists
                .upgraded
                .iter()
                .filter(|d| d.layer == l.index)
                .map(|d| VersionChange {
                    name: d.name.clone(),
                    old_version: d.old_version.clone(),
                    new_version: d.new_version.clone(),
                })
                .collect();
            distributions.sort_by(|a, b| a.name.cmp(&b.name));
            let packages: Vec<VersionChange> = apt
                .iter()
                .filter(|(layer, _)| *layer == l.index)
                .map(|(_, c)| c.clone())
                .collect();
            let files = removed
                .iter()
                .find(|r| r.index == l.index)
                .map(|r| files(old, new, r.index, l.index));
            (!distributions.is_empty() || !packages.is_empty() || files.is_some()).then(|| {
                LayerDrift {
                    index: l.index,
                    digest: l.digest.clone(),
                    created_by: l.created_by.clone(),
                    distributions,
                    packages,
                    files,
                }
            })
        })
        .collect()
}

/// dpkg packages on both sides at other versions: (the new side's layer,
/// the change), by name.
fn packages(old: Side<'_>, new: Side<'_>) -> Vec<(u32, VersionChange)> {
    let before: BTreeMap<(&str, &str), &str> = old
        .analysis
        .system_packages
        .packages
        .iter()
        .map(|p| ((p.name.as_str(), p.arch.as_str()), p.version.as_str()))
        .collect();
    let mut out: Vec<(u32, VersionChange)> = new
        .analysis
        .system_packages
        .packages
        .iter()
        .filter_map(|p| {
            let was = before.get(&(p.name.as_str(), p.arch.as_str()))?;
            (*was != p.version).then(|| {
                (
                    p.layer,
                    VersionChange {
                        name: p.name.clone(),
                        old_version: (*was).to_owned(),
                        new_version: p.version.clone(),
                    },
                )
            })
        })
        .collect();
    out.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    out
}

/// The regular files of a layer by path (the last entry of a path wins,
/// as when the layer is applied).
fn layer_files(side: Side<'_>, index: u32) -> HashMap<String, &Entry> {
    side.image
        .layers
        .get(index as usize)
        .map(|l| {
            l.entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .map(|e| (e.path.display(), e))
                .collect()
        })
        .unwrap_or_default()
}

fn files(old: Side<'_>, new: Side<'_>, old_index: u32, new_index: u32) -> FileDrift {
    let (o, n) = (layer_files(old, old_index), layer_files(new, new_index));
    let mut d = FileDrift {
        old_index,
        ..FileDrift::default()
    };
    let (mut content, mut owner, mut added) = (Vec::new(), Vec::new(), Vec::new());
    for (path, e) in &n {
        match o.get(path) {
            None => added.push(path.clone()),
            Some(was) if was.size != e.size || was.hash != e.hash => content.push(path.clone()),
            Some(was) if (was.uid, was.gid, was.mode) != (e.uid, e.gid, e.mode) => {
                owner.push(path.clone())
            }
            Some(_) => d.same += 1,
        }
    }
    let mut removed: Vec<String> = o.keys().filter(|p| !n.contains_key(*p)).cloned().collect();
    d.content = content.len() as u64;
    d.ownership_or_mode = owner.len() as u64;
    d.added = added.len() as u64;
    d.removed = removed.len() as u64;
    d.metadata_only = d.content == 0 && d.added == 0 && d.removed == 0;
    for (list, out) in [
        (&mut content, &mut d.content_paths),
        (&mut owner, &mut d.ownership_paths),
        (&mut added, &mut d.added_paths),
        (&mut removed, &mut d.removed_paths),
    ] {
        list.sort_unstable();
        list.truncate(FILE_SAMPLE);
        *out = std::mem::take(list);
    }
    d
}
