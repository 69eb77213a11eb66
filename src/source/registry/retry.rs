//! Retrying temporary registry failures: 429, 5xx, timeouts and dropped
//! connections, with exponential backoff.
//!
//! oci-client does not hand back response headers with its errors, so a
//! `Retry-After` value cannot be read; a 429 instead waits at least
//! [`Policy::throttle_floor`] (one second, the smallest `Retry-After` a
//! server can send), doubling on every further attempt.

use std::future::Future;
use std::time::Duration;

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug)]
pub struct Policy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First backoff.
    pub base: Duration,
    /// Longest backoff.
    pub max: Duration,
    /// Shortest wait after a 429.
    pub throttle_floor: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            attempts: 5,
            base: Duration::from_millis(250),
            max: Duration::from_secs(8),
            throttle_floor: Duration::from_secs(1),
        }
    }
}

/// What to do about an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A temporary failure: try again.
    Temporary,
    /// The registry asks us to slow down (429).
    Throttled,
    /// Retrying will not help.
    Permanent,
}

/// Classifies an oci-client error.
pub fn classify(error: &OciDistributionError) -> Class {
    match error {
        OciDistributionError::ServerError { code: 429, .. } => Class::Throttled,
        OciDistributionError::ServerError { code, .. } if *code == 408 || *code >= 500 => {
            Class::Temporary
        }
        OciDistributionError::RegistryError { envelope, .. }
            if envelope
                .errors
                .iter()
                .any(|e| e.code == OciErrorCode::Toomanyrequests) =>
        {
            Class::Throttled
        }
        OciDistributionError::RequestError(e) if is_tls(e) => Class::Permanent,
        OciDistributionError::RequestError(e)
            if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() =>
        {
            Class::Temporary
        }
        OciDistributionError::IoError(_) => Class::Temporary,
        _ => Class::Permanent,
    }
}

/// Whether a request failed in the TLS handshake (certificate or protocol),
/// which no retry fixes.
pub fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(c) = cause {
        let text = c.to_string().to_ascii_lowercase();
        if text.contains("certificate")
            || text.contains("tls")
            || text.contains("invalidcontenttype")
            || text.contains("handshake")
        {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Whether a request failed because the server's certificate did not
/// verify (as opposed to a server that does not speak TLS at all).
pub fn is_certificate(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(c) = cause {
        if c.to_string().to_ascii_lowercase().contains("certificate") {
            return true;
        }
        cause = c.source();
    }
    false
}

impl Policy {
    /// The wait before attempt `attempt + 1` (attempt counts from 0).
    pub fn delay(&self, attempt: u32, class: Class) -> Duration {
        let backoff = self
            .base
            .saturating_mul(1u32 << attempt.min(16))
            .min(self.max);
        match class {
            Class::Throttled => {
                backoff.max(self.throttle_floor.saturating_mul(1u32 << attempt.min(4)))
            }
            _ => backoff,
        }
    }

    /// Runs `op` until it succeeds, fails permanently, or the attempts run
    /// out; `what` names the operation in logs.
    pub async fn run<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T, OciDistributionError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, OciDistributionError>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let class = classify(&e);
                    if class == Class::Permanent || attempt + 1 >= self.attempts {
                        return Err(e);
                    }
                    let wait = self.delay(attempt, class);
                    tracing::info!("{what}: {e}; retrying in {wait:?}");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_delays() {
        let server = |code| OciDistributionError::ServerError {
            code,
            url: String::new(),
            message: String::new(),
        };
        assert_eq!(classify(&server(503)), Class::Temporary);
        assert_eq!(classify(&server(429)), Class::Throttled);
        assert_eq!(classify(&server(404)), Class::Permanent);
        assert_eq!(
            classify(&OciDistributionError::UnauthorizedError { url: String::new() }),
            Class::Permanent
        );
        let p = Policy::default();
        assert_eq!(p.delay(0, Class::Temporary), Duration::from_millis(250));
        assert_eq!(p.delay(2, Class::Temporary), Duration::from_secs(1));
        assert_eq!(p.delay(0, Class::Throttled), Duration::from_secs(1));
        assert_eq!(p.delay(10, Class::Temporary), Duration::from_secs(8));
    }
}
