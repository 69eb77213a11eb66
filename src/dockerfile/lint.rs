//! Without an image (`optimize --dockerfile F`): the structural changes
//! read from the Dockerfile alone, as a linter would before the first
//! build, with bytes unknown: apt's lists removed in the RUN that installs,
//! cache flags, `COPY --chown` for a chown right after a copy, cache order.

use super::advice::{Advice, ChangeKind};
use super::chain;
use super::edit::Edit;
use super::order;
use super::parse::{Args, Dockerfile, Instruction, Keyword};
use super::review;
use super::shell;
use crate::analyze::FindingKind;

/// Whether an `ENV` before instruction `at` sets `name`.
fn env_set(insts: &[Instruction], at: usize, name: &str) -> bool {
    insts[..at].iter().any(|i| {
        i.keyword == Keyword::Env
            && matches!(&i.args, Args::Pairs(p) if p.iter().any(|(k, v)| k == name && v.as_deref().is_some_and(|v| !v.is_empty())))
    })
}

fn cache_mount(inst: &Instruction) -> bool {
    inst.flags
        .iter()
        .any(|f| f.name == "mount" && f.value.as_deref().is_some_and(|v| v.contains("type=cache")))
}

fn advice(
    kind: Option<FindingKind>,
    change_kind: ChangeKind,
    inst: &Instruction,
    problem: &str,
    change: &str,
) -> Advice {
    let mut a = Advice::new(kind, change_kind);
    a.line = Some(inst.line);
    a.instruction = inst.summary();
    a.problem = problem.to_owned();
    a.change = change.to_owned();
    a
}

/// The structural advice for the final stage of `df`.
pub fn lint(df: &Dockerfile) -> Vec<Advice> {
    let Some(stage) = df.final_stage() else {
        return Vec::new();
    };
    let insts = &stage.instructions;
    let mut out = Vec::new();
    for (i, inst) in insts.iter().enumerate() {
        if inst.keyword != Keyword::Run {
            continue;
        }
        let c = inst.command();
        if shell::apt_updates(c) && !shell::apt_removes_lists(c) {
            let edits = chain::apt_cleanup(insts, i, "rm -rf /var/lib/apt/lists/*");
            {
                out.push(
                    advice(
                        Some(FindingKind::AptLists),
                        ChangeKind::AptCleanup,
                        inst,
                        "leaves apt's package lists in the image",
                        "run `apt-get update` in the RUN that installs, and end that RUN with `rm -rf /var/lib/apt/lists/*`",
                    )
                    .with_edits(edits.map(|x| x.1)),
                );
            }
        }
        if shell::pip_installs(c)
            && !c.contains("--no-cache-dir")
            && !env_set(insts, i, "PIP_NO_CACHE_DIR")
            && !cache_mount(inst)
        {
            out.push(
                advice(
                    Some(FindingKind::PipCache),
                    ChangeKind::PipNoCache,
                    inst,
                    "leaves pip's cache in the image",
                    "add `--no-cache-dir` to `pip install`",
                )
                .with_edits(chain::pip_no_cache(insts, i)),
            );
        }
        if !shell::uv_positions(c).is_empty()
            && !c.contains("--no-cache")
            && !env_set(insts, i, "UV_NO_CACHE")
            && !cache_mount(inst)
        {
            out.push(
                advice(
                    Some(FindingKind::UvCache),
                    ChangeKind::UvNoCache,
                    inst,
                    "leaves uv's cache in the image",
                    "use `uv --no-cache`",
                )
                .with_edits(chain::uv_no_cache(insts, i)),
            );
        }
        if shell::conda_tool(c).is_some() && !shell::conda_cleans(c) && !cache_mount(inst) {
            out.push(
                advice(
                    Some(FindingKind::CondaPkgs),
                    ChangeKind::CondaClean,
                    inst,
                    "leaves conda's package cache in the image",
                    "end the RUN with `conda clean -afy`",
                )
                .with_edits(chain::conda_clean(insts, i)),
            );
        }
        if let Some(a) = chown_after_copy(insts, i) {
            out.push(a);
        }
        if !shell::apt_install_positions(c).is_empty() && !c.contains("--no-install-recommends") {
            let mut a = Advice::new(None, ChangeKind::NoInstallRecommends);
            a.line = Some(inst.line);
            a.instruction = inst.summary();
            out.push(review::lint_recommends(a, insts, i));
        }
    }
    out.extend(cache_order(insts));
    out
}

