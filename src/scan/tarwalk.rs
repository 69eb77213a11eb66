//! A tar reader for hostile layers: every limit is checked before the bytes
//! it guards are read (DESIGN.md "Hostile input").
//!
//! The `tar` crate reads a GNU long name or a PAX record into memory whole,
//! whatever size its header claims, and materialises sparse holes as zeros.
//! This reader parses headers itself: extension records over
//! [`MAX_EXTENSION_BYTES`] and paths over [`MAX_PATH_BYTES`] are refused
//! from the header alone, and a sparse file yields only the bytes stored in
//! the archive (its apparent size reported beside them). Framing follows Go's
//! `archive/tar` (what Docker and containerd use): PAX `size` overrides the
//! header, header-only types (links, directories, devices) carry no data.

use std::io::{self, BufRead, Read};

/// Largest PAX record set or GNU long name/link read (Go's limit).
pub const MAX_EXTENSION_BYTES: u64 = 1 << 20;

/// Longest path or link target accepted.
pub const MAX_PATH_BYTES: usize = 4096;

/// Longest line of a PAX 1.0 sparse map (a decimal number and `\n`).
const MAX_MAP_LINE: usize = 32;

const BLOCK: u64 = 512;

/// Why a tar stream could not be walked.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    /// Reading the stream failed (or it ended inside an entry).
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A header or extension record is malformed.
    #[error("entry {entry}: {what}")]
    Malformed {
        /// The entry, by ordinal and name as far as known.
        entry: String,
        /// What is wrong.
        what: String,
    },
    /// A limit was exceeded; nothing past the header was read.
    #[error("entry {entry}: {what}")]
    Limit {
        /// The entry, by ordinal and name as far as known.
        entry: String,
        /// Which limit.
        what: String,
    },
}

/// What a header says an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file (`0`, NUL, `7`, or a sparse `S`).
    File,
    /// A directory (`5`, or GNU's dump directory `D`).
    Dir,
    /// A symbolic link (`2`).
    Symlink,
    /// A hard link (`1`).
    HardLink,
    /// A character or block device or a FIFO (`3`, `4`, `6`).
    Special,
    /// Anything else (PAX globals, volume labels ...): not a file.
    Other,
}

/// One entry's header, extension records applied.
#[derive(Clone, Debug)]
pub struct Header {
    /// 0-based position among the archive's entries (extension headers not
    /// counted).
    pub ordinal: u64,
    /// What it is.
    pub kind: Kind,
    /// The path, raw bytes as stored (not cleaned).
    pub path: Vec<u8>,
    /// The link target of a link, raw.
    pub link: Vec<u8>,
    /// Mode bits.
    pub mode: u32,
    /// Owner user id (clamped to `u32`).
    pub uid: u32,
    /// Owner group id (clamped to `u32`).
    pub gid: u32,
    /// Data bytes stored in the archive: what reading the entry yields.
    pub size: u64,
    /// For a sparse file, its apparent size (holes included).
    pub sparse_size: Option<u64>,
}

/// Extension records collected for the next entry.
#[derive(Default)]
struct Pending {
    path: Option<Vec<u8>>,
    link: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    sparse_name: Option<Vec<u8>>,
    sparse_size: Option<u64>,
    /// PAX sparse format 1.0: the map precedes the data.
    sparse_map_in_data: bool,
    /// Old PAX sparse formats (0.0, 0.1) say they are sparse by their keys.
    sparse_pax: bool,
}

/// Reads a tar stream entry by entry; [`TarReader::data`] (or [`Read`])
/// yields the current entry's stored data, in place from the buffered
/// stream.
pub struct TarReader<R> {
    inner: R,
    /// Data bytes of the current entry not yet read.
    remaining: u64,
    /// Padding after the current entry's data.
    padding: u64,
    ordinal: u64,
    done: bool,
}

