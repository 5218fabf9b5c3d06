//! `certify --slurm` against a real Slurm: Debian's slurmctld and slurmd with
//! munge in containers of the partition images (src/harness/slurm). The
//! command runs on the controller, which is the cluster's login node, so
//! `sbatch` and `scontrol` talk to slurmctld exactly as on a real login node;
//! the jobs run `hpc-kernels install` on the partition's node.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use hpc_kernels::harness::images::ImageEvent;
use hpc_kernels::harness::slurm::{self, ClusterOptions, LoginOutput, SlurmCluster};
use hpc_kernels::harness::wheelhouse::Wheelhouse;

const OUT: &str = "/shared/out";

struct TestCluster {
    // Dropped first: the containers go before the directory they share.
    cluster: SlurmCluster,
    shared: tempfile::TempDir,
    index: String,
}

fn start(partitions: &[&str], name: &str) -> TestCluster {
    let shared = tempfile::tempdir().unwrap();
    let spec_path = fixture("specs/slurm-demo.json");
    std::fs::copy(&spec_path, shared.path().join("spec.json")).unwrap();
    let cache = hpc_kernels::paths::default_cache_dir();
    let partitions: Vec<String> = partitions.iter().map(|p| p.to_string()).collect();
    let images = slurm::build(&partitions, &cache, &mut |e| match e {
        ImageEvent::Started { step, detail } => eprintln!("image {step}: {detail}"),
        ImageEvent::Finished { step, elapsed } => eprintln!("image {step}: built in {:.0}s", elapsed.as_secs_f64()),
        ImageEvent::Cached { .. } => {}
    })
    .unwrap_or_else(|e| panic!("{}: {:?}", e.message, std::error::Error::source(&e).map(|s| s.to_string())));
    let (spec, _) = hpc_kernels::spec::load(&spec_path).unwrap();
    let wheelhouse = Wheelhouse::prepare(&spec, &cache, &mut |m| eprintln!("{m}")).unwrap();
    let opts = ClusterOptions {
        run_id: format!("test-{name}-{}", std::process::id()),
        binary: assert_cmd::cargo::cargo_bin("hpc-kernels"),
        shared_dir: shared.path().to_path_buf(),
        wheelhouse_dir: Some(wheelhouse.dir.clone()),
        ready_timeout: Duration::from_secs(120),
    };
    let cluster = SlurmCluster::start(&images, &opts)
        .unwrap_or_else(|e| panic!("{}: {}", e.message, std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default()));
    TestCluster { cluster, shared, index: Wheelhouse::container_index_url().to_string() }
}

impl TestCluster {
    /// `hpc-kernels certify spec.json --release 23.10 --slurm …` on the login node.
    fn certify(&self, extra: &[&str]) -> LoginOutput {
        let mut argv = vec![
            "/opt/hpc-kernels/bin/hpc-kernels",
            "certify",
            "spec.json",
            "--release",
            "23.10",
            "--slurm",
            "--poll",
            "2",
            "--out",
            OUT,
            "--index-url",
            &self.index,
        ];
        argv.extend_from_slice(extra);
        let out = self.cluster.login(&argv).unwrap();
        eprintln!("--- certify exited {}\n--- stdout\n{}\n--- stderr\n{}", out.code, out.stdout, out.stderr);
        out
    }

    fn out(&self, rel: &str) -> std::path::PathBuf {
        self.shared.path().join("out").join(rel)
    }

