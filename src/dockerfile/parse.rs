//! Dockerfile parsing: `parse-dockerfile` does the syntax (continuations,
//! the escape directive, heredocs, JSON and shell forms, flags); this module
//! turns its borrowed tree into owned [`Dockerfile`] values with 1-based line
//! numbers, byte spans for the rewriter, joined shell commands and
//! `ARG`/`ENV` expansion where the builder expands (not inside `RUN`, which
//! the shell expands at build time).

use std::collections::BTreeMap;
use std::ops::Range;

use parse_dockerfile as pd;

use super::DockerfileError;

/// A parsed Dockerfile.
#[derive(Clone, Debug)]
pub struct Dockerfile {
    /// Where it came from (for messages).
    pub path: String,
    /// The original text.
    pub text: String,
    /// The escape character (`\` unless the directive says otherwise).
    pub escape: char,
    /// `ARG`s before the first `FROM`, with their defaults.
    pub global_args: Vec<(String, Option<String>)>,
    /// The stages, in order; the last one is the image.
    pub stages: Vec<Stage>,
}

/// One `FROM` and the instructions up to the next.
#[derive(Clone, Debug)]
pub struct Stage {
    /// Position among the stages, 0 first.
    pub index: usize,
    /// `AS name`.
    pub name: Option<String>,
    /// The base image (or stage name), global args expanded.
    pub base: String,
    /// The line of the `FROM`.
    pub from_line: u32,
    /// The instructions after the `FROM`.
    pub instructions: Vec<Instruction>,
}

/// Instruction keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Keyword {
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Label,
    Maintainer,
    Onbuild,
    Run,
    Shell,
    Stopsignal,
    User,
    Volume,
    Workdir,
}

impl Keyword {
    /// The keyword as written in Dockerfiles (upper case).
    pub fn as_str(self) -> &'static str {
        match self {
            Keyword::Add => "ADD",
            Keyword::Arg => "ARG",
            Keyword::Cmd => "CMD",
            Keyword::Copy => "COPY",
            Keyword::Entrypoint => "ENTRYPOINT",
            Keyword::Env => "ENV",
            Keyword::Expose => "EXPOSE",
            Keyword::From => "FROM",
            Keyword::Healthcheck => "HEALTHCHECK",
            Keyword::Label => "LABEL",
            Keyword::Maintainer => "MAINTAINER",
            Keyword::Onbuild => "ONBUILD",
            Keyword::Run => "RUN",
            Keyword::Shell => "SHELL",
            Keyword::Stopsignal => "STOPSIGNAL",
            Keyword::User => "USER",
            Keyword::Volume => "VOLUME",
            Keyword::Workdir => "WORKDIR",
        }
    }

    /// Parses a keyword in any case.
    pub fn from_word(word: &str) -> Option<Keyword> {
        let all = [
            Keyword::Add,
            Keyword::Arg,
            Keyword::Cmd,
            Keyword::Copy,
            Keyword::Entrypoint,
            Keyword::Env,
            Keyword::Expose,
            Keyword::From,
            Keyword::Healthcheck,
            Keyword::Label,
            Keyword::Maintainer,
            Keyword::Onbuild,
            Keyword::Run,
            Keyword::Shell,
            Keyword::Stopsignal,
            Keyword::User,
            Keyword::Volume,
            Keyword::Workdir,
        ];
        all.into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(word))
    }

    /// Whether the instruction writes files (and so, usually, a layer).
    pub fn makes_layer(self) -> bool {
        matches!(self, Keyword::Run | Keyword::Copy | Keyword::Add)
    }
}

/// A `--name=value` flag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Flag {
    /// The name without dashes (`chown`, `mount`, `from`).
    pub name: String,
    /// The value, variables expanded.
    pub value: Option<String>,
}

/// One instruction of a stage.
#[derive(Clone, Debug)]
pub struct Instruction {
    /// What it is.
    pub keyword: Keyword,
    /// The 1-based line of the keyword.
    pub line: u32,
    /// The 1-based last line of the instruction (continuations, heredocs).
    pub end_line: u32,
    /// Byte range in the text: from the keyword to the end of its last line
    /// (newline excluded).
    pub span: Range<usize>,
    /// Its flags (`--chown`, `--mount`, `--from` ...).
    pub flags: Vec<Flag>,
    /// The arguments.
    pub args: Args,
}

