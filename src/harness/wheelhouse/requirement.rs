//! Requirements as a spec writes them: PEP 508 names with extras, version
//! specifiers and markers, picked out of `pip install` argument lists.

use crate::spec::{PipGroup, Spec};

/// One requirement named in a spec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    /// The distribution name as written (`beautifulsoup4`, `PyYAML`).
    pub name: String,
    /// Extras in brackets (`xarray[complete]` → `["complete"]`), as written.
    pub extras: Vec<String>,
    /// The version specifier without spaces (`==5.0.2`, `>=1.2,<2`), empty when none.
    pub specifier: String,
    /// The argument this came from.
    pub raw: String,
}

impl Requirement {
    /// The PEP 503 normalised name.
    pub fn normalized_name(&self) -> String {
        normalize(&self.name)
    }
}

/// PEP 503 normalisation: lowercase, runs of `-`, `_` and `.` become one `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut in_separator_run = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !in_separator_run {
                out.push('-');
            }
            in_separator_run = true;
        } else {
            out.extend(c.to_lowercase());
            in_separator_run = false;
        }
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Parses one PEP 508 requirement (`name[extras] specifier ; marker` or
/// `name @ url`). Bare URLs, paths and anything that is not a requirement
/// give `None`.
pub fn parse_requirement(s: &str) -> Option<Requirement> {
    let raw = s.trim();
    let without_marker = raw.split(';').next().unwrap_or("").trim();
    let name_len = without_marker.find(|c: char| !is_name_char(c)).unwrap_or(without_marker.len());
    let name = &without_marker[..name_len];
    let first_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    let last_ok = name.chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    if !first_ok || !last_ok {
        return None;
    }
    let mut rest = without_marker[name_len..].trim_start();
    let mut extras = Vec::new();
    if let Some(after_bracket) = rest.strip_prefix('[') {
        let close = after_bracket.find(']')?;
        for extra in after_bracket[..close].split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if !extra.chars().all(is_name_char) {
                return None;
            }
            extras.push(extra.to_string());
        }
        rest = after_bracket[close + 1..].trim_start();
    }
    let specifier = if rest.starts_with('@') {
        // A direct reference: the name is all we can serve.
        String::new()
    } else {
        let spec: String = rest.trim_start_matches('(').trim_end_matches(')').chars().filter(|c| !c.is_whitespace()).collect();
        if !spec.is_empty() && !spec.starts_with(['=', '!', '<', '>', '~']) {
            return None;
        }
        spec
    };
    Some(Requirement { name: name.to_string(), extras, specifier, raw: raw.to_string() })
}

/// `pip install` options that take a value in the next argument.
const OPTIONS_WITH_VALUE: &[&str] = &[
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "-c", "--constraint", "-r",
    "--requirement", "-e", "--editable", "-t", "--target", "--prefix", "--root", "--platform",
    "--python-version", "--implementation", "--abi", "--src", "--upgrade-strategy", "--global-option",
    "-C", "--config-settings", "--no-binary", "--only-binary", "--progress-bar", "--trusted-host",
    "--cert", "--client-cert", "--cache-dir", "--proxy", "--retries", "--timeout", "--exists-action",
    "--log", "--report", "--root-user-action", "--python", "--keyring-provider", "--use-feature",
    "--use-deprecated", "--install-option", "--build-option", "--log-file",
];

/// The requirements among `pip install` arguments; options (and the values
/// of those that take one) are skipped.
pub fn requirements_in_args(args: &[String]) -> Vec<Requirement> {
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if arg.starts_with('-') {
            if OPTIONS_WITH_VALUE.contains(&arg.as_str()) {
                iter.next();
            }
            continue;
        }
        out.extend(parse_requirement(arg));
    }
    out
}

/// The requirements of every `pip install` the spec can run: one list per
/// pip group and partition. Repeats within one list are merged (extras
/// united, specifiers joined), as pip combines them in one resolution;
/// lists are never merged with each other, so two kernels (or partitions)
/// that pin different versions of a package each get theirs served.
pub fn requirements_of(spec: &Spec) -> Vec<Vec<Requirement>> {
    let mut lists = Vec::new();
    for group in spec.pip_module_groups.values() {
        let arg_lists: Vec<&Vec<String>> = match group {
            PipGroup::Common { args } => vec![args],
            PipGroup::PerPartition { args } => args.values().collect(),
        };
        for args in arg_lists {
            let mut merged: Vec<Requirement> = Vec::new();
            for req in requirements_in_args(args) {
                match merged.iter_mut().find(|m| m.normalized_name() == req.normalized_name()) {
                    Some(existing) => merge_into(existing, req),
                    None => merged.push(req),
                }
            }
            lists.push(merged);
        }
    }
    lists
}

