//! The multi-stage split on a fixture image that holds a dpkg database and
//! real ELF files (built with gcc here): a Python extension that needs a
//! library its wheel bundles (`fast.libs/`), one the base image holds
//! (`libm.so.6`) and one a package installed above the base provides
//! (`libgomp.so.1`, from `libgomp1`). The runtime stage installs `python3`
//! and `libgomp1` only, and the saving is the toolchain package's files.

use std::path::Path;
use std::process::Command;

use layerscope::fixture::{Item, file, image, layer, owned, raw, sized_file};

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

/// The bytes of gcc-12's files.
fn gcc_bytes() -> u64 {
    GCC_FILES.iter().map(|(_, n)| *n as u64).sum()
}

/// What a variant of the fixture adds: apt's `python3-pip` with the
/// distributions it and its dependencies install, and the owner of `/app`
/// (its directory and every file under it, or the directory and one of
/// its two files).
#[derive(Clone, Copy, Default)]
struct Variant {
    pip: bool,
    app_owner: Option<(u64, bool)>,
    /// gcc-12 recommends `manpages-dev` ([`MANPAGES`]), installed with it.
    recommends: bool,
    /// 1 MB of random bytes in `/tmp` beside gcc-12's files: the layer as
    /// a whole hardly compresses, gcc-12's (repeating) files do.
    noise: bool,
}

/// The recommended package's file and size.
const MANPAGES: (&str, usize) = ("usr/share/man/man2/open.2.gz", 6_000);

/// The distributions apt installs in the `pip` variant: (package, its
/// `dist-info` file, size).
const APT_DISTS: [(&str, &str, usize); 3] = [
    (
        "python3-pip",
        "usr/lib/python3/dist-packages/pip-23.0.1.dist-info/METADATA",
        4_000,
    ),
    (
        "python3-setuptools",
        "usr/lib/python3/dist-packages/setuptools-66.1.1.dist-info/METADATA",
        3_000,
    ),
    (
        "python3-wheel",
        "usr/lib/python3/dist-packages/wheel-0.38.4.dist-info/METADATA",
        2_000,
    ),
];

/// A directory entry owned by `uid` (group `uid`, as the fixture's
/// `owned` files), mode 755.
fn owned_dir(path: &str, uid: u64) -> Item {
    let mut h = tar::Header::new_ustar();
    h.set_path(format!("{path}/")).unwrap();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_uid(uid);
    h.set_gid(uid);
    h.set_size(0);
    h.set_mtime(1_700_000_000);
    h.set_cksum();
    raw(h.as_bytes().to_vec())
}

fn fixture() -> layerscope::fixture::Image {
    fixture_with(Variant::default())
}

