//! A tiny JSON writer for the CLI's `--json` output: objects, arrays, strings with full
//! escaping, integers, decimals, booleans and null. No floats: decimals are written from
//! integers so the output is exact and stable.

/// Builds one JSON document into a `String`. The caller nests `begin_*`/`end_*` properly;
/// commas and escaping are handled here.
#[derive(Debug, Default)]
pub struct Json {
    out: String,
    /// A value was just written at this level: the next one needs a comma.
    need_comma: bool,
}

impl Json {
    pub fn new() -> Json {
        Json::default()
    }

    /// The document, with a final newline.
    pub fn finish(mut self) -> String {
        self.out.push('\n');
        self.out
    }

    pub fn begin_object(&mut self) {
        self.separate();
        self.out.push('{');
        self.need_comma = false;
    }

    pub fn end_object(&mut self) {
        self.out.push('}');
        self.need_comma = true;
    }

    pub fn begin_array(&mut self) {
        self.separate();
        self.out.push('[');
        self.need_comma = false;
    }

    pub fn end_array(&mut self) {
        self.out.push(']');
        self.need_comma = true;
    }

    /// An object key; the next call writes its value.
    pub fn key(&mut self, key: &str) {
        self.separate();
        push_escaped(&mut self.out, key);
        self.out.push(':');
        self.need_comma = false;
    }

    pub fn string(&mut self, value: &str) {
        self.separate();
        push_escaped(&mut self.out, value);
        self.need_comma = true;
    }

    pub fn uint(&mut self, value: u64) {
        self.raw(&value.to_string());
    }

    pub fn bool(&mut self, value: bool) {
        self.raw(if value { "true" } else { "false" });
    }

    pub fn null(&mut self) {
        self.raw("null");
    }

    pub fn opt_uint(&mut self, value: Option<u64>) {
        match value {
            Some(v) => self.uint(v),
            None => self.null(),
        }
    }

    pub fn opt_string(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.string(v),
            None => self.null(),
        }
    }

    /// `value / 100` as an exact decimal with two places (`250` → `2.50`).
    pub fn centi(&mut self, value: u64) {
        self.raw(&format!("{}.{:02}", value / 100, value % 100));
    }

    pub fn opt_centi(&mut self, value: Option<u64>) {
        match value {
            Some(v) => self.centi(v),
            None => self.null(),
        }
    }

    fn raw(&mut self, text: &str) {
        self.separate();
        self.out.push_str(text);
        self.need_comma = true;
    }

    fn separate(&mut self) {
        if self.need_comma {
            self.out.push(',');
            self.need_comma = false;
        }
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 §7): quote, backslash and every control
/// character escaped; everything else is copied as UTF-8.
pub fn push_escaped(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_escaped(&mut out, "a\"b\\c\nd\te\u{1}f\u{7f}é");
        assert_eq!(out, r#""a\"b\\c\nd\te\u0001f\u007fé""#);
    }

    #[test]
    fn nesting_and_commas() {
        let mut j = Json::new();
        j.begin_object();
        j.key("a");
        j.begin_array();
        j.uint(1);
        j.null();
        j.begin_object();
        j.end_object();
        j.end_array();
        j.key("b");
        j.centi(5);
        j.key("c");
        j.bool(false);
        j.key("d");
        j.opt_uint(None);
        j.end_object();
        assert_eq!(
            j.finish(),
            "{\"a\":[1,null,{}],\"b\":0.05,\"c\":false,\"d\":null}\n"
        );
    }
}
