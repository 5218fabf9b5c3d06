//! A pip group's arguments in uv's words.
//!
//! uv does not count distributions outside the venv (module `PYTHONPATH`,
//! system site packages) as installed, where pip keeps any that satisfies a
//! requirement, whether or not the index still has it. So a group runs as
//! `python - add` of [`STAND_INS_PY`] (stand-ins in the venv for what its
//! python sees outside), one `uv pip install`, then `python - remove`. With
//! more than one index uv picks the best version across all of them only
//! under `--index-strategy unsafe-best-match`, which is what pip does.

/// Adds and removes the stand-ins (run by the venv's python).
pub const STAND_INS_PY: &str = include_str!("uv_stand_ins.py");

use crate::spec::pip_option_takes_value as option_takes_value;

/// What `uv pip install` gets besides `--python`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UvArgs {
    pub args: Vec<String>,
    /// pip options uv has no counterpart for, with why that is harmless.
    pub dropped: Vec<String>,
}

/// Translates linted pip arguments (see `spec::pip`).
pub fn translate(args: &[String]) -> UvArgs {
    let mut out = UvArgs { args: vec!["--index-strategy".into(), "unsafe-best-match".into()], dropped: Vec::new() };
    let mut requirements = Vec::new();
    let (mut upgrade, mut eager) = (false, false);
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if !arg.starts_with('-') || arg.len() < 2 {
            requirements.push(arg.clone());
            out.args.push(arg.clone());
            i += 1;
            continue;
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if arg.starts_with("--") => (n.to_string(), Some(v.to_string())),
            _ if !arg.starts_with("--") && arg.len() > 2 => match (arg.get(..2), arg.get(2..)) {
                (Some(name), Some(value)) => (name.to_string(), Some(value.to_string())),
                _ => (arg.clone(), None),
            },
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
        match long.as_str() {
            "--upgrade" => upgrade = true,
            "--upgrade-strategy" => eager = value.as_deref() == Some("eager"),
            "--prefer-binary" => out.dropped.push("--prefer-binary: uv picks the newest version whether or not it has a wheel".into()),
            _ => out.args.extend(std::iter::once(long).chain(value)),
        }
    }
    // pip's -U upgrades the named requirements only (only-if-needed), uv's every package.
    if upgrade && eager {
        out.args.push("--upgrade".into());
    } else if upgrade {
        for name in requirements.iter().filter_map(|r| requirement_name(r)) {
            out.args.extend(["--upgrade-package".to_string(), name]);
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
    #[case("numpy scipy", "numpy scipy")]
    #[case("torch -i https://x/simple", "torch --index-url https://x/simple")]
    #[case("a --index-url=https://x --extra-index-url https://y", "a --index-url https://x --extra-index-url https://y")]
    #[case("a --no-deps --pre", "a --no-deps --pre")]
    #[case("-U a b[x]>=1", "a b[x]>=1 --upgrade-package a --upgrade-package b")]
    #[case("-U --upgrade-strategy eager a", "a --upgrade")]
    #[case("--only-binary :all: --trusted-host h a", "--only-binary :all: --trusted-host h a")]
    fn translates(#[case] pip: &str, #[case] uv: &str) {
        let t = translate(&words(pip));
        assert_eq!(t.args, words(&format!("--index-strategy unsafe-best-match {uv}")));
        assert!(t.dropped.is_empty());
    }

    #[test]
    fn odd_options_pass_through_without_panicking() {
        let t = translate(&words("-é -ihttps://x a"));
        assert_eq!(t.args, words("--index-strategy unsafe-best-match -é --index-url https://x a"));
    }

    #[test]
    fn prefer_binary_is_dropped_with_a_reason() {
        let t = translate(&words("--prefer-binary a"));
        assert_eq!(t.args, words("--index-strategy unsafe-best-match a"));
        assert_eq!(t.dropped.len(), 1);
    }
}
