//! System package databases: dpkg (a slice of a real Debian 12 `status`,
//! its `info/*.list` files and `extended_states`, in `testdata/dpkg/`),
//! apk, rpm detection. Expected bytes come from `testdata/dpkg/tree.txt`
//! (the packages' files as they were on the host) through a resolver
//! written here, not from the program.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::{BTreeMap, HashSet};
use std::fs;

use layerscope::fixture::{Image, Item, file, image, layer, pattern, symlink, whiteout};
use layerscope::model;
use layerscope::packages::{Database, Manager, Reason};
use layerscope::pipeline::{self, Settings};

use crate::support::testdata;

/// Writes `img` as an OCI archive and loads it.
pub fn load(img: &Image) -> model::Image {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("img.tar");
    img.write_oci_archive(&path, "t").unwrap();
    pipeline::load(path.to_str().unwrap(), &Settings::default())
        .unwrap()
        .0
}

pub(crate) fn read(name: &str) -> Vec<u8> {
    fs::read(testdata("dpkg").join(name)).unwrap()
}

/// `tree.txt`: path (no leading `/`) -> `Some(size)` for a file, `None`
/// for a symlink (with its target).
pub(crate) fn tree() -> BTreeMap<String, (Option<u64>, String)> {
    let text = String::from_utf8(read("tree.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut it = l.splitn(3, ' ');
            let (kind, val, path) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
            let path = path.trim_start_matches('/').to_owned();
            match kind {
                "f" => (path, (Some(val.parse().unwrap()), String::new())),
                _ => (path, (None, val.to_owned())),
            }
        })
        .collect()
}

/// The `.list` file of each package in the fixture.
pub(crate) const LISTS: [(&str, &str); 5] = [
    ("bzip2", "bzip2.list"),
    ("bzip2-doc", "bzip2-doc.list"),
    ("libbz2-1.0", "libbz2-1.0:amd64.list"),
    ("libbz2-dev", "libbz2-dev:amd64.list"),
    ("libgomp1", "libgomp1:amd64.list"),
];

/// The tree's items, for the paths in `wanted` (tree paths).
fn items(tree: &BTreeMap<String, (Option<u64>, String)>, wanted: &HashSet<String>) -> Vec<Item> {
    tree.iter()
        .filter(|(p, _)| wanted.contains(*p))
        .enumerate()
        .map(|(i, (p, (size, target)))| match size {
            Some(s) => file(p, pattern(*s as usize, i as u64)),
            None => symlink(p, target),
        })
        .collect()
}

/// Where a listed path lies on the merged-/usr tree.
fn merged(listed: &str) -> String {
    let p = listed.trim_start_matches('/');
    for top in ["bin/", "lib/"] {
        if let Some(rest) = p.strip_prefix(top) {
            return format!("usr/{top}{rest}");
        }
    }
    p.to_owned()
}

/// The bytes the fixture's packages own, in [`LISTS`] order: each
/// package's listed regular files, a file counted for the first package
/// (by name) that lists it, minus the file a later layer deleted.
pub(crate) fn expected_bytes(tree: &BTreeMap<String, (Option<u64>, String)>) -> Vec<u64> {
    let mut counted = HashSet::new();
    LISTS
        .iter()
        .map(|(_, list)| {
            let mut bytes = 0;
            for p in listed(list) {
                if p == "usr/share/doc/bzip2-doc/changelog.gz" {
                    continue;
                }
                if let Some((Some(size), _)) = tree.get(&p)
                    && counted.insert(p.clone())
                {
                    bytes += size;
                }
            }
            bytes
        })
        .collect()
}

/// The tree paths a package lists.
pub(crate) fn listed(list: &str) -> Vec<String> {
    String::from_utf8(read(&format!("info/{list}")))
        .unwrap()
        .lines()
        .filter(|l| *l != "/." && !l.is_empty())
        .map(merged)
        .collect()
}

