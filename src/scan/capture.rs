//! Which files' contents the scanner keeps: small metadata files that later
//! stages parse (Python distributions, conda, os-release, and the system
//! package databases: dpkg's `status`, `status.d/*` and `info/*.list`,
//! apt's `extended_states`, apk's `installed` and `world`).

use super::EntryPath;

/// Files larger than this are never captured.
pub const MAX_CAPTURE_BYTES: u64 = 16 << 20;

/// Whether the scanner should keep the contents of the file at `path`.
pub fn wants(path: &EntryPath, size: u64) -> bool {
    if size > MAX_CAPTURE_BYTES {
        return false;
    }
    let name = path.file_name();
    let parent = path.parent();
    let parent_name = parent.rsplit(|&b| b == b'/').next().unwrap_or(parent);
    let in_dist_info = parent_name.ends_with(b".dist-info") || parent_name.ends_with(b".egg-info");
    (in_dist_info && matches!(
        name,
        b"RECORD" | b"METADATA" | b"INSTALLER" | b"PKG-INFO" | b"installed-files.txt" | b"top_level.txt" | b"direct_url.json"
    ))
        // An egg-info may be a single file rather than a directory.
        || (name.ends_with(b".egg-info") && size <= 1 << 20)
        || (parent_name == b"conda-meta" && name.ends_with(b".json"))
        || matches!(
            path.as_bytes(),
            b"var/lib/dpkg/status"
                | b"var/lib/apt/extended_states"
                | b"lib/apk/db/installed"
                | b"usr/lib/apk/db/installed"
                | b"etc/apk/world"
                | b"etc/os-release"
                | b"usr/lib/os-release"
        )
        || is_dpkg_metadata(parent, name)
}

/// dpkg's per-package file lists (`info/NAME.list`) and distroless-style
/// `status.d/NAME` stanzas with their `NAME.md5sums` file lists.
fn is_dpkg_metadata(parent: &[u8], name: &[u8]) -> bool {
    match parent {
        b"var/lib/dpkg/info" => name.ends_with(b".list"),
        b"var/lib/dpkg/status.d" => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_python_metadata_only() {
        assert!(wants(
            &"usr/lib/python3/site-packages/numpy-2.0.dist-info/RECORD".into(),
            100
        ));
        assert!(wants(
            &"opt/conda/conda-meta/numpy-1.26-py311.json".into(),
            100
        ));
        assert!(!wants(
            &"usr/lib/python3/site-packages/numpy/core.py".into(),
            100
        ));
        assert!(!wants(&"x.dist-info/RECORD".into(), MAX_CAPTURE_BYTES + 1));
        // Debian's egg-info directories have no file list: top_level.txt names the packages.
        assert!(wants(
            &"usr/lib/python3/dist-packages/numpy-1.24.2.egg-info/top_level.txt".into(),
            6
        ));
        assert!(!wants(
            &"usr/lib/python3/dist-packages/numpy/top_level.txt".into(),
            6
        ));
    }

    #[test]
    fn captures_package_databases() {
        for p in [
            "var/lib/dpkg/status",
            "var/lib/dpkg/info/libc6:amd64.list",
            "var/lib/dpkg/status.d/base",
            "var/lib/dpkg/status.d/base.md5sums",
            "var/lib/apt/extended_states",
            "lib/apk/db/installed",
            "etc/apk/world",
        ] {
            assert!(wants(&p.into(), 1000), "{p}");
        }
        for p in [
            "var/lib/dpkg/info/libc6:amd64.md5sums",
            "var/lib/dpkg/info/libc6:amd64.postinst",
            "var/lib/dpkg/status-old",
            "srv/var/lib/dpkg/info/x.list",
        ] {
            assert!(!wants(&p.into(), 1000), "{p}");
        }
    }
}