fn fixture_with(v: Variant) -> layerscope::fixture::Image {
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
    if v.noise {
        apt.push(file("tmp/blob.bin", crate::support::noise(1_000_000, 9)));
    }
    let gomp_list = [gomp_path.as_str()];
    let mut packages: Vec<(&str, &str, &str, &[&str])> = vec![
        base_pkgs,
        (
            "gcc-12",
            "devel",
            match (v.pip, v.recommends) {
                (true, true) => "Depends: libc6, python3-wheel\nRecommends: manpages-dev\n",
                (true, false) => "Depends: libc6, python3-wheel\n",
                (false, true) => "Depends: libc6\nRecommends: manpages-dev\n",
                (false, false) => "Depends: libc6\n",
            },
            &[GCC_FILES[0].0, GCC_FILES[1].0],
        ),
        ("libgomp1", "libs", "Depends: libc6\n", &gomp_list),
        (
            "python3",
            "python",
            "Depends: libc6\n",
            &["usr/bin/python3"],
        ),
    ];
    let dist_lists: Vec<[&str; 1]> = APT_DISTS.iter().map(|(_, f, _)| [*f]).collect();
    if v.pip {
        // python3-pip depends on setuptools; wheel comes with gcc-12 here
        // (a build-only package), so nothing the runtime stage keeps
        // brings it.
        let deps = [
            "Depends: python3, python3-setuptools\n",
            "Depends: python3\n",
            "Depends: python3\n",
        ];
        for (i, (name, file, size)) in APT_DISTS.iter().enumerate() {
            apt.push(sized_file(file, *size, 20 + i as u64));
            packages.push((name, "python", deps[i], &dist_lists[i]));
        }
    }
    let manpages = [MANPAGES.0];
    let mut auto: Vec<&str> = Vec::new();
    if v.pip {
        auto.extend(["python3-setuptools", "python3-wheel"]);
    }
    if v.recommends {
        apt.push(sized_file(MANPAGES.0, MANPAGES.1, 30));
        packages.push(("manpages-dev", "doc", "", &manpages));
        auto.push("manpages-dev");
    }
    if !auto.is_empty() {
        let states: String = auto
            .iter()
            .map(|n| format!("Package: {n}\nArchitecture: amd64\nAuto-Installed: 1\n\n"))
            .collect();
        apt.push(file("var/lib/apt/extended_states", states.as_bytes()));
    }
    apt.extend(dpkg(&packages));
    let mut app = vec![
        sized_file("app/app.py", 2_000, 7),
        sized_file("app/requirements.txt", 30, 8),
    ];
    if let Some((uid, files_too)) = v.app_owner {
        app.insert(0, owned_dir("app", uid));
        let n = if files_too { app.len() } else { 2 };
        for item in &mut app[1..n] {
            *item = owned(item.clone(), uid);
        }
    }
    let install = if v.pip {
        "python3 python3-pip"
    } else {
        "python3"
    };
    image(vec![
        layer(base).created_by(BASE),
        layer(apt).created_by(&format!(
            "RUN /bin/sh -c apt-get update && apt-get install -y {install} gcc-12 libgomp1 && rm -rf /var/lib/apt/lists/* # buildkit",
        )),
        layer(app).created_by("COPY . . # buildkit"),
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
    let gcc = gcc_bytes();
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

/// The split's compressed saving is gcc-12's files estimated as what they
/// are (a repeating pattern: a few percent), not at the ratio of a layer
/// that random bytes beside them make nearly incompressible.
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn the_split_saving_is_estimated_file_by_file() {
    if !require_tool("gcc") {
        return;
    }
    let v = Variant {
        noise: true,
        ..Variant::default()
    };
    let r = optimize(
        Some(fixture_with(v)),
        DOCKERFILE,
        &["--apply", "multi-stage"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let a = change(&r.report, "multi-stage");
    let gcc = gcc_bytes();
    assert_eq!(a["bytes"], gcc, "{a:#}");
    let c = a["compressed_bytes"].as_u64().unwrap();
    assert!(c > 0 && c < gcc / 10, "{c} of {gcc}");
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

/// apt's python3-pip installed pip (and, through its dependencies,
/// setuptools) in `/usr/lib/python3/dist-packages`: the runtime stage
/// installs it (`--no-install-recommends` keeps the toolchain it recommends
/// out), and a distribution whose package only a build-only package pulled
/// in (`python3-wheel`, here through gcc-12) is named too. The saving is
/// still gcc-12's files alone.
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn the_runtime_stage_keeps_the_distributions_apt_installed() {
    if !require_tool("gcc") {
        return;
    }
    let df = DOCKERFILE.replace(
        "install -y python3 gcc-12",
        "install -y python3 python3-pip gcc-12",
    );
    let v = Variant {
        pip: true,
        ..Variant::default()
    };
    let r = optimize(Some(fixture_with(v)), &df, &["--apply", "multi-stage"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let runtime = r.rewritten.split("# Runtime stage").nth(1).unwrap_or("");
    assert!(
        runtime.contains("apt-get install -y --no-install-recommends libgomp1 python3 python3-pip python3-wheel \\\n"),
        "{}",
        r.rewritten
    );
    let a = change(&r.report, "multi-stage");
    assert_eq!(a["applied"], true, "{a:#}");
    assert_eq!(
        a["packages"],
        serde_json::json!(["libgomp1", "python3", "python3-pip", "python3-wheel"])
    );
    assert!(
        a["change"]
            .as_str()
            .unwrap()
            .contains("python3-pip python3-wheel"),
        "{a:#}"
    );
    let gcc = gcc_bytes();
    assert_eq!(a["bytes"], gcc, "{a:#}");
}

/// `/app` owned by 1000:1000 (a `chown -R`): `COPY --from` copies what is
/// in a directory, with its owners, but makes the directory itself root's
/// (or leaves it as the runtime stage has it), so the runtime stage makes
/// `/app` with its owner first. The same whether the files under it are
/// all 1000's or not (no `--chown` could say the second).
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn copied_directories_keep_their_own_owner() {
    if !require_tool("gcc") {
        return;
    }
    for files_too in [true, false] {
        let v = Variant {
            app_owner: Some((1000, files_too)),
            ..Variant::default()
        };
        let r = optimize(
            Some(fixture_with(v)),
            DOCKERFILE,
            &["--apply", "multi-stage"],
        );
        assert_eq!(r.code, Some(0), "{}", r.stderr);
        assert_eq!(change(&r.report, "multi-stage")["applied"], true);
        assert!(
            r.rewritten.contains(
                "    && rm -rf /var/lib/apt/lists/*\n\
RUN mkdir -p /app && chown 1000:1000 /app\n\
COPY --from=build /app /app\n\
COPY --from=build /usr/local/bin /usr/local/bin\n\
COPY --from=build /usr/local/lib/python3.11/dist-packages /usr/local/lib/python3.11/dist-packages\n"
            ),
            "{}",
            r.rewritten
        );
    }
}

/// A package only gcc-12's recommendation installed: alone,
/// `no-install-recommends` saves its bytes; with the split applied too, the
/// runtime stage leaves it out already, so the split counts it and
/// `no-install-recommends` promises nothing more (the bytes once, not
/// twice).
#[test]
#[cfg_attr(not(feature = "tools"), ignore = "needs gcc")]
fn a_recommended_package_is_counted_once_with_the_split() {
    if !require_tool("gcc") {
        return;
    }
    let v = Variant {
        recommends: true,
        ..Variant::default()
    };
    let gcc = gcc_bytes();
    let man = MANPAGES.1 as u64;
    let r = optimize(
        Some(fixture_with(v)),
        DOCKERFILE,
        &["--apply", "no-install-recommends"],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let rec = change(&r.report, "no-install-recommends");
    assert_eq!(
        (&rec["applied"], &rec["bytes"]),
        (&true.into(), &man.into()),
        "{rec:#}"
    );
    assert_eq!(rec["packages"], serde_json::json!(["manpages-dev"]));
    let r = optimize(Some(fixture_with(v)), DOCKERFILE, &["--apply", "all"]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let split = change(&r.report, "multi-stage");
    assert_eq!(
        (&split["applied"], &split["bytes"]),
        (&true.into(), &(gcc + man).into()),
        "{split:#}"
    );
    let rec = change(&r.report, "no-install-recommends");
    assert_eq!(
        (&rec["applied"], &rec["bytes"], &rec["compressed_bytes"]),
        (&true.into(), &0.into(), &0.into()),
        "{rec:#}"
    );
    assert!(
        rec["change"]
            .as_str()
            .unwrap()
            .ends_with("the runtime stage leaves them out already (their bytes are counted there)"),
        "{rec:#}"
    );
}
