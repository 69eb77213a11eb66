//! System package databases: which packages dpkg (Debian, Ubuntu), apk
//! (Alpine) or rpm (Fedora, RHEL, SUSE) installed, with the layer that
//! installed each, its files and their bytes in the final filesystem, and
//! why it is there (asked for, a dependency, or only a recommendation).
//!
//! Everything is read from files the scanner captured (see
//! [`crate::scan::capture`]): dpkg's `status`, `status.d/*` and
//! `info/*.list`, apt's `extended_states`, apk's `installed` and `world`,
//! rpm's `rpmdb.sqlite` (BerkeleyDB and ndb rpm databases are only
//! detected).
//!
//! A package's bytes are those of its listed paths that are regular files
//! of the final filesystem, each file counted for one package only (the
//! first by name when two packages list it), so the packages' bytes sum to
//! the bytes of the files the package manager owns. Listed paths are
//! resolved through directory symlinks (`/lib` -> `usr/lib` on merged-/usr
//! systems). The installing layer is the lowest layer from which on every
//! layer's copy of the database lists the package at its final version.

pub mod apk;
mod category;
pub mod dpkg;
pub mod rpm;
mod sqlite;

pub use category::category;

use std::collections::{HashMap, HashSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::model::{Image, Loc, LocSet};
use crate::scan::EntryKind;

/// Which package manager an image uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// Debian, Ubuntu and derivatives.
    Dpkg,
    /// Alpine.
    Apk,
    /// Fedora, RHEL, SUSE, Amazon Linux (read from `rpmdb.sqlite`; an
    /// older BerkeleyDB or ndb database is detected, with no packages).
    Rpm,
    /// No package database found.
    #[default]
    None,
}

/// Why a package is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reason {
    /// Installed by name (not marked automatic: the base system, or named in
    /// `apt-get install` / apk's `world`).
    Requested,
    /// Needed (`Depends`, `Pre-Depends`) by a requested package, directly or
    /// through other dependencies.
    Dependency,
    /// Only there because something recommended it (`Recommends`, directly
    /// or as a dependency of a recommended package): what
    /// `--no-install-recommends` would not have installed.
    Recommended,
}

/// One installed package.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Package {
    /// Package name (`libc6`).
    pub name: String,
    /// Architecture (`amd64`, `all`), when recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// Version string as recorded.
    pub version: String,
    /// The layer that installed it (at this version).
    pub layer: u32,
    /// Bytes of its files in the final filesystem.
    pub bytes: u64,
    /// What the package declares it occupies, in bytes (dpkg's
    /// `Installed-Size` is KiB; apk's `I:` bytes).
    pub installed_size: u64,
    /// Why it is installed.
    pub reason: Reason,
    /// The archive section (`libs`, `devel`, `python`, `doc`, ...).
    pub section: String,
    /// Its source package, when different from its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// `Depends` and `Pre-Depends`: each item a group of alternatives
    /// (`a | b`), names only (no versions or architecture qualifiers).
    #[serde(skip)]
    pub depends: Vec<Vec<String>>,
    /// `Recommends`, as [`Package::depends`].
    #[serde(skip)]
    pub recommends: Vec<Vec<String>>,
    /// Virtual packages it provides.
    #[serde(skip)]
    pub provides: Vec<String>,
    /// Whether dpkg calls it `Essential: yes` or `Priority: required`.
    #[serde(skip)]
    pub essential: bool,
    /// The regular files counted in [`Package::bytes`], by path.
    #[serde(skip)]
    pub files: Vec<Loc>,
    /// Every path it lists that exists in the final filesystem (files,
    /// symlinks, directories), as found there (symlinked directories
    /// resolved), without a leading `/`, sorted.
    #[serde(skip)]
    pub paths: Vec<Vec<u8>>,
}

impl Package {
    /// Whether the name says `-dev`, `-doc`, a compiler or a toolchain
    /// package; a coarse grouping for reports ("toolchain", "dev", "docs",
    /// "library", "python", "other").
    pub fn category(&self) -> &'static str {
        category(&self.name, &self.section)
    }
}

