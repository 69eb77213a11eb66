//! The registry source against a real Distribution registry started by the
//! tests (see `support::registry`): anonymous, basic over TLS, token auth,
//! Docker v2s2 and OCI manifests, multi-platform indexes, injected faults,
//! and `--manifest-only`. Byte figures come from the fixture's construction.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::fixture::{
    Image, file, image, layer, sized_file, whiteout, write_multi_platform_oci_dir,
};
use serde_json::Value;

use crate::support::registry::{Fault, FaultProxy, Registry, Setup, base64_std, tools};
use crate::support::{analyze_json, layerscope};

/// Sizes of the fixture's files.
const BIG: usize = 300_000;
const KEEP: usize = 1_000;
const NEW: usize = 5_000;

/// Two layers: the second deletes the first's big file and adds one.
fn fixture() -> Image {
    image(vec![
        layer(vec![
            sized_file("app/big.bin", BIG, 1),
            sized_file("app/keep.txt", KEEP, 2),
        ])
        .created_by("COPY app /app"),
        layer(vec![
            whiteout("app/big.bin"),
            sized_file("app/new.txt", NEW, 3),
        ])
        .created_by("RUN rm /app/big.bin"),
    ])
}

/// Checks the figures that follow from [`fixture`]'s construction.
fn assert_fixture_figures(report: &Value) {
    assert_eq!(report["image"]["content_bytes"], (BIG + KEEP + NEW) as u64);
    assert_eq!(report["image"]["final_bytes"], (KEEP + NEW) as u64);
    assert_eq!(report["image"]["shadowed_bytes"], BIG as u64);
    assert_eq!(report["layers"].as_array().unwrap().len(), 2);
    assert_eq!(report["layers"][0]["shadowed_bytes"], BIG as u64);
}

/// The transport-independent part of a report.
fn independent(report: &Value) -> Value {
    let layers: Vec<Value> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            serde_json::json!([
                l["diff_id"],
                l["uncompressed_bytes"],
                l["content_bytes"],
                l["files"],
                l["shadowed_bytes"],
                l["created_by"]
            ])
        })
        .collect();
    let findings: Vec<Value> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| serde_json::json!([f["kind"], f["bytes"], f["layers"]]))
        .collect();
    let i = &report["image"];
    serde_json::json!({
        "image": [i["uncompressed_bytes"], i["content_bytes"], i["final_bytes"], i["shadowed_bytes"], i["platform"]],
        "layers": layers,
        "findings": findings,
    })
}

