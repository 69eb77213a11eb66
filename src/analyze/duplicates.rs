//! Content duplicates: files of the final filesystem with equal content at
//! different paths (hard links excluded). Reclaimable: (copies - 1) × size.

use super::{AnalyzeOptions, Finding, FindingKind};
use crate::model::{Image, Loc};
use crate::scan::EntryKind;

/// One finding per group of identical files worth listing, plus one for all
/// the smaller groups together.
pub fn findings(image: &Image, options: &AnalyzeOptions) -> Vec<Finding> {
    // ((size, content hash), position in the final filesystem): sorted,
    // equal contents sit together and each group keeps path order. The
    // size is part of the key: equal contents have equal sizes, and a
    // 128-bit hash collision would also need equal lengths.
    // Each content once, at its first path: hard links are one file.
    let mut hashed: Vec<((u64, [u8; 16]), u32)> = image
        .final_du()
        .enumerate()
        .filter_map(|(pos, (loc, _, bytes))| {
            let e = image.entry(image.content_loc(loc));
            match e.hash {
                Some(hash) if e.kind == EntryKind::File && bytes > 0 => {
                    Some(((bytes, hash), pos as u32))
                }
                _ => None,
            }
        })
        .collect();
    hashed.sort_unstable();
    let mut groups: Vec<Vec<Loc>> = hashed
        .chunk_by(|a, b| a.0 == b.0)
        .filter(|g| g.len() > 1)
        .map(|g| {
            g.iter()
                .map(|&(_, pos)| image.files[pos as usize])
                .collect()
        })
        .collect();
    groups.sort_by_key(|g| (std::cmp::Reverse(reclaimable(image, g)), g[0]));

    let mut out = Vec::new();
    let mut small: Vec<(u32, u64)> = Vec::new();
    let mut small_paths = Vec::new();
    for group in &groups {
        let size = image.content_size(group[0]);
        // The first copy (by path) is kept; the others are reclaimable.
        let extra: Vec<(u32, u64)> = group[1..].iter().map(|l| (l.layer, size)).collect();
        let paths: Vec<(Loc, u64)> = group.iter().map(|&l| (l, size)).collect();
        if reclaimable(image, group) >= options.min_group_bytes {
            let finding = Finding::new(
                image,
                FindingKind::DuplicateContent,
                &extra,
                format!("{} identical copies of the same file", group.len()),
                "keep one copy and point the others at it (a symlink or hard link), or stop copying it twice",
            )
            .with_layers(&[group[0].layer])
            .with_entry_locs(image, paths);
            out.push(finding);
        } else {
            small.extend(extra);
            small_paths.extend(paths);
        }
    }
    // Small groups are reported together, and only when they add up.
    if small.iter().map(|&(_, b)| b).sum::<u64>() >= options.min_group_bytes {
        out.push(
            Finding::new(
                image,
                FindingKind::DuplicateContent,
                &small,
                "many small files exist in identical copies at several paths",
                "usually harmless (licences, empty modules); deduplicate only if the total matters",
            )
            .with_entry_locs(image, small_paths),
        );
    }
    out
}

fn reclaimable(image: &Image, group: &[Loc]) -> u64 {
    (group.len() as u64 - 1) * image.content_size(group[0])
}
