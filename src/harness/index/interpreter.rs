//! The index as the declared interpreter sees it. An emulated `Python/3.10.4`
//! module runs Debian's CPython 3.11, but pip on the cluster decides with
//! 3.10: which `Requires-Python` admit a file and which wheel tags fit. The
//! module tells the proxy what it stands for (pip's User-Agent carries
//! `PIP_USER_AGENT_USER_DATA=hpc-kernels-python=3.10.4`), and the proxy
//! presents each file so that pip on the emulating interpreter makes the
//! declared interpreter's choice:
//!
//! * a release the declared version installs from a wheel is installed here
//!   from the same release's wheel for the emulating interpreter (real code,
//!   same metadata) where there is one; where there is none (a `cp310`-only
//!   release), the declared version's wheel is offered under tags pip here
//!   accepts, as a stand-in with the real metadata;
//! * a file the declared version may not install is made unacceptable here
//!   too: its `Requires-Python` gains `!=3.11.*`, or the wheel is withheld.

use std::str::FromStr;

use pep440_rs::{Version, VersionSpecifiers};

use super::page::FileEntry;

/// The declared and the running interpreter of one pip, when they differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Translation {
    pub declared: (u64, u64, u64),
    pub actual: (u64, u64, u64),
}

/// What to do with one file for a translated client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Presented {
    AsIs,
    /// `Requires-Python` replaced by this (or removed, `None`).
    RequiresPython(Option<String>),
    /// Offered as a stand-in under this wheel file name.
    StandInAs(String),
    /// Not offered at all.
    Hidden,
}

fn parse_version(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text.trim().split('.').map(|p| p.chars().take_while(char::is_ascii_digit).collect::<String>().parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next().flatten().unwrap_or(0)))
}

impl Translation {
    /// From the installer's User-Agent (linehaul data, as pip and uv send it):
    /// `pip/23.0.1 {"python":"3.11.2",…,"user_data":"hpc-kernels-python=3.10.4"}`.
    /// The declared version is the user data's, else `declared` (what the
    /// harness found the cell's modules declare, for uv, which sends none).
    pub fn from_user_agent(user_agent: &str, declared: Option<&str>) -> Option<Translation> {
        let json: serde_json::Value = serde_json::from_str(&user_agent[user_agent.find('{')?..]).ok()?;
        let actual = parse_version(json.get("python")?.as_str()?)?;
        let from_user_data = json
            .get("user_data")
            .and_then(|d| d.as_str())
            .and_then(|d| d.split_whitespace().find_map(|w| w.strip_prefix("hpc-kernels-python=")));
        let declared = parse_version(from_user_data.or(declared)?)?;
        ((declared.0, declared.1) != (actual.0, actual.1)).then_some(Translation { declared, actual })
    }

    fn requires_python_admits(&self, specifiers: &str, version: (u64, u64, u64)) -> Option<bool> {
        let specifiers = VersionSpecifiers::from_str(specifiers).ok()?;
        Some(specifiers.contains(&Version::new([version.0, version.1, version.2])))
    }

    /// How each file of a project page is presented (same order).
    pub fn present_page(&self, files: &[FileEntry]) -> Vec<Presented> {
        // Per release: does a wheel for this platform fit the declared / the running interpreter?
        let mut fits: std::collections::HashMap<String, (bool, bool)> = std::collections::HashMap::new();
        for f in files {
            let (Some(tags), Some((_, version))) = (WheelTags::parse(&f.filename), f.name_and_version()) else { continue };
            if !tags.for_this_platform() {
                continue;
            }
            let admits = |v| f.requires_python.as_deref().and_then(|rp| self.requires_python_admits(rp, v)).unwrap_or(true);
            let entry = fits.entry(version).or_default();
            entry.0 |= tags.fits(self.declared) && admits(self.declared);
            entry.1 |= tags.fits(self.actual);
        }
        files
            .iter()
            .map(|f| {
                let release = f.name_and_version().and_then(|(_, v)| fits.get(&v).copied()).unwrap_or_default();
                self.present(f, release)
            })
            .collect()
    }