impl<R: BufRead> TarReader<R> {
    /// A reader of `inner`, positioned before the first header.
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            ordinal: 0,
            done: false,
        }
    }

    /// The underlying stream (positioned after the end marker once
    /// [`TarReader::next_entry`] returned `None`).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The next entry's header, skipping what is left of the current one.
    /// `None` at the end marker or at the end of the stream.
    pub fn next_entry(&mut self) -> Result<Option<Header>, TarError> {
        if self.done {
            return Ok(None);
        }
        let skip = self.remaining + self.padding;
        self.skip(skip)?;
        self.remaining = 0;
        self.padding = 0;
        let mut pending = Pending::default();
        loop {
            let mut block = [0u8; BLOCK as usize];
            if !self.read_block(&mut block)? {
                self.done = true;
                return Ok(None);
            }
            if block.iter().all(|&b| b == 0) {
                self.done = true;
                return Ok(None);
            }
            let ordinal = self.ordinal;
            let entry = move || format!("#{ordinal}");
            check_sum(&block).map_err(|what| TarError::Malformed {
                entry: entry(),
                what,
            })?;
            let flag = block[156];
            let raw_size = numeric(&block[124..136]).ok_or_else(|| TarError::Malformed {
                entry: entry(),
                what: "unreadable size field".into(),
            })?;
            match flag {
                b'L' | b'K' => {
                    let data = self.extension(raw_size, "GNU long name or link")?;
                    let end = data.iter().position(|&b| b == 0).unwrap_or(data.len());
                    let value = data[..end].to_vec();
                    if flag == b'L' {
                        pending.path = Some(value);
                    } else {
                        pending.link = Some(value);
                    }
                }
                b'x' | b'X' => {
                    let data = self.extension(raw_size, "PAX record")?;
                    parse_pax(&data, &mut pending).map_err(|what| TarError::Malformed {
                        entry: entry(),
                        what,
                    })?;
                }
                b'g' => {
                    // Global records apply to every later entry; none that
                    // matter here is honoured, but they are bounded all the same.
                    self.extension(raw_size, "PAX global record")?;
                }
                _ => return self.entry(&block, flag, raw_size, pending).map(Some),
            }
        }
    }

    /// Builds the header of a real entry and positions at its data.
    fn entry(
        &mut self,
        block: &[u8; 512],
        flag: u8,
        raw_size: u64,
        p: Pending,
    ) -> Result<Header, TarError> {
        let ordinal = self.ordinal;
        self.ordinal += 1;
        let kind = match flag {
            b'0' | 0 | b'7' | b'S' => Kind::File,
            b'5' | b'D' => Kind::Dir,
            b'2' => Kind::Symlink,
            b'1' => Kind::HardLink,
            b'3' | b'4' | b'6' => Kind::Special,
            _ => Kind::Other,
        };
        let path = match p.sparse_name.or(p.path) {
            Some(path) => path,
            None => header_path(block),
        };
        let link = p.link.unwrap_or_else(|| cstr(&block[157..257]).to_vec());
        let name = |path: &[u8]| {
            let shown = String::from_utf8_lossy(&path[..path.len().min(200)]).into_owned();
            format!("#{ordinal} `{}`", crate::text::escape_controls(&shown))
        };
        for (what, value) in [("path", &path), ("link target", &link)] {
            if value.len() > MAX_PATH_BYTES {
                return Err(TarError::Limit {
                    entry: name(&path),
                    what: format!(
                        "{what} of {} bytes is longer than the {MAX_PATH_BYTES}-byte limit",
                        value.len()
                    ),
                });
            }
        }
        // Header-only types carry no data whatever the size field says.
        let stored = match kind {
            Kind::File | Kind::Other => p.size.unwrap_or(raw_size),
            Kind::Dir if flag == b'D' => p.size.unwrap_or(raw_size),
            _ => 0,
        };
        self.remaining = stored;
        self.padding = (BLOCK - stored % BLOCK) % BLOCK;
        let mut sparse_size = None;
        if flag == b'S' {
            sparse_size = Some(
                self.old_gnu_sparse(block)
                    .map_err(|e| with_entry(e, &name(&path)))?,
            );
        } else if kind == Kind::File && (p.sparse_pax || p.sparse_map_in_data) {
            if p.sparse_map_in_data {
                self.skip_sparse_map()
                    .map_err(|e| with_entry(e, &name(&path)))?;
            }
            sparse_size = Some(p.sparse_size.unwrap_or(self.remaining));
        }
        let num = |range: std::ops::Range<usize>| numeric(&block[range]).unwrap_or(0);
        let clamp = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(Header {
            ordinal,
            kind,
            path,
            link,
            mode: clamp(num(100..108)),
            uid: clamp(p.uid.unwrap_or_else(|| num(108..116))),
            gid: clamp(p.gid.unwrap_or_else(|| num(116..124))),
            size: self.remaining,
            sparse_size,
        })
    }

    /// Reads an extension record's data after checking its claimed size.
    fn extension(&mut self, size: u64, what: &str) -> Result<Vec<u8>, TarError> {
        if size > MAX_EXTENSION_BYTES {
            return Err(TarError::Limit {
                entry: format!("#{}", self.ordinal),
                what: format!(
                    "{what} of {size} bytes is larger than the {MAX_EXTENSION_BYTES}-byte limit"
                ),
            });
        }
        let mut data = vec![0u8; size as usize];
        self.inner.read_exact(&mut data)?;
        self.skip((BLOCK - size % BLOCK) % BLOCK)?;
        Ok(data)
    }

    /// An old GNU sparse header (`S`): the map in the header and in
    /// extension blocks after it. Returns the apparent size; the map itself
    /// is not kept (the stored bytes are read in order, holes skipped).
    fn old_gnu_sparse(&mut self, block: &[u8; 512]) -> Result<u64, TarError> {
        let real = numeric(&block[483..495]).ok_or_else(|| malformed("unreadable sparse size"))?;
        let mut extended = block[482] != 0;
        let mut stored = sparse_map_bytes(&block[386..482])?;
        while extended {
            let mut ext = [0u8; BLOCK as usize];
            if !self.read_block(&mut ext)? {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            stored = stored.saturating_add(sparse_map_bytes(&ext[..504])?);
            extended = ext[504] != 0;
        }
        if stored != self.remaining {
            return Err(malformed(
                "the sparse map does not add up to the stored size",
            ));
        }
        Ok(real.max(stored))
    }

    /// PAX sparse 1.0: the data starts with the map as decimal lines
    /// (count, then offset and length pairs), padded to a block. Skips it.
    fn skip_sparse_map(&mut self) -> Result<(), TarError> {
        let mut consumed = 0u64;
        let mut line = |r: &mut Self| -> Result<u64, TarError> {
            let mut digits = 0usize;
            let mut value = 0u64;
            loop {
                let mut b = [0u8; 1];
                if r.read(&mut b)? == 0 {
                    return Err(malformed("the sparse map runs past the entry"));
                }
                consumed += 1;
                match b[0] {
                    b'\n' if digits > 0 => return Ok(value),
                    d @ b'0'..=b'9' if digits < MAX_MAP_LINE => {
                        digits += 1;
                        value = value
                            .checked_mul(10)
                            .and_then(|v| v.checked_add(u64::from(d - b'0')))
                            .ok_or_else(|| malformed("sparse map number overflows"))?;
                    }
                    _ => return Err(malformed("bad sparse map line")),
                }
            }
        };
        let count = line(self)?;
        for _ in 0..count.saturating_mul(2) {
            line(self)?;
        }
        let pad = (BLOCK - consumed % BLOCK) % BLOCK;
        if pad > self.remaining {
            return Err(malformed("the sparse map runs past the entry"));
        }
        let mut skip = pad;
        while skip > 0 {
            let take = (skip as usize).min(512);
            let mut buf = [0u8; 512];
            self.read_exact(&mut buf[..take])?;
            skip -= take as u64;
        }
        Ok(())
    }

    /// Reads one block; `false` at a clean end of stream.
    fn read_block(&mut self, block: &mut [u8; 512]) -> Result<bool, TarError> {
        let mut got = 0;
        while got < block.len() {
            let avail = match self.inner.fill_buf() {
                Ok(avail) => avail,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if avail.is_empty() {
                if got == 0 {
                    return Ok(false);
                }
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            let n = avail.len().min(block.len() - got);
            block[got..got + n].copy_from_slice(&avail[..n]);
            self.inner.consume(n);
            got += n;
        }
        Ok(true)
    }

    /// Drops `n` bytes without copying them.
    fn skip(&mut self, mut n: u64) -> Result<(), TarError> {
        while n > 0 {
            let avail = match self.inner.fill_buf() {
                Ok(avail) => avail.len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if avail == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
            }
            let k = n.min(avail as u64) as usize;
            self.inner.consume(k);
            n -= k as u64;
        }
        Ok(())
    }

    /// The next stored bytes of the current entry, in place (empty at the
    /// entry's end); hand back what was used with [`TarReader::consume_data`].
    /// A stream that ends inside the entry is an `UnexpectedEof` error.
    pub fn data(&mut self) -> io::Result<&[u8]> {
        if self.remaining == 0 {
            return Ok(&[]);
        }
        let avail = self.inner.fill_buf()?;
        if avail.is_empty() {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let n = avail
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        Ok(&avail[..n])
    }

    /// Marks `n` bytes of what [`TarReader::data`] returned as read.
    pub fn consume_data(&mut self, n: usize) {
        let n = (n as u64).min(self.remaining);
        self.inner.consume(n as usize);
        self.remaining -= n;
    }
}

impl<R: BufRead> Read for TarReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let data = self.data()?;
        let n = data.len().min(buf.len());
        buf[..n].copy_from_slice(&data[..n]);
        self.consume_data(n);
        Ok(n)
    }
}

fn malformed(what: &str) -> TarError {
    TarError::Malformed {
        entry: String::new(),
        what: what.to_owned(),
    }
}

fn with_entry(e: TarError, entry: &str) -> TarError {
    match e {
        TarError::Malformed { what, .. } => TarError::Malformed {
            entry: entry.to_owned(),
            what,
        },
        other => other,
    }
}

/// Sum of the lengths of a run of 24-byte (offset, length) sparse entries.
fn sparse_map_bytes(map: &[u8]) -> Result<u64, TarError> {
    let mut total = 0u64;
    for pair in map.chunks_exact(24) {
        if pair.iter().all(|&b| b == 0) {
            continue;
        }
        let len = numeric(&pair[12..24]).ok_or_else(|| malformed("unreadable sparse map"))?;
        numeric(&pair[..12]).ok_or_else(|| malformed("unreadable sparse map"))?;
        total = total.saturating_add(len);
    }
    Ok(total)
}

/// The path of a ustar or GNU header: `prefix/name` for ustar.
fn header_path(block: &[u8; 512]) -> Vec<u8> {
    let name = cstr(&block[..100]);
    let ustar = &block[257..263] == b"ustar\0";
    let prefix = if ustar { cstr(&block[345..500]) } else { &[] };
    if prefix.is_empty() {
        name.to_vec()
    } else {
        [prefix, b"/", name].concat()
    }
}

fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

/// A numeric field: octal (space or NUL padded) or base-256 (high bit set).
/// `None` when unreadable or negative.
pub fn numeric(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|&b| b & 0x80 != 0) {
        if field[0] & 0x40 != 0 {
            return None; // negative
        }
        let mut v: u64 = u64::from(field[0] & 0x3f);
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(u64::from(b))?;
        }
        return Some(v);
    }
    let digits: &[u8] = {
        let start = field.iter().position(|&b| b != b' ' && b != 0)?;
        let rest = &field[start..];
        let end = rest
            .iter()
            .position(|&b| b == b' ' || b == 0)
            .unwrap_or(rest.len());
        &rest[..end]
    };
    let mut v: u64 = 0;
    for &d in digits {
        if !(b'0'..=b'7').contains(&d) {
            return None;
        }
        v = v.checked_mul(8)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(v)
}

