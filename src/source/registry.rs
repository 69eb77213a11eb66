//! Registries (`docker://REF`, bare `name:tag`).

use super::{ImageSource, SourceError, SourceOptions};

/// Opens an image in a registry.
pub fn open(name: &str, _options: &SourceOptions) -> Result<Box<dyn ImageSource>, SourceError> {
    Err(SourceError::Remote(format!(
        "`{name}`: reading from registries is not implemented yet"
    )))
}
