//! Reads and validates a module tree exported by Lmod's spider
//! (`$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH`).
//!
//! The export is a JSON list of packages; each holds `versions[]` with `full`
//! (`OpenMPI/4.1.4`), `path`, `properties` and `parent`: the alternative lists of
//! modules that must be loaded first. The hierarchy of the emulated tree is derived
//! from `parent` alone; `path` is the real cluster's and is not reused.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::error::{Error, Result};

/// One module (`full` name) with every position it has in the hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Module {
    /// `name/version` as Lmod shows it (`TensorFlow/2.11.0-CUDA-11.7.0`).
    pub full: String,
    /// Everything before the last `/` (or the whole name for a version-less module).
    pub name: String,
    pub version: Option<String>,
    /// Alternative load chains that make this module visible; empty = top level.
    pub parents: BTreeSet<Vec<String>>,
    /// `(category, name)` pairs from `properties`, e.g. `("lmod", "sticky")`.
    pub properties: BTreeSet<(String, String)>,
    pub description: Option<String>,
    pub help: Option<String>,
}

impl Module {
    pub fn is_sticky(&self) -> bool {
        self.properties.contains(&("lmod".to_string(), "sticky".to_string()))
    }
    pub fn is_top_level(&self) -> bool {
        self.parents.is_empty()
    }
}

/// A partition's module tree: modules by `full` name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tree {
    pub modules: BTreeMap<String, Module>,
}

impl Tree {
    /// Versions of the top-level `release` modules (`23.04`, `23.10`, …).
    pub fn releases(&self) -> Vec<String> {
        self.modules
            .values()
            .filter(|m| m.name == "release" && m.is_top_level())
            .filter_map(|m| m.version.clone())
            .collect()
    }

    /// Every chain that some module names as its parent (the hierarchy's directories).
    pub fn chains(&self) -> BTreeSet<Vec<String>> {
        self.modules.values().flat_map(|m| m.parents.iter().cloned()).collect()
    }
}

/// Module names as DESIGN §3 allows them, plus `/` between name and version.
pub fn is_valid_full_name(full: &str) -> bool {
    !full.is_empty()
        && !full.starts_with('/')
        && !full.ends_with('/')
        && !full.contains("//")
        && !full.split('/').any(|part| part == "." || part == "..")
        && full.chars().all(|c| c.is_ascii_alphanumeric() || "._+-/".contains(c))
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, path: &str, message: impl std::fmt::Display) -> Error {
        Error::usage(format!("{}: {path}: {message}", self.file)).with_hint(
            "the file must be the unchanged output of `$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH` \
             (Debian: /usr/share/lmod/lmod/libexec/spider)",
        )
    }
}

/// Parses a spider export; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Tree> {
    let ctx = Ctx { file };
    let root: Value = serde_json::from_str(text).map_err(|e| {
        Error::usage(format!("{file}: not valid JSON (line {}, column {})", e.line(), e.column()))
            .with_source(e)
            .with_hint("re-export it with `$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH > FILE`")
    })?;
    let packages = root.as_array().ok_or_else(|| ctx.err("$", "expected a list of packages"))?;
    let mut tree = Tree::default();
    for (i, package) in packages.iter().enumerate() {
        let path = format!("[{i}]");
        let versions = package
            .get("versions")
            .and_then(Value::as_array)
            .ok_or_else(|| ctx.err(&path, "expected an object with a \"versions\" list"))?;
        let package_description = package.get("description").and_then(Value::as_str);
        for (j, version) in versions.iter().enumerate() {
            let module = parse_version(&ctx, &format!("{path}.versions[{j}]"), version, package_description)?;
            merge(&mut tree, module);
        }
    }
    check_chains(&ctx, &tree)?;
    Ok(tree)
}

fn parse_version(ctx: &Ctx, path: &str, v: &Value, package_description: Option<&str>) -> Result<Module> {
    let full = v
        .get("full")
        .and_then(Value::as_str)
        .ok_or_else(|| ctx.err(path, "missing string \"full\" (the module's name/version)"))?;
    if !is_valid_full_name(full) {
        return Err(ctx.err(&format!("{path}.full"), format!("\"{full}\" is not a valid module name (allowed: A-Z a-z 0-9 . _ + - /)")));
    }
    let (name, version) = match full.rsplit_once('/') {
        Some((n, v)) => (n.to_string(), Some(v.to_string())),
        None => (full.to_string(), None),
    };
    let mut parents = BTreeSet::new();
    match v.get("parent") {
        None | Some(Value::Null) => {}
        Some(Value::Array(chains)) => {
            for (k, chain) in chains.iter().enumerate() {
                let chain_path = format!("{path}.parent[{k}]");
                let items = chain.as_array().ok_or_else(|| ctx.err(&chain_path, "expected a list of module names"))?;
                let mut names = Vec::with_capacity(items.len());
                for (l, item) in items.iter().enumerate() {
                    match item.as_str() {
                        Some(s) if is_valid_full_name(s) => names.push(s.to_string()),
                        _ => return Err(ctx.err(&format!("{chain_path}[{l}]"), format!("{item} is not a module name"))),
                    }
                }
                if !names.is_empty() {
                    parents.insert(names);
                }
            }
        }
        Some(other) => return Err(ctx.err(&format!("{path}.parent"), format!("expected a list of lists, found {other}"))),
    }
    let mut properties = BTreeSet::new();
    if let Some(props) = v.get("properties").and_then(Value::as_object) {
        for (category, names) in props {
            if let Some(names) = names.as_object() {
                for name in names.keys() {
                    properties.insert((category.clone(), name.clone()));
                }
            }
        }
    }
    let text = |key: &str| v.get(key).and_then(Value::as_str).map(str::to_string).filter(|s| !s.trim().is_empty());
    Ok(Module {
        full: full.to_string(),
        name,
        version,
        parents,
        properties,
        description: text("description").or_else(|| package_description.map(str::to_string)),
        help: text("help"),
    })
}