/// Layer 0: the base (bzip2, libbz2-1.0), merged /usr. Layer 1: `apt-get
/// install libbz2-dev libgomp1` (bzip2-doc comes as libbz2-dev's
/// recommendation). Layer 2: `rm` of one bzip2-doc file.
pub fn dpkg_image() -> Image {
    let tree = tree();
    let base: HashSet<String> = ["bin", "lib"]
        .into_iter()
        .map(String::from)
        .chain(listed("bzip2.list"))
        .chain(listed("libbz2-1.0:amd64.list"))
        .collect();
    let later: HashSet<String> = LISTS[..]
        .iter()
        .flat_map(|(_, l)| listed(l))
        .filter(|p| !base.contains(p))
        .collect();
    let info = |l: &str| file(format!("var/lib/dpkg/info/{l}"), read(&format!("info/{l}")));
    let mut l0 = items(&tree, &base);
    l0.push(file("var/lib/dpkg/status", read("status-base")));
    l0.push(info("bzip2.list"));
    l0.push(info("libbz2-1.0:amd64.list"));
    let mut l1 = items(&tree, &later);
    l1.push(file("var/lib/dpkg/status", read("status")));
    l1.push(file("var/lib/apt/extended_states", read("extended_states")));
    for (_, l) in &LISTS[..] {
        if !l.starts_with("bzip2.") && !l.starts_with("libbz2-1.0") {
            l1.push(info(l));
        }
    }
    let l2 = vec![whiteout("usr/share/doc/bzip2-doc/changelog.gz")];
    image(vec![layer(l0), layer(l1), layer(l2)])
}

#[test]
fn dpkg_packages_bytes_layers_and_reasons() {
    let tree = tree();
    let img = load(&dpkg_image());
    let db = Database::read(&img).unwrap();
    assert_eq!(db.manager, Manager::Dpkg);
    let names: Vec<&str> = db.packages.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        ["bzip2", "bzip2-doc", "libbz2-1.0", "libbz2-dev", "libgomp1"]
    );

    let mut total = 0;
    for ((name, _), bytes) in LISTS.iter().zip(expected_bytes(&tree)) {
        let pkg = db.get(name).unwrap();
        assert_eq!(pkg.bytes, bytes, "{name}");
        total += bytes;
    }
    // The sizes as they were on the host.
    assert_eq!(db.get("libgomp1").unwrap().bytes, 290_392);
    assert_eq!(
        db.get("libbz2-1.0").unwrap().bytes,
        74_688 + 240 + 10_422 + 5_624 + 2_228
    );
    assert_eq!(db.bytes(), total);

    let p = |n: &str| db.get(n).unwrap();
    assert_eq!(p("libbz2-dev").installed_size, 95 * 1024);
    assert_eq!(p("libbz2-dev").section, "libdevel");
    assert_eq!(p("libbz2-1.0").version, "1.0.8-5+b1");
    assert_eq!(p("libbz2-1.0").arch, "amd64");
    assert_eq!(p("libbz2-1.0").source.as_deref(), Some("bzip2"));
    assert_eq!(p("libbz2-dev").recommends, [vec!["bzip2-doc".to_owned()]]);
    // Layers: the base's packages stay at layer 0 though layer 1 rewrote status.
    let layers: Vec<u32> = db.packages.iter().map(|p| p.layer).collect();
    assert_eq!(layers, [0, 1, 0, 1, 1]);
    // Reasons: extended_states marks libbz2-1.0 and bzip2-doc automatic.
    assert_eq!(p("libbz2-dev").reason, Reason::Requested);
    assert_eq!(p("bzip2").reason, Reason::Requested);
    assert_eq!(p("libbz2-1.0").reason, Reason::Dependency);
    assert_eq!(p("bzip2-doc").reason, Reason::Recommended);
    assert_eq!(
        db.recommended()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>(),
        ["bzip2-doc"]
    );
    assert_eq!(p("libgomp1").reason, Reason::Requested);

    // Ownership through the merged-/usr symlinks, both spellings.
    for path in [
        "/lib/x86_64-linux-gnu/libbz2.so.1.0.4",
        "usr/lib/x86_64-linux-gnu/libbz2.so.1.0.4",
        "/usr/lib/x86_64-linux-gnu/libbz2.so.1",
    ] {
        assert_eq!(db.owner_of(path).unwrap().name, "libbz2-1.0", "{path}");
    }
    assert_eq!(db.owner_of("/bin/bzip2").unwrap().name, "bzip2");
    assert_eq!(db.owner_of("usr/bin/bzip2").unwrap().name, "bzip2");
    assert!(db.owner_of("/etc/passwd").is_none());
    let gomp: Vec<&str> = db
        .providers_of_soname("libgomp.so.1")
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(gomp, ["libgomp1"]);
    let bz: Vec<&str> = db
        .providers_of_soname("libbz2.so.1.0")
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(bz, ["libbz2-1.0"]);
}

