//! Lock files that hold on shared file systems. `$HOME` is NFS or Lustre on
//! a cluster, where `flock` may only lock against the same node. A lock here
//! is a file made by `link(2)` from a unique file created with `O_EXCL`, the
//! one creation NFS performs atomically on the server, holding the holder's
//! pid and node. A holder refreshes the file's mtime while it works; a lock
//! whose holder died (same node: its pid is gone; other node: no refresh for
//! a while) is stale and taken over.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::error::{Error, Result};

/// A lock not refreshed for this long belongs to a holder that died on another node.
pub const STALE_AFTER: Duration = Duration::from_secs(300);

/// Who holds a lock, as its file says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: Option<i32>,
    pub node: Option<String>,
    /// Time since the holder last refreshed the lock.
    pub idle: Duration,
    content: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.pid, &self.node) {
            (Some(pid), Some(node)) => write!(f, "pid {pid} on {node}"),
            (Some(pid), None) => write!(f, "pid {pid}"),
            _ => write!(f, "unknown holder"),
        }
    }
}

/// A held lock; removed on drop.
pub struct LockFile {
    path: PathBuf,
    content: String,
    stop: Arc<AtomicBool>,
    heartbeat: Option<JoinHandle<()>>,
}

impl LockFile {
    /// Takes the lock if it is free or stale; otherwise says who holds it.
    pub fn try_acquire(path: &Path, stale_after: Duration) -> io::Result<std::result::Result<LockFile, Holder>> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let content = format!("{} {} {}\n", std::process::id(), node_name(), nonce());
        for _ in 0..5 {
            if link_new(path, &content)? {
                return Ok(Ok(LockFile::held(path, content, stale_after)));
            }
            let Some(holder) = read_holder(path)? else { continue }; // released meanwhile
            if !is_stale(&holder, stale_after) {
                return Ok(Err(holder));
            }
            break_stale(path, &holder)?;
        }
        Ok(Err(read_holder(path)?.unwrap_or(Holder { pid: None, node: None, idle: Duration::ZERO, content: String::new() })))
    }

    /// Waits up to `patience` for the lock (short critical sections, such as
    /// updating one kernelspec).
    pub fn acquire_waiting(path: &Path, stale_after: Duration, patience: Duration) -> io::Result<LockFile> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(20);
        loop {
            match LockFile::try_acquire(path, stale_after)? {
                Ok(lock) => return Ok(lock),
                Err(holder) if started.elapsed() >= patience => {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        format!("{} is held by {holder} (waited {}s)", path.display(), patience.as_secs()),
                    ))
                }
                Err(_) => {
                    std::thread::sleep(pause + Duration::from_millis(u64::from(nonce() % 20)));
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    fn held(path: &Path, content: String, stale_after: Duration) -> LockFile {
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, file) = (stop.clone(), path.to_path_buf());
        let every = (stale_after / 5).max(Duration::from_millis(200));
        let heartbeat = std::thread::Builder::new()
            .name("lock-heartbeat".into())
            .spawn(move || {
                let mut waited = Duration::ZERO;
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(100));
                    waited += Duration::from_millis(100);
                    if waited >= every {
                        waited = Duration::ZERO;
                        if let Ok(f) = File::options().write(true).open(&file) {
                            let _ = f.set_modified(SystemTime::now());
                        }
                    }
                }
            })
            .ok();
        LockFile { path: path.to_path_buf(), content, stop, heartbeat }
    }
}

impl Drop for LockFile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.heartbeat.take() {
            let _ = h.join();
        }
        // Only our own lock: a stale-breaker may have taken it over.
        if fs::read_to_string(&self.path).is_ok_and(|c| c == self.content) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates a unique file with `O_EXCL`, then links it to `path`. True when
/// the link now stands for our file (also when the server answered a retried
/// `link` with EEXIST: then our file has two links).
fn link_new(path: &Path, content: &str) -> io::Result<bool> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let unique = path.with_file_name(format!(".{name}.{}.{}.{}", node_name(), std::process::id(), nonce()));
    {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&unique)?;
        f.write_all(content.as_bytes())?;
        f.sync_all()?;
    }
    let linked = match fs::hard_link(&unique, path) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => fs::metadata(&unique).is_ok_and(|m| m.nlink() == 2),
        Err(e) => {
            let _ = fs::remove_file(&unique);
            return Err(e);
        }
    };
    let _ = fs::remove_file(&unique);
    Ok(linked)
}

