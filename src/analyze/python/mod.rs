//! Python environments and distributions (see "Python and ML semantics" in
//! DESIGN.md): bytes per distribution, duplicated distributions and native
//! libraries, GPU libraries.
//!
//! An environment is any `site-packages` / `dist-packages` directory of the
//! final filesystem. Its distributions come from the metadata the scanner
//! captured: `*.dist-info` (`METADATA`, `RECORD`), `*.egg-info` (`PKG-INFO`,
//! `installed-files.txt`, whose paths are relative to the egg-info
//! directory), conda's `conda-meta/*.json` when the metadata lists no
//! files, and for distro packages without a file list (Debian's
//! egg-info directories) dpkg's file lists of the owning package and its
//! `-lib` split plus the bytecode `py3compile` wrote for them (see
//! [`dist`]), or without a dpkg database `top_level.txt`, which names the
//! packages the distribution owns. A distribution's bytes are those of its listed files
//! that are regular files of the final filesystem, each path counted once —
//! what `importlib.metadata` would find on the unpacked filesystem.
//!
//! How findings count bytes: `duplicate-distribution` takes the losing
//! copies' files; `duplicate-native-library` counts the extra *different*
//! builds of a library, every copy named whoever installed it, and says
//! which of them `duplicate-distribution` counts too (byte-identical extra
//! copies are left to `duplicate-content`); `gpu-libraries` takes the CUDA
//! files neither took. [`findings`] hands these files to the bloat
//! analyzer, which then skips them.

mod dist;
mod duplicates;
mod meta;
mod native;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::model::{Image, Loc, LocSet};
use crate::packages::Database;
use crate::scan::EntryKind;

pub use meta::normalize_name;
use meta::python_version;
use meta::resolve;

/// The `python` object of the report.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PythonReport {
    /// Every `site-packages` / `dist-packages` of the final filesystem.
    pub environments: Vec<Environment>,
}

/// One environment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Environment {
    /// `/usr/local/lib/python3.11/site-packages`.
    pub path: String,
    /// The Python version, when known (`3.11`).
    pub python: Option<String>,
    /// Distributions, largest first.
    pub distributions: Vec<Distribution>,
    /// Bytes of files in the environment that no distribution claims.
    pub unclaimed_bytes: u64,
    /// How many such files.
    pub unclaimed_files: u64,
}

/// One installed distribution.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Distribution {
    /// Name as in METADATA.
    pub name: String,
    /// Version as in METADATA.
    pub version: String,
    /// Bytes of its files as found in the final filesystem.
    pub bytes: u64,
    /// How many of its files are in the final filesystem.
    pub files: u64,
    /// The layer that installed it (holds its metadata).
    pub layer: u32,
    /// Its metadata directory (`.../numpy-2.2.6.dist-info`).
    #[serde(default)]
    pub metadata: String,
    /// Where its file list came from: `RECORD`, `installed-files.txt`,
    /// `conda-meta` (conda's record of the package), `dpkg` (the owning
    /// Debian packages' file lists), `top_level.txt` (the named packages'
    /// directories) or `none`.
    #[serde(default)]
    pub files_from: String,
    /// For a distribution sized from the system package manager: the
    /// packages whose files it is (`python3-pandas`, `python3-pandas-lib`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_packages: Vec<String>,
    /// The installer (`pip`, `uv`, `conda`, `debian` ...), when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub installer: Option<String>,
    /// Its files in the final filesystem (for the analyzers, not reported).
    #[serde(skip)]
    pub locs: Vec<Loc>,
}

/// The captured contents of final-filesystem files, by location.
fn captured(image: &Image) -> HashMap<Loc, &[u8]> {
    let mut map = HashMap::new();
    for (li, layer) in image.layers.iter().enumerate() {
        for c in &layer.captured {
            map.insert(
                Loc {
                    layer: li as u32,
                    entry: c.entry,
                },
                c.data.as_slice(),
            );
        }
    }
    map
}

/// Whether a path component names an environment directory.
fn is_env_name(c: &[u8]) -> bool {
    c == b"site-packages" || c == b"dist-packages"
}

/// The environment `path` lies in (the prefix up to its first
/// `site-packages` / `dist-packages` component), if any.
pub(crate) fn env_of(path: &[u8]) -> Option<&[u8]> {
    let mut at = 0;
    for c in path.split(|&b| b == b'/') {
        let end = at + c.len();
        if is_env_name(c) {
            return Some(&path[..end]);
        }
        at = end + 1;
    }
    None
}

/// The final-filesystem locations of regular files under `dir`.
pub(crate) fn files_under<'a>(image: &'a Image, dir: &[u8]) -> &'a [Loc] {
    let mut lo = dir.to_vec();
    lo.push(b'/');
    let mut hi = dir.to_vec();
    hi.push(b'/' + 1);
    let a = image
        .files
        .partition_point(|&l| image.entry(l).path.as_bytes() < lo.as_slice());
    let b = image
        .files
        .partition_point(|&l| image.entry(l).path.as_bytes() < hi.as_slice());
    &image.files[a..b.max(a)]
}

fn text(data: Option<&&[u8]>) -> Option<String> {
    data.map(|d| String::from_utf8_lossy(d).into_owned())
}

/// The fields of a `conda-meta/*.json` record that matter here.
#[derive(Deserialize)]
struct CondaRecord {
    name: String,
    #[serde(default)]
    files: Vec<String>,
}

