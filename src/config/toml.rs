//! A small spanned TOML reader: the part of TOML 1.0 a configuration file uses, each key
//! and value kept with its byte span so every later message can name line and column.
//!
//! Read: comments, bare and quoted keys, `[table]` and `[[array of tables]]` headers,
//! basic and literal strings (single- and multi-line, every TOML escape, with TOML 1.1's
//! `\e` and `\xHH`), integers (decimal with sign and `_`, `0x`, `0o`, `0b`), floats,
//! booleans, arrays and inline tables (over several lines, as TOML 1.1 allows), LF and
//! CRLF line ends, a leading byte order mark. The 1.1 parts are those the `toml` crate this
//! replaced already accepted, so no configuration that loaded before is refused now.
//!
//! Refused with an error naming what is not supported: dotted keys (`a.b = 1`, `[a.b]`)
//! and dates and times. Everything else TOML forbids is an error too: duplicate keys,
//! a table defined twice, bad escapes, control characters, unterminated strings.
//!
//! Limits against hostile files: arrays and inline tables nest at most [`MAX_DEPTH`] deep
//! (the reader is recursive), a table holds at most [`MAX_KEYS`] keys (duplicates are
//! found by a linear search). Integers are kept as text, as written (without `_`), so a
//! value too large for any type still reaches the config check that names its key.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

/// Deepest nesting of arrays and inline tables.
pub const MAX_DEPTH: usize = 32;
/// Most keys in one table.
pub const MAX_KEYS: usize = 1024;

/// A value with the byte range of the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spanned<T> {
    span: Range<usize>,
    value: T,
}

impl<T> Spanned<T> {
    pub fn new(span: Range<usize>, value: T) -> Spanned<T> {
        Spanned { span, value }
    }

    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    pub fn get_ref(&self) -> &T {
        &self.value
    }

    pub fn into_inner(self) -> T {
        self.value
    }
}

pub type Key<'i> = Spanned<Cow<'i, str>>;
pub type Value<'i> = Spanned<Node<'i>>;

/// Keys and values in the order written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table<'i> {
    entries: Vec<(Key<'i>, Value<'i>)>,
}

impl<'i> Table<'i> {
    pub fn iter(&self) -> std::slice::Iter<'_, (Key<'i>, Value<'i>)> {
        self.entries.iter()
    }

    pub fn get(&self, key: &str) -> Option<&Value<'i>> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    fn position(&self, key: &str) -> Option<usize> {
        self.entries.iter().position(|(k, _)| k.value == key)
    }
}

/// An integer as written: the digits without `_` or a `0x`/`0o`/`0b` prefix, a `-` kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Integer<'i> {
    digits: Cow<'i, str>,
    radix: u32,
}

impl Integer<'_> {
    /// The digits, for `i64::from_str_radix(i.as_str(), i.radix())`.
    pub fn as_str(&self) -> &str {
        &self.digits
    }

    pub fn radix(&self) -> u32 {
        self.radix
    }
}

