//! What a layer's files are made of, for estimating the compressed bytes
//! of any set of its files (a finding, a change's saving).
//!
//! A layer mixes content that gzip treats very differently: wheels, zips
//! and images are already compressed (gzip keeps them at ~1.0), package
//! lists and sources shrink to a fifth, shared objects to a third. One
//! ratio for the whole layer under-promises a pip cache of wheels and
//! over-promises apt lists. So, while the tar walker reads each file, the
//! file gets a [`ContentClass`] (from its first bytes and its name) and its
//! bytes feed that class's own [`Sampler`] (gzip only); the class of every
//! entry is kept, one byte each.
//!
//! [`ContentSample::estimator`] turns this into an [`Estimator`]: a file
//! costs its bytes times its class's sampled gzip ratio, plus a tar header.
//! The compressible classes are then scaled together so that the whole
//! layer adds up to its real compressed size (the blob, or the stream
//! estimate), so figures of different findings in one layer never add up
//! to more than the layer.

use serde::{Deserialize, Serialize};

use super::sample::Sampler;

/// What a file's bytes are, as far as gzip is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ContentClass {
    /// Anything else: text, sources, data, and entries without content.
    Other = 0,
    /// ELF objects (shared libraries, executables).
    Elf = 1,
    /// Python bytecode (`.pyc`).
    Bytecode = 2,
    /// Already compressed: zip/wheel/jar, gzip, xz, zstd, bzip2, PNG, JPEG,
    /// or anything whose first bytes look random.
    Compressed = 3,
}

/// Number of classes.
pub const CLASSES: usize = 4;

impl ContentClass {
    /// The class stored as `b` (unknown values are [`ContentClass::Other`]).
    pub fn from_u8(b: u8) -> ContentClass {
        match b {
            1 => ContentClass::Elf,
            2 => ContentClass::Bytecode,
            3 => ContentClass::Compressed,
            _ => ContentClass::Other,
        }
    }

    /// The class of a file from its path and its first bytes.
    pub fn of(path: &[u8], head: &[u8]) -> ContentClass {
        if head.starts_with(b"\x7fELF") {
            return ContentClass::Elf;
        }
        if COMPRESSED_MAGIC
            .iter()
            .any(|(off, m)| head.len() >= off + m.len() && &head[*off..off + m.len()] == *m)
        {
            return ContentClass::Compressed;
        }
        // A zip behind a short header: pip's HTTP cache keeps each
        // downloaded wheel after the response's cache metadata.
        if memchr::memmem::find(&head[..head.len().min(ZIP_WITHIN)], b"PK\x03\x04").is_some() {
            return ContentClass::Compressed;
        }
        let name = path.rsplit(|&b| b == b'/').next().unwrap_or(path);
        let ext = name
            .iter()
            .rposition(|&b| b == b'.')
            .map(|i| &name[i + 1..]);
        match ext {
            Some(e) if e.eq_ignore_ascii_case(b"pyc") => return ContentClass::Bytecode,
            Some(e) if COMPRESSED_EXT.iter().any(|c| e.eq_ignore_ascii_case(c)) => {
                return ContentClass::Compressed;
            }
            _ => {}
        }
        if looks_random(head) {
            ContentClass::Compressed
        } else {
            ContentClass::Other
        }
    }
}

/// How far into a file a zip's local header still makes it a zip.
const ZIP_WITHIN: usize = 1024;

/// Magic numbers of compressed formats: (offset, bytes).
const COMPRESSED_MAGIC: &[(usize, &[u8])] = &[
    (0, b"PK\x03\x04"),             // zip, wheel, jar, npz, torch .pt
    (0, b"\x1f\x8b"),               // gzip
    (0, b"\xfd7zXZ\x00"),           // xz
    (0, b"\x28\xb5\x2f\xfd"),       // zstd
    (0, b"BZh"),                    // bzip2
    (0, b"\x89PNG"),                // PNG
    (0, b"\xff\xd8\xff"),           // JPEG
    (0, b"GIF8"),                   // GIF
    (0, b"7z\xbc\xaf\x27\x1c"),     // 7z
    (0, b"\x04\x22\x4d\x18"),       // lz4
    (0, b"wOF2"),                   // woff2
    (0, b"OggS"),                   // ogg
    (4, b"ftyp"),                   // mp4, heic
    (0, b"!<arch>\ndebian-binary"), // .deb
];

