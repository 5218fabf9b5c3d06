//! `images import-spider`: takes a spider export from a real partition, validates
//! it against the overlay, and stores it as `containers/<partition>/spider.json`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::data::PartitionInfo;
use super::generate;
use super::overlay::Overlay;
use super::spider;
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Imported {
    pub partition: String,
    pub written: PathBuf,
    pub modules: usize,
    pub releases: Vec<String>,
    /// True when the partition was added to partitions.json.
    pub new_partition: bool,
}

fn valid_partition_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// Validates `file` and copies it into `containers_dir`; a new partition gets
/// an entry in `partitions.json` with node name `host`.
pub fn import_spider(file: &Path, partition: &str, host: &str, containers_dir: &Path) -> Result<Imported> {
    if !valid_partition_name(partition) {
        return Err(Error::usage(format!("\"{partition}\" is not a partition name"))
            .with_hint("use the first label of the partition's domain, e.g. alpha for alpha.hpc.tu-dresden.de"));
    }
    if !valid_partition_name(host) {
        return Err(Error::usage(format!("\"{host}\" is not a host name label")).with_hint("e.g. login1"));
    }
    let text = fs::read_to_string(file)
        .map_err(|e| Error::io_arg("read the spider export", file, e).with_hint("export it with `$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH > FILE`"))?;
    let origin = file.display().to_string();
    let tree = spider::parse(&origin, &text)?;
    if tree.modules.is_empty() {
        return Err(Error::usage(format!("{origin}: the export lists no modules"))
            .with_hint("run spider with the partition's full MODULEPATH"));
    }
    let overlay_path = containers_dir.join("overlay.json");
    let overlay_text = fs::read_to_string(&overlay_path)
        .map_err(|e| Error::io("read", &overlay_path, e).with_hint("pass --containers-dir pointing at the repository's containers/"))?;
    let overlay = Overlay::parse(&overlay_path.display().to_string(), &overlay_text)?;
    // Fails when the overlay makes a module depend on one this partition lacks.
    generate::generate(&tree, &overlay, &origin)?;

    let partitions_path = containers_dir.join("partitions.json");
    let partitions_text = fs::read_to_string(&partitions_path).map_err(|e| Error::io("read", &partitions_path, e))?;
    let mut partitions: BTreeMap<String, PartitionInfo> = serde_json::from_str(&partitions_text).map_err(|e| {
        Error::usage(format!("{}: invalid partition list", partitions_path.display())).with_source(e).with_hint("fix the JSON by hand")
    })?;
    let new_partition = !partitions.contains_key(partition);
    let dir = containers_dir.join(partition);
    fs::create_dir_all(&dir).map_err(|e| Error::io("create", &dir, e))?;
    let written = dir.join("spider.json");
    fs::write(&written, &text).map_err(|e| Error::io("write", &written, e))?;
    if new_partition {
        partitions.insert(partition.to_string(), PartitionInfo { host: host.to_string(), description: String::new(), login_release: None });
        let mut out = String::from("{\n");
        let entries: Vec<String> = partitions
            .iter()
            .map(|(name, info)| {
                let mut entry = serde_json::json!({"host": info.host, "description": info.description});
                if let Some(release) = &info.login_release {
                    entry["login_release"] = serde_json::json!(release);
                }
                format!("  {}: {entry}", serde_json::json!(name))
            })
            .collect();
        out.push_str(&entries.join(",\n"));
        out.push_str("\n}\n");
        fs::write(&partitions_path, out).map_err(|e| Error::io("write", &partitions_path, e))?;
    }
    Ok(Imported { partition: partition.into(), written, modules: tree.modules.len(), releases: tree.releases(), new_partition })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn containers(dir: &Path) {
        fs::write(dir.join("overlay.json"), r#"{"modules": {"GCC": {"depends_on": ["GCCcore/11.3.0"]}}}"#).expect("write");
        fs::write(dir.join("partitions.json"), r#"{"alpha": {"host": "login1", "description": "GPU", "login_release": "24.04"}}"#).expect("write");
    }

    #[test]
    fn imports_a_new_partition() {
        let tmp = tempfile::tempdir().expect("tempdir");
        containers(tmp.path());
        let export = tmp.path().join("capella.json");
        fs::write(
            &export,
            r#"[{"package": "release", "versions": [{"full": "release/24.04", "properties": {"lmod": {"sticky": 1}}}]},
                {"package": "GCCcore", "versions": [{"full": "GCCcore/11.3.0", "parent": [["release/24.04"]]}]},
                {"package": "GCC", "versions": [{"full": "GCC/11.3.0", "parent": [["release/24.04"]]}]}]"#,
        )
        .expect("write");
        let imported = import_spider(&export, "capella", "c1", tmp.path()).expect("import");
        assert_eq!(imported.modules, 3);
        assert_eq!(imported.releases, ["24.04"]);
        assert!(imported.new_partition);
        let partitions = fs::read_to_string(tmp.path().join("partitions.json")).expect("read");
        let parsed: BTreeMap<String, PartitionInfo> = serde_json::from_str(&partitions).expect("valid JSON");
        assert_eq!(parsed["capella"].host, "c1");
        assert_eq!(parsed["alpha"].description, "GPU");
        assert_eq!(parsed["alpha"].login_release(), "24.04", "kept when a partition is added");
        assert_eq!(parsed["capella"].login_release(), "23.10");
    }

    #[test]
    fn rejects_exports_the_overlay_cannot_serve() {
        let tmp = tempfile::tempdir().expect("tempdir");
        containers(tmp.path());
        let export = tmp.path().join("x.json");
        fs::write(&export, r#"[{"package": "GCC", "versions": [{"full": "GCC/11.3.0"}]}]"#).expect("write");
        let err = import_spider(&export, "alpha", "login1", tmp.path()).expect_err("GCCcore missing");
        assert!(err.message.contains("depends on GCCcore/11.3.0"), "{}", err.message);
        assert!(!tmp.path().join("alpha").exists());
        assert!(import_spider(&export, "Alpha!", "login1", tmp.path()).is_err());
    }
}
