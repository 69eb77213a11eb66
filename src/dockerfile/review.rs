//! Review changes: they change what ships, so the rewrite makes them only
//! when asked (`--apply KIND` or `--apply all`): test suites and bytecode
//! of installed packages deleted in the installing RUN,
//! `--no-install-recommends`, and the multi-stage split for a toolchain.

use std::collections::{BTreeMap, BTreeSet};

use super::advice::{Advice, ChangeKind};
use super::advise::{Context, own_layer};
use super::chain;
use super::edit::Edit;
use super::parse::Keyword;
use super::shell;
use crate::analyze::{Finding, FindingKind};
use crate::model::Loc;

/// A compiler toolchain in the final stage: a build stage.
pub fn toolchain(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = own_layer(cx, f)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let mut a = cx.advice_at(f, ChangeKind::MultiStage, step);
    a.problem = "installs a build toolchain (compilers, -dev headers) that the running application does not need".to_owned();
    a.change = "build in a separate stage (`FROM ... AS build`), then `COPY --from=build` only the built packages (e.g. a venv or wheels) into a final stage without the toolchain".to_owned();
    match super::stage::split(cx) {
        Ok(split) => {
            a.bytes = Some(split.bytes);
            a.compressed_bytes = Some(split.compressed_bytes);
            a.change = format!(
                "build in a stage `FROM ... AS build`; a runtime stage from the same base installs {} and copies {} from it",
                if split.runtime.is_empty() {
                    "no packages".to_owned()
                } else {
                    split.runtime.join(" ")
                },
                split.roots.join(" ")
            );
            a.packages = split.runtime;
            a = a.with_edits(Ok(vec![split.edit]));
        }
        Err(reason) => a = a.with_edits(Err(reason)),
    }
    Some(a)
}

/// Test suites or bytecode of installed packages: deleted at the end of
/// each RUN that installed them, one advice per RUN with the bytes of the
/// files that RUN wrote (files of the base image are not counted: they
/// cannot change here).
///
/// Bytecode comes back when a later RUN runs Python over the environment
/// (pip imports its own modules from apt's `dist-packages`), so the
/// deletion is repeated at the end of each later RUN that runs `python` or
/// `pip`, for the environments that RUN does not clean itself.
pub fn python_files(cx: &Context<'_>, f: &Finding) -> Vec<Advice> {
    let Some(first) = own_layer(cx, f) else {
        return Vec::new();
    };
    let tests = f.kind == FindingKind::PackageTests;
    // The finding's files by the layer that wrote them; a finding known
    // only by its layers (no member files) is one group.
    let mut by_layer: BTreeMap<u32, Vec<(Loc, u64)>> = BTreeMap::new();
    for &loc in &f.members.locs {
        if loc.layer as usize >= cx.mapping.base_layers {
            let e = cx.image.entry(loc);
            if tests && is_imported_test(&e.path.display().to_string()) {
                continue;
            }
            by_layer.entry(loc.layer).or_default().push((loc, e.size));
        }
    }
    if by_layer.is_empty() {
        if !f.members.locs.is_empty() {
            // Its files are the base's or tests the package imports.
            return Vec::new();
        }
        let Some(step) = cx.mapping.step_for_layer(first) else {
            return Vec::new();
        };
        let a = python_advice(cx, f, step, tests);
        let edits = if f.layers.len() != 1 {
            Err("the files lie in several layers".to_owned())
        } else {
            let spare = tests && f.paths.iter().any(|p| imported_tests(p).is_some());
            python_target(cx, first, &f.paths)
                .map(|(i, envs)| vec![delete_edit(i, &envs, tests, spare)])
        };
        return vec![a.with_edits(edits)];
    }
    // Where each layer's files can be deleted: (RUN index, environments).
    let targets: BTreeMap<u32, Result<(usize, BTreeSet<String>), String>> = by_layer
        .iter()
        .map(|(&layer, items)| {
            let paths: Vec<String> = items
                .iter()
                .map(|&(l, _)| cx.image.entry(l).path.display().to_string())
                .collect();
            (layer, python_target(cx, layer, &paths))
        })
        .collect();
    let mut out = Vec::new();
    for (layer, items) in by_layer {
        let Some(step) = cx.mapping.step_for_layer(layer) else {
            continue;
        };
        let mut a = python_advice(cx, f, step, tests);
        a.bytes = Some(items.iter().map(|&(_, b)| b).sum());
        a.compressed_bytes = Some(cx.image.estimate_entries(items.iter().copied()));
        a.layers = vec![layer];
        let mut paths: Vec<(String, u64)> = items
            .iter()
            .map(|&(l, b)| (cx.image.entry(l).path.display().to_string(), b))
            .collect();
        paths.sort_by(|x, y| y.1.cmp(&x.1).then_with(|| x.0.cmp(&y.0)));
        a.paths = paths
            .into_iter()
            .take(crate::analyze::PATH_SAMPLE)
            .map(|(p, _)| p)
            .collect();
        let spare = tests
            && items.iter().any(|&(l, _)| {
                imported_tests(&cx.image.entry(l).path.display().to_string()).is_some()
            });
        let edits = targets[&layer].clone().map(|(i, envs)| {
            let mut edits = vec![delete_edit(i, &envs, tests, spare)];
            if !tests {
                edits.extend(recompiled_bytecode(cx, i, &envs, &targets));
            }
            edits
        });
        out.push(a.with_edits(edits));
    }
    out
}