/// Extensions of compressed formats, lower case.
const COMPRESSED_EXT: &[&[u8]] = &[
    b"whl", b"zip", b"jar", b"egg", b"gz", b"tgz", b"xz", b"txz", b"zst", b"bz2", b"lz4", b"7z",
    b"jpg", b"jpeg", b"png", b"gif", b"webp", b"npz", b"deb", b"woff2", b"mp3", b"mp4", b"ogg",
];

/// Whether a file's first bytes look like compressed or encrypted data:
/// a byte histogram over 1 to 4 KiB with an entropy above 7.5 bits per
/// byte (text is about 4.5-5, machine code 5.5-6.5, compressed data 7.9+;
/// 4 KiB of random bytes measure 7.95, so 4 KiB decide as well as 14 KiB
/// did, at a third of the cost: this ran on every file of every layer).
/// Catches pip's HTTP cache entries, which are wheels behind a header.
fn looks_random(head: &[u8]) -> bool {
    const MIN: usize = 1024;
    const MAX: usize = 16 << 10;
    const SPAN: usize = 4 << 10;
    if head.len() < MIN {
        return false;
    }
    // Skip a little header (pip's cache entries open with one).
    let start = head.len().min(MAX) / 8;
    let data = &head[start..head.len().min(MAX).min(start + SPAN)];
    // Four interleaved histograms: consecutive equal bytes (text, padding)
    // then do not wait on each other's increments.
    let mut four = [[0u32; 256]; 4];
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        four[0][q[0] as usize] += 1;
        four[1][q[1] as usize] += 1;
        four[2][q[2] as usize] += 1;
        four[3][q[3] as usize] += 1;
    }
    for &b in quads.remainder() {
        four[0][b as usize] += 1;
    }
    let mut hist = [0u32; 256];
    let mut distinct = 0usize;
    for (i, h) in hist.iter_mut().enumerate() {
        *h = four[0][i] + four[1][i] + four[2][i] + four[3][i];
        distinct += usize::from(*h > 0);
    }
    // Entropy is at most log2 of the number of distinct bytes: under
    // 2^7.5 (181.02) distinct values it cannot exceed 7.5 bits.
    if distinct <= 181 {
        return false;
    }
    let n = data.len() as f64;
    let entropy: f64 = hist
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = f64::from(c) / n;
            -p * p.log2()
        })
        .sum();
    entropy > 7.5
}

/// Per class: what the layer holds and what its sample compressed to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassStats {
    /// Content bytes of the class's files.
    pub bytes: u64,
    /// Files of the class.
    pub files: u64,
    /// Bytes sampled.
    pub sampled_bytes: u64,
    /// The sample compressed with gzip level 6.
    pub gzip_bytes: u64,
}

/// What one layer's files are made of: a class per entry and a gzip sample
/// per class.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContentSample {
    /// The [`ContentClass`] of every entry, by entry index.
    #[serde(with = "serde_bytes")]
    pub classes: Vec<u8>,
    /// Per class, indexed by `ContentClass as usize`.
    pub stats: [ClassStats; CLASSES],
}

/// Bytes of a tar header after gzip, before scaling: 512 bytes of mostly
/// zeros and octal digits much like the previous header's.
pub const HEADER_GZIP_BYTES: f64 = 60.0;

/// How many bytes one layer's files cost after compression.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimator {
    /// Compressed bytes per content byte, by class.
    pub per_byte: [f64; CLASSES],
    /// Compressed bytes of one entry's tar header.
    pub per_entry: f64,
}

impl Estimator {
    /// One ratio for everything (no content sample): `ratio` per byte, no
    /// header cost.
    pub fn flat(ratio: f64) -> Estimator {
        Estimator {
            per_byte: [ratio; CLASSES],
            per_entry: 0.0,
        }
    }

    /// Compressed bytes of `bytes` bytes of a file of `class`; a whole
    /// file (`whole`) also pays its header.
    pub fn bytes(&self, class: ContentClass, bytes: u64, whole: bool) -> f64 {
        bytes as f64 * self.per_byte[class as usize] + if whole { self.per_entry } else { 0.0 }
    }
}

