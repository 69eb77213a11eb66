//! Advice: each existing finding tied to the instruction responsible, with
//! the change to make and the bytes it saves on this very image, plus the
//! advice only a build order can give (cache order, layer order).
//!
//! Findings are consumed by kind, never recomputed: `shadowed-files` and
//! `metadata-rewrite` (from the waste analyzer), the cache kinds,
//! `leftover-wheel`/`leftover-archive` and `build-toolchain` (from the bloat
//! analyzer). Where a change is safe to automate, the advice carries an
//! [`Edit`] for the rewriter.

use serde::Serialize;

use super::map::{Mapping, Step};
use super::parse::{Args, Dockerfile, Instruction, Keyword};
use crate::analyze::{Finding, FindingKind, Severity};
use crate::model::Image;
use crate::scan::EntryKind;

/// One suggestion.
#[derive(Clone, Debug, Serialize)]
pub struct Advice {
    /// The finding kind it answers.
    pub kind: FindingKind,
    /// The Dockerfile line to change (when a Dockerfile was given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The instruction as written (or the history's `created_by`).
    pub instruction: String,
    /// What is wrong (no numbers).
    pub problem: String,
    /// What to change (no numbers).
    pub change: String,
    /// Uncompressed bytes saved.
    pub bytes: u64,
    /// Compressed bytes saved (what every pull stops downloading).
    pub compressed_bytes: u64,
    /// Whether the saving is image size (false for the order advice, whose
    /// figure is what each source change re-pushes and re-pulls).
    pub shrinks_image: bool,
    /// The layers involved.
    pub layers: Vec<u32>,
    /// A sample of the paths involved.
    pub paths: Vec<String>,
    /// Whether `optimize --write` applies it.
    pub automated: bool,
    /// For `cache-order`: the bytes each source change rebuilds, re-pushes
    /// and re-pulls, now and after the reordering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_order: Option<CacheOrderFigure>,
    /// The finding it answers (index in the findings given).
    #[serde(skip)]
    pub finding: Option<usize>,
    /// The rewrite, when automated.
    #[serde(skip)]
    pub edit: Option<Edit>,
}

/// The cache-order figure: layers from the first volatile `COPY` to the top.
#[derive(Clone, Copy, Debug, Serialize, PartialEq, Eq)]
pub struct CacheOrderFigure {
    /// Compressed bytes of those layers now.
    pub before_compressed_bytes: u64,
    /// Uncompressed bytes of those layers now.
    pub before_bytes: u64,
    /// Compressed bytes after the reordering.
    pub after_compressed_bytes: u64,
    /// Uncompressed bytes after the reordering.
    pub after_bytes: u64,
}

/// A change the rewriter can make; indexes are final-stage instruction
/// indexes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    /// Append `command` to the RUN `target` and delete the RUN `from`.
    FoldInto {
        /// The RUN that creates the files.
        target: usize,
        /// The RUN that only cleans up.
        from: usize,
        /// The cleanup command.
        command: String,
    },
    /// Add `--name=value` to the COPY `copy` and delete the RUN `remove`.
    CopyFlag {
        /// The COPY/ADD.
        copy: usize,
        /// The chown/chmod RUN.
        remove: usize,
        /// (`chown` or `chmod`, owner or mode).
        flags: Vec<(String, String)>,
    },
    /// Add `--no-cache-dir` to every `pip install` of the RUN.
    PipNoCache {
        /// The RUN.
        run: usize,
    },
    /// Append a command to the RUN.
    Append {
        /// The RUN.
        run: usize,
        /// The command.
        command: String,
    },
    /// Copy the dependency manifests first, install, then copy the source.
    ManifestsFirst {
        /// The volatile COPY (`COPY . .`).
        copy: usize,
        /// The install RUN.
        install: usize,
        /// The manifest files, as the install names them.
        manifests: Vec<String>,
    },
}

impl Advice {
    /// The advice as a report finding.
    pub fn to_finding(&self) -> Finding {
        Finding {
            kind: self.kind,
            severity: Severity::for_bytes(self.bytes),
            bytes: self.bytes,
            compressed_bytes: self.compressed_bytes,
            layers: self.layers.clone(),
            paths: self.paths.clone(),
            path_count: self.paths.len() as u64,
            message: format!("`{}`: {}", self.instruction, self.problem),
            fix: self.change.clone(),
            dockerfile_line: self.line,
            members: Default::default(),
        }
    }
}

