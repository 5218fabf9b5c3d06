//! Partition images: a Debian base with real Lmod, plus one layer per partition
//! holding its emulated module tree (generated from `containers/`), tagged by
//! content hash so that an unchanged tree is never rebuilt.
//!
//! `spider` reads Lmod's export, `overlay` adds what spider lacks, `generate`
//! writes the modulefiles and installs, `recipe` holds the image texts and hashes,
//! `build` drives Docker, `inspect` lists images and opens shells.

mod build;
pub mod data;
pub mod generate;
pub mod import;
mod inspect;
pub mod module_wheels;
pub mod overlay;
pub mod recipe;
pub mod spider;

use std::path::PathBuf;
use std::time::Duration;

pub use build::build;
pub use inspect::{list, shell};

/// `docker run` arguments (before the image) for a non-interactive container of
/// `partition`: no network, the partition's FQDN as host name, resolvable, labelled.
pub fn shell_run_args(partition: &str) -> crate::error::Result<Vec<String>> {
    inspect::run_args(partition, false, false)
}
pub use recipe::DEFAULT_RELEASE;

use crate::partition::SITE_DOMAIN;

/// What to build. Empty `partitions` = all known; empty `releases` = the default release.
#[derive(Clone, Debug)]
pub struct BuildOptions {
    pub partitions: Vec<String>,
    /// Each selects the sticky default (`LMOD_SYSTEM_DEFAULT_MODULES`) of one image.
    pub releases: Vec<String>,
    /// Build the base from this Debian/Ubuntu image with apt instead of mmdebstrap.
    pub base_image: Option<String>,
    /// Holds the cached rootfs tarball and the build lock.
    pub cache_dir: PathBuf,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions { partitions: Vec::new(), releases: Vec::new(), base_image: None, cache_dir: default_cache_dir() }
    }
}

/// Progress of a build, for a progress bar or a log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageEvent {
    /// A step that does real work started (`rootfs`, `base`, `alpha 23.10`).
    Started { step: String, detail: String },
    Finished { step: String, elapsed: Duration },
    /// The step's result already existed; nothing was built.
    Cached { step: String, tag: String },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuiltImage {
    pub partition: String,
    pub release: String,
    pub tag: String,
    /// Docker's id of the image (`sha256:…`).
    pub id: String,
    pub content_hash: String,
    /// True when the image existed and no Docker build ran.
    pub cached: bool,
    /// Module → its Python packages that are emulated without their code
    /// (`numpy 1.22.3`): binary packages with no pure-Python wheel.
    pub emulated_packages: std::collections::BTreeMap<String, Vec<String>>,
}

/// An image the project made, as `images list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ImageInfo {
    pub tag: String,
    pub id: String,
    /// `base` or `partition`.
    pub kind: String,
    pub partition: Option<String>,
    pub release: Option<String>,
    pub content_hash: Option<String>,
    pub size_bytes: u64,
}

/// A partition's emulated node name: `login1.alpha.hpc.tu-dresden.de`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Identity {
    pub fqdn: String,
    pub hostname: String,
    pub domain: String,
}

/// The node a container of `partition` pretends to be; `None` for unknown partitions.
pub fn identity(partition: &str) -> Option<Identity> {
    let partitions = data::Source::from_env().partitions().ok()?;
    let info = partitions.get(partition)?;
    let domain = format!("{partition}.{SITE_DOMAIN}");
    Some(Identity { fqdn: format!("{}.{domain}", info.host), hostname: info.host.clone(), domain })
}

/// Partitions described in `containers/partitions.json` (sorted).
pub fn known_partitions() -> Vec<String> {
    data::Source::from_env().partitions().map(|p| p.into_keys().collect()).unwrap_or_default()
}

pub use crate::paths::default_cache_dir;

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("alpha", "login1.alpha.hpc.tu-dresden.de")]
    #[case("barnard", "n1001.barnard.hpc.tu-dresden.de")]
    #[case("romeo", "i7001.romeo.hpc.tu-dresden.de")]
    fn identities(#[case] partition: &str, #[case] fqdn: &str) {
        let id = identity(partition).expect("known partition");
        assert_eq!(id.fqdn, fqdn);
        assert_eq!(id.domain, format!("{partition}.hpc.tu-dresden.de"));
        assert!(fqdn.starts_with(&format!("{}.", id.hostname)));
    }

    #[test]
    fn unknown_partition_has_no_identity() {
        assert_eq!(identity("capella"), None);
        assert_eq!(known_partitions(), ["alpha", "barnard", "romeo"]);
    }
}
