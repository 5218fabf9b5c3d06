use std::io::{self, Write};
use super::RunReport;
pub fn write_install_summary(report: &RunReport, w: &mut dyn Write, _color: bool) -> io::Result<()> {
    for p in &report.partitions {
        for k in &p.kernels {
            match k.first_problem() {
                None => writeln!(w, "✔ {} ({}) → {}", k.kernel, p.partition, k.kernelspec_dir.as_deref().unwrap_or("-"))?,
                Some(s) => writeln!(w, "✘ {} ({}): {} {:?}\n{}", k.kernel, p.partition, s.stage, s.outcome, s.log)?,
            }
        }
    }
    Ok(())
}
