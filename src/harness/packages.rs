//! Where pip in the cells gets its packages. By default from the run's index
//! proxy ([`super::index`]) over the run's private network: real resolution
//! against the real index. `--wheels synthetic` keeps the generated
//! wheelhouse of earlier versions (offline, fast, and proving nothing about
//! resolution, which every cell then says).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::index::{self, IndexOptions, IndexProxy, WheelPolicy};
use super::network::RunNetwork;
use super::wheelhouse::{Wheelhouse, CONTAINER_MOUNT};
use crate::error::{Error, Result};
use crate::spec::{PipGroup, Spec};

/// `--wheels`: what the cells install.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum WheelsMode {
    /// Real files up to the budget, stand-ins with real metadata above it.
    Budget,
    /// Every file real, whatever its size.
    Real,
    /// Every wheel a stand-in with its real metadata: resolution only.
    Metadata,
    /// Generated import-only wheels with no metadata: no resolution at all.
    Synthetic,
}

#[derive(Clone, Debug)]
pub struct PackageOptions {
    pub wheels: WheelsMode,
    /// Bytes; files above it are stand-ins under `--wheels budget`.
    pub budget: u64,
    pub offline: bool,
    /// As given by the user, and as seconds since the epoch.
    pub exclude_newer: Option<(String, i64)>,
    /// The spec's index URL → the upstream recorded for it.
    pub index_map: Vec<(String, String)>,
}

impl Default for PackageOptions {
    fn default() -> Self {
        PackageOptions { wheels: WheelsMode::Budget, budget: index::DEFAULT_BUDGET, offline: false, exclude_newer: None, index_map: Vec::new() }
    }
}

/// Parses `--exclude-newer`: an RFC 3339 timestamp or a date (midnight UTC).
pub fn parse_exclude_newer(text: &str) -> Result<(String, i64), String> {
    let seconds = match text.parse::<jiff::Timestamp>() {
        Ok(t) => t.as_second(),
        Err(_) => text
            .parse::<jiff::civil::Date>()
            .map_err(|e| format!("{text:?} is neither a date (2024-06-30) nor a timestamp (2024-06-30T12:00:00Z): {e}"))?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|e| e.to_string())?
            .timestamp()
            .as_second(),
    };
    Ok((text.to_string(), seconds))
}

pub enum Packages {
    Synthetic(Wheelhouse),
    Index(IndexRun),
}

pub struct IndexRun {
    // Field order matters: the proxy stops before the network goes.
    proxy: IndexProxy,
    network: RunNetwork,
    /// Index `n ≥ 1` of the proxy serves `spec_indexes[n - 1]`.
    spec_indexes: Vec<String>,
    upstreams: Vec<String>,
    opts: PackageOptions,
}

/// What one cell's install needs to reach its packages.
#[derive(Clone, Debug, Default)]
pub struct CellPackages {
    pub network: Option<String>,
    /// `/etc/hosts` entries of the cell's container.
    pub hosts: Vec<(String, IpAddr)>,
    /// Tells the index which interpreter the cell's modules declare, for an
    /// installer that does not say it itself (uv).
    pub declare: Option<index::Declarer>,
    pub mounts: Vec<(PathBuf, String)>,
    /// Arguments for `hpc-kernels install`.
    pub install_args: Vec<String>,
    /// Environment for `hpc-kernels install`.
    pub env: Vec<(String, String)>,
}

/// Every index location the spec's pip groups name, in first-seen order.
fn spec_indexes(spec: &Spec) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for group in spec.pip_module_groups.values() {
        let lists: Vec<&Vec<String>> = match group {
            PipGroup::Common { args } => vec![args],
            PipGroup::PerPartition { args } => args.values().collect(),
        };
        for url in lists.into_iter().flat_map(|a| crate::plan::index::index_locations(a)) {
            let key = url.trim_end_matches('/').to_string();
            if seen.insert(key.clone()) {
                out.push(key);
            }
        }
    }
    out
}

