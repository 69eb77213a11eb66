//! `layerscope check IMAGE`: budgets from the config file and the flags,
//! evaluated on the image (and a baseline), every requested report written
//! from the one run, exit 1 when a budget fails.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use crate::analyze::{self, FindingKind};
use crate::cli::CheckArgs;
use crate::diff::{Side, diff};
use crate::dockerfile::{Dockerfile, Plan, base_layer_count};
use crate::error::Error;
use crate::pipeline;
use crate::policy::{self, Growth, Measures, Policy, config, normalize_distribution, size};
use crate::report::check::{self, CheckReport};
use crate::report::units::Units;
use crate::report::{Format, junit, markdown, sarif};
use crate::source;

/// A report `--output FORMAT=PATH` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// The analysis JSON with the `check` object.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// JUnit XML.
    Junit,
    /// Markdown (pull-request comment).
    Markdown,
    /// The terminal report.
    Text,
}

/// Parses `FORMAT=PATH`.
pub fn parse_output(spec: &str) -> Result<(OutputFormat, PathBuf), Error> {
    let usage = || {
        Error::Usage(format!(
            "--output `{spec}`: expected FORMAT=PATH with FORMAT one of json, sarif, junit, markdown, text"
        ))
    };
    let (format, path) = spec.split_once('=').ok_or_else(usage)?;
    let format = match format.trim().to_ascii_lowercase().as_str() {
        "json" => OutputFormat::Json,
        "sarif" => OutputFormat::Sarif,
        "junit" | "xml" => OutputFormat::Junit,
        "markdown" | "md" => OutputFormat::Markdown,
        "text" | "txt" => OutputFormat::Text,
        _ => return Err(usage()),
    };
    if path.is_empty() {
        return Err(usage());
    }
    Ok((format, PathBuf::from(path)))
}

fn flag_size(flag: &str, value: &Option<String>) -> Result<Option<u64>, Error> {
    value
        .as_deref()
        .map(|v| size::parse(v).map_err(|e| Error::Usage(format!("--{flag}: {e}"))))
        .transpose()
}

fn flag_pair<'a>(flag: &str, spec: &'a str) -> Result<(&'a str, u64), Error> {
    let (key, value) = spec.split_once('=').ok_or_else(|| {
        Error::Usage(format!(
            "--{flag} `{spec}`: expected NAME=SIZE, e.g. pip-cache=0"
        ))
    })?;
    let bytes = size::parse(value).map_err(|e| Error::Usage(format!("--{flag} `{spec}`: {e}")))?;
    Ok((key.trim(), bytes))
}

fn kind(flag: &str, id: &str) -> Result<FindingKind, Error> {
    FindingKind::from_id(id.trim())
        .ok_or_else(|| Error::Usage(format!("--{flag}: unknown finding kind `{id}`")))
}

/// The budgets the flags set.
pub fn flag_policy(args: &CheckArgs) -> Result<Policy, Error> {
    let min_efficiency = match args.min_efficiency.as_deref() {
        None => None,
        Some(v) => {
            let bad = || {
                Error::Usage(format!(
                    "--min-efficiency `{v}`: expected a ratio such as 0.95 or 95%"
                ))
            };
            let r = match v.trim().strip_suffix('%') {
                Some(p) => p.trim().parse::<f64>().map_err(|_| bad())? / 100.0,
                None => v.trim().parse::<f64>().map_err(|_| bad())?,
            };
            if !(0.0..=1.0).contains(&r) {
                return Err(bad());
            }
            Some(r)
        }
    };
    let mut p = Policy {
        max_compressed: flag_size("max-compressed", &args.max_compressed)?,
        max_uncompressed: flag_size("max-uncompressed", &args.max_uncompressed)?,
        max_layer: flag_size("max-layer", &args.max_layer)?,
        max_layers: args.max_layers,
        max_shadowed: flag_size("max-shadowed", &args.max_shadowed)?,
        min_efficiency,
        growth: Growth {
            compressed: flag_size("max-growth", &args.max_growth)?,
            layer: flag_size("max-layer-growth", &args.max_layer_growth)?,
            distribution: flag_size("max-distribution-growth", &args.max_distribution_growth)?,
        },
        baseline: args.baseline.clone(),
        ignore_paths: args.ignore.clone(),
        base_layers: args.base_layers,
        base_image: args.base.clone(),
        ..Policy::default()
    };
    for spec in &args.max_finding {
        let (k, bytes) = flag_pair("max-finding", spec)?;
        p.findings.insert(kind("max-finding", k)?, bytes);
    }
    for spec in &args.max_distribution {
        let (name, bytes) = flag_pair("max-distribution", spec)?;
        p.distributions.insert(normalize_distribution(name), bytes);
    }
    for k in &args.ignore_kind {
        p.ignore_kinds.push(kind("ignore-kind", k)?);
    }
    for g in &p.ignore_paths {
        policy::budgets::glob(g).map_err(|e| Error::Usage(format!("--ignore: {e}")))?;
    }
    Ok(p)
}

