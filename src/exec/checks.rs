//! The checks after the last pip group (consistency, imports, test_script,
//! the launch check) only read the venv, so they can run side by side; what
//! they report stays in plan order, and a check after the first failed step
//! does not count, as it would not have run one after another.

use crate::plan::{Action, Step};
use crate::report::Outcome;

/// What one check gave when it ran side by side.
pub(super) struct Ran {
    pub outcome: Outcome,
    pub log: String,
    pub seconds: f64,
}

/// Whether `steps` (those after the last install step) gain from running side
/// by side: only checks and the kernelspec, two or more that start a process.
pub(super) fn side_by_side(steps: &[Step]) -> bool {
    let starts_a_process =
        |a: &Action| matches!(a, Action::CheckConsistency | Action::CheckImport { .. } | Action::TestScript { .. } | Action::LaunchKernel { .. });
    let only_checks = steps.iter().all(|s| starts_a_process(&s.action) || matches!(s.action, Action::WriteKernelspec { .. }));
    only_checks && steps.iter().filter(|s| starts_a_process(&s.action)).count() >= 2
}

/// A check that ran alongside an earlier step that failed: skipped, as it
/// would have been one after another, with what it gave.
pub(super) fn not_counted(failed: &str, outcome: &Outcome) -> Outcome {
    Outcome::Skipped { reason: format!("not counted: {failed} did not pass (this check ran alongside it and {})", outcome.label()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    fn import(m: &str) -> Action {
        Action::CheckImport { module: m.into() }
    }

    fn launch() -> Action {
        Action::LaunchKernel { imports: vec![] }
    }

    fn kernelspec() -> Action {
        Action::WriteKernelspec { name: "k".into(), display_name: "K".into() }
    }

    #[rstest]
    #[case::checks_and_launch(vec![Action::CheckConsistency, import("a"), kernelspec(), launch()], true)]
    #[case::one_check_only(vec![kernelspec(), launch()], false)]
    #[case::nothing(vec![], false)]
    #[case::an_install_step_among_them(vec![import("a"), Action::LoadModules { modules: vec![] }, launch()], false)]
    fn which_steps_run_side_by_side(#[case] actions: Vec<Action>, #[case] expected: bool) {
        let steps: Vec<Step> = actions.into_iter().map(|action| Step { stage: "s".into(), action }).collect();
        assert_eq!(side_by_side(&steps), expected);
    }

    #[test]
    fn a_check_after_a_failure_is_skipped_with_its_own_outcome() {
        let outcome = not_counted("consistency", &Outcome::Failed { message: "x".into() });
        let Outcome::Skipped { reason } = outcome else { panic!("{outcome:?}") };
        assert_eq!(reason, "not counted: consistency did not pass (this check ran alongside it and failed)");
    }
}