/// What the advisor looks at.
pub struct Context<'a> {
    /// The image.
    pub image: &'a Image,
    /// Its findings (from `analyze::run`).
    pub findings: &'a [Finding],
    /// The instructions tied to layers.
    pub mapping: &'a Mapping,
    /// The Dockerfile, when given.
    pub dockerfile: Option<&'a Dockerfile>,
}

impl Context<'_> {
    fn instructions(&self) -> &[Instruction] {
        self.dockerfile
            .and_then(|d| d.final_stage())
            .map_or(&[], |s| &s.instructions)
    }

    fn instruction(&self, step: &Step) -> Option<&Instruction> {
        step.instruction.and_then(|i| self.instructions().get(i))
    }

    /// The instruction text to quote: the Dockerfile's, else `created_by`.
    fn quote(&self, step: &Step) -> String {
        match self.instruction(step) {
            Some(inst) => inst.summary(),
            None => step.created_by.clone().unwrap_or_default(),
        }
    }

    fn where_(&self, step: &Step) -> String {
        match step.line {
            Some(l) => format!("line {l}"),
            None => format!("`{}`", short(&self.quote(step))),
        }
    }

    /// Whether only metadata instructions separate instructions `a` < `b`.
    fn adjacent(&self, a: usize, b: usize) -> bool {
        self.instructions().get(a + 1..b).is_some_and(|between| {
            between.iter().all(|i| {
                matches!(
                    i.keyword,
                    Keyword::Env | Keyword::Arg | Keyword::Label | Keyword::Expose
                )
            })
        })
    }
}

fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// All advice for an image, largest saving first.
pub fn advise(cx: &Context<'_>) -> Vec<Advice> {
    let mut out = Vec::new();
    for (fi, f) in cx.findings.iter().enumerate() {
        let advice = match f.kind {
            FindingKind::ShadowedFiles => shadowed(cx, f),
            FindingKind::MetadataRewrite => rewrite(cx, f),
            FindingKind::PipCache
            | FindingKind::UvCache
            | FindingKind::CondaPkgs
            | FindingKind::AptLists
            | FindingKind::AptArchives => cache(cx, f),
            FindingKind::LeftoverWheel | FindingKind::LeftoverArchive => leftover(cx, f),
            FindingKind::BuildToolchain => toolchain(cx, f),
            _ => None,
        };
        if let Some(mut a) = advice {
            a.finding = Some(fi);
            out.push(a);
        }
    }
    out.extend(cache_order(cx));
    out.extend(layer_order(cx));
    // Two automated edits must not touch the same instruction in
    // incompatible ways: only what the rewriter will apply stays automated
    // (the larger saving wins).
    out.sort_by(|a, b| {
        b.compressed_bytes
            .cmp(&a.compressed_bytes)
            .then(b.bytes.cmp(&a.bytes))
            .then(a.line.cmp(&b.line))
    });
    super::rewrite::settle(&mut out);
    out
}

fn base(
    kind: FindingKind,
    f: &Finding,
    instruction: String,
    problem: String,
    change: String,
) -> Advice {
    Advice {
        kind,
        line: None,
        instruction,
        problem,
        change,
        bytes: f.bytes,
        compressed_bytes: f.compressed_bytes,
        shrinks_image: true,
        layers: f.layers.clone(),
        paths: f.paths.clone(),
        automated: false,
        cache_order: None,
        finding: None,
        edit: None,
    }
}

/// Split a shell command into its `&&`/`;`-separated parts.
fn parts(command: &str) -> Vec<String> {
    command
        .split("&&")
        .flat_map(|p| p.split(';'))
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect()
}

fn all_parts_start_with(command: &str, words: &[&str]) -> bool {
    let p = parts(command);
    !p.is_empty()
        && p.iter()
            .all(|p| words.iter().any(|w| p.split_whitespace().next() == Some(w)))
}

