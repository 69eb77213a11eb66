//! The layer index cache end to end: what a second analysis reads, what a
//! corrupt cache does, and that `--no-cache` leaves no trace. Also: piped
//! stderr never carries progress bars.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use layerscope::fixture::{Layer, file, image, layer, sized_file, whiteout};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::layerscope;

fn base() -> Layer {
    layer(vec![
        sized_file("usr/lib/libbig.so", 40_000, 1),
        file("etc/os-release", b"ID=test\n"),
    ])
}

/// A three-layer image whose second layer writes a 30 000-byte wheel that
/// the third deletes.
fn write_image(dir: &Path, name: &str, top: &[u8]) -> PathBuf {
    let img = image(vec![
        base(),
        layer(vec![sized_file("wheels/x-1.0-py3-none-any.whl", 30_000, 2)]),
        layer(vec![whiteout("wheels"), file("app/main.py", top)]),
    ])
    .compressed(Compression::Gzip);
    let path = dir.join(name);
    img.write_oci_archive(&path, "t").unwrap();
    path
}

/// `analyze --format json` with the given cache flags; stderr must be empty.
fn analyze(image: &Path, cache: &[&str]) -> Value {
    let mut cmd = layerscope();
    cmd.arg("analyze")
        .arg(image)
        .args(["--format", "json"])
        .args(cache)
        .env_remove("XDG_CACHE_HOME")
        .env_remove("LAYERSCOPE_CACHE_DIR");
    let run = crate::support::run_cmd(cmd);
    // Piped stderr: no progress bars, no escape codes, no noise at all.
    assert!(run.stderr.is_empty(), "stderr: {:?}", run.stderr);
    run.ok_json()
}

fn counters(report: &Value) -> (u64, u64) {
    (
        report["scan"]["layers_scanned"].as_u64().unwrap(),
        report["scan"]["layers_cached"].as_u64().unwrap(),
    )
}

/// The report without the scan counters, for comparing cached and uncached runs.
fn without_scan(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("scan");
    report
}

/// The report without the verification section (which differs by design).
fn without_verification(mut report: Value) -> Value {
    report.as_object_mut().unwrap().remove("verification");
    report
}

fn cache_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(versions) = std::fs::read_dir(dir) {
        for version in versions {
            for f in std::fs::read_dir(version.unwrap().path()).unwrap() {
                files.push(f.unwrap().path());
            }
        }
    }
    files.sort();
    files
}

#[test]
fn second_run_scans_no_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];

    let cold = analyze(&img, &flags);
    assert_eq!(counters(&cold), (3, 0));
    assert_eq!(cache_files(&cache).len(), 3);
    let warm = analyze(&img, &flags);
    assert_eq!(counters(&warm), (0, 3));
    // By construction: the deleted wheel is the only shadowed file.
    assert_eq!(warm["image"]["shadowed_bytes"], 30_000);
    assert_eq!(warm["image"]["content_bytes"], 40_000 + 8 + 30_000 + 9);
    assert_eq!(without_scan(warm), without_scan(cold.clone()));
    // Verification does not trust indexes made from unverified local
    // bytes: it rescans, and caches verified indexes that it then uses.
    let strict = analyze(&img, &[&flags[..], &["--verify"]].concat());
    assert_eq!(counters(&strict), (3, 0));
    let strict_warm = analyze(&img, &[&flags[..], &["--verify"]].concat());
    assert_eq!(counters(&strict_warm), (0, 3));
    assert_eq!(
        without_verification(without_scan(strict)),
        without_verification(without_scan(cold))
    );
}

#[test]
fn shared_base_layer_is_reused_by_another_image() {
    let tmp = tempfile::tempdir().unwrap();
    let first = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let second = write_image(tmp.path(), "b.tar", b"print(22)\n");
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];

    assert_eq!(counters(&analyze(&first, &flags)), (3, 0));
    // Same base and wheel layers, a different top layer.
    let report = analyze(&second, &flags);
    assert_eq!(counters(&report), (1, 2));
    assert_eq!(report["image"]["content_bytes"], 40_000 + 8 + 30_000 + 10);
    assert_eq!(cache_files(&cache).len(), 4);
}

#[test]
fn corrupt_cache_files_are_rebuilt() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];
    let uncached = analyze(&img, &["--no-cache"]);

    analyze(&img, &flags);
    let files = cache_files(&cache);
    assert_eq!(files.len(), 3);
    // Garbage, a truncated file and an empty one.
    std::fs::write(&files[0], b"not a layer index").unwrap();
    let good = std::fs::read(&files[1]).unwrap();
    std::fs::write(&files[1], &good[..good.len() / 2]).unwrap();
    std::fs::write(&files[2], b"").unwrap();

    let rebuilt = analyze(&img, &flags);
    assert_eq!(counters(&rebuilt), (3, 0));
    assert_eq!(without_scan(rebuilt), without_scan(uncached.clone()));
    // The files were rewritten: the next run is fully cached again.
    let warm = analyze(&img, &flags);
    assert_eq!(counters(&warm), (0, 3));
    assert_eq!(without_scan(warm), without_scan(uncached));
}

#[test]
fn no_cache_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let cache = tmp.path().join("cache");
    let xdg = tmp.path().join("xdg");
    for _ in 0..2 {
        let out = layerscope()
            .arg("analyze")
            .arg(&img)
            .args([
                "--format",
                "json",
                "--no-cache",
                "--cache-dir",
                cache.to_str().unwrap(),
            ])
            .env("XDG_CACHE_HOME", &xdg)
            .output()
            .unwrap();
        assert!(out.status.success());
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(counters(&report), (3, 0));
    }
    assert!(!cache.exists());
    assert!(!xdg.exists());
}

