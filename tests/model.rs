//! Byte accounting of the model, on images whose figures follow from their
//! construction (DESIGN.md "What the numbers mean").
#![allow(clippy::unwrap_used)]

use layerscope::analyze::FindingKind;
use layerscope::fixture::{
    dir, file, hardlink, image, layer, opaque, owned, sized_file, symlink, whiteout,
};
use layerscope::model::ShadowKind;
use layerscope::pipeline::{self, Settings};

/// Writes `img` as an OCI layout and loads it through the real pipeline.
fn load(img: &layerscope::fixture::Image) -> layerscope::model::Image {
    let dir = tempfile::tempdir().unwrap();
    img.write_oci_dir(dir.path(), "t").unwrap();
    let (image, _) = pipeline::load(
        &format!("oci:{}", dir.path().display()),
        &Settings::default(),
    )
    .unwrap();
    image
}

fn analyze(img: &layerscope::fixture::Image) -> layerscope::analyze::Analysis {
    let image = load(img);
    layerscope::analyze::run(&image, &Default::default(), Default::default())
}

#[test]
fn rm_rf_dir_shadows_everything_under_it() {
    let img = image(vec![
        layer(vec![
            dir("data"),
            sized_file("data/a.bin", 1000, 1),
            sized_file("data/sub/b.bin", 2500, 2),
            sized_file("keep", 7, 3),
        ]),
        layer(vec![whiteout("data")]),
    ]);
    let image = load(&img);
    assert_eq!(image.shadowed_bytes(), 3500);
    assert_eq!(image.final_bytes(), 7);
    assert_eq!(image.content_bytes(), 3507);
    assert!(
        image
            .shadowed
            .iter()
            .all(|s| s.how == ShadowKind::Deleted && s.by_layer == 1)
    );
    let a = analyze(&img);
    assert!((a.image.efficiency - 7.0 / 3507.0).abs() < 1e-12);
    let f = a
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::ShadowedFiles)
        .unwrap();
    assert_eq!(
        (f.bytes, f.layers.clone(), f.path_count),
        (3500, vec![0, 1], 2)
    );
}

#[test]
fn opaque_dir_hides_lower_entries_but_keeps_its_own_layer() {
    let img = image(vec![
        layer(vec![
            sized_file("etc/app/old.conf", 400, 1),
            sized_file("etc/app/x/y", 600, 2),
            sized_file("etc/other", 50, 3),
        ]),
        layer(vec![
            dir("etc/app"),
            opaque("etc/app"),
            sized_file("etc/app/new.conf", 30, 4),
        ]),
    ]);
    let image = load(&img);
    assert_eq!(image.shadowed_bytes(), 1000);
    assert_eq!(image.final_bytes(), 80);
    let paths: Vec<String> = image
        .final_entries()
        .filter(|(_, e)| e.size > 0)
        .map(|(_, e)| e.path.display())
        .collect();
    assert_eq!(paths, ["/etc/app/new.conf", "/etc/other"]);
}

#[test]
fn chown_r_shadows_n_bytes_not_2n_as_metadata_rewrite() {
    let files: Vec<_> = (0..4)
        .map(|i| sized_file(format!("app/f{i}"), 25_000, i))
        .collect();
    let chowned: Vec<_> = files.iter().cloned().map(|f| owned(f, 1000)).collect();
    let img = image(vec![layer(files), layer(chowned)]);
    let a = analyze(&img);
    assert_eq!(a.image.shadowed_bytes, 100_000);
    assert_eq!(a.image.content_bytes, 200_000);
    assert_eq!(a.image.final_bytes, 100_000);
    let kinds: Vec<FindingKind> = a.findings.iter().map(|f| f.kind).collect();
    assert_eq!(kinds, [FindingKind::MetadataRewrite]);
    assert_eq!(a.findings[0].bytes, 100_000);
    assert_eq!(a.layers[0].shadowed_bytes, 100_000);
    assert_eq!(a.layers[1].shadowed_bytes, 0);
}

