//! A stand-in for a wheel too heavy to serve: the same file name (so the same
//! name, version and tags), upstream's METADATA byte for byte (so the same
//! `Requires-Python`, `Requires-Dist` with markers and extras), and a package
//! under the real import name whose `__init__` says what it is.

use crate::error::{Error, Result};
use crate::harness::wheelhouse::{import_name, pack_wheel, BuiltWheel};

/// Marker attribute of every stand-in module; tests and users can look for it.
pub const MARKER: &str = "__hpc_kernels_stand_in__";

/// Builds the stand-in for the wheel `file_name` from its real core metadata.
pub fn build(file_name: &str, metadata: &[u8]) -> Result<BuiltWheel> {
    let fields = WheelName::parse(file_name)
        .ok_or_else(|| Error::internal(format!("{file_name} is not a wheel file name")).with_hint("only wheels get stand-ins"))?;
    let dist_info = format!("{}-{}.dist-info", fields.name, fields.version);
    let name = metadata_field(metadata, "Name").unwrap_or_else(|| fields.name.clone());
    let version = metadata_field(metadata, "Version").unwrap_or_else(|| fields.version.clone());
    let module = import_name(&name);
    let init_path = format!("{}/__init__.py", module.replace('.', "/"));
    let init = format!(
        "\"\"\"Stand-in for {name} {version} ({file_name}), served by hpc-kernels instead of a file over the size budget.\"\"\"\n__version__ = {version:?}\n{MARKER} = True\n"
    );
    let wheel = format!(
        "Wheel-Version: 1.0\nGenerator: hpc-kernels stand-in\nRoot-Is-Purelib: true\n{}",
        fields.tags().iter().map(|t| format!("Tag: {t}\n")).collect::<String>()
    );
    let files: Vec<(String, Vec<u8>)> = vec![
        (init_path, init.into_bytes()),
        (format!("{dist_info}/METADATA"), metadata.to_vec()),
        (format!("{dist_info}/WHEEL"), wheel.into_bytes()),
        (format!("{dist_info}/HPC_KERNELS_STAND_IN"), format!("{file_name}\n").into_bytes()),
    ];
    let bytes = pack_wheel(files, &dist_info, &format!("the stand-in for {file_name}"))?;
    Ok(BuiltWheel { file_name: file_name.to_string(), bytes })
}

/// The `METADATA` of the wheel at `path` (its `*.dist-info/METADATA`).
pub fn metadata_of_wheel(path: &std::path::Path) -> std::result::Result<Vec<u8>, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| format!("not a wheel: {e}"))?;
    let name = archive
        .file_names()
        .find(|n| n.matches('/').count() == 1 && n.ends_with(".dist-info/METADATA"))
        .map(String::from)
        .ok_or("the wheel has no .dist-info/METADATA")?;
    let mut entry = archive.by_name(&name).map_err(|e| format!("{name}: {e}"))?;
    let mut bytes = Vec::new();
    entry.by_ref().take(16 * 1024 * 1024).read_to_end(&mut bytes).map_err(|e| format!("{name}: {e}"))?;
    Ok(bytes)
}

/// `name-version(-build)?-python-abi-platform.whl`, with compressed tag sets.
struct WheelName {
    name: String,
    version: String,
    python: String,
    abi: String,
    platform: String,
}

impl WheelName {
    fn parse(file_name: &str) -> Option<WheelName> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) || parts.iter().any(|p| p.is_empty() || p.contains('/')) {
            return None;
        }
        let n = parts.len();
        Some(WheelName {
            name: parts[0].to_string(),
            version: parts[1].to_string(),
            python: parts[n - 3].to_string(),
            abi: parts[n - 2].to_string(),
            platform: parts[n - 1].to_string(),
        })
    }

    /// The expanded tags (`py2.py3-none-any` → two tags).
    fn tags(&self) -> Vec<String> {
        let mut tags = Vec::new();
        for p in self.python.split('.') {
            for a in self.abi.split('.') {
                for pl in self.platform.split('.') {
                    tags.push(format!("{p}-{a}-{pl}"));
                }
            }
        }
        tags
    }
}

