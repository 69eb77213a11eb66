//! Review changes: they change what ships, so the rewrite makes them only
//! when asked (`--apply KIND` or `--apply all`): test suites and bytecode
//! of installed packages deleted in the installing RUN,
//! `--no-install-recommends`, and the multi-stage split for a toolchain.

use super::advice::{Advice, ChangeKind};
use super::advise::{Context, own_layer};
use super::chain;
use super::edit::Edit;
use super::parse::Keyword;
use super::shell;
use crate::analyze::{Finding, FindingKind};

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
/// the RUN that installed them.
pub fn python_files(cx: &Context<'_>, f: &Finding) -> Option<Advice> {
    let layer = own_layer(cx, f)?;
    let step = cx.mapping.step_for_layer(layer)?;
    let tests = f.kind == FindingKind::PackageTests;
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
    let edits = python_files_edits(cx, f, layer, tests);
    Some(a.with_edits(edits))
}

fn python_files_edits(
    cx: &Context<'_>,
    f: &Finding,
    layer: u32,
    tests: bool,
) -> Result<Vec<Edit>, String> {
    if f.layers.len() != 1 {
        return Err("the files lie in several layers".to_owned());
    }
    let (step, i) = cx.editable(layer)?;
    if step.keyword != Keyword::Run {
        return Err("the files are copied in, not installed".to_owned());
    }
    chain::extendable(cx.instructions(), i)?;
    // The environments (site-packages/dist-packages) of the sample.
    let mut envs: Vec<String> = f
        .paths
        .iter()
        .filter_map(|p| {
            let at = p
                .find("/site-packages/")
                .or_else(|| p.find("/dist-packages/"))?;
            Some(p[..at + p[at + 1..].find('/')? + 1].to_owned())
        })
        .collect();
    envs.sort();
    envs.dedup();
    if envs.is_empty() || envs.iter().any(|e| e.contains([' ', '$', '\'', '"'])) {
        return Err("the files lie outside a Python environment".to_owned());
    }
    let command = if tests {
        format!(
            "find {} -depth -type d \\( -name tests -o -name test \\) -path '*-packages/*/*' -exec rm -rf {{}} +",
            envs.join(" ")
        )
    } else {
        format!(
            "find {} -depth -type d -name __pycache__ -exec rm -rf {{}} +",
            envs.join(" ")
        )
    };
    Ok(vec![Edit::Append { run: i, command }])
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