fn merge_into(existing: &mut Requirement, other: Requirement) {
    for extra in other.extras {
        if !existing.extras.iter().any(|e| normalize(e) == normalize(&extra)) {
            existing.extras.push(extra);
        }
    }
    for clause in other.specifier.split(',').filter(|c| !c.is_empty()) {
        if !existing.specifier.split(',').any(|c| c == clause) {
            if !existing.specifier.is_empty() {
                existing.specifier.push(',');
            }
            existing.specifier.push_str(clause);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use rstest::rstest;

    #[rstest]
    #[case("numpy", Some(("numpy", vec![], "")))]
    #[case("nbformat==5.0.2", Some(("nbformat", vec![], "==5.0.2")))]
    #[case("xarray[complete]", Some(("xarray", vec!["complete"], "")))]
    #[case("dask[array, dataframe] >= 2023.1, < 2024", Some(("dask", vec!["array", "dataframe"], ">=2023.1,<2024")))]
    #[case("foo; python_version>\"3\"", Some(("foo", vec![], "")))]
    #[case("foo>=1.0 ; sys_platform == 'linux'", Some(("foo", vec![], ">=1.0")))]
    #[case("Foo.Bar_baz~=1.4", Some(("Foo.Bar_baz", vec![], "~=1.4")))]
    #[case("pkg (>=1,!=1.5)", Some(("pkg", vec![], ">=1,!=1.5")))]
    #[case("pip @ https://example.org/pip-23.0-py3-none-any.whl", Some(("pip", vec![], "")))]
    #[case("https://example.org/x-1.0-py3-none-any.whl", None)]
    #[case("git+https://example.org/x.git", None)]
    #[case("./local/dir", None)]
    #[case("-", None)]
    #[case("bad[extra", None)]
    #[case("", None)]
    fn parses_requirements(#[case] input: &str, #[case] expected: Option<(&str, Vec<&str>, &str)>) {
        let got = parse_requirement(input).map(|r| (r.name, r.extras, r.specifier));
        let expected = expected.map(|(n, e, s)| (n.to_string(), e.into_iter().map(String::from).collect::<Vec<_>>(), s.to_string()));
        assert_eq!(got, expected);
    }

    #[rstest]
    #[case("Friendly-Bard", "friendly-bard")]
    #[case("FRIENDLY-BARD", "friendly-bard")]
    #[case("friendly.bard", "friendly-bard")]
    #[case("friendly_bard", "friendly-bard")]
    #[case("friendly--bard", "friendly-bard")]
    #[case("FrIeNdLy-._.-bArD", "friendly-bard")]
    #[case("netCDF4", "netcdf4")]
    fn normalises_like_pep_503(#[case] name: &str, #[case] expected: &str) {
        assert_eq!(normalize(name), expected);
    }

    fn strings(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn skips_options_and_their_values() {
        let args = strings("torchvision -U --index-url https://download.pytorch.org/whl/cpu torchaudio==2.1 --no-deps -c constraints.txt --extra-index-url=https://x/simple --pre scipy");
        let names: Vec<String> = requirements_in_args(&args).into_iter().map(|r| r.raw).collect();
        assert_eq!(names, ["torchvision", "torchaudio==2.1", "scipy"]);
    }

    #[test]
    fn merges_within_one_pip_call_never_across_groups_or_partitions() {
        let mut groups = IndexMap::new();
        groups.insert("a".to_string(), PipGroup::Common { args: strings("ipykernel numpy>=1.20 xarray numpy!=1.21") });
        let mut per = IndexMap::new();
        per.insert("alpha".to_string(), strings("numpy==1.22 torch"));
        per.insert("barnard".to_string(), strings("torch --index-url https://x xarray[complete] NumPy==1.26"));
        groups.insert("b".to_string(), PipGroup::PerPartition { args: per });
        let spec = Spec {
            modules_by_cluster: IndexMap::new(),
            pip_module_groups: groups,
            kernels: IndexMap::new(),
            source_sha256: String::new(),
        };
        let got: Vec<Vec<(String, Vec<String>, String)>> = requirements_of(&spec)
            .into_iter()
            .map(|list| list.into_iter().map(|r| (r.name, r.extras, r.specifier)).collect())
            .collect();
        assert_eq!(
            got,
            vec![
                vec![
                    ("ipykernel".into(), vec![], "".into()),
                    ("numpy".into(), vec![], ">=1.20,!=1.21".into()),
                    ("xarray".into(), vec![], "".into()),
                ],
                vec![("numpy".into(), vec![], "==1.22".into()), ("torch".into(), vec![], "".into())],
                vec![
                    ("torch".into(), vec![], "".into()),
                    ("xarray".into(), vec!["complete".into()], "".into()),
                    ("NumPy".into(), vec![], "==1.26".into()),
                ],
            ]
        );
    }
}