#[test]
fn distroless_status_d_and_no_database() {
    // status.d stanzas with md5sums file lists (distroless), no info/.
    let img = load(&image(vec![
        layer(vec![
            file(
                "var/lib/dpkg/status.d/base",
                "Package: base-files\nVersion: 12.4\nArchitecture: amd64\nInstalled-Size: 3\nSection: admin\n",
            ),
            file(
                "var/lib/dpkg/status.d/base.md5sums",
                "0123  etc/debian_version\n4567  usr/share/doc/base/x\n",
            ),
            file("etc/debian_version", "12.4\n"),
            file("usr/share/doc/base/x", pattern(1000, 1)),
        ]),
        layer(vec![
            file(
                "var/lib/dpkg/status.d/tzdata",
                "Package: tzdata\nVersion: 2024a\nArchitecture: all\n",
            ),
            file(
                "var/lib/dpkg/status.d/tzdata.md5sums",
                "89ab  usr/share/zoneinfo/UTC\n",
            ),
            file("usr/share/zoneinfo/UTC", pattern(114, 2)),
        ]),
    ]));
    let db = Database::read(&img).unwrap();
    assert_eq!(db.manager, Manager::Dpkg);
    let got: Vec<(&str, u32, u64)> = db
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.layer, p.bytes))
        .collect();
    assert_eq!(got, [("base-files", 0, 5 + 1000), ("tzdata", 1, 114)]);
    assert_eq!(db.get("base-files").unwrap().installed_size, 3 * 1024);

    let none = load(&image(vec![layer(vec![file("etc/hostname", "x\n")])]));
    assert!(Database::read(&none).is_none());
    let rpm = load(&image(vec![layer(vec![file(
        "var/lib/rpm/rpmdb.sqlite",
        pattern(4096, 3),
    )])]));
    let db = Database::read(&rpm).unwrap();
    assert_eq!(db.manager, Manager::Rpm);
    assert!(db.packages.is_empty());
}

#[test]
fn apk_installed_and_world() {
    let installed = "C:Q1a=\nP:musl\nV:1.2.4-r2\nA:x86_64\nI:622592\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n\
C:Q1b=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nI:900000\nD:so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\nR:sh\n\n\
C:Q1c=\nP:python3\nV:3.11.9-r0\nA:x86_64\nI:200000\nD:so:libc.musl-x86_64.so.1\nF:usr/bin\nR:python3.11\n\n";
    let base = "C:Q1a=\nP:musl\nV:1.2.4-r2\nA:x86_64\nI:622592\np:so:libc.musl-x86_64.so.1=1\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n\
C:Q1b=\nP:busybox\nV:1.36.1-r15\nA:x86_64\nI:900000\nD:so:libc.musl-x86_64.so.1\nF:bin\nR:busybox\nR:sh\n\n";
    let img = load(&image(vec![
        layer(vec![
            file("lib/apk/db/installed", base),
            file("etc/apk/world", "busybox\n"),
            file("lib/ld-musl-x86_64.so.1", pattern(600_000, 1)),
            symlink("lib/libc.musl-x86_64.so.1", "ld-musl-x86_64.so.1"),
            file("bin/busybox", pattern(800_000, 2)),
            symlink("bin/sh", "/bin/busybox"),
        ]),
        layer(vec![
            file("lib/apk/db/installed", installed),
            file("etc/apk/world", "busybox\npython3>=3.11\n"),
            file("usr/bin/python3.11", pattern(14_000, 3)),
        ]),
    ]));
    let db = Database::read(&img).unwrap();
    assert_eq!(db.manager, Manager::Apk);
    let got: Vec<(&str, u32, u64, Reason)> = db
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.layer, p.bytes, p.reason))
        .collect();
    assert_eq!(
        got,
        [
            ("busybox", 0, 800_000, Reason::Requested),
            ("musl", 0, 600_000, Reason::Dependency),
            ("python3", 1, 14_000, Reason::Requested),
        ]
    );
    assert_eq!(db.owner_of("/bin/sh").unwrap().name, "busybox");
    assert_eq!(db.get("musl").unwrap().installed_size, 622_592);
}

