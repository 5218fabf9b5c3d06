//! The run's package index: a record/replay proxy in front of the real
//! indexes, so pip in every cell resolves against the real candidate space and
//! the real metadata, as it does on the cluster.
//!
//! Containers reach it over the run's private Docker network (no other route
//! out) at `http://hpc-kernels-index:<port>/<cell>/<index>/simple/`, the name
//! mapped onto the network's gateway in the cells' `/etc/hosts`. Project pages
//! come from the upstream index (PEP 691) and are kept in the cache; files
//! are passed through and kept by sha256; a wheel over the size budget is
//! replaced by a stand-in built from its real core metadata (see
//! [`stand_in`]). `--offline` serves from the cache alone; `--exclude-newer`
//! serves the index as it was at a date.

mod interpreter;
mod page;
mod server;
mod stand_in;
mod store;
mod upstream;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use page::{FileEntry, ProjectPage};
pub use server::{Declarer, IndexProxy, HOST_IN_CELLS, PREFERRED_PORT};
use store::{PageRecord, Store};
use upstream::{FetchError, Upstream};

/// PyPI's simple index, the default upstream.
pub const PYPI: &str = "https://pypi.org/simple";
/// Default size budget: files above it are served as stand-ins.
pub const DEFAULT_BUDGET: u64 = 40 * 1024 * 1024;
/// A cached project page is reused for this long (without `--exclude-newer`).
pub const DEFAULT_MAX_PAGE_AGE: i64 = 24 * 3600;
const PAGE_LIMIT: u64 = 64 * 1024 * 1024;
const METADATA_LIMIT: u64 = 16 * 1024 * 1024;

/// Which files reach pip as they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WheelPolicy {
    /// Real files up to this many bytes; heavier wheels become stand-ins.
    Budget(u64),
    /// Every file real, whatever its size.
    Real,
    /// Every wheel a stand-in: resolution only.
    Metadata,
}

impl WheelPolicy {
    fn stands_in(&self, file: &FileEntry) -> bool {
        if !file.is_wheel() {
            return false;
        }
        match self {
            WheelPolicy::Real => false,
            WheelPolicy::Metadata => true,
            WheelPolicy::Budget(limit) => file.size.is_some_and(|s| s > *limit),
        }
    }

    pub fn describe(&self) -> String {
        match self {
            WheelPolicy::Budget(limit) => format!("real files up to {}, stand-ins above", human_size(*limit)),
            WheelPolicy::Real => "every file real".into(),
            WheelPolicy::Metadata => "every wheel a stand-in (resolution only)".into(),
        }
    }
}

pub fn human_size(bytes: u64) -> String {
    if bytes >= 1024 * 1024 {
        format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    }
}

#[derive(Clone, Debug)]
pub struct IndexOptions {
    /// Upstream simple-index base URLs; a cell's index `n` is `upstreams[n]`.
    pub upstreams: Vec<String>,
    pub offline: bool,
    /// Seconds since the epoch: files uploaded later do not exist.
    pub exclude_newer: Option<i64>,
    pub wheels: WheelPolicy,
    /// `<cache>/index`.
    pub cache_dir: PathBuf,
    pub max_page_age: i64,
}

/// What the proxy did, for the report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyLog {
    /// Per cell token: the stand-ins it downloaded (`name version (file, size)`).
    pub stand_ins: BTreeMap<String, BTreeSet<String>>,
    /// URLs that could not be served, with why: environment errors of the run.
    pub failures: BTreeSet<String>,
    /// Requests that went to an upstream index.
    pub upstream_requests: usize,
    /// Per cell token: the interpreter version its installer declared, when
    /// the index was presented as that version sees it.
    pub presented_for: BTreeMap<String, String>,
}

