use super::*;
use crate::config::error::line_col;

/// The error of `text` as "LINE:COL: message".
fn fails(text: &str) -> String {
    let e = parse(text).expect_err("accepted");
    let (line, col) = line_col(text, e.at);
    format!("{line}:{col}: {}", e.message)
}

fn assert_fails(text: &str, at: &str, needle: &str) {
    let got = fails(text);
    let place_ok = if at.ends_with(':') {
        got.starts_with(at)
    } else {
        got.starts_with(&format!("{at}: "))
    };
    let shown: String = text.chars().take(60).collect();
    assert!(
        place_ok && got.contains(needle),
        "{shown:?}: want {at} …{needle}…, got {got}"
    );
}

fn string<'a>(t: &'a Table<'_>, key: &str) -> &'a str {
    t.get(key).and_then(|v| v.get_ref().as_str()).expect(key)
}

fn integer(t: &Table<'_>, key: &str) -> i64 {
    match t.get(key).map(Spanned::get_ref) {
        Some(Node::Integer(i)) => i64::from_str_radix(i.as_str(), i.radix()).unwrap(),
        other => panic!("{key}: {other:?}"),
    }
}

fn table<'a, 'i>(v: &'a Value<'i>) -> &'a Table<'i> {
    match v.get_ref() {
        Node::Table(t) => t,
        other => panic!("not a table: {other:?}"),
    }
}

