//! The explorer's state and its pure `update(key)`: no terminal here, so
//! tests drive it key by key and assert the screens `view` draws.

use rayon::prelude::*;

use super::filter::{Filters, SIZE_STEPS};
use super::search::{Last, SearchIndex};
use crate::analyze::{Analysis, FindingKind};
use crate::model::changes::{self, Change};
use crate::model::tree::{Item, Tree, empty_dirs_only};
use crate::model::{Image, Loc, LocSet};

mod keys;

/// The panes that take the keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pane {
    /// The layers table.
    Layers,
    /// The file tree.
    Tree,
    /// The findings list.
    Findings,
    /// Python environments and distributions.
    Python,
}

/// What the keys are doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Browsing.
    Normal,
    /// Typing a search.
    Search,
    /// The help screen.
    Help,
}

/// Which filesystem the tree shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// The final filesystem (every layer applied).
    Merged,
    /// What the selected layer wrote and removed.
    Layer,
}

/// A row of the Python pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyRow {
    /// An environment, by index.
    Env(usize),
    /// A distribution: environment, distribution.
    Dist(usize, usize),
}

/// Rows each scrolled pane shows, from the layout.
#[derive(Clone, Copy, Debug, Default)]
pub struct Heights {
    /// Layers pane rows.
    pub layers: usize,
    /// Tree pane rows.
    pub tree: usize,
    /// Findings or Python pane rows.
    pub lower: usize,
}

/// A selection and its scroll offset.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cursor {
    /// Selected row.
    pub sel: usize,
    /// First row shown.
    pub offset: usize,
}

impl Cursor {
    fn go(&mut self, to: isize, len: usize, height: usize) {
        let last = len.saturating_sub(1).min(isize::MAX as usize) as isize;
        self.sel = to.clamp(0, last) as usize;
        let height = height.max(1);
        if self.sel < self.offset {
            self.offset = self.sel;
        } else if self.sel >= self.offset + height {
            self.offset = self.sel + 1 - height;
        }
    }
}

/// The explorer.
pub struct App<'a> {
    /// The image.
    pub image: &'a Image,
    /// Its analysis (findings with fixes and Dockerfile lines).
    pub analysis: &'a Analysis,
    /// Colours on (off with `NO_COLOR` or `--color never`).
    pub color: bool,
    /// Findings per layer.
    pub layer_findings: Vec<usize>,
    /// The finding kinds present, in order, for the kind filter.
    pub kinds: Vec<FindingKind>,
    /// Rows of the Python pane.
    pub py_rows: Vec<PyRow>,
    /// Entries that are not in the final filesystem.
    shadowed: LocSet,
    /// Unfiltered trees: merged, then one per layer.
    base: Vec<Tree<'a>>,
    /// The filtered tree, when a filter is on.
    filtered: Option<Tree<'a>>,
    /// Each base tree's search index, made on its first search.
    search_index: Vec<Option<SearchIndex>>,
    /// The last search (base tree, matches), to narrow from.
    last_search: Option<(usize, Last)>,
    /// What the tree shows.
    pub view: View,
    /// The focused pane.
    pub pane: Pane,
    /// Findings or Python: which the lower-left pane shows.
    pub lower: Pane,
    /// Key mode.
    pub mode: Mode,
    /// Active filters.
    pub filters: Filters,
    /// The search being typed.
    pub input: String,
    /// Selections.
    pub layer: Cursor,
    /// Tree selection.
    pub tree_cur: Cursor,
    /// Findings selection.
    pub finding: Cursor,
    /// Python selection.
    pub py: Cursor,
    /// Rows per pane (set from the layout before each key).
    pub heights: Heights,
    /// A one-line message (what a filter matched, ...).
    pub status: String,
    /// Set by `q`.
    pub quit: bool,
}

