//! A partition image's `/usr` and `/sw` as read-only Docker volumes.
//!
//! With Docker's `fuse-overlayfs` storage driver every file a container opens
//! from its image goes through a FUSE daemon of that container's own, whose
//! caches start cold: a Python stack imported in a fresh container costs about
//! a third more CPU than from a plain directory, and every cell and
//! shared-home check is a fresh container. So, where the driver is
//! `fuse-overlayfs` or `vfs` (or `HPC_KERNELS_ROOTFS_VOLUMES=on`), the two
//! directories that hold every interpreter, library, Lmod and the module tree
//! are copied once per image into volumes (Docker fills an empty volume from
//! the image on its first mount, keeping contents, modes, owners and file
//! times) and mounted read-only over the image's own. Nothing can write them,
//! as for a user on the cluster; the run's report says so.
//!
//! A marker volume per image names its filled volumes, so no container ever
//! mounts a half-filled one: a run fills volumes of its own, unique names,
//! and then creates the marker; of two runs racing, the marker's first
//! creator wins and the other removes its copies.

use std::collections::{BTreeMap, HashSet};
use std::time::{SystemTime, UNIX_EPOCH};

use super::docker::{self, LABEL};
use crate::error::{Error, Result};

/// Chooses the mode: `auto` (default), `on` or `off`.
pub const ENV: &str = "HPC_KERNELS_ROOTFS_VOLUMES";
/// The image directories served from volumes.
pub const DIRS: [&str; 2] = ["/usr", "/sw"];
/// On every volume of this module: the image id it was copied from.
const IMAGE_LABEL: &str = "org.hpc-kernels.rootfs";
/// On the marker: `DIR=VOLUME` pairs, `;`-separated.
const VOLUMES_LABEL: &str = "org.hpc-kernels.rootfs.volumes";
/// On a filled volume: when its filling started (Unix seconds).
const CREATED_LABEL: &str = "org.hpc-kernels.rootfs.created";
/// A filled volume no marker names, this old, belongs to a run that died.
const ORPHAN_AFTER_SECS: u64 = 3600;
/// Storage drivers whose image files are costly to read from fresh containers.
const SLOW_DRIVERS: &[&str] = &["fuse-overlayfs", "vfs"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Auto,
    On,
    Off,
}

impl Mode {
    pub fn parse(value: Option<&str>) -> Result<Mode> {
        match value.map(str::trim).unwrap_or("") {
            "" | "auto" => Ok(Mode::Auto),
            "on" | "1" | "true" => Ok(Mode::On),
            "off" | "0" | "false" => Ok(Mode::Off),
            other => Err(Error::usage(format!("{ENV}={other}: not a mode")).with_hint("use auto, on or off")),
        }
    }

    pub fn from_env() -> Result<Mode> {
        Mode::parse(std::env::var(ENV).ok().as_deref())
    }
}

/// Whether the image directories are served from volumes, given the mode and
/// Docker's storage driver.
pub fn wanted(mode: Mode, driver: &str) -> bool {
    match mode {
        Mode::On => true,
        Mode::Off => false,
        Mode::Auto => SLOW_DRIVERS.contains(&driver.trim()),
    }
}

/// Image tag → the read-only volume mounts of its containers.
pub type ByImage = BTreeMap<String, Vec<(String, String)>>;

/// An image to serve: its tag and Docker's id of it.
pub type Image = (String, String);

/// Makes (or finds) the volumes of every image in `images`, `jobs` at a time,
/// when `$HPC_KERNELS_ROOTFS_VOLUMES` and the storage driver want them.
/// Returns the mounts of the images that have them and the run's note
/// (`None` when every directory is the image's own).
/// The containers that fill volumes carry `labels` (the run's, so that Ctrl-C
/// removes them with the run's other containers).
pub fn prepare(images: &[Image], jobs: usize, labels: &[(String, String)], on_phase: &mut dyn FnMut(&str)) -> Result<(ByImage, Option<String>)> {
    prepare_with(Mode::from_env()?, images, jobs, labels, on_phase)
}

