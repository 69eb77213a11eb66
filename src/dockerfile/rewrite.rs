//! The rewritten Dockerfile: edits applied to the final stage's text,
//! everything else (comments, blank lines, other stages, continuation
//! layout) kept byte for byte, and a unified diff of the change.
//!
//! Order of application: flags and appends change one `RUN`'s text; merge
//! ranges (overlapping ones united) join their `RUN`s where the last of
//! them stands, each command grouped in `( ... )` when it changes the
//! shell's state (`cd`, `export`) and something follows it, and the
//! appended commands of every joined `RUN` come last; then deletions and
//! the cache-order move.

use super::edit::{Anchor, Edit};
use super::parse::{Args, Dockerfile, Instruction, Keyword};
use super::shell;

enum Item {
    Existing(usize),
    New(String),
}

/// Drops an appended command (those from `from` on) that a later one
/// repeats: the later run of a cleanup does what the earlier did (two
/// bytecode deletions of one environment in a merged RUN).
fn last_of_each(segments: &mut Vec<(String, bool)>, from: usize) {
    let mut i = from;
    while i < segments.len() {
        if segments[i + 1..].iter().any(|s| s.0 == segments[i].0) {
            segments.remove(i);
        } else {
            i += 1;
        }
    }
}

/// One `RUN` split into its head (`RUN --flags `) and command text.
fn split_run(body: &str) -> (&str, &str) {
    let mut i = 3.min(body.len());
    let bytes = body.as_bytes();
    loop {
        // Whitespace and escaped newlines.
        while i < bytes.len() && (bytes[i] as char).is_whitespace() {
            i += 1;
        }
        if body[i..].starts_with("--") {
            while i < bytes.len() && !(bytes[i] as char).is_whitespace() {
                i += 1;
            }
            continue;
        }
        break;
    }
    body.split_at(i)
}

/// Inserts `flag` after each anchor in `command`.
fn insert_flag(command: &str, at: Anchor, flag: &str) -> String {
    let positions: Vec<usize> = match at {
        Anchor::Pip => {
            let mut p: Vec<usize> = shell::pip_install_positions(command).collect();
            p.sort_unstable();
            p
        }
        Anchor::Uv => shell::uv_positions(command),
        Anchor::AptInstall => shell::apt_install_positions(command),
    };
    let mut out = command.to_owned();
    for p in positions.into_iter().rev() {
        out.insert_str(p, &format!(" {flag}"));
    }
    out
}

/// Joins commands into one `RUN`'s command text.
fn join(segments: &[(String, bool)], esc: char) -> String {
    let mut out = String::new();
    let n = segments.len();
    for (k, (text, group)) in segments.iter().enumerate() {
        let text = text.trim_end();
        let text = if *group && k + 1 < n {
            format!("( {text} )")
        } else {
            text.to_owned()
        };
        if k > 0 {
            out.push_str(&format!(" {esc}\n    && "));
        }
        out.push_str(&text);
    }
    out
}

