//! Compressibility sampling: how well a layer would compress with gzip
//! level 6 and zstd level 3, measured on a sample of its uncompressed tar
//! stream taken while the scanner reads it (the stream cannot be read twice).
//!
//! The sampler keeps windows of [`WINDOW`] bytes spread evenly over the
//! whole stream, at most [`MAX_WINDOWS`] of them (8 MiB): it starts by
//! keeping every window and, each time it holds more than the cap, doubles
//! its stride and drops the windows that are off the new stride (see
//! `kept`). The length of the stream need not be known in advance, and a
//! large layer is sampled every `stride` windows from its start to its end
//! (4 to 8 MiB of it).
//! At the end the kept windows are recompressed, in order, as one zstd
//! stream, and an equal slice at the start of each window, [`GZIP_BUDGET`]
//! bytes in all, as one gzip stream; the ratios scale to the whole layer. A layer smaller than the
//! cap is recompressed whole by zstd.
//!
//! Why these sizes: zstd finds matches far back, so short windows lose its
//! context and overstate its size (64 KiB windows put real layers 10-20 %
//! high, 512 KiB windows within 8 %, 256 KiB windows within 13 %); gzip
//! only looks 32 KiB back, so short slices suffice.
//! The cost is bounded: the sample was half the CPU of a plain docker
//! archive's scan at 16 MiB zstd and 2 MiB gzip per layer, and is much
//! less at 8 MiB and 1 MiB, with the gzip estimate as close as before
//! (BENCHMARKS.md, "Issue 13, round 2").

use std::io::{self, Write};

use serde::{Deserialize, Serialize};

/// Bytes per sampled window.
pub const WINDOW: usize = 256 << 10;

/// Windows kept at most per layer (8 MiB with 256 KiB windows).
pub const MAX_WINDOWS: usize = 32;

/// The gzip estimate compresses at least this many bytes at the start of
/// each kept window (gzip's matches reach back 32 KiB: a slice this long
/// has one window of history), and [`GZIP_BUDGET`] in all: gzip level 6
/// is thirty times slower than zstd level 3.
pub const GZIP_SLICE: usize = 32 << 10;

/// Bytes the gzip estimate reads at most per layer: 32 slices of 32 KiB
/// for a large layer; a layer of up to 1 MiB is compressed whole.
pub const GZIP_BUDGET: usize = 1 << 20;

/// gzip level the estimate uses (what `docker push` and most builders use).
pub const GZIP_LEVEL: u32 = 6;

/// zstd level the estimate uses (the default of buildkit's `compression=zstd`).
pub const ZSTD_LEVEL: i32 = 3;

/// What the sample of one layer says about its compressibility.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompressionSample {
    /// Length of the whole uncompressed stream.
    pub stream_bytes: u64,
    /// Uncompressed bytes in the sample.
    pub sampled_bytes: u64,
    /// Uncompressed bytes of the gzip part of the sample (the first
    /// slice of each window, [`GZIP_BUDGET`] bytes at most).
    #[serde(default)]
    pub gzip_sampled_bytes: u64,
    /// The gzip part of the sample compressed with gzip level [`GZIP_LEVEL`].
    pub gzip_bytes: u64,
    /// The sample compressed with zstd level [`ZSTD_LEVEL`].
    pub zstd_bytes: u64,
}

impl CompressionSample {
    /// gzip-compressed / uncompressed, measured on the sample (1.0 when
    /// nothing was sampled).
    pub fn gzip_ratio(&self) -> f64 {
        ratio(self.gzip_bytes, self.gzip_sampled_bytes)
    }

    /// zstd-compressed / uncompressed, measured on the sample.
    pub fn zstd_ratio(&self) -> f64 {
        ratio(self.zstd_bytes, self.sampled_bytes)
    }

    /// Estimated size of the whole stream compressed with gzip level 6.
    pub fn estimated_gzip_bytes(&self) -> u64 {
        scale(self.stream_bytes, self.gzip_ratio())
    }