impl<'a> App<'a> {
    /// Builds the trees of the final filesystem and of every layer (in
    /// parallel): afterwards every key is answered from them.
    pub fn new(image: &'a Image, analysis: &'a Analysis, color: bool) -> App<'a> {
        let changes = changes::changes(image);
        let mut shadowed = LocSet::new(image);
        for s in &image.shadowed {
            shadowed.insert(s.loc);
        }
        let item = |loc: Loc| {
            let e = image.entry(loc);
            Item {
                path: e.path.as_bytes(),
                size: e.size,
                loc,
                change: changes[loc.layer as usize][loc.entry as usize],
                shadowed: shadowed.contains(loc),
                kind: e.kind,
            }
        };
        // Files, and the directories nothing lies under (directories with
        // files are made up from their paths).
        let shown = |locs: &[Loc]| {
            let paths: Vec<&[u8]> = locs
                .iter()
                .map(|&l| image.entry(l).path.as_bytes())
                .collect();
            let is_dir = |i: usize| image.entry(locs[i]).kind == crate::scan::EntryKind::Dir;
            empty_dirs_only(&paths, is_dir)
                .into_iter()
                .map(|i| locs[i])
                .collect::<Vec<Loc>>()
        };
        let base: Vec<Tree> = (0..=image.layers.len())
            .into_par_iter()
            .map(|t| {
                if t == 0 {
                    return Tree::build(shown(&image.files).into_iter().map(item));
                }
                let li = (t - 1) as u32;
                let entries = &image.layers[t - 1].entries;
                let mut locs: Vec<Loc> = (0..entries.len() as u32)
                    .map(|entry| Loc { layer: li, entry })
                    .collect();
                locs.sort_by(|a, b| {
                    entries[a.entry as usize]
                        .path
                        .as_bytes()
                        .cmp(entries[b.entry as usize].path.as_bytes())
                        .then(a.entry.cmp(&b.entry))
                });
                let locs = shown(&locs);
                Tree::build(locs.into_iter().map(item))
            })
            .collect();
        let mut layer_findings = vec![0; image.layers.len()];
        let mut kinds = Vec::new();
        for f in &analysis.findings {
            for &l in &f.layers {
                if let Some(n) = layer_findings.get_mut(l as usize) {
                    *n += 1;
                }
            }
            if !kinds.contains(&f.kind) {
                kinds.push(f.kind);
            }
        }
        let mut py_rows = Vec::new();
        for (e, env) in analysis.python.environments.iter().enumerate() {
            py_rows.push(PyRow::Env(e));
            py_rows.extend((0..env.distributions.len()).map(|d| PyRow::Dist(e, d)));
        }
        App {
            image,
            analysis,
            color,
            layer_findings,
            kinds,
            py_rows,
            shadowed,
            // The merged tree's search index is made now (about 50 ms for a
            // million paths in a release build), so that the first key of a
            // search answers as fast as the next ones; a layer's on its
            // first search.
            search_index: (0..base.len())
                .map(|b| (b == 0).then(|| SearchIndex::new(&base[b])))
                .collect(),
            base,
            filtered: None,
            last_search: None,
            view: View::Merged,
            pane: Pane::Layers,
            lower: Pane::Findings,
            mode: Mode::Normal,
            filters: Filters::default(),
            input: String::new(),
            layer: Cursor::default(),
            tree_cur: Cursor::default(),
            finding: Cursor::default(),
            py: Cursor::default(),
            heights: Heights::default(),
            status: String::new(),
            quit: false,
        }
    }

    /// The tree shown.
    pub fn tree(&self) -> &Tree<'a> {
        self.filtered
            .as_ref()
            .unwrap_or(&self.base[self.base_index()])
    }

    fn tree_mut(&mut self) -> &mut Tree<'a> {
        let i = self.base_index();
        self.filtered.as_mut().unwrap_or(&mut self.base[i])
    }

    fn base_index(&self) -> usize {
        match self.view {
            View::Merged => 0,
            View::Layer => self.layer.sel + 1,
        }
    }

    /// The selected tree node, if any.
    pub fn tree_node(&self) -> Option<u32> {
        self.tree().rows.get(self.tree_cur.sel).copied()
    }

    /// The nodes of the shown base tree whose path holds `query`, from its
    /// index (made on open for the merged tree, on the first search for a
    /// layer's), narrowed from the last search.
    fn search_nodes(&mut self, query: &str) -> Vec<u32> {
        let b = self.base_index();
        if self.search_index[b].is_none() {
            self.search_index[b] = Some(SearchIndex::new(&self.base[b]));
        }
        let Some(index) = self.search_index[b].as_ref() else {
            return Vec::new();
        };
        let last = self
            .last_search
            .as_ref()
            .filter(|(lb, _)| *lb == b)
            .map(|(_, l)| l);
        let found = index.find(query, last);
        let nodes = found
            .matches
            .iter()
            .map(|&i| index.nodes[i as usize])
            .collect();
        self.last_search = Some((b, found));
        nodes
    }

    /// Shows the files of finding `i` in the tree: the final filesystem
    /// when they are all in it, else the layer holding them.
    pub fn jump_to_finding(&mut self, i: usize) {
        let Some(f) = self.analysis.findings.get(i) else {
            return;
        };
        self.finding
            .go(i as isize, self.analysis.findings.len(), self.heights.lower);
        let locs = super::filter::finding_locs(self.image, f);
        let hidden = locs.iter().find(|&&l| self.shadowed.contains(l));
        match hidden {
            Some(l) => {
                self.view = View::Layer;
                self.layer.go(
                    l.layer as isize,
                    self.image.layers.len(),
                    self.heights.layers,
                );
            }
            None => {
                self.view = View::Merged;
                if let Some(&l) = f.layers.first() {
                    let n = self.image.layers.len();
                    self.layer.go(l as isize, n, self.heights.layers);
                }
            }
        }
        self.filters = Filters {
            finding: Some(i),
            ..Filters::default()
        };
        self.apply();
        self.pane = Pane::Tree;
    }

    /// Shows the files of the distribution on Python row `row`.
    pub fn jump_to_python(&mut self, row: usize) {
        let Some(&PyRow::Dist(e, d)) = self.py_rows.get(row) else {
            return;
        };
        self.view = View::Merged;
        self.filters = Filters {
            distribution: Some((e, d)),
            ..Filters::default()
        };
        self.apply();
        self.pane = Pane::Tree;
    }

    /// Rebuilds the shown tree from the filters.
    fn apply(&mut self) {
        self.tree_cur = Cursor::default();
        if !self.filters.active(self.view) {
            self.filtered = None;
            self.status.clear();
            return;
        }
        let pred =
            self.filters
                .predicate(self.image, self.analysis, self.view, self.layer.sel as u32);
        let search = self.filters.search.clone();
        let kept: Vec<Item> = if search.is_empty() {
            // The predicate runs on every item: in parallel, order kept.
            self.base[self.base_index()]
                .nodes
                .par_iter()
                .filter_map(|n| n.item)
                .filter(|i| pred.keep(i))
                .collect()
        } else {
            // Only the items the search index found (in path order).
            let nodes = self.search_nodes(&search);
            let base = &self.base[self.base_index()];
            nodes
                .par_iter()
                .filter_map(|&n| base.nodes[n as usize].item)
                .filter(|i| pred.keep(i))
                .collect()
        };
        let mut tree = Tree::build(kept.into_iter());
        let (bytes, _, files) = tree.totals();
        // A small result opens fully.
        if tree.nodes.len() <= 5_000 {
            tree.set_all(true);
        }
        self.status = format!(
            "{files} files match, {}",
            crate::report::units::Units::Si.bytes(bytes)
        );
        self.filtered = Some(tree);
        // Select the first file.
        if let Some(row) = self
            .tree()
            .rows
            .iter()
            .position(|&r| self.tree().nodes[r as usize].item.is_some())
        {
            self.tree_cur
                .go(row as isize, usize::MAX, self.heights.tree);
        }
    }

    /// The change mark of an item, for the legend and tests.
    pub fn mark(item: &Item) -> &'static str {
        match (item.change, item.shadowed) {
            (Change::Added, false) => "+ ",
            (Change::Added, true) => "+!",
            (Change::Modified, false) => "~ ",
            (Change::Modified, true) => "~!",
            (Change::MetadataOnly, false) => "= ",
            (Change::MetadataOnly, true) => "=!",
            (Change::Removed, _) => "- ",
        }
    }
}