/// `shadowed-files` across two layers: fold the cleanup into the creator.
fn shadowed(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let (&w, &b) = (f.layers.first()?, f.layers.last()?);
    if w == b || (w as usize) < cx.mapping.base_layers {
        return None;
    }
    let ws = cx.mapping.step_for_layer(w)?;
    let bs = cx.mapping.step_for_layer(b)?;
    let mut a = match ws.keyword {
        Keyword::Run => base(
            FindingKind::ShadowedFiles,
            f,
            cx.quote(ws),
            format!("creates files that {} deletes or replaces later, so they still ship in this layer", cx.where_(bs)),
            format!("delete them in this same RUN (move the cleanup of {} into it), or never create them", cx.where_(bs)),
        ),
        Keyword::Copy | Keyword::Add => base(
            FindingKind::ShadowedFiles,
            f,
            cx.quote(ws),
            format!("copies files into the image that {} deletes later, so they still ship in this layer", cx.where_(bs)),
            "do not copy them: use them from a bind mount in the RUN that needs them (`RUN --mount=type=bind,source=...,target=...`) or from a builder stage (`COPY --from=...` of the results only)".to_owned(),
        ),
        _ => return None,
    };
    a.line = ws.line;
    // Automated when the later RUN only deletes, writes no file, and
    // directly follows the creating RUN.
    if let (Some(wi), Some(bi), Some(wr), Some(br)) = (
        ws.instruction,
        bs.instruction,
        cx.instruction(ws),
        cx.instruction(bs),
    ) && ws.keyword == Keyword::Run
        && wr.is_plain_shell_run()
        && br.is_plain_shell_run()
        && br.flags.is_empty()
        && all_parts_start_with(br.command(), &["rm"])
        && cx.adjacent(wi, bi)
        && layer_writes_no_file(cx.image, b)
    {
        a.automated = true;
        a.edit = Some(Edit::FoldInto {
            target: wi,
            from: bi,
            command: br.command().to_owned(),
        });
    }
    Some(a)
}

fn layer_writes_no_file(image: &Image, layer: u32) -> bool {
    image.layers.get(layer as usize).is_some_and(|l| {
        l.entries
            .iter()
            .all(|e| e.kind != EntryKind::File || e.size == 0)
    })
}

