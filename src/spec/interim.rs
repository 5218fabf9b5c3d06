//! Temporary loader until the lint parser lands.
use std::path::Path;
use indexmap::IndexMap;
use serde_json::Value;
use super::*;
use crate::error::{Error, Result};

fn words(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => s.split_whitespace().map(String::from).collect(),
        Value::Array(a) => a.iter().flat_map(words).collect(),
        _ => vec![],
    }
}

pub struct LintReport { pub diagnostics: Vec<Diagnostic>, pub spec: Option<Spec> }

pub fn load(file: &Path) -> Result<(Spec, Vec<Diagnostic>)> {
    let bytes = std::fs::read(file).map_err(|e| Error::io("read the spec", file, e))?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|e| Error::usage(format!("{}: {e}", file.display())))?;
    use sha2::Digest;
    let mut groups = IndexMap::new();
    for (k, g) in v["pip_module_groups"].as_object().cloned().unwrap_or_default() {
        let grp = match &g {
            Value::String(s) => PipGroup::Common { args: shlex::split(s).unwrap_or_default() },
            _ => PipGroup::PerPartition { args: g["pip_complex"].as_object().cloned().unwrap_or_default().into_iter().map(|(p, a)| (p, shlex::split(a.as_str().unwrap_or("")).unwrap_or_default())).collect() },
        };
        groups.insert(k, grp);
    }
    let mut kernels = IndexMap::new();
    for (k, kv) in v["kernels"].as_object().cloned().unwrap_or_default() {
        kernels.insert(k.clone(), Kernel {
            display_name: kv["name"].as_str().unwrap_or(&k).to_string(),
            module_load: words(&kv["module_load"]),
            module_load_cluster: kv["module_load_cluster"].as_object().cloned().unwrap_or_default().into_iter().map(|(p, m)| (p, words(&m))).collect(),
            pip_dependencies: words(&kv["pip_dependencies"]),
            check_libs: words(&kv["check_libs"]),
            test_script: kv["test_script"].as_str().map(String::from),
        });
    }
    let spec = Spec {
        modules_by_cluster: v["modules_by_cluster"].as_object().cloned().unwrap_or_default().into_iter().map(|(p, m)| (p, words(&m))).collect(),
        pip_module_groups: groups,
        kernels,
        source_sha256: hex::encode(sha2::Sha256::digest(&bytes)),
    };
    Ok((spec, vec![]))
}
pub fn render_human(diags: &[Diagnostic], w: &mut dyn std::io::Write, _color: bool) -> std::io::Result<()> {
    for d in diags { writeln!(w, "{:?}", d)?; } Ok(())
}
