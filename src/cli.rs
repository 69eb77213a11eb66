//! Command-line definitions (clap): the "low" arguments, plain values as
//! typed. [`crate::settings`] validates them, with the config file and the
//! environment, into the settings the commands run on; nothing else in the
//! library sees clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;
use crate::source::Platform;

/// When to colour output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorArg {
    /// Colour when writing to a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

/// Why is this container image big and slow to pull, and how to fix it.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, about, max_term_width = 100)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
    /// Colour: auto (a terminal without `NO_COLOR`), always or never.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "auto",
        value_name = "WHEN"
    )]
    pub color: ColorArg,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze an image: sizes, layers, waste, findings with fixes.
    Analyze(AnalyzeArgs),
    /// Browse an image in the terminal: layers, files, findings, Python.
    Explore(AnalyzeArgs),
    /// What pulling images costs: bytes, time, sharing, and how to cut it.
    Pull(PullArgs),
    /// Advice for a Dockerfile, ranked by bytes saved; `--write` applies the
    /// safe changes.
    Optimize(OptimizeArgs),
    /// Check an image against size budgets (exit 1 when one fails).
    Check(Box<CheckArgs>),
    /// Compare two images: layers, Python distributions, paths, findings.
    Diff(DiffArgs),
}

/// Where the image comes from and how to read it (shared by all commands).
#[derive(Debug, Args, Clone, Default)]
pub struct ImageArgs {
    /// Platform to pick from a multi-platform image: os/arch[/variant].
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<Platform>,
    /// Registry user name (the password is read with --password-stdin).
    #[arg(long, env = "LAYERSCOPE_USERNAME")]
    pub username: Option<String>,
    /// Read the registry password from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Extra CA certificate (PEM) to trust for registries; repeatable.
    #[arg(long, value_name = "FILE")]
    pub ca_cert: Vec<PathBuf>,
    /// Speak plain HTTP (or unverified TLS) to this registry; repeatable.
    #[arg(long, value_name = "HOST[:PORT]")]
    pub insecure_registry: Vec<String>,
    /// Registry credentials as skopeo takes them (USER:PASSWORD).
    #[arg(long, value_name = "USER[:PASSWORD]", conflicts_with = "username")]
    pub creds: Option<String>,
    /// A containers auth.json to read credentials from (podman, skopeo).
    #[arg(long, value_name = "FILE", env = "REGISTRY_AUTH_FILE")]
    pub authfile: Option<PathBuf>,
    /// `--tls-verify=false`: any registry may use plain HTTP or an
    /// unverified certificate (podman, skopeo).
    #[arg(long, value_name = "BOOL", require_equals = true, num_args = 0..=1, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Read only the manifest and config, never a layer (registries).
    #[arg(long)]
    pub manifest_only: bool,
    /// Directory of the layer index cache [default: $XDG_CACHE_HOME/layerscope].
    #[arg(long, value_name = "DIR", env = "LAYERSCOPE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the layer index cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Verify a local archive or layout: hash every layer blob and every
    /// diff id and check them against the manifest and config (downloads
    /// are always verified). Cached indexes made without it are rescanned.
    #[arg(long, alias = "verify-diff-ids")]
    pub verify: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How reports are written (shared by all commands).
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Format of the report: text, json, sarif, junit, markdown or html.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Where reports go, repeatable: `PATH` takes the `--format` report
    /// (`-` is standard output); `FORMAT=PATH` writes one more report, e.g.
    /// `--output sarif=layerscope.sarif`.
    #[arg(long, short, value_name = "[FORMAT=]PATH")]
    pub output: Vec<String>,
    /// Show sizes in KiB/MiB/GiB instead of kB/MB/GB.
    #[arg(long)]
    pub binary: bool,
    /// Rows per section of the text report.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Text report: show paths and `created by` in full, never shortened
    /// to the terminal's width.
    #[arg(long)]
    pub no_trunc: bool,
}

/// `layerscope analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The image: a registry reference (name:tag, docker://...), or
    /// `docker-archive:FILE`, `oci:DIR[:TAG]`, `oci-archive:FILE`,
    /// docker-daemon:NAME, or a path to an archive or layout.
    pub image: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: ImageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    /// The Dockerfile the image was built from (adds line-level advice).
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Option<PathBuf>,
    /// The build context (default: the Dockerfile's directory): its
    /// requirement, constraint and lock files say what is pinned.
    #[arg(long, value_name = "DIR", requires = "dockerfile")]
    pub context: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pull: PullFlags,
    /// JSON: every path of every finding, not a sample of the largest.
    #[arg(long)]
    pub all_paths: bool,
    /// JSON: the files each layer added, modified and removed.
    #[arg(long)]
    pub files: bool,
}

/// The pull model's flags (shared by `analyze` and `pull`).
#[derive(Debug, Args, Clone)]
pub struct PullFlags {
    /// Link speed for the pull estimate: 100Mbit/s, 1Gbit/s, 50MB/s.
    #[arg(long, default_value = "100Mbit/s", value_name = "RATE")]
    pub bandwidth: String,
    /// Layers downloaded at once (containerd and Docker default to 3).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,
    /// An image the node already has (the previous release, the base
    /// image): its layers are not downloaded; repeatable.
    #[arg(long, value_name = "IMAGE")]
    pub have: Vec<String>,
}

