//! `layerscope pull` and the `pull` object of `analyze`, end to end on
//! fixture images; the compressibility sample against full recompression.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use layerscope::fixture::{self, Image, Layer, file, image, layer, sized_file};
use layerscope::scan::Compression;
use serde_json::Value;

use crate::support::{layerscope, noise};

/// Deterministic text-like bytes: words drawn from a small vocabulary.
fn words(size: usize, seed: u64) -> Vec<u8> {
    const VOCAB: &[&str] = &[
        "import", "numpy", "def", "return", "self", "class", "torch", "tensor", "(", ")", ":",
        "\n    ", "=", "data", "model", "layer",
    ];
    let r = noise(size, seed);
    let mut out = Vec::with_capacity(size + 16);
    let mut i = 0;
    while out.len() < size {
        out.extend_from_slice(VOCAB[(r[i % r.len()] as usize) % VOCAB.len()].as_bytes());
        out.push(b' ');
        i += 1;
    }
    out.truncate(size);
    out
}

fn blob_len(l: &Layer) -> u64 {
    l.blob(Compression::Gzip).len() as u64
}

fn base_layers() -> Vec<Layer> {
    vec![
        layer(vec![
            file("etc/os-release", b"ID=fixture\n"),
            sized_file("usr/lib/libc.so.6", 300_000, 1),
        ])
        .created_by("ADD rootfs.tar /"),
        layer(vec![file(
            "usr/lib/python3/site-packages/numpy/core.py",
            words(200_000, 2),
        )])
        .created_by("RUN /bin/sh -c pip install -r requirements.txt"),
    ]
}

/// Release 1 and release 2 of an app: same base layers, new source, and a
/// dependency layer rebuilt (different bytes, same instruction) above it.
fn releases() -> (Image, Image, Vec<Layer>) {
    let app = |v: u64| {
        layer(vec![file("app/main.py", words(50_000, 10 + v))]).created_by("COPY . /app # buildkit")
    };
    let assets = |v: u64| {
        layer(vec![file("app/assets.bin", noise(120_000, 20 + v))])
            .created_by("RUN /bin/sh -c make assets")
    };
    let mut old = base_layers();
    old.extend([app(1), assets(1)]);
    let mut new = base_layers();
    new.extend([app(2), assets(2)]);
    let changed = new[2..].to_vec();
    (image(old), image(new), changed)
}

fn run_json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json", "--no-cache"]);
    crate::support::run(all).ok_json()
}

fn write(img: &Image, dir: &Path, name: &str) -> String {
    let path = dir.join(name);
    img.write_oci_archive(&path, "latest").unwrap();
    format!("oci-archive:{}", path.display())
}

#[test]
fn pull_new_with_old_downloads_exactly_the_changed_layers() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, changed) = releases();
    let old_ref = write(&old, dir.path(), "old.tar");
    let new_ref = write(&new, dir.path(), "new.tar");
    let expected: u64 = changed.iter().map(blob_len).sum();
    let shared: u64 = base_layers().iter().map(blob_len).sum();

    let report = run_json(&["pull", &new_ref, "--have", &old_ref]);
    let pull = &report["images"][0]["pull"];
    assert_eq!(pull["download_bytes"], expected);
    assert_eq!(pull["shared_bytes"], shared);
    assert_eq!(pull["total_compressed_bytes"], expected + shared);
    let flags: Vec<bool> = pull["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["shared"].as_bool().unwrap())
        .collect();
    assert_eq!(flags, [true, true, false, false]);
    // Bytes written to disk: the tar streams of the two changed layers.
    let disk: u64 = changed.iter().map(|l| l.tar().len() as u64).sum();
    assert_eq!(pull["disk_bytes"], disk);

    // The same through `analyze --have`.
    let analysis = run_json(&["analyze", &new_ref, "--have", &old_ref]);
    assert_eq!(analysis["pull"]["download_bytes"], expected);

    // Without --have everything is downloaded.
    let report = run_json(&["pull", &new_ref]);
    assert_eq!(
        report["images"][0]["pull"]["download_bytes"],
        expected + shared
    );
}

