//! Layer blob requests made with `reqwest` directly, so the response
//! headers oci-client hides are visible: a 429 or 503's `Retry-After` is
//! honoured (see [`retry::retry_after`](super::retry::retry_after)).
//!
//! The client copies the oci-client client's settings: the same scheme
//! (HTTPS, or plain HTTP for a loopback / `--insecure-registry` registry that
//! does not speak TLS), the `--ca-cert` roots, invalid certificates accepted
//! only for `--insecure-registry`, the same timeouts and user agent. It sends
//! the bearer token oci-client obtained (refreshed once on a 401), or the
//! basic credentials when the registry issues no token. Redirects to blob
//! storage are followed by reqwest, which drops `Authorization` when the
//! redirect leaves the registry's host, port or scheme.

use std::time::{Duration, SystemTime};

use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference, RegistryOperation};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RANGE, RETRY_AFTER};
use tokio::sync::Mutex;

use super::retry::{self, Class};

/// What the blob client needs to copy from the oci-client one.
pub struct Settings<'a> {
    /// `https` or `http`.
    pub scheme: &'static str,
    /// Extra roots (`--ca-cert`).
    pub certs: &'a [oci_client::client::Certificate],
    /// Accept any certificate (`--insecure-registry`).
    pub skip_verify: bool,
    /// The token oci-client's authentication returned, if any.
    pub token: Option<String>,
}

/// Downloads blobs of one repository.
pub struct BlobClient {
    http: reqwest::Client,
    base: String,
    namespace: Option<String>,
    oci: std::sync::Arc<Client>,
    reference: Reference,
    auth: RegistryAuth,
    token: Mutex<Option<String>>,
}

/// Why opening a blob failed.
#[derive(Debug)]
pub struct Failure {
    /// Whether to retry.
    pub class: Class,
    /// The server's `Retry-After`, parsed and capped.
    pub retry_after: Option<Duration>,
    /// One line, without credentials.
    pub message: String,
}

/// An opened blob: the response and how many leading bytes to skip (when
/// the server ignored a `Range`).
pub struct Opened {
    /// The response, body not yet read.
    pub response: reqwest::Response,
    /// Bytes to drop from the front of the body.
    pub skip: u64,
}

impl BlobClient {
    /// A client for blobs of `reference`'s repository.
    pub fn new(
        oci: std::sync::Arc<Client>,
        reference: &Reference,
        auth: &RegistryAuth,
        settings: Settings<'_>,
    ) -> Result<BlobClient, String> {
        let mut roots = Vec::new();
        for cert in settings.certs {
            let parsed = match cert.encoding {
                oci_client::client::CertificateEncoding::Pem => {
                    reqwest::Certificate::from_pem(&cert.data)
                }
                oci_client::client::CertificateEncoding::Der => {
                    reqwest::Certificate::from_der(&cert.data)
                }
            };
            roots.push(parsed.map_err(|e| format!("cannot load a --ca-cert certificate: {e}"))?);
        }
        let http = reqwest::Client::builder()
            .danger_accept_invalid_certs(settings.skip_verify)
            .tls_certs_merge(roots)
            .connect_timeout(Duration::from_secs(30))
            .read_timeout(Duration::from_secs(60))
            .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
        Ok(BlobClient {
            http,
            base: format!(
                "{}://{}/v2/{}/blobs/",
                settings.scheme,
                reference.resolve_registry(),
                reference.repository()
            ),
            namespace: reference.namespace().map(str::to_owned),
            oci,
            reference: reference.clone(),
            auth: auth.clone(),
            token: Mutex::new(settings.token),
        })
    }

    /// `GET`s blob `digest` from byte `offset` (a `Range` request when not
    /// 0). A 401 refreshes the token and tries once more.
    pub async fn open(&self, digest: &str, offset: u64) -> Result<Opened, Failure> {
        let mut url = format!("{}{digest}", self.base);
        if let Some(ns) = &self.namespace {
            url.push_str("?ns=");
            url.push_str(ns);
        }
        let mut refreshed = false;
        loop {
            let mut request = self.http.get(&url);
            if offset > 0 {
                request = request.header(RANGE, format!("bytes={offset}-"));
            }
            let token = self.token.lock().await.clone();
            request = match (&token, &self.auth) {
                (Some(t), _) => request.header(AUTHORIZATION, format!("Bearer {t}")),
                (None, RegistryAuth::Basic(user, password)) => {
                    request.basic_auth(user, Some(password))
                }
                (None, RegistryAuth::Bearer(t)) => {
                    request.header(AUTHORIZATION, format!("Bearer {t}"))
                }
                (None, RegistryAuth::Anonymous) => request,
            };
            let response = request.send().await.map_err(|e| Failure {
                class: if retry::is_tls(&e) {
                    Class::Permanent
                } else if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
                    Class::Temporary
                } else {
                    Class::Permanent
                },
                retry_after: None,
                message: crate::error::one_line(&e),
            })?;
            let status = response.status();
            match status {
                StatusCode::OK => {
                    return Ok(Opened {
                        response,
                        skip: offset,
                    });
                }
                StatusCode::PARTIAL_CONTENT => return Ok(Opened { response, skip: 0 }),
                StatusCode::UNAUTHORIZED if !refreshed => {
                    refreshed = true;
                    let fresh = self
                        .oci
                        .auth(&self.reference, &self.auth, RegistryOperation::Pull)
                        .await
                        .map_err(|e| Failure {
                            class: Class::Permanent,
                            retry_after: None,
                            message: format!(
                                "the registry refused the blob (401) and re-authenticating failed: {}",
                                crate::error::one_line(&e)
                            ),
                        })?;
                    *self.token.lock().await = fresh;
                }
                _ => {
                    let class = match status.as_u16() {
                        429 => Class::Throttled,
                        408 | 500..=599 => Class::Temporary,
                        _ => Class::Permanent,
                    };
                    let retry_after = if matches!(status.as_u16(), 429 | 503) {
                        response
                            .headers()
                            .get(RETRY_AFTER)
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| retry::retry_after(v, SystemTime::now()))
                    } else {
                        None
                    };
                    return Err(Failure {
                        class,
                        retry_after,
                        message: format!("the registry answered {status} for blob {digest}"),
                    });
                }
            }
        }
    }
}
