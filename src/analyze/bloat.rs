//! Bloat: package caches, left-over wheels and archives, bytecode caches,
//! test suites, debug symbols, static libraries, build toolchains.
//!
//! Accounting: every copy that ships counts — files of the final filesystem
//! *and* files a later layer deleted or replaced (they still ship in the
//! layer that wrote them; the finding says so). Those shadowed copies are
//! also part of `shadowed-files`, which is the layer-level view of the same
//! bytes; among the kinds here, each file counts once, under the first kind
//! that matches, in this order: caches (`pip-cache`, `uv-cache`,
//! `conda-pkgs`, `apt-lists`, `apt-archives`), `leftover-wheel`,
//! `leftover-archive`, `build-toolchain`, `static-libraries`,
//! `package-tests`, `bytecode-cache`, then `debug-symbols` (only the debug
//! sections of an ELF file, not the whole file). Files the Python findings
//! already count ([`super::python::findings`]: the losing copy of a
//! duplicated distribution, extra native builds, CUDA libraries) are skipped.

use std::collections::{BTreeMap, HashSet};

use super::python::env_of;
use super::{Finding, FindingKind, ends_with_ci};
use crate::model::{Image, Loc, LocSet};
use crate::scan::{EntryKind, EntryPath};

/// The bloat kinds, in the order a file is matched against them.
const ORDER: &[FindingKind] = &[
    FindingKind::PipCache,
    FindingKind::UvCache,
    FindingKind::CondaPkgs,
    FindingKind::AptLists,
    FindingKind::AptArchives,
    FindingKind::LeftoverWheel,
    FindingKind::LeftoverArchive,
    FindingKind::BuildToolchain,
    FindingKind::StaticLibraries,
    FindingKind::PackageTests,
    FindingKind::BytecodeCache,
    FindingKind::DebugSymbols,
];

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
}

/// The package cache `path` lies in, judged by two consecutive components:
/// `.cache/pip`, `.cache/uv` or `.conda/pkgs` (one pass over the path).
fn cache_kind(path: &[u8]) -> Option<FindingKind> {
    let mut prev: &[u8] = &[];
    for c in components(path) {
        match (prev, c) {
            (b".cache", b"pip") => return Some(FindingKind::PipCache),
            (b".cache", b"uv") => return Some(FindingKind::UvCache),
            (b".conda", b"pkgs") => return Some(FindingKind::CondaPkgs),
            _ => prev = c,
        }
    }
    None
}

/// Archive suffixes (sdists, tarballs, zips, packages).
const ARCHIVES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst", ".tar", ".zip", ".deb",
    ".rpm", ".conda", ".7z",
];

/// Compiler and build-tool executables (with an optional target-triple
/// prefix and version suffix: `x86_64-linux-gnu-gcc-12`).
const TOOLS: &[&str] = &[
    "gcc", "g++", "c++", "cc", "cpp", "gfortran", "clang", "clang++", "ld", "ld.bfd", "ld.gold",
    "lto-dump", "as", "cmake", "rustc", "cargo", "nvcc",
];

fn is_tool(name: &str) -> bool {
    let base = name.rsplit_once("-linux-gnu-").map_or(name, |(_, b)| b);
    TOOLS.iter().any(|t| {
        base == *t
            || base
                .strip_prefix(t)
                .and_then(|v| v.strip_prefix('-'))
                .is_some_and(|v| {
                    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.')
                })
    })
}

/// Libraries only compilers load.
const TOOL_LIBS: &[&str] = &[
    "libbfd",
    "libopcodes",
    "libctf",
    "libsframe",
    "libgprofng",
    "libisl",
    "libmpc",
    "libmpfr",
    "libcc1",
    "libasan",
    "libtsan",
    "liblsan",
    "libubsan",
    "libhwasan",
];

