//! Real wheels from PyPI: the locked Jupyter stack and any real-stack
//! package a spec pins differently. Downloaded once with the host's pip into
//! `<cache>/wheels/real/` and reused while their recorded hashes match.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use super::requirement::normalize;
use super::version::{parse_version, Specifier};
use crate::error::{Error, Result};

/// The containers run Debian bookworm's CPython 3.11 on x86_64 (glibc 2.36).
const TARGET_PYTHON: &str = "3.11";
const TARGET_ABI: &str = "cp311";
const OLDEST_GLIBC_MINOR: u32 = 17;
const NEWEST_GLIBC_MINOR: u32 = 36;
const MANIFEST: &str = "manifest.tsv";
/// How much of pip's output an error quotes.
const OUTPUT_TAIL_LINES: usize = 15;

/// A real distribution to serve: `name` plus a specifier (`==7.4.0` for the lock).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealRequest {
    pub name: String,
    pub specifier: String,
}

impl RealRequest {
    /// Manifest key: normalised name plus specifier.
    fn key(&self) -> String {
        format!("{}{}", normalize(&self.name), self.specifier)
    }
    fn pip_arg(&self) -> String {
        format!("{}{}", self.name, self.specifier)
    }
}

/// A real wheel present in the cache with a verified hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RealWheel {
    /// Distribution name as the wheel file spells it.
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    pub sha256: String,
}

impl RealWheel {
    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// `(name, version)` from `name-version(-build)?-py-abi-platform.whl`.
pub fn parse_wheel_file_name(file_name: &str) -> Option<(String, String)> {
    let stem = file_name.strip_suffix(".whl")?;
    let parts: Vec<&str> = stem.split('-').collect();
    if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty()) {
        return None;
    }
    Some((parts[0].to_string(), parts[1].to_string()))
}

pub fn sha256_of_file(path: &Path) -> std::io::Result<String> {
    let mut file = fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

/// Manifest lines: `key \t file name \t sha256`.
fn read_manifest(path: &Path) -> BTreeMap<String, (String, String)> {
    let text = fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let (key, file, sha) = (fields.next()?, fields.next()?, fields.next()?);
            Some((key.to_string(), (file.to_string(), sha.to_string())))
        })
        .collect()
}

fn write_manifest(path: &Path, entries: &BTreeMap<String, (String, String)>) -> Result<()> {
    let text: String = entries.iter().map(|(key, (file, sha))| format!("{key}\t{file}\t{sha}\n")).collect();
    let temp = path.with_extension("tsv.tmp");
    fs::write(&temp, text).map_err(|e| Error::io("write the real-wheel manifest", &temp, e))?;
    fs::rename(&temp, path).map_err(|e| Error::io("replace the real-wheel manifest", path, e))
}

/// The cached wheel for `request` if its file is present and unchanged.
fn cached(request: &RealRequest, dir: &Path, manifest: &BTreeMap<String, (String, String)>) -> Option<RealWheel> {
    let (file, sha) = manifest.get(&request.key())?;
    let path = dir.join(file);
    let (name, version) = parse_wheel_file_name(file)?;
    (sha256_of_file(&path).ok()? == *sha).then(|| RealWheel { name, version, path, sha256: sha.clone() })
}

