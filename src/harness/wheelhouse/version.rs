//! PEP 440 versions and specifiers, from `pep440_rs` (the implementation uv
//! uses), plus the one thing it does not do: choose a version for a generated
//! wheel that satisfies a specifier.

pub use pep440_rs::Version as Pep440Version;
use pep440_rs::{Operator, VersionSpecifier, VersionSpecifiers};
use std::str::FromStr;

/// A PEP 440 version: `1.0 == 1.0.0`, `2.0rc1 < 2.0`, `1!0.1 > 2.0`.
pub type Version = Pep440Version;

/// Parses a version the way pip reads it (leading `v`, case and separators normalised).
pub fn parse_version(text: &str) -> Option<Version> {
    Version::from_str(text.trim()).ok()
}

fn release_version(release: Vec<u64>) -> Version {
    Version::new(release)
}

/// Versions near a clause's own, where a satisfying one is likely.
fn candidates(clause: &VersionSpecifier) -> Vec<Version> {
    let own = clause.version();
    let release = own.release().to_vec();
    let mut out = vec![own.clone()];
    if clause.operator().is_star() {
        out.push(release_version([release.clone(), vec![0]].concat()));
    }
    for i in (0..release.len()).rev() {
        let mut bumped = release[..=i].to_vec();
        bumped[i] += 1;
        bumped.resize(release.len().max(2), 0);
        out.push(release_version(bumped));
    }
    for i in (0..release.len()).rev() {
        if release[i] > 0 {
            let mut lowered = release[..=i].to_vec();
            lowered[i] -= 1;
            lowered.push(9);
            out.push(release_version(lowered));
        }
    }
    out
}

/// A comma-combined specifier; the empty one allows everything.
#[derive(Clone, Debug)]
pub struct Specifier {
    clauses: VersionSpecifiers,
    /// As written, for `===`, which compares strings.
    text: String,
}

impl Specifier {
    pub fn parse(text: &str) -> Option<Specifier> {
        let trimmed = text.trim();
        if trimmed.split(',').any(|c| c.trim().is_empty()) && !trimmed.is_empty() {
            return None;
        }
        let clauses = VersionSpecifiers::from_str(trimmed).ok()?;
        Some(Specifier { clauses, text: trimmed.to_string() })
    }

    pub fn allows(&self, v: &Version) -> bool {
        self.clauses.contains(v)
    }