/// The packages of an image's package manager.
#[derive(Clone, Debug, Default)]
pub struct Database {
    /// Which manager.
    pub manager: Manager,
    /// Installed packages, by name (then architecture).
    pub packages: Vec<Package>,
    /// Final-filesystem path (no leading `/`) -> index in `packages`: every
    /// listed path, as listed and as resolved.
    owners: HashMap<Vec<u8>, u32>,
    /// Package name (and `name:arch`) -> index.
    by_name: HashMap<String, u32>,
}

impl Database {
    /// Reads the image's package database: dpkg, apk or rpm's sqlite one;
    /// for another rpm database only the manager, with no packages. `None`
    /// when there is none.
    pub fn read(image: &Image) -> Option<Database> {
        if let Some(db) = dpkg::read(image) {
            return Some(db);
        }
        if let Some(db) = apk::read(image) {
            return Some(db);
        }
        if let Some(db) = rpm::read(image) {
            return Some(db);
        }
        detect_rpm(image).then(|| Database {
            manager: Manager::Rpm,
            ..Database::default()
        })
    }

    /// The package that owns `path` (with or without a leading `/`; as
    /// listed, or as found in the final filesystem through symlinked
    /// directories).
    pub fn owner_of(&self, path: impl AsRef<[u8]>) -> Option<&Package> {
        let p = path.as_ref();
        let p = p.strip_prefix(b"/").unwrap_or(p);
        self.owners
            .get(p)
            .and_then(|&i| self.packages.get(i as usize))
    }

    /// The package called `name` (or `name:arch`).
    pub fn get(&self, name: &str) -> Option<&Package> {
        self.by_name
            .get(name)
            .and_then(|&i| self.packages.get(i as usize))
    }

    /// The packages that hold a file named `soname` (`libgomp.so.1`) in a
    /// library directory (`lib`, `lib64`, `usr/lib`, ..., and their
    /// multiarch subdirectories): what a binary linked against it needs at
    /// run time.
    pub fn providers_of_soname(&self, soname: &str) -> Vec<&Package> {
        let mut found: Vec<u32> = self
            .owners
            .iter()
            .filter(|(p, _)| {
                let (dir, name) = match p.iter().rposition(|&b| b == b'/') {
                    Some(i) => (&p[..i], &p[i + 1..]),
                    None => (&p[..0], &p[..]),
                };
                name == soname.as_bytes() && is_lib_dir(dir)
            })
            .map(|(_, &i)| i)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
            .into_iter()
            .filter_map(|i| self.packages.get(i as usize))
            .collect()
    }

    /// The packages only a recommendation brought in.
    pub fn recommended(&self) -> impl Iterator<Item = &Package> {
        self.packages
            .iter()
            .filter(|p| p.reason == Reason::Recommended)
    }

    /// Bytes of every package's files (each file once): the bytes the
    /// package manager owns in the final filesystem.
    pub fn bytes(&self) -> u64 {
        self.packages.iter().map(|p| p.bytes).sum()
    }

