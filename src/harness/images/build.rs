//! Drives Docker: the rootfs (mmdebstrap, cached as a tarball), the base image,
//! and one layer per partition × release. Every step first asks Docker whether
//! an image with the content-hash tag exists; if so nothing is built.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use super::data::{self, Source};
use super::generate::{self, Content, LayerFile};
use super::module_wheels;
use super::recipe;
use super::{identity, BuildOptions, BuiltImage, ImageEvent};
use crate::error::{Error, Result};
use crate::harness::docker::{self, LABEL};

/// One partition × release to build, prepared before Docker is touched.
struct LayerPlan {
    partition: String,
    release: String,
    files: Vec<LayerFile>,
    /// Real code of module packages, unpacked by the layer's script.
    wheels: Vec<module_wheels::ModuleWheel>,
    emulated: std::collections::BTreeMap<String, Vec<String>>,
}

pub fn build(opts: &BuildOptions, on_event: &mut dyn FnMut(ImageEvent)) -> Result<Vec<BuiltImage>> {
    let plans = plan_layers(opts)?;
    docker::ensure_available()?;
    fs::create_dir_all(&opts.cache_dir)
        .map_err(|e| Error::io("create the cache directory", &opts.cache_dir, e).with_hint("set HPC_KERNELS_CACHE to a writable directory"))?;
    let lock_path = opts.cache_dir.join("images.lock");
    let lock_file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("open the lock file", &lock_path, e).with_hint("set HPC_KERNELS_CACHE to a writable directory"))?;
    let mut lock = fd_lock::RwLock::new(lock_file);
    let _guard = lock
        .write()
        .map_err(|e| Error::io("lock", &lock_path, e).with_hint("another hpc-kernels build may hold it; retry"))?;

    let base_tag = ensure_base(opts, on_event)?;
    let mut built = Vec::new();
    for plan in plans {
        built.push(ensure_layer(&base_tag, plan, on_event)?);
    }
    Ok(built)
}

/// Validates partitions and releases and generates every layer, so that data
/// errors surface before any Docker work.
fn plan_layers(opts: &BuildOptions) -> Result<Vec<LayerPlan>> {
    let source = Source::from_env();
    let known = source.partitions()?;
    let overlay = source.overlay()?;
    let partitions: Vec<String> =
        if opts.partitions.is_empty() { known.keys().cloned().collect() } else { opts.partitions.clone() };
    let mut plans = Vec::new();
    let mut found = std::collections::BTreeMap::new();
    for partition in &partitions {
        let Some(id) = identity(partition).filter(|_| known.contains_key(partition)) else {
            let names = known.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(Error::environment(format!("unknown partition \"{partition}\""))
                .with_hint(format!("known partitions: {names} (add one with `hpc-kernels images import-spider`)")));
        };
        let releases: Vec<String> =
            if opts.releases.is_empty() { vec![known[partition].login_release().to_string()] } else { opts.releases.clone() };
        let (tree, _) = source.tree(partition)?;
        let available = tree.releases();
        let mut files = generate::generate(&tree, &overlay, &data::origin_label(partition))?;
        let packages = module_wheels::collect(&tree, &overlay, &opts.cache_dir, &mut found)?;
        files.push(module_wheels::install_script(&packages.wheels));
        for release in &releases {
            if !available.contains(release) {
                return Err(Error::usage(format!("release \"{release}\" does not exist on {partition}"))
                    .with_hint(format!("releases of {partition}: {}", available.join(", "))));
            }
            let mut layer = files.clone();
            layer.extend(recipe::site_files(partition, &id, &available, release));
            layer.sort();
            plans.push(LayerPlan { partition: partition.clone(), release: release.clone(), files: layer, wheels: packages.wheels.clone(), emulated: packages.emulated.clone() });
        }
    }
    Ok(plans)
}

fn timed<T>(step: &str, detail: String, on_event: &mut dyn FnMut(ImageEvent), work: impl FnOnce() -> Result<T>) -> Result<T> {
    on_event(ImageEvent::Started { step: step.to_string(), detail });
    let start = Instant::now();
    let result = work()?;
    on_event(ImageEvent::Finished { step: step.to_string(), elapsed: start.elapsed() });
    Ok(result)
}

