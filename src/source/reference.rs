//! Parsing image references into transports, following the containers/skopeo
//! convention (`docker://`, `docker-archive:`, `oci:`, `oci-archive:`,
//! `docker-daemon:`). A path that exists on disk needs no prefix.

use std::path::{Path, PathBuf};

use super::SourceError;

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `docker-archive:FILE` (`docker save`, classic or OCI-style); `-` is stdin.
    DockerArchive(PathBuf),
    /// `oci-archive:FILE`: a tar of an OCI image layout.
    OciArchive(PathBuf),
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick.
        tag: Option<String>,
    },
    /// `docker-daemon:NAME`: the Docker Engine API.
    DockerDaemon(String),
    /// `containers-storage:[[DRIVER@]ROOT]NAME[:TAG]`: podman's and
    /// buildah's local store, read without a daemon.
    ContainersStorage(String),
    /// `docker://REF` or a bare `name:tag`: a registry.
    Registry(String),
    /// An existing file given without a transport: a docker or OCI archive,
    /// told apart by its members when it is opened (read once).
    Archive(PathBuf),
}

impl Reference {
    /// Parses a reference as the user typed it.
    pub fn parse(input: &str) -> Result<Reference, SourceError> {
        if input.is_empty() {
            return Err(SourceError::BadReference(input.to_owned()));
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            return Ok(Reference::DockerArchive(strip_archive_suffix(rest)));
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            return Ok(Reference::OciArchive(strip_archive_suffix(rest)));
        }
        if let Some(rest) = input.strip_prefix("oci:") {
            let (dir, tag) = split_dir_tag(rest);
            return Ok(Reference::OciLayout { dir, tag });
        }
        if let Some(rest) = input.strip_prefix("docker-daemon:") {
            return Ok(Reference::DockerDaemon(rest.to_owned()));
        }
        if let Some(rest) = input.strip_prefix("containers-storage:") {
            return Ok(Reference::ContainersStorage(rest.to_owned()));
        }
        if let Some(rest) = input.strip_prefix("docker://") {
            return Ok(Reference::Registry(rest.to_owned()));
        }
        if input == "-" {
            return Ok(Reference::DockerArchive(PathBuf::from("-")));
        }
        let path = Path::new(input);
        if path.exists() {
            return Ok(detect(path));
        }
        if let Some(transport) = unknown_transport(input) {
            return Err(SourceError::UnknownTransport {
                input: input.to_owned(),
                transport: transport.to_owned(),
            });
        }
        // `app.tar`, `app.tar:tag`, `./x`, `/x`, `~/x`: a file that is not
        // there, not a registry host to look up.
        let file_part = input.split_once(':').map_or(input, |(f, _)| f);
        let looks_like_file = FILE_EXTENSIONS
            .iter()
            .any(|ext| input.ends_with(ext) || file_part.ends_with(ext));
        if looks_like_file
            || input.starts_with("~/")
            || (input.contains('/') && (input.starts_with('.') || input.starts_with('/')))
        {
            // Looks like a path, but nothing is there.
            return Err(SourceError::Io {
                path: path.to_owned(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file or directory",
                ),
            });
        }
        Ok(Reference::Registry(input.to_owned()))
    }
}

/// Endings of image files: a reference ending so is a path, never a
/// registry host.
const FILE_EXTENSIONS: &[&str] = &[
    ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.xz", ".oci", ".oci.tar",
];

/// The transports we read, as the error for another one lists them.
pub const TRANSPORTS: &[&str] = &[
    "docker://",
    "docker-archive:",
    "oci:",
    "oci-archive:",
    "docker-daemon:",
];

/// `X:REST` where X cannot be a registry host (the rest is not a port
/// followed by `/`, and is not a tag: a tag has no `/` and no file ending):
/// X names a transport we do not know (`dir:`, `docker-archiv:`).
fn unknown_transport(input: &str) -> Option<&str> {
    let (prefix, rest) = input.split_once(':')?;
    if prefix.is_empty()
        || prefix.contains(['/', '.'])
        || !prefix
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return None;
    }
    let port = rest
        .split_once('/')
        .is_some_and(|(p, _)| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    if port {
        return None;
    }
    let not_a_tag = rest.contains('/')
        || rest.is_empty()
        || FILE_EXTENSIONS.iter().any(|e| rest.ends_with(e))
        || Path::new(rest).exists();
    not_a_tag.then_some(prefix)
}

/// Decides the transport of an existing path from what it is.
fn detect(path: &Path) -> Reference {
    if path.is_dir() {
        return Reference::OciLayout {
            dir: path.to_owned(),
            tag: None,
        };
    }
    // Docker or OCI archive: decided from its members when it is indexed,
    // so the file is not read twice.
    Reference::Archive(path.to_owned())
}

/// `FILE:name:tag` in skopeo syntax names an image inside the archive; we
/// read the first image, so a trailing `:ref` on a path that does not exist
/// is dropped when the part before it does exist.
fn strip_archive_suffix(rest: &str) -> PathBuf {
    if !Path::new(rest).exists()
        && let Some((file, _)) = rest.split_once(':')
        && Path::new(file).exists()
    {
        return PathBuf::from(file);
    }
    PathBuf::from(rest)
}

fn split_dir_tag(rest: &str) -> (PathBuf, Option<String>) {
    if Path::new(rest).exists() {
        return (PathBuf::from(rest), None);
    }
    match rest.rsplit_once(':') {
        Some((dir, tag)) if !tag.contains('/') => (PathBuf::from(dir), Some(tag.to_owned())),
        _ => (PathBuf::from(rest), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(
            Reference::parse("docker-archive:/nope/x.tar").ok(),
            Some(Reference::DockerArchive("/nope/x.tar".into()))
        );
        assert_eq!(
            Reference::parse("oci:/nope/dir:v1").ok(),
            Some(Reference::OciLayout {
                dir: "/nope/dir".into(),
                tag: Some("v1".into())
            })
        );
        assert_eq!(
            Reference::parse("python:3.11").ok(),
            Some(Reference::Registry("python:3.11".into()))
        );
        assert_eq!(
            Reference::parse("docker://127.0.0.1:5000/a/b:c").ok(),
            Some(Reference::Registry("127.0.0.1:5000/a/b:c".into()))
        );
        assert!(Reference::parse("./missing/file.tar").is_err());
        // Local-looking names never become registry hosts to look up.
        for local in ["app.tar:latest", "~/img.tar", "/nope", "x.tar.zst"] {
            assert!(
                matches!(Reference::parse(local), Err(SourceError::Io { .. })),
                "{local}"
            );
        }
        for typo in ["docker-archiv:x.tar", "dir:/tmp/x", "oci-archiv:a/b"] {
            assert!(
                matches!(
                    Reference::parse(typo),
                    Err(SourceError::UnknownTransport { .. })
                ),
                "{typo}"
            );
        }
        for registry in ["localhost:5000/a/b", "python:3.11", "ghcr.io/a/b:v1.2"] {
            assert!(
                matches!(Reference::parse(registry), Ok(Reference::Registry(_))),
                "{registry}"
            );
        }
    }
}
