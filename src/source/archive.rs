//! Tar archives of images: the member index every archive source reads
//! through, and `oci-archive:FILE[:TAG]` (`docker-archive:` is in
//! [`super::docker_archive`]). The archive is indexed once (member name
//! -> offset, size) and each layer is read by seeking to it, so layers of
//! one file scan in parallel. Stdin and gzip-compressed archives are spooled
//! to a temporary file first, since they cannot seek.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::docker_archive::DockerArchive;
use super::layout::{Blobs, LayoutImage};
use super::spool::Spool;
use super::{ImageSource, SourceError, SourceOptions};

/// One member of an indexed tar.
#[derive(Clone, Debug)]
enum Member {
    /// A regular file: where its data starts and how long it is.
    File { offset: u64, size: u64 },
    /// A symlink (classic `docker save` links identical layers).
    Link(String),
}

/// A tar file on disk, indexed by member name.
pub struct TarMembers {
    path: PathBuf,
    input: String,
    members: HashMap<String, Member>,
    /// Keeps a spooled copy alive for as long as the archive is read.
    _spool: Option<Spool>,
}

impl TarMembers {
    /// Indexes the tar at `path` (`-` for stdin).
    pub fn open(path: &Path, input: String) -> Result<TarMembers, SourceError> {
        let io_err = |source| SourceError::Io {
            path: path.to_owned(),
            source,
        };
        let (path_to_read, spool) = if path == Path::new("-") {
            let spool = spool(&mut io::stdin().lock()).map_err(io_err)?;
            (spool.path().to_owned(), Some(spool))
        } else {
            let mut file = File::open(path).map_err(io_err)?;
            if file.metadata().map_err(io_err)?.is_dir() {
                return Err(SourceError::invalid(
                    &input,
                    "is a directory, not an archive (use `oci:DIR`)",
                ));
            }
            let mut magic = [0u8; 2];
            let n = file.read(&mut magic).map_err(io_err)?;
            if n == 2 && magic == [0x1f, 0x8b] {
                file.seek(SeekFrom::Start(0)).map_err(io_err)?;
                let mut gz = flate2::read::MultiGzDecoder::new(BufReader::new(file));
                let spool = spool(&mut gz).map_err(|e| {
                    SourceError::invalid(&input, format!("corrupt gzip archive: {e}"))
                })?;
                (spool.path().to_owned(), Some(spool))
            } else {
                (path.to_owned(), None)
            }
        };
        let members = index_tar(&path_to_read)
            .map_err(|e| SourceError::invalid(&input, format!("not a tar archive: {e}")))?;
        if members.is_empty() {
            return Err(SourceError::invalid(
                &input,
                "not a tar archive (no members)",
            ));
        }
        Ok(TarMembers {
            path: path_to_read,
            input,
            members,
            _spool: spool,
        })
    }

    /// Indexes a tar already spooled to a temporary file, which is kept
    /// (and deleted) with the result.
    pub fn from_spool(spool: Spool, input: String) -> Result<TarMembers, SourceError> {
        let path = spool.path().to_owned();
        let members = index_tar(&path)
            .map_err(|e| SourceError::invalid(&input, format!("not a tar archive: {e}")))?;
        if members.is_empty() {
            return Err(SourceError::invalid(
                &input,
                "not a tar archive (no members)",
            ));
        }
        Ok(TarMembers {
            path,
            input,
            members,
            _spool: Some(spool),
        })
    }

    fn resolve(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = normalize(name);
        for _ in 0..8 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(target) => {
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    name = normalize(&join(dir, target));
                }
            }
        }
        None
    }

    /// The size of member `name`.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.resolve(name).map(|(_, s)| s)
    }
}

impl Blobs for TarMembers {
    fn input(&self) -> &str {
        &self.input
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>, SourceError> {
        let (offset, size) = self
            .resolve(name)
            .ok_or_else(|| SourceError::invalid(&self.input, format!("no member `{name}`")))?;
        let io_err = |source| SourceError::Io {
            path: self.path.clone(),
            source,
        };
        let mut file = File::open(&self.path).map_err(io_err)?;
        file.seek(SeekFrom::Start(offset)).map_err(io_err)?;
        Ok(Box::new(BufReader::with_capacity(
            256 << 10,
            file.take(size),
        )))
    }

    fn exists(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }
}

fn spool(reader: &mut impl Read) -> io::Result<Spool> {
    Spool::copy_from(reader)
}

/// Read size while indexing: a header block and a few more (PAX and GNU
/// long-name records precede their header). Member data is seeked over,
/// never read, so indexing a 20 GB archive reads a few KiB per member.
const INDEX_BUF: usize = 4096;

fn index_tar(path: &Path) -> io::Result<HashMap<String, Member>> {
    let file = File::open(path)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(INDEX_BUF, file));
    let mut members = HashMap::new();
    for entry in archive.entries_with_seek()? {
        let entry = entry?;
        let name = normalize(&String::from_utf8_lossy(&entry.path_bytes()));
        let member = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                offset: entry.raw_file_position(),
                size: entry.size(),
            },
            tar::EntryType::Symlink | tar::EntryType::Link => match entry.link_name_bytes() {
                Some(target) => {
                    let target = String::from_utf8_lossy(&target).into_owned();
                    // Hard links name their target from the archive root.
                    if entry.header().entry_type() == tar::EntryType::Link {
                        Member::Link(format!("/{target}"))
                    } else {
                        Member::Link(target)
                    }
                }
                None => continue,
            },
            _ => continue,
        };
        members.insert(name, member);
    }
    Ok(members)
}