/// `RUN chown -R OWNER DEST` (and/or `chmod -R MODE DEST`) right after
/// `COPY ... DEST`.
fn chown_after_copy(insts: &[Instruction], i: usize) -> Option<Advice> {
    let run = &insts[i];
    if !shell::all_parts_start_with(run.command(), &["chown", "chmod"]) {
        return None;
    }
    let ci = (0..i).rev().find(|&j| {
        !matches!(
            insts[j].keyword,
            Keyword::Env | Keyword::Arg | Keyword::Label | Keyword::Expose
        )
    })?;
    let copy = &insts[ci];
    let (_, dest) = copy.copy_args()?;
    let dest = dest.trim_end_matches('/');
    let mut a = advice(
        Some(FindingKind::MetadataRewrite),
        ChangeKind::CopyChown,
        run,
        "changes owner or mode of the files the COPY before it wrote, which copies every one of them into a new layer",
        "set owner and mode in the COPY (`COPY --chown=... --chmod=...`) and drop this RUN",
    );
    let mut flags: Vec<(String, String)> = Vec::new();
    for part in shell::parts(run.command()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let recursive = words.iter().any(|w| *w == "-R" || *w == "--recursive");
        let args: Vec<&str> = words[1..]
            .iter()
            .filter(|w| !w.starts_with('-'))
            .copied()
            .collect();
        let octal = |v: &str| v.len() <= 4 && v.chars().all(|c| ('0'..='7').contains(&c));
        let ok = recursive
            && args.len() == 2
            && args[1].trim_end_matches('/') == dest
            && !args[0].contains('$')
            && (words[0] == "chown" || octal(args[0]))
            && copy.flag(words[0]).is_none();
        if !ok {
            return None;
        }
        flags.push((words[0].to_owned(), args[0].to_owned()));
    }
    if insts[ci..i].iter().any(|x| shell::adds_users(x.command())) {
        a.reason = Some("the user is created after the COPY".to_owned());
        return Some(a);
    }
    a.paths = vec![dest.to_owned()];
    Some(a.with_edits(Ok(vec![
        Edit::CopyFlags { copy: ci, flags },
        Edit::Delete { inst: i },
    ])))
}

fn cache_order(insts: &[Instruction]) -> Option<Advice> {
    let ci = insts.iter().position(|i| {
        matches!(i.keyword, Keyword::Copy | Keyword::Add)
            && i.flag("from").is_none()
            && i.copy_args().is_some_and(|(s, _)| {
                s.iter()
                    .any(|s| matches!(s.as_str(), "." | "./" | "*" | "./*"))
            })
    })?;
    let installs: Vec<usize> = (ci + 1..insts.len())
        .filter(|&j| {
            insts[j].keyword == Keyword::Run && shell::is_dependency_install(insts[j].command())
        })
        .collect();
    let &ii = installs.first()?;
    let mut a = advice(
        Some(FindingKind::CacheOrder),
        ChangeKind::CacheOrder,
        &insts[ci],
        &format!(
            "copies the application source before the dependencies are installed (line {}), so every source change rebuilds the dependency layer",
            insts[ii].line
        ),
        order::CACHE_ORDER_CHANGE,
    );
    a.shrinks_image = false;
    let edit = if installs.len() == 1 {
        order::manifests_first(insts, ci, ii).map(|e| vec![e])
    } else {
        Err("several RUNs install dependencies after the source copy".to_owned())
    };
    Some(a.with_edits(edit))
}