    /// Builds the database from parsed packages: resolves their listed
    /// paths against the final filesystem, counts bytes, indexes names and
    /// paths. `listed[i]` are package `i`'s paths as the database wrote
    /// them.
    pub(crate) fn assemble(
        image: &Image,
        manager: Manager,
        mut packages: Vec<Package>,
        listed: Vec<Vec<Vec<u8>>>,
    ) -> Database {
        let mut owners: HashMap<Vec<u8>, u32> = HashMap::new();
        let mut counted = LocSet::new(image);
        let resolver = Resolver { image };
        for (i, (pkg, paths)) in packages.iter_mut().zip(listed).enumerate() {
            let mut found = Vec::new();
            let mut files = Vec::new();
            for raw in paths {
                let rel = raw.strip_prefix(b"/").unwrap_or(&raw).to_vec();
                if rel.is_empty() {
                    continue;
                }
                let loc = resolver.find(&rel);
                if let Some(loc) = loc {
                    let e = image.entry(loc);
                    if e.path.as_bytes() != rel.as_slice() {
                        owners.entry(e.path.as_bytes().to_vec()).or_insert(i as u32);
                    }
                    found.push(e.path.as_bytes().to_vec());
                    if e.kind == EntryKind::File && counted.insert(loc) {
                        files.push(loc);
                    }
                }
                owners.entry(rel).or_insert(i as u32);
            }
            found.sort_unstable();
            found.dedup();
            files.sort_unstable_by(|&a, &b| {
                image
                    .entry(a)
                    .path
                    .as_bytes()
                    .cmp(image.entry(b).path.as_bytes())
            });
            pkg.bytes = files.iter().map(|&l| image.entry(l).size).sum();
            pkg.files = files;
            pkg.paths = found;
        }
        let mut by_name = HashMap::new();
        for (i, p) in packages.iter().enumerate() {
            by_name.entry(p.name.clone()).or_insert(i as u32);
            if !p.arch.is_empty() {
                by_name.insert(format!("{}:{}", p.name, p.arch), i as u32);
            }
        }
        Database {
            manager,
            packages,
            owners,
            by_name,
        }
    }
}

/// Whether a directory (no leading `/`) is where the dynamic linker looks.
fn is_lib_dir(dir: &[u8]) -> bool {
    let d = dir.strip_prefix(b"usr/").unwrap_or(dir);
    let d = d.strip_prefix(b"local/").unwrap_or(d);
    let top = d.split(|&b| b == b'/').next().unwrap_or(d);
    matches!(top, b"lib" | b"lib64" | b"lib32" | b"libx32")
        && d.iter().filter(|&&b| b == b'/').count() <= 1
}

/// Finds listed paths in the final filesystem, following symlinked
/// directories (`lib` -> `usr/lib`), never the last component.
struct Resolver<'a> {
    image: &'a Image,
}

impl Resolver<'_> {
    fn find(&self, path: &[u8]) -> Option<Loc> {
        if let Some(loc) = self.image.find(path) {
            return Some(loc);
        }
        let mut path = path.to_vec();
        // Each hop replaces one symlinked directory; loops end here.
        for _ in 0..16 {
            let mut next = None;
            for (i, _) in path.iter().enumerate().filter(|&(_, &b)| b == b'/') {
                let prefix = &path[..i];
                let loc = self.image.find(prefix)?;
                let e = self.image.entry(loc);
                if e.kind == EntryKind::Symlink {
                    let target = e.link.as_ref()?.as_bytes();
                    let mut joined = self.link_target(prefix, target)?;
                    joined.extend_from_slice(&path[i..]);
                    next = Some(joined);
                    break;
                }
            }
            path = next?;
            if let Some(loc) = self.image.find(&path) {
                return Some(loc);
            }
        }
        None
    }

    /// Where the symlink at `at` pointing to `target` leads. The scanner
    /// keeps targets without their leading `/`, so a target is taken
    /// relative to the link's directory when that exists, else from the root.
    fn link_target(&self, at: &[u8], target: &[u8]) -> Option<Vec<u8>> {
        let parent = crate::scan::EntryPath::parent_of(at);
        if !parent.is_empty()
            && let Some(rel) = crate::scan::path::resolve(parent, target)
            && self.image.find(&rel).is_some()
        {
            return Some(rel);
        }
        crate::scan::path::resolve(&[], target)
    }
}

/// Whether the image has an rpm database.
fn detect_rpm(image: &Image) -> bool {
    [
        "var/lib/rpm/rpmdb.sqlite",
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages.db",
        "usr/lib/sysimage/rpm/rpmdb.sqlite",
        "usr/lib/sysimage/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages.db",
    ]
    .iter()
    .any(|p| image.find(p.as_bytes()).is_some())
}

/// The captured contents of the file at `loc`, if the scanner kept them.
pub(crate) fn captured_at(image: &Image, loc: Loc) -> Option<&[u8]> {
    let layer = image.layers.get(loc.layer as usize)?;
    let i = layer
        .captured
        .binary_search_by_key(&loc.entry, |c| c.entry)
        .ok()?;
    Some(layer.captured[i].data.as_slice())
}