impl fmt::Display for Integer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self.radix {
            2 => "0b",
            8 => "0o",
            16 => "0x",
            _ => "",
        };
        write!(f, "{prefix}{}", self.digits)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node<'i> {
    String(Cow<'i, str>),
    Integer(Integer<'i>),
    /// The text as written (checked to be a TOML float); the config has no float keys.
    Float(&'i str),
    Boolean(bool),
    Array(Vec<Value<'i>>),
    Table(Table<'i>),
}

impl Node<'_> {
    pub fn type_str(&self) -> &'static str {
        match self {
            Node::String(_) => "string",
            Node::Integer(_) => "integer",
            Node::Float(_) => "float",
            Node::Boolean(_) => "boolean",
            Node::Array(_) => "array",
            Node::Table(_) => "table",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }
}

/// Why the text is not (supported) TOML, at byte offset `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub at: usize,
    pub message: String,
}

fn error<T>(at: usize, message: impl Into<String>) -> Result<T, Error> {
    Err(Error {
        at,
        message: message.into(),
    })
}

/// Reads a whole document into its root table.
pub fn parse(text: &str) -> Result<Table<'_>, Error> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: if text.starts_with('\u{feff}') { 3 } else { 0 },
    };
    let mut root = Table::default();
    // The root entry whose table (or last table of an array) takes key/value lines.
    let mut current: Option<usize> = None;
    // Root entries made by `[[name]]`: only these may be appended to.
    let mut arrays_of_tables: Vec<usize> = Vec::new();
    loop {
        p.skip_blanks();
        match p.peek() {
            None => return Ok(root),
            Some(b'[') => {
                let start = p.pos;
                p.pos += 1;
                let array = p.eat(b'[');
                p.skip_blanks();
                let key = p.key()?;
                p.skip_blanks();
                let close: &[u8] = if array { b"]]" } else { b"]" };
                if !p.bytes[p.pos..].starts_with(close) {
                    let what = if array { "`]]`" } else { "`]`" };
                    return p.unexpected(&format!("{what} to close the table header"));
                }
                p.pos += close.len();
                let span = start..p.pos;
                let table = Spanned::new(span.clone(), Node::Table(Table::default()));
                match root.position(&key.value) {
                    Some(i) if array && arrays_of_tables.contains(&i) => {
                        if let Node::Array(items) = &mut root.entries[i].1.value {
                            items.push(table);
                        }
                        current = Some(i);
                    }
                    _ => {
                        check_new_key(&root, &key)?;
                        let value = if array {
                            arrays_of_tables.push(root.entries.len());
                            Spanned::new(span, Node::Array(vec![table]))
                        } else {
                            table
                        };
                        current = Some(root.entries.len());
                        root.entries.push((key, value));
                    }
                }
            }
            Some(b'#' | b'\n' | b'\r') => {}
            Some(_) => {
                let table = match current {
                    None => &mut root,
                    Some(i) => match &mut root.entries[i].1.value {
                        Node::Table(t) => t,
                        Node::Array(items) => match items.last_mut().map(|t| &mut t.value) {
                            Some(Node::Table(t)) => t,
                            _ => unreachable!("an array of tables holds tables"),
                        },
                        _ => unreachable!("a header makes a table or an array of tables"),
                    },
                };
                p.key_value(table, 0)?;
            }
        }
        p.end_of_line()?;
    }
}

/// A duplicate or one key too many is an error at the key.
fn check_new_key(table: &Table<'_>, key: &Key<'_>) -> Result<(), Error> {
    if table.position(&key.value).is_some() {
        let message = format!("duplicate key {}", super::values::code(&key.value));
        return error(key.span.start, message);
    }
    if table.entries.len() >= MAX_KEYS {
        return error(
            key.span.start,
            format!("more than {MAX_KEYS} keys in one table"),
        );
    }
    Ok(())
}

struct Parser<'i> {
    text: &'i str,
    bytes: &'i [u8],
    pos: usize,
}

