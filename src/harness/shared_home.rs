//! One `$HOME` for every partition of a run, as on the cluster: every
//! container installs into the same Docker volume, mounted at
//! `~/.local/share` (the Jupyter data dir and the default workspace). After
//! the matrix, each kernel's one kernelspec is started from that volume in a
//! fresh container of every partition where the kernel passed, the launcher
//! finding its partition from the container's FQDN. A kernel that only works
//! on the partition that installed it last fails the `shared-home` case there.

use std::collections::HashMap;
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::Instant;

use super::container::{Container, ContainerSpec, Reaper};
use super::docker::{self, LABEL};
use super::validate::{HarnessEvent, Mounts, BIN_IN_CONTAINER, RUN_LABEL, SERVER_PYTHON};
use super::images;
use crate::error::Result;
use crate::report::{Outcome, PartitionResult, StepResult};

/// Where the shared volume appears in every container (`$HOME` is /root).
pub const MOUNT_POINT: &str = "/root/.local/share";
/// The JUnit case (stage) of the check.
pub const STAGE: &str = "shared-home";

/// The run's shared home volume; removed on drop (and with the run's
/// containers on Ctrl-C, by its label).
pub struct SharedHome {
    pub volume: String,
}

/// The name of run `run_id`'s shared home volume.
pub fn volume_name(run_id: &str) -> String {
    format!("hpc-kernels-home-{run_id}")
}

impl SharedHome {
    pub fn create(run_id: &str) -> Result<SharedHome> {
        let volume = volume_name(run_id);
        docker::output(
            "create the shared home volume",
            [
                "volume",
                "create",
                "--label",
                &format!("{LABEL}=true"),
                "--label",
                &format!("{RUN_LABEL}={run_id}"),
                &volume,
            ],
        )?;
        Ok(SharedHome { volume })
    }
}

impl Drop for SharedHome {
    fn drop(&mut self) {
        // Fails while a kept container still uses it; then it stays with that container.
        let _ = docker::output("remove the shared home volume", ["volume", "rm", &self.volume]);
    }
}

/// The check containers, started while the installs run so each check finds
/// its container up. Nothing runs in one before its check: it is as fresh as
/// one started afterwards, and sees the volumes as they are when the check runs.
#[derive(Default)]
pub struct Standby {
    starting: Option<JoinHandle<Vec<Started>>>,
}

/// (partition, kernel).
type Cell = (String, String);
/// A cell's standby container, or why it did not start.
type Started = (Cell, Result<Container>);

impl Standby {
    /// Starts, one after the other in the background, a check container for
    /// each (partition, kernel, image).
    pub fn start(cells: Vec<(String, String, String)>, mounts: &Mounts, labels: &[(String, String)]) -> Standby {
        let (mounts, labels) = (mounts.clone(), labels.to_vec());
        let starting = std::thread::spawn(move || {
            cells
                .into_iter()
                .take_while(|_| !super::interrupt::interrupted())
                .map(|(partition, kernel, image)| {
                    let container = Container::start(&check_container(&partition, &kernel, &image, &mounts, &labels));
                    ((partition, kernel), container)
                })
                .collect()
        });
        Standby { starting: Some(starting) }
    }

    /// The containers that started; a cell without one gets its own at check time.
    fn take(mut self) -> HashMap<Cell, Container> {
        let started = self.starting.take().map(|h| h.join().unwrap_or_default()).unwrap_or_default();
        started.into_iter().filter_map(|(cell, c)| c.ok().map(|c| (cell, c))).collect()
    }
}

/// Where the checks run: the partitions' images (partition, tag), what their
/// containers get mounted and labelled with, how many at once, and who
/// removes them.
#[derive(Clone, Copy)]
pub struct CheckRun<'a> {
    pub images: &'a [(String, String)],
    pub mounts: &'a Mounts,
    pub labels: &'a [(String, String)],
    pub jobs: usize,
    pub reaper: &'a Reaper,
}

