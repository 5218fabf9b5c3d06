//! Looking at what was built: `images list` and `images shell`.

use std::io::IsTerminal;

use serde_json::Value;

use super::recipe::{self, LABEL_HASH, LABEL_KIND, LABEL_PARTITION, LABEL_RELEASE};
use super::{build, identity, BuildOptions, ImageInfo};
use crate::error::{Error, Result};
use crate::harness::docker::{self, LABEL};

/// Every image carrying the project's label, one entry per tag, sorted by tag.
pub fn list() -> Result<Vec<ImageInfo>> {
    docker::ensure_available()?;
    let filter = format!("label={LABEL}=true");
    let ids = docker::output("listing images (docker images)", ["images", "--quiet", "--no-trunc", "--filter", &filter])?;
    let mut ids: Vec<&str> = ids.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut args = vec!["image", "inspect", "--format", "{{json .}}"];
    args.extend(ids.iter().copied());
    let text = docker::output("inspecting images (docker image inspect)", &args)?;
    let mut infos = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let image: Value = serde_json::from_str(line).map_err(|e| {
            Error::internal("docker image inspect printed something that is not JSON")
                .with_source(e)
                .with_hint("check the docker CLI version (`docker version`)")
        })?;
        infos.extend(image_infos(&image));
    }
    infos.sort_by(|a, b| a.tag.cmp(&b.tag));
    Ok(infos)
}

fn image_infos(image: &Value) -> Vec<ImageInfo> {
    let labels = &image["Config"]["Labels"];
    let label = |key: &str| labels.get(key).and_then(Value::as_str).map(str::to_string);
    let id = image["Id"].as_str().unwrap_or_default().to_string();
    let tags: Vec<String> = image["RepoTags"]
        .as_array()
        .map(|tags| tags.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default();
    let tags = if tags.is_empty() { vec!["<none>".to_string()] } else { tags };
    tags.into_iter()
        .map(|tag| ImageInfo {
            tag,
            id: id.clone(),
            kind: label(LABEL_KIND).unwrap_or_else(|| "unknown".into()),
            partition: label(LABEL_PARTITION),
            release: label(LABEL_RELEASE),
            content_hash: label(LABEL_HASH),
            size_bytes: image["Size"].as_u64().unwrap_or(0),
        })
        .collect()
}

/// The image `shell` uses: the one the current data would build, else the newest
/// image labelled with this partition and release (e.g. built with --base-image).
pub fn find_image(partition: &str, release: &str) -> Result<String> {
    let opts = BuildOptions { partitions: vec![partition.into()], releases: vec![release.into()], ..BuildOptions::default() };
    let expected = build::expected_tag(&opts)?;
    if docker::image_id(&expected)?.is_some() {
        return Ok(expected);
    }
    let filters = [
        format!("label={LABEL}=true"),
        format!("label={LABEL_PARTITION}={partition}"),
        format!("label={LABEL_RELEASE}={release}"),
    ];
    let mut args = vec!["images".to_string(), "--format".into(), "{{.Repository}}:{{.Tag}}".into()];
    for f in filters {
        args.push("--filter".into());
        args.push(f);
    }
    let out = docker::output("looking for partition images (docker images)", &args)?;
    out.lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.contains("<none>"))
        .map(str::to_string)
        .ok_or_else(|| {
            Error::environment(format!("no image for {partition} release {release} has been built"))
                .with_hint(format!("run `hpc-kernels images build --partition {partition} --release {release}`"))
        })
}

/// Arguments of `docker run` for a partition container (without the image and command).
pub fn run_args(partition: &str, interactive: bool, tty: bool) -> Result<Vec<String>> {
    let id = identity(partition).ok_or_else(|| {
        Error::environment(format!("unknown partition \"{partition}\""))
            .with_hint(format!("known partitions: {}", super::known_partitions().join(", ")))
    })?;
    let mut args = vec!["run".to_string(), "--rm".into()];
    if interactive {
        args.push("--interactive".into());
    }
    if tty {
        args.push("--tty".into());
    }
    args.extend([
        "--network".into(),
        "none".into(),
        "--hostname".into(),
        id.fqdn.clone(),
        "--add-host".into(),
        format!("{}:127.0.1.1", id.fqdn),
        "--label".into(),
        format!("{LABEL}=true"),
    ]);
    Ok(args)
}

/// Runs a login shell (or `cmd` inside a login shell, so `module` works) in a
/// fresh container of the partition; returns the exit status.
pub fn shell(partition: &str, release: Option<&str>, cmd: &[String]) -> Result<i32> {
    docker::ensure_available()?;
    let partitions = super::data::Source::from_env().partitions()?;
    let release = release.or_else(|| partitions.get(partition).map(|p| p.login_release())).unwrap_or(recipe::DEFAULT_RELEASE);
    let tty = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let mut args = run_args(partition, true, tty)?;
    args.push(find_image(partition, release)?);
    args.extend(shell_command(cmd));
    docker::run_interactive(&format!("shell in {partition}"), docker::command(&args))
}

/// `bash -l`, or `bash -lc '"$@"' CMD…` so that shell functions such as `module` run too.
pub fn shell_command(cmd: &[String]) -> Vec<String> {
    if cmd.is_empty() {
        return vec!["/bin/bash".into(), "-l".into()];
    }
    let mut args = vec!["/bin/bash".to_string(), "-lc".into(), "\"$@\"".into(), "hpc-kernels-shell".into()];
    args.extend(cmd.iter().cloned());
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_args_give_identity_without_network() {
        let args = run_args("romeo", true, false).expect("known");
        let joined = args.join(" ");
        assert!(joined.contains("--network none --hostname i7001.romeo.hpc.tu-dresden.de"), "{joined}");
        assert!(joined.contains("--add-host i7001.romeo.hpc.tu-dresden.de:127.0.1.1"), "{joined}");
        assert!(!joined.contains("--tty"));
        assert!(run_args("nowhere", false, false).is_err());
    }

    #[test]
    fn commands_run_inside_a_login_shell() {
        assert_eq!(shell_command(&[]), ["/bin/bash", "-l"]);
        let cmd = shell_command(&["module".into(), "list".into()]);
        assert_eq!(cmd, ["/bin/bash", "-lc", "\"$@\"", "hpc-kernels-shell", "module", "list"]);
    }

    #[test]
    fn inspect_output_becomes_one_entry_per_tag() {
        let image = serde_json::json!({
            "Id": "sha256:abc", "Size": 1234, "RepoTags": ["hpc-kernels/alpha:23.10-0123456789ab"],
            "Config": {"Labels": {LABEL: "true", LABEL_KIND: "partition", LABEL_PARTITION: "alpha", LABEL_RELEASE: "23.10", LABEL_HASH: "0123"}}
        });
        let infos = image_infos(&image);
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0].partition.as_deref(), Some("alpha"));
        assert_eq!(infos[0].size_bytes, 1234);
    }
}
