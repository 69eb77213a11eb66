//! The multi-stage split on a fixture image that holds a dpkg database and
//! real ELF files (built with gcc here): a Python extension that needs a
//! library its wheel bundles (`fast.libs/`), one the base image holds
//! (`libm.so.6`) and one a package installed above the base provides
//! (`libgomp.so.1`, from `libgomp1`). The runtime stage installs `python3`
//! and `libgomp1` only, and the saving is the toolchain package's files.

use std::path::Path;
use std::process::Command;

use layerscope::fixture::{Item, file, image, layer, sized_file};

use super::rewrites::{change, optimize};
use crate::support::require_tool;

const BASE: &str = "/bin/sh -c #(nop) ADD file:1 in / ";
const LIBDIR: &str = "usr/lib/x86_64-linux-gnu";

fn stanza(name: &str, section: &str, depends: &str) -> String {
    format!(
        "Package: {name}\nStatus: install ok installed\nPriority: optional\nSection: {section}\nInstalled-Size: 100\nArchitecture: amd64\nVersion: 1.0\n{depends}Description: {name}\n\n"
    )
}

/// The dpkg database of a layer: status and file lists.
fn dpkg(packages: &[(&str, &str, &str, &[&str])]) -> Vec<Item> {
    let mut status = String::new();
    let mut out = Vec::new();
    for (name, section, depends, files) in packages {
        status.push_str(&stanza(name, section, depends));
        let list: String = files.iter().map(|f| format!("/{f}\n")).collect();
        out.push(file(
            format!("var/lib/dpkg/info/{name}:amd64.list"),
            list.as_bytes(),
        ));
    }
    out.push(file("var/lib/dpkg/status", status.as_bytes()));
    out
}

fn gcc(dir: &Path, args: &[&str]) {
    let ok = Command::new("gcc")
        .current_dir(dir)
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "gcc {args:?} failed");
}

/// A fake `libgomp.so.1` and `libbundled.so.1`, and `_fast.so` linked
/// against both and libm, as gcc makes them.
fn elf_files() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("g.c"),
        "int omp_get_num_threads(void) { return 1; }\n",
    )
    .unwrap();
    std::fs::write(d.join("b.c"), "int bundled(void) { return 2; }\n").unwrap();
    std::fs::write(
        d.join("f.c"),
        "#include <math.h>\nint omp_get_num_threads(void);\nint bundled(void);\ndouble fast(double x) { return cos(x) + bundled() + omp_get_num_threads(); }\n",
    )
    .unwrap();
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libgomp.so.1",
            "g.c",
            "-Wl,-soname,libgomp.so.1",
        ],
    );
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "libbundled.so.1",
            "b.c",
            "-Wl,-soname,libbundled.so.1",
        ],
    );
    gcc(
        d,
        &[
            "-shared",
            "-fPIC",
            "-o",
            "_fast.so",
            "f.c",
            "-Wl,--no-as-needed",
            "./libbundled.so.1",
            "./libgomp.so.1",
            "-lm",
            "-Wl,-rpath,$ORIGIN/../fast.libs",
        ],
    );
    let read = |n: &str| std::fs::read(d.join(n)).unwrap();
    (
        read("libgomp.so.1"),
        read("libbundled.so.1"),
        read("_fast.so"),
    )
}

const GCC_FILES: [(&str, usize); 2] = [("usr/bin/gcc-12", 400_000), ("usr/include/stdio.h", 3_000)];

fn fixture() -> layerscope::fixture::Image {
    let (gomp, bundled, fast) = elf_files();
    let site = "usr/local/lib/python3.11/dist-packages";
    let libc = format!("{LIBDIR}/libc.so.6");
    let libm = format!("{LIBDIR}/libm.so.6");
    let gomp_path = format!("{LIBDIR}/libgomp.so.1");
    let base_pkgs: (&str, &str, &str, &[&str]) = ("libc6", "libs", "", &[&libc, &libm]);
    let mut base = vec![
        sized_file("bin/sh", 10_000, 1),
        sized_file(&libc, 2_000, 2),
        sized_file(&libm, 1_000, 3),
    ];
    base.extend(dpkg(&[base_pkgs]));
    let mut apt = vec![
        sized_file("usr/bin/python3", 50_000, 4),
        sized_file(GCC_FILES[0].0, GCC_FILES[0].1, 5),
        sized_file(GCC_FILES[1].0, GCC_FILES[1].1, 6),
        file(&gomp_path, &gomp),
    ];
    apt.extend(dpkg(&[
        base_pkgs,
        (
            "gcc-12",
            "devel",
            "Depends: libc6\n",
            &[GCC_FILES[0].0, GCC_FILES[1].0],
        ),
        ("libgomp1", "libs", "Depends: libc6\n", &[&gomp_path]),
        (
            "python3",
            "python",
            "Depends: libc6\n",
            &["usr/bin/python3"],
        ),
    ]));
    image(vec![
        layer(base).created_by(BASE),
        layer(apt).created_by(
            "RUN /bin/sh -c apt-get update && apt-get install -y python3 gcc-12 libgomp1 && rm -rf /var/lib/apt/lists/* # buildkit",
        ),
        layer(vec![
            sized_file("app/app.py", 2_000, 7),
            sized_file("app/requirements.txt", 30, 8),
        ])
        .created_by("COPY . . # buildkit"),
        layer(vec![
            file(format!("{site}/fast/_fast.so"), &fast),
            file(format!("{site}/fast.libs/libbundled.so.1"), &bundled),
            sized_file(format!("{site}/fast/__init__.py"), 500, 9),
            sized_file("usr/local/bin/fast", 300, 10),
        ])
        .created_by("RUN /bin/sh -c pip install --no-cache-dir -r requirements.txt # buildkit"),
    ])
}

