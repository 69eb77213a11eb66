//! Native libraries: `duplicate-native-library` (one library present as
//! several builds, whoever installed each copy) and `gpu-libraries`.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::{PythonReport, env_of};
use crate::analyze::{Finding, FindingKind};
use crate::model::{Image, Loc, LocSet};
use crate::packages::{Database, Manager};
use crate::scan::EntryKind;

/// The library name a shared object provides, from its file name:
/// `libscipy_openblas64_-ff651d7f.so` -> `scipy_openblas64_`,
/// `libcudart.so.12` -> `cudart`. `None` for anything that is not a
/// `lib*.so*` file.
pub(crate) fn soname_stem(file_name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(file_name).ok()?;
    let rest = name.strip_prefix("lib")?;
    let dot = rest.find(".so")?;
    if !(rest[dot..] == *".so" || rest[dot..].starts_with(".so.")) {
        return None;
    }
    let mut stem = &rest[..dot];
    // auditwheel appends `-<8 hex digits>` to the libraries it bundles
    // (twice when a wheel's libraries were repaired again).
    while let Some((a, h)) = stem.rsplit_once('-')
        && h.len() == 8
        && h.bytes().all(|b| b.is_ascii_hexdigit())
    {
        stem = a;
    }
    (!stem.is_empty()).then(|| stem.to_ascii_lowercase())
}

/// The family a stem belongs to: every OpenBLAS build (`openblas`,
/// `openblasp-r0`, `scipy_openblas64_`) is one library; otherwise the stem.
pub(crate) fn family(stem: &str) -> String {
    if stem.contains("openblas") {
        "openblas".to_owned()
    } else {
        stem.to_owned()
    }
}

/// The ML runtimes whose builds are one library whatever their soname
/// version (several loaded at once is the waste, or the conflict): BLAS,
/// OpenMP, the Fortran runtime, and CUDA's libraries.
fn is_runtime_family(fam: &str) -> bool {
    matches!(fam, "openblas" | "gomp" | "iomp5" | "gfortran" | "quadmath") || is_cuda_stem(fam)
}

/// The grouping key of a shared object: its family, plus the soname's
/// major version when the name has one (`libnsl.so.1` and `libnsl.so.2`
/// are different libraries, not two builds of one). The ML runtimes
/// (OpenBLAS, libgomp, libgfortran, CUDA's) are one group whatever their
/// version.
pub(crate) fn library_key(stem: &str, file_name: &[u8]) -> String {
    let fam = family(stem);
    if is_runtime_family(&fam) {
        return fam;
    }
    let name = String::from_utf8_lossy(file_name);
    match name
        .split_once(".so.")
        .and_then(|(_, v)| v.split('.').next())
        .filter(|m| !m.is_empty())
    {
        Some(major) => format!("{fam}.so.{major}"),
        None => fam,
    }
}

/// CUDA runtime libraries by stem prefix.
const CUDA_STEMS: &[&str] = &[
    "cudart",
    "cublas",
    "cudnn",
    "cufft",
    "curand",
    "cusolver",
    "cusparse",
    "nccl",
    "nvrtc",
    "nvjitlink",
    "cupti",
    "nvtoolsext",
    "cufile",
    "torch_cuda",
    "c10_cuda",
    "nvblas",
    "nvinfer",
    "cuda",
];

fn is_cuda_stem(stem: &str) -> bool {
    CUDA_STEMS.iter().any(|s| stem.starts_with(s))
}

/// Whether a final-filesystem path is a CUDA file: inside an `nvidia/`
/// package of an environment (the `nvidia-*` wheels), under
/// `/usr/local/cuda*`, or a CUDA library by name.
fn is_cuda_path(path: &[u8]) -> bool {
    if let Some(env) = env_of(path)
        && path[env.len()..].starts_with(b"/nvidia/")
    {
        return true;
    }
    if path.starts_with(b"usr/local/cuda") {
        return true;
    }
    let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
    soname_stem(name).is_some_and(|s| is_cuda_stem(&s))
}

/// The stem of a static archive: `libopenblasp-r0.3.21.a` -> `openblasp-r0.3.21`.
fn archive_stem(file_name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(file_name).ok()?;
    let stem = name.strip_prefix("lib")?.strip_suffix(".a")?;
    (!stem.is_empty()).then(|| stem.to_ascii_lowercase())
}

/// Who installed the file at `loc`: the system package that lists it, or
/// the Python distribution whose files hold it.
fn installed_by(
    image: &Image,
    report: &PythonReport,
    packages: Option<&Database>,
    loc: Loc,
) -> Option<String> {
    let path = image.entry(loc).path.as_bytes();
    if let Some(db) = packages
        && let Some(p) = db.owner_of(path)
    {
        let tool = match db.manager {
            Manager::Dpkg => "apt",
            Manager::Apk => "apk",
            Manager::Rpm | Manager::None => "system",
        };
        return Some(format!("{tool} package {}", p.name));
    }
    let env = env_of(path)?;
    let env = report
        .environments
        .iter()
        .find(|e| e.path.as_bytes().get(1..) == Some(env))?;
    env.distributions
        .iter()
        .find(|d| d.locs.binary_search(&loc).is_ok())
        .map(|d| format!("{} {} in `{}`", d.name, d.version, env.path))
}