#[test]
fn volatile_layer_below_a_rebuilt_one_is_advised_last() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, changed) = releases();
    let old_ref = write(&old, dir.path(), "old.tar");
    let new_ref = write(&new, dir.path(), "new.tar");
    let report = run_json(&["pull", &new_ref, "--have", &old_ref]);
    let reorder = &report["images"][0]["pull"]["reorder"];
    // Layer 2 (`COPY . /app`) changed; layer 3 ran the same instruction as
    // before but was rebuilt: with the source last only layer 2 changes.
    assert_eq!(reorder["layer"], 2);
    assert_eq!(reorder["rebuilt_layers"], serde_json::json!([3]));
    assert_eq!(
        reorder["redownload_bytes"],
        blob_len(&changed[0]) + blob_len(&changed[1])
    );
    assert_eq!(reorder["redownload_bytes_after"], blob_len(&changed[0]));
    let finding = report["images"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "layer-order")
        .cloned()
        .unwrap();
    assert_eq!(finding["compressed_bytes"], blob_len(&changed[1]));
    assert_eq!(finding["bytes"], changed[1].tar().len() as u64);
}

#[test]
fn sharing_matrix_of_two_releases() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, changed) = releases();
    let old_ref = write(&old, dir.path(), "old.tar");
    let new_ref = write(&new, dir.path(), "new.tar");
    let shared: u64 = base_layers().iter().map(blob_len).sum();
    let old_own: u64 = old.layers[2..].iter().map(blob_len).sum();
    let new_own: u64 = changed.iter().map(blob_len).sum();
    let report = run_json(&["pull", &old_ref, &new_ref]);
    let s = &report["sharing"];
    assert_eq!(
        s["shared_bytes"],
        serde_json::json!([[shared + old_own, shared], [shared, shared + new_own]])
    );
    assert_eq!(s["distinct_bytes"], shared + old_own + new_own);
    assert_eq!(s["sum_bytes"], 2 * shared + old_own + new_own);
}

#[test]
fn dominant_layer_time_and_split_estimate() {
    let dir = tempfile::tempdir().unwrap();
    let small_a = layer(vec![file("a", noise(100_000, 1))]).created_by("RUN a");
    let small_b = layer(vec![file("b", noise(200_000, 2))]).created_by("RUN b");
    let big =
        layer(vec![file("model.safetensors", noise(3_000_000, 3))]).created_by("COPY model /");
    let (a, b, g) = (blob_len(&small_a), blob_len(&small_b), blob_len(&big));
    let img = image(vec![small_a, small_b, big]);
    let r = write(&img, dir.path(), "img.tar");
    // 5 Mbit/s, 3 streams: each layer gets 5/3 Mbit/s, so a layer of n
    // bytes takes n × 8 × 3 / (5 × 10^6) s; all three start at once.
    let secs = |n: u64| n as f64 * 24.0 / 5e6;
    let report = run_json(&["pull", &r, "--bandwidth", "5Mbit/s"]);
    let pull = &report["images"][0]["pull"];
    let close =
        |v: &Value, want: f64| assert!((v.as_f64().unwrap() - want).abs() < 1e-6, "{v} != {want}");
    close(&pull["estimated_seconds"], secs(g));
    // Split in three: part 1 starts at 0, part 2 when layer 0 ends, part 3
    // when layer 1 ends.
    let part = g / 3;
    let last = g - 2 * part;
    let after = secs(part)
        .max(secs(a) + secs(part))
        .max(secs(b) + secs(last));
    assert_eq!(pull["split"]["layer"], 2);
    assert_eq!(pull["split"]["parts"], 3);
    close(&pull["split"]["seconds_after"], after);
    let kinds: Vec<&str> = report["images"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"pull-dominant-layer"), "{kinds:?}");
    // The model weights are counted as already compressed.
    assert_eq!(pull["layers"][2]["precompressed_bytes"], 3_000_000);
    assert_eq!(pull["layers"][2]["model_bytes"], 3_000_000);
    assert_eq!(pull["compression"]["model_bytes"], 3_000_000);

    // At 1 Gbit/s the same pull is two hundred times faster.
    let fast = run_json(&["pull", &r, "--bandwidth", "1Gbit/s"]);
    close(
        &fast["images"][0]["pull"]["estimated_seconds"],
        secs(g) / 200.0,
    );
}

