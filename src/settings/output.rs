//! The output convention every command shares: `--format`, and the
//! repeatable `-o/--output [FORMAT=]PATH` (`-` is standard output), plus
//! units, rows, colour and width.
//!
//! - `--output PATH` sends the `--format` report to PATH instead of
//!   standard output.
//! - `--output FORMAT=PATH` writes one more report; with `FORMAT=-` that
//!   report takes standard output instead of the `--format` one.
//! - Without a bare PATH, the `--format` report goes to standard output
//!   (unless a `FORMAT=-` took it). Two reports never share standard output.

use crate::cli::{ColorArg, OutputArgs};
use crate::error::Error;
use crate::report::{Dest, Format, RenderOptions, ReportKind, Sink, Units};

use super::Env;

/// Where and how reports are written.
#[derive(Clone, Debug)]
pub struct Output {
    /// Every report to write, in order.
    pub sinks: Vec<Sink>,
    /// How they look.
    pub options: RenderOptions,
}

impl Output {
    /// Whether any report is written as `format`.
    pub fn wants(&self, format: crate::report::Format) -> bool {
        self.sinks.iter().any(|s| s.format == format)
    }
}

/// One `--output` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutputSpec {
    /// `PATH`: the `--format` report goes there.
    Path(Dest),
    /// `FORMAT=PATH`: one more report.
    Extra(Sink),
}

/// Parses one `--output` value. A prefix before `=` that is a word (no
/// `/` or `.`) must be a known format: `pdf=x.pdf` is an error, not a file
/// named `pdf=x.pdf` (write `./pdf=x.pdf` for that).
pub fn parse_output(spec: &str) -> Result<OutputSpec, Error> {
    let known = || {
        Format::ALL
            .iter()
            .map(|f| f.name())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some((word, path)) = spec.split_once('=')
        && !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        let Some(format) = Format::from_name(word) else {
            return Err(Error::Flag {
                flag: "output",
                value: spec.to_owned(),
                reason: format!("unknown format `{word}`; formats: {}", known()),
                hint: Some(format!(
                    "a file whose name has `=` in it is written `./{spec}`"
                )),
            });
        };
        if path.is_empty() {
            return Err(Error::Flag {
                flag: "output",
                value: spec.to_owned(),
                reason: "no path after `=`".into(),
                hint: Some(format!(
                    "`--output {word}=FILE`, or `{word}=-` for standard output"
                )),
            });
        }
        return Ok(OutputSpec::Extra(Sink {
            format,
            dest: Dest::parse(path),
        }));
    }
    if spec.is_empty() {
        return Err(Error::flag("output", spec, "expected PATH or FORMAT=PATH"));
    }
    Ok(OutputSpec::Path(Dest::parse(spec)))
}

/// Whether the terminal text may be coloured.
pub fn color(arg: ColorArg, env: &Env) -> bool {
    match arg {
        ColorArg::Always => true,
        ColorArg::Never => false,
        ColorArg::Auto => env.stdout_tty && !env.no_color,
    }
}

/// The text report's width: the terminal's own (asked with an ioctl),
/// then `$COLUMNS` (also when not a terminal: `COLUMNS=80 layerscope ... |
/// less`), then 120; never under 40.
fn width(to_terminal: bool, env: &Env) -> u16 {
    let real = if to_terminal {
        crate::report::fit::terminal_width()
    } else {
        None
    };
    real.or(env.columns).unwrap_or(120).max(40)
}

impl Output {
    /// Resolves the output flags of a command whose report is `kind`.
    pub fn resolve(
        args: &OutputArgs,
        kind: ReportKind,
        color: bool,
        env: &Env,
    ) -> Result<Output, Error> {
        let mut main: Vec<Dest> = Vec::new();
        let mut extra: Vec<Sink> = Vec::new();
        for spec in &args.output {
            match parse_output(spec)? {
                OutputSpec::Path(dest) => main.push(dest),
                OutputSpec::Extra(sink) => extra.push(sink),
            }
        }
        if main.is_empty() && !extra.iter().any(|s| s.dest == Dest::Stdout) {
            main.push(Dest::Stdout);
        }
        let mut sinks: Vec<Sink> = main
            .into_iter()
            .map(|dest| Sink {
                format: args.format,
                dest,
            })
            .collect();
        sinks.extend(extra);
        for s in &sinks {
            kind.check(s.format)?;
        }
        if sinks.iter().filter(|s| s.dest == Dest::Stdout).count() > 1 {
            return Err(Error::usage_hint(
                "two reports cannot both go to standard output",
                "send one of them to a file: `--output FORMAT=FILE`",
            ));
        }
        let to_terminal = sinks
            .iter()
            .any(|s| s.dest == Dest::Stdout && s.format == Format::Text)
            && env.stdout_tty;
        Ok(Output {
            sinks,
            options: RenderOptions {
                units: if args.binary {
                    Units::Binary
                } else {
                    Units::Si
                },
                top: args.top,
                width: Some(width(to_terminal, env)),
                color,
                no_trunc: args.no_trunc,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(format: Format, output: &[&str]) -> OutputArgs {
        OutputArgs {
            format,
            output: output.iter().map(|s| (*s).to_owned()).collect(),
            binary: false,
            top: 10,
            no_trunc: false,
        }
    }

    fn sinks(format: Format, output: &[&str]) -> Result<Vec<Sink>, Error> {
        Output::resolve(
            &args(format, output),
            ReportKind::Check,
            false,
            &Env::default(),
        )
        .map(|o| o.sinks)
    }

    fn sink(format: Format, dest: &str) -> Sink {
        Sink {
            format,
            dest: Dest::parse(dest),
        }
    }

    #[test]
    fn one_convention() {
        assert_eq!(
            sinks(Format::Text, &[]).ok(),
            Some(vec![sink(Format::Text, "-")])
        );
        // `-o FILE`: the --format report goes to the file, nothing to stdout.
        assert_eq!(
            sinks(Format::Json, &["x.json"]).ok(),
            Some(vec![sink(Format::Json, "x.json")])
        );
        // `FORMAT=PATH` adds a report; the main one stays on stdout.
        assert_eq!(
            sinks(Format::Text, &["json=x.json"]).ok(),
            Some(vec![sink(Format::Text, "-"), sink(Format::Json, "x.json")])
        );
        // `FORMAT=-` takes stdout.
        assert_eq!(
            sinks(Format::Text, &["json=-", "sarif=r.sarif"]).ok(),
            Some(vec![
                sink(Format::Json, "-"),
                sink(Format::Sarif, "r.sarif")
            ])
        );
        assert!(sinks(Format::Text, &["-", "json=-"]).is_err());
        assert!(sinks(Format::Text, &["pdf=x.pdf"]).is_err());
        assert_eq!(
            sinks(Format::Text, &["./pdf=x.pdf"]).ok(),
            Some(vec![sink(Format::Text, "./pdf=x.pdf")])
        );
        // Every command but pull and optimize has an HTML report.
        assert!(sinks(Format::Html, &[]).is_ok());
    }

    #[test]
    fn formats_per_command() {
        let r = Output::resolve(
            &args(Format::Junit, &[]),
            ReportKind::Diff,
            false,
            &Env::default(),
        );
        let e = r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            e,
            "`diff` has no junit report; it writes: text, json, markdown, html"
        );
    }
}
