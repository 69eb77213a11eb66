//! Dockerfiles: parsing, mapping instructions to layers, advice with the
//! bytes each change saves, and the rewritten Dockerfile.
