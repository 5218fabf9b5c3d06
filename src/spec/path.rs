//! JSON paths as users read them: `kernels.pytorch.pip_dependencies[3]`,
//! with keys that are not identifier-like quoted: `kernels["my kernel"]`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonPath(Vec<Segment>);

impl JsonPath {
    pub fn root() -> Self {
        JsonPath(Vec::new())
    }

    pub fn push(&mut self, segment: Segment) {
        self.0.push(segment);
    }

    pub fn pop(&mut self) {
        self.0.pop();
    }

    /// This path extended by one key.
    pub fn key(&self, key: &str) -> Self {
        let mut out = self.clone();
        out.push(Segment::Key(key.to_string()));
        out
    }

    /// This path extended by one array index.
    pub fn index(&self, index: usize) -> Self {
        let mut out = self.clone();
        out.push(Segment::Index(index));
        out
    }
}

fn is_identifier_like(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                Segment::Key(k) if is_identifier_like(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => {
                    let quoted = serde_json::to_string(k).map_err(|_| fmt::Error)?;
                    write!(f, "[{quoted}]")?;
                }
                Segment::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case(&[], "")]
    #[case(&[Segment::Key("kernels".into()), Segment::Key("pytorch".into()), Segment::Key("pip_dependencies".into()), Segment::Index(3)], "kernels.pytorch.pip_dependencies[3]")]
    #[case(&[Segment::Key("kernels".into()), Segment::Key("my kernel".into())], "kernels[\"my kernel\"]")]
    #[case(&[Segment::Key("pip_module_groups".into()), Segment::Key("nvidia-cudnn-cu12".into())], "pip_module_groups[\"nvidia-cudnn-cu12\"]")]
    #[case(&[Segment::Key("a\"b".into())], "[\"a\\\"b\"]")]
    #[case(&[Segment::Key("_x1".into()), Segment::Index(0), Segment::Index(1)], "_x1[0][1]")]
    fn renders_paths(#[case] segments: &[Segment], #[case] expected: &str) {
        assert_eq!(JsonPath(segments.to_vec()).to_string(), expected);
    }
}
