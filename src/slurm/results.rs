//! What a job wrote: the install's JSON lines, read while they grow (for
//! progress) and once more at the end (for the results).

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::report::{RunEvent, RunReport};

/// One line of `install --jsonl`.
pub enum Line {
    Event(RunEvent),
    Results(Box<RunReport>),
    Other(String),
}

pub fn parse_line(line: &str) -> Line {
    if let Ok(e) = serde_json::from_str::<RunEvent>(line) {
        Line::Event(e)
    } else if let Ok(r) = serde_json::from_str::<RunReport>(line) {
        Line::Results(Box::new(r))
    } else {
        Line::Other(line.to_string())
    }
}

/// The install's results: the last results line of the file's text.
pub fn final_report(text: &str) -> Option<RunReport> {
    text.lines().rev().find_map(|l| match parse_line(l) {
        Line::Results(r) => Some(*r),
        Line::Event(_) | Line::Other(_) => None,
    })
}

/// Follows a file that a job appends to, yielding whole lines only.
pub struct Follower {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl Follower {
    pub fn new(path: &Path) -> Follower {
        Follower { path: path.to_path_buf(), offset: 0, partial: String::new() }
    }

    /// The lines completed since the last call (none while the file is absent).
    pub fn new_lines(&mut self) -> Vec<String> {
        let Ok(mut file) = std::fs::File::open(&self.path) else { return Vec::new() };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            // Rewritten from the start (a requeued job): follow the new text.
            self.offset = 0;
            self.partial.clear();
        }
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        let Ok(n) = file.read_to_end(&mut bytes) else { return Vec::new() };
        self.offset += n as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines = Vec::new();
        while let Some(end) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=end).collect();
            lines.push(line.trim_end().to_string());
        }
        lines
    }
}

/// The last `n` non-empty lines of a file, for an error message.
pub fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn follower_yields_whole_lines_as_they_complete() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alpha.jsonl");
        let mut f = Follower::new(&path);
        assert!(f.new_lines().is_empty(), "absent file");
        let mut file = std::fs::File::create(&path).unwrap();
        write!(file, "one\ntw").unwrap();
        assert_eq!(f.new_lines(), ["one"]);
        write!(file, "o\nthree\n").unwrap();
        assert_eq!(f.new_lines(), ["two", "three"]);
        assert!(f.new_lines().is_empty());
        std::fs::write(&path, "again\n").unwrap();
        assert_eq!(f.new_lines(), ["again"]);
    }

    #[test]
    fn the_results_are_the_last_results_line() {
        let event = r#"{"event":"kernel_started","partition":"alpha","kernel":"k","stages":3}"#;
        let report = r#"{"tool_version":"0","spec_file":"s.json","spec_sha256":"x","partitions":[]}"#;
        assert!(matches!(parse_line(event), Line::Event(_)));
        assert!(matches!(parse_line("pip says hello"), Line::Other(_)));
        let text = format!("{event}\nnoise\n{report}\n");
        assert_eq!(final_report(&text).map(|r| r.spec_file).as_deref(), Some("s.json"));
        assert!(final_report(event).is_none());
    }

    #[test]
    fn tail_keeps_the_last_non_empty_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, "a\n\nb\nc\n\n").unwrap();
        assert_eq!(tail(&path, 2), "b\nc");
        assert_eq!(tail(&dir.path().join("missing"), 2), "");
    }
}
