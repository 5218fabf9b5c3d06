//! Facts about this host that need a process or a system call.

use std::collections::BTreeMap;
use std::time::Duration;

use super::process::{self, CommandSpec};

/// The host's DNS domain: `hostname -d`, else the domain part of the node
/// name (containers often have an FQDN node name and nothing to resolve it).
pub fn domain() -> Option<String> {
    let mut env = BTreeMap::new();
    env.insert("PATH".to_string(), "/usr/bin:/bin:/usr/sbin:/sbin".to_string());
    let spec = CommandSpec { program: "hostname".into(), args: vec!["-d".into()], env, cwd: None };
    if let Ok(f) = process::run(&spec, Duration::from_secs(5), &mut std::io::sink()) {
        let d = f.output.trim();
        if f.success() && !d.is_empty() && !d.contains(char::is_whitespace) {
            return Some(d.to_string());
        }
    }
    let node = nix::sys::utsname::uname().ok()?.nodename().to_string_lossy().into_owned();
    node.split_once('.').map(|(_, d)| d.to_string()).filter(|d| !d.is_empty())
}
