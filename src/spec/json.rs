//! A small span-preserving JSON parser (recursive descent over bytes).
//!
//! serde_json forgets where a value came from and silently keeps the last of
//! two duplicate keys; lint needs the line and column of every value and must
//! report duplicates, so the spec is parsed here. Input must already be valid
//! UTF-8 (checked by the caller, which reports the byte offset).

use super::path::{JsonPath, Segment};

/// Deepest nesting of arrays and objects accepted; deeper input is an error,
/// never a stack overflow.
pub const MAX_DEPTH: usize = 64;

/// 1-based line and column (in characters) plus the byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
    /// Byte offset just past the value's last byte.
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub key: String,
    pub key_pos: Pos,
    pub node: Node,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    /// The number as written; the spec never needs its numeric value.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in file order; a duplicate key is reported and dropped.
    Object(Vec<Member>),
}

impl Value {
    /// What a user would call this kind of value, for "expected X, found Y".
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object(_) => "an object",
        }
    }
}

/// A problem found while parsing. Fatal ones end the parse.
#[derive(Clone, Debug, PartialEq)]
pub struct ParseProblem {
    pub code: &'static str,
    pub message: String,
    pub path: JsonPath,
    pub pos: Pos,
    pub value: Option<String>,
    pub hint: Option<String>,
}

/// Duplicate keys reported one by one; the rest are counted in one problem,
/// so that a hostile document costs linear time and memory.
const REPORTED_DUPLICATES: usize = 1000;

/// Parses one JSON document. Returns the tree when the syntax is valid, and
/// every problem found (duplicate keys do not stop the parse).
pub fn parse(text: &str) -> (Option<Node>, Vec<ParseProblem>) {
    let mut parser = Parser { bytes: text.as_bytes(), text, at: 0, line: 1, column: 1, path: JsonPath::root(), problems: Vec::new(), duplicates: 0 };
    if text.starts_with('\u{feff}') {
        parser.at = 3;
    }
    let result = parser.document();
    let mut problems = parser.problems;
    if parser.duplicates > REPORTED_DUPLICATES {
        let last = problems.iter().rev().find(|p| p.code == "duplicate-key").cloned();
        if let Some(mut summary) = last {
            summary.message = format!("{} more duplicate keys not reported one by one", parser.duplicates - REPORTED_DUPLICATES);
            summary.value = None;
            problems.push(summary);
        }
    }
    match result {
        Ok(node) => (Some(node), problems),
        Err(fatal) => {
            problems.push(*fatal);
            (None, problems)
        }
    }
}

type Fatal = Box<ParseProblem>;

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: usize,
    column: usize,
    path: JsonPath,
    problems: Vec<ParseProblem>,
    /// Duplicate keys seen; only the first `REPORTED_DUPLICATES` become problems.
    duplicates: usize,
}

