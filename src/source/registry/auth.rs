//! Registry credentials, in Docker's order: `--username` with
//! `--password-stdin`, then `~/.docker/config.json` (or `$DOCKER_CONFIG`):
//! `credHelpers`, `credsStore`, `auths`; otherwise anonymous (the bearer
//! token dance still happens, without credentials). Secrets never appear in
//! errors or logs.

use docker_credential::{CredentialRetrievalError, DockerCredential};
use oci_client::secrets::RegistryAuth;

use super::reference::credential_key;
use crate::source::{RegistryOptions, SourceError};

/// The credentials to use for `registry` (`HOST[:PORT]`).
pub fn resolve(registry: &str, options: &RegistryOptions) -> Result<RegistryAuth, SourceError> {
    if let (Some(user), Some(password)) = (&options.username, &options.password) {
        return Ok(RegistryAuth::Basic(user.clone(), password.clone()));
    }
    if options.username.is_some() {
        return Err(SourceError::Remote(format!(
            "`{registry}`: --username needs the password on standard input (--password-stdin)"
        )));
    }
    let key = credential_key(registry);
    match docker_credential::get_credential(&key) {
        Ok(DockerCredential::UsernamePassword(user, password)) => {
            Ok(RegistryAuth::Basic(user, password))
        }
        Ok(DockerCredential::IdentityToken(_)) => {
            tracing::warn!(
                "the docker config holds an identity token for {registry}; layerscope cannot use those yet, pulling anonymously"
            );
            Ok(RegistryAuth::Anonymous)
        }
        Err(
            CredentialRetrievalError::ConfigNotFound
            | CredentialRetrievalError::ConfigReadError
            | CredentialRetrievalError::NoCredentialConfigured,
        ) => Ok(RegistryAuth::Anonymous),
        // Helpers answer "credentials not found" for registries they do
        // not know: that means anonymous, as with Docker.
        Err(CredentialRetrievalError::HelperFailure { stdout, stderr, .. })
            if not_found(&stdout) || not_found(&stderr) =>
        {
            Ok(RegistryAuth::Anonymous)
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