fn read_holder(path: &Path) -> io::Result<Option<Holder>> {
    let content = match fs::read_to_string(path) {
        Ok(c) => c,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let modified = match fs::metadata(path) {
        Ok(m) => m.modified()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut words = content.split_whitespace();
    let pid = words.next().and_then(|p| p.parse().ok());
    let node = words.next().map(String::from);
    let idle = SystemTime::now().duration_since(modified).unwrap_or(Duration::ZERO);
    Ok(Some(Holder { pid, node, idle, content }))
}

fn is_stale(holder: &Holder, stale_after: Duration) -> bool {
    let same_node = holder.node.as_deref() == Some(node_name().as_str());
    match holder.pid {
        // A live holder refreshes its lock, so an idle one is stale even if its pid was reused.
        Some(pid) if same_node => {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None);
            matches!(alive, Err(nix::errno::Errno::ESRCH)) || holder.idle > stale_after
        }
        _ => holder.idle > stale_after,
    }
}

/// Moves a stale lock aside (one breaker wins the rename), and puts it back
/// if what was moved is no longer the lock that was judged stale.
fn break_stale(path: &Path, judged: &Holder) -> io::Result<()> {
    let aside = path.with_file_name(format!(
        ".{}.stale.{}.{}",
        path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id(),
        nonce()
    ));
    match fs::rename(path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if fs::read_to_string(&aside).is_ok_and(|c| c != judged.content) {
        let _ = fs::hard_link(&aside, path);
    }
    let _ = fs::remove_file(&aside);
    Ok(())
}

fn node_name() -> String {
    nix::sys::utsname::uname().map(|u| u.nodename().to_string_lossy().into_owned()).unwrap_or_else(|_| "unknown".into())
}

/// Distinct for every call in this process, and unlikely to repeat across processes.
fn nonce() -> u32 {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let t = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    (t.subsec_nanos() ^ std::process::id().rotate_left(16)).wrapping_add(n.wrapping_mul(0x9E37_79B9))
}

/// One install per kernel × partition of a workspace at a time: a second one
/// fails at once, naming the holder, instead of corrupting the first one's venv.
/// Installs of other kernels or other partitions into the same workspace
/// (one `$HOME` seen from every partition) run side by side.
pub struct WorkspaceLock {
    _locks: Vec<LockFile>,
}

impl WorkspaceLock {
    pub fn acquire(workspace: &Path, partition: &str, kernels: &[String]) -> Result<Self> {
        let mut locks = Vec::new();
        for kernel in kernels {
            let path = workspace.join(partition).join(kernel).join(".hpc-kernels.lock");
            let taken = LockFile::try_acquire(&path, STALE_AFTER).map_err(|e| Error::io("take the workspace lock", &path, e))?;
            match taken {
                Ok(lock) => locks.push(lock),
                Err(holder) => {
                    return Err(Error::environment(format!(
                        "another hpc-kernels install is running on workspace {} for {partition}/{kernel} ({holder})",
                        workspace.display()
                    ))
                    .with_hint(format!("wait for it to finish, or use a different --workspace; the lock is {}", path.display())))
                }
            }
        }
        Ok(WorkspaceLock { _locks: locks })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_a_workspace_fails_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let kernels = vec!["demo".to_string()];
        let first = WorkspaceLock::acquire(dir.path(), "alpha", &kernels).unwrap();
        let err = WorkspaceLock::acquire(dir.path(), "alpha", &kernels).err().unwrap();
        assert!(err.message.contains(&format!("pid {}", std::process::id())), "{}", err.message);
        // Another partition, or another kernel, of the same workspace is free.
        let other = WorkspaceLock::acquire(dir.path(), "romeo", &kernels).unwrap();
        let second_kernel = WorkspaceLock::acquire(dir.path(), "alpha", &["other".to_string()]).unwrap();
        drop((first, other, second_kernel));
        assert!(WorkspaceLock::acquire(dir.path(), "alpha", &kernels).is_ok());
    }

    #[test]
    fn a_lock_of_a_dead_process_on_this_node_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(&path, format!("{dead} {} 1\n", node_name())).unwrap();
        let lock = LockFile::try_acquire(&path, STALE_AFTER).unwrap().expect("stale lock taken over");
        assert!(fs::read_to_string(&path).unwrap().starts_with(&format!("{} ", std::process::id())));
        drop(lock);
        assert!(!path.exists(), "lock left behind");
    }

    #[test]
    fn a_lock_of_another_node_is_stale_only_when_not_refreshed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        fs::write(&path, "4242 some-other-node 1\n").unwrap();
        let holder = LockFile::try_acquire(&path, Duration::from_secs(60)).unwrap().err().expect("fresh lock of another node is respected");
        assert_eq!(holder.to_string(), "pid 4242 on some-other-node");
        let old = SystemTime::now() - Duration::from_secs(120);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        assert!(LockFile::try_acquire(&path, Duration::from_secs(60)).unwrap().is_ok());
    }

    #[test]
    fn a_held_lock_is_refreshed_and_waiters_get_it_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let stale_after = Duration::from_secs(1);
        let first = LockFile::try_acquire(&path, stale_after).unwrap().unwrap();
        let old = SystemTime::now() - Duration::from_secs(30);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        std::thread::sleep(Duration::from_millis(700));
        let idle = read_holder(&path).unwrap().unwrap().idle;
        assert!(idle < Duration::from_secs(1), "heartbeat did not refresh the lock: idle {idle:?}");
        let waiter = std::thread::spawn({
            let path = path.clone();
            move || LockFile::acquire_waiting(&path, Duration::from_secs(60), Duration::from_secs(20)).map(|_| ())
        });
        std::thread::sleep(Duration::from_millis(200));
        drop(first);
        waiter.join().unwrap().unwrap();
    }

    #[test]
    fn many_threads_take_turns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.lock");
        let counter = dir.path().join("counter");
        fs::write(&counter, "0").unwrap();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (path, counter) = (path.clone(), counter.clone());
                std::thread::spawn(move || {
                    for _ in 0..10 {
                        let _lock = LockFile::acquire_waiting(&path, STALE_AFTER, Duration::from_secs(60)).unwrap();
                        let n: u32 = fs::read_to_string(&counter).unwrap().parse().unwrap();
                        fs::write(&counter, (n + 1).to_string()).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(fs::read_to_string(&counter).unwrap(), "80");
    }
}
