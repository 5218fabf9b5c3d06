//! Module tree data → the files of a partition layer: Lua modulefiles in a
//! hierarchy derived from spider's `parent` chains, plus the emulated installs
//! (`bin/` links, module-provided Python packages with their dist-info).
//!
//! Layout: top-level modules in `/sw/modules/top`; the modules visible after a
//! chain `[release/23.10, GCC/11.3.0]` in `/sw/modules/tree/release@23.10~GCC@11.3.0`.
//! The chain directories are siblings, never nested, because Lmod would read a
//! directory below a MODULEPATH entry as part of a module name.

use std::collections::BTreeSet;

use super::overlay::{ModuleOverlay, Overlay, PythonPackage, PythonSite};
use super::spider::{Module, Tree};
use crate::error::{Error, Result};

/// The MODULEPATH a fresh shell starts with.
pub const TOP_DIR: &str = "/sw/modules/top";
const TREE_DIR: &str = "/sw/modules/tree";
/// Debian's version-independent site directory of the system interpreter.
const INTERPRETER_SITE_DIR: &str = "/usr/lib/python3/dist-packages";

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Content {
    File { text: String, executable: bool },
    Symlink(String),
}

/// A file of the partition layer, at its absolute path inside the image.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct LayerFile {
    pub path: String,
    pub content: Content,
}

impl LayerFile {
    fn text(path: String, text: String) -> Self {
        LayerFile { path, content: Content::File { text, executable: false } }
    }
}

/// Directory holding the modules visible after loading `chain` (empty chain = top).
pub fn chain_dir(chain: &[String]) -> String {
    if chain.is_empty() {
        return TOP_DIR.to_string();
    }
    let encoded: Vec<String> = chain.iter().map(|m| m.replace('/', "@")).collect();
    format!("{TREE_DIR}/{}", encoded.join("~"))
}

/// EasyBuild's variable suffix for a software name (`SciPy-bundle` → `SCIPYMINBUNDLE`).
pub fn easybuild_name(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    last.replace('+', "plus").replace('-', "min").replace('.', "").to_ascii_uppercase()
}

/// The wheel/dist-info spelling of a distribution name (PEP 427).
pub(super) fn dist_info_name(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            if !out.ends_with('_') {
                out.push('_');
            }
        } else {
            out.push(c);
        }
    }
    out
}

pub fn install_root(overlay: &Overlay, module: &Module) -> String {
    let version = module.version.as_deref().unwrap_or("default");
    format!("{}/{}/{}", overlay.install_root.trim_end_matches('/'), module.name, version)
}