/// `metadata-rewrite`: a later chown/chmod copies every file again.
fn rewrite(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let (&w, &b) = (f.layers.first()?, f.layers.last()?);
    if w == b {
        return None;
    }
    let bs = cx.mapping.step_for_layer(b)?;
    let Some(ws) = cx.mapping.step_for_layer(w) else {
        if (w as usize) < cx.mapping.base_layers {
            let mut a = base(
                FindingKind::MetadataRewrite,
                f,
                cx.quote(bs),
                "changes owner or mode of files from the base image, which copies them into a new layer".to_owned(),
                "avoid changing base-image files recursively; chown only the directories the application writes to".to_owned(),
            );
            a.line = bs.line;
            return Some(a);
        }
        return None;
    };
    let mut a = match ws.keyword {
        Keyword::Copy | Keyword::Add => base(
            FindingKind::MetadataRewrite,
            f,
            cx.quote(ws),
            format!(
                "the files it copies are copied again by the chown/chmod of {}",
                cx.where_(bs)
            ),
            format!(
                "set owner and mode here with `{} --chown=USER:GROUP --chmod=MODE` and drop the chown/chmod of {}",
                ws.keyword.as_str(),
                cx.where_(bs)
            ),
        ),
        _ => base(
            FindingKind::MetadataRewrite,
            f,
            cx.quote(ws),
            format!(
                "the files it creates are copied again by the chown/chmod of {}",
                cx.where_(bs)
            ),
            format!(
                "chown/chmod in this same RUN (move the command of {} into it)",
                cx.where_(bs)
            ),
        ),
    };
    a.line = ws.line;
    let (Some(wi), Some(bi), Some(wr), Some(br)) = (
        ws.instruction,
        bs.instruction,
        cx.instruction(ws),
        cx.instruction(bs),
    ) else {
        return Some(a);
    };
    if !br.is_plain_shell_run()
        || !br.flags.is_empty()
        || !cx.adjacent(wi, bi)
        || !all_parts_start_with(br.command(), &["chown", "chmod"])
    {
        return Some(a);
    }
    // Every file of the chown layer must be a rewrite of the creator's.
    let rewritten: u64 = cx
        .image
        .shadowed
        .iter()
        .filter(|s| {
            s.loc.layer == w && s.by_layer == b && s.how == crate::model::ShadowKind::MetadataOnly
        })
        .map(|s| cx.image.entry(s.loc).size)
        .sum();
    let written: u64 = cx
        .image
        .layers
        .get(b as usize)
        .map_or(0, crate::model::layer_content_bytes);
    if rewritten != written {
        return Some(a);
    }
    if wr.is_plain_shell_run() {
        a.automated = true;
        a.edit = Some(Edit::FoldInto {
            target: wi,
            from: bi,
            command: br.command().to_owned(),
        });
    } else if matches!(wr.keyword, Keyword::Copy | Keyword::Add) {
        // `chown -R OWNER DEST` and/or `chmod -R MODE DEST` over exactly
        // what the COPY wrote: the same as `COPY --chown/--chmod`.
        let dest = wr
            .copy_args()
            .map(|(_, d)| d.trim_end_matches('/').to_owned())
            .unwrap_or_default();
        let mut flags: Vec<(String, String)> = Vec::new();
        let mut ok = !dest.is_empty();
        for part in parts(br.command()) {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (name, rest) = words.split_first().map_or(("", &[][..]), |(n, r)| (*n, r));
            let recursive = rest.iter().any(|w| *w == "-R" || *w == "--recursive");
            let other_flags = rest
                .iter()
                .any(|w| w.starts_with('-') && *w != "-R" && *w != "--recursive");
            let args: Vec<&str> = rest
                .iter()
                .filter(|w| !w.starts_with('-'))
                .copied()
                .collect();
            let valid_value = match (name, args.first()) {
                ("chown", Some(v)) => !v.contains('$'),
                ("chmod", Some(v)) => {
                    v.chars().all(|c| c.is_ascii_digit() && c < '8') && v.len() <= 4
                }
                _ => false,
            };
            let exact = args.len() == 2 && args[1].trim_end_matches('/') == dest;
            if !(recursive && !other_flags && valid_value && exact)
                || wr.flag(name).is_some()
                || flags.iter().any(|f| f.0 == name)
            {
                ok = false;
                break;
            }
            flags.push((name.to_owned(), args[0].to_owned()));
        }
        // Every file the COPY wrote must be rewritten, or `--chown` would
        // change more than the chown did.
        let copied = cx.image.layers.get(w as usize).map_or(0, |l| {
            l.entries
                .iter()
                .filter(|e| e.kind == EntryKind::File)
                .count()
        });
        let rewritten_files = cx
            .image
            .shadowed
            .iter()
            .filter(|s| {
                s.loc.layer == w
                    && s.by_layer == b
                    && s.how == crate::model::ShadowKind::MetadataOnly
            })
            .count();
        if ok && !flags.is_empty() && copied == rewritten_files {
            a.automated = true;
            a.edit = Some(Edit::CopyFlag {
                copy: wi,
                remove: bi,
                flags,
            });
        }
    }
    Some(a)
}

/// Package caches baked into a layer.
fn cache(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = *f
        .layers
        .iter()
        .find(|&&l| l as usize >= cx.mapping.base_layers)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let inst = cx.instruction(step);
    let command = inst
        .map(|i| i.command().to_owned())
        .or_else(|| step.recorded.as_ref().map(|r| r.text.clone()))
        .unwrap_or_default();
    let (problem, change) = match f.kind {
        FindingKind::PipCache => (
            "leaves pip's download and wheel cache in the layer",
            "add `--no-cache-dir` to `pip install` (or set `ENV PIP_NO_CACHE_DIR=1`), or keep the cache out of the image with `RUN --mount=type=cache,target=/root/.cache/pip`",
        ),
        FindingKind::UvCache => (
            "leaves uv's cache in the layer",
            "use `uv ... --no-cache` (or `ENV UV_NO_CACHE=1`), or `RUN --mount=type=cache,target=/root/.cache/uv`",
        ),
        FindingKind::CondaPkgs => (
            "leaves conda's package cache (`pkgs/`) in the layer",
            "end the same RUN with `conda clean -afy`, or use `RUN --mount=type=cache` for the pkgs directory",
        ),
        FindingKind::AptLists => (
            "leaves apt's package lists in the layer",
            "end the same RUN with `rm -rf /var/lib/apt/lists/*`",
        ),
        _ => (
            "leaves downloaded .deb archives in the layer",
            "end the same RUN with `apt-get clean`, or use `RUN --mount=type=cache,target=/var/cache/apt`",
        ),
    };
    let mut a = base(
        f.kind,
        f,
        cx.quote(step),
        problem.to_owned(),
        change.to_owned(),
    );
    a.line = step.line;
    // The finding's bytes are per kind, over all its layers: only when one
    // instruction holds all of them is the saving of its edit known.
    let single = f.layers.len() == 1;
    if !single {
        a.problem
            .push_str("; the finding spans several layers, each needs the change");
    }
    if let (Some(i), Some(inst)) = (step.instruction, inst)
        && single
        && inst.is_plain_shell_run()
    {
        match f.kind {
            FindingKind::PipCache
                if pip_installs(&command) && !command.contains("--no-cache-dir") =>
            {
                a.automated = true;
                a.edit = Some(Edit::PipNoCache { run: i });
            }
            FindingKind::AptLists
                if command.contains("apt-get update")
                    && !command.contains("/var/lib/apt/lists") =>
            {
                a.automated = true;
                a.edit = Some(Edit::Append {
                    run: i,
                    command: "rm -rf /var/lib/apt/lists/*".to_owned(),
                });
            }
            _ => {}
        }
    }
    Some(a)
}

