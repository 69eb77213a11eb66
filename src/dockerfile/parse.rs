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
use super::convert::{LineIndex, convert};
use super::heredoc::mask_inline_heredocs;
use super::words::pairs;
pub use super::words::{expand, join_continuations};

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
}
