//! What a pip group may contain.
//!
//! Policy: pip is always run as an argument vector, never through a shell, so
//! shell syntax in a pip string can only be a mistake or an attack. Any argument
//! containing `;`, `|`, `&`, `$`, a backtick, a newline or NUL is an error, and
//! so are `<` and `>` anywhere except in a requirement's version specifier
//! (`numpy>=1.2,<2`). Because `;` is refused, environment markers
//! (`pkg; python_version<"3.12"`) are refused too.
//!
//! Options are an allow-list of those that only choose *what* to install and
//! from where: `--index-url/-i URL`, `--extra-index-url URL`,
//! `--find-links/-f URL`, `--trusted-host HOST`, `--pre`, `--upgrade/-U`,
//! `--upgrade-strategy eager|only-if-needed`, `--no-deps`,
//! `--only-binary X`, `--no-binary X`, `--prefer-binary`,
//! `--no-build-isolation`, `--no-cache-dir`. Index and link URLs must be
//! `http://` or `https://`. Refused with a reason: `-r/--requirement` and
//! `-c/--constraint` (read local files), `-e/--editable` (a local source
//! tree), and `-t/--target`, `--prefix`, `--root`, `--user`, `--src`, `--log`,
//! `--report`, `--cache-dir` (write outside the kernel's virtualenv); any other
//! option is refused as unknown.
//!
//! Requirements are PEP 508 names with optional extras and version
//! specifiers (`nbformat==5.0.2`, `xarray[complete]`, `numpy>=1.2,<2`), or
//! direct references `name @ https://…` (quote them in the spec string so they
//! stay one argument). Local paths (`/…`, `./…`, `../…`, `~…`, `file:…`) are
//! refused: they depend on the machine and directory pip happens to run in.

/// A problem with one argument (by index) of a pip group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipProblem {
    pub code: &'static str,
    pub arg_index: usize,
    pub message: String,
    pub hint: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ValueKind {
    Url,
    Host,
    Packages,
    Strategy,
}

/// Allowed options: spellings and what value they take (`None`: a flag).
const ALLOWED: &[(&[&str], Option<ValueKind>)] = &[
    (&["--index-url", "-i"], Some(ValueKind::Url)),
    (&["--extra-index-url"], Some(ValueKind::Url)),
    (&["--find-links", "-f"], Some(ValueKind::Url)),
    (&["--trusted-host"], Some(ValueKind::Host)),
    (&["--only-binary"], Some(ValueKind::Packages)),
    (&["--no-binary"], Some(ValueKind::Packages)),
    (&["--upgrade-strategy"], Some(ValueKind::Strategy)),
    (&["--pre"], None),
    (&["--upgrade", "-U"], None),
    (&["--no-deps"], None),
    (&["--prefer-binary"], None),
    (&["--no-build-isolation"], None),
    (&["--no-cache-dir"], None),
];

const REFUSED: &[(&[&str], &str)] = &[
    (&["--requirement", "-r"], "it makes pip read a local file"),
    (&["--constraint", "-c"], "it makes pip read a local file"),
    (&["--editable", "-e"], "it installs from a local source tree"),
    (&["--target", "-t"], "it writes outside the kernel's virtualenv"),
    (&["--prefix"], "it writes outside the kernel's virtualenv"),
    (&["--root"], "it writes outside the kernel's virtualenv"),
    (&["--user"], "it writes outside the kernel's virtualenv"),
    (&["--src"], "it writes outside the kernel's virtualenv"),
    (&["--log"], "it writes outside the kernel's virtualenv"),
    (&["--report"], "it writes outside the kernel's virtualenv"),
    (&["--cache-dir"], "it writes outside the kernel's virtualenv"),
];

const SHELL_CHARACTERS: &[char] = &[';', '|', '&', '$', '`', '\n', '\r', '\0'];

/// The allowed options, for hints.
pub fn allowed_options() -> String {
    ALLOWED.iter().map(|(names, _)| names.join("/")).collect::<Vec<_>>().join(", ")
}

/// For an allowed option spelled `name` (without `=value`): whether it takes
/// a value. `None` for anything else.
pub fn option_takes_value(name: &str) -> Option<bool> {
    ALLOWED.iter().find(|(names, _)| names.contains(&name)).map(|(_, kind)| kind.is_some())
}