/// Whether a command runs `pip install` (any spelling).
pub fn pip_installs(command: &str) -> bool {
    pip_install_positions(command).next().is_some()
}

/// Byte offsets just after each `pip install` / `pip3 install` /
/// `python -m pip install` in `command`.
pub fn pip_install_positions(command: &str) -> impl Iterator<Item = usize> + '_ {
    command.match_indices("install").filter_map(move |(i, _)| {
        let before = command[..i].trim_end();
        let word = before
            .rsplit(|c: char| c.is_whitespace())
            .next()
            .unwrap_or("");
        let after_ok = command[i + 7..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace);
        let is_pip = word == "pip"
            || word == "pip3"
            || word.ends_with("/pip")
            || word.ends_with("/pip3")
            || word.starts_with("pip3.");
        (is_pip && after_ok).then_some(i + 7)
    })
}

/// Wheels or archives left on disk.
fn leftover(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = *f
        .layers
        .iter()
        .find(|&&l| l as usize >= cx.mapping.base_layers)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let change = match step.keyword {
        Keyword::Copy | Keyword::Add => {
            "do not copy them into the image: install from a bind mount (`RUN --mount=type=bind,source=wheels,target=/wheels pip install /wheels/*.whl`) or copy only the installed result from a builder stage"
        }
        _ => "delete them in the same RUN that downloads and installs them",
    };
    let mut a = base(
        f.kind,
        f,
        cx.quote(step),
        "leaves wheels or archives on disk after installing them".to_owned(),
        change.to_owned(),
    );
    a.line = step.line;
    Some(a)
}

/// A compiler toolchain in the final stage.
fn toolchain(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = *f
        .layers
        .iter()
        .find(|&&l| l as usize >= cx.mapping.base_layers)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let mut a = base(
        f.kind,
        f,
        cx.quote(step),
        "installs a build toolchain (compilers, -dev headers) that the running application does not need".to_owned(),
        "build in a separate stage (`FROM ... AS build`), then `COPY --from=build` only the built packages (e.g. a venv or wheels) into a final stage without the toolchain".to_owned(),
    );
    a.line = step.line;
    Some(a)
}

/// Whether a COPY/ADD copies the whole build context (the application
/// source): its sources include `.`, `./` or `*`.
fn is_volatile_copy(step: &Step, inst: Option<&Instruction>) -> bool {
    if !matches!(step.keyword, Keyword::Copy | Keyword::Add) {
        return false;
    }
    match inst {
        Some(inst) => {
            inst.flag("from").is_none()
                && inst.copy_args().is_some_and(|(srcs, _)| {
                    srcs.iter()
                        .any(|s| matches!(s.as_str(), "." | "./" | "*" | "./*"))
                })
        }
        // History: BuildKit keeps `COPY . .`; the classic format only says
        // `dir:<hash>`, which is any directory: count it as source.
        None => step.recorded.as_ref().is_some_and(|r| {
            let first = r.text.split_whitespace().next().unwrap_or("");
            matches!(first, "." | "./" | "*")
                || (first.starts_with("dir:")
                    && r.copy_dest().is_some_and(|d| {
                        d == "." || d == "./" || d.starts_with("/app") || d.starts_with("/src")
                    }))
        }),
    }
}