/// Checks the header checksum (unsigned or, as old tars wrote, signed).
fn check_sum(block: &[u8; 512]) -> Result<(), String> {
    let want = numeric(&block[148..156]).ok_or("unreadable header checksum")?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if want == unsigned || i64::try_from(want).is_ok_and(|w| w == signed) {
        Ok(())
    } else {
        Err("header checksum mismatch (not a tar stream, or a corrupt one)".into())
    }
}

/// Applies the records of a PAX extended header (`LEN KEY=VALUE\n`).
fn parse_pax(mut data: &[u8], p: &mut Pending) -> Result<(), String> {
    while !data.is_empty() {
        if data.iter().all(|&b| b == 0) {
            break;
        }
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or("PAX record without a length")?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("PAX record with a bad length")?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err("PAX record with a bad length".into());
        }
        let record = &data[space + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("PAX record without `=`")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        let number = || -> Result<u64, String> {
            std::str::from_utf8(value)
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("PAX `{}` is not a number", String::from_utf8_lossy(key)))
        };
        match key {
            b"path" => p.path = Some(value.to_vec()),
            b"linkpath" => p.link = Some(value.to_vec()),
            b"size" => p.size = Some(number()?),
            b"uid" => p.uid = Some(number()?),
            b"gid" => p.gid = Some(number()?),
            b"GNU.sparse.name" => p.sparse_name = Some(value.to_vec()),
            b"GNU.sparse.size" | b"GNU.sparse.realsize" => {
                p.sparse_size = Some(number()?);
                p.sparse_pax = true;
            }
            b"GNU.sparse.major" => p.sparse_map_in_data = value == b"1",
            b"GNU.sparse.map" | b"GNU.sparse.numblocks" => p.sparse_pax = true,
            b"GNU.sparse.offset" | b"GNU.sparse.numbytes" => p.sparse_pax = true,
            _ => {}
        }
    }
    Ok(())
}
