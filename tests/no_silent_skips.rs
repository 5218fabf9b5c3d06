//! A test that did not run must never count as passed. These checks keep the
//! test suite honest: no test returns early when something it needs is
//! missing, and the `no-containers` profile (which leaves such tests out, so
//! that nextest reports them as skipped) knows every binary that needs Docker
//! or Lmod.

use std::path::{Path, PathBuf};

fn test_sources() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.extend(std::fs::read_dir(dir.join("common")).unwrap().flatten().map(|e| e.path()));
    files.sort();
    files
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && p.file_name().is_some_and(|n| n != "no_silent_skips.rs"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
        .collect()
}

#[test]
fn no_test_returns_early_when_a_requirement_is_missing() {
    // The attribute is spelled in two halves so that this file does not match itself.
    let ignore_attribute = concat!("#[", "ignore");
    let patterns = ["if !require", "if !common::require", "if !docker", "SKIP:", "*** SKIP", ignore_attribute];
    let mut found = Vec::new();
    for (name, text) in test_sources() {
        for (i, line) in text.lines().enumerate() {
            if let Some(p) = patterns.iter().find(|p| line.contains(**p)) {
                found.push(format!("tests/{name}.rs:{}: `{p}` in {}", i + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "a test that cannot run must fail, not pass or skip itself:\n{}", found.join("\n"));
}

#[test]
fn the_no_containers_profile_leaves_out_every_binary_that_needs_docker_or_lmod() {
    let config = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(".config/nextest.toml")).unwrap();
    let profile = config.split("[profile.no-containers]").nth(1).expect("a no-containers profile");
    let filter = profile.lines().find(|l| l.starts_with("default-filter")).expect("a default-filter");
    let needing: Vec<String> = test_sources()
        .into_iter()
        .filter(|(name, text)| name != "mod" && (text.contains("require_docker();") || text.contains("require_lmod();")))
        .map(|(name, _)| name)
        .collect();
    assert!(needing.len() >= 5, "found only {needing:?}");
    let missing: Vec<&String> = needing.iter().filter(|n| !filter.contains(&format!("binary({n})"))).collect();
    assert!(missing.is_empty(), "add these test binaries to the no-containers default-filter: {missing:?}");
    let ci = config.split("[profile.ci]").nth(1).unwrap().split("\n[").next().unwrap();
    assert!(!ci.contains("default-filter"), "the ci profile must leave nothing out");
}
