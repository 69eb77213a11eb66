//! parse-dockerfile's borrowed instructions -> owned [`Instruction`]s with
//! lines, spans, flags and expanded arguments.

use std::collections::BTreeMap;
use std::ops::Range;

use parse_dockerfile as pd;

use super::parse::{Args, Flag, Instruction, Keyword};
use super::words::{expand, join_continuations, pairs};

pub(super) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(super) fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    pub(super) fn line(&self, offset: usize) -> u32 {
        (self.starts.partition_point(|&s| s <= offset)) as u32
    }
}

pub(super) fn convert(
    inst: &pd::Instruction<'_>,
    text: &str,
    lines: &LineIndex,
    escape: char,
    vars: &mut BTreeMap<String, String>,
    globals: &BTreeMap<String, String>,
) -> Instruction {
    let (keyword, start, mut end, flags, args): (Keyword, usize, usize, &[pd::Flag<'_>], Args) =
        match inst {
            pd::Instruction::Run(i) => {
                let (command, exec, span) = command(&i.arguments, escape);
                let heredocs: Vec<String> =
                    i.here_docs.iter().map(|h| h.value.to_string()).collect();
                let end = i
                    .here_docs
                    .iter()
                    .map(|h| h.span.end)
                    .max()
                    .unwrap_or(span.end)
                    .max(span.end);
                (
                    Keyword::Run,
                    i.run.span.start,
                    end,
                    &i.options,
                    Args::Command {
                        command,
                        exec,
                        heredocs,
                    },
                )
            }
            pd::Instruction::Cmd(i) => {
                let (command, exec, span) = command(&i.arguments, escape);
                (
                    Keyword::Cmd,
                    i.cmd.span.start,
                    span.end,
                    &[],
                    Args::Command {
                        command,
                        exec,
                        heredocs: vec![],
                    },
                )
            }
            pd::Instruction::Entrypoint(i) => {
                let (command, exec, span) = command(&i.arguments, escape);
                let args = Args::Command {
                    command,
                    exec,
                    heredocs: vec![],
                };
                (
                    Keyword::Entrypoint,
                    i.entrypoint.span.start,
                    span.end,
                    &[],
                    args,
                )
            }
            pd::Instruction::Copy(i) => {
                let (args, end) = copy_args(&i.src, &i.dest, vars);
                (Keyword::Copy, i.copy.span.start, end, &i.options, args)
            }
            pd::Instruction::Add(i) => {
                let (args, end) = copy_args(&i.src, &i.dest, vars);
                (Keyword::Add, i.add.span.start, end, &i.options, args)
            }
            pd::Instruction::Env(i) => {
                let p = pairs(&i.arguments.value, vars);
                for (k, v) in &p {
                    vars.insert(k.clone(), v.clone().unwrap_or_default());
                }
                (
                    Keyword::Env,
                    i.env.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Pairs(p),
                )
            }
            pd::Instruction::Arg(i) => {
                let p = pairs(&i.arguments.value, vars);
                for (k, v) in &p {
                    // `ARG NAME` re-declares a global ARG with its default.
                    let value = v.clone().or_else(|| globals.get(k).cloned());
                    if let Some(value) = value {
                        vars.entry(k.clone()).or_insert(value);
                    }
                }
                (
                    Keyword::Arg,
                    i.arg.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Pairs(p),
                )
            }
            pd::Instruction::Label(i) => {
                let p = pairs(&i.arguments.value, vars);
                (
                    Keyword::Label,
                    i.label.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Pairs(p),
                )
            }
            pd::Instruction::Workdir(i) => {
                let t = expand(&i.arguments.value, vars);
                (
                    Keyword::Workdir,
                    i.workdir.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Text(t),
                )
            }
            pd::Instruction::User(i) => {
                let t = expand(&i.arguments.value, vars);
                (
                    Keyword::User,
                    i.user.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Text(t),
                )
            }
            pd::Instruction::Stopsignal(i) => {
                let t = expand(&i.arguments.value, vars);
                (
                    Keyword::Stopsignal,
                    i.stopsignal.span.start,
                    i.arguments.span.end,
                    &[],
                    Args::Text(t),
                )
            }
            pd::Instruction::Maintainer(i) => (
                Keyword::Maintainer,
                i.maintainer.span.start,
                i.name.span.end,
                &[],
                Args::Text(i.name.value.to_string()),
            ),
            pd::Instruction::Expose(i) => {
                let words: Vec<String> =
                    i.arguments.iter().map(|a| expand(&a.value, vars)).collect();
                let end = i
                    .arguments
                    .iter()
                    .map(|a| a.span.end)
                    .max()
                    .unwrap_or(i.expose.span.end);
                (
                    Keyword::Expose,
                    i.expose.span.start,
                    end,
                    &[],
                    Args::Text(words.join(" ")),
                )
            }
            pd::Instruction::Volume(i) => {
                let (words, end) = match &i.arguments {
                    pd::JsonOrStringArray::Json(a) => (
                        a.value
                            .iter()
                            .map(|w| expand(&w.value, vars))
                            .collect::<Vec<_>>(),
                        a.span.end,
                    ),
                    pd::JsonOrStringArray::String(a) => (
                        a.iter().map(|w| expand(&w.value, vars)).collect(),
                        a.iter()
                            .map(|w| w.span.end)
                            .max()
                            .unwrap_or(i.volume.span.end),
                    ),
                };
                (
                    Keyword::Volume,
                    i.volume.span.start,
                    end,
                    &[],
                    Args::Text(words.join(" ")),
                )
            }
            pd::Instruction::Shell(i) => {
                let words: Vec<String> = i.arguments.iter().map(|a| a.value.to_string()).collect();
                let end = i
                    .arguments
                    .iter()
                    .map(|a| a.span.end)
                    .max()
                    .unwrap_or(i.shell.span.end);
                (
                    Keyword::Shell,
                    i.shell.span.start,
                    end,
                    &[],
                    Args::Text(words.join(" ")),
                )
            }
            pd::Instruction::Healthcheck(i) => {
                let (t, end) = match &i.arguments {
                    pd::HealthcheckArguments::Cmd { arguments, .. } => {
                        let (c, _, span) = command(arguments, escape);
                        (format!("CMD {c}"), span.end)
                    }
                    pd::HealthcheckArguments::None { none, .. } => {
                        ("NONE".to_owned(), none.span.end)
                    }
                    _ => (String::new(), i.healthcheck.span.end),
                };
                (
                    Keyword::Healthcheck,
                    i.healthcheck.span.start,
                    end,
                    &i.options,
                    Args::Text(t),
                )
            }
            pd::Instruction::Onbuild(i) => {
                // Triggers run in child builds: their variables are not ours.
                let mut scratch = vars.clone();
                let inner = convert(&i.instruction, text, lines, escape, &mut scratch, globals);
                let end = inner.span.end;
                (
                    Keyword::Onbuild,
                    i.onbuild.span.start,
                    end,
                    &[],
                    Args::Onbuild(Box::new(inner)),
                )
            }
            pd::Instruction::From(i) => (
                Keyword::From,
                i.from.span.start,
                i.image.span.end,
                &i.options,
                Args::Text(i.image.value.to_string()),
            ),
            // The parser is `non_exhaustive`: an instruction it learns later is
            // kept as text.
            _ => (Keyword::Label, 0, 0, &[], Args::Text(String::new())),
        };
    // Extend to the end of the last line (closing quotes, trailing spaces).
    end = end.max(start);
    let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
    let flags = flags
        .iter()
        .map(|f| Flag {
            name: f.name.value.to_string(),
            value: f.value.as_ref().map(|v| expand(&v.value, vars)),
        })
        .collect();
    Instruction {
        keyword,
        line: lines.line(start),
        end_line: lines.line(line_end.saturating_sub(1).max(start)),
        span: start..line_end,
        flags,
        args,
    }
}

fn command(c: &pd::Command<'_>, escape: char) -> (String, bool, Range<usize>) {
    match c {
        pd::Command::Exec(words) => (
            words
                .value
                .iter()
                .map(|w| w.value.as_ref())
                .collect::<Vec<_>>()
                .join(" "),
            true,
            words.span.clone(),
        ),
        pd::Command::Shell(s) => (join_continuations(s.value, escape), false, s.span.clone()),
        _ => (String::new(), false, 0..0),
    }
}

fn copy_args(
    src: &[pd::Source<'_>],
    dest: &pd::UnescapedString<'_>,
    vars: &BTreeMap<String, String>,
) -> (Args, usize) {
    let mut end = dest.span.end;
    let sources = src
        .iter()
        .map(|s| match s {
            pd::Source::Path(p) => {
                end = end.max(p.span.end);
                expand(&p.value, vars)
            }
            pd::Source::HereDoc(h) => {
                end = end.max(h.span.end);
                "<<heredoc>".to_owned()
            }
            _ => String::new(),
        })
        .collect();
    (
        Args::Copy {
            sources,
            dest: expand(&dest.value, vars),
        },
        end,
    )
}
