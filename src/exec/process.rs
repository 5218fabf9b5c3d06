//! Spawning one command: its own process group, output captured to a log,
//! a timeout that kills the whole group.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;

/// The process group of the command now running, so a signal handler can stop it.
pub(crate) static ACTIVE_GROUP: AtomicI32 = AtomicI32::new(0);

/// How long a group gets between SIGTERM and SIGKILL.
const GRACE: Duration = Duration::from_secs(3);
/// How much output is kept in memory per step (the log file has all of it).
const KEEP_BYTES: usize = 256 * 1024;

#[derive(Clone, Debug)]
pub struct CommandSpec {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The complete environment of the child (nothing is inherited).
    pub env: BTreeMap<String, String>,
    pub cwd: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Finished {
    /// Exit code; `None` when killed by a signal or by the timeout.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Captured stdout+stderr (the tail, when very long), lossily decoded.
    pub output: String,
    pub elapsed: Duration,
}

impl Finished {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
}

/// Runs `spec`, appending its output to `log`. Returns Err only when the
/// program could not be started at all.
pub fn run(spec: &CommandSpec, timeout: Duration, log: &mut dyn Write) -> std::io::Result<Finished> {
    use std::os::unix::process::CommandExt;

    let started = Instant::now();
    let (mut reader, writer) = std::io::pipe()?;
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .env_clear()
        .envs(&spec.env)
        .stdin(Stdio::null())
        .stdout(writer.try_clone()?)
        .stderr(writer)
        .process_group(0);
    if let Some(cwd) = &spec.cwd {
        cmd.current_dir(cwd);
    }
    // If this process is SIGKILLed, its step must not run on unattended
    // (a pip still writing into a venv that the rerun is rebuilding).
    // SAFETY: prctl is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)
        });
    }
    let mut child = cmd.spawn()?;
    // The pipe's write ends now live only in the child (and its descendants).
    drop(cmd);
    let pgid = child.id() as i32;
    ACTIVE_GROUP.store(pgid, Ordering::SeqCst);

    // The reader thread only moves bytes; this thread writes them to the log
    // as they come, so a hung step's log shows how far it got.
    let (chunks_tx, chunks) = std::sync::mpsc::channel::<Vec<u8>>();
    let collector = std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks_tx.send(buf[..n].to_vec()).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let mut tail = Tail::default();
    let mut pass_on = |bytes: Vec<u8>, log: &mut dyn Write| {
        let _ = log.write_all(&bytes);
        let _ = log.flush();
        tail.push(&bytes);
    };

    let deadline = started + timeout;
    let mut timed_out = false;
    let status = loop {
        while let Ok(bytes) = chunks.try_recv() {
            pass_on(bytes, log);
        }
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() >= deadline {
            timed_out = true;
            terminate_group(pgid, &mut child);
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // Descendants that outlive the command (daemons, stuck grandchildren) would
    // hold the pipe open and leak; the step owns its whole group.
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    ACTIVE_GROUP.store(0, Ordering::SeqCst);
    let _ = collector.join();
    for bytes in chunks.try_iter() {
        pass_on(bytes, log);
    }
    if timed_out {
        let _ = writeln!(log, "\n[hpc-kernels] timed out after {}s; process group {pgid} killed", timeout.as_secs());
    }
    use std::os::unix::process::ExitStatusExt;
    Ok(Finished {
        code: if timed_out { None } else { status.code().or(status.signal().map(|s| 128 + s)) },
        timed_out,
        output: tail.into_text(),
        elapsed: started.elapsed(),
    })
}

/// The last `KEEP_BYTES` of a step's output: memory stays bounded however
/// much a step prints (the log file has all of it).
#[derive(Default)]
pub(crate) struct Tail {
    bytes: std::collections::VecDeque<u8>,
    dropped: bool,
}

impl Tail {
    pub(crate) fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        if self.bytes.len() > KEEP_BYTES {
            let excess = self.bytes.len() - KEEP_BYTES;
            self.bytes.drain(..excess);
            self.dropped = true;
        }
    }
    pub(crate) fn into_text(self) -> String {
        let (bytes, dropped) = (Vec::from(self.bytes), self.dropped);
        let text = String::from_utf8_lossy(&bytes).into_owned();
        if dropped {
            // The cut may fall inside a line (or a UTF-8 sequence): start at the next whole line.
            let start = text.find('\n').map_or(0, |i| i + 1);
            format!("[hpc-kernels] earlier output omitted here; the log file has all of it\n{}", &text[start..])
        } else {
            text
        }
    }
}

fn terminate_group(pgid: i32, child: &mut std::process::Child) {
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGTERM);
    let until = Instant::now() + GRACE;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
}