impl Packages {
    pub fn prepare(spec: &Spec, opts: &PackageOptions, cache_dir: &Path, run_id: &str, on_progress: &mut dyn FnMut(&str)) -> Result<Packages> {
        if opts.wheels == WheelsMode::Synthetic {
            return Ok(Packages::Synthetic(Wheelhouse::prepare(spec, cache_dir, on_progress)?));
        }
        let spec_indexes = spec_indexes(spec);
        let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
        if let Some((from, _)) =
            opts.index_map.iter().find(|(from, _)| !same(from, index::PYPI) && !spec_indexes.iter().any(|i| same(from, i)))
        {
            return Err(Error::usage(format!("--index-map {from}=…: the spec names no such index"))
                .with_hint(format!("indexes the spec names: {}", std::iter::once(index::PYPI).chain(spec_indexes.iter().map(String::as_str)).collect::<Vec<_>>().join(", "))));
        }
        let upstream_of = |url: &str| {
            opts.index_map
                .iter()
                .find(|(from, _)| from.trim_end_matches('/') == url.trim_end_matches('/'))
                .map(|(_, to)| to.trim_end_matches('/').to_string())
                .unwrap_or_else(|| url.trim_end_matches('/').to_string())
        };
        let mut upstreams = vec![upstream_of(index::PYPI)];
        upstreams.extend(spec_indexes.iter().map(|u| upstream_of(u)));
        for u in &upstreams {
            if !(u.starts_with("https://") || u.starts_with("http://")) {
                return Err(Error::usage(format!("index {u}: the index proxy records only http(s) indexes"))
                    .with_hint("map it onto one with --index-map FROM=https://…, or use --wheels synthetic"));
            }
        }
        let network = RunNetwork::create(run_id)?;
        let wheels = match opts.wheels {
            WheelsMode::Real => WheelPolicy::Real,
            WheelsMode::Metadata => WheelPolicy::Metadata,
            _ => WheelPolicy::Budget(opts.budget),
        };
        let proxy = IndexProxy::start(
            network.gateway,
            index::PREFERRED_PORT,
            Some(index::HOST_IN_CELLS),
            IndexOptions {
                upstreams: upstreams.clone(),
                offline: opts.offline,
                exclude_newer: opts.exclude_newer.as_ref().map(|(_, s)| *s),
                wheels,
                cache_dir: cache_dir.join("index"),
                max_page_age: index::DEFAULT_MAX_PAGE_AGE,
            },
        )?;
        on_progress(&format!("package index: {} ({})", upstreams.join(", "), wheels.describe()));
        Ok(Packages::Index(IndexRun { proxy, network, spec_indexes, upstreams, opts: opts.clone() }))
    }

    /// Whether a cell's index URLs are the same in every run (they are part
    /// of its venv's path).
    pub fn stable_urls(&self) -> bool {
        match self {
            Packages::Synthetic(_) => true,
            Packages::Index(run) => run.proxy.at_preferred_port(),
        }
    }

    /// `cell` names the cell in the proxy's log (path-safe).
    pub fn for_cell(&self, cell: &str) -> CellPackages {
        match self {
            Packages::Synthetic(wheelhouse) => {
                let index = Wheelhouse::container_index_url().to_string();
                CellPackages {
                    network: None,
                    hosts: Vec::new(),
                    declare: None,
                    mounts: vec![(wheelhouse.dir.clone(), CONTAINER_MOUNT.to_string())],
                    install_args: vec!["--index-url".into(), index.clone(), "--index-map".into(), format!("*={index}")],
                    env: Vec::new(),
                }
            }
            Packages::Index(run) => {
                let mut install_args = vec!["--index-url".into(), run.proxy.index_url(cell, 0)];
                for (n, url) in run.spec_indexes.iter().enumerate() {
                    install_args.push("--index-map".into());
                    install_args.push(format!("{url}={}", run.proxy.index_url(cell, n + 1)));
                }
                CellPackages {
                    network: Some(run.network.name.clone()),
                    hosts: vec![(index::HOST_IN_CELLS.to_string(), run.network.gateway)],
                    declare: Some(run.proxy.declarer(cell)),
                    mounts: Vec::new(),
                    install_args,
                    // pip refuses plain-HTTP indexes on hosts it is not told to trust.
                    env: vec![("PIP_TRUSTED_HOST".into(), index::HOST_IN_CELLS.to_string())],
                }
            }
        }
    }

    /// The run's notes: which index, which date, what the cells could not reach.
    pub fn notes(&self) -> Vec<String> {
        match self {
            Packages::Synthetic(wheelhouse) => {
                let emulated: Vec<String> = wheelhouse.emulated().iter().map(|p| format!("{}=={}", p.name, p.version)).collect();
                let mut notes = vec![format!(
                    "--wheels synthetic: pip ran against the generated wheelhouse ({}), containers without network; \
                     no verdict of this run says anything about how pip resolves on the cluster",
                    Wheelhouse::container_index_url()
                )];
                if !emulated.is_empty() {
                    notes.push(format!("generated stand-ins (no Requires-Dist, no Requires-Python): {}", emulated.join(", ")));
                }
                notes
            }
            Packages::Index(run) => {
                let mut notes = Vec::new();
                let mapped: Vec<String> = std::iter::once(index::PYPI.to_string())
                    .chain(run.spec_indexes.iter().cloned())
                    .zip(&run.upstreams)
                    .map(|(from, to)| if from == *to { from } else { format!("{from} served from {to}") })
                    .collect();
                notes.push(format!("package index: {} (recorded in the cache, reached by the containers over the run's private network only)", mapped.join("; ")));
                let date = match &run.opts.exclude_newer {
                    Some((text, _)) => format!("as it was on {text} (--exclude-newer)"),
                    None => "as it is now (pass --exclude-newer DATE for a reproducible run)".into(),
                };
                let mode = if run.opts.offline { "replayed from the cache (--offline)" } else { "live, cached for a day" };
                notes.push(format!("index state: {date}; {mode}"));
                let wheels = match run.opts.wheels {
                    WheelsMode::Real => "every file real (--wheels real)".to_string(),
                    WheelsMode::Metadata => "every wheel a stand-in with its real metadata (--wheels metadata): imports and tests of them prove nothing".into(),
                    _ => format!("real files up to {}; heavier wheels are stand-ins with their real metadata (each cell names its own)", index::human_size(run.opts.budget)),
                };
                notes.push(format!("wheels: {wheels}"));
                notes.push(format!("requests that went to an index this run: {} (0: everything came from the cache)", run.proxy.log().upstream_requests));
                notes
            }
        }
    }

