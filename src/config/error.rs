//! Configuration errors: `FILE:LINE:COL: message`, one per line.

use std::fmt;
use std::ops::Range;

/// Stop collecting after this many errors: a binary file fed in as a config would otherwise
/// produce one error per stray key and bury the first, useful one.
pub const MAX_ERRORS: usize = 50;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub file: String,
    /// 1-based line, when the problem has a place in the text.
    pub line: Option<usize>,
    /// 1-based column in characters, when the problem has a place in the text.
    pub col: Option<usize>,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.col) {
            (Some(line), Some(col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message),
            (Some(line), None) => write!(f, "{}:{line}: {}", self.file, self.message),
            _ => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// Every problem found, in file order (at most [`MAX_ERRORS`] plus a final note).
/// Never empty when returned as an `Err`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(Vec<Error>);

impl Errors {
    /// A single error without a place in the text (for example, the file is unreadable).
    pub fn single(file: &str, message: String) -> Errors {
        Errors(vec![Error {
            file: file.to_string(),
            line: None,
            col: None,
            message,
        }])
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Error> {
        self.0.iter()
    }
}

impl<'a> IntoIterator for &'a Errors {
    type Item = &'a Error;
    type IntoIter = std::slice::Iter<'a, Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl IntoIterator for Errors {
    type Item = Error;
    type IntoIter = std::vec::IntoIter<Error>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

/// Collects errors against one text, turning byte spans into line and column.
pub struct Collector<'t> {
    file: &'t str,
    text: &'t str,
    errors: Vec<(usize, Error)>,
    dropped: usize,
}

impl<'t> Collector<'t> {
    pub fn new(file: &'t str, text: &'t str) -> Collector<'t> {
        Collector {
            file,
            text,
            errors: Vec::new(),
            dropped: 0,
        }
    }

    /// Records `message` at the start of `span`.
    pub fn at(&mut self, span: &Range<usize>, message: String) {
        if self.errors.len() >= MAX_ERRORS {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        let (line, col) = line_col(self.text, span.start);
        let error = Error {
            file: self.file.to_string(),
            line: Some(line),
            col: Some(col),
            message,
        };
        self.errors.push((span.start, error));
    }

    /// Records `message` without a place in the text; it sorts first.
    pub fn note(&mut self, message: String) {
        let error = Error {
            file: self.file.to_string(),
            line: None,
            col: None,
            message,
        };
        self.errors.push((0, error));
    }

    /// The text errors are reported against.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// Errors recorded so far (not counting those over the cap).
    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// The errors so far in file order, if there are any; otherwise keeps collecting.
    pub fn finish_if_any(&mut self) -> Option<Errors> {
        if self.errors.is_empty() {
            return None;
        }
        let taken = Collector {
            file: self.file,
            text: self.text,
            errors: std::mem::take(&mut self.errors),
            dropped: std::mem::take(&mut self.dropped),
        };
        taken.finish()
    }

    /// The errors in file order, or `None` if there were none.
    pub fn finish(mut self) -> Option<Errors> {
        if self.errors.is_empty() {
            return None;
        }
        // Stable: two errors at one place keep the order they were found in.
        crate::sort::sort_by_key(&mut self.errors, |(offset, _)| *offset);
        let mut errors: Vec<Error> = self.errors.into_iter().map(|(_, e)| e).collect();
        if self.dropped > 0 {
            errors.push(Error {
                file: self.file.to_string(),
                line: None,
                col: None,
                message: format!("{} more errors not shown", self.dropped),
            });
        }
        Some(Errors(errors))
    }
}

/// The error for a file that is not UTF-8, at its first invalid byte.
pub fn not_utf8(file: &str, bytes: &[u8], valid_up_to: usize) -> Errors {
    let text = bytes
        .get(..valid_up_to)
        .and_then(|b| std::str::from_utf8(b).ok())
        .unwrap_or("");
    let mut c = Collector::new(file, text);
    c.at(&(text.len()..text.len()), "not UTF-8 text".to_string());
    c.finish()
        .unwrap_or_else(|| Errors::single(file, "not UTF-8 text".into()))
}

/// 1-based line and column (in characters) of byte `offset` in `text`. An offset past the
/// end or inside a character is clamped, never a panic.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1; // terminates: 0 is always a boundary
    }
    let before = text.get(..offset).unwrap_or("");
    let line_start = before.rfind('\n').map_or(0, |nl| nl + 1);
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let col = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_in_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (1, 5));
        assert_eq!(line_col(text, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_col(text, 11), (2, 5));
        // Inside 'é', past the end: clamped.
        assert_eq!(line_col(text, 8), (2, 2));
        assert_eq!(line_col(text, 10_000), (3, 1));
        assert_eq!(line_col("", 5), (1, 1));
    }

    #[test]
    fn display_is_one_error_per_line() {
        let mut c = Collector::new("/etc/x.conf", "a\nb\n");
        c.at(&(2..3), "second".into());
        c.at(&(0..1), "first".into());
        let errors = c.finish().unwrap();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors.to_string(),
            "/etc/x.conf:1:1: first\n/etc/x.conf:2:1: second"
        );
        let single = Errors::single("/etc/x.conf", "cannot read: gone".into());
        assert_eq!(single.to_string(), "/etc/x.conf: cannot read: gone");
    }

    #[test]
    fn caps_the_number_of_errors() {
        let mut c = Collector::new("f", "x");
        for _ in 0..MAX_ERRORS + 7 {
            c.at(&(0..1), "bad".into());
        }
        let errors = c.finish().unwrap();
        assert_eq!(errors.len(), MAX_ERRORS + 1);
        assert!(errors.to_string().ends_with("f: 7 more errors not shown"));
    }
}