fn archive_report(path: &Path) -> Value {
    analyze_json(&format!("oci-archive:{}", path.display()), &[])
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn anonymous_oci_pull_equals_archive() {
    if !tools() {
        return;
    }
    let registry = Registry::plain();
    let img = fixture();
    let archive = registry.push_fixture(&img, "team/app:1", &[]);
    let pulled = analyze_json(
        &format!("docker://{}", registry.reference("team/app:1")),
        &[],
    );
    assert_fixture_figures(&pulled);
    assert_eq!(independent(&pulled), independent(&archive_report(&archive)));
    // The manifest skopeo pushed is the fixture's own (OCI in, OCI out).
    assert_eq!(
        pulled["image"]["manifest_digest"],
        img.manifest_digest().to_string()
    );
    assert_eq!(
        pulled["image"]["reference"],
        registry.reference("team/app:1")
    );
    // By digest too, without the docker:// prefix.
    let by_digest = analyze_json(
        &format!("{}/team/app@{}", registry.host, img.manifest_digest()),
        &[],
    );
    assert_eq!(independent(&by_digest), independent(&pulled));
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn docker_v2s2_pull_equals_archive() {
    if !tools() {
        return;
    }
    let registry = Registry::plain();
    let archive = registry.push_fixture(&fixture(), "team/app:v2s2", &["--format", "v2s2"]);
    let pulled = analyze_json(&registry.reference("team/app:v2s2"), &[]);
    assert!(
        pulled["layers"][0]["media_type"]
            .as_str()
            .unwrap()
            .starts_with("application/vnd.docker."),
        "{}",
        pulled["layers"][0]
    );
    assert_fixture_figures(&pulled);
    assert_eq!(independent(&pulled), independent(&archive_report(&archive)));
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn multi_platform_index_honours_variant() {
    if !tools() {
        return;
    }
    let registry = Registry::plain();
    let dir = tempfile::tempdir().unwrap();
    let images = [
        image(vec![layer(vec![sized_file("bin/tool", 1_000, 1)])]).platform("linux/amd64"),
        image(vec![layer(vec![sized_file("bin/tool", 2_000, 2)])]).platform("linux/arm/v6"),
        image(vec![layer(vec![sized_file("bin/tool", 3_000, 3)])]).platform("linux/arm/v7"),
    ];
    write_multi_platform_oci_dir(dir.path(), "multi", &images).unwrap();
    registry.push(
        &format!("oci:{}:multi", dir.path().display()),
        "team/multi:1",
        &["--all"],
    );
    let reference = registry.reference("team/multi:1");
    let v7 = analyze_json(&reference, &["--platform", "linux/arm/v7"]);
    assert_eq!(v7["image"]["platform"], "linux/arm/v7");
    assert_eq!(v7["image"]["final_bytes"], 3_000);
    assert_eq!(
        v7["image"]["manifest_digest"],
        images[2].manifest_digest().to_string()
    );
    let v6 = analyze_json(&reference, &["--platform", "linux/arm/v6"]);
    assert_eq!(v6["image"]["final_bytes"], 2_000);
    let amd64 = analyze_json(&reference, &["--platform", "linux/amd64"]);
    assert_eq!(amd64["image"]["final_bytes"], 1_000);
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--no-cache",
            "--platform",
            "linux/s390x",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("linux/arm/v7") && err.contains("linux/s390x"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn basic_auth_over_tls_with_generated_ca() {
    if !tools() || !crate::support::require_tool("htpasswd") {
        return;
    }
    let password = "s3cret-pass";
    let registry = Registry::start(Setup {
        tls: true,
        basic: Some(("alice".into(), password.into())),
        token: None,
        anonymous_pull: false,
        refresh_token: None,
    });
    registry.push_fixture(&fixture(), "private/app:1", &[]);
    let reference = registry.reference("private/app:1");
    let ca = registry.ca_cert.clone().unwrap();
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--format",
            "json",
            "--no-cache",
            "--username",
            "alice",
            "--password-stdin",
            "--ca-cert",
        ])
        .arg(&ca)
        .write_stdin(format!("{password}\n"))
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    assert_fixture_figures(&serde_json::from_slice(&out.stdout).unwrap());

    // Wrong password: exit 3, a hint, and the secret never printed.
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--no-cache",
            "--username",
            "alice",
            "--password-stdin",
            "--ca-cert",
        ])
        .arg(&ca)
        .write_stdin("wrong-pass-xyz\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("access denied") && err.contains("--username"),
        "{err}"
    );
    assert!(!err.contains("wrong-pass-xyz"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // Without the CA: a TLS failure, exit 3.
    let out = layerscope()
        .args(["analyze", &reference, "--no-cache"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("--ca-cert"), "{err}");
    // `--insecure-registry` accepts the unverified certificate (still TLS).
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--no-cache",
            "--manifest-only",
            "--username",
            "alice",
            "--password-stdin",
        ])
        .args(["--insecure-registry", &registry.host])
        .write_stdin(password)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);

    // Credentials from a docker config.json (`DOCKER_CONFIG`).
    let config = tempfile::tempdir().unwrap();
    let auth = base64_std(format!("alice:{password}").as_bytes());
    std::fs::write(
        config.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
    )
    .unwrap();
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--format",
            "json",
            "--no-cache",
            "--ca-cert",
        ])
        .arg(&ca)
        .env("DOCKER_CONFIG", config.path())
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    // Credentials from a `credsStore` helper (`docker-credential-NAME get`).
    let helper = config.path().join("docker-credential-fake");
    let script = format!(
        "#!/bin/sh\nread server\nif [ \"$server\" = \"{}\" ]; then echo '{{\"Username\":\"alice\",\"Secret\":\"{password}\"}}'; else echo 'credentials not found in native keychain'; exit 1; fi\n",
        registry.host
    );
    std::fs::write(&helper, script).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    std::fs::write(
        config.path().join("config.json"),
        r#"{"credsStore":"fake"}"#,
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        config.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--format",
            "json",
            "--no-cache",
            "--ca-cert",
        ])
        .arg(&ca)
        .env("DOCKER_CONFIG", config.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    assert!(!String::from_utf8_lossy(&out.stderr).contains(password));
    // The same helper knows nothing of another registry: anonymous, not an error.
    let public = Registry::plain();
    public.push_fixture(&fixture(), "pub/app:1", &[]);
    let out = layerscope()
        .args([
            "analyze",
            &public.reference("pub/app:1"),
            "--format",
            "json",
            "--no-cache",
        ])
        .env("DOCKER_CONFIG", config.path())
        .env("PATH", &path)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn token_auth_with_harness_issuer() {
    if !tools() {
        return;
    }
    let registry = Registry::start(Setup {
        tls: false,
        basic: None,
        token: Some(("bob".into(), "tok-pass".into())),
        anonymous_pull: false,
        refresh_token: None,
    });
    let archive = registry.push_fixture(&fixture(), "team/tok:1", &[]);
    let reference = registry.reference("team/tok:1");
    let out = layerscope()
        .args([
            "analyze",
            &reference,
            "--format",
            "json",
            "--no-cache",
            "--username",
            "bob",
            "--password-stdin",
        ])
        .write_stdin("tok-pass")
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let pulled: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(independent(&pulled), independent(&archive_report(&archive)));
    // Anonymous: the issuer grants nothing, the registry refuses.
    let out = layerscope()
        .args(["analyze", &reference, "--no-cache"])
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("access denied"));
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn anonymous_pull_through_the_bearer_token_dance() {
    if !tools() {
        return;
    }
    let registry = Registry::start(Setup {
        tls: false,
        basic: None,
        token: Some(("carol".into(), "push-pass".into())),
        anonymous_pull: true,
        refresh_token: None,
    });
    registry.push_fixture(&fixture(), "library/public:1", &[]);
    let out = layerscope()
        .args([
            "analyze",
            &registry.reference("library/public:1"),
            "--format",
            "json",
            "--no-cache",
        ])
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    assert_fixture_figures(&serde_json::from_slice(&out.stdout).unwrap());
}

/// Runs `analyze --format json` on `reference` with only the credentials
/// files under `home` (docker config, containers auth files) and `extra`
/// flags.
fn analyze_with_home(reference: &str, home: &Path, extra: &[&str]) -> std::process::Output {
    layerscope()
        .args(["analyze", reference, "--format", "json", "--no-cache"])
        .args(extra)
        .env("DOCKER_CONFIG", home.join("docker"))
        .env("HOME", home)
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("REGISTRY_AUTH_FILE")
        .output()
        .unwrap()
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn identity_tokens_are_exchanged_at_the_token_server() {
    if !tools() {
        return;
    }
    const REFRESH: &str = "refresh-dave-7f3a";
    let registry = Registry::start(Setup {
        tls: false,
        basic: None,
        token: Some(("dave".into(), "dave-pass".into())),
        anonymous_pull: false,
        refresh_token: Some(REFRESH.into()),
    });
    registry.push_fixture(&fixture(), "team/idtok:1", &[]);
    let reference = registry.reference("team/idtok:1");
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join("docker")).unwrap();
    let docker_config = |token: &str| {
        std::fs::write(
            home.path().join("docker/config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"","identitytoken":"{token}"}}}}}}"#,
                registry.host
            ),
        )
        .unwrap();
    };
    // docker's config.json, as `docker login` leaves it for an OAuth login.
    docker_config(REFRESH);
    let out = analyze_with_home(&reference, home.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(REFRESH), "{stderr}");
    assert_fixture_figures(&serde_json::from_slice(&out.stdout).unwrap());
    // A containers auth.json given with --authfile (no docker config).
    std::fs::remove_file(home.path().join("docker/config.json")).unwrap();
    let authfile = home.path().join("auth.json");
    std::fs::write(
        &authfile,
        format!(
            r#"{{"auths":{{"{}":{{"identitytoken":"{REFRESH}"}}}}}}"#,
            registry.host
        ),
    )
    .unwrap();
    let out = analyze_with_home(
        &reference,
        home.path(),
        &["--authfile", authfile.to_str().unwrap()],
    );
    crate::support::assert_ok(&out);
    assert_fixture_figures(&serde_json::from_slice(&out.stdout).unwrap());
    // A token the server does not know: one clear line naming the registry,
    // exit 3, the token never printed.
    const WRONG: &str = "refresh-stale-0000";
    docker_config(WRONG);
    let out = analyze_with_home(&reference, home.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("`{}`", registry.host))
            && stderr.contains("refused the identity token (HTTP 401)"),
        "{stderr}"
    );
    assert!(!stderr.contains(WRONG), "{stderr}");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn missing_tag_is_a_clear_error() {
    if !tools() {
        return;
    }
    let registry = Registry::plain();
    registry.push_fixture(&fixture(), "team/app:1", &[]);
    let out = layerscope()
        .args([
            "analyze",
            &registry.reference("team/app:nope"),
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not found") && err.contains("team/app:nope"),
        "{err}"
    );
}

/// A registry with the fixture behind a fault proxy; returns the layer
/// digests (bottom first) and the image.
fn faulty() -> Option<(Registry, FaultProxy, Image)> {
    if !tools() {
        return None;
    }
    let registry = Registry::plain();
    let img = fixture();
    registry.push_fixture(&img, "team/app:1", &[]);
    let proxy = FaultProxy::start(&registry.host);
    Some((registry, proxy, img))
}

fn layer_digests(img: &Image) -> Vec<String> {
    img.layers
        .iter()
        .map(|l| layerscope::digest::Digest::of(&l.blob(img.compression)).to_string())
        .collect()
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_503_then_success() {
    let Some((_registry, proxy, _)) = faulty() else {
        return;
    };
    proxy.add("/manifests/", Fault::Unavailable, Some(2));
    let report = analyze_json(&format!("{}/team/app:1", proxy.host()), &[]);
    assert_fixture_figures(&report);
    assert_eq!(
        proxy.log().iter().filter(|l| l.ends_with("-> 503")).count(),
        2
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_429_with_retry_after_then_success() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let digests = layer_digests(&img);
    proxy.add(
        &format!("/blobs/{}", digests[0]),
        Fault::TooManyRequests(1),
        Some(1),
    );
    let started = std::time::Instant::now();
    let report = analyze_json(&format!("{}/team/app:1", proxy.host()), &[]);
    assert_fixture_figures(&report);
    assert!(proxy.log().iter().any(|l| l.ends_with("-> 429")));
    // Retry-After: 1 means no new request for at least a second.
    assert!(started.elapsed() >= std::time::Duration::from_secs(1));
}

/// The time between the proxy's first request for `digest` that it answered
/// with `status` and the next request for `digest`.
fn gap_after(proxy: &FaultProxy, digest: &str, status: &str) -> std::time::Duration {
    let log = proxy.timed_log();
    let mine: Vec<&(std::time::Instant, String)> =
        log.iter().filter(|(_, l)| l.contains(digest)).collect();
    let i = mine
        .iter()
        .position(|(_, l)| l.ends_with(&format!("-> {status}")))
        .unwrap_or_else(|| panic!("no {status} for {digest}: {log:?}"));
    let next = mine
        .get(i + 1)
        .unwrap_or_else(|| panic!("no retry after the {status}: {log:?}"));
    assert!(next.1.ends_with("-> ok"), "{log:?}");
    next.0.duration_since(mine[i].0)
}

/// Injects `fault` once on requests for `path`, analyzes through the proxy,
/// and checks the exact figures and that the retry waited what the header
/// asked (two seconds, more than the client's own backoff).
fn assert_retry_waits(proxy: &FaultProxy, path: &str, fault: Fault, status: &str) {
    proxy.add(path, fault, Some(1));
    let report = analyze_json(&format!("{}/team/app:1", proxy.host()), &[]);
    assert_fixture_figures(&report);
    let gap = gap_after(proxy, path, status);
    assert!(gap >= std::time::Duration::from_secs(2), "{gap:?}");
    assert!(gap < std::time::Duration::from_secs(10), "{gap:?}");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_429_retry_after_seconds_is_honoured() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let blob = format!("/blobs/{}", layer_digests(&img)[0]);
    assert_retry_waits(&proxy, &blob, Fault::TooManyRequests(2), "429");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_429_retry_after_http_date_is_honoured() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let blob = format!("/blobs/{}", layer_digests(&img)[1]);
    assert_retry_waits(&proxy, &blob, Fault::TooManyRequestsUntil(2), "429");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_503_retry_after_is_honoured() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    // Without the header a 503 is retried after 250 ms.
    let blob = format!("/blobs/{}", layer_digests(&img)[0]);
    assert_retry_waits(&proxy, &blob, Fault::UnavailableFor(2), "503");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_429_on_the_manifest_honours_retry_after() {
    let Some((_registry, proxy, _)) = faulty() else {
        return;
    };
    assert_retry_waits(&proxy, "/manifests/1", Fault::TooManyRequests(2), "429");
}

#[test]
fn harness_http_date_round_trips_through_the_parser() {
    use layerscope::source::registry::retry::retry_after;
    use std::time::{Duration, UNIX_EPOCH};
    assert_eq!(
        crate::support::registry::http_date(784_111_777),
        "Sun, 06 Nov 1994 08:49:37 GMT"
    );
    assert_eq!(
        crate::support::registry::http_date(951_868_800),
        "Wed, 01 Mar 2000 00:00:00 GMT"
    );
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    assert_eq!(
        retry_after(&crate::support::registry::http_date(1_700_000_007), now),
        Some(Duration::from_secs(7))
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_connection_cut_mid_blob_resumes() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let digests = layer_digests(&img);
    proxy.add(
        &format!("/blobs/{}", digests[0]),
        Fault::CutMidBody,
        Some(1),
    );
    let report = analyze_json(&format!("{}/team/app:1", proxy.host()), &[]);
    assert_fixture_figures(&report);
    let log = proxy.log();
    assert!(log.iter().any(|l| l.ends_with("-> cut")), "{log:?}");
    assert!(
        log.iter().filter(|l| l.contains(&digests[0])).count() >= 2,
        "{log:?}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_corrupt_blob_fails_naming_the_layer() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let digests = layer_digests(&img);
    proxy.add(&format!("/blobs/{}", digests[1]), Fault::CorruptBody, None);
    let out = layerscope()
        .args([
            "analyze",
            &format!("{}/team/app:1", proxy.host()),
            "--no-cache",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty(), "no report with wrong numbers");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("layer 1") && err.contains(&digests[1]),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn blob_redirect_to_another_host_is_followed() {
    let Some((registry, proxy, img)) = faulty() else {
        return;
    };
    let digests = layer_digests(&img);
    // Blob storage "elsewhere": the registry itself, on another port.
    let elsewhere = format!("http://{}/v2/team/app/blobs/{}", registry.host, digests[0]);
    proxy.add(
        &format!("/blobs/{}", digests[0]),
        Fault::Location(elsewhere),
        Some(1),
    );
    let report = analyze_json(&format!("{}/team/app:1", proxy.host()), &[]);
    assert_fixture_figures(&report);
    assert!(proxy.log().iter().any(|l| l.ends_with("-> 307")));
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn blob_redirect_elsewhere_drops_the_authorization_header() {
    if !tools() {
        return;
    }
    let registry = Registry::start(Setup {
        tls: false,
        basic: None,
        token: Some(("bob".into(), "tok-pass".into())),
        anonymous_pull: false,
        refresh_token: None,
    });
    let img = fixture();
    registry.push_fixture(&img, "team/app:1", &[]);
    let digests = layer_digests(&img);
    let front = FaultProxy::start(&registry.host);
    // "Blob storage" on another port: a second proxy that records headers.
    let storage = FaultProxy::start(&registry.host);
    front.add(
        &format!("/blobs/{}", digests[0]),
        Fault::Location(format!(
            "http://{}/v2/team/app/blobs/{}",
            storage.host(),
            digests[0]
        )),
        Some(1),
    );
    let out = layerscope()
        .args([
            "analyze",
            &format!("{}/team/app:1", front.host()),
            "--format",
            "json",
            "--no-cache",
            "--username",
            "bob",
            "--password-stdin",
        ])
        .write_stdin("tok-pass")
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_fixture_figures(&report);
    // The registry's host saw the token; the other host got the redirected
    // request without it.
    assert!(
        front.authorized().iter().any(|p| p.contains(&digests[1])),
        "{:?}",
        front.log()
    );
    assert!(
        storage.log().iter().any(|l| l.contains(&digests[0])),
        "{:?}",
        storage.log()
    );
    assert!(
        storage.authorized().is_empty(),
        "{:?}",
        storage.authorized()
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn fault_manifest_digest_mismatch_fails() {
    let Some((registry, proxy, img)) = faulty() else {
        return;
    };
    // Another image under another tag: asking for the first by digest gets
    // the second's manifest.
    let other = image(vec![layer(vec![file("x", b"other")])]);
    registry.push_fixture(&other, "team/app:2", &[]);
    let wanted = img.manifest_digest().to_string();
    proxy.add(
        &format!("/manifests/{wanted}"),
        Fault::Redirect("/v2/team/app/manifests/2".into()),
        None,
    );
    let out = layerscope()
        .args([
            "analyze",
            &format!("{}/team/app@{wanted}", proxy.host()),
            "--no-cache",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("digest") && err.contains(&wanted), "{err}");
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn manifest_only_downloads_no_layer() {
    let Some((_registry, proxy, img)) = faulty() else {
        return;
    };
    let digests = layer_digests(&img);
    let report = analyze_json(
        &format!("{}/team/app:1", proxy.host()),
        &["--manifest-only"],
    );
    assert_eq!(report["manifest_only"], true);
    let blob_sizes: Vec<u64> = img
        .layers
        .iter()
        .map(|l| l.blob(img.compression).len() as u64)
        .collect();
    assert_eq!(
        report["image"]["compressed_bytes"],
        blob_sizes.iter().sum::<u64>()
    );
    assert_eq!(
        report["pull"]["download_bytes"],
        blob_sizes.iter().sum::<u64>()
    );
    assert_eq!(report["layers"].as_array().unwrap().len(), 2);
    assert_eq!(report["layers"][1]["created_by"], "RUN rm /app/big.bin");
    assert_eq!(report["layers"][1]["uncompressed_bytes"], 0);
    assert!(
        !proxy
            .log()
            .iter()
            .any(|l| digests.iter().any(|d| l.contains(d))),
        "{:?}",
        proxy.log()
    );
}