impl Parser<'_> {
    fn pos(&self) -> Pos {
        Pos { line: self.line, column: self.column, offset: self.at }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn bump(&mut self) {
        if let Some(&b) = self.bytes.get(self.at) {
            self.at += 1;
            if b == b'\n' {
                self.line += 1;
                self.column = 1;
            } else if b & 0xC0 != 0x80 {
                // Count characters, not bytes: continuation bytes do not move the column.
                self.column += 1;
            }
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.bump();
        }
    }

    fn fail(&self, code: &'static str, message: impl Into<String>, hint: Option<&str>) -> Fatal {
        let value = self.text.get(self.at..).and_then(|rest| rest.chars().next()).map(|c| format!("{c:?}"));
        Box::new(ParseProblem {
            code,
            message: message.into(),
            path: self.path.clone(),
            pos: self.pos(),
            value,
            hint: hint.map(String::from),
        })
    }

    /// An error at the current byte: "unexpected end" when input ran out.
    fn unexpected(&self, expected: &str) -> Fatal {
        match self.peek() {
            None => self.fail(
                "json-truncated",
                format!("unexpected end of file, expected {expected}"),
                Some("the file is cut short: close every open string, array and object"),
            ),
            Some(_) => {
                let found = self.text.get(self.at..).and_then(|r| r.chars().next()).unwrap_or('?');
                self.fail("json-syntax", format!("expected {expected}, found {found:?}"), syntax_hint(found))
            }
        }
    }

    fn document(&mut self) -> Result<Node, Fatal> {
        self.skip_whitespace();
        if self.peek().is_none() {
            return Err(self.fail("empty-file", "the file is empty", Some("a spec is a JSON object: {\"modules_by_cluster\": {...}, \"kernels\": {...}}")));
        }
        let node = self.value(0)?;
        self.skip_whitespace();
        if self.peek().is_some() {
            self.path = JsonPath::root();
            return Err(self.fail(
                "trailing-garbage",
                "unexpected text after the end of the JSON document",
                Some("a spec holds exactly one JSON object; remove what follows its closing brace"),
            ));
        }
        Ok(node)
    }

    fn value(&mut self, depth: usize) -> Result<Node, Fatal> {
        let pos = self.pos();
        let value = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.unexpected("a value (object, array, string, number, true, false or null)")),
        };
        Ok(Node { value, pos, end: self.at })
    }

    fn enter(&self, depth: usize) -> Result<usize, Fatal> {
        if depth >= MAX_DEPTH {
            return Err(self.fail(
                "too-deep",
                format!("arrays and objects are nested more than {MAX_DEPTH} levels deep"),
                Some("a spec needs at most 4 levels; this is not a kernel spec"),
            ));
        }
        Ok(depth + 1)
    }

    fn object(&mut self, depth: usize) -> Result<Value, Fatal> {
        let depth = self.enter(depth)?;
        self.bump();
        let mut members: Vec<Member> = Vec::new();
        // Key → index in `members`: duplicate detection stays linear on
        // hostile objects with hundreds of thousands of keys.
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.bump();
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_whitespace();
            if self.peek() != Some(b'"') {
                let hint_trailing = self.peek() == Some(b'}') && !members.is_empty();
                let mut err = self.unexpected("a string key in double quotes");
                if hint_trailing {
                    err.message = "trailing comma before '}'".into();
                    err.hint = Some("JSON allows no comma after the last member; remove it".into());
                }
                return Err(err);
            }
            let key_pos = self.pos();
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.unexpected("':' after the key"));
            }
            self.bump();
            self.skip_whitespace();
            self.path.push(Segment::Key(key.clone()));
            let node = self.value(depth)?;
            if seen.contains_key(&key) {
                self.duplicates += 1;
            }
            if let Some(first) = seen.get(&key).map(|&i| &members[i]).filter(|_| self.duplicates <= REPORTED_DUPLICATES) {
                self.problems.push(ParseProblem {
                    code: "duplicate-key",
                    message: format!("duplicate key {key:?} (first at line {}:{})", first.key_pos.line, first.key_pos.column),
                    path: self.path.clone(),
                    pos: key_pos,
                    value: Some(format!("{key:?}")),
                    hint: Some("JSON readers disagree on which copy wins; keep one and merge the two".into()),
                });
            } else if !seen.contains_key(&key) {
                seen.insert(key.clone(), members.len());
                members.push(Member { key, key_pos, node });
            }
            self.path.pop();
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b'}') => {
                    self.bump();
                    return Ok(Value::Object(members));
                }
                _ => return Err(self.unexpected("',' or '}' after the object member")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, Fatal> {
        let depth = self.enter(depth)?;
        self.bump();
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.bump();
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            if self.peek() == Some(b']') && !items.is_empty() {
                let mut err = self.unexpected("a value");
                err.message = "trailing comma before ']'".into();
                err.hint = Some("JSON allows no comma after the last element; remove it".into());
                return Err(err);
            }
            self.path.push(Segment::Index(items.len()));
            items.push(self.value(depth)?);
            self.path.pop();
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.bump(),
                Some(b']') => {
                    self.bump();
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected("',' or ']' after the array element")),
            }
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, Fatal> {
        for expected in word.bytes() {
            if self.peek() != Some(expected) {
                return Err(self.unexpected(&format!("the literal `{word}`")));
            }
            self.bump();
        }
        Ok(value)
    }

    fn number(&mut self) -> Result<Value, Fatal> {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.bump();
        }
        match self.peek() {
            Some(b'0') => self.bump(),
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.unexpected("a digit")),
        }
        if self.peek() == Some(b'.') {
            self.bump();
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.unexpected("a digit after '.'"));
            }
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.bump();
            if let Some(b'+' | b'-') = self.peek() {
                self.bump();
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.unexpected("a digit in the exponent"));
            }
            self.digits();
        }
        Ok(Value::Number(self.text.get(start..self.at).unwrap_or_default().to_string()))
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.bump();
        }
    }

    fn string(&mut self) -> Result<String, Fatal> {
        self.bump();
        let mut out = String::new();
        loop {
            // Copy runs of plain characters at once; the input is valid UTF-8.
            let run_start = self.at;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.bump();
            }
            out.push_str(self.text.get(run_start..self.at).unwrap_or_default());
            match self.peek() {
                None => return Err(self.unexpected("'\"' to close the string")),
                Some(b'"') => {
                    self.bump();
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.bump();
                    out.push(self.escape()?);
                }
                Some(_) => {
                    return Err(self.fail(
                        "json-syntax",
                        "control character inside a string",
                        Some("write newlines and tabs inside strings as \\n and \\t"),
                    ))
                }
            }
        }
    }

    fn escape(&mut self) -> Result<char, Fatal> {
        let c = match self.peek() {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.bump();
                return self.unicode_escape();
            }
            _ => return Err(self.unexpected("an escape: \\\" \\\\ \\/ \\b \\f \\n \\r \\t or \\uXXXX")),
        };
        self.bump();
        Ok(c)
    }

    fn hex4(&mut self) -> Result<u32, Fatal> {
        let mut n = 0u32;
        for _ in 0..4 {
            let digit = self.peek().and_then(|b| (b as char).to_digit(16));
            match digit {
                Some(d) => {
                    n = n * 16 + d;
                    self.bump();
                }
                None => return Err(self.unexpected("four hex digits after \\u")),
            }
        }
        Ok(n)
    }

    fn unicode_escape(&mut self) -> Result<char, Fatal> {
        let start = self.pos();
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if self.peek() != Some(b'\\') || self.bytes.get(self.at + 1) != Some(&b'u') {
                    return Err(self.lone_surrogate(start, first));
                }
                self.bump();
                self.bump();
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return Err(self.lone_surrogate(start, first));
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.lone_surrogate(start, first)),
            n => n,
        };
        char::from_u32(code).ok_or_else(|| self.lone_surrogate(start, first))
    }

    fn lone_surrogate(&self, pos: Pos, unit: u32) -> Fatal {
        let mut err = self.fail(
            "json-syntax",
            format!("\\u{unit:04X} is half of a surrogate pair without its other half"),
            Some("characters outside the BMP are written as two escapes, e.g. \\uD83D\\uDE00"),
        );
        err.pos = pos;
        err.value = Some(format!("\\u{unit:04X}"));
        err
    }
}

fn syntax_hint(found: char) -> Option<&'static str> {
    match found {
        '\'' => Some("JSON strings use double quotes"),
        '/' | '#' => Some("JSON has no comments; use a key starting with \"_\" for a comment"),
        c if c.is_ascii_alphabetic() => Some("keys and strings must be in double quotes"),
        _ => None,
    }
}

#[cfg(test)]
mod hostile_tests {
    use super::*;

    #[test]
    fn thousands_of_duplicate_keys_are_reported_up_to_a_bound_and_counted() {
        let members: Vec<String> = (0..REPORTED_DUPLICATES + 11).map(|_| "\"k\": 1".to_string()).collect();
        let (node, problems) = parse(&format!("{{{}}}", members.join(",")));
        assert!(node.is_some());
        assert_eq!(problems.len(), REPORTED_DUPLICATES + 1);
        assert!(problems.iter().all(|p| p.code == "duplicate-key"));
        assert_eq!(problems.last().unwrap().message, "10 more duplicate keys not reported one by one");
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
