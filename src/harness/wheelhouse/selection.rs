//! Pure: which distributions a spec needs served, and from where — the
//! locked real Jupyter stack, a real download for a different pin of a
//! real-stack package, or a generated stand-in.

use super::generated::WheelSpec;
use super::real::RealRequest;
use super::requirement::{normalize, Requirement};
use super::version::{parse_version, Specifier};

/// The lock of the real Jupyter stack, embedded in the binary.
pub const JUPYTER_STACK_LOCK: &str = include_str!("../../../containers/wheelhouse/jupyter-stack.txt");

/// `(name, version)` of every `name==version` line; `Err` names a bad line.
pub fn parse_lock(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.split('#').next().unwrap_or("").trim()))
        .filter(|(_, line)| !line.is_empty())
        .map(|(number, line)| match line.split_once("==") {
            Some((name, version)) if !name.trim().is_empty() && parse_version(version).is_some() => {
                Ok((name.trim().to_string(), version.trim().to_string()))
            }
            _ => Err(format!("line {number}: {line:?} is not `name==version`")),
        })
        .collect()
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Selection {
    /// Real wheels: the whole lock first, then a spec's own pins of locked packages.
    pub real: Vec<RealRequest>,
    pub generated: Vec<WheelSpec>,
    /// Requirements that cannot be served, with the reason (pip will fail on them, as on PyPI).
    pub unservable: Vec<(String, String)>,
}

/// What to serve for `requirements`, which may name one distribution several
/// times (once per pip call): each gets a version of its own, and versions
/// equal under PEP 440 (`1.0`, `1.0.0`) are served once.
pub fn select(lock: &[(String, String)], requirements: &[Requirement]) -> Selection {
    let mut selection = Selection {
        real: lock.iter().map(|(name, version)| RealRequest { name: name.clone(), specifier: format!("=={version}") }).collect(),
        ..Selection::default()
    };
    for req in requirements {
        let Some(specifier) = Specifier::parse(&req.specifier) else {
            selection.unservable.push((req.raw.clone(), format!("cannot read the version specifier {:?}", req.specifier)));
            continue;
        };
        let locked = lock.iter().find(|(name, _)| normalize(name) == req.normalized_name());
        match locked {
            Some((_, version)) => {
                let satisfied = parse_version(version).is_some_and(|v| specifier.allows(&v));
                let requested = selection.real.iter().any(|r| normalize(&r.name) == req.normalized_name() && r.specifier == req.specifier);
                if !satisfied && !requested {
                    selection.real.push(RealRequest { name: req.name.clone(), specifier: req.specifier.clone() });
                }
            }
            None => match specifier.choose() {
                Some(version) => add_generated(&mut selection.generated, req, version),
                None => selection.unservable.push((req.raw.clone(), format!("no version satisfies {:?}", req.specifier))),
            },
        }
    }
    selection
}

fn add_generated(generated: &mut Vec<WheelSpec>, req: &Requirement, version: String) {
    let same = |w: &&mut WheelSpec| normalize(&w.name) == req.normalized_name() && parse_version(&w.version) == parse_version(&version);
    match generated.iter_mut().find(|w| same(w)) {
        Some(existing) => {
            for extra in &req.extras {
                if !existing.extras.iter().any(|e| normalize(e) == normalize(extra)) {
                    existing.extras.push(extra.clone());
                }
            }
        }
        None => generated.push(WheelSpec { name: req.name.clone(), version, extras: req.extras.clone() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::wheelhouse::requirement::parse_requirement;

    fn reqs(list: &[&str]) -> Vec<Requirement> {
        list.iter().map(|s| parse_requirement(s).unwrap_or_else(|| panic!("{s} parses"))).collect()
    }

    #[test]
    fn embedded_lock_pins_the_jupyter_stack() {
        let lock = parse_lock(JUPYTER_STACK_LOCK).expect("the committed lock parses");
        let names: Vec<String> = lock.iter().map(|(n, _)| normalize(n)).collect();
        for needed in ["ipykernel", "jupyter-client", "setuptools", "wheel", "pyzmq", "tornado", "traitlets", "debugpy", "psutil", "comm", "ipython"] {
            assert!(names.contains(&needed.to_string()), "{needed} missing from the lock");
        }
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "one pin per distribution");
    }

    #[test]
    fn rejects_unpinned_lock_lines() {
        assert_eq!(parse_lock("# c\nfoo==1.0\n\nbar>=2\n"), Err("line 4: \"bar>=2\" is not `name==version`".to_string()));
    }

    #[test]
    fn splits_requirements_between_real_and_generated() {
        let lock = vec![("ipykernel".to_string(), "7.4.0".to_string()), ("setuptools".to_string(), "84.2.1".to_string())];
        let got = select(
            &lock,
            &reqs(&["setuptools", "ipykernel==6.0.0", "nbformat==5.0.2", "xarray[complete]", "numpy>=1.20,<2", "bad>2,<1", "Setuptools>=60"]),
        );
        let real: Vec<String> = got.real.iter().map(|r| format!("{}{}", r.name, r.specifier)).collect();
        assert_eq!(real, ["ipykernel==7.4.0", "setuptools==84.2.1", "ipykernel==6.0.0"]);
        let generated: Vec<(String, String, Vec<String>)> =
            got.generated.into_iter().map(|w| (w.name, w.version, w.extras)).collect();
        assert_eq!(
            generated,
            vec![
                ("nbformat".into(), "5.0.2".into(), vec![]),
                ("xarray".into(), "1.0.0".into(), vec!["complete".into()]),
                ("numpy".into(), "1.20".into(), vec![]),
            ]
        );
        assert_eq!(got.unservable, vec![("bad>2,<1".to_string(), "no version satisfies \">2,<1\"".to_string())]);
    }

    #[test]
    fn different_pins_in_different_pip_calls_are_all_served() {
        let lock = vec![("ipykernel".to_string(), "7.4.0".to_string())];
        let got = select(&lock, &reqs(&["numpy==1.22.3", "numpy==1.26.4", "numpy==1.26.4", "xarray==1.0", "xarray[io]==1.0.0", "ipykernel==6.0", "ipykernel==6.0"]));
        let generated: Vec<(String, String, Vec<String>)> =
            got.generated.into_iter().map(|w| (w.name, w.version, w.extras)).collect();
        assert_eq!(
            generated,
            vec![
                ("numpy".into(), "1.22.3".into(), vec![]),
                ("numpy".into(), "1.26.4".into(), vec![]),
                ("xarray".into(), "1.0".into(), vec!["io".into()]),
            ]
        );
        let real: Vec<String> = got.real.iter().map(|r| format!("{}{}", r.name, r.specifier)).collect();
        assert_eq!(real, ["ipykernel==7.4.0", "ipykernel==6.0"]);
        assert!(got.unservable.is_empty(), "{:?}", got.unservable);
    }
}
