//! From a tar header to an [`Entry`]: paths cleaned and rooted, whiteouts
//! recognised and checked, sparse files noted, and a warning for every
//! kind of input that was cleaned or ignored (DESIGN.md "Hostile input").

use super::tarwalk::{Header, Kind};
use super::{Entry, EntryKind, EntryPath, SparseFile};
use crate::warning::{Tally, Warning, WarningKind};

/// The checks of one layer, and what they found.
#[derive(Debug, Default)]
pub struct Checks {
    /// Entries handed out so far (the index of the next one).
    handed: u32,
    unclean: Tally,
    rootless: Tally,
    bad_whiteouts: Tally,
    sparse: Vec<SparseFile>,
}

impl Checks {
    /// The entry for `header`, or `None` when it is not recorded (PAX
    /// globals and other non-files, aufs bookkeeping, bad whiteouts, a
    /// non-directory at the root). The caller fills in size and hashes.
    pub fn entry(&mut self, header: &Header) -> Option<Entry> {
        let kind = match header.kind {
            Kind::File => EntryKind::File,
            Kind::Dir => EntryKind::Dir,
            Kind::Symlink => EntryKind::Symlink,
            Kind::HardLink => EntryKind::HardLink,
            Kind::Special => EntryKind::Special,
            Kind::Other => return None,
        };
        let (path, unclean) = EntryPath::clean(&header.path);
        if unclean {
            self.unclean.note(|| lossy(&header.path));
        }
        let link = match kind {
            // containerd roots a hard link's target like any path.
            EntryKind::HardLink => Some(EntryPath::clean(&header.link).0),
            EntryKind::Symlink => Some(EntryPath::normalize(&header.link)),
            _ => None,
        };
        let mut entry = Entry {
            path,
            kind,
            size: 0,
            mode: header.mode,
            uid: header.uid,
            gid: header.gid,
            link,
            hash: None,
            elf: None,
        };
        if let Some(target) = entry.path.file_name().strip_prefix(b".wh.") {
            let parent = entry.path.parent();
            let (kind, path) = if target == b".wh..opq" {
                (EntryKind::Opaque, EntryPath::normalize(parent))
            } else if target.starts_with(b".wh.") {
                // aufs bookkeeping (`.wh..wh.plnk` ...), not a whiteout.
                return None;
            } else if matches!(target, b"" | b"." | b"..") {
                // `.wh.`, `a/.wh.`, `.wh...`: Docker and containerd refuse
                // these; deleting the parent (or everything) would be wrong.
                self.bad_whiteouts.note(|| lossy(&header.path));
                return None;
            } else {
                let mut deleted = parent.to_vec();
                if !deleted.is_empty() {
                    deleted.push(b'/');
                }
                deleted.extend_from_slice(target);
                (EntryKind::Whiteout, EntryPath::normalize(&deleted))
            };
            entry.kind = kind;
            entry.path = path;
            entry.link = None;
        } else if entry.path.as_bytes().is_empty() && kind != EntryKind::Dir {
            // Nothing can replace the root.
            self.rootless.note(|| lossy(&header.path));
            return None;
        }
        if let (EntryKind::File, Some(apparent)) = (entry.kind, header.sparse_size) {
            self.sparse.push(SparseFile {
                entry: self.handed,
                apparent_bytes: apparent,
            });
        }
        self.handed += 1;
        Some(entry)
    }

    /// The warnings of the layer, and its sparse files.
    pub fn finish(self) -> (Vec<Warning>, Vec<SparseFile>) {
        let mut out = Vec::new();
        out.extend(self.unclean.warning(WarningKind::UncleanPath, |n| {
            format!(
                "{n} entries had absolute paths or climbed with `..`; \
                 they were cleaned and rooted as containerd does"
            )
        }));
        out.extend(self.rootless.warning(WarningKind::UncleanPath, |n| {
            format!("{n} non-directory entries named the root itself; ignored")
        }));
        out.extend(self.bad_whiteouts.warning(WarningKind::BadWhiteout, |n| {
            format!(
                "{n} whiteouts with an empty, `.` or `..` name; ignored \
                 (Docker and containerd refuse them)"
            )
        }));
        (out, self.sparse)
    }
}

/// A raw tar path as text (invalid UTF-8 replaced; the warning escapes
/// control characters).
fn lossy(raw: &[u8]) -> String {
    let shown = &raw[..raw.len().min(200)];
    String::from_utf8_lossy(shown).into_owned()
}
