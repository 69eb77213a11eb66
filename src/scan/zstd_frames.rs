//! zstd frames checked before the decoder sees them: a frame whose window
//! exceeds [`MAX_WINDOW`] is refused with an error naming the window it
//! needs, instead of the decoder's "corrupt or truncated" failure. The
//! compressed stream is walked frame by frame and block by block (headers
//! only) as it passes; nothing is copied.

use std::io::{self, BufRead, Read};

/// The largest window decoded: 128 MiB (`--long=27`), zstd's default limit.
pub const MAX_WINDOW: u64 = 1 << 27;

/// Where the walk is in the compressed stream.
#[derive(Clone, Copy, Debug)]
enum State {
    /// Collecting a frame's magic number (and for a zstd frame its header).
    Header,
    /// Inside the blocks of a frame: a block header next.
    Block { checksum: bool },
    /// Skipping bytes (block content, checksum, skippable frame data).
    Skip { left: u64, then: After },
}

#[derive(Clone, Copy, Debug)]
enum After {
    Block { checksum: bool },
    Header,
}

/// A [`BufRead`] over a zstd stream that refuses frames needing too large
/// a window.
pub struct ZstdFrames<R> {
    inner: R,
    walker: Walker,
}

/// The walk's position and the header bytes it gathers.
struct Walker {
    state: State,
    /// Header bytes gathered so far (at most 18).
    head: Vec<u8>,
    /// Bytes of the inner buffer already walked but not yet consumed.
    walked: usize,
    /// Offset of the current frame in the compressed stream.
    frame_start: u64,
    consumed: u64,
}

impl<R: BufRead> ZstdFrames<R> {
    /// Wraps a buffered zstd stream.
    pub fn new(inner: R) -> Self {
        ZstdFrames {
            inner,
            walker: Walker {
                state: State::Header,
                head: Vec::with_capacity(18),
                walked: 0,
                frame_start: 0,
                consumed: 0,
            },
        }
    }
}

impl Walker {
    /// Walks `buf` from `self.walked`, failing at a frame that needs too large a window.
    fn walk(&mut self, buf: &[u8]) -> io::Result<()> {
        while self.walked < buf.len() {
            let rest = &buf[self.walked..];
            match self.state {
                State::Skip { left, then } => {
                    let n = (rest.len() as u64).min(left);
                    self.walked += n as usize;
                    self.state = if n == left {
                        match then {
                            After::Block { checksum } => State::Block { checksum },
                            After::Header => State::Header,
                        }
                    } else {
                        State::Skip {
                            left: left - n,
                            then,
                        }
                    };
                }
                State::Header | State::Block { .. } => {
                    if self.head.is_empty() && matches!(self.state, State::Header) {
                        self.frame_start = self.consumed + self.walked as u64;
                    }
                    self.head.push(rest[0]);
                    self.walked += 1;
                    self.step()?;
                }
            }
        }
        Ok(())
    }

