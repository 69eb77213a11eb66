//! Layer blobs as `Read`: a download task on the source's runtime pushes
//! chunks into a bounded channel; the scanner's thread pulls them out. At
//! most [`DEPTH`] chunks wait in memory, so a layer is never held whole.
//!
//! A connection dropped mid-blob resumes with a `Range` request from the
//! last byte delivered; the scanner verifies the whole blob's digest, so a
//! resumed download is checked like any other.

use std::io::{self, Read};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use oci_client::client::BlobResponse;
use oci_client::{Client, Reference};
use tokio::sync::mpsc;

use super::retry::{Class, Policy, classify};

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
    /// The registry client.
    pub client: Arc<Client>,
    /// The image (for the repository and auth scope).
    pub reference: Reference,
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
        let opened = if offset == 0 {
            blob.client
                .pull_blob_stream(&blob.reference, blob.digest.as_str())
                .await
                .map(|s| (s, 0))
        } else {
            blob.client
                .pull_blob_stream_partial(&blob.reference, blob.digest.as_str(), offset, None)
                .await
                .map(|r| match r {
                    // The server ignored the range: skip what was delivered.
                    BlobResponse::Full(s) => (s, offset),
                    BlobResponse::Partial(s) => (s, 0),
                })
        };
        let (mut stream, mut skip) = match opened {
            Ok(s) => s,
            Err(e) => {
                let class = classify(&e);
                if class != Class::Permanent && attempt + 1 < blob.policy.attempts {
                    let wait = blob.policy.delay(attempt, class);
                    tracing::info!("blob {}: {e}; retrying in {wait:?}", blob.digest);
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                let _ = tx
                    .send(Err(io::Error::other(super::describe_error(&e))))
                    .await;
                return;
            }
        };
        let mut failed: Option<io::Error> = None;
        while let Some(item) = stream.stream.next().await {
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
                    failed = Some(e);
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
                // Every byte arrived and the stream still failed: a digest
                // mismatch, which no retry fixes.
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
}
