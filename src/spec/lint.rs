//! Semantic lint of a parsed spec: the top level, `modules_by_cluster` and
//! `pip_module_groups` (kernels are in `lint_kernel.rs`). Every problem is
//! collected; the typed spec is built alongside and kept only without errors.

use std::path::Path;

use indexmap::IndexMap;

use super::json::{Member, Node, Pos, Value};
use super::names::{group_name_problem, module_name_problem, partition_name_problem};
use super::path::JsonPath;
use super::{pip, Diagnostic, Kernel, PipGroup, Severity};

/// The parts of a [`super::Spec`] that lint builds (the hash is added by the caller).
pub struct SpecParts {
    pub modules_by_cluster: IndexMap<String, Vec<String>>,
    pub pip_module_groups: IndexMap<String, PipGroup>,
    pub kernels: IndexMap<String, Kernel>,
}

const TOP_LEVEL_KEYS: &[&str] = &["modules_by_cluster", "pip_module_groups", "kernels"];
const VALUE_MAX_CHARS: usize = 80;

pub struct Linter<'a> {
    file: &'a Path,
    source: &'a str,
    pub diagnostics: Vec<Diagnostic>,
    /// Partitions named in `modules_by_cluster`, for cross-checks.
    pub partitions: Vec<String>,
    /// Diagnostics per code so far; past `KEPT_PER_CODE` they are only counted.
    per_code: std::collections::HashMap<&'static str, usize>,
    /// Where annotations of uncounted diagnostics go.
    overflow: Diagnostic,
}

/// Diagnostics kept per code. A hostile spec can carry hundreds of thousands
/// of one problem; the rest are counted in one diagnostic (see `finish`).
const KEPT_PER_CODE: usize = 2000;

/// Fills in the optional parts of a diagnostic just pushed.
pub trait Annotate {
    fn value(self, value: impl Into<String>) -> Self;
    fn hint(self, hint: impl Into<String>) -> Self;
}

impl Annotate for &mut Diagnostic {
    fn value(self, value: impl Into<String>) -> Self {
        self.value = Some(shorten(&value.into()));
        self
    }
    fn hint(self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

/// Shortens `s` to about 80 characters for display.
pub fn shorten(s: &str) -> String {
    if s.chars().count() <= VALUE_MAX_CHARS {
        return s.to_string();
    }
    let mut out: String = s.chars().take(VALUE_MAX_CHARS - 1).collect();
    out.push('…');
    out
}

/// A string as JSON writes it, for showing values.
pub fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// The closest candidate to `input`, if one is close enough to be a likely typo.
pub fn did_you_mean<'c>(input: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let input = input.to_lowercase();
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(&input, &c.to_lowercase()), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Words separated by spaces or tabs, with their byte offsets. Newlines stay
/// inside words so that the name checks can refuse them.
pub fn words(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c == ' ' || c == '\t', start) {
            (true, Some(st)) => {
                out.push((st, &s[st..i]));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st, &s[st..]));
    }
    out
}

/// Members of an object that are not comments (keys starting with `_`).
pub fn members(members: &[Member]) -> impl Iterator<Item = &Member> {
    members.iter().filter(|m| !m.key.starts_with('_'))
}

impl<'a> Linter<'a> {
    pub fn new(file: &'a Path, source: &'a str) -> Self {
        let overflow = Diagnostic {
            severity: Severity::Warning,
            code: "",
            file: file.to_path_buf(),
            path: String::new(),
            line: None,
            column: None,
            message: String::new(),
            value: None,
            hint: None,
        };
        Linter { file, source, diagnostics: Vec::new(), partitions: Vec::new(), per_code: Default::default(), overflow }
    }

