//! The model: layer indexes stacked into an [`Image`], the final filesystem
//! with OCI whiteout rules, and for every entry that did not survive, which
//! later entry shadowed it and how.

pub mod changes;
mod estimate;
pub mod tree;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use serde::Serialize;

use crate::scan::{Entry, EntryKind, EntryPath, LayerIndex};
use crate::source::ImageInfo;
use crate::warning::{Tally, Warning, WarningKind};

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
    /// What the layers and the stacking ignored, cleaned or did not keep.
    pub warnings: Vec<Warning>,
    /// Every applied hard link -> the entry whose content it shares (a
    /// regular file, or whatever the target path held).
    pub links: HashMap<Loc, Loc>,
}

impl Image {
    /// Stacks `layers` (bottom first) on top of each other.
    pub fn build(info: ImageInfo, mut layers: Vec<LayerIndex>) -> Image {
        let mut warnings = layer_warnings(&layers);
        warnings.extend(crate::scan::capture::trim_to_image_budget(&mut layers));
        // Keys borrow the layers' own paths: no per-entry allocation or copy
        // (a million-file image would otherwise clone every path once more).
        let mut fs: BTreeMap<&[u8], Loc> = BTreeMap::new();
        let mut shadowed = Vec::new();
        let mut scratch = Vec::new();
        // Every directory some path in `fs` lies under (never shrunk, so a
        // superset): a non-directory whose path is not in it has nothing
        // under it to hide, and the range query is skipped.
        let mut parents: HashSet<&[u8]> = HashSet::new();
        let mut links: HashMap<Loc, Loc> = HashMap::new();
        for (li, layer) in layers.iter().enumerate() {
            let mut dangling = Tally::default();
            let by_layer = li as u32;
            // 1. Opaque directories and whiteouts act on lower layers only.
            for e in &layer.entries {
                match e.kind {
                    EntryKind::Opaque => remove_under(
                        &mut fs,
                        e.path.as_bytes(),
                        false,
                        by_layer,
                        ShadowKind::Deleted,
                        &mut shadowed,
                        &mut scratch,
                    ),
                    EntryKind::Whiteout => remove_under(
                        &mut fs,
                        e.path.as_bytes(),
                        true,
                        by_layer,
                        ShadowKind::Deleted,
                        &mut shadowed,
                        &mut scratch,
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
                // A hard link shares the content of the path it names, as
                // it stands when the link is applied; one naming nothing is
                // refused by containerd, and ignored here.
                if e.kind == EntryKind::HardLink {
                    let target = e.link.as_ref().and_then(|t| fs.get(t.as_bytes()));
                    let Some(&target) = target else {
                        dangling.note(|| e.path.to_string());
                        continue;
                    };
                    links.insert(loc, links.get(&target).copied().unwrap_or(target));
                }
                // A non-directory hides everything lower layers put under its
                // path, whether or not they wrote the directory itself.
                if e.kind != EntryKind::Dir && parents.contains(e.path.as_bytes()) {
                    remove_under(
                        &mut fs,
                        e.path.as_bytes(),
                        false,
                        by_layer,
                        ShadowKind::Replaced,
                        &mut shadowed,
                        &mut scratch,
                    );
                }
                let mut dir = e.path.parent();
                while !dir.is_empty() && parents.insert(dir) {
                    dir = EntryPath::parent_of(dir);
                }
                if let Some(old) = fs.insert(e.path.as_bytes(), loc) {
                    let old_entry = entry(&layers, old);
                    let how = if old_entry.kind == EntryKind::File
                        && e.kind == EntryKind::File
                        && old_entry.size == e.size
                        && old_entry.hash == e.hash
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
            if let Some(mut w) = dangling.warning(WarningKind::DanglingHardLink, |n| {
                format!("{n} hard links named no existing path when applied; ignored")
            }) {
                w.layer = Some(by_layer);
                warnings.push(w);
            }
        }
        let files: Vec<Loc> = fs.into_values().collect();
        // Content lives while one path to it survives: an entry whose
        // content a surviving hard link shares is not shadowed.
        let live: HashSet<Loc> = files.iter().filter_map(|l| links.get(l)).copied().collect();
        if !live.is_empty() {
            shadowed.retain(|s| !live.contains(&s.loc));
        }
        Image {
            info,
            layers,
            files,
            shadowed,
            warnings,
            links,
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

    /// The final-filesystem entry at `path`, if any (a binary search).
    pub fn find(&self, path: &[u8]) -> Option<Loc> {
        let i = self
            .files
            .partition_point(|&l| self.entry(l).path.as_bytes() < path);
        self.files
            .get(i)
            .copied()
            .filter(|&l| self.entry(l).path.as_bytes() == path)
    }

    /// [`Image::find`] for many paths at once, given sorted: one galloping
    /// walk through the final filesystem, cheap when the paths cluster (the
    /// files of one package). Paths not in it are skipped.
    pub fn find_sorted<P: AsRef<[u8]>>(&self, paths: &[P]) -> Vec<Loc> {
        let key = |i: usize| self.entry(self.files[i]).path.as_bytes();
        let n = self.files.len();
        let mut lo = 0;
        let mut out = Vec::new();
        for path in paths {
            let path = path.as_ref();
            // Gallop to a window [lo, hi) whose end lies past `path` ...
            let mut step = 1;
            while lo + step < n && key(lo + step) < path {
                step *= 2;
            }
            let hi = (lo + step + 1).min(n);
            // ... and search it.
            lo += self.files[lo..hi].partition_point(|&l| self.entry(l).path.as_bytes() < path);
            if lo < n && key(lo) == path {
                out.push(self.files[lo]);
            }
        }
        out
    }

    /// Regular-file bytes of every layer.
    pub fn content_bytes(&self) -> u64 {
        self.layers.iter().map(layer_content_bytes).sum()
    }

    /// The entry whose content the entry at `loc` has: the target of a
    /// hard link, `loc` itself otherwise.
    pub fn content_loc(&self, loc: Loc) -> Loc {
        self.links.get(&loc).copied().unwrap_or(loc)
    }

    /// The content bytes of the entry at `loc`, through a hard link too.
    pub fn content_size(&self, loc: Loc) -> u64 {
        self.entry(self.content_loc(loc)).size
    }

    /// The final filesystem by path with each entry's bytes as `du` counts
    /// them: a file's content at the first of its paths (hard links
    /// included), 0 at the others and for non-files.
    pub fn final_du(&self) -> impl Iterator<Item = (Loc, &Entry, u64)> {
        let mut seen = LocSet::new(self);
        self.final_entries().map(move |(loc, e)| {
            let content = self.content_loc(loc);
            let bytes = if seen.insert(content) {
                self.entry(content).size
            } else {
                0
            };
            (loc, e, bytes)
        })
    }

    /// Regular-file bytes of the final filesystem, each file once however
    /// many hard links it has (as `du` counts).
    pub fn final_bytes(&self) -> u64 {
        if self.links.is_empty() {
            return self.final_entries().map(|(_, e)| e.size).sum();
        }
        let mut seen = LocSet::new(self);
        self.files
            .iter()
            .map(|&l| self.content_loc(l))
            .filter(|&c| seen.insert(c))
            .map(|c| self.entry(c).size)
            .sum()
    }

    /// Content bytes of all shadowed entries.
    pub fn shadowed_bytes(&self) -> u64 {
        self.shadowed.iter().map(|s| self.entry(s.loc).size).sum()
    }

    /// What a pull downloads for `layer` (see [`pull_bytes`]).
    pub fn pull_bytes(&self, layer: u32) -> PullBytes {
        let i = layer as usize;
        pull_bytes(self.info.layers.get(i), self.layers.get(i))
    }

    /// The compressed-to-uncompressed ratio of a layer (1.0 for an empty
    /// one); for a layer held uncompressed, the estimated gzip ratio.
    pub fn compression_ratio(&self, layer: u32) -> f64 {
        let l = &self.layers[layer as usize];
        if l.uncompressed_bytes == 0 {
            1.0
        } else {
            self.pull_bytes(layer).bytes as f64 / l.uncompressed_bytes as f64
        }
    }

    /// Estimated compressed bytes of `bytes` uncompressed bytes held in `layer`.
    pub fn estimate_compressed(&self, layer: u32, bytes: u64) -> u64 {
        (bytes as f64 * self.compression_ratio(layer)).round() as u64
    }
}

/// The compressed size of a layer, and whether it is an estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PullBytes {
    /// Bytes.
    pub bytes: u64,
    /// True when the source held the layer uncompressed and `bytes` is what
    /// gzip at its default level (what `docker push` sends) would make of it.
    pub estimated: bool,
}

/// What a pull downloads for one layer: the blob size the source gives,
/// or, where the source holds the layer uncompressed (`docker save`, the
/// Docker engine: [`crate::source::LayerInfo::compressed_bytes`] is
/// `None`), the gzip level 6 estimate from the scanner's sample of the
/// stream (the stream length when there is no sample).
pub fn pull_bytes(
    info: Option<&crate::source::LayerInfo>,
    index: Option<&LayerIndex>,
) -> PullBytes {
    match (info.map(|l| l.compressed_bytes), index) {
        (Some(Some(bytes)), _) => PullBytes {
            bytes,
            estimated: false,
        },
        (Some(None), Some(x)) => PullBytes {
            bytes: x
                .sample
                .filter(|s| s.stream_bytes > 0)
                .map_or(x.uncompressed_bytes, |s| s.estimated_gzip_bytes()),
            estimated: true,
        },
        (Some(None), None) => PullBytes {
            bytes: info.map_or(0, |l| l.blob_bytes),
            estimated: true,
        },
        (None, Some(x)) => PullBytes {
            bytes: x.compressed_bytes,
            estimated: false,
        },
        (None, None) => PullBytes {
            bytes: 0,
            estimated: false,
        },
    }
}

/// A set of entry locations of one image: a bit per entry of each layer,
/// so membership costs no hashing (analyzers test every file).
#[derive(Clone, Debug)]
pub struct LocSet {
    bits: Vec<Vec<u64>>,
}

impl LocSet {
    /// An empty set sized for `image`.
    pub fn new(image: &Image) -> LocSet {
        LocSet {
            bits: image
                .layers
                .iter()
                .map(|l| vec![0; l.entries.len().div_ceil(64)])
                .collect(),
        }
    }

    /// Adds `loc`; whether it was not there yet.
    pub fn insert(&mut self, loc: Loc) -> bool {
        let (word, bit) = (loc.entry as usize / 64, 1u64 << (loc.entry % 64));
        match self
            .bits
            .get_mut(loc.layer as usize)
            .and_then(|l| l.get_mut(word))
        {
            Some(w) if *w & bit == 0 => {
                *w |= bit;
                true
            }
            _ => false,
        }
    }

    /// Whether `loc` is in the set.
    pub fn contains(&self, loc: Loc) -> bool {
        let (word, bit) = (loc.entry as usize / 64, 1u64 << (loc.entry % 64));
        self.bits
            .get(loc.layer as usize)
            .and_then(|l| l.get(word))
            .is_some_and(|w| w & bit != 0)
    }
}

/// Regular-file bytes of one layer (hard links add nothing).
pub fn layer_content_bytes(layer: &LayerIndex) -> u64 {
    layer.entries.iter().map(|e| e.size).sum()
}

/// The layers' own warnings, each with its layer set.
fn layer_warnings(layers: &[LayerIndex]) -> Vec<Warning> {
    let mut out = Vec::new();
    for (i, layer) in layers.iter().enumerate() {
        for w in &layer.warnings {
            let mut w = w.clone();
            w.layer = Some(i as u32);
            out.push(w);
        }
    }
    out
}

fn entry(layers: &[LayerIndex], loc: Loc) -> &Entry {
    &layers[loc.layer as usize].entries[loc.entry as usize]
}

/// Removes everything under `dir` (and `dir` itself when `inclusive`) from
/// the filesystem, recording each removal. `prefix` is scratch space, reused
/// so that the common case (nothing under `dir`) allocates nothing.
#[allow(clippy::too_many_arguments)]
fn remove_under(
    fs: &mut BTreeMap<&[u8], Loc>,
    dir: &[u8],
    inclusive: bool,
    by_layer: u32,
    how: ShadowKind,
    shadowed: &mut Vec<Shadowed>,
    prefix: &mut Vec<u8>,
) {
    if inclusive && let Some(loc) = fs.remove(dir) {
        shadowed.push(Shadowed { loc, by_layer, how });
    }
    prefix.clear();
    prefix.extend_from_slice(dir);
    if !prefix.is_empty() {
        prefix.push(b'/');
    }
    let prefix = prefix.as_slice();
    // Paths under `dir/` sort together right after `dir/` itself.
    let doomed: Vec<&[u8]> = fs
        .range::<[u8], _>((Bound::Included(prefix), Bound::Unbounded))
        .take_while(|(p, _)| prefix.is_empty() || p.starts_with(prefix))
        .map(|(p, _)| *p)
        .collect();
    for p in doomed {
        if let Some(loc) = fs.remove(p) {
            shadowed.push(Shadowed { loc, by_layer, how });
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixture::{self, Item, file, layer, opaque, owned, sized_file, whiteout};

    use crate::scan::{Compression, scan_layer};
    use crate::source::LayerInfo;

    fn build(layers: Vec<fixture::Layer>) -> Image {
        let indexes: Vec<LayerIndex> = layers
            .iter()
            .map(|l| {
                let blob = l.blob(Compression::None);
                let li =
                    LayerInfo::blob(crate::Digest::from_sha256(&sha(&blob)), blob.len() as u64);
                scan_layer(blob.as_slice(), &li, crate::scan::Verify::DiffIds).unwrap()
            })
            .collect();
        let image_info = crate::source::ImageInfo {
            reference: "test".into(),
            manifest_digest: None,
            platform: Default::default(),
            config: Default::default(),
            layers: Vec::new(),
            warnings: Vec::new(),
        };
        Image::build(image_info, indexes)
    }

    #[test]
    fn find_and_find_sorted_agree_with_the_final_filesystem() {
        let names: Vec<String> = (0..300).map(|i| format!("p{}/m{i:03}.py", i % 7)).collect();
        let img = build(vec![
            layer(names.iter().map(|n| file(n, b"x")).collect()),
            layer(vec![whiteout("p3")]),
        ]);
        let mut wanted: Vec<String> = names.clone();
        wanted.extend(["a", "p3/m003.py", "p9/x", "zz"].map(String::from));
        wanted.sort();
        wanted.dedup();
        let expect: Vec<Loc> = wanted
            .iter()
            .filter_map(|p| img.find(p.as_bytes()))
            .collect();
        assert_eq!(img.find_sorted(&wanted), expect);
        // The whiteout removed p3/: 300 files, 43 of them under p3.
        assert_eq!(expect.len(), 300 - 43);
        assert!(img.find(b"p3/m003.py").is_none());
        assert!(img.find(b"p1/m001.py").is_some());
    }

    fn sha(data: &[u8]) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(data).into()
    }

    fn chowned(path: &str, size: usize, seed: u64) -> Item {
        owned(sized_file(path, size, seed), 1000)
    }

    #[test]
    fn whiteouts_opaque_dirs_rewrites_and_replacements_are_exact() {
        let image = build(vec![
            layer(vec![
                sized_file("wheels/a.whl", 1000, 1),
                sized_file("wheels/sub/b.whl", 300, 2),
                sized_file("opt/x/old", 70, 3),
                sized_file("etc/conf", 50, 4),
                sized_file("site/pkg/m.py", 400, 5),
                sized_file("site/pkg/n.py", 600, 6),
                sized_file("dup", 10, 7),
                sized_file("dup", 11, 8),
            ]),
            layer(vec![
                whiteout("wheels"),
                opaque("opt/x"),
                sized_file("opt/x/new", 20, 9),
                sized_file("etc/conf", 55, 10),
                chowned("site/pkg/m.py", 400, 5),
                chowned("site/pkg/n.py", 600, 6),
                file("site/app.py", b""),
            ]),
        ]);
        let kinds = |how: ShadowKind| -> u64 {
            image
                .shadowed
                .iter()
                .filter(|s| s.how == how)
                .map(|s| image.entry(s.loc).size)
                .sum()
        };
        // rm -rf wheels (1300) + opaque opt/x (70); conf replaced (50) and
        // the first `dup` of layer 0 (10); chown -R over 1000 bytes.
        assert_eq!(kinds(ShadowKind::Deleted), 1300 + 70);
        assert_eq!(kinds(ShadowKind::Replaced), 50 + 10);
        assert_eq!(kinds(ShadowKind::MetadataOnly), 1000);
        assert_eq!(image.shadowed_bytes(), 1300 + 70 + 60 + 1000);
        assert_eq!(image.final_bytes(), 11 + 20 + 55 + 1000);
        let paths: Vec<String> = image
            .final_entries()
            .map(|(_, e)| e.path.to_string())
            .collect();
        assert!(paths.contains(&"/site/app.py".to_string()));
        assert!(!paths.iter().any(|p| p.starts_with("/wheels")));
    }
}
