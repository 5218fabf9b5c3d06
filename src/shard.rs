//! Shards of the kernel × partition matrix, for spreading one validation over
//! several CI jobs (`validate --shard K/N`).
//!
//! The matrix is ordered partition-major (partitions in the order given, kernels
//! in spec order) and shard K of N takes the K-th of N contiguous, near-equal
//! runs of it. Contiguous runs keep a shard on as few partitions as possible
//! (fewer images to build per CI job), and concatenating the shards in index
//! order gives back the unsharded order, which is what `report merge` relies on.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// A shard count nobody needs; refusing it keeps typos such as `1/1000` out.
pub const MAX_SHARDS: usize = 1000;

impl Shard {
    /// The positions of a matrix of `total` cells this shard runs. Over
    /// `index` = 1..=count the ranges are disjoint, cover `0..total`, and
    /// their lengths differ by at most one.
    pub fn range(self, total: usize) -> Range<usize> {
        let bound = |k: usize| k * total / self.count;
        bound(self.index - 1)..bound(self.index)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;

    /// `K/N` with 1 ≤ K ≤ N ≤ [`MAX_SHARDS`], as GitLab's
    /// `$CI_NODE_INDEX/$CI_NODE_TOTAL` gives them.
    fn from_str(text: &str) -> Result<Shard, String> {
        let (k, n) = text
            .split_once('/')
            .ok_or_else(|| format!("\"{text}\" is not K/N (e.g. 2/5: the second of five shards)"))?;
        let number = |s: &str, what: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("\"{text}\": {what} \"{s}\" is not a whole number"))
        };
        let (index, count) = (number(k, "shard index")?, number(n, "shard count")?);
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("\"{text}\": the shard count must be between 1 and {MAX_SHARDS}"));
        }
        if index == 0 || index > count {
            return Err(format!("\"{text}\": the shard index must be between 1 and {count} (it counts from 1)"));
        }
        Ok(Shard { index, count })
    }
}

/// The (partition, kernel) cells a run covers, in matrix order: all of them
/// without a shard, else the shard's slice.
pub fn select(shard: Option<Shard>, partitions: &[String], kernels: &[String]) -> Vec<(String, String)> {
    let cells: Vec<(String, String)> = partitions
        .iter()
        .flat_map(|p| kernels.iter().map(move |k| (p.clone(), k.clone())))
        .collect();
    match shard {
        None => cells,
        Some(s) => {
            let range = s.range(cells.len());
            cells.into_iter().skip(range.start).take(range.len()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    #[test]
    fn every_cell_is_in_exactly_one_shard_and_shards_are_balanced() {
        for partitions in 1..=4 {
            for kernels in 0..=6 {
                let (ps, ks) = (names("p", partitions), names("k", kernels));
                let all = select(None, &ps, &ks);
                for count in 1..=7 {
                    let shards: Vec<_> =
                        (1..=count).map(|index| select(Some(Shard { index, count }), &ps, &ks)).collect();
                    let joined: Vec<_> = shards.concat();
                    assert_eq!(joined, all, "{partitions}×{kernels} in {count} shards, concatenated in order");
                    let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
                    let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                    assert!(max - min <= 1, "{partitions}×{kernels} in {count}: sizes {sizes:?}");
                }
            }
        }
    }

    #[test]
    fn the_same_shard_is_the_same_slice_every_time() {
        let (ps, ks) = (names("p", 3), names("k", 5));
        let s = Shard { index: 3, count: 4 };
        assert_eq!(select(Some(s), &ps, &ks), select(Some(s), &ps, &ks));
        assert_eq!(
            select(Some(s), &ps, &ks),
            vec![("p1".to_string(), "k2".to_string()), ("p1".into(), "k3".into()), ("p1".into(), "k4".into()), ("p2".into(), "k0".into())]
        );
    }

    #[test]
    fn one_shard_is_the_whole_matrix() {
        let (ps, ks) = (names("p", 3), names("k", 2));
        assert_eq!(select(Some(Shard { index: 1, count: 1 }), &ps, &ks), select(None, &ps, &ks));
    }

    #[rstest]
    #[case("1/1", 1, 1)]
    #[case("2/5", 2, 5)]
    #[case(" 7 / 7 ", 7, 7)]
    fn parses_k_of_n(#[case] text: &str, #[case] index: usize, #[case] count: usize) {
        assert_eq!(text.parse::<Shard>(), Ok(Shard { index, count }));
        assert_eq!(Shard { index, count }.to_string(), format!("{index}/{count}"));
    }

    #[rstest]
    #[case("", "not K/N")]
    #[case("3", "not K/N")]
    #[case("0/3", "between 1 and 3")]
    #[case("4/3", "between 1 and 3")]
    #[case("1/0", "between 1 and 1000")]
    #[case("1/1001", "between 1 and 1000")]
    #[case("a/3", "shard index \"a\"")]
    #[case("1/b", "shard count \"b\"")]
    #[case("-1/3", "shard index \"-1\"")]
    #[case("1/3/5", "shard count \"3/5\"")]
    fn refuses_what_is_not_a_shard(#[case] text: &str, #[case] expected: &str) {
        let err = text.parse::<Shard>().unwrap_err();
        assert!(err.contains(expected), "{text}: {err}");
    }
}