fn ensure_base(opts: &BuildOptions, on_event: &mut dyn FnMut(ImageEvent)) -> Result<String> {
    let hash = recipe::sha256_hex(&recipe::base_recipe(opts.base_image.as_deref()));
    let tag = recipe::base_tag(&hash);
    if docker::image_id(&tag)?.is_some() {
        on_event(ImageEvent::Cached { step: "base".into(), tag: tag.clone() });
        return Ok(tag);
    }
    if let Some(image) = &opts.base_image {
        let context = tempfile::tempdir().map_err(|e| Error::io("create a build context in", &std::env::temp_dir(), e))?;
        write_file(&context.path().join("Dockerfile"), &recipe::base_dockerfile(image), false)?;
        timed("base", format!("apt-get install in {image}"), on_event, || {
            docker_build(&tag, context.path(), &format!("base image from {image}"))
        })?;
        return Ok(tag);
    }
    let tarball = rootfs_tarball(opts, &hash, on_event)?;
    timed("base", format!("docker import {}", tarball.display()), on_event, || {
        let mut args = vec!["import".to_string()];
        for change in recipe::import_changes(&hash) {
            args.push("--change".into());
            args.push(change);
        }
        args.push(tarball.display().to_string());
        args.push(tag.clone());
        docker::output("docker import (base image)", &args).map(drop)
    })?;
    Ok(tag)
}

/// The cached rootfs tarball, made by mmdebstrap when absent.
fn rootfs_tarball(opts: &BuildOptions, hash: &str, on_event: &mut dyn FnMut(ImageEvent)) -> Result<PathBuf> {
    let dir = opts.cache_dir.join("rootfs");
    let tarball = dir.join(format!("base-{}.tar", recipe::short(hash)));
    if tarball.is_file() {
        on_event(ImageEvent::Cached { step: "rootfs".into(), tag: tarball.display().to_string() });
        return Ok(tarball);
    }
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let partial = dir.join(format!("base-{}.tar.partial", recipe::short(hash)));
    let mirrors = apt_mirrors();
    timed("rootfs", format!("mmdebstrap {} ({})", recipe::SUITE, mirrors.join(" ")), on_event, || {
        let mut cmd = Command::new("mmdebstrap");
        cmd.args(recipe::mmdebstrap_options())
            .arg("--format=tar")
            .arg(recipe::SUITE)
            .arg(&partial)
            .args(&mirrors)
            .env("SOURCE_DATE_EPOCH", recipe::SOURCE_DATE_EPOCH.to_string())
            .stdin(Stdio::null());
        let out = cmd.output().map_err(|e| {
            let hint = "install it (`apt-get install mmdebstrap`), or pass --base-image IMAGE to build from a Debian image";
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::environment("mmdebstrap is not installed").with_hint(hint)
            } else {
                Error::environment("cannot run mmdebstrap").with_source(e).with_hint(hint)
            }
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(15).collect::<Vec<_>>().into_iter().rev().collect();
            let _ = fs::remove_file(&partial);
            return Err(Error::environment(format!("mmdebstrap {} failed", recipe::SUITE))
                .with_source(docker::DockerStderr(tail.join("\n")))
                .with_hint("check that the apt mirror is reachable; set HPC_KERNELS_APT_MIRROR to a mirror URL or a sources file"));
        }
        fs::rename(&partial, &tarball).map_err(|e| Error::io("move the rootfs tarball to", &tarball, e))
    })?;
    Ok(tarball)
}

/// `$HPC_KERNELS_APT_MIRROR`, else the host's Debian apt sources, else deb.debian.org.
fn apt_mirrors() -> Vec<String> {
    if let Some(m) = std::env::var("HPC_KERNELS_APT_MIRROR").ok().filter(|m| !m.trim().is_empty()) {
        return vec![m];
    }
    let mut files: Vec<PathBuf> = Vec::new();
    let main = Path::new("/etc/apt/sources.list");
    if main.is_file() {
        files.push(main.to_path_buf());
    }
    if let Ok(entries) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut listed: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "list" || x == "sources"))
            .collect();
        listed.sort();
        files.extend(listed);
    }
    let debian: Vec<String> = files
        .into_iter()
        .filter(|p| {
            fs::read_to_string(p).is_ok_and(|text| {
                text.lines().any(|l| !l.trim_start().starts_with('#') && l.contains("/debian"))
            })
        })
        .map(|p| p.display().to_string())
        .collect();
    if debian.is_empty() {
        vec!["http://deb.debian.org/debian".into()]
    } else {
        debian
    }
}

