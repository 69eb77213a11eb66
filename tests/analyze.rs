//! `layerscope analyze` end to end on local images.
#![allow(clippy::unwrap_used)]

use crate::support::{analyze_json, testdata};

#[test]
fn sample_image_reports_exact_waste() {
    let report = analyze_json(testdata("python-ml.tar").to_str().unwrap(), &[]);
    // By construction (examples/make_testdata.rs): the 250 000-byte wheel is
    // deleted by `rm -rf /wheels`, and five 20 000-byte files are chowned.
    assert_eq!(report["image"]["shadowed_bytes"], 350_000);
}