#[test]
fn sampled_estimates_match_full_recompression() {
    // A 40 MB layer, more than twice the 16 MiB sample cap: files of
    // random sizes (1 to 200 kB, like site-packages) and kinds
    // (incompressible data, text, zeros) in random order, unlike a periodic
    // pattern that regular sampling would alias with.
    let r = noise(3 * 2000, 99);
    let mut items = Vec::new();
    let mut total = 0;
    let mut i = 0;
    while total < 40_000_000 {
        let size = 1_000
            + (u32::from_le_bytes([r[3 * i], r[3 * i + 1], r[3 * i + 2], 0]) as usize % 200_000);
        let item = match r[3 * i + 2] % 5 {
            0 | 1 => file(format!("data/{i}.bin"), noise(size, i as u64)),
            2 | 3 => file(format!("src/{i}.py"), words(size, 1000 + i as u64)),
            _ => file(format!("zero/{i}"), vec![0u8; size]),
        };
        items.push(item);
        total += size;
        i += 1;
    }
    let l = layer(items);
    let tar = l.tar();
    assert!(
        tar.len() > 2 * (16 << 20),
        "the layer must be larger than the sample"
    );
    let sample = gzip_sample(&l.blob(Compression::Gzip));
    assert_eq!(sample.stream_bytes, tar.len() as u64);
    assert!(sample.sampled_bytes <= 16 << 20);
    assert!(sample.gzip_sampled_bytes <= 2 << 20);
    let gzip = fixture::compress(&tar, Compression::Gzip).len() as f64;
    let zstd = fixture::compress(&tar, Compression::Zstd).len() as f64;
    let within = |est: u64, real: f64| {
        let err = (est as f64 - real).abs() / real;
        assert!(
            err < 0.10,
            "estimate {est} vs {real}: {:.1}% off",
            err * 100.0
        );
    };
    within(sample.estimated_gzip_bytes(), gzip);
    within(sample.estimated_zstd_bytes(), zstd);
}

/// Scans a gzip layer blob and returns its compressibility sample.
fn gzip_sample(blob: &[u8]) -> layerscope::scan::sample::CompressionSample {
    let info = layerscope::source::LayerInfo {
        digest: layerscope::Digest::of(blob),
        diff_id: None,
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    };
    layerscope::scan::scan_layer(blob, &info, layerscope::scan::Verify::DiffIds)
        .unwrap()
        .sample
        .unwrap()
}

#[test]
fn small_layers_are_recompressed_whole() {
    // Below one gzip slice (64 KiB) the sample is the whole stream: the
    // gzip-6 estimate is the fixture's own gzip-6 blob size (both use level
    // 6 with the same backend), the zstd-3 one its zstd-3 size.
    let l = layer(vec![file("src/a.py", words(50_000, 7))]);
    let blob = l.blob(Compression::Gzip);
    let sample = gzip_sample(&blob);
    assert_eq!(sample.sampled_bytes, l.tar().len() as u64);
    assert_eq!(sample.estimated_gzip_bytes(), blob.len() as u64);
    // zstd frames differ by a few header bytes between encoders.
    let zstd = fixture::compress(&l.tar(), Compression::Zstd).len() as f64;
    assert!((sample.estimated_zstd_bytes() as f64 - zstd).abs() / zstd < 0.005);
}