/// Makes sure a verified wheel exists for every request, downloading what is
/// missing; returns them in request order.
pub fn ensure(requests: &[RealRequest], cache_dir: &Path, on_progress: &mut dyn FnMut(&str)) -> Result<Vec<RealWheel>> {
    let dir = cache_dir.join("wheels").join("real");
    let _guard = super::lock_cache_dir(&dir, "wheel cache")?;

    let manifest_path = dir.join(MANIFEST);
    let mut manifest = read_manifest(&manifest_path);
    let missing: Vec<&RealRequest> = requests.iter().filter(|r| cached(r, &dir, &manifest).is_none()).collect();
    if missing.is_empty() {
        on_progress(&format!("real wheels: all {} cached in {}", requests.len(), dir.display()));
    } else {
        on_progress(&format!("real wheels: downloading {} of {} with pip", missing.len(), requests.len()));
        // Requests for the same name (a lock pin and a spec's own pin) go to separate pip calls.
        let mut batches: Vec<Vec<&RealRequest>> = Vec::new();
        for request in missing {
            match batches.iter_mut().find(|b| b.iter().all(|r| normalize(&r.name) != normalize(&request.name))) {
                Some(batch) => batch.push(request),
                None => batches.push(vec![request]),
            }
        }
        let python = super::tools::pip_python(cache_dir)?;
        for batch in batches {
            download(&batch, &dir, &python, &mut manifest)?;
            write_manifest(&manifest_path, &manifest)?;
        }
    }
    requests
        .iter()
        .map(|r| {
            cached(r, &dir, &manifest).ok_or_else(|| {
                Error::environment(format!("the wheel for {} in {} is missing or changed after download", r.pip_arg(), dir.display()))
                    .with_hint(format!("remove {} and run again", dir.display()))
            })
        })
        .collect()
}

fn pip_download_args(dest: &Path) -> Vec<String> {
    let mut args: Vec<String> = ["-m", "pip", "download", "--disable-pip-version-check", "--no-input", "--progress-bar", "off"]
        .into_iter()
        .map(String::from)
        .collect();
    args.extend(["--only-binary=:all:", "--no-deps", "--python-version", TARGET_PYTHON, "--implementation", "cp", "--abi", TARGET_ABI].map(String::from));
    args.extend(["--platform".to_string(), "manylinux2014_x86_64".to_string()]);
    for minor in OLDEST_GLIBC_MINOR..=NEWEST_GLIBC_MINOR {
        args.extend(["--platform".to_string(), format!("manylinux_2_{minor}_x86_64")]);
    }
    args.extend(["--dest".to_string(), dest.display().to_string()]);
    args
}

fn output_tail(output: &std::process::Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n")
}

/// Says which of the two it was: the index could not be reached, or it was
/// reached and has nothing that matches (for CPython 3.11, manylinux x86_64).
fn download_error(wanted: &[String], output: &std::process::Output) -> Error {
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    let unreachable = [
        "NewConnectionError",
        "Failed to establish a new connection",
        "Temporary failure in name resolution",
        "Name or service not known",
        "ProxyError",
        "ConnectTimeoutError",
        "Network is unreachable",
        "Connection refused",
    ];
    let (what, hint) = if unreachable.iter().any(|m| text.contains(m)) {
        (
            "the package index could not be reached",
            "the first run needs PyPI (or a mirror set with PIP_INDEX_URL); later runs reuse the cache",
        )
    } else if text.contains("No matching distribution found") || text.contains("Could not find a version that satisfies") {
        (
            "the package index has no matching distribution",
            "the index was reached: a pin without a CPython 3.11 manylinux x86_64 wheel cannot be served; check the pin",
        )
    } else {
        ("pip failed", "see pip's output above")
    };
    Error::environment(format!("pip download of {}: {what} ({}):\n{}", wanted.join(" "), output.status, output_tail(output)))
        .with_hint(hint)
}

fn download(batch: &[&RealRequest], dir: &Path, python: &Path, manifest: &mut BTreeMap<String, (String, String)>) -> Result<()> {
    let staging = tempfile::Builder::new()
        .prefix(".download-")
        .tempdir_in(dir)
        .map_err(|e| Error::io("create a download dir in", dir, e))?;
    let mut args = pip_download_args(staging.path());
    args.extend(batch.iter().map(|r| r.pip_arg()));
    let wanted: Vec<String> = batch.iter().map(|r| r.pip_arg()).collect();
    let output = Command::new(python).args(&args).output().map_err(|e| {
        Error::environment(format!("cannot run `{} -m pip download` for the real Jupyter stack", python.display()))
            .with_source(e)
            .with_hint("scripts/setup-host.sh makes the tools venv; it downloads the wheels once into the cache")
    })?;
    if !output.status.success() {
        return Err(download_error(&wanted, &output));
    }
    for request in batch {
        let (file, path) = downloaded_file_for(request, staging.path())?;
        let target = dir.join(&file);
        fs::rename(&path, &target).map_err(|e| Error::io("move the downloaded wheel to", &target, e))?;
        let sha = sha256_of_file(&target).map_err(|e| Error::io("hash the downloaded wheel", &target, e))?;
        manifest.insert(request.key(), (file, sha));
    }
    Ok(())
}

