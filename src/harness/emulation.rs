//! What an emulated partition could not make real for one cell, said on
//! that cell: the interpreter behind a `Python/X.Y.Z` module, and module
//! packages that exist only as metadata.

use std::collections::BTreeMap;

/// The interpreter every image runs (Debian 12's `python3`).
pub const IMAGE_PYTHON: &str = "3.11";

/// [`IMAGE_PYTHON`] as numbers.
pub fn image_python() -> (u64, u64) {
    (3, 11)
}

/// `presented_for`: the version the index proxy presented the index for in
/// this cell (the installer declared it), if it did.
pub fn cell_notes(loaded: &[String], emulated: &BTreeMap<String, Vec<String>>, presented_for: Option<&str>) -> Vec<String> {
    let mut notes = Vec::new();
    for module in loaded {
        let Some(version) = module.strip_prefix("Python/") else { continue };
        let declared: String = version.split('.').take(2).collect::<Vec<_>>().join(".");
        if declared == IMAGE_PYTHON {
            continue;
        }
        if presented_for == Some(declared.as_str()) {
            notes.push(format!(
                "{module} runs as Debian's CPython {IMAGE_PYTHON} in the image; the index was presented to the installer as \
                 CPython {declared} sees it (Requires-Python and wheel tags decide as on the cluster), a release \
                 with wheels for {declared} only becomes a stand-in, and the code runs on {IMAGE_PYTHON}"
            ));
        } else {
            notes.push(format!(
                "{module} runs as Debian's CPython {IMAGE_PYTHON} in the image, and the installer resolved for \
                 {IMAGE_PYTHON}: Requires-Python and wheel tags were judged for {IMAGE_PYTHON}, not {declared} as on the cluster \
                 (the index was not told which version the modules declare)"
            ));
        }
    }
    let packages: Vec<String> =
        loaded.iter().filter_map(|m| emulated.get(m).map(|p| format!("{} ({m})", p.join(", ")))).collect();
    if !packages.is_empty() {
        notes.push(format!(
            "module packages not as built on the cluster (no build for the image's interpreter): {}",
            packages.join("; ")
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_interpreter_and_the_emulated_packages_of_loaded_modules() {
        let loaded: Vec<String> = ["release/23.10", "GCCcore/11.3.0", "Python/3.10.4", "SciPy-bundle/2022.05"].map(String::from).to_vec();
        let mut emulated = BTreeMap::new();
        emulated.insert("SciPy-bundle/2022.05".to_string(), vec!["numpy 1.22.3 (runs the code of 1.23.2)".to_string(), "scipy 1.8.1 (runs the code of 1.9.2)".to_string()]);
        emulated.insert("PyTorch/1.13.1".to_string(), vec!["torch 1.13.1".to_string()]);
        let notes = cell_notes(&loaded, &emulated, Some("3.10"));
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].starts_with("Python/3.10.4 runs as Debian's CPython 3.11"), "{notes:?}");
        assert!(notes[0].contains("presented to the installer as CPython 3.10 sees it"), "{notes:?}");
        assert!(notes[1].ends_with("numpy 1.22.3 (runs the code of 1.23.2), scipy 1.8.1 (runs the code of 1.9.2) (SciPy-bundle/2022.05)"), "{notes:?}");
    }

    #[test]
    fn a_matching_interpreter_and_real_packages_need_no_note() {
        let loaded: Vec<String> = ["Python/3.11.3", "GCC/12.3.0"].map(String::from).to_vec();
        assert!(cell_notes(&loaded, &BTreeMap::new(), None).is_empty());
    }

    #[test]
    fn without_a_presented_index_the_note_says_the_resolution_was_for_the_image() {
        let loaded = vec!["Python/3.10.4".to_string()];
        let notes = cell_notes(&loaded, &BTreeMap::new(), None);
        assert!(notes[0].contains("judged for 3.11, not 3.10 as on the cluster"), "{notes:?}");
    }
}
