//! Partition detection: `--partition`, else the host's domain
//! (`<partition>.hpc.tu-dresden.de`, as the original tool read it).

use crate::error::{Error, Result};
use crate::spec::Spec;

/// The site domain suffix whose first label names the partition.
pub const SITE_DOMAIN: &str = "hpc.tu-dresden.de";

/// Where the partition name came from, for messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    Flag,
    Domain(String),
}

/// Extracts the partition from a DNS domain such as `alpha.hpc.tu-dresden.de`.
/// Also accepts a full host name (`login1.alpha.hpc.tu-dresden.de`).
pub fn partition_from_domain(domain: &str) -> Option<String> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let prefix = domain.strip_suffix(SITE_DOMAIN)?.strip_suffix('.')?;
    let label = prefix.rsplit('.').next()?;
    (!label.is_empty()).then(|| label.to_string())
}

/// Picks the partition: the flag wins; otherwise the detected domain.
/// `domain` is what the host reported (see `exec::host_domain`), if anything.
pub fn resolve(spec: &Spec, flag: Option<&str>, domain: Option<&str>) -> Result<(String, Source)> {
    let known = spec.modules_by_cluster.keys().cloned().collect::<Vec<_>>().join(", ");
    if let Some(p) = flag {
        if spec.modules_by_cluster.contains_key(p) {
            return Ok((p.to_string(), Source::Flag));
        }
        return Err(Error::environment(format!(
            "partition \"{p}\" (from --partition) is not in the spec's modules_by_cluster"
        ))
        .with_hint(format!("partitions this spec knows: {known}")));
    }
    let Some(domain) = domain.filter(|d| !d.trim().is_empty()) else {
        return Err(Error::environment("cannot detect the partition: the host reports no domain name")
            .with_hint(format!("pass --partition (one of: {known})")));
    };
    match partition_from_domain(domain) {
        Some(p) if spec.modules_by_cluster.contains_key(&p) => Ok((p, Source::Domain(domain.to_string()))),
        Some(p) => Err(Error::environment(format!(
            "this host's domain \"{domain}\" names partition \"{p}\", which the spec's modules_by_cluster does not list"
        ))
        .with_hint(format!("add \"{p}\" to modules_by_cluster, or pass --partition (one of: {known})"))),
        None => Err(Error::environment(format!(
            "cannot detect the partition: domain \"{domain}\" is not <partition>.{SITE_DOMAIN}"
        ))
        .with_hint(format!("pass --partition (one of: {known})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case("alpha.hpc.tu-dresden.de", Some("alpha"))]
    #[case("barnard.hpc.tu-dresden.de.", Some("barnard"))]
    #[case("login1.alpha.hpc.tu-dresden.de", Some("alpha"))]
    #[case("ROMEO.HPC.TU-DRESDEN.DE\n", Some("romeo"))]
    #[case("hpc.tu-dresden.de", None)]
    #[case("example.org", None)]
    #[case("xhpc.tu-dresden.de", None)]
    #[case("", None)]
    fn domains(#[case] domain: &str, #[case] expected: Option<&str>) {
        assert_eq!(partition_from_domain(domain).as_deref(), expected);
    }
}