    /// What this cell's verdict rests on besides real packages.
    pub fn cell_notes(&self, cell: &str) -> Vec<String> {
        match self {
            Packages::Synthetic(_) => vec!["packages from the generated wheelhouse: this verdict proves nothing about resolution".into()],
            Packages::Index(run) => run
                .proxy
                .log()
                .stand_ins
                .get(cell)
                .map(|s| vec![format!("stand-ins installed (real metadata, no real code; checks of them prove only the import): {}", s.iter().cloned().collect::<Vec<_>>().join(", "))])
                .unwrap_or_default(),
        }
    }

    /// The interpreter version the index was presented for in this cell, if any.
    pub fn presented_for(&self, cell: &str) -> Option<String> {
        match self {
            Packages::Synthetic(_) => None,
            Packages::Index(run) => run.proxy.log().presented_for.get(cell).cloned(),
        }
    }

    /// Index requests that could not be served: the run's environment failed.
    pub fn failures(&self) -> Vec<String> {
        match self {
            Packages::Synthetic(_) => Vec::new(),
            Packages::Index(run) => run.proxy.log().failures.into_iter().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rstest::rstest]
    #[case("2024-06-30", 1_719_705_600)]
    #[case("2024-06-30T00:00:00Z", 1_719_705_600)]
    #[case("2024-06-30T02:00:00+02:00", 1_719_705_600)]
    fn exclude_newer_takes_dates_and_timestamps(#[case] text: &str, #[case] seconds: i64) {
        assert_eq!(parse_exclude_newer(text), Ok((text.to_string(), seconds)));
    }

    #[rstest::rstest]
    #[case("yesterday")]
    #[case("2024-13-01")]
    #[case("")]
    fn exclude_newer_refuses_the_rest(#[case] text: &str) {
        assert!(parse_exclude_newer(text).is_err());
    }

    #[test]
    fn an_index_map_for_an_index_the_spec_does_not_name_is_refused() {
        let report = crate::spec::lint_bytes(
            Path::new("t.json"),
            br#"{"modules_by_cluster": {"alpha": "x"}, "pip_module_groups": {"a": "six"},
                "kernels": {"k": {"name": "K", "pip_dependencies": ["a"], "check_libs": "six", "test_script": "true"}}}"#,
        );
        let spec = report.spec.expect("a valid spec");
        let opts = PackageOptions { index_map: vec![("https://download.pytorch.org/whl/cpu".into(), PYPI_MIRROR.into())], ..Default::default() };
        let err = Packages::prepare(&spec, &opts, Path::new("/nonexistent"), "t", &mut |_| {}).err().expect("refused");
        assert!(err.message.contains("--index-map https://download.pytorch.org/whl/cpu=…: the spec names no such index"), "{}", err.message);
        assert_eq!(err.exit_code(), crate::error::ExitCode::Usage);
    }

    const PYPI_MIRROR: &str = "https://mirror.example/simple";

    #[test]
    fn spec_indexes_are_collected_once_in_order() {
        let report = crate::spec::lint_bytes(
            Path::new("t.json"),
            br#"{"modules_by_cluster": {"alpha": "x"},
                "pip_module_groups": {"a": "torch --index-url https://download.pytorch.org/whl/cpu/",
                  "b": {"pip_complex": {"alpha": "x --extra-index-url https://mirror/simple -i https://download.pytorch.org/whl/cpu"}}},
                "kernels": {"k": {"name": "K", "pip_dependencies": ["a", "b"], "check_libs": "x", "test_script": "true"}}}"#,
        );
        let spec = report.spec.expect("a valid spec");
        assert_eq!(spec_indexes(&spec), vec!["https://download.pytorch.org/whl/cpu", "https://mirror/simple"]);
    }
}
