//! Build order: the source copied before the dependencies are installed
//! (`cache-order`, rewritten: manifests first) and large stable layers made
//! after the source (`layer-order`, advice only).

use super::advice::{Advice, CacheOrderFigure, ChangeKind};
use super::advise::Context;
use super::edit::Edit;
use super::map::Step;
use super::parse::{Args, Instruction, Keyword};
use super::shell::{install_manifests, is_dependency_install, parts};
use crate::analyze::FindingKind;
use crate::model::Image;

/// Whether a COPY/ADD copies the whole build context (the application
/// source): its sources include `.`, `./` or `*`.
pub fn is_volatile_copy(step: &Step, inst: Option<&Instruction>) -> bool {
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

/// A layer's tar bytes and what a pull downloads of it (the estimate when
/// the source holds the layer uncompressed).
fn layer_bytes(image: &Image, layer: u32) -> (u64, u64) {
    image.layers.get(layer as usize).map_or((0, 0), |l| {
        (l.uncompressed_bytes, image.pull_bytes(layer).bytes)
    })
}

/// `cache-order`: the source copied before the dependencies are installed.
pub fn cache_order(cx: &Context<'_>) -> Option<Advice> {
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
    let mut a = Advice::new(FindingKind::CacheOrder, ChangeKind::CacheOrder);
    a.line = volatile.line;
    a.instruction = cx.quote(volatile);
    a.problem = format!(
        "copies the application source before the dependencies are installed ({}), so every source change rebuilds, re-pushes and re-pulls the dependency layer",
        cx.where_(install)
    );
    a.change = CACHE_ORDER_CHANGE.to_owned();
    a.bytes = Some(moved);
    a.compressed_bytes = Some(moved_c);
    a.shrinks_image = false;
    a.layers = installs.iter().filter_map(|s| s.layer).collect();
    a.cache_order = Some(figure);
    let edit = match (volatile.instruction, install.instruction) {
        (Some(ci), Some(ii)) if installs.len() == 1 => manifests_first(cx.instructions(), ci, ii),
        (Some(_), Some(_)) => {
            Err("several RUNs install dependencies after the source copy".to_owned())
        }
        _ => Err("give --dockerfile to rewrite it".to_owned()),
    };
    Some(a.with_edits(edit.map(|e| vec![e])))
}

/// What the cache-order advice says to do.
pub const CACHE_ORDER_CHANGE: &str = "copy the dependency manifests (requirements*.txt, pyproject.toml, lock files) first, install the dependencies, then copy the source";

/// The manifests-first edit for the source `COPY` `ci` and the install
/// `RUN` `ii`, or why not.
pub fn manifests_first(insts: &[Instruction], ci: usize, ii: usize) -> Result<Edit, String> {
    let (copy, run) = (&insts[ci], &insts[ii]);
    if !run.is_plain_shell_run() || !run.flags.iter().all(|f| f.name == "mount") {
        return Err(format!("line {} is not a plain shell RUN", run.line));
    }
    let manifests = install_manifests(run.command()).ok_or_else(|| {
        format!(
            "line {} installs more than requirement files (the source itself)",
            run.line
        )
    })?;
    if !manifests
        .iter()
        .all(|m| !m.starts_with('/') && !m.contains('$') && !m.contains(".."))
    {
        return Err("a requirement file is named by an absolute or variable path".to_owned());
    }
    if copy.flag("chmod").is_some() {
        return Err(format!("line {} sets --chmod", copy.line));
    }
    // Nothing between may change the directory the install runs in.
    if let Some(i) = insts[ci + 1..ii]
        .iter()
        .find(|i| matches!(i.keyword, Keyword::Workdir | Keyword::User | Keyword::Shell))
    {
        return Err(format!(
            "the {} on line {} stands between",
            i.keyword.as_str(),
            i.line
        ));
    }
    if !matches!(&copy.args, Args::Copy { dest, .. } if dest == "." || dest == "./" || dest.ends_with('/') || copy_dest_is_workdir(insts, ci, dest))
    {
        return Err(format!(
            "line {} copies to a path that is not a directory the install reads from",
            copy.line
        ));
    }
    Ok(Edit::ManifestsFirst {
        copy: ci,
        install: ii,
        manifests,
    })
}

/// Whether `dest` is the WORKDIR in effect at instruction `at` (so `COPY .
/// /app` with `WORKDIR /app` puts `requirements.txt` where a relative `-r`
/// finds it).
fn copy_dest_is_workdir(insts: &[Instruction], at: usize, dest: &str) -> bool {
    insts[..at]
        .iter()
        .rev()
        .find(|i| i.keyword == Keyword::Workdir)
        .is_some_and(|w| matches!(&w.args, Args::Text(t) if t.trim_end_matches('/') == dest.trim_end_matches('/')))
}

/// `layer-order`: large stable layers (system packages, downloads) made
/// after the source is copied are rebuilt and re-pulled with every source
/// change.
pub fn layer_order(cx: &Context<'_>) -> Vec<Advice> {
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
        let mut a = Advice::new(FindingKind::LayerOrder, ChangeKind::LayerOrder);
        a.line = s.line;
        a.instruction = cx.quote(s);
        a.problem = format!(
            "does not depend on the application source but comes after it ({}), so it is rebuilt and re-pulled on every source change",
            cx.where_(volatile)
        );
        a.change = format!("move it above {}", cx.where_(volatile));
        a.bytes = Some(u);
        a.compressed_bytes = Some(c);
        a.shrinks_image = false;
        a.layers = vec![layer];
        a.reason = Some(
            "moving a RUN above the source copy is left to you: it may read the source".to_owned(),
        );
        out.push(a);
    }
    out
}