/// One finding per library present as more than one copy (a shared
/// object by soname stem; the ML runtimes whatever their version): every
/// copy named with who installed it, the extra *different* builds counted
/// (also when `duplicate-distribution` already took them: the message says
/// so), identical extra copies left to `duplicate-content`, and the static
/// archive of the same library named (counted under `static-libraries`).
pub(super) fn duplicate_native_libraries(
    image: &Image,
    report: &PythonReport,
    packages: Option<&Database>,
    taken: &mut LocSet,
) -> Vec<Finding> {
    let mut libs: BTreeMap<String, Vec<Loc>> = BTreeMap::new();
    let mut archives: HashMap<String, Vec<Loc>> = HashMap::new();
    for (loc, e) in image.final_entries() {
        // Only real shared objects: not `libfoo.so.6-gdb.py` or a dpkg alternatives file.
        if e.kind != EntryKind::File || e.size == 0 {
            continue;
        }
        let name = e.path.file_name();
        if e.elf.is_some()
            && let Some(stem) = soname_stem(name)
        {
            libs.entry(library_key(&stem, name)).or_default().push(loc);
        } else if name.ends_with(b".a")
            && let Some(stem) = archive_stem(name)
        {
            archives.entry(family(&stem)).or_default().push(loc);
        }
    }
    let mut findings = Vec::new();
    for (key, mut copies) in libs {
        if copies.len() < 2 {
            continue;
        }
        let fam = key.split(".so.").next().unwrap_or(&key).to_owned();
        let dirs: HashSet<&[u8]> = copies
            .iter()
            .map(|&l| image.entry(l).path.parent())
            .collect();
        // Keep the largest copy; extra different builds are this finding's
        // bytes, extra identical copies belong to duplicate-content.
        copies.sort_by_key(|&l| (std::cmp::Reverse(image.entry(l).size), l));
        let mut builds: HashSet<(u64, [u8; 16])> = HashSet::new();
        let mut per_layer = Vec::new();
        let mut identical = 0usize;
        let mut overlap: Vec<String> = Vec::new();
        for (i, &l) in copies.iter().enumerate() {
            let e = image.entry(l);
            let new_build = builds.insert((e.size, e.hash.unwrap_or_default()));
            if i == 0 {
                continue;
            }
            if !new_build {
                identical += 1;
                continue;
            }
            if !taken.insert(l) {
                overlap.push(e.path.display());
            }
            per_layer.push((l.layer, e.size));
        }
        let mut owners: Vec<String> = copies
            .iter()
            .filter_map(|&l| installed_by(image, report, packages, l))
            .collect();
        owners.dedup();
        let mut paths: Vec<(String, u64)> = copies
            .iter()
            .map(|&l| (image.entry(l).path.display(), image.entry(l).size))
            .collect();
        let statics = archives.get(&fam).map(Vec::as_slice).unwrap_or_default();
        paths.extend(
            statics
                .iter()
                .map(|&l| (image.entry(l).path.display(), image.entry(l).size)),
        );
        let message = native_message(
            &fam,
            &copies,
            &dirs,
            builds.len(),
            identical,
            &owners,
            &overlap,
            image,
            statics,
        );
        findings.push(
            Finding::new(
                image,
                FindingKind::DuplicateNativeLibrary,
                &per_layer,
                message,
                native_fix(&fam),
            )
            .with_paths(paths),
        );
    }
    findings
}

