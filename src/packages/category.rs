//! What kind of package a name and a Debian section make: toolchain,
//! `-dev` (rpm's `-devel`), docs, library, Python or other.

/// A coarse grouping of a package by name and section.
pub fn category(name: &str, section: &str) -> &'static str {
    let section = section.rsplit('/').next().unwrap_or(section);
    const TOOLCHAIN: &[&str] = &[
        "gcc",
        "g++",
        "cpp",
        "make",
        "binutils",
        "build-essential",
        "clang",
        "llvm",
        "gfortran",
        "libtool",
        "autoconf",
        "automake",
        "cmake",
        "dpkg-dev",
        "patch",
        "bison",
        "flex",
        "pkg-config",
        "pkgconf",
    ];
    let base = name.split(':').next().unwrap_or(name);
    let stem = base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    if TOOLCHAIN.contains(&base)
        || TOOLCHAIN.contains(&stem)
        || base.starts_with("gcc-")
        || base.starts_with("cpp-")
        || base.starts_with("g++-")
        || base.starts_with("binutils-")
        || base.starts_with("libgcc-") && base.ends_with("-dev")
        || base.starts_with("linux-libc-dev")
    {
        "toolchain"
    } else if base.ends_with("-dev")
        || base.ends_with("-devel")
        || base.ends_with("-headers")
        || section == "libdevel"
        || section == "devel"
    {
        "dev"
    } else if base.ends_with("-doc")
        || section == "doc"
        || base.ends_with("-dbg")
        || base.ends_with("-dbgsym")
        || base.ends_with("-debuginfo")
    {
        "docs"
    } else if section == "python" || base.starts_with("python3-") || base.starts_with("python3.") {
        "python"
    } else if section == "libs" || section == "oldlibs" || base.starts_with("lib") {
        "library"
    } else {
        "other"
    }
}
