//! What goes into the images, as text: the base recipe (mmdebstrap or a
//! Dockerfile over a given image), the site configuration of a partition
//! layer, its Dockerfile, and the content hashes that name them.

use sha2::{Digest, Sha256};

use super::generate::{Content, LayerFile, TOP_DIR};
use super::Identity;
use crate::harness::docker::LABEL;

/// Debian packages of every image (DESIGN §6, plus the Jupyter client the harness
/// starts kernels with, `hostname`, and `libnss-myhostname` so `hostname -d`
/// answers even when nothing else resolves the FQDN).
pub const BASE_PACKAGES: &[&str] = &[
    "bash",
    "ca-certificates",
    "hostname",
    "jupyter-core",
    "libnss-myhostname",
    "lmod",
    "python3",
    "python3-jupyter-client",
    "python3-pip",
    "python3-venv",
];

pub const SUITE: &str = "bookworm";
/// Fixed timestamp for a reproducible rootfs (2023-11-14).
pub const SOURCE_DATE_EPOCH: u64 = 1_700_000_000;
/// Release loaded by `module reset` unless `--release` or the partition's
/// `login_release` (containers/partitions.json) says otherwise.
pub const DEFAULT_RELEASE: &str = "23.10";

pub const LABEL_KIND: &str = "org.hpc-kernels.kind";
pub const LABEL_PARTITION: &str = "org.hpc-kernels.partition";
pub const LABEL_RELEASE: &str = "org.hpc-kernels.release";
pub const LABEL_HASH: &str = "org.hpc-kernels.content-hash";

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// mmdebstrap arguments before the suite (the rest are target and mirrors).
pub fn mmdebstrap_options() -> Vec<String> {
    let mut args = vec!["--variant=minbase".to_string(), format!("--include={}", BASE_PACKAGES.join(","))];
    for excluded in ["/usr/share/doc/*", "/usr/share/man/*", "/usr/share/info/*", "/usr/share/locale/*"] {
        args.push(format!("--dpkgopt=path-exclude={excluded}"));
    }
    args.push("--dpkgopt=path-include=/usr/share/doc/*/copyright".into());
    args
}

/// The text whose hash names the base image. The mirror is left out on purpose:
/// it is transport, and would make the tag differ between machines.
pub fn base_recipe(base_image: Option<&str>) -> String {
    match base_image {
        Some(image) => format!("dockerfile\n{}", base_dockerfile(image)),
        None => format!(
            "mmdebstrap\nsuite={SUITE}\nSOURCE_DATE_EPOCH={SOURCE_DATE_EPOCH}\n{}\n",
            mmdebstrap_options().join("\n")
        ),
    }
}

/// `docker import --change` lines for the mmdebstrap rootfs.
pub fn import_changes(hash: &str) -> Vec<String> {
    vec![
        format!("ENV PATH={PATH}"),
        "ENV LANG=C.UTF-8".into(),
        format!("LABEL {LABEL}=true {LABEL_KIND}=base {LABEL_HASH}={hash}"),
        "CMD [\"/bin/bash\"]".into(),
    ]
}

/// Base over any Debian/Ubuntu image (`--base-image`): the same packages by apt.
pub fn base_dockerfile(image: &str) -> String {
    format!(
        "FROM {image}\n\
         ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8\n\
         RUN apt-get update \\\n \
         && apt-get install -y --no-install-recommends {} \\\n \
         && rm -rf /var/lib/apt/lists/*\n\
         LABEL {LABEL}=true {LABEL_KIND}=base\n",
        BASE_PACKAGES.join(" ")
    )
}

/// Site configuration of a partition layer: Lmod's search path, default modules
/// at login, name resolution for `hostname -d`, and a description of the partition.
pub fn site_files(partition: &str, identity: &Identity, releases: &[String], default_release: &str) -> Vec<LayerFile> {
    let file = |path: &str, text: String| LayerFile { path: path.into(), content: Content::File { text, executable: false } };
    let info = serde_json::json!({
        "partition": partition,
        "fqdn": identity.fqdn,
        "domain": identity.domain,
        "releases": releases,
        "default_release": default_release,
    });
    vec![
        file("/etc/lmod/modulespath", format!("# Emulated module tree of {partition} (hpc-kernels)\n{TOP_DIR}\n")),
        file(
            "/etc/profile.d/z01-hpc-kernels-default-modules.sh",
            "# Login shells start with the site default modules (LMOD_SYSTEM_DEFAULT_MODULES),\n\
             # as on ZIH's login nodes.\n\
             if [ -z \"${LOADEDMODULES:-}\" ] && command -v module >/dev/null 2>&1; then\n  \
             module --initial_load --no_redirect restore >/dev/null 2>&1 || true\n\
             fi\n"
                .into(),
        ),
        file(
            "/etc/nsswitch.conf",
            "passwd: files\ngroup: files\nshadow: files\ngshadow: files\n\
             hosts: files myhostname dns\nnetworks: files\n\
             protocols: db files\nservices: db files\nethers: db files\nrpc: db files\nnetgroup: nis\n"
                .into(),
        ),
        file("/etc/hpc-kernels/partition.json", format!("{info:#}\n")),
    ]
}