/// The words of a `duplicate-native-library` finding.
#[allow(clippy::too_many_arguments)]
fn native_message(
    fam: &str,
    copies: &[Loc],
    dirs: &HashSet<&[u8]>,
    builds: usize,
    identical: usize,
    owners: &[String],
    overlap: &[String],
    image: &Image,
    statics: &[Loc],
) -> String {
    let mut message = format!(
        "lib{fam} is present {} times in {} directories ({builds} different builds): each package that bundles it loads its own copy",
        copies.len(),
        dirs.len(),
    );
    if !owners.is_empty() {
        message.push_str(&format!("; installed by {}", owners.join(", ")));
    }
    if identical > 0 {
        message.push_str(&format!(
            "; the {identical} byte-identical extra copies are counted under duplicate-content"
        ));
    }
    if !overlap.is_empty() {
        message.push_str(&format!(
            "; {} of the builds counted here ({}) lie in a duplicated distribution's losing copy and duplicate-distribution counts them too",
            overlap.len(),
            overlap.iter().map(|p| format!("`{p}`")).collect::<Vec<_>>().join(", ")
        ));
    }
    if !statics.is_empty() {
        message.push_str(&format!(
            "; its static archive ships too ({}; counted under static-libraries)",
            statics
                .iter()
                .map(|&l| format!("`{}`", image.entry(l).path.display()))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    message
}

/// What to do about one library present several times.
fn native_fix(fam: &str) -> String {
    if is_cuda_stem(fam) {
        "take CUDA from one place: either the base image's /usr/local/cuda or the nvidia-* wheels, not both (e.g. a python/slim base with the wheels, or torch built against the system CUDA)".to_owned()
    } else if fam == "openblas" || fam == "gfortran" || fam == "quadmath" {
        "load one BLAS: drop apt's python3-numpy/python3-scipy (and libopenblas) when pip's wheels bring their own, or install numpy and scipy from one channel that shares a single OpenBLAS (conda-forge, or `pip install --no-binary numpy,scipy` against the system libopenblas-dev in a build stage)".to_owned()
    } else if fam == "gomp" || fam == "iomp5" {
        "load one OpenMP runtime: wheels that bundle libgomp (scikit-learn, torch) beside apt's libgomp1 each load their own; keep the packages that need it in one channel (all pip or all apt/conda)".to_owned()
    } else {
        format!(
            "keep one lib{fam}: remove the packages that bring the other copies, or point them at one shared library"
        )
    }
}

/// `gpu-libraries`: the CUDA files no other finding took.
pub(super) fn gpu_libraries(image: &Image, taken: &mut LocSet) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut gpu: Vec<(Loc, u64)> = Vec::new();
    for (loc, e) in image.final_entries() {
        if e.kind == EntryKind::File
            && e.size > 0
            && !taken.contains(loc)
            && is_cuda_path(e.path.as_bytes())
        {
            gpu.push((loc, e.size));
        }
    }
    if !gpu.is_empty() {
        let per_layer: Vec<(u32, u64)> = gpu.iter().map(|&(l, s)| (l.layer, s)).collect();
        let paths = gpu
            .iter()
            .map(|&(l, s)| (image.entry(l).path.display(), s))
            .collect();
        for &(l, _) in &gpu {
            taken.insert(l);
        }
        findings.push(
            Finding::new(
                image,
                FindingKind::GpuLibraries,
                &per_layer,
                "CUDA libraries ship in the image (nvidia-* wheels, torch's CUDA build, /usr/local/cuda); a CPU-only image needs none of them",
                "for CPU-only images install torch from the CPU wheel index: `pip install torch --index-url https://download.pytorch.org/whl/cpu` (no nvidia-* wheels) on a non-CUDA base; for GPU images keep one CUDA (base image or wheels)",
            )
            .with_paths(paths),
        );
    }
    findings
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::meta::{normalize_name, python_version};
    use super::*;

    #[test]
    fn names_stems_versions() {
        assert_eq!(normalize_name("Foo__Bar.baz"), "foo-bar-baz");
        assert_eq!(
            soname_stem(b"libscipy_openblas64_-ff651d7f.so").as_deref(),
            Some("scipy_openblas64_")
        );
        assert_eq!(
            soname_stem(b"libgfortran-040039e1.so.5.0.0").as_deref(),
            Some("gfortran")
        );
        assert_eq!(
            soname_stem(b"libgfortran-040039e1-0352e75f.so.5.0.0").as_deref(),
            Some("gfortran")
        );
        assert_eq!(
            soname_stem(b"libopenblasp-r0.3.21.so").as_deref(),
            Some("openblasp-r0.3.21")
        );
        assert_eq!(soname_stem(b"libcudart.so.12").as_deref(), Some("cudart"));
        assert_eq!(soname_stem(b"libfoo.sort"), None);
        assert_eq!(soname_stem(b"_umath.cpython-311-x86_64-linux-gnu.so"), None);
        assert_eq!(family("openblasp-r0"), "openblas");
        assert_eq!(library_key("nsl", b"libnsl.so.1"), "nsl.so.1");
        assert_eq!(library_key("nsl", b"libnsl.so.2.0.1"), "nsl.so.2");
        assert_eq!(
            library_key("gfortran", b"libgfortran-040039e1.so.5.0.0"),
            "gfortran"
        );
        assert_eq!(library_key("cudnn", b"libcudnn.so.9"), "cudnn");
        assert_eq!(library_key("gomp", b"libgomp-a34b3233.so.1.0.0"), "gomp");
        assert_eq!(
            archive_stem(b"libopenblasp-r0.3.21.a").as_deref(),
            Some("openblasp-r0.3.21")
        );
        assert_eq!(
            library_key("scipy_openblas", b"libscipy_openblas-68440149.so"),
            "openblas"
        );
        assert_eq!(
            python_version(b"usr/local/lib/python3.11/site-packages").as_deref(),
            Some("3.11")
        );
        assert_eq!(python_version(b"usr/lib/python3/dist-packages"), None);
        assert_eq!(
            env_of(b"opt/venv/lib/python3.12/site-packages/x/y.py"),
            Some(&b"opt/venv/lib/python3.12/site-packages"[..])
        );
    }
}
