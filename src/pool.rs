//! A fixed number of worker threads over a queue of jobs, for the harness's
//! cells and the engine's checks. Every job gets a result, in job order: a
//! worker that panics turns its job into an `Err` with the panic message
//! instead of losing it.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Sender};
use std::sync::Mutex;

/// Runs `work` on every job with up to `workers` threads. Messages a job
/// sends while it runs reach `on_message` on the calling thread, as they come.
pub fn run_all<J, R, M>(
    jobs: Vec<J>,
    workers: usize,
    work: impl Fn(&J, &Sender<M>) -> R + Sync,
    mut on_message: impl FnMut(M),
) -> Vec<Result<R, String>>
where
    J: Sync,
    R: Send,
    M: Send,
{
    let queue = Mutex::new((0..jobs.len()).collect::<VecDeque<usize>>());
    let results: Mutex<Vec<Option<Result<R, String>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    let (tx, rx) = mpsc::channel::<M>();
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1).min(jobs.len().max(1)) {
            let (tx, queue, results, jobs, work) = (tx.clone(), &queue, &results, &jobs, &work);
            scope.spawn(move || loop {
                // A poisoned lock only means another worker panicked while
                // holding it; what it guards is still good.
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(i) = next else { break };
                let outcome = catch_unwind(AssertUnwindSafe(|| work(&jobs[i], &tx))).map_err(panic_message);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
            });
        }
        // The loop ends when every worker has dropped its sender, i.e. finished.
        drop(tx);
        for m in rx {
            on_message(m);
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err("the worker running this job stopped without a result".into())))
        .collect()
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match (payload.downcast_ref::<&str>(), payload.downcast_ref::<String>()) {
        (Some(s), _) => s.to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_gets_its_result_in_job_order() {
        let results = run_all((0..20).collect(), 3, |j: &u32, _: &Sender<()>| j * 2, |_| {});
        let values: Vec<u32> = results.into_iter().map(Result::unwrap).collect();
        assert_eq!(values, (0..20).map(|j| j * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_job_is_an_error_with_the_panic_message_and_the_others_finish() {
        let results = run_all(
            vec!["a", "boom", "c", "boom2"],
            2,
            |j: &&str, _: &Sender<()>| {
                if j.starts_with("boom") {
                    panic!("container exec broke on {j}");
                }
                j.to_uppercase()
            },
            |_| {},
        );
        assert_eq!(results[0], Ok("A".to_string()));
        assert_eq!(results[1], Err("container exec broke on boom".to_string()));
        assert_eq!(results[2], Ok("C".to_string()));
        assert_eq!(results[3], Err("container exec broke on boom2".to_string()));
    }

    #[test]
    fn messages_reach_the_caller() {
        let mut seen = Vec::new();
        let results = run_all(vec![1, 2, 3], 2, |j: &i32, tx: &Sender<i32>| tx.send(*j * 10).unwrap(), |m| seen.push(m));
        assert_eq!(results.len(), 3);
        seen.sort();
        assert_eq!(seen, vec![10, 20, 30]);
    }

    #[test]
    fn jobs_overlap() {
        let started = std::time::Instant::now();
        let results = run_all(
            vec![120u64, 10, 60, 30],
            4,
            |&ms: &u64, _: &Sender<()>| {
                std::thread::sleep(std::time::Duration::from_millis(ms));
                ms * 2
            },
            |_| {},
        );
        assert_eq!(results, vec![Ok(240), Ok(20), Ok(120), Ok(60)]);
        // One after another this takes 220 ms; side by side, about the longest.
        assert!(started.elapsed() < std::time::Duration::from_millis(200), "{:?}", started.elapsed());
    }

    #[test]
    fn at_most_workers_run_at_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        let results = run_all(
            (0..8).collect(),
            2,
            |&i: &usize, _: &Sender<()>| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(5));
                running.fetch_sub(1, Ordering::SeqCst);
                i
            },
            |_| {},
        );
        assert_eq!(results, (0..8).map(Ok).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn no_jobs_no_threads_no_results() {
        let results = run_all(Vec::<u8>::new(), 4, |_: &u8, _: &Sender<()>| (), |_| {});
        assert!(results.is_empty());
    }
}
