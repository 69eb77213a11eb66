//! Edits built from the instructions alone, shared by the advice measured
//! on an image and by the structural advice without one: which `RUN`s can
//! be joined, the apt chain (update, installs, cleanup at the end of the
//! last install), the cache flags.

use super::edit::{Anchor, Edit};
use super::parse::{Args, Instruction, Keyword};
use super::shell;

/// Why instruction `i` is not a `RUN` a command can be added to.
pub fn extendable(insts: &[Instruction], i: usize) -> Result<&Instruction, String> {
    let inst = insts
        .get(i)
        .ok_or_else(|| "the instruction is not in the Dockerfile".to_owned())?;
    if inst.keyword != Keyword::Run {
        return Err(format!("line {} is not a RUN", inst.line));
    }
    if !inst.is_plain_shell_run() {
        return Err(format!(
            "line {} is an exec-form or heredoc RUN, which the rewriter does not extend",
            inst.line
        ));
    }
    if shell::has_inline_comment(inst.command()) {
        return Err(format!(
            "line {} ends in a `#` comment that would swallow an added command",
            inst.line
        ));
    }
    Ok(inst)
}

/// Whether the stage changes the shell (`SHELL`), which the rewriter does
/// not follow.
fn custom_shell(insts: &[Instruction]) -> Option<u32> {
    insts
        .iter()
        .find(|i| i.keyword == Keyword::Shell)
        .map(|i| i.line)
}

/// The edit joining every `RUN` from `first` to `last`, or why not: all
/// `RUN`s between must be extendable with the same flags, and only `ENV`,
/// `ARG`, `LABEL` and `EXPOSE` may stand between them (an `ENV`/`ARG` only
/// when the `RUN`s before it do not name its variable, since they run after
/// it once joined).
pub fn merge(insts: &[Instruction], first: usize, last: usize) -> Result<Edit, String> {
    if let Some(l) = custom_shell(insts) {
        return Err(format!("the stage sets its own SHELL (line {l})"));
    }
    let head = extendable(insts, first)?;
    let mut earlier: Vec<&str> = vec![head.command()];
    for i in first + 1..=last {
        let inst = &insts[i];
        match inst.keyword {
            Keyword::Run => {
                extendable(insts, i)?;
                if inst.flags != head.flags {
                    return Err(format!(
                        "line {} has other RUN flags than line {}",
                        inst.line, head.line
                    ));
                }
                earlier.push(inst.command());
            }
            Keyword::Label | Keyword::Expose => {}
            Keyword::Env | Keyword::Arg => {
                if let Args::Pairs(pairs) = &inst.args
                    && let Some((name, _)) = pairs.iter().find(|(n, _)| {
                        earlier
                            .iter()
                            .any(|c| c.contains(&format!("${n}")) || c.contains(&format!("${{{n}")))
                    })
                {
                    return Err(format!(
                        "the {} on line {} sets `{name}`, which an earlier RUN reads",
                        inst.keyword.as_str(),
                        inst.line
                    ));
                }
            }
            k => {
                return Err(format!(
                    "the {} on line {} stands between line {} and line {}",
                    k.as_str(),
                    inst.line,
                    head.line,
                    insts[last].line
                ));
            }
        }
    }
    Ok(Edit::Merge { first, last })
}

/// The apt chain of the `RUN` `i` that refreshes apt's lists: the edits
/// that remove the lists (and run `apt-get clean` when `clean`) at the end
/// of the last `RUN` that still reads them, joining the `RUN`s between.
pub fn apt_cleanup(
    insts: &[Instruction],
    i: usize,
    command: &str,
) -> Result<(usize, Vec<Edit>), String> {
    let run = extendable(insts, i)?;
    if !shell::apt_updates(run.command()) {
        return Err(format!(
            "line {} does not run `apt-get update` itself",
            run.line
        ));
    }
    // The last RUN that reads the lists before they are refreshed again.
    let mut last = i;
    for (j, inst) in insts.iter().enumerate().skip(i + 1) {
        if inst.keyword != Keyword::Run {
            continue;
        }
        let c = inst.command();
        // A RUN that refreshes the lists starts a chain of its own.
        if shell::apt_updates(c) {
            break;
        }
        if shell::apt_reads_lists(c) || !inst.is_plain_shell_run() && c.contains("apt") {
            last = j;
        }
        if shell::apt_removes_lists(c) {
            break;
        }
    }
    let mut edits = Vec::new();
    if last > i {
        edits.push(merge(insts, i, last).map_err(|e| {
            format!(
                "the lists are read until line {}, and the RUNs cannot be joined: {e}",
                insts[last].line
            )
        })?);
    }
    // The last reader may remove them already (too late for the RUNs
    // before it, which the join fixes).
    if !(command.contains("/var/lib/apt/lists") && shell::apt_removes_lists(insts[last].command()))
    {
        edits.push(Edit::Append {
            run: last,
            command: command.to_owned(),
        });
    }
    if edits.is_empty() {
        return Err(format!(
            "line {} removes the lists already",
            insts[last].line
        ));
    }
    Ok((last, edits))
}