    /// `release`: whether the file's release has a wheel fitting the declared
    /// and one fitting the running interpreter.
    fn present(&self, file: &FileEntry, release: (bool, bool)) -> Presented {
        if let Some(rp) = file.requires_python.as_deref().filter(|rp| !rp.trim().is_empty()) {
            if let (Some(on_declared), Some(on_actual)) =
                (self.requires_python_admits(rp, self.declared), self.requires_python_admits(rp, self.actual))
            {
                match (on_declared, on_actual) {
                    (false, true) => {
                        return Presented::RequiresPython(Some(format!("{rp}, !={}.{}.*", self.actual.0, self.actual.1)))
                    }
                    (false, false) => return Presented::AsIs,
                    (true, false) if !file.is_wheel() => return Presented::RequiresPython(None),
                    _ => {}
                }
            }
        }
        let Some(tags) = WheelTags::parse(&file.filename) else { return Presented::AsIs };
        let excluded_here =
            file.requires_python.as_deref().and_then(|rp| self.requires_python_admits(rp, self.actual)) == Some(false);
        let admit_here = if excluded_here { Presented::RequiresPython(None) } else { Presented::AsIs };
        match (tags.fits(self.declared), tags.fits(self.actual)) {
            (true, true) => admit_here,
            // The declared interpreter installs this release; here its own wheel stands for it.
            (false, true) if release.0 => admit_here,
            (false, true) => Presented::Hidden,
            // Pip here skips it for the release's wheel that fits.
            (true, false) if release.1 => Presented::AsIs,
            (true, false) => Presented::StandInAs(tags.renamed_for(self.actual)),
            (false, false) => Presented::AsIs,
        }
    }
}

/// Whether a wheel runs on CPython `python` on Linux x86_64 (the images).
pub fn fits_linux_cpython(file_name: &str, python: (u64, u64)) -> bool {
    WheelTags::parse(file_name).is_some_and(|t| t.for_this_platform() && t.fits((python.0, python.1, 0)))
}

/// The tag sets of a wheel file name.
struct WheelTags {
    stem: String,
    python: Vec<String>,
    abi: Vec<String>,
    platform: String,
}

impl WheelTags {
    fn parse(file_name: &str) -> Option<WheelTags> {
        let stem = file_name.strip_suffix(".whl")?;
        let parts: Vec<&str> = stem.split('-').collect();
        if !(parts.len() == 5 || parts.len() == 6) {
            return None;
        }
        let n = parts.len();
        Some(WheelTags {
            stem: parts[..n - 3].join("-"),
            python: parts[n - 3].split('.').map(String::from).collect(),
            abi: parts[n - 2].split('.').map(String::from).collect(),
            platform: parts[n - 1].to_string(),
        })
    }

    /// Linux on x86_64 (the images' platform), or pure.
    fn for_this_platform(&self) -> bool {
        self.platform == "any" || self.platform.split('.').any(|p| p.contains("linux") && p.ends_with("x86_64") && !p.starts_with("musl"))
    }

    /// Whether CPython `version` on this platform accepts one of the tags.
    fn fits(&self, version: (u64, u64, u64)) -> bool {
        let (major, minor) = (version.0, version.1);
        let cp = format!("cp{major}{minor}");
        self.python.iter().any(|py| {
            self.abi.iter().any(|abi| {
                let generic = (py == &format!("py{major}") || py == &format!("py{major}{minor}")) && abi == "none";
                let exact = py == &cp && (abi == &cp || abi == "none" || abi == "abi3");
                let stable = abi == "abi3"
                    && py.strip_prefix(&format!("cp{major}")).and_then(|m| m.parse::<u64>().ok()).is_some_and(|m| m <= minor);
                generic || exact || stable
            })
        })
    }

