//! Ctrl-C during a validate run: remove this run's containers, then exit 130.

use std::process::Stdio;

use super::docker;

/// Starts a thread that waits for SIGINT/SIGTERM/SIGHUP and cleans up.
pub fn remove_containers_on_interrupt(label: &str, value: &str) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    let filter = format!("label={label}={value}");
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            eprintln!("\ninterrupted: removing this run's containers…");
            if let Ok(out) = docker::command(["ps", "--all", "--quiet", "--filter", &filter]).stderr(Stdio::null()).output() {
                let ids = String::from_utf8_lossy(&out.stdout).split_whitespace().map(String::from).collect::<Vec<_>>();
                if !ids.is_empty() {
                    let _ = docker::command(["rm", "--force", "--volumes"]).args(&ids).stdout(Stdio::null()).stderr(Stdio::null()).status();
                }
            }
            std::process::exit(128 + sig);
        }
    });
}
