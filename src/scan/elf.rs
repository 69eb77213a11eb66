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
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use super::*;

    /// A section for [`build`]: name, type, flags, content length.
    pub(crate) struct Sec<'a>(pub &'a str, pub u32, pub u64, pub usize);

    /// Builds a minimal ELF file: header, section contents in order, the
    /// name table, then the section header table (the GNU ld layout), or
    /// with `names_first` the name table right after the header (far from
    /// the table when a section is large).
    pub(crate) fn build(wide: bool, big: bool, sections: &[Sec<'_>], names_first: bool) -> Vec<u8> {
        let put16 = |v: &mut Vec<u8>, x: u16| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let put32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let put64 = |v: &mut Vec<u8>, x: u64| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let ehsize: usize = if wide { 64 } else { 52 };
        let shentsize: usize = if wide { 64 } else { 40 };
        // Name table: "\0" then each name, then ".shstrtab".
        let mut strtab = vec![0u8];
        let mut name_offsets = Vec::new();
        for s in sections {
            name_offsets.push(strtab.len() as u32);
            strtab.extend_from_slice(s.0.as_bytes());
            strtab.push(0);
        }
        let shstrtab_name = strtab.len() as u32;
        strtab.extend_from_slice(b".shstrtab\0");
        let mut body = Vec::new();
        let mut offsets = Vec::new();
        let mut strtab_off = 0;
        if names_first {
            strtab_off = ehsize;
            body.extend_from_slice(&strtab);
        }
        for s in sections {
            offsets.push(ehsize + body.len());
            body.extend(std::iter::repeat_n(
                0xAAu8,
                if s.1 == SHT_NOBITS { 0 } else { s.3 },
            ));
        }
        if !names_first {
            strtab_off = ehsize + body.len();
            body.extend_from_slice(&strtab);
        }
        let shoff = ehsize + body.len();
        let shnum = sections.len() + 2;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF");
        out.push(if wide { 2 } else { 1 });
        out.push(if big { 2 } else { 1 });
        out.push(1);
        out.resize(16, 0);
        put16(&mut out, 3); // ET_DYN
        put16(&mut out, 62);
        put32(&mut out, 1);
        if wide {
            put64(&mut out, 0);
            put64(&mut out, 0);
            put64(&mut out, shoff as u64);
        } else {
            put32(&mut out, 0);
            put32(&mut out, 0);
            put32(&mut out, shoff as u32);
        }
        put32(&mut out, 0);
        put16(&mut out, ehsize as u16);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, shentsize as u16);
        put16(&mut out, shnum as u16);
        put16(&mut out, (shnum - 1) as u16);
        assert_eq!(out.len(), ehsize);
        out.extend_from_slice(&body);
        let sh = |v: &mut Vec<u8>, name: u32, kind: u32, flags: u64, off: usize, size: usize| {
            put32(v, name);
            put32(v, kind);
            if wide {
                put64(v, flags);
                put64(v, 0);
                put64(v, off as u64);
                put64(v, size as u64);
                put32(v, 0);
                put32(v, 0);
                put64(v, 1);
                put64(v, 0);
            } else {
                put32(v, flags as u32);
                put32(v, 0);
                put32(v, off as u32);
                put32(v, size as u32);
                put32(v, 0);
                put32(v, 0);
                put32(v, 1);
                put32(v, 0);
            }
        };
        sh(&mut out, 0, 0, 0, 0, 0);
        for (i, s) in sections.iter().enumerate() {
            sh(&mut out, name_offsets[i], s.1, s.2, offsets[i], s.3);
        }
        sh(&mut out, shstrtab_name, 3, 0, strtab_off, strtab.len());
        out
    }

    fn scan(data: &[u8], chunk: usize) -> Option<ElfInfo> {
        let mut s = ElfScanner::new();
        for c in data.chunks(chunk) {
            s.feed(c);
        }
        s.finish()
    }

    fn sample(wide: bool, big: bool, names_first: bool, text: usize) -> Vec<u8> {
        build(
            wide,
            big,
            &[
                Sec(".text", SHT_PROGBITS, SHF_ALLOC | 0x4, text),
                Sec(".bss", SHT_NOBITS, SHF_ALLOC | 0x1, 4096),
                Sec(".comment", SHT_PROGBITS, 0x30, 40),
                Sec(".debug_info", SHT_PROGBITS, 0, 1000),
                Sec(".debug_str", SHT_PROGBITS, 0x30, 300),
                Sec(".symtab", 2, 0, 240),
                Sec(".strtab", 3, 0, 77),
            ],
            names_first,
        )
    }

    #[test]
    fn every_class_and_byte_order_in_any_chunking() {
        for wide in [true, false] {
            for big in [false, true] {
                let data = sample(wide, big, false, 500);
                for chunk in [1, 3, 64, 100, 4096, data.len()] {
                    let info = scan(&data, chunk).unwrap();
                    // .debug_info + .debug_str; strippable adds .comment, .symtab, .strtab.
                    assert_eq!(
                        info.debug_bytes, 1300,
                        "wide={wide} big={big} chunk={chunk}"
                    );
                    assert_eq!(info.strippable_bytes, 1300 + 40 + 240 + 77);
                }
            }
        }
    }

    #[test]
    fn without_names_classifies_by_type_and_flags() {
        // The name table sits right after the header, far outside the window.
        let data = sample(true, false, true, (NAME_WINDOW as usize) * 2);
        let info = scan(&data, 8192).unwrap();
        // Non-allocated PROGBITS: .comment + .debug_info + .debug_str.
        assert_eq!(info.debug_bytes, 40 + 1000 + 300);
        assert_eq!(info.strippable_bytes, 1300 + 40 + 240 + 77);
        // Near the header the names are inside the kept range.
        let near = sample(false, true, true, 100);
        assert_eq!(scan(&near, 7).unwrap().debug_bytes, 1300);
    }

    #[test]
    fn not_elf_truncated_or_garbage_yields_none() {
        assert_eq!(scan(b"#!/bin/sh\necho hi\n", 4), None);
        assert_eq!(scan(b"", 4), None);
        let data = sample(true, false, false, 500);
        assert_eq!(scan(&data[..data.len() - 10], 64), None);
        assert_eq!(scan(&data[..40], 64), None);
        let mut bad = data.clone();
        bad[4] = 9; // no such class
        assert_eq!(scan(&bad, 64), None);
        let mut huge = data;
        huge[0x3C] = 0xff; // e_shnum far beyond the file
        huge[0x3D] = 0x7f;
        assert_eq!(scan(&huge, 64), None);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::print_stderr)]
