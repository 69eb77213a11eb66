//! The multi-stage split: the final stage becomes a build stage (toolchain,
//! Python installs, everything it ran), and a runtime stage from the same
//! base installs only the packages the native code needs at run time, then
//! copies the installed Python prefix and the application from the build
//! stage.
//!
//! What is copied is read from the image: every file the build's own layers
//! left in the final filesystem that no dpkg package owns, grouped into
//! roots (a venv or conda prefix, a `site-packages`/`dist-packages`
//! directory, `/usr/local/<dir>`, or the top directory: `/app`). The
//! runtime packages come from the `DT_NEEDED` entries of the ELF files in
//! those roots: a library the copied tree provides itself (a wheel's
//! `*.libs/`) needs nothing; one the base image holds needs nothing; else
//! the dpkg package that provides it (a runtime package rather than a
//! `-dev` or toolchain one when both do). Packages that installed Python
//! distributions (apt's `python3-pip` puts pip, setuptools and wheel in
//! `/usr/lib/python3/dist-packages`) stay in the runtime stage too, so that
//! no distribution is lost. The saving is the bytes of the packages the
//! build installed that the runtime stage does not.
//!
//! A copied directory's entries keep the owner and mode the build gave
//! them, but the directory itself is not copied: `COPY --from` creates it
//! root-owned, mode 755, or leaves it as the runtime stage has it already
//! (Python's package makes `/usr/local/lib/python3.11/dist-packages`). When
//! the image has it otherwise (a `chown -R` over `/app`), the runtime stage
//! makes it first, `mkdir -p` then `chown`/`chmod`, and the copy fills it.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};

use super::advise::Context;
use super::edit::Edit;
use super::parse::{Dockerfile, Keyword};
use super::shell;
use crate::packages::{Database, Manager, Package};
use crate::scan::EntryKind;

/// The split, ready to apply.
#[derive(Clone, Debug)]
pub struct Split {
    /// The edit that makes it.
    pub edit: Edit,
    /// Uncompressed bytes saved: the packages the runtime stage leaves out.
    pub bytes: u64,
    /// The same, compressed as their layers are.
    pub compressed_bytes: u64,
    /// The packages the runtime stage installs (dependencies aside).
    pub runtime: Vec<String>,
    /// The directories copied from the build stage.
    pub roots: Vec<String>,
}

/// One directory the runtime stage copies from the build stage.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Copy {
    /// Its path, without the leading `/`.
    root: String,
    /// The directory's owner and mode in the image (uid, gid, permission
    /// bits), when they are not what `COPY` makes (0:0, 755).
    made: Option<(u32, u32, u32)>,
}

/// Packages a Python install needs only while building.
const BUILD_ONLY: &[&str] = &[
    "python3-pip",
    "python3-venv",
    "python3-dev",
    "python3-setuptools",
    "python3-wheel",
    "python3-distutils",
    "python3-full",
    "python3-all-dev",
];

/// Plans the split for the final stage, or says why it is not safe.
pub fn split(cx: &Context<'_>) -> Result<Split, String> {
    let df = cx
        .dockerfile
        .ok_or_else(|| "give --dockerfile to split the stages".to_owned())?;
    if df.stages.len() > 1 {
        return Err(
            "the Dockerfile has several stages already; move the toolchain into a build stage by hand"
                .to_owned(),
        );
    }
    let stage = df.final_stage().ok_or("no stage")?;
    if stage
        .instructions
        .iter()
        .any(|i| i.flag("from").is_some() || i.keyword == Keyword::Onbuild)
    {
        return Err("the stage copies from another image or has ONBUILD steps".to_owned());
    }
    let from = from_line(df)?;
    let db = cx
        .packages
        .filter(|d| d.manager == Manager::Dpkg)
        .ok_or_else(|| {
            "no dpkg database in the image: the runtime stage installs its libraries with apt"
                .to_owned()
        })?;
    let base = cx.mapping.base_layers as u32;
    let roots = roots(cx, db, base)?;
    if !roots.iter().any(|r| is_python_root(cx, r)) {
        return Err(
            "no Python packages installed above the base image to copy into a runtime stage"
                .to_owned(),
        );
    }
    let copies = copies(cx, &roots);
    let runtime = runtime_packages(cx, db, base, &roots);
    let kept = closure(db, runtime.iter().cloned());
    let (bytes, compressed_bytes) = saving(cx, db, base, &kept);
    let alias = stage.name.clone();
    let text = runtime_stage(
        df,
        &from,
        alias.as_deref().unwrap_or("build"),
        &runtime,
        &copies,
    );
    Ok(Split {
        edit: Edit::Split {
            alias: alias.is_none().then(|| "build".to_owned()),
            stage: text,
            kept: kept.into_iter().collect(),
        },
        bytes,
        compressed_bytes,
        runtime,
        roots: roots.iter().map(|r| format!("/{r}")).collect(),
    })
}