/// The file pip downloaded for `request`: same normalised name, a version the
/// specifier allows.
fn downloaded_file_for(request: &RealRequest, staging: &Path) -> Result<(String, PathBuf)> {
    let specifier = Specifier::parse(&request.specifier);
    let entries = fs::read_dir(staging).map_err(|e| Error::io("list the downloaded wheels in", staging, e))?;
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some((name, version)) = parse_wheel_file_name(&file) else { continue };
        let version_ok = match (&specifier, parse_version(&version)) {
            (Some(spec), Some(v)) => spec.allows(&v),
            _ => true,
        };
        if normalize(&name) == normalize(&request.name) && version_ok {
            return Ok((file, entry.path()));
        }
    }
    Err(Error::environment(format!("pip download reported success but left no wheel for {}", request.pip_arg()))
        .with_hint("check the host's pip configuration (pip config list); a wheel file is required"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("ipykernel-7.4.0-py3-none-any.whl", Some(("ipykernel", "7.4.0")))]
    #[case("pyzmq-27.3.0-cp311-cp311-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl", Some(("pyzmq", "27.3.0")))]
    #[case("foo-1.0-1build-py3-none-any.whl", Some(("foo", "1.0")))]
    #[case("foo-1.0.tar.gz", None)]
    #[case("foo-1.0-py3.whl", None)]
    fn parses_wheel_file_names(#[case] file: &str, #[case] expected: Option<(&str, &str)>) {
        assert_eq!(parse_wheel_file_name(file), expected.map(|(n, v)| (n.to_string(), v.to_string())));
    }

    #[test]
    fn pip_targets_bookworm_cpython() {
        let args = pip_download_args(Path::new("/d"));
        let joined = args.join(" ");
        assert!(joined.contains("--only-binary=:all: --no-deps --python-version 3.11 --implementation cp --abi cp311"), "{joined}");
        assert!(joined.contains("--platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64"), "{joined}");
        assert!(joined.contains("--platform manylinux_2_36_x86_64 --dest /d"), "{joined}");
        assert!(!joined.contains("manylinux_2_37"), "bookworm has glibc 2.36: {joined}");
    }

    #[test]
    fn cache_hit_needs_present_file_with_recorded_hash() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = "comm-0.2.3-py3-none-any.whl";
        fs::write(dir.path().join(file), b"wheel bytes").expect("write");
        let sha = sha256_of_file(&dir.path().join(file)).expect("hash");
        let request = RealRequest { name: "comm".into(), specifier: "==0.2.3".into() };
        let mut manifest = BTreeMap::new();
        manifest.insert(request.key(), (file.to_string(), sha.clone()));
        let hit = cached(&request, dir.path(), &manifest).expect("cache hit");
        assert_eq!((hit.name.as_str(), hit.version.as_str(), hit.sha256.as_str()), ("comm", "0.2.3", sha.as_str()));

        fs::write(dir.path().join(file), b"tampered").expect("write");
        assert_eq!(cached(&request, dir.path(), &manifest), None);
        fs::remove_file(dir.path().join(file)).expect("remove");
        assert_eq!(cached(&request, dir.path(), &manifest), None);
    }

    #[test]
    fn manifest_round_trips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join(MANIFEST);
        let mut entries = BTreeMap::new();
        entries.insert("ipykernel==7.4.0".to_string(), ("ipykernel-7.4.0-py3-none-any.whl".to_string(), "ab".repeat(32)));
        write_manifest(&path, &entries).expect("written");
        assert_eq!(read_manifest(&path), entries);
    }
}
