//! What spider does not export: the environment a module sets, the modules it loads,
//! the Python packages it provides. One overlay file (`containers/overlay.json`)
//! serves every partition; entries are keyed by module name (`PyTorch`, all
//! versions) or full name (`PyTorch/1.13.1`, overriding the name entry field by field).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Overlay {
    /// Prefix of the emulated software installs (`/sw/installed`).
    #[serde(default = "default_install_root")]
    pub install_root: String,
    /// Where module-provided Python packages live, relative to a module's root.
    #[serde(default = "default_site_packages")]
    pub site_packages: String,
    #[serde(default)]
    pub modules: BTreeMap<String, ModuleOverlay>,
}

fn default_install_root() -> String {
    "/sw/installed".into()
}

fn default_site_packages() -> String {
    "lib/python3.10/site-packages".into()
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModuleOverlay {
    /// Set EBROOT*/EBVERSION* and prepend `bin`/`lib` (default true).
    pub easybuild: Option<bool>,
    pub description: Option<String>,
    /// Modules loaded with this one (EasyBuild's dependencies), as Lmod `depends_on`.
    pub depends_on: Option<Vec<String>>,
    /// `setenv`; `{root}` and `{version}` are substituted.
    pub env: Option<BTreeMap<String, String>>,
    /// `prepend_path`; relative entries are under the module's root.
    pub prepend_path: Option<BTreeMap<String, Vec<String>>>,
    /// Executables in the module's `bin/`, as symlinks to host programs.
    pub bin: Option<BTreeMap<String, String>>,
    pub python_packages: Option<Vec<PythonPackage>>,
    /// Where `python_packages` are found: on `PYTHONPATH` (EasyBuild 4 modules
    /// of Python packages, the default) or in the interpreter's own
    /// site-packages (the extensions of EasyBuild's `Python` module), which a
    /// venv sees after its own.
    pub python_site: Option<PythonSite>,
}

#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PythonSite {
    #[default]
    Pythonpath,
    Interpreter,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PythonPackage {
    /// Distribution name as pip shows it (`torch`).
    pub name: String,
    /// Import name when it differs (`sklearn` for scikit-learn).
    pub import: Option<String>,
    /// Defaults to the module's version.
    pub version: Option<String>,
    /// `Requires-Dist` lines of the real install's METADATA, verbatim.
    #[serde(default)]
    pub requires_dist: Vec<String>,
    /// `Requires-Python` of the real install's METADATA.
    pub requires_python: Option<String>,
}

impl PythonPackage {
    pub fn import_name(&self) -> &str {
        self.import.as_deref().unwrap_or(&self.name)
    }
}

impl ModuleOverlay {
    /// Fields set in `specific` win over `self`.
    fn merged(&self, specific: &ModuleOverlay) -> ModuleOverlay {
        ModuleOverlay {
            easybuild: specific.easybuild.or(self.easybuild),
            description: specific.description.clone().or_else(|| self.description.clone()),
            depends_on: specific.depends_on.clone().or_else(|| self.depends_on.clone()),
            env: specific.env.clone().or_else(|| self.env.clone()),
            prepend_path: specific.prepend_path.clone().or_else(|| self.prepend_path.clone()),
            bin: specific.bin.clone().or_else(|| self.bin.clone()),
            python_packages: specific.python_packages.clone().or_else(|| self.python_packages.clone()),
            python_site: specific.python_site.or(self.python_site),
        }
    }
}

impl Overlay {
    pub fn parse(file: &str, text: &str) -> Result<Overlay> {
        let overlay: Overlay = serde_json::from_str(text).map_err(|e| {
            Error::usage(format!("{file}: invalid overlay (line {}, column {})", e.line(), e.column()))
                .with_source(e)
                .with_hint("keys: install_root, site_packages, modules.{NAME or NAME/VERSION}.{easybuild, description, depends_on, env, prepend_path, bin, python_packages, python_site}")
        })?;
        for (key, entry) in &overlay.modules {
            for package in entry.python_packages.iter().flatten() {
                let import = package.import_name();
                if import.is_empty() || !import.split('.').all(is_identifier) {
                    return Err(Error::usage(format!(
                        "{file}: modules.{key}.python_packages: \"{import}\" is not a Python import name"
                    ))
                    .with_hint("set \"import\" to the name used in `import NAME` (e.g. sklearn for scikit-learn)"));
                }
            }
            for package in entry.python_packages.iter().flatten() {
                for line in &package.requires_dist {
                    if line.contains('\n') || crate::harness::wheelhouse::parse_requirement(line).is_none() {
                        return Err(Error::usage(format!(
                            "{file}: modules.{key}.python_packages: {}: {line:?} is not a Requires-Dist line",
                            package.name
                        ))
                        .with_hint("copy the Requires-Dist values from the installed package's METADATA, e.g. \"numpy (>=1.21.0) ; python_version >= \\\"3.10\\\"\""));
                    }
                }
            }
            for (exe, target) in entry.bin.iter().flatten() {
                if exe.contains('/') || exe.is_empty() || !target.starts_with('/') {
                    return Err(Error::usage(format!("{file}: modules.{key}.bin.{exe}: needs a plain file name and an absolute target"))
                        .with_hint("example: \"bin\": {\"python3\": \"/usr/bin/python3\"}"));
                }
            }
        }
        Ok(overlay)
    }

    /// The overlay for one module: its name entry merged with its full-name entry.
    pub fn for_module(&self, name: &str, full: &str) -> ModuleOverlay {
        let by_name = self.modules.get(name).cloned().unwrap_or_default();
        match self.modules.get(full) {
            Some(specific) if full != name => by_name.merged(specific),
            _ => by_name,
        }
    }
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_name_entry_overrides_name_entry_field_by_field() {
        let overlay = Overlay::parse(
            "o.json",
            r#"{"modules": {
                "PyTorch": {"description": "Tensors", "depends_on": ["Python/3.10.4"]},
                "PyTorch/2.1.2": {"depends_on": ["Python/3.11.3"]}
            }}"#,
        )
        .expect("valid overlay");
        let m = overlay.for_module("PyTorch", "PyTorch/2.1.2");
        assert_eq!(m.description.as_deref(), Some("Tensors"));
        assert_eq!(m.depends_on, Some(vec!["Python/3.11.3".to_string()]));
        let m = overlay.for_module("PyTorch", "PyTorch/1.13.1");
        assert_eq!(m.depends_on, Some(vec!["Python/3.10.4".to_string()]));
        assert_eq!(overlay.install_root, "/sw/installed");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_import_names() {
        let err = Overlay::parse("o.json", r#"{"modules": {"X": {"enviroment": {}}}}"#).expect_err("typo");
        assert!(err.message.starts_with("o.json: invalid overlay"), "{}", err.message);
        let err = Overlay::parse("o.json", r#"{"modules": {"X": {"python_packages": [{"name": "scikit-learn"}]}}}"#)
            .expect_err("dash in import name");
        assert!(err.message.contains("modules.X.python_packages"), "{}", err.message);
        let err = Overlay::parse("o.json", r#"{"modules": {"X": {"python_packages": [{"name": "x", "requires_dist": ["numpy", ">=2"]}]}}}"#)
            .expect_err("no name");
        assert!(err.message.contains("\">=2\" is not a Requires-Dist line"), "{}", err.message);
        let err = Overlay::parse("o.json", r#"{"modules": {"X": {"python_site": "lib"}}}"#).expect_err("unknown site");
        assert!(err.message.starts_with("o.json: invalid overlay"), "{}", err.message);
    }
}
