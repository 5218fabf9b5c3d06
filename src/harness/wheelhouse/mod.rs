//! Hermetic pip: a wheelhouse and PEP 503 index served to the containers.
//!
//! Real wheels for the Jupyter stack (locked in
//! `containers/wheelhouse/jupyter-stack.txt`, downloaded once and cached),
//! small generated wheels for every other requirement of a spec. The result
//! lives in `<cache>/wheelhouse/<content-hash>/` and is reused while its
//! content is unchanged; containers get it read-only at [`CONTAINER_MOUNT`].

mod generated;
mod import_names;
mod index;
mod real;
mod requirement;
mod selection;
pub mod tools;
mod version;

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

pub use generated::{build_wheel, pack_wheel, record_hash, BuiltWheel, WheelSpec};
pub use real::sha256_of_file;
pub use import_names::import_name;
pub use requirement::{normalize, parse_requirement, requirements_in_args, requirements_of, Requirement};
pub use selection::JUPYTER_STACK_LOCK;

use index::{ServedFile, WheelSource};
use crate::error::{Error, Result};
use crate::spec::Spec;

/// Where containers see the wheelhouse (read-only).
pub const CONTAINER_MOUNT: &str = "/opt/hpc-kernels/wheelhouse";
const CONTAINER_INDEX_URL: &str = "file:///opt/hpc-kernels/wheelhouse/simple";
/// Changes whenever the layout or the generated wheels change shape.
const FORMAT_VERSION: &str = "hpc-kernels wheelhouse 1";

/// A distribution the wheelhouse serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedPackage {
    pub name: String,
    pub version: String,
    /// A generated stand-in, not the real package.
    pub emulated: bool,
}

#[derive(Clone, Debug)]
pub struct Wheelhouse {
    /// Contains `simple/`, `wheels/` and `served.json`.
    pub dir: PathBuf,
    pub packages: Vec<ServedPackage>,
}

/// Creates `dir` and holds an exclusive lock on `dir/.lock` until the
/// returned guard drops: one writer per cache directory, across processes.
pub(super) fn lock_cache_dir(dir: &Path, what: &str) -> Result<nix::fcntl::Flock<fs::File>> {
    fs::create_dir_all(dir).map_err(|e| Error::io(&format!("create the {what}"), dir, e))?;
    let lock_path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io(&format!("open the {what} lock"), &lock_path, e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| Error::io(&format!("lock the {what}"), &lock_path, e.into()))
}

impl Wheelhouse {
    /// Builds (or reuses) the wheelhouse that serves every requirement of `spec`.
    pub fn prepare(spec: &Spec, cache_dir: &Path, on_progress: &mut dyn FnMut(&str)) -> Result<Wheelhouse> {
        let lock = selection::parse_lock(JUPYTER_STACK_LOCK).map_err(|e| {
            Error::internal(format!("the embedded containers/wheelhouse/jupyter-stack.txt is malformed: {e}"))
                .with_hint("rebuild hpc-kernels from a commit whose lock file passes its unit tests")
        })?;
        let requirements: Vec<Requirement> = requirements_of(spec).into_iter().flatten().collect();
        let chosen = selection::select(&lock, &requirements);
        for (raw, reason) in &chosen.unservable {
            on_progress(&format!("not served: {raw}: {reason} (pip will fail on it, as it would on PyPI)"));
        }
        let real = real::ensure(&chosen.real, cache_dir, on_progress)?;
        let mut files: Vec<ServedFile> = Vec::new();
        for wheel in real {
            if files.iter().any(|f| f.file_name == wheel.file_name()) {
                continue;
            }
            files.push(ServedFile {
                file_name: wheel.file_name(),
                name: wheel.name,
                version: wheel.version,
                sha256: wheel.sha256,
                emulated: false,
                source: WheelSource::Cached(wheel.path),
            });
        }
        for wheel_spec in &chosen.generated {
            let built = build_wheel(wheel_spec)?;
            files.push(ServedFile {
                name: wheel_spec.name.clone(),
                version: wheel_spec.version.clone(),
                sha256: hex::encode(Sha256::digest(&built.bytes)),
                file_name: built.file_name,
                emulated: true,
                source: WheelSource::Generated(built.bytes),
            });
        }
        on_progress(&format!("wheelhouse: {} real and {} generated wheels", files.iter().filter(|f| !f.emulated).count(), chosen.generated.len()));

        let root = cache_dir.join("wheelhouse");
        let dir = root.join(content_hash(&files));
        if is_complete(&dir) {
            on_progress(&format!("wheelhouse: reusing {}", dir.display()));
        } else {
            build_atomically(&root, &dir, &files)?;
            on_progress(&format!("wheelhouse: built {}", dir.display()));
        }
        let packages = files
            .into_iter()
            .map(|f| ServedPackage { name: f.name, version: f.version, emulated: f.emulated })
            .collect();
        Ok(Wheelhouse { dir, packages })
    }

