//! A file tree for browsing (the explorer) and aggregating (the HTML
//! treemap): an arena built in one pass over paths sorted
//! by their bytes, with the bytes and file counts of every directory summed
//! once at build time. Rows shown are only those under expanded
//! directories, so a million-entry tree costs nothing until it is opened.

use crate::model::Loc;
use crate::model::changes::Change;
use crate::scan::EntryKind;

/// No node (end of a sibling list, no child).
const NONE: u32 = u32::MAX;

/// One entry shown in a tree: a file of the final filesystem or of a layer.
#[derive(Clone, Copy, Debug)]
pub struct Item<'a> {
    /// The entry's path bytes (no leading `/`).
    pub path: &'a [u8],
    /// Content bytes.
    pub size: u64,
    /// Where the entry lives.
    pub loc: Loc,
    /// What the entry did to the layers below it.
    pub change: Change,
    /// Whether a later layer deleted or replaced it.
    pub shadowed: bool,
    /// What the entry is.
    pub kind: EntryKind,
}

/// A node: a directory (made up from the paths) or an item.
#[derive(Clone, Debug)]
pub struct Node<'a> {
    /// The full path of the node (a prefix of an item's path for a directory).
    pub path: &'a [u8],
    /// Where the last component starts in `path`.
    pub name_start: u32,
    /// Parent node (the root is its own parent).
    pub parent: u32,
    first_child: u32,
    next_sibling: u32,
    /// Depth below the root (its children are at 0).
    pub depth: u16,
    /// Content bytes at or under the node.
    pub bytes: u64,
    /// Of `bytes`, those a later layer shadowed.
    pub shadowed_bytes: u64,
    /// Items at or under the node.
    pub files: u32,
    /// The item, for a leaf.
    pub item: Option<Item<'a>>,
}

impl<'a> Node<'a> {
    /// The last component.
    pub fn name(&self) -> &'a [u8] {
        &self.path[self.name_start as usize..]
    }

    /// Whether the node is a directory: it has children, or it is an
    /// empty directory entry.
    pub fn is_dir(&self) -> bool {
        self.first_child != NONE || self.item.is_some_and(|i| i.kind == EntryKind::Dir)
    }
}

/// A file tree.
#[derive(Clone, Debug)]
pub struct Tree<'a> {
    /// Nodes in pre-order (children after their parent, siblings in path
    /// order); node 0 is the root.
    pub nodes: Vec<Node<'a>>,
    expanded: Vec<bool>,
    /// The visible rows: nodes under expanded directories, in order.
    pub rows: Vec<u32>,
}

impl<'a> Tree<'a> {
    /// Builds the tree of `items`, which must come sorted by path bytes.
    /// Directories are made up from the paths under them; a directory
    /// entry given as an item must be empty (nothing under it in `items`,
    /// see [`empty_dirs_only`]): it shows as a directory of 0 bytes and 0
    /// files.
    pub fn build(items: impl Iterator<Item = Item<'a>>) -> Tree<'a> {
        let mut nodes = vec![Node {
            path: &[],
            name_start: 0,
            parent: 0,
            first_child: NONE,
            next_sibling: NONE,
            depth: 0,
            bytes: 0,
            shadowed_bytes: 0,
            files: 0,
            item: None,
        }];
        // The last child of each node, to append in O(1).
        let mut last: Vec<u32> = vec![NONE];
        // Open directories: node ids, root first.
        let mut stack: Vec<u32> = vec![0];
        for item in items {
            let path = item.path;
            // Close directories `path` is not under.
            while stack.len() > 1 {
                let dir = nodes[*stack.last().unwrap_or(&0) as usize].path;
                if path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/' {
                    break;
                }
                stack.pop();
            }
            let top = *stack.last().unwrap_or(&0);
            let mut start = match nodes[top as usize].path.len() {
                0 => 0,
                n => n + 1,
            };
            // Open the directories between the top one and the item.
            while let Some(j) = path[start..].iter().position(|&b| b == b'/') {
                let parent = *stack.last().unwrap_or(&0);
                let id = push(
                    &mut nodes,
                    &mut last,
                    parent,
                    &path[..start + j],
                    start,
                    None,
                );
                stack.push(id);
                start += j + 1;
            }
            let parent = *stack.last().unwrap_or(&0);
            push(&mut nodes, &mut last, parent, path, start, Some(item));
        }
        // Children come after their parents: sum bottom-up in one pass.
        for i in (1..nodes.len()).rev() {
            let (bytes, shadowed, files, parent) = {
                let n = &nodes[i];
                (n.bytes, n.shadowed_bytes, n.files, n.parent as usize)
            };
            let p = &mut nodes[parent];
            p.bytes += bytes;
            p.shadowed_bytes += shadowed;
            p.files += files;
        }
        let len = nodes.len();
        let mut tree = Tree {
            nodes,
            expanded: vec![false; len],
            rows: Vec::new(),
        };
        tree.expanded[0] = true;
        tree.refresh();
        tree
    }