/// Dependency manifests named by an install command (`-r FILE`,
/// `--requirement FILE`, `-c FILE`); `None` when it installs something that
/// needs the source (`.`, `-e .`), or is no dependency install at all.
fn install_manifests(command: &str) -> Option<Vec<String>> {
    let mut manifests = Vec::new();
    let mut is_install = false;
    for part in parts(command) {
        let words: Vec<&str> = part.split_whitespace().collect();
        if pip_installs(&part) {
            is_install = true;
            let mut it = words.iter().skip_while(|w| **w != "install").skip(1);
            while let Some(w) = it.next() {
                match *w {
                    "-r" | "--requirement" | "-c" | "--constraint" => {
                        manifests.push((*it.next()?).to_owned())
                    }
                    w if w.starts_with("--requirement=") || w.starts_with("--constraint=") => {
                        manifests.push(w.split_once('=').map(|x| x.1.to_owned())?);
                    }
                    "." | "-e" | "--editable" => return None,
                    w if w.starts_with("./") || w.starts_with('/') => return None,
                    _ => {}
                }
            }
        }
    }
    (is_install && !manifests.is_empty()).then_some(manifests)
}

/// Whether a command installs dependencies from manifests (the kinds
/// cache order cares about, automated or not).
fn is_dependency_install(command: &str) -> bool {
    let c = command;
    (pip_installs(c)
        && (c.contains(" -r ")
            || c.contains("--requirement")
            || c.contains(" . ")
            || c.ends_with(" .")
            || c.contains("-e .")))
        || c.contains("poetry install")
        || c.contains("uv sync")
        || c.contains("uv pip install -r")
        || c.contains("pipenv install")
        || c.contains("conda env create")
        || c.contains("conda env update")
        || c.contains("npm ci")
        || c.contains("npm install")
        || c.contains("yarn install")
}

fn layer_bytes(image: &Image, layer: u32) -> (u64, u64) {
    image
        .layers
        .get(layer as usize)
        .map_or((0, 0), |l| (l.uncompressed_bytes, l.compressed_bytes))
}

/// `cache-order`: the source copied before the dependencies are installed.
fn cache_order(cx: &Context<'_>) -> Option<Advice> {
    let steps = &cx.mapping.steps;
    let vi = steps
        .iter()
        .position(|s| is_volatile_copy(s, cx.instruction(s)))?;
    let volatile = &steps[vi];
    let first_layer = steps[vi..].iter().find_map(|s| s.layer)?;
    let command_of = |s: &Step| -> String {
        cx.instruction(s)
            .map(|i| i.command().to_owned())
            .or_else(|| s.recorded.as_ref().map(|r| r.text.clone()))
            .unwrap_or_default()
    };
    let installs: Vec<&Step> = steps[vi + 1..]
        .iter()
        .filter(|s| s.keyword == Keyword::Run && is_dependency_install(&command_of(s)))
        .collect();
    let install = *installs.first()?;
    let (mut before, mut before_c) = (0u64, 0u64);
    for l in first_layer..cx.image.layers.len() as u32 {
        let (u, c) = layer_bytes(cx.image, l);
        before += u;
        before_c += c;
    }
    let (mut moved, mut moved_c) = (0u64, 0u64);
    for s in &installs {
        if let Some(l) = s.layer {
            let (u, c) = layer_bytes(cx.image, l);
            moved += u;
            moved_c += c;
        }
    }
    let figure = CacheOrderFigure {
        before_compressed_bytes: before_c,
        before_bytes: before,
        after_compressed_bytes: before_c - moved_c,
        after_bytes: before - moved,
    };
    let mut a = Advice {
        kind: FindingKind::CacheOrder,
        line: volatile.line,
        instruction: cx.quote(volatile),
        problem: format!(
            "copies the application source before the dependencies are installed ({}), so every source change rebuilds, re-pushes and re-pulls the dependency layer",
            cx.where_(install)
        ),
        change: "copy the dependency manifests (requirements*.txt, pyproject.toml, lock files) first, install the dependencies, then copy the source".to_owned(),
        bytes: moved,
        compressed_bytes: moved_c,
        shrinks_image: false,
        layers: installs.iter().filter_map(|s| s.layer).collect(),
        paths: Vec::new(),
        automated: false,
        cache_order: Some(figure),
        finding: None,
        edit: None,
    };
    if let (Some(ci), Some(ii), Some(copy), Some(run)) = (volatile.instruction, install.instruction, cx.instruction(volatile), cx.instruction(install))
        && installs.len() == 1
        && run.is_plain_shell_run()
        && run.flags.iter().all(|f| f.name == "mount")
        && let Some(manifests) = install_manifests(run.command())
        && manifests.iter().all(|m| !m.starts_with('/') && !m.contains('$') && !m.contains(".."))
        && copy.flag("chmod").is_none()
        // Nothing between may change the directory the install runs in.
        && cx.instructions()[ci + 1..ii].iter().all(|i| !matches!(i.keyword, Keyword::Workdir | Keyword::User | Keyword::Shell))
        && matches!(&copy.args, Args::Copy { dest, .. } if dest == "." || dest == "./" || dest.ends_with('/') || copy_dest_is_workdir(cx, ci, dest))
    {
        a.automated = true;
        a.edit = Some(Edit::ManifestsFirst {
            copy: ci,
            install: ii,
            manifests,
        });
    }
    Some(a)
}