/// Splits a pip string the way a POSIX shell would split words.
pub fn split(s: &str) -> Option<Vec<String>> {
    shlex::split(s)
}

/// Checks split pip arguments. Returns every problem and whether any
/// argument is a requirement (a group with none installs nothing).
pub fn check(args: &[String]) -> (Vec<PipProblem>, bool) {
    let mut problems = Vec::new();
    let mut has_requirement = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let mut report = |code, message: String, hint: String| problems.push(PipProblem { code, arg_index: i, message, hint });
        if let Some(c) = arg.chars().find(|c| SHELL_CHARACTERS.contains(c)) {
            report(
                "pip-shell-syntax",
                format!("pip argument contains the shell character {c:?}"),
                "pip runs without a shell, so shell syntax here is a mistake or an attack; list only requirements and allowed options".into(),
            );
            i += 1;
            continue;
        }
        if arg.starts_with('-') && arg.len() > 1 {
            i += check_option(args, i, &mut problems);
            continue;
        }
        has_requirement = true;
        if arg == "@" {
            report(
                "pip-bad-requirement",
                "a lone \"@\" is not a requirement".into(),
                "quote a direct reference so it stays one argument: 'name @ https://…'".into(),
            );
        } else if let Some((code, message, hint)) = requirement_problem(arg) {
            report(code, message, hint);
        }
        i += 1;
    }
    (problems, has_requirement)
}

/// Checks the option at `args[i]`; returns how many arguments it used.
fn check_option(args: &[String], i: usize, problems: &mut Vec<PipProblem>) -> usize {
    let arg = &args[i];
    let mut report = |index, code, message: String, hint: String| problems.push(PipProblem { code, arg_index: index, message, hint });
    // `--name=value`, or a short option with its value attached (`-ihttps://…`).
    let (name, inline_value) = match arg.split_once('=') {
        Some((name, value)) if arg.starts_with("--") => (name.to_string(), Some(value.to_string())),
        _ if !arg.starts_with("--") && arg.len() > 2 => match (arg.get(..2), arg.get(2..)) {
            (Some(name), Some(value)) => (name.to_string(), Some(value.to_string())),
            _ => (arg.clone(), None),
        },
        _ => (arg.clone(), None),
    };
    if let Some((_, reason)) = REFUSED.iter().find(|(names, _)| names.contains(&name.as_str())) {
        report(i, "pip-forbidden-option", format!("pip option {name} is not allowed: {reason}"), format!("allowed options: {}", allowed_options()));
        return if inline_value.is_some() { 1 } else { 2.min(args.len() - i) };
    }
    let Some((_, kind)) = ALLOWED.iter().find(|(names, _)| names.contains(&name.as_str())) else {
        report(i, "pip-unknown-option", format!("unknown or unsupported pip option {name}"), format!("allowed options: {}", allowed_options()));
        return 1;
    };
    let Some(kind) = kind else {
        if inline_value.is_some() {
            report(i, "pip-bad-option-value", format!("pip option {name} takes no value"), format!("write just {name}"));
        }
        return 1;
    };
    let (value, value_index, used) = match inline_value {
        Some(v) => (v, i, 1),
        None => match args.get(i + 1) {
            Some(v) if !v.starts_with('-') => (v.clone(), i + 1, 2),
            _ => {
                report(i, "pip-missing-value", format!("pip option {name} needs a value"), format!("write {name} followed by its value"));
                return 1;
            }
        },
    };
    if let Some((message, hint)) = value_problem(*kind, &value) {
        report(value_index, "pip-bad-option-value", format!("{name}: {message}"), hint);
    }
    used
}

fn value_problem(kind: ValueKind, value: &str) -> Option<(String, String)> {
    let bad = |m: &str, h: &str| Some((m.to_string(), h.to_string()));
    match kind {
        ValueKind::Url => url_problem(value).map(|m| (m, "index and link URLs must start with http:// or https://".to_string())),
        ValueKind::Host => {
            let ok = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
            if ok { None } else { bad("not a host name", "write a host such as download.pytorch.org (optionally :port)") }
        }
        ValueKind::Packages => {
            let ok = value == ":all:" || value == ":none:" || value.split(',').all(is_project_name);
            if ok { None } else { bad("expected :all:, :none: or package names separated by commas", "e.g. --only-binary :all:") }
        }
        ValueKind::Strategy => {
            if matches!(value, "eager" | "only-if-needed") { None } else { bad("expected eager or only-if-needed", "e.g. --upgrade-strategy only-if-needed") }
        }
    }
}