fn is_bare(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// A control character TOML allows in no string or comment (tab is allowed).
fn is_control(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7f
}

impl<'i> Parser<'i> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    /// Spaces and tabs.
    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// A line end (LF or CRLF), if one is next.
    fn newline(&mut self) -> bool {
        let len = match self.peek() {
            Some(b'\n') => 1,
            Some(b'\r') if self.bytes.get(self.pos + 1) == Some(&b'\n') => 2,
            _ => 0,
        };
        self.pos += len;
        len > 0
    }

    /// A comment, if one is next, up to (not including) its line end.
    fn comment(&mut self) -> Result<(), Error> {
        if self.peek() != Some(b'#') {
            return Ok(());
        }
        while let Some(b) = self.peek() {
            if b == b'\n' || (b == b'\r' && self.bytes.get(self.pos + 1) == Some(&b'\n')) {
                break;
            }
            if is_control(b) {
                return self.unexpected("text or the end of the line in a comment");
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Blanks, comments and line ends (inside arrays).
    fn skip_trivia(&mut self) -> Result<(), Error> {
        loop {
            self.skip_blanks();
            self.comment()?;
            if !self.newline() {
                return Ok(());
            }
        }
    }

    /// Blanks, a comment and the line end (or the end of the text).
    fn end_of_line(&mut self) -> Result<(), Error> {
        self.skip_blanks();
        self.comment()?;
        if self.newline() || self.peek().is_none() {
            return Ok(());
        }
        self.unexpected("the end of the line")
    }

    /// "unexpected X: expected `what`" at the current position.
    fn unexpected<T>(&self, what: &str) -> Result<T, Error> {
        let rest = self.text.get(self.pos..).unwrap_or("");
        let found = match rest.chars().next() {
            None => "end of file".to_string(),
            Some('\r') => "carriage return without a line feed".to_string(),
            Some('\n') => "end of line".to_string(),
            Some(ch) => super::values::code(ch.encode_utf8(&mut [0; 4])),
        };
        error(self.pos, format!("unexpected {found}: expected {what}"))
    }

    fn key(&mut self) -> Result<Key<'i>, Error> {
        let start = self.pos;
        let name = match self.peek() {
            Some(b'"' | b'\'') => self.string(false)?,
            _ => {
                while self.peek().is_some_and(is_bare) {
                    self.pos += 1;
                }
                if self.pos == start {
                    return self.unexpected("a key");
                }
                Cow::Borrowed(&self.text[start..self.pos])
            }
        };
        if self.bytes[self.pos..]
            .iter()
            .find(|b| !matches!(b, b' ' | b'\t'))
            == Some(&b'.')
        {
            return error(
                start,
                "dotted keys are not supported: use a [table] or an inline table",
            );
        }
        Ok(Spanned::new(start..self.pos, name))
    }

    /// `key = value` into `table`.
    fn key_value(&mut self, table: &mut Table<'i>, depth: usize) -> Result<(), Error> {
        let key = self.key()?;
        check_new_key(table, &key)?;
        self.skip_blanks();
        if !self.eat(b'=') {
            return self.unexpected("`=` after the key");
        }
        self.skip_blanks();
        let value = self.value(depth)?;
        table.entries.push((key, value));
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value<'i>, Error> {
        let start = self.pos;
        let nested = matches!(self.peek(), Some(b'[' | b'{'));
        if nested && depth >= MAX_DEPTH {
            return error(
                start,
                format!("arrays and inline tables nested more than {MAX_DEPTH} deep"),
            );
        }
        let node = match self.peek() {
            Some(b'"' | b'\'') => Node::String(self.string(true)?),
            Some(b'[') => self.array(depth + 1)?,
            Some(b'{') => self.inline_table(depth + 1)?,
            _ => self.scalar()?,
        };
        Ok(Spanned::new(start..self.pos, node))
    }

    fn array(&mut self, depth: usize) -> Result<Node<'i>, Error> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_trivia()?;
            if self.eat(b']') {
                return Ok(Node::Array(items));
            }
            if self.peek().is_none() {
                return self.unexpected("`]` to close the array");
            }
            items.push(self.value(depth)?);
            self.skip_trivia()?;
            if self.eat(b']') {
                return Ok(Node::Array(items));
            }
            if !self.eat(b',') {
                return self.unexpected("`,` or `]` in the array");
            }
        }
    }

    /// `{ key = value, ... }`; as in TOML 1.1 (and the `toml` crate this replaced), it may
    /// span lines, hold comments and end in a comma.
    fn inline_table(&mut self, depth: usize) -> Result<Node<'i>, Error> {
        self.pos += 1;
        let mut table = Table::default();
        loop {
            self.skip_trivia()?;
            if self.eat(b'}') {
                return Ok(Node::Table(table));
            }
            self.key_value(&mut table, depth)?;
            self.skip_trivia()?;
            if self.eat(b'}') {
                return Ok(Node::Table(table));
            }
            if !self.eat(b',') {
                return self.unexpected("`,` or `}` in the inline table");
            }
        }
    }

    /// A basic (`"`) or literal (`'`) string; multi-line only where `multi_line` (values,
    /// not keys).
    fn string(&mut self, multi_line: bool) -> Result<Cow<'i, str>, Error> {
        let open = self.pos;
        let quote = self.bytes[open];
        let basic = quote == b'"';
        let multi = multi_line && self.bytes[open..].starts_with(&[quote; 3]);
        self.pos += if multi { 3 } else { 1 };
        if multi {
            self.newline(); // a line end right after the opening quotes is not content
        }
        let mut owned: Option<String> = None;
        let mut run = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return error(open, "unterminated string");
            };
            if b == quote {
                let mut end = self.pos + 1;
                if multi {
                    let quotes = self.bytes[self.pos..]
                        .iter()
                        .take(5)
                        .take_while(|&&c| c == quote)
                        .count();
                    if quotes < 3 {
                        self.pos += quotes;
                        continue;
                    }
                    // Up to two quotes before the closing three are content.
                    end = self.pos + quotes;
                    self.pos += quotes - 3;
                }
                let tail = &self.text[run..self.pos];
                self.pos = end;
                return Ok(match owned {
                    None => Cow::Borrowed(tail),
                    Some(mut s) => {
                        s.push_str(tail);
                        Cow::Owned(s)
                    }
                });
            }
            if b == b'\\' && basic {
                let s = owned.get_or_insert_with(String::new);
                s.push_str(&self.text[run..self.pos]);
                self.escape(s, multi)?;
                run = self.pos;
            } else if self.newline() {
                if !multi {
                    return error(open, "unterminated string: it must end on its line");
                }
            } else if is_control(b) {
                return error(
                    self.pos,
                    format!(
                        "control character U+{b:04X} in a string: write it as an escape such \
                         as \\u{b:04X}"
                    ),
                );
            } else {
                self.pos += 1;
            }
        }
    }

    /// One escape at the backslash, appended to `out`.
    fn escape(&mut self, out: &mut String, multi: bool) -> Result<(), Error> {
        let at = self.pos;
        self.pos += 1;
        let Some(b) = self.peek() else {
            return error(at, "unterminated string");
        };
        self.pos += 1;
        let ch = match b {
            b'b' => '\u{8}',
            b't' => '\t',
            b'n' => '\n',
            b'f' => '\u{c}',
            b'r' => '\r',
            b'"' => '"',
            b'\\' => '\\',
            b'e' => '\u{1b}',
            b'x' => self.unicode(at, 2)?,
            b'u' => self.unicode(at, 4)?,
            b'U' => self.unicode(at, 8)?,
            _ => {
                // A backslash at the end of a line in a multi-line string joins the lines.
                self.pos -= 1;
                self.skip_blanks();
                if multi && self.newline() {
                    while self.newline() || matches!(self.peek(), Some(b' ' | b'\t')) {
                        self.skip_blanks();
                    }
                    return Ok(());
                }
                return error(
                    at,
                    "invalid escape: use \\b \\t \\n \\f \\r \\e \\\" \\\\ \\xHH \\uXXXX or \\UXXXXXXXX",
                );
            }
        };
        out.push(ch);
        Ok(())
    }

    /// The `len` hex digits of a `\x`, `\u` or `\U` escape starting at `at`.
    fn unicode(&mut self, at: usize, len: usize) -> Result<char, Error> {
        let digits = self.bytes.get(self.pos..self.pos + len).unwrap_or(&[]);
        let mut code = 0u32;
        for &d in digits {
            match (d as char).to_digit(16) {
                Some(v) => code = code * 16 + v,
                None => break,
            }
        }
        let all_hex = digits.len() == len && digits.iter().all(u8::is_ascii_hexdigit);
        match char::from_u32(code).filter(|_| all_hex) {
            Some(ch) => {
                self.pos += len;
                Ok(ch)
            }
            None => error(
                at,
                format!(
                    "invalid unicode escape: expected {len} hex digits of a Unicode scalar value"
                ),
            ),
        }
    }

    /// A boolean or a number; dates and times are refused by name.
    fn scalar(&mut self) -> Result<Node<'i>, Error> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|b| is_bare(b) || matches!(b, b'+' | b'.' | b':'))
        {
            self.pos += 1;
        }
        let token = &self.text[start..self.pos];
        let b = token.as_bytes();
        let digits = |n: usize| b.len() > n && b[..n].iter().all(u8::is_ascii_digit);
        let node = match token {
            "" => return self.unexpected("a value"),
            "true" => Node::Boolean(true),
            "false" => Node::Boolean(false),
            _ if (digits(4) && b[4] == b'-') || (digits(2) && b[2] == b':') => {
                let message = "dates and times are not supported: write the value as a string";
                return error(start, message);
            }
            _ => match number(token) {
                Some(node) => node,
                None if b[0].is_ascii_alphabetic() => {
                    let message = format!(
                        "invalid value {}: a string must be in quotes",
                        super::values::code(token)
                    );
                    return error(start, message);
                }
                None => {
                    let message = format!(
                        "invalid number {}: no leading zeros, `_` only between digits",
                        super::values::code(token)
                    );
                    return error(start, message);
                }
            },
        };
        Ok(node)
    }
}

