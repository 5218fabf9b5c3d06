//! Normalising a generated kernelspec for snapshots: everything that differs
//! from run to run (venv and workspace paths, temp dirs, the spec hash, the
//! tool version, timestamps) becomes a placeholder, so a stored snapshot only
//! changes when the kernelspec really does.

use serde_json::Value;

use super::model::KernelspecFiles;

const TOOL_NAME: &str = "hpc-kernels";

/// The kernelspec with run-specific parts replaced by `{venv}`, `{workspace}`,
/// `{tmp}`, `<sha256>`, `<version>` and `<timestamp>`. `kernel.json` is
/// re-printed in one canonical layout (key order kept) when it parses.
pub fn normalise(
    kernelspec: &KernelspecFiles,
    venv: Option<&str>,
    workspace: Option<&str>,
) -> KernelspecFiles {
    let text = |s: &str| redact_text(s, venv, workspace);
    let kernel_json = text(&kernelspec.kernel_json);
    let kernel_json = match serde_json::from_str::<Value>(&kernel_json) {
        Ok(mut value) => {
            redact_json_keys(&mut value);
            serde_json::to_string_pretty(&value).map(|s| s + "\n").unwrap_or(kernel_json)
        }
        Err(_) => kernel_json,
    };
    KernelspecFiles { kernel_json, launcher: text(&kernelspec.launcher) }
}

fn redact_text(text: &str, venv: Option<&str>, workspace: Option<&str>) -> String {
    let mut paths: Vec<(&str, &str)> = [(venv, "{venv}"), (workspace, "{workspace}")]
        .into_iter()
        .filter_map(|(path, placeholder)| {
            let path = path?.trim_end_matches('/');
            (!path.is_empty()).then_some((path, placeholder))
        })
        .collect();
    // The venv usually lives inside the workspace: replace the longer path first.
    paths.sort_by_key(|(path, _)| std::cmp::Reverse(path.len()));
    let mut out = text.to_string();
    for (path, placeholder) in paths {
        out = replace_path(&out, path, placeholder);
    }
    out = replace_temp_dirs(&out);
    out = replace_hex_digests(&out);
    out = replace_timestamps(&out);
    out = replace_launcher_hashes(&out);
    replace_tool_version(&out)
}

fn is_path_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '~')
}

