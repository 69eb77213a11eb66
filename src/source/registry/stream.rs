//! Layer blobs as `Read`: a download task on the source's runtime pushes
//! chunks into a bounded channel; the scanner's thread pulls them out. At
//! most [`DEPTH`] chunks wait in memory, so a layer is never held whole.
//!
//! A connection dropped mid-blob resumes with a `Range` request from the
//! last byte delivered; the scanner verifies the whole blob's digest, so a
//! resumed download is checked like any other. A 429 or 503 with
//! `Retry-After` waits what the server asked (see [`wait_for`]).

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::blobs::{BlobClient, wait_for};
use super::retry::{Class, Policy};

/// Chunks buffered between the download and the scanner.
pub const DEPTH: usize = 8;

/// The reading end: a `Read` over the chunks of one blob.
pub struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    done: bool,
}

impl ChannelReader {
    /// Wraps the receiving end of a blob channel.
    pub fn new(rx: mpsc::Receiver<io::Result<Bytes>>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
            done: false,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            if self.done {
                return Ok(0);
            }
            match self.rx.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                None => self.done = true,
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        self.current = self.current.slice(n..);
        Ok(n)
    }
}

/// What to download.
pub struct Blob {
    /// The blob client (repository, credentials, TLS settings).
    pub client: Arc<BlobClient>,
    /// The blob digest.
    pub digest: String,
    /// The blob size from the manifest.
    pub size: u64,
    /// Retry policy.
    pub policy: Policy,
}

/// Downloads `blob` into `tx`, resuming after dropped connections. Ends
/// when the blob is complete, the reader hangs up, or after an error has
/// been sent.
pub async fn download(blob: Blob, tx: mpsc::Sender<io::Result<Bytes>>) {
    let mut offset: u64 = 0;
    let mut attempt: u32 = 0;
    loop {
        let (response, mut skip) = match blob.client.open(&blob.digest, offset).await {
            Ok(o) => (o.response, o.skip),
            Err(failure) => {
                if failure.class != Class::Permanent && attempt + 1 < blob.policy.attempts {
                    let wait = wait_for(&blob.policy, attempt, failure.class, failure.retry_after);
                    tracing::info!(
                        "blob {}: {}; retrying in {wait:?}",
                        blob.digest,
                        failure.message
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                let _ = tx.send(Err(io::Error::other(failure.message))).await;
                return;
            }
        };
        let mut stream = response.bytes_stream();
        let mut failed: Option<io::Error> = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(mut chunk) => {
                    if skip > 0 {
                        let n = (skip as usize).min(chunk.len());
                        chunk = chunk.slice(n..);
                        skip -= n as u64;
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                    offset += chunk.len() as u64;
                    if tx.send(Ok(chunk)).await.is_err() {
                        return; // the reader is gone
                    }
                }
                Err(e) => {
                    failed = Some(io::Error::other(crate::display::one_line(&e)));
                    break;
                }
            }
        }
        match failed {
            None if offset >= blob.size => return,
            // Ended early without an error: treat as a dropped connection.
            None => {
                failed = Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed early",
                ))
            }
            Some(_) if offset >= blob.size => {
                // Every byte arrived and the stream still failed: no retry
                // fixes that.
                let _ = tx
                    .send(Err(
                        failed.unwrap_or_else(|| io::Error::other("blob failed"))
                    ))
                    .await;
                return;
            }
            Some(_) => {}
        }
        if attempt + 1 >= blob.policy.attempts {
            let e = failed.unwrap_or_else(|| io::Error::other("download failed"));
            let _ = tx
                .send(Err(io::Error::new(
                    e.kind(),
                    format!(
                        "download of {} failed after {} attempts: {e}",
                        blob.digest,
                        attempt + 1
                    ),
                )))
                .await;
            return;
        }
        let wait = blob.policy.delay(attempt, Class::Temporary);
        tracing::info!(
            "blob {}: connection lost at byte {offset}; resuming in {wait:?}",
            blob.digest
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn reader_concatenates_chunks_and_surfaces_errors() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::channel(1);
        rt.spawn(async move {
            tx.send(Ok(Bytes::from_static(b"hello "))).await.unwrap();
            tx.send(Ok(Bytes::from_static(b"world"))).await.unwrap();
            tx.send(Err(io::Error::other("boom"))).await.unwrap();
        });
        let mut r = ChannelReader::new(rx);
        let mut s = String::new();
        let err = r.read_to_string(&mut s).unwrap_err();
        assert_eq!(s, "hello world");
        assert_eq!(err.to_string(), "boom");
        // After the error, the stream is over.
        assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
    }

    #[test]
    fn retry_after_overrides_the_backoff() {
        let p = Policy::default();
        let secs = Duration::from_secs;
        assert_eq!(wait_for(&p, 0, Class::Throttled, Some(secs(3))), secs(3));
        assert_eq!(wait_for(&p, 3, Class::Temporary, Some(secs(2))), secs(2));
        assert_eq!(
            wait_for(&p, 0, Class::Throttled, Some(Duration::ZERO)),
            p.base
        );
        assert_eq!(wait_for(&p, 0, Class::Throttled, None), secs(1));
    }
}
