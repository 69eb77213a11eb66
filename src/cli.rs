//! Command-line definitions (clap). Commands turn these plain values into
//! settings; nothing else in the library sees clap types.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::report::Format;
use crate::source::Platform;

/// Why is this container image big and slow to pull, and how to fix it.
#[derive(Debug, Parser)]
#[command(name = "layerscope", version, about, max_term_width = 100)]
pub struct Cli {
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyze an image: sizes, layers, waste, findings with fixes.
    Analyze(AnalyzeArgs),
    /// What pulling images costs: bytes, time, sharing, and how to cut it.
    Pull(PullArgs),
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
    /// Read only the manifest and config, never a layer (registries).
    #[arg(long)]
    pub manifest_only: bool,
    /// Directory of the layer index cache [default: $XDG_CACHE_HOME/layerscope].
    #[arg(long, value_name = "DIR", env = "LAYERSCOPE_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Neither read nor write the layer index cache.
    #[arg(long)]
    pub no_cache: bool,
    /// No progress bars.
    #[arg(long, short)]
    pub quiet: bool,
}

/// How reports are written.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Show sizes in KiB/MiB/GiB instead of kB/MB/GB.
    #[arg(long)]
    pub binary: bool,
    /// Rows per section of the text report.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// `layerscope analyze`.
#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The image: a registry reference (name:tag, docker://...), or
    /// docker-archive:FILE, oci:DIR[:TAG], oci-archive:FILE,
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
    #[command(flatten)]
    #[allow(missing_docs)]
    pub pull: PullFlags,
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
