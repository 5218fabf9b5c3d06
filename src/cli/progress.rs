//! Progress display fed by `RunEvent`s: bars on a terminal, plain lines otherwise.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::report::{Outcome, RunEvent};

pub struct Progress {
    multi: Option<MultiProgress>,
    bars: HashMap<(String, String), ProgressBar>,
}

impl Progress {
    pub fn new() -> Self {
        let multi = std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Progress { multi, bars: HashMap::new() }
    }

    /// A line that should not be torn by the bars.
    pub fn println(&self, line: &str) {
        match &self.multi {
            Some(m) => {
                let _ = m.println(line);
            }
            None => eprintln!("{line}"),
        }
    }

    pub fn event(&mut self, e: &RunEvent) {
        match e {
            RunEvent::KernelStarted { partition, kernel, stages } => {
                if let Some(m) = &self.multi {
                    let bar = m.add(ProgressBar::new(*stages as u64));
                    let style = ProgressStyle::with_template("{spinner} {prefix:.bold} [{bar:20}] {pos}/{len} {msg} {elapsed}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> ");
                    bar.set_style(style);
                    bar.set_prefix(format!("{partition}/{kernel}"));
                    bar.enable_steady_tick(Duration::from_millis(120));
                    self.bars.insert((partition.clone(), kernel.clone()), bar);
                } else {
                    eprintln!("[{partition}/{kernel}] started ({stages} steps)");
                }
            }
            RunEvent::StepStarted { partition, kernel, stage } => {
                if let Some(bar) = self.bars.get(&(partition.clone(), kernel.clone())) {
                    bar.set_message(stage.clone());
                }
            }
            RunEvent::StepFinished { partition, kernel, result } => {
                if let Some(bar) = self.bars.get(&(partition.clone(), kernel.clone())) {
                    bar.inc(1);
                }
                if let Outcome::Failed { message } | Outcome::TimedOut { message, .. } | Outcome::Error { message } = &result.outcome {
                    self.println(&format!("[{partition}/{kernel}] {} {}: {message}", result.stage, result.outcome.label()));
                } else if self.multi.is_none() && !matches!(result.outcome, Outcome::Skipped { .. }) {
                    eprintln!("[{partition}/{kernel}] {} {} ({:.1}s)", result.stage, result.outcome.label(), result.seconds);
                }
            }
            RunEvent::KernelFinished { partition, kernel, passed, skipped } => {
                let verdict = match (passed, skipped) {
                    (true, _) => "✔ passed",
                    (false, true) => "– skipped",
                    (false, false) => "✘ failed",
                };
                match self.bars.remove(&(partition.clone(), kernel.clone())) {
                    Some(bar) => bar.finish_with_message(verdict.to_string()),
                    None => eprintln!("[{partition}/{kernel}] {verdict}"),
                }
            }
        }
    }
}
