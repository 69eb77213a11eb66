//! The parser against `readelf` on files gcc builds here.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use super::*;
use std::process::Command;

/// Compiles a small shared object with `gcc -g` and compares the
/// parser's sums with `readelf -S -W` (skipped when either is missing).
#[test]
fn agrees_with_readelf_on_a_real_shared_object() {
    let dir = std::env::temp_dir().join(format!("layerscope-elf-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let src = dir.join("t.c");
    let so = dir.join("libt.so");
    let _ = std::fs::write(
        &src,
        "int add(int a, int b) { return a + b; }\nstatic const char big[5000] = {1};\nconst char *p(void) { return big; }\n",
    );
    let built = Command::new("gcc")
        .args(["-g", "-shared", "-fPIC", "-o"])
        .arg(&so)
        .arg(&src)
        .status();
    let listing = Command::new("readelf").args(["-S", "-W"]).arg(&so).output();
    let (Ok(status), Ok(listing)) = (built, listing) else {
        eprintln!("skipping: gcc or readelf missing");
        return;
    };
    if !status.success() || !listing.status.success() {
        eprintln!("skipping: gcc or readelf failed");
        return;
    }
    let text = String::from_utf8_lossy(&listing.stdout);
    let (mut debug, mut strippable) = (0u64, 0u64);
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('[') else {
            continue;
        };
        let Some((nr, rest)) = rest.split_once(']') else {
            continue;
        };
        let Ok(nr) = nr.trim().parse::<u32>() else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if nr == 0 || f.len() < 7 {
            continue;
        }
        // Name Type Address Off Size ES [Flg] Lk Inf Al
        let (name, kind, size) = (f[0], f[1], u64::from_str_radix(f[4], 16).unwrap());
        let flags = if f.len() == 10 { f[6] } else { "" };
        if name == ".shstrtab" || kind == "NOBITS" || flags.contains('A') {
            continue;
        }
        strippable += size;
        if name.starts_with(".debug") {
            debug += size;
        }
    }
    let data = std::fs::read(&so).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mut s = ElfScanner::new();
    for c in data.chunks(4096) {
        s.feed(c);
    }
    let info = s.finish().unwrap();
    assert!(debug > 0, "gcc -g wrote no debug sections:\n{text}");
    assert_eq!(info.debug_bytes, debug);
    assert_eq!(info.strippable_bytes, strippable);
}
