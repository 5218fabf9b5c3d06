//! `hpc-kernels images …`: build, list and enter the emulated partition images.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use crate::error::{Error, Result};
use crate::harness::images::{self, import, BuildOptions, ImageEvent};

#[derive(Debug, Subcommand)]
pub enum ImagesCommand {
    /// Build the partition images (idempotent: unchanged images are reused by content hash)
    Build {
        /// Partitions to build (repeatable; default: all known)
        #[arg(long = "partition", value_name = "P", num_args = 1.., action = clap::ArgAction::Append)]
        partitions: Vec<String>,
        /// Default module release of the image (repeatable; default: 23.10)
        #[arg(long = "release", value_name = "R", num_args = 1.., action = clap::ArgAction::Append)]
        releases: Vec<String>,
        /// Build the base from this Debian/Ubuntu image with apt instead of mmdebstrap
        #[arg(long, value_name = "IMAGE")]
        base_image: Option<String>,
        /// Where the rootfs tarball is cached (default: $HPC_KERNELS_CACHE or ~/.cache/hpc-kernels)
        #[arg(long, value_name = "DIR")]
        cache_dir: Option<PathBuf>,
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// List the images hpc-kernels built: tag, partition, release, hash, size
    List {
        #[arg(long)]
        json: bool,
    },
    /// Open a login shell in a partition container, or run one command there
    Shell {
        /// Partition to emulate (alpha, barnard, romeo)
        partition: String,
        /// Default release of the image to use
        #[arg(long, value_name = "R")]
        release: Option<String>,
        /// Command to run instead of an interactive shell (its exit status is returned)
        #[arg(last = true, value_name = "CMD")]
        cmd: Vec<String>,
    },
    /// Validate a spider export from a real partition and store it in containers/
    ImportSpider {
        /// Output of `$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH`
        file: PathBuf,
        #[arg(long, value_name = "P")]
        partition: String,
        /// Short host name of the emulated node, for a new partition
        #[arg(long, default_value = "login1")]
        host: String,
        /// The repository's containers/ directory
        #[arg(long, value_name = "DIR", default_value = "containers")]
        containers_dir: PathBuf,
    },
}

/// Runs an images command; returns the process exit status (for `shell`, the command's own).
pub fn run_status(cmd: ImagesCommand, out: &mut dyn Write) -> Result<i32> {
    match cmd {
        ImagesCommand::Build { partitions, releases, base_image, cache_dir, json } => {
            let opts = BuildOptions {
                partitions,
                releases,
                base_image,
                cache_dir: cache_dir.unwrap_or_else(images::default_cache_dir),
            };
            let built = images::build(&opts, &mut print_event)?;
            if json {
                let value: Vec<_> = built
                    .iter()
                    .map(|b| serde_json::json!({"partition": b.partition, "release": b.release, "tag": b.tag, "content_hash": b.content_hash, "cached": b.cached}))
                    .collect();
                writeln!(out, "{}", serde_json::Value::Array(value)).map_err(write_error)?;
            } else {
                for b in &built {
                    let state = if b.cached { "cached" } else { "built" };
                    writeln!(out, "{:<8} {:<6} {:<7} {}", b.partition, b.release, state, b.tag).map_err(write_error)?;
                }
            }
            Ok(0)
        }
        ImagesCommand::List { json } => {
            let infos = images::list()?;
            if json {
                let text = serde_json::to_string_pretty(&infos).map_err(|e| Error::internal("cannot render JSON").with_source(e))?;
                writeln!(out, "{text}").map_err(write_error)?;
                return Ok(0);
            }
            writeln!(out, "{:<40} {:<9} {:<8} {:<12} {:>9}", "TAG", "PARTITION", "RELEASE", "HASH", "SIZE").map_err(write_error)?;
            for i in &infos {
                let hash = i.content_hash.as_deref().map(|h| h.get(..12).unwrap_or(h)).unwrap_or("-");
                writeln!(
                    out,
                    "{:<40} {:<9} {:<8} {:<12} {:>9}",
                    i.tag,
                    i.partition.as_deref().unwrap_or(&i.kind),
                    i.release.as_deref().unwrap_or("-"),
                    hash,
                    human_size(i.size_bytes)
                )
                .map_err(write_error)?;
            }
            Ok(0)
        }
        ImagesCommand::Shell { partition, release, cmd } => {
            // Make sure the image exists; a cache hit costs nothing.
            let opts = BuildOptions {
                partitions: vec![partition.clone()],
                releases: release.iter().cloned().collect(),
                ..BuildOptions::default()
            };
            images::build(&opts, &mut print_event)?;
            images::shell(&partition, release.as_deref(), &cmd)
        }
        ImagesCommand::ImportSpider { file, partition, host, containers_dir } => {
            let imported = import::import_spider(&file, &partition, &host, &containers_dir)?;
            writeln!(
                out,
                "{}: {} modules, releases {} → {}",
                imported.partition,
                imported.modules,
                if imported.releases.is_empty() { "(none)".into() } else { imported.releases.join(", ") },
                imported.written.display()
            )
            .map_err(write_error)?;
            if imported.new_partition {
                writeln!(
                    out,
                    "new partition: set HPC_KERNELS_CONTAINERS={} to build it now, or embed it in src/harness/images/data.rs",
                    containers_dir.display()
                )
                .map_err(write_error)?;
            }
            Ok(0)
        }
    }
}

fn print_event(event: ImageEvent) {
    match event {
        ImageEvent::Started { step, detail } => eprintln!("  {step}: {detail} …"),
        ImageEvent::Finished { step, elapsed } => eprintln!("  {step}: done in {}", seconds(elapsed)),
        ImageEvent::Cached { step, tag } => eprintln!("  {step}: cached ({tag})"),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < UNITS.len() {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

fn write_error(e: std::io::Error) -> Error {
    Error::io("write to", std::path::Path::new("<stdout>"), e).with_hint("is the output pipe closed?")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: ImagesCommand,
    }

    #[test]
    fn parses_repeated_partitions_and_trailing_command() {
        let cli = Cli::parse_from(["x", "build", "--partition", "alpha", "romeo", "--release", "24.04"]);
        match cli.cmd {
            ImagesCommand::Build { partitions, releases, .. } => {
                assert_eq!(partitions, ["alpha", "romeo"]);
                assert_eq!(releases, ["24.04"]);
            }
            other => panic!("{other:?}"),
        }
        let cli = Cli::parse_from(["x", "shell", "alpha", "--", "module", "list"]);
        match cli.cmd {
            ImagesCommand::Shell { partition, cmd, .. } => {
                assert_eq!(partition, "alpha");
                assert_eq!(cmd, ["module", "list"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn sizes_are_human() {
        assert_eq!(human_size(999), "999B");
        assert_eq!(human_size(254_300_000), "254.3MB");
    }
}
