//! The wheelhouse directory: `wheels/` plus a PEP 503 `simple/` index whose
//! links are relative, so it works on the host and under the container mount.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::requirement::normalize;
use crate::error::{Error, Result};

/// Where a served wheel's bytes come from.
#[derive(Clone, Debug)]
pub enum WheelSource {
    /// A file in the real-wheel cache.
    Cached(std::path::PathBuf),
    Generated(Vec<u8>),
}

/// One wheel file in the wheelhouse.
#[derive(Clone, Debug)]
pub struct ServedFile {
    pub name: String,
    pub version: String,
    pub file_name: String,
    /// Hex sha256 of the file.
    pub sha256: String,
    pub emulated: bool,
    pub source: WheelSource,
}

/// Everything outside `[A-Za-z0-9._~-]` percent-encoded (and `/` kept when asked).
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let c = char::from(byte);
        if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-') || (keep_slash && c == '/') {
            out.push(c);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn page(title: &str, links: &[(String, String)]) -> String {
    let mut html = format!("<!DOCTYPE html>\n<html>\n  <head>\n    <meta name=\"pypi:repository-version\" content=\"1.0\">\n    <title>{}</title>\n  </head>\n  <body>\n", crate::report::html_escape(title));
    for (href, text) in links {
        html.push_str(&format!("    <a href=\"{}\">{}</a><br/>\n", crate::report::html_escape(href), crate::report::html_escape(text)));
    }
    html.push_str("  </body>\n</html>\n");
    html
}

/// The pages of the simple index: relative path under `simple/` → HTML.
pub fn simple_pages(files: &[ServedFile]) -> BTreeMap<String, String> {
    let mut projects: BTreeMap<String, Vec<&ServedFile>> = BTreeMap::new();
    for file in files {
        projects.entry(normalize(&file.name)).or_default().push(file);
    }
    let mut pages = BTreeMap::new();
    let root_links: Vec<(String, String)> = projects.keys().map(|p| (format!("{p}/"), p.clone())).collect();
    pages.insert("index.html".to_string(), page("Simple index", &root_links));
    for (project, mut files) in projects {
        files.sort_by(|a, b| a.file_name.cmp(&b.file_name));
        let links: Vec<(String, String)> = files
            .iter()
            .map(|f| (format!("../../wheels/{}#sha256={}", percent_encode(&f.file_name, false), f.sha256), f.file_name.clone()))
            .collect();
        pages.insert(format!("{project}/index.html"), page(&format!("Links for {project}"), &links));
    }
    pages
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| Error::io("set permissions of", path, e))
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(path, bytes).map_err(|e| Error::io("write", path, e))?;
    set_mode(path, 0o644)
}

/// Fills an empty `dir` with `wheels/`, `simple/` and `served.json`; every
/// file world-readable so any container user can read the read-only mount.
pub fn write_wheelhouse(dir: &Path, files: &[ServedFile]) -> Result<()> {
    let wheels = dir.join("wheels");
    fs::create_dir_all(&wheels).map_err(|e| Error::io("create", &wheels, e))?;
    for file in files {
        let target = wheels.join(&file.file_name);
        match &file.source {
            WheelSource::Generated(bytes) => write_file(&target, bytes)?,
            WheelSource::Cached(path) => {
                if fs::hard_link(path, &target).is_err() {
                    fs::copy(path, &target).map_err(|e| Error::io("copy the cached wheel to", &target, e))?;
                    set_mode(&target, 0o644)?;
                }
            }
        }
    }
    for (relative, html) in simple_pages(files) {
        let target = dir.join("simple").join(&relative);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|e| Error::io("create", parent, e))?;
            set_mode(parent, 0o755)?;
        }
        write_file(&target, html.as_bytes())?;
    }
    let listing: Vec<serde_json::Value> = files
        .iter()
        .map(|f| serde_json::json!({"name": f.name, "version": f.version, "file": f.file_name, "sha256": f.sha256, "emulated": f.emulated}))
        .collect();
    let json = serde_json::to_string_pretty(&listing).unwrap_or_default();
    write_file(&dir.join("served.json"), json.as_bytes())?;
    set_mode(&wheels, 0o755)?;
    set_mode(&dir.join("simple"), 0o755)?;
    set_mode(dir, 0o755)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(name: &str, version: &str, file_name: &str) -> ServedFile {
        ServedFile {
            name: name.into(),
            version: version.into(),
            file_name: file_name.into(),
            sha256: "0f".repeat(32),
            emulated: true,
            source: WheelSource::Generated(file_name.as_bytes().to_vec()),
        }
    }

    #[test]
    fn project_pages_link_wheels_relatively_with_hashes() {
        let files = vec![
            served("Pillow", "1.0.0", "pillow-1.0.0-py3-none-any.whl"),
            served("ipykernel", "7.4.0", "ipykernel-7.4.0-py3-none-any.whl"),
            served("ipykernel", "6.0.0", "ipykernel-6.0.0-py3-none-any.whl"),
            served("local", "1.0+cu1", "local-1.0+cu1-py3-none-any.whl"),
        ];
        let pages = simple_pages(&files);
        let keys: Vec<&str> = pages.keys().map(String::as_str).collect();
        assert_eq!(keys, ["index.html", "ipykernel/index.html", "local/index.html", "pillow/index.html"]);
        insta::assert_snapshot!(pages["ipykernel/index.html"]);
        assert!(pages["local/index.html"].contains("href=\"../../wheels/local-1.0%2Bcu1-py3-none-any.whl#sha256="));
        assert!(pages["index.html"].contains("<a href=\"pillow/\">pillow</a>"));
    }

    #[test]
    fn writes_a_readable_tree() {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = dir.path().join("house");
        fs::create_dir(&out).expect("create");
        set_mode(&out, 0o700).expect("chmod");
        write_wheelhouse(&out, &[served("comm", "0.2.3", "comm-0.2.3-py3-none-any.whl")]).expect("written");
        for rel in ["", "wheels", "simple", "simple/comm"] {
            let mode = fs::metadata(out.join(rel)).expect("exists").permissions().mode() & 0o777;
            assert_eq!(mode, 0o755, "{rel}");
        }
        let wheel = out.join("wheels/comm-0.2.3-py3-none-any.whl");
        assert_eq!(fs::read(&wheel).expect("wheel"), b"comm-0.2.3-py3-none-any.whl");
        assert_eq!(fs::metadata(&wheel).expect("wheel").permissions().mode() & 0o777, 0o644);
        let listing: serde_json::Value = serde_json::from_slice(&fs::read(out.join("served.json")).expect("json")).expect("valid json");
        assert_eq!(listing[0]["name"], "comm");
    }
}
