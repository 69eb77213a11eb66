//! The HTML report in a real browser (headless Chromium): every number the
//! page shows equals the JSON's, the treemap adds up to the bytes the
//! fixture was built with, and nothing is fetched from the network.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use layerscope::analyze::{self, AnalyzeOptions};
use layerscope::fixture::{self, file, layer, owned, sized_file, whiteout};
use layerscope::pipeline::{self, Settings};
use layerscope::report::html::{self, Page};
use layerscope::report::units::Units;
use serde_json::Value;

use crate::support::require_tool;

fn fixture() -> fixture::Image {
    fixture::image(vec![
        layer(vec![
            sized_file("usr/lib/libfoo.so", 40_000, 1),
            sized_file("usr/lib/libbar.so", 2_000, 2),
            file("etc/app.conf", b"key = value\n"),
            sized_file("wheels/numpy-2.0-cp311.whl", 5_000, 3),
            sized_file("root/.cache/pip/http/ab/cd", 30_000, 5),
        ])
        .created_by("RUN pip install wheels/*.whl <script>alert(1)</script>"),
        layer(vec![
            whiteout("wheels"),
            owned(file("etc/app.conf", b"key = value\n"), 1000),
            sized_file("app/main.py", 300, 4),
        ])
        .created_by("COPY . /app"),
    ])
}

/// Renders the fixture's page; returns it with the analysis as JSON.
fn render(dir: &Path) -> (String, Value) {
    fixture().write_oci_dir(&dir.join("oci"), "t").unwrap();
    let (image, stats) = pipeline::load(
        &format!("oci:{}", dir.join("oci").display()),
        &Settings::default(),
    )
    .unwrap();
    let options = AnalyzeOptions {
        treemap: true,
        ..Default::default()
    };
    let analysis = analyze::run(&image, &options, stats);
    let page = html::render(&Page {
        analysis: Some(&analysis),
        treemap: analysis.treemap.as_ref(),
        check: None,
        diff: None,
    });
    (page, serde_json::to_value(&analysis).unwrap())
}

/// Runs headless Chromium with `args` on a profile of its own.
pub(crate) fn chromium(args: &[&str], profile: &Path) -> std::process::Output {
    Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--window-size=1280,2400",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(args)
        .output()
        .unwrap()
}

/// The value at a dotted path (`layers.1.compressed_bytes`).
fn at<'a>(json: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.')
        .try_fold(json, |v, k| match k.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(k),
        })
}

#[test]
fn html_report_shows_the_json_numbers_in_chromium() {
    if !require_tool("chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (page, json) = render(dir.path());
    // Self-contained: no external resource of any kind.
    for needle in ["http://", "https://", "src=\"", "href=\"http"] {
        assert!(!page.contains(needle), "{needle}");
    }
    assert!(!page.contains("<script>alert"));
    let path = dir.path().join("report.html");
    std::fs::write(&path, &page).unwrap();
    let url = format!("file://{}", path.display());
    let out = chromium(&["--dump-dom", &url], &dir.path().join("profile"));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-rendered=\"1\""), "{dom}");
    let nums = crate::support::dom_numbers(&dom, false);
    let keys: Vec<&str> = nums.iter().map(|n| n.0.as_str()).collect();
    for want in [
        "image.compressed_bytes",
        "image.final_bytes",
        "image.shadowed_bytes",
        "layers.0.compressed_bytes",
        "layers.1.uncompressed_bytes",
        "layers.0.shadowed_bytes",
        "findings.0.bytes",
        "pull.download_bytes",
        "treemap",
    ] {
        assert!(keys.contains(&want), "{want} missing: {keys:?}");
    }
    for (key, bytes, text) in &nums {
        if key != "treemap" {
            let v = at(&json, key).and_then(Value::as_u64);
            assert_eq!(v, Some(*bytes), "{key}");
        }
        assert_eq!(text, &Units::Si.bytes(*bytes), "{key}");
    }
    // By construction: final 40,000 + 2,000 + 12 + 30,000 + 300; shadowed
    // the wheel (5,000) and the chowned config's first copy (12).
    assert_eq!(json["image"]["final_bytes"], 72_312);
    assert_eq!(json["image"]["shadowed_bytes"], 5_012);
    let (_, treemap_bytes, _) = nums.iter().find(|n| n.0 == "treemap").unwrap();
    assert_eq!(*treemap_bytes, 72_312 + 5_012);
    // The history is text, not markup.
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{dom}"
    );
    // A screenshot to look at (kept in the temp dir while debugging).
    let shot = dir.path().join("shot.png");
    chromium(
        &[&format!("--screenshot={}", shot.display()), &url],
        &dir.path().join("profile"),
    );
    assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
    if let Some(keep) = std::env::var_os("LAYERSCOPE_KEEP_SCREENSHOT") {
        std::fs::copy(&shot, keep).unwrap();
    }
}
