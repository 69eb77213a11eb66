//! Hostile and unusual layers (DESIGN.md "Hostile input", issue 14): hard
//! links, limits before reading, sparse files, unclean paths, bad
//! whiteouts, control characters. Every figure follows from the fixture's
//! construction; an independent oracle (Python's `tarfile`) where cheap.
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use layerscope::fixture::{
    self, file, hardlink, image, layer, pattern, pax_file, raw, raw_header, sized_file, sparse,
    whiteout,
};
use layerscope::model::Image;
use layerscope::pipeline::{self, Settings};
use layerscope::scan::{Compression, Verify, scan_layer};
use layerscope::source::LayerInfo;
use layerscope::warning::WarningKind;
use layerscope::{DiffId, Digest};

use crate::support;

/// Writes `img` as an OCI layout and loads it through the real pipeline.
fn load(img: &fixture::Image) -> Image {
    let dir = tempfile::tempdir().unwrap();
    img.write_oci_dir(dir.path(), "t").unwrap();
    let (image, _) = pipeline::load(
        &format!("oci:{}", dir.path().display()),
        &Settings::default(),
    )
    .unwrap();
    image
}

fn info(blob: &[u8]) -> LayerInfo {
    LayerInfo {
        digest: Digest::of(blob),
        diff_id: None,
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    }
}

fn scan(items: Vec<fixture::Item>, c: Compression) -> Result<layerscope::scan::LayerIndex, String> {
    let blob = layer(items).blob(c);
    scan_layer(blob.as_slice(), &info(&blob), Verify::DiffIds).map_err(|e| e.to_string())
}

// 1. Hard links -----------------------------------------------------------

#[test]
fn a_hard_link_keeps_the_content_alive_after_its_first_path_is_deleted() {
    let img = image(vec![
        layer(vec![
            sized_file("data/a", 1000, 1),
            hardlink("data/b", "data/a"),
        ]),
        layer(vec![whiteout("data/a")]),
    ]);
    let image = load(&img);
    assert_eq!(image.final_bytes(), 1000);
    assert_eq!(image.shadowed_bytes(), 0);
    assert_eq!(image.content_bytes(), 1000);
    let b = image.find(b"data/b").unwrap();
    assert_eq!(image.content_size(b), 1000);
    assert!(image.find(b"data/a").is_none());
}

#[test]
fn content_dies_with_its_last_path_and_counts_once_while_alive() {
    // Both paths deleted: the 1,000 bytes are waste, once.
    let both = load(&image(vec![
        layer(vec![
            sized_file("data/a", 1000, 1),
            hardlink("data/b", "data/a"),
            hardlink("data/c", "data/b"),
        ]),
        layer(vec![whiteout("data")]),
    ]));
    assert_eq!((both.final_bytes(), both.shadowed_bytes()), (0, 1000));
    // Replacing the first path leaves the old bytes under the link.
    let replaced = load(&image(vec![
        layer(vec![
            sized_file("data/a", 1000, 1),
            hardlink("data/b", "data/a"),
        ]),
        layer(vec![sized_file("data/a", 300, 2)]),
    ]));
    assert_eq!(
        (replaced.final_bytes(), replaced.shadowed_bytes()),
        (1300, 0)
    );
    // A link in a later layer to a lower file; three names, one file.
    let across = load(&image(vec![
        layer(vec![sized_file("bin/x", 700, 3)]),
        layer(vec![hardlink("bin/y", "bin/x"), hardlink("bin/z", "bin/y")]),
    ]));
    assert_eq!((across.final_bytes(), across.content_bytes()), (700, 700));
}

