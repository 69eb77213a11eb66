//! The system-packages section of the Markdown and HTML reports on the dpkg
//! fixture of `tests/packages.rs` (a slice of a real Debian 12 database).
//! Expected bytes come from `testdata/dpkg/tree.txt` and the `.list` files,
//! versions, sections and Installed-Size from `testdata/dpkg/status`, all
//! read here; reasons and layers from how the fixture was built.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::Path;

use layerscope::report::units::Units;
use serde_json::Value;

use crate::packages::{LISTS, dpkg_image, expected_bytes, tree};
use crate::support::{layerscope, require_tool, testdata};

/// One package as the fixture makes it.
struct Expected {
    name: &'static str,
    version: String,
    section: String,
    installed_size: u64,
    bytes: u64,
    layer: u32,
    reason: &'static str,
    category: &'static str,
}

/// The fields of each stanza of `testdata/dpkg/status`.
fn status() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(testdata("dpkg").join("status")).unwrap();
    text.split("\n\n")
        .filter_map(|stanza| {
            let fields: BTreeMap<String, String> = stanza
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
            Some((fields.get("Package")?.clone(), fields))
        })
        .collect()
}

/// The packages, largest first (ties by name), with bytes computed from the
/// tree: each listed regular file counted for the first package (by name)
/// that lists it, the file layer 2 deletes left out.
fn expected() -> Vec<Expected> {
    let tree = tree();
    let status = status();
    // How the fixture was built: layer 0 the base (bzip2, libbz2-1.0);
    // layer 1 `apt-get install libbz2-dev libgomp1`, bzip2-doc as
    // libbz2-dev's recommendation (extended_states marks it automatic).
    let how = |name: &str| match name {
        "bzip2" => (0, "requested", "other"),
        "libbz2-1.0" => (0, "dependency", "library"),
        "bzip2-doc" => (1, "recommended", "docs"),
        "libbz2-dev" => (1, "requested", "dev"),
        "libgomp1" => (1, "requested", "library"),
        other => panic!("unexpected package {other}"),
    };
    let mut out: Vec<Expected> = LISTS
        .iter()
        .zip(expected_bytes(&tree))
        .map(|((name, _), bytes)| {
            let fields = &status[*name];
            let (layer, reason, category) = how(name);
            Expected {
                name,
                version: fields["Version"].clone(),
                section: fields["Section"].clone(),
                installed_size: fields["Installed-Size"].parse::<u64>().unwrap() * 1024,
                bytes,
                layer,
                reason,
                category,
            }
        })
        .collect();
    out.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(b.name)));
    out
}

/// Writes the fixture as an OCI archive in `dir`; returns its reference.
fn write_fixture(dir: &Path) -> String {
    let path = dir.join("dpkg.tar");
    dpkg_image().write_oci_archive(&path, "t").unwrap();
    format!("oci-archive:{}", path.display())
}

