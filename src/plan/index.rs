//! Index mapping: rewrite the package indexes a spec names (`--index-url …`)
//! to ones reachable here — the harness's wheelhouse, or a site mirror on an
//! offline compute node.

use serde::Serialize;

/// Options whose value is a package location pip would contact.
const INDEX_OPTIONS: &[&str] = &["--index-url", "-i", "--extra-index-url", "--find-links", "-f"];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IndexMapping {
    /// Index used when a pip group names none (`--index-url` put in front).
    pub default_index: Option<String>,
    /// `(from, to)`: a location equal to `from` (or any, for `*`) becomes `to`.
    pub rules: Vec<(String, String)>,
}

impl IndexMapping {
    /// Parses `FROM=TO` (`*=TO` maps every index).
    pub fn parse_rule(rule: &str) -> Option<(String, String)> {
        let (from, to) = rule.split_once('=')?;
        let (from, to) = (from.trim(), to.trim());
        (!from.is_empty() && !to.is_empty()).then(|| (from.to_string(), to.to_string()))
    }

    pub fn is_empty(&self) -> bool {
        self.default_index.is_none() && self.rules.is_empty()
    }

    fn map(&self, location: &str) -> Option<&str> {
        let wanted = location.trim_end_matches('/');
        self.rules
            .iter()
            .find(|(from, _)| from == "*" || from.trim_end_matches('/') == wanted)
            .map(|(_, to)| to.as_str())
    }

    /// Returns the rewritten pip arguments and the `(from, to)` rewrites made.
    pub fn apply(&self, args: &[String]) -> (Vec<String>, Vec<(String, String)>) {
        let mut out = Vec::with_capacity(args.len() + 2);
        let mut rewrites = Vec::new();
        let mut names_index = false;
        let mut iter = args.iter().peekable();
        while let Some(arg) = iter.next() {
            if let Some((opt, value)) = arg.split_once('=').filter(|(o, _)| INDEX_OPTIONS.contains(o)) {
                names_index |= opt == "--index-url";
                match self.map(value) {
                    Some(to) => {
                        rewrites.push((value.to_string(), to.to_string()));
                        out.push(format!("{opt}={to}"));
                    }
                    None => out.push(arg.clone()),
                }
                continue;
            }
            out.push(arg.clone());
            if INDEX_OPTIONS.contains(&arg.as_str()) {
                names_index |= arg == "--index-url" || arg == "-i";
                if let Some(value) = iter.next() {
                    match self.map(value) {
                        Some(to) => {
                            rewrites.push((value.clone(), to.to_string()));
                            out.push(to.to_string());
                        }
                        None => out.push(value.clone()),
                    }
                }
            }
        }
        if let (false, Some(default)) = (names_index, &self.default_index) {
            out.splice(0..0, ["--index-url".to_string(), default.clone()]);
        }
        (out, rewrites)
    }
}

/// The package indexes a pip argument list names (`--index-url`, `-i`,
/// `--extra-index-url`, with or without `=`), in order.
pub fn index_locations(args: &[String]) -> Vec<String> {
    const INDEXES: &[&str] = &["--index-url", "-i", "--extra-index-url"];
    let mut out = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some((_, value)) = arg.split_once('=').filter(|(o, _)| INDEXES.contains(o)) {
            out.push(value.to_string());
        } else if INDEXES.contains(&arg.as_str()) {
            out.extend(iter.next().cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn harness() -> IndexMapping {
        IndexMapping {
            default_index: Some("file:///wh/simple".into()),
            rules: vec![("*".into(), "file:///wh/simple".into())],
        }
    }

    #[rstest]
    #[case("numpy --index-url https://a/simple -i https://b --extra-index-url=https://c --find-links ./w", &["https://a/simple", "https://b", "https://c"])]
    #[case("numpy scipy", &[])]
    #[case("numpy --index-url", &[])]
    fn finds_the_indexes_an_argument_list_names(#[case] given: &str, #[case] expected: &[&str]) {
        assert_eq!(index_locations(&args(given)), expected);
    }

    #[rstest]
    #[case("numpy scipy", "--index-url file:///wh/simple numpy scipy", 0)]
    #[case(
        "torchvision --index-url https://download.pytorch.org/whl/cpu",
        "torchvision --index-url file:///wh/simple",
        1
    )]
    #[case("torch -i https://x/simple", "torch -i file:///wh/simple", 1)]
    #[case(
        "torch --index-url=https://x/simple",
        "torch --index-url=file:///wh/simple",
        1
    )]
    #[case(
        "a --extra-index-url https://x/simple",
        "--index-url file:///wh/simple a --extra-index-url file:///wh/simple",
        1
    )]
    fn harness_mapping(#[case] input: &str, #[case] expected: &str, #[case] rewrites: usize) {
        let (out, made) = harness().apply(&args(input));
        assert_eq!(out, args(expected));
        assert_eq!(made.len(), rewrites);
    }

    #[test]
    fn specific_rule_only_maps_its_url() {
        let m = IndexMapping {
            default_index: None,
            rules: vec![("https://download.pytorch.org/whl/cpu".into(), "https://mirror/whl".into())],
        };
        let (out, made) = m.apply(&args("a --index-url https://download.pytorch.org/whl/cpu/ --extra-index-url https://other"));
        assert_eq!(out, args("a --index-url https://mirror/whl --extra-index-url https://other"));
        assert_eq!(made, vec![("https://download.pytorch.org/whl/cpu/".to_string(), "https://mirror/whl".to_string())]);
    }

    #[test]
    fn empty_mapping_changes_nothing() {
        let input = args("torch --index-url https://x");
        assert_eq!(IndexMapping::default().apply(&input), (input.clone(), vec![]));
    }

    #[rstest]
    #[case("*=file:///a", Some(("*", "file:///a")))]
    #[case("https://x = https://y", Some(("https://x", "https://y")))]
    #[case("nope", None)]
    #[case("=x", None)]
    fn parse_rule(#[case] input: &str, #[case] expected: Option<(&str, &str)>) {
        let expected = expected.map(|(a, b)| (a.to_string(), b.to_string()));
        assert_eq!(IndexMapping::parse_rule(input), expected);
    }
}