/// A busybox-like base: `bin/[` is the file (first in the tar), every
/// applet a hard link to it. Removing `bin/[` leaves the binary in place.
fn busybox(applets: usize, size: usize) -> fixture::Image {
    let mut items = vec![sized_file("bin/[", size, 9)];
    for i in 0..applets {
        items.push(hardlink(format!("bin/applet{i:03}"), "bin/["));
    }
    items.push(file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"));
    image(vec![layer(items), layer(vec![whiteout("bin/[")])])
}

#[test]
fn busybox_with_bin_bracket_removed_stays_full_size() {
    let size = 1_150_000;
    let image = load(&busybox(400, size));
    let passwd = "root:x:0:0::/root:/bin/sh\n".len() as u64;
    assert_eq!(image.final_bytes(), size as u64 + passwd);
    assert_eq!(image.shadowed_bytes(), 0);
    let a = layerscope::analyze::run(&image, &Default::default(), Default::default());
    assert!((a.image.efficiency - 1.0).abs() < 1e-12);
    // Hard links are not duplicates of each other.
    assert!(
        a.findings
            .iter()
            .all(|f| f.kind != layerscope::analyze::FindingKind::DuplicateContent),
        "{:?}",
        a.findings
    );
}

#[test]
fn a_dangling_hard_link_is_ignored_with_a_warning() {
    let image = load(&image(vec![layer(vec![
        sized_file("a", 10, 1),
        hardlink("b", "nowhere"),
    ])]));
    assert!(image.find(b"b").is_none());
    assert_eq!(image.final_bytes(), 10);
    let w = &image.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].kind, w[0].layer, w[0].count),
        (WarningKind::DanglingHardLink, Some(0), 1)
    );
}

/// Final bytes by an independent reader: Python's `tarfile` applies the
/// layers (whiteouts, hard links sharing an inode), and counts each inode
/// of a regular file once, as `du` does.
#[test]
fn hard_link_figures_match_python_tarfile() {
    if !support::require_tool("python3") {
        return;
    }
    let img = busybox(50, 20_000);
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (i, l) in img.layers.iter().enumerate() {
        let p = dir.path().join(format!("{i}.tar"));
        std::fs::write(&p, l.tar()).unwrap();
        paths.push(p.display().to_string());
    }
    let script = r#"
import sys, tarfile
fs = {}   # path -> inode
inodes = {}
next_inode = 0
for p in sys.argv[1:]:
    with tarfile.open(p) as t:
        members = t.getmembers()
        for m in members:
            name = m.name.rstrip('/')
            base = name.rsplit('/', 1)[-1]
            if base.startswith('.wh.'):
                gone = name[:-len(base)] + base[4:]
                for k in [k for k in fs if k == gone or k.startswith(gone + '/')]:
                    del fs[k]
        for m in members:
            name = m.name.rstrip('/')
            if name.rsplit('/', 1)[-1].startswith('.wh.'):
                continue
            if m.islnk():
                fs[name] = fs[m.linkname]
            else:
                next_inode += 1
                inodes[next_inode] = m.size if m.isreg() else 0
                fs[name] = next_inode
print(sum(inodes[i] for i in set(fs.values())))
"#;
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(&paths)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let oracle: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(load(&img).final_bytes(), oracle);
    assert_eq!(oracle, 20_000 + 26);
}

// 8. Limits before reading ------------------------------------------------

/// A gzip layer whose first header claims `claim` bytes of extension
/// record of type `flag`, followed by 2 MiB of data.
fn claiming(flag: u8, claim: u64) -> Vec<u8> {
    let mut bytes = raw_header(flag, b"././@LongLink", claim);
    bytes.extend(pattern(2 << 20, 5));
    layer(vec![raw(bytes)]).blob(Compression::Gzip)
}

#[test]
fn huge_extension_records_are_refused_from_the_header() {
    for (flag, what) in [
        (b'x', "PAX record"),
        (b'L', "GNU long name"),
        (b'K', "GNU long name or link"),
        (b'g', "PAX global record"),
    ] {
        let blob = claiming(flag, 2 << 30);
        let start = Instant::now();
        let err = scan_layer(blob.as_slice(), &info(&blob), Verify::BlobDigest)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains(what) && err.contains("2147483648 bytes") && err.contains("#0"),
            "{err}"
        );
        assert!(err.contains("1048576-byte limit"), "{err}");
        // Refused at the header, not after reading 2 GiB.
        assert!(start.elapsed() < Duration::from_secs(20));
    }
    // Just under the limit is read.
    let mut ok = raw_header(b'x', b"PaxHeaders/0", 1 << 20);
    let record = fixture::pax_record(b"comment", &vec![b'a'; (1 << 20) - 17]);
    assert_eq!(record.len(), 1 << 20);
    ok.extend(record);
    ok.extend(raw_header(b'0', b"after", 0));
    let idx = scan(vec![raw(ok)], Compression::None).unwrap();
    assert_eq!(idx.entries.len(), 1);
    assert_eq!(idx.entries[0].path.as_bytes(), b"after");
}

