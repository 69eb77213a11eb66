//! ELF section headers, read while a file streams by.
//!
//! The section header table sits near the end of an ELF file, so the parser
//! keeps the file header, remembers where the table starts and copies it
//! out when the stream gets there. Strippable bytes are the sections that
//! are not loaded at run time (`.debug_*`, `.symtab`, `.strtab`, ...).

use serde::{Deserialize, Serialize};

/// What the section headers of an ELF file say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ElfInfo {
    /// Bytes of `.debug_*` / `.zdebug_*` sections (what `strip --strip-debug` removes).
    pub debug_bytes: u64,
    /// Bytes of every non-allocated section except the section-name table
    /// (what `strip` removes: debug sections plus `.symtab`/`.strtab`).
    pub strippable_bytes: u64,
}

/// A streaming ELF parser: feed it the file's bytes in order.
#[derive(Debug, Default)]
pub struct ElfScanner {
    seen: u64,
    head: Vec<u8>,
    not_elf: bool,
}

impl ElfScanner {
    /// A parser for a file about to stream by.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next chunk of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.not_elf {
            return;
        }
        if self.head.len() < 64 {
            let take = (64 - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            if self.head.len() >= 4 && &self.head[..4] != b"\x7fELF" {
                self.not_elf = true;
            }
        }
        self.seen += chunk.len() as u64;
    }

    /// The result, or `None` when the file is not ELF or its headers could
    /// not be read.
    pub fn finish(self) -> Option<ElfInfo> {
        None
    }
}