/// Whether a path belongs to a C/C++/Fortran toolchain or development headers.
fn is_toolchain(path: &[u8]) -> bool {
    if path.starts_with(b"usr/lib/gcc/")
        || path.starts_with(b"usr/libexec/gcc/")
        || path.starts_with(b"usr/include/")
        || path.starts_with(b"usr/local/include/")
        || path.starts_with(b"usr/local/cuda/include/")
    {
        return true;
    }
    let name =
        std::str::from_utf8(path.rsplit(|&b| b == b'/').next().unwrap_or(path)).unwrap_or("");
    let parent = &path[..path.len() - name.len()];
    if (parent == b"usr/bin/" || parent == b"usr/local/bin/") && is_tool(name) {
        return true;
    }
    parent.starts_with(b"usr/lib/")
        && TOOL_LIBS
            .iter()
            .any(|l| name.starts_with(l) && name[l.len()..].starts_with(['.', '-']))
}

/// The bloat kind of a regular file at `path` (not considering debug
/// sections), if any. `conda_roots` are directories holding `conda-meta`.
fn classify(path: &[u8], conda_roots: &HashSet<Vec<u8>>) -> Option<FindingKind> {
    if let Some(kind) = cache_kind(path) {
        return Some(kind);
    }
    if conda_roots.iter().any(|r| {
        path.strip_prefix(r.as_slice())
            .is_some_and(|rest| rest.starts_with(b"/pkgs/"))
    }) {
        return Some(FindingKind::CondaPkgs);
    }
    if path.starts_with(b"var/lib/apt/lists/") {
        return Some(FindingKind::AptLists);
    }
    if path.starts_with(b"var/cache/apt/") {
        return Some(FindingKind::AptArchives);
    }
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    let env = env_of(path);
    // Archives inside environments and /usr/share are package data.
    let outside =
        env.is_none() && !path.starts_with(b"usr/share/") && !path.starts_with(b"usr/lib/python");
    if ends_with_ci(name, ".whl") && outside {
        return Some(FindingKind::LeftoverWheel);
    }
    if outside
        && ARCHIVES
            .iter()
            .any(|s| ends_with_ci(name, s) && name.len() > s.len())
    {
        return Some(FindingKind::LeftoverArchive);
    }
    if is_toolchain(path) {
        return Some(FindingKind::BuildToolchain);
    }
    if ends_with_ci(name, ".a") && components(path).any(|c| c.starts_with(b"lib")) {
        return Some(FindingKind::StaticLibraries);
    }
    if let Some(env) = env {
        let rel = &path[env.len()..];
        let parts: Vec<&[u8]> = components(rel).filter(|c| !c.is_empty()).collect();
        // `env/pkg/.../tests/...`: not a top-level package named tests.
        if parts.len() >= 3
            && parts[1..parts.len() - 1]
                .iter()
                .any(|c| *c == b"tests" || *c == b"test")
        {
            return Some(FindingKind::PackageTests);
        }
        if ends_with_ci(name, ".pyc") && parts.iter().any(|c| *c == b"__pycache__") {
            return Some(FindingKind::BytecodeCache);
        }
    }
    None
}

