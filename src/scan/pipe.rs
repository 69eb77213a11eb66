//! A byte stream handed from one thread to another in large buffers, so that
//! reading and hashing a layer's blob, inflating it and walking its tar
//! (hashing its files) overlap on separate threads: one huge layer then
//! costs its inflate time and no more.
//!
//! The channel is bounded ([`DEPTH`] buffers of [`CHUNK`] bytes in flight)
//! and buffers are recycled, so memory per layer stays at a few MiB whatever
//! the layer's size. The end of the stream is an explicit message: a
//! producer that stops without sending it (a panic) reads as an error, never
//! as a clean, silently truncated end.

use std::io::{self, BufRead, Read};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

/// Bytes per buffer: large enough that channel traffic costs nothing next
/// to inflating and hashing the bytes.
pub const CHUNK: usize = 1 << 20;

/// Buffers in flight between the two threads.
pub const DEPTH: usize = 4;

/// One message: data, the end of the stream, or the producer's read error.
enum Msg {
    Data(Vec<u8>),
    End,
    Failed(io::Error),
}

/// Creates a connected producer and consumer.
pub fn channel() -> (ChunkWriter, ChunkReader) {
    let (tx, rx) = sync_channel(DEPTH);
    let (back_tx, back_rx) = sync_channel(DEPTH + 2);
    (
        ChunkWriter { tx, back: back_rx },
        ChunkReader {
            rx,
            back: back_tx,
            cur: Vec::new(),
            pos: 0,
            done: false,
        },
    )
}

/// The producing half: [`ChunkWriter::pump`] reads a stream into buffers and
/// sends them.
pub struct ChunkWriter {
    tx: SyncSender<Msg>,
    back: Receiver<Vec<u8>>,
}

impl ChunkWriter {
    /// Reads `source` to its end, sending its bytes in full buffers, then
    /// the end marker. A read error is sent on and also returned. Returns
    /// `Ok(false)` when the consumer hung up early (it failed and no longer
    /// wants bytes).
    pub fn pump(&self, source: &mut impl Read) -> io::Result<bool> {
        loop {
            let mut buf = match self.back.try_recv() {
                Ok(buf) => buf,
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => Vec::with_capacity(CHUNK),
            };
            buf.resize(CHUNK, 0);
            let mut filled = 0;
            let mut failure = None;
            while filled < CHUNK {
                match source.read(&mut buf[filled..]) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            buf.truncate(filled);
            if filled > 0 && self.tx.send(Msg::Data(buf)).is_err() {
                return Ok(false);
            }
            if let Some(e) = failure {
                let copy = io::Error::new(e.kind(), e.to_string());
                let _ = self.tx.send(Msg::Failed(copy));
                return Err(e);
            }
            if filled < CHUNK {
                return Ok(self.tx.send(Msg::End).is_ok());
            }
        }
    }

    /// Tells the consumer that the stream failed before it could start.
    pub fn fail(&self, error: &io::Error) {
        let _ = self
            .tx
            .send(Msg::Failed(io::Error::new(error.kind(), error.to_string())));
    }
}

/// The consuming half: a [`Read`] over the buffers the producer sends.
pub struct ChunkReader {
    rx: Receiver<Msg>,
    back: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ChunkReader {
    /// The unread bytes of the current buffer, receiving the next buffer
    /// when it is used up; `seen` is called once on every buffer received,
    /// whole, before any of it is handed out (to hash or sample the stream
    /// without copying it). Empty at the end of the stream.
    pub fn fill_with(&mut self, seen: &mut dyn FnMut(&[u8])) -> io::Result<&[u8]> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(&[]);
            }
            match self.rx.recv() {
                Ok(Msg::Data(next)) => {
                    seen(&next);
                    let old = std::mem::replace(&mut self.cur, next);
                    self.pos = 0;
                    if old.capacity() >= CHUNK {
                        let _ = self.back.try_send(old);
                    }
                }
                Ok(Msg::End) => self.done = true,
                Ok(Msg::Failed(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::other(
                        "the decompressing thread stopped before the end of the layer",
                    ));
                }
            }
        }
        Ok(&self.cur[self.pos..])
    }
}

impl BufRead for ChunkReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.fill_with(&mut |_| {})
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.cur.len());
    }
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_buffered(self, out)
    }
}

/// [`Read::read`] of a [`BufRead`] that reads in place: a copy out of its
/// buffer (nothing asked, nothing waited for).
pub(super) fn read_buffered(r: &mut impl BufRead, out: &mut [u8]) -> io::Result<usize> {
    if out.is_empty() {
        return Ok(0);
    }
    let avail = r.fill_buf()?;
    let n = out.len().min(avail.len());
    out[..n].copy_from_slice(&avail[..n]);
    r.consume(n);
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_every_byte_in_order() {
        let data: Vec<u8> = (0..(3 * CHUNK + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let (writer, mut reader) = channel();
        let mut got = Vec::new();
        std::thread::scope(|s| {
            let src = &data;
            s.spawn(move || writer.pump(&mut &src[..]).map_err(|e| e.to_string()));
            reader.read_to_end(&mut got).map_err(|e| e.to_string())
        })
        .ok();
        assert_eq!(got.len(), data.len());
        assert!(got == data);
    }

    #[test]
    fn a_failed_or_vanished_producer_is_an_error_not_an_end() {
        struct Broken(usize);
        impl Read for Broken {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "corrupt deflate",
                    ));
                }
                let n = buf.len().min(self.0);
                self.0 -= n;
                Ok(n)
            }
        }
        let (writer, mut reader) = channel();
        let result = std::thread::scope(|s| {
            s.spawn(move || writer.pump(&mut Broken(10)).is_err());
            let mut sink = Vec::new();
            let r = reader.read_to_end(&mut sink);
            (r.map_err(|e| e.to_string()), sink.len())
        });
        assert_eq!(result.0, Err("corrupt deflate".to_string()));
        assert_eq!(result.1, 10);

        let (writer, mut reader) = channel();
        drop(writer);
        assert!(reader.read(&mut [0u8; 8]).is_err());
    }
}