/// The arguments of an instruction.
#[derive(Clone, Debug)]
pub enum Args {
    /// `RUN`, `CMD`, `ENTRYPOINT`.
    Command {
        /// The shell-form command with continuations joined (unexpanded), or
        /// the exec-form words joined by spaces.
        command: String,
        /// Exec (JSON) form.
        exec: bool,
        /// The bodies of the heredocs.
        heredocs: Vec<String>,
    },
    /// `COPY`, `ADD`.
    Copy {
        /// The sources, variables expanded (a heredoc source is `<<heredoc>`).
        sources: Vec<String>,
        /// The destination, variables expanded.
        dest: String,
    },
    /// `ENV`, `ARG`, `LABEL`: `NAME=value` pairs (value expanded).
    Pairs(Vec<(String, Option<String>)>),
    /// `ONBUILD`: the triggered instruction (not run in this build).
    Onbuild(Box<Instruction>),
    /// Anything else: the argument text (variables expanded for `WORKDIR`,
    /// `USER`, `EXPOSE`, `STOPSIGNAL`, `VOLUME`).
    Text(String),
}

impl Instruction {
    /// A flag's value by name.
    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find(|f| f.name == name)
            .and_then(|f| f.value.as_deref())
    }

    /// The shell command of a `RUN` (empty for other instructions).
    pub fn command(&self) -> &str {
        match &self.args {
            Args::Command { command, .. } => command,
            _ => "",
        }
    }

    /// Whether this is a shell-form `RUN` without heredocs (one the
    /// rewriter may extend).
    pub fn is_plain_shell_run(&self) -> bool {
        self.keyword == Keyword::Run
            && matches!(&self.args, Args::Command { exec: false, heredocs, .. } if heredocs.is_empty())
    }

    /// The sources and destination of a `COPY`/`ADD`.
    pub fn copy_args(&self) -> Option<(&[String], &str)> {
        match &self.args {
            Args::Copy { sources, dest } => Some((sources, dest)),
            _ => None,
        }
    }

    /// A one-line summary: keyword, flags and arguments.
    pub fn summary(&self) -> String {
        let mut out = self.keyword.as_str().to_owned();
        for f in &self.flags {
            out.push_str(" --");
            out.push_str(&f.name);
            if let Some(v) = &f.value {
                out.push('=');
                out.push_str(v);
            }
        }
        let rest = match &self.args {
            Args::Command { command, .. } => command.clone(),
            Args::Copy { sources, dest } => format!("{} {dest}", sources.join(" ")),
            Args::Pairs(pairs) => pairs
                .iter()
                .map(|(k, v)| match v {
                    Some(v) => format!("{k}={v}"),
                    None => k.clone(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            Args::Onbuild(inner) => inner.summary(),
            Args::Text(t) => t.clone(),
        };
        if !rest.is_empty() {
            out.push(' ');
            out.push_str(&rest);
        }
        out
    }
}

impl Dockerfile {
    /// Parses `text`; `path` names it in errors.
    pub fn parse(path: &str, text: &str) -> Result<Dockerfile, DockerfileError> {
        // A Windows-style file parses like a Unix one; spans refer to the
        // normalised text.
        let text = text.replace("\r\n", "\n");
        // parse-dockerfile reads a heredoc only right after `RUN`; BuildKit
        // takes one anywhere (`RUN python3 - <<EOF`). Mask those bodies as
        // comments (same length, so spans hold) and attach them afterwards.
        let (masked, inline) = mask_inline_heredocs(&text);
        let parsed = pd::parse(&masked).map_err(|e| DockerfileError::Syntax {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: format!("{e:#}"),
        })?;
        let escape = parsed
            .parser_directives
            .escape
            .as_ref()
            .map_or('\\', |d| d.value.value);
        let lines = LineIndex::new(&text);
        let mut global_args = Vec::new();
        let mut global_vars = BTreeMap::new();
        for arg in parsed.global_args() {
            for (k, v) in pairs(&arg.arguments.value, &global_vars) {
                if let Some(v) = &v {
                    global_vars.insert(k.clone(), v.clone());
                }
                global_args.push((k, v));
            }
        }
        let mut stages = Vec::new();
        for (index, stage) in parsed.stages().enumerate() {
            let base = expand(&stage.from.image.value, &global_vars);
            let name = stage.from.as_.as_ref().map(|(_, n)| n.value.to_string());
            let from_line = lines.line(stage.from.from.span.start);
            // Variables visible in the stage: global ARGs only once
            // re-declared, stage ARGs and ENVs as they appear.
            let mut vars: BTreeMap<String, String> = BTreeMap::new();
            let mut instructions = Vec::new();
            for inst in stage.instructions {
                let converted = convert(inst, &text, &lines, escape, &mut vars, &global_vars);
                instructions.push(converted);
            }
            stages.push(Stage {
                index,
                name,
                base,
                from_line,
                instructions,
            });
        }
        for inst in stages.iter_mut().flat_map(|s| s.instructions.iter_mut()) {
            let Some(h) = inline
                .iter()
                .find(|h| h.run_line == inst.line && inst.keyword == Keyword::Run)
            else {
                continue;
            };
            if let Args::Command { heredocs, .. } = &mut inst.args {
                heredocs.extend(h.bodies.iter().cloned());
            }
            inst.span.end = h.end;
            inst.end_line = h.end_line;
        }
        Ok(Dockerfile {
            path: path.to_owned(),
            text: text.clone(),
            escape,
            global_args,
            stages,
        })
    }

    /// The last stage: the one the image is built from.
    pub fn final_stage(&self) -> Option<&Stage> {
        self.stages.last()
    }

    /// A stage by name or index (`COPY --from=builder`, `--from=0`).
    pub fn stage_named(&self, name: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| {
                s.name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .or_else(|| name.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }
}

/// A heredoc whose `<<WORD` is not the first argument of its `RUN`.
struct InlineHeredoc {
    /// 1-based line of the `RUN`.
    run_line: u32,
    /// The bodies, in order.
    bodies: Vec<String>,
    /// Byte offset of the end of the last terminator line.
    end: usize,
    /// 1-based line of the last terminator.
    end_line: u32,
}

/// The text with the bodies of inline heredocs turned into comment lines
/// (first byte of each non-empty line replaced by `#`; lengths unchanged),
/// and the bodies found.
fn mask_inline_heredocs(text: &str) -> (String, Vec<InlineHeredoc>) {
    let mut lines: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for line in text.split('\n') {
        lines.push((offset, line));
        offset += line.len() + 1;
    }
    let mut bytes = text.as_bytes().to_vec();
    let mut found = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].1.trim_start();
        let is_run = t.len() > 4 && t.is_char_boundary(4) && t[..4].eq_ignore_ascii_case("RUN ");
        let mut rest = if is_run { t[4..].trim_start() } else { "" };
        while rest.starts_with("--") {
            rest = rest
                .split_once(char::is_whitespace)
                .map_or("", |x| x.1)
                .trim_start();
        }
        let markers = if rest.starts_with("<<") {
            Vec::new()
        } else {
            heredoc_markers(rest)
        };
        if markers.is_empty() {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        let mut bodies = Vec::new();
        let mut masks = Vec::new();
        let mut complete = true;
        'markers: for (word, strip_tabs) in markers {
            let mut body = String::new();
            loop {
                let Some(&(start, line)) = lines.get(j) else {
                    complete = false;
                    break 'markers;
                };
                j += 1;
                if !line.is_empty() {
                    masks.push((start, line.chars().next().map_or(1, char::len_utf8)));
                }
                let cmp = if strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    line
                };
                if cmp == word {
                    break;
                }
                body.push_str(line);
                body.push('\n');
            }
            bodies.push(body);
        }
        if !complete {
            // Unterminated: leave it to the parser to report.
            i += 1;
            continue;
        }
        for (start, len) in masks {
            bytes[start..start + len].fill(b'#');
        }
        let (last_start, last) = lines[j - 1];
        found.push(InlineHeredoc {
            run_line: i as u32 + 1,
            bodies,
            end: last_start + last.len(),
            end_line: j as u32,
        });
        i = j;
    }
    // Only whole characters were replaced by ASCII: still UTF-8.
    (
        String::from_utf8(bytes).unwrap_or_else(|_| text.to_owned()),
        found,
    )
}

/// The `<<WORD`, `<<-WORD`, `<<'WORD'` markers of a command line (not
/// `<<<` here-strings), with whether leading tabs are stripped.
fn heredoc_markers(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(p) = rest.find("<<") {
        let after = &rest[p + 2..];
        if after.starts_with('<') {
            rest = after.trim_start_matches('<');
            continue;
        }
        let (strip, after) = match after.strip_prefix('-') {
            Some(a) => (true, a),
            None => (false, after),
        };
        let unquoted = after.trim_start_matches(['\'', '"']);
        let word: String = unquoted
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() {
            out.push((word.clone(), strip));
        }
        rest = &unquoted[word.len()..];
    }
    out
}

/// Byte offset -> 1-based line.
struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { starts }
    }

    fn line(&self, offset: usize) -> u32 {
        (self.starts.partition_point(|&s| s <= offset)) as u32
    }
}