/// Replaces `path` where it is a whole path prefix (`/ws` in `/ws/x`, not in `/ws2`).
fn replace_path(text: &str, path: &str, placeholder: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(path) {
        let after = &rest[at + path.len()..];
        let before_ok = rest[..at].chars().next_back().is_none_or(|c| !is_path_char(c) && c != '/');
        let after_ok = after.chars().next().is_none_or(|c| !is_path_char(c));
        out.push_str(&rest[..at]);
        out.push_str(if before_ok && after_ok { placeholder } else { path });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `/tmp/<anything>` (and the platform temp dir) → `{tmp}`.
fn replace_temp_dirs(text: &str) -> String {
    let system = std::env::temp_dir().to_string_lossy().trim_end_matches('/').to_string();
    let mut roots = vec!["/tmp".to_string(), "/var/tmp".to_string()];
    if !system.is_empty() && !roots.contains(&system) {
        roots.push(system);
    }
    let mut out = text.to_string();
    for root in roots {
        let prefix = format!("{root}/");
        let mut result = String::with_capacity(out.len());
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&prefix) {
            let before_ok = rest[..at].chars().next_back().is_none_or(|c| !is_path_char(c));
            let after = &rest[at + prefix.len()..];
            let component = after.find(|c: char| !is_path_char(c)).unwrap_or(after.len());
            result.push_str(&rest[..at]);
            if before_ok && component > 0 {
                result.push_str("{tmp}");
                rest = &after[component..];
            } else {
                result.push_str(&prefix);
                rest = after;
            }
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// `launch-alpha-0123456789ab.sh` → `launch-alpha-<hash>.sh`: a partition
/// launcher's name carries its content hash, which the tool version changes.
pub(crate) fn replace_launcher_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(".sh") {
        let (head, tail) = rest.split_at(at);
        let hash_start = head.len().saturating_sub(12);
        let is_hash = head.len() >= 13
            && head[hash_start..].chars().all(|c| c.is_ascii_hexdigit())
            && head[..hash_start].ends_with('-')
            && head[..hash_start].rfind("launch-").is_some_and(|l| !head[l..hash_start].contains(|c: char| c == '"' || c == '/' || c.is_whitespace()));
        if is_hash {
            out.push_str(&head[..hash_start]);
            out.push_str("<hash>");
        } else {
            out.push_str(head);
        }
        out.push_str(".sh");
        rest = &tail[3..];
    }
    out.push_str(rest);
    out
}

/// Runs of exactly 64 hex digits (sha256) → `<sha256>`.
fn replace_hex_digests(text: &str) -> String {
    replace_runs(
        text,
        |c| c.is_ascii_hexdigit(),
        |run| (run.len() == 64).then(|| "<sha256>".to_string()),
    )
}

/// Replaces maximal runs of characters matching `in_run` when `replace` says so.
fn replace_runs(
    text: &str,
    in_run: impl Fn(char) -> bool,
    replace: impl Fn(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut run_start: Option<usize> = None;
    let flush = |out: &mut String, run: &str| match replace(run) {
        Some(r) => out.push_str(&r),
        None => out.push_str(run),
    };
    for (i, c) in text.char_indices() {
        match (in_run(c), run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(start)) => {
                flush(&mut out, &text[start..i]);
                run_start = None;
                out.push(c);
            }
            (false, None) => out.push(c),
            (true, Some(_)) => {}
        }
    }
    if let Some(start) = run_start {
        flush(&mut out, &text[start..]);
    }
    out
}

/// ISO 8601 date-times (`2024-05-01T12:34:56`, optional fraction and zone) → `<timestamp>`.
fn replace_timestamps(text: &str) -> String {
    let is_stamp_char =
        |c: char| c.is_ascii_digit() || matches!(c, '-' | ':' | 'T' | 'Z' | '.' | '+');
    replace_runs(text, is_stamp_char, |run| looks_like_timestamp(run).then(|| "<timestamp>".into()))
}

fn looks_like_timestamp(run: &str) -> bool {
    let b = run.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        range.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit))
    };
    b.len() >= 19
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
}