/// Deletions of the bytecode that RUNs after `run` would write again into
/// `envs` by running Python, for the environments they do not clean
/// themselves.
fn recompiled_bytecode(
    cx: &Context<'_>,
    run: usize,
    envs: &BTreeSet<String>,
    targets: &BTreeMap<u32, Result<(usize, BTreeSet<String>), String>>,
) -> Vec<Edit> {
    let insts = cx.instructions();
    let mut out = Vec::new();
    for (j, inst) in insts.iter().enumerate().skip(run + 1) {
        let c = inst.command();
        if inst.keyword != Keyword::Run || !(c.contains("python") || c.contains("pip")) {
            continue;
        }
        if chain::extendable(insts, j).is_err() {
            continue;
        }
        let own: BTreeSet<String> = targets
            .values()
            .filter_map(|t| t.as_ref().ok())
            .filter(|(i, _)| *i == j)
            .flat_map(|(_, e)| e.iter().cloned())
            .collect();
        let left: BTreeSet<String> = envs.difference(&own).cloned().collect();
        if !left.is_empty() {
            out.push(delete_edit(j, &left, false, false));
        }
    }
    out
}

/// The advice text of a test or bytecode deletion at `step`.
fn python_advice(cx: &Context<'_>, f: &Finding, step: &super::map::Step, tests: bool) -> Advice {
    let kind = if tests {
        ChangeKind::DeleteTests
    } else {
        ChangeKind::DeleteBytecode
    };
    let mut a = cx.advice_at(f, kind, step);
    if tests {
        a.problem =
            "installs the test suites of packages, which the application does not run".to_owned();
        a.change =
            "delete the packages' `tests` directories at the end of the RUN that installs them"
                .to_owned();
    } else {
        a.problem = "writes `__pycache__` bytecode next to the sources".to_owned();
        a.change = "delete `__pycache__` at the end of the RUN that installs (Python recompiles on import), or set `PYTHONDONTWRITEBYTECODE=1` for the install".to_owned();
    }
    a
}

/// The RUN that wrote `layer` and the Python environments of `paths`
/// (site-packages/dist-packages), or why the files cannot be deleted there.
fn python_target(
    cx: &Context<'_>,
    layer: u32,
    paths: &[String],
) -> Result<(usize, BTreeSet<String>), String> {
    let (step, i) = cx.editable(layer)?;
    if step.keyword != Keyword::Run {
        return Err("the files are copied in, not installed".to_owned());
    }
    chain::extendable(cx.instructions(), i)?;
    let envs: BTreeSet<String> = paths
        .iter()
        .filter_map(|p| {
            let at = p
                .find("/site-packages/")
                .or_else(|| p.find("/dist-packages/"))?;
            let env = &p[..at + p[at + 1..].find('/')? + 1];
            Some(if env.starts_with('/') {
                env.to_owned()
            } else {
                format!("/{env}")
            })
        })
        .collect();
    if envs.is_empty() || envs.iter().any(|e| e.contains([' ', '$', '\'', '"'])) {
        return Err("the files lie outside a Python environment".to_owned());
    }
    Ok((i, envs))
}

