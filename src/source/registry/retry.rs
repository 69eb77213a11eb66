//! Retrying temporary registry failures: 429, 5xx, timeouts and dropped
//! connections, with exponential backoff.
//!
//! Manifests, the config and layer blobs are fetched with reqwest directly
//! ([`super::blobs`]), so a 429 or 503 there honours the server's
//! `Retry-After` (delta-seconds or an HTTP-date, see [`retry_after`]),
//! capped at [`MAX_RETRY_AFTER`] ([`super::blobs::fetch`]).
//!
//! Authentication (the `/v2/` ping and the token request) still goes through
//! oci-client ([`Policy::run`]), which does not hand back response headers
//! with its errors, so there a `Retry-After` cannot be read; a 429 instead
//! waits at least [`Policy::throttle_floor`] (one second, the smallest
//! `Retry-After` a server can send), doubling on every further attempt.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oci_client::errors::{OciDistributionError, OciErrorCode};

/// The longest `Retry-After` honoured: a server asking for more gets this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Parses a `Retry-After` value, delta-seconds (`120`) or an IMF-fixdate
/// HTTP-date (`Sun, 06 Nov 1994 08:49:37 GMT`), into a wait from `now`,
/// capped at [`MAX_RETRY_AFTER`]. A date in the past means no wait;
/// anything unparseable is `None`.
pub fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(value.parse::<u64>().unwrap_or(u64::MAX))
    } else {
        let at = http_date(value)?;
        let now = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
        Duration::from_secs(at.saturating_sub(now))
    };
    Some(wait.min(MAX_RETRY_AFTER))
}

/// Seconds since the Unix epoch of an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn http_date(value: &str) -> Option<u64> {
    let (_, rest) = value.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let day: u64 = day.parse().ok()?;
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .iter()
    .position(|m| m == month)? as u64
        + 1;
    let year: u64 = year.parse().ok()?;
    let hms: Vec<u64> = time
        .split(':')
        .map(|t| t.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    if !(1..=31).contains(&day) || year < 1970 || *h > 23 || *m > 59 || *s > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), years from March.
    let (y, mo) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe).checked_sub(719_468)?;
    Some(days * 86_400 + h * 3600 + m * 60 + s)
}

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

    #[test]
    fn retry_after_seconds_and_dates() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110's example).
        let now = UNIX_EPOCH + Duration::from_secs(784_111_777);
        assert_eq!(retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(retry_after("3600", now), Some(MAX_RETRY_AFTER));
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:42 GMT", now),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after("Mon, 07 Nov 1994 08:49:37 GMT", now),
            Some(MAX_RETRY_AFTER)
        );
        // 2000-03-01 (leap year boundary) is day 11017.
        assert_eq!(
            http_date("Wed, 01 Mar 2000 00:00:00 GMT"),
            Some(11_017 * 86_400)
        );
        assert_eq!(retry_after("soon", now), None);
        assert_eq!(retry_after("-1", now), None);
        assert_eq!(retry_after("", now), None);
        assert_eq!(retry_after("Sun, 06 Nov 1994 25:49:37 GMT", now), None);
    }
}
