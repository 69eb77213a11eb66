//! Files that ship although nothing needs them: deleted by a later layer
//! (`shadowed-files`), package caches, leftover wheels and archives. The
//! cleanup goes into the RUN that creates the files, after the last RUN
//! that still uses them (the RUNs between joined), never before.

use super::advice::{Advice, ChangeKind};
use super::advise::{Context, own_layer};
use super::chain;
use super::edit::Edit;
use super::parse::Keyword;
use super::shell;
use crate::analyze::{Finding, FindingKind};
use crate::model::Image;
use crate::scan::EntryKind;

/// Whether a layer writes no file content (only deletes, dirs, metadata).
fn layer_writes_no_file(image: &Image, layer: u32) -> bool {
    image.layers.get(layer as usize).is_some_and(|l| {
        l.entries
            .iter()
            .all(|e| e.kind != EntryKind::File || e.size == 0)
    })
}

/// `shadowed-files` across two layers: fold the cleanup into the creator,
/// or join the RUNs from the creator to the cleanup.
pub fn shadowed(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let (&w, &b) = (f.layers.first()?, f.layers.last()?);
    if w == b || (w as usize) < cx.mapping.base_layers {
        return None;
    }
    let ws = cx.mapping.step_for_layer(w)?;
    let bs = cx.mapping.step_for_layer(b)?;
    match ws.keyword {
        Keyword::Run => {
            let mut a = cx.advice_at(f, ChangeKind::FoldCleanup, ws);
            a.problem = format!(
                "creates files that {} deletes or replaces later, so they still ship in this layer",
                cx.where_(bs)
            );
            a.change = format!(
                "delete them in this same RUN (move the cleanup of {} into it, joining the RUNs between when they use the files)",
                cx.where_(bs)
            );
            let edits = match (ws.instruction, bs.instruction) {
                (Some(wi), Some(bi)) if bs.keyword == Keyword::Run => {
                    let only = layer_writes_no_file(cx.image, b);
                    chain::fold_or_merge(cx.instructions(), wi, bi, only).map(|(fold, e)| {
                        if !fold {
                            a.change_kind = ChangeKind::MergeRuns;
                            a.change = format!(
                                "join the RUNs from here to {} into one, so the files are gone before the layer is written",
                                cx.where_(bs)
                            );
                        }
                        e
                    })
                }
                (Some(_), Some(_)) => Err(format!(
                    "{} is not a RUN: the files are replaced by a {}",
                    cx.where_(bs),
                    bs.keyword.as_str()
                )),
                _ => Err("give --dockerfile to rewrite it".to_owned()),
            };
            Some(a.with_edits(edits))
        }
        Keyword::Copy | Keyword::Add => {
            let mut a = cx.advice_at(f, ChangeKind::BindMount, ws);
            a.problem = format!(
                "copies files into the image that {} deletes later, so they still ship in this layer",
                cx.where_(bs)
            );
            a.change = "do not copy them: use them from a bind mount in the RUN that needs them (`RUN --mount=type=bind,source=...,target=...`) or from a builder stage (`COPY --from=...` of the results only)".to_owned();
            a.reason = Some(
                "a bind mount needs BuildKit and knowing which RUN reads the files; change it by hand"
                    .to_owned(),
            );
            Some(a)
        }
        _ => None,
    }
}

/// Whether a path (no leading slash) belongs to the cache of `kind`.
fn in_cache(kind: FindingKind, path: &str) -> bool {
    match kind {
        FindingKind::PipCache => path.contains(".cache/pip/"),
        FindingKind::UvCache => path.contains(".cache/uv/"),
        FindingKind::CondaPkgs => path.contains("pkgs/"),
        FindingKind::AptLists => path.starts_with("var/lib/apt/lists/"),
        FindingKind::AptArchives => path.starts_with("var/cache/apt/"),
        _ => false,
    }
}

/// Bytes of `layer`'s files that `pred` selects: (uncompressed, compressed).
fn layer_share(image: &Image, layer: u32, pred: impl Fn(&str) -> bool) -> (u64, u64) {
    let items: Vec<(crate::model::Loc, u64)> = image
        .layers
        .get(layer as usize)
        .map(|l| {
            l.entries
                .iter()
                .enumerate()
                .filter(|(_, e)| e.kind == EntryKind::File)
                .filter(|(_, e)| pred(e.path.display().trim_start_matches('/')))
                .map(|(i, e)| {
                    let loc = crate::model::Loc {
                        layer,
                        entry: i as u32,
                    };
                    (loc, e.size)
                })
                .collect()
        })
        .unwrap_or_default();
    let bytes = items.iter().map(|&(_, b)| b).sum();
    (bytes, image.estimate_entries(items))
}

