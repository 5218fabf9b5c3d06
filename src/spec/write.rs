//! Writing a spec back in the seed format, e.g. after a release substitution,
//! so the very same install engine can read it inside a container.

use serde_json::{json, Map, Value};

use super::{PipGroup, Spec};

fn joined(words: &[String]) -> Value {
    Value::String(words.join(" "))
}

/// Pip groups go back through shell quoting, so `shlex` splits them as before.
fn pip_string(args: &[String]) -> Value {
    Value::String(args.iter().map(|a| crate::plan::render::quote(a)).collect::<Vec<_>>().join(" "))
}

pub fn to_json(spec: &Spec) -> String {
    let modules: Map<String, Value> = spec.modules_by_cluster.iter().map(|(p, m)| (p.clone(), joined(m))).collect();
    let groups: Map<String, Value> = spec
        .pip_module_groups
        .iter()
        .map(|(name, group)| {
            let value = match group {
                PipGroup::Common { args } => pip_string(args),
                PipGroup::PerPartition { args } => {
                    let per: Map<String, Value> = args.iter().map(|(p, a)| (p.clone(), pip_string(a))).collect();
                    json!({ "pip_complex": per })
                }
            };
            (name.clone(), value)
        })
        .collect();
    let kernels: Map<String, Value> = spec
        .kernels
        .iter()
        .map(|(key, k)| {
            let mut obj = Map::new();
            obj.insert("name".into(), Value::String(k.display_name.clone()));
            obj.insert("module_load".into(), json!(k.module_load));
            if !k.module_load_cluster.is_empty() {
                let per: Map<String, Value> = k.module_load_cluster.iter().map(|(p, m)| (p.clone(), json!(m))).collect();
                obj.insert("module_load_cluster".into(), Value::Object(per));
            }
            obj.insert("pip_dependencies".into(), json!(k.pip_dependencies));
            obj.insert("check_libs".into(), joined(&k.check_libs));
            if let Some(script) = &k.test_script {
                obj.insert("test_script".into(), Value::String(script.clone()));
            }
            (key.clone(), Value::Object(obj))
        })
        .collect();
    let doc = json!({ "modules_by_cluster": modules, "pip_module_groups": groups, "kernels": kernels });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn written_specs_read_back_the_same() {
        for name in ["example.json", "example-fixed.json"] {
            let bytes = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/specs").join(name)).unwrap();
            let spec = crate::spec::lint_bytes(Path::new(name), &bytes).spec.unwrap();
            let text = super::to_json(&spec);
            let back = crate::spec::lint_bytes(Path::new("written.json"), text.as_bytes()).spec.unwrap();
            let strip = |mut s: crate::spec::Spec| {
                s.source_sha256.clear();
                s
            };
            assert_eq!(strip(back), strip(spec), "{name}");
        }
    }
}
