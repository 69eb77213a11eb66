//! The dynamic section of an ELF file, read while the file streams by: the
//! libraries it needs (`DT_NEEDED`), its own name (`DT_SONAME`) and its
//! search path (`DT_RUNPATH`, else `DT_RPATH`).
//!
//! The program headers sit right after the file header and say where the
//! dynamic section (`PT_DYNAMIC`) lies; the dynamic section names the
//! string table (`DT_STRTAB`) by virtual address, mapped to a file offset
//! through the `PT_LOAD` segments. Linkers put `.dynstr` near the start and
//! `.dynamic` after the code, so the file's first [`PREFIX_CAP`] bytes are
//! kept; a dynamic section past them (a 500 MB `libtorch_cpu.so`) is
//! captured on its own when the stream reaches it, and its names are read
//! from the kept start of the string table (every one of them, or none); a
//! string table past the dynamic section (patchelf puts it at the end, as
//! in torch's wheels) is captured up to its last name when the stream
//! reaches it, from the same chunk on. Memory is bounded: at most [`MAX_NAMES`] names of [`MAX_NAME`] bytes
//! each. A file whose headers do not add up yields nothing.

/// Bytes kept from the start of the file while the dynamic section is
/// awaited (the string table lies there).
pub const PREFIX_CAP: u64 = 8 << 20;
/// Dynamic sections larger than this are not read.
const MAX_DYNAMIC: u64 = 64 << 10;
/// Program header tables larger than this are not read.
const MAX_PHDRS: u64 = 64 << 10;
/// At most this many `DT_NEEDED` names are kept.
pub const MAX_NAMES: usize = 256;
/// Longer names are dropped.
pub const MAX_NAME: usize = 512;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;
const DT_STRSZ: u64 = 10;
const DT_SONAME: u64 = 14;
const DT_RPATH: u64 = 15;
const DT_RUNPATH: u64 = 29;

/// What the dynamic section says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dynamic {
    /// `DT_NEEDED`, in order.
    pub needed: Vec<String>,
    /// `DT_SONAME`.
    pub soname: Option<String>,
    /// `DT_RUNPATH` (or `DT_RPATH` without one), split at `:`.
    pub runpath: Vec<String>,
}

/// The header fields that matter here.
#[derive(Clone, Copy, Debug)]
struct Header {
    wide: bool,
    big: bool,
    phoff: u64,
    phentsize: u64,
    phnum: u64,
}

/// The dynamic section's entries: (tag, value) of the string ones, and the
/// string table's address and size.
#[derive(Clone, Debug, Default)]
struct Entries {
    strings: Vec<(u64, u64)>,
    strtab: Option<u64>,
    strsz: Option<u64>,
}

/// A streaming reader of the dynamic section: feed it the file's bytes.
#[derive(Debug, Default)]
pub struct DynamicScanner {
    seen: u64,
    done: bool,
    header: Option<Header>,
    /// Where the chunk being fed starts in the file.
    chunk_start: u64,
    /// Bytes `[0, prefix.len())` of the file.
    prefix: Vec<u8>,
    /// (offset, size) of `PT_DYNAMIC`, once the program headers are read.
    dynamic: Option<(u64, u64)>,
    /// A dynamic section past the kept prefix: the bytes captured so far.
    far: Option<Vec<u8>>,
    /// `PT_LOAD` segments: (vaddr, offset, filesz).
    loads: Vec<(u64, u64, u64)>,
    /// Entries read from the dynamic section.
    entries: Option<Entries>,
    /// A string table past the dynamic section: its offset, the bytes of
    /// it wanted (up to the last name) and the bytes captured so far.
    late: Option<(u64, u64, Vec<u8>)>,
    /// Whether `late` wants the whole table.
    late_whole: bool,
    result: Option<Dynamic>,
}