fn normalize(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

fn join(dir: &str, target: &str) -> String {
    if target.starts_with('/') || dir.is_empty() {
        target.to_owned()
    } else {
        format!("{dir}/{target}")
    }
}

/// Whether the tar at `path` has a member called `name` (reads headers
/// only, seeking over member data).
pub fn tar_has_member(path: &Path, name: &str) -> io::Result<bool> {
    let file = File::open(path)?;
    let mut archive = tar::Archive::new(BufReader::with_capacity(INDEX_BUF, file));
    for entry in archive.entries_with_seek()? {
        if normalize(&String::from_utf8_lossy(&entry?.path_bytes())) == name {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `oci-archive:FILE[:TAG]`.
pub type OciArchive = LayoutImage<TarMembers>;

impl LayoutImage<TarMembers> {
    /// Opens a tar of an OCI layout; `tag` picks an image by
    /// `org.opencontainers.image.ref.name` (or `@N`).
    pub fn open(
        path: &Path,
        tag: Option<&str>,
        options: &SourceOptions,
    ) -> Result<Self, SourceError> {
        let input = format!("oci-archive:{}", path.display());
        let members = TarMembers::open(path, input.clone())?;
        let reference = match tag {
            Some(t) => format!("{input}:{t}"),
            None => input.clone(),
        };
        LayoutImage::resolve(members, reference, tag, options)
    }
}

/// Opens an archive given as a bare path: indexed once, then read as a
/// docker archive when it has `manifest.json` (Docker 25+ archives carry
/// `index.json` too) or a classic `repositories` file, otherwise as an OCI
/// archive. No second pass over the
/// file to tell them apart.
pub fn open_detected(
    path: &Path,
    options: &SourceOptions,
) -> Result<Box<dyn ImageSource>, SourceError> {
    let mut members = TarMembers::open(path, format!("docker-archive:{}", path.display()))?;
    if members.exists("manifest.json") || members.exists("repositories") {
        let input = members.input.clone();
        return Ok(Box::new(DockerArchive::from_members(
            members, input, None, options,
        )?));
    }
    members.input = format!("oci-archive:{}", path.display());
    let input = members.input.clone();
    Ok(Box::new(LayoutImage::resolve(
        members, input, None, options,
    )?))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::fixture::pattern;

    /// Members read back by seeking hold exactly the bytes written, long
    /// (GNU and PAX) names and links included, although indexing never
    /// reads member data.
    #[test]
    fn seek_indexing_finds_every_member() {
        let long = format!("blobs/sha256/{}", "d".repeat(120));
        let pax = format!("dir/{}", "p".repeat(200));
        let files: Vec<(String, Vec<u8>)> = vec![
            ("manifest.json".into(), b"[]".to_vec()),
            (long.clone(), pattern(3 << 20, 1)),
            ("a/layer.tar".into(), pattern(1000, 2)),
            (pax.clone(), pattern(513, 3)),
            ("empty".into(), Vec::new()),
        ];
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("x.tar");
        let mut b = tar::Builder::new(File::create(&path).unwrap());
        for (name, data) in &files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(tar::EntryType::Regular);
            if name.starts_with("dir/") {
                // A PAX `path` record instead of a GNU long name.
                b.append_pax_extensions([("path", name.as_bytes())])
                    .unwrap();
                h.set_path("short").unwrap();
                h.set_cksum();
                b.append(&h, data.as_slice()).unwrap();
            } else {
                b.append_data(&mut h, name, data.as_slice()).unwrap();
            }
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "b/layer.tar", "../a/layer.tar")
            .unwrap();
        b.into_inner().unwrap();

        let members = TarMembers::open(&path, "t".into()).unwrap();
        for (name, data) in &files {
            let mut back = Vec::new();
            members.open(name).unwrap().read_to_end(&mut back).unwrap();
            assert!(back == *data, "{name}");
            assert_eq!(members.size(name), Some(data.len() as u64));
        }
        assert_eq!(members.size("b/layer.tar"), Some(1000));
        assert!(tar_has_member(&path, &pax).unwrap());
        assert!(!tar_has_member(&path, "nope").unwrap());
    }
}
