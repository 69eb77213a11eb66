//! `optimize --apply pin`: versions pinned from what the image holds. pip
//! and uv installs get `-c /tmp/constraints.txt` (the file, written next
//! to the rewritten Dockerfile, lists every distribution at the version
//! the image holds, and a `COPY` brings it in before the first install of
//! each stage); `apt-get install pkg` becomes `pkg=version` from the dpkg
//! database; the final stage's `FROM` gets `@sha256:...` when the base's
//! digest is known (`--base`). A build context with `uv.lock` that the
//! Dockerfile syncs from is pinned already, and is said so. conda, mamba
//! and micromamba installs get every conda package of the image as
//! `name=version=build` in `pinned_packages`, a config file that a `COPY`
//! puts in `/etc/conda/condarc.d/` (conda's system-wide search path)
//! before the first install of each stage.
//!
//! Applied as a last pass over the rewritten text, so it composes with
//! every other change.

use std::collections::BTreeMap;
use std::path::Path;

use super::advice::{Advice, ChangeKind};
use super::drift::pins;
use super::parse::{Dockerfile, Keyword};
use super::shell;
use crate::analyze::Analysis;
use crate::analyze::python::normalize_name;
use crate::model::Image;
use crate::scan::EntryKind;

/// Where the constraints file goes in the image.
pub const CONSTRAINTS_IN_IMAGE: &str = "/tmp/constraints.txt";
/// Its name in the build context (next to the rewritten Dockerfile).
pub const CONSTRAINTS_FILE: &str = "constraints.txt";
/// Where the conda pins go in the image: a file of conda's system-wide
/// configuration directory, read by conda, mamba and micromamba.
pub const CONDA_PINS_IN_IMAGE: &str = "/etc/conda/condarc.d/layerscope-pins.yml";
/// Its name in the build context.
pub const CONDA_PINS_FILE: &str = "conda-pins.yml";

/// The versions the image holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pins {
    /// The base image's digest (`sha256:...`), when known.
    pub base_digest: Option<String>,
    /// dpkg packages: name -> version.
    pub apt: BTreeMap<String, String>,
    /// pip/uv distributions (name as in METADATA, version), by normalised
    /// name; the first environment's version when two differ.
    pub python: Vec<(String, String)>,
    /// The context's `uv.lock` pins the distributions already (the
    /// Dockerfile runs `uv sync` and the lock is there).
    pub uv_locked: bool,
    /// conda packages as `name=version=build`, sorted, from the records
    /// `PREFIX/conda-meta/NAME-VERSION-BUILD.json` of the final filesystem.
    pub conda: Vec<String>,
}

impl Pins {
    /// The pins of an analysed image built from `df` in `context`.
    pub fn from_image(
        image: &Image,
        analysis: &Analysis,
        df: &Dockerfile,
        context: &Path,
        base_digest: Option<String>,
    ) -> Pins {
        let apt = analysis
            .system_packages
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        let mut python: BTreeMap<String, (String, String)> = BTreeMap::new();
        for env in &analysis.python.environments {
            for d in &env.distributions {
                let foreign = matches!(d.installer.as_deref(), Some("debian" | "conda"))
                    || d.files_from == "dpkg"
                    || d.files_from == "conda-meta";
                if !foreign {
                    python
                        .entry(normalize_name(&d.name))
                        .or_insert_with(|| (d.name.clone(), d.version.clone()));
                }
            }
        }
        let syncs = df
            .stages
            .iter()
            .flat_map(|s| &s.instructions)
            .any(|i| i.keyword == Keyword::Run && i.command().contains("uv sync"));
        let uv_locked = syncs
            && pins::read(df, context)
                .lock_files
                .iter()
                .any(|l| l == "uv.lock");
        Pins {
            base_digest,
            apt,
            python: python.into_values().collect(),
            uv_locked,
            conda: conda_packages(image),
        }
    }

    /// The constraints file: `name==version` per line, sorted by name.
    pub fn constraints(&self) -> String {
        let mut out =
            String::from("# Written by `layerscope optimize --apply pin` from the image.\n");
        for (name, version) in &self.python {
            out.push_str(&format!("{name}=={version}\n"));
        }
        out
    }