impl DynamicScanner {
    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.done {
            return;
        }
        let pos = self.seen;
        self.chunk_start = pos;
        self.seen += chunk.len() as u64;
        if self.late.is_none() {
            let want = self.prefix_goal();
            if (self.prefix.len() as u64) < want && pos == self.prefix.len() as u64 {
                let take = (want - pos).min(chunk.len() as u64) as usize;
                self.prefix.extend_from_slice(&chunk[..take]);
            }
            self.advance();
            if let (Some(buf), Some((off, size)), false) = (&mut self.far, self.dynamic, self.done)
                && capture(buf, off, size, pos, chunk)
            {
                self.advance();
            }
        }
        // A string table past the dynamic section, maybe in this very chunk.
        if let (Some((off, size, buf)), false) = (&mut self.late, self.done) {
            capture(buf, *off, *size, pos, chunk);
            if buf.len() as u64 == *size {
                self.resolve_late();
            }
        }
    }

    /// How much of the file's start is wanted now.
    fn prefix_goal(&self) -> u64 {
        match self.dynamic {
            Some((off, size)) if self.far.is_none() => off.saturating_add(size),
            _ => PREFIX_CAP,
        }
    }

    /// Parses what the kept bytes allow.
    fn advance(&mut self) {
        let have = self.prefix.len() as u64;
        if self.header.is_none() {
            if have < 64 {
                return;
            }
            match parse_header(&self.prefix) {
                Some(h) => self.header = Some(h),
                None => return self.give_up(),
            }
        }
        let Some(h) = self.header else { return };
        if self.dynamic.is_none() {
            let end = h.phoff.saturating_add(h.phnum.saturating_mul(h.phentsize));
            if end > have {
                if end - h.phoff > MAX_PHDRS || end > PREFIX_CAP {
                    return self.give_up();
                }
                return;
            }
            match program_headers(&self.prefix, h) {
                Some((Some(d), loads)) if d.1 <= MAX_DYNAMIC => {
                    if d.0 >= PREFIX_CAP {
                        self.far = Some(Vec::new());
                    }
                    self.dynamic = Some(d);
                    self.loads = loads;
                }
                _ => return self.give_up(),
            }
        }
        let Some((off, size)) = self.dynamic else {
            return;
        };
        if self.entries.is_none() {
            let entries = match &self.far {
                Some(buf) if buf.len() as u64 == size => dynamic_entries(buf, h, 0, size),
                None if off.saturating_add(size) <= have => {
                    dynamic_entries(&self.prefix, h, off, size)
                }
                _ => return,
            };
            let Some(entries) = entries else {
                return self.give_up();
            };
            self.entries = Some(entries);
            self.resolve_from_prefix();
        }
    }

    /// Resolves the names from the kept prefix, or arranges to capture the
    /// string table when it lies ahead.
    fn resolve_from_prefix(&mut self) {
        let Some(e) = &self.entries else { return };
        if e.strings.is_empty() {
            self.result = Some(Dynamic::default());
            return self.finish_early();
        }
        let (Some(addr), Some(size)) = (e.strtab, e.strsz) else {
            return self.give_up();
        };
        let Some(off) = self.file_offset(addr) else {
            return self.give_up();
        };
        let end = off.saturating_add(size);
        let kept = self.prefix.len() as u64;
        if off < kept {
            // The whole table, or the start of it that was kept: then every
            // name must lie there.
            let table = &self.prefix[off as usize..end.min(kept) as usize];
            self.result = names(e, table, end <= kept);
            return self.finish_early();
        }
        // Past the dynamic section (patchelf moves `.dynstr` to the end, as
        // in torch's libraries): captured up to the last name it holds.
        let last = e.strings.iter().map(|&(_, at)| at).max().unwrap_or(0);
        let want = size.min(last.saturating_add(MAX_NAME as u64 + 1));
        if off >= self.chunk_start && want <= PREFIX_CAP {
            self.prefix = Vec::new();
            self.far = None;
            self.late = Some((off, want, Vec::new()));
            self.late_whole = want == size;
            return;
        }
        self.give_up();
    }

    fn resolve_late(&mut self) {
        if let (Some(e), Some((_, _, table))) = (&self.entries, &self.late) {
            self.result = names(e, table, self.late_whole);
        }
        self.finish_early();
    }

    fn file_offset(&self, addr: u64) -> Option<u64> {
        self.loads
            .iter()
            .find(|&&(v, _, sz)| v <= addr && addr < v.saturating_add(sz))
            .and_then(|&(v, o, _)| o.checked_add(addr - v))
    }

    fn give_up(&mut self) {
        self.result = None;
        self.finish_early();
    }

    fn finish_early(&mut self) {
        self.done = true;
        self.prefix = Vec::new();
        self.far = None;
        self.late = None;
    }

    /// The names, when the file is ELF with a dynamic section that could be
    /// read.
    pub fn finish(self) -> Option<Dynamic> {
        self.result
    }
}

fn parse_header(h: &[u8]) -> Option<Header> {
    if h.len() < 64 || &h[..4] != b"\x7fELF" {
        return None;
    }
    let wide = match h[4] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let big = match h[5] {
        1 => false,
        2 => true,
        _ => return None,
    };
    let (phoff, at) = if wide {
        (int(h, 0x20, 8, big)?, 0x36)
    } else {
        (int(h, 0x1C, 4, big)?, 0x2A)
    };
    let phentsize = int(h, at, 2, big)?;
    let phnum = int(h, at + 2, 2, big)?;
    let min = if wide { 56 } else { 32 };
    if phoff == 0 || phnum == 0 || phentsize < min {
        return None;
    }
    Some(Header {
        wide,
        big,
        phoff,
        phentsize,
        phnum,
    })
}

