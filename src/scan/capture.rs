//! Which files' contents the scanner keeps: small metadata files that later
//! stages parse (Python distributions, conda, dpkg, os-release).

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
        || matches!(path.as_bytes(), b"var/lib/dpkg/status" | b"etc/os-release" | b"usr/lib/os-release")
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
}
