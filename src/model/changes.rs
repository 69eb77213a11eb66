//! What each layer changed: every entry of every layer classified against
//! the layers below it (added, modified, metadata-only, removed), as dive
//! shows it. The explorer marks its file trees with it and `--files` lists
//! it per layer in the JSON.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::{Image, ShadowKind};
use crate::scan::EntryKind;

/// How one entry of a layer changed the filesystem below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// A path no lower layer had (directories: always this).
    Added,
    /// A path a lower layer had, with other content or of another kind.
    Modified,
    /// A path a lower layer had, with the same content (chown, chmod, touch).
    MetadataOnly,
    /// A whiteout or an opaque directory marker: lower content removed.
    Removed,
}

/// For every layer, the [`Change`] of each of its entries, by entry index.
pub fn changes(image: &Image) -> Vec<Vec<Change>> {
    // Paths each layer replaced or rewrote, from the model's shadow records.
    let mut replaced: Vec<HashMap<&[u8], Change>> = vec![HashMap::new(); image.layers.len()];
    for s in &image.shadowed {
        let change = match s.how {
            ShadowKind::Deleted => continue,
            ShadowKind::Replaced => Change::Modified,
            ShadowKind::MetadataOnly => Change::MetadataOnly,
        };
        if let Some(map) = replaced.get_mut(s.by_layer as usize) {
            map.insert(image.entry(s.loc).path.as_bytes(), change);
        }
    }
    image
        .layers
        .iter()
        .zip(&replaced)
        .map(|(layer, replaced)| {
            layer
                .entries
                .iter()
                .map(|e| match e.kind {
                    EntryKind::Whiteout | EntryKind::Opaque => Change::Removed,
                    _ if replaced.is_empty() => Change::Added,
                    _ => replaced
                        .get(e.path.as_bytes())
                        .copied()
                        .unwrap_or(Change::Added),
                })
                .collect()
        })
        .collect()
}

/// The files one layer added, modified and removed (directories left out),
/// for scripts that read dive's per-layer file lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LayerFiles {
    /// The layer, 0 = bottom.
    pub index: u32,
    /// Paths no lower layer had.
    pub added: Vec<String>,
    /// Paths rewritten with other content (metadata-only rewrites included).
    pub modified: Vec<String>,
    /// Of `modified`, the paths rewritten with the same content.
    pub metadata_only: Vec<String>,
    /// Paths deleted by a whiteout; an opaque directory is listed as the
    /// directory whose lower content it hides.
    pub removed: Vec<String>,
}

/// [`LayerFiles`] of every layer, paths sorted.
pub fn layer_files(image: &Image) -> Vec<LayerFiles> {
    let all = changes(image);
    image
        .layers
        .iter()
        .zip(all)
        .enumerate()
        .map(|(i, (layer, changes))| {
            let mut out = LayerFiles {
                index: i as u32,
                ..LayerFiles::default()
            };
            for (e, change) in layer.entries.iter().zip(changes) {
                if e.kind == EntryKind::Dir {
                    continue;
                }
                let path = e.path.display();
                match change {
                    Change::Added => out.added.push(path),
                    Change::Modified => out.modified.push(path),
                    Change::MetadataOnly => {
                        out.metadata_only.push(path.clone());
                        out.modified.push(path);
                    }
                    Change::Removed => out.removed.push(path),
                }
            }
            for list in [
                &mut out.added,
                &mut out.modified,
                &mut out.metadata_only,
                &mut out.removed,
            ] {
                list.sort_unstable();
                list.dedup();
            }
            out
        })
        .collect()
}
