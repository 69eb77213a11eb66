//! The Docker Engine API (`docker-daemon:NAME`) over its unix socket.
//!
//! `GET /images/{name}/get` streams what `docker save` writes. A minimal
//! HTTP/1.1 client over [`UnixStream`] is all it takes (no async runtime):
//! one request with `Connection: close`, a body framed by `Content-Length`,
//! chunked transfer encoding, or the end of the connection. The tar is
//! spooled to a temporary file and read as a [`DockerArchive`], so layers
//! still scan in parallel. podman's Docker-compatible socket
//! (`podman system service`) speaks the same API.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::docker_archive::DockerArchive;
use super::spool::Spool;
use super::{ImageSource, SourceError, SourceOptions};

/// Where the engine listens when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKET: &str = "/var/run/docker.sock";

/// Header lines longer than this, or more header bytes than [`MAX_HEAD`],
/// mean the peer is not an HTTP server we understand.
const MAX_LINE: usize = 16 << 10;
const MAX_HEAD: usize = 256 << 10;

/// Opens an image held by the local Docker (or podman) engine.
pub fn open(name: &str, options: &SourceOptions) -> Result<Box<dyn ImageSource>, SourceError> {
    let input = format!("docker-daemon:{name}");
    if name.is_empty() {
        return Err(SourceError::BadReference(input));
    }
    let socket = socket_path(std::env::var("DOCKER_HOST").ok().as_deref())
        .map_err(|reason| SourceError::Remote(format!("`{input}`: {reason}")))?;
    let spool = export(&socket, name, &input)?;
    Ok(Box::new(DockerArchive::from_spool(spool, input, options)?))
}

/// The socket named by a `DOCKER_HOST` value (`unix:///path`), or the
/// default socket when it is unset or empty.
pub fn socket_path(docker_host: Option<&str>) -> Result<PathBuf, String> {
    match docker_host.map(str::trim).filter(|h| !h.is_empty()) {
        None => Ok(PathBuf::from(DEFAULT_SOCKET)),
        Some(host) => match host.strip_prefix("unix://") {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(format!(
                "DOCKER_HOST=`{host}` is not supported: only `unix:///path/to/socket` is"
            )),
        },
    }
}

/// Downloads the `docker save` tar of `name` from the engine at `socket`
/// into a temporary file.
pub fn export(socket: &Path, name: &str, input: &str) -> Result<Spool, SourceError> {
    let remote = |what: String| SourceError::Remote(format!("`{input}`: {what}"));
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        remote(format!(
            "cannot connect to the Docker daemon at `unix://{}`: {e} (is it running? set DOCKER_HOST=unix:///path/to/socket)",
            socket.display()
        ))
    })?;
    let request = format!(
        "GET /images/{}/get HTTP/1.1\r\nHost: docker\r\nUser-Agent: layerscope/{}\r\nAccept: application/x-tar\r\nConnection: close\r\n\r\n",
        encode_name(name),
        env!("CARGO_PKG_VERSION")
    );
    let daemon = format!("the Docker daemon at `unix://{}`", socket.display());
    stream
        .write_all(request.as_bytes())
        .map_err(|e| remote(format!("sending the request to {daemon}: {e}")))?;
    let mut reader = BufReader::with_capacity(256 << 10, stream);
    let head = read_head(&mut reader)
        .map_err(|e| remote(format!("reading the answer of {daemon}: {e}")))?;
    let mut body = head.body(reader);
    if head.status == 200 {
        let mut spool =
            Spool::new().map_err(|e| remote(format!("creating a temporary file: {e}")))?;
        io::copy(&mut body, spool.as_file_mut())
            .map_err(|e| remote(format!("reading the image from {daemon}: {e}")))?;
        return Ok(spool);
    }
    let mut text = Vec::new();
    // The error body is small; a broken one still leaves the status to report.
    let _ = body.take(64 << 10).read_to_end(&mut text);
    let message = error_message(&text);
    if head.status == 404 {
        tracing::debug!("{daemon}: {message}");
        return Err(SourceError::NotFound(input.to_owned()));
    }
    Err(remote(format!(
        "{daemon} answered {} {}: {message}",
        head.status, head.reason
    )))
}

