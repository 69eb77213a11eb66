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
//! egg-info directories) `top_level.txt`, which names the packages the
//! distribution owns. A distribution's bytes are those of its listed files
//! that are regular files of the final filesystem, each path counted once —
//! what `importlib.metadata` would find on the unpacked filesystem.
//!
//! How findings avoid counting a byte twice: `duplicate-distribution` takes
//! the losing copies' files; `duplicate-native-library` takes the extra
//! *different* builds of a library (byte-identical extra copies are left to
//! `duplicate-content`); `gpu-libraries` takes the CUDA files neither took.
//! [`findings`] hands these files to the bloat analyzer, which then skips them.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::{Finding, FindingKind};
use crate::model::{Image, Loc, LocSet};
use crate::scan::EntryKind;

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
    /// `conda-meta` (conda's record of the package), `top_level.txt` (the
    /// named packages' directories) or `none`.
    #[serde(default)]
    pub files_from: String,
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

/// Joins `rel` onto `base`, resolving `.` and `..` (an absolute `rel`
/// starts from the root). `None` when `..` climbs above the root.
pub(crate) fn resolve(base: &[u8], rel: &[u8]) -> Option<Vec<u8>> {
    // The common case (every RECORD line of a plain install): a clean
    // relative path is appended as it is.
    if !rel.is_empty()
        && !rel.starts_with(b"/")
        && rel
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
    {
        let mut out = Vec::with_capacity(base.len() + 1 + rel.len());
        out.extend_from_slice(base);
        if !base.is_empty() {
            out.push(b'/');
        }
        out.extend_from_slice(rel);
        return Some(out);
    }
    let mut parts: Vec<&[u8]> = if rel.starts_with(b"/") {
        Vec::new()
    } else {
        base.split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect()
    };
    for c in rel.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => {
                parts.pop()?;
            }
            _ => parts.push(c),
        }
    }
    Some(parts.join(&b'/'))
}

/// The first field of every row of a RECORD (the installed path), empty
/// ones left out. Without any quote in the text every row is `path,...`
/// and is split without copying; otherwise the text is parsed as CSV.
pub(crate) fn record_paths(text: &str) -> Vec<std::borrow::Cow<'_, str>> {
    if !text.contains('"') {
        return text
            .lines()
            .map(|line| {
                line.split(',')
                    .next()
                    .unwrap_or(line)
                    .trim_end_matches('\r')
            })
            .filter(|p| !p.is_empty())
            .map(std::borrow::Cow::Borrowed)
            .collect();
    }
    parse_csv(text)
        .into_iter()
        .filter_map(|row| row.into_iter().next())
        .filter(|p| !p.is_empty())
        .map(std::borrow::Cow::Owned)
        .collect()
}