fn array<'a, 'i>(v: &'a Value<'i>) -> &'a [Value<'i>] {
    match v.get_ref() {
        Node::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

#[test]
fn reads_the_subset_configs_use() {
    let text = "\u{feff}# comment\r\n\
        socket = \"/run/x.sock\" # trailing comment\r\n\
        \"quoted key\" = 'C:\\literal'\n\
        'single' = true\n\
        1234 = false\n\
        escapes = \"\\b\\t\\n\\f\\r\\e\\\"\\\\\\x41\\u00e9\\U0001F600\"\n\
        ints = [1_000, -5, +7, 0, 0xdead_BEEF, 0o17, 0b1010]\n\
        floats = [1.5, -0.0, 1e3, 6.02E+23, 1_0.0_1e-0_1, inf, -nan]\n\
        multi = \"\"\"\nline \\\n    joined\\u0021\"\"\"\"\"\n\
        raw = '''\nkeeps \\n and ''quotes'''''\n\
        [defaults]\n\
        nested = [ # comment\n  [1, 2,],\n  [], # another\n]\n\
        [[wan]]\n\
        name = \"a\"\n\
        targets = [\"192.0.2.1\", { http = \"http://x/\", status = 204 }, {}, {\n  \
          a = 1, # TOML 1.1: an inline table over lines\n  b = 2,\n}]\n\
        [[wan]]\n\
        name = \"b\"\n";
    let root = parse(text).unwrap();
    let keys: Vec<&str> = root.iter().map(|(k, _)| k.get_ref().as_ref()).collect();
    let want = [
        "socket",
        "quoted key",
        "single",
        "1234",
        "escapes",
        "ints",
        "floats",
        "multi",
        "raw",
        "defaults",
        "wan",
    ];
    assert_eq!(keys, want);
    assert_eq!(string(&root, "socket"), "/run/x.sock");
    assert_eq!(string(&root, "quoted key"), "C:\\literal");
    assert_eq!(root.get("single").unwrap().get_ref(), &Node::Boolean(true));
    assert_eq!(root.get("1234").unwrap().get_ref(), &Node::Boolean(false));
    assert_eq!(
        string(&root, "escapes"),
        "\u{8}\t\n\u{c}\r\u{1b}\"\\A\u{e9}\u{1F600}"
    );
    let ints: Vec<String> = array(root.get("ints").unwrap())
        .iter()
        .map(|v| match v.get_ref() {
            Node::Integer(i) => i.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        ints,
        ["1000", "-5", "7", "0", "0xdeadBEEF", "0o17", "0b1010"]
    );
    let floats: Vec<&str> = array(root.get("floats").unwrap())
        .iter()
        .map(|v| match v.get_ref() {
            Node::Float(f) => *f,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        floats,
        [
            "1.5",
            "-0.0",
            "1e3",
            "6.02E+23",
            "1_0.0_1e-0_1",
            "inf",
            "-nan"
        ]
    );
    assert_eq!(string(&root, "multi"), "line joined!\"\"");
    assert_eq!(string(&root, "raw"), "keeps \\n and ''quotes''");
    let defaults = table(root.get("defaults").unwrap());
    let nested = array(defaults.get("nested").unwrap());
    assert_eq!(nested.len(), 2);
    assert_eq!(array(&nested[0]).len(), 2);
    let wans = array(root.get("wan").unwrap());
    assert_eq!(wans.len(), 2);
    assert_eq!(string(table(&wans[0]), "name"), "a");
    assert_eq!(string(table(&wans[1]), "name"), "b");
    let targets = array(table(&wans[0]).get("targets").unwrap());
    assert_eq!(integer(table(&targets[1]), "status"), 204);
    assert!(table(&targets[2]).iter().next().is_none());
    assert_eq!(integer(table(&targets[3]), "b"), 2);
}

#[test]
fn spans_point_at_keys_values_and_headers() {
    let text = "a = \"x\"\n[t]\n[[w]]\nb = [1, {c = 2}]\n";
    let root = parse(text).unwrap();
    let (key, value) = &root.iter().next().unwrap();
    assert_eq!((key.span(), value.span()), (0..1, 4..7));
    assert_eq!(root.get("t").unwrap().span(), 8..11);
    let w = &array(root.get("w").unwrap())[0];
    assert_eq!(w.span(), 12..17);
    let b = table(w).get("b").unwrap();
    assert_eq!(b.span(), 22..34);
    assert_eq!(array(b)[1].span(), 26..33);
}

#[test]
fn toml_errors_have_their_place() {
    // (text, where, what the error says)
    for (text, at, says) in [
        ("a = 1\na = 2\n", "2:1", "duplicate key `a`"),
        ("\"a\" = 1\na = 2\n", "2:1", "duplicate key `a`"),
        ("[t]\nx = 1\n[t]\n", "3:2", "duplicate key `t`"),
        ("t = 1\n[t]\n", "2:2", "duplicate key `t`"),
        ("t = {}\n[t]\n", "2:2", "duplicate key `t`"),
        ("w = []\n[[w]]\n", "2:3", "duplicate key `w`"),
        ("[w]\n[[w]]\n", "2:3", "duplicate key `w`"),
        ("[[w]]\n[w]\n", "2:2", "duplicate key `w`"),
        ("a = {b = 1, b = 2}\n", "1:13", "duplicate key `b`"),
        ("a = \"\\q\"\n", "1:6", "invalid escape"),
        ("a = \"\\ \"\n", "1:6", "invalid escape"),
        ("a = \"\\uD800\"\n", "1:6", "invalid unicode escape"),
        ("a = \"\\u12\"\n", "1:6", "invalid unicode escape"),
        ("a = \"\\u+123\"\n", "1:6", "invalid unicode escape"),
        ("a = \"\\U00110000\"\n", "1:6", "invalid unicode escape"),
        ("a = \"abc\nb = 1\n", "1:5", "unterminated string"),
        ("a = 'abc\n", "1:5", "unterminated string"),
        ("a = \"\"\"abc\n\n", "1:5", "unterminated string"),
        ("a = '''abc''", "1:5", "unterminated string"),
        ("a = \"abc\\", "1:9", "unterminated string"),
        ("a = \"x\u{1}\"\n", "1:7", "control character U+0001"),
        ("a = '\u{7f}'\n", "1:6", "control character U+007F"),
        ("a = \"\"\"x\ry\"\"\"\n", "1:9", "control character U+000D"),
        ("a = 1 # \u{0}\n", "1:9", "unexpected `\\0`"),
        (
            "a = 1\rb = 2\n",
            "1:6",
            "carriage return without a line feed",
        ),
        ("a =\n", "1:4", "expected a value"),
        ("a\n", "1:2", "expected `=` after the key"),
        ("= 1\n", "1:1", "expected a key"),
        ("a = 1 2\n", "1:7", "expected the end of the line"),
        ("[t] x = 1\n", "1:5", "expected the end of the line"),
        ("[t\n", "1:3", "`]` to close the table header"),
        ("[[t]\n", "1:4", "`]]` to close the table header"),
        ("[ [t]]\n", "1:3", "expected a key"),
        ("a = [1\n", "2:1", "expected `,` or `]` in the array"),
        ("a = [1,\n", "2:1", "`]` to close the array"),
        ("a = [1 2]\n", "1:8", "`,` or `]`"),
        ("a = {b = 1,,}\n", "1:12", "expected a key"),
        ("a = {b = 1\n", "2:1", "`,` or `}`"),
        ("a = \"\\xG1\"\n", "1:6", "invalid unicode escape"),
        ("a = {b = 1 c = 2}\n", "1:12", "`,` or `}`"),
        (
            "a = eth0\n",
            "1:5",
            "invalid value `eth0`: a string must be in quotes",
        ),
        ("a = True\n", "1:5", "a string must be in quotes"),
    ] {
        assert_fails(text, at, says);
    }
    for bad in [
        "01", "1__0", "_1", "1_", "+0x1", "0x", "0X1", "0b2", "1.", ".5", "1e", "1.e5", "01.5",
        "1e5.5", "++1", "1.2.3", "0xinf", "0onan", "-0x1",
    ] {
        assert_fails(&format!("a = {bad}\n"), "1:5", "invalid number");
    }
    for date in [
        "1979-05-27",
        "1979-05-27T07:32:00Z",
        "1979-05-27 07:32:00",
        "07:32:00",
    ] {
        assert_fails(
            &format!("a = {date}\n"),
            "1:5",
            "dates and times are not supported",
        );
    }
    assert_fails("a.b = 1\n", "1:1", "dotted keys are not supported");
    assert_fails("a . b = 1\n", "1:1", "dotted keys are not supported");
    assert_fails("[a.b]\n", "1:2", "dotted keys are not supported");
    assert_fails("x = {a.b = 1}\n", "1:6", "dotted keys are not supported");
    assert_fails("\u{feff}\u{feff}a = 1\n", "1:2", "expected a key");
}

#[test]
fn hostile_input_is_an_error_not_a_crash() {
    // Nesting: an error at the first level too deep, not a stack overflow.
    let deep_arrays = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let col = format!("1:{}", 5 + MAX_DEPTH);
    assert_fails(&deep_arrays, &col, "nested more than 32 deep");
    let deep_tables = format!("a = {}1{}", "{b = ".repeat(50_000), "}".repeat(50_000));
    assert_fails(&deep_tables, "1:", "nested more than 32 deep");
    let ok = format!("a = {}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
    parse(&ok).unwrap();
    // Key count: capped, so duplicate search stays cheap.
    let many: String = (0..=MAX_KEYS).map(|i| format!("k{i} = 1\n")).collect();
    let line = format!("{}:1", MAX_KEYS + 1);
    assert_fails(&many, &line, "more than 1024 keys in one table");
    let many_inline: String = (0..=MAX_KEYS).map(|i| format!("k{i} = 1, ")).collect();
    assert_fails(
        &format!("t = {{{many_inline}}}"),
        "1:",
        "more than 1024 keys",
    );
    // Large but legal inputs: a megabyte string and twenty thousand tables.
    let huge = format!("a = \"{}\"\n", "é".repeat(500_000));
    assert_eq!(string(&parse(&huge).unwrap(), "a").len(), 1_000_000);
    let tables = "[[w]]\nx = 1\n".repeat(20_000);
    assert_eq!(
        array(parse(&tables).unwrap().get("w").unwrap()).len(),
        20_000
    );
    // Truncated input at every byte: an error or a document, never a panic.
    let text = "a = \"\\u00e9\" # c\n[[w]]\nb = [1, {c = '''x'''}]\n";
    for end in (0..text.len()).filter(|&e| text.is_char_boundary(e)) {
        let _ = parse(&text[..end]);
    }
}
