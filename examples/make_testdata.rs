//! Regenerates the sample images in `testdata/` deterministically:
//! `cargo run --example make_testdata`.
//!
//! `python-ml.tar` is shaped like a small Python ML image: a base layer, a
//! pip install into site-packages (dist-info with RECORD, a native `.so`
//! bundled twice like numpy.libs/scipy.libs), a pip cache, a wheel deleted
//! by a later layer, and a `chown -R` over the application.

use std::path::Path;

use layerscope::fixture::{Image, dir, file, image, layer, owned, pattern, sized_file, whiteout};

fn record(entries: &[(&str, &[u8])]) -> String {
    let mut out = String::new();
    for (path, data) in entries {
        let digest = layerscope::Digest::of(data);
        let b64 = base64_urlsafe(&hex_to_bytes(digest.hex()));
        out.push_str(&format!("{path},sha256={b64},{}\n", data.len()));
    }
    out
}

fn hex_to_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or(0))
        .collect()
}

fn base64_urlsafe(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

/// The sample Python ML image.
pub fn python_ml() -> Image {
    let sp = "usr/local/lib/python3.11/site-packages";
    let openblas = pattern(400_000, 7);
    let init = b"from numpy.core import *\n".to_vec();
    let core = pattern(120_000, 8);
    let numpy_files: Vec<(String, Vec<u8>)> = vec![
        ("numpy/__init__.py".into(), init),
        (
            "numpy/core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so".into(),
            core,
        ),
        (
            "numpy.libs/libopenblas64_p-r0-0cf96a72.3.23.dev.so".into(),
            openblas.clone(),
        ),
    ];
    let scipy_files: Vec<(String, Vec<u8>)> = vec![
        ("scipy/__init__.py".into(), b"import numpy\n".to_vec()),
        (
            "scipy.libs/libopenblasp-r0-23e5df77.3.21.dev.so".into(),
            openblas,
        ),
    ];
    let mut pip_layer = vec![dir("usr/local/lib/python3.11"), dir(sp)];
    for (name, version, files) in [
        ("numpy", "1.26.4", &numpy_files),
        ("scipy", "1.11.4", &scipy_files),
    ] {
        let di = format!("{name}-{version}.dist-info");
        let metadata =
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n").into_bytes();
        let installer = b"pip\n".to_vec();
        let mut rec: Vec<(String, Vec<u8>)> = files.clone();
        rec.push((format!("{di}/METADATA"), metadata.clone()));
        rec.push((format!("{di}/INSTALLER"), installer.clone()));
        let refs: Vec<(&str, &[u8])> = rec
            .iter()
            .map(|(p, d)| (p.as_str(), d.as_slice()))
            .collect();
        let mut record = record(&refs);
        record.push_str(&format!("{di}/RECORD,,\n"));
        for (p, d) in files.iter() {
            pip_layer.push(file(format!("{sp}/{p}"), d));
        }
        pip_layer.push(file(format!("{sp}/{di}/METADATA"), metadata));
        pip_layer.push(file(format!("{sp}/{di}/INSTALLER"), installer));
        pip_layer.push(file(format!("{sp}/{di}/RECORD"), record));
    }
    // pip's HTTP cache, left in place by `pip install` without --no-cache-dir.
    pip_layer.push(sized_file(
        "root/.cache/pip/http-v2/a/b/c/d/e/0123456789abcdef",
        150_000,
        21,
    ));
    pip_layer.push(sized_file(
        "root/.cache/pip/http-v2/f/0/1/2/3/fedcba9876543210",
        90_000,
        22,
    ));

    let app: Vec<_> = (0..5)
        .map(|i| sized_file(format!("app/module{i}.py"), 20_000, 100 + i))
        .collect();
    let app_chowned: Vec<_> = app.iter().cloned().map(|f| owned(f, 1000)).collect();

    image(vec![
        layer(vec![
            dir("etc"),
            file(
                "etc/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n",
            ),
            dir("usr/bin"),
            sized_file("usr/bin/python3.11", 300_000, 1),
            sized_file("usr/lib/x86_64-linux-gnu/libc.so.6", 200_000, 2),
        ])
        .created_by("/bin/sh -c #(nop) ADD file:4a3c in / "),
        layer(vec![
            dir("wheels"),
            sized_file(
                "wheels/torch-2.3.0-cp311-cp311-linux_x86_64.whl",
                250_000,
                30,
            ),
        ])
        .created_by("COPY wheels/ /wheels/ # buildkit"),
        layer(pip_layer)
            .created_by("RUN /bin/sh -c pip install /wheels/*.whl numpy scipy # buildkit"),
        layer(vec![whiteout("wheels")]).created_by("RUN /bin/sh -c rm -rf /wheels # buildkit"),
        layer(app).created_by("COPY . /app # buildkit"),
        layer(app_chowned).created_by("RUN /bin/sh -c chown -R 1000:1000 /app # buildkit"),
    ])
}

fn main() -> std::io::Result<()> {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    std::fs::create_dir_all(&out)?;
    python_ml().write_docker_archive(&out.join("python-ml.tar"), "layerscope/sample:python-ml")?;
    python_ml().write_oci_archive(&out.join("python-ml.oci.tar"), "python-ml")?;
    Ok(())
}