    /// Acts on the header bytes gathered so far, if they are enough.
    fn step(&mut self) -> io::Result<()> {
        let h = &self.head;
        match self.state {
            State::Block { checksum } => {
                if h.len() < 3 {
                    return Ok(());
                }
                let v = u32::from(h[0]) | u32::from(h[1]) << 8 | u32::from(h[2]) << 16;
                let (last, kind, size) = (v & 1 == 1, (v >> 1) & 3, u64::from(v >> 3));
                let content = match kind {
                    1 => 1,
                    3 => return Err(bad("reserved zstd block type")),
                    _ => size,
                };
                let then = if last {
                    if checksum {
                        self.state = State::Skip {
                            left: content + 4,
                            then: After::Header,
                        };
                        self.head.clear();
                        return Ok(());
                    }
                    After::Header
                } else {
                    After::Block { checksum }
                };
                self.state = State::Skip {
                    left: content,
                    then,
                };
                self.head.clear();
            }
            State::Header => {
                if h.len() < 4 {
                    return Ok(());
                }
                let magic = u32::from_le_bytes([h[0], h[1], h[2], h[3]]);
                if magic & 0xFFFF_FFF0 == 0x184D_2A50 {
                    if h.len() < 8 {
                        return Ok(());
                    }
                    let size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
                    self.state = State::Skip {
                        left: u64::from(size),
                        then: After::Header,
                    };
                    self.head.clear();
                    return Ok(());
                }
                if magic != 0xFD2F_B528 {
                    // Not a frame: the decoder reports it.
                    self.state = State::Skip {
                        left: u64::MAX,
                        then: After::Header,
                    };
                    self.head.clear();
                    return Ok(());
                }
                let Some(&fhd) = h.get(4) else {
                    return Ok(());
                };
                let single = fhd & 0x20 != 0;
                let fcs_len = match fhd >> 6 {
                    0 => usize::from(single),
                    1 => 2,
                    2 => 4,
                    _ => 8,
                };
                let did_len = [0, 1, 2, 4][usize::from(fhd & 3)];
                let wd_len = usize::from(!single);
                let need = 5 + wd_len + did_len + fcs_len;
                if h.len() < need {
                    return Ok(());
                }
                let window = if single {
                    let f = &h[5 + did_len..need];
                    let mut v = 0u64;
                    for (i, &b) in f.iter().enumerate() {
                        v |= u64::from(b) << (8 * i);
                    }
                    if fcs_len == 2 { v + 256 } else { v }
                } else {
                    let wd = h[5];
                    let log = 10 + u64::from(wd >> 3);
                    let base = 1u64 << log;
                    base + (base / 8) * u64::from(wd & 7)
                };
                if window > MAX_WINDOW {
                    // `Unsupported`: the kind survives the scan's pipes,
                    // which pass errors on as text.
                    return Err(io::Error::new(
                        io::ErrorKind::Unsupported,
                        WindowTooLarge {
                            window,
                            offset: self.frame_start,
                        },
                    ));
                }
                self.state = State::Block {
                    checksum: fhd & 4 != 0,
                };
                self.head.clear();
            }
            State::Skip { .. } => {}
        }
        Ok(())
    }
}

/// A zstd frame needs a window larger than [`MAX_WINDOW`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the zstd frame at byte {offset} needs a {window}-byte window ({} MiB); \
     windows over 128 MiB (zstd --long=27) are not decoded",
    window.div_ceil(1 << 20)
)]
pub struct WindowTooLarge {
    /// The window the frame needs.
    pub window: u64,
    /// Where the frame starts in the compressed stream.
    pub offset: u64,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_owned())
}

impl<R: BufRead> Read for ZstdFrames<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = {
            let buf = self.fill_buf()?;
            let n = buf.len().min(out.len());
            out[..n].copy_from_slice(&buf[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for ZstdFrames<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        // Walk what the inner buffer shows before anyone reads it.
        let buf = self.inner.fill_buf()?;
        self.walker.walk(buf)?;
        Ok(buf)
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.walker.walked = self.walker.walked.saturating_sub(n);
        self.walker.consumed += n as u64;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A frame header alone: magic, FHD (no checksum, no dictionary, no
    /// content size), window descriptor.
    fn frame_with_window_descriptor(wd: u8) -> Vec<u8> {
        vec![0x28, 0xb5, 0x2f, 0xfd, 0x00, wd]
    }

    #[test]
    fn a_long_window_is_named_and_a_normal_stream_passes() {
        // Window log 31 (2 GiB): exponent 21.
        let head = frame_with_window_descriptor(21 << 3);
        let mut r = ZstdFrames::new(io::BufReader::new(head.as_slice()));
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("2147483648-byte window") && msg.contains("byte 0"),
            "{msg}"
        );

        // Two real frames (the second with a 256 KiB window) read as they are.
        let data: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let mut stream = zstd::encode_all(data.as_slice(), 3).unwrap();
        stream.extend(zstd::encode_all(&data[..1000], 19).unwrap());
        // A skippable frame between.
        stream.extend([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
        stream.extend(zstd::encode_all(&data[..10], 1).unwrap());
        let mut out = Vec::new();
        let mut dec = zstd::stream::read::Decoder::with_buffer(ZstdFrames::new(
            io::BufReader::with_capacity(7, stream.as_slice()),
        ))
        .unwrap();
        dec.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), data.len() + 1000 + 10);

        // A later frame that needs 256 MiB is caught at its own offset.
        let mut two = zstd::encode_all(&data[..100], 3).unwrap();
        let at = two.len();
        two.extend(frame_with_window_descriptor(18 << 3));
        let mut dec = zstd::stream::read::Decoder::with_buffer(ZstdFrames::new(
            io::BufReader::new(two.as_slice()),
        ))
        .unwrap();
        let msg = dec.read_to_end(&mut Vec::new()).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("byte {at}")) && msg.contains("256 MiB"),
            "{msg}"
        );
    }
}
