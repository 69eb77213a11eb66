//! Parsing image references into transports, following the containers/skopeo
//! convention (`docker://`, `docker-archive:`, `oci:`, `oci-archive:`,
//! `docker-daemon:`). A path that exists on disk needs no prefix.

use std::path::{Path, PathBuf};

use super::SourceError;

/// Where an image comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// `docker-archive:FILE[:REF|:@N]` (`docker save`, classic or
    /// OCI-style); `-` is stdin.
    DockerArchive {
        /// The archive.
        path: PathBuf,
        /// Which image of a multi-image archive.
        image: Option<ArchiveImage>,
    },
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    OciArchive {
        /// The archive.
        path: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick.
        tag: Option<String>,
    },
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

/// Which image of a `docker save` archive, as skopeo names them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ArchiveImage {
    /// `:name:tag`, matched against `RepoTags` (normalised as `docker`
    /// does: `busybox` is `docker.io/library/busybox:latest`).
    Name(String),
    /// `:@N`: the N-th entry of `manifest.json`, from 0.
    Index(usize),
}

impl std::fmt::Display for ArchiveImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveImage::Name(n) => f.write_str(n),
            ArchiveImage::Index(i) => write!(f, "@{i}"),
        }
    }
}

impl Reference {
    /// Parses a reference as the user typed it.
    pub fn parse(input: &str) -> Result<Reference, SourceError> {
        if input.is_empty() {
            return Err(SourceError::BadReference(input.to_owned()));
        }
        if let Some(rest) = input.strip_prefix("docker-archive:") {
            let (path, image) = split_path_ref(rest);
            let image = match image {
                None => None,
                Some(r) if r.is_empty() => return Err(SourceError::BadReference(input.to_owned())),
                Some(r) => Some(match r.strip_prefix('@') {
                    Some(n) => ArchiveImage::Index(
                        n.parse()
                            .map_err(|_| SourceError::BadReference(input.to_owned()))?,
                    ),
                    None => ArchiveImage::Name(r),
                }),
            };
            return Ok(Reference::DockerArchive { path, image });
        }
        if let Some(rest) = input.strip_prefix("oci-archive:") {
            let (path, tag) = split_path_ref(rest);
            return Ok(Reference::OciArchive { path, tag });
        }
        if let Some(rest) = input.strip_prefix("oci:") {
            let (dir, tag) = split_path_ref(rest);
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
            return Ok(Reference::DockerArchive {
                path: PathBuf::from("-"),
                image: None,
            });
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
    "containers-storage:",
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

/// Splits `PATH[:REF]` as skopeo does: at the first `:` (paths with a `:`
/// work when the whole, or the part before a later `:`, exists on disk;
/// `REF` itself may hold `:` as in `busybox:latest`).
fn split_path_ref(rest: &str) -> (PathBuf, Option<String>) {
    if Path::new(rest).exists() {
        return (PathBuf::from(rest), None);
    }
    let colons = rest.match_indices(':').map(|(i, _)| i);
    let existing = colons
        .clone()
        .find(|&i| Path::new(&rest[..i]).exists())
        .or_else(|| colons.clone().next());
    match existing {
        Some(i) => (PathBuf::from(&rest[..i]), Some(rest[i + 1..].to_owned())),
        None => (PathBuf::from(rest), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports() {
        assert_eq!(
            Reference::parse("docker-archive:/nope/x.tar").ok(),
            Some(Reference::DockerArchive {
                path: "/nope/x.tar".into(),
                image: None
            })
        );
        assert_eq!(
            Reference::parse("docker-archive:/nope/x.tar:busybox:1").ok(),
            Some(Reference::DockerArchive {
                path: "/nope/x.tar".into(),
                image: Some(ArchiveImage::Name("busybox:1".into()))
            })
        );
        assert_eq!(
            Reference::parse("docker-archive:/nope/x.tar:@3").ok(),
            Some(Reference::DockerArchive {
                path: "/nope/x.tar".into(),
                image: Some(ArchiveImage::Index(3))
            })
        );
        assert!(Reference::parse("docker-archive:/nope/x.tar:@x").is_err());
        assert!(Reference::parse("docker-archive:/nope/x.tar:").is_err());
        assert_eq!(
            Reference::parse("oci-archive:/nope/x.tar:v2").ok(),
            Some(Reference::OciArchive {
                path: "/nope/x.tar".into(),
                tag: Some("v2".into())
            })
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
