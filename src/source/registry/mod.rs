//! Registries (`docker://REF`, bare `name:tag`) through `oci-client`.
//!
//! The source owns one tokio runtime; tokio and oci-client stay inside this
//! module. Opening fetches the manifest once (resolving an index with our
//! own variant-aware platform choice), verifies its digest, and fetches the
//! config. Each layer is streamed: a download task feeds a bounded channel
//! that the scanner reads as a plain `Read` (see [`stream`]).
//!
//! Files: [`reference`](mod@reference) (names, loopback, insecure registries), [`auth`]
//! (credentials), [`retry`] (backoff on temporary failures), [`blobs`]
//! (layer blob requests with reqwest, honouring `Retry-After`), [`stream`]
//! (blob -> channel -> `Read`), [`token`] (identity tokens exchanged for
//! access tokens).

pub mod auth;
pub mod blobs;
pub mod reference;
pub mod retry;
pub mod stream;
pub mod token;

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};

use super::config::{ImageConfig, ManifestOrIndex};
use super::{ImageInfo, ImageSource, Platform, SourceError, SourceOptions};
use crate::digest::Digest;
use retry::Policy;

/// Manifest media types we accept.
const ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Nested indexes followed at most.
const MAX_DEPTH: usize = 4;

/// An image in a registry.
pub struct RegistrySource {
    info: ImageInfo,
    blobs: Arc<blobs::BlobClient>,
    policy: Policy,
    runtime: tokio::runtime::Runtime,
}

/// Opens an image in a registry: fetches and verifies its manifest and
/// config; layers are downloaded only when opened.
pub fn open(name: &str, options: &SourceOptions) -> Result<Box<dyn ImageSource>, SourceError> {
    Ok(Box::new(RegistrySource::open(name, options)?))
}

impl RegistrySource {
    /// See [`open`].
    pub fn open(name: &str, options: &SourceOptions) -> Result<RegistrySource, SourceError> {
        let reference = reference::parse(name)?;
        let shown = reference.whole();
        let registry = reference.resolve_registry().to_owned();
        let credentials = auth::resolve(reference.registry(), &options.registry)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("layerscope-registry")
            .enable_all()
            .build()
            .map_err(|e| {
                SourceError::Remote(format!("`{shown}`: cannot start the network runtime: {e}"))
            })?;
        let policy = Policy::default();
        let insecure = options.registry.tls_verify_disabled
            || reference::is_insecure(&registry, &options.registry.insecure_registries)
            || reference::is_insecure(reference.registry(), &options.registry.insecure_registries);
        let loopback = reference::is_loopback(&registry);
        let certs = read_certs(&options.registry.ca_certs)?;
        let lenience = Lenience {
            allow_http: loopback || insecure,
            skip_verify: insecure,
        };
        let (auth, refresher, known) = match credentials {
            auth::Credentials::Auth(auth) => (auth, None, None),
            auth::Credentials::IdentityToken(refresh_token) => {
                let exchanged = runtime.block_on(token::exchange(
                    &registry,
                    reference.repository(),
                    &refresh_token,
                    &certs,
                    lenience.skip_verify,
                    lenience.allow_http,
                ))?;
                (exchanged.auth, exchanged.refresher, Some(exchanged.scheme))
            }
        };
        let (client, scheme, token) =
            runtime.block_on(connect(&reference, &auth, &certs, lenience, policy, known))?;
        let client = Arc::new(client);
        let blobs = blobs::BlobClient::new(
            Arc::clone(&client),
            &reference,
            &auth,
            blobs::Settings {
                scheme,
                certs: &certs,
                skip_verify: lenience.skip_verify && scheme == "https",
                token,
                refresher,
            },
        )
        .map_err(|e| SourceError::Remote(format!("`{shown}`: {e}")))?;
        let platform = options.platform.clone().unwrap_or_else(Platform::host);
        let info = runtime.block_on(resolve(&blobs, &reference, &shown, &platform, policy))?;
        tracing::debug!("opened {shown} ({} credentials)", auth::describe(&auth));
        Ok(RegistrySource {
            info,
            blobs: Arc::new(blobs),
            policy,
            runtime,
        })
    }
}

impl ImageSource for RegistrySource {
    fn info(&self) -> &ImageInfo {
        &self.info
    }

    fn open_layer(&self, index: usize) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let layer = self.info.layers.get(index).ok_or_else(|| {
            SourceError::invalid(&self.info.reference, format!("has no layer {index}"))
        })?;
        let (tx, rx) = tokio::sync::mpsc::channel(stream::DEPTH);
        let blob = stream::Blob {
            client: Arc::clone(&self.blobs),
            digest: layer.digest.to_string(),
            size: layer.blob_bytes,
            policy: self.policy,
        };
        self.runtime.spawn(stream::download(blob, tx));
        Ok(Box::new(stream::ChannelReader::new(rx)))
    }

    fn downloaded(&self) -> bool {
        true
    }
}