mod real_files {
    use super::*;
    use std::process::Command;

    /// Compiles a small shared object with `gcc -g` and compares the
    /// parser's sums with `readelf -S -W` (skipped when either is missing).
    #[test]
    fn agrees_with_readelf_on_a_real_shared_object() {
        let dir = std::env::temp_dir().join(format!("layerscope-elf-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let src = dir.join("t.c");
        let so = dir.join("libt.so");
        let _ = std::fs::write(
            &src,
            "int add(int a, int b) { return a + b; }\nstatic const char big[5000] = {1};\nconst char *p(void) { return big; }\n",
        );
        let built = Command::new("gcc")
            .args(["-g", "-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&src)
            .status();
        let listing = Command::new("readelf").args(["-S", "-W"]).arg(&so).output();
        let (Ok(status), Ok(listing)) = (built, listing) else {
            eprintln!("skipping: gcc or readelf missing");
            return;
        };
        if !status.success() || !listing.status.success() {
            eprintln!("skipping: gcc or readelf failed");
            return;
        }
        let text = String::from_utf8_lossy(&listing.stdout);
        let (mut debug, mut strippable) = (0u64, 0u64);
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix('[') else {
                continue;
            };
            let Some((nr, rest)) = rest.split_once(']') else {
                continue;
            };
            let Ok(nr) = nr.trim().parse::<u32>() else {
                continue;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            if nr == 0 || f.len() < 7 {
                continue;
            }
            // Name Type Address Off Size ES [Flg] Lk Inf Al
            let (name, kind, size) = (f[0], f[1], u64::from_str_radix(f[4], 16).unwrap());
            let flags = if f.len() == 10 { f[6] } else { "" };
            if name == ".shstrtab" || kind == "NOBITS" || flags.contains('A') {
                continue;
            }
            strippable += size;
            if name.starts_with(".debug") {
                debug += size;
            }
        }
        let data = std::fs::read(&so).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = ElfScanner::new();
        for c in data.chunks(4096) {
            s.feed(c);
        }
        let info = s.finish().unwrap();
        assert!(debug > 0, "gcc -g wrote no debug sections:\n{text}");
        assert_eq!(info.debug_bytes, debug);
        assert_eq!(info.strippable_bytes, strippable);
    }
}