    /// The items of the tree, in path order.
    pub fn items(&self) -> impl Iterator<Item = Item<'a>> + '_ {
        self.nodes.iter().filter_map(|n| n.item)
    }

    /// The root's bytes, shadowed bytes and item count.
    pub fn totals(&self) -> (u64, u64, u32) {
        let r = &self.nodes[0];
        (r.bytes, r.shadowed_bytes, r.files)
    }

    /// The children of `node`, in path order.
    pub fn children(&self, node: u32) -> impl Iterator<Item = u32> + '_ {
        let first = self
            .nodes
            .get(node as usize)
            .map_or(NONE, |n| n.first_child);
        std::iter::successors((first != NONE).then_some(first), move |&c| {
            let next = self.nodes[c as usize].next_sibling;
            (next != NONE).then_some(next)
        })
    }

    /// Whether `node` is expanded.
    pub fn is_expanded(&self, node: u32) -> bool {
        self.expanded.get(node as usize).copied().unwrap_or(false)
    }

    /// Expands or collapses `node`; returns whether anything changed.
    pub fn set_expanded(&mut self, node: u32, on: bool) -> bool {
        let Some(n) = self.nodes.get(node as usize) else {
            return false;
        };
        if !n.is_dir() || self.expanded[node as usize] == on {
            return false;
        }
        self.expanded[node as usize] = on;
        self.refresh();
        true
    }

    /// Expands every directory (`on`) or collapses all but the root.
    pub fn set_all(&mut self, on: bool) {
        for (i, e) in self.expanded.iter_mut().enumerate() {
            *e = on || i == 0;
        }
        self.refresh();
    }

    /// Expands the ancestors of `node` so that it has a row; its row.
    pub fn reveal(&mut self, node: u32) -> Option<usize> {
        let mut p = self.nodes.get(node as usize)?.parent;
        while p != 0 {
            self.expanded[p as usize] = true;
            p = self.nodes[p as usize].parent;
        }
        self.refresh();
        self.rows.iter().position(|&r| r == node)
    }

    /// The first leaf whose item satisfies `pred`.
    pub fn find_leaf(&self, pred: impl Fn(&Item) -> bool) -> Option<u32> {
        self.nodes
            .iter()
            .position(|n| n.item.as_ref().is_some_and(&pred))
            .map(|i| i as u32)
    }

    /// Recomputes the visible rows (a walk of the expanded directories).
    fn refresh(&mut self) {
        self.rows.clear();
        let mut stack: Vec<u32> = Vec::new();
        let mut child = self.nodes[0].first_child;
        loop {
            while child != NONE {
                self.rows.push(child);
                let n = &self.nodes[child as usize];
                if n.is_dir() && self.expanded[child as usize] {
                    stack.push(n.next_sibling);
                    child = n.first_child;
                } else {
                    child = n.next_sibling;
                }
            }
            match stack.pop() {
                Some(next) => child = next,
                None => break,
            }
        }
    }
}

/// Of `paths` (sorted by bytes, `is_dir` telling directory entries), the
/// indexes to give [`Tree::build`]: every non-directory, and the
/// directories nothing in `paths` lies under (empty directories), which
/// would otherwise not show at all.
pub fn empty_dirs_only(paths: &[&[u8]], is_dir: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut keep = Vec::with_capacity(paths.len());
    for (i, &p) in paths.iter().enumerate() {
        if !is_dir(i) {
            keep.push(i);
            continue;
        }
        if p.is_empty() || paths.get(i + 1) == Some(&p) {
            continue; // the root, or a directory written again just after
        }
        // Entries under `p/` sort together from `p/` on, maybe past
        // siblings like `p-x` or `p.x`: look at the first path at or past `p/`.
        let mut prefix = p.to_vec();
        prefix.push(b'/');
        let from = i + paths[i..].partition_point(|q| *q < prefix.as_slice());
        let nonempty = paths.get(from).is_some_and(|q| q.starts_with(&prefix));
        if !nonempty {
            keep.push(i);
        }
    }
    keep
}