    /// Whether the rewrite writes a constraints file.
    pub fn writes_constraints(&self, df: &Dockerfile) -> bool {
        !self.uv_locked && !self.python.is_empty() && pip_runs(df)
    }

    /// The conda pins file: `pinned_packages`, one `name=version=build`
    /// per line (the form `conda env export` writes).
    pub fn conda_pins(&self) -> String {
        let mut out = String::from(
            "# Written by `layerscope optimize --apply pin` from the image.\npinned_packages:\n",
        );
        for spec in &self.conda {
            out.push_str(&format!("  - {spec}\n"));
        }
        out
    }

    /// Whether the rewrite writes the conda pins file.
    pub fn writes_conda_pins(&self, df: &Dockerfile) -> bool {
        !self.conda.is_empty() && conda_runs(df)
    }

    /// The `pin` advice for `df`.
    pub fn advice(&self, df: &Dockerfile) -> Advice {
        let mut a = Advice::new(None, ChangeKind::Pin);
        let stage = df.final_stage();
        a.line = stage.map(|s| s.from_line);
        a.instruction = stage
            .map(|s| format!("FROM {}", s.base))
            .unwrap_or_default();
        a.problem =
            "versions nothing pins: a rebuild of the same Dockerfile may install other ones".into();
        let mut what = Vec::new();
        if self.writes_constraints(df) {
            what.push(format!(
                "`pip install -c {CONSTRAINTS_IN_IMAGE}` with `{CONSTRAINTS_FILE}` listing every distribution at the version the image holds"
            ));
        }
        if self.writes_conda_pins(df) {
            what.push(format!(
                "conda: `{CONDA_PINS_FILE}` copied to `{CONDA_PINS_IN_IMAGE}` with every conda package at the version and build the image holds (`pinned_packages`)"
            ));
        }
        if self.uv_locked {
            what.push(
                "uv: `uv.lock` pins the distributions already (keep `uv sync --locked`)".into(),
            );
        }
        what.push("`apt-get install pkg=version` from the image's dpkg database".into());
        match &self.base_digest {
            Some(d) => what.push(format!("`FROM name@{d}`")),
            None => what.push("the base stays by tag (give `--base REF` to pin its digest)".into()),
        }
        a.change = what.join("; ");
        a.bytes = Some(0);
        a.compressed_bytes = Some(0);
        a.shrinks_image = false;
        a.automated = true;
        a.packages = self
            .python
            .iter()
            .map(|(n, v)| format!("{n}=={v}"))
            .chain(self.conda.iter().cloned())
            .collect();
        a.edits = vec![super::Edit::Pin];
        a
    }
}

/// Whether a RUN of `df` runs a command that `does`.
fn any_run(df: &Dockerfile, does: impl Fn(&str) -> bool) -> bool {
    df.stages
        .iter()
        .flat_map(|s| &s.instructions)
        .any(|i| i.keyword == Keyword::Run && does(i.command()))
}

fn pip_runs(df: &Dockerfile) -> bool {
    any_run(df, shell::pip_installs)
}

fn conda_runs(df: &Dockerfile) -> bool {
    any_run(df, |c| shell::conda_tool(c).is_some())
}

