//! Project pages of the simple repository API: read from an upstream index
//! (PEP 691 JSON), filtered for the run (`--exclude-newer`), and served to pip
//! again as JSON (PEP 691) or HTML (PEP 503) with every file URL pointing at
//! the proxy and the core metadata advertised as upstream has it (PEP 658/714).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One file of a project, as the index lists it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct FileEntry {
    pub filename: String,
    pub url: String,
    #[serde(default)]
    pub hashes: BTreeMap<String, String>,
    #[serde(rename = "requires-python", default, skip_serializing_if = "Option::is_none")]
    pub requires_python: Option<String>,
    /// `true`, `false` or `{"sha256": …}` (PEP 714 name).
    #[serde(rename = "core-metadata", default, skip_serializing_if = "Option::is_none")]
    pub core_metadata: Option<Value>,
    /// The PEP 658 name some indexes still send instead.
    #[serde(rename = "dist-info-metadata", default, skip_serializing_if = "Option::is_none")]
    pub dist_info_metadata: Option<Value>,
    /// `false`, `true` or the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub yanked: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    #[serde(rename = "upload-time", default, skip_serializing_if = "Option::is_none")]
    pub upload_time: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct ProjectPage {
    pub name: String,
    pub files: Vec<FileEntry>,
}

impl FileEntry {
    pub fn sha256(&self) -> Option<&str> {
        self.hashes.get("sha256").map(String::as_str).filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    pub fn is_wheel(&self) -> bool {
        self.filename.ends_with(".whl")
    }

    /// The sha256 of the file's core metadata, when upstream serves it.
    pub fn metadata_sha256(&self) -> Option<&str> {
        let value = self.core_metadata.as_ref().or(self.dist_info_metadata.as_ref())?;
        value.get("sha256").and_then(Value::as_str)
    }

    /// Seconds since the epoch of the upload, if the index says.
    pub fn uploaded_at(&self) -> Option<i64> {
        let text = self.upload_time.as_deref()?;
        text.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
    }

    /// Name and version from a wheel or sdist file name.
    pub fn name_and_version(&self) -> Option<(String, String)> {
        let stem = self
            .filename
            .strip_suffix(".whl")
            .or_else(|| self.filename.strip_suffix(".tar.gz"))
            .or_else(|| self.filename.strip_suffix(".zip"))?;
        if self.is_wheel() {
            let mut parts = stem.splitn(3, '-');
            return Some((parts.next()?.to_string(), parts.next()?.to_string()));
        }
        let (name, version) = stem.rsplit_once('-')?;
        Some((name.to_string(), version.to_string()))
    }
}

/// Parses an upstream PEP 691 response.
pub fn parse_json(body: &[u8]) -> Result<ProjectPage, String> {
    serde_json::from_slice(body).map_err(|e| format!("not a PEP 691 project page: {e}"))
}

/// Keeps the files uploaded at or before `cutoff` (seconds since the epoch).
/// A file without an upload time cannot be placed in time and is dropped, so
/// the page never holds a file that may be newer than the cutoff.
pub fn exclude_newer(page: &mut ProjectPage, cutoff: i64) -> usize {
    let before = page.files.len();
    page.files.retain(|f| f.uploaded_at().is_some_and(|t| t <= cutoff));
    before - page.files.len()
}

/// How a file reaches pip: passed through, or replaced by a stand-in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    Real,
    StandIn,
}

/// The page as the proxy serves it: every URL rewritten to `base/…`.
/// `present` gives each file as offered (its name and `Requires-Python` may
/// change, see `interpreter`) and how it is served, or hides it. Stand-ins
/// carry no hash (pip checks none then); their core metadata is upstream's,
/// byte for byte.
pub fn rewrite(page: &ProjectPage, base: &str, present: &dyn Fn(&FileEntry) -> Option<(FileEntry, Served)>) -> ProjectPage {
    let files = page
        .files
        .iter()
        .filter_map(|f| {
            let sha = f.sha256()?;
            let (mut out, served) = present(f)?;
            match served {
                Served::Real => out.url = format!("{base}/files/{sha}/{}", out.filename),
                Served::StandIn => {
                    out.url = format!("{base}/stand-in/{sha}/{}", out.filename);
                    out.hashes.clear();
                    out.size = None;
                }
            }
            // Absent rather than `false` when there is none: pip 23.0 (Debian 12's)
            // reads a present `false` as a hash and fails.
            let metadata = f.metadata_sha256().map(|m| serde_json::json!({ "sha256": m }));
            out.core_metadata = metadata.clone();
            out.dist_info_metadata = metadata;
            Some(out)
        })
        .collect();
    ProjectPage { name: page.name.clone(), files }
}

pub fn render_json(page: &ProjectPage) -> String {
    let mut versions: Vec<String> = page.files.iter().filter_map(|f| f.name_and_version().map(|(_, v)| v)).collect();
    versions.dedup();
    serde_json::json!({
        "meta": { "api-version": "1.1" },
        "name": page.name,
        "versions": versions,
        "files": page.files,
    })
    .to_string()
}

