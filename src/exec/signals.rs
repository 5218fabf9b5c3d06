//! Ctrl-C and friends: steps run in their own process groups (so a timeout can
//! kill everything they started), which also means the terminal's SIGINT does
//! not reach them. These handlers forward the signal to the running step's group,
//! then let the default action end this process.

use std::sync::atomic::Ordering;

use nix::sys::signal::{self, killpg, SaFlags, SigAction, SigHandler, SigSet, Signal};
use nix::unistd::Pid;

use super::process::ACTIVE_GROUP;

extern "C" fn forward_and_die(sig: i32) {
    let group = ACTIVE_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        let _ = killpg(Pid::from_raw(group), Signal::SIGKILL);
    }
    if let Ok(sig) = Signal::try_from(sig) {
        let default = SigAction::new(SigHandler::SigDfl, SaFlags::empty(), SigSet::empty());
        // SAFETY: restoring the default disposition is async-signal-safe.
        unsafe {
            let _ = signal::sigaction(sig, &default);
        }
        let _ = signal::raise(sig);
    }
}

/// Installs the forwarding handlers for SIGINT, SIGTERM and SIGHUP.
pub fn install_handlers() {
    let action = SigAction::new(SigHandler::Handler(forward_and_die), SaFlags::SA_RESETHAND, SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only calls async-signal-safe functions (kill, sigaction, raise).
        unsafe {
            let _ = signal::sigaction(sig, &action);
        }
    }
}