/// Every conda package of the final filesystem as `name=version=build`,
/// read from its record's file name (`NAME-VERSION-BUILD.json`: neither a
/// conda version nor a build string holds `-`), sorted and deduplicated.
fn conda_packages(image: &Image) -> Vec<String> {
    let mut out: Vec<String> = image
        .final_entries()
        .filter(|(_, e)| e.kind == EntryKind::File && e.path.parent().ends_with(b"/conda-meta"))
        .filter_map(|(_, e)| {
            let name = std::str::from_utf8(e.path.file_name()).ok()?;
            let stem = name.strip_suffix(".json")?;
            let mut parts = stem.rsplitn(3, '-');
            let (build, version, package) = (parts.next()?, parts.next()?, parts.next()?);
            (!package.is_empty() && !version.is_empty() && !build.is_empty())
                .then(|| format!("{package}={version}={build}"))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Pins `text` (a Dockerfile, usually the rewritten one); returns it as it
/// is when it does not parse.
pub fn apply(text: &str, pins: &Pins) -> String {
    let Ok(df) = Dockerfile::parse("Dockerfile", text) else {
        return text.to_owned();
    };
    let text = &df.text;
    // (start, end, replacement), applied back to front.
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    let constraints = pins.writes_constraints(&df);
    let conda = pins.writes_conda_pins(&df);
    let root = root_base(&df);
    for (si, stage) in df.stages.iter().enumerate() {
        if let Some(d) = &pins.base_digest
            && root == Some(stage.base.as_str())
            && named_stage(&df, si).is_none()
        {
            from_edit(text, stage.from_line, &stage.base, d, &mut edits);
        }
        let (mut copied, mut conda_copied) = (false, false);
        for inst in stage
            .instructions
            .iter()
            .filter(|i| i.keyword == Keyword::Run)
        {
            let span = inst.span.clone();
            let body = &text[span.clone()];
            apt_edits(body, span.start, &pins.apt, &mut edits);
            if conda && !conda_copied && shell::conda_tool(inst.command()).is_some() {
                edits.push((
                    span.start,
                    span.start,
                    format!("COPY {CONDA_PINS_FILE} {CONDA_PINS_IN_IMAGE}\n"),
                ));
                conda_copied = true;
            }
            if !constraints {
                continue;
            }
            let at: Vec<usize> = shell::pip_install_positions(body).collect();
            if at.is_empty() {
                continue;
            }
            if !copied {
                edits.push((
                    span.start,
                    span.start,
                    format!("COPY {CONSTRAINTS_FILE} {CONSTRAINTS_IN_IMAGE}\n"),
                ));
                copied = true;
            }
            for p in at {
                edits.push((
                    span.start + p,
                    span.start + p,
                    format!(" -c {CONSTRAINTS_IN_IMAGE}"),
                ));
            }
        }
    }
    edits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let mut out = text.clone();
    for (start, end, new) in edits {
        out.replace_range(start..end, &new);
    }
    out
}

/// `FROM base` -> `FROM base@digest` on the stage's line.
/// The image the final stage grows from, through the stages it names: the
/// one `--base`'s digest belongs to. Every stage on that image is pinned (a
/// build stage on the same base as the runtime stage too).
fn root_base(df: &Dockerfile) -> Option<&str> {
    let mut at = df.stages.len().checked_sub(1)?;
    // Each step goes to an earlier stage, so this ends.
    while let Some(named) = named_stage(df, at) {
        at = named;
    }
    Some(df.stages[at].base.as_str())
}

/// The earlier stage that stage `at`'s `FROM` names, if any.
fn named_stage(df: &Dockerfile, at: usize) -> Option<usize> {
    let base = &df.stages[at].base;
    df.stages[..at].iter().rposition(|s| {
        s.name
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(base))
    })
}

fn from_edit(
    text: &str,
    line: u32,
    base: &str,
    digest: &str,
    edits: &mut Vec<(usize, usize, String)>,
) {
    if base.contains('@') || base.eq_ignore_ascii_case("scratch") {
        return;
    }
    let start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1) as usize)
        .map(str::len)
        .sum();
    let line_text = text[start..].lines().next().unwrap_or("");
    // The base as written, past the keyword and any `--platform` flag.
    let mut offset = 0;
    for w in line_text.split_whitespace() {
        let at = line_text[offset..].find(w).map_or(offset, |p| offset + p);
        offset = at + w.len();
        if w == base {
            edits.push((start + offset, start + offset, format!("@{digest}")));
            return;
        }
    }
}