const DOCKERFILE: &str = "FROM debian:bookworm\nRUN apt-get update && apt-get install -y python3 gcc-12 libgomp1 && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY . .\nRUN pip install --no-cache-dir -r requirements.txt\nENV PYTHONUNBUFFERED=1\nUSER nobody\nEXPOSE 8000\nCMD [\"python3\", \"/app/app.py\"]\n";

/// `--apply multi-stage`: the build stage is the original (with the safe
/// changes), the runtime stage installs `libgomp1` (needed by `_fast.so`,
/// not bundled, not in the base) and `python3`, copies the Python prefix and
/// the application, and carries ENV, WORKDIR, USER, EXPOSE and CMD over.
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn splits_the_stages_with_the_runtime_libraries_from_dt_needed() {
    if !require_tool("gcc") {
        return;
    }
    let r = optimize(Some(fixture()), DOCKERFILE, &["--apply", "multi-stage"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(
        r.rewritten,
        "FROM debian:bookworm AS build\nRUN apt-get update && apt-get install -y python3 gcc-12 libgomp1 && rm -rf /var/lib/apt/lists/*\nWORKDIR /app\nCOPY requirements.txt ./\nRUN pip install --no-cache-dir -r requirements.txt\nCOPY . .\nENV PYTHONUNBUFFERED=1\nUSER nobody\nEXPOSE 8000\nCMD [\"python3\", \"/app/app.py\"]\n\n\
# Runtime stage (layerscope): the packages and application of `build`, without its toolchain\n\
FROM debian:bookworm\n\
ENV PYTHONUNBUFFERED=1\n\
RUN apt-get update \\\n    && apt-get install -y --no-install-recommends libgomp1 python3 \\\n    && rm -rf /var/lib/apt/lists/*\n\
COPY --from=build /app /app\n\
COPY --from=build /usr/local/bin /usr/local/bin\n\
COPY --from=build /usr/local/lib/python3.11/dist-packages /usr/local/lib/python3.11/dist-packages\n\
WORKDIR /app\nUSER nobody\nEXPOSE 8000\nCMD [\"python3\", \"/app/app.py\"]\n"
    );
    let a = change(&r.report, "multi-stage");
    assert_eq!(a["class"], "review");
    assert_eq!(a["applied"], true, "{a:#}");
    // gcc-12's files: the only package the runtime stage leaves out.
    let gcc: u64 = GCC_FILES.iter().map(|(_, n)| *n as u64).sum();
    assert_eq!(a["bytes"], gcc, "{a:#}");
    let c = a["compressed_bytes"].as_u64().unwrap();
    assert!(c > 0 && c <= gcc + gcc / 10, "{c}");
    assert_eq!(a["packages"], serde_json::json!(["libgomp1", "python3"]));
    // Without --apply it stays advice, with the reason.
    let r = optimize(Some(fixture()), DOCKERFILE, &[]);
    let a = change(&r.report, "multi-stage");
    assert_eq!(a["applied"], false);
    assert!(a["reason"].as_str().unwrap().contains("--apply"), "{a:#}");
    assert!(!r.rewritten.contains("AS build"), "{}", r.rewritten);
}

/// Already several stages, or a file written outside what would be
/// copied: no split, and the reason says why.
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn refuses_with_a_reason_when_the_split_is_not_safe() {
    if !require_tool("gcc") {
        return;
    }
    let two = format!("FROM debian:bookworm AS deps\nRUN true\n\n{DOCKERFILE}");
    let r = optimize(Some(fixture()), &two, &["--apply", "all", "--force"]);
    let a = change(&r.report, "multi-stage");
    assert_eq!(a["applied"], false);
    assert!(
        a["reason"].as_str().unwrap().contains("several stages"),
        "{a:#}"
    );
    assert!(
        !r.rewritten.contains("COPY --from=build"),
        "{}",
        r.rewritten
    );
}