/// Percent-encodes an image name for the URL path, keeping the characters
/// image references are made of (`/`, `:`, `@`) readable.
fn encode_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/:@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The one-line message of an engine error body (`{"message": "..."}`), or
/// its first line of text.
fn error_message(body: &[u8]) -> String {
    #[derive(serde::Deserialize)]
    struct ApiError {
        message: String,
    }
    let text = match serde_json::from_slice::<ApiError>(body) {
        Ok(e) => e.message,
        Err(_) => String::from_utf8_lossy(body)
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .to_owned(),
    };
    let text = text.trim().replace(['\n', '\r'], " ");
    if text.is_empty() {
        "no message".to_owned()
    } else {
        text
    }
}

/// The status line and the headers that matter.
#[derive(Debug)]
struct Head {
    status: u16,
    reason: String,
    chunked: bool,
    content_length: Option<u64>,
}

impl Head {
    /// The body reader the headers call for.
    fn body<R: BufRead + Send + 'static>(&self, reader: R) -> Box<dyn Read + Send> {
        if self.chunked {
            Box::new(Chunked {
                inner: reader,
                left: 0,
                done: false,
            })
        } else if let Some(len) = self.content_length {
            Box::new(Exact {
                inner: reader.take(len),
                len,
            })
        } else {
            Box::new(reader)
        }
    }
}

fn read_line(reader: &mut impl BufRead, budget: &mut usize) -> io::Result<String> {
    let mut line = Vec::new();
    let n = reader
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut line)?;
    if n == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the connection closed early",
        ));
    }
    if !line.ends_with(b"\n") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "header line too long or cut",
        ));
    }
    *budget = budget
        .checked_sub(n)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "headers too long"))?;
    while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn read_head(reader: &mut impl BufRead) -> io::Result<Head> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut budget = MAX_HEAD;
    let status_line = read_line(reader, &mut budget)?;
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/1.") {
        return Err(bad(format!(
            "not an HTTP answer: `{}`",
            status_line.chars().take(60).collect::<String>()
        )));
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| bad(format!("bad status line `{status_line}`")))?;
    let reason = parts.next().unwrap_or("").to_owned();
    let mut head = Head {
        status,
        reason,
        chunked: false,
        content_length: None,
    };
    loop {
        let line = read_line(reader, &mut budget)?;
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            head.chunked = value
                .to_ascii_lowercase()
                .split(',')
                .any(|v| v.trim() == "chunked");
        } else if name.eq_ignore_ascii_case("content-length") {
            head.content_length = Some(
                value
                    .parse()
                    .map_err(|_| bad(format!("bad Content-Length `{value}`")))?,
            );
        }
    }
    Ok(head)
}

/// A `Content-Length` body: ending early is an error, not a short image.
struct Exact<R> {
    inner: io::Take<R>,
    len: u64,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && self.inner.limit() > 0 {
            let got = self.len - self.inner.limit();
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the connection closed after {got} of {} bytes", self.len),
            ));
        }
        Ok(n)
    }
}

/// A chunked body (`SIZE\r\nDATA\r\n` ... `0\r\n\r\n`). A connection that
/// closes before the last chunk is an error.
struct Chunked<R> {
    inner: R,
    left: u64,
    done: bool,
}

impl<R: BufRead> Chunked<R> {
    fn next_chunk(&mut self) -> io::Result<()> {
        let mut budget = MAX_HEAD;
        let line = read_line(&mut self.inner, &mut budget)?;
        let size = line.split(';').next().unwrap_or("").trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad chunk size `{size}`"),
            )
        })?;
        if size == 0 {
            // Trailers, then the final empty line.
            while !read_line(&mut self.inner, &mut budget)?.is_empty() {}
            self.done = true;
        }
        self.left = size;
        Ok(())
    }
}