/// Package caches baked into layers: the cache flag or cleanup in each
/// RUN that fills them.
pub fn cache(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = own_layer(cx, f)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let (kind, problem, change) = match f.kind {
        FindingKind::PipCache => (
            ChangeKind::PipNoCache,
            "leaves pip's download and wheel cache in the layer",
            "add `--no-cache-dir` to `pip install` (or set `ENV PIP_NO_CACHE_DIR=1`), or keep the cache out of the image with `RUN --mount=type=cache,target=/root/.cache/pip`",
        ),
        FindingKind::UvCache => (
            ChangeKind::UvNoCache,
            "leaves uv's cache in the layer",
            "use `uv --no-cache` (or `ENV UV_NO_CACHE=1`), or `RUN --mount=type=cache,target=/root/.cache/uv`",
        ),
        FindingKind::CondaPkgs => (
            ChangeKind::CondaClean,
            "leaves conda's package cache (`pkgs/`) in the layer",
            "end the same RUN with `conda clean -afy`, or use `RUN --mount=type=cache` for the pkgs directory",
        ),
        FindingKind::AptLists => (
            ChangeKind::AptCleanup,
            "leaves apt's package lists in the layer",
            "run `apt-get update` in the RUN that installs, and end that RUN with `rm -rf /var/lib/apt/lists/*`",
        ),
        _ => (
            ChangeKind::AptCleanup,
            "leaves downloaded .deb archives in the layer",
            "end the RUN that installs with `apt-get clean`, or use `RUN --mount=type=cache,target=/var/cache/apt`",
        ),
    };
    let mut a = cx.advice_at(f, kind, step);
    a.problem = problem.to_owned();
    a.change = change.to_owned();
    let own: Vec<u32> = f
        .layers
        .iter()
        .copied()
        .filter(|&l| l as usize >= cx.mapping.base_layers)
        .collect();
    if own.len() < f.layers.len() {
        // Only the layers of this build can change.
        let (mut u, mut c) = (0, 0);
        for &l in &own {
            let (lu, lc) = layer_share(cx.image, l, |p| in_cache(f.kind, p));
            u += lu;
            c += lc;
        }
        a.bytes = Some(u);
        a.compressed_bytes = Some(c);
        a.layers = own.clone();
    }
    let mut edits = Vec::new();
    for &l in &own {
        let e = cx.editable(l).and_then(|(_, i)| {
            let insts = cx.instructions();
            match f.kind {
                FindingKind::PipCache => chain::pip_no_cache(insts, i),
                FindingKind::UvCache => chain::uv_no_cache(insts, i),
                FindingKind::CondaPkgs => chain::conda_clean(insts, i),
                FindingKind::AptLists => {
                    chain::apt_cleanup(insts, i, "rm -rf /var/lib/apt/lists/*").map(|x| x.1)
                }
                _ => chain::extendable(insts, i).map(|_| {
                    vec![Edit::Append {
                        run: i,
                        command: "apt-get clean".to_owned(),
                    }]
                }),
            }
        });
        match e {
            Ok(e) => edits.extend(e),
            Err(reason) => return Some(a.with_edits(Err(reason))),
        }
    }
    Some(a.with_edits(Ok(edits)))
}

/// Wheels or archives left on disk: deleted at the end of the RUN that
/// fetched them, or of the last later RUN that names their directory (the
/// RUNs between joined).
pub fn leftover(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = own_layer(cx, f)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let mut a = cx.advice_at(f, ChangeKind::DeleteLeftovers, step);
    a.problem = "leaves wheels or archives on disk after installing them".to_owned();
    if matches!(step.keyword, Keyword::Copy | Keyword::Add) {
        a.change = "do not copy them into the image: install from a bind mount (`RUN --mount=type=bind,source=wheels,target=/wheels pip install /wheels/*.whl`) or copy only the installed result from a builder stage".to_owned();
        a.change_kind = ChangeKind::BindMount;
        a.reason = Some(
            "a COPY cannot delete what it copies; a bind mount needs BuildKit, change it by hand"
                .to_owned(),
        );
        return Some(a);
    }
    a.change = "delete them in the same RUN that downloads and installs them".to_owned();
    let edits = leftover_edits(cx, f, layer);
    Some(a.with_edits(edits))
}

fn leftover_edits(cx: &Context<'_>, f: &Finding, layer: u32) -> Result<Vec<Edit>, String> {
    if f.layers.len() != 1 {
        return Err("the files lie in several layers".to_owned());
    }
    let (_, i) = cx.editable(layer)?;
    let insts = cx.instructions();
    chain::extendable(insts, i)?;
    if (f.path_count as usize) > f.paths.len() {
        return Err("too many files to name one by one".to_owned());
    }
    if f.paths
        .iter()
        .any(|p| p.contains(['*', '?', '[', '$', '\'', '"', ' ', '\\']) || !p.starts_with('/'))
    {
        return Err("a file name needs quoting".to_owned());
    }
    // The last later RUN that names one of the files or their directories.
    let dirs: Vec<&str> = f
        .paths
        .iter()
        .map(|p| p.rsplit_once('/').map_or(p.as_str(), |x| x.0))
        .collect();
    let names: Vec<&str> = f
        .paths
        .iter()
        .map(|p| p.rsplit('/').next().unwrap_or(p))
        .collect();
    let mut last = i;
    for (j, inst) in insts.iter().enumerate().skip(i + 1) {
        let c = inst.command();
        if dirs.iter().chain(&names).any(|d| shell::mentions(c, d)) {
            last = j;
        }
    }
    let mut edits = Vec::new();
    if last > i {
        edits.push(chain::merge(insts, i, last).map_err(|e| {
            format!(
                "line {} still uses the files, and the RUNs cannot be joined: {e}",
                insts[last].line
            )
        })?);
    }
    let mut paths = f.paths.clone();
    paths.sort();
    edits.push(Edit::Append {
        run: last,
        command: format!("rm -f {}", paths.join(" ")),
    });
    Ok(edits)
}