fn convert(
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

/// Joins a shell-form command's continuation lines (escape + newline) and
/// drops comment lines inside it, as the builder does.
pub fn join_continuations(raw: &str, escape: char) -> String {
    let mut out = String::new();
    let mut first = true;
    for line in raw.split('\n') {
        let trimmed_start = line.trim_start();
        if !first && trimmed_start.starts_with('#') {
            continue;
        }
        first = false;
        let body = line.trim_end();
        match body.strip_suffix(escape) {
            Some(rest) => {
                out.push_str(rest);
            }
            None => {
                out.push_str(body);
                out.push('\n');
            }
        }
    }
    let joined = out.trim().to_owned();
    // Collapse the runs of spaces continuations leave behind.
    let mut collapsed = String::with_capacity(joined.len());
    let mut last_space = false;
    for c in joined.chars() {
        let space = c == ' ' || c == '\t';
        if !(space && last_space) {
            collapsed.push(if space { ' ' } else { c });
        }
        last_space = space;
    }
    collapsed
}

/// Splits `A=1 B="two words"` (or the legacy `NAME value`) into pairs,
/// expanding variables in the values.
fn pairs(raw: &str, vars: &BTreeMap<String, String>) -> Vec<(String, Option<String>)> {
    let raw = raw.trim();
    let words = shell_words(raw);
    if words.is_empty() {
        return Vec::new();
    }
    if !words[0].contains('=') && words.len() > 1 {
        // Legacy `ENV NAME value with spaces`.
        let name = words[0].clone();
        let value = raw[name.len()..].trim();
        return vec![(name, Some(expand(&unquote(value), vars)))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_owned(), Some(expand(&unquote(v), vars))),
            None => (w, None),
        })
        .collect()
}

