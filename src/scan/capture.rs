//! Which files' contents the scanner keeps: small metadata files that later
//! stages parse (Python distributions, conda, os-release, and the system
//! package databases: dpkg's `status`, `status.d/*` and `info/*.list`,
//! apt's `extended_states`, apk's `installed` and `world`, rpm's
//! `rpmdb.sqlite`).

//!
//! What is kept has a budget (DESIGN.md "Hostile input"): [`LAYER_BUDGET`]
//! bytes per layer while scanning ([`Budget`]), [`IMAGE_BUDGET`] bytes per
//! image once the layers are stacked ([`trim_to_image_budget`]). Files past
//! it are counted in a warning, and the analyzers fall back to the files on
//! disk for them.

use super::{EntryPath, LayerIndex};
use crate::warning::{Tally, Warning, WarningKind};

/// Files larger than this are never captured.
pub const MAX_CAPTURE_BYTES: u64 = 16 << 20;

/// Captured bytes one layer may hold (a 16 MiB RECORD fits four times).
pub const LAYER_BUDGET: u64 = 64 << 20;

/// Captured bytes one image may hold, layers taken bottom first.
pub const IMAGE_BUDGET: u64 = 128 << 20;

/// rpm's sqlite database may be this large (a CUDA image's hundreds of
/// packages); it is one file where dpkg keeps hundreds.
pub const MAX_RPMDB_BYTES: u64 = 48 << 20;

/// Whether the scanner should keep the contents of the file at `path`
/// (before any budget: see [`Budget::admit`]).
pub fn wants(path: &EntryPath, size: u64) -> bool {
    if crate::packages::rpm::SQLITE.contains(&path.as_bytes()) {
        return size <= MAX_RPMDB_BYTES;
    }
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

/// Whether `path` names a metadata file the analyzers read, whatever its size.
pub fn is_metadata(path: &EntryPath) -> bool {
    wants(path, 0)
}

/// What one layer may still capture while it is scanned.
#[derive(Debug)]
pub struct Budget {
    left: u64,
    skipped: Tally,
    skipped_bytes: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget::new(LAYER_BUDGET)
    }
}

impl Budget {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Self {
        Budget {
            left: bytes,
            skipped: Tally::default(),
            skipped_bytes: 0,
        }
    }

    /// Whether the file at `path` of `size` bytes is kept: a metadata file
    /// that fits what is left (which it then uses). A metadata file that
    /// does not fit is counted for the warning.
    pub fn admit(&mut self, path: &EntryPath, size: u64) -> bool {
        if !is_metadata(path) {
            return false;
        }
        if !wants(path, size) || size > self.left {
            self.skipped.note(|| path.to_string());
            self.skipped_bytes += size;
            return false;
        }
        self.left -= size;
        true
    }

    /// The warning for what was not captured, if anything.
    pub fn warning(self) -> Option<Warning> {
        let bytes = self.skipped_bytes;
        self.skipped
            .warning(WarningKind::MetadataNotCaptured, |n| not_captured(n, bytes))
    }
}

fn not_captured(files: u64, bytes: u64) -> String {
    format!(
        "{files} metadata file(s) ({bytes} bytes) past the capture budget were not read; \
         their packages are sized from the files on disk"
    )
}

/// Drops captured contents past [`IMAGE_BUDGET`] (layers bottom first, in
/// archive order) and returns a warning per layer that lost some, its
/// `layer` set.
pub fn trim_to_image_budget(layers: &mut [LayerIndex]) -> Vec<Warning> {
    trim_to_budget(layers, IMAGE_BUDGET)
}

/// [`trim_to_image_budget`] with any budget.
pub fn trim_to_budget(layers: &mut [LayerIndex], budget: u64) -> Vec<Warning> {
    let mut left = budget;
    let mut warnings = Vec::new();
    for (i, layer) in layers.iter_mut().enumerate() {
        let mut dropped = Tally::default();
        let mut bytes = 0;
        let entries = &layer.entries;
        layer.captured.retain(|c| {
            let size = c.data.len() as u64;
            if size <= left {
                left -= size;
                return true;
            }
            bytes += size;
            dropped.note(|| {
                entries
                    .get(c.entry as usize)
                    .map(|e| e.path.to_string())
                    .unwrap_or_default()
            });
            false
        });
        if let Some(mut w) =
            dropped.warning(WarningKind::MetadataNotCaptured, |n| not_captured(n, bytes))
        {
            w.layer = Some(i as u32);
            warnings.push(w);
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_layer_budget_keeps_what_fits_and_counts_the_rest() {
        let record = |i: u32| -> EntryPath {
            format!("usr/lib/python3/site-packages/p{i}-1.0.dist-info/RECORD")
                .as_str()
                .into()
        };
        let mut b = Budget::new(40 << 20);
        // 16 MiB each: two fit in 40 MiB, the third and fourth do not; an
        // 8 MiB one still fits; a non-metadata file is neither kept nor counted.
        let sizes = [16 << 20, 16 << 20, 16 << 20, 16 << 20, 8 << 20];
        let kept: Vec<bool> = (0..5)
            .map(|i| b.admit(&record(i), sizes[i as usize]))
            .collect();
        assert_eq!(kept, [true, true, false, false, true]);
        assert!(!b.admit(&"usr/bin/python3".into(), 10));
        assert!(!b.admit(&record(9), MAX_CAPTURE_BYTES + 1));
        let w = b.warning().unwrap_or_else(|| panic!("a warning"));
        assert_eq!(w.kind, WarningKind::MetadataNotCaptured);
        assert_eq!(w.count, 3);
        assert_eq!(
            w.example.as_deref(),
            Some("/usr/lib/python3/site-packages/p2-1.0.dist-info/RECORD")
        );
        assert!(
            w.message
                .contains(&format!("{} bytes", (32 << 20) + MAX_CAPTURE_BYTES + 1))
        );
        assert!(Budget::default().warning().is_none());
    }

    #[test]
    fn the_image_budget_keeps_lower_layers_first() {
        use crate::fixture::{layer, sized_file};
        let dist = |i: u32| format!("usr/lib/python3/site-packages/p{i}-1.0.dist-info/METADATA");
        let mut layers: Vec<LayerIndex> = (0..3u32)
            .map(|l| {
                let items = (0..4u32)
                    .map(|i| sized_file(dist(l * 10 + i), 1000, u64::from(i)))
                    .collect();
                let blob = layer(items).tar();
                let info = crate::source::LayerInfo {
                    digest: crate::Digest::of(&blob),
                    diff_id: None,
                    media_type: String::new(),
                    blob_bytes: blob.len() as u64,
                    compressed_bytes: Some(blob.len() as u64),
                    created_by: None,
                };
                super::super::scan_layer(blob.as_slice(), &info, super::super::Verify::DiffIds)
                    .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        // 12 files of 1,000 bytes; 9,500 bytes of budget keep 9.
        let w = trim_to_budget(&mut layers, 9_500);
        let kept: Vec<usize> = layers.iter().map(|l| l.captured.len()).collect();
        assert_eq!(kept, [4, 4, 1]);
        assert_eq!(w.len(), 1);
        assert_eq!((w[0].layer, w[0].count), (Some(2), 3));
        assert!(w[0].message.contains("3000 bytes"), "{}", w[0].message);
    }

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
        assert!(wants(&"var/lib/rpm/rpmdb.sqlite".into(), 30 << 20));
        assert!(wants(&"usr/lib/sysimage/rpm/rpmdb.sqlite".into(), 1));
        assert!(!wants(
            &"var/lib/rpm/rpmdb.sqlite".into(),
            MAX_RPMDB_BYTES + 1
        ));
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
