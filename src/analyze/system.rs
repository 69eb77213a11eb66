//! The `system_packages` object of the report: the packages of the image's
//! package manager (see [`crate::packages`]), largest first, with bytes per
//! layer and what the recommended-only packages cost (what
//! `apt-get install --no-install-recommends` would not have installed).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::packages::{Database, Manager, Reason};

/// The `system_packages` object.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SystemPackages {
    /// `dpkg`, `apk`, `rpm` (packages read from `rpmdb.sqlite`; none from an older database) or `none`.
    pub manager: Manager,
    /// Bytes of the files the packages own in the final filesystem (each
    /// file counted for one package).
    #[serde(default)]
    pub bytes: u64,
    /// Bytes of the packages only a recommendation brought in.
    #[serde(default)]
    pub recommended_bytes: u64,
    /// Every package, largest first.
    #[serde(default)]
    pub packages: Vec<SystemPackage>,
    /// Per layer that installed packages: how many and their bytes.
    #[serde(default)]
    pub layers: Vec<PackageLayer>,
}

/// One package of the `system_packages` object.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SystemPackage {
    /// Package name.
    pub name: String,
    /// Version as recorded.
    pub version: String,
    /// Architecture, when recorded.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arch: String,
    /// The layer that installed it.
    pub layer: u32,
    /// Bytes of its files in the final filesystem.
    pub bytes: u64,
    /// What the package declares (dpkg's Installed-Size in bytes).
    pub installed_size: u64,
    /// `requested`, `dependency` or `recommended`.
    pub reason: Reason,
    /// The archive section (`libs`, `devel`, `python`, ...).
    pub section: String,
    /// `toolchain`, `dev`, `docs`, `library`, `python` or `other`.
    #[serde(default)]
    pub category: String,
}

/// Packages installed by one layer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PackageLayer {
    /// Layer index.
    pub layer: u32,
    /// How many packages it installed.
    pub packages: u64,
    /// Their bytes in the final filesystem.
    pub bytes: u64,
    /// Of which only recommended.
    pub recommended_bytes: u64,
}

/// The report object for `db` (the `none` manager when there is none).
pub fn report(db: Option<&Database>) -> SystemPackages {
    let Some(db) = db else {
        return SystemPackages::default();
    };
    let mut packages: Vec<SystemPackage> = db
        .packages
        .iter()
        .map(|p| SystemPackage {
            name: p.name.clone(),
            version: p.version.clone(),
            arch: p.arch.clone(),
            layer: p.layer,
            bytes: p.bytes,
            installed_size: p.installed_size,
            reason: p.reason,
            section: p.section.clone(),
            category: p.category().to_owned(),
        })
        .collect();
    packages.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
    let mut layers: BTreeMap<u32, PackageLayer> = BTreeMap::new();
    for p in &packages {
        let l = layers.entry(p.layer).or_insert(PackageLayer {
            layer: p.layer,
            packages: 0,
            bytes: 0,
            recommended_bytes: 0,
        });
        l.packages += 1;
        l.bytes += p.bytes;
        if p.reason == Reason::Recommended {
            l.recommended_bytes += p.bytes;
        }
    }
    SystemPackages {
        manager: db.manager,
        bytes: db.bytes(),
        recommended_bytes: db.recommended().map(|p| p.bytes).sum(),
        packages,
        layers: layers.into_values().collect(),
    }
}