/// The apt + pip image of `scripts/build-apt-pip-image.sh` (apt's numpy,
/// pandas, sympy, OpenBLAS with its static archive, libgomp; a venv with
/// pip's numpy, scipy, scikit-learn), checked against `dpkg-query` and
/// `importlib.metadata` run inside it (`scripts/apt-pip-image/oracle.py`
/// under `buildah run`): every package's bytes and Installed-Size, the
/// bytes of all dpkg-owned files, every distribution within 2 % (in fact
/// exact), and every OpenBLAS / libgfortran / libgomp build named. The
/// image is built when missing (network, about 15 minutes).
#[test]
#[cfg_attr(
    not(feature = "realbuild"),
    ignore = "builds a Debian image from the network: cargo test --features tools,realbuild"
)]
fn apt_and_pip_image_matches_dpkg_query_and_importlib() {
    use std::process::Command;
    if !crate::support::require_tool("buildah") || !crate::support::require_tool("skopeo") {
        return;
    }
    const IMAGE: &str = "localhost/layerscope-apt-pip:1";
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let exists = |img: &str| {
        Command::new("buildah")
            .args(["inspect", "--type", "image", img])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    // Gigabytes: under target/, not in a small /tmp.
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    if !exists(IMAGE) {
        let st = Command::new(root.join("scripts/build-apt-pip-image.sh"))
            .arg(tmp.path())
            .status()
            .unwrap();
        assert!(st.success(), "scripts/build-apt-pip-image.sh failed");
    }
    let layout = tmp.path().join("oci");
    let st = Command::new("skopeo")
        .args(["copy", "-q", &format!("containers-storage:{IMAGE}")])
        .arg(format!("oci:{}:t", layout.display()))
        .status()
        .unwrap();
    assert!(st.success(), "skopeo copy failed");
    let a = crate::support::analyze_json(&format!("oci:{}:t", layout.display()), &[]);

    // The oracle, inside the image.
    let ctr = Command::new("buildah")
        .args(["from", IMAGE])
        .output()
        .unwrap();
    assert!(ctr.status.success());
    let ctr = String::from_utf8(ctr.stdout).unwrap().trim().to_owned();
    let script = root.join("scripts/apt-pip-image/oracle.py");
    let out = Command::new("buildah")
        .args(["run", "--isolation", "chroot", "-v"])
        .arg(format!("{}:/oracle.py:ro", script.display()))
        .args([ctr.as_str(), "python3", "/oracle.py"])
        .output()
        .unwrap();
    let _ = Command::new("buildah").args(["rm", &ctr]).output();
    crate::support::assert_ok(&out);
    let o: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let sp = &a["system_packages"];
    assert_eq!(sp["manager"], "dpkg");
    assert_eq!(sp["bytes"], o["dpkg_bytes"]);
    let mine: BTreeMap<&str, &serde_json::Value> = sp["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p))
        .collect();
    let theirs = o["packages"].as_object().unwrap();
    assert_eq!(mine.len(), theirs.len());
    for (name, t) in theirs {
        let m = mine[name.as_str()];
        assert_eq!(m["bytes"], t["bytes"], "{name}");
        assert_eq!(m["installed_size"], t["installed_size"], "{name}");
    }
    assert!(sp["recommended_bytes"].as_u64().unwrap() > 0);

    let mut worst = 0.0f64;
    for d in o["distributions"].as_array().unwrap() {
        let env = a["python"]["environments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"] == d["env"])
            .unwrap();
        let m = env["distributions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == d["name"])
            .unwrap_or_else(|| panic!("{d}"));
        let (mb, tb) = (m["bytes"].as_f64().unwrap(), d["bytes"].as_f64().unwrap());
        let off = (mb - tb).abs() / tb.max(1.0);
        assert!(off <= 0.02, "{d} vs {m}");
        worst = worst.max(off);
        if d["from"] == "dpkg" {
            assert_eq!(m["files_from"], "dpkg", "{m}");
            assert_eq!(m["system_packages"], d["packages"], "{m}");
        }
    }
    eprintln!("worst distribution: {:.4} %", worst * 100.0);

    let native: Vec<&serde_json::Value> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "duplicate-native-library")
        .collect();
    let named = |needle: &str| -> Vec<String> {
        native
            .iter()
            .find(|f| f["message"].as_str().unwrap().starts_with(needle))
            .unwrap_or_else(|| panic!("no {needle} finding in {native:#?}"))["paths"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    };
    let blas = named("libopenblas ");
    for part in [
        "numpy.libs/libscipy_openblas64_",
        "scipy.libs/libscipy_openblas-",
        "openblas-pthread/libopenblasp-r0.3.21.so",
        "openblas-pthread/libopenblasp-r0.3.21.a",
    ] {
        assert!(blas.iter().any(|p| p.contains(part)), "{part} in {blas:?}");
    }
    let gomp = named("libgomp ");
    assert!(
        gomp.iter()
            .any(|p| p.contains("scikit_learn.libs/libgomp-"))
    );
    assert!(
        gomp.iter()
            .any(|p| p.ends_with("x86_64-linux-gnu/libgomp.so.1.0.0"))
    );
    let fortran = named("libgfortran ");
    assert!(
        fortran
            .iter()
            .any(|p| p.ends_with("x86_64-linux-gnu/libgfortran.so.5.0.0"))
    );
    assert!(
        fortran
            .iter()
            .filter(|p| p.contains(".libs/libgfortran-"))
            .count()
            >= 2
    );
}