impl<R: BufRead> Read for Chunked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.left == 0 {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the connection closed inside a chunk",
            ));
        }
        self.left -= n as u64;
        if self.left == 0 {
            let mut budget = MAX_LINE;
            if !read_line(&mut self.inner, &mut budget)?.is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "chunk not followed by CRLF",
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::net::UnixListener;

    use super::*;

    fn body_of(raw: &'static [u8]) -> io::Result<Vec<u8>> {
        let mut reader = BufReader::new(raw);
        let head = read_head(&mut reader)?;
        let mut out = Vec::new();
        head.body(reader).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn chunked_content_length_and_eof_bodies() {
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(body_of(chunked).unwrap(), b"hello world");
        assert_eq!(
            body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef").unwrap(),
            b"abc"
        );
        assert_eq!(
            body_of(b"HTTP/1.0 200 OK\r\n\r\nuntil eof").unwrap(),
            b"until eof"
        );
    }

    #[test]
    fn truncated_bodies_are_errors() {
        assert!(body_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel").is_err());
        assert!(
            body_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
                .is_err()
        );
        assert!(body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc").is_err());
        assert!(body_of(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").is_err());
        assert!(body_of(b"SSH-2.0-OpenSSH\r\n").is_err());
        assert!(body_of(b"").is_err());
    }

    #[test]
    fn docker_host_values() {
        assert_eq!(socket_path(None).unwrap(), Path::new(DEFAULT_SOCKET));
        assert_eq!(socket_path(Some("")).unwrap(), Path::new(DEFAULT_SOCKET));
        assert_eq!(
            socket_path(Some("unix:///run/podman/podman.sock")).unwrap(),
            Path::new("/run/podman/podman.sock")
        );
        assert!(
            socket_path(Some("tcp://127.0.0.1:2375"))
                .unwrap_err()
                .contains("tcp://127.0.0.1:2375")
        );
    }

    #[test]
    fn names_keep_reference_characters() {
        assert_eq!(
            encode_name("localhost/team/app:1.4"),
            "localhost/team/app:1.4"
        );
        assert_eq!(encode_name("a b?#"), "a%20b%3F%23");
    }

    /// Serves one canned answer on a socket in a temp dir.
    fn serve(
        answer: &'static [u8],
    ) -> (tempfile::TempDir, PathBuf, std::thread::JoinHandle<String>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request = String::new();
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                request.push_str(&line);
                if line == "\r\n" || line.is_empty() {
                    break;
                }
            }
            conn.write_all(answer).unwrap();
            request
        });
        (dir, path, handle)
    }

    #[test]
    fn engine_errors_become_one_line() {
        let (_dir, path, server) = serve(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: 43\r\n\r\n{\"message\":\"disk full\\nsecond line\"}       ",
        );
        let err = export(&path, "team/app:1", "docker-daemon:team/app:1")
            .unwrap_err()
            .to_string();
        let request = server.join().unwrap();
        assert!(
            request.starts_with("GET /images/team/app:1/get HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(
            err.contains("500") && err.contains("disk full second line") && !err.contains('\n'),
            "{err}"
        );
    }

    #[test]
    fn missing_image_is_not_found() {
        let (_dir, path, server) = serve(
            b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 35\r\n\r\n{\"message\":\"No such image: nope:1\"}",
        );
        let err = export(&path, "nope:1", "docker-daemon:nope:1").unwrap_err();
        server.join().unwrap();
        assert!(matches!(err, SourceError::NotFound(_)), "{err}");
        assert_eq!(err.to_string(), "`docker-daemon:nope:1` not found");
    }

    #[test]
    fn missing_socket_is_named() {
        let err = export(
            Path::new("/nonexistent/docker.sock"),
            "x",
            "docker-daemon:x",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unix:///nonexistent/docker.sock"), "{err}");
    }
}