/// Starts every kernel that passed on a partition from the shared home, on
/// that partition, and appends the `shared-home` step to its result. Unused
/// standby containers are removed.
pub fn check_every_partition(results: &mut [PartitionResult], run: &CheckRun, standby: Standby, on_event: &mut dyn FnMut(HarnessEvent)) {
    let CheckRun { images, mounts, labels, jobs, reaper } = *run;
    let mut standby = standby.take();
    let cells: Vec<(usize, usize, String, String, String, Option<Container>)> = results
        .iter()
        .enumerate()
        .flat_map(|(pi, pr)| pr.kernels.iter().enumerate().filter(|(_, k)| k.passed()).map(move |(ki, k)| (pi, ki, pr, k)))
        .filter_map(|(pi, ki, pr, k)| {
            let (_, image) = images.iter().find(|(p, _)| p == &pr.partition)?;
            let ready = standby.remove(&(pr.partition.clone(), k.kernel.clone()));
            Some((pi, ki, pr.partition.clone(), k.kernel.clone(), image.clone(), ready))
        })
        .collect();
    drop(standby);
    if cells.is_empty() {
        return;
    }
    on_event(HarnessEvent::Phase(format!(
        "starting {} kernel(s) from the shared home on every partition where they passed",
        cells.len()
    )));
    // Every install has finished: the checks only read the home, so they run side by side.
    let places: Vec<(usize, usize)> = cells.iter().map(|(pi, ki, ..)| (*pi, *ki)).collect();
    let checks: Vec<_> = cells.into_iter().map(|(_, _, p, k, image, ready)| (p, k, image, Mutex::new(ready))).collect();
    let steps = crate::pool::run_all(
        checks,
        jobs,
        |(partition, kernel, image, ready), _: &std::sync::mpsc::Sender<()>| {
            let ready = ready.lock().map(|mut r| r.take()).unwrap_or(None);
            check_one(partition, kernel, image, ready, mounts, labels, reaper)
        },
        |()| {},
    );
    for ((pi, ki), step) in places.into_iter().zip(steps) {
        let step = step.unwrap_or_else(|panic| StepResult {
            stage: STAGE.into(),
            outcome: Outcome::Error { message: format!("the harness worker for this check panicked: {panic}") },
            seconds: 0.0,
            command: None,
            log: String::new(),
        });
        results[pi].kernels[ki].steps.push(step);
    }
}

/// `hpc-kernels check KERNEL --here` in a fresh container of `partition`.
fn check_one(
    partition: &str,
    kernel: &str,
    image: &str,
    ready: Option<Container>,
    mounts: &Mounts,
    labels: &[(String, String)],
    reaper: &Reaper,
) -> StepResult {
    let started = Instant::now();
    let command = format!("hpc-kernels check {kernel} --here");
    let container = match ready {
        Some(container) => Ok(container),
        None => Container::start(&check_container(partition, kernel, image, mounts, labels)),
    };
    let checked = container.and_then(|c| {
        let checked = run_check(&c, kernel);
        reaper.remove(c);
        checked
    });
    let seconds = started.elapsed().as_secs_f64();
    let (outcome, log) = match checked {
        Ok((0, log)) => (Outcome::Passed, log),
        Ok((code, log)) => {
            let why = log.lines().find(|l| l.starts_with('✘')).unwrap_or("").trim_start_matches('✘').trim().to_string();
            let message = format!("the kernelspec in the shared home does not start on {partition} (exit {code}): {why}");
            (Outcome::Failed { message }, log)
        }
        Err(e) => (Outcome::Error { message: format!("{}: {}", e.message, source_text(&e)) }, String::new()),
    };
    StepResult { stage: STAGE.into(), outcome, seconds, command: Some(command), log }
}

fn run_check(container: &Container, kernel: &str) -> Result<(i64, String)> {
    let argv: Vec<String> =
        [BIN_IN_CONTAINER, "check", kernel, "--here", "--launch-python", SERVER_PYTHON].iter().map(|s| s.to_string()).collect();
    let mut log = String::new();
    let out = container.exec(&argv, &mut |line| {
        log.push_str(line);
        log.push('\n');
    })?;
    Ok((out.code, log))
}

/// A container of `partition` with the binary, the shared home and the kept venvs.
fn check_container(partition: &str, kernel: &str, image: &str, mounts: &Mounts, labels: &[(String, String)]) -> ContainerSpec {
    let fqdn = images::identity(partition)
        .map(|i| i.fqdn)
        .unwrap_or_else(|| format!("login1.{partition}.hpc.tu-dresden.de"));
    let mut labels = labels.to_vec();
    labels.push(("org.hpc-kernels.partition".to_string(), partition.to_string()));
    labels.push(("org.hpc-kernels.kernel".to_string(), kernel.to_string()));
    ContainerSpec {
        image: image.to_string(),
        fqdn,
        mounts: vec![(mounts.binary.clone(), BIN_IN_CONTAINER.to_string())],
        writable: Vec::new(),
        volumes: mounts.home_volume.iter().map(|v| (v.clone(), MOUNT_POINT.to_string())).chain(mounts.venv_volumes.iter().cloned()).collect(),
        readonly_volumes: mounts.image_volumes(image),
        labels,
        network: None,
        hosts: Vec::new(),
    }
}

fn source_text(e: &crate::error::Error) -> String {
    std::error::Error::source(e).map(|s| s.to_string()).unwrap_or_default()
}