#[test]
fn replaced_content_is_not_a_metadata_rewrite() {
    let img = image(vec![
        layer(vec![sized_file("bin/tool", 3000, 1)]),
        layer(vec![sized_file("bin/tool", 3100, 2)]),
    ]);
    let image = load(&img);
    assert_eq!(image.shadowed.len(), 1);
    assert_eq!(image.shadowed[0].how, ShadowKind::Replaced);
    assert_eq!(image.shadowed_bytes(), 3000);
    assert_eq!(image.final_bytes(), 3100);
}

#[test]
fn hard_links_count_once_and_are_not_duplicates() {
    let img = image(vec![layer(vec![
        sized_file("usr/bin/python3.11", 50_000, 1),
        hardlink("usr/bin/python3", "usr/bin/python3.11"),
        symlink("usr/bin/python", "python3"),
    ])]);
    let a = analyze(&img);
    assert_eq!(a.image.content_bytes, 50_000);
    assert_eq!(a.image.final_bytes, 50_000);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
}

#[test]
fn same_path_twice_in_one_layer_keeps_the_last() {
    let img = image(vec![layer(vec![
        file("etc/motd", "first version\n"),
        file("etc/motd", "second\n"),
    ])]);
    let image = load(&img);
    let (_, e) = image
        .final_entries()
        .find(|(_, e)| e.path.display() == "/etc/motd")
        .unwrap();
    assert_eq!(e.size, 7);
    assert_eq!(image.shadowed_bytes(), 14);
    assert_eq!(image.shadowed[0].by_layer, 0);
}

#[test]
fn file_over_directory_hides_the_directory_contents() {
    let img = image(vec![
        layer(vec![
            sized_file("opt/x/a", 100, 1),
            sized_file("opt/x/b", 200, 2),
        ]),
        layer(vec![sized_file("opt/x", 5, 3)]),
    ]);
    let image = load(&img);
    assert_eq!(image.shadowed_bytes(), 300);
    assert_eq!(image.final_bytes(), 5);
}

#[test]
fn whiteout_of_a_file_only_and_recreation_in_a_later_layer() {
    let img = image(vec![
        layer(vec![sized_file("a/x", 10, 1), sized_file("a/xy", 20, 2)]),
        layer(vec![whiteout("a/x")]),
        layer(vec![sized_file("a/x", 40, 3)]),
    ]);
    let image = load(&img);
    // `a/xy` shares a prefix with `a/x` but is not under it.
    assert_eq!(image.shadowed_bytes(), 10);
    assert_eq!(image.final_bytes(), 60);
}

#[test]
fn duplicate_content_counts_copies_minus_one() {
    let img = image(vec![
        layer(vec![sized_file("a/libopenblas.so", 40_000, 9)]),
        layer(vec![
            sized_file("b/libopenblas.so", 40_000, 9),
            sized_file("c/libopenblas.so", 40_000, 9),
        ]),
    ]);
    let a = analyze(&img);
    let dups: Vec<_> = a
        .findings
        .iter()
        .filter(|f| f.kind == FindingKind::DuplicateContent)
        .collect();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].bytes, 80_000);
    assert_eq!(dups[0].path_count, 3);
}

#[test]
fn weird_paths_are_rooted_as_containerd_does_and_shown_escaped() {
    let img = image(vec![layer(vec![
        sized_file("../../etc/evil", 11, 1),
        sized_file(b"data/caf\xe9.txt".as_slice(), 13, 2),
        sized_file("/abs/path", 17, 3),
    ])]);
    let a = analyze(&img);
    let mut paths: Vec<&str> = a.largest_files.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    // DESIGN.md "Hostile input": `..` and absolute paths land under the root.
    assert_eq!(paths, ["/abs/path", "/data/caf\\xe9.txt", "/etc/evil"]);
    assert_eq!(a.warnings.len(), 1);
    assert_eq!(a.warnings[0].count, 2);
    assert_eq!(a.image.final_bytes, 41);
}