/// `--no-cache-dir` for every `pip install` of RUN `i`.
pub fn pip_no_cache(insts: &[Instruction], i: usize) -> Result<Vec<Edit>, String> {
    let run = extendable(insts, i)?;
    if !shell::pip_installs(run.command()) {
        return Err(format!(
            "line {} fills pip's cache without running `pip install` itself",
            run.line
        ));
    }
    if run.command().contains("--no-cache-dir") {
        return Err(format!("line {} already uses --no-cache-dir", run.line));
    }
    Ok(vec![Edit::Flag {
        run: i,
        at: Anchor::Pip,
        flag: "--no-cache-dir".to_owned(),
    }])
}

/// `uv --no-cache` for every cached `uv` subcommand of RUN `i`.
pub fn uv_no_cache(insts: &[Instruction], i: usize) -> Result<Vec<Edit>, String> {
    let run = extendable(insts, i)?;
    if shell::uv_positions(run.command()).is_empty() {
        return Err(format!(
            "line {} fills uv's cache without running uv itself",
            run.line
        ));
    }
    Ok(vec![Edit::Flag {
        run: i,
        at: Anchor::Uv,
        flag: "--no-cache".to_owned(),
    }])
}

/// `conda clean -afy` at the end of RUN `i`.
pub fn conda_clean(insts: &[Instruction], i: usize) -> Result<Vec<Edit>, String> {
    let run = extendable(insts, i)?;
    let tool = shell::conda_tool(run.command()).ok_or_else(|| {
        format!(
            "line {} fills conda's package cache without a conda install",
            run.line
        )
    })?;
    Ok(vec![Edit::Append {
        run: i,
        command: format!("{tool} clean -afy"),
    }])
}

/// `--no-install-recommends` for every `apt-get install` of RUN `i`.
pub fn no_install_recommends(insts: &[Instruction], i: usize) -> Result<Vec<Edit>, String> {
    let run = extendable(insts, i)?;
    let c = run.command();
    if shell::apt_install_positions(c).is_empty() {
        return Err(format!("line {} runs no `apt-get install`", run.line));
    }
    if c.contains("--no-install-recommends") {
        return Err(format!(
            "line {} already uses --no-install-recommends",
            run.line
        ));
    }
    Ok(vec![Edit::Flag {
        run: i,
        at: Anchor::AptInstall,
        flag: "--no-install-recommends".to_owned(),
    }])
}

/// Files created by RUN `a` and deleted (or replaced) by RUN `b`: the
/// cleanup folded into `a` when `b` only deletes and nothing but metadata
/// stands between; otherwise every RUN from `a` to `b` joined, so that the
/// steps between still find the files.
pub fn fold_or_merge(
    insts: &[Instruction],
    a: usize,
    b: usize,
    b_only_deletes: bool,
) -> Result<(bool, Vec<Edit>), String> {
    extendable(insts, a)?;
    let rb = extendable(insts, b)?;
    let only_metadata = insts[a + 1..b].iter().all(|i| {
        matches!(
            i.keyword,
            Keyword::Env | Keyword::Arg | Keyword::Label | Keyword::Expose
        )
    });
    if b_only_deletes
        && rb.flags.is_empty()
        && shell::all_parts_start_with(rb.command(), &["rm"])
        && only_metadata
    {
        return Ok((
            true,
            vec![
                Edit::Append {
                    run: a,
                    command: rb.command().to_owned(),
                },
                Edit::Delete { inst: b },
            ],
        ));
    }
    Ok((false, vec![merge(insts, a, b)?]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dockerfile::Dockerfile;

    fn insts(text: &str) -> Vec<Instruction> {
        let df = Dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"));
        df.stages[0].instructions.clone()
    }

    #[test]
    fn apt_lists_stay_until_the_last_install() {
        let rm = "rm -rf /var/lib/apt/lists/*";
        // The install removes them itself: only the join is needed.
        let i = insts(
            "FROM d\nRUN apt-get update\nRUN apt-get install -y x && rm -rf /var/lib/apt/lists/*\n",
        );
        assert_eq!(
            apt_cleanup(&i, 0, rm),
            Ok((1, vec![Edit::Merge { first: 0, last: 1 }]))
        );
        // Two installs, a COPY between: no join possible, no cleanup.
        let i = insts(
            "FROM d\nRUN apt-get update\nRUN apt-get install -y x\nCOPY a /a\nRUN apt-get install -y y\n",
        );
        let err = apt_cleanup(&i, 0, rm).unwrap_err();
        assert!(err.contains("read until line 5"), "{err}");
        // A later update starts its own chain.
        let i = insts(
            "FROM d\nRUN apt-get update && apt-get install -y x\nCOPY a /a\nRUN apt-get update && apt-get install -y y\n",
        );
        assert_eq!(
            apt_cleanup(&i, 0, rm),
            Ok((
                0,
                vec![Edit::Append {
                    run: 0,
                    command: rm.to_owned()
                }]
            ))
        );
        // An ENV between that an earlier RUN reads blocks the join.
        let i = insts("FROM d\nRUN apt-get update && echo $V\nENV V=1\nRUN apt-get install -y x\n");
        assert!(apt_cleanup(&i, 0, rm).unwrap_err().contains("sets `V`"));
    }
}