/// Every layer's captured copy of the file at `path`, bottom first, with
/// its layer (the copies a later layer shadowed included).
pub(crate) fn copies_of<'a>(image: &'a Image, path: &[u8]) -> Vec<(u32, &'a [u8])> {
    let mut out = Vec::new();
    for (li, layer) in image.layers.iter().enumerate() {
        // The last entry at the path wins within a layer.
        if let Some(c) = layer.captured.iter().rev().find(|c| {
            layer
                .entries
                .get(c.entry as usize)
                .is_some_and(|e| e.path.as_bytes() == path)
        }) {
            out.push((li as u32, c.data.as_slice()));
        }
    }
    out
}

/// Sets every package's [`Reason`]: packages not in `auto` (or every
/// package, when `auto` is `None`: no record of automatic installs) are
/// requested; automatic ones reachable from them through dependencies are
/// dependencies; those reachable only through a recommendation are
/// recommended; automatic packages nothing reaches count as dependencies.
pub(crate) fn set_reasons(packages: &mut [Package], auto: Option<&HashSet<String>>) {
    let mut provider: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, p) in packages.iter().enumerate() {
        provider.entry(p.name.as_str()).or_default().push(i);
        for v in &p.provides {
            provider.entry(v.as_str()).or_default().push(i);
        }
    }
    let is_auto = |p: &Package| {
        auto.is_some_and(|a| a.contains(&p.name) || a.contains(&format!("{}:{}", p.name, p.arch)))
    };
    let roots: Vec<usize> = (0..packages.len())
        .filter(|&i| !is_auto(&packages[i]) || packages[i].essential)
        .collect();
    let closure = |with_recommends: bool| -> Vec<bool> {
        let mut seen = vec![false; packages.len()];
        let mut queue: VecDeque<usize> = roots.iter().copied().collect();
        for &r in &roots {
            seen[r] = true;
        }
        while let Some(i) = queue.pop_front() {
            let p = &packages[i];
            let groups = p
                .depends
                .iter()
                .chain(p.recommends.iter().filter(|_| with_recommends));
            for group in groups {
                // One alternative satisfies the group: one already in,
                // else the first installed.
                let cands: Vec<usize> = group
                    .iter()
                    .filter_map(|n| provider.get(n.as_str()))
                    .flatten()
                    .copied()
                    .collect();
                if cands.iter().any(|&c| seen[c]) {
                    continue;
                }
                if let Some(&c) = cands.first() {
                    seen[c] = true;
                    queue.push_back(c);
                }
            }
        }
        seen
    };
    let needed = closure(false);
    let wanted = closure(true);
    for (i, p) in packages.iter_mut().enumerate() {
        p.reason = if !is_auto(p) {
            Reason::Requested
        } else if needed[i] || !wanted[i] {
            Reason::Dependency
        } else {
            Reason::Recommended
        };
    }
}

/// Parses a dependency field (`a (>= 1) | b:any, c [amd64]`) into groups
/// of alternative names.
pub(crate) fn parse_relations(field: &str) -> Vec<Vec<String>> {
    field
        .split(',')
        .map(|group| {
            group
                .split('|')
                .filter_map(|alt| {
                    let name = alt
                        .trim()
                        .split(|c: char| c.is_whitespace() || c == '(' || c == '[' || c == '<')
                        .next()?;
                    let name = name.split(':').next()?;
                    (!name.is_empty()).then(|| name.to_owned())
                })
                .collect::<Vec<_>>()
        })
        .filter(|g| !g.is_empty())
        .collect()
}

/// [`installing_layers`] of the database at `path`: every layer's captured
/// copy of it, read by `versions` into its `(name, version)` pairs.
pub(crate) fn installing_layers_of(
    image: &Image,
    path: &[u8],
    versions: impl Fn(&[u8]) -> HashMap<String, String>,
) -> HashMap<String, u32> {
    let copies: Vec<(u32, HashMap<String, String>)> = copies_of(image, path)
        .into_iter()
        .map(|(layer, data)| (layer, versions(data)))
        .collect();
    installing_layers(&copies)
}

