//! The section parser on built ELF images, and on bounds and corrupt input.
#![allow(clippy::unwrap_used)]

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
