//! Advice measured on an image: each finding tied to the instruction
//! responsible, with the change to make, the bytes it saves on this very
//! image, and the edits that make it; plus the advice only a build order
//! can give (cache order, layer order).
//!
//! Findings are consumed by kind, never recomputed: `shadowed-files` and
//! `metadata-rewrite` (waste), the cache kinds, leftovers, toolchains, tests
//! and bytecode (bloat). The edits come from [`super::chain`] (joining
//! RUNs, apt, caches), [`super::ownership`] (chown/chmod) and
//! [`super::order`] (cache order).

use super::advice::{Advice, ChangeKind};
use super::map::{Mapping, Step};
use super::parse::{Dockerfile, Instruction};
use super::{cleanup, order, ownership, review};
use crate::analyze::{Finding, FindingKind};
use crate::model::Image;

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
    /// The image's package database, when it has one.
    pub packages: Option<&'a crate::packages::Database>,
}

impl Context<'_> {
    /// The final stage's instructions (none without a Dockerfile).
    pub fn instructions(&self) -> &[Instruction] {
        self.dockerfile
            .and_then(|d| d.final_stage())
            .map_or(&[], |s| &s.instructions)
    }

    /// The instruction of a step.
    pub fn instruction(&self, step: &Step) -> Option<&Instruction> {
        step.instruction.and_then(|i| self.instructions().get(i))
    }

    /// The instruction text to quote: the Dockerfile's, else `created_by`.
    pub fn quote(&self, step: &Step) -> String {
        match self.instruction(step) {
            Some(inst) => inst.summary(),
            None => step.created_by.clone().unwrap_or_default(),
        }
    }

    /// `line N`, or the quoted instruction without a Dockerfile.
    pub fn where_(&self, step: &Step) -> String {
        match step.line {
            Some(l) => format!("line {l}"),
            None => format!("`{}`", short(&self.quote(step))),
        }
    }

    /// The command of a `RUN` step (the Dockerfile's, else the history's).
    pub fn command(&self, step: &Step) -> String {
        self.instruction(step)
            .map(|i| i.command().to_owned())
            .or_else(|| step.recorded.as_ref().map(|r| r.text.clone()))
            .unwrap_or_default()
    }

    /// The step and instruction index of a layer, or why there is none to
    /// edit.
    pub fn editable(&self, layer: u32) -> Result<(&Step, usize), String> {
        if (layer as usize) < self.mapping.base_layers {
            return Err("the files come from the base image".to_owned());
        }
        let step = self
            .mapping
            .step_for_layer(layer)
            .ok_or_else(|| format!("layer {layer} is not tied to an instruction"))?;
        let i = step
            .instruction
            .ok_or_else(|| "give --dockerfile to rewrite it".to_owned())?;
        Ok((step, i))
    }

    /// Advice for finding `f` quoting the step of its first own layer.
    pub fn advice_at(&self, f: &Finding, change_kind: ChangeKind, step: &Step) -> Advice {
        let mut a = Advice::for_finding(f, change_kind);
        a.line = step.line;
        a.instruction = self.quote(step);
        a
    }
}

/// Shortens a quoted instruction.
pub fn short(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() > 80 {
        format!("{}...", s.chars().take(77).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// The first layer of a finding above the base image.
pub fn own_layer(cx: &Context<'_>, f: &Finding) -> Option<u32> {
    f.layers
        .iter()
        .copied()
        .find(|&l| l as usize >= cx.mapping.base_layers)
}

/// All advice for an image, largest saving first (not yet settled).
pub fn advise(cx: &Context<'_>) -> Vec<Advice> {
    let mut out = Vec::new();
    for (fi, f) in cx.findings.iter().enumerate() {
        let advice: Vec<Advice> = match f.kind {
            FindingKind::ShadowedFiles => cleanup::shadowed(cx, f).into_iter().collect(),
            FindingKind::PipCache
            | FindingKind::UvCache
            | FindingKind::CondaPkgs
            | FindingKind::AptLists
            | FindingKind::AptArchives => cleanup::cache(cx, f).into_iter().collect(),
            FindingKind::LeftoverWheel | FindingKind::LeftoverArchive => {
                cleanup::leftover(cx, f).into_iter().collect()
            }
            FindingKind::BuildToolchain => review::toolchain(cx, f).into_iter().collect(),
            // One advice per installing RUN.
            FindingKind::PackageTests | FindingKind::BytecodeCache => review::python_files(cx, f),
            _ => Vec::new(),
        };
        for mut a in advice {
            a.findings.push(fi);
            out.push(a);
        }
    }
    out.extend(ownership::advise(cx));
    out.extend(order::cache_order(cx));
    out.extend(order::layer_order(cx));
    out.sort_by(|a, b| {
        b.compressed_bytes
            .cmp(&a.compressed_bytes)
            .then(b.bytes.cmp(&a.bytes))
            .then(a.line.cmp(&b.line))
    });
    fold_repeats(out)
}

/// Two findings can ask for the same change to the same instruction (a
/// wheel copied in and deleted later is both `shadowed-files` and
/// `leftover-wheel`): the change is listed once, answering both findings.
/// Advice comes largest first, so the one kept is the larger.
fn fold_repeats(advice: Vec<Advice>) -> Vec<Advice> {
    let mut out: Vec<Advice> = Vec::with_capacity(advice.len());
    for a in advice {
        let same = out.iter_mut().find(|k| {
            k.change_kind == a.change_kind
                && k.line == a.line
                && k.layers.first() == a.layers.first()
                && k.edits == a.edits
                && k.bytes >= a.bytes
                && a.paths.iter().all(|p| k.paths.contains(p))
        });
        match same {
            Some(k) => k.findings.extend(a.findings),
            None => out.push(a),
        }
    }
    out
}