#[test]
fn default_cache_is_under_xdg_cache_home() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let xdg = tmp.path().join("xdg");
    let run = || {
        let out = layerscope()
            .arg("analyze")
            .arg(&img)
            .args(["--format", "json"])
            .env("XDG_CACHE_HOME", &xdg)
            .env_remove("LAYERSCOPE_CACHE_DIR")
            .output()
            .unwrap();
        assert!(out.status.success());
        counters(&serde_json::from_slice(&out.stdout).unwrap())
    };
    assert_eq!(run(), (3, 0));
    assert_eq!(cache_files(&xdg.join("layerscope")).len(), 3);
    assert_eq!(run(), (0, 3));
}

#[test]
fn unwritable_cache_dir_is_not_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    // A file where the cache directory should be: nothing can be stored.
    let blocker = tmp.path().join("blocker");
    std::fs::write(&blocker, b"").unwrap();
    let report = analyze(&img, &["--cache-dir", blocker.to_str().unwrap()]);
    assert_eq!(counters(&report), (3, 0));
    assert_eq!(report["image"]["shadowed_bytes"], 30_000);
}

#[test]
fn piped_text_output_has_no_progress_escape_codes() {
    let tmp = tempfile::tempdir().unwrap();
    let img = write_image(tmp.path(), "a.tar", b"print(1)\n");
    let out = layerscope()
        .arg("analyze")
        .arg(&img)
        .arg("--no-cache")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        !out.stderr.contains(&0x1b),
        "stderr: {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.stdout.contains(&0x1b), "stdout has escape codes");
}

/// Against a real registry: the second analysis downloads no blob at all,
/// and an image on the same base downloads only its own top layer.
#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn warm_registry_analysis_downloads_no_layer() {
    if !crate::support::registry::tools() {
        return;
    }
    let registry = crate::support::registry::Registry::plain();
    let first = image(vec![
        base(),
        layer(vec![sized_file("wheels/x-1.0-py3-none-any.whl", 30_000, 2)]),
    ]);
    let second = image(vec![
        base(),
        layer(vec![file("app/main.py", b"print(22)\n")]),
    ]);
    registry.push_fixture(&first, "team/app:1", &[]);
    registry.push_fixture(&second, "team/app:2", &[]);
    let proxy = crate::support::registry::FaultProxy::start(&registry.host);
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("cache");
    let flags = ["--cache-dir", cache.to_str().unwrap()];
    let blob_gets = |log: &[String]| {
        log.iter()
            .filter(|l| l.contains("/blobs/sha256:"))
            .cloned()
            .collect::<Vec<_>>()
    };
    let digest = |l: &Layer| layerscope::digest::Digest::of(&l.blob(Compression::Gzip)).to_string();

    let cold = analyze_ref(&format!("{}/team/app:1", proxy.host()), &flags);
    assert_eq!(counters(&cold), (2, 0));
    let after_cold = proxy.log().len();
    let warm = analyze_ref(&format!("{}/team/app:1", proxy.host()), &flags);
    assert_eq!(counters(&warm), (0, 2));
    assert_eq!(warm["image"]["shadowed_bytes"], 0);
    assert_eq!(warm["image"]["content_bytes"], 40_000 + 8 + 30_000);
    let log = proxy.log();
    // Only the config blob is fetched again (it names the layers); no layer blob.
    let layer_gets: Vec<String> = blob_gets(&log[after_cold..])
        .into_iter()
        .filter(|l| first.layers.iter().any(|layer| l.contains(&digest(layer))))
        .collect();
    assert!(layer_gets.is_empty(), "{layer_gets:?}");

    let before = proxy.log().len();
    let other = analyze_ref(&format!("{}/team/app:2", proxy.host()), &flags);
    assert_eq!(counters(&other), (1, 1));
    let log = proxy.log();
    let gets = blob_gets(&log[before..]);
    assert!(
        !gets.iter().any(|l| l.contains(&digest(&second.layers[0]))),
        "{gets:?}"
    );
    assert!(
        gets.iter().any(|l| l.contains(&digest(&second.layers[1]))),
        "{gets:?}"
    );
}

fn analyze_ref(reference: &str, flags: &[&str]) -> Value {
    let mut args = vec!["analyze", reference, "--format", "json"];
    args.extend_from_slice(flags);
    crate::support::run(args).ok_json()
}

/// Writes the ~1 GB benchmark image of BENCHMARKS (not a test): a 100 000-file
/// layer of small files and four layers of 1 MB files, gzip-compressed.
///
/// `LAYERSCOPE_BENCH_IMAGE=/work/bench-data/big.oci.tar cargo test --test tests -- --ignored write_benchmark_image`
#[test]
#[ignore = "writes a 1 GB benchmark image; run by hand"]
fn write_benchmark_image() {
    let Some(path) = std::env::var_os("LAYERSCOPE_BENCH_IMAGE") else {
        return;
    };
    let small = (0..100_000u64)
        .map(|i| {
            sized_file(
                format!("usr/lib/python3/site-packages/pkg{}/mod{i}.py", i % 1000),
                2_000,
                i,
            )
        })
        .collect();
    let mut layers = vec![layer(small)];
    for l in 0..4u64 {
        layers.push(layer(
            (0..200u64)
                .map(|i| {
                    sized_file(
                        format!("opt/l{l}/blob{i}.bin"),
                        1_000_000,
                        1_000_000 + l * 1000 + i,
                    )
                })
                .collect(),
        ));
    }
    image(layers)
        .compressed(Compression::Gzip)
        .write_oci_archive(Path::new(&path), "big")
        .unwrap();
}