fn unquote(v: &str) -> String {
    let v = v.trim();
    if v.len() >= 2
        && ((v.starts_with('"') && v.ends_with('"')) || (v.starts_with('\'') && v.ends_with('\'')))
    {
        v[1..v.len() - 1].to_owned()
    } else {
        v.to_owned()
    }
}

/// Splits on unquoted whitespace, keeping quotes in the words.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                cur.push(c);
            }
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c.is_whitespace() => {
                if !cur.is_empty() {
                    words.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(c),
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-default}` and `${VAR:+alt}` with the
/// builder's rules; unknown variables expand to nothing.
pub fn expand(s: &str, vars: &BTreeMap<String, String>) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() && chars[i + 1] == '$' {
            out.push('$');
            i += 2;
            continue;
        }
        if c != '$' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        if chars[i + 1] == '{' {
            let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') else {
                out.push(c);
                i += 1;
                continue;
            };
            let inner: String = chars[i + 2..i + 2 + close].iter().collect();
            i += close + 3;
            let (name, op) = match inner.find(":-").or_else(|| inner.find(":+")) {
                Some(p) => (&inner[..p], Some((&inner[p..p + 2], &inner[p + 2..]))),
                None => (inner.as_str(), None),
            };
            let value = vars.get(name).filter(|v| !v.is_empty());
            match (op, value) {
                (Some((":-", def)), None) => out.push_str(&expand(def, vars)),
                (Some((":+", alt)), Some(_)) => out.push_str(&expand(alt, vars)),
                (Some((":+", _)), None) => {}
                (_, Some(v)) => out.push_str(v),
                (_, None) => {}
            }
            continue;
        }
        let name: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
            .collect();
        if name.is_empty() {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1 + name.chars().count();
        if let Some(v) = vars.get(&name) {
            out.push_str(v);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_heredocs_anywhere_in_a_run() {
        let text =
            "FROM a\nRUN python3 - <<'PY' && cat <<-EOT > /x\nprint(1)\nPY\n\tline\n\tEOT\nCMD x\n";
        let df = Dockerfile::parse("Dockerfile", text).unwrap_or_else(|e| panic!("{e}"));
        let i = &df.stages[0].instructions;
        assert_eq!(i.len(), 2);
        assert_eq!((i[0].line, i[0].end_line, i[1].line), (2, 6, 7));
        assert!(
            matches!(&i[0].args, Args::Command { heredocs, .. } if heredocs == &["print(1)\n".to_owned(), "\tline\n".to_owned()])
        );
        assert_eq!(
            &df.text[i[0].span.clone()],
            "RUN python3 - <<'PY' && cat <<-EOT > /x\nprint(1)\nPY\n\tline\n\tEOT"
        );
    }

    #[test]
    fn expands_like_the_builder() {
        let vars: BTreeMap<String, String> = [
            ("A".to_owned(), "x".to_owned()),
            ("E".to_owned(), String::new()),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            expand("$A/${A}/${B:-d}/${A:+y}/${E:-z}/\\$A", &vars),
            "x/x/d/y/z/$A"
        );
    }

    #[test]
    fn joins_continuations_and_drops_inner_comments() {
        let raw = "apt-get update \\\n    # a comment\n    && apt-get install -y gcc";
        assert_eq!(
            join_continuations(raw, '\\'),
            "apt-get update && apt-get install -y gcc"
        );
        assert_eq!(join_continuations("dir `\n  c:\\x", '`'), "dir c:\\x");
    }
}
