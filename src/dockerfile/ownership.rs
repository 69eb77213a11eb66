//! A later `chown -R`/`chmod -R` RUN copies every file it touches into a
//! new layer. The ownership goes where the files are written instead:
//! `COPY --chown/--chmod` for copied files, the same chown/chmod at the end
//! of the RUN that created the files; the separate RUN shrinks to what is
//! left (base-image files, directories), with `find` so that files that
//! already have their owner and mode are not copied again.

use std::collections::BTreeMap;

use super::advice::{Advice, ChangeKind};
use super::advise::Context;
use super::chain;
use super::edit::Edit;
use super::map::join_path;
use super::parse::{Args, Instruction, Keyword};
use super::shell;
use crate::analyze::{Finding, FindingKind};
use crate::model::ShadowKind;
use crate::scan::EntryKind;

/// One `chown`/`chmod` of the RUN.
struct Part {
    /// `chown` or `chmod`.
    tool: &'static str,
    /// Owner or mode as written.
    value: String,
    /// Absolute paths.
    paths: Vec<String>,
}

/// One advice per chown/chmod RUN, over every `metadata-rewrite` finding
/// it caused.
pub fn advise(cx: &Context<'_>) -> Vec<Advice> {
    let mut groups: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (fi, f) in cx.findings.iter().enumerate() {
        if f.kind == FindingKind::MetadataRewrite
            && let (Some(&w), Some(&b)) = (f.layers.first(), f.layers.last())
            && w != b
        {
            groups.entry(b).or_default().push(fi);
        }
    }
    groups
        .into_iter()
        .filter_map(|(b, fis)| chown_advice(cx, b, &fis))
        .collect()
}

fn chown_advice(cx: &Context<'_>, b: u32, fis: &[usize]) -> Option<Advice> {
    let bs = cx.mapping.step_for_layer(b)?;
    let findings: Vec<&Finding> = fis.iter().map(|&i| &cx.findings[i]).collect();
    let own: Vec<&Finding> = findings
        .iter()
        .copied()
        .filter(|f| f.layers[0] as usize >= cx.mapping.base_layers)
        .collect();
    let all_copies = own.iter().all(|f| {
        cx.mapping
            .step_for_layer(f.layers[0])
            .is_some_and(|s| matches!(s.keyword, Keyword::Copy | Keyword::Add))
    });
    let kind = if all_copies {
        ChangeKind::CopyChown
    } else {
        ChangeKind::ChownInRun
    };
    let mut a = Advice::new(FindingKind::MetadataRewrite, kind);
    a.findings = fis.to_vec();
    a.line = bs.line;
    a.instruction = cx.quote(bs);
    a.bytes = Some(own.iter().map(|f| f.bytes).sum());
    a.compressed_bytes = Some(own.iter().map(|f| f.compressed_bytes).sum());
    let mut layers: Vec<u32> = own.iter().flat_map(|f| f.layers.clone()).collect();
    layers.sort_unstable();
    layers.dedup();
    a.layers = layers;
    a.paths = own
        .iter()
        .flat_map(|f| f.paths.iter().take(3).cloned())
        .collect();
    let writers: Vec<String> = own
        .iter()
        .filter_map(|f| cx.mapping.step_for_layer(f.layers[0]).map(|s| cx.where_(s)))
        .collect();
    a.problem = format!(
        "changes owner or mode of files written by {}, which copies every one of them into a new layer",
        if writers.is_empty() {
            "the base image".to_owned()
        } else {
            writers.join(", ")
        }
    );
    a.change = "set owner and mode where the files are written (`COPY --chown=... --chmod=...`, or chown/chmod at the end of the RUN that creates them), and leave this RUN only what is left".to_owned();
    if own.is_empty() {
        a.change = "avoid changing base-image files recursively; chown only the directories the application writes to".to_owned();
        a.reason = Some("the files come from the base image".to_owned());
        return Some(a);
    }
    let edits = edits(cx, b, &own);
    Some(a.with_edits(edits))
}

/// The WORKDIR in effect at instruction `at`.
fn workdir_at(insts: &[Instruction], at: usize) -> String {
    let mut cwd = "/".to_owned();
    for inst in &insts[..at] {
        if let (Keyword::Workdir, Args::Text(dir)) = (inst.keyword, &inst.args) {
            cwd = join_path(&cwd, dir);
        }
    }
    cwd
}

