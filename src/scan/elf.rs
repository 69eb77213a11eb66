//! ELF section headers, read while a file streams by.
//!
//! The section header table sits near the end of an ELF file, so the parser
//! keeps the file header, computes where the table lies and copies it out
//! when the stream gets there, together with a window of the bytes just
//! before it, where linkers put the section-name table (`.shstrtab`). With
//! the names, debug sections are the `.debug_*` / `.zdebug_*` ones; when the
//! name table lies outside the window, sections are classified by type and
//! flags instead (a non-allocated `PROGBITS` section counts as debug).
//! Strippable bytes are the sections that are not loaded at run time
//! (debug sections, `.symtab`, `.strtab`, ...). 32- and 64-bit, both byte
//! orders. Nothing here can fail loudly: a file that is not ELF or whose
//! headers do not add up simply yields `None`.
//!
//! The dynamic section (`DT_NEEDED`, `DT_SONAME`, `DT_RUNPATH`) is read on
//! the way by [`dynamic`].

pub mod dynamic;

use serde::{Deserialize, Serialize};

/// What the section headers of an ELF file say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfInfo {
    /// Bytes of `.debug_*` / `.zdebug_*` sections (what `strip --strip-debug` removes).
    pub debug_bytes: u64,
    /// Bytes of every non-allocated section except the section-name table
    /// (what `strip` removes: debug sections plus `.symtab`/`.strtab`).
    pub strippable_bytes: u64,
    /// The libraries it needs (`DT_NEEDED`), in order.
    #[serde(default)]
    pub needed: Vec<String>,
    /// Its own name (`DT_SONAME`), for a shared library.
    #[serde(default)]
    pub soname: Option<String>,
    /// Its library search path (`DT_RUNPATH`, else `DT_RPATH`), split at `:`.
    #[serde(default)]
    pub runpath: Vec<String>,
}

/// How many bytes before the section header table are kept, in the hope
/// that `.shstrtab` lies there (it does for GNU ld, gold, lld and strip).
const NAME_WINDOW: u64 = 64 << 10;
/// Section header tables larger than this are not read.
const MAX_TABLE: u64 = 8 << 20;
/// Non-allocated sections (`SHF_ALLOC` clear) are not loaded.
const SHF_ALLOC: u64 = 0x2;
const SHT_PROGBITS: u32 = 1;
const SHT_NOBITS: u32 = 8;

/// The layout read from the ELF file header.
#[derive(Clone, Copy, Debug)]
struct Layout {
    wide: bool,
    big_endian: bool,
    shoff: u64,
    shentsize: u64,
    shnum: u64,
    shstrndx: u64,
}

impl Layout {
    fn parse(h: &[u8]) -> Option<Layout> {
        if h.len() < 52 || &h[..4] != b"\x7fELF" {
            return None;
        }
        let wide = match h[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let big_endian = match h[5] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let r = Reader { big_endian };
        let (shoff, rest) = if wide {
            if h.len() < 64 {
                return None;
            }
            (r.u64(h, 0x28)?, 0x3A)
        } else {
            (u64::from(r.u32(h, 0x20)?), 0x2E)
        };
        let shentsize = u64::from(r.u16(h, rest)?);
        let shnum = u64::from(r.u16(h, rest + 2)?);
        let shstrndx = u64::from(r.u16(h, rest + 4)?);
        let min_entry = if wide { 64 } else { 40 };
        if shoff == 0 || shentsize < min_entry {
            return None;
        }
        Some(Layout {
            wide,
            big_endian,
            shoff,
            shentsize,
            shnum,
            shstrndx,
        })
    }

    /// The byte range to keep: the name window and the table. With
    /// `e_shnum == 0` (more than 0xff00 sections) the count is in the first
    /// header, so only that header's size is known up front; the cap applies.
    fn capture_range(&self) -> (u64, u64) {
        let count = if self.shnum == 0 {
            MAX_TABLE / self.shentsize
        } else {
            self.shnum
        };
        let table = (count * self.shentsize).min(MAX_TABLE);
        (
            self.shoff.saturating_sub(NAME_WINDOW),
            self.shoff.saturating_add(table),
        )
    }
}

/// Integer reads in the file's byte order, bounds-checked.
#[derive(Clone, Copy)]
struct Reader {
    big_endian: bool,
}

impl Reader {
    fn bytes<const N: usize>(self, b: &[u8], at: usize) -> Option<[u8; N]> {
        let s: [u8; N] = b.get(at..at.checked_add(N)?)?.try_into().ok()?;
        Some(s)
    }
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let s = self.bytes::<2>(b, at)?;
        Some(if self.big_endian {
            u16::from_be_bytes(s)
        } else {
            u16::from_le_bytes(s)
        })
    }
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let s = self.bytes::<4>(b, at)?;
        Some(if self.big_endian {
            u32::from_be_bytes(s)
        } else {
            u32::from_le_bytes(s)
        })
    }
    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let s = self.bytes::<8>(b, at)?;
        Some(if self.big_endian {
            u64::from_be_bytes(s)
        } else {
            u64::from_le_bytes(s)
        })
    }
}

/// One section header, the fields that matter here.
#[derive(Clone, Copy, Debug)]
struct Section {
    name: u32,
    kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
}

