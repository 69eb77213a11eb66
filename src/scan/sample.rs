//! Compressibility sampling: how well a layer would compress with gzip
//! level 6 and zstd level 3, measured on a sample of its uncompressed tar
//! stream taken while the scanner reads it (the stream cannot be read twice).
//!
//! The sampler keeps windows of [`WINDOW`] bytes spread evenly over the
//! whole stream, at most [`MAX_WINDOWS`] of them (2 MiB): it starts by
//! keeping every window and, each time it holds more than the cap, doubles
//! its stride and drops the windows that are off the new stride. The length
//! of the stream need not be known in advance, a layer smaller than the cap
//! is kept whole (so its estimate is the real recompressed size), and a
//! large layer is sampled every `stride` windows from its start to its end.
//! At the end the kept windows are recompressed, in order, as one gzip and
//! one zstd stream; the ratios scale to the whole layer.

use std::io::{self, Read, Write};

use serde::{Deserialize, Serialize};

/// Bytes per sampled window.
pub const WINDOW: usize = 64 << 10;

/// Windows kept at most per layer (2 MiB with 64 KiB windows).
pub const MAX_WINDOWS: usize = 32;

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
    /// The sample compressed with gzip level [`GZIP_LEVEL`].
    pub gzip_bytes: u64,
    /// The sample compressed with zstd level [`ZSTD_LEVEL`].
    pub zstd_bytes: u64,
}

impl CompressionSample {
    /// gzip-compressed / uncompressed, measured on the sample (1.0 when
    /// nothing was sampled).
    pub fn gzip_ratio(&self) -> f64 {
        ratio(self.gzip_bytes, self.sampled_bytes)
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
    /// Keep window `w` when `w % stride == 0`.
    stride: u64,
    /// Bytes seen so far.
    pos: u64,
    /// Kept windows by window number, the last one possibly still filling.
    windows: Vec<(u64, Vec<u8>)>,
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::new(WINDOW, MAX_WINDOWS)
    }
}

impl Sampler {
    /// A sampler of windows of `window` bytes, keeping at most `max_windows`
    /// (both at least 1).
    pub fn new(window: usize, max_windows: usize) -> Sampler {
        Sampler {
            window: window.max(1),
            max_windows: max_windows.max(1),
            stride: 1,
            pos: 0,
            windows: Vec::new(),
        }
    }

    /// Feeds the next bytes of the stream.
    pub fn feed(&mut self, mut chunk: &[u8]) {
        let w_len = self.window as u64;
        while !chunk.is_empty() {
            let w = self.pos / w_len;
            let off = (self.pos % w_len) as usize;
            let take = (self.window - off).min(chunk.len());
            if w % self.stride == 0 {
                if self.windows.last().is_none_or(|(last, _)| *last != w) {
                    self.windows.push((w, Vec::with_capacity(self.window)));
                    if self.windows.len() > self.max_windows {
                        self.stride *= 2;
                        let stride = self.stride;
                        self.windows.retain(|(i, _)| i % stride == 0);
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
        let sample: Vec<u8> = self
            .windows
            .iter()
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        let gzip_bytes = compressed_len(&sample, Codec::Gzip);
        let zstd_bytes = compressed_len(&sample, Codec::Zstd);
        CompressionSample {
            stream_bytes: self.pos,
            sampled_bytes: sample.len() as u64,
            gzip_bytes,
            zstd_bytes,
        }
    }

    /// Wraps a reader so that everything read through it is fed to `self`.
    pub fn tap<R: Read>(&mut self, inner: R) -> Tap<'_, R> {
        Tap {
            inner,
            sampler: self,
        }
    }
}

/// A reader that feeds a [`Sampler`] with what passes through it.
#[derive(Debug)]
pub struct Tap<'a, R> {
    inner: R,
    sampler: &'a mut Sampler,
}

impl<R: Read> Read for Tap<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sampler.feed(&buf[..n]);
        Ok(n)
    }
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
        // 100 windows of 10 bytes, at most 8 kept: the stride doubles to 16
        // (100 windows / 16 = windows 0, 16, ..., 96: seven of them).
        let data: Vec<u8> = (0..1000u32).map(|i| (i / 10) as u8).collect();
        let mut s = Sampler::new(10, 8);
        feed_all(&mut s, &data, 33);
        let firsts: Vec<u8> = s.sample().map(|w| w[0]).collect();
        assert_eq!(firsts, vec![0, 16, 32, 48, 64, 80, 96]);
        assert!(s.sample().all(|w| w.len() == 10));
        assert_eq!(s.stream_bytes(), 1000);
    }

    #[test]
    fn empty_stream_has_ratio_one() {
        let r = Sampler::default().finish();
        assert_eq!(r.sampled_bytes, 0);
        assert_eq!(r.estimated_gzip_bytes(), 0);
        assert!((r.gzip_ratio() - 1.0).abs() < f64::EPSILON);
    }
}
