use super::*;
use rstest::rstest;

fn ok(text: &str) -> Node {
    let (node, problems) = parse(text);
    assert_eq!(problems, vec![], "{text:?}");
    node.expect("parsed")
}

fn fatal(text: &str) -> ParseProblem {
    let (node, mut problems) = parse(text);
    assert!(node.is_none(), "{text:?} parsed");
    problems.pop().expect("a problem")
}

fn object(node: &Node) -> &[Member] {
    match &node.value {
        Value::Object(m) => m,
        other => panic!("not an object: {other:?}"),
    }
}

#[test]
fn positions_are_one_based_lines_and_character_columns() {
    let root = ok("{\n  \"a\": [1, \"x\"],\n  \"é\": {\"b\": null}\n}");
    assert_eq!((root.pos.line, root.pos.column), (1, 1));
    let members = object(&root);
    assert_eq!((members[0].key_pos.line, members[0].key_pos.column), (2, 3));
    let Value::Array(items) = &members[0].node.value else { panic!("array") };
    assert_eq!((items[1].pos.line, items[1].pos.column), (2, 12));
    let inner = object(&members[1].node);
    // "é" is two bytes but one column.
    assert_eq!((members[1].node.pos.line, members[1].node.pos.column), (3, 8));
    assert_eq!((inner[0].node.pos.line, inner[0].node.pos.column), (3, 14));
}

#[rstest]
#[case(r#""a\"b\\c\/d\b\f\n\r\t""#, "a\"b\\c/d\u{8}\u{c}\n\r\t")]
#[case(r#""\u00e9\u20AC""#, "é€")]
#[case(r#""\uD83D\uDE00""#, "😀")]
#[case(r#""plain ü""#, "plain ü")]
fn string_escapes(#[case] text: &str, #[case] expected: &str) {
    assert_eq!(ok(text).value, Value::String(expected.into()));
}

#[rstest]
#[case(r#""\uD83D""#, "surrogate")]
#[case(r#""\uDE00x""#, "surrogate")]
#[case(r#""\uD83D\u0041""#, "surrogate")]
#[case(r#""\u12G4""#, "four hex digits")]
#[case(r#""\x""#, "an escape")]
#[case("\"a\nb\"", "control character")]
fn bad_strings(#[case] text: &str, #[case] message_part: &str) {
    let p = fatal(text);
    assert_eq!(p.code, "json-syntax");
    assert!(p.message.contains(message_part), "{}", p.message);
}

#[rstest]
#[case("0", "0")]
#[case("-12.5e+3", "-12.5e+3")]
#[case("1E9", "1E9")]
fn numbers(#[case] text: &str, #[case] raw: &str) {
    assert_eq!(ok(text).value, Value::Number(raw.into()));
}

#[rstest]
#[case("{", "json-truncated", 1, 2)]
#[case("{\"a\": [1, 2", "json-truncated", 1, 12)]
#[case("{\"a\": \"xyz", "json-truncated", 1, 11)]
#[case("{\"a\" 1}", "json-syntax", 1, 6)]
#[case("{\"a\": 1,}", "json-syntax", 1, 9)]
#[case("[1,]", "json-syntax", 1, 4)]
#[case("{'a': 1}", "json-syntax", 1, 2)]
#[case("{\"a\": tru}", "json-syntax", 1, 10)]
#[case("{\"a\": 01}", "json-syntax", 1, 8)]
#[case("{\"a\": -}", "json-syntax", 1, 8)]
#[case("{} x", "trailing-garbage", 1, 4)]
#[case("{}\n{}", "trailing-garbage", 2, 1)]
#[case("  ", "empty-file", 1, 3)]
fn syntax_errors_have_positions(#[case] text: &str, #[case] code: &str, #[case] line: usize, #[case] column: usize) {
    let p = fatal(text);
    assert_eq!((p.code, p.pos.line, p.pos.column), (code, line, column), "{text:?}: {}", p.message);
}

#[test]
fn syntax_error_carries_the_path_where_it_happened() {
    let p = fatal("{\"kernels\": {\"pytorch\": {\"check_libs\": [\"a\" \"b\"]}}}");
    assert_eq!(p.path.to_string(), "kernels.pytorch.check_libs");
}

#[test]
fn duplicate_keys_are_reported_at_the_second_and_the_first_is_kept() {
    let (node, problems) = parse("{\"a\": 1,\n \"b\": {\"x\": 1, \"x\": 2},\n \"a\": 3}");
    let root = node.expect("duplicates do not stop the parse");
    let codes: Vec<_> = problems.iter().map(|p| (p.code, p.path.to_string(), p.pos.line, p.pos.column)).collect();
    assert_eq!(codes, vec![("duplicate-key", "b.x".into(), 2, 16), ("duplicate-key", "a".into(), 3, 2)]);
    assert_eq!(object(&root)[0].node.value, Value::Number("1".into()));
    assert_eq!(object(&root).len(), 2);
}

#[test]
fn nesting_is_limited_without_overflowing_the_stack() {
    let deep = "[".repeat(100_000);
    let p = fatal(&deep);
    assert_eq!(p.code, "too-deep");
    assert_eq!(p.pos.column, MAX_DEPTH + 1);
    let at_limit = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    ok(&at_limit);
}

#[test]
fn byte_order_mark_is_skipped() {
    assert_eq!(ok("\u{feff}{}").value, Value::Object(vec![]));
}

#[test]
fn end_offsets_cover_the_value() {
    let text = "{\"a\": [1, {\"b\": true}] }";
    let root = ok(text);
    let member = &object(&root)[0];
    assert_eq!(&text[member.node.pos.offset..member.node.end], "[1, {\"b\": true}]");
}
