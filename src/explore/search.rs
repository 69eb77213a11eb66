//! Search over a tree's paths: every item's path lowercased once into one
//! arena (separated by `\n`, which a typed query never holds), searched
//! with a SIMD substring finder; a query that extends the last one only
//! looks among the last one's matches.

use memchr::memmem::Finder;

use crate::model::tree::Tree;

/// The lowercased paths of one tree's items.
pub struct SearchIndex {
    lower: Vec<u8>,
    /// Where each item's path starts in `lower`, and the arena's end.
    starts: Vec<u32>,
    /// The node of each item.
    pub nodes: Vec<u32>,
}

/// The last search, for narrowing.
pub struct Last {
    needle: Vec<u8>,
    /// Items (indexes into [`SearchIndex::nodes`]) whose path holds it.
    pub matches: Vec<u32>,
}

impl SearchIndex {
    /// Indexes the items of `tree` (one pass; about the paths' bytes).
    pub fn new(tree: &Tree) -> SearchIndex {
        let mut lower = Vec::new();
        let mut starts = Vec::new();
        let mut nodes = Vec::new();
        for (i, n) in tree.nodes.iter().enumerate() {
            if let Some(item) = &n.item {
                starts.push(lower.len() as u32);
                nodes.push(i as u32);
                lower.extend(item.path.iter().map(u8::to_ascii_lowercase));
                lower.push(b'\n');
            }
        }
        starts.push(lower.len() as u32);
        SearchIndex {
            lower,
            starts,
            nodes,
        }
    }

    fn path(&self, i: u32) -> &[u8] {
        let (s, e) = (self.starts[i as usize], self.starts[i as usize + 1]);
        &self.lower[s as usize..e as usize]
    }

    /// The items whose path holds `query` (ASCII case ignored), narrowed
    /// from `last` when `query` extends it.
    pub fn find(&self, query: &str, last: Option<&Last>) -> Last {
        let needle = query.to_ascii_lowercase().into_bytes();
        let finder = Finder::new(&needle);
        let matches = match last {
            // Whatever holds `needle` holds every piece of it.
            Some(l) if contains(&needle, &l.needle) => l
                .matches
                .iter()
                .copied()
                .filter(|&i| finder.find(self.path(i)).is_some())
                .collect(),
            _ => self.scan(&finder),
        };
        Last { needle, matches }
    }

    /// One pass over the arena: after a match, the next item.
    fn scan(&self, finder: &Finder) -> Vec<u32> {
        let mut out = Vec::new();
        let mut item = 0usize;
        let mut at = 0usize;
        while let Some(pos) = finder.find(&self.lower[at..]) {
            let pos = at + pos;
            while self.starts[item + 1] as usize <= pos {
                item += 1;
            }
            out.push(item as u32);
            item += 1;
            match self.starts.get(item) {
                Some(&next) if (next as usize) < self.lower.len() => at = next as usize,
                _ => break,
            }
        }
        out
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::Loc;
    use crate::model::changes::Change;
    use crate::model::tree::Item;
    use crate::scan::EntryKind;

    fn paths(n: usize) -> Vec<String> {
        let mut v: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    "usr/lib/python3/site-packages/pkg{}/sub{}/Mod{i}.py",
                    i / 10_000,
                    (i / 100) % 100
                )
            })
            .collect();
        v.sort();
        v
    }

    fn tree(paths: &[String]) -> Tree<'_> {
        Tree::build(paths.iter().enumerate().map(|(i, p)| Item {
            path: p.as_bytes(),
            size: i as u64,
            loc: Loc {
                layer: 0,
                entry: i as u32,
            },
            change: Change::Added,
            shadowed: false,
            kind: EntryKind::File,
        }))
    }

    /// What the explorer did before: every path, every window.
    fn naive(t: &Tree, q: &str) -> Vec<u32> {
        let q = q.to_ascii_lowercase();
        t.nodes
            .iter()
            .filter_map(|n| n.item)
            .enumerate()
            .filter(|(_, it)| {
                it.path
                    .windows(q.len())
                    .any(|w| w.eq_ignore_ascii_case(q.as_bytes()))
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    #[test]
    fn finds_what_a_naive_scan_finds_and_narrows() {
        let p = paths(30_000);
        let t = tree(&p);
        let index = SearchIndex::new(&t);
        let mut last: Option<Last> = None;
        for q in [
            "m", "mo", "MOD1", "mod12", "mod123", "mod1234", "sub3/", "x",
        ] {
            let got = index.find(q, last.as_ref());
            assert_eq!(got.matches, naive(&t, q), "{q}");
            last = Some(got);
        }
        assert!(last.unwrap().matches.is_empty());
        // Every item of the tree is reachable from its match.
        let all = index.find("/", None);
        assert_eq!(all.matches.len(), 30_000);
        assert!(
            all.matches
                .iter()
                .all(|&i| t.nodes[index.nodes[i as usize] as usize].item.is_some())
        );
    }

    /// Per-key timings on a million paths (`cargo test --release --lib
    /// explore::search -- --ignored --nocapture`; BENCHMARKS.md).
    #[test]
    #[ignore = "a timing, not a check"]
    fn million_paths_per_key() {
        let p = paths(1_000_000);
        let t = tree(&p);
        let time = |what: &str, f: &mut dyn FnMut() -> usize| {
            let start = std::time::Instant::now();
            let n = f();
            println!(
                "{what}: {:.1} ms ({n} matches)",
                start.elapsed().as_secs_f64() * 1e3
            );
        };
        let start = std::time::Instant::now();
        let index = SearchIndex::new(&t);
        println!("index: {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
        let mut last: Option<Last> = None;
        for q in ["m", "mo", "mod", "mod1", "mod12", "mod123", "mod1234"] {
            time(&format!("naive {q}"), &mut || naive(&t, q).len());
            time(&format!("naive {q} + tree"), &mut || {
                let keep = naive(&t, q);
                let items: Vec<Item> = keep
                    .iter()
                    .map(|&i| t.nodes[index.nodes[i as usize] as usize].item.unwrap())
                    .collect();
                Tree::build(items.into_iter()).nodes.len()
            });
            time(&format!("index {q}"), &mut || {
                let got = index.find(q, last.as_ref());
                let n = got.matches.len();
                last = Some(got);
                n
            });
        }
    }
}
