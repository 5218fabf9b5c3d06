//! Real containers from the partition images: Lmod behaves as DESIGN §4 says.
//! Without Docker these tests fail; see the `no-containers` nextest profile.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::OnceLock;

use hpc_kernels::harness::images::{self, BuildOptions, BuiltImage, ImageEvent};
use rstest::rstest;

const SEED_MODULES: &str = "release/23.10 GCC/11.3.0 OpenMPI/4.1.4 Python/3.10.4";

/// Held by tests that create images, so that "no new image" can be checked globally.
fn image_creation() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// These tests need Docker; without it they fail (the `no-containers`
/// nextest profile leaves them out and counts them as skipped).
fn require_docker() {
    let ok = Command::new("docker").args(["info"]).output().is_ok_and(|o| o.status.success());
    assert!(ok, "this test needs Docker Engine (`docker info` failed); or run `cargo nextest run --profile no-containers`");
}

/// Builds (or finds cached) the default-release images of all partitions, once.
fn built() -> &'static BTreeMap<String, BuiltImage> {
    static BUILT: OnceLock<BTreeMap<String, BuiltImage>> = OnceLock::new();
    BUILT.get_or_init(|| {
        let opts = BuildOptions::default();
        let images = images::build(&opts, &mut |e| eprintln!("{e:?}")).unwrap_or_else(|e| panic!("build failed: {e} ({:?})", e.hint));
        images.into_iter().map(|b| (b.partition.clone(), b)).collect()
    })
}

