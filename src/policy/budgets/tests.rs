//! Budget evaluation on measures built by hand.

use std::collections::BTreeMap;

use super::*;
use crate::analyze::{FindingKind, Severity};

fn layer(index: u32, compressed: u64, uncompressed: u64, base: bool) -> LayerMeasure {
    LayerMeasure {
        index,
        digest: format!("sha256:{index}"),
        created_by: None,
        compressed_bytes: compressed,
        compressed_estimated: false,
        uncompressed_bytes: uncompressed,
        base,
    }
}

fn finding(kind: FindingKind, bytes: u64, paths: &[&str]) -> Finding {
    Finding {
        kind,
        severity: Severity::Info,
        bytes,
        compressed_bytes: bytes,
        layers: vec![1],
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        path_count: paths.len() as u64,
        message: "m".into(),
        fix: "f".into(),
        dockerfile_line: None,
        packages: Vec::new(),
        members: Default::default(),
    }
}

fn dist(name: &str, bytes: u64) -> DistributionMeasure {
    DistributionMeasure {
        name: name.into(),
        version: "1.0".into(),
        bytes,
        environment: "/site-packages".into(),
        layer: 1,
    }
}

fn measures() -> Measures {
    Measures {
        base_layers: 1,
        layers: vec![
            layer(0, 1000, 3000, true),
            layer(1, 400, 900, false),
            layer(2, 600, 1100, false),
        ],
        shadowed: vec![
            PathBytes {
                path: "/a".into(),
                bytes: 50,
                layer: 1,
            },
            PathBytes {
                path: "/b".into(),
                bytes: 30,
                layer: 1,
            },
            PathBytes {
                path: "/c".into(),
                bytes: 20,
                layer: 2,
            },
            PathBytes {
                path: "/d".into(),
                bytes: 10,
                layer: 2,
            },
        ],
        content_bytes: 1000,
        final_bytes: 890,
        findings: vec![
            finding(FindingKind::PipCache, 70, &["/root/.cache/pip"]),
            finding(FindingKind::PipCache, 5, &["/tmp/pip"]),
        ],
        distributions: vec![dist("torch", 800), dist("numpy", 100)],
    }
}

fn one(policy: &Policy, m: &Measures, old: Option<&Measures>) -> BudgetResult {
    let r = evaluate(policy, m, old);
    assert_eq!(r.len(), 1, "{r:?}");
    r.into_iter().next().unwrap_or_else(|| unreachable!())
}

#[test]
fn sizes_skip_base_layers() {
    let m = measures();
    let r = one(
        &Policy {
            max_compressed: Some(999),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(1000), false));
    assert_eq!(
        r.contributors.iter().map(|c| c.bytes).collect::<Vec<_>>(),
        vec![600, 400]
    );
    let r = one(
        &Policy {
            max_uncompressed: Some(2000),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(2000), true));
    let r = one(
        &Policy {
            max_layer: Some(599),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(600), false));
    let r = one(
        &Policy {
            max_layers: Some(2),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(2), true));
}

#[test]
fn waste_budgets() {
    let m = measures();
    let r = one(
        &Policy {
            max_shadowed: Some(109),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(110), false));
    assert_eq!(
        r.contributors
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        vec!["/a", "/b", "/c"]
    );
    let r = one(
        &Policy {
            min_efficiency: Some(0.9),
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Ratio(0.89), false));
    let mut findings = BTreeMap::new();
    findings.insert(FindingKind::PipCache, 0);
    let r = one(
        &Policy {
            findings,
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!(
        (r.value, r.passed, r.budget.as_str()),
        (Amount::Int(75), false, "findings.pip-cache")
    );
}

#[test]
fn distribution_and_growth() {
    let m = measures();
    let mut distributions = BTreeMap::new();
    distributions.insert("torch".to_owned(), 800);
    let r = one(
        &Policy {
            distributions,
            ..Default::default()
        },
        &m,
        None,
    );
    assert_eq!((r.value, r.passed), (Amount::Int(800), true));

    let mut old = measures();
    old.layers[2].compressed_bytes = 450;
    old.layers.truncate(3);
    old.distributions = vec![dist("torch", 700)];
    let p = Policy {
        growth: super::super::Growth {
            compressed: Some(100),
            layer: Some(150),
            distribution: Some(99),
        },
        ..Default::default()
    };
    let r = evaluate(&p, &m, Some(&old));
    assert_eq!(
        r.iter().map(|r| (r.value, r.passed)).collect::<Vec<_>>(),
        vec![
            (Amount::Int(150), false),
            (Amount::Int(150), true),
            (Amount::Int(100), false), // numpy is new: 100 bytes
        ]
    );
    assert_eq!(
        r[2].contributors
            .iter()
            .map(|c| (c.name.as_str(), c.bytes))
            .collect::<Vec<_>>(),
        vec![("numpy", 100), ("torch", 100)]
    );
    // Without a baseline, growth budgets are not evaluated.
    assert!(evaluate(&p, &m, None).is_empty());
}

#[test]
fn globs_match_absolute_paths() {
    let g = glob("opt/models/**").unwrap_or_else(|e| panic!("{e}"));
    assert!(g.is_match("/opt/models/a/b.bin"));
    assert!(!g.is_match("/opt/other"));
    assert!(glob("/a/[").is_err());
}
