//! The dynamic-section scanner against `readelf -d`.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use super::super::ElfScanner;
use super::*;
use std::path::Path;
use std::process::Command;

fn scan(data: &[u8], chunk: usize) -> Option<super::super::ElfInfo> {
    let mut s = ElfScanner::new();
    for c in data.chunks(chunk) {
        s.feed(c);
    }
    s.finish()
}

/// `readelf -d`'s NEEDED, SONAME and RUNPATH/RPATH of a file.
fn readelf(path: &Path) -> Option<Dynamic> {
    let out = Command::new("readelf").arg("-d").arg(path).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let bracketed = |l: &str| -> String {
        let a = l.find('[').map_or(0, |i| i + 1);
        let b = l.rfind(']').unwrap_or(l.len());
        l[a..b].to_owned()
    };
    let mut d = Dynamic::default();
    let mut rpath = Vec::new();
    for l in text.lines() {
        if l.contains("(NEEDED)") {
            d.needed.push(bracketed(l));
        } else if l.contains("(SONAME)") {
            d.soname = Some(bracketed(l));
        } else if l.contains("(RUNPATH)") {
            d.runpath = split(&bracketed(l));
        } else if l.contains("(RPATH)") {
            rpath = split(&bracketed(l));
        }
    }
    if d.runpath.is_empty() {
        d.runpath = rpath;
    }
    Some(d)
}

/// Where `PT_DYNAMIC` lies, read with the parser's own header code.
fn dynamic_offset(data: &[u8]) -> u64 {
    let h = parse_header(data).unwrap();
    program_headers(data, h).unwrap().0.unwrap().0
}

fn gcc(dir: &Path, args: &[&str]) -> bool {
    Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// A shared object and an executable built with gcc (with a soname, a
/// `$ORIGIN` run path and libraries they need), and a few system
/// libraries: the parser agrees with `readelf -d` in any chunking.
/// `LAYERSCOPE_ELF_FILES=a.so:b.so` adds files (a 448 MB
/// `libtorch_cpu.so` was checked so).
#[test]
fn agrees_with_readelf_on_real_files() {
    let dir = std::env::temp_dir().join(format!("layerscope-dyn-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(
        dir.join("t.c"),
        "#include <math.h>\ndouble f(double x) { return cos(x); }\n",
    );
    // 12 MiB of read-only data put `.dynamic` past the kept prefix, as
    // in libtorch_cpu.so.
    let _ = std::fs::write(
        dir.join("big.c"),
        "#include <math.h>\nconst char big[12 << 20] = {1};\n\
         double g(double x) { return cos(x) + big[(int)x]; }\n",
    );
    let _ = std::fs::write(
        dir.join("m.c"),
        "double f(double);\nint main(void) { return (int)f(0.0); }\n",
    );
    let built = gcc(
        &dir,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libt.so.1",
            "t.c",
            "-lm",
            "-Wl,-soname,libt.so.1",
            "-Wl,-rpath,$ORIGIN/../lib:/opt/x",
        ],
    ) && gcc(
        &dir,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libbig.so.2",
            "big.c",
            "-lm",
            "-Wl,-soname,libbig.so.2",
            "-Wl,-rpath,/opt/big",
        ],
    ) && gcc(
        &dir,
        &[
            "-o",
            "m",
            "m.c",
            "./libt.so.1",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN",
        ],
    );
    if !built {
        eprintln!("skipping: gcc missing or failed");
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let mut files = vec![
        dir.join("libt.so.1"),
        dir.join("libbig.so.2"),
        dir.join("m"),
    ];
    for sys in [
        "/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
        "/usr/lib/x86_64-linux-gnu/libz.so.1",
        "/bin/ls",
    ] {
        if Path::new(sys).exists() {
            files.push(sys.into());
        }
    }
    // patchelf moves the string table past the dynamic section, as in
    // torch's wheels: read in the same chunk or a later one.
    for (from, to) in [
        ("libt.so.1", "libt-patched.so"),
        ("libbig.so.2", "libbig-patched.so"),
    ] {
        let _ = std::fs::copy(dir.join(from), dir.join(to));
        let patched = Command::new("patchelf")
            .arg("--set-rpath")
            .arg("/opt/a-run-path-too-long-for-the-old-string-table:/opt/b")
            .arg(dir.join(to))
            .status()
            .is_ok_and(|s| s.success());
        if patched {
            files.push(dir.join(to));
        } else {
            eprintln!("skipping {to}: patchelf missing or failed");
        }
    }
    if let Ok(more) = std::env::var("LAYERSCOPE_ELF_FILES") {
        files.extend(more.split(':').filter(|p| !p.is_empty()).map(Into::into));
    }
    for f in &files {
        let Some(want) = readelf(f) else {
            eprintln!("skipping: readelf missing");
            return;
        };
        let data = std::fs::read(f).unwrap();
        for chunk in [1usize, 7, 4096, 65536, data.len()] {
            let info = scan(&data, chunk).unwrap();
            let got = Dynamic {
                needed: info.needed,
                soname: info.soname,
                runpath: info.runpath,
            };
            assert_eq!(got, want, "{} in chunks of {chunk}", f.display());
        }
    }
    let so = scan(&std::fs::read(dir.join("libt.so.1")).unwrap(), 4096).unwrap();
    assert!(so.needed.iter().any(|n| n == "libm.so.6"), "{so:?}");
    assert_eq!(so.soname.as_deref(), Some("libt.so.1"));
    assert_eq!(so.runpath, ["$ORIGIN/../lib", "/opt/x"]);
    let big = std::fs::read(dir.join("libbig.so.2")).unwrap();
    assert!(
        dynamic_offset(&big) > PREFIX_CAP,
        "the test needs .dynamic past the cap"
    );
    let big = scan(&big, 65536).unwrap();
    assert_eq!(big.needed, ["libm.so.6"]);
    assert_eq!(big.soname.as_deref(), Some("libbig.so.2"));
    assert_eq!(big.runpath, ["/opt/big"]);
    let exe = scan(&std::fs::read(dir.join("m")).unwrap(), 4096).unwrap();
    assert!(exe.needed.iter().any(|n| n == "libt.so.1"), "{exe:?}");
    assert_eq!(exe.runpath, ["$ORIGIN"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Truncated or corrupted files never panic and yield no names.
#[test]
fn truncated_files_yield_no_names() {
    let Ok(data) = std::fs::read("/bin/sh") else {
        return;
    };
    // Whole, the same file names libc: what the cuts below lose.
    let whole = scan(&data, 4096).unwrap();
    assert!(
        whole.needed.iter().any(|n| n.starts_with("libc.so")),
        "{whole:?}"
    );
    let mut s = DynamicScanner::default();
    s.feed(&data[..data.len().min(200)]);
    assert_eq!(s.finish(), None);
    let mut bad = data[..data.len().min(1 << 20)].to_vec();
    bad[0x20] = 0xff; // e_phoff far away
    let mut s = DynamicScanner::default();
    s.feed(&bad);
    assert_eq!(s.finish(), None);
}