fn parse_parts(command: &str, cwd: &str) -> Result<Vec<Part>, String> {
    let mut out = Vec::new();
    for part in shell::parts(command) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let tool = match words.first() {
            Some(&"chown") => "chown",
            Some(&"chmod") => "chmod",
            _ => return Err(format!("it does more than chown/chmod (`{part}`)")),
        };
        let rest = &words[1..];
        if !rest.iter().any(|w| *w == "-R" || *w == "--recursive") {
            return Err("the chown/chmod is not recursive".to_owned());
        }
        if rest
            .iter()
            .any(|w| w.starts_with('-') && *w != "-R" && *w != "--recursive")
        {
            return Err(format!("`{part}` has options the rewriter does not follow"));
        }
        let args: Vec<&str> = rest
            .iter()
            .filter(|w| !w.starts_with('-'))
            .copied()
            .collect();
        if args.len() < 2
            || args
                .iter()
                .any(|w| w.contains(['$', '*', '?', '`', '\'', '"']))
        {
            return Err(format!(
                "`{part}` names its files in a way the rewriter does not follow"
            ));
        }
        if tool == "chmod"
            && !(args[0].len() <= 4 && args[0].chars().all(|c| ('0'..='7').contains(&c)))
        {
            return Err(format!("`{part}` uses a symbolic mode"));
        }
        out.push(Part {
            tool,
            value: args[0].to_owned(),
            paths: args[1..]
                .iter()
                .map(|p| join_path(cwd, p).trim_end_matches('/').to_owned())
                .collect(),
        });
    }
    Ok(out)
}

fn under(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.starts_with(&format!("{dir}/"))
}

/// The `find` that gives `path` the part's owner or mode, touching only
/// what does not have it yet.
fn find_fix(part: &Part, path: &str, numeric: Option<(u32, u32)>) -> String {
    match part.tool {
        "chown" => {
            let owner = match numeric {
                Some((u, g)) if part.value.contains(':') => format!("{u}:{g}"),
                Some((u, _)) => u.to_string(),
                None => part.value.clone(),
            };
            let (user, group) = owner.split_once(':').unwrap_or((&owner, ""));
            let test = if group.is_empty() {
                format!("\\! -user {user}")
            } else {
                format!("\\( \\! -user {user} -o \\! -group {group} \\)")
            };
            format!("find {path} {test} -exec chown -h {owner} {{}} +")
        }
        _ => format!(
            "find {path} \\! -perm {0} -exec chmod {0} {{}} +",
            part.value
        ),
    }
}

