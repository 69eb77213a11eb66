//! The scanner: one layer stream in, one [`LayerIndex`] out.
//!
//! It sniffs the compression from magic bytes, inflates, walks the tar and
//! records every entry with the sha256 of its content, verifying the blob
//! digest on the way (and the diff id, see [`Verify`]). Small files a later stage needs to
//! read (Python metadata) are captured, and ELF section headers are parsed,
//! because the stream cannot be read twice. Nothing is extracted to disk.

pub mod cache;
pub mod capture;
pub mod compression;
pub mod elf;
pub mod entries;
pub mod layer;
pub mod path;
pub mod pipe;
pub mod sample;
pub mod tarwalk;
pub mod zstd_frames;

use serde::{Deserialize, Serialize};

pub use compression::Compression;
pub use layer::{ScanError, scan_layer};
pub use path::EntryPath;

use crate::digest::{DiffId, Digest};

/// What the scanner checks besides every file's own sha256.
///
/// The blob digest is always verified. For a compressed blob that proves
/// the uncompressed stream too: inflating is deterministic, and gzip's
/// CRC-32 and length trailer are checked. Hashing the uncompressed stream
/// again only catches a config whose `diff_ids` lie, and costs a fifth of
/// the CPU of a gzip layer, so it is opt-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verify {
    /// The blob digest. A compressed layer's diff id is the config's
    /// (hashed only when the config names none, or the blob digest is not
    /// sha256 and so cannot be checked).
    #[default]
    BlobDigest,
    /// The blob digest, and the diff id of every layer computed from its
    /// uncompressed stream and checked against the config.
    DiffIds,
}

/// Everything known about one layer after reading it once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LayerIndex {
    /// The sha256 of the blob as read (verified against the manifest).
    pub digest: Digest,
    /// The sha256 of the uncompressed tar stream: computed, or for a
    /// compressed blob under [`Verify::BlobDigest`] the config's.
    pub diff_id: DiffId,
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
    /// sha256 of the content, for regular files.
    #[serde(with = "serde_bytes")]
    pub sha256: Option<[u8; 32]>,
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
