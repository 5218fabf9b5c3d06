//! A pip group's arguments in uv's words.
//!
//! uv does not count distributions outside the venv (module `PYTHONPATH`,
//! system site packages) as installed, where pip keeps any that satisfy a
//! requirement. So a group runs in two uv calls: `uv pip compile`, with every
//! distribution the venv's python sees offered as a preference (pip's
//! `only-if-needed`), then `uv pip install --no-deps` of the resolved pins
//! that are not already there. Both name the same indexes; with more than one
//! index uv picks the best version across all of them only under
//! `--index-strategy unsafe-best-match`, which is what pip does.

use crate::spec::pip_option_takes_value as option_takes_value;

/// What the two uv calls get besides the files and the venv's python.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UvArgs {
    /// Options for `uv pip compile` (resolution).
    pub compile: Vec<String>,
    /// Options for `uv pip install --no-deps` (index, build and cache options).
    pub install: Vec<String>,
    /// The requirements, one per line of the compile input.
    pub requirements: Vec<String>,
    /// pip options uv has no counterpart for, with why that is harmless.
    pub dropped: Vec<String>,
}

/// Translates linted pip arguments (see `spec::pip`).
pub fn translate(args: &[String]) -> UvArgs {
    let mut out = UvArgs::default();
    let both = ["--index-strategy".to_string(), "unsafe-best-match".to_string()];
    out.compile.extend(both.iter().cloned());
    out.install.extend(both);
    let (mut upgrade, mut eager) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.starts_with('-') || arg.len() < 2 {
            out.requirements.push(arg.clone());
            i += 1;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if arg.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ if !arg.starts_with("--") && arg.len() > 2 => (arg[..2].to_string(), Some(arg[2..].to_string())),
            _ => (arg.clone(), None),
        };
        let takes_value = option_takes_value(&name).unwrap_or(false);
        let value = match (&inline, takes_value) {
            (Some(v), _) => Some(v.clone()),
            (None, true) => {
                i += 1;
                args.get(i).cloned()
            }
            (None, false) => None,
        };
        i += 1;
        let long = match name.as_str() {
            "-i" => "--index-url",
            "-f" => "--find-links",
            "-U" => "--upgrade",
            other => other,
        }
        .to_string();
        let mut pass = |to_install: bool| {
            let words: Vec<String> = std::iter::once(long.clone()).chain(value.clone()).collect();
            out.compile.extend(words.iter().cloned());
            if to_install {
                out.install.extend(words);
            }
        };
        match long.as_str() {
            "--upgrade" => upgrade = true,
            "--upgrade-strategy" => eager = value.as_deref() == Some("eager"),
            "--no-deps" => pass(false),
            "--prefer-binary" => out.dropped.push("--prefer-binary: uv picks the newest version whether or not it has a wheel".into()),
            _ => pass(true),
        }
    }
    if upgrade && eager {
        out.compile.push("--upgrade".into());
    } else if upgrade {
        for name in out.requirements.iter().filter_map(|r| requirement_name(r)) {
            out.compile.extend(["--upgrade-package".to_string(), name]);
        }
    }
    out
}

/// The project name a requirement starts with (`xarray[complete]>=1` → `xarray`).
pub fn requirement_name(requirement: &str) -> Option<String> {
    let name: String = requirement.chars().take_while(|c| c.is_ascii_alphanumeric() || "._-".contains(*c)).collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[rstest]
    #[case("numpy scipy", "", "", "numpy scipy")]
    #[case("torch -i https://x/simple", "--index-url https://x/simple", "--index-url https://x/simple", "torch")]
    #[case("a --index-url=https://x --extra-index-url https://y", "--index-url https://x --extra-index-url https://y", "--index-url https://x --extra-index-url https://y", "a")]
    #[case("a --no-deps --pre", "--no-deps --pre", "--pre", "a")]
    #[case("-U a b[x]>=1", "--upgrade-package a --upgrade-package b", "", "a b[x]>=1")]
    #[case("-U --upgrade-strategy eager a", "--upgrade", "", "a")]
    #[case("--only-binary :all: --trusted-host h a", "--only-binary :all: --trusted-host h", "--only-binary :all: --trusted-host h", "a")]
    fn translates(#[case] pip: &str, #[case] compile: &str, #[case] install: &str, #[case] reqs: &str) {
        let t = translate(&words(pip));
        let strategy = "--index-strategy unsafe-best-match";
        assert_eq!(t.compile, words(&format!("{strategy} {compile}")));
        assert_eq!(t.install, words(&format!("{strategy} {install}")));
        assert_eq!(t.requirements, words(reqs));
        assert!(t.dropped.is_empty());
    }

    #[test]
    fn prefer_binary_is_dropped_with_a_reason() {
        let t = translate(&words("--prefer-binary a"));
        assert_eq!(t.requirements, words("a"));
        assert_eq!(t.dropped.len(), 1);
        assert!(!t.compile.contains(&"--prefer-binary".to_string()));
    }
}