/// The first `Field: value` header of a METADATA file.
fn metadata_field(metadata: &[u8], field: &str) -> Option<String> {
    let text = String::from_utf8_lossy(metadata);
    let prefix = format!("{field}:");
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| l.strip_prefix(&prefix).map(|v| v.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Cursor, Read};

    const TORCH_METADATA: &str = "Metadata-Version: 2.1\nName: torch\nVersion: 2.1.2\nRequires-Python: >=3.8.0\nRequires-Dist: filelock\nRequires-Dist: nvidia-cudnn-cu12 ==8.9.2.26 ; platform_system == \"Linux\" and platform_machine == \"x86_64\"\nProvides-Extra: opt-einsum\n\nlong description\n";

    fn entries(wheel: &BuiltWheel) -> Vec<(String, String)> {
        let mut archive = zip::ZipArchive::new(Cursor::new(&wheel.bytes)).unwrap();
        (0..archive.len())
            .map(|i| {
                let mut f = archive.by_index(i).unwrap();
                let mut text = String::new();
                f.read_to_string(&mut text).unwrap();
                (f.name().to_string(), text)
            })
            .collect()
    }

    #[test]
    fn keeps_file_name_tags_and_metadata_verbatim() {
        let name = "torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl";
        let wheel = build(name, TORCH_METADATA.as_bytes()).unwrap();
        assert_eq!(wheel.file_name, name);
        let files = entries(&wheel);
        let get = |p: &str| files.iter().find(|(n, _)| n == p).map(|(_, t)| t.clone()).unwrap_or_else(|| panic!("{p} missing: {files:?}"));
        assert_eq!(get("torch-2.1.2.dist-info/METADATA"), TORCH_METADATA);
        assert!(get("torch-2.1.2.dist-info/WHEEL").contains("Tag: cp311-cp311-manylinux1_x86_64\n"));
        assert!(get("torch/__init__.py").contains("__version__ = \"2.1.2\"\n__hpc_kernels_stand_in__ = True"));
        assert!(get("torch-2.1.2.dist-info/RECORD").contains("torch/__init__.py,sha256="));
        assert_eq!(build(name, TORCH_METADATA.as_bytes()).unwrap().bytes, wheel.bytes, "deterministic");
    }

    #[test]
    fn expands_compressed_tag_sets_and_uses_namespace_import_names() {
        let wheel = build(
            "nvidia_cudnn_cu12-8.9.2.26-py3.py2-none-manylinux1_x86_64.manylinux2014_x86_64.whl",
            b"Metadata-Version: 2.1\nName: nvidia-cudnn-cu12\nVersion: 8.9.2.26\n",
        )
        .unwrap();
        let files = entries(&wheel);
        let wheel_file = &files.iter().find(|(n, _)| n.ends_with("/WHEEL")).unwrap().1;
        assert_eq!(wheel_file.matches("Tag: ").count(), 4, "{wheel_file}");
        assert!(files.iter().any(|(n, _)| n == "nvidia/cudnn/__init__.py"), "{files:?}");
    }

    #[test]
    fn reads_the_metadata_back_out_of_a_wheel() {
        let wheel = build("torch-2.1.2-cp311-cp311-manylinux1_x86_64.whl", TORCH_METADATA.as_bytes()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(&wheel.file_name);
        std::fs::write(&path, &wheel.bytes).unwrap();
        assert_eq!(metadata_of_wheel(&path).unwrap(), TORCH_METADATA.as_bytes());
        std::fs::write(&path, b"not a zip").unwrap();
        assert!(metadata_of_wheel(&path).unwrap_err().starts_with("not a wheel"));
    }

    #[test]
    fn refuses_what_is_not_a_wheel() {
        assert!(build("torch-2.1.2.tar.gz", b"").is_err());
        assert!(build("../x-1-py3-none-any.whl", b"").is_err());
    }
}
