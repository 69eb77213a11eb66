//! rpm's sqlite database, written by the real `rpm`: three packages built
//! with `rpmbuild` and installed into a root with `rpm --root`, two in one
//! layer and one in the next. What layerscope reads is checked against
//! `rpm -qa` on that root and against the files' sizes as written here.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use layerscope::fixture::{Item, file, image, layer};
use layerscope::packages::{Database, Manager};

use crate::packages::load;
use crate::support::{require_tool, run_ok};

/// A spec of a noarch package with files of the given sizes (zero bytes).
fn spec(name: &str, version: &str, extra: &str, files: &[(&str, usize)]) -> String {
    let mut install = String::new();
    let mut list = String::new();
    for (path, size) in files {
        let dir = Path::new(path).parent().unwrap().display().to_string();
        install.push_str(&format!(
            "mkdir -p %{{buildroot}}{dir}\nhead -c {size} /dev/zero > %{{buildroot}}{path}\n"
        ));
        list.push_str(&format!("{path}\n"));
    }
    format!(
        "Name: {name}\nVersion: {version}\nRelease: 1.el9\nSummary: t\nLicense: MIT\nBuildArch: noarch\n{extra}\
         %description\nt\n%install\n{install}%files\n{list}"
    )
}

/// Installs the packages built from `specs` into `root` with `rpm`.
fn install(work: &Path, root: &Path, specs: &[String]) {
    let top = work.join("top");
    let _ = std::fs::remove_dir_all(top.join("RPMS"));
    for (i, s) in specs.iter().enumerate() {
        let f = work.join(format!("p{i}.spec"));
        std::fs::write(&f, s).unwrap();
        run_ok(
            Command::new("rpmbuild")
                .arg("--define")
                .arg(format!("_topdir {}", top.display()))
                .arg("-bb")
                .arg(&f),
        );
    }
    let rpms: Vec<_> = std::fs::read_dir(top.join("RPMS/noarch"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    run_ok(
        Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts"])
            .args(&rpms),
    );
}

/// Every regular file under `root`: its path (no leading `/`) and bytes,
/// rpm's `-shm`/`-wal` and lock files left out.
fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
            } else if !rel.ends_with("-shm") && !rel.ends_with("-wal") && !rel.ends_with(".lock") {
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out
}

fn items(files: &[(String, Vec<u8>)]) -> Vec<Item> {
    files.iter().map(|(p, d)| file(p, d)).collect()
}

/// `rpm -qa` on `root`: name -> (epoch:version-release, size).
fn query(root: &Path) -> Vec<(String, String, u64)> {
    let text = run_ok(
        Command::new("rpm")
            .arg("--root")
            .arg(root)
            .args(["--dbpath", "/var/lib/rpm", "-qa", "--qf"])
            .arg("%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE} %{SIZE}\\n"),
    );
    let mut out: Vec<(String, String, u64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f[0].to_owned(), f[1].to_owned(), f[2].parse().unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
#[cfg_attr(
    not(feature = "tools"),
    ignore = "needs rpm and rpmbuild: cargo test --features tools"
)]
fn rpm_sqlite_database_matches_rpm_query() {
    if !(require_tool("rpm") && require_tool("rpmbuild")) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let alpha = spec(
        "alpha",
        "1.2",
        "Group: Development/Libraries\nRequires: beta\nProvides: libalpha.so.1()(64bit)\n",
        &[
            ("/usr/lib64/libalpha.so.1", 3000),
            ("/usr/share/alpha/data.bin", 1234),
        ],
    );
    let beta = spec("beta", "0.9", "Epoch: 2\n", &[("/usr/bin/beta", 5000)]);
    install(work.path(), &root, &[alpha, beta]);
    let first = files(&root);
    let gamma = spec("gamma", "3.0", "", &[("/opt/gamma/g.bin", 7000)]);
    install(work.path(), &root, &[gamma]);
    // The second layer: what the gamma install added, and the database.
    let second: Vec<(String, Vec<u8>)> = files(&root)
        .into_iter()
        .filter(|(p, _)| p.ends_with("rpmdb.sqlite") || !first.iter().any(|(q, _)| q == p))
        .collect();
    assert_eq!(second.len(), 2, "gamma's file and the database");
    let img = load(&image(vec![layer(items(&first)), layer(items(&second))]));
    let db = Database::read(&img).unwrap();
    assert_eq!(db.manager, Manager::Rpm);

    let want = query(&root);
    let got: Vec<(String, String, u64)> = db
        .packages
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.installed_size))
        .collect();
    assert_eq!(got, want);
    // Bytes from the files as written above; layers from the installs.
    let bytes: Vec<(&str, u32, u64)> = db
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.layer, p.bytes))
        .collect();
    assert_eq!(
        bytes,
        [
            ("alpha", 0, 3000 + 1234),
            ("beta", 0, 5000),
            ("gamma", 1, 7000)
        ]
    );
    assert_eq!(db.owner_of("/usr/bin/beta").unwrap().name, "beta");
    assert_eq!(db.get("alpha").unwrap().depends, [vec!["beta".to_owned()]]);
    assert_eq!(db.get("alpha").unwrap().section, "Development/Libraries");
    assert_eq!(db.bytes(), 3000 + 1234 + 5000 + 7000);
    // rpm's names for headers and debug packages group as Debian's do.
    assert_eq!(layerscope::packages::category("glibc-devel", ""), "dev");
    assert_eq!(
        layerscope::packages::category("glibc-debuginfo", ""),
        "docs"
    );
}