/// `hpc-kernels 0.1.0` / `hpc-kernels v0.1.0` → `hpc-kernels <version>`.
fn replace_tool_version(text: &str) -> String {
    let needle = format!("{TOOL_NAME} ");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        out.push_str(&rest[..at + needle.len()]);
        let after = &rest[at + needle.len()..];
        let body = after.strip_prefix('v').unwrap_or(after);
        let mut len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+')))
            .unwrap_or(body.len());
        // A sentence may end right after the version.
        while len > 0 && body[..len].ends_with('.') {
            len -= 1;
        }
        if body.starts_with(|c: char| c.is_ascii_digit()) {
            out.push_str("<version>");
            rest = &body[len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Key-based redactions inside `kernel.json`, wherever the keys appear.
fn redact_json_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if let Value::String(s) = item {
                    if let Some(placeholder) = placeholder_for_key(key) {
                        *s = placeholder.to_string();
                    }
                } else {
                    redact_json_keys(item);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_json_keys),
        _ => {}
    }
}

fn placeholder_for_key(key: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    if key.ends_with("sha256") || key.ends_with("_hash") {
        Some("<sha256>")
    } else if key == "version" || key == "tool_version" {
        Some("<version>")
    } else if key.contains("timestamp") || key.ends_with("_at") || key == "installed" {
        Some("<timestamp>")
    } else {
        None
    }
}

#[cfg(test)]
mod launcher_name_tests {
    #[test]
    fn partition_launcher_hashes_are_masked() {
        let text = r#""alpha=launch-alpha-0123456789ab.sh,romeo=launch-romeo-ba9876543210.sh" launch-kernel.sh x-0123456789ab.sh"#;
        assert_eq!(
            super::replace_launcher_hashes(text),
            r#""alpha=launch-alpha-<hash>.sh,romeo=launch-romeo-<hash>.sh" launch-kernel.sh x-0123456789ab.sh"#
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("/ws/alpha/share/k/bin/python", "{venv}/bin/python")]
    #[case("source /ws/alpha/share/k/bin/activate", "source {venv}/bin/activate")]
    #[case("/ws/alpha/share/k2/bin", "{workspace}/alpha/share/k2/bin")]
    #[case("/ws2/other", "/ws2/other")]
    #[case("/data/ws/alpha", "/data/ws/alpha")]
    #[case("\"/ws\"", "\"{workspace}\"")]
    #[case("/tmp/.tmpAb12Cd/share/x", "{tmp}/share/x")]
    #[case("created 2024-05-01T12:34:56.123+02:00 ok", "created <timestamp> ok")]
    #[case("not a date 2024-05-01", "not a date 2024-05-01")]
    #[case("# hpc-kernels 0.1.0-rc.1 wrote this", "# hpc-kernels <version> wrote this")]
    #[case("hpc-kernels v2.0.0", "hpc-kernels <version>")]
    #[case("by hpc-kernels 0.1.0. Reinstall", "by hpc-kernels <version>. Reinstall")]
    #[case("hpc-kernels install", "hpc-kernels install")]
    fn text_redactions(#[case] input: &str, #[case] expected: &str) {
        assert_eq!(redact_text(input, Some("/ws/alpha/share/k/"), Some("/ws")), expected);
    }

    #[test]
    fn digests_of_exactly_64_hex_digits_are_masked() {
        let sha = "a".repeat(64);
        assert_eq!(replace_hex_digests(&format!("spec {sha}.")), "spec <sha256>.");
        let longer = "b".repeat(65);
        assert_eq!(replace_hex_digests(&longer), longer);
    }

    #[test]
    fn kernel_json_keys_are_masked_and_layout_is_canonical() {
        let spec = KernelspecFiles {
            kernel_json: r#"{"argv":["/ws/share/k/launcher.sh","{connection_file}"],"display_name":"K",
                "metadata":{"debugger":true,"hpc_kernels":{"spec_sha256":"abc","tool_version":"0.1.0",
                "installed_at":"yesterday","modules":["GCC/11.3.0"]}}}"#
                .into(),
            launcher: "#!/bin/bash\n".into(),
        };
        let out = normalise(&spec, Some("/ws/share/k"), None);
        let value: Value = serde_json::from_str(&out.kernel_json).unwrap();
        assert_eq!(value["argv"][0], "{venv}/launcher.sh");
        assert_eq!(value["argv"][1], "{connection_file}");
        let ours = &value["metadata"]["hpc_kernels"];
        assert_eq!(ours["spec_sha256"], "<sha256>");
        assert_eq!(ours["tool_version"], "<version>");
        assert_eq!(ours["installed_at"], "<timestamp>");
        assert_eq!(ours["modules"][0], "GCC/11.3.0");
        assert!(out.kernel_json.starts_with("{\n  \"argv\""), "{}", out.kernel_json);
        assert_eq!(normalise(&out, Some("/ws/share/k"), None), out, "normalising is idempotent");
    }

    #[test]
    fn unparsable_kernel_json_is_still_text_redacted() {
        let spec = KernelspecFiles {
            kernel_json: "{ \"argv\": [\"/v/x\"".into(),
            launcher: String::new(),
        };
        assert_eq!(normalise(&spec, Some("/v"), None).kernel_json, "{ \"argv\": [\"{venv}/x\"");
    }
}
