//! Name rules for kernel keys, modules, partitions, pip groups and imports.
//! Each `*_problem` function says what is wrong and how to fix it.

/// What is wrong with a name, and how to fix it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameProblem {
    pub message: String,
    pub hint: String,
}

fn problem(message: impl Into<String>, hint: impl Into<String>) -> Option<NameProblem> {
    Some(NameProblem { message: message.into(), hint: hint.into() })
}

const KERNEL_NAME_MAX: usize = 64;

/// A kernelspec directory name as jupyter_client accepts it: `^[a-z0-9._-]+$`,
/// not starting with `.` or `-`, no `..`, at most 64 characters.
pub fn is_valid_kernel_name(s: &str) -> bool {
    kernel_name_problem(s).is_none()
}

pub fn kernel_name_problem(s: &str) -> Option<NameProblem> {
    let suggestion = suggest_kernel_name(s);
    let use_instead = |why: &str| match &suggestion {
        Some(better) => format!("{why}; use \"{better}\""),
        None => why.to_string(),
    };
    if s.is_empty() {
        return problem("a kernel name cannot be empty", "kernel names are directory names such as \"pytorch\"");
    }
    if s.chars().count() > KERNEL_NAME_MAX {
        return problem(
            format!("kernel name is longer than {KERNEL_NAME_MAX} characters"),
            "use a short name; the long one belongs in \"name\"",
        );
    }
    if s.contains('/') || s.contains('\\') {
        return problem(
            "kernel name contains a path separator",
            use_instead("the kernel name becomes a directory name, so it cannot contain '/'"),
        );
    }
    if s.contains("..") {
        return problem("kernel name contains \"..\"", use_instead("\"..\" could point outside the kernels directory"));
    }
    if s.chars().any(char::is_whitespace) {
        return problem("kernel name contains whitespace", use_instead("put the human-readable name in \"name\""));
    }
    if s.chars().any(|c| c.is_ascii_uppercase()) && is_valid_kernel_name(&s.to_ascii_lowercase()) {
        return problem(
            "kernel name contains uppercase letters",
            format!("Jupyter kernel names are lowercase; use \"{}\"", s.to_ascii_lowercase()),
        );
    }
    if let Some(bad) = s.chars().find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '-')) {
        return problem(
            format!("kernel name contains {bad:?}"),
            use_instead("kernel names may contain only a-z, 0-9, '.', '_' and '-'"),
        );
    }
    if s.starts_with('.') || s.starts_with('-') {
        return problem("kernel name starts with '.' or '-'", use_instead("start it with a letter or digit"));
    }
    None
}

/// A lowercase, hyphenated form of `s` that is a valid kernel name, if any.
fn suggest_kernel_name(s: &str) -> Option<String> {
    let mut out = String::new();
    for c in s.to_lowercase().chars() {
        let c = if matches!(c, 'a'..='z' | '0'..='9' | '_' | '.') { c } else { '-' };
        if !((c == '-' || c == '.') && out.ends_with(c)) {
            out.push(c);
        }
    }
    let trimmed: String = out.trim_matches(['-', '.']).chars().take(KERNEL_NAME_MAX).collect();
    (trimmed != s && is_valid_kernel_name(&trimmed)).then_some(trimmed)
}

/// An Lmod module name: `^[A-Za-z0-9][A-Za-z0-9._+/-]*$`, no `..`, no `//`,
/// no trailing `/`.
pub fn is_valid_module_name(s: &str) -> bool {
    module_name_problem(s).is_none()
}

const SHELL_METACHARACTERS: &str = ";|&$`'\"<>(){}[]*?!#~\\ ";

pub fn module_name_problem(s: &str) -> Option<NameProblem> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        let what = if c == '\n' || c == '\r' { "a newline".to_string() } else { format!("the control character {c:?}") };
        return problem(
            format!("module name contains {what}"),
            "write modules separated by spaces on one line, or as an array of strings",
        );
    }
    if let Some(c) = s.chars().find(|c| SHELL_METACHARACTERS.contains(*c)) {
        return problem(
            format!("module name contains the shell metacharacter {c:?}"),
            "module names may contain only letters, digits and . _ + / -; commands do not belong in a module list",
        );
    }
    if s.contains("..") {
        return problem("module name contains \"..\"", "write the module as Name/version, e.g. \"GCC/11.3.0\"");
    }
    if s.contains("//") || s.ends_with('/') {
        return problem("module name has an empty part between '/'", "write the module as Name/version, e.g. \"GCC/11.3.0\"");
    }
    if let Some(c) = s.chars().find(|c| !(c.is_ascii_alphanumeric() || "._+/-".contains(*c))) {
        return problem(format!("module name contains {c:?}"), "module names may contain only letters, digits and . _ + / -");
    }
    if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return problem("module name must start with a letter or digit", "write the module as Name/version, e.g. \"GCC/11.3.0\"");
    }
    None
}