    fn results(&self) -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(self.out("results.json")).unwrap()).unwrap()
    }

    /// Waits until the partition's job is running (its results file appeared).
    fn wait_for_job_start(&self, partition: &str, timeout: Duration) {
        let file = self.out(&format!("slurm/release-23.10/{partition}.jsonl"));
        let deadline = Instant::now() + timeout;
        while !file.is_file() {
            assert!(Instant::now() < deadline, "the {partition} job did not start in {timeout:?}:\n{}", self.cluster.daemon_logs());
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

fn partition<'a>(results: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    results["partitions"].as_array().unwrap().iter().find(|p| p["partition"] == name).unwrap_or_else(|| panic!("no {name} in {results}"))
}

fn kernel_passed(p: &serde_json::Value, kernel: &str) -> bool {
    let k = p["kernels"].as_array().unwrap().iter().find(|k| k["kernel"] == kernel).unwrap_or_else(|| panic!("no {kernel} in {p}"));
    k["steps"].as_array().unwrap().iter().all(|s| matches!(s["status"].as_str(), Some("passed") | Some("skipped")))
}

fn valid_junit(path: &Path) {
    let lint = std::process::Command::new("xmllint").arg("--noout").arg("--schema").arg(fixture("junit-10.xsd")).arg(path).output().unwrap();
    assert!(lint.status.success(), "{}", String::from_utf8_lossy(&lint.stderr));
}

#[test]
fn slurm_certify_runs_one_job_per_partition_and_reports_like_the_containers() {
    require_docker();
    let _serial = container_test_lock();
    let t = start(&["alpha", "barnard", "romeo"], "full");
    let out = t.certify(&["--kernel", "torch"]);
    assert_eq!(out.code, 0, "certify --slurm failed");
    assert!(out.stderr.contains("alpha: submitted job"), "{}", out.stderr);
    assert!(out.stderr.contains("RUNNING on login1"), "{}", out.stderr);
    assert!(out.stderr.contains("RUNNING on n1001"), "{}", out.stderr);
    assert!(out.stderr.contains("RUNNING on i7001"), "{}", out.stderr);
    let results = t.results();
    for p in ["alpha", "barnard", "romeo"] {
        let pr = partition(&results, p);
        assert!(pr["error"].is_null(), "{pr}");
        assert!(kernel_passed(pr, "torch"), "{pr}");
        // As in the containers: the one kernelspec both installed starts on each partition's node.
        let steps = pr["kernels"][0]["steps"].as_array().unwrap();
        let shared = steps.iter().find(|s| s["stage"] == "shared-home").unwrap_or_else(|| panic!("no shared-home stage: {pr}"));
        assert_eq!(shared["status"], "passed", "{shared}");
    }
    assert!(results["notes"].as_array().unwrap().iter().any(|n| n.as_str().unwrap().contains("Slurm job")), "{results}");
    // The same outputs as the container certify.
    for file in ["junit.xml", "summary.md", "report.html"] {
        assert!(t.out(file).is_file(), "{file} missing");
    }
    valid_junit(&t.out("junit.xml"));
    // The kernel was installed on the node of its partition, into the shared directory.
    let kernel_json = std::fs::read_to_string(t.out("slurm/release-23.10/prefix/share/jupyter/kernels/torch/kernel.json")).unwrap();
    for p in ["alpha", "barnard", "romeo"] {
        assert!(kernel_json.contains(&format!("\"{p}\"")), "{p} missing in {kernel_json}");
    }
}

#[test]
fn slurm_node_stopped_mid_run_is_an_error_of_its_partition_only() {
    require_docker();
    let _serial = container_test_lock();
    let t = start(&["alpha", "romeo"], "nodefail");
    let out = std::thread::scope(|s| {
        let run = s.spawn(|| t.certify(&["--partition", "alpha,romeo", "--kernel", "torch"]));
        t.wait_for_job_start("alpha", Duration::from_secs(300));
        t.cluster.stop_node("alpha").unwrap();
        run.join().unwrap()
    });
    assert_eq!(out.code, 3, "a partition Slurm could not certify is an environment error (exit 3)");
    let results = t.results();
    let alpha = partition(&results, "alpha");
    let error = alpha["error"].as_str().unwrap_or_else(|| panic!("no error for alpha: {alpha}"));
    assert!(error.contains("NODE_FAIL"), "{error}");
    assert!(error.contains("login1"), "{error}");
    let romeo = partition(&results, "romeo");
    assert!(romeo["error"].is_null(), "{romeo}");
    assert!(kernel_passed(romeo, "torch"), "{romeo}");
    let junit = std::fs::read_to_string(t.out("junit.xml")).unwrap();
    assert!(junit.contains("type=\"harness\""), "{junit}");
    valid_junit(&t.out("junit.xml"));
}

#[test]
fn slurm_job_over_its_time_limit_is_an_error() {
    require_docker();
    let _serial = container_test_lock();
    let t = start(&["romeo"], "timeout");
    let out = t.certify(&["--partition", "romeo", "--kernel", "slow", "--sbatch-args", "--time=1"]);
    assert_eq!(out.code, 3);
    let results = t.results();
    let error = partition(&results, "romeo")["error"].as_str().unwrap().to_string();
    assert!(error.contains("TIMEOUT"), "{error}");
    assert!(error.contains("time limit of 00:01:00"), "{error}");
    assert!(out.stdout.contains("romeo"), "the matrix names the partition: {}", out.stdout);
}

#[test]
fn slurm_submission_refused_by_sbatch_is_an_error_in_sbatchs_words() {
    require_docker();
    let _serial = container_test_lock();
    let t = start(&["romeo"], "refused");
    let out = t.certify(&["--partition", "romeo", "--kernel", "torch", "--slurm-partition", "romeo=nosuch"]);
    assert_eq!(out.code, 3);
    let results = t.results();
    let error = partition(&results, "romeo")["error"].as_str().unwrap().to_string();
    assert!(error.contains("sbatch refused the job for Slurm partition nosuch: exit 1"), "{error}");
    assert!(error.contains("Invalid partition name specified"), "{error}");
    assert!(out.stderr.contains("Invalid partition name specified"), "{}", out.stderr);
    assert!(!t.out("slurm/release-23.10/romeo.jsonl").exists(), "no job ran");
}
