//! Settings, resolved once, low to high (as ripgrep and uv do): the flags
//! ([`crate::cli`], plain values), the config file (`layerscope.toml` or
//! `[tool.layerscope]` in `pyproject.toml`) and the environment ([`Env`])
//! become one [`Command`] with everything validated: images to read, the
//! [`pipeline::Settings`] that build the pipeline, the reports to write.
//! Commands run on these and never see clap types.
//!
//! Precedence: a flag beats the environment, which beats the config file,
//! which beats the default.

mod check;
mod image;
mod output;
mod pull;

use std::path::PathBuf;

use crate::cli::{self, Cli};
use crate::error::Error;
use crate::pipeline;
use crate::policy::Policy;
use crate::report::{ReportKind, Sink};

pub use check::repo_relative;
pub use output::{Output, parse_output};

/// The environment, read once (tests build one by hand).
#[derive(Clone, Debug, Default)]
pub struct Env {
    /// The working directory (budget file discovery, repository paths).
    pub cwd: PathBuf,
    /// `NO_COLOR` is set and not empty.
    pub no_color: bool,
    /// Standard output is a terminal.
    pub stdout_tty: bool,
    /// Standard error is a terminal.
    pub stderr_tty: bool,
    /// `COLUMNS`.
    pub columns: Option<u16>,
    /// `XDG_CACHE_HOME` (when not empty).
    pub xdg_cache_home: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `GITHUB_ACTIONS=true`.
    pub github_actions: bool,
    /// `GITHUB_STEP_SUMMARY` (when not empty).
    pub github_step_summary: Option<PathBuf>,
}

impl Env {
    /// Reads the process environment.
    pub fn capture() -> Env {
        use std::io::IsTerminal;
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        Env {
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
            no_color: var("NO_COLOR").is_some(),
            stdout_tty: std::io::stdout().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
            columns: std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()),
            xdg_cache_home: var("XDG_CACHE_HOME").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            github_actions: std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true"),
            github_step_summary: var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    /// `$XDG_CACHE_HOME/layerscope`, or `~/.cache/layerscope`.
    pub fn default_cache_dir(&self) -> Option<PathBuf> {
        let base = self
            .xdg_cache_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".cache")))?;
        Some(base.join("layerscope"))
    }
}

/// A command with its settings resolved.
#[derive(Debug)]
pub enum Command {
    /// `analyze`.
    Analyze(Analyze),
    /// `explore`: the analysis, browsed in the terminal.
    Explore(Analyze),
    /// `pull`.
    Pull(Pull),
    /// `optimize`.
    Optimize(Optimize),
    /// `check`.
    Check(Box<Check>),
    /// `diff`.
    Diff(Diff),
}

/// `layerscope analyze`.
#[derive(Debug)]
pub struct Analyze {
    /// The image.
    pub image: String,
    /// How to read and analyse it.
    pub pipeline: pipeline::Settings,
    /// The reports.
    pub output: Output,
    /// The Dockerfile path relative to the repository (SARIF).
    pub dockerfile_uri: Option<String>,
}

/// `layerscope pull`.
#[derive(Debug)]
pub struct Pull {
    /// The images, in the order given.
    pub images: Vec<String>,
    /// How to read them (`--have` images included).
    pub pipeline: pipeline::Settings,
    /// The reports.
    pub output: Output,
}

/// `layerscope optimize`.
#[derive(Debug)]
pub struct Optimize {
    /// The image (`None`: `--dockerfile` alone, structural changes).
    pub image: Option<String>,
    /// `--apply`: the review changes the rewrite also makes.
    pub apply: crate::dockerfile::Selection,
    /// `--force`: go on when the Dockerfile does not line up with the
    /// image's history.
    pub force: bool,
    /// How to read it (the Dockerfile included).
    pub pipeline: pipeline::Settings,
    /// The reports.
    pub output: Output,
    /// `--write FILE`: where the rewritten Dockerfile goes.
    pub write: Option<PathBuf>,
    /// `--base REF`: the base image, for `--apply pin`'s digest.
    pub base: Option<String>,
}

/// `layerscope check`.
#[derive(Debug)]
pub struct Check {
    /// The image.
    pub image: String,
    /// How to read it (and the baseline and base).
    pub pipeline: pipeline::Settings,
    /// The budgets: the config file with the flags laid over it.
    pub policy: Policy,
    /// The reports.
    pub output: Output,
    /// The Dockerfile path relative to the repository (SARIF, annotations).
    pub dockerfile_uri: Option<String>,
    /// Running in GitHub Actions: where the step summary goes (when set),
    /// and workflow-command annotations on.
    pub github: Option<Github>,
}