fn read_certs(paths: &[std::path::PathBuf]) -> Result<Vec<Certificate>, SourceError> {
    paths
        .iter()
        .map(|p| {
            let data = std::fs::read(p).map_err(|source| SourceError::Io {
                path: p.clone(),
                source,
            })?;
            let encoding = if data.starts_with(b"-----BEGIN") {
                CertificateEncoding::Pem
            } else {
                CertificateEncoding::Der
            };
            Ok(Certificate { encoding, data })
        })
        .collect()
}

/// What a registry is allowed that a public one is not.
#[derive(Clone, Copy, Debug)]
struct Lenience {
    /// Plain HTTP when TLS fails (loopback, `--insecure-registry`).
    allow_http: bool,
    /// Accept a certificate that does not verify (`--insecure-registry`).
    skip_verify: bool,
}

fn build_client(
    protocol: ClientProtocol,
    certs: &[Certificate],
    skip_verify: bool,
) -> Result<Client, OciDistributionError> {
    let config = ClientConfig {
        protocol,
        accept_invalid_certificates: skip_verify,
        extra_root_certificates: certs.to_vec(),
        platform_resolver: None,
        connect_timeout: Some(Duration::from_secs(30)),
        read_timeout: Some(Duration::from_secs(60)),
        user_agent: concat!("layerscope/", env!("CARGO_PKG_VERSION")),
        ..ClientConfig::default()
    };
    Client::try_from(config)
}

/// Builds the client and authenticates (which also pings `/v2/`). For a
/// loopback or `--insecure-registry` registry, HTTPS is tried first and plain
/// HTTP when the TLS connection fails, as Docker does; `known` is the
/// scheme an identity-token exchange already found. Returns the client,
/// the scheme it uses and the bearer token the registry issued, if any.
async fn connect(
    reference: &Reference,
    auth: &RegistryAuth,
    certs: &[Certificate],
    lenience: Lenience,
    policy: Policy,
    known: Option<&'static str>,
) -> Result<(Client, &'static str, Option<String>), SourceError> {
    let allow_http = lenience.allow_http;
    let shown = reference.whole();
    let registry = reference.resolve_registry().to_owned();
    let bad_cert = |e: OciDistributionError| {
        SourceError::Remote(format!(
            "`{shown}`: cannot load the --ca-cert certificates: {e}"
        ))
    };
    if known == Some("http") {
        let http = build_client(
            ClientProtocol::HttpsExcept(vec![registry.clone()]),
            certs,
            false,
        )
        .map_err(bad_cert)?;
        let token = http
            .auth(reference, auth, RegistryOperation::Pull)
            .await
            .map_err(|e| remote_error(&shown, &e))?;
        return Ok((http, "http", token));
    }
    let https =
        build_client(ClientProtocol::Https, certs, lenience.skip_verify).map_err(bad_cert)?;
    let first = if allow_http {
        // One quick try: a plain-HTTP registry fails this immediately.
        https.auth(reference, auth, RegistryOperation::Pull).await
    } else {
        policy
            .run("authenticating", || {
                https.auth(reference, auth, RegistryOperation::Pull)
            })
            .await
    };
    match first {
        Ok(token) => Ok((https, "https", token)),
        // A server that speaks TLS with a certificate we do not trust is a
        // TLS server: report that rather than trying plain HTTP.
        Err(OciDistributionError::RequestError(e))
            if allow_http
                && !retry::is_certificate(&e)
                && (e.is_connect() || retry::is_tls(&e)) =>
        {
            let http = build_client(
                ClientProtocol::HttpsExcept(vec![registry.clone()]),
                certs,
                false,
            )
            .map_err(bad_cert)?;
            match policy
                .run("authenticating", || {
                    http.auth(reference, auth, RegistryOperation::Pull)
                })
                .await
            {
                Ok(token) => Ok((http, "http", token)),
                Err(OciDistributionError::RequestError(_)) => {
                    Err(remote_error(&shown, &OciDistributionError::RequestError(e)))
                }
                Err(other) => Err(remote_error(&shown, &other)),
            }
        }
        Err(e) => Err(remote_error(&shown, &e)),
    }
}

/// Largest manifest or index accepted.
const MAX_MANIFEST: u64 = 4 << 20;

/// Largest config blob accepted.
const MAX_CONFIG: u64 = 64 << 20;