    /// Estimated size of the whole stream compressed with zstd level 3.
    pub fn estimated_zstd_bytes(&self) -> u64 {
        scale(self.stream_bytes, self.zstd_ratio())
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

fn scale(bytes: u64, ratio: f64) -> u64 {
    (bytes as f64 * ratio).round() as u64
}

/// Collects evenly spread windows of a stream fed to it in order.
#[derive(Debug)]
pub struct Sampler {
    window: usize,
    max_windows: usize,
    gzip_slice: usize,
    /// Bytes the gzip estimate may read in all, in equal slices of the
    /// kept windows no shorter than `gzip_slice`.
    gzip_budget: usize,
    /// Keep window `w` when [`kept`]`(w, stride)`.
    stride: u64,
    /// Bytes seen so far.
    pos: u64,
    /// Kept windows by window number, the last one possibly still filling.
    windows: Vec<(u64, Vec<u8>)>,
    /// Whether [`Sampler::finish`] skips the zstd estimate.
    gzip_only: bool,
    /// Buffers of dropped windows, reused for new ones (no fresh pages).
    spare: Vec<Vec<u8>>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new(WINDOW, MAX_WINDOWS)
            .gzip_slice(GZIP_SLICE)
            .gzip_budget(GZIP_BUDGET)
    }
}

impl Sampler {
    /// A sampler of windows of `window` bytes, keeping at most `max_windows`
    /// (both at least 1).
    pub fn new(window: usize, max_windows: usize) -> Sampler {
        Sampler {
            window: window.max(1),
            max_windows: max_windows.max(1),
            gzip_slice: window.max(1),
            gzip_budget: 0,
            stride: 1,
            pos: 0,
            windows: Vec::new(),
            gzip_only: false,
            spare: Vec::new(),
        }
    }

    /// Skips the zstd estimate (its `zstd_bytes` is then 0): for the
    /// per-class samples of [`super::content`], which only gzip reads.
    pub fn gzip_only(mut self) -> Sampler {
        self.gzip_only = true;
        self
    }

    /// Limits the gzip estimate to the first `bytes` of each window.
    pub fn gzip_slice(mut self, bytes: usize) -> Sampler {
        self.gzip_slice = bytes.max(1);
        self
    }

    /// Lets the gzip estimate read up to `bytes` in all: each kept window's
    /// slice grows to an equal share of it (a small stream is compressed
    /// whole).
    pub fn gzip_budget(mut self, bytes: usize) -> Sampler {
        self.gzip_budget = bytes;
        self
    }

    /// Feeds the next bytes of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        let w_len = self.window as u64;
        while !chunk.is_empty() {
            let w = self.pos / w_len;
            let off = (self.pos % w_len) as usize;
            let take = (self.window - off).min(chunk.len());
            if kept(w, self.stride) {
                if self.windows.last().is_none_or(|(last, _)| *last != w) {
                    let buf = self
                        .spare
                        .pop()
                        .unwrap_or_else(|| Vec::with_capacity(self.window));
                    self.windows.push((w, buf));
                    if self.windows.len() > self.max_windows {
                        self.stride *= 2;
                        let stride = self.stride;
                        let (keep, drop): (Vec<_>, Vec<_>) = std::mem::take(&mut self.windows)
                            .into_iter()
                            .partition(|(i, _)| kept(*i, stride));
                        self.windows = keep;
                        self.spare.extend(drop.into_iter().map(|(_, mut b)| {
                            b.clear();
                            b
                        }));
                    }
                }
                if let Some((last, buf)) = self.windows.last_mut()
                    && *last == w
                {
                    buf.extend_from_slice(&chunk[..take]);
                }
            }
            self.pos += take as u64;
            chunk = &chunk[take..];
        }
    }

    /// Bytes fed so far.
    pub fn stream_bytes(&self) -> u64 {
        self.pos
    }

    /// The kept bytes, in stream order.
    pub fn sample(&self) -> impl Iterator<Item = &[u8]> {
        self.windows.iter().map(|(_, b)| b.as_slice())
    }

    /// Recompresses the sample with gzip 6 and zstd 3.
    pub fn finish(self) -> CompressionSample {
        let slice = self
            .gzip_slice
            .max(self.gzip_budget / self.windows.len().max(1))
            .min(self.window);
        let mut head = Vec::with_capacity(self.windows.len() * slice);
        for (_, b) in &self.windows {
            head.extend_from_slice(&b[..b.len().min(slice)]);
        }
        let gzip_bytes = compressed_len(&head, Codec::Gzip);
        let zstd_bytes = if self.gzip_only {
            0
        } else {
            compressed_len_parts(self.sample(), Codec::Zstd)
        };
        CompressionSample {
            stream_bytes: self.pos,
            sampled_bytes: self.windows.iter().map(|(_, b)| b.len() as u64).sum(),
            gzip_sampled_bytes: head.len() as u64,
            gzip_bytes,
            zstd_bytes,
        }
    }
}

