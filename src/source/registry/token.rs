//! Identity tokens (`"identitytoken"` in docker's `config.json` or a
//! containers `auth.json`), used as Docker uses them: the identity token is
//! an OAuth2 refresh token. The registry's `/v2/` answers 401 with a
//! `Bearer realm=...,service=...` challenge; the realm is sent
//! `POST grant_type=refresh_token&refresh_token=...&service=...&scope=...&client_id=layerscope`
//! (distribution's token auth spec, "oauth.md"), and the `access_token` it
//! returns is the bearer token for the pull. The token never appears in
//! errors, logs or `Debug` output.

use std::fmt;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};

use oci_client::secrets::RegistryAuth;

use super::{blobs, retry};
use crate::source::SourceError;

/// The `client_id` sent to token servers.
const CLIENT_ID: &str = "layerscope";

/// Largest token-server answer read.
const MAX_ANSWER: usize = 1 << 20;

/// A refresh token and where to exchange it for access tokens.
#[derive(Clone)]
pub struct Refresher {
    /// `HOST[:PORT]`, for messages.
    registry: String,
    realm: String,
    service: Option<String>,
    scope: String,
    refresh_token: String,
}

impl fmt::Debug for Refresher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Refresher")
            .field("registry", &self.registry)
            .field("realm", &self.realm)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

/// What an identity token became: the auth to pull with, how to refresh
/// it, and the scheme the registry speaks.
pub struct Exchanged {
    /// A bearer access token (anonymous when the registry asks for none).
    pub auth: RegistryAuth,
    /// How to get a fresh access token on a 401.
    pub refresher: Option<Refresher>,
    /// `https`, or `http` for a loopback or insecure registry without TLS.
    pub scheme: &'static str,
}

/// Exchanges `refresh_token` for an access token to pull `repository` from
/// `registry` (`HOST[:PORT]`). HTTPS first; plain HTTP when `allow_http` and
/// the server does not speak TLS, as for every other credential.
pub async fn exchange(
    registry: &str,
    repository: &str,
    refresh_token: &str,
    certs: &[oci_client::client::Certificate],
    skip_verify: bool,
    allow_http: bool,
) -> Result<Exchanged, SourceError> {
    let remote = |m: String| SourceError::Remote(format!("`{registry}`: {m}"));
    let unreachable = |e: &reqwest::Error| {
        SourceError::Remote(format!(
            "`{registry}`: cannot reach the registry: {}",
            crate::display::one_line(e)
        ))
    };
    let https = blobs::http_client(certs, skip_verify).map_err(remote)?;
    let (scheme, http, found) =
        match ping(&https, "https", registry, repository, refresh_token).await {
            Ok(found) => ("https", https, found),
            Err(PingError::Request(e))
                if allow_http
                    && !retry::is_certificate(&e)
                    && (e.is_connect() || retry::is_tls(&e)) =>
            {
                let plain = blobs::http_client(certs, false).map_err(remote)?;
                match ping(&plain, "http", registry, repository, refresh_token).await {
                    Ok(found) => ("http", plain, found),
                    Err(PingError::Request(_)) => return Err(unreachable(&e)),
                    Err(PingError::Message(m)) => return Err(SourceError::Remote(m)),
                }
            }
            Err(PingError::Request(e)) => return Err(unreachable(&e)),
            Err(PingError::Message(m)) => return Err(SourceError::Remote(m)),
        };
    match found {
        Ping::Open => Ok(Exchanged {
            auth: RegistryAuth::Anonymous,
            refresher: None,
            scheme,
        }),
        Ping::Bearer(refresher) => {
            let access = refresher
                .access_token(&http)
                .await
                .map_err(SourceError::Remote)?;
            Ok(Exchanged {
                auth: RegistryAuth::Bearer(access),
                refresher: Some(refresher),
                scheme,
            })
        }
    }
}

/// What the `/v2/` ping found.
pub enum Ping {
    /// The registry asks for no credentials at all.
    Open,
    /// A bearer challenge: the refresher for it.
    Bearer(Refresher),
}

/// Pings `{scheme}://{registry}/v2/` and reads its challenge. `Err` carries
/// the request error (so the caller can try plain HTTP) or a message.
pub async fn ping(
    http: &reqwest::Client,
    scheme: &str,
    registry: &str,
    repository: &str,
    refresh_token: &str,
) -> Result<Ping, PingError> {
    let url = format!("{scheme}://{registry}/v2/");
    let response = http.get(&url).send().await.map_err(PingError::Request)?;
    if response.status() != StatusCode::UNAUTHORIZED {
        return Ok(Ping::Open);
    }
    let challenge = response
        .headers()
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(bearer_challenge);
    let Some(params) = challenge else {
        return Err(PingError::Message(format!(
            "`{registry}` does not issue bearer tokens, so the identity token in the credentials file cannot be used; log in with a user name and password"
        )));
    };
    let Some(realm) = param(&params, "realm").filter(|r| !r.is_empty()) else {
        return Err(PingError::Message(format!(
            "`{registry}`: its bearer challenge names no token server (realm)"
        )));
    };
    Ok(Ping::Bearer(Refresher {
        registry: registry.to_owned(),
        realm: realm.to_owned(),
        service: param(&params, "service").map(str::to_owned),
        scope: format!("repository:{repository}:pull"),
        refresh_token: refresh_token.to_owned(),
    }))
}