/// Dockerfile of a partition layer; the context holds the layer under `root/`.
pub fn partition_dockerfile(base_tag: &str, partition: &str, release: &str, hash: &str) -> String {
    let (script, wheel_dir) = (super::module_wheels::SCRIPT, super::module_wheels::WHEEL_DIR);
    format!(
        "FROM {base_tag}\n\
         COPY root/ /\n\
         COPY module-wheels/ {wheel_dir}/\n\
         RUN {script} && rm -rf {wheel_dir}\n\
         ENV MODULEPATH_ROOT=/sw/modules \\\n    \
         MODULEPATH={TOP_DIR} \\\n    \
         LMOD_SYSTEM_DEFAULT_MODULES=release/{release} \\\n    \
         BASH_ENV=/etc/profile.d/lmod.sh\n\
         LABEL {LABEL}=true {LABEL_KIND}=partition {LABEL_PARTITION}={partition} {LABEL_RELEASE}={release} {LABEL_HASH}={hash}\n\
         CMD [\"/bin/bash\", \"-l\"]\n"
    )
}

/// Hash of everything a partition image is made of (base, release, every file).
pub fn partition_hash(base_tag: &str, partition: &str, release: &str, files: &[LayerFile]) -> String {
    let mut hasher = Sha256::new();
    // The Dockerfile minus the hash it will carry.
    hasher.update(partition_dockerfile(base_tag, partition, release, "").as_bytes());
    for f in files {
        hasher.update(b"\0path\0");
        hasher.update(f.path.as_bytes());
        match &f.content {
            Content::File { text, executable } => {
                hasher.update(if *executable { "\0exe\0" } else { "\0file\0" });
                hasher.update(text.as_bytes());
            }
            Content::Symlink(target) => {
                hasher.update(b"\0link\0");
                hasher.update(target.as_bytes());
            }
        }
    }
    hex::encode(hasher.finalize())
}

pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

pub fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

pub fn base_tag(hash: &str) -> String {
    format!("hpc-kernels/base:{}", short(hash))
}

pub fn partition_tag(partition: &str, release: &str, hash: &str) -> String {
    format!("hpc-kernels/{partition}:{release}-{}", short(hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            fqdn: "login1.alpha.hpc.tu-dresden.de".into(),
            hostname: "login1".into(),
            domain: "alpha.hpc.tu-dresden.de".into(),
        }
    }

    #[test]
    fn base_hash_is_stable_and_depends_on_the_recipe() {
        // Changing the package list or options must change this value (and the base tag).
        assert_eq!(sha256_hex(&base_recipe(None)), sha256_hex(&base_recipe(None)));
        assert_ne!(sha256_hex(&base_recipe(None)), sha256_hex(&base_recipe(Some("debian:bookworm"))));
        assert_ne!(
            sha256_hex(&base_recipe(Some("debian:bookworm"))),
            sha256_hex(&base_recipe(Some("ubuntu:22.04")))
        );
        insta::assert_snapshot!(base_recipe(None));
    }

    #[test]
    fn partition_hash_covers_release_files_and_base() {
        let files = site_files("alpha", &identity(), &["23.10".into()], "23.10");
        let h = partition_hash("hpc-kernels/base:abc", "alpha", "23.10", &files);
        assert_eq!(h, partition_hash("hpc-kernels/base:abc", "alpha", "23.10", &files));
        assert_ne!(h, partition_hash("hpc-kernels/base:abd", "alpha", "23.10", &files));
        assert_ne!(h, partition_hash("hpc-kernels/base:abc", "alpha", "24.04", &files));
        let mut changed = files.clone();
        changed.push(LayerFile { path: "/x".into(), content: Content::Symlink("/y".into()) });
        assert_ne!(h, partition_hash("hpc-kernels/base:abc", "alpha", "23.10", &changed));
        assert_eq!(partition_tag("alpha", "23.10", &h).len(), "hpc-kernels/alpha:23.10-".len() + 12);
    }

    #[test]
    fn partition_dockerfile_snapshot() {
        insta::assert_snapshot!(partition_dockerfile("hpc-kernels/base:0123456789ab", "alpha", "23.10", "HASH"));
    }
}