#[test]
fn bad_bandwidth_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (old, _, _) = releases();
    let r = write(&old, dir.path(), "old.tar");
    let out = layerscope()
        .args(["pull", &r, "--bandwidth", "fast"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bandwidth"));
    let out = layerscope()
        .args(["pull", &r, "--have", "oci-archive:/nonexistent/old.tar"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn dominant_chown_layer_is_advised_away_not_split() {
    let dir = tempfile::tempdir().unwrap();
    let base = file("usr/lib/libbase.so", noise(1_000_000, 40));
    let wheel = file(
        "usr/lib/python3/site-packages/torch/lib.so",
        noise(2_000_000, 41),
    );
    let img = image(vec![
        layer(vec![base.clone()]).created_by("ADD rootfs /"),
        layer(vec![wheel.clone()]).created_by("RUN pip install torch"),
        layer(vec![
            fixture::owned(base, 1000),
            fixture::owned(wheel, 1000),
        ])
        .created_by("RUN chown -R app /usr"),
    ]);
    let r = write(&img, dir.path(), "img.tar");
    let report = run_json(&["pull", &r, "--bandwidth", "1Mbit/s"]);
    let pull = &report["images"][0]["pull"];
    assert_eq!(pull["split"]["layer"], 2);
    let f = report["images"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "pull-dominant-layer")
        .cloned()
        .unwrap();
    assert!(f["fix"].as_str().unwrap().contains("drop that step"), "{f}");
    assert_eq!(f["bytes"], img.layers[2].tar().len() as u64);
    assert_eq!(f["compressed_bytes"], blob_len(&img.layers[2]));
}

#[test]
fn model_weights_that_dominate_are_advised_out_of_the_image() {
    let dir = tempfile::tempdir().unwrap();
    let img = image(vec![
        layer(vec![sized_file("usr/lib/libpython.so", 20_000_000, 50)]).created_by("ADD rootfs /"),
        layer(vec![
            sized_file("models/bert/model.safetensors", 120_000_000, 51),
            file("models/bert/config.json", b"{}"),
        ])
        .created_by("COPY models /models"),
    ]);
    let r = write(&img, dir.path(), "img.tar");
    let report = run_json(&["pull", &r]);
    let f = report["images"][0]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "model-weights")
        .cloned()
        .unwrap();
    assert_eq!(f["bytes"], 120_000_000);
    assert_eq!(f["layers"], serde_json::json!([1]));
    assert_eq!(
        f["paths"],
        serde_json::json!(["/models/bert/model.safetensors"])
    );
    assert_eq!(
        report["images"][0]["pull"]["compression"]["model_bytes"],
        120_000_000
    );
}

#[test]
fn manifest_only_pull_needs_no_layer() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, changed) = releases();
    let old_ref = write(&old, dir.path(), "old.tar");
    let new_ref = write(&new, dir.path(), "new.tar");
    let report = run_json(&["pull", &new_ref, "--have", &old_ref, "--manifest-only"]);
    let pull = &report["images"][0]["pull"];
    assert_eq!(
        pull["download_bytes"],
        changed.iter().map(blob_len).sum::<u64>()
    );
    assert_eq!(pull["disk_bytes"], Value::Null);
    assert_eq!(pull["compression"], Value::Null);
}

#[test]
fn analyze_text_has_the_pull_section() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new, _) = releases();
    let old_ref = write(&old, dir.path(), "old.tar");
    let new_ref = write(&new, dir.path(), "new.tar");
    let out = layerscope()
        .args([
            "analyze",
            &new_ref,
            "--have",
            &old_ref,
            "--no-cache",
            "--bandwidth",
            "1Gbit/s",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Pull at 1 Gbit/s, 3 layers at a time"),
        "{text}"
    );
    assert!(text.contains("already on the node"), "{text}");
}

#[test]
fn have_matches_by_chain_id_across_compressions() {
    // The previous release as a classic `docker save` archive (plain tar
    // layers, other blob digests): the node has the same uncompressed base
    // layers unpacked, so only the changed layers download.
    let dir = tempfile::tempdir().unwrap();
    let (old, new, changed) = releases();
    let old_path = dir.path().join("old.docker.tar");
    old.write_docker_archive(&old_path, "old:1").unwrap();
    let old_ref = format!("docker-archive:{}", old_path.display());
    let new_ref = write(&new, dir.path(), "new.tar");
    let report = run_json(&["pull", &new_ref, "--have", &old_ref]);
    let pull = &report["images"][0]["pull"];
    assert_eq!(
        pull["download_bytes"],
        changed.iter().map(blob_len).sum::<u64>()
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn registry_pull_new_with_old_downloads_exactly_the_changed_layers() {
    use crate::support::registry::{Registry, tools};
    if !tools() {
        return;
    }
    let registry = Registry::plain();
    let (old, new, changed) = releases();
    registry.push_fixture(&old, "team/app:1", &[]);
    registry.push_fixture(&new, "team/app:2", &[]);
    let old_ref = format!("docker://{}", registry.reference("team/app:1"));
    let new_ref = format!("docker://{}", registry.reference("team/app:2"));
    let expected: u64 = changed.iter().map(blob_len).sum();
    let shared: u64 = base_layers().iter().map(blob_len).sum();

    let report = run_json(&["pull", &new_ref, "--have", &old_ref]);
    let pull = &report["images"][0]["pull"];
    assert_eq!(pull["download_bytes"], expected);
    assert_eq!(pull["shared_bytes"], shared);
    let disk: u64 = changed.iter().map(|l| l.tar().len() as u64).sum();
    assert_eq!(pull["disk_bytes"], disk);
    assert_eq!(
        pull["reorder"]["redownload_bytes_after"],
        blob_len(&changed[0])
    );

    // From the manifests alone: the same bytes, no layer read.
    let report = run_json(&["pull", &new_ref, "--have", &old_ref, "--manifest-only"]);
    assert_eq!(report["images"][0]["pull"]["download_bytes"], expected);

    // Both releases at once: the base layers are shared.
    let report = run_json(&["pull", &old_ref, &new_ref, "--manifest-only"]);
    assert_eq!(report["sharing"]["shared_bytes"][0][1], shared);
}
