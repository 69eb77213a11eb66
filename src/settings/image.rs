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

/// `--creds USER:PASSWORD` (skopeo), or `--username` with
/// `--password-stdin`; standard input is read here, once.
fn credentials(args: &ImageArgs) -> Result<(Option<String>, Option<String>), Error> {
    if let Some(creds) = &args.creds {
        return match creds.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                Ok((Some(user.to_owned()), Some(password.to_owned())))
            }
            None if args.password_stdin && !creds.is_empty() => {
                Ok((Some(creds.clone()), Some(read_password()?)))
            }
            _ => Err(Error::usage_hint(
                "--creds takes USER:PASSWORD",
                "or `--creds USER --password-stdin` to read the password from standard input",
            )),
        };
    }
    if !args.password_stdin {
        return Ok((args.username.clone(), None));
    }
    if args.username.is_none() {
        return Err(Error::usage_hint(
            "--password-stdin needs --username",
            "pass `--username NAME` (or set LAYERSCOPE_USERNAME)",
        ));
    }
    Ok((args.username.clone(), Some(read_password()?)))
}

fn read_password() -> Result<String, Error> {
    let mut password = String::new();
    std::io::stdin()
        .read_to_string(&mut password)
        .map_err(|e| Error::usage(format!("reading the password from standard input: {e}")))?;
    Ok(password.trim_end_matches(['\n', '\r']).to_owned())
}

/// Resolves the image flags. `--password-stdin` reads standard input here,
/// once.
pub fn resolve(args: &ImageArgs, env: &Env) -> Result<pipeline::Settings, Error> {
    let (username, password) = credentials(args)?;
    let progress = !args.quiet && env.stderr_tty;
    Ok(pipeline::Settings {
        source: SourceOptions {
            platform: args.platform.clone(),
            registry: RegistryOptions {
                username,
                password,
                authfile: args.authfile.clone(),
                tls_verify_disabled: args.tls_verify == Some(false),
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
            verify: if args.verify {
                Verify::DiffIds
            } else {
                Verify::Trust
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