/// Whether window `w` is kept at `stride`: one window in `stride`, at
/// regular steps. Regular steps sample every region of the tar (a
/// directory of text, one of shared objects) in proportion, which on real
/// layers gave estimates two to three times closer than windows picked by a
/// hash of their number; content with a period close to the step would
/// alias, which real layers do not have.
fn kept(w: u64, stride: u64) -> bool {
    w % stride == 0
}

/// A codec of the estimate.
#[derive(Clone, Copy, Debug)]
enum Codec {
    Gzip,
    Zstd,
}

/// Counts bytes written to it.
#[derive(Default)]
struct Counter(u64);

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressed length of `data` (0 if the encoder fails, which writing
/// into memory never does). One write: deflate output depends slightly on
/// how the input is cut into writes.
fn compressed_len(data: &[u8], codec: Codec) -> u64 {
    let result: io::Result<u64> = match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Counter::default(),
                flate2::Compression::new(GZIP_LEVEL),
            );
            e.write_all(data).and_then(|()| e.finish()).map(|c| c.0)
        }
        Codec::Zstd => zstd::stream::write::Encoder::new(Counter::default(), ZSTD_LEVEL)
            .and_then(|mut e| e.write_all(data).and_then(|()| e.finish()))
            .map(|c| c.0),
    };
    result.unwrap_or(0)
}

/// The compressed length of the concatenated `parts`, written one by one
/// (no copy of the whole sample).
fn compressed_len_parts<'a>(parts: impl Iterator<Item = &'a [u8]>, codec: Codec) -> u64 {
    let result: io::Result<u64> = (|| match codec {
        Codec::Gzip => {
            let mut e = flate2::write::GzEncoder::new(
                Counter::default(),
                flate2::Compression::new(GZIP_LEVEL),
            );
            for p in parts {
                e.write_all(p)?;
            }
            Ok(e.finish()?.0)
        }
        Codec::Zstd => {
            let mut e = zstd::stream::write::Encoder::new(Counter::default(), ZSTD_LEVEL)?;
            for p in parts {
                e.write_all(p)?;
            }
            Ok(e.finish()?.0)
        }
    })();
    result.unwrap_or(0)
}

/// The gzip-6 compressed length of `data` (for tests and benchmarks).
pub fn gzip_len(data: &[u8]) -> u64 {
    compressed_len(data, Codec::Gzip)
}

/// The zstd-3 compressed length of `data` (for tests and benchmarks).
pub fn zstd_len(data: &[u8]) -> u64 {
    compressed_len(data, Codec::Zstd)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(s: &mut Sampler, data: &[u8], chunk: usize) {
        for c in data.chunks(chunk) {
            s.feed(c);
        }
    }

    #[test]
    fn keeps_small_streams_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i % 251) as u8).collect();
        let mut s = Sampler::new(100, 16);
        feed_all(&mut s, &data, 7);
        let kept: Vec<u8> = s.sample().flatten().copied().collect();
        assert_eq!(kept, data);
        let r = s.finish();
        assert_eq!((r.stream_bytes, r.sampled_bytes), (1000, 1000));
        assert_eq!(r.gzip_bytes, gzip_len(&data));
        assert_eq!(r.zstd_bytes, zstd_len(&data));
    }

    #[test]
    fn spreads_windows_over_large_streams() {
        // 1000 windows of 10 bytes, at most 16 kept: the stride doubles
        // until 8 to 16 windows remain, whole, in order, over the stream.
        let data: Vec<u8> = (0..10_000u32).map(|i| (i / 10 % 256) as u8).collect();
        let mut s = Sampler::new(10, 16);
        feed_all(&mut s, &data, 33);
        let n = s.sample().count();
        assert!((8..=16).contains(&n), "{n} windows");
        assert!(s.sample().all(|w| w.len() == 10));
        let idx: Vec<u64> = s.windows.iter().map(|(i, _)| *i).collect();
        assert!(idx.windows(2).all(|p| p[0] < p[1]));
        assert!(idx.iter().all(|&i| kept(i, s.stride)));
        // Every quarter of the stream is sampled.
        for q in 0..4 {
            assert!(idx.iter().any(|&i| i / 250 == q), "{idx:?}");
        }
        assert_eq!(s.stream_bytes(), 10_000);
    }

    #[test]
    fn empty_stream_has_ratio_one() {
        let r = Sampler::default().finish();
        assert_eq!(r.sampled_bytes, 0);
        assert_eq!(r.estimated_gzip_bytes(), 0);
        assert!((r.gzip_ratio() - 1.0).abs() < f64::EPSILON);
    }
}
