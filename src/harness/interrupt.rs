//! Ctrl-C during a validate run: remove this run's containers, then exit 130.

use std::sync::atomic::{AtomicBool, Ordering};


static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// True once a signal arrived: the run's results are void, and the cleanup
/// thread will end the process. Callers must not report or exit themselves.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Blocks for ever if an interrupt is being handled (the handler exits).
pub fn wait_if_interrupted() {
    while interrupted() {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// Starts a thread that waits for SIGINT/SIGTERM/SIGHUP and cleans up.
pub fn remove_containers_on_interrupt(label: &str, value: &str) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else { return };
    let filter = format!("{label}={value}");
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            INTERRUPTED.store(true, Ordering::SeqCst);
            eprintln!("\ninterrupted: removing this run's containers…");
            let _ = super::container::remove_labelled(&filter);
            // A container the daemon was creating when the signal came shows up late.
            std::thread::sleep(std::time::Duration::from_millis(500));
            let _ = super::container::remove_labelled(&filter);
            std::process::exit(128 + sig);
        }
    });
}