impl ContentSample {
    /// The class of entry `i`.
    pub fn class(&self, i: u32) -> ContentClass {
        ContentClass::from_u8(self.classes.get(i as usize).copied().unwrap_or(0))
    }

    /// The estimator for this layer, whose compressed size is
    /// `layer_compressed`: each class's sampled gzip ratio (the layer's
    /// overall `fallback` ratio for a class too small to sample), the
    /// compressible classes scaled (by at most 4x either way) so that the
    /// whole layer's estimate is `layer_compressed`.
    pub fn estimator(&self, layer_compressed: u64, fallback: f64) -> Estimator {
        let mut per_byte = [fallback; CLASSES];
        for (c, s) in self.stats.iter().enumerate() {
            if s.sampled_bytes >= 4096 {
                per_byte[c] = s.gzip_bytes as f64 / s.sampled_bytes as f64;
            } else if c == ContentClass::Compressed as usize {
                per_byte[c] = 1.0;
            }
        }
        let entries = self.classes.len() as f64;
        let fixed = self.stats[ContentClass::Compressed as usize].bytes as f64
            * per_byte[ContentClass::Compressed as usize];
        let scalable: f64 = (0..CLASSES)
            .filter(|&c| c != ContentClass::Compressed as usize)
            .map(|c| self.stats[c].bytes as f64 * per_byte[c])
            .sum::<f64>()
            + entries * HEADER_GZIP_BYTES;
        let want = layer_compressed as f64 - fixed;
        let scale = if scalable > 0.0 && want > 0.0 {
            (want / scalable).clamp(0.25, 4.0)
        } else {
            1.0
        };
        for (c, r) in per_byte.iter_mut().enumerate() {
            if c != ContentClass::Compressed as usize {
                *r *= scale;
            }
        }
        Estimator {
            per_byte,
            per_entry: HEADER_GZIP_BYTES * scale,
        }
    }
}

/// Bytes per window of a class sample.
const WINDOW: usize = 32 << 10;
/// Bytes per window of the already-compressed class's sample.
const COMPRESSED_WINDOW: usize = 4 << 10;
/// Windows kept per class (256 KiB: gzip level 6 is the costliest part of
/// a plain layer's scan).
const MAX_WINDOWS: usize = 8;
/// Bytes of a file's start that decide its class.
const HEAD: usize = 16 << 10;

/// Classifies and samples the files of one layer as the walker reads them:
/// [`ContentSampler::feed`] the file's bytes, then
/// [`ContentSampler::end_entry`] once for every entry, file or not.
#[derive(Debug)]
pub struct ContentSampler {
    samplers: [Sampler; CLASSES],
    stats: [ClassStats; CLASSES],
    classes: Vec<u8>,
    /// The current file's path, class once known, first bytes while not.
    path: Vec<u8>,
    class: Option<ContentClass>,
    head: Vec<u8>,
    size: u64,
    /// The current file's size when known ([`ContentSampler::begin_sized`]).
    expected: Option<u64>,
}

impl Default for ContentSampler {
    fn default() -> Self {
        let s = || Sampler::new(WINDOW, MAX_WINDOWS).gzip_only();
        // Already-compressed data: as many bytes, in many small windows
        // spread over the class's stream, since a few stored or
        // compressible stretches in a large zip sway a handful of windows.
        let spread = || {
            Sampler::new(COMPRESSED_WINDOW, MAX_WINDOWS * WINDOW / COMPRESSED_WINDOW).gzip_only()
        };
        ContentSampler {
            samplers: [s(), s(), s(), spread()],
            stats: [ClassStats::default(); CLASSES],
            classes: Vec::new(),
            path: Vec::new(),
            class: None,
            head: Vec::new(),
            size: 0,
            expected: None,
        }
    }
}

impl ContentSampler {
    /// Starts a regular file at `path`.
    pub fn begin_file(&mut self, path: &[u8]) {
        self.path.clear();
        self.path.extend_from_slice(path);
        self.class = None;
        self.head.clear();
        self.size = 0;
        self.expected = None;
    }

