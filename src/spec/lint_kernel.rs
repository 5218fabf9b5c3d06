//! Lint of `kernels`: kernel keys and every key of a kernel object.

use std::collections::HashSet;

use indexmap::{IndexMap, IndexSet};

use super::json::{Member, Node, Value};
use super::lint::{did_you_mean, members, quoted, words, Annotate, Linter};
use super::names::{import_name_problem, kernel_name_problem};
use super::path::JsonPath;
use super::Kernel;

const KERNEL_KEYS: &[&str] = &["name", "module_load", "module_load_cluster", "pip_dependencies", "check_libs", "test_script"];

impl Linter<'_> {
    pub fn kernels(&mut self, member: &Member, groups: &IndexSet<String>, used: &mut HashSet<String>) -> IndexMap<String, Kernel> {
        let path = JsonPath::root().key("kernels");
        let mut out = IndexMap::new();
        let Value::Object(all) = &member.node.value else {
            self.wrong_type(&path, &member.node, "an object of kernel name → kernel", "{\"pytorch\": {\"name\": \"PyTorch\", ...}}");
            return out;
        };
        for m in members(all) {
            let kernel_path = path.key(&m.key);
            if let Some(p) = kernel_name_problem(&m.key) {
                self.error("bad-kernel-name", &kernel_path, m.key_pos, p.message).value(quoted(&m.key)).hint(p.hint);
            }
            if let Some(kernel) = self.kernel(&kernel_path, m, groups, used) {
                out.insert(m.key.clone(), kernel);
            }
        }
        if members(all).next().is_none() {
            let raw = self.raw(&member.node);
            self.error("empty-map", &path, member.node.pos, "kernels names no kernel")
                .value(raw)
                .hint("add a kernel: \"pytorch\": {\"name\": \"PyTorch\", \"module_load\": [\"PyTorch/1.13.1\"]}");
        }
        out
    }

    fn kernel(&mut self, path: &JsonPath, member: &Member, groups: &IndexSet<String>, used: &mut HashSet<String>) -> Option<Kernel> {
        let Value::Object(all) = &member.node.value else {
            self.wrong_type(path, &member.node, "a kernel object", "{\"name\": \"PyTorch\", \"module_load\": [\"PyTorch/1.13.1\"]}");
            return None;
        };
        let mut kernel = Kernel {
            display_name: member.key.clone(),
            module_load: Vec::new(),
            module_load_cluster: IndexMap::new(),
            pip_dependencies: Vec::new(),
            check_libs: Vec::new(),
            test_script: None,
        };
        let mut has_name = false;
        for m in members(all) {
            let key_path = path.key(&m.key);
            match m.key.as_str() {
                "name" => {
                    has_name = true;
                    if let Some(name) = self.display_name(&key_path, &m.node) {
                        kernel.display_name = name;
                    }
                }
                "module_load" => kernel.module_load = self.module_list(&key_path, &m.node),
                "module_load_cluster" => kernel.module_load_cluster = self.module_load_cluster(&key_path, &m.node),
                "pip_dependencies" => kernel.pip_dependencies = self.pip_dependencies(&key_path, &m.node, groups, used),
                "check_libs" => kernel.check_libs = self.check_libs(&key_path, &m.node),
                "test_script" => kernel.test_script = self.test_script(&key_path, &m.node),
                _ => self.unknown_key(path, m, KERNEL_KEYS, "kernel keys"),
            }
        }
        if !has_name {
            self.warning("missing-display-name", path, member.key_pos, format!("kernel {} has no \"name\"; JupyterLab will show {}", quoted(&member.key), quoted(&member.key)))
                .hint("add \"name\": \"A Readable Name\"");
        }
        Some(kernel)
    }

    fn display_name(&mut self, path: &JsonPath, node: &Node) -> Option<String> {
        match &node.value {
            Value::String(s) if s.trim().is_empty() => {
                self.warning("empty-display-name", path, node.pos, "the display name is empty; the kernel key is shown instead")
                    .value(quoted(s))
                    .hint("write a readable name, or omit \"name\"");
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(path, node, "a display name string", "\"PyTorch (Machine Learning)\"");
                None
            }
        }
    }

    fn module_load_cluster(&mut self, path: &JsonPath, node: &Node) -> IndexMap<String, Vec<String>> {
        let mut out = IndexMap::new();
        let Value::Object(all) = &node.value else {
            self.wrong_type(path, node, "an object of partition → modules", "{\"alpha\": \"CUDA/11.7.0\"}");
            return out;
        };
        for m in members(all) {
            self.partition_key(path, m);
            self.check_known_partition(path, m);
            let modules = self.module_list(&path.key(&m.key), &m.node);
            out.insert(m.key.clone(), modules);
        }
        out
    }

    fn pip_dependencies(&mut self, path: &JsonPath, node: &Node, groups: &IndexSet<String>, used: &mut HashSet<String>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut listed_here: HashSet<&str> = HashSet::new();
        let Value::Array(items) = &node.value else {
            self.wrong_type(path, node, "an array of pip group names", "[\"base_pks\", \"ml_libs\"]");
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let item_path = path.index(i);
            let Value::String(name) = &item.value else {
                self.wrong_type(&item_path, item, "a pip group name (string)", "\"base_pks\"");
                continue;
            };
            if !used.contains(name) {
                used.insert(name.clone());
            }
            if !groups.contains(name) {
                let listed = listing(groups);
                // Suggestions compare with every group: bounded, so that a
                // hostile spec with many groups and references stays linear.
                let candidates = groups.iter().take(SUGGEST_AMONG).map(String::as_str);
                let hint = match did_you_mean(name, candidates) {
                    Some(close) => format!("did you mean {}? groups: {listed}", quoted(close)),
                    None => format!("define it in pip_module_groups; groups: {listed}"),
                };
                self.error("unknown-group", &item_path, item.pos, format!("no pip group named {}", quoted(name))).value(quoted(name)).hint(hint);
            } else if !listed_here.insert(name.as_str()) {
                self.error("duplicate-group", &item_path, item.pos, format!("pip group {} is listed twice", quoted(name)))
                    .value(quoted(name))
                    .hint("each group is installed once; remove the second entry");
            } else {
                out.push(name.clone());
            }
        }
        out
    }

    fn check_libs(&mut self, path: &JsonPath, node: &Node) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut each = |this: &mut Self, item_path: &JsonPath, item: &Node, s: &str| {
            for (offset, word) in words(s) {
                let pos = this.pos_in_string(item, s, offset);
                if let Some(p) = import_name_problem(word) {
                    this.error("bad-import-name", item_path, pos, p.message).value(quoted(word)).hint(p.hint);
                } else if out.iter().any(|w| w == word) {
                    this.warning("duplicate-import", item_path, pos, format!("{} is checked twice", quoted(word))).value(quoted(word)).hint("remove the second one");
                } else {
                    out.push(word.to_string());
                }
            }
        };
        match &node.value {
            Value::String(s) => each(self, path, node, s),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::String(s) => each(self, &path.index(i), item, s),
                        _ => self.wrong_type(&path.index(i), item, "an import name (string)", "\"numpy\""),
                    }
                }
            }
            _ => self.wrong_type(path, node, "a string of import names or an array of them", "\"numpy scipy torch\""),
        }
        out
    }

    fn test_script(&mut self, path: &JsonPath, node: &Node) -> Option<String> {
        match &node.value {
            Value::String(s) if s.trim().is_empty() => {
                self.error("empty-test-script", path, node.pos, "test_script is empty")
                    .value(quoted(s))
                    .hint("omit the key, or write \"true\" for a script that always passes");
                None
            }
            Value::String(s) if s.contains('\0') => {
                self.error("bad-test-script", path, node.pos, "test_script contains a NUL character, which bash cannot run")
                    .value(quoted(s))
                    .hint("remove the \\u0000");
                None
            }
            Value::String(s) => Some(s.clone()),
            _ => {
                self.wrong_type(path, node, "a bash script (string)", "\"python -c 'import torch'\"");
                None
            }
        }
    }
}

/// Groups compared with an unknown name for "did you mean".
const SUGGEST_AMONG: usize = 1000;
/// Groups named in a hint.
const LISTED_GROUPS: usize = 20;

fn listing(groups: &IndexSet<String>) -> String {
    if groups.is_empty() {
        return "(none defined)".to_string();
    }
    let shown: Vec<&str> = groups.iter().take(LISTED_GROUPS).map(String::as_str).collect();
    match groups.len().saturating_sub(LISTED_GROUPS) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