#[test]
fn markdown_system_packages_section_is_exact() {
    let dir = tempfile::tempdir().unwrap();
    let image = write_fixture(dir.path());
    let out = layerscope()
        .args(["analyze", &image, "--format", "markdown", "--no-cache"])
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let md = String::from_utf8(out.stdout).unwrap();
    let u = Units::Si;
    let pkgs = expected();
    let total: u64 = pkgs.iter().map(|p| p.bytes).sum();
    let layer = |l: u32| -> (usize, u64, u64) {
        let of: Vec<&Expected> = pkgs.iter().filter(|p| p.layer == l).collect();
        let rec = of
            .iter()
            .filter(|p| p.reason == "recommended")
            .map(|p| p.bytes)
            .sum();
        (of.len(), of.iter().map(|p| p.bytes).sum(), rec)
    };
    let doc = pkgs.iter().find(|p| p.name == "bzip2-doc").unwrap().bytes;
    let mut want = format!(
        "### System packages (dpkg)\n\n5 packages, {} in their files in the final filesystem.\n\n\
         | Package | Version | Bytes | Installed size | Layer | Reason | Section |\n|---|---|---:|---:|---:|---|---|\n",
        u.bytes(total)
    );
    for p in &pkgs {
        let section = if p.category == "other" {
            p.section.clone()
        } else {
            format!("{} ({})", p.section, p.category)
        };
        want.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            p.name,
            p.version,
            u.bytes(p.bytes),
            u.bytes(p.installed_size),
            p.layer,
            p.reason,
            section
        ));
    }
    want.push_str("\n| Layer | Packages | Bytes | Recommended only |\n|---:|---:|---:|---:|\n");
    let (n0, b0, r0) = layer(0);
    let (n1, b1, r1) = layer(1);
    assert_eq!((r0, r1), (0, doc));
    want.push_str(&format!("| 0 | {n0} | {} | - |\n", u.bytes(b0)));
    want.push_str(&format!(
        "| 1 | {n1} | {} | {} |\n\n",
        u.bytes(b1),
        u.bytes(r1)
    ));
    want.push_str(&format!(
        "1 package came in only as a recommendation, {}: `bzip2-doc`. `apt-get install --no-install-recommends` would not install it.\n\n",
        u.bytes(doc)
    ));
    let start = md
        .find("### System packages")
        .unwrap_or_else(|| panic!("no section in:\n{md}"));
    assert_eq!(&md[start..], want);
    // The sizes as they were on the host (`tree.txt`), not rounded away.
    assert_eq!(
        pkgs.iter().find(|p| p.name == "libgomp1").unwrap().bytes,
        290_392
    );
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs external tools: cargo test --features tools"
)]
fn html_system_packages_section_equals_the_json() {
    if !require_tool("chromium") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let image = write_fixture(dir.path());
    let page = dir.path().join("report.html");
    let json_path = dir.path().join("report.json");
    let out = layerscope()
        .args(["analyze", &image, "--no-cache", "-o"])
        .arg(format!("html={}", page.display()))
        .arg("-o")
        .arg(format!("json={}", json_path.display()))
        .output()
        .unwrap();
    crate::support::assert_ok(&out);
    let json: Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    let url = format!("file://{}", page.display());
    let out = crate::html::chromium(&["--dump-dom", &url], &dir.path().join("profile"));
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(dom.contains("data-rendered=\"1\""), "{dom}");
    let nums: Vec<_> = crate::support::dom_numbers(&dom, true)
        .into_iter()
        .filter(|n| n.0.starts_with("system_packages."))
        .collect();
    let sp = &json["system_packages"];
    let mut seen = Vec::new();
    for (key, value, text) in &nums {
        seen.push(key.as_str());
        match key.as_str() {
            "system_packages.packages.length" => {
                assert_eq!(*value, 5);
                assert_eq!(text, "5");
            }
            "system_packages.recommended.length" => {
                assert_eq!(*value, 1);
                assert_eq!(text, "1");
            }
            _ => {
                let path = key.trim_start_matches("system_packages.");
                let v = path
                    .split('.')
                    .try_fold(sp, |v, k| match k.parse::<usize>() {
                        Ok(i) => v.get(i),
                        Err(_) => v.get(k),
                    })
                    .and_then(Value::as_u64);
                assert_eq!(v, Some(*value), "{key}");
                assert_eq!(text, &Units::Si.bytes(*value), "{key}");
            }
        }
    }
    for want in [
        "system_packages.bytes",
        "system_packages.recommended_bytes",
        "system_packages.packages.0.bytes",
        "system_packages.packages.4.installed_size",
        "system_packages.layers.0.bytes",
        "system_packages.layers.1.recommended_bytes",
    ] {
        assert!(seen.contains(&want), "{want} missing: {seen:?}");
    }
    // And the JSON holds the fixture's numbers, so the page does too.
    let pkgs = expected();
    let total: u64 = pkgs.iter().map(|p| p.bytes).sum();
    assert_eq!(sp["bytes"], total);
    for (i, p) in pkgs.iter().enumerate() {
        assert_eq!(sp["packages"][i]["name"], p.name);
        assert_eq!(sp["packages"][i]["bytes"], p.bytes, "{}", p.name);
    }
    let doc = pkgs.iter().find(|p| p.name == "bzip2-doc").unwrap().bytes;
    assert_eq!(sp["recommended_bytes"], doc);
    assert!(dom.contains("bzip2-doc</span>. apt-get install --no-install-recommends"));
}
