//! One install per workspace at a time: a second one fails at once with a
//! message naming the holder, instead of corrupting the first one's venvs.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use crate::error::{Error, Result};

pub struct WorkspaceLock {
    _lock: Flock<File>,
}

impl WorkspaceLock {
    pub fn acquire(workspace: &Path) -> Result<Self> {
        let path = workspace.join(".hpc-kernels.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| Error::io("open the workspace lock", &path, e))?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = write!(lock, "{}", std::process::id());
                Ok(WorkspaceLock { _lock: lock })
            }
            Err((mut file, _)) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() { String::new() } else { format!(" (pid {holder})") };
                Err(Error::environment(format!(
                    "another hpc-kernels install is running on workspace {}{who}",
                    workspace.display()
                ))
                .with_hint("wait for it to finish, or use a different --workspace"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_on_a_workspace_fails_with_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = WorkspaceLock::acquire(dir.path()).unwrap();
        let err = WorkspaceLock::acquire(dir.path()).err().unwrap();
        assert!(err.message.contains(&format!("pid {}", std::process::id())), "{}", err.message);
        drop(first);
        assert!(WorkspaceLock::acquire(dir.path()).is_ok());
    }
}