pub fn render_html(page: &ProjectPage) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html>\n<head><meta name=\"pypi:repository-version\" content=\"1.1\"><title>Links for {0}</title></head>\n<body>\n<h1>Links for {0}</h1>\n",
        escape(&page.name)
    );
    for f in &page.files {
        let mut href = f.url.clone();
        if let Some(sha) = f.sha256() {
            href.push_str(&format!("#sha256={sha}"));
        }
        let mut attrs = format!("href=\"{}\"", escape(&href));
        if let Some(rp) = &f.requires_python {
            attrs.push_str(&format!(" data-requires-python=\"{}\"", escape(rp)));
        }
        if let Some(m) = f.metadata_sha256() {
            attrs.push_str(&format!(" data-core-metadata=\"sha256={m}\" data-dist-info-metadata=\"sha256={m}\""));
        }
        match &f.yanked {
            Some(Value::String(reason)) => attrs.push_str(&format!(" data-yanked=\"{}\"", escape(reason))),
            Some(Value::Bool(true)) => attrs.push_str(" data-yanked=\"\""),
            _ => {}
        }
        html.push_str(&format!("<a {attrs}>{}</a><br/>\n", escape(&f.filename)));
    }
    html.push_str("</body>\n</html>\n");
    html
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIX: &str = r#"{"meta":{"api-version":"1.1"},"name":"six","versions":["1.16.0","1.17.0"],"files":[
      {"filename":"six-1.16.0-py2.py3-none-any.whl","url":"https://files.example/six-1.16.0-py2.py3-none-any.whl",
       "hashes":{"sha256":"8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"},
       "requires-python":">=2.7, !=3.0.*","core-metadata":{"sha256":"1111111111111111111111111111111111111111111111111111111111111111"},
       "size":11053,"upload-time":"2021-05-05T14:18:17.123456Z","yanked":false},
      {"filename":"six-1.17.0-py2.py3-none-any.whl","url":"https://files.example/six-1.17.0-py2.py3-none-any.whl",
       "hashes":{"sha256":"4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"},
       "core-metadata":false,"size":11050,"upload-time":"2024-12-04T17:35:26Z","yanked":"broken"}]}"#;

    fn six() -> ProjectPage {
        parse_json(SIX.as_bytes()).unwrap()
    }

    #[test]
    fn parses_pep_691_with_its_optional_fields() {
        let page = six();
        assert_eq!(page.files.len(), 2);
        let f = &page.files[0];
        assert_eq!(f.requires_python.as_deref(), Some(">=2.7, !=3.0.*"));
        assert_eq!(f.metadata_sha256(), Some("1111111111111111111111111111111111111111111111111111111111111111"));
        assert_eq!(f.name_and_version(), Some(("six".into(), "1.16.0".into())));
        assert_eq!(page.files[1].metadata_sha256(), None);
        assert!(parse_json(b"<html>").is_err());
    }

    #[test]
    fn exclude_newer_drops_later_and_undated_files() {
        let mut page = six();
        page.files.push(FileEntry { upload_time: None, filename: "six-0.1.tar.gz".into(), ..page.files[0].clone() });
        let cutoff = "2023-01-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap().as_second();
        assert_eq!(exclude_newer(&mut page, cutoff), 2);
        assert_eq!(page.files.len(), 1);
        assert_eq!(page.files[0].filename, "six-1.16.0-py2.py3-none-any.whl");
    }

    #[test]
    fn rewritten_urls_point_at_the_proxy_and_stand_ins_lose_their_hash() {
        let page = six();
        let served = |f: &FileEntry| Some((f.clone(), if f.filename.contains("1.16") { Served::StandIn } else { Served::Real }));
        let out = rewrite(&page, "http://10.0.0.1:9/c1/0", &served);
        assert_eq!(
            out.files[0].url,
            "http://10.0.0.1:9/c1/0/stand-in/8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254/six-1.16.0-py2.py3-none-any.whl"
        );
        assert!(out.files[0].hashes.is_empty());
        assert_eq!(out.files[0].core_metadata, Some(serde_json::json!({"sha256": "1111111111111111111111111111111111111111111111111111111111111111"})));
        assert!(out.files[1].url.starts_with("http://10.0.0.1:9/c1/0/files/4721f391"));
        assert_eq!(out.files[1].core_metadata, None);
        let json: Value = serde_json::from_str(&render_json(&out)).unwrap();
        assert_eq!(json["versions"], serde_json::json!(["1.16.0", "1.17.0"]));
        assert_eq!(json["files"][1]["yanked"], "broken");
        let html = render_html(&out);
        assert!(html.contains("data-requires-python=\"&gt;=2.7, !=3.0.*\""), "{html}");
        assert!(html.contains("data-yanked=\"broken\""), "{html}");
        assert!(html.contains("#sha256=4721f391"), "{html}");
    }
}