/// A partition name as `hostname -d` yields it: `^[a-z0-9][a-z0-9_-]*$`.
pub fn partition_name_problem(s: &str) -> Option<NameProblem> {
    let valid = s.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if valid {
        return None;
    }
    let hint = if s.contains('.') {
        "use the partition alone, e.g. \"alpha\" for alpha.hpc.tu-dresden.de".to_string()
    } else if s.to_ascii_lowercase() != s && partition_name_problem(&s.to_ascii_lowercase()).is_none() {
        format!("partition names are lowercase; use \"{}\"", s.to_ascii_lowercase())
    } else {
        "partition names look like \"barnard\": lowercase letters, digits, '_' and '-'".to_string()
    };
    problem(format!("{s:?} is not a valid partition name"), hint)
}

/// A pip group name: `^[A-Za-z0-9][A-Za-z0-9._-]*$`.
pub fn group_name_problem(s: &str) -> Option<NameProblem> {
    let valid = s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c));
    if valid {
        return None;
    }
    problem(
        format!("{s:?} is not a valid pip group name"),
        "group names may contain only letters, digits, '.', '_' and '-', starting with a letter or digit",
    )
}

/// A Python import name: dotted identifiers such as `PIL.Image`.
pub fn import_name_problem(s: &str) -> Option<NameProblem> {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if s.split('.').all(identifier) {
        return None;
    }
    let hint = if s.contains('-') {
        format!("import names use '_' where package names use '-'; try \"{}\"", s.replace('-', "_"))
    } else if s.contains(['=', '<', '>', '[']) {
        "check_libs lists import names (e.g. \"sklearn\"), not pip requirements".to_string()
    } else {
        "check_libs lists Python import names such as \"numpy\" or \"PIL.Image\"".to_string()
    };
    problem(format!("{s:?} is not a Python import name"), hint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("pytorch", true)]
    #[case("py-3.10_x", true)]
    #[case("0abc", true)]
    #[case("", false)]
    #[case("PyTorch", false)]
    #[case("my kernel", false)]
    #[case("../evil", false)]
    #[case("a/b", false)]
    #[case(".hidden", false)]
    #[case("-dash", false)]
    #[case("a..b", false)]
    #[case("ké", false)]
    #[case(&"a".repeat(64), true)]
    #[case(&"a".repeat(65), false)]
    fn kernel_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(is_valid_kernel_name(name), valid, "{name:?}");
    }

    #[rstest]
    #[case("PyTorch", "use \"pytorch\"")]
    #[case("my kernel", "use \"my-kernel\"")]
    #[case("a/b", "cannot contain '/'")]
    #[case(".hidden", "use \"hidden\"")]
    fn kernel_name_hints(#[case] name: &str, #[case] hint_part: &str) {
        let p = kernel_name_problem(name).expect("invalid name");
        assert!(p.hint.contains(hint_part), "{name:?}: {}", p.hint);
    }

    #[rstest]
    #[case("release/23.10", true)]
    #[case("TensorFlow/2.11.0-CUDA-11.7.0", true)]
    #[case("GCCcore/11.3.0", true)]
    #[case("libxc+x/1", true)]
    #[case("Python", true)]
    #[case("a;b", false)]
    #[case("$(rm", false)]
    #[case("`id`", false)]
    #[case("a\nb", false)]
    #[case("a b", false)]
    #[case("../x", false)]
    #[case("a//b", false)]
    #[case("a/", false)]
    #[case("/abs", false)]
    #[case("-x", false)]
    #[case("a@b", false)]
    #[case("", false)]
    fn module_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(is_valid_module_name(name), valid, "{name:?}");
    }

    #[rstest]
    #[case("barnard", None)]
    #[case("gpu_2-x", None)]
    #[case("Alpha", Some("use \"alpha\""))]
    #[case("alpha.hpc", Some("partition alone"))]
    #[case("-x", Some("lowercase letters"))]
    fn partition_names(#[case] name: &str, #[case] hint: Option<&str>) {
        let got = partition_name_problem(name).map(|p| p.hint);
        match hint {
            None => assert_eq!(got, None),
            Some(part) => assert!(got.is_some_and(|h| h.contains(part))),
        }
    }

    #[rstest]
    #[case("base_pks", true)]
    #[case("nvidia-cudnn-cu12", true)]
    #[case("A.b", true)]
    #[case("_x", false)]
    #[case("a b", false)]
    fn group_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(group_name_problem(name).is_none(), valid);
    }

    #[rstest]
    #[case("numpy", true)]
    #[case("PIL.Image", true)]
    #[case("_private", true)]
    #[case("scikit-learn", false)]
    #[case("numpy==1.2", false)]
    #[case("a..b", false)]
    #[case("1abc", false)]
    fn import_names(#[case] name: &str, #[case] valid: bool) {
        assert_eq!(import_name_problem(name).is_none(), valid);
    }
}
