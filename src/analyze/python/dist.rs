//! One distribution from its metadata directory: name, version, layer,
//! installer, and its files from the first source that lists them: `RECORD`,
//! `installed-files.txt`, conda's record, the system package manager's file
//! lists (Debian's egg-info: the owning package, its `-lib` split and the
//! bytecode `py3compile` wrote), `top_level.txt`, or the metadata directory
//! alone.

use std::collections::{HashMap, HashSet};

use super::meta::{RsplitOnce, header, normalize_name, record_paths, resolve};
use super::{Distribution, MetaFiles, files_under, text};
use crate::model::{Image, Loc};
use crate::packages::{Database, Package};
use crate::scan::EntryKind;

/// What every distribution of an image is read against.
pub(super) struct Context<'a> {
    pub image: &'a Image,
    pub captured: &'a HashMap<Loc, &'a [u8]>,
    /// conda records: (prefix, normalised name) -> files.
    pub conda: &'a HashMap<(Vec<u8>, String), Vec<Vec<u8>>>,
    pub packages: Option<&'a Database>,
}

/// A distribution's file paths and where they came from.
struct Listed {
    from: &'static str,
    paths: Vec<Vec<u8>>,
    system_packages: Vec<String>,
}

impl Context<'_> {
    fn meta_text(&self, meta: &MetaFiles, name: &str) -> Option<String> {
        text(meta.get(name.as_bytes()).map(|l| &self.captured[l]))
    }

    /// The distribution whose metadata directory is `dir` in `env`.
    pub(super) fn distribution(&self, env: &[u8], dir: &[u8], meta: &MetaFiles) -> Distribution {
        let image = self.image;
        let dir_name = dir.rsplit(|&b| b == b'/').next().unwrap_or(dir);
        let stem =
            String::from_utf8_lossy(dir_name.rsplit_once_str(b'.').map_or(dir_name, |(a, _)| a))
                .into_owned();
        let meta_text = self
            .meta_text(meta, "METADATA")
            .or_else(|| self.meta_text(meta, "PKG-INFO"));
        let (fallback_name, fallback_version) = match stem.split_once('-') {
            Some((n, v)) => (n.to_owned(), v.split('-').next().unwrap_or(v).to_owned()),
            None => (stem.clone(), String::new()),
        };
        let name = meta_text
            .as_deref()
            .and_then(|t| header(t, "Name"))
            .unwrap_or(fallback_name);
        let version = meta_text
            .as_deref()
            .and_then(|t| header(t, "Version"))
            .unwrap_or(fallback_version);
        let layer = meta
            .get(b"METADATA".as_slice())
            .or_else(|| meta.get(b"PKG-INFO".as_slice()))
            .or_else(|| meta.values().min())
            .map_or(0, |l| l.layer);
        let installer = self
            .meta_text(meta, "INSTALLER")
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());

        let Listed {
            from,
            mut paths,
            system_packages,
        } = self.listed(env, dir, meta, &name);
        paths.sort_unstable();
        paths.dedup();
        let mut locs: Vec<Loc> = image
            .find_sorted(&paths)
            .into_iter()
            .filter(|&loc| image.entry(loc).kind == EntryKind::File)
            .collect();
        // Distinct paths, so distinct locations.
        locs.sort_unstable();
        Distribution {
            name,
            version,
            bytes: locs.iter().map(|&l| image.entry(l).size).sum(),
            files: locs.len() as u64,
            layer,
            metadata: String::from_utf8_lossy(dir).into_owned(),
            files_from: from.to_owned(),
            system_packages,
            installer,
            locs,
        }
    }

    /// The paths a distribution's metadata (or its system package) lists.
    fn listed(&self, env: &[u8], dir: &[u8], meta: &MetaFiles, name: &str) -> Listed {
        let image = self.image;
        let mut paths: Vec<Vec<u8>> = Vec::new();
        let listed = |from, paths| Listed {
            from,
            paths,
            system_packages: Vec::new(),
        };
        if let Some(record) = self.meta_text(meta, "RECORD") {
            for p in record_paths(&record) {
                if let Some(full) = resolve(env, p.as_bytes()) {
                    paths.push(full);
                }
            }
            return listed("RECORD", paths);
        }
        if let Some(list) = self.meta_text(meta, "installed-files.txt") {
            for line in list.lines().filter(|l| !l.trim().is_empty()) {
                if let Some(full) = resolve(dir, line.as_bytes()) {
                    paths.push(full);
                }
            }
            return listed("installed-files.txt", paths);
        }
        if let Some(files) = self
            .conda
            .iter()
            .find(|((prefix, n), _)| {
                *n == normalize_name(name)
                    && env.starts_with(prefix)
                    && env.get(prefix.len()) == Some(&b'/')
            })
            .map(|(_, files)| files)
        {
            return listed("conda-meta", files.clone());
        }
        if let Some(found) = self.system_package_files(dir) {
            return found;
        }
        let dir_files = files_under(image, dir)
            .iter()
            .map(|&l| image.entry(l).path.as_bytes().to_vec());
        if let Some(tops) = self.meta_text(meta, "top_level.txt") {
            for top in tops
                .lines()
                .map(str::trim)
                .filter(|t| !t.is_empty() && !t.contains(".."))
            {
                let pkg = resolve(env, top.as_bytes()).unwrap_or_default();
                paths.extend(
                    files_under(image, &pkg)
                        .iter()
                        .map(|&l| image.entry(l).path.as_bytes().to_vec()),
                );
                // Single-module distributions and extension modules: `top.py`, `top.cpython-311-....so`.
                let mut prefix = pkg.clone();
                prefix.push(b'.');
                paths.extend(
                    files_under(image, env)
                        .iter()
                        .map(|&l| image.entry(l).path.as_bytes())
                        .filter(|p| p.starts_with(&prefix) && !p[prefix.len()..].contains(&b'/'))
                        .map(<[u8]>::to_vec),
                );
            }
            paths.extend(dir_files);
            return listed("top_level.txt", paths);
        }
        paths.extend(dir_files);
        if let Some(l) = image.find(dir) {
            paths.push(image.entry(l).path.as_bytes().to_vec());
        }
        listed("none", paths)
    }

    /// For metadata the system package manager installed: the files of the
    /// package that owns `dir` and of its `-lib` split, plus the bytecode
    /// next to their `.py` files (`py3compile` writes it after install).
    fn system_package_files(&self, dir: &[u8]) -> Option<Listed> {
        let db = self.packages?;
        let owner = db.owner_of(dir).or_else(|| {
            let first = files_under(self.image, dir).first()?;
            db.owner_of(self.image.entry(*first).path.as_bytes())
        })?;
        let mut pkgs: Vec<&Package> = vec![owner];
        if let Some(lib) = db.get(&format!("{}-lib", owner.name)) {
            pkgs.push(lib);
        }
        let mut paths: Vec<Vec<u8>> = Vec::new();
        for p in &pkgs {
            paths.extend(
                p.files
                    .iter()
                    .map(|&l| self.image.entry(l).path.as_bytes().to_vec()),
            );
        }
        paths.extend(bytecode_of(self.image, &paths));
        Some(Listed {
            from: "dpkg",
            paths,
            system_packages: pkgs.iter().map(|p| p.name.clone()).collect(),
        })
    }
}

/// The `__pycache__/MODULE.*.pyc` files of the final filesystem that belong
/// to the `.py` files among `paths`.
fn bytecode_of(image: &Image, paths: &[Vec<u8>]) -> Vec<Vec<u8>> {
    // directory -> module names with a `.py` there
    let mut modules: HashMap<&[u8], HashSet<&[u8]>> = HashMap::new();
    for p in paths {
        if let Some(stem) = p.strip_suffix(b".py") {
            let i = stem.iter().rposition(|&b| b == b'/').map_or(0, |i| i + 1);
            let dir = if i == 0 { &stem[..0] } else { &stem[..i - 1] };
            modules.entry(dir).or_default().insert(&stem[i..]);
        }
    }
    let mut out = Vec::new();
    for (dir, mods) in modules {
        let mut cache = dir.to_vec();
        cache.extend_from_slice(b"/__pycache__");
        for &l in files_under(image, &cache) {
            let path = image.entry(l).path.as_bytes();
            let name = image.entry(l).path.file_name();
            if path.len() == cache.len() + 1 + name.len()
                && name.ends_with(b".pyc")
                && let Some(module) = name.split(|&b| b == b'.').next()
                && mods.contains(module)
            {
                out.push(path.to_vec());
            }
        }
    }
    out
}
