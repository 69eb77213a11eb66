//! Registry credentials, in the order podman and skopeo use: `--creds` or
//! `--username` with `--password-stdin`; then a containers `auth.json`
//! (`--authfile` / `REGISTRY_AUTH_FILE` alone when given, else
//! `$XDG_RUNTIME_DIR/containers/auth.json` and
//! `~/.config/containers/auth.json`); then `~/.docker/config.json` (or
//! `$DOCKER_CONFIG`): `credHelpers`, `credsStore`, `auths`; otherwise
//! anonymous (the bearer token dance still happens, without credentials).
//! An `identitytoken` in either file is an OAuth2 refresh token, exchanged
//! at the registry's token server (see [`super::token`]).
//! Secrets never appear in errors or logs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::reference::credential_key;
use crate::source::{RegistryOptions, SourceError};

/// Credentials for one registry.
#[derive(Clone)]
pub enum Credentials {
    /// What oci-client sends as it is: anonymous, basic, bearer.
    Auth(RegistryAuth),
    /// An identity token (an OAuth2 refresh token), exchanged for an access
    /// token at the registry's token server.
    IdentityToken(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credentials::Auth(auth) => write!(f, "Auth({})", describe(auth)),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// The credentials to use for `registry` (`HOST[:PORT]`).
pub fn resolve(registry: &str, options: &RegistryOptions) -> Result<Credentials, SourceError> {
    Ok(match resolve_auth(registry, options)? {
        Found::Auth(auth) => Credentials::Auth(auth),
        Found::Identity(token) => Credentials::IdentityToken(token),
    })
}

/// What a credentials source holds.
enum Found {
    Auth(RegistryAuth),
    Identity(String),
}

impl From<RegistryAuth> for Found {
    fn from(auth: RegistryAuth) -> Found {
        Found::Auth(auth)
    }
}

fn resolve_auth(registry: &str, options: &RegistryOptions) -> Result<Found, SourceError> {
    if let (Some(user), Some(password)) = (&options.username, &options.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()).into());
    }
    if options.username.is_some() {
        return Err(SourceError::Remote(format!(
            "`{registry}`: --username needs the password on standard input (--password-stdin)"
        )));
    }
    let authfiles = match &options.authfile {
        Some(path) => vec![path.clone()],
        None => default_authfiles(),
    };
    for path in &authfiles {
        match from_authfile(path, registry, options.authfile.is_some())? {
            Some(found) => return Ok(found),
            None => continue,
        }
    }
    if options.authfile.is_some() {
        // An explicit auth file is the only one consulted, as in podman.
        return Ok(RegistryAuth::Anonymous.into());
    }
    let key = credential_key(registry);
    match docker_credential::get_credential(&key) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password).into())
        }
        Ok(DockerCredential::IdentityToken(token)) => Ok(Found::Identity(token)),
        Err(
            CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError
            | CredentialRetrievalError::NoCredentialConfigured,
        ) => Ok(RegistryAuth::Anonymous.into()),
        // Helpers answer "credentials not found" for registries they do
        // not know: that means anonymous, as with Docker.
        Err(CredentialRetrievalError::HelperFailure { stdout, stderr, .. })
            if not_found(&stdout) || not_found(&stderr) =>
        {
            Ok(RegistryAuth::Anonymous.into())
        }
        // Helper output may hold secrets: name the helper, never its output.
        Err(CredentialRetrievalError::HelperFailure { helper, .. }) => {
            Err(SourceError::Remote(format!(
                "`{registry}`: the credential helper `{helper}` failed (check `docker login {registry}`)"
            )))
        }
        Err(e) => Err(SourceError::Remote(format!(
            "`{registry}`: cannot read its credentials from the docker config: {e}"
        ))),
    }
}

/// `REGISTRY_AUTH_FILE`, else podman's defaults.
fn default_authfiles() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(file) = std::env::var_os("REGISTRY_AUTH_FILE") {
        out.push(PathBuf::from(file));
        return out;
    }
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR") {
        out.push(PathBuf::from(run).join("containers/auth.json"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        let config = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(home).join(".config"));
        out.push(config.join("containers/auth.json"));
    }
    out
}

#[derive(Deserialize)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
}

#[derive(Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The credentials an `auth.json` holds for `registry`; `None` when the file
/// does not exist (and `explicit` is false) or has no entry for it.
fn from_authfile(
    path: &Path,
    registry: &str,
    explicit: bool,
) -> Result<Option<Found>, SourceError> {
    let shown = path.display();
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => {
            return Err(SourceError::Remote(format!(
                "cannot read the auth file `{shown}`: {e}"
            )));
        }
    };
    let file: AuthFile = serde_json::from_slice(&text).map_err(|_| {
        // The file holds secrets: say where it is wrong, never what it holds.
        SourceError::Remote(format!("the auth file `{shown}` is not a valid auth.json"))
    })?;
    let Some(entry) = file
        .auths
        .iter()
        .find(|(key, _)| auth_key_host(key) == registry)
        .map(|(_, entry)| entry)
    else {
        return Ok(None);
    };
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(Found::Identity(token.to_owned())));
    }
    let Some(encoded) = entry.auth.as_deref().filter(|a| !a.is_empty()) else {
        return Ok(None);
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    match decoded.as_deref().and_then(|d| d.split_once(':')) {
        Some((user, password)) => Ok(Some(
            RegistryAuth::Basic(user.to_owned(), password.to_owned()).into(),
        )),
        None => Err(SourceError::Remote(format!(
            "the auth file `{shown}` has an entry for `{registry}` that is not base64 `user:password`"
        ))),
    }
}

/// The registry an `auths` key names: `host`, `host/namespace`,
/// `https://host/v1/`.
fn auth_key_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

fn not_found(output: &str) -> bool {
    output.to_ascii_lowercase().contains("not found")
}

/// A label for logs and errors that never includes the secret.
pub fn describe(auth: &RegistryAuth) -> &'static str {
    match auth {
        RegistryAuth::Anonymous => "anonymous",
        RegistryAuth::Basic(..) => "user name and password",
        RegistryAuth::Bearer(_) => "bearer token",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn reads_containers_auth_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("auth.json");
        let token = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        std::fs::write(
            &path,
            format!(r#"{{"auths":{{"reg.example:5000":{{"auth":"{token}"}},"https://index.docker.io/v1/":{{"auth":"{token}"}}}}}}"#),
        )
        .unwrap();
        let found = from_authfile(&path, "reg.example:5000", true).unwrap();
        assert!(
            matches!(found, Some(Found::Auth(RegistryAuth::Basic(u, p))) if u == "alice" && p == "s3cret")
        );
        assert!(from_authfile(&path, "docker.io", true).unwrap().is_some());
        assert!(
            from_authfile(&path, "other.example", true)
                .unwrap()
                .is_none()
        );
        // A missing default file is no error; a missing explicit one is.
        let missing = dir.path().join("nope.json");
        assert!(from_authfile(&missing, "x", false).unwrap().is_none());
        assert!(from_authfile(&missing, "x", true).is_err());
        // An identity token is read as one, whatever `auth` says beside it.
        std::fs::write(
            &path,
            r#"{"auths":{"reg.example":{"auth":"","identitytoken":"REFRESH-1"}}}"#,
        )
        .unwrap();
        let found = from_authfile(&path, "reg.example", true).unwrap();
        assert!(matches!(found, Some(Found::Identity(t)) if t == "REFRESH-1"));
        // Garbage is named, never echoed.
        std::fs::write(&path, "SECRET-GARBAGE").unwrap();
        let err = from_authfile(&path, "x", true).err().unwrap().to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }
}
