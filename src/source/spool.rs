//! Temporary files that hold an archive which cannot be read in place
//! (stdin, a gzip-compressed `docker save`, the Docker engine's export).
//!
//! They can be gigabytes, so they are removed on success, on error (drop),
//! and on SIGINT/SIGTERM: every live spool is listed in a registry, and
//! the first spool created starts a thread that waits for those signals,
//! removes what is listed, then lets the signal take its default course
//! (the process ends as it would have, exit status 130 or 143).

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

/// Paths of the spools alive now.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static HANDLER: Once = Once::new();

/// A temporary file removed when dropped, or when the process is
/// interrupted or terminated.
#[derive(Debug)]
pub struct Spool {
    file: tempfile::NamedTempFile,
}

impl Spool {
    /// A new empty spool in the temporary directory (`TMPDIR`).
    pub fn new() -> io::Result<Spool> {
        install_handler();
        let file = tempfile::NamedTempFile::new()?;
        lock().push(file.path().to_owned());
        Ok(Spool { file })
    }

    /// A spool holding everything `reader` yields.
    pub fn copy_from(reader: &mut impl Read) -> io::Result<Spool> {
        let mut spool = Spool::new()?;
        io::copy(reader, spool.file.as_file_mut())?;
        Ok(spool)
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// The open file, for writing into it.
    pub fn as_file_mut(&mut self) -> &mut std::fs::File {
        self.file.as_file_mut()
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // The file itself is removed by `NamedTempFile`'s own drop.
        let path = self.file.path();
        lock().retain(|p| p != path);
    }
}

fn lock() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while holding the lock leaves a list that is still valid.
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Starts (once) the thread that cleans up on SIGINT/SIGTERM. If signals
/// cannot be hooked, spools are still removed on drop.
fn install_handler() {
    HANDLER.call_once(|| {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else {
            tracing::warn!(
                "cannot watch SIGINT/SIGTERM: an interrupted run may leave a temporary file"
            );
            return;
        };
        let spawned = std::thread::Builder::new()
            .name("spool-cleanup".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    for path in lock().drain(..) {
                        let _ = std::fs::remove_file(path);
                    }
                    // Die of the signal, as without a handler.
                    let _ = signal_hook::low_level::emulate_default_handler(signal);
                    std::process::exit(128 + signal);
                }
            });
        if spawned.is_err() {
            tracing::warn!(
                "cannot watch SIGINT/SIGTERM: an interrupted run may leave a temporary file"
            );
        }
    });
}

/// Paths of the spools alive now (for tests).
pub fn live() -> Vec<PathBuf> {
    lock().clone()
}
