//! Just enough of PEP 440 to choose a version that satisfies a specifier
//! (`==`, `!=`, `<`, `<=`, `>`, `>=`, `~=`, `===`, wildcards, comma-combined).

use std::cmp::Ordering;

/// The kinds of suffix a version can carry, in PEP 440 order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Dev,
    Pre,
    Final,
    Post,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    release: Vec<u64>,
    phase: Phase,
    /// `a`/`b`/`rc` rank and number for pre-releases, the number otherwise.
    suffix: (u8, u64),
}

impl Version {
    pub fn parse(text: &str) -> Option<Version> {
        let text = text.trim().trim_start_matches(['v', 'V']);
        let text = text.split('+').next().unwrap_or("").to_ascii_lowercase();
        let release_len = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let release_text = text[..release_len].trim_end_matches('.');
        if release_text.is_empty() {
            return None;
        }
        let release = release_text.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u64>>>()?;
        let rest = text[release_len..].trim_start_matches(['.', '-', '_']);
        let (phase, suffix) = parse_suffix(rest)?;
        Some(Version { release, phase, suffix })
    }

    pub fn from_release(release: Vec<u64>) -> Version {
        Version { release, phase: Phase::Final, suffix: (0, 0) }
    }

    fn release_at(&self, i: usize) -> u64 {
        self.release.get(i).copied().unwrap_or(0)
    }

    fn is_final(&self) -> bool {
        self.phase == Phase::Final
    }
}

fn parse_suffix(rest: &str) -> Option<(Phase, (u8, u64))> {
    if rest.is_empty() {
        return Some((Phase::Final, (0, 0)));
    }
    let number_at = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
    let (word, number) = rest.split_at(number_at);
    let number: u64 = if number.is_empty() { 0 } else { number.parse().ok()? };
    let word = word.trim_end_matches(['.', '-', '_']);
    let parsed = match word {
        "dev" => (Phase::Dev, (0, number)),
        "a" | "alpha" => (Phase::Pre, (0, number)),
        "b" | "beta" => (Phase::Pre, (1, number)),
        "rc" | "c" | "pre" | "preview" => (Phase::Pre, (2, number)),
        "post" | "rev" | "r" => (Phase::Post, (0, number)),
        _ => return None,
    };
    Some(parsed)
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        let len = self.release.len().max(other.release.len());
        (0..len)
            .map(|i| self.release_at(i).cmp(&other.release_at(i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
            .then(self.phase.cmp(&other.phase))
            .then(self.suffix.cmp(&other.suffix))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let release: Vec<String> = self.release.iter().map(u64::to_string).collect();
        f.write_str(&release.join("."))?;
        match (self.phase, self.suffix) {
            (Phase::Final, _) => Ok(()),
            (Phase::Dev, (_, n)) => write!(f, ".dev{n}"),
            (Phase::Post, (_, n)) => write!(f, ".post{n}"),
            (Phase::Pre, (rank, n)) => write!(f, "{}{n}", ["a", "b", "rc"][usize::from(rank.min(2))]),
        }
    }
}

/// One clause of a specifier, e.g. `>=1.2` or `==1.4.*`.
#[derive(Clone, Debug)]
struct Clause {
    op: String,
    version: Version,
    /// `==1.4.*` / `!=1.4.*`: compare only this prefix of the release.
    wildcard: bool,
    text: String,
}

impl Clause {
    fn parse(text: &str) -> Option<Clause> {
        let op_len = text.find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | '~')).unwrap_or(text.len());
        let (op, version_text) = text.split_at(op_len);
        if !["==", "!=", "<", "<=", ">", ">=", "~=", "==="].contains(&op) {
            return None;
        }
        let (version_text, wildcard) = match version_text.strip_suffix(".*") {
            Some(prefix) if matches!(op, "==" | "!=") => (prefix, true),
            _ => (version_text, false),
        };
        let version = Version::parse(version_text)?;
        Some(Clause { op: op.to_string(), version, wildcard, text: version_text.to_string() })
    }

    fn prefix_matches(&self, v: &Version) -> bool {
        (0..self.version.release.len()).all(|i| v.release_at(i) == self.version.release_at(i))
    }

    fn allows(&self, v: &Version) -> bool {
        let c = &self.version;
        match self.op.as_str() {
            "==" if self.wildcard => self.prefix_matches(v),
            "!=" if self.wildcard => !self.prefix_matches(v),
            "==" => v == c,
            "===" => v.to_string() == self.text || v == c,
            "!=" => v != c,
            "<" => v < c,
            "<=" => v <= c,
            ">" => v > c,
            ">=" => v >= c,
            "~=" => {
                let keep = c.release.len().saturating_sub(1).max(1);
                v >= c && (0..keep).all(|i| v.release_at(i) == c.release_at(i))
            }
            _ => false,
        }
    }

    /// Versions near this clause's own, where a satisfying one is likely.
    fn candidates(&self) -> Vec<Version> {
        let release = &self.version.release;
        let mut out = vec![self.version.clone()];
        if self.wildcard {
            out.push(Version::from_release([release.clone(), vec![0]].concat()));
        }
        for i in (0..release.len()).rev() {
            let mut bumped = release[..=i].to_vec();
            bumped[i] += 1;
            bumped.resize(release.len().max(2), 0);
            out.push(Version::from_release(bumped));
        }
        for i in (0..release.len()).rev() {
            if release[i] > 0 {
                let mut lowered = release[..=i].to_vec();
                lowered[i] -= 1;
                lowered.push(9);
                out.push(Version::from_release(lowered));
            }
        }
        out
    }
}