/// Why the ping failed.
pub enum PingError {
    /// The request itself failed (connection, TLS).
    Request(reqwest::Error),
    /// The registry answered something we cannot use.
    Message(String),
}

impl Refresher {
    /// Exchanges the refresh token for an access token.
    pub async fn access_token(&self, http: &reqwest::Client) -> Result<String, String> {
        let registry = &self.registry;
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("scope", self.scope.as_str()),
            ("client_id", CLIENT_ID),
        ];
        if let Some(service) = &self.service {
            form.push(("service", service.as_str()));
        }
        let response = http
            .post(&self.realm)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(encode_form(&form))
            .send()
            .await
            .map_err(|e| {
                let why = if retry::is_tls(&e) {
                    "a TLS failure"
                } else {
                    "a connection failure"
                };
                format!(
                    "`{registry}`: cannot reach its token server ({why}): {}",
                    crate::display::one_line(&e)
                )
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!(
                "`{registry}`: its token server refused the identity token (HTTP {}); log in again (`docker login {registry}` or `podman login {registry}`)",
                status.as_u16()
            ));
        }
        let body = response.bytes().await.map_err(|e| {
            format!(
                "`{registry}`: reading its token server's answer: {}",
                crate::display::one_line(&e)
            )
        })?;
        if body.len() > MAX_ANSWER {
            return Err(format!(
                "`{registry}`: its token server's answer is over {MAX_ANSWER} bytes"
            ));
        }
        access_token_of(&body).ok_or_else(|| {
            format!("`{registry}`: its token server answered without an access token")
        })
    }
}

/// The `access_token` (or `token`) of a token server's JSON answer.
fn access_token_of(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(default)]
        access_token: Option<String>,
        #[serde(default)]
        token: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body).ok()?;
    answer
        .access_token
        .filter(|t| !t.is_empty())
        .or(answer.token.filter(|t| !t.is_empty()))
}

/// The parameters of the `Bearer` challenge in one `WWW-Authenticate`
/// value, if it is one.
fn bearer_challenge(value: &str) -> Option<Vec<(String, String)>> {
    let value = value.trim_start();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_ascii_lowercase();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| *c != ',') {
                value.push(c);
            }
            value = value.trim().to_owned();
        }
        params.push((key, value));
    }
    Some(params)
}

fn param<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// `application/x-www-form-urlencoded`.
fn encode_form(pairs: &[(&str, &str)]) -> String {
    let encode = |s: &str| {
        let mut out = String::new();
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    out.push(char::from(b))
                }
                b' ' => out.push('+'),
                b => out.push_str(&format!("%{b:02X}")),
            }
        }
        out
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let params = bearer_challenge(
            r#"Bearer realm="https://auth.example/token?x=1,2",service="reg.example",scope="repository:a/b:pull,push""#,
        )
        .unwrap();
        assert_eq!(
            param(&params, "realm"),
            Some("https://auth.example/token?x=1,2")
        );
        assert_eq!(param(&params, "service"), Some("reg.example"));
        assert_eq!(param(&params, "scope"), Some("repository:a/b:pull,push"));
        assert!(bearer_challenge(r#"Basic realm="x""#).is_none());
        let bare = bearer_challenge("bearer realm=https://a/t, service=s").unwrap();
        assert_eq!(param(&bare, "realm"), Some("https://a/t"));
        assert_eq!(param(&bare, "service"), Some("s"));
    }

    #[test]
    fn encodes_forms_and_reads_answers() {
        assert_eq!(
            encode_form(&[("scope", "repository:a/b:pull"), ("t", "x y&z")]),
            "scope=repository%3Aa%2Fb%3Apull&t=x+y%26z"
        );
        assert_eq!(
            access_token_of(br#"{"access_token":"A","token":"T"}"#).as_deref(),
            Some("A")
        );
        assert_eq!(access_token_of(br#"{"token":"T"}"#).as_deref(), Some("T"));
        assert_eq!(access_token_of(b"{}"), None);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let r = Refresher {
            registry: "r".into(),
            realm: "https://a/t".into(),
            service: None,
            scope: "repository:x:pull".into(),
            refresh_token: "SECRET-REFRESH".into(),
        };
        assert!(!format!("{r:?}").contains("SECRET"));
    }
}