fn message_and_fix(kind: FindingKind) -> (&'static str, &'static str) {
    match kind {
        FindingKind::PipCache => (
            "pip's cache ships in the image",
            "`pip install --no-cache-dir` (or `ENV PIP_NO_CACHE_DIR=1`), or a build cache mount: `RUN --mount=type=cache,target=/root/.cache/pip pip install ...`",
        ),
        FindingKind::UvCache => (
            "uv's cache ships in the image",
            "`uv pip install --no-cache` (or `ENV UV_NO_CACHE=1`), or `RUN --mount=type=cache,target=/root/.cache/uv ...`",
        ),
        FindingKind::CondaPkgs => (
            "conda's package cache (`pkgs/`) ships in the image",
            "run `conda clean -afy` in the same RUN as `conda install` / `mamba install`",
        ),
        FindingKind::AptLists => (
            "apt's package lists ship in the image",
            "end the RUN that runs `apt-get update && apt-get install` with `&& rm -rf /var/lib/apt/lists/*`",
        ),
        FindingKind::AptArchives => (
            "apt's downloaded .deb archives and package caches ship in the image",
            "run `apt-get clean` in the same RUN as `apt-get install` (or mount a cache on /var/cache/apt)",
        ),
        FindingKind::LeftoverWheel => (
            "wheel files are left on disk outside any cache",
            "install from a bind mount instead of copying wheels in: `RUN --mount=type=bind,source=wheels,target=/tmp/wheels pip install /tmp/wheels/*.whl`; deleting them in a later RUN does not shrink the image",
        ),
        FindingKind::LeftoverArchive => (
            "archives (sdists, tarballs, zips, packages) are left on disk",
            "download, unpack and delete archives in one RUN, or use a bind mount or a build stage; a later `rm` does not shrink the image",
        ),
        FindingKind::BuildToolchain => (
            "a compiler toolchain and development headers ship in the final image",
            "build in a separate stage and copy only the results (`FROM ... AS build`, then `COPY --from=build`), or `apt-get purge --auto-remove` build-essential and the -dev packages in the same RUN that used them",
        ),
        FindingKind::StaticLibraries => (
            "static libraries (`*.a`) ship in the image; they are only needed to link",
            "do not ship -dev packages in the final stage (multi-stage build), or delete `*.a` in the RUN that installed them",
        ),
        FindingKind::PackageTests => (
            "installed packages carry their test suites",
            "delete them in the RUN that installs the packages: `find <site-packages> -depth -type d \\( -name tests -o -name test \\) -exec rm -rf {} +` (check that nothing imports them)",
        ),
        FindingKind::BytecodeCache => (
            "`__pycache__` bytecode sits next to the installed sources",
            "`pip install --no-compile` and `ENV PYTHONDONTWRITEBYTECODE=1` (keeping .pyc trades image bytes for import time)",
        ),
        FindingKind::DebugSymbols => (
            "native libraries carry debug sections that are never loaded",
            "strip them in the RUN that installs them: `find / -xdev -name '*.so*' -type f -exec strip --strip-debug {} +`",
        ),
        _ => ("", ""),
    }
}

/// Per kind: bytes per layer, paths with their bytes, shadowed copies.
type Group = (BTreeMap<u32, u64>, Vec<(Loc, u64)>, u64);

/// Bloat findings; `skip`: files the Python findings already count.
pub fn findings(image: &Image, skip: &LocSet) -> Vec<Finding> {
    let mut shadowed = LocSet::new(image);
    for s in &image.shadowed {
        shadowed.insert(s.loc);
    }
    let mut conda_roots: HashSet<Vec<u8>> = HashSet::new();
    for layer in &image.layers {
        for e in &layer.entries {
            if let Some(root) = conda_root(&e.path) {
                conda_roots.insert(root);
            }
        }
    }
    // kind -> (per-layer bytes, paths, shadowed copies)
    let mut groups: BTreeMap<FindingKind, Group> = BTreeMap::new();
    for (li, layer) in image.layers.iter().enumerate() {
        for (ei, e) in layer.entries.iter().enumerate() {
            if e.kind != EntryKind::File || e.size == 0 {
                continue;
            }
            let loc = Loc {
                layer: li as u32,
                entry: ei as u32,
            };
            if skip.contains(loc) {
                continue;
            }
            let (kind, bytes) = match classify(e.path.as_bytes(), &conda_roots) {
                Some(k) => (k, e.size),
                None => match &e.elf {
                    Some(elf) if elf.debug_bytes > 0 => {
                        (FindingKind::DebugSymbols, elf.debug_bytes.min(e.size))
                    }
                    _ => continue,
                },
            };
            let g = groups.entry(kind).or_default();
            *g.0.entry(loc.layer).or_default() += bytes;
            g.1.push((loc, bytes));
            if shadowed.contains(loc) {
                g.2 += 1;
            }
        }
    }
    let mut out = Vec::new();
    for kind in ORDER {
        let Some((per_layer, paths, shadowed_copies)) = groups.remove(kind) else {
            continue;
        };
        let (message, fix) = message_and_fix(*kind);
        let mut message = message.to_owned();
        if shadowed_copies > 0 {
            message.push_str(&format!(
                " ({shadowed_copies} of these files were deleted or replaced by a later layer and still ship in the layer that wrote them; shadowed-files counts them too)"
            ));
        }
        let per_layer: Vec<(u32, u64)> = per_layer.into_iter().collect();
        out.push(
            Finding::new(image, *kind, &per_layer, message, fix)
                .with_file_estimate(image, &paths)
                .with_entry_locs(image, paths),
        );
    }
    out
}