    /// The diagnostics, with one more per code whose count passed the bound.
    pub fn finish(&mut self) -> Vec<Diagnostic> {
        let mut diagnostics = std::mem::take(&mut self.diagnostics);
        let mut over: Vec<(&'static str, usize)> =
            self.per_code.iter().filter(|(_, n)| **n > KEPT_PER_CODE).map(|(c, n)| (*c, *n)).collect();
        over.sort();
        for (code, count) in over {
            let severity = diagnostics.iter().find(|d| d.code == code).map_or(Severity::Warning, |d| d.severity);
            diagnostics.push(Diagnostic {
                severity,
                code: "omitted",
                file: self.file.to_path_buf(),
                path: String::new(),
                line: None,
                column: None,
                message: format!("{} more [{code}] not listed one by one", count - KEPT_PER_CODE),
                value: None,
                hint: Some("fix the ones listed; the rest are of the same kind".into()),
            });
        }
        diagnostics
    }

    pub fn push(&mut self, severity: Severity, code: &'static str, path: &JsonPath, pos: Pos, message: impl Into<String>) -> &mut Diagnostic {
        let count = self.per_code.entry(code).or_insert(0);
        *count += 1;
        if *count > KEPT_PER_CODE {
            return &mut self.overflow;
        }
        self.diagnostics.push(Diagnostic {
            severity,
            code,
            file: self.file.to_path_buf(),
            path: path.to_string(),
            line: Some(pos.line),
            column: Some(pos.column),
            message: message.into(),
            value: None,
            hint: None,
        });
        let last = self.diagnostics.len() - 1;
        &mut self.diagnostics[last]
    }

    pub fn error(&mut self, code: &'static str, path: &JsonPath, pos: Pos, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Error, code, path, pos, message)
    }

    pub fn warning(&mut self, code: &'static str, path: &JsonPath, pos: Pos, message: impl Into<String>) -> &mut Diagnostic {
        self.push(Severity::Warning, code, path, pos, message)
    }

    /// The value as written in the file, on one line.
    pub fn raw(&self, node: &Node) -> String {
        let text = self.source.get(node.pos.offset..node.end).unwrap_or_default();
        shorten(&text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    /// Where the character at byte `offset` of a string value is in the file:
    /// exact when the string is written without escapes, else the string's start.
    pub fn pos_in_string(&self, node: &Node, content: &str, offset: usize) -> Pos {
        let raw = self.source.get(node.pos.offset + 1..node.end.saturating_sub(1));
        match (raw, content.get(..offset)) {
            (Some(raw), Some(before)) if raw == content && !before.contains('\n') => Pos {
                line: node.pos.line,
                column: node.pos.column + 1 + before.chars().count(),
                offset: node.pos.offset + 1 + offset,
            },
            _ => node.pos,
        }
    }

    pub fn wrong_type(&mut self, path: &JsonPath, node: &Node, expected: &str, example: &str) {
        let message = format!("expected {expected}, found {}", node.value.kind());
        let raw = self.raw(node);
        self.error("wrong-type", path, node.pos, message).value(raw).hint(format!("for example: {example}"));
    }

    pub fn unknown_key(&mut self, path: &JsonPath, member: &Member, known: &[&str], what: &str) {
        let key_path = path.key(&member.key);
        let hint = match did_you_mean(&member.key, known.iter().copied()) {
            Some(close) => format!("did you mean {}? {what}: {}", quoted(close), known.join(", ")),
            None => format!("{what}: {}; keys starting with \"_\" are comments", known.join(", ")),
        };
        self.error("unknown-key", &key_path, member.key_pos, format!("unknown key {}", quoted(&member.key))).value(quoted(&member.key)).hint(hint);
    }

    /// Lints the whole document; returns the spec parts (meaningful only without errors).
    pub fn document(&mut self, root: &Node) -> Option<SpecParts> {
        let top = JsonPath::root();
        let Value::Object(all) = &root.value else {
            let message = format!("the spec must be a JSON object, found {}", root.value.kind());
            let raw = self.raw(root);
            self.error("not-an-object", &top, root.pos, message)
                .value(raw)
                .hint("a spec looks like {\"modules_by_cluster\": {...}, \"pip_module_groups\": {...}, \"kernels\": {...}}");
            return None;
        };
        let find = |key: &str| all.iter().find(|m| m.key == key);
        for member in members(all) {
            if !TOP_LEVEL_KEYS.contains(&member.key.as_str()) {
                self.unknown_key(&top, member, TOP_LEVEL_KEYS, "top-level keys");
            }
        }
        for required in ["modules_by_cluster", "kernels"] {
            if find(required).is_none() {
                self.error("missing-key", &top.key(required), root.pos, format!("the spec has no {}", quoted(required)))
                    .hint(format!("add \"{required}\": {{...}} at the top level; see installer-json-format.md"));
            }
        }
        let modules_by_cluster = find("modules_by_cluster").map(|m| self.modules_by_cluster(m)).unwrap_or_default();
        let mut groups = match find("pip_module_groups") {
            Some(m) => self.pip_module_groups(m),
            None => Vec::new(),
        };
        let group_names: indexmap::IndexSet<String> = groups.iter().map(|g| g.name.clone()).collect();
        let mut used = std::collections::HashSet::new();
        let kernels = find("kernels").map(|m| self.kernels(m, &group_names, &mut used)).unwrap_or_default();
        for group in &groups {
            if !used.contains(&group.name) {
                self.warning("unused-group", &JsonPath::root().key("pip_module_groups").key(&group.name), group.key_pos, format!("no kernel uses the pip group {}", quoted(&group.name)))
                    .hint("add it to a kernel's \"pip_dependencies\" or remove it");
            }
        }
        let pip_module_groups = groups.drain(..).filter_map(|g| g.group.map(|v| (g.name, v))).collect();
        Some(SpecParts { modules_by_cluster, pip_module_groups, kernels })
    }

    fn modules_by_cluster(&mut self, member: &Member) -> IndexMap<String, Vec<String>> {
        let path = JsonPath::root().key("modules_by_cluster");
        let mut out = IndexMap::new();
        let Value::Object(all) = &member.node.value else {
            self.wrong_type(&path, &member.node, "an object of partition → modules", "{\"barnard\": \"release/23.10\"}");
            return out;
        };
        for m in members(all) {
            self.partition_key(&path, m);
            let modules = self.module_list(&path.key(&m.key), &m.node);
            self.partitions.push(m.key.clone());
            out.insert(m.key.clone(), modules);
        }
        if out.is_empty() {
            let raw = self.raw(&member.node);
            self.error("empty-map", &path, member.node.pos, "modules_by_cluster names no partition")
                .value(raw)
                .hint("name at least one partition: {\"barnard\": \"release/23.10\"}");
        }
        out
    }

    pub fn partition_key(&mut self, path: &JsonPath, m: &Member) {
        if let Some(p) = partition_name_problem(&m.key) {
            self.error("bad-partition-name", &path.key(&m.key), m.key_pos, p.message).value(quoted(&m.key)).hint(p.hint);
        }
    }

    /// A partition used outside `modules_by_cluster` should be defined there.
    pub fn check_known_partition(&mut self, path: &JsonPath, m: &Member) {
        if partition_name_problem(&m.key).is_none() && !self.partitions.is_empty() && !self.partitions.contains(&m.key) {
            let hint = match did_you_mean(&m.key, self.partitions.iter().map(String::as_str)) {
                Some(close) => format!("did you mean {}? partitions: {}", quoted(close), self.partitions.join(", ")),
                None => format!("add it to modules_by_cluster; partitions: {}", self.partitions.join(", ")),
            };
            self.warning("unknown-partition", &path.key(&m.key), m.key_pos, format!("partition {} is not in modules_by_cluster, so no kernel can be installed there", quoted(&m.key)))
                .value(quoted(&m.key))
                .hint(hint);
        }
    }

    /// A string of whitespace-separated modules, or an array of such strings.
    pub fn module_list(&mut self, path: &JsonPath, node: &Node) -> Vec<String> {
        let mut out = Vec::new();
        match &node.value {
            Value::String(s) => self.module_words(path, node, s, &mut out),
            Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    match &item.value {
                        Value::String(s) => self.module_words(&path.index(i), item, s, &mut out),
                        _ => self.wrong_type(&path.index(i), item, "a string of module names", "\"GCC/11.3.0 OpenMPI/4.1.4\""),
                    }
                }
            }
            _ => self.wrong_type(path, node, "a string of module names or an array of them", "\"release/23.10 GCC/11.3.0\" or [\"PyTorch/1.13.1\"]"),
        }
        out
    }

    fn module_words(&mut self, path: &JsonPath, node: &Node, s: &str, out: &mut Vec<String>) {
        for (offset, word) in words(s) {
            match module_name_problem(word) {
                Some(p) => {
                    let pos = self.pos_in_string(node, s, offset);
                    self.error("bad-module-name", path, pos, p.message).value(quoted(word)).hint(p.hint);
                }
                None => out.push(word.to_string()),
            }
        }
    }

    fn pip_module_groups(&mut self, member: &Member) -> Vec<GroupEntry> {
        let path = JsonPath::root().key("pip_module_groups");
        let Value::Object(all) = &member.node.value else {
            self.wrong_type(&path, &member.node, "an object of group name → pip arguments", "{\"base_pks\": \"numpy scipy\"}");
            return Vec::new();
        };
        let mut out = Vec::new();
        for m in members(all) {
            let group_path = path.key(&m.key);
            if let Some(p) = group_name_problem(&m.key) {
                self.error("bad-group-name", &group_path, m.key_pos, p.message).value(quoted(&m.key)).hint(p.hint);
            }
            let group = self.pip_group(&group_path, &m.node);
            out.push(GroupEntry { name: m.key.clone(), key_pos: m.key_pos, group });
        }
        out
    }

    fn pip_group(&mut self, path: &JsonPath, node: &Node) -> Option<PipGroup> {
        match &node.value {
            Value::String(s) => self.pip_args(path, node, s).map(|args| PipGroup::Common { args }),
            Value::Object(all) => {
                let mut complex = None;
                for m in members(all) {
                    if m.key == "pip_complex" {
                        complex = Some(m);
                    } else {
                        self.unknown_key(path, m, &["pip_complex"], "a group object holds only");
                    }
                }
                let Some(complex) = complex else {
                    let raw = self.raw(node);
                    self.error("missing-pip-complex", path, node.pos, "a pip group given as an object needs \"pip_complex\"")
                        .value(raw)
                        .hint("write {\"pip_complex\": {\"alpha\": \"pkg\"}}, or a plain string for every partition");
                    return None;
                };
                self.pip_complex(&path.key("pip_complex"), &complex.node)
            }
            _ => {
                self.wrong_type(path, node, "a string of pip arguments or {\"pip_complex\": {...}}", "\"numpy scipy\"");
                None
            }
        }
    }

    fn pip_complex(&mut self, path: &JsonPath, node: &Node) -> Option<PipGroup> {
        let Value::Object(all) = &node.value else {
            self.wrong_type(path, node, "an object of partition → pip arguments", "{\"alpha\": \"torch\"}");
            return None;
        };
        let mut args = IndexMap::new();
        for m in members(all) {
            self.partition_key(path, m);
            self.check_known_partition(path, m);
            let arg_path = path.key(&m.key);
            match &m.node.value {
                Value::String(s) => {
                    if let Some(a) = self.pip_args(&arg_path, &m.node, s) {
                        args.insert(m.key.clone(), a);
                    }
                }
                _ => self.wrong_type(&arg_path, &m.node, "a string of pip arguments", "\"torch --index-url https://download.pytorch.org/whl/cpu\""),
            }
        }
        if members(all).next().is_none() {
            self.warning("empty-pip-complex", path, node.pos, "pip_complex names no partition, so the group installs nothing")
                .hint("add partitions, or remove the group");
        }
        Some(PipGroup::PerPartition { args })
    }

    fn pip_args(&mut self, path: &JsonPath, node: &Node, s: &str) -> Option<Vec<String>> {
        let Some(args) = pip::split(s) else {
            self.error("pip-bad-quoting", path, node.pos, "pip arguments cannot be split: unbalanced quote or trailing backslash")
                .value(quoted(s))
                .hint("close every ' and \" quote; the string is split into arguments the way a shell would");
            return None;
        };
        let (problems, has_requirement) = pip::check(&args);
        let mut cursor = 0;
        let mut offsets = Vec::with_capacity(args.len());
        for arg in &args {
            let found = s.get(cursor..).and_then(|rest| rest.find(arg.as_str())).map(|at| cursor + at);
            if let Some(at) = found {
                cursor = at + arg.len();
            }
            offsets.push(found);
        }
        for p in &problems {
            let pos = match offsets.get(p.arg_index).copied().flatten() {
                Some(offset) => self.pos_in_string(node, s, offset),
                None => node.pos,
            };
            let value = args.get(p.arg_index).map(|a| quoted(a)).unwrap_or_default();
            self.error(p.code, path, pos, p.message.clone()).value(value).hint(p.hint.clone());
        }
        if !has_requirement {
            self.warning("empty-pip-args", path, node.pos, "these pip arguments name no package, so this installs nothing")
                .value(quoted(s))
                .hint("list packages to install, or remove the entry");
        }
        problems.is_empty().then_some(args)
    }
}

pub struct GroupEntry {
    pub name: String,
    pub key_pos: Pos,
    /// `None` when the group has errors.
    pub group: Option<PipGroup>,
}

#[cfg(test)]
#[path = "lint_tests.rs"]
mod tests;