/// The installing layer of each `(name, version)` of the final database:
/// the lowest layer from which on every copy of the database (`copies`,
/// bottom first, each parsed to its `(name, version)` pairs) lists it at
/// that version. Copies that fail to parse are skipped.
pub(crate) fn installing_layers(copies: &[(u32, HashMap<String, String>)]) -> HashMap<String, u32> {
    let mut since: HashMap<String, (u32, String)> = HashMap::new();
    for (layer, pkgs) in copies {
        since.retain(|name, (_, v)| pkgs.get(name) == Some(v));
        for (name, version) in pkgs {
            since
                .entry(name.clone())
                .or_insert_with(|| (*layer, version.clone()));
        }
    }
    since.into_iter().map(|(n, (l, _))| (n, l)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pkg(name: &str, depends: &str, recommends: &str) -> Package {
        Package {
            name: name.into(),
            arch: "amd64".into(),
            version: "1".into(),
            layer: 0,
            bytes: 0,
            installed_size: 0,
            reason: Reason::Requested,
            section: String::new(),
            source: None,
            depends: parse_relations(depends),
            recommends: parse_relations(recommends),
            provides: Vec::new(),
            essential: false,
            files: Vec::new(),
            paths: Vec::new(),
        }
    }

    #[test]
    fn relations_and_reasons() {
        assert_eq!(
            parse_relations("libc6 (>= 2.34), python3:any | python3-minimal [amd64], "),
            vec![
                vec!["libc6".to_owned()],
                vec!["python3".to_owned(), "python3-minimal".to_owned()]
            ]
        );
        let mut pkgs = vec![
            pkg("app", "liba, mta", "rec"),
            pkg("liba", "libb", ""),
            pkg("libb", "", ""),
            pkg("rec", "recdep", "librec2"),
            pkg("recdep", "liba", ""),
            pkg("librec2", "", ""),
            pkg("orphan", "", ""),
            pkg("postfix", "", ""),
        ];
        pkgs[7].provides = vec!["mta".into()];
        let auto: HashSet<String> = [
            "liba", "libb", "rec", "recdep", "librec2", "orphan", "postfix",
        ]
        .map(String::from)
        .into();
        set_reasons(&mut pkgs, Some(&auto));
        let r: Vec<Reason> = pkgs.iter().map(|p| p.reason).collect();
        use Reason::*;
        assert_eq!(
            r,
            [
                Requested,
                Dependency,
                Dependency,
                Recommended,
                Recommended,
                Recommended,
                Dependency,
                Dependency
            ]
        );
        set_reasons(&mut pkgs, None);
        assert!(pkgs.iter().all(|p| p.reason == Requested));
    }

    #[test]
    fn installing_layer_is_where_the_final_version_stays_from() {
        let v = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let layers = installing_layers(&[
            (0, v(&[("a", "1"), ("b", "1")])),
            (2, v(&[("a", "1"), ("b", "2"), ("c", "1")])),
            (3, v(&[("a", "1"), ("b", "2")])),
            (5, v(&[("a", "1"), ("b", "2"), ("c", "1")])),
        ]);
        assert_eq!(layers["a"], 0);
        assert_eq!(layers["b"], 2);
        assert_eq!(layers["c"], 5);
    }

    #[test]
    fn categories() {
        assert_eq!(category("gcc-12", "devel"), "toolchain");
        assert_eq!(category("libpython3.11-dev", "libdevel"), "dev");
        assert_eq!(category("python3-numpy", "python"), "python");
        assert_eq!(category("libopenblas0-pthread", "libs"), "library");
        assert_eq!(category("libc6-doc", "doc"), "docs");
        assert_eq!(category("make", "devel"), "toolchain");
        assert_eq!(category("bash", "shells"), "other");
        assert!(is_lib_dir(b"usr/lib/x86_64-linux-gnu"));
        assert!(is_lib_dir(b"lib"));
        assert!(!is_lib_dir(b"usr/lib/python3/dist-packages/numpy"));
    }
}
