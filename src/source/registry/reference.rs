//! Registry references as `docker pull` understands them: `python:3.11` is
//! `docker.io/library/python:3.11`, `host:port/repo@sha256:...` pins a
//! manifest digest. Also which registries are spoken to over plain HTTP.

use oci_client::Reference;

use crate::source::SourceError;

/// Parses `name` (without `docker://`) into a normalised reference.
pub fn parse(name: &str) -> Result<Reference, SourceError> {
    let name = name.strip_prefix("docker://").unwrap_or(name);
    if name.is_empty() || name.chars().any(char::is_whitespace) {
        return Err(SourceError::BadReference(name.to_owned()));
    }
    name.parse::<Reference>()
        .map_err(|_| SourceError::BadReference(name.to_owned()))
}

/// The host part of `HOST[:PORT]` (IPv6 literals in brackets kept whole).
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split_once(']').map_or(registry, |(h, _)| h);
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

/// Whether `registry` (`HOST[:PORT]`) is on this machine: `localhost`,
/// `127.0.0.0/8` or `::1`. Docker speaks plain HTTP to these when TLS fails.
pub fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `--insecure-registry` entries name `registry`: an entry matches
/// the exact `HOST:PORT`, or any port of its `HOST` when it has none.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    insecure.iter().any(|entry| {
        let entry = entry
            .trim_start_matches("http://")
            .trim_start_matches("https://")
            .trim_end_matches('/');
        entry == registry || (!entry.contains(':') && entry == host_of(registry))
    })
}

/// The key under which `~/.docker/config.json` stores credentials for
/// `registry` (Docker Hub keeps its historical URL).
pub fn credential_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".to_owned()
        }
        other => other.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_short_names() {
        let r = parse("python:3.11").unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.repository(), "library/python");
        assert_eq!(r.tag(), Some("3.11"));
        let r = parse("docker://127.0.0.1:5000/team/app@sha256:0123456789012345678901234567890123456789012345678901234567890123").unwrap();
        assert_eq!(r.registry(), "127.0.0.1:5000");
        assert_eq!(r.repository(), "team/app");
        assert!(r.digest().is_some());
        assert!(parse("bad//name:tag").is_err());
        assert!(parse("has space:1").is_err());
        assert!(parse("").is_err());
    }

    #[test]
    fn loopback_and_insecure() {
        assert!(is_loopback("127.0.0.1:5000"));
        assert!(is_loopback("localhost"));
        assert!(is_loopback("[::1]:5000"));
        assert!(!is_loopback("registry.example.com:5000"));
        let insecure = vec!["reg.lan".to_owned(), "other.lan:5000".to_owned()];
        assert!(is_insecure("reg.lan:443", &insecure));
        assert!(is_insecure("other.lan:5000", &insecure));
        assert!(!is_insecure("other.lan:5001", &insecure));
        assert_eq!(credential_key("docker.io"), "https://index.docker.io/v1/");
    }
}
