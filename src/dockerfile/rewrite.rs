//! The rewritten Dockerfile: the automated edits applied to the final
//! stage's text, everything else (comments, blank lines, other stages,
//! continuation layout) kept byte for byte, and a unified diff of the change.

use std::collections::HashSet;

use super::advise::{Advice, Edit, pip_install_positions};
use super::parse::{Args, Dockerfile};

impl Edit {
    /// (instructions changed or moved, instructions deleted, whether it
    /// reorders).
    fn footprint(&self) -> (Vec<usize>, Vec<usize>, bool) {
        match self {
            Edit::FoldInto { target, from, .. } => (vec![*target], vec![*from], false),
            Edit::CopyFlag { copy, remove, .. } => (vec![*copy], vec![*remove], false),
            Edit::PipNoCache { run } | Edit::Append { run, .. } => (vec![*run], vec![], false),
            Edit::ManifestsFirst { copy, install, .. } => (vec![*copy, *install], vec![], true),
        }
    }
}

/// Keeps the edits that can all be applied together, in the given order
/// (larger savings first); the others become advice only.
pub fn settle(advice: &mut [Advice]) {
    let mut touched: HashSet<usize> = HashSet::new();
    let mut removed: HashSet<usize> = HashSet::new();
    let mut moved = false;
    for a in advice.iter_mut() {
        let Some(edit) = &a.edit else { continue };
        let (touch, remove, reorders) = edit.footprint();
        let ok = touch.iter().all(|t| !removed.contains(t))
            && remove
                .iter()
                .all(|r| !touched.contains(r) && !removed.contains(r))
            && !(reorders && moved);
        if ok {
            touched.extend(touch);
            removed.extend(remove);
            moved |= reorders;
        } else {
            a.automated = false;
            a.edit = None;
        }
    }
}

enum Item {
    Existing(usize),
    New(String),
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
    let append = |body: &str, cmd: &str| format!("{} {esc}\n    && {cmd}", body.trim_end());
    let mut removed = vec![false; insts.len()];
    let mut order: Vec<Item> = (0..insts.len()).map(Item::Existing).collect();
    for edit in edits {
        match edit {
            Edit::FoldInto {
                target,
                from,
                command,
            } => {
                bodies[*target] = append(&bodies[*target], command);
                removed[*from] = true;
            }
            Edit::Append { run, command } => bodies[*run] = append(&bodies[*run], command),
            Edit::CopyFlag {
                copy,
                remove,
                flags,
            } => {
                let body = &bodies[*copy];
                let kw = body.find(char::is_whitespace).unwrap_or(body.len());
                let added: String = flags.iter().map(|(n, v)| format!(" --{n}={v}")).collect();
                bodies[*copy] = format!("{}{added}{}", &body[..kw], &body[kw..]);
                removed[*remove] = true;
            }
            Edit::PipNoCache { run } => {
                let mut body = bodies[*run].clone();
                let positions: Vec<usize> = pip_install_positions(&body).collect();
                for p in positions.into_iter().rev() {
                    body.insert_str(p, " --no-cache-dir");
                }
                bodies[*run] = body;
            }
            Edit::ManifestsFirst {
                copy,
                install,
                manifests,
            } => {
                let inst = &insts[*copy];
                let Args::Copy { dest, .. } = &inst.args else {
                    continue;
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
                line.push(' ');
                line.push_str(&manifests.join(" "));
                line.push(' ');
                line.push_str(&dest);
                order.retain(|i| !matches!(i, Item::Existing(j) if j == install));
                let at = order
                    .iter()
                    .position(|i| matches!(i, Item::Existing(j) if j == copy))
                    .unwrap_or(0);
                order.insert(at, Item::Existing(*install));
                order.insert(at, Item::New(line));
            }
        }
    }
    let mut out = prefix.to_owned();
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
    out
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

/// The rewritten text for the automated advice.
pub fn apply(df: &Dockerfile, advice: &[Advice]) -> String {
    let edits: Vec<&Edit> = advice
        .iter()
        .filter(|a| a.automated)
        .filter_map(|a| a.edit.as_ref())
        .collect();
    rewrite(df, &edits)
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
            Edit::FoldInto {
                target: 2,
                from: 3,
                command: "rm -rf /tmp/x".into(),
            },
            Edit::PipNoCache { run: 2 },
            Edit::CopyFlag {
                copy: 4,
                remove: 5,
                flags: vec![("chown".into(), "app".into())],
            },
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
}