fn push<'a>(
    nodes: &mut Vec<Node<'a>>,
    last: &mut Vec<u32>,
    parent: u32,
    path: &'a [u8],
    name_start: usize,
    item: Option<Item<'a>>,
) -> u32 {
    let id = nodes.len() as u32;
    let (bytes, shadowed_bytes, files) = match &item {
        Some(i) if i.kind == EntryKind::Dir => (0, 0, 0),
        Some(i) => (i.size, if i.shadowed { i.size } else { 0 }, 1),
        None => (0, 0, 0),
    };
    let depth = if parent == 0 {
        0
    } else {
        nodes[parent as usize].depth + 1
    };
    nodes.push(Node {
        path,
        name_start: name_start as u32,
        parent,
        first_child: NONE,
        next_sibling: NONE,
        depth,
        bytes,
        shadowed_bytes,
        files,
        item,
    });
    last.push(NONE);
    match last[parent as usize] {
        NONE => nodes[parent as usize].first_child = id,
        prev => nodes[prev as usize].next_sibling = id,
    }
    last[parent as usize] = id;
    id
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn item(path: &'static str, size: u64) -> Item<'static> {
        Item {
            path: path.as_bytes(),
            size,
            loc: Loc { layer: 0, entry: 0 },
            change: Change::Added,
            shadowed: size == 7,
            kind: EntryKind::File,
        }
    }

    fn names(t: &Tree) -> Vec<String> {
        t.rows
            .iter()
            .map(|&r| {
                let n = &t.nodes[r as usize];
                format!(
                    "{}{}",
                    "  ".repeat(n.depth as usize),
                    String::from_utf8_lossy(n.name())
                )
            })
            .collect()
    }

    #[test]
    fn sums_directories_and_expands_lazily() {
        // Sorted by bytes: `a-b` and `a.txt` sort between `a` entries' dirs.
        let mut paths = [
            ("a/x/1", 10),
            ("a/x/2", 7),
            ("a-b", 3),
            ("a.txt", 4),
            ("a/y", 100),
            ("z/deep/er/f", 1),
        ];
        paths.sort();
        let mut t = Tree::build(paths.iter().map(|&(p, s)| item(p, s)));
        assert_eq!(t.totals(), (125, 7, 6));
        assert_eq!(names(&t), ["a-b", "a.txt", "a", "z"]);
        let a = t.rows[2];
        assert_eq!(
            (t.nodes[a as usize].bytes, t.nodes[a as usize].files),
            (117, 3)
        );
        assert!(t.set_expanded(a, true));
        assert_eq!(names(&t), ["a-b", "a.txt", "a", "  x", "  y", "z"]);
        let leaf = t.find_leaf(|i| i.path == b"z/deep/er/f").unwrap();
        let row = t.reveal(leaf).unwrap();
        assert_eq!(names(&t)[row], "      f");
        t.set_all(false);
        assert_eq!(t.rows.len(), 4);
        t.set_all(true);
        assert_eq!(t.rows.len(), 6 + 5);
    }

    #[test]
    fn empty_directories_show_with_zero_bytes() {
        // Sorted by bytes; `a`, `a/x` and `e/f` are directories; only
        // `e/f` and `g` are empty (`a-b` sorts between `a` and `a/x`).
        let paths: [(&'static str, u64, bool); 7] = [
            ("a", 0, true),
            ("a-b", 3, false),
            ("a/x", 0, true),
            ("a/x/1", 10, false),
            ("e/f", 0, true),
            ("e/f.txt", 5, false),
            ("g", 0, true),
        ];
        let bytes: Vec<&[u8]> = paths.iter().map(|p| p.0.as_bytes()).collect();
        let keep = empty_dirs_only(&bytes, |i| paths[i].2);
        assert_eq!(keep, [1, 3, 4, 5, 6]);
        let mut t = Tree::build(keep.iter().map(|&i| {
            let (p, size, dir) = paths[i];
            let mut it = item(p, size);
            if dir {
                it.kind = EntryKind::Dir;
            }
            it
        }));
        t.set_all(true);
        assert_eq!(
            names(&t),
            ["a-b", "a", "  x", "    1", "e", "  f", "  f.txt", "g"]
        );
        // Three files: directories count no files and no bytes.
        assert_eq!(t.totals(), (18, 0, 3));
        let g = t.rows[7];
        let n = &t.nodes[g as usize];
        assert!(n.is_dir());
        assert_eq!((n.bytes, n.files), (0, 0));
        let f = t.rows[5];
        assert!(t.nodes[f as usize].is_dir());
        assert!(!t.nodes[t.rows[6] as usize].is_dir());
    }
}
