//! The scanner: one layer stream in, one [`LayerIndex`] out.
//!
//! It sniffs the compression from magic bytes, inflates, walks the tar and
//! records every entry with a 128-bit hash of its content, verifying the
//! blob digest on the way when asked (and the diff id, see [`Verify`]). Small files a later stage needs to
//! read (Python metadata) are captured, and ELF section headers are parsed,
//! because the stream cannot be read twice. Nothing is extracted to disk.

pub mod cache;
pub mod capture;
pub mod compression;
pub mod content;
pub mod elf;
pub mod entries;
pub mod hash;
pub mod layer;
pub mod path;
pub mod pipe;
pub mod sample;
pub mod tarwalk;
mod walk;
pub mod zstd_frames;

use serde::{Deserialize, Serialize};

pub use compression::Compression;
pub use layer::{ScanError, scan_layer};
pub use path::EntryPath;

use crate::digest::{DiffId, Digest};

/// How far a layer's bytes are checked against what the manifest and
/// config say (DESIGN.md "Verification"). Ordered: each level includes the
/// one before.
///
/// The pipeline picks the level per source: downloads are always checked
/// at least at [`Verify::BlobDigest`]; local archives and layouts are
/// trusted ([`Verify::Trust`]) unless `--verify` asks for
/// [`Verify::DiffIds`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verify {
    /// Nothing is hashed but each file's content: the blob digest and the
    /// diff id are the ones the manifest and config state (a diff id the
    /// config does not give is computed).
    #[default]
    Trust,
    /// The blob digest (sha256 or sha512). For a compressed blob that
    /// proves the uncompressed stream too: inflating is deterministic, and
    /// gzip's CRC-32 and length trailer are checked, so a compressed
    /// layer's diff id is the config's (hashed only when the config names
    /// none). An uncompressed blob is its own tar: its diff id is checked.
    BlobDigest,
    /// The blob digest, and every layer's diff id computed from its
    /// uncompressed stream and checked against the config.
    DiffIds,
}

impl Verify {
    /// The name used in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Verify::Trust => "none",
            Verify::BlobDigest => "blob-digest",
            Verify::DiffIds => "blob-digest-and-diff-id",
        }
    }
}

/// Everything known about one layer after reading it once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerIndex {
    /// The blob digest: the manifest's, verified against the bytes unless
    /// [`LayerIndex::verified`] is [`Verify::Trust`].
    pub digest: Digest,
    /// The digest of the uncompressed tar stream: computed, or the
    /// config's (see [`Verify`]).
    pub diff_id: DiffId,
    /// What was checked against the manifest and config when this index
    /// was made (the cache serves an index only to runs asking no more).
    pub verified: Verify,
    /// The compression found in the bytes.
    pub compression: Compression,
    /// Blob bytes read: what a pull downloads.
    pub compressed_bytes: u64,
    /// Length of the uncompressed tar stream.
    pub uncompressed_bytes: u64,
    /// Every tar entry, in archive order (PAX global headers skipped).
    pub entries: Vec<Entry>,
    /// Contents kept for files matching [`capture::wants`], by entry index.
    pub captured: Vec<Captured>,
    /// How well the uncompressed stream recompresses (see [`sample`]);
    /// `None` in indexes cached before sampling existed.
    #[serde(default)]
    pub sample: Option<sample::CompressionSample>,
    /// What its files are made of (a class per entry, a gzip sample per
    /// class; see [`content`]); `None` in indexes made without it.
    #[serde(default)]
    pub content: Option<content::ContentSample>,
    /// What was ignored, cleaned or not captured while reading the layer
    /// (their `layer` is unset: the model sets it).
    #[serde(default)]
    pub warnings: Vec<crate::warning::Warning>,
    /// The sparse files among the entries, with their apparent sizes
    /// (their `size` counts only the bytes stored in the tar).
    #[serde(default)]
    pub sparse: Vec<SparseFile>,
}

/// A sparse file: its entry counts the bytes stored, this its apparent size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SparseFile {
    /// Index into [`LayerIndex::entries`].
    pub entry: u32,
    /// The file's size with its holes.
    pub apparent_bytes: u64,
}

/// The kept contents of one small file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Captured {
    /// Index into [`LayerIndex::entries`].
    pub entry: u32,
    /// The file's bytes.
    #[serde(with = "serde_bytes")]
    pub data: Vec<u8>,
}

/// One tar entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The normalised path (no leading `./` or `/`, no trailing `/`). For a
    /// whiteout, the path it deletes; for an opaque marker, its directory.
    pub path: EntryPath,
    /// What the entry is.
    pub kind: EntryKind,
    /// Content bytes: the file size for regular files, 0 for everything else
    /// (a hard link adds nothing).
    pub size: u64,
    /// Permission bits and file type bits as in the header.
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// The link target of a symlink or hard link, as written.
    pub link: Option<EntryPath>,
    /// A 128-bit hash of the content (xxh3-128, see [`hash::content_hash`]),
    /// for regular files: it identifies equal contents (duplicates,
    /// metadata-only rewrites), and is no cryptographic digest.
    #[serde(with = "serde_bytes")]
    pub hash: Option<[u8; 16]>,
    /// For ELF files: what the section headers say (see [`elf`]); boxed,
    /// since few entries are ELF files.
    pub elf: Option<Box<elf::ElfInfo>>,
}

/// The kind of a tar entry, whiteouts included.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to an earlier entry of the same layer.
    HardLink,
    /// A device node or FIFO.
    Special,
    /// `.wh.NAME`: deletes `path` and everything under it in lower layers.
    Whiteout,
    /// `.wh..wh..opq`: hides what lower layers put in directory `path`.
    Opaque,
}
