//! `optimize --apply pin`: versions pinned from what the image holds. pip
//! and uv installs get `-c /tmp/constraints.txt` (the file, written next
//! to the rewritten Dockerfile, lists every distribution at the version
//! the image holds, and a `COPY` brings it in before the first install of
//! each stage); `apt-get install pkg` becomes `pkg=version` from the dpkg
//! database; the final stage's `FROM` gets `@sha256:...` when the base's
//! digest is known (`--base`). A build context with `uv.lock` that the
//! Dockerfile syncs from is pinned already, and is said so.
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

/// Where the constraints file goes in the image.
pub const CONSTRAINTS_IN_IMAGE: &str = "/tmp/constraints.txt";
/// Its name in the build context (next to the rewritten Dockerfile).
pub const CONSTRAINTS_FILE: &str = "constraints.txt";

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
}

impl Pins {
    /// The pins of an analysed image built from `df` in `context`.
    pub fn from_image(
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
            .collect();
        a.edits = vec![super::Edit::Pin];
        a
    }
}

fn pip_runs(df: &Dockerfile) -> bool {
    df.stages
        .iter()
        .flat_map(|s| &s.instructions)
        .any(|i| i.keyword == Keyword::Run && shell::pip_installs(i.command()))
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
    let last = df.stages.len().saturating_sub(1);
    for (si, stage) in df.stages.iter().enumerate() {
        if si == last
            && let Some(d) = &pins.base_digest
        {
            from_edit(text, stage.from_line, &stage.base, d, &mut edits);
        }
        let mut copied = false;
        for inst in stage
            .instructions
            .iter()
            .filter(|i| i.keyword == Keyword::Run)
        {
            let span = inst.span.clone();
            let body = &text[span.clone()];
            apt_edits(body, span.start, &pins.apt, &mut edits);
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

    #[test]
    fn a_uv_lock_is_pinned_already() {
        let mut p = pins();
        p.uv_locked = true;
        p.base_digest = None;
        let text = "FROM python:3.12\nRUN pip install uv && uv sync --locked\n";
        assert_eq!(apply(text, &p), text);
    }
}