struct Output {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `script` in a fresh container of `partition` with `bash -c` (non-login: BASH_ENV)
/// or `bash -lc` (login).
fn run_in(tag: &str, partition: &str, login: bool, script: &str) -> Output {
    let mut args = images::shell_run_args(partition).expect("known partition");
    args.push(tag.to_string());
    args.extend(["/bin/bash".to_string(), if login { "-lc" } else { "-c" }.to_string(), script.to_string()]);
    let out = Command::new("docker").args(&args).output().expect("docker runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn run(partition: &str, script: &str) -> Output {
    run_in(&built()[partition].tag, partition, false, script)
}

#[rstest]
#[case("alpha")]
#[case("barnard")]
#[case("romeo")]
fn identity_and_module_hierarchy(#[case] partition: &str) {
    require_docker();
    let out = run(
        partition,
        r#"hostname -d
module load release/23.10 PyTorch/1.13.1; echo "direct=$?"
module load release/23.10; module load PyTorch/1.13.1; echo "after_release=$?"
python3 -c 'import torch' 2>/dev/null; echo "import_without=$?"
module load GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.13.1; echo "hierarchy=$?"
python3 -c 'import torch; print("torch", torch.__version__)'
echo "EB=$EBVERSIONPYTORCH"
python3 -m pip list 2>/dev/null | grep -E '^torch '
module purge; module -t list 2>&1 | tr '\n' ' '; echo
python3 -c 'import torch' 2>/dev/null; echo "import_after_purge=$?"
"#,
    );
    let domain = format!("{partition}.hpc.tu-dresden.de");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some(domain.as_str()), "stdout: {}\nstderr: {}", out.stdout, out.stderr);
    assert!(out.stdout.contains("direct=1"), "{}", out.stdout);
    assert!(out.stdout.contains("after_release=1"), "{}", out.stdout);
    assert!(out.stderr.contains("cannot be loaded as requested: \"PyTorch/1.13.1\""), "{}", out.stderr);
    assert!(out.stdout.contains("import_without=1"), "{}", out.stdout);
    assert!(out.stdout.contains("hierarchy=0"), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("torch 1.13.1\n"), "{}", out.stdout);
    assert!(out.stdout.contains("EB=1.13.1\n"), "{}", out.stdout);
    assert!(out.stdout.lines().any(|l| l.split_whitespace().eq(["torch", "1.13.1"])), "pip must list torch: {}", out.stdout);
    assert!(out.stdout.contains("release/23.10 \n"), "purge keeps the sticky release: {}", out.stdout);
    assert!(out.stdout.contains("import_after_purge=1"), "{}", out.stdout);
}

#[rstest]
#[case("alpha", true)]
#[case("barnard", false)]
#[case("romeo", false)]
fn seed_modules_and_cuda_builds(#[case] partition: &str, #[case] has_cuda: bool) {
    require_docker();
    let out = run(
        partition,
        &format!(
            "module load {SEED_MODULES}; echo seed=$?\n\
             module load TensorFlow/2.11.0-CUDA-11.7.0; echo tf_cuda=$?\n\
             module load CUDA/11.7.0; echo cuda=$?\n"
        ),
    );
    assert!(out.stdout.contains("seed=0"), "{}\n{}", out.stdout, out.stderr);
    let expected = if has_cuda { 0 } else { 1 };
    assert!(out.stdout.contains(&format!("tf_cuda={expected}")), "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains(&format!("cuda={expected}")), "{}", out.stdout);
    if !has_cuda {
        assert!(out.stderr.contains("unknown") || out.stderr.contains("cannot be loaded"), "Lmod's message: {}", out.stderr);
    }
}

#[test]
fn releases_differ_and_reset_uses_the_site_default() {
    require_docker();
    let out = run(
        "romeo",
        "module load release/23.04 GCC/11.3.0 OpenMPI/4.1.4; module load mpi4py/3.1.4 2>/dev/null; echo mpi4py_2304=$?\n\
         module --force purge; module load release/23.10 GCC/11.3.0 OpenMPI/4.1.4 mpi4py/3.1.4; echo mpi4py_2310=$?\n\
         python3 -c 'import mpi4py; print(\"mpi4py\", mpi4py.__version__)'\n\
         module --force purge; module load release/24.04 GCC/11.3.0 OpenMPI/4.1.4; module load PyTorch/1.13.1 2>/dev/null; echo torch113_2404=$?\n\
         module load PyTorch/2.1.2; echo torch212_2404=$?\n\
         module reset >/dev/null 2>&1; module -t list 2>&1 | tr '\\n' ' '; echo\n",
    );
    for expected in ["mpi4py_2304=1", "mpi4py_2310=0", "mpi4py 3.1.4", "torch113_2404=1", "torch212_2404=0", "release/23.10 \n"] {
        assert!(out.stdout.contains(expected), "missing {expected:?} in\n{}\n{}", out.stdout, out.stderr);
    }
}

/// Modules the compendium documents (containers/SOURCES.md), loaded as its
/// pages show, with the versions their EasyBuild installs report.
#[rstest]
#[case("alpha", "module load release/23.04 GCCcore/11.3.0 GCC/11.3.0 OpenMPI/4.1.4 Python/3.10.4 PyTorch/1.12.1-CUDA-11.7.0 && python3 -c 'import torch; print(\"torch\", torch.__version__)' && echo cuda=$EBVERSIONCUDA", &["torch 1.12.1", "cuda=11.7.0"])]
#[case("alpha", "module load release/23.04 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.12.0 && python3 -c 'import torch; print(\"torch\", torch.__version__)'", &["torch 1.12.0"])]
#[case("alpha", "module load release/24.04 GCC/12.3.0 OpenMPI/4.1.5 PyTorch/2.1.2-CUDA-12.1.1 && echo python=$EBVERSIONPYTHON cuda=$EBVERSIONCUDA", &["python=3.11.3 cuda=12.1.1"])]
#[case("alpha", "module load release/23.04 CUDAcore/11.5.1 && echo cudacore=$EBVERSIONCUDACORE", &["cudacore=11.5.1"])]
#[case("romeo", "module load release/23.04 GCCcore/12.2.0 Python/3.10.8 && echo python=$EBVERSIONPYTHON", &["python=3.10.8"])]
#[case("barnard", "module load release/23.10 GCCcore/12.2.0 Python/3.10.8 && echo python=$EBVERSIONPYTHON", &["python=3.10.8"])]
#[case("barnard", "module load release/24.10 CUDA/12.1.1 && echo cuda=$EBVERSIONCUDA; module --force purge; module load release/24.04 CUDA/12.1.1 2>/dev/null || echo no-cuda-2404", &["cuda=12.1.1", "no-cuda-2404"])]
#[case("romeo", "module load release/23.10 foss/2022a && module -t list 2>&1 | tr '\\n' ' '", &["GCC/11.3.0", "OpenMPI/4.1.4", "foss/2022a"])]
#[case("barnard", "module load release/24.04 gompi/2023a && module -t list 2>&1 | tr '\\n' ' '", &["GCC/12.3.0", "OpenMPI/4.1.5", "gompi/2023a"])]
fn compendium_modules_load(#[case] partition: &str, #[case] script: &str, #[case] expected: &[&str]) {
    require_docker();
    let out = run(partition, script);
    for want in expected {
        assert!(out.stdout.contains(want), "{partition}: missing {want:?} in\n{}\n{}", out.stdout, out.stderr);
    }
}

/// The release a login shell starts with is data per partition
/// (containers/partitions.json): barnard's default is 24.04, as its module list shows.
#[rstest]
#[case("barnard", "24.04")]
#[case("alpha", "23.10")]
fn login_release_is_per_partition(#[case] partition: &str, #[case] release: &str) {
    require_docker();
    let image = &built()[partition];
    assert!(image.tag.starts_with(&format!("hpc-kernels/{partition}:{release}-")), "{}", image.tag);
    let login = run_in(&image.tag, partition, true, "module -t list 2>&1");
    assert_eq!(login.stdout.trim(), format!("release/{release}"), "{}", login.stderr);
}

#[test]
fn lmod_works_in_login_shells_and_docker_exec() {
    require_docker();
    let tag = &built()["alpha"].tag;
    let login = run_in(tag, "alpha", true, "module -t list 2>&1; hostname -f");
    assert!(login.stdout.contains("release/23.10"), "login shells load the default release: {}{}", login.stdout, login.stderr);
    assert!(login.stdout.contains("login1.alpha.hpc.tu-dresden.de"), "{}", login.stdout);

    let mut args = images::shell_run_args("alpha").expect("alpha");
    args.retain(|a| a != "--rm");
    args.insert(1, "--detach".into());
    args.extend([tag.clone(), "sleep".into(), "300".into()]);
    let started = Command::new("docker").args(&args).output().expect("docker run");
    assert!(started.status.success(), "{}", String::from_utf8_lossy(&started.stderr));
    let id = String::from_utf8_lossy(&started.stdout).trim().to_string();
    struct Remove(String);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = Command::new("docker").args(["rm", "--force", &self.0]).output();
        }
    }
    let _cleanup = Remove(id.clone());
    let exec = Command::new("docker")
        .args(["exec", &id, "bash", "-c", "module load release/23.10 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.13.1 && echo $EBROOTPYTORCH"])
        .output()
        .expect("docker exec");
    assert!(exec.status.success(), "{}", String::from_utf8_lossy(&exec.stderr));
    assert_eq!(String::from_utf8_lossy(&exec.stdout).trim(), "/sw/installed/PyTorch/1.13.1");
}

