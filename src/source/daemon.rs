//! The Docker Engine API (`docker-daemon:NAME`) over its unix socket.

use super::{ImageSource, SourceError, SourceOptions};

/// Opens an image held by the local Docker (or podman) engine.
pub fn open(name: &str, _options: &SourceOptions) -> Result<Box<dyn ImageSource>, SourceError> {
    Err(SourceError::Remote(format!(
        "`docker-daemon:{name}`: the Docker Engine API is not implemented yet"
    )))
}