/// `apt-get install pkg` -> `pkg=version` in one RUN's text at `base`.
fn apt_edits(
    body: &str,
    base: usize,
    apt: &BTreeMap<String, String>,
    edits: &mut Vec<(usize, usize, String)>,
) {
    let (mut apt_seen, mut installing) = (false, false);
    let mut offset = 0;
    for w in body.split_whitespace() {
        let at = body[offset..].find(w).map_or(offset, |p| offset + p);
        offset = at + w.len();
        if matches!(w, "&&" | "||" | ";" | "|") || w.ends_with(';') {
            (apt_seen, installing) = (false, false);
            continue;
        }
        if w == "apt-get" || w == "apt" {
            apt_seen = true;
        } else if apt_seen && w == "install" {
            installing = true;
        } else if installing && !w.starts_with('-') && !w.contains(['=', '/', '$', '\\']) {
            let (name, arch) = w.split_once(':').unwrap_or((w, ""));
            if let Some(v) = apt.get(name) {
                let _ = arch;
                edits.push((base + at + w.len(), base + at + w.len(), format!("={v}")));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pins() -> Pins {
        Pins {
            base_digest: Some(format!("sha256:{}", "ab".repeat(32))),
            apt: [("curl", "7.88.1-10"), ("git", "1:2.39.2-1")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
            python: vec![
                ("Flask".into(), "3.0.0".into()),
                ("Jinja2".into(), "3.1.4".into()),
            ],
            uv_locked: false,
            conda: Vec::new(),
        }
    }

    #[test]
    fn pins_from_apt_pip_and_base() {
        let text = "FROM --platform=linux/amd64 debian:bookworm-slim AS base\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl git=1:2.39.2-1 && \\\n    rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nRUN pip install --no-cache-dir -r requirements.txt && pip3 install six\n";
        let want = format!(
            "FROM --platform=linux/amd64 debian:bookworm-slim@sha256:{} AS base\nRUN apt-get update && \\\n    apt-get install -y --no-install-recommends curl=7.88.1-10 git=1:2.39.2-1 && \\\n    rm -rf /var/lib/apt/lists/*\nCOPY requirements.txt .\nCOPY constraints.txt /tmp/constraints.txt\nRUN pip install -c /tmp/constraints.txt --no-cache-dir -r requirements.txt && pip3 install -c /tmp/constraints.txt six\n",
            "ab".repeat(32)
        );
        assert_eq!(apply(text, &pins()), want);
        assert_eq!(
            pins().constraints(),
            "# Written by `layerscope optimize --apply pin` from the image.\nFlask==3.0.0\nJinja2==3.1.4\n"
        );
    }

    /// After a multi-stage split both stages start from the base; a stage
    /// on another image, or on a stage, stays as written.
    #[test]
    fn every_stage_on_the_final_base_is_pinned() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let text = "FROM python:3.12 AS tools\nRUN echo\nFROM debian:12 AS build\nRUN echo\nFROM build AS mid\nFROM debian:12\nCOPY --from=mid /a /a\n";
        assert_eq!(
            apply(text, &pins()),
            format!(
                "FROM python:3.12 AS tools\nRUN echo\nFROM debian:12@{d} AS build\nRUN echo\nFROM build AS mid\nFROM debian:12@{d}\nCOPY --from=mid /a /a\n"
            )
        );
        // The final stage grows from a stage: its root is pinned.
        let text = "FROM debian:12 AS build\nRUN echo\nFROM build\nRUN echo\n";
        assert_eq!(
            apply(text, &pins()),
            format!("FROM debian:12@{d} AS build\nRUN echo\nFROM build\nRUN echo\n")
        );
    }

    #[test]
    fn a_uv_lock_is_pinned_already() {
        let mut p = pins();
        p.uv_locked = true;
        p.base_digest = None;
        let text = "FROM python:3.12\nRUN pip install uv && uv sync --locked\n";
        assert_eq!(apply(text, &p), text);
    }

    #[test]
    fn conda_installs_get_the_pins_file() {
        let mut p = pins();
        p.base_digest = None;
        p.conda = vec![
            "numpy=1.26.4=py311h64a7726_0".into(),
            "python=3.11.8=hab00c5b_0_cpython".into(),
        ];
        let text = "FROM continuumio/miniconda3:24.1.2-0\nRUN echo hi\nRUN conda install -y numpy && conda clean -afy\nRUN conda install -y scipy\n";
        assert_eq!(
            apply(text, &p),
            "FROM continuumio/miniconda3:24.1.2-0\nRUN echo hi\nCOPY conda-pins.yml /etc/conda/condarc.d/layerscope-pins.yml\nRUN conda install -y numpy && conda clean -afy\nRUN conda install -y scipy\n"
        );
        assert_eq!(
            p.conda_pins(),
            "# Written by `layerscope optimize --apply pin` from the image.\npinned_packages:\n  - numpy=1.26.4=py311h64a7726_0\n  - python=3.11.8=hab00c5b_0_cpython\n"
        );
        // Without a conda install, no file.
        let df = Dockerfile::parse("Dockerfile", "FROM x\nRUN pip install six\n").unwrap();
        assert!(!p.writes_conda_pins(&df));
    }
}
