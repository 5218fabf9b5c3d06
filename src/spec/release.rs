//! Switching a spec to another module release: every `release/<R>` module it
//! names becomes `release/<new>`, and each substitution is reported.

use serde::Serialize;

use super::Spec;

const RELEASE_PREFIX: &str = "release/";

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Substitution {
    /// JSON path of the list the module was in, e.g. `modules_by_cluster.alpha`.
    pub path: String,
    pub from: String,
    pub to: String,
}

/// Returns the spec with its release modules switched to `release/<release>`.
/// A spec that names no release module gets none added: its partitions'
/// sticky default decides, as on the cluster.
pub fn with_release(spec: &Spec, release: &str) -> (Spec, Vec<Substitution>) {
    let target = format!("{RELEASE_PREFIX}{release}");
    let mut out = spec.clone();
    let mut subs = Vec::new();
    let mut switch = |path: String, modules: &mut Vec<String>| {
        for m in modules.iter_mut() {
            if m.starts_with(RELEASE_PREFIX) && *m != target {
                subs.push(Substitution { path: path.clone(), from: m.clone(), to: target.clone() });
                *m = target.clone();
            }
        }
    };
    for (partition, modules) in out.modules_by_cluster.iter_mut() {
        switch(format!("modules_by_cluster.{partition}"), modules);
    }
    for (key, kernel) in out.kernels.iter_mut() {
        switch(format!("kernels.{key}.module_load"), &mut kernel.module_load);
        for (partition, modules) in kernel.module_load_cluster.iter_mut() {
            switch(format!("kernels.{key}.module_load_cluster.{partition}"), modules);
        }
    }
    (out, subs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn release_modules_are_switched_and_reported() {
        let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs/example.json")).unwrap();
        let spec = crate::spec::lint_bytes(Path::new("example.json"), &bytes).spec.unwrap();
        let (switched, subs) = with_release(&spec, "24.04");
        assert_eq!(subs.len(), 3);
        assert_eq!(subs[0], Substitution { path: "modules_by_cluster.barnard".into(), from: "release/23.10".into(), to: "release/24.04".into() });
        assert!(switched.modules_by_cluster.values().all(|m| m[0] == "release/24.04"));
        // Switching to the release it already names changes nothing.
        let (same, none) = with_release(&spec, "23.10");
        assert!(none.is_empty());
        assert_eq!(same, spec);
    }
}
