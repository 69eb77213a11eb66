//! Drift findings: what a rebuild of the same Dockerfile can install
//! differently, each with its Dockerfile line and the bytes at stake,
//! measured on the image.
//!
//! - `unpinned-base`: `FROM` by tag without a digest (not `scratch`, not a
//!   stage); bytes: the base layers' content.
//! - `unpinned-apt`: `apt-get install` arguments without `=version`;
//!   bytes: those packages' files in the final filesystem (dpkg database).
//! - `unpinned-pip`: distributions installed after the base that no
//!   requirements/constraints/lock file of the build context pins with `==`
//!   ([`pins`]); bytes: theirs.
//! - `unverified-download`: a download executed or installed without a
//!   checksum, or `ADD URL` without `--checksum` ([`download`]); bytes: the
//!   content of the layer it made.

pub mod download;
pub mod pins;

use std::path::Path;

use super::map::Mapping;
use super::parse::{Dockerfile, Instruction, Keyword};
use super::shell;
use crate::analyze::python::normalize_name;
use crate::analyze::{Analysis, Finding, FindingKind, Severity};
use crate::model::Image;

/// What the drift findings read.
pub struct Context<'a> {
    /// The image.
    pub image: &'a Image,
    /// Its analysis (distributions, dpkg packages, layer figures).
    pub analysis: &'a Analysis,
    /// The Dockerfile.
    pub dockerfile: &'a Dockerfile,
    /// Its final stage tied to the layers.
    pub mapping: &'a Mapping,
    /// The build context (requirement and lock files).
    pub context: &'a Path,
}

/// Every drift finding of the Dockerfile against the image.
pub fn findings(cx: &Context<'_>) -> Vec<Finding> {
    let mut out = unpinned_base(cx);
    out.extend(unpinned_apt(cx));
    out.extend(unpinned_pip(cx));
    out.extend(unverified_downloads(cx));
    out
}

/// The layer an instruction of the final stage made.
fn layer_of(cx: &Context<'_>, stage: usize, index: usize) -> Option<u32> {
    if stage + 1 != cx.dockerfile.stages.len() {
        return None;
    }
    cx.mapping
        .steps
        .iter()
        .find(|s| s.instruction == Some(index))
        .and_then(|s| s.layer)
}

fn finding(
    cx: &Context<'_>,
    kind: FindingKind,
    per_layer: &[(u32, u64)],
    line: u32,
    message: String,
    fix: &str,
) -> Finding {
    let mut f = Finding::new(cx.image, kind, per_layer, message, fix);
    f.severity = Severity::Warning;
    f.dockerfile_line = Some(line);
    f
}

fn layer_bytes(cx: &Context<'_>, layer: u32) -> u64 {
    cx.analysis
        .layers
        .get(layer as usize)
        .map_or(0, |l| l.content_bytes)
}

fn unpinned_base(cx: &Context<'_>) -> Vec<Finding> {
    let df = cx.dockerfile;
    let mut out = Vec::new();
    for (i, stage) in df.stages.iter().enumerate() {
        let base = stage.base.trim();
        let is_stage = df.stages[..i].iter().any(|s| {
            s.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(base))
        });
        if base.eq_ignore_ascii_case("scratch") || is_stage || base.contains("@sha256:") {
            continue;
        }
        let per_layer: Vec<(u32, u64)> = if i + 1 == df.stages.len() {
            (0..cx.mapping.base_layers as u32)
                .map(|l| (l, layer_bytes(cx, l)))
                .collect()
        } else {
            Vec::new()
        };
        let mut f = finding(
            cx,
            FindingKind::UnpinnedBase,
            &per_layer,
            stage.from_line,
            format!(
                "`FROM {base}` names a tag, not a digest: a rebuild may start from another image"
            ),
            "pin the base by digest: `FROM name:tag@sha256:...` (`optimize --apply pin` writes it when the digest is known)",
        );
        // The base's bytes are what drifts, and they sit in the base layers
        // a budget accepts: the finding belongs to the Dockerfile line.
        f.layers.clear();
        f.paths = vec![base.to_owned()];
        f.path_count = 1;
        out.push(f);
    }
    out
}

/// The package arguments of every `apt-get install` in a command.
pub fn apt_install_args(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in shell::parts(command) {
        for pos in shell::apt_install_positions(&part) {
            out.extend(
                part[pos..]
                    .split_whitespace()
                    .take_while(|w| !matches!(*w, "|" | ">" | ">>" | "2>&1"))
                    .filter(|w| !w.starts_with('-') && !w.contains('/') && !w.contains('$'))
                    .map(|w| w.trim_matches(|c| c == '"' || c == '\'').to_owned()),
            );
        }
    }
    out.retain(|w| !w.is_empty() && w.chars().all(|c| !c.is_whitespace() && c != '\\'));
    out
}