/// `opt/conda` for `opt/conda/conda-meta/...`.
fn conda_root(path: &EntryPath) -> Option<Vec<u8>> {
    let p = path.as_bytes();
    let at = p
        .windows(b"/conda-meta".len())
        .position(|w| w == b"/conda-meta")?;
    let end = at + b"/conda-meta".len();
    (p.len() == end || p[end] == b'/').then(|| p[..at].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(p: &str) -> Option<FindingKind> {
        let roots: HashSet<Vec<u8>> = [b"opt/conda".to_vec()].into();
        classify(p.as_bytes(), &roots)
    }

    #[test]
    fn classification() {
        assert_eq!(
            k("root/.cache/pip/wheels/ab/x.whl"),
            Some(FindingKind::PipCache)
        );
        assert_eq!(
            k("home/u/.cache/uv/archive-v0/x"),
            Some(FindingKind::UvCache)
        );
        assert_eq!(
            k("opt/conda/pkgs/numpy-1.26.conda"),
            Some(FindingKind::CondaPkgs)
        );
        assert_eq!(
            k("var/lib/apt/lists/deb.debian.org_dists_bookworm_InRelease"),
            Some(FindingKind::AptLists)
        );
        assert_eq!(
            k("var/cache/apt/archives/python3_3.11.deb"),
            Some(FindingKind::AptArchives)
        );
        assert_eq!(
            k("tmp/wheels/numpy-2.2.6-cp311.whl"),
            Some(FindingKind::LeftoverWheel)
        );
        assert_eq!(k("src/foo-1.0.tar.gz"), Some(FindingKind::LeftoverArchive));
        assert_eq!(k("usr/share/doc/x/changelog.Debian.gz"), None);
        assert_eq!(
            k("usr/bin/x86_64-linux-gnu-gcc-12"),
            Some(FindingKind::BuildToolchain)
        );
        assert_eq!(k("usr/bin/gcc"), Some(FindingKind::BuildToolchain));
        assert_eq!(k("usr/bin/gcc-ar-12"), None);
        assert_eq!(k("usr/include/stdio.h"), Some(FindingKind::BuildToolchain));
        assert_eq!(
            k("usr/lib/x86_64-linux-gnu/libbfd-2.40-system.so"),
            Some(FindingKind::BuildToolchain)
        );
        assert_eq!(
            k("usr/lib/x86_64-linux-gnu/libz.a"),
            Some(FindingKind::StaticLibraries)
        );
        assert_eq!(
            k("usr/lib/python3/dist-packages/numpy/core/tests/test_x.py"),
            Some(FindingKind::PackageTests)
        );
        assert_eq!(k("usr/lib/python3/dist-packages/tests/conftest.py"), None);
        assert_eq!(
            k("usr/lib/python3/dist-packages/numpy/__pycache__/x.cpython-311.pyc"),
            Some(FindingKind::BytecodeCache)
        );
        assert_eq!(k("usr/lib/python3.11/__pycache__/os.cpython-311.pyc"), None);
        assert_eq!(
            k("usr/local/lib/python3.11/site-packages/pkg/data.zip"),
            None
        );
        assert_eq!(
            conda_root(&"opt/conda/conda-meta/history".into()),
            Some(b"opt/conda".to_vec())
        );
    }
}
