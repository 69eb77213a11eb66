//! The model: layer indexes stacked into an [`Image`], the final filesystem
//! with OCI whiteout rules, and for every entry that did not survive, which
//! later entry shadowed it and how.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::scan::{Entry, EntryKind, EntryPath, LayerIndex};
use crate::source::ImageInfo;

/// Where an entry lives: its layer and its index in that layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Loc {
    /// Layer index, 0 = bottom.
    pub layer: u32,
    /// Entry index within the layer.
    pub entry: u32,
}

/// How a later entry made an earlier one vanish from the final filesystem.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShadowKind {
    /// A whiteout or an opaque directory removed it (`rm`, `rm -rf dir`).
    Deleted,
    /// A different entry was written at the same path (or over a parent).
    Replaced,
    /// The same content was written again with new metadata (chown, chmod,
    /// touch).
    MetadataOnly,
}

/// One entry that is not in the final filesystem.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Shadowed {
    /// The entry that vanished.
    pub loc: Loc,
    /// The layer whose entry (or whiteout) shadowed it.
    pub by_layer: u32,
    /// How.
    pub how: ShadowKind,
}

/// An analysed stack of layers.
#[derive(Debug)]
pub struct Image {
    /// What the manifest and config said.
    pub info: ImageInfo,
    /// One index per layer, bottom first.
    pub layers: Vec<LayerIndex>,
    /// The final filesystem, sorted by path.
    pub files: Vec<Loc>,
    /// Every entry that did not survive, in layer order.
    pub shadowed: Vec<Shadowed>,
}

impl Image {
    /// Stacks `layers` (bottom first) on top of each other.
    pub fn build(info: ImageInfo, layers: Vec<LayerIndex>) -> Image {
        let mut fs: BTreeMap<EntryPath, Loc> = BTreeMap::new();
        let mut shadowed = Vec::new();
        for (li, layer) in layers.iter().enumerate() {
            let by_layer = li as u32;
            // 1. Opaque directories and whiteouts act on lower layers only.
            for e in &layer.entries {
                match e.kind {
                    EntryKind::Opaque => remove_under(
                        &mut fs,
                        &e.path,
                        false,
                        by_layer,
                        ShadowKind::Deleted,
                        &mut shadowed,
                    ),
                    EntryKind::Whiteout => remove_under(
                        &mut fs,
                        &e.path,
                        true,
                        by_layer,
                        ShadowKind::Deleted,
                        &mut shadowed,
                    ),
                    _ => {}
                }
            }
            // 2. The layer's own entries, later ones winning.
            for (ei, e) in layer.entries.iter().enumerate() {
                if matches!(e.kind, EntryKind::Opaque | EntryKind::Whiteout) {
                    continue;
                }
                let loc = Loc {
                    layer: by_layer,
                    entry: ei as u32,
                };
                // A non-directory hides everything lower layers put under its
                // path, whether or not they wrote the directory itself.
                if e.kind != EntryKind::Dir {
                    remove_under(
                        &mut fs,
                        &e.path,
                        false,
                        by_layer,
                        ShadowKind::Replaced,
                        &mut shadowed,
                    );
                }
                if let Some(old) = fs.insert(e.path.clone(), loc) {
                    let old_entry = entry(&layers, old);
                    let how = if old_entry.kind == EntryKind::File
                        && e.kind == EntryKind::File
                        && old_entry.sha256 == e.sha256
                    {
                        ShadowKind::MetadataOnly
                    } else {
                        ShadowKind::Replaced
                    };
                    // Directories merge.
                    if !(old_entry.kind == EntryKind::Dir && e.kind == EntryKind::Dir) {
                        shadowed.push(Shadowed {
                            loc: old,
                            by_layer,
                            how,
                        });
                    }
                }
            }
        }
        let files = fs.into_values().collect();
        Image {
            info,
            layers,
            files,
            shadowed,
        }
    }

    /// The entry at `loc`.
    pub fn entry(&self, loc: Loc) -> &Entry {
        entry(&self.layers, loc)
    }

    /// The entries of the final filesystem with their locations, by path.
    pub fn final_entries(&self) -> impl Iterator<Item = (Loc, &Entry)> {
        self.files.iter().map(|&loc| (loc, self.entry(loc)))
    }

    /// Regular-file bytes of every layer.
    pub fn content_bytes(&self) -> u64 {
        self.layers.iter().map(layer_content_bytes).sum()
    }

    /// Regular-file bytes of the final filesystem.
    pub fn final_bytes(&self) -> u64 {
        self.final_entries().map(|(_, e)| e.size).sum()
    }

    /// Content bytes of all shadowed entries.
    pub fn shadowed_bytes(&self) -> u64 {
        self.shadowed.iter().map(|s| self.entry(s.loc).size).sum()
    }

    /// The compressed-to-uncompressed ratio of a layer (1.0 for an empty one).
    pub fn compression_ratio(&self, layer: u32) -> f64 {
        let l = &self.layers[layer as usize];
        if l.uncompressed_bytes == 0 {
            1.0
        } else {
            l.compressed_bytes as f64 / l.uncompressed_bytes as f64
        }
    }

    /// Estimated compressed bytes of `bytes` uncompressed bytes held in `layer`.
    pub fn estimate_compressed(&self, layer: u32, bytes: u64) -> u64 {
        (bytes as f64 * self.compression_ratio(layer)).round() as u64
    }
}

/// Regular-file bytes of one layer (hard links add nothing).
pub fn layer_content_bytes(layer: &LayerIndex) -> u64 {
    layer.entries.iter().map(|e| e.size).sum()
}

fn entry(layers: &[LayerIndex], loc: Loc) -> &Entry {
    &layers[loc.layer as usize].entries[loc.entry as usize]
}

/// Removes everything under `dir` (and `dir` itself when `inclusive`) from
/// the filesystem, recording each removal.
fn remove_under(
    fs: &mut BTreeMap<EntryPath, Loc>,
    dir: &EntryPath,
    inclusive: bool,
    by_layer: u32,
    how: ShadowKind,
    shadowed: &mut Vec<Shadowed>,
) {
    if inclusive && let Some(loc) = fs.remove(dir) {
        shadowed.push(Shadowed { loc, by_layer, how });
    }
    let mut prefix = dir.as_bytes().to_vec();
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    let start = EntryPath::from_raw(prefix.clone());
    let doomed: Vec<EntryPath> = fs
        .range(start..)
        .take_while(|(p, _)| prefix.is_empty() || p.as_bytes().starts_with(&prefix))
        .map(|(p, _)| p.clone())
        .collect();
    for p in doomed {
        if let Some(loc) = fs.remove(&p) {
            shadowed.push(Shadowed { loc, by_layer, how });
        }
    }
}