/// `prepare` in the given mode.
pub fn prepare_with(
    mode: Mode,
    images: &[Image],
    jobs: usize,
    labels: &[(String, String)],
    on_phase: &mut dyn FnMut(&str),
) -> Result<(ByImage, Option<String>)> {
    let driver = match mode {
        Mode::Auto => docker::output("read the storage driver", ["info", "--format", "{{.Driver}}"]).unwrap_or_default(),
        _ => String::new(),
    };
    if !wanted(mode, &driver) {
        return Ok((ByImage::new(), None));
    }
    // Pruning touches only volumes of images that are gone and volumes no
    // marker names, never what `ensure` finds or fills: it runs alongside.
    let outcomes = std::thread::scope(|s| {
        s.spawn(prune);
        crate::pool::run_all(
            images.to_vec(),
            jobs,
            |(tag, id), filling: &std::sync::mpsc::Sender<String>| ensure(tag, id, labels, filling),
            |tag| on_phase(&format!("copying {} of {tag} into read-only volumes (once per image)", DIRS.join(" and "))),
        )
    });
    let mut mounts = ByImage::new();
    let mut failed = Vec::new();
    for ((tag, _), outcome) in images.iter().zip(outcomes) {
        match outcome.map_err(Error::internal).and_then(|r| r) {
            Ok(m) => {
                mounts.insert(tag.clone(), m);
            }
            Err(e) => failed.push(format!("{tag} ({})", error_text(&e))),
        }
    }
    let why = if driver.is_empty() { format!("{ENV}=on") } else { format!("storage driver {}", driver.trim()) };
    let mut note = format!(
        "image files: {} served read-only from volumes copied from each image ({why}: a fresh container reads its \
         image through a FUSE daemon of its own); the files are the image's, and neither directory is writable, as \
         for a user on the cluster; {ENV}=off serves them from the image",
        DIRS.join(" and ")
    );
    if !failed.is_empty() {
        note.push_str(&format!("; served from the image for {}", failed.join(", ")));
    }
    Ok((mounts, Some(note)))
}

fn error_text(e: &Error) -> String {
    match std::error::Error::source(e) {
        Some(s) => format!("{}: {s}", e.message),
        None => e.message.clone(),
    }
}

/// The volume mounts of image `id` (tagged `tag`): the marker's, or freshly
/// filled ones. Says on `filling` when it fills them.
fn ensure(tag: &str, id: &str, labels: &[(String, String)], filling: &std::sync::mpsc::Sender<String>) -> Result<Vec<(String, String)>> {
    let key: String = id.trim_start_matches("sha256:").chars().take(12).collect();
    let marker = format!("hpc-kernels-rootfs-{key}");
    if let Some(found) = read_marker(&marker, id)? {
        return Ok(found);
    }
    let _ = filling.send(tag.to_string());
    let filled = fill(tag, id, &key, labels)?;
    let pairs: Vec<String> = filled.iter().map(|(volume, dir)| format!("{dir}={volume}")).collect();
    // Idempotent: when another run created the marker first, its labels stay.
    let created = create_volume("create the image-files marker volume", &marker, id, (VOLUMES_LABEL, &pairs.join(";")));
    let winner = created.and_then(|()| read_marker(&marker, id));
    if matches!(&winner, Ok(Some(theirs)) if *theirs == filled) {
        return Ok(filled);
    }
    // Another run's marker, or none: our copies are nobody's.
    remove_volumes(filled.iter().map(|(v, _)| v.as_str()));
    winner?.ok_or_else(|| Error::environment(format!("the marker volume {marker} vanished")))
}

