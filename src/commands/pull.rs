//! `layerscope pull IMAGE [IMAGE...]`: what pulling each image costs, with
//! `--have` images already on the node, and which layers the images share.

use crate::analyze::pull::{self, PULL_SCHEMA, PullImage, PullOptions, PullOutput};
use crate::cli::{PullArgs, PullFlags};
use crate::error::Error;
use crate::pipeline;
use crate::report::{Format, text};
use crate::source::{self, SourceOptions};

/// Resolves the pull flags: parses the bandwidth and reads the manifests of
/// the `--have` images (never their layers).
pub fn options(flags: &PullFlags, source: &SourceOptions) -> Result<PullOptions, Error> {
    let bandwidth = pull::parse_bandwidth(&flags.bandwidth)
        .map_err(|e| Error::Usage(format!("--bandwidth: {e}")))?;
    let mut options = PullOptions {
        bandwidth_bits_per_second: bandwidth,
        concurrency: flags.concurrency.max(1),
        ..Default::default()
    };
    let mut manifest_only = source.clone();
    manifest_only.registry.manifest_only = true;
    manifest_only.registry.progress = false;
    for have in &flags.have {
        let opened = source::open(have, &manifest_only)?;
        options.add_have(opened.info());
    }
    Ok(options)
}

/// Reports the pull of every image given.
pub fn run(args: PullArgs) -> Result<i32, Error> {
    let settings = super::settings(&args.source)?;
    let options = options(&args.pull, &settings.source)?;
    let mut images = Vec::with_capacity(args.images.len());
    let mut layers = Vec::with_capacity(args.images.len());
    for reference in &args.images {
        let (info, report, findings) = if args.source.manifest_only {
            let opened = source::open(reference, &settings.source)?;
            let info = opened.info().clone();
            let report = pull::report_from(&info, None, &options);
            (info, report, Vec::new())
        } else {
            let (image, _) = pipeline::load(reference, &settings)?;
            let report = pull::report(&image, &options);
            let mut findings = pull::findings(&image, &report, &options);
            findings.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.kind.cmp(&b.kind)));
            (image.info, report, findings)
        };
        layers.push((
            reference.clone(),
            report
                .layers
                .iter()
                .map(|l| (l.digest.clone(), l.compressed_bytes))
                .collect(),
        ));
        images.push(PullImage {
            reference: reference.clone(),
            manifest_digest: info.manifest_digest,
            pull: report,
            findings,
        });
    }
    let sharing = (layers.len() > 1).then(|| pull::sharing(&layers));
    let output = PullOutput {
        schema: PULL_SCHEMA.to_owned(),
        images,
        sharing,
    };
    let rendered = match args.output.format {
        Format::Html => {
            return Err(Error::Usage(
                "`pull` has no html report; use --format text or json".into(),
            ));
        }
        Format::Json => {
            let mut s = serde_json::to_string_pretty(&output)
                .unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            s.push('\n');
            s
        }
        Format::Text => text::render_pull(&output, &super::text_options(&args.output)),
    };
    super::emit(&rendered, args.output.output.as_deref())?;
    Ok(0)
}