    /// The version a generated wheel gets: an exact pin as written, else
    /// `1.0.0` when allowed, else the first nearby version that is (final
    /// releases before pre-releases). `None` when the clauses contradict.
    pub fn choose(&self) -> Option<String> {
        let pin = self.clauses.iter().find(|c| matches!(c.operator(), Operator::Equal | Operator::ExactEqual));
        if let Some(pin) = pin {
            let written = self
                .text
                .split(',')
                .map(|c| c.trim().trim_start_matches(['=', ' ']).trim())
                .find(|c| parse_version(c).as_ref() == Some(pin.version()))
                .map_or_else(|| pin.version().to_string(), str::to_string);
            return self.allows(pin.version()).then_some(written);
        }
        let mut candidates_list = vec![release_version(vec![1, 0, 0])];
        candidates_list.extend(self.clauses.iter().flat_map(candidates));
        candidates_list.push(release_version(vec![0, 0, 1]));
        let allowed: Vec<&Version> = candidates_list.iter().filter(|v| self.allows(v)).collect();
        allowed.iter().find(|v| v.is_stable()).or(allowed.first()).map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;
    use std::cmp::Ordering;

    fn v(s: &str) -> Version {
        parse_version(s).unwrap_or_else(|| panic!("test version {s} must parse"))
    }

    #[rstest]
    #[case("1.0", "1.0.0", Ordering::Equal)]
    #[case("1.10", "1.9", Ordering::Greater)]
    #[case("2.0rc1", "2.0", Ordering::Less)]
    #[case("2.0a1", "2.0b1", Ordering::Less)]
    #[case("2.0.dev1", "2.0a1", Ordering::Less)]
    #[case("2.0.post1", "2.0", Ordering::Greater)]
    #[case("2024.1", "2023.12.1", Ordering::Greater)]
    fn orders_versions(#[case] a: &str, #[case] b: &str, #[case] expected: Ordering) {
        assert_eq!(v(a).cmp(&v(b)), expected);
    }

    #[rstest]
    #[case("1.0", "1.0.0")]
    #[case("1.0.0", "1")]
    #[case("v1.0", "1.0")]
    #[case("1.0RC1", "1.0rc1")]
    #[case("1.0-post1", "1.0.post1")]
    fn equal_per_pep_440(#[case] a: &str, #[case] b: &str) {
        assert_eq!(v(a), v(b));
        let mut set = std::collections::HashSet::new();
        set.insert(v(a));
        assert!(set.contains(&v(b)), "equal versions hash alike");
    }

    #[rstest]
    #[case("!=1.0", "1.0.0", false)]
    #[case("!=1.0", "1.0.1", true)]
    #[case("==1.0", "1.0.0", true)]
    #[case("==1.0.0", "1.0", true)]
    #[case("<2", "2.0rc1", false)]
    #[case("<=1.0", "1.0.0.post1", false)]
    #[case(">1.0", "1.0.post1", false)]
    #[case(">=1.0", "1.0.0", true)]
    fn pep_440_edges(#[case] spec: &str, #[case] version: &str, #[case] expected: bool) {
        let parsed = Specifier::parse(spec).expect("test specifier parses");
        assert_eq!(parsed.allows(&v(version)), expected, "{version} against {spec}");
    }

    #[rstest]
    #[case("", "1.0.0")]
    #[case("==5.0.2", "5.0.2")]
    #[case("===2.17.0", "2.17.0")]
    #[case(">=2.3", "2.3")]
    #[case(">=0.5", "1.0.0")]
    #[case(">1.0.0", "1.0.1")]
    #[case(">2", "3.0")]
    #[case("<1.0", "0.9")]
    #[case("<=0.4", "0.4")]
    #[case("~=1.4", "1.4")]
    #[case("~=2.2.1", "2.2.1")]
    #[case("!=1.0.0", "1.0.1")]
    #[case(">=1.2,<2,!=1.2", "1.3")]
    #[case(">=3.0,!=3.0,!=3.1", "4.0")]
    #[case("==1.4.*", "1.4")]
    #[case("!=1.*", "2.0")]
    #[case(">=2.0rc1,<2.1", "2.0.9")]
    fn chooses_a_version_that_satisfies(#[case] spec: &str, #[case] expected: &str) {
        let parsed = Specifier::parse(spec).expect("test specifier parses");
        let chosen = parsed.choose().expect("a version is found");
        assert_eq!(chosen, expected);
        assert!(parsed.allows(&v(&chosen)), "{chosen} must satisfy {spec}");
    }

    #[rstest]
    #[case(">2,<1")]
    #[case("==1.0,==2.0")]
    // `<2.0` excludes 2.0's pre-releases (PEP 440, as pip's packaging does).
    #[case(">=2.0rc1,<2.0")]
    fn contradictions_have_no_version(#[case] spec: &str) {
        assert_eq!(Specifier::parse(spec).and_then(|s| s.choose()), None);
    }

    #[rstest]
    #[case("=>1")]
    #[case(">=one")]
    #[case("1.0")]
    #[case(">=1,,<2")]
    fn rejects_malformed_specifiers(#[case] spec: &str) {
        assert!(Specifier::parse(spec).is_none());
    }

    #[rstest]
    #[case("~=1.4.2", "1.4.9", true)]
    #[case("~=1.4.2", "1.5.0", false)]
    #[case("~=1.4", "1.9", true)]
    #[case("~=1.4", "2.0", false)]
    #[case(">=1.20,<2", "1.26.4", true)]
    #[case("==8.*", "8.10.0", true)]
    #[case("!=8.*", "8.10.0", false)]
    fn evaluates_specifiers(#[case] spec: &str, #[case] version: &str, #[case] expected: bool) {
        let parsed = Specifier::parse(spec).expect("test specifier parses");
        assert_eq!(parsed.allows(&v(version)), expected);
    }
}