/// The same module may appear in several entries (one per path); merge its parents.
fn merge(tree: &mut Tree, module: Module) {
    match tree.modules.get_mut(&module.full) {
        Some(existing) => {
            existing.parents.extend(module.parents);
            existing.properties.extend(module.properties);
            if existing.description.is_none() {
                existing.description = module.description;
            }
            if existing.help.is_none() {
                existing.help = module.help;
            }
        }
        None => {
            tree.modules.insert(module.full.clone(), module);
        }
    }
}

/// Every chain `[a, b, c]` must be reachable: `c` is a module visible after `[a, b]`.
fn check_chains(ctx: &Ctx, tree: &Tree) -> Result<()> {
    for module in tree.modules.values() {
        for chain in &module.parents {
            let Some((last, before)) = chain.split_last() else { continue };
            let reachable = tree.modules.get(last).is_some_and(|p| {
                if before.is_empty() {
                    p.is_top_level()
                } else {
                    p.parents.iter().any(|c| c.as_slice() == before)
                }
            });
            if !reachable {
                return Err(ctx.err(
                    &format!("module {}", module.full),
                    format!(
                        "parent chain [{}] names {last}, which the export does not list after [{}]",
                        chain.join(", "),
                        before.join(", ")
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"[
      {"package": "release", "versions": [{"full": "release/23.10", "properties": {"lmod": {"sticky": 1}}, "path": "/x"}]},
      {"package": "GCC", "description": "GNU compilers", "versions": [{"full": "GCC/11.3.0", "parent": [["release/23.10"]]}]},
      {"package": "OpenMPI", "versions": [{"full": "OpenMPI/4.1.4", "parent": [["release/23.10", "GCC/11.3.0"]], "wV": "ignored"}]}
    ]"#;

    #[test]
    fn parses_hierarchy_and_properties() {
        let tree = parse("small.json", SMALL).expect("valid export");
        assert_eq!(tree.releases(), vec!["23.10"]);
        assert!(tree.modules["release/23.10"].is_sticky());
        let gcc = &tree.modules["GCC/11.3.0"];
        assert_eq!(gcc.description.as_deref(), Some("GNU compilers"));
        assert_eq!(gcc.name, "GCC");
        let mpi = &tree.modules["OpenMPI/4.1.4"];
        assert_eq!(mpi.parents.iter().next().map(Vec::len), Some(2));
    }

    #[test]
    fn unreachable_parent_is_an_error_with_location() {
        let text = r#"[{"package": "X", "versions": [{"full": "X/1", "parent": [["release/23.10", "GCC/9"]]}]}]"#;
        let err = parse("bad.json", text).expect_err("GCC/9 is not in the export");
        assert!(err.message.starts_with("bad.json: module X/1: parent chain [release/23.10, GCC/9] names GCC/9"), "{}", err.message);
        assert!(err.hint.is_some());
    }

    #[test]
    fn bad_names_and_shapes_are_located() {
        let err = parse("f", r#"[{"versions": [{"full": "a b/1"}]}]"#).expect_err("space");
        assert!(err.message.starts_with("f: [0].versions[0].full:"), "{}", err.message);
        let err = parse("f", r#"{"versions": []}"#).expect_err("object");
        assert!(err.message.starts_with("f: $:"), "{}", err.message);
        let err = parse("f", r#"[{"versions": [{"full": "a/1", "parent": [[3]]}]}]"#).expect_err("number");
        assert!(err.message.starts_with("f: [0].versions[0].parent[0][0]:"), "{}", err.message);
        let err = parse("f", "[").expect_err("json");
        assert!(err.message.contains("not valid JSON"));
    }

    #[test]
    fn names_reject_traversal() {
        assert!(is_valid_full_name("TensorFlow/2.11.0-CUDA-11.7.0"));
        assert!(is_valid_full_name("libsigc++/2.10.8"));
        assert!(!is_valid_full_name("../etc/passwd"));
        assert!(!is_valid_full_name("/abs"));
        assert!(!is_valid_full_name("a//b"));
    }
}
