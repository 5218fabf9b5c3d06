//! The proxy's cache: file bodies stored by their sha256 (shared by every run
//! and every index), and the project pages last fetched from each index URL.
//! Writes go to a temporary file renamed into place, so concurrent runs and
//! concurrent requests never read half a file.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// A project page as fetched, with when: the page body is a blob.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PageRecord {
    pub url: String,
    /// Seconds since the Unix epoch.
    pub fetched_at: i64,
    /// sha256 of the body blob; `None` when the index answered 404.
    pub body: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Store {
    pub fn new(root: PathBuf) -> Store {
        Store { root }
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("xx");
        self.root.join("blobs").join(prefix).join(sha256)
    }

    /// The path of a stored blob, if present.
    pub fn blob(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        let path = self.blob_path(sha256);
        (valid && path.is_file()).then_some(path)
    }

    /// Stores `bytes`; returns their sha256.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<String> {
        let sha = sha256_hex(bytes);
        let path = self.blob_path(&sha);
        if !path.is_file() {
            write_atomically(&path, bytes)?;
        }
        Ok(sha)
    }

    /// Moves a downloaded file into the store after checking its sha256.
    pub fn adopt_blob(&self, downloaded: &Path, expected_sha256: &str) -> Result<PathBuf> {
        let actual = crate::harness::wheelhouse::sha256_of_file(downloaded)
            .map_err(|e| Error::io("hash a downloaded file", downloaded, e))?;
        if actual != expected_sha256 {
            let _ = fs::remove_file(downloaded);
            return Err(Error::environment(format!(
                "a download did not match the index's sha256 (expected {expected_sha256}, got {actual})"
            ))
            .with_hint("the index or a proxy between here and it changed the file; run again, and report it if it persists"));
        }
        let path = self.blob_path(expected_sha256);
        create_parent(&path)?;
        fs::rename(downloaded, &path).map_err(|e| Error::io("store a downloaded file", &path, e))?;
        Ok(path)
    }

    /// A temporary path inside the store (same filesystem as the blobs).
    pub fn temp_path(&self) -> Result<tempfile::TempPath> {
        let dir = self.root.join("tmp");
        fs::create_dir_all(&dir).map_err(|e| Error::io("create the index cache", &dir, e))?;
        tempfile::NamedTempFile::new_in(&dir).map(|f| f.into_temp_path()).map_err(|e| Error::io("create a temporary file", &dir, e))
    }

    fn page_path(&self, url: &str) -> PathBuf {
        self.root.join("pages").join(format!("{}.json", sha256_hex(url.as_bytes())))
    }

    pub fn page(&self, url: &str) -> Option<PageRecord> {
        let text = fs::read(self.page_path(url)).ok()?;
        serde_json::from_slice::<PageRecord>(&text).ok().filter(|r| r.url == url)
    }

    pub fn put_page(&self, record: &PageRecord) -> Result<()> {
        let text = serde_json::to_vec_pretty(record).map_err(|e| Error::internal("cannot encode a page record").with_source(e))?;
        write_atomically(&self.page_path(&record.url), &text)
    }
}

fn create_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create the index cache", parent, e))?;
    }
    Ok(())
}

fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    create_parent(path)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io("create a temporary file", dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io("write the index cache", tmp.path(), e))?;
    tmp.persist(path).map_err(|e| Error::io("write the index cache", path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let sha = store.put_blob(b"hello").unwrap();
        assert_eq!(sha, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
        assert_eq!(store.put_blob(b"hello").unwrap(), sha);
        assert_eq!(fs::read(store.blob(&sha).unwrap()).unwrap(), b"hello");
        assert!(store.blob("../../etc/passwd").is_none());
        assert!(store.blob(&"0".repeat(64)).is_none());
    }

    #[test]
    fn adopting_a_file_with_the_wrong_hash_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let tmp = store.temp_path().unwrap();
        fs::write(&tmp, b"payload").unwrap();
        let err = store.adopt_blob(&tmp, &"a".repeat(64)).unwrap_err();
        assert!(err.message.contains("did not match"), "{}", err.message);
        let tmp = store.temp_path().unwrap();
        fs::write(&tmp, b"payload").unwrap();
        let path = store.adopt_blob(&tmp, &sha256_hex(b"payload")).unwrap();
        assert_eq!(fs::read(path).unwrap(), b"payload");
    }

    #[test]
    fn pages_are_keyed_by_url() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path().to_path_buf());
        let record = PageRecord { url: "https://pypi.org/simple/six/".into(), fetched_at: 5, body: Some("ab".into()) };
        store.put_page(&record).unwrap();
        assert_eq!(store.page("https://pypi.org/simple/six/"), Some(record));
        assert_eq!(store.page("https://pypi.org/simple/seven/"), None);
    }
}