/// A reply before it is turned into HTTP.
pub(crate) enum Reply {
    Bytes { status: u16, content_type: &'static str, body: Vec<u8> },
    File { content_type: &'static str, path: PathBuf },
}

impl Reply {
    fn status(status: u16, text: impl Into<String>) -> Reply {
        Reply::Bytes { status, content_type: "text/plain; charset=utf-8", body: text.into().into_bytes() }
    }
}

pub(crate) struct Proxy {
    opts: IndexOptions,
    store: Store,
    upstream: Upstream,
    /// sha256 → (index, file): what pages listed, so files can be fetched.
    files: Mutex<HashMap<String, (usize, FileEntry)>>,
    /// One download per file at a time.
    in_flight: Mutex<HashMap<String, Arc<Mutex<()>>>>,
    log: Mutex<ProxyLog>,
    /// Per cell token: the interpreter its modules declare, told by the
    /// harness for installers that do not say it themselves (uv).
    declared: Mutex<HashMap<String, String>>,
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

impl Proxy {
    pub(crate) fn new(opts: IndexOptions) -> Proxy {
        let store = Store::new(opts.cache_dir.clone());
        Proxy {
            opts,
            store,
            upstream: Upstream::new(),
            files: Mutex::new(HashMap::new()),
            in_flight: Mutex::new(HashMap::new()),
            log: Mutex::new(ProxyLog::default()),
            declared: Mutex::new(HashMap::new()),
        }
    }

    /// Cell `cell`'s modules declare interpreter `version` (e.g. `3.10.4`).
    pub(crate) fn declare(&self, cell: &str, version: &str) {
        if let Ok(mut declared) = self.declared.lock() {
            declared.insert(cell.to_string(), version.to_string());
        }
    }

    pub(crate) fn log(&self) -> ProxyLog {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }

    fn fail(&self, what: String) -> Reply {
        if let Ok(mut log) = self.log.lock() {
            log.failures.insert(what.clone());
        }
        Reply::status(502, format!("hpc-kernels index proxy: {what}\n"))
    }

    fn counted_upstream(&self) {
        if let Ok(mut log) = self.log.lock() {
            log.upstream_requests += 1;
        }
    }

    /// Routes `/<cell>/<index>/…`; `user_agent` may declare the interpreter
    /// pip stands for (see [`interpreter`]).
    pub(crate) fn handle(&self, path: &str, accepts_json: bool, base: &str, user_agent: Option<&str>) -> Reply {
        let path = path.split(['?', '#']).next().unwrap_or("");
        let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let [cell, index, kind, rest @ ..] = parts.as_slice() else {
            return Reply::status(404, "not an index path\n");
        };
        let Some(idx) = index.parse::<usize>().ok().filter(|i| *i < self.opts.upstreams.len()) else {
            return Reply::status(404, "no such index\n");
        };
        let prefix = format!("{base}/{cell}/{idx}");
        match (*kind, rest) {
            ("simple", [project, ..]) if !project.is_empty() => {
                let declared = self.declared.lock().ok().and_then(|d| d.get(*cell).cloned());
                let translation = user_agent.and_then(|ua| interpreter::Translation::from_user_agent(ua, declared.as_deref()));
                if let (Some(t), Ok(mut log)) = (&translation, self.log.lock()) {
                    let (major, minor, _) = t.declared;
                    log.presented_for.insert(cell.to_string(), format!("{major}.{minor}"));
                }
                self.project(idx, project, &prefix, accepts_json, translation.as_ref())
            }
            ("files", [sha, file]) => match file.strip_suffix(".metadata") {
                Some(wheel) => self.metadata(sha, wheel),
                None => self.real_file(sha, file),
            },
            ("stand-in", [sha, file]) => match file.strip_suffix(".metadata") {
                Some(wheel) => self.metadata(sha, wheel),
                None => self.stand_in(cell, sha, file),
            },
            _ => Reply::status(404, "not an index path\n"),
        }
    }

    fn page_is_fresh(&self, record: &PageRecord) -> bool {
        self.opts.offline
            || self.opts.exclude_newer.is_some_and(|cutoff| record.fetched_at > cutoff)
            || now() - record.fetched_at < self.opts.max_page_age
    }

    /// The upstream page of `project` (PEP 503-normalised), from the cache or the index.
    fn upstream_page(&self, idx: usize, project: &str) -> Result<Option<ProjectPage>, String> {
        let url = format!("{}/{}/", self.opts.upstreams[idx].trim_end_matches('/'), normalize(project));
        let cached = self.store.page(&url).filter(|r| self.page_is_fresh(r));
        let record = match cached {
            Some(record) => record,
            None if self.opts.offline => return Err(format!("{url}: not in the cache (--offline)")),
            None => {
                self.counted_upstream();
                let body = match self.upstream.get(&url, Some(upstream::PEP_691_JSON), PAGE_LIMIT) {
                    Ok(body) => Some(self.store.put_blob(&body).map_err(|e| format!("{url}: {}", e.message))?),
                    Err(FetchError::NotFound) => None,
                    Err(FetchError::Failed(why)) => return Err(why),
                };
                let record = PageRecord { url: url.clone(), fetched_at: now(), body };
                self.store.put_page(&record).map_err(|e| format!("{url}: {}", e.message))?;
                record
            }
        };
        let Some(sha) = record.body else { return Ok(None) };
        let path = self.store.blob(&sha).ok_or_else(|| format!("{url}: the cached page is missing from the cache"))?;
        let body = std::fs::read(&path).map_err(|e| format!("{url}: {e}"))?;
        let mut page = page::parse_json(&body).map_err(|e| format!("{url}: {e}"))?;
        if let Some(cutoff) = self.opts.exclude_newer {
            page::exclude_newer(&mut page, cutoff);
        }
        Ok(Some(page))
    }

    fn project(&self, idx: usize, project: &str, prefix: &str, accepts_json: bool, translation: Option<&interpreter::Translation>) -> Reply {
        let page = match self.upstream_page(idx, project) {
            Ok(Some(page)) => page,
            Ok(None) => return Reply::status(404, format!("{project}: no such project on {}\n", self.opts.upstreams[idx])),
            Err(why) => return self.fail(why),
        };
        if let Ok(mut files) = self.files.lock() {
            for f in &page.files {
                if let Some(sha) = f.sha256() {
                    files.insert(sha.to_string(), (idx, f.clone()));
                }
            }
        }
        let policy = self.opts.wheels;
        let presented: HashMap<String, interpreter::Presented> = translation
            .map(|t| page.files.iter().map(|f| f.filename.clone()).zip(t.present_page(&page.files)).collect())
            .unwrap_or_default();
        let present = move |f: &FileEntry| {
            let mut out = f.clone();
            let mut served = if policy.stands_in(f) { page::Served::StandIn } else { page::Served::Real };
            match presented.get(&f.filename).cloned() {
                None | Some(interpreter::Presented::AsIs) => {}
                Some(interpreter::Presented::RequiresPython(rp)) => out.requires_python = rp,
                Some(interpreter::Presented::StandInAs(name)) => {
                    out.filename = name;
                    served = page::Served::StandIn;
                }
                Some(interpreter::Presented::Hidden) => return None,
            }
            Some((out, served))
        };
        let out = page::rewrite(&page, prefix, &present);
        if accepts_json {
            Reply::Bytes { status: 200, content_type: upstream::PEP_691_JSON, body: page::render_json(&out).into_bytes() }
        } else {
            Reply::Bytes { status: 200, content_type: "text/html; charset=utf-8", body: page::render_html(&out).into_bytes() }
        }
    }

    fn listed(&self, sha: &str, file: &str) -> Option<(usize, FileEntry)> {
        let files = self.files.lock().ok()?;
        files.get(sha).filter(|(_, f)| f.filename == file).cloned()
    }

    /// Like [`Self::listed`], also for the file offered under other wheel tags
    /// (same name and version).
    fn listed_as(&self, sha: &str, file: &str) -> Option<(usize, FileEntry)> {
        let files = self.files.lock().ok()?;
        let prefix = |name: &str| name.splitn(3, '-').take(2).collect::<Vec<_>>().join("-");
        files.get(sha).filter(|(_, f)| f.filename == file || (file.ends_with(".whl") && prefix(&f.filename) == prefix(file))).cloned()
    }

    fn download_lock(&self, sha: &str) -> Arc<Mutex<()>> {
        let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(sha.to_string()).or_default().clone()
    }

    /// A blob by sha256: from the cache, else downloaded from `url` and verified.
    fn fetch_blob(&self, sha: &str, url: &str, limit: Option<u64>) -> Result<PathBuf, String> {
        if let Some(path) = self.store.blob(sha) {
            return Ok(path);
        }
        let lock = self.download_lock(sha);
        let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(path) = self.store.blob(sha) {
            return Ok(path);
        }
        if self.opts.offline {
            return Err(format!("{url}: not in the cache (--offline)"));
        }
        self.counted_upstream();
        let temp = self.store.temp_path().map_err(|e| e.message)?;
        let mut file = std::fs::File::create(&temp).map_err(|e| format!("{}: {e}", temp.display()))?;
        match limit {
            Some(limit) => {
                let body = self.upstream.get(url, None, limit).map_err(|e| fetch_text(url, e))?;
                std::io::Write::write_all(&mut file, &body).map_err(|e| format!("{}: {e}", temp.display()))?;
            }
            None => {
                self.upstream.download(url, &mut file).map_err(|e| fetch_text(url, e))?;
            }
        }
        drop(file);
        let kept = temp.keep().map_err(|e| format!("{url}: {e}"))?;
        self.store.adopt_blob(&kept, sha).map_err(|e| format!("{url}: {}", e.message))
    }

    fn real_file(&self, sha: &str, file: &str) -> Reply {
        if let Some(path) = self.store.blob(sha) {
            return Reply::File { content_type: "application/octet-stream", path };
        }
        let Some((_, entry)) = self.listed(sha, file) else {
            return Reply::status(404, format!("{file}: not listed on a page served in this run\n"));
        };
        match self.fetch_blob(sha, &entry.url, None) {
            Ok(path) => Reply::File { content_type: "application/octet-stream", path },
            Err(why) => self.fail(why),
        }
    }

    /// The wheel's core metadata: upstream's PEP 658 file, or else read from
    /// the wheel itself (some wheels on PyPI have none served separately).
    fn metadata_bytes(&self, entry: &FileEntry) -> Result<Vec<u8>, String> {
        if let Some(meta_sha) = entry.metadata_sha256() {
            let path = self.fetch_blob(meta_sha, &format!("{}.metadata", entry.url), Some(METADATA_LIMIT))?;
            return std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()));
        }
        let sha = entry.sha256().ok_or_else(|| format!("{}: the index gives no sha256", entry.url))?;
        let wheel = self.fetch_blob(sha, &entry.url, None)?;
        stand_in::metadata_of_wheel(&wheel).map_err(|why| format!("{}: {why}", entry.url))
    }

    /// The core metadata of a listed wheel, also under the name it was offered as.
    fn metadata(&self, sha: &str, file: &str) -> Reply {
        let Some((_, entry)) = self.listed_as(sha, file) else {
            return Reply::status(404, format!("{file}: not listed on a page served in this run\n"));
        };
        match self.metadata_bytes(&entry) {
            Ok(body) => Reply::Bytes { status: 200, content_type: "text/plain; charset=utf-8", body },
            Err(why) => self.fail(why),
        }
    }

    fn stand_in(&self, cell: &str, sha: &str, file: &str) -> Reply {
        let Some((_, entry)) = self.listed_as(sha, file) else {
            return Reply::status(404, format!("{file}: not listed on a page served in this run\n"));
        };
        let metadata = match self.metadata_bytes(&entry) {
            Ok(m) => m,
            Err(why) => return self.fail(why),
        };
        match stand_in::build(file, &metadata) {
            Ok(wheel) => {
                let (name, version) = entry.name_and_version().unwrap_or_default();
                let size = entry.size.map(|s| format!(", {}", human_size(s))).unwrap_or_default();
                let retagged = if file == entry.filename { String::new() } else { format!(", offered as {file}") };
                let line = format!("{name} {version} ({}{size}{retagged})", entry.filename);
                if let Ok(mut log) = self.log.lock() {
                    log.stand_ins.entry(cell.to_string()).or_default().insert(line);
                }
                Reply::Bytes { status: 200, content_type: "application/octet-stream", body: wheel.bytes }
            }
            Err(e) => self.fail(format!("{file}: {}", e.message)),
        }
    }
}

fn fetch_text(url: &str, e: FetchError) -> String {
    match e {
        FetchError::NotFound => format!("{url}: the index answered 404"),
        FetchError::Failed(why) => why,
    }
}

/// PEP 503 normalisation.
fn normalize(name: &str) -> String {
    crate::harness::wheelhouse::normalize(name)
}

#[cfg(test)]
mod tests;

/// The code for a module-provided package `name==version` in the images,
/// from PyPI, kept in the index cache: a pure-Python wheel of exactly that
/// version; else the nearest later release of the same major version with a
/// wheel for the images' interpreter (CPython `python`, Linux x86_64) and at
/// most `limit` bytes (its code stands in for the module's build, whose
/// metadata stays). `Ok(None)`: neither exists.
pub fn module_code_wheel(
    cache_dir: &std::path::Path,
    name: &str,
    version: &str,
    python: (u64, u64),
    limit: u64,
) -> Result<Option<CodeWheel>, String> {
    let proxy = Proxy::new(IndexOptions {
        upstreams: vec![PYPI.to_string()],
        offline: false,
        exclude_newer: None,
        wheels: WheelPolicy::Real,
        cache_dir: cache_dir.to_path_buf(),
        // A release's files do not change; its page need not be fetched again.
        max_page_age: i64::MAX,
    });
    let Some(page) = proxy.upstream_page(0, name)? else { return Ok(None) };
    let wanted = version.parse::<pep440_rs::Version>().map_err(|e| format!("{name} {version}: {e}"))?;
    let usable = |f: &&FileEntry| f.sha256().is_some() && !matches!(f.yanked, Some(serde_json::Value::Bool(true)) | Some(serde_json::Value::String(_)));
    let version_of = |f: &FileEntry| f.name_and_version().and_then(|(_, v)| v.parse::<pep440_rs::Version>().ok());
    let pure = page.files.iter().filter(usable).find(|f| {
        f.filename.ends_with("-none-any.whl")
            && f.filename.split('-').rev().nth(2).is_some_and(|py| py.split('.').any(|t| t == "py3"))
            && version_of(f).is_some_and(|v| v == wanted)
    });
    let nearest = || {
        page.files
            .iter()
            .filter(usable)
            .filter(|f| f.size.is_some_and(|s| s <= limit) && interpreter::fits_linux_cpython(&f.filename, python))
            .filter_map(|f| version_of(f).map(|v| (v, f)))
            .filter(|(v, _)| *v >= wanted && v.release().first() == wanted.release().first() && !v.any_prerelease())
            .min_by(|a, b| a.0.cmp(&b.0))
            .map(|(_, f)| f)
    };
    let Some(file) = pure.or_else(nearest) else { return Ok(None) };
    let code_version = file.name_and_version().map(|(_, v)| v).unwrap_or_default();
    let sha256 = file.sha256().unwrap_or_default().to_string();
    let path = proxy.fetch_blob(&sha256, &file.url, None)?;
    let exact = version_of(file).is_some_and(|v| v == wanted);
    Ok(Some(CodeWheel { wheel: PureWheel { path, file_name: file.filename.clone(), sha256 }, code_version, exact }))
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PureWheel {
    pub path: PathBuf,
    pub file_name: String,
    pub sha256: String,
}

/// A wheel whose code a module package gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeWheel {
    pub wheel: PureWheel,
    /// The release the code is from.
    pub code_version: String,
    /// The module's own version (a pure-Python wheel): dist-info and all.
    pub exact: bool,
}