fn url_problem(value: &str) -> Option<String> {
    let rest = value.strip_prefix("https://").or_else(|| value.strip_prefix("http://"));
    match rest {
        None => Some(format!("{value:?} is not an http(s) URL")),
        Some("") => Some("the URL has no host".to_string()),
        Some(rest) if rest.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == '"' || c == '\'') => {
            Some("the URL contains whitespace, quotes or '<' '>'".to_string())
        }
        Some(_) => None,
    }
}

fn is_project_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
        }
        _ => false,
    }
}

fn is_local_path(arg: &str) -> bool {
    arg.starts_with('/')
        || arg.starts_with("./")
        || arg.starts_with("../")
        || arg.starts_with('~')
        || arg.starts_with("file:")
        || arg == "."
        || arg == ".."
        || (!arg.contains('@') && !arg.contains("://") && (arg.contains('/') || arg.contains('\\')))
        || [".whl", ".tar.gz", ".zip", ".tgz"].iter().any(|ext| arg.ends_with(ext) && !arg.contains("://"))
}

/// Why `arg` is not an acceptable requirement, if it is not: (code, message, hint).
fn requirement_problem(arg: &str) -> Option<(&'static str, String, String)> {
    let rest = arg.trim_start();
    let name_len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || "._-".contains(c))).unwrap_or(rest.len());
    let (name, rest) = rest.split_at(name_len);
    if !is_project_name(name) && arg.contains(['<', '>']) {
        return Some((
            "pip-shell-syntax",
            format!("pip argument {arg:?} contains a shell redirection"),
            "'<' and '>' are allowed only in version specifiers such as numpy>=1.2,<2".into(),
        ));
    }
    if is_local_path(arg) {
        return Some((
            "pip-local-path",
            format!("{arg:?} is a local path, not a requirement"),
            "local paths depend on where pip runs; publish the package to an index or use 'name @ https://…'".into(),
        ));
    }
    let expected = |what: String| {
        Some((
            "pip-bad-requirement",
            what,
            "write requirements as name, name[extra], name==1.0, name>=1,<2 or 'name @ https://…' (quoted)".to_string(),
        ))
    };
    if arg.starts_with("http://") || arg.starts_with("https://") || arg.contains("+http") {
        return expected(format!("{arg:?} is a bare URL; a direct reference needs a name"));
    }
    if !is_project_name(name) {
        return expected(format!("{arg:?} is not a valid requirement"));
    }
    let mut rest = rest.trim_start();
    if let Some(after) = rest.strip_prefix('[') {
        let Some(close) = after.find(']') else { return expected(format!("{arg:?}: unclosed '[' of extras")) };
        if !after[..close].split(',').all(|e| is_project_name(e.trim())) {
            return expected(format!("{arg:?}: extras must be names separated by commas"));
        }
        rest = after[close + 1..].trim_start();
    }
    if let Some(url) = rest.strip_prefix('@') {
        return url_problem(url.trim()).and_then(|m| expected(format!("direct reference {arg:?}: {m}")));
    }
    if rest.is_empty() || specifiers_valid(rest) {
        None
    } else {
        expected(format!("{arg:?} has an invalid version specifier"))
    }
}

fn specifiers_valid(s: &str) -> bool {
    const OPERATORS: &[&str] = &["===", "==", "!=", "<=", ">=", "~=", "<", ">"];
    s.split(',').all(|clause| {
        let clause = clause.trim();
        let Some(op) = OPERATORS.iter().find(|op| clause.starts_with(**op)) else { return false };
        let version = clause[op.len()..].trim();
        !version.is_empty() && version.chars().all(|c| c.is_ascii_alphanumeric() || ".*+!_-".contains(c))
    })
}

#[cfg(test)]
#[path = "pip_tests.rs"]
mod tests;
