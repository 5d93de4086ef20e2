#![no_main]
//! The configuration's own TOML reader against the `toml` crate (0.9.12, TOML 1.1; the
//! daemon used 0.9.6, which already took 1.1's escapes and inline tables over lines):
//! whenever ours accepts a text, `toml` accepts it too and reads the same tree; whenever
//! `toml` accepts a text inside our subset (no dotted keys, no dates or times, nesting and
//! key count within our limits), ours accepts it too.
//!
//! `toml`'s spanned tree checks numbers lazily: `1_000C` is an "integer" until something
//! converts it. Ours refuses such text, as TOML says; a tree holding one is outside the
//! comparison. `toml` also takes a line end between a key, its `=` and its value inside an
//! inline table (`{a\n= 1}`), which TOML 1.1 does not allow and ours refuses.

use toml::de::{DeTable, DeValue};
use toml::Spanned;
use wanfailover::config::toml::{self as ours, Node, Table};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // The daemon reads files as UTF-8 and rejects anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match (ours::parse(text), DeTable::parse(text)) {
        (Ok(a), Ok(b)) => same_table(&a, b.get_ref()),
        (Ok(a), Err(e)) => panic!("only ours accepts {text:?}: {e}\nours: {a:?}"),
        (Err(e), Ok(b)) => {
            // Outside the subset: the refusal must say so, and the tree must show why.
            let why = &e.message;
            let outside = (why.starts_with("dotted keys") && has_dotted_key(text))
                || (why.starts_with("dates and times") && has_datetime(b.get_ref()))
                || (why.starts_with("arrays and inline tables nested")
                    && depth(b.get_ref()) > ours::MAX_DEPTH)
                || (why.starts_with("more than") && most_keys(b.get_ref()) > ours::MAX_KEYS)
                || has_bad_number(b.get_ref())
                || why.starts_with("unexpected end of line: expected `=`")
                || why.starts_with("unexpected end of line: expected a value");
            assert!(outside, "only toml accepts {text:?}: ours says {e:?}");
        }
        (Err(_), Err(_)) => {}
    }
});

fn same_table(a: &Table<'_>, b: &DeTable<'_>) {
    let mut ours: Vec<_> = a.iter().collect();
    ours.sort_by(|x, y| x.0.get_ref().cmp(y.0.get_ref()));
    assert_eq!(ours.len(), b.len(), "key counts differ: {a:?}\n{b:?}");
    for ((ka, va), (kb, vb)) in ours.into_iter().zip(b.iter()) {
        assert_eq!(ka.get_ref(), kb.get_ref());
        same_value(va.get_ref(), vb);
    }
}

fn same_value(a: &Node<'_>, b: &Spanned<DeValue<'_>>) {
    match (a, b.get_ref()) {
        (Node::String(x), DeValue::String(y)) => assert_eq!(x, y),
        (Node::Integer(x), DeValue::Integer(y)) => {
            assert_eq!(x.radix(), y.radix());
            let parse = |s: &str| i128::from_str_radix(s, x.radix()).ok();
            match (parse(x.as_str()), parse(y.as_str())) {
                (Some(p), Some(q)) => assert_eq!(p, q),
                _ => assert_eq!(x.as_str(), y.as_str().trim_start_matches('+')),
            }
        }
        (Node::Float(x), DeValue::Float(y)) => {
            let x: f64 = x.replace('_', "").parse().expect("our float parses");
            let y: f64 = y.as_str().parse().expect("toml's float parses");
            assert!(x == y || (x.is_nan() && y.is_nan()), "{x} != {y}");
        }
        (Node::Boolean(x), DeValue::Boolean(y)) => assert_eq!(x, y),
        (Node::Array(x), DeValue::Array(y)) => {
            assert_eq!(x.len(), y.len());
            for (p, q) in x.iter().zip(y.iter()) {
                same_value(p.get_ref(), q);
            }
        }
        (Node::Table(x), DeValue::Table(y)) => same_table(x, y),
        (x, y) => panic!("different types: ours {x:?}, toml {y:?}"),
    }
}

/// toml's tree does not tell a dotted key from a `[table]`; this only checks the text has a
/// dot at all (weak, but a wrong "dotted keys" refusal of a dot-free text is still caught).
fn has_dotted_key(text: &str) -> bool {
    text.contains('.')
}

fn has_datetime(t: &DeTable<'_>) -> bool {
    any_value(t, &|v| matches!(v, DeValue::Datetime(_)))
}

/// An integer or float `toml` kept that is no number at all.
fn has_bad_number(t: &DeTable<'_>) -> bool {
    any_value(t, &|v| match v {
        DeValue::Integer(i) => {
            let digits = i.as_str().trim_start_matches(['+', '-']);
            digits.is_empty() || !digits.chars().all(|c| c.is_digit(i.radix()))
        }
        DeValue::Float(f) => f.as_str().parse::<f64>().is_err(),
        _ => false,
    })
}

fn any_value(t: &DeTable<'_>, hit: &dyn Fn(&DeValue<'_>) -> bool) -> bool {
    fn value(v: &DeValue<'_>, hit: &dyn Fn(&DeValue<'_>) -> bool) -> bool {
        match v {
            DeValue::Array(items) => items.iter().any(|i| value(i.get_ref(), hit)),
            DeValue::Table(t) => any_value(t, hit),
            _ => hit(v),
        }
    }
    t.values().any(|v| value(v.get_ref(), hit))
}

/// Deepest nesting of arrays and tables below the root (a `[[x]]` counts like an array).
fn depth(t: &DeTable<'_>) -> usize {
    fn value(v: &DeValue<'_>) -> usize {
        match v {
            DeValue::Array(items) => {
                1 + items.iter().map(|i| value(i.get_ref())).max().unwrap_or(0)
            }
            DeValue::Table(t) => 1 + depth(t),
            _ => 0,
        }
    }
    t.values().map(|v| value(v.get_ref())).max().unwrap_or(0)
}

fn most_keys(t: &DeTable<'_>) -> usize {
    fn value(v: &DeValue<'_>) -> usize {
        match v {
            DeValue::Array(items) => items.iter().map(|i| value(i.get_ref())).max().unwrap_or(0),
            DeValue::Table(t) => most_keys(t),
            _ => 0,
        }
    }
    let below = t.values().map(|v| value(v.get_ref())).max().unwrap_or(0);
    below.max(t.len())
}
