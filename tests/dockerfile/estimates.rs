//! Promised compressed bytes against what the change obtains, on fixture
//! layers built twice, with and without the files a change removes: the
//! obtained saving is the difference of the two gzip blobs (what a pull
//! downloads), never the program's figure. Tolerance: 10 %, as issue 12
//! asks of real rebuilds.
//!
//! The layers mix content that gzip treats very differently (wheels beside
//! sources, package lists beside machine code), where one ratio per layer
//! is off by far more than 10 %; each test checks that too, so it fails if
//! the estimate falls back to the layer's ratio.

use layerscope::fixture::{Item, Layer, file, image, layer, pattern, symlink};
use layerscope::scan::Compression;
use std::collections::{BTreeSet, HashSet};

use crate::support::{layerscope, noise};

/// `n` bytes like a shared object: the ELF magic, then random bytes from
/// 48 values (about 5.6 bits per byte), so gzip keeps roughly three
/// quarters of them.
fn code(n: usize, seed: u64) -> Vec<u8> {
    let mut out = b"\x7fELF\x02\x01\x01".to_vec();
    out.extend(noise(n - out.len(), seed).into_iter().map(|b| b % 48));
    out
}

/// `n` bytes like an apt `Packages` list.
fn packages_list(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut i = 0u64;
    while out.len() < n {
        out.extend_from_slice(
            format!(
                "Package: lib{i}-{}\nVersion: {}.{}-{}\nInstalled-Size: {}\nMaintainer: Debian <debian@lists.debian.org>\nArchitecture: amd64\nDescription: library number {i}\nSHA256: {:016x}{:016x}\n\n",
                i * 7919 % 1000,
                i % 13,
                i % 7,
                i % 5,
                i * 37 % 4000,
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                i.wrapping_mul(0xc2b2_ae3d_27d4_eb4f)
            )
            .as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

const BASE: &str = "/bin/sh -c #(nop) ADD file:1 in / ";

fn blob(l: &Layer) -> i64 {
    l.blob(Compression::Gzip).len() as i64
}

/// `optimize --format json` of an image of `layers` with `dockerfile`.
fn optimize(layers: Vec<Layer>, dockerfile: &str, extra: &[&str]) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("img.tar");
    image(layers).write_oci_archive(&archive, "t").unwrap();
    let df = dir.path().join("Dockerfile");
    std::fs::write(&df, dockerfile).unwrap();
    let json = dir.path().join("advice.json");
    let out = layerscope()
        .arg("optimize")
        .arg(&archive)
        .args(["--no-cache", "--format", "json", "--dockerfile"])
        .arg(&df)
        .arg("-o")
        .arg(&json)
        .args(extra)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap()
}

fn advice<'a>(report: &'a serde_json::Value, change_kind: &str) -> &'a serde_json::Value {
    report["advice"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["change_kind"] == change_kind)
        .unwrap_or_else(|| panic!("no {change_kind} in {report:#}"))
}

fn within_10_percent(promised: i64, obtained: i64) -> bool {
    (promised - obtained).abs() * 10 <= obtained.abs()
}

