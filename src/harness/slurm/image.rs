//! Slurm nodes that are the partition images: Debian's `slurm-wlm` daemons
//! and munge as one more layer over each partition image, tagged by content
//! hash like the images below it.

use std::path::Path;

use super::config;
use crate::error::{Error, Result};
use crate::harness::docker;
use crate::harness::images::{self, recipe, BuildOptions, BuiltImage, ImageEvent};

/// A partition image with Slurm on top.
#[derive(Clone, Debug)]
pub struct SlurmImage {
    pub partition: String,
    pub release: String,
    pub tag: String,
}

/// Builds (or finds) the partition images, then their Slurm layers.
pub fn build(partitions: &[String], cache_dir: &Path, on_event: &mut dyn FnMut(ImageEvent)) -> Result<Vec<SlurmImage>> {
    let opts = BuildOptions { partitions: partitions.to_vec(), cache_dir: cache_dir.to_path_buf(), ..BuildOptions::default() };
    let built = images::build(&opts, on_event)?;
    built.iter().map(|b| ensure_layer(b, on_event)).collect()
}

fn ensure_layer(base: &BuiltImage, on_event: &mut dyn FnMut(ImageEvent)) -> Result<SlurmImage> {
    let profile = config::site_profile(&base.release);
    let recipe_text = format!("{}\0{profile}", config::dockerfile(&base.tag, &base.partition, &base.release, ""));
    let hash = recipe::sha256_hex(&recipe_text);
    let tag = format!("hpc-kernels/slurm-{}:{}-{}", base.partition, base.release, recipe::short(&hash));
    let step = format!("slurm {}", base.partition);
    let image = SlurmImage { partition: base.partition.clone(), release: base.release.clone(), tag: tag.clone() };
    if docker::image_id(&tag)?.is_some() {
        on_event(ImageEvent::Cached { step, tag });
        return Ok(image);
    }
    let context = tempfile::tempdir().map_err(|e| Error::io("create a build context in", &std::env::temp_dir(), e))?;
    let profile_dir = context.path().join("root/etc/profile.d");
    std::fs::create_dir_all(&profile_dir).map_err(|e| Error::io("create", &profile_dir, e))?;
    let profile_path = profile_dir.join("z00-hpc-kernels-site.sh");
    std::fs::write(&profile_path, profile).map_err(|e| Error::io("write", &profile_path, e))?;
    let dockerfile = context.path().join("Dockerfile");
    std::fs::write(&dockerfile, config::dockerfile(&base.tag, &base.partition, &base.release, &hash))
        .map_err(|e| Error::io("write", &dockerfile, e))?;
    on_event(ImageEvent::Started { step: step.clone(), detail: format!("docker build {tag} (apt-get install {})", config::PACKAGES.join(" ")) });
    let started = std::time::Instant::now();
    let context_text = context.path().display().to_string();
    docker::output(
        &format!("docker build (Slurm layer of {})", base.partition),
        ["build", "--quiet", "--label", &format!("{}=true", docker::LABEL), "--tag", &tag, &context_text],
    )
    .map_err(|e| e.with_hint("the Slurm layer installs Debian packages: check that the Debian mirror is reachable from docker build"))?;
    on_event(ImageEvent::Finished { step, elapsed: started.elapsed() });
    Ok(image)
}