/// Fetches the manifest (once per level), resolves indexes, verifies
/// digests and fetches the config.
async fn resolve(
    client: &blobs::BlobClient,
    reference: &Reference,
    shown: &str,
    wanted: &Platform,
    policy: Policy,
) -> Result<ImageInfo, SourceError> {
    let mut current = reference.clone();
    for _ in 0..MAX_DEPTH {
        let path = format!(
            "manifests/{}",
            current
                .digest()
                .unwrap_or_else(|| current.tag().unwrap_or("latest"))
        );
        let body = blobs::fetch(&policy, "fetching the manifest", || {
            client.bytes(&path, &ACCEPT, MAX_MANIFEST)
        })
        .await
        .map_err(|f| failure_error(shown, &f))?;
        let mut digest = Digest::of(&body);
        if let Some(asked) = current.digest() {
            // Pinned by digest (sha256 or sha512): verified in its algorithm.
            let asked =
                Digest::parse(asked).map_err(|e| SourceError::Remote(format!("`{shown}`: {e}")))?;
            if !asked.matches(&body) {
                return Err(SourceError::Remote(format!(
                    "`{shown}`: manifest digest mismatch: asked for {asked}, the registry sent bytes hashing to {digest}"
                )));
            }
            digest = asked;
        }
        match ManifestOrIndex::parse(shown, &body)? {
            ManifestOrIndex::Index(index) => {
                let unknown = Platform::default();
                let platforms: Vec<&Platform> = index
                    .manifests
                    .iter()
                    .map(|m| m.platform.as_ref().unwrap_or(&unknown))
                    .collect();
                let Some(i) = super::platform::choose(wanted, platforms.iter().copied()) else {
                    let available: Vec<String> = platforms
                        .iter()
                        .filter(|p| !p.os.is_empty())
                        .map(|p| p.to_string())
                        .collect();
                    return Err(SourceError::NoPlatform {
                        input: shown.to_owned(),
                        wanted: wanted.to_string(),
                        available: available.join(", "),
                    });
                };
                current = reference.clone_with_digest(index.manifests[i].digest.to_string());
            }
            ManifestOrIndex::Manifest(manifest) => {
                let config_digest = manifest.config.digest.to_string();
                let path = format!("blobs/{config_digest}");
                let bytes = blobs::fetch(&policy, "fetching the config", || {
                    client.bytes(&path, &[], MAX_CONFIG)
                })
                .await
                .map_err(|f| failure_error(shown, &f))?;
                if !manifest.config.digest.matches(&bytes) {
                    return Err(SourceError::Remote(format!(
                        "`{shown}`: config blob digest mismatch: the manifest says {config_digest}"
                    )));
                }
                let config = ImageConfig::parse(shown, &bytes)?;
                return ImageInfo::assemble(
                    shown.to_owned(),
                    Some(digest),
                    &manifest.layers,
                    config,
                );
            }
        }
    }
    Err(SourceError::invalid(shown, "image indexes nest too deeply"))
}

/// One line about a registry failure; never includes credentials.
pub fn describe_error(error: &OciDistributionError) -> String {
    crate::display::one_line(error)
}

/// Maps a failed manifest or config request to a [`SourceError`] with a
/// hint.
fn failure_error(shown: &str, failure: &blobs::Failure) -> SourceError {
    match failure.status {
        Some(401 | 403) => SourceError::Remote(format!(
            "`{shown}`: access denied by the registry (401/403); give credentials with `--username NAME --password-stdin` or `docker login`"
        )),
        Some(404) => SourceError::Remote(format!(
            "`{shown}`: not found in the registry (no such image or tag)"
        )),
        _ => SourceError::Remote(format!("`{shown}`: {}", failure.message)),
    }
}

/// Maps an oci-client error to a [`SourceError`] with a hint.
fn remote_error(shown: &str, error: &OciDistributionError) -> SourceError {
    let codes: Vec<&OciErrorCode> = match error {
        OciDistributionError::RegistryError { envelope, .. } => {
            envelope.errors.iter().map(|e| &e.code).collect()
        }
        _ => Vec::new(),
    };
    let denied = matches!(
        error,
        OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_)
            | OciDistributionError::ServerError {
                code: 401 | 403,
                ..
            }
    ) || codes
        .iter()
        .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied));
    if denied {
        return SourceError::Remote(format!(
            "`{shown}`: access denied by the registry (401/403); give credentials with `--username NAME --password-stdin` or `docker login`"
        ));
    }
    let not_found = matches!(
        error,
        OciDistributionError::ImageManifestNotFoundError(_)
            | OciDistributionError::ServerError { code: 404, .. }
    ) || codes.iter().any(|c| {
        matches!(
            c,
            OciErrorCode::ManifestUnknown | OciErrorCode::NameUnknown | OciErrorCode::NotFound
        )
    });
    if not_found {
        return SourceError::Remote(format!(
            "`{shown}`: not found in the registry (no such image or tag)"
        ));
    }
    if let OciDistributionError::RequestError(e) = error
        && retry::is_tls(e)
    {
        return SourceError::Remote(format!(
            "`{shown}`: TLS failure: {}; trust its CA with `--ca-cert FILE` or use `--insecure-registry HOST[:PORT]`",
            describe_error(error)
        ));
    }
    if let OciDistributionError::DigestError(_) = error {
        return SourceError::Remote(format!(
            "`{shown}`: manifest digest mismatch: {}",
            describe_error(error)
        ));
    }
    SourceError::Remote(format!("`{shown}`: {}", describe_error(error)))
}