fn unpinned_apt(cx: &Context<'_>) -> Vec<Finding> {
    let pkgs = &cx.analysis.system_packages.packages;
    let mut out = Vec::new();
    for (si, stage) in cx.dockerfile.stages.iter().enumerate() {
        for (ii, inst) in stage.instructions.iter().enumerate() {
            if inst.keyword != Keyword::Run {
                continue;
            }
            let unpinned: Vec<String> = apt_install_args(inst.command())
                .into_iter()
                .filter(|w| !w.contains('='))
                .collect();
            if unpinned.is_empty() {
                continue;
            }
            let layer = layer_of(cx, si, ii);
            let mut per_layer = Vec::new();
            let mut listed = Vec::new();
            for name in &unpinned {
                let bare = name.split(':').next().unwrap_or(name);
                match pkgs.iter().find(|p| p.name == bare) {
                    Some(p) if layer.is_some() => {
                        per_layer.push((p.layer, p.bytes));
                        listed.push(format!("{}={}", p.name, p.version));
                    }
                    _ => listed.push(bare.to_owned()),
                }
            }
            let mut f = finding(
                cx,
                FindingKind::UnpinnedApt,
                &per_layer,
                inst.line,
                format!(
                    "`apt-get install` without versions: {}",
                    unpinned.join(", ")
                ),
                "install `pkg=version` (`optimize --apply pin` writes the versions the image holds), or pin the snapshot (snapshot.debian.org)",
            );
            if let Some(l) = layer {
                f.layers = vec![l];
            }
            f.packages = listed;
            out.push(f);
        }
    }
    out
}

fn unpinned_pip(cx: &Context<'_>) -> Vec<Finding> {
    let pins = pins::read(cx.dockerfile, cx.context);
    if pins.everything {
        return Vec::new();
    }
    let base = cx.mapping.base_layers as u32;
    // (layer, name==version, bytes, metadata path), by the layer that
    // installed them.
    let mut free: Vec<(u32, String, u64, String)> = Vec::new();
    for env in &cx.analysis.python.environments {
        for d in &env.distributions {
            let foreign = matches!(d.installer.as_deref(), Some("debian" | "conda"))
                || d.files_from == "dpkg"
                || d.files_from == "conda-meta";
            if d.layer < base || foreign || pins.names.contains(&normalize_name(&d.name)) {
                continue;
            }
            free.push((
                d.layer,
                format!("{}=={}", d.name, d.version),
                d.bytes,
                d.metadata.clone(),
            ));
        }
    }
    free.sort();
    let mut out = Vec::new();
    let mut layers: Vec<u32> = free.iter().map(|f| f.0).collect();
    layers.dedup();
    for layer in layers {
        let mine: Vec<&(u32, String, u64, String)> = free.iter().filter(|f| f.0 == layer).collect();
        let line = cx
            .mapping
            .line_for_layer(layer)
            .or_else(|| cx.dockerfile.final_stage().map(|s| s.from_line))
            .unwrap_or(1);
        let names: Vec<&str> = mine
            .iter()
            .map(|f| f.1.split("==").next().unwrap_or(""))
            .collect();
        let per_layer: Vec<(u32, u64)> = mine.iter().map(|f| (layer, f.2)).collect();
        let mut f = finding(
            cx,
            FindingKind::UnpinnedPip,
            &per_layer,
            line,
            format!(
                "distributions no requirements, constraints or lock file of the build context pins: {}",
                names.join(", ")
            ),
            "pin every distribution, transitive ones too: a constraints file (`pip install -c constraints.txt`, which `optimize --apply pin` writes from the image) or a lock file",
        )
        .with_paths(mine.iter().map(|f| (f.3.clone(), f.2)).collect());
        f.packages = mine.iter().map(|f| f.1.clone()).collect();
        out.push(f);
    }
    out
}

fn unverified_downloads(cx: &Context<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    for (si, stage) in cx.dockerfile.stages.iter().enumerate() {
        for (ii, inst) in stage.instructions.iter().enumerate() {
            let Some(why) = download::unverified(inst) else {
                continue;
            };
            let layer = layer_of(cx, si, ii);
            let per_layer: Vec<(u32, u64)> =
                layer.map(|l| (l, layer_bytes(cx, l))).into_iter().collect();
            out.push(finding(
                cx,
                FindingKind::UnverifiedDownload,
                &per_layer,
                inst.line,
                format!("`{}`: {why}", short(inst)),
                "check what was downloaded in the same RUN (`echo \"SHA256  FILE\" | sha256sum -c -`, `gpg --verify`), or `ADD --checksum=sha256:...`",
            ));
        }
    }
    out
}

/// The instruction's first line, shortened.
fn short(inst: &Instruction) -> String {
    let s = inst.summary();
    let s = s.lines().next().unwrap_or("");
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s.to_owned()
    }
}