fn ensure_layer(base_tag: &str, plan: LayerPlan, on_event: &mut dyn FnMut(ImageEvent)) -> Result<BuiltImage> {
    let LayerPlan { partition, release, files, wheels, emulated } = plan;
    let hash = recipe::partition_hash(base_tag, &partition, &release, &files);
    let tag = recipe::partition_tag(&partition, &release, &hash);
    let step = format!("{partition} {release}");
    if let Some(id) = docker::image_id(&tag)? {
        on_event(ImageEvent::Cached { step, tag: tag.clone() });
        return Ok(BuiltImage { partition, release, tag, id, content_hash: hash, cached: true, emulated_packages: emulated });
    }
    let context = tempfile::tempdir().map_err(|e| Error::io("create a build context in", &std::env::temp_dir(), e))?;
    let root = context.path().join("root");
    for file in &files {
        write_layer_file(&root, file)?;
    }
    open_directories(&root)?;
    let wheel_dir = context.path().join("module-wheels");
    fs::create_dir_all(&wheel_dir).map_err(|e| Error::io("create", &wheel_dir, e))?;
    for w in &wheels {
        let target = wheel_dir.join(&w.code.wheel.file_name);
        fs::copy(&w.code.wheel.path, &target).map_err(|e| Error::io("copy a module wheel into the build context", &target, e))?;
    }
    let dockerfile = recipe::partition_dockerfile(base_tag, &partition, &release, &hash);
    write_file(&context.path().join("Dockerfile"), &dockerfile, false)?;
    let count = files.len();
    timed(&step, format!("docker build {tag} ({count} files)"), on_event, || {
        docker_build(&tag, context.path(), &format!("image {partition} {release}"))
    })?;
    let id = docker::image_id(&tag)?.ok_or_else(|| Error::internal(format!("docker build made no image {tag}")))?;
    Ok(BuiltImage { partition, release, tag, id, content_hash: hash, cached: false, emulated_packages: emulated })
}

/// COPY carries directory modes into the image: make them 0755 whatever the umask.
fn open_directories(root: &Path) -> Result<()> {
    for entry in walkdir::WalkDir::new(root) {
        let entry = entry.map_err(|e| {
            Error::environment(format!("cannot walk the build context {}", root.display())).with_source(e).with_hint("check free space and permissions of TMPDIR")
        })?;
        if entry.file_type().is_dir() {
            fs::set_permissions(entry.path(), fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("set permissions of", entry.path(), e))?;
        }
    }
    Ok(())
}

fn docker_build(tag: &str, context: &Path, what: &str) -> Result<()> {
    let context = context.display().to_string();
    let args = ["build", "--quiet", "--label", &format!("{LABEL}=true"), "--tag", tag, &context];
    docker::output(&format!("docker build ({what})"), args).map(drop)
}

fn write_layer_file(root: &Path, file: &LayerFile) -> Result<()> {
    let relative = file.path.trim_start_matches('/');
    if relative.split('/').any(|part| part == ".." || part.is_empty()) {
        return Err(Error::internal(format!("refusing to write layer file outside the context: {}", file.path))
            .with_hint("module names and overlay paths must not contain `..` or empty segments"));
    }
    let path = root.join(relative);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
    }
    match &file.content {
        Content::File { text, executable } => write_file(&path, text, *executable),
        Content::Symlink(target) => symlink(target, &path).map_err(|e| Error::io("create the symlink", &path, e)),
    }
}

fn write_file(path: &Path, text: &str, executable: bool) -> Result<()> {
    let mut f = fs::File::create(path).map_err(|e| Error::io("create", path, e))?;
    f.write_all(text.as_bytes()).map_err(|e| Error::io("write", path, e))?;
    let mode = if executable { 0o755 } else { 0o644 };
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io("set permissions of", path, e))
}

/// The tag `build` would give the (single) image `opts` selects, without building.
pub(super) fn expected_tag(opts: &BuildOptions) -> Result<String> {
    let plan = plan_layers(opts)?
        .into_iter()
        .next()
        .ok_or_else(|| Error::usage("no partition selected").with_hint("name a partition, e.g. alpha"))?;
    let base_tag = recipe::base_tag(&recipe::sha256_hex(&recipe::base_recipe(opts.base_image.as_deref())));
    let hash = recipe::partition_hash(&base_tag, &plan.partition, &plan.release, &plan.files);
    Ok(recipe::partition_tag(&plan.partition, &plan.release, &hash))
}