/// Looks `program` up in the `PATH` of `env` (not of this process).
pub fn which_in(program: &str, env: &BTreeMap<String, String>) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program));
    }
    let path = env.get("PATH")?;
    std::env::split_paths(path).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> CommandSpec {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), "/usr/bin:/bin".into());
        CommandSpec { program: "/bin/bash".into(), args: vec!["-c".into(), script.into()], env, cwd: None }
    }

    #[test]
    fn captures_both_streams_and_exit_code() {
        let mut log = Vec::new();
        let f = run(&sh("echo out; echo err >&2; exit 7"), Duration::from_secs(10), &mut log).unwrap();
        assert_eq!(f.code, Some(7));
        assert!(f.output.contains("out") && f.output.contains("err"), "{}", f.output);
        assert_eq!(String::from_utf8(log).unwrap(), f.output);
    }

    #[test]
    fn environment_is_exactly_what_was_given() {
        let mut spec = sh("echo \"[${HOME:-unset}]\"");
        spec.env.insert("X".into(), "1".into());
        let f = run(&spec, Duration::from_secs(10), &mut Vec::new()).unwrap();
        assert!(f.output.contains("[unset]"), "{}", f.output);
    }

    #[test]
    fn timeout_kills_the_whole_group() {
        let marker = tempfile::NamedTempFile::new().unwrap();
        let script = format!("(sleep 30; echo late > {}) & sleep 30", marker.path().display());
        let started = Instant::now();
        let f = run(&sh(&script), Duration::from_millis(300), &mut Vec::new()).unwrap();
        assert!(f.timed_out);
        assert_eq!(f.code, None);
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(200));
        assert_eq!(std::fs::read_to_string(marker.path()).unwrap(), "", "background child survived");
    }

    #[test]
    fn background_children_do_not_keep_a_finished_step_alive() {
        let started = Instant::now();
        let f = run(&sh("sleep 60 & echo done"), Duration::from_secs(30), &mut Vec::new()).unwrap();
        assert!(f.success());
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    /// Records when each write arrived, relative to its creation.
    struct Timed(Instant, Vec<(Duration, Vec<u8>)>);
    impl Write for Timed {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.1.push((self.0.elapsed(), buf.to_vec()));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn output_reaches_the_log_while_the_step_still_runs() {
        let mut log = Timed(Instant::now(), Vec::new());
        let f = run(&sh("echo first; sleep 2; echo second"), Duration::from_secs(30), &mut log).unwrap();
        assert!(f.success());
        let first = log.1.iter().find(|(_, b)| String::from_utf8_lossy(b).contains("first")).expect("first line logged");
        assert!(first.0 < Duration::from_millis(1500), "first line reached the log only after {:?}", first.0);
    }

    #[test]
    fn a_hung_step_leaves_what_it_printed_in_the_log() {
        let mut log = Vec::new();
        let f = run(&sh("echo 'Collecting numpy'; sleep 30"), Duration::from_millis(500), &mut log).unwrap();
        assert!(f.timed_out);
        let text = String::from_utf8(log).unwrap();
        assert!(text.starts_with("Collecting numpy\n"), "{text}");
        assert!(text.contains("timed out after"), "{text}");
    }

    #[test]
    fn kept_output_is_bounded_but_the_log_has_everything() {
        let mut log = Vec::new();
        let script = "for i in $(seq 1 40000); do echo \"line $i of a long pip output\"; done";
        let f = run(&sh(script), Duration::from_secs(60), &mut log).unwrap();
        assert!(f.success());
        assert!(log.len() > 4 * KEEP_BYTES, "log has {} bytes", log.len());
        assert!(f.output.len() <= KEEP_BYTES + 100, "kept {} bytes", f.output.len());
        assert!(f.output.starts_with("[hpc-kernels] earlier output omitted"), "{}", &f.output[..80]);
        assert!(f.output.lines().nth(1).unwrap().starts_with("line "), "cut mid-line: {:?}", f.output.lines().nth(1));
        assert!(f.output.ends_with("line 40000 of a long pip output\n"));
    }

    #[test]
    fn missing_program_is_an_error() {
        let mut spec = sh("");
        spec.program = "/nonexistent/program".into();
        assert!(run(&spec, Duration::from_secs(1), &mut Vec::new()).is_err());
    }

    #[test]
    fn which_uses_the_given_path() {
        let mut env = BTreeMap::new();
        env.insert("PATH".into(), "/nonexistent:/bin".into());
        assert_eq!(which_in("bash", &env), Some(PathBuf::from("/bin/bash")));
        env.insert("PATH".into(), "/nonexistent".into());
        assert_eq!(which_in("bash", &env), None);
    }
}