#[test]
fn a_huge_claim_through_the_cli_names_layer_and_entry() {
    let dir = tempfile::tempdir().unwrap();
    // The fixture writer compresses its own tar: give it the raw layer.
    let mut bytes = raw_header(b'x', b"PaxHeaders/big", 2 << 30);
    bytes.extend(pattern(1 << 20, 5));
    let img = image(vec![layer(vec![file("ok", "x")]), layer(vec![raw(bytes)])])
        .compressed(Compression::Gzip);
    img.write_oci_dir(dir.path(), "t").unwrap();
    let out = support::layerscope()
        .args(["analyze", "--no-cache"])
        .arg(format!("oci:{}", dir.path().display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("layer 1"), "{err}");
    assert!(
        err.contains("entry #0") && err.contains("PAX record"),
        "{err}"
    );
}

#[test]
fn paths_longer_than_4096_bytes_are_refused() {
    let long = "d/".repeat(2100) + "f";
    assert!(long.len() > 4096);
    for item in [pax_file(&long, "x"), file(&long, "x")] {
        let err = scan(vec![item], Compression::None).unwrap_err();
        assert!(
            err.contains("4096-byte limit") && err.contains("#0"),
            "{err}"
        );
    }
    let fits = "d/".repeat(2047) + "ff";
    assert_eq!(fits.len(), 4096);
    let idx = scan(
        vec![pax_file(&fits, "x"), file(&fits, "yy")],
        Compression::None,
    )
    .unwrap();
    assert_eq!(idx.entries.len(), 2);
    assert_eq!(idx.entries[0].path.as_bytes(), fits.as_bytes());
    assert_eq!(idx.entries[1].size, 2);
}

// 9. Sparse files -----------------------------------------------------------

#[test]
fn sparse_files_count_stored_bytes_and_never_read_holes() {
    const PIB: u64 = 1 << 50;
    let head = pattern(1024, 1);
    let tail = pattern(700, 2);
    let start = Instant::now();
    let idx = scan(
        vec![
            sparse(
                "disk.img",
                PIB,
                vec![(0, head.clone()), (PIB - 700, tail.clone())],
            ),
            file("after", "z"),
        ],
        Compression::Gzip,
    )
    .unwrap();
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(idx.entries[0].size, 1024 + 700);
    // Hashed as a plain file holding only the stored bytes would be.
    let stored = [head, tail].concat();
    let plain = scan(vec![file("plain", &stored)], Compression::None).unwrap();
    assert_eq!(idx.entries[0].hash, plain.entries[0].hash);
    assert_eq!(idx.sparse.len(), 1);
    assert_eq!(
        (idx.sparse[0].entry, idx.sparse[0].apparent_bytes),
        (0, PIB)
    );
    assert_eq!(idx.entries[1].size, 1);

    // Thirty chunks need extension blocks after the header.
    let chunks: Vec<(u64, Vec<u8>)> = (0..30u64)
        .map(|i| (i * 1_000_000, pattern(512, i)))
        .collect();
    let idx = scan(
        vec![sparse("many", 30_000_000, chunks), file("z", "1")],
        Compression::None,
    )
    .unwrap();
    assert_eq!(idx.entries[0].size, 30 * 512);
    assert_eq!(idx.sparse[0].apparent_bytes, 30_000_000);
    assert_eq!(idx.entries[1].path.as_bytes(), b"z");
}

// 12, 13. Paths and whiteouts ----------------------------------------------

#[test]
fn unclean_paths_are_rooted_and_reported() {
    let img = image(vec![
        layer(vec![sized_file("etc/passwd", 100, 1)]),
        layer(vec![
            sized_file("../../etc/passwd", 40, 2),
            sized_file("/etc/x", 50, 3),
            sized_file("./a/../../b", 60, 4),
        ]),
    ]);
    let image = load(&img);
    // ../../etc/passwd replaced etc/passwd, as containerd applies it.
    assert_eq!(image.final_bytes(), 40 + 50 + 60);
    assert_eq!(image.shadowed_bytes(), 100);
    for p in ["etc/passwd", "etc/x", "b"] {
        assert!(image.find(p.as_bytes()).is_some(), "{p}");
    }
    let w: Vec<_> = image.warnings.iter().collect();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].kind, w[0].layer, w[0].count),
        (WarningKind::UncleanPath, Some(1), 3)
    );
    assert_eq!(w[0].example.as_deref(), Some("../../etc/passwd"));
}