/// Every file of the layer for one partition; `origin` names the data in the header.
pub fn generate(tree: &Tree, overlay: &Overlay, origin: &str) -> Result<Vec<LayerFile>> {
    let chains = tree.chains();
    let mut files = Vec::new();
    for module in tree.modules.values() {
        let extra = overlay.for_module(&module.name, &module.full);
        check_dependencies(tree, module, &extra, origin)?;
        let positions: Vec<Vec<String>> =
            if module.is_top_level() { vec![Vec::new()] } else { module.parents.iter().cloned().collect() };
        for chain in positions {
            let mut own_chain = chain.clone();
            own_chain.push(module.full.clone());
            let children = chains.contains(&own_chain).then(|| chain_dir(&own_chain));
            let file_name = match &module.version {
                Some(v) => format!("{}/{}/{v}.lua", chain_dir(&chain), module.name),
                None => format!("{}/{}.lua", chain_dir(&chain), module.name),
            };
            let lua = render_lua(module, &extra, overlay, children.as_deref(), origin);
            files.push(LayerFile::text(file_name, lua));
        }
        files.extend(install_files(module, &extra, overlay));
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn check_dependencies(tree: &Tree, module: &Module, extra: &ModuleOverlay, origin: &str) -> Result<()> {
    for dep in extra.depends_on.iter().flatten() {
        if !tree.modules.contains_key(dep) {
            return Err(Error::usage(format!(
                "{origin}: overlay entry for {} depends on {dep}, which this partition's spider export does not list",
                module.full
            ))
            .with_hint(format!("add a \"{}\" entry with the right depends_on to containers/overlay.json", module.full)));
        }
    }
    Ok(())
}

/// A Lua string literal.
fn lua_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // Always three digits: Lua reads up to three, so `\1` before a
            // digit `2` would be the one character `\12`.
            c if (c as u32) < 0x20 => out.push_str(&format!("\\{:03}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn substitute(template: &str, root: &str, version: &str) -> String {
    template.replace("{root}", root).replace("{version}", version)
}

fn render_lua(module: &Module, extra: &ModuleOverlay, overlay: &Overlay, children: Option<&str>, origin: &str) -> String {
    let root = install_root(overlay, module);
    let version = module.version.as_deref().unwrap_or("");
    let description = extra.description.as_deref().or(module.description.as_deref());
    let mut lua = format!("-- {} — generated by hpc-kernels from {origin}; do not edit.\n", module.full);
    let help = module.help.as_deref().or(description).unwrap_or(&module.full);
    lua.push_str(&format!("help({})\n", lua_str(help)));
    lua.push_str(&format!("whatis({})\n", lua_str(&format!("Name: {}", module.name))));
    if !version.is_empty() {
        lua.push_str(&format!("whatis({})\n", lua_str(&format!("Version: {version}"))));
    }
    if let Some(d) = description {
        lua.push_str(&format!("whatis({})\n", lua_str(&format!("Description: {d}"))));
    }
    for (category, name) in &module.properties {
        lua.push_str(&format!("add_property({}, {})\n", lua_str(category), lua_str(name)));
    }
    for dep in extra.depends_on.iter().flatten() {
        lua.push_str(&format!("depends_on({})\n", lua_str(dep)));
    }
    if extra.easybuild.unwrap_or(true) {
        let eb = easybuild_name(&module.name);
        lua.push_str(&format!("setenv({}, {})\n", lua_str(&format!("EBROOT{eb}")), lua_str(&root)));
        lua.push_str(&format!("setenv({}, {})\n", lua_str(&format!("EBVERSION{eb}")), lua_str(version)));
        lua.push_str(&format!("prepend_path(\"PATH\", {})\n", lua_str(&format!("{root}/bin"))));
        lua.push_str(&format!("prepend_path(\"LD_LIBRARY_PATH\", {})\n", lua_str(&format!("{root}/lib"))));
    }
    for (var, value) in extra.env.iter().flatten() {
        lua.push_str(&format!("setenv({}, {})\n", lua_str(var), lua_str(&substitute(value, &root, version))));
    }
    let on_pythonpath = extra.python_site.unwrap_or_default() == PythonSite::Pythonpath;
    if on_pythonpath && extra.python_packages.as_ref().is_some_and(|p| !p.is_empty()) {
        let site = format!("{root}/{}", overlay.site_packages.trim_matches('/'));
        lua.push_str(&format!("prepend_path(\"PYTHONPATH\", {})\n", lua_str(&site)));
    }
    for (var, entries) in extra.prepend_path.iter().flatten() {
        for entry in entries {
            let entry = substitute(entry, &root, version);
            let path = if entry.starts_with('/') { entry } else { format!("{root}/{entry}") };
            lua.push_str(&format!("prepend_path({}, {})\n", lua_str(var), lua_str(&path)));
        }
    }
    if let Some(dir) = children {
        lua.push_str(&format!("prepend_path(\"MODULEPATH\", {})\n", lua_str(dir)));
    }
    lua
}

fn install_files(module: &Module, extra: &ModuleOverlay, overlay: &Overlay) -> Vec<LayerFile> {
    let root = install_root(overlay, module);
    let mut files = Vec::new();
    for (exe, target) in extra.bin.iter().flatten() {
        files.push(LayerFile { path: format!("{root}/bin/{exe}"), content: Content::Symlink(target.clone()) });
    }
    let site = format!("{root}/{}", overlay.site_packages.trim_matches('/'));
    for package in extra.python_packages.iter().flatten() {
        files.extend(python_package_files(&site, module, package));
    }
    if extra.python_site == Some(PythonSite::Interpreter) && extra.python_packages.as_ref().is_some_and(|p| !p.is_empty()) {
        files.push(interpreter_site_hook(module, overlay));
    }
    files
}

/// Debian's interpreter stands in for the module's, so the module's own
/// site-packages is added by a `.pth` hook while the module is loaded
/// (`EBROOT<NAME>` set): appended to `sys.path`, after a venv's
/// site-packages, where a venv built on the real interpreter finds them.
fn interpreter_site_hook(module: &Module, overlay: &Overlay) -> LayerFile {
    let eb = easybuild_name(&module.name);
    let site = overlay.site_packages.trim_matches('/');
    let text = format!(
        "import os, sys; root = os.environ.get(\"EBROOT{eb}\"); root and sys.path.append(root + \"/{site}\")\n"
    );
    LayerFile::text(format!("{INTERPRETER_SITE_DIR}/hpc_kernels_ebroot_{}.pth", eb.to_ascii_lowercase()), text)
}

fn python_package_files(site: &str, module: &Module, package: &PythonPackage) -> Vec<LayerFile> {
    let version = package.version.as_deref().or(module.version.as_deref()).unwrap_or("0");
    let mut files = Vec::new();
    let mut dir = site.to_string();
    let parts: Vec<&str> = package.import_name().split('.').collect();
    let mut packages = BTreeSet::new();
    for (i, part) in parts.iter().enumerate() {
        dir = format!("{dir}/{part}");
        let text = if i + 1 == parts.len() {
            format!(
                "\"\"\"{} {version}, provided by module {} (emulated by hpc-kernels).\"\"\"\n__version__ = \"{version}\"\n",
                package.name, module.full
            )
        } else {
            String::new()
        };
        packages.insert(dir.clone());
        files.push(LayerFile::text(format!("{dir}/__init__.py"), text));
    }
    let dist_info = format!("{site}/{}-{version}.dist-info", dist_info_name(&package.name));
    let mut metadata = format!(
        "Metadata-Version: 2.1\nName: {}\nVersion: {version}\nSummary: provided by module {} (emulated by hpc-kernels)\n",
        package.name, module.full
    );
    if let Some(requires_python) = &package.requires_python {
        metadata.push_str(&format!("Requires-Python: {requires_python}\n"));
    }
    for line in &package.requires_dist {
        metadata.push_str(&format!("Requires-Dist: {line}\n"));
    }
    files.push(LayerFile::text(format!("{dist_info}/METADATA"), metadata));
    files.push(LayerFile::text(format!("{dist_info}/INSTALLER"), "easybuild\n".into()));
    files
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::spider;
    use rstest::rstest;

    const EXPORT: &str = r#"[
      {"package": "release", "versions": [{"full": "release/23.10", "description": "Module release 23.10", "properties": {"lmod": {"sticky": 1}}}]},
      {"package": "GCC", "versions": [{"full": "GCC/11.3.0", "parent": [["release/23.10"]]}]},
      {"package": "OpenMPI", "versions": [{"full": "OpenMPI/4.1.4", "parent": [["release/23.10", "GCC/11.3.0"]]}]},
      {"package": "SciPy-bundle", "versions": [{"full": "SciPy-bundle/2022.05", "parent": [["release/23.10", "GCC/11.3.0", "OpenMPI/4.1.4"]]}]}
    ]"#;

    const OVERLAY: &str = r#"{"modules": {
      "release": {"easybuild": false},
      "SciPy-bundle": {"description": "Bundle of Python packages for scientific software",
        "python_packages": [{"name": "numpy", "version": "1.22.3"}, {"name": "scikit-learn", "import": "sklearn"},
          {"name": "pandas", "version": "1.4.2", "requires_python": ">=3.8",
           "requires_dist": ["pytz (>=2020.1)", "numpy (>=1.21.0) ; python_version >= \"3.10\""]}]},
      "GCC": {"python_site": "interpreter", "python_packages": [{"name": "six", "version": "1.16.0"}]}
    }}"#;

    fn files() -> Vec<LayerFile> {
        let tree = spider::parse("export.json", EXPORT).expect("export");
        let overlay = Overlay::parse("overlay.json", OVERLAY).expect("overlay");
        generate(&tree, &overlay, "test data").expect("generate")
    }

    fn text_of<'a>(files: &'a [LayerFile], path: &str) -> &'a str {
        match files.iter().find(|f| f.path == path).map(|f| &f.content) {
            Some(Content::File { text, .. }) => text,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[rstest]
    #[case("/sw/modules/top/release/23.10.lua")]
    #[case("/sw/modules/tree/release@23.10/GCC/11.3.0.lua")]
    #[case("/sw/modules/tree/release@23.10~GCC@11.3.0~OpenMPI@4.1.4/SciPy-bundle/2022.05.lua")]
    fn modulefile_snapshots(#[case] path: &str) {
        let files = files();
        insta::assert_snapshot!(path.replace(['/', '@', '~'], "_"), text_of(&files, path));
    }

    #[test]
    fn provided_packages_have_version_and_dist_info() {
        let files = files();
        let site = "/sw/installed/SciPy-bundle/2022.05/lib/python3.10/site-packages";
        assert!(text_of(&files, &format!("{site}/numpy/__init__.py")).contains("__version__ = \"1.22.3\""));
        assert!(text_of(&files, &format!("{site}/sklearn/__init__.py")).contains("__version__ = \"2022.05\""));
        assert!(text_of(&files, &format!("{site}/scikit_learn-2022.05.dist-info/METADATA")).contains("Name: scikit-learn\n"));
    }

    #[test]
    fn provided_packages_carry_the_real_requirements() {
        let files = files();
        let metadata = text_of(&files, "/sw/installed/SciPy-bundle/2022.05/lib/python3.10/site-packages/pandas-1.4.2.dist-info/METADATA");
        assert!(
            metadata.ends_with(
                "Version: 1.4.2\nSummary: provided by module SciPy-bundle/2022.05 (emulated by hpc-kernels)\nRequires-Python: >=3.8\nRequires-Dist: pytz (>=2020.1)\nRequires-Dist: numpy (>=1.21.0) ; python_version >= \"3.10\"\n"
            ),
            "{metadata}"
        );
        let numpy = text_of(&files, "/sw/installed/SciPy-bundle/2022.05/lib/python3.10/site-packages/numpy-1.22.3.dist-info/METADATA");
        assert!(!numpy.contains("Requires-"), "{numpy}");
    }

    #[test]
    fn interpreter_packages_come_after_the_venv_not_through_pythonpath() {
        let files = files();
        let gcc = text_of(&files, "/sw/modules/tree/release@23.10/GCC/11.3.0.lua");
        assert!(!gcc.contains("PYTHONPATH"), "{gcc}");
        assert!(text_of(&files, "/sw/installed/GCC/11.3.0/lib/python3.10/site-packages/six-1.16.0.dist-info/METADATA").contains("Name: six\n"));
        let hook = text_of(&files, "/usr/lib/python3/dist-packages/hpc_kernels_ebroot_gcc.pth");
        assert_eq!(
            hook,
            "import os, sys; root = os.environ.get(\"EBROOTGCC\"); root and sys.path.append(root + \"/lib/python3.10/site-packages\")\n"
        );
        let scipy = text_of(&files, "/sw/modules/tree/release@23.10~GCC@11.3.0~OpenMPI@4.1.4/SciPy-bundle/2022.05.lua");
        assert!(scipy.contains("prepend_path(\"PYTHONPATH\", \"/sw/installed/SciPy-bundle/2022.05/lib/python3.10/site-packages\")"), "{scipy}");
    }

    #[test]
    fn leaf_modules_do_not_extend_modulepath() {
        let files = files();
        let leaf = text_of(&files, "/sw/modules/tree/release@23.10~GCC@11.3.0~OpenMPI@4.1.4/SciPy-bundle/2022.05.lua");
        assert!(!leaf.contains("MODULEPATH"));
    }

    #[test]
    fn unknown_dependency_is_reported() {
        let tree = spider::parse("export.json", EXPORT).expect("export");
        let overlay = Overlay::parse("o", r#"{"modules": {"GCC": {"depends_on": ["GCCcore/11.3.0"]}}}"#).expect("overlay");
        let err = generate(&tree, &overlay, "alpha").expect_err("GCCcore missing");
        assert!(err.message.contains("GCC/11.3.0 depends on GCCcore/11.3.0"), "{}", err.message);
    }

    #[rstest]
    #[case("PyTorch", "PYTORCH")]
    #[case("SciPy-bundle", "SCIPYMINBUNDLE")]
    #[case("libsigc++", "LIBSIGCPLUSPLUS")]
    #[case("Python", "PYTHON")]
    fn easybuild_names(#[case] name: &str, #[case] expected: &str) {
        assert_eq!(easybuild_name(name), expected);
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_str("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(lua_str("\u{1}2"), "\"\\0012\"", "a control character before a digit keeps its own escape");
        assert_eq!(lua_str("\u{1b}[0m"), "\"\\027[0m\"");
    }
}
