//! How to read images: the source flags (platform, credentials, TLS,
//! manifest-only), the layer cache and verification, progress bars, and
//! the Dockerfile, resolved into [`pipeline::Settings`].

use std::io::Read as _;
use std::path::Path;

use crate::cli::ImageArgs;
use crate::dockerfile::Dockerfile;
use crate::error::Error;
use crate::pipeline::{self, ScanOptions};
use crate::scan::Verify;
use crate::source::{RegistryOptions, SourceOptions};

use super::Env;

/// Resolves the image flags. `--password-stdin` reads standard input here,
/// once.
pub fn resolve(args: &ImageArgs, env: &Env) -> Result<pipeline::Settings, Error> {
    let password = if args.password_stdin {
        if args.username.is_none() {
            return Err(Error::usage_hint(
                "--password-stdin needs --username",
                "pass `--username NAME` (or set LAYERSCOPE_USERNAME)",
            ));
        }
        let mut password = String::new();
        std::io::stdin()
            .read_to_string(&mut password)
            .map_err(|e| Error::usage(format!("reading the password from standard input: {e}")))?;
        Some(password.trim_end_matches(['\n', '\r']).to_owned())
    } else {
        None
    };
    let progress = !args.quiet && env.stderr_tty;
    Ok(pipeline::Settings {
        source: SourceOptions {
            platform: args.platform.clone(),
            registry: RegistryOptions {
                username: args.username.clone(),
                password,
                ca_certs: args.ca_cert.clone(),
                insecure_registries: args.insecure_registry.clone(),
            },
        },
        scan: ScanOptions {
            cache_dir: if args.no_cache {
                None
            } else {
                args.cache_dir.clone().or_else(|| env.default_cache_dir())
            },
            progress,
            verify: if args.verify_diff_ids {
                Verify::DiffIds
            } else {
                Verify::BlobDigest
            },
        },
        manifest_only: args.manifest_only,
        ..Default::default()
    })
}

/// Reads and parses `--dockerfile`: a bad Dockerfile is a usage error,
/// reported before any image is read.
pub fn dockerfile(path: Option<&Path>) -> Result<Option<Dockerfile>, Error> {
    Ok(path.map(Dockerfile::read).transpose()?)
}
