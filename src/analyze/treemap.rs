//! The final filesystem aggregated by directory for the HTML treemap:
//! every directory and file big enough to see, smaller entries of a
//! directory folded into one node, so a million-file image gives a few
//! thousand nodes. Shadowed entries are placed at their paths too: they
//! ship in their layers, and the treemap colours them.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Finding;
use crate::model::changes::Change;
use crate::model::tree::{Item, Tree};
use crate::model::{Image, LocSet};

/// One node of the treemap (short field names: the page embeds thousands).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MapNode {
    /// Name (the last path component; `/` for the root).
    pub n: String,
    /// Content bytes at or under it: final files plus shadowed entries.
    pub b: u64,
    /// Of `b`, bytes of shadowed entries (deleted or replaced later).
    pub s: u64,
    /// Of `b`, bytes of final files some finding names.
    pub f: u64,
    /// Files at or under it.
    pub k: u64,
    /// Children, largest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub c: Vec<MapNode>,
    /// True for the node that folds a directory's small entries.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub o: bool,
}

/// The aggregated tree. Entries smaller than `1 / detail` of the image
/// are folded into their directory's "smaller entries" node.
pub fn treemap(image: &Image, findings: &[Finding], detail: u64) -> MapNode {
    let mut shadowed = LocSet::new(image);
    for s in &image.shadowed {
        shadowed.insert(s.loc);
    }
    let mut in_finding = LocSet::new(image);
    for f in findings {
        for &l in &f.members.locs {
            in_finding.insert(l);
        }
    }
    let mut locs: Vec<_> = image.files.clone();
    locs.extend(image.shadowed.iter().map(|s| s.loc));
    locs.retain(|&l| image.entry(l).kind == crate::scan::EntryKind::File);
    locs.par_sort_unstable_by(|a, b| {
        image
            .entry(*a)
            .path
            .as_bytes()
            .cmp(image.entry(*b).path.as_bytes())
            .then(a.cmp(b))
    });
    let tree = Tree::build(locs.into_iter().map(|loc| {
        let e = image.entry(loc);
        Item {
            path: e.path.as_bytes(),
            size: e.size,
            loc,
            change: Change::Added,
            shadowed: shadowed.contains(loc),
            kind: e.kind,
        }
    }));
    // Finding bytes per node, summed bottom-up (children follow parents).
    let mut found = vec![0u64; tree.nodes.len()];
    for i in (1..tree.nodes.len()).rev() {
        if let Some(item) = &tree.nodes[i].item
            && !item.shadowed
            && in_finding.contains(item.loc)
        {
            found[i] += item.size;
        }
        let p = tree.nodes[i].parent as usize;
        found[p] += found[i];
    }
    let min = (tree.nodes[0].bytes / detail.max(1)).max(1);
    let mut root = export(&tree, &found, 0, min);
    root.n = "/".to_owned();
    root
}

fn export(tree: &Tree, found: &[u64], id: u32, min: u64) -> MapNode {
    let n = &tree.nodes[id as usize];
    let mut node = MapNode {
        n: String::from_utf8_lossy(n.name()).into_owned(),
        b: n.bytes,
        s: n.shadowed_bytes,
        f: found[id as usize],
        k: u64::from(n.files),
        c: Vec::new(),
        o: false,
    };
    let mut rest = MapNode {
        n: String::new(),
        o: true,
        ..MapNode::default()
    };
    for c in tree.children(id) {
        let child = &tree.nodes[c as usize];
        if child.bytes >= min {
            node.c.push(export(tree, found, c, min));
        } else {
            rest.b += child.bytes;
            rest.s += child.shadowed_bytes;
            rest.f += found[c as usize];
            rest.k += u64::from(child.files);
        }
    }
    if rest.k > 0 {
        rest.n = format!("{} smaller files", rest.k);
        node.c.push(rest);
    }
    node.c
        .sort_by(|a, b| b.b.cmp(&a.b).then_with(|| a.n.cmp(&b.n)));
    node
}
