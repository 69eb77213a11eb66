//! tar-split files (containers/storage): a layer's tar stream with every
//! regular file's data cut out, one JSON record a line. Put back together
//! with the unpacked layer, they give the exact stream the layer was made
//! from.

use std::fs::File;
use std::io::{self, BufRead, Read};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

/// One tar-split line: a run of tar headers (PAX records included).
const MAX_LINE: u64 = 8 << 20;

/// One line of a tar-split file.
#[derive(Deserialize)]
struct SplitEntry {
    #[serde(rename = "type")]
    kind: u8,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    name_raw: Option<String>,
    #[serde(default)]
    size: u64,
    #[serde(default)]
    payload: Option<String>,
}

/// What the reader is in the middle of handing out.
enum Chunk {
    None,
    /// Raw tar bytes (headers, padding) from a segment line.
    Bytes(Vec<u8>, usize),
    /// A regular file's data, from the unpacked layer.
    File(io::Take<File>),
}

/// Rebuilds a layer's tar stream from its tar-split file and unpacked files.
pub(super) struct TarSplitReader<R> {
    lines: R,
    diff_root: PathBuf,
    current: Chunk,
    line: Vec<u8>,
}

fn invalid_data(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

impl<R: BufRead> TarSplitReader<R> {
    /// Reads tar-split `lines`, taking file data from `diff_root`
    /// (canonical).
    pub(super) fn new(lines: R, diff_root: PathBuf) -> Self {
        TarSplitReader {
            lines,
            diff_root,
            current: Chunk::None,
            line: Vec::new(),
        }
    }

    /// Moves to the next entry; `false` at the end of the stream.
    fn advance(&mut self) -> io::Result<bool> {
        loop {
            self.line.clear();
            let n = (&mut self.lines)
                .take(MAX_LINE)
                .read_until(b'\n', &mut self.line)?;
            if n == 0 {
                return Ok(false);
            }
            if self.line.last() != Some(&b'\n') && n as u64 == MAX_LINE {
                return Err(invalid_data("a tar-split record is too long".to_owned()));
            }
            if self.line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let entry: SplitEntry = serde_json::from_slice(&self.line)
                .map_err(|e| invalid_data(format!("a tar-split record is not valid: {e}")))?;
            match entry.kind {
                // A segment: raw bytes of the tar stream.
                2 => {
                    let bytes = BASE64
                        .decode(entry.payload.unwrap_or_default())
                        .map_err(|e| invalid_data(format!("a tar-split segment: {e}")))?;
                    self.current = Chunk::Bytes(bytes, 0);
                    return Ok(true);
                }
                // A file entry: its data lives in the unpacked layer.
                1 if entry.size > 0 => {
                    let name = match (entry.name_raw, entry.name) {
                        (Some(raw), _) => BASE64
                            .decode(raw)
                            .map_err(|e| invalid_data(format!("a tar-split name: {e}")))?,
                        (None, Some(name)) => name.into_bytes(),
                        (None, None) => {
                            return Err(invalid_data("a tar-split file has no name".to_owned()));
                        }
                    };
                    self.current = Chunk::File(self.open_file(&name, entry.size)?);
                    return Ok(true);
                }
                1 => continue,
                other => {
                    return Err(invalid_data(format!(
                        "unknown tar-split record type {other}"
                    )));
                }
            }
        }
    }

    /// Opens a file of the unpacked layer, refusing anything that resolves
    /// outside it or does not have the size the tar header claims.
    fn open_file(&self, name: &[u8], size: u64) -> io::Result<io::Take<File>> {
        use std::os::unix::ffi::OsStrExt as _;
        let relative = Path::new(std::ffi::OsStr::from_bytes(name));
        let mut clean = PathBuf::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir | Component::RootDir => {}
                Component::ParentDir | Component::Prefix(_) => {
                    return Err(invalid_data(format!(
                        "tar-split names a file outside the layer: {}",
                        crate::scan::path::EntryPath::normalize(name)
                    )));
                }
            }
        }
        let path = self.diff_root.join(&clean);
        let resolved = path.canonicalize()?;
        if !resolved.starts_with(&self.diff_root) {
            return Err(invalid_data(format!(
                "tar-split names a file outside the layer: {}",
                crate::scan::path::EntryPath::normalize(name)
            )));
        }
        let file = File::open(&resolved)?;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() != size {
            return Err(invalid_data(format!(
                "the stored file {} does not match the layer's tar header",
                crate::scan::path::EntryPath::normalize(name)
            )));
        }
        Ok(file.take(size))
    }
}

impl<R: BufRead> Read for TarSplitReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = match &mut self.current {
                Chunk::None => 0,
                Chunk::Bytes(bytes, at) => {
                    let n = (bytes.len() - *at).min(buf.len());
                    buf[..n].copy_from_slice(&bytes[*at..*at + n]);
                    *at += n;
                    n
                }
                Chunk::File(file) => {
                    let n = file.read(buf)?;
                    if n == 0 && file.limit() > 0 {
                        return Err(invalid_data(
                            "a stored file is shorter than its tar header".to_owned(),
                        ));
                    }
                    n
                }
            };
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            if !self.advance()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn rebuilds_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let diff = dir.path().join("diff");
        std::fs::create_dir_all(diff.join("d")).unwrap();
        std::fs::write(diff.join("d/f"), b"hello").unwrap();
        let header = BASE64.encode(b"HEADER");
        let split = format!(
            "{{\"type\":2,\"payload\":\"{header}\"}}\n{{\"type\":1,\"name\":\"./d/f\",\"size\":5}}\n{{\"type\":2,\"payload\":\"{}\"}}\n",
            BASE64.encode(b"PAD")
        );
        let mut reader = TarSplitReader::new(
            io::Cursor::new(split.into_bytes()),
            diff.canonicalize().unwrap(),
        );
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_ok());
        assert_eq!(out, b"HEADERhelloPAD");

        let escape = "{\"type\":1,\"name\":\"../../etc/passwd\",\"size\":5}\n";
        let mut reader = TarSplitReader::new(
            io::Cursor::new(escape.as_bytes().to_vec()),
            diff.canonicalize().unwrap(),
        );
        let mut out = Vec::new();
        assert!(reader.read_to_end(&mut out).is_err());
    }
}