/// The mounts a marker names, when it is this image's and its volumes exist.
/// A marker that names missing volumes is removed.
fn read_marker(marker: &str, id: &str) -> Result<Option<Vec<(String, String)>>> {
    let out = docker::probe("inspect the image-files marker", ["volume", "inspect", "--format", "{{json .Labels}}", marker])?;
    if !out.status.success() {
        return Ok(None);
    }
    let labels: BTreeMap<String, String> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let mounts = labels.get(VOLUMES_LABEL).map(|v| parse_pairs(v)).unwrap_or_default();
    let complete = labels.get(IMAGE_LABEL).map(String::as_str) == Some(id) && mounts.len() == DIRS.len();
    if complete {
        let mut args = vec!["volume", "inspect", "--format", "{{.Name}}"];
        args.extend(mounts.iter().map(|(v, _)| v.as_str()));
        if docker::probe("inspect the image-files volumes", args)?.status.success() {
            return Ok(Some(mounts));
        }
    }
    remove_volumes([marker]);
    Ok(None)
}

/// `DIR=VOLUME;…` as (volume, dir) mounts in `DIRS` order.
fn parse_pairs(text: &str) -> Vec<(String, String)> {
    let pairs: BTreeMap<&str, &str> = text.split(';').filter_map(|p| p.split_once('=')).collect();
    DIRS.iter().filter_map(|dir| pairs.get(dir).map(|v| (v.to_string(), dir.to_string()))).collect()
}

/// New volumes filled from `tag`'s directories by Docker's copy on first mount.
fn fill(tag: &str, id: &str, key: &str, labels: &[(String, String)]) -> Result<Vec<(String, String)>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let nonce = format!("{:x}{:x}", std::process::id(), now % 0xffff_ffff);
    let mut volumes = Vec::new();
    for dir in DIRS {
        let volume = format!("hpc-kernels-rootfs-{key}-{}-{nonce}", dir.trim_start_matches('/').replace('/', "-"));
        let made = create_volume("create an image-files volume", &volume, id, (CREATED_LABEL, &(now / 1_000_000_000).to_string()));
        if let Err(e) = made {
            remove_volumes(volumes.iter().map(|(v, _): &(String, String)| v.as_str()));
            return Err(e);
        }
        volumes.push((volume, dir.to_string()));
    }
    let mut args = vec!["run".to_string(), "--rm".into(), "--network".into(), "none".into(), "--label".into(), format!("{LABEL}=true")];
    for (k, v) in labels {
        args.extend(["--label".to_string(), format!("{k}={v}")]);
    }
    for (volume, dir) in &volumes {
        args.extend(["--volume".to_string(), format!("{volume}:{dir}")]);
    }
    args.extend([tag.to_string(), "true".into()]);
    if let Err(e) = docker::output(&format!("copy {} of {tag} into volumes", DIRS.join(" and ")), args) {
        remove_volumes(volumes.iter().map(|(v, _)| v.as_str()));
        return Err(e);
    }
    Ok(volumes)
}

/// A managed volume of image `id` with one more label (Docker keeps an
/// existing volume and its labels).
fn create_volume(step: &str, name: &str, id: &str, (key, value): (&str, &str)) -> Result<()> {
    let labels = [format!("{LABEL}=true"), format!("{IMAGE_LABEL}={id}"), format!("{key}={value}")];
    let mut args = vec!["volume", "create"];
    for label in &labels {
        args.extend(["--label", label.as_str()]);
    }
    args.push(name);
    docker::output(step, args).map(drop)
}

fn remove_volumes<'a>(volumes: impl IntoIterator<Item = &'a str>) {
    let names: Vec<&str> = volumes.into_iter().collect();
    if !names.is_empty() {
        let mut args = vec!["volume", "rm"];
        args.extend(names);
        let _ = docker::output("remove image-files volumes", args);
    }
}

/// Removes the volumes of images that are gone, and filled volumes no marker
/// names that a dead run left. Failures are left for the next run.
fn prune() {
    let format = format!("{{{{.Name}}}}\t{{{{.Label \"{IMAGE_LABEL}\"}}}}\t{{{{.Label \"{CREATED_LABEL}\"}}}}\t{{{{.Label \"{VOLUMES_LABEL}\"}}}}");
    let Ok(listed) = docker::output("list image-files volumes", ["volume", "ls", "--filter", &format!("label={IMAGE_LABEL}"), "--format", &format])
    else {
        return;
    };
    let Ok(images) = docker::output("list image ids", ["image", "ls", "--all", "--quiet", "--no-trunc"]) else { return };
    let images: HashSet<&str> = images.split_whitespace().collect();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let doomed = doomed(&listed, &images, now);
    remove_volumes(doomed.iter().map(String::as_str));
}