/// `layerscope pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// The images (same forms as `analyze`); with several, a sharing matrix.
    #[arg(required = true, num_args = 1..)]
    pub images: Vec<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: ImageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pull: PullFlags,
}

/// `layerscope optimize`.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The image built from the Dockerfile (same forms as `analyze`);
    /// without it, `--dockerfile` alone gives the structural changes with
    /// bytes unknown.
    #[arg(required_unless_present = "dockerfile")]
    pub image: Option<String>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: ImageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
    /// The Dockerfile the image was built from (without it, advice comes
    /// from the image history alone and nothing can be rewritten).
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Option<PathBuf>,
    /// Write the Dockerfile with the safe changes applied to FILE and print
    /// a unified diff on standard output (the advice goes to standard error).
    #[arg(long, value_name = "FILE", requires = "dockerfile")]
    pub write: Option<PathBuf>,
    /// Also apply review changes (they change what ships): `all`, or kinds
    /// such as `multi-stage,no-install-recommends,delete-tests,delete-bytecode`.
    #[arg(long, value_name = "all|KIND[,KIND...]")]
    pub apply: Option<String>,
    /// Go on when the Dockerfile does not line up with the image's history.
    #[arg(long)]
    pub force: bool,
    /// The build context (default: the Dockerfile's directory): its
    /// requirement, constraint and lock files say what is pinned.
    #[arg(long, value_name = "DIR", requires = "dockerfile")]
    pub context: Option<PathBuf>,
    /// The base image's reference with its digest known (`name@sha256:...`,
    /// or a reference to read it from): `--apply pin` writes `FROM` with it.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
}

/// `layerscope check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The image to check (same forms as `analyze`).
    pub image: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: ImageArgs,
    /// Budget file [default: ./layerscope.toml, else [tool.layerscope] in ./pyproject.toml].
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Total compressed bytes (pull size): 900MB, 1.2GiB, or bytes.
    #[arg(long, value_name = "SIZE")]
    pub max_compressed: Option<String>,
    /// Total uncompressed bytes.
    #[arg(long, value_name = "SIZE")]
    pub max_uncompressed: Option<String>,
    /// The largest layer, compressed.
    #[arg(long, value_name = "SIZE")]
    pub max_layer: Option<String>,
    /// Number of layers.
    #[arg(long, value_name = "N")]
    pub max_layers: Option<u64>,
    /// Shadowed bytes (deleted, replaced or rewritten by a later layer).
    #[arg(long, value_name = "SIZE")]
    pub max_shadowed: Option<String>,
    /// Minimum efficiency, final bytes / content bytes (0.95 or 95%).
    #[arg(long, value_name = "RATIO")]
    pub min_efficiency: Option<String>,
    /// Bytes allowed for a finding kind, e.g. pip-cache=0; repeatable.
    #[arg(long, value_name = "KIND=SIZE")]
    pub max_finding: Vec<String>,
    /// Bytes allowed for a Python distribution, e.g. torch=900MB; repeatable.
    #[arg(long, value_name = "NAME=SIZE")]
    pub max_distribution: Vec<String>,
    /// The image to measure growth against.
    #[arg(long, value_name = "IMAGE")]
    pub baseline: Option<String>,
    /// Growth of the total compressed bytes since the baseline.
    #[arg(long, value_name = "SIZE")]
    pub max_growth: Option<String>,
    /// Growth of any one layer (compressed, by position) since the baseline.
    #[arg(long, value_name = "SIZE")]
    pub max_layer_growth: Option<String>,
    /// Growth of any one Python distribution since the baseline.
    #[arg(long, value_name = "SIZE")]
    pub max_distribution_growth: Option<String>,
    /// Paths that count toward no waste budget (glob, e.g. '/opt/models/**'); repeatable.
    #[arg(long, value_name = "GLOB")]
    pub ignore: Vec<String>,
    /// A finding kind that counts toward no budget; repeatable.
    #[arg(long, value_name = "KIND")]
    pub ignore_kind: Vec<String>,
    /// Accept the layers this image shares with the base image IMAGE.
    #[arg(long, value_name = "IMAGE", conflicts_with = "base_layers")]
    pub base: Option<String>,
    /// Accept the first N layers (the base image's).
    #[arg(long, value_name = "N")]
    pub base_layers: Option<u32>,
    /// The Dockerfile the image was built from: findings get its line
    /// numbers (SARIF, annotations), and the layers below the final stage's
    /// first instruction are accepted as the base unless --base or
    /// --base-layers says otherwise (`--base-layers 0` accepts none).
    #[arg(long, value_name = "FILE")]
    pub dockerfile: Option<PathBuf>,
    /// The build context (default: the Dockerfile's directory): its
    /// requirement, constraint and lock files say what is pinned.
    #[arg(long, value_name = "DIR", requires = "dockerfile")]
    pub context: Option<PathBuf>,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}

/// `layerscope diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The old image.
    pub old: String,
    /// The new image.
    pub new: String,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub source: ImageArgs,
    #[command(flatten)]
    #[allow(missing_docs)]
    pub output: OutputArgs,
}