#[test]
fn whiteouts_without_a_name_delete_nothing() {
    let img = image(vec![
        layer(vec![sized_file("a/x", 10, 1), sized_file("y", 20, 2)]),
        layer(vec![
            raw(raw_header(b'0', b".wh.", 0)),
            raw(raw_header(b'0', b"a/.wh.", 0)),
            raw(raw_header(b'0', b".wh...", 0)),
            raw(raw_header(b'0', b"a/.wh..", 0)),
        ]),
    ]);
    let image = load(&img);
    assert_eq!((image.final_bytes(), image.shadowed_bytes()), (30, 0));
    let w = &image.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].kind, w[0].layer, w[0].count),
        (WarningKind::BadWhiteout, Some(1), 4)
    );
}

#[test]
fn warnings_reach_the_json_and_names_are_escaped_in_text() {
    let dir = tempfile::tempdir().unwrap();
    let evil = b"evil\x1b]0;pwned\x07\r\nFAKE LINE".to_vec();
    let img = image(vec![layer(vec![
        fixture::sized_file(&evil, 2_000_000, 1),
        sized_file("/abs", 10, 2),
    ])]);
    img.write_oci_dir(dir.path(), "t").unwrap();
    let oci = format!("oci:{}", dir.path().display());
    let json = support::analyze_json(&oci, &[]);
    let w = json["warnings"].as_array().unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0]["kind"], "unclean-path");
    assert_eq!(w[0]["layer"], 0);
    assert_eq!(w[0]["count"], 1);
    let out = support::layerscope()
        .args(["analyze", "--no-cache"])
        .arg(&oci)
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains('\x1b') && !text.contains('\r'), "{text}");
    assert!(!text.lines().any(|l| l.starts_with("FAKE LINE")), "{text}");
    assert!(
        text.contains("evil\\x1b]0;pwned\\x07\\r\\nFAKE LINE"),
        "{text}"
    );
}

#[test]
fn the_diff_id_still_covers_crafted_streams() {
    // The reader's framing must not change what is hashed: the diff id is
    // the sha256 of the whole tar stream, read to its end.
    let l = layer(vec![
        sparse("s", 1 << 40, vec![(0, pattern(600, 1))]),
        pax_file("p".repeat(300), "data"),
        file("f", "x"),
    ]);
    let tar = l.tar();
    let blob = l.blob(Compression::Zstd);
    let mut li = info(&blob);
    li.diff_id = Some(DiffId(Digest::of(&tar)));
    let idx = scan_layer(blob.as_slice(), &li, Verify::DiffIds).unwrap();
    assert_eq!(idx.uncompressed_bytes, tar.len() as u64);
    assert_eq!(idx.entries[1].path.as_bytes(), "p".repeat(300).as_bytes());
    assert_eq!(idx.entries[1].size, 4);
}

// 16. Captured metadata budget ---------------------------------------------

#[test]
fn metadata_past_the_layer_budget_is_not_kept_and_sizes_fall_back_to_disk() {
    use layerscope::scan::capture::{LAYER_BUDGET, MAX_CAPTURE_BYTES};
    let env = "usr/lib/python3.11/site-packages";
    let n = (LAYER_BUDGET / MAX_CAPTURE_BYTES + 1) as usize;
    let mut items = Vec::new();
    for i in 0..n {
        let line = format!("p{i}/__init__.py,,\n");
        let record: Vec<u8> = line
            .as_bytes()
            .iter()
            .copied()
            .cycle()
            .take(MAX_CAPTURE_BYTES as usize)
            .collect();
        items.push(file(format!("{env}/p{i}-1.0.dist-info/RECORD"), record));
        items.push(sized_file(format!("{env}/p{i}/__init__.py"), 100, i as u64));
    }
    let image = load(&image(vec![layer(items)]));
    // Four 16 MiB RECORDs fill the 64 MiB budget; the fifth is not kept.
    assert_eq!(image.layers[0].captured.len(), n - 1);
    let w = &image.warnings;
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(
        (w[0].kind, w[0].layer, w[0].count),
        (WarningKind::MetadataNotCaptured, Some(0), 1)
    );
    let py = layerscope::analyze::python::report(&image, None);
    let dists = &py.environments[0].distributions;
    let last = format!("p{}", n - 1);
    let names: Vec<_> = dists
        .iter()
        .map(|d| (&d.name, &d.files_from, d.bytes))
        .collect();
    let d = dists
        .iter()
        .find(|d| d.name == last)
        .unwrap_or_else(|| panic!("{names:?}"));
    // From the disk: its dist-info directory and its package directory.
    assert_eq!(d.files_from, "none");
    assert_eq!(d.bytes, MAX_CAPTURE_BYTES + 100);
    let first = dists.iter().find(|d| d.name == "p0").unwrap();
    assert_eq!((first.files_from.as_str(), first.bytes), ("RECORD", 100));
}

