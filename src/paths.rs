//! Default locations, derived from environment variables the way Jupyter does.

use std::path::PathBuf;

/// Reads a variable, treating empty as unset.
fn var(get: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    get(name).filter(|v| !v.is_empty())
}

fn home(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    var(get, "HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn xdg_data_home(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    var(get, "XDG_DATA_HOME").map(PathBuf::from).unwrap_or_else(|| home(get).join(".local/share"))
}

/// `$HPC_KERNELS_WORKSPACE`, else `$XDG_DATA_HOME/hpc-kernels` (~/.local/share/hpc-kernels).
pub fn default_workspace(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    var(get, "HPC_KERNELS_WORKSPACE").map(PathBuf::from).unwrap_or_else(|| xdg_data_home(get).join("hpc-kernels"))
}

/// The cache for images, rootfs tarballs and wheels, shared by all runs:
/// `$HPC_KERNELS_CACHE`, else `$XDG_CACHE_HOME/hpc-kernels`, else `~/.cache/hpc-kernels`.
pub fn cache_dir(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    var(get, "HPC_KERNELS_CACHE")
        .map(PathBuf::from)
        .or_else(|| var(get, "XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("hpc-kernels")))
        .unwrap_or_else(|| home(get).join(".cache/hpc-kernels"))
}

/// [`cache_dir`] of this process's environment.
pub fn default_cache_dir() -> PathBuf {
    cache_dir(&from_process)
}

/// The user's Jupyter kernels dir: `$JUPYTER_DATA_DIR/kernels`, else
/// `$XDG_DATA_HOME/jupyter/kernels` (~/.local/share/jupyter/kernels), as jupyter_core finds it.
pub fn user_kernels_dir(get: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    var(get, "JUPYTER_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| xdg_data_home(get).join("jupyter"))
        .join("kernels")
}

/// `PREFIX/share/jupyter/kernels`, as `jupyter kernelspec install --prefix` uses.
pub fn prefix_kernels_dir(prefix: &std::path::Path) -> PathBuf {
    prefix.join("share/jupyter/kernels")
}

/// Looks variables up in this process's environment.
pub fn from_process(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_follows_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(cache_dir(&env(&[("HOME", "/h")])), PathBuf::from("/h/.cache/hpc-kernels"));
        assert_eq!(cache_dir(&env(&[("HOME", "/h"), ("XDG_CACHE_HOME", "/x")])), PathBuf::from("/x/hpc-kernels"));
        assert_eq!(cache_dir(&env(&[("HPC_KERNELS_CACHE", "/c"), ("XDG_CACHE_HOME", "/x")])), PathBuf::from("/c"));
        assert_eq!(cache_dir(&env(&[("HPC_KERNELS_CACHE", ""), ("HOME", "/h")])), PathBuf::from("/h/.cache/hpc-kernels"));
        assert_eq!(cache_dir(&env(&[])), PathBuf::from("/tmp/.cache/hpc-kernels"));
    }

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    #[test]
    fn defaults_follow_jupyter() {
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(user_kernels_dir(&e), PathBuf::from("/home/u/.local/share/jupyter/kernels"));
        assert_eq!(default_workspace(&e), PathBuf::from("/home/u/.local/share/hpc-kernels"));
        let e = env(&[("HOME", "/home/u"), ("JUPYTER_DATA_DIR", "/j"), ("XDG_DATA_HOME", "/x")]);
        assert_eq!(user_kernels_dir(&e), PathBuf::from("/j/kernels"));
        assert_eq!(default_workspace(&e), PathBuf::from("/x/hpc-kernels"));
        let e = env(&[("HPC_KERNELS_WORKSPACE", "/ws"), ("JUPYTER_DATA_DIR", "")]);
        assert_eq!(default_workspace(&e), PathBuf::from("/ws"));
        assert_eq!(user_kernels_dir(&e), PathBuf::from("/tmp/.local/share/jupyter/kernels"));
    }
}