/// Applies `edits` (already settled) to the Dockerfile's text.
pub fn rewrite(df: &Dockerfile, edits: &[&Edit]) -> String {
    let text = &df.text;
    let Some(stage) = df.final_stage() else {
        return text.clone();
    };
    let insts = &stage.instructions;
    if insts.is_empty() {
        return text.clone();
    }
    let from_end = line_end(text, stage.from_line).min(insts[0].span.start);
    let mut leads = Vec::with_capacity(insts.len());
    let mut bodies = Vec::with_capacity(insts.len());
    let mut prev_end = from_end;
    for inst in insts {
        leads.push(text[prev_end..inst.span.start].to_owned());
        bodies.push(text[inst.span.clone()].to_owned());
        prev_end = inst.span.end;
    }
    let prefix = &text[..from_end];
    let tail = &text[prev_end..];
    let esc = df.escape;
    let n = insts.len();
    let mut removed = vec![false; n];
    let mut appended: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    let mut order: Vec<Item> = (0..n).map(Item::Existing).collect();
    let mut copy_flags: Vec<Vec<(String, String)>> = vec![Vec::new(); n];
    let mut split: Option<(&Option<String>, &String)> = None;
    // Text edits first.
    for edit in edits {
        match edit {
            Edit::Flag { run, at, flag } => {
                let (head, cmd) = split_run(&bodies[*run]);
                bodies[*run] = format!("{head}{}", insert_flag(cmd, *at, flag));
            }
            Edit::CopyFlags { copy, flags } => {
                let body = &bodies[*copy];
                let kw = body.find(char::is_whitespace).unwrap_or(body.len());
                let added: String = flags.iter().map(|(n, v)| format!(" --{n}={v}")).collect();
                bodies[*copy] = format!("{}{added}{}", &body[..kw], &body[kw..]);
                copy_flags[*copy].extend(flags.iter().cloned());
            }
            Edit::Replace { inst, text } => bodies[*inst] = text.clone(),
            Edit::Append { run, command } => appended[*run].push(command.clone()),
            Edit::Delete { inst } => removed[*inst] = true,
            Edit::Merge { first, last } => ranges.push((*first, *last)),
            Edit::ManifestsFirst { .. } | Edit::Pin => {}
            Edit::Split { alias, stage, .. } => split = Some((alias, stage)),
        }
    }
    // Merge ranges, united.
    ranges.sort_unstable();
    let mut united: Vec<(usize, usize)> = Vec::new();
    for (a, b) in ranges {
        match united.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => united.push((a, b)),
        }
    }
    let mut grouped = vec![false; n];
    for &(a, b) in &united {
        let runs: Vec<usize> = (a..=b)
            .filter(|&i| insts[i].keyword == Keyword::Run && !removed[i])
            .collect();
        let Some(&target) = runs.last() else { continue };
        let head = split_run(&bodies[runs[0]]).0.to_owned();
        let mut segments: Vec<(String, bool)> = runs
            .iter()
            .map(|&i| {
                (
                    split_run(&bodies[i]).1.to_owned(),
                    shell::needs_group(insts[i].command()),
                )
            })
            .collect();
        for &i in &runs {
            segments.extend(appended[i].drain(..).map(|c| (c, false)));
            grouped[i] = true;
            if i != target {
                removed[i] = true;
            }
        }
        last_of_each(&mut segments, runs.len());
        bodies[target] = format!("{head}{}", join(&segments, esc));
    }
    for i in 0..n {
        if appended[i].is_empty() || grouped[i] {
            continue;
        }
        let (head, cmd) = split_run(&bodies[i]);
        let mut segments = vec![(cmd.to_owned(), shell::needs_group(insts[i].command()))];
        segments.extend(appended[i].drain(..).map(|c| (c, false)));
        last_of_each(&mut segments, 1);
        bodies[i] = format!("{head}{}", join(&segments, esc));
    }
    for edit in edits {
        if let Edit::ManifestsFirst {
            copy,
            install,
            manifests,
        } = edit
        {
            let extra = &copy_flags[*copy];
            manifests_first(
                &insts[*copy],
                extra,
                (*copy, *install),
                manifests,
                &mut order,
            );
        }
    }
    let mut out = prefix.to_owned();
    if let Some((Some(alias), _)) = split {
        out.truncate(out.trim_end().len());
        out.push_str(&format!(" AS {alias}"));
    }
    for item in order {
        match item {
            Item::Existing(i) if !removed[i] => {
                out.push_str(&leads[i]);
                out.push_str(&bodies[i]);
            }
            Item::Existing(_) => {}
            Item::New(line) => {
                out.push('\n');
                out.push_str(&line);
            }
        }
    }
    out.push_str(tail);
    if let Some((_, stage)) = split {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push('\n');
        out.push_str(stage);
    }
    out
}