/// The volumes `prune` removes, from `volume ls` lines of name, image id,
/// creation time and (markers only) named volumes; markers come first.
fn doomed(listed: &str, images: &HashSet<&str>, now: u64) -> Vec<String> {
    let rows: Vec<Vec<&str>> = listed.lines().map(|l| l.split('\t').collect()).filter(|r: &Vec<&str>| r.len() == 4).collect();
    let named: HashSet<String> = rows.iter().flat_map(|r| parse_pairs(r[3]).into_iter().map(|(v, _)| v)).collect();
    let mut markers = Vec::new();
    let mut filled = Vec::new();
    for r in &rows {
        let (name, image, created, pairs) = (r[0], r[1], r[2], r[3]);
        let image_gone = !images.contains(image);
        if !pairs.is_empty() {
            if image_gone {
                markers.push(name.to_string());
            }
            continue;
        }
        let orphan = !named.contains(name) && created.parse::<u64>().is_ok_and(|t| now.saturating_sub(t) > ORPHAN_AFTER_SECS);
        if image_gone || orphan {
            filled.push(name.to_string());
        }
    }
    markers.extend(filled);
    markers
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(Mode::Auto, "fuse-overlayfs", true)]
    #[case(Mode::Auto, "vfs\n", true)]
    #[case(Mode::Auto, "overlay2", false)]
    #[case(Mode::Auto, "", false)]
    #[case(Mode::On, "overlay2", true)]
    #[case(Mode::Off, "fuse-overlayfs", false)]
    fn volumes_where_the_driver_is_slow(#[case] mode: Mode, #[case] driver: &str, #[case] expected: bool) {
        assert_eq!(wanted(mode, driver), expected);
    }

    #[rstest]
    #[case(None, Mode::Auto)]
    #[case(Some(""), Mode::Auto)]
    #[case(Some("on"), Mode::On)]
    #[case(Some(" off "), Mode::Off)]
    #[case(Some("0"), Mode::Off)]
    fn modes_parse(#[case] value: Option<&str>, #[case] expected: Mode) {
        assert_eq!(Mode::parse(value).unwrap(), expected);
    }

    #[test]
    fn a_bad_mode_names_the_variable_and_the_choices() {
        let e = Mode::parse(Some("fast")).unwrap_err();
        assert!(e.message.contains(ENV) && e.message.contains("fast"), "{}", e.message);
        assert_eq!(e.hint.as_deref(), Some("use auto, on or off"));
    }

    #[test]
    fn pairs_come_back_in_dir_order_and_incomplete_ones_are_short() {
        assert_eq!(
            parse_pairs("/sw=b;/usr=a"),
            vec![("a".to_string(), "/usr".to_string()), ("b".to_string(), "/sw".to_string())]
        );
        assert_eq!(parse_pairs("/usr=a").len(), 1);
        assert!(parse_pairs("").is_empty());
    }

    #[test]
    fn prune_removes_what_a_gone_image_or_a_dead_run_left() {
        let images: HashSet<&str> = ["sha256:live"].into_iter().collect();
        let listed = [
            "m-live\tsha256:live\t\t/usr=u-live;/sw=s-live",
            "u-live\tsha256:live\t100\t",
            "s-live\tsha256:live\t100\t",
            "m-gone\tsha256:gone\t\t/usr=u-gone;/sw=s-gone",
            "u-gone\tsha256:gone\t100\t",
            "orphan-old\tsha256:live\t100\t",
            "orphan-new\tsha256:live\t9000\t",
        ]
        .join("\n");
        assert_eq!(doomed(&listed, &images, 10_000), vec!["m-gone", "u-gone", "orphan-old"]);
    }
}