/// Test modules that a package's own code imports at run time: the tests
/// directory and the files in it that stay. numpy 2.2's `numpy.testing`
/// imports `numpy._core.tests._natype` (and SciPy imports `numpy.testing`),
/// so deleting that directory breaks `import scipy`.
const IMPORTED_TESTS: &[(&str, &[&str])] = &[("numpy/_core/tests", &["__init__.py", "_natype.py"])];

/// The entry of [`IMPORTED_TESTS`] whose directory holds `path`.
fn imported_tests(path: &str) -> Option<&'static (&'static str, &'static [&'static str])> {
    IMPORTED_TESTS
        .iter()
        .find(|(dir, _)| path.contains(&format!("-packages/{dir}/")))
}

/// Whether `path` is a test module that stays ([`IMPORTED_TESTS`]).
fn is_imported_test(path: &str) -> bool {
    imported_tests(path).is_some_and(|(dir, keep)| {
        keep.iter()
            .any(|k| path.ends_with(&format!("-packages/{dir}/{k}")))
    })
}

/// The command appended to RUN `run` deleting tests or bytecode in `envs`;
/// with `spare`, the test directories of [`IMPORTED_TESTS`] keep the
/// modules imported from them.
fn delete_edit(run: usize, envs: &BTreeSet<String>, tests: bool, spare: bool) -> Edit {
    let envs: Vec<&str> = envs.iter().map(String::as_str).collect();
    let command = if tests {
        let mut c = format!(
            "find {} -depth -type d \\( -name tests -o -name test \\) -path '*-packages/*/*'",
            envs.join(" ")
        );
        let mut rest = String::new();
        for (dir, keep) in IMPORTED_TESTS.iter().filter(|_| spare) {
            c.push_str(&format!(" \\! -path '*-packages/{dir}'"));
            let names: String = keep.iter().map(|k| format!(" \\! -name {k}")).collect();
            rest.push_str(&format!(
                " && find {} -path '*-packages/{dir}/*'{names} -delete",
                envs.join(" ")
            ));
        }
        format!("{c} -exec rm -rf {{}} +{rest}")
    } else {
        format!(
            "find {} -depth -type d -name __pycache__ -exec rm -rf {{}} +",
            envs.join(" ")
        )
    };
    Edit::Append { run, command }
}

/// `apt-get install` without `--no-install-recommends`: the flag, bytes
/// unknown until the recommended packages are read from dpkg.
pub fn recommends(cx: &Context<'_>) -> Vec<Advice> {
    let insts = cx.instructions();
    let mut out = Vec::new();
    for s in &cx.mapping.steps {
        let Some(i) = s.instruction else { continue };
        let c = insts[i].command();
        if insts[i].keyword != Keyword::Run
            || shell::apt_install_positions(c).is_empty()
            || c.contains("--no-install-recommends")
        {
            continue;
        }
        let mut a = Advice::new(None, ChangeKind::NoInstallRecommends);
        a.line = s.line;
        a.instruction = cx.quote(s);
        a.layers = s.layer.into_iter().collect();
        out.push(lint_recommends(a, insts, i));
    }
    out
}

/// The `--no-install-recommends` advice for RUN `i`.
pub fn lint_recommends(mut a: Advice, insts: &[super::parse::Instruction], i: usize) -> Advice {
    a.problem = "installs apt's recommended packages as well as the requested ones".to_owned();
    a.change = "add `--no-install-recommends` to `apt-get install` (check that nothing needed was only recommended)".to_owned();
    a.with_edits(chain::no_install_recommends(insts, i))
}