/// A comma-combined specifier; the empty one allows everything.
#[derive(Clone, Debug)]
pub struct Specifier {
    clauses: Vec<Clause>,
}

impl Specifier {
    pub fn parse(text: &str) -> Option<Specifier> {
        let clauses = text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(Clause::parse)
            .collect::<Option<Vec<_>>>()?;
        Some(Specifier { clauses })
    }

    pub fn allows(&self, v: &Version) -> bool {
        self.clauses.iter().all(|c| c.allows(v))
    }

    /// The version a generated wheel gets: an exact pin as written, else
    /// `1.0.0` when allowed, else the first nearby version that is (final
    /// releases before pre-releases). `None` when the clauses contradict.
    pub fn choose(&self) -> Option<String> {
        if let Some(pin) = self.clauses.iter().find(|c| matches!(c.op.as_str(), "==" | "===") && !c.wildcard) {
            return self.allows(&pin.version).then(|| pin.text.clone());
        }
        let mut candidates = vec![Version::from_release(vec![1, 0, 0])];
        candidates.extend(self.clauses.iter().flat_map(Clause::candidates));
        candidates.push(Version::from_release(vec![0, 0, 1]));
        let allowed: Vec<&Version> = candidates.iter().filter(|v| self.allows(v)).collect();
        allowed.iter().find(|v| v.is_final()).or(allowed.first()).map(|v| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap_or_else(|| panic!("test version {s} must parse"))
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
    #[case(">=2.0rc1,<2.0", "2.0rc1")]
    fn chooses_a_version_that_satisfies(#[case] spec: &str, #[case] expected: &str) {
        let parsed = Specifier::parse(spec).expect("test specifier parses");
        let chosen = parsed.choose().expect("a version is found");
        assert_eq!(chosen, expected);
        assert!(parsed.allows(&v(&chosen)), "{chosen} must satisfy {spec}");
    }

    #[rstest]
    #[case(">2,<1")]
    #[case("==1.0,==2.0")]
    fn contradictions_have_no_version(#[case] spec: &str) {
        assert_eq!(Specifier::parse(spec).and_then(|s| s.choose()), None);
    }

    #[rstest]
    #[case("=>1")]
    #[case(">=one")]
    #[case("1.0")]
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