#[test]
fn duplicates_count_a_hard_linked_file_once() {
    use layerscope::analyze::FindingKind;
    let dup = |img: &fixture::Image| {
        let a = layerscope::analyze::run(&load(img), &Default::default(), Default::default());
        a.findings
            .iter()
            .filter(|f| f.kind == FindingKind::DuplicateContent)
            .map(|f| (f.bytes, f.path_count))
            .collect::<Vec<_>>()
    };
    let base = vec![
        sized_file("a", 50_000, 1),
        hardlink("b", "a"),
        sized_file("c", 50_000, 1),
    ];
    // a and its link b are one file; c is a second copy: 50,000 reclaimable.
    assert_eq!(dup(&image(vec![layer(base.clone())])), vec![(50_000, 2)]);
    // With a deleted the file lives on as b, still duplicated by c.
    assert_eq!(
        dup(&image(vec![layer(base), layer(vec![whiteout("a")])])),
        vec![(50_000, 2)]
    );
}

#[test]
fn pax_sparse_1_0_skips_its_map_and_counts_stored_bytes() {
    let records = [
        fixture::pax_record(b"GNU.sparse.major", b"1"),
        fixture::pax_record(b"GNU.sparse.minor", b"0"),
        fixture::pax_record(b"GNU.sparse.name", b"var/real.img"),
        fixture::pax_record(b"GNU.sparse.realsize", b"1000000"),
    ]
    .concat();
    let mut bytes = raw_header(b'x', b"PaxHeaders/real.img", records.len() as u64);
    let mut padded = records;
    padded.resize(512, 0);
    bytes.extend(padded);
    let mut map = b"2\n0\n100\n999500\n500\n".to_vec();
    map.resize(512, 0);
    let data = pattern(600, 4);
    bytes.extend(raw_header(b'0', b"GNUSparseFile.0/real.img", 512 + 600));
    bytes.extend(map);
    bytes.extend(&data);
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    let idx = scan(vec![raw(bytes), file("next", "n")], Compression::None).unwrap();
    assert_eq!(idx.entries[0].path.as_bytes(), b"var/real.img");
    assert_eq!(idx.entries[0].size, 600);
    let plain = scan(vec![file("plain", &data)], Compression::None).unwrap();
    assert_eq!(idx.entries[0].hash, plain.entries[0].hash);
    assert_eq!(idx.sparse[0].apparent_bytes, 1_000_000);
    assert_eq!(idx.entries[1].path.as_bytes(), b"next");
}

// 19. zstd windows ----------------------------------------------------------

#[test]
fn a_zstd_frame_needing_a_long_window_is_named() {
    use std::io::Write as _;
    let tar = layer(vec![sized_file("a", 300_000, 1)]).tar();
    let long = |log: u32| {
        let mut e = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        e.set_parameter(zstd::zstd_safe::CParameter::WindowLog(log))
            .unwrap();
        e.write_all(&tar).unwrap();
        e.finish().unwrap()
    };
    // --long=28: a 256 MiB window.
    let blob = long(28);
    let err = scan_layer(blob.as_slice(), &info(&blob), Verify::BlobDigest)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("268435456-byte window") && err.contains("256 MiB"),
        "{err}"
    );
    assert!(!err.contains("corrupt or truncated"), "{err}");
    // --long=27 (128 MiB) is read.
    let blob = long(27);
    let idx = scan_layer(blob.as_slice(), &info(&blob), Verify::BlobDigest).unwrap();
    assert_eq!(idx.entries[0].size, 300_000);
}