/// A pip install that leaves its cache of wheels beside installed sources
/// and shared objects: the cache costs its full size compressed, far more
/// than the layer's ratio says.
#[test]
fn pip_cache_of_wheels_is_promised_at_its_compressed_size() {
    let site = "usr/local/lib/python3.11/site-packages";
    let installed: Vec<Item> = (0..40)
        .map(|i| file(format!("{site}/pkg/mod{i}.py"), pattern(20_000, i)))
        .chain((0..4).map(|i| file(format!("{site}/pkg/_ext{i}.so"), code(100_000, i))))
        .collect();
    let mut cache: Vec<Item> = Vec::new();
    for i in 0..6u64 {
        // pip's HTTP cache: a wheel body behind pip's own header, no name.
        let mut body = b"\x00\x02cc=4,\x00max-age".to_vec();
        body.extend(noise(60_000, 100 + i));
        cache.push(file(
            format!("root/.cache/pip/http-v2/{i}/a/b/c{i}.body"),
            body,
        ));
        let mut whl = b"PK\x03\x04".to_vec();
        whl.extend(noise(30_000, 200 + i));
        cache.push(file(
            format!("root/.cache/pip/wheels/{i}/x-1.0-py3-none-any.whl"),
            whl,
        ));
    }
    let run = "RUN /bin/sh -c pip install -r requirements.txt # buildkit";
    let base = layer(vec![file("bin/sh", code(10_000, 99))]).created_by(BASE);
    let with = layer(
        installed
            .iter()
            .cloned()
            .chain(cache.iter().cloned())
            .collect(),
    )
    .created_by(run);
    let without = layer(installed.clone()).created_by(run);
    let obtained = blob(&with) - blob(&without);
    let tar_with = with.tar().len() as f64;

    let text = "FROM python:3.11\nRUN pip install -r requirements.txt\n";
    let report = optimize(vec![base, with.clone()], text, &[]);
    let a = advice(&report, "pip-no-cache");
    let cache_bytes: u64 = cache
        .iter()
        .map(|i| match i {
            Item::File { data, .. } => data.len() as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(a["bytes"], cache_bytes);
    let promised = a["compressed_bytes"].as_i64().unwrap();
    eprintln!("promised {promised}, obtained {obtained}");
    assert!(
        within_10_percent(promised, obtained),
        "promised {promised}, obtained {obtained}"
    );
    // One ratio for the layer would promise a third of it.
    let flat = (cache_bytes as f64 * blob(&with) as f64 / tar_with) as i64;
    eprintln!("one ratio per layer: {flat}");
    assert!(
        !within_10_percent(flat, obtained),
        "flat {flat}, obtained {obtained}"
    );
}

/// `apt-get update` and an install in one RUN, the lists left: the lists
/// are text that gzip shrinks far more than the libraries beside them.
#[test]
fn apt_lists_beside_libraries_are_not_over_promised() {
    let lists = [
        (
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages",
            900_000,
        ),
        (
            "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm-updates_main_binary-amd64_Packages",
            60_000,
        ),
    ];
    let libs: Vec<Item> = (0..6)
        .map(|i| {
            file(
                format!("usr/lib/x86_64-linux-gnu/libfoo{i}.so.1"),
                code(150_000, i),
            )
        })
        .collect();
    let list_items: Vec<Item> = lists
        .iter()
        .map(|(p, n)| file(p, packages_list(*n)))
        .collect();
    let run = "RUN /bin/sh -c apt-get update && apt-get install -y libfoo # buildkit";
    let base = layer(vec![file("bin/sh", code(10_000, 99))]).created_by(BASE);
    let with = layer(libs.iter().cloned().chain(list_items).collect()).created_by(run);
    let without = layer(libs.clone()).created_by(run);
    let obtained = blob(&with) - blob(&without);

    let text = "FROM debian\nRUN apt-get update && apt-get install -y libfoo\n";
    let report = optimize(vec![base, with.clone()], text, &[]);
    let a = advice(&report, "apt-cleanup");
    assert_eq!(a["bytes"], 960_000);
    let promised = a["compressed_bytes"].as_i64().unwrap();
    eprintln!("promised {promised}, obtained {obtained}");
    assert!(
        within_10_percent(promised, obtained),
        "promised {promised}, obtained {obtained}"
    );
    let flat = (960_000.0 * blob(&with) as f64 / with.tar().len() as f64) as i64;
    eprintln!("one ratio per layer: {flat}");
    assert!(
        !within_10_percent(flat, obtained),
        "flat {flat}, obtained {obtained}"
    );
}

/// `--no-install-recommends` on a real slice of a Debian dpkg database
/// (`testdata/dpkg/`): `apt-get install libbz2-dev libgomp1` brought
/// `bzip2-doc` as libbz2-dev's recommendation. The change lists it with
/// the bytes of its files (from the tree it was taken from) and promises
/// what the layer loses without them.
#[test]
fn no_install_recommends_lists_the_recommended_packages_with_their_bytes() {
    use crate::packages::{LISTS, listed, read, tree};
    let tree = tree();
    let base_paths: HashSet<String> = ["bin", "lib"]
        .into_iter()
        .map(String::from)
        .chain(listed("bzip2.list"))
        .chain(listed("libbz2-1.0:amd64.list"))
        .collect();
    let later: BTreeSet<String> = LISTS
        .iter()
        .flat_map(|(_, l)| listed(l))
        .filter(|p| !base_paths.contains(p))
        .collect();
    let doc: HashSet<String> = listed("bzip2-doc.list").into_iter().collect();
    // Files as on the host: compressed ones (`.gz`) are gzip-like noise.
    let item = |i: usize, p: &str| -> Option<Item> {
        match tree.get(p)? {
            (Some(size), _) if p.ends_with(".gz") => {
                let mut d = b"\x1f\x8b\x08\x00".to_vec();
                d.extend(noise(*size as usize - 4, i as u64));
                Some(file(p, d))
            }
            (Some(size), _) => Some(file(p, pattern(*size as usize, i as u64))),
            (None, target) => Some(symlink(p, target)),
        }
    };
    let info = |l: &str| file(format!("var/lib/dpkg/info/{l}"), read(&format!("info/{l}")));
    let mut l0: Vec<Item> = tree
        .keys()
        .enumerate()
        .filter(|(_, p)| base_paths.contains(*p))
        .filter_map(|(i, p)| item(i, p))
        .collect();
    l0.push(file("var/lib/dpkg/status", read("status-base")));
    l0.push(info("bzip2.list"));
    l0.push(info("libbz2-1.0:amd64.list"));
    let meta = || {
        let mut m = vec![
            file("var/lib/dpkg/status", read("status")),
            file("var/lib/apt/extended_states", read("extended_states")),
        ];
        for (_, l) in LISTS {
            if !l.starts_with("bzip2.") && !l.starts_with("libbz2-1.0") {
                m.push(info(l));
            }
        }
        m
    };
    let files = |keep_doc: bool| -> Vec<Item> {
        tree.keys()
            .enumerate()
            .filter(|(_, p)| later.contains(*p) && (keep_doc || !doc.contains(*p)))
            .filter_map(|(i, p)| item(i, p))
            .chain(meta())
            .collect()
    };
    let doc_bytes: u64 = doc
        .iter()
        .filter(|p| later.contains(*p))
        .filter_map(|p| tree.get(p).and_then(|t| t.0))
        .sum();
    let run = "RUN /bin/sh -c apt-get install -y libbz2-dev libgomp1 # buildkit";
    let with = layer(files(true)).created_by(run);
    let without = layer(files(false)).created_by(run);
    let obtained = blob(&with) - blob(&without);

    let text = "FROM debian\nRUN apt-get install -y libbz2-dev libgomp1\n";
    let layers = vec![layer(l0).created_by(BASE), with];
    let report = optimize(layers.clone(), text, &[]);
    let a = advice(&report, "no-install-recommends");
    assert_eq!(a["packages"], serde_json::json!(["bzip2-doc"]), "{a:#}");
    assert_eq!(a["bytes"], doc_bytes);
    assert_eq!(a["class"], "review");
    assert_eq!(a["applied"], false);
    let promised = a["compressed_bytes"].as_i64().unwrap();
    eprintln!("promised {promised}, obtained {obtained}");
    // A few KB: the 64 KiB slack of the real-build tests would hide
    // everything, so the figure is held to 10 % plus 1 KB of tar framing.
    assert!(
        (promised - obtained).abs() <= obtained / 10 + 1024,
        "promised {promised}, obtained {obtained}"
    );
    assert!(
        a["problem"].as_str().unwrap().contains("bzip2-doc"),
        "{a:#}"
    );
    // Applied on request.
    let out = tempfile::tempdir().unwrap();
    let rewritten = out.path().join("Dockerfile.new");
    let report = optimize(
        layers,
        text,
        &[
            "--apply",
            "no-install-recommends",
            "--write",
            rewritten.to_str().unwrap(),
        ],
    );
    assert_eq!(advice(&report, "no-install-recommends")["applied"], true);
    assert_eq!(
        std::fs::read_to_string(&rewritten).unwrap(),
        "FROM debian\nRUN apt-get install --no-install-recommends -y libbz2-dev libgomp1\n"
    );
}