/// Whether `dest` is the WORKDIR in effect at instruction `at` (so `COPY .
/// /app` with `WORKDIR /app` puts `requirements.txt` where a relative `-r`
/// finds it).
fn copy_dest_is_workdir(cx: &Context<'_>, at: usize, dest: &str) -> bool {
    cx.instructions()[..at]
        .iter()
        .rev()
        .find(|i| i.keyword == Keyword::Workdir)
        .is_some_and(|w| matches!(&w.args, Args::Text(t) if t.trim_end_matches('/') == dest.trim_end_matches('/')))
}

/// `layer-order`: large stable layers (system packages, downloads) made
/// after the source is copied are rebuilt and re-pulled with every source
/// change.
fn layer_order(cx: &Context<'_>) -> Vec<Advice> {
    let steps = &cx.mapping.steps;
    let Some(vi) = steps
        .iter()
        .position(|s| is_volatile_copy(s, cx.instruction(s)))
    else {
        return Vec::new();
    };
    let volatile = &steps[vi];
    let mut out = Vec::new();
    for s in &steps[vi + 1..] {
        let Some(layer) = s.layer else { continue };
        if s.keyword != Keyword::Run {
            continue;
        }
        let cmd = cx
            .instruction(s)
            .map(|i| i.command().to_owned())
            .or_else(|| s.recorded.as_ref().map(|r| r.text.clone()))
            .unwrap_or_default();
        let first = parts(&cmd)
            .first()
            .and_then(|p| p.split_whitespace().next().map(str::to_owned))
            .unwrap_or_default();
        let stable = matches!(
            first.as_str(),
            "apt-get" | "apt" | "apk" | "yum" | "dnf" | "microdnf" | "curl" | "wget"
        ) && !cmd.contains(" ./")
            && !cmd.contains(" . ");
        if !stable {
            continue;
        }
        let (u, c) = layer_bytes(cx.image, layer);
        out.push(Advice {
            kind: FindingKind::LayerOrder,
            line: s.line,
            instruction: cx.quote(s),
            problem: format!("does not depend on the application source but comes after it ({}), so it is rebuilt and re-pulled on every source change", cx.where_(volatile)),
            change: format!("move it above {}", cx.where_(volatile)),
            bytes: u,
            compressed_bytes: c,
            shrinks_image: false,
            layers: vec![layer],
            paths: Vec::new(),
            automated: false,
            cache_order: None,
            finding: None,
            edit: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_pip_installs_and_manifests() {
        assert!(pip_installs("python -m pip install x"));
        assert!(pip_installs("pip3 install -r r.txt && true"));
        assert!(!pip_installs("apt-get install -y python3-pip"));
        assert_eq!(
            install_manifests("pip install -r requirements.txt -c constraints.txt"),
            Some(vec!["requirements.txt".into(), "constraints.txt".into()])
        );
        assert_eq!(install_manifests("pip install -e ."), None);
        assert_eq!(install_manifests("pip install numpy"), None);
        assert!(all_parts_start_with(
            "rm -rf /a && rm /b; rm -f /c",
            &["rm"]
        ));
        assert!(!all_parts_start_with("rm -rf /a && touch /b", &["rm"]));
    }
}