/// How many bottom layers of `image` the base image `base` also has (by
/// digest or diff id, position by position). Reads the base's manifest and
/// config only.
fn shared_prefix(
    image: &crate::model::Image,
    base: &str,
    settings: &pipeline::Settings,
) -> Result<u32, Error> {
    let base = source::open(base, &settings.source)?;
    let base_info = base.info();
    let n = image
        .layers
        .iter()
        .zip(&base_info.layers)
        .take_while(|(l, b)| {
            l.digest == b.digest || b.diff_id.as_ref().is_some_and(|d| *d == l.diff_id)
        })
        .count();
    Ok(n as u32)
}

/// Runs the check and returns 0 (all budgets hold) or 1 (one failed).
pub fn run(args: CheckArgs) -> Result<i32, Error> {
    let outputs = args
        .output
        .iter()
        .map(|s| parse_output(s))
        .collect::<Result<Vec<_>, _>>()?;
    let flags = flag_policy(&args)?;
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let file =
        config::discover(args.config.as_deref(), &cwd).map_err(|e| Error::Config(e.to_string()))?;
    let policy = match file {
        Some((_, from_file)) => from_file.merge(flags),
        None => flags,
    };
    // A bad Dockerfile is a config error: report it before reading the image.
    let dockerfile = args
        .dockerfile
        .as_deref()
        .map(Dockerfile::read)
        .transpose()
        .map_err(|e| Error::Config(e.to_string()))?;
    let mut settings = super::settings(&args.source)?;
    let (image, stats) = pipeline::load(&args.image, &settings)?;
    settings.analyze.treemap = args.format == Format::Html;
    let mut analysis = analyze::run(&image, &settings.analyze, stats);
    if let Some(d) = &dockerfile {
        analysis.findings =
            Plan::new(&image, &analysis.findings, Some(d)).annotate(&analysis.findings);
    }
    let base_layers = match (&policy.base_image, policy.base_layers, &dockerfile) {
        (_, Some(n), _) => n.min(image.layers.len() as u32),
        (Some(base), None, _) => shared_prefix(&image, base, &settings)?,
        // With a Dockerfile: the layers below the final stage's first instruction.
        (None, None, Some(d)) => base_layer_count(&image.info, Some(d)) as u32,
        (None, None, None) => 0,
    };
    let measures = Measures::new(&image, &analysis, &policy, base_layers).map_err(Error::Config)?;
    let baseline = match &policy.baseline {
        Some(reference) => {
            let (old_image, old_stats) = pipeline::load(reference, &settings)?;
            let old_analysis = analyze::run(&old_image, &settings.analyze, old_stats);
            let old_measures =
                Measures::new(&old_image, &old_analysis, &policy, 0).map_err(Error::Config)?;
            let growth = diff(
                Side {
                    image: &old_image,
                    analysis: &old_analysis,
                },
                Side {
                    image: &image,
                    analysis: &analysis,
                },
                10,
            );
            Some((old_measures, growth))
        }
        None => {
            if policy.growth != Growth::default() {
                return Err(Error::Usage("growth budgets need a baseline: pass --baseline IMAGE or set `baseline` in the config".into()));
            }
            None
        }
    };
    let results = policy::evaluate(&policy, &measures, baseline.as_ref().map(|(m, _)| m));
    let dockerfile = args
        .dockerfile
        .as_ref()
        .map(|p| p.to_string_lossy().into_owned());
    let report = CheckReport {
        analysis: &analysis,
        results: &results,
        base_layers,
        growth: baseline.as_ref().map(|(_, d)| d),
        dockerfile: dockerfile.as_deref(),
    };
    let units = if args.binary {
        Units::Binary
    } else {
        Units::Si
    };
    let render = |format: OutputFormat| match format {
        OutputFormat::Json => check::render_json(&report),
        OutputFormat::Sarif => sarif::render(&report, units),
        OutputFormat::Junit => junit::render(&report, units),
        OutputFormat::Markdown => markdown::render(&report, units),
        OutputFormat::Text => check::render_text(&report, units),
    };
    for (format, path) in &outputs {
        super::emit(&render(*format), Some(path))?;
    }
    let mut stdout = match args.format {
        Format::Json => check::render_json(&report),
        Format::Text => check::render_text(&report, units),
        Format::Html => crate::report::html::render(&crate::report::html::Page {
            analysis: Some(report.analysis),
            treemap: report.analysis.treemap.as_ref(),
            check: serde_json::from_str(&check::render_json(&report)).ok(),
            diff: None,
        }),
    };
    if std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true") {
        if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
            append(Path::new(&summary), &markdown::render(&report, units))?;
        }
        let annotations = check::github_annotations(&report, units);
        // The runner reads workflow commands from both streams; keep JSON on
        // stdout parseable.
        match args.format {
            Format::Text => stdout.push_str(&annotations),
            Format::Json | Format::Html => {
                let _ = std::io::stderr().write_all(annotations.as_bytes());
            }
        }
    }
    super::emit(&stdout, None)?;
    Ok(if report.passed() { 0 } else { 1 })
}

fn append(path: &Path, text: &str) -> Result<(), Error> {
    let wrap = |source| Error::Output {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(wrap)?;
    f.write_all(text.as_bytes()).map_err(wrap)
}