/// Parses CSV (RFC 4180 quoting, as Python's `csv` module writes RECORD).
pub(crate) fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut any = false;
    while let Some(c) = chars.next() {
        any = true;
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {}
            '\n' => {
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
                any = false;
            }
            _ => field.push(c),
        }
    }
    if any {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The first value of header `key` in an RFC 822 style metadata file.
fn header(text: &str, key: &str) -> Option<String> {
    for line in text.lines() {
        if line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case(key)
        {
            return Some(v.trim().to_owned());
        }
    }
    None
}

/// PEP 503 name normalisation: lowercase, runs of `-_.` become `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// `3.11` from a path with a `python3.11` component.
fn python_version(env: &[u8]) -> Option<String> {
    env.split(|&b| b == b'/').find_map(|c| {
        let v = c.strip_prefix(b"python")?;
        let s = std::str::from_utf8(v).ok()?;
        let (major, minor) = s.split_once('.')?;
        (!major.is_empty()
            && !minor.is_empty()
            && s.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        .then(|| s.to_owned())
    })
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
pub fn report(image: &Image) -> PythonReport {
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

    let mut environments = Vec::new();
    for (env, dists) in envs {
        let mut claimed = LocSet::new(image);
        let mut out = Vec::new();
        for (dir, meta) in dists {
            let dir_name = dir.rsplit(|&b| b == b'/').next().unwrap_or(&dir);
            let stem = String::from_utf8_lossy(
                dir_name.rsplit_once_str(b'.').map_or(dir_name, |(a, _)| a),
            )
            .into_owned();
            let meta_text = text(
                meta.get(b"METADATA".as_slice())
                    .or_else(|| meta.get(b"PKG-INFO".as_slice()))
                    .map(|l| &captured[l]),
            );
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
            let installer = text(meta.get(b"INSTALLER".as_slice()).map(|l| &captured[l]))
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty());

            let mut paths: Vec<Vec<u8>> = Vec::new();
            let files_from;
            if let Some(record) = text(meta.get(b"RECORD".as_slice()).map(|l| &captured[l])) {
                files_from = "RECORD";
                for p in record_paths(&record) {
                    if let Some(full) = resolve(&env, p.as_bytes()) {
                        paths.push(full);
                    }
                }
            } else if let Some(list) = text(
                meta.get(b"installed-files.txt".as_slice())
                    .map(|l| &captured[l]),
            ) {
                files_from = "installed-files.txt";
                for line in list.lines().filter(|l| !l.trim().is_empty()) {
                    if let Some(full) = resolve(&dir, line.as_bytes()) {
                        paths.push(full);
                    }
                }
            } else if let Some(files) = conda
                .iter()
                .find(|((prefix, n), _)| {
                    *n == normalize_name(&name)
                        && env.starts_with(prefix)
                        && env.get(prefix.len()) == Some(&b'/')
                })
                .map(|(_, files)| files)
            {
                files_from = "conda-meta";
                paths.extend(files.iter().cloned());
            } else if let Some(tops) =
                text(meta.get(b"top_level.txt".as_slice()).map(|l| &captured[l]))
            {
                files_from = "top_level.txt";
                for top in tops
                    .lines()
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && !t.contains(".."))
                {
                    let pkg = resolve(&env, top.as_bytes()).unwrap_or_default();
                    paths.extend(
                        files_under(image, &pkg)
                            .iter()
                            .map(|&l| image.entry(l).path.as_bytes().to_vec()),
                    );
                    // Single-module distributions and extension modules: `top.py`, `top.cpython-311-....so`.
                    let mut prefix = pkg.clone();
                    prefix.push(b'.');
                    paths.extend(
                        files_under(image, &env)
                            .iter()
                            .map(|&l| image.entry(l).path.as_bytes())
                            .filter(|p| {
                                p.starts_with(&prefix) && !p[prefix.len()..].contains(&b'/')
                            })
                            .map(<[u8]>::to_vec),
                    );
                }
                paths.extend(
                    files_under(image, &dir)
                        .iter()
                        .map(|&l| image.entry(l).path.as_bytes().to_vec()),
                );
            } else {
                files_from = "none";
                paths.extend(
                    files_under(image, &dir)
                        .iter()
                        .map(|&l| image.entry(l).path.as_bytes().to_vec()),
                );
                if let Some(l) = image.find(&dir) {
                    paths.push(image.entry(l).path.as_bytes().to_vec());
                }
            }
            paths.sort_unstable();
            paths.dedup();
            let mut locs: Vec<Loc> = image
                .find_sorted(&paths)
                .into_iter()
                .filter(|&loc| is_file(loc))
                .collect();
            // Distinct paths, so distinct locations.
            locs.sort_unstable();
            for &l in &locs {
                claimed.insert(l);
            }
            out.push(Distribution {
                name,
                version,
                bytes: locs.iter().map(|&l| image.entry(l).size).sum(),
                files: locs.len() as u64,
                layer,
                metadata: String::from_utf8_lossy(&dir).into_owned(),
                files_from: files_from.to_owned(),
                installer,
                locs,
            });
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

/// A byte-slice helper: split at the last occurrence of a byte.
trait RsplitOnce {
    fn rsplit_once_str(&self, sep: u8) -> Option<(&[u8], &[u8])>;
}

impl RsplitOnce for [u8] {
    fn rsplit_once_str(&self, sep: u8) -> Option<(&[u8], &[u8])> {
        let i = self.iter().rposition(|&b| b == sep)?;
        Some((&self[..i], &self[i + 1..]))
    }
}

/// Where an environment comes on the system interpreter's `sys.path`
/// (Debian/Ubuntu layout): the user site first, then `/usr/local`, then
/// the distro's; `None` for environments of other interpreters (venvs,
/// conda).
fn sys_path_rank(env: &str) -> Option<u8> {
    let p = env.trim_start_matches('/');
    if p.contains("/.local/lib/python") {
        Some(0)
    } else if p.starts_with("usr/local/lib/python") {
        Some(1)
    } else if p.starts_with("usr/lib/python") {
        Some(2)
    } else {
        None
    }
}

/// The library name a shared object provides, from its file name:
/// `libscipy_openblas64_-ff651d7f.so` -> `scipy_openblas64_`,
/// `libcudart.so.12` -> `cudart`. `None` for anything that is not a
/// `lib*.so*` file.
pub(crate) fn soname_stem(file_name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(file_name).ok()?;
    let rest = name.strip_prefix("lib")?;
    let dot = rest.find(".so")?;
    if !(rest[dot..] == *".so" || rest[dot..].starts_with(".so.")) {
        return None;
    }
    let mut stem = &rest[..dot];
    // auditwheel appends `-<8 hex digits>` to the libraries it bundles
    // (twice when a wheel's libraries were repaired again).
    while let Some((a, h)) = stem.rsplit_once('-')
        && h.len() == 8
        && h.bytes().all(|b| b.is_ascii_hexdigit())
    {
        stem = a;
    }
    (!stem.is_empty()).then(|| stem.to_ascii_lowercase())
}

/// The family a stem belongs to: every OpenBLAS build (`openblas`,
/// `openblasp-r0`, `scipy_openblas64_`) is one library; otherwise the stem.
pub(crate) fn family(stem: &str) -> String {
    if stem.contains("openblas") {
        "openblas".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The grouping key of a shared object: its family, plus the soname's
/// major version when the name has one (`libnsl.so.1` and `libnsl.so.2`
/// are different libraries, not two builds of one). OpenBLAS builds are
/// one group whatever their version.
pub(crate) fn library_key(stem: &str, file_name: &[u8]) -> String {
    let fam = family(stem);
    if fam == "openblas" {
        return fam;
    }
    let name = String::from_utf8_lossy(file_name);
    match name
        .split_once(".so.")
        .and_then(|(_, v)| v.split('.').next())
        .filter(|m| !m.is_empty())
    {
        Some(major) => format!("{fam}.so.{major}"),
        None => fam,
    }
}

/// CUDA runtime libraries by stem prefix.
const CUDA_STEMS: &[&str] = &[
    "cudart",
    "cublas",
    "cudnn",
    "cufft",
    "curand",
    "cusolver",
    "cusparse",
    "nccl",
    "nvrtc",
    "nvjitlink",
    "cupti",
    "nvtoolsext",
    "cufile",
    "torch_cuda",
    "c10_cuda",
    "nvblas",
    "nvinfer",
    "cuda",
];

fn is_cuda_stem(stem: &str) -> bool {
    CUDA_STEMS.iter().any(|s| stem.starts_with(s))
}

/// Whether a final-filesystem path is a CUDA file: inside an `nvidia/`
/// package of an environment (the `nvidia-*` wheels), under
/// `/usr/local/cuda*`, or a CUDA library by name.
fn is_cuda_path(path: &[u8]) -> bool {
    if let Some(env) = env_of(path)
        && path[env.len()..].starts_with(b"/nvidia/")
    {
        return true;
    }
    if path.starts_with(b"usr/local/cuda") {
        return true;
    }
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    soname_stem(name).is_some_and(|s| is_cuda_stem(&s))
}

/// Python and ML findings, and the final-filesystem files they already
/// count (losing copies of duplicated distributions, extra builds of native
/// libraries, CUDA libraries): other analyzers must not count them again.
pub fn findings(image: &Image, report: &PythonReport) -> (Vec<Finding>, LocSet) {
    let mut findings = Vec::new();
    let mut taken = LocSet::new(image);

    // duplicate-distribution
    let mut by_name: BTreeMap<String, Vec<(&Environment, &Distribution)>> = BTreeMap::new();
    for env in &report.environments {
        for d in &env.distributions {
            by_name
                .entry(normalize_name(&d.name))
                .or_default()
                .push((env, d));
        }
    }
    for copies in by_name.values().filter(|c| c.len() > 1) {
        let mut copies = copies.clone();
        copies.sort_by(|a, b| {
            let ra = sys_path_rank(&a.0.path).unwrap_or(u8::MAX);
            let rb = sys_path_rank(&b.0.path).unwrap_or(u8::MAX);
            ra.cmp(&rb)
                .then_with(|| b.1.layer.cmp(&a.1.layer))
                .then_with(|| a.1.metadata.cmp(&b.1.metadata))
        });
        let (win_env, winner) = copies[0];
        let one_interpreter = copies.iter().all(|(e, _)| sys_path_rank(&e.path).is_some());
        let mut per_layer: Vec<(u32, u64)> = Vec::new();
        let mut paths = vec![(winner.metadata.clone(), u64::MAX)];
        for (_, loser) in &copies[1..] {
            for &l in &loser.locs {
                if taken.insert(l) {
                    per_layer.push((l.layer, image.entry(l).size));
                }
            }
            paths.push((loser.metadata.clone(), loser.bytes));
        }
        let others: Vec<String> = copies[1..]
            .iter()
            .map(|(e, d)| format!("{} {} in `{}`", d.name, d.version, e.path))
            .collect();
        let message = if one_interpreter {
            format!(
                "{} is installed {} times where one interpreter sees every copy: {} {} in `{}` comes first on sys.path and wins; {} only cost bytes",
                winner.name,
                copies.len(),
                winner.name,
                winner.version,
                win_env.path,
                others.join(", ")
            )
        } else {
            format!(
                "{} is installed in {} environments of one image: {} {} in `{}` and {}",
                winner.name,
                copies.len(),
                winner.name,
                winner.version,
                win_env.path,
                others.join(", ")
            )
        };
        let apt_loser = copies[1..]
            .iter()
            .any(|(e, d)| e.path.starts_with("/usr/lib/python3") && d.files_from != "RECORD");
        let fix = if apt_loser {
            format!(
                "install {} once: drop the distro package (`python3-{}` from `apt-get install`, or packages that pull it in) and keep pip's copy, or let pip use the distro's",
                winner.name,
                normalize_name(&winner.name)
            )
        } else {
            format!(
                "install {} once: remove the other copies (uninstall them in the RUN that installed them, or do not install them there)",
                winner.name
            )
        };
        findings.push(
            Finding::new(
                image,
                FindingKind::DuplicateDistribution,
                &per_layer,
                message,
                fix,
            )
            .with_layers(&[winner.layer])
            .with_paths(paths),
        );
    }

    // duplicate-native-library
    let mut libs: BTreeMap<String, Vec<Loc>> = BTreeMap::new();
    for (loc, e) in image.final_entries() {
        // Only real shared objects: not `libfoo.so.6-gdb.py` or a dpkg alternatives file.
        if e.kind != EntryKind::File || e.size == 0 || e.elf.is_none() || taken.contains(loc) {
            continue;
        }
        if let Some(stem) = soname_stem(e.path.file_name()) {
            libs.entry(library_key(&stem, e.path.file_name()))
                .or_default()
                .push(loc);
        }
    }
    for (key, mut copies) in libs {
        let fam = key.split(".so.").next().unwrap_or(&key).to_owned();
        let dirs: HashSet<&[u8]> = copies
            .iter()
            .map(|&l| image.entry(l).path.parent())
            .collect();
        if copies.len() < 2 {
            continue;
        }
        // Keep the largest copy; extra different builds are this finding's
        // bytes, extra identical copies belong to duplicate-content.
        copies.sort_by_key(|&l| (std::cmp::Reverse(image.entry(l).size), l));
        let mut builds: HashSet<(u64, [u8; 16])> = HashSet::new();
        let mut per_layer = Vec::new();
        let mut identical = 0usize;
        for (i, &l) in copies.iter().enumerate() {
            let e = image.entry(l);
            let new_build = builds.insert((e.size, e.hash.unwrap_or_default()));
            if i == 0 {
                continue;
            }
            if new_build {
                taken.insert(l);
                per_layer.push((l.layer, e.size));
            } else {
                identical += 1;
            }
        }
        let paths: Vec<(String, u64)> = copies
            .iter()
            .map(|&l| (image.entry(l).path.display(), image.entry(l).size))
            .collect();
        let mut message = format!(
            "lib{fam} is present {} times in {} directories ({} different builds): each package that bundles it loads its own copy",
            copies.len(),
            dirs.len(),
            builds.len()
        );
        if identical > 0 {
            message.push_str(&format!(
                "; the {identical} byte-identical extra copies are counted under duplicate-content"
            ));
        }
        let fix = if is_cuda_stem(&fam) {
            "take CUDA from one place: either the base image's /usr/local/cuda or the nvidia-* wheels, not both (e.g. a python/slim base with the wheels, or torch built against the system CUDA)".to_owned()
        } else if fam == "openblas" || fam == "gfortran" || fam == "quadmath" {
            "load one BLAS: drop apt's python3-numpy/python3-scipy (and libopenblas) when pip's wheels bring their own, or install numpy and scipy from one channel that shares a single OpenBLAS (conda-forge, or `pip install --no-binary numpy,scipy` against the system libopenblas-dev in a build stage)".to_owned()
        } else {
            format!(
                "keep one lib{fam}: remove the packages that bring the other copies, or point them at one shared library"
            )
        };
        findings.push(
            Finding::new(
                image,
                FindingKind::DuplicateNativeLibrary,
                &per_layer,
                message,
                fix,
            )
            .with_paths(paths),
        );
    }

    // gpu-libraries
    let mut gpu: Vec<(Loc, u64)> = Vec::new();
    for (loc, e) in image.final_entries() {
        if e.kind == EntryKind::File
            && e.size > 0
            && !taken.contains(loc)
            && is_cuda_path(e.path.as_bytes())
        {
            gpu.push((loc, e.size));
        }
    }
    if !gpu.is_empty() {
        let per_layer: Vec<(u32, u64)> = gpu.iter().map(|&(l, s)| (l.layer, s)).collect();
        let paths = gpu
            .iter()
            .map(|&(l, s)| (image.entry(l).path.display(), s))
            .collect();
        for &(l, _) in &gpu {
            taken.insert(l);
        }
        findings.push(
            Finding::new(
                image,
                FindingKind::GpuLibraries,
                &per_layer,
                "CUDA libraries ship in the image (nvidia-* wheels, torch's CUDA build, /usr/local/cuda); a CPU-only image needs none of them",
                "for CPU-only images install torch from the CPU wheel index: `pip install torch --index-url https://download.pytorch.org/whl/cpu` (no nvidia-* wheels) on a non-CUDA base; for GPU images keep one CUDA (base image or wheels)",
            )
            .with_paths(paths),
        );
    }
    (findings, taken)
}

/// Python and ML findings.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn csv_quoting_and_relative_paths() {
        let rows = parse_csv(
            "a/b.py,sha256=x,10\n\"c,d.py\",,\"2\"\n\"q\"\"x\",h,3\r\n../../bin/f2py,sha256=y,5",
        );
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1], vec!["c,d.py", "", "2"]);
        assert_eq!(rows[2][0], "q\"x");
        assert_eq!(
            resolve(
                b"usr/local/lib/python3.11/site-packages",
                b"../../../bin/f2py"
            )
            .unwrap(),
            b"usr/local/bin/f2py"
        );
        assert_eq!(resolve(b"a", b"../../x"), None);
        assert_eq!(resolve(b"a/b", b"/etc/x").unwrap(), b"etc/x");
        assert_eq!(resolve(b"a/b", b"c//./d").unwrap(), b"a/b/c/d");
        assert_eq!(resolve(b"", b"c/d").unwrap(), b"c/d");

        // Without quotes rows are split in place; with them, parsed as CSV.
        let plain = "a/b.py,sha256=x,10\r\n\nc.py,,\nd.dist-info/RECORD,,";
        assert_eq!(
            record_paths(plain),
            ["a/b.py", "c.py", "d.dist-info/RECORD"]
        );
        let quoted = "a/b.py,sha256=x,10\n\"c,d.py\",,\"2\"\n,,\n";
        assert_eq!(record_paths(quoted), ["a/b.py", "c,d.py"]);
    }

    #[test]
    fn names_stems_versions() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(
            soname_stem(b"libscipy_openblas64_-ff651d7f.so").as_deref(),
            Some("scipy_openblas64_")
        );
        assert_eq!(
            soname_stem(b"libgfortran-040039e1.so.5.0.0").as_deref(),
            Some("gfortran")
        );
        assert_eq!(
            soname_stem(b"libgfortran-040039e1-0352e75f.so.5.0.0").as_deref(),
            Some("gfortran")
        );
        assert_eq!(
            soname_stem(b"libopenblasp-r0.3.21.so").as_deref(),
            Some("openblasp-r0.3.21")
        );
        assert_eq!(soname_stem(b"libcudart.so.12").as_deref(), Some("cudart"));
        assert_eq!(soname_stem(b"libfoo.sort"), None);
        assert_eq!(soname_stem(b"_umath.cpython-311-x86_64-linux-gnu.so"), None);
        assert_eq!(family("openblasp-r0"), "openblas");
        assert_eq!(library_key("nsl", b"libnsl.so.1"), "nsl.so.1");
        assert_eq!(library_key("nsl", b"libnsl.so.2.0.1"), "nsl.so.2");
        assert_eq!(
            library_key("gfortran", b"libgfortran-040039e1.so.5.0.0"),
            "gfortran.so.5"
        );
        assert_eq!(
            library_key("scipy_openblas", b"libscipy_openblas-68440149.so"),
            "openblas"
        );
        assert_eq!(
            python_version(b"usr/local/lib/python3.11/site-packages").as_deref(),
            Some("3.11")
        );
        assert_eq!(python_version(b"usr/lib/python3/dist-packages"), None);
        assert_eq!(
            env_of(b"opt/venv/lib/python3.12/site-packages/x/y.py"),
            Some(&b"opt/venv/lib/python3.12/site-packages"[..])
        );
    }
}
