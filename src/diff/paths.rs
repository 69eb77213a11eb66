//! Which files and directories grew or shrank between two images.

use std::collections::HashMap;

use super::{DIR_DEPTH, PathDelta, int};
use crate::model::Image;
use crate::scan::EntryKind;

/// Every regular file of the final filesystem and its size.
pub(super) fn file_sizes(image: &Image) -> HashMap<String, u64> {
    image
        .final_entries()
        .filter(|(_, e)| e.kind == EntryKind::File)
        .map(|(_, e)| (e.path.display(), e.size))
        .collect()
}

/// Bytes per directory, down to [`DIR_DEPTH`] levels.
pub(super) fn dir_sizes(files: &HashMap<String, u64>) -> HashMap<String, u64> {
    let mut dirs: HashMap<String, u64> = HashMap::new();
    for (path, &size) in files {
        if size == 0 {
            continue;
        }
        // `path` is `/a/b/c`: its directories are `/a`, `/a/b` (up to DIR_DEPTH).
        for (depth, (i, _)) in path.match_indices('/').skip(1).enumerate() {
            if depth >= DIR_DEPTH {
                break;
            }
            *dirs.entry(path[..i].to_owned()).or_default() += size;
        }
    }
    dirs
}

pub(super) fn grew(
    old: &HashMap<String, u64>,
    new: &HashMap<String, u64>,
    top: usize,
) -> Vec<PathDelta> {
    let mut out: Vec<PathDelta> = new
        .iter()
        .filter_map(|(path, &n)| {
            let o = old.get(path).copied().unwrap_or(0);
            (n > o).then(|| PathDelta {
                path: path.clone(),
                old_bytes: o,
                new_bytes: n,
                delta: int(n) - int(o),
            })
        })
        .collect();
    out.sort_by(|a, b| b.delta.cmp(&a.delta).then_with(|| a.path.cmp(&b.path)));
    out.truncate(top);
    out
}

/// Paths whose bytes fell (absent on the new side counts as 0), largest
/// fall first.
pub(super) fn shrank(
    old: &HashMap<String, u64>,
    new: &HashMap<String, u64>,
    top: usize,
) -> Vec<PathDelta> {
    grew(new, old, top)
        .into_iter()
        .map(|d| PathDelta {
            path: d.path,
            old_bytes: d.new_bytes,
            new_bytes: d.old_bytes,
            delta: -d.delta,
        })
        .collect()
}