/// A streaming ELF parser: feed it the file's bytes in order.
#[derive(Debug, Default)]
pub struct ElfScanner {
    seen: u64,
    head: Vec<u8>,
    not_elf: bool,
    layout: Option<Layout>,
    /// Bytes `[start, start + kept.len())` of the file.
    start: u64,
    end: u64,
    kept: Vec<u8>,
    dynamic: dynamic::DynamicScanner,
}

/// Bytes of the file header that are kept (enough for both classes).
const HEAD: usize = 64;

impl ElfScanner {
    /// A parser for a file about to stream by.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        // Most files are not ELF: tell from the first chunk, before the
        // dynamic-section scanner keeps any of it.
        if self.seen == 0 && chunk.len() >= 4 && !chunk.starts_with(b"\x7fELF") {
            self.not_elf = true;
        }
        if !self.not_elf {
            self.dynamic.feed(chunk);
        }
        if self.not_elf {
            return;
        }
        let pos = self.seen;
        self.seen += chunk.len() as u64;
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() >= 4 && &self.head[..4] != b"\x7fELF" {
                self.not_elf = true;
                return;
            }
            if self.head.len() == HEAD {
                match Layout::parse(&self.head) {
                    Some(layout) => {
                        let (start, end) = layout.capture_range();
                        self.layout = Some(layout);
                        self.start = start;
                        self.end = end;
                        // The range may begin inside the header.
                        if start < HEAD as u64 {
                            let to = end.min(HEAD as u64) as usize;
                            self.kept.extend_from_slice(&self.head[start as usize..to]);
                        }
                    }
                    None => {
                        self.not_elf = true;
                        return;
                    }
                }
            }
        }
        if self.layout.is_none() {
            return;
        }
        // Absolute range of this chunk past what is already kept.
        let from = pos
            .max(self.start + self.kept.len() as u64)
            .max(HEAD as u64);
        let to = self.seen.min(self.end);
        if from < to && from == self.start + self.kept.len() as u64 {
            let a = (from - pos) as usize;
            let b = (to - pos) as usize;
            self.kept.extend_from_slice(&chunk[a..b]);
        }
    }

    /// The result, or `None` when the file is not ELF or neither its
    /// section headers nor its dynamic section could be read.
    pub fn finish(mut self) -> Option<ElfInfo> {
        if self.not_elf {
            return None;
        }
        let dynamic = std::mem::take(&mut self.dynamic).finish();
        let sections = self.sections();
        let mut info = match (sections, &dynamic) {
            (Some(info), _) => info,
            (None, Some(_)) => ElfInfo::default(),
            (None, None) => return None,
        };
        if let Some(d) = dynamic {
            info.needed = d.needed;
            info.soname = d.soname;
            info.runpath = d.runpath;
        }
        Some(info)
    }

    /// The section sums, when the section headers could be read.
    fn sections(&self) -> Option<ElfInfo> {
        let layout = self.layout?;
        let r = Reader {
            big_endian: layout.big_endian,
        };
        let table_at = usize::try_from(layout.shoff.checked_sub(self.start)?).ok()?;
        let table = self.kept.get(table_at..)?;
        let header = |i: u64| -> Option<Section> {
            let at = usize::try_from(i.checked_mul(layout.shentsize)?).ok()?;
            let h = table.get(at..at.checked_add(layout.shentsize as usize)?)?;
            Some(if layout.wide {
                Section {
                    name: r.u32(h, 0)?,
                    kind: r.u32(h, 4)?,
                    flags: r.u64(h, 8)?,
                    offset: r.u64(h, 24)?,
                    size: r.u64(h, 32)?,
                    link: r.u32(h, 40)?,
                }
            } else {
                Section {
                    name: r.u32(h, 0)?,
                    kind: r.u32(h, 4)?,
                    flags: u64::from(r.u32(h, 8)?),
                    offset: u64::from(r.u32(h, 16)?),
                    size: u64::from(r.u32(h, 20)?),
                    link: r.u32(h, 24)?,
                }
            })
        };
        let first = header(0)?;
        let count = if layout.shnum == 0 {
            first.size
        } else {
            layout.shnum
        };
        let names_index = if layout.shstrndx == 0xffff {
            u64::from(first.link)
        } else {
            layout.shstrndx
        };
        let sections: Vec<Section> = (0..count).map(header).collect::<Option<_>>()?;
        let names: Option<&[u8]> = sections.get(names_index as usize).and_then(|s| {
            let at = usize::try_from(s.offset.checked_sub(self.start)?).ok()?;
            self.kept
                .get(at..at.checked_add(usize::try_from(s.size).ok()?)?)
        });
        let name_of = |s: &Section| -> Option<&[u8]> {
            let tail = names?.get(s.name as usize..)?;
            let end = tail.iter().position(|&b| b == 0)?;
            Some(&tail[..end])
        };
        let mut info = ElfInfo::default();
        for (i, s) in sections.iter().enumerate() {
            if i == 0 || i as u64 == names_index || s.kind == SHT_NOBITS || s.flags & SHF_ALLOC != 0
            {
                continue;
            }
            info.strippable_bytes += s.size;
            let debug = match (names, name_of(s)) {
                (Some(_), Some(name)) => {
                    name.starts_with(b".debug") || name.starts_with(b".zdebug")
                }
                _ => s.kind == SHT_PROGBITS,
            };
            if debug {
                info.debug_bytes += s.size;
            }
        }
        Some(info)
    }
}

#[cfg(test)]
pub(crate) mod tests;

#[cfg(test)]
mod real_files;