/// The final stage's `FROM` line without its `AS name`.
fn from_line(df: &Dockerfile) -> Result<String, String> {
    let stage = df.final_stage().ok_or("no stage")?;
    let line = df
        .text
        .split('\n')
        .nth(stage.from_line.saturating_sub(1) as usize)
        .unwrap_or("")
        .trim_end();
    if line.ends_with(df.escape) || stage.base == "scratch" {
        return Err("the FROM line continues or names scratch".to_owned());
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let n = words.len();
    let words = if n >= 2 && words[n - 2].eq_ignore_ascii_case("as") {
        &words[..n - 2]
    } else {
        &words[..]
    };
    Ok(words.join(" "))
}

/// Whether a root holds Python packages.
fn is_python_root(cx: &Context<'_>, root: &str) -> bool {
    root.ends_with("site-packages")
        || root.ends_with("dist-packages")
        || is_prefix(cx, root)
        || root == "usr/local/lib"
}

/// Whether `dir` is a venv or conda prefix.
fn is_prefix(cx: &Context<'_>, dir: &str) -> bool {
    cx.image
        .find(format!("{dir}/pyvenv.cfg").as_bytes())
        .is_some()
        || cx
            .image
            .find(format!("{dir}/conda-meta").as_bytes())
            .is_some()
}

/// The directories to copy from the build stage: the roots of the files the
/// build's own layers left that no package owns.
fn roots(cx: &Context<'_>, db: &Database, base: u32) -> Result<Vec<String>, String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut prefixes: HashMap<String, bool> = HashMap::new();
    let mut by_system: HashMap<u32, bool> = HashMap::new();
    for (loc, e) in cx.image.final_entries() {
        if loc.layer < base
            || !matches!(
                e.kind,
                EntryKind::File | EntryKind::Symlink | EntryKind::HardLink
            )
        {
            continue;
        }
        let path = String::from_utf8_lossy(e.path.as_bytes()).into_owned();
        if db.owner_of(&path).is_some() || ignored(&path) {
            continue;
        }
        // What apt and useradd leave beside the packages' own files
        // (alternatives links, generated configuration): the runtime
        // stage's own apt-get and useradd make what it needs of it.
        let system = *by_system.entry(loc.layer).or_insert_with(|| {
            cx.mapping
                .step_for_layer(loc.layer)
                .map(|s| cx.command(s))
                .is_some_and(|c| {
                    !shell::apt_install_positions(&c).is_empty() || shell::adds_users(&c)
                })
        });
        let python = path.contains("/site-packages/")
            || path.contains("/dist-packages/")
            || path.starts_with("usr/local/")
            || path.starts_with("opt/");
        if system && !python {
            continue;
        }
        if path.starts_with("etc/") {
            return Err(format!(
                "`/{path}` is written outside the directories a runtime stage would copy; split the stages by hand"
            ));
        }
        found.insert(root_of(cx, &path, &mut prefixes));
    }
    // Nested roots go with their parent.
    let mut out: Vec<String> = Vec::new();
    for r in found {
        if !out.iter().any(|o| r.starts_with(&format!("{o}/"))) {
            out.push(r);
        }
    }
    Ok(out)
}

/// How each root is copied: the directory's own owner and mode, when the
/// image has them otherwise than `COPY` makes them.
fn copies(cx: &Context<'_>, roots: &[String]) -> Vec<Copy> {
    roots
        .iter()
        .map(|root| {
            let made = cx
                .image
                .find(root.as_bytes())
                .map(|loc| cx.image.entry(loc))
                .filter(|e| e.kind == EntryKind::Dir)
                .map(|e| (e.uid, e.gid, e.mode & 0o7777))
                .filter(|&m| m != (0, 0, 0o755));
            Copy {
                root: root.clone(),
                made,
            }
        })
        .collect()
}

/// Files a runtime stage remakes or does without: temporary files, caches,
/// the package managers' state, bytecode Debian's Python compiles, and the
/// skeleton files `useradd -m` copies.
fn ignored(path: &str) -> bool {
    const DIRS: &[&str] = &[
        "tmp/",
        "var/",
        "run/",
        "dev/",
        "proc/",
        "sys/",
        "root/.cache/",
    ];
    if DIRS.iter().any(|d| path.starts_with(d)) {
        return true;
    }
    // What the builder mounts into every RUN (buildah leaves them behind).
    if matches!(path, "etc/hosts" | "etc/resolv.conf" | "etc/hostname") {
        return true;
    }
    if path.starts_with("usr/lib/python3") && path.contains("/__pycache__/") {
        return true;
    }
    let name = path.rsplit('/').next().unwrap_or(path);
    path.starts_with("home/")
        && path.matches('/').count() == 2
        && matches!(name, ".bashrc" | ".profile" | ".bash_logout")
}

/// The root a file is copied with.
fn root_of(cx: &Context<'_>, path: &str, prefixes: &mut HashMap<String, bool>) -> String {
    let comps: Vec<&str> = path.split('/').collect();
    // A venv or conda prefix (the shortest that holds the file).
    for n in 1..comps.len() {
        let dir = comps[..n].join("/");
        let hit = *prefixes
            .entry(dir.clone())
            .or_insert_with(|| is_prefix(cx, &dir));
        if hit {
            return dir;
        }
    }
    if let Some(i) = comps
        .iter()
        .position(|c| *c == "site-packages" || *c == "dist-packages")
        .filter(|&i| i + 1 < comps.len())
    {
        return comps[..=i].join("/");
    }
    let depth = match comps[0] {
        "usr" if comps.get(1) == Some(&"local") => 3,
        "opt" | "srv" | "home" | "usr" | "mnt" | "media" => 2,
        _ => 1,
    };
    comps[..depth.min(comps.len())].join("/")
}

/// The packages the runtime stage installs: Python when the build
/// installed it, Python libraries installed with apt, and the providers of
/// the libraries the copied ELF files need that neither the copied tree
/// nor the base image holds.
fn runtime_packages(cx: &Context<'_>, db: &Database, base: u32, roots: &[String]) -> Vec<String> {
    let under = |p: &str| {
        roots
            .iter()
            .any(|r| p == r || p.starts_with(&format!("{r}/")))
    };
    let mut provided: HashSet<String> = HashSet::new();
    let mut needed: BTreeSet<String> = BTreeSet::new();
    for (_, e) in cx.image.final_entries() {
        let path = String::from_utf8_lossy(e.path.as_bytes());
        if !under(&path) {
            continue;
        }
        provided.insert(path.rsplit('/').next().unwrap_or(&path).to_owned());
        if let Some(elf) = &e.elf {
            needed.extend(elf.needed.iter().cloned());
            provided.extend(elf.soname.iter().cloned());
        }
    }
    let mut out: BTreeSet<String> = BTreeSet::new();
    let own = |p: &Package| p.layer >= base;
    let requested = |p: &Package| p.reason == crate::packages::Reason::Requested;
    for p in db.packages.iter().filter(|p| own(p)) {
        let requested_python = requested(p)
            && (p.name == "python3"
                || p.name.starts_with("python3-")
                    && !BUILD_ONLY.contains(&p.name.as_str())
                    && !matches!(p.category(), "toolchain" | "dev"));
        if p.name == "python3" || requested_python || requested(p) && installs_distribution(p) {
            out.insert(p.name.clone());
        }
    }
    // A distribution a package pulled in as a dependency (python3-pip's
    // setuptools) stays with it; one whose package nothing kept is listed.
    let kept = closure(db, out.iter().cloned());
    for p in db.packages.iter().filter(|p| own(p)) {
        if installs_distribution(p) && !kept.contains(&p.name) {
            out.insert(p.name.clone());
        }
    }
    for soname in needed.iter().filter(|n| !provided.contains(*n)) {
        let providers = db.providers_of_soname(soname);
        if providers.is_empty() || providers.iter().any(|p| !own(p)) {
            continue;
        }
        let runtime = providers
            .iter()
            .find(|p| !matches!(p.category(), "toolchain" | "dev"))
            .or(providers.first());
        if let Some(p) = runtime {
            out.insert(p.name.split(':').next().unwrap_or(&p.name).to_owned());
        }
    }
    out.into_iter().collect()
}

/// Whether a package installed a Python distribution: a `*.dist-info` or
/// `*.egg-info` right inside a `site-packages`/`dist-packages` directory.
fn installs_distribution(p: &Package) -> bool {
    p.paths.iter().any(|path| {
        let comps: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        comps.windows(2).any(|w| {
            matches!(w[0], b"site-packages" | b"dist-packages")
                && (w[1].ends_with(b".dist-info") || w[1].ends_with(b".egg-info"))
        })
    })
}

/// The names of `names` and every package they depend on (the first
/// installed alternative of each group).
fn closure(db: &Database, names: impl Iterator<Item = String>) -> HashSet<String> {
    let mut kept: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<String> = names.collect();
    while let Some(name) = queue.pop_front() {
        let Some(p) = db.get(&name) else { continue };
        if !kept.insert(p.name.clone()) {
            continue;
        }
        for group in &p.depends {
            if let Some(dep) = group.iter().find(|d| db.get(d).is_some()) {
                queue.push_back(dep.clone());
            }
        }
    }
    kept
}

/// The bytes of the packages the build installed that the runtime stage
/// does not (the runtime packages and what they depend on stay).
fn saving(cx: &Context<'_>, db: &Database, base: u32, kept: &HashSet<String>) -> (u64, u64) {
    let dropped = || {
        db.packages
            .iter()
            .filter(|p| p.layer >= base && !kept.contains(&p.name))
    };
    let files = dropped()
        .flat_map(|p| p.files.iter())
        .map(|&l| (l, cx.image.entry(l).size));
    (
        dropped().map(|p| p.bytes).sum(),
        cx.image.estimate_entries(files),
    )
}

/// The runtime stage's text.
fn runtime_stage(
    df: &Dockerfile,
    from: &str,
    build: &str,
    packages: &[String],
    copies: &[Copy],
) -> String {
    let Some(stage) = df.final_stage() else {
        return String::new();
    };
    let esc = df.escape;
    let text = |i: &super::parse::Instruction| df.text[i.span.clone()].to_owned();
    let mut out = format!(
        "# Runtime stage (layerscope): the packages and application of `{build}`, without its toolchain\n{from}\n"
    );
    let early = |k: Keyword| {
        matches!(
            k,
            Keyword::Arg | Keyword::Env | Keyword::Label | Keyword::Shell | Keyword::Maintainer
        )
    };
    for i in stage.instructions.iter().filter(|i| early(i.keyword)) {
        out.push_str(&text(i));
        out.push('\n');
    }
    if !packages.is_empty() {
        out.push_str(&format!(
            "RUN apt-get update {esc}\n    && apt-get install -y --no-install-recommends {} {esc}\n    && rm -rf /var/lib/apt/lists/*\n",
            packages.join(" ")
        ));
    }
    for i in stage
        .instructions
        .iter()
        .filter(|i| i.keyword == Keyword::Run)
    {
        let users = shell::user_parts(i.command());
        if !users.is_empty() {
            out.push_str(&format!("RUN {}\n", users.join(" && ")));
        }
    }
    let made: Vec<String> = copies
        .iter()
        .filter_map(|c| {
            let (uid, gid, mode) = c.made?;
            let chmod = if mode == 0o755 {
                String::new()
            } else {
                format!(" && chmod {mode:o} /{}", c.root)
            };
            Some(format!(
                "mkdir -p /{r} && chown {uid}:{gid} /{r}{chmod}",
                r = c.root
            ))
        })
        .collect();
    if !made.is_empty() {
        out.push_str(&format!("RUN {}\n", made.join(&format!(" {esc}\n    && "))));
    }
    for c in copies {
        out.push_str(&format!("COPY --from={build} /{r} /{r}\n", r = c.root));
    }
    for i in stage
        .instructions
        .iter()
        .filter(|i| !early(i.keyword) && !i.keyword.makes_layer())
    {
        out.push_str(&text(i));
        out.push('\n');
    }
    out
}