fn full_names(json: &str) -> BTreeSet<String> {
    let value: serde_json::Value = serde_json::from_str(json).expect("spider JSON");
    value
        .as_array()
        .expect("list of packages")
        .iter()
        .flat_map(|p| p["versions"].as_array().cloned().unwrap_or_default())
        .filter_map(|v| v["full"].as_str().map(str::to_string))
        .collect()
}

#[rstest]
#[case("alpha")]
#[case("barnard")]
#[case("romeo")]
fn spider_round_trip(#[case] partition: &str) {
    require_docker();
    let out = run(partition, "$LMOD_DIR/spider -o jsonSoftwarePage $MODULEPATH");
    assert_eq!(out.code, 0, "{}", out.stderr);
    let export = std::fs::read_to_string(format!("{}/containers/{partition}/spider.json", env!("CARGO_MANIFEST_DIR")))
        .expect("export in containers/");
    let expected = full_names(&export);
    assert!(expected.contains("PyTorch/1.13.1"));
    assert_eq!(full_names(&out.stdout), expected);
}

fn managed_image_ids() -> BTreeSet<String> {
    let out = Command::new("docker")
        .args(["images", "--quiet", "--no-trunc", "--filter", "label=org.hpc-kernels.managed=true"])
        .output()
        .expect("docker images");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn rebuild_without_changes_builds_nothing() {
    require_docker();
    let first = built();
    let _lock = image_creation();
    let before = managed_image_ids();
    let mut events = Vec::new();
    let again = images::build(&BuildOptions::default(), &mut |e| events.push(e)).expect("rebuild");
    assert_eq!(managed_image_ids(), before, "no new image may be created");
    assert!(again.iter().all(|b| b.cached), "{again:?}");
    assert!(events.iter().all(|e| matches!(e, ImageEvent::Cached { .. })), "{events:?}");
    for b in &again {
        assert_eq!(first[&b.partition].tag, b.tag);
    }
    let listed = images::list().expect("list");
    assert!(listed.iter().any(|i| i.tag == again[0].tag && i.size_bytes > 0), "{listed:?}");
}

#[test]
fn release_option_sets_the_default_release() {
    require_docker();
    let _lock = image_creation();
    let opts = BuildOptions { partitions: vec!["barnard".into()], releases: vec!["24.04".into()], ..BuildOptions::default() };
    let built = images::build(&opts, &mut |_| {}).expect("build 24.04");
    assert!(built[0].tag.starts_with("hpc-kernels/barnard:24.04-"), "{}", built[0].tag);
    let out = run_in(&built[0].tag, "barnard", false, "module reset >/dev/null 2>&1; module -t list 2>&1");
    assert_eq!(out.stdout.trim(), "release/24.04", "{}", out.stderr);
    let err = images::build(&BuildOptions { releases: vec!["22.01".into()], ..opts }, &mut |_| {}).expect_err("no such release");
    assert!(err.message.contains("release \"22.01\" does not exist on barnard"), "{}", err.message);
}

#[test]
fn base_image_option_builds_with_apt() {
    require_docker();
    // No registry here: our own mmdebstrap base stands in for debian:bookworm.
    built();
    let _lock = image_creation();
    let base = images::recipe::base_tag(&images::recipe::sha256_hex(&images::recipe::base_recipe(None)));
    let opts = BuildOptions { partitions: vec!["romeo".into()], base_image: Some(base), ..BuildOptions::default() };
    let image = &images::build(&opts, &mut |_| {}).expect("build over --base-image")[0];
    assert_ne!(image.tag, built()["romeo"].tag, "a different base gives a different tag");
    let out = run_in(&image.tag, "romeo", false, "hostname -d; module load release/23.10 GCC/11.3.0 OpenMPI/4.1.4 PyTorch/1.13.1 && python3 -c 'import torch; print(torch.__version__)'");
    assert_eq!(out.stdout, "romeo.hpc.tu-dresden.de\n1.13.1\n", "{}", out.stderr);
}

#[rstest]
#[case("HPC_KERNELS_DOCKER", "/nonexistent/docker", "was not found")]
#[case("DOCKER_HOST", "unix:///nonexistent/docker.sock", "not reachable")]
fn missing_docker_is_an_environment_error(#[case] var: &str, #[case] value: &str, #[case] message: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_hpc-kernels")).args(["images", "list"]).env(var, value).output().expect("binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(message) && stderr.contains("hint:"), "{stderr}");
}

#[test]
fn cli_shell_runs_one_command_and_returns_its_status() {
    require_docker();
    built();
    let out = Command::new(env!("CARGO_BIN_EXE_hpc-kernels"))
        .args(["images", "shell", "alpha", "--", "bash", "-c", "module -t list 2>&1; hostname -d; exit 7"])
        .output()
        .expect("binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout, "release/23.10\nalpha.hpc.tu-dresden.de\n");
}

fn docker_out(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().expect("docker runs");
    assert!(out.status.success(), "docker {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file of `/usr` and `/sw` (contents, mode, owner, size, time; links)
/// as `docker run ARGS` sees them. Directory times are left out: Docker's copy
/// into a volume sets them when it fills the directory.
fn image_files(args: &[&str]) -> String {
    let script = "cd / && find usr sw ! -type d -printf '%p %m %u %s %T@ %l\\n' | sort \
                  && find usr/lib/python3* sw -type f -print0 | sort -z | xargs -0 md5sum";
    let mut argv = vec!["run", "--rm", "--network", "none"];
    argv.extend(args);
    argv.extend(["/bin/bash", "-c", script]);
    docker_out(&argv)
}

/// The volumes of the image with id `id`.
fn rootfs_volumes(id: &str) -> BTreeSet<String> {
    docker_out(&["volume", "ls", "--quiet", "--filter", &format!("label=org.hpc-kernels.rootfs={id}")])
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn image_directories_from_volumes_are_the_images_own_read_only_and_shared_by_racing_runs() {
    use hpc_kernels::harness::rootfs::{self, Mode};
    require_docker();
    let romeo = &built()["romeo"];
    let _lock = image_creation();
    // An image of its own (the same files), so this test fills its volumes afresh.
    let tag = "hpc-kernels-test/rootfs:race";
    let container = docker_out(&["create", &romeo.tag, "true"]).trim().to_string();
    docker_out(&["commit", "--change", "LABEL org.hpc-kernels.test=rootfs", &container, tag]);
    docker_out(&["rm", &container]);
    let id = docker_out(&["image", "inspect", "--format", "{{.Id}}", tag]).trim().to_string();
    let tags = vec![(tag.to_string(), id.clone())];

    // Two runs at once: both get the same volumes, and no copy of the loser's stays.
    let (a, b) = std::thread::scope(|s| {
        let other = s.spawn(|| rootfs::prepare_with(Mode::On, &tags, 1, &[], &mut |_| {}).expect("prepare"));
        let mine = rootfs::prepare_with(Mode::On, &tags, 1, &[], &mut |_| {}).expect("prepare");
        (mine, other.join().expect("no panic"))
    });
    assert_eq!(a.0, b.0);
    let mounts = a.0.get(tag).unwrap_or_else(|| panic!("no volumes: {:?}", a.1)).clone();
    assert_eq!(mounts.iter().map(|(_, dir)| dir.as_str()).collect::<Vec<_>>(), ["/usr", "/sw"]);
    assert!(a.1.as_deref().is_some_and(|n| n.contains("read-only")), "{:?}", a.1);
    assert_eq!(rootfs_volumes(&id).len(), 3, "the marker and the two filled volumes: {:?}", rootfs_volumes(&id));

    // The files are the image's; nothing can write them.
    let mut args: Vec<String> = Vec::new();
    for (volume, dir) in &mounts {
        args.extend(["--volume".to_string(), format!("{volume}:{dir}:ro")]);
    }
    args.push(tag.to_string());
    let with: Vec<&str> = args.iter().map(String::as_str).collect();
    let from_volumes = image_files(&with);
    assert!(from_volumes.contains("usr/bin/python3") && from_volumes.contains("sw/modules"), "{}", &from_volumes[..500.min(from_volumes.len())]);
    assert!(from_volumes == image_files(&[tag]), "the volumes' files differ from the image's");
    let mut write = vec!["run", "--rm", "--network", "none"];
    write.extend(&with);
    write.extend(["/bin/bash", "-c", "touch /usr/x || touch /sw/x || exit 0; exit 1"]);
    assert!(Command::new("docker").args(&write).status().unwrap().success(), "/usr or /sw is writable");

    // A later run finds them; once the image is gone, the next run removes them.
    let again = rootfs::prepare_with(Mode::On, &tags, 1, &[], &mut |_| {}).expect("prepare");
    assert_eq!(again.0, a.0);
    docker_out(&["rmi", tag]);
    let (none, _) = rootfs::prepare_with(Mode::On, &[], 1, &[], &mut |_| {}).expect("prepare");
    assert!(none.is_empty());
    assert!(rootfs_volumes(&id).is_empty(), "left behind: {:?}", rootfs_volumes(&id));
}

#[test]
fn image_directories_stay_the_images_own_when_turned_off() {
    use hpc_kernels::harness::rootfs::{self, Mode};
    require_docker();
    let alpha = &built()["alpha"];
    let tags = vec![(alpha.tag.clone(), alpha.id.clone())];
    let (mounts, note) = rootfs::prepare_with(Mode::Off, &tags, 1, &[], &mut |_| {}).expect("prepare");
    assert!(mounts.is_empty() && note.is_none());
}
