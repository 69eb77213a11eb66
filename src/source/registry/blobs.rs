//! Manifest, config and layer blob requests made with `reqwest` directly
//! (oci-client only authenticates), so the response headers oci-client
//! hides are visible: a 429 or 503's `Retry-After` is honoured (see
//! [`retry::retry_after`] and [`fetch`]).
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
use reqwest::header::{ACCEPT, AUTHORIZATION, RANGE, RETRY_AFTER};
use tokio::sync::Mutex;

use super::retry::{self, Class, Policy};

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
    /// With an identity token: how to get a fresh access token on a 401.
    pub refresher: Option<super::token::Refresher>,
}

/// Manifests and blobs of one repository.
pub struct BlobClient {
    http: reqwest::Client,
    /// `SCHEME://REGISTRY/v2/REPOSITORY/`.
    base: String,
    namespace: Option<String>,
    oci: std::sync::Arc<Client>,
    reference: Reference,
    auth: RegistryAuth,
    token: Mutex<Option<String>>,
    refresher: Option<super::token::Refresher>,
}

/// Why a request failed.
#[derive(Debug)]
pub struct Failure {
    /// The HTTP status, when the server answered.
    pub status: Option<u16>,
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
        let http = http_client(settings.certs, settings.skip_verify)?;
        Ok(BlobClient {
            http,
            base: format!(
                "{}://{}/v2/{}/",
                settings.scheme,
                reference.resolve_registry(),
                reference.repository()
            ),
            namespace: reference.namespace().map(str::to_owned),
            oci,
            reference: reference.clone(),
            auth: auth.clone(),
            token: Mutex::new(settings.token),
            refresher: settings.refresher,
        })
    }

    /// `GET`s blob `digest` from byte `offset` (a `Range` request when not
    /// 0). A 401 refreshes the token and tries once more.
    pub async fn open(&self, digest: &str, offset: u64) -> Result<Opened, Failure> {
        self.get(&format!("blobs/{digest}"), offset, &[], digest)
            .await
    }

    /// The whole body of `manifests/{tag or digest}` or `blobs/{digest}`
    /// (`path`), sent with `accept`; at most `limit` bytes.
    pub async fn bytes(&self, path: &str, accept: &[&str], limit: u64) -> Result<Vec<u8>, Failure> {
        let opened = self.get(path, 0, accept, path).await?;
        let mut body = Vec::new();
        let mut stream = opened.response.bytes_stream();
        while let Some(chunk) = futures_util::StreamExt::next(&mut stream).await {
            let chunk = chunk.map_err(|e| Failure {
                status: None,
                class: Class::Temporary,
                retry_after: None,
                message: crate::display::one_line(&e),
            })?;
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(Failure {
                    status: None,
                    class: Class::Permanent,
                    retry_after: None,
                    message: format!("{path} is larger than {limit} bytes"),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }

    async fn get(
        &self,
        path: &str,
        offset: u64,
        accept: &[&str],
        what: &str,
    ) -> Result<Opened, Failure> {
        let mut url = format!("{}{path}", self.base);
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
            if !accept.is_empty() {
                request = request.header(ACCEPT, accept.join(", "));
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
                status: None,
                class: if retry::is_tls(&e) {
                    Class::Permanent
                } else if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
                    Class::Temporary
                } else {
                    Class::Permanent
                },
                retry_after: None,
                message: crate::display::one_line(&e),
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
                    if let Some(refresher) = &self.refresher {
                        let fresh =
                            refresher
                                .access_token(&self.http)
                                .await
                                .map_err(|message| Failure {
                                    status: Some(401),
                                    class: Class::Permanent,
                                    retry_after: None,
                                    message,
                                })?;
                        *self.token.lock().await = Some(fresh);
                        continue;
                    }
                    let fresh = self
                        .oci
                        .auth(&self.reference, &self.auth, RegistryOperation::Pull)
                        .await
                        .map_err(|e| Failure {
                            status: Some(401),
                            class: Class::Permanent,
                            retry_after: None,
                            message: format!(
                                "the registry refused the blob (401) and re-authenticating failed: {}",
                                crate::display::one_line(&e)
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
                        status: Some(status.as_u16()),
                        class,
                        retry_after,
                        message: format!("the registry answered {status} for {what}"),
                    });
                }
            }
        }
    }
}

/// A reqwest client with the registry's settings: the `--ca-cert` roots,
/// any certificate accepted when `skip_verify`, oci-client's timeouts and
/// user agent.
pub fn http_client(
    certs: &[oci_client::client::Certificate],
    skip_verify: bool,
) -> Result<reqwest::Client, String> {
    let mut roots = Vec::new();
    for cert in certs {
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
    reqwest::Client::builder()
        .danger_accept_invalid_certs(skip_verify)
        .tls_certs_merge(roots)
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(60))
        .user_agent(concat!("layerscope/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// The wait before the next attempt: the server's `Retry-After` when it sent
/// one (never less than the policy's first backoff), else the policy's.
pub fn wait_for(
    policy: &Policy,
    attempt: u32,
    class: Class,
    retry_after: Option<Duration>,
) -> Duration {
    match retry_after {
        Some(asked) => asked.max(policy.base),
        None => policy.delay(attempt, class),
    }
}

/// Runs `op` until it succeeds, fails permanently, or `policy`'s attempts
/// run out, waiting [`wait_for`] between attempts; `what` names the
/// operation in logs.
pub async fn fetch<T, F, Fut>(policy: &Policy, what: &str, mut op: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Failure>>,
{
    let mut attempt = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(f) if f.class == Class::Permanent || attempt + 1 >= policy.attempts => {
                return Err(f);
            }
            Err(f) => {
                let wait = wait_for(policy, attempt, f.class, f.retry_after);
                tracing::info!("{what}: {}; retrying in {wait:?}", f.message);
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
        }
    }
}
