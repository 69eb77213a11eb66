//! The scanner on hand-made tar streams: multi-member gzip, PAX and GNU long
//! names, PAX global headers, digest verification.
#![allow(clippy::unwrap_used)]

use std::io::Write;

use layerscope::fixture::{self, layer, sized_file};
use layerscope::scan::{Compression, EntryKind, Verify, scan_layer};
use layerscope::source::LayerInfo;
use layerscope::{DiffId, Digest};

fn info_for(blob: &[u8], tar: &[u8]) -> LayerInfo {
    LayerInfo {
        digest: Digest::of(blob),
        diff_id: Some(DiffId(Digest::of(tar))),
        media_type: String::new(),
        blob_bytes: blob.len() as u64,
        compressed_bytes: Some(blob.len() as u64),
        created_by: None,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    fixture::compress(data, Compression::Gzip)
}

#[test]
fn multi_member_gzip_is_read_to_the_end() {
    let files: Vec<_> = (0..40)
        .map(|i| sized_file(format!("f/{i}"), 10_000, i))
        .collect();
    let tar = layer(files).tar();
    // Split at a non-block boundary: the second member continues mid-entry.
    let cut = tar.len() / 2 + 77;
    let blob = [gzip(&tar[..cut]), gzip(&tar[cut..])].concat();
    let index = scan_layer(blob.as_slice(), &info_for(&blob, &tar), Verify::DiffIds).unwrap();
    assert_eq!(index.compression, Compression::Gzip);
    assert_eq!(index.entries.len(), 40);
    assert_eq!(index.entries.iter().map(|e| e.size).sum::<u64>(), 400_000);
    assert_eq!(index.uncompressed_bytes, tar.len() as u64);
    assert_eq!(index.compressed_bytes, blob.len() as u64);
}

fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = [b" ", key.as_bytes(), b"=", value, b"\n"].concat();
    let mut len = body.len() + 1;
    while format!("{len}").len() + body.len() != len {
        len += 1;
    }
    [format!("{len}").into_bytes(), body].concat()
}

fn raw_entry(b: &mut tar::Builder<Vec<u8>>, kind: tar::EntryType, name: &str, data: &[u8]) {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_path(name).unwrap();
    h.set_cksum();
    b.append(&h, data).unwrap();
}

#[test]
fn pax_and_gnu_long_names_and_global_headers() {
    let long = format!(
        "usr/lib/python3.11/site-packages/{}/module.py",
        "deeply_nested_package".repeat(6)
    );
    let mut b = tar::Builder::new(Vec::new());
    raw_entry(
        &mut b,
        tar::EntryType::XGlobalHeader,
        "pax_global_header",
        &pax_record("comment", b"abc"),
    );
    raw_entry(
        &mut b,
        tar::EntryType::XHeader,
        "PaxHeaders/x",
        &pax_record("path", long.as_bytes()),
    );
    raw_entry(
        &mut b,
        tar::EntryType::Regular,
        "truncated-name",
        b"print('hi')\n",
    );
    // A GNU long name, written by tar::Builder for names over 100 bytes.
    let gnu = format!("opt/{}", "g".repeat(150));
    let mut h = tar::Header::new_gnu();
    h.set_size(5);
    h.set_mode(0o644);
    b.append_data(&mut h, &gnu, &b"12345"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let blob = gzip(&tar);
    let index = scan_layer(blob.as_slice(), &info_for(&blob, &tar), Verify::DiffIds).unwrap();
    let got: Vec<(String, u64)> = index
        .entries
        .iter()
        .map(|e| (e.path.display(), e.size))
        .collect();
    assert_eq!(got, [(format!("/{long}"), 12), (format!("/{gnu}"), 5)]);
    assert!(index.entries.iter().all(|e| e.kind == EntryKind::File));
}

#[test]
fn digest_and_diff_id_are_verified() {
    let tar = layer(vec![sized_file("a", 1000, 1)]).tar();
    let blob = gzip(&tar);
    let mut info = info_for(&blob, &tar);
    info.digest = Digest::of(b"something else");
    let err = scan_layer(blob.as_slice(), &info, Verify::DiffIds)
        .unwrap_err()
        .to_string();
    assert!(err.contains("blob digest mismatch"), "{err}");

    let mut info = info_for(&blob, &tar);
    info.diff_id = Some(DiffId(Digest::of(b"other")));
    let err = scan_layer(blob.as_slice(), &info, Verify::DiffIds)
        .unwrap_err()
        .to_string();
    assert!(err.contains("diff id mismatch"), "{err}");
}

/// By default a compressed layer's diff id is the config's, not hashed
/// again; it is computed when the config names none, and an uncompressed
/// blob (its own tar stream) is always checked against it.
#[test]
fn default_verification_trusts_the_configs_diff_id_of_a_verified_gzip_blob() {
    let tar = layer(vec![sized_file("a", 1000, 1)]).tar();
    let blob = gzip(&tar);
    let claimed = DiffId(Digest::of(b"claimed by the config"));
    let mut info = info_for(&blob, &tar);
    info.diff_id = Some(claimed.clone());
    let index = scan_layer(blob.as_slice(), &info, Verify::BlobDigest).unwrap();
    assert_eq!(index.diff_id, claimed);
    assert_eq!(index.uncompressed_bytes, tar.len() as u64);

    info.diff_id = None;
    let index = scan_layer(blob.as_slice(), &info, Verify::BlobDigest).unwrap();
    assert_eq!(index.diff_id, DiffId(Digest::of(&tar)));

    let mut plain = info_for(&tar, &tar);
    plain.diff_id = Some(claimed);
    let err = scan_layer(tar.as_slice(), &plain, Verify::BlobDigest)
        .unwrap_err()
        .to_string();
    assert!(err.contains("diff id mismatch"), "{err}");
}

#[test]
fn unsupported_compression_is_named() {
    let mut blob = b"BZh91AY&SY".to_vec();
    blob.flush().unwrap();
    let info = info_for(&blob, b"");
    let err = scan_layer(blob.as_slice(), &info, Verify::DiffIds)
        .unwrap_err()
        .to_string();
    assert!(err.contains("bzip2"), "{err}");
}