/// An unsigned integer of `n` bytes at `at`, bounds-checked.
fn int(b: &[u8], at: usize, n: usize, big: bool) -> Option<u64> {
    let s = b.get(at..at.checked_add(n)?)?;
    let mut v = 0u64;
    if big {
        for &x in s {
            v = v << 8 | u64::from(x);
        }
    } else {
        for &x in s.iter().rev() {
            v = v << 8 | u64::from(x);
        }
    }
    Some(v)
}

type Segments = (Option<(u64, u64)>, Vec<(u64, u64, u64)>);

/// `PT_DYNAMIC` (offset, size) and the `PT_LOAD` segments.
fn program_headers(b: &[u8], h: Header) -> Option<Segments> {
    let mut dynamic = None;
    let mut loads = Vec::new();
    for i in 0..h.phnum {
        let at = usize::try_from(h.phoff + i * h.phentsize).ok()?;
        let kind = int(b, at, 4, h.big)? as u32;
        let (offset, vaddr, filesz) = if h.wide {
            (
                int(b, at + 8, 8, h.big)?,
                int(b, at + 16, 8, h.big)?,
                int(b, at + 32, 8, h.big)?,
            )
        } else {
            (
                int(b, at + 4, 4, h.big)?,
                int(b, at + 8, 4, h.big)?,
                int(b, at + 16, 4, h.big)?,
            )
        };
        match kind {
            PT_DYNAMIC => dynamic = Some((offset, filesz)),
            PT_LOAD => loads.push((vaddr, offset, filesz)),
            _ => {}
        }
    }
    Some((dynamic, loads))
}

fn dynamic_entries(b: &[u8], h: Header, off: u64, size: u64) -> Option<Entries> {
    let width = if h.wide { 8 } else { 4 };
    let table = b.get(usize::try_from(off).ok()?..usize::try_from(off.checked_add(size)?).ok()?)?;
    let mut e = Entries::default();
    for entry in table.chunks_exact(2 * width) {
        let tag = int(entry, 0, width, h.big)?;
        let val = int(entry, width, width, h.big)?;
        match tag {
            DT_NULL => break,
            DT_NEEDED | DT_SONAME | DT_RPATH | DT_RUNPATH => e.strings.push((tag, val)),
            DT_STRTAB => e.strtab = Some(val),
            DT_STRSZ => e.strsz = Some(val),
            _ => {}
        }
    }
    Some(e)
}

/// Appends to `buf` (the bytes of `[off, off + size)` of the file captured
/// so far) what `chunk`, at file offset `pos`, holds of the rest; whether
/// it added any.
fn capture(buf: &mut Vec<u8>, off: u64, size: u64, pos: u64, chunk: &[u8]) -> bool {
    let have = off.saturating_add(buf.len() as u64);
    let end = pos.saturating_add(chunk.len() as u64);
    let want_end = off.saturating_add(size);
    if pos > have || end <= have || have >= want_end {
        return false;
    }
    let a = (have - pos) as usize;
    let b = (want_end.min(end) - pos) as usize;
    buf.extend_from_slice(&chunk[a..b]);
    true
}

/// The strings of the entries, read from the string table; from only the
/// start of it (`whole` false), `None` unless every string lies there.
fn names(e: &Entries, table: &[u8], whole: bool) -> Option<Dynamic> {
    let get = |at: u64| -> Option<String> {
        let tail = table.get(usize::try_from(at).ok()?..)?;
        let end = tail.iter().take(MAX_NAME + 1).position(|&b| b == 0)?;
        (end > 0).then(|| String::from_utf8_lossy(&tail[..end]).into_owned())
    };
    let mut d = Dynamic::default();
    let mut rpath = Vec::new();
    for &(tag, at) in &e.strings {
        let Some(s) = get(at) else {
            if whole {
                continue;
            }
            return None;
        };
        match tag {
            DT_NEEDED if d.needed.len() < MAX_NAMES => d.needed.push(s),
            DT_SONAME => d.soname = Some(s),
            DT_RUNPATH => d.runpath = split(&s),
            DT_RPATH => rpath = split(&s),
            _ => {}
        }
    }
    if d.runpath.is_empty() {
        d.runpath = rpath;
    }
    Some(d)
}

fn split(s: &str) -> Vec<String> {
    s.split(':')
        .filter(|p| !p.is_empty())
        .take(16)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
