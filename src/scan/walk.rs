//! Walking one layer's tar stream: every entry checked and recorded, every
//! regular file hashed, sampled by content class, scanned for ELF headers
//! and, when small and wanted, captured, all from the stream's own buffers.

use std::io::BufRead;

use super::hash::FileHash;
use super::layer::{ScanError, read_error};
use super::{
    Captured, Compression, EntryKind, capture,
    elf::ElfScanner,
    tarwalk::{TarError, TarReader},
};

/// What [`walk_tar`] found: entries, captured contents, warnings.
pub(super) type Walked = (
    Vec<super::Entry>,
    Vec<Captured>,
    Vec<crate::warning::Warning>,
    Vec<super::SparseFile>,
    super::content::ContentSample,
);

/// Walks the tar entries, hashing every regular file. Limits, sparse files,
/// path cleaning and whiteout checks: [`super::tarwalk`], [`super::entries`].
pub(super) fn walk_tar(
    stream: &mut impl BufRead,
    compression: Compression,
) -> Result<Walked, ScanError> {
    // The stream arrives in large buffers (see `pipe`): file data is hashed
    // and sampled in place, never copied into a buffer of ours.
    let mut tar = TarReader::new(stream);
    let mut entries = Vec::new();
    let mut captured = Vec::new();
    let mut budget = capture::Budget::default();
    let mut checks = super::entries::Checks::default();
    let mut content = super::content::ContentSampler::default();
    let tar_error = |e: TarError| match e {
        TarError::Io(e) => read_error(compression, e),
        e => ScanError::Tar(e),
    };
    while let Some(header) = tar.next_entry().map_err(tar_error)? {
        let Some(mut entry) = checks.entry(&header) else {
            continue;
        };
        if entry.kind == EntryKind::File {
            let size = header.size;
            let keep = budget.admit(&entry.path, size);
            let mut kept = Vec::new();
            let mut hasher = FileHash::Start(size);
            let mut elf = ElfScanner::new();
            content.begin_sized(entry.path.as_bytes(), size);
            // `data` gives all `size` bytes, or fails where the stream ends.
            loop {
                let chunk = tar.data().map_err(|e| read_error(compression, e))?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                hasher.update(chunk);
                elf.feed(chunk);
                content.feed(chunk);
                if keep {
                    kept.extend_from_slice(chunk);
                }
                tar.consume_data(n);
            }
            entry.size = size;
            entry.hash = Some(hasher.finish());
            entry.elf = elf.finish().map(Box::new);
            if keep {
                captured.push(Captured {
                    entry: entries.len() as u32,
                    data: kept,
                });
            }
        }
        content.end_entry(entry.kind == EntryKind::File);
        entries.push(entry);
    }
    // A million entries leave up to half their vector's capacity unused.
    entries.shrink_to_fit();
    let (mut warnings, sparse) = checks.finish();
    warnings.extend(budget.warning());
    Ok((entries, captured, warnings, sparse, content.finish()))
}