/// GitHub Actions integration.
#[derive(Clone, Debug)]
pub struct Github {
    /// `GITHUB_STEP_SUMMARY`.
    pub step_summary: Option<PathBuf>,
}

/// `layerscope diff`.
#[derive(Debug)]
pub struct Diff {
    /// The old image.
    pub old: String,
    /// The new image.
    pub new: String,
    /// How to read them.
    pub pipeline: pipeline::Settings,
    /// The reports.
    pub output: Output,
}

/// `analyze` (and `explore`, which takes the same flags).
fn analyze(a: cli::AnalyzeArgs, color: bool, env: &Env) -> Result<Analyze, Error> {
    let output = Output::resolve(&a.output, ReportKind::Analysis, color, env)?;
    let mut pipeline = image::resolve(&a.source, env)?;
    pipeline.analyze.top = a.output.top;
    pipeline.analyze.pull = pull::resolve(&a.pull)?;
    pipeline.analyze.all_paths = a.all_paths;
    pipeline.analyze.layer_files = a.files;
    pipeline.analyze.treemap = output.wants(crate::report::Format::Html);
    pipeline.have = a.pull.have.clone();
    pipeline.dockerfile = image::dockerfile(a.dockerfile.as_deref())?;
    pipeline.context = a.context.clone();
    Ok(Analyze {
        image: a.image,
        pipeline,
        output,
        dockerfile_uri: a.dockerfile.as_deref().map(|p| repo_relative(p, &env.cwd)),
    })
}

/// Resolves the command line against the environment (and, for `check`,
/// the budget file). Everything a user can get wrong is reported here,
/// before any image is read.
pub fn resolve(cli: Cli, env: &Env) -> Result<Command, Error> {
    let color = output::color(cli.color, env);
    Ok(match cli.command {
        cli::Command::Analyze(a) => Command::Analyze(analyze(a, color, env)?),
        cli::Command::Explore(a) => Command::Explore(analyze(a, color, env)?),
        cli::Command::Pull(a) => {
            let output = Output::resolve(&a.output, ReportKind::Pull, color, env)?;
            let mut pipeline = image::resolve(&a.source, env)?;
            pipeline.analyze.pull = pull::resolve(&a.pull)?;
            pipeline.have = a.pull.have.clone();
            Command::Pull(Pull {
                images: a.images,
                pipeline,
                output,
            })
        }
        cli::Command::Optimize(a) => {
            let output = Output::resolve(&a.output, ReportKind::Optimize, color, env)?;
            let mut pipeline = image::resolve(&a.source, env)?;
            pipeline.dockerfile = image::dockerfile(a.dockerfile.as_deref())?;
            pipeline.context = a.context.clone();
            pipeline.advise = true;
            let apply = match &a.apply {
                Some(v) => crate::dockerfile::Selection::parse(v).map_err(Error::usage)?,
                None => crate::dockerfile::Selection::Safe,
            };
            Command::Optimize(Optimize {
                image: a.image,
                apply,
                force: a.force,
                pipeline,
                output,
                write: a.write,
                base: a.base,
            })
        }
        cli::Command::Check(a) => {
            let output = Output::resolve(&a.output, ReportKind::Check, color, env)?;
            let policy = check::policy(&a, env)?;
            let mut pipeline = image::resolve(&a.source, env)?;
            pipeline.analyze.top = a.output.top;
            pipeline.analyze.treemap = output.wants(crate::report::Format::Html);
            pipeline.dockerfile = image::dockerfile(a.dockerfile.as_deref())?;
            pipeline.context = a.context.clone();
            let dockerfile_uri = a.dockerfile.as_deref().map(|p| repo_relative(p, &env.cwd));
            Command::Check(Box::new(Check {
                image: a.image,
                pipeline,
                policy,
                output,
                dockerfile_uri,
                github: env.github_actions.then(|| Github {
                    step_summary: env.github_step_summary.clone(),
                }),
            }))
        }
        cli::Command::Diff(a) => {
            let output = Output::resolve(&a.output, ReportKind::Diff, color, env)?;
            let mut pipeline = image::resolve(&a.source, env)?;
            pipeline.analyze.top = a.output.top;
            Command::Diff(Diff {
                old: a.old,
                new: a.new,
                pipeline,
                output,
            })
        }
    })
}

impl Output {
    /// Whether the text report goes to standard output (where GitHub
    /// annotations may follow it).
    pub fn text_on_stdout(&self) -> bool {
        self.sinks.iter().any(|s| {
            s.format == crate::report::Format::Text && s.dest == crate::report::Dest::Stdout
        })
    }

    /// The sinks.
    pub fn sinks(&self) -> &[Sink] {
        &self.sinks
    }
}
