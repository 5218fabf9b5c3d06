//! The setup script on a stock Debian 12: a clean bookworm rootfs made with
//! mmdebstrap (as the partition images are), with no Python at all, where
//! scripts/setup-host.sh must install every Debian package and make the tools
//! venv, as a normal user with sudo and as root.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::*;

/// Cached by name: the recipe is these lines.
const IMAGE: &str = "hpc-kernels/stock-debian-12:minbase-sudo-v1";

fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().expect("docker runs")
}

fn text(out: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// A Debian 12 minbase with sudo, and nothing of this machine's.
fn stock_debian_image() {
    if docker(&["image", "inspect", IMAGE]).status.success() {
        return;
    }
    let tar = tempfile::Builder::new().suffix(".tar").tempfile().unwrap();
    let made = Command::new("mmdebstrap")
        .args(["--quiet", "--variant=minbase", "--include=sudo,ca-certificates", "--format=tar", "bookworm"])
        .arg(tar.path())
        .arg("http://deb.debian.org/debian")
        .stdin(Stdio::null())
        .output()
        .expect("mmdebstrap runs (scripts/setup-host.sh installs it)");
    assert!(made.status.success(), "mmdebstrap failed:\n{}", text(&made));
    let imported = docker(&["import", "--change", "CMD [\"/bin/bash\"]", &tar.path().to_string_lossy(), IMAGE]);
    assert!(imported.status.success(), "docker import failed:\n{}", text(&imported));
}

#[test]
fn setup_host_works_on_a_stock_debian_12_as_a_user_with_sudo_and_as_root() {
    require_docker();
    require_program("mmdebstrap", "mmdebstrap");
    stock_debian_image();
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    let mount = format!("{}:/src/scripts:ro", scripts.display());
    let name = format!("hpc-kernels-setup-test-{}", std::process::id());
    // No Python of any kind before the script runs; then the user's run
    // installs through sudo, the second run installs nothing, and root's run
    // finds the packages and makes its own tools venv.
    let script = r#"
set -e
! command -v python3 >/dev/null || { echo "python3 is already there"; exit 10; }
useradd -m dev
echo 'dev ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/dev
su dev -c 'bash /src/scripts/setup-host.sh --packages-only'
su dev -c '~/.cache/hpc-kernels/tools/venv/bin/python -c "import junitparser; import pip; print(\"dev-venv-ok\")"'
su dev -c '~/.cache/hpc-kernels/tools/venv/bin/uv --version'
su dev -c 'bash /src/scripts/setup-host.sh --packages-only' > /tmp/second.txt
cat /tmp/second.txt
! grep -q installing /tmp/second.txt || { echo "the second run installed again"; exit 11; }
bash /src/scripts/setup-host.sh --packages-only
/root/.cache/hpc-kernels/tools/venv/bin/python -c 'import junitparser; print("root-venv-ok")'
! python3 -c 'import pip' 2>/dev/null || { echo "pip landed in the system Python"; exit 12; }
for tool in lmod mmdebstrap shellcheck xmllint chromium; do command -v $tool >/dev/null || [ -f /usr/share/lmod/lmod/init/bash ] || { echo "missing $tool"; exit 13; }; done
echo all-ok
"#;
    // The machine's own trust settings for its TLS egress (extra CAs, pip's
    // `cert`) belong to the site, not to this script: carry them over.
    let mut args: Vec<String> = ["run", "--rm", "--name", &name, "--label", "org.hpc-kernels.test=setup-host", "-v", &mount].map(String::from).to_vec();
    for site in ["/usr/local/share/ca-certificates", "/etc/pip.conf"] {
        if Path::new(site).exists() {
            args.extend(["-v".to_string(), format!("{site}:{site}:ro")]);
        }
    }
    let script = format!("update-ca-certificates >/dev/null 2>&1 || true\n{script}");
    args.extend([IMAGE.to_string(), "bash".into(), "-c".into(), script]);
    let out = Command::new("docker").args(&args).output().expect("docker runs");
    let log = text(&out);
    assert!(out.status.success(), "setup on stock Debian 12 failed:\n{log}");
    for marker in ["setup: installing Debian packages", "dev-venv-ok", "root-venv-ok", "all-ok"] {
        assert!(log.contains(marker), "no `{marker}` in:\n{log}");
    }
}