fn edits(cx: &Context<'_>, b: u32, own: &[&Finding]) -> Result<Vec<Edit>, String> {
    let (bs, bi) = cx.editable(b)?;
    let insts = cx.instructions();
    let br = chain::extendable(insts, bi)?;
    if !br.flags.is_empty() {
        return Err(format!("{} has RUN flags", cx.where_(bs)));
    }
    let parts = parse_parts(br.command(), &workdir_at(insts, bi))
        .map_err(|e| format!("{}: {e}", cx.where_(bs)))?;
    // The owner the chown gave, from the files it wrote.
    let owners: std::collections::BTreeSet<(u32, u32)> = cx
        .image
        .layers
        .get(b as usize)
        .map(|l| {
            l.entries
                .iter()
                .filter(|e| e.kind == EntryKind::File && e.size > 0)
                .map(|e| (e.uid, e.gid))
                .collect()
        })
        .unwrap_or_default();
    let numeric = (owners.len() == 1)
        .then(|| owners.iter().next().copied())
        .flatten();
    let mut out = Vec::new();
    for f in own {
        let w = f.layers[0];
        let (ws, wi) = cx.editable(w)?;
        // Users added between the writer and the chown: names do not
        // resolve at the writer yet, numbers do.
        let named = !insts[wi..bi].iter().any(|i| shell::adds_users(i.command()))
            && !users_change(cx, w, b);
        let wpaths: Vec<String> = cx
            .image
            .shadowed
            .iter()
            .filter(|s| s.loc.layer == w && s.by_layer == b && s.how == ShadowKind::MetadataOnly)
            .map(|s| cx.image.entry(s.loc).path.display())
            .collect();
        let covering: Vec<(&Part, &str)> = parts
            .iter()
            .flat_map(|p| {
                p.paths
                    .iter()
                    .filter(|d| wpaths.iter().any(|x| under(x, d)))
                    .map(move |d| (p, d.as_str()))
            })
            .collect();
        if covering.is_empty() {
            return Err(format!(
                "the files of {} lie under none of the paths it names",
                cx.where_(ws)
            ));
        }
        match ws.keyword {
            Keyword::Copy | Keyword::Add => {
                let copy = &insts[wi];
                let dest = match &copy.args {
                    Args::Copy { dest, .. } => join_path(&workdir_at(insts, wi), dest),
                    _ => String::new(),
                };
                let files = cx.image.layers.get(w as usize).map_or(0, |l| {
                    l.entries
                        .iter()
                        .filter(|e| e.kind == EntryKind::File)
                        .count()
                });
                if files != wpaths.len() {
                    return Err(format!(
                        "the chown/chmod changes only some of the files {} copies",
                        cx.where_(ws)
                    ));
                }
                let mut flags: Vec<(String, String)> = Vec::new();
                for (p, d) in &covering {
                    if !under(dest.trim_end_matches('/'), d) {
                        return Err(format!(
                            "{} copies to {dest}, which {d} does not cover",
                            cx.where_(ws)
                        ));
                    }
                    if copy.flag(p.tool).is_some() {
                        return Err(format!("{} already has --{}", cx.where_(ws), p.tool));
                    }
                    let value = match (p.tool, numeric) {
                        ("chown", Some((u, g))) if !named || !p.value.contains(':') => {
                            format!("{u}:{g}")
                        }
                        _ => p.value.clone(),
                    };
                    if !flags.iter().any(|(n, _)| n == p.tool) {
                        flags.push((p.tool.to_owned(), value));
                    }
                }
                out.push(Edit::CopyFlags { copy: wi, flags });
            }
            Keyword::Run => {
                chain::extendable(insts, wi)?;
                for (p, d) in &covering {
                    let fresh = !path_exists_below(cx, d, w);
                    let numeric_here = if named { None } else { numeric };
                    let command = if fresh {
                        let value = match (p.tool, numeric_here) {
                            ("chown", Some((u, g))) if p.value.contains(':') => format!("{u}:{g}"),
                            ("chown", Some((u, _))) => u.to_string(),
                            _ => p.value.clone(),
                        };
                        format!("{} -R {value} {d}", p.tool)
                    } else {
                        find_fix(p, d, numeric_here)
                    };
                    out.push(Edit::Append { run: wi, command });
                }
            }
            k => return Err(format!("the files come from a {}", k.as_str())),
        }
    }
    // What is left (base-image files, directories) keeps its RUN, touching
    // only what has not the owner and mode yet.
    let mut residual: Vec<String> = Vec::new();
    for p in &parts {
        let paths = p.paths.join(" ");
        residual.push(find_fix(p, &paths, None));
    }
    out.push(Edit::Replace {
        inst: bi,
        text: format!("RUN {}", residual.join(" \\\n    && ")),
    });
    Ok(out)
}

/// Whether `path` or anything under it exists in a layer below `layer`.
fn path_exists_below(cx: &Context<'_>, path: &str, layer: u32) -> bool {
    let want = path.trim_start_matches('/').as_bytes();
    cx.image.layers[..(layer as usize).min(cx.image.layers.len())]
        .iter()
        .any(|l| l.entries.iter().any(|e| e.path.is_within(want)))
}

/// Whether a layer from `from` up to (not including) `to` writes the user
/// or group database.
fn users_change(cx: &Context<'_>, from: u32, to: u32) -> bool {
    cx.image.layers
        [(from as usize).min(cx.image.layers.len())..(to as usize).min(cx.image.layers.len())]
        .iter()
        .any(|l| {
            l.entries
                .iter()
                .any(|e| matches!(e.path.as_bytes(), b"etc/passwd" | b"etc/group"))
        })
}