    /// Starts a regular file of `size` bytes at `path`: a file that then
    /// arrives in one piece is classified without copying its start.
    pub fn begin_sized(&mut self, path: &[u8], size: u64) {
        self.begin_file(path);
        self.expected = Some(size);
    }

    /// The next bytes of the current file.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.size += chunk.len() as u64;
        match self.class {
            Some(c) => self.samplers[c as usize].feed(chunk),
            // The whole head (or the whole file) is in this chunk: the same
            // class and the same bytes sampled as by way of `head`.
            None if self.head.is_empty()
                && (chunk.len() >= HEAD || self.expected == Some(chunk.len() as u64)) =>
            {
                let c = ContentClass::of(&self.path, &chunk[..chunk.len().min(HEAD)]);
                self.class = Some(c);
                self.samplers[c as usize].feed(chunk);
            }
            None => {
                let take = (HEAD - self.head.len()).min(chunk.len());
                self.head.extend_from_slice(&chunk[..take]);
                if self.head.len() >= HEAD {
                    let c = self.decide();
                    self.samplers[c as usize].feed(&chunk[take..]);
                }
            }
        }
    }

    fn decide(&mut self) -> ContentClass {
        let c = ContentClass::of(&self.path, &self.head);
        self.class = Some(c);
        self.samplers[c as usize].feed(&self.head);
        c
    }

    /// Ends the current entry: a file started with
    /// [`ContentSampler::begin_file`] gets its class, anything else
    /// [`ContentClass::Other`].
    pub fn end_entry(&mut self, is_file: bool) {
        let class = if is_file {
            let c = match self.class {
                Some(c) => c,
                None => self.decide(),
            };
            let s = &mut self.stats[c as usize];
            s.bytes += self.size;
            s.files += 1;
            c
        } else {
            ContentClass::Other
        };
        self.classes.push(class as u8);
        self.class = None;
        self.head.clear();
        self.size = 0;
        self.expected = None;
    }

    /// Compresses the samples.
    pub fn finish(self) -> ContentSample {
        let mut stats = self.stats;
        for (s, sampler) in stats.iter_mut().zip(self.samplers) {
            let r = sampler.finish();
            s.sampled_bytes = r.gzip_sampled_bytes;
            s.gzip_bytes = r.gzip_bytes;
        }
        let mut classes = self.classes;
        classes.shrink_to_fit();
        ContentSample { classes, stats }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::scan::sample::gzip_len;

    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    #[test]
    fn classes_from_magic_name_and_entropy() {
        let c = |p: &str, h: &[u8]| ContentClass::of(p.as_bytes(), h);
        assert_eq!(
            c("usr/lib/libx.so.1", b"\x7fELF\x02\x01"),
            ContentClass::Elf
        );
        assert_eq!(c("a/b.txt", b"PK\x03\x04rest"), ContentClass::Compressed);
        assert_eq!(
            c("a/__pycache__/m.cpython-311.pyc", b"\xa7\r\r\n"),
            ContentClass::Bytecode
        );
        assert_eq!(
            c("wheels/numpy-2.0-cp311.whl", b""),
            ContentClass::Compressed
        );
        assert_eq!(c("a/README", b"hello world\n"), ContentClass::Other);
        // A wheel 26 bytes into a pip HTTP cache entry (as pip 24 writes them).
        let mut cached = b"\x00\x00\x00\x02cc=4,body-follows....".to_vec();
        cached.truncate(26);
        cached.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x08\x00");
        cached.extend_from_slice(&b"numpy/__init__.py".repeat(40));
        assert_eq!(
            c("root/.cache/pip/http-v2/a/b/c", &cached),
            ContentClass::Compressed
        );
        let text: Vec<u8> = b"Package: libc6\nVersion: 2.36\n".repeat(200);
        assert_eq!(
            c("var/lib/apt/lists/x_Packages", &text),
            ContentClass::Other
        );
        // pip's HTTP cache: a short header, then a wheel's deflated bytes.
        let mut entry = b"\x00\x01cc=4,...".to_vec();
        entry.extend(noise(8000, 7));
        assert_eq!(
            c("root/.cache/pip/http/a/b/c", &entry),
            ContentClass::Compressed
        );
    }

    #[test]
    fn samples_each_class_and_records_every_entry() {
        let mut s = ContentSampler::default();
        let text: Vec<u8> = b"Package: libc6\nDescription: GNU C Library\n".repeat(2000);
        let zip = {
            let mut z = b"PK\x03\x04".to_vec();
            z.extend(noise(100_000, 3));
            z
        };
        s.begin_file(b"var/lib/apt/lists/x_Packages");
        for c in text.chunks(5000) {
            s.feed(c);
        }
        s.end_entry(true);
        s.end_entry(false); // a directory
        s.begin_file(b"root/.cache/pip/wheels/a.whl");
        for c in zip.chunks(70_000) {
            s.feed(c);
        }
        s.end_entry(true);
        s.begin_file(b"empty");
        s.end_entry(true);
        let r = s.finish();
        assert_eq!(r.classes, vec![0, 0, 3, 0]);
        let other = r.stats[0];
        assert_eq!((other.bytes, other.files), (text.len() as u64, 2));
        assert_eq!(r.stats[3].bytes, zip.len() as u64);
        // Independent: gzip of the same bytes, in windows of 32 KiB (the
        // whole 84 KB text is kept: 3 windows).
        assert_eq!(other.sampled_bytes, text.len() as u64);
        let ratio = other.gzip_bytes as f64 / other.sampled_bytes as f64;
        let whole = gzip_len(&text) as f64 / text.len() as f64;
        assert!(
            ratio < 0.05 && (ratio - whole).abs() < 0.01,
            "{ratio} {whole}"
        );
        let z = r.stats[3];
        assert!(z.gzip_bytes as f64 / z.sampled_bytes as f64 > 0.99);
    }

    /// A file announced with its size and fed in one piece (the walker's
    /// fast path, no copy of its start) is classed and sampled exactly as
    /// the same file fed in small pieces.
    #[test]
    fn a_sized_file_in_one_piece_is_sampled_as_in_pieces() {
        let mut elf = b"\x7fELF\x02\x01\x01".to_vec();
        elf.extend(noise(300, 5));
        let files: Vec<(&[u8], Vec<u8>)> = vec![
            (b"usr/lib/libx.so.1", elf),
            (b"app/__pycache__/m.cpython-311.pyc", noise(700, 6)),
            (b"etc/small.conf", b"key = value\n".repeat(20)),
            (b"data/big.bin", noise(3 * HEAD + 17, 7)),
        ];
        let (mut sized, mut pieces) = (ContentSampler::default(), ContentSampler::default());
        for (path, data) in &files {
            sized.begin_sized(path, data.len() as u64);
            sized.feed(data);
            sized.end_entry(true);
            pieces.begin_file(path);
            for c in data.chunks(7) {
                pieces.feed(c);
            }
            pieces.end_entry(true);
        }
        let (sized, pieces) = (sized.finish(), pieces.finish());
        assert_eq!(sized.classes, vec![1, 2, 0, 3], "{sized:?}");
        assert_eq!(sized, pieces);
    }

    #[test]
    fn the_estimate_adds_up_to_the_layer() {
        let mut sample = ContentSample {
            classes: vec![0, 3, 0],
            stats: [ClassStats::default(); CLASSES],
        };
        sample.stats[0] = ClassStats {
            bytes: 1_000_000,
            files: 2,
            sampled_bytes: 100_000,
            gzip_bytes: 20_000,
        };
        sample.stats[3] = ClassStats {
            bytes: 500_000,
            files: 1,
            sampled_bytes: 100_000,
            gzip_bytes: 100_100,
        };
        // The layer compressed to 500,500 (wheel) + 250,000: the text and
        // headers scale up together.
        let e = sample.estimator(750_500, 0.5);
        let total = e.bytes(ContentClass::Other, 1_000_000, false)
            + 3.0 * e.per_entry
            + e.bytes(ContentClass::Compressed, 500_000, false);
        assert!((total - 750_500.0).abs() < 1.0, "{total}");
        assert!((e.per_byte[3] - 1.001).abs() < 1e-9);
        // ELF was not sampled: the layer's ratio, scaled like the rest.
        let scale = 250_000.0 / (200_000.0 + 3.0 * HEADER_GZIP_BYTES);
        assert!((e.per_byte[1] - 0.5 * scale).abs() < 1e-9);
    }
}