/// `s` is digits of `radix` with single `_` between digits.
fn digits_ok(s: &str, radix: u32) -> bool {
    let mut after_digit = false;
    for ch in s.chars() {
        after_digit = match ch {
            '_' if after_digit => false,
            _ if ch.is_digit(radix) => true,
            _ => return false,
        };
    }
    after_digit
}

/// A decimal integer part: no leading zero.
fn decimal_ok(s: &str) -> bool {
    digits_ok(s, 10) && (s == "0" || !s.starts_with('0'))
}

fn number(token: &str) -> Option<Node<'_>> {
    let (radix, digits) = match token.get(..2) {
        Some("0x") => (16, &token[2..]),
        Some("0o") => (8, &token[2..]),
        Some("0b") => (2, &token[2..]),
        _ => (10, token),
    };
    let unsigned = match digits.as_bytes().first() {
        Some(b'+' | b'-') if radix == 10 => &digits[1..],
        _ => digits,
    };
    if radix == 10 && matches!(unsigned, "inf" | "nan") {
        return Some(Node::Float(token));
    }
    if radix != 10 || unsigned.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        let ok = if radix == 10 {
            decimal_ok(unsigned)
        } else {
            digits_ok(digits, radix)
        };
        if !ok {
            return None;
        }
        let plain = digits.strip_prefix('+').unwrap_or(digits);
        let digits = if plain.contains('_') {
            Cow::Owned(plain.replace('_', ""))
        } else {
            Cow::Borrowed(plain)
        };
        return Some(Node::Integer(Integer { digits, radix }));
    }
    // A float: integer part, then a fraction, an exponent or both.
    let (int, rest) = unsigned.split_at(unsigned.find(['.', 'e', 'E'])?);
    let (fraction, exponent) = match rest.find(['e', 'E']) {
        Some(e) => (&rest[..e], Some(&rest[e + 1..])),
        None => (rest, None),
    };
    let fraction_ok =
        fraction.is_empty() || fraction.strip_prefix('.').is_some_and(|f| digits_ok(f, 10));
    let exponent_ok = exponent.map_or(true, |e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        digits_ok(e, 10)
    });
    (decimal_ok(int) && fraction_ok && exponent_ok).then_some(Node::Float(token))
}

#[cfg(test)]
mod tests;