/// The captured metadata files of one distribution directory, by name.
type MetaFiles = HashMap<Vec<u8>, Loc>;

/// Finds the environments and distributions of the final filesystem.
/// `packages`: the system package database, which sizes distributions
/// whose metadata lists no files.
pub fn report(image: &Image, packages: Option<&Database>) -> PythonReport {
    let captured = captured(image);
    let is_file = |loc: Loc| image.entry(loc).kind == EntryKind::File;

    // conda's records: `PREFIX/conda-meta/NAME-VERSION-BUILD.json` lists the
    // package's files relative to PREFIX.
    let mut conda: HashMap<(Vec<u8>, String), Vec<Vec<u8>>> = HashMap::new();
    for (loc, e) in image.final_entries() {
        let parent = e.path.parent();
        let Some(prefix) = parent.strip_suffix(b"/conda-meta".as_slice()) else {
            continue;
        };
        let Some(data) = captured.get(&loc) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<CondaRecord>(data) else {
            continue;
        };
        let files = record
            .files
            .iter()
            .filter_map(|f| resolve(prefix, f.as_bytes()))
            .collect();
        conda.insert((prefix.to_vec(), normalize_name(&record.name)), files);
    }

    // Environments, and the metadata files of each distribution directory.
    let mut envs: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, MetaFiles>> = BTreeMap::new();
    for (loc, e) in image.final_entries() {
        let path = e.path.as_bytes();
        let Some(env) = env_of(path) else { continue };
        // Most files of an environment are not metadata: no key allocated.
        if !envs.contains_key(env) {
            envs.insert(env.to_vec(), BTreeMap::new());
        }
        if !captured.contains_key(&loc) {
            continue;
        }
        let Some(dists) = envs.get_mut(env) else {
            continue;
        };
        let parent = e.path.parent();
        let name = e.path.file_name();
        if let Some(i) = parent.iter().rposition(|&b| b == b'/')
            && &parent[..i] == env
        {
            let dir_name = &parent[i + 1..];
            if dir_name.ends_with(b".dist-info") || dir_name.ends_with(b".egg-info") {
                dists
                    .entry(parent.to_vec())
                    .or_default()
                    .insert(name.to_vec(), loc);
            }
        }
        // A single-file egg-info (PKG-INFO contents) directly in the environment.
        if parent == env && name.ends_with(b".egg-info") && e.kind == EntryKind::File {
            dists
                .entry(path.to_vec())
                .or_default()
                .insert(b"PKG-INFO".to_vec(), loc);
        }
    }

    let ctx = dist::Context {
        image,
        captured: &captured,
        conda: &conda,
        packages,
    };
    let mut environments = Vec::new();
    for (env, dists) in envs {
        let mut claimed = LocSet::new(image);
        let mut out = Vec::new();
        for (dir, meta) in dists {
            let d = ctx.distribution(&env, &dir, &meta);
            for &l in &d.locs {
                claimed.insert(l);
            }
            out.push(d);
        }
        out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        let unclaimed: Vec<Loc> = files_under(image, &env)
            .iter()
            .copied()
            .filter(|&l| is_file(l) && !claimed.contains(l))
            .collect();
        environments.push(Environment {
            path: format!("/{}", String::from_utf8_lossy(&env)),
            python: python_version(&env),
            distributions: out,
            unclaimed_bytes: unclaimed.iter().map(|&l| image.entry(l).size).sum(),
            unclaimed_files: unclaimed.len() as u64,
        });
    }
    // Debian's `/usr/lib/python3/dist-packages` serves the one `python3.N` installed.
    let system = system_python(image);
    for env in environments
        .iter_mut()
        .filter(|e| e.python.is_none() && e.path.starts_with("/usr/lib/python3/"))
    {
        env.python.clone_from(&system);
    }
    for d in environments
        .iter_mut()
        .flat_map(|e| e.distributions.iter_mut())
    {
        d.metadata.insert(0, '/');
    }
    PythonReport { environments }
}

/// The version of the only `/usr/lib/python3.N` of the final filesystem.
fn system_python(image: &Image) -> Option<String> {
    let a = image
        .files
        .partition_point(|&l| image.entry(l).path.as_bytes() < b"usr/lib/python3.".as_slice());
    let b = image
        .files
        .partition_point(|&l| image.entry(l).path.as_bytes() < b"usr/lib/python3/".as_slice());
    let versions: HashSet<String> = image.files[a..b.max(a)]
        .iter()
        .filter_map(|&l| {
            python_version(
                image
                    .entry(l)
                    .path
                    .as_bytes()
                    .splitn(4, |&c| c == b'/')
                    .nth(2)?,
            )
        })
        .collect();
    if versions.len() == 1 {
        versions.into_iter().next()
    } else {
        None
    }
}

/// Python and ML findings, and the final-filesystem files they already
/// count (losing copies of duplicated distributions, extra builds of native
/// libraries, CUDA libraries): other analyzers must not count them again.
/// `packages` names the system packages that installed native libraries.
pub fn findings(
    image: &Image,
    report: &PythonReport,
    packages: Option<&Database>,
) -> (Vec<Finding>, LocSet) {
    let mut taken = LocSet::new(image);
    let mut found = duplicates::duplicate_distributions(image, report, &mut taken);
    found.extend(native::duplicate_native_libraries(
        image, report, packages, &mut taken,
    ));
    found.extend(native::gpu_libraries(image, &mut taken));
    (found, taken)
}