    /// The same wheel named for `version`'s exact CPython tags.
    fn renamed_for(&self, version: (u64, u64, u64)) -> String {
        let cp = format!("cp{}{}", version.0, version.1);
        format!("{}-{cp}-{cp}-{}.whl", self.stem, self.platform)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    const UA: &str = r#"pip/23.0.1 {"ci":null,"implementation":{"name":"CPython","version":"3.11.2"},"python":"3.11.2","user_data":"hpc-kernels-python=3.10.4"}"#;

    fn file(name: &str, requires_python: Option<&str>) -> FileEntry {
        FileEntry {
            filename: name.into(),
            url: String::new(),
            hashes: Default::default(),
            requires_python: requires_python.map(String::from),
            core_metadata: None,
            dist_info_metadata: None,
            yanked: None,
            size: None,
            upload_time: None,
        }
    }

    #[test]
    fn reads_the_declared_interpreter_from_pips_user_agent() {
        assert_eq!(Translation::from_user_agent(UA, None), Some(Translation { declared: (3, 10, 4), actual: (3, 11, 2) }));
        assert_eq!(Translation::from_user_agent(&UA.replace("3.10.4", "3.11.3"), None), None, "same minor: nothing to translate");
        assert_eq!(Translation::from_user_agent("pip/23.0.1 {\"python\":\"3.11.2\"}", None), None);
        assert_eq!(Translation::from_user_agent("curl/8", None), None);
        assert_eq!(Translation::from_user_agent("pip/1 {not json", None), None);
    }

    #[test]
    fn an_installer_without_user_data_gets_the_version_the_cell_declared() {
        let uv = r#"uv/0.13.9 {"installer":{"name":"uv","version":"0.13.9"},"python":"3.11.2","implementation":{"name":"CPython"}}"#;
        assert_eq!(Translation::from_user_agent(uv, Some("3.10.4")), Some(Translation { declared: (3, 10, 4), actual: (3, 11, 2) }));
        assert_eq!(Translation::from_user_agent(uv, None), None);
        assert_eq!(Translation::from_user_agent(uv, Some("3.11.2")), None);
        // pip's own declaration wins.
        assert_eq!(Translation::from_user_agent(UA, Some("3.9.6")).map(|t| t.declared), Some((3, 10, 4)));
        assert_eq!(Translation::from_user_agent("curl/8", Some("3.10.4")), None, "no running version, nothing to translate");
    }

    #[rstest]
    #[case("six-1.16.0-py2.py3-none-any.whl", None, Presented::AsIs)]
    #[case("Django-6.0-py3-none-any.whl", Some(">=3.12"), Presented::AsIs)]
    #[case("ipython-9.0.0-py3-none-any.whl", Some(">=3.11"), Presented::RequiresPython(Some(">=3.11, !=3.11.*".into())))]
    #[case("numpy-1.21.6.tar.gz", Some(">=3.7,<3.11"), Presented::RequiresPython(None))]
    #[case("oldpure-1.0-py3-none-any.whl", Some("<3.11"), Presented::RequiresPython(None))]
    #[case(
        "torchvision-0.14.1-cp310-cp310-manylinux1_x86_64.whl",
        Some(">=3.7"),
        Presented::StandInAs("torchvision-0.14.1-cp311-cp311-manylinux1_x86_64.whl".into())
    )]
    #[case("numpy-2.3.0-cp311-cp311-manylinux_2_28_x86_64.whl", Some(">=3.11"), Presented::RequiresPython(Some(">=3.11, !=3.11.*".into())))]
    #[case("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", Some(">=3.9"), Presented::Hidden)]
    #[case("numpy-1.26.4-cp311-cp311-win_amd64.whl", Some(">=3.9"), Presented::Hidden)]
    #[case("cryptography-42.0.0-cp39-abi3-manylinux_2_28_x86_64.whl", Some(">=3.7"), Presented::AsIs)]
    #[case("foo-1.0-cp312-abi3-manylinux_2_28_x86_64.whl", None, Presented::AsIs)]
    fn presents_files_as_the_declared_interpreter_would_choose(
        #[case] name: &str,
        #[case] requires_python: Option<&str>,
        #[case] expected: Presented,
    ) {
        let t = Translation { declared: (3, 10, 4), actual: (3, 11, 2) };
        assert_eq!(t.present_page(&[file(name, requires_python)]), vec![expected], "{name}");
    }

    #[test]
    fn a_release_with_wheels_for_both_installs_the_running_interpreters_wheel() {
        let t = Translation { declared: (3, 10, 4), actual: (3, 11, 2) };
        let files = [
            file("pyzmq-27.1.0-cp310-cp310-manylinux_2_28_x86_64.whl", Some(">=3.8")),
            file("pyzmq-27.1.0-cp311-cp311-manylinux_2_28_x86_64.whl", Some(">=3.8")),
            file("pyzmq-27.1.0-cp312-cp312-manylinux_2_28_x86_64.whl", Some(">=3.8")),
            file("pyzmq-27.1.0.tar.gz", Some(">=3.8")),
            // A cp311-only release: the declared interpreter would build the sdist.
            file("numpy-1.26.4-cp311-cp311-manylinux_2_17_x86_64.whl", Some(">=3.9")),
            file("numpy-1.26.4.tar.gz", Some(">=3.9")),
        ];
        assert_eq!(
            t.present_page(&files),
            vec![Presented::AsIs, Presented::AsIs, Presented::AsIs, Presented::AsIs, Presented::Hidden, Presented::AsIs]
        );
    }
}