/// Moves the install above the source copy, with a `COPY` of the
/// manifests before it.
fn manifests_first(
    inst: &Instruction,
    extra: &[(String, String)],
    (copy, install): (usize, usize),
    manifests: &[String],
    order: &mut Vec<Item>,
) {
    let Args::Copy { dest, .. } = &inst.args else {
        return;
    };
    let dest = if dest == "." || dest == "./" {
        "./".to_owned()
    } else if dest.ends_with('/') {
        dest.clone()
    } else {
        format!("{dest}/")
    };
    let mut line = "COPY".to_owned();
    for f in inst
        .flags
        .iter()
        .filter(|f| f.name == "chown" || f.name == "link")
    {
        line.push_str(&format!(" --{}", f.name));
        if let Some(v) = &f.value {
            line.push_str(&format!("={v}"));
        }
    }
    for (name, value) in extra.iter().filter(|(n, _)| n == "chown") {
        line.push_str(&format!(" --{name}={value}"));
    }
    line.push(' ');
    line.push_str(&manifests.join(" "));
    line.push(' ');
    line.push_str(&dest);
    order.retain(|i| !matches!(i, Item::Existing(j) if *j == install));
    let at = order
        .iter()
        .position(|i| matches!(i, Item::Existing(j) if *j == copy))
        .unwrap_or(0);
    order.insert(at, Item::Existing(install));
    order.insert(at, Item::New(line));
}

/// The byte offset of the end of 1-based `line` (its newline excluded).
fn line_end(text: &str, line: u32) -> usize {
    let mut offset = 0;
    for (i, l) in text.split('\n').enumerate() {
        offset += l.len();
        if i + 1 == line as usize {
            return offset;
        }
        offset += 1;
    }
    text.len()
}

/// A unified diff from `old` to `new`, with `a/NAME` and `b/NAME` headers.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn df(text: &str) -> Dockerfile {
        Dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn applies_each_edit_and_keeps_the_rest() {
        let d = df(
            "FROM x AS b\nRUN make\n\nFROM y\n# deps\nWORKDIR /app\nCOPY . .\nRUN pip install -r requirements.txt \\\n    && true\n# cleanup\nRUN rm -rf /tmp/x\nCOPY src /app/src\nRUN chown -R app /app/src\nCMD [\"x\"]\n",
        );
        let edits = [
            Edit::ManifestsFirst {
                copy: 1,
                install: 2,
                manifests: vec!["requirements.txt".into()],
            },
            Edit::Append {
                run: 2,
                command: "rm -rf /tmp/x".into(),
            },
            Edit::Delete { inst: 3 },
            Edit::Flag {
                run: 2,
                at: Anchor::Pip,
                flag: "--no-cache-dir".into(),
            },
            Edit::CopyFlags {
                copy: 4,
                flags: vec![("chown".into(), "app".into())],
            },
            Edit::Delete { inst: 5 },
        ];
        let out = rewrite(&d, &edits.iter().collect::<Vec<_>>());
        assert_eq!(
            out,
            "FROM x AS b\nRUN make\n\nFROM y\n# deps\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt \\\n    && true \\\n    && rm -rf /tmp/x\nCOPY . .\nCOPY --chown=app src /app/src\nCMD [\"x\"]\n"
        );
        let diff = unified_diff("Dockerfile", &d.text, &out);
        assert!(
            diff.starts_with("--- a/Dockerfile\n+++ b/Dockerfile\n"),
            "{diff}"
        );
        assert!(diff.contains("-RUN rm -rf /tmp/x\n"), "{diff}");
    }

    #[test]
    fn merges_runs_grouping_stateful_commands() {
        let d = df(
            "FROM y\nRUN apt-get update\nENV DEBIAN_FRONTEND=noninteractive\nRUN cd /tmp && apt-get install -y gcc\nRUN --mount=type=cache,target=/c echo x\nRUN make\n",
        );
        let edits = [
            Edit::Merge { first: 0, last: 2 },
            Edit::Append {
                run: 0,
                command: "rm -rf /var/lib/apt/lists/*".into(),
            },
            Edit::Flag {
                run: 2,
                at: Anchor::AptInstall,
                flag: "--no-install-recommends".into(),
            },
            Edit::Append {
                run: 3,
                command: "echo y".into(),
            },
        ];
        let out = rewrite(&d, &edits.iter().collect::<Vec<_>>());
        assert_eq!(
            out,
            "FROM y\nENV DEBIAN_FRONTEND=noninteractive\nRUN apt-get update \\\n    && ( cd /tmp && apt-get install --no-install-recommends -y gcc ) \\\n    && rm -rf /var/lib/apt/lists/*\nRUN --mount=type=cache,target=/c echo x \\\n    && echo y\nRUN make\n"
        );
    }
}