    /// `file://` URL of `<dir>/simple` on the host.
    pub fn index_url(&self) -> String {
        format!("file://{}", index::percent_encode(&self.dir.join("simple").to_string_lossy(), true))
    }

    /// The index URL inside a container that mounts the wheelhouse at [`CONTAINER_MOUNT`].
    pub fn container_index_url() -> &'static str {
        CONTAINER_INDEX_URL
    }

    /// The generated stand-ins, to be reported as emulated.
    pub fn emulated(&self) -> Vec<&ServedPackage> {
        self.packages.iter().filter(|p| p.emulated).collect()
    }
}

/// Hash of the lock and of every served file (name and content).
fn content_hash(files: &[ServedFile]) -> String {
    let mut sorted: Vec<&ServedFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.file_name.cmp(&b.file_name));
    let mut hasher = Sha256::new();
    for part in [FORMAT_VERSION, JUPYTER_STACK_LOCK] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    for file in sorted {
        for part in [file.file_name.as_str(), file.sha256.as_str(), if file.emulated { "emulated" } else { "real" }] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
    }
    hex::encode(&hasher.finalize()[..8])
}

/// The rename into place is the last step, so an existing index means a complete tree.
fn is_complete(dir: &Path) -> bool {
    dir.join("simple").join("index.html").is_file()
}

fn build_atomically(root: &Path, dir: &Path, files: &[ServedFile]) -> Result<()> {
    fs::create_dir_all(root).map_err(|e| Error::io("create the wheelhouse cache", root, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(root)
        .map_err(|e| Error::io("create a staging dir in", root, e))?;
    index::write_wheelhouse(staging.path(), files)?;
    match fs::rename(staging.path(), dir) {
        Ok(()) => Ok(()),
        // Another run finished the same wheelhouse first; theirs is identical.
        Err(_) if is_complete(dir) => Ok(()),
        Err(e) => Err(Error::io("move the finished wheelhouse to", dir, e)
            .with_hint(format!("remove {} if it is left over from an interrupted run", dir.display()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_urls() {
        let house = Wheelhouse { dir: PathBuf::from("/cache/wheel house/ab12"), packages: vec![] };
        assert_eq!(house.index_url(), "file:///cache/wheel%20house/ab12/simple");
        assert_eq!(Wheelhouse::container_index_url(), format!("file://{CONTAINER_MOUNT}/simple"));
    }

    fn generated(name: &str, version: &str) -> ServedFile {
        let built = build_wheel(&WheelSpec { name: name.into(), version: version.into(), extras: vec![] }).expect("builds");
        ServedFile {
            name: name.into(),
            version: version.into(),
            sha256: hex::encode(Sha256::digest(&built.bytes)),
            file_name: built.file_name,
            emulated: true,
            source: WheelSource::Generated(built.bytes),
        }
    }

    #[test]
    fn content_hash_depends_on_the_served_set_not_its_order() {
        let a = vec![generated("numpy", "1.0.0"), generated("bs4", "1.0.0")];
        let b = vec![generated("bs4", "1.0.0"), generated("numpy", "1.0.0")];
        let c = vec![generated("bs4", "1.0.0"), generated("numpy", "1.26")];
        assert_eq!(content_hash(&a), content_hash(&b));
        assert_ne!(content_hash(&a), content_hash(&c));
    }

    #[test]
    fn builds_in_staging_and_renames_into_place() {
        let root = tempfile::tempdir().expect("temp dir");
        let files = vec![generated("numpy", "1.0.0")];
        let dir = root.path().join(content_hash(&files));
        build_atomically(root.path(), &dir, &files).expect("built");
        assert!(is_complete(&dir));
        // A second build of the same content (a concurrent run) is accepted.
        build_atomically(root.path(), &dir, &files).expect("rebuilt");
        let leftovers: Vec<_> = fs::read_dir(root.path()).expect("list").flatten().map(|e| e.file_name()).collect();
        assert_eq!(leftovers, vec![dir.file_name().expect("name").to_owned()], "no staging dirs left");
    }
}
