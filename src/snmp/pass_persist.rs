//! net-snmp's `pass_persist` protocol, the program's side. Pure: lines in, answers out.
//!
//! snmpd starts the program once and talks to it over its stdin/stdout, one item per line
//! (net-snmp `agent/mibgroup/ucd-snmp/pass_persist.c`, `snmpd.conf(5)`):
//!
//! | snmpd writes | the program answers |
//! |---|---|
//! | `PING` | `PONG` (snmpd sends it before every request) |
//! | `get`, then an OID line | `OID`, `TYPE`, `VALUE` lines, or `NONE` |
//! | `getnext`, then an OID line | the next OID after it, `TYPE`, `VALUE`, or `NONE` |
//! | `set`, an OID line, a `TYPE VALUE` line | an error word: here always `not-writable` |
//! | an empty line, or end of input | nothing: the program exits |
//!
//! net-snmp 5.9 ends the value line of a `set` with two newlines: that one empty line is
//! part of the `set`, not the end of the conversation (taking it for the end made snmpd
//! restart the program at its next request).
//!
//! snmpd reads each answer with a blocking `fgets` and the whole agent waits meanwhile, so
//! every request gets exactly one answer, and a line that makes no sense where an OID was
//! due is answered `NONE` rather than left hanging. A command word snmpd never sends is
//! ignored (nobody waits for an answer to it). `TYPE` is one of net-snmp's words: `integer`,
//! `gauge`, `counter`, `counter64`, `timeticks`, `string`.

use super::oid::Oid;

/// Longest line taken from snmpd: OIDs are at most 128 sub-identifiers of 10 digits, and a
/// `set` value line is at most net-snmp's 4 KiB buffer. Longer lines are cut (and then do
/// not parse).
pub const MAX_LINE: usize = 4096;

/// One complete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ping,
    /// The OID, or `None` when the line was not an OID (answer `NONE`).
    Get(Option<Oid>),
    GetNext(Option<Oid>),
    /// A complete `set` (OID and value line read): answer `not-writable`.
    Set,
    /// Empty line or end of input: stop.
    Quit,
}

/// What the request still needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Pending {
    #[default]
    Command,
    GetOid,
    GetNextOid,
    SetOid,
    SetValue,
    /// After a `set`: an empty line here is the `set`'s own trailer.
    SetTrailer,
}

/// Turns lines into [`Command`]s; holds the state between a command word and its OID.
#[derive(Debug, Default)]
pub struct Parser {
    pending: Pending,
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// Takes one line (without its newline; a trailing `\r` and blanks are ignored).
    /// Returns a command once it is complete. Never panics, on any bytes.
    pub fn line(&mut self, line: &[u8]) -> Option<Command> {
        let text = core::str::from_utf8(line).unwrap_or("\u{fffd}").trim();
        if text.is_empty() && self.pending == Pending::SetTrailer {
            self.pending = Pending::Command;
            return None;
        }
        // Otherwise an empty line ends the conversation wherever it comes.
        if text.is_empty() {
            self.pending = Pending::Command;
            return Some(Command::Quit);
        }
        let oid = || Oid::parse(text).ok();
        let (next, command) = match self.pending {
            Pending::Command | Pending::SetTrailer => match text {
                t if t.eq_ignore_ascii_case("PING") => (Pending::Command, Some(Command::Ping)),
                "get" => (Pending::GetOid, None),
                "getnext" => (Pending::GetNextOid, None),
                "set" => (Pending::SetOid, None),
                _ => (Pending::Command, None),
            },
            Pending::GetOid => (Pending::Command, Some(Command::Get(oid()))),
            Pending::GetNextOid => (Pending::Command, Some(Command::GetNext(oid()))),
            Pending::SetOid => (Pending::SetValue, None),
            Pending::SetValue => (Pending::SetTrailer, Some(Command::Set)),
        };
        self.pending = next;
        command
    }

    /// End of input: [`Command::Quit`].
    pub fn eof(&mut self) -> Command {
        self.pending = Pending::Command;
        Command::Quit
    }
}

/// A value with its SNMP type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    Integer(i32),
    /// Printable ASCII only (see [`display_string`]).
    String(String),
    Gauge32(u32),
    Counter32(u32),
    Counter64(u64),
    TimeTicks(u32),
}

impl Value {
    /// The `TYPE` word net-snmp expects (`pass_common.c`: matched by prefix, so
    /// `counter64` must be spelled out before `counter` would match).
    pub fn type_word(&self) -> &'static str {
        match self {
            Value::Integer(_) => "integer",
            Value::String(_) => "string",
            Value::Gauge32(_) => "gauge",
            Value::Counter32(_) => "counter",
            Value::Counter64(_) => "counter64",
            Value::TimeTicks(_) => "timeticks",
        }
    }
}

impl core::fmt::Display for Value {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Value::Integer(v) => write!(f, "{v}"),
            Value::String(s) => f.write_str(s),
            Value::Gauge32(v) | Value::Counter32(v) | Value::TimeTicks(v) => write!(f, "{v}"),
            Value::Counter64(v) => write!(f, "{v}"),
        }
    }
}

/// A `DisplayString` (RFC 2579): printable ASCII, at most `max` bytes. Anything else is
/// replaced by `?`: a newline in a value would break the line protocol.
pub fn display_string(s: &str, max: usize) -> String {
    s.chars()
        .take(max)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

/// One answer, written as snmpd reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Pong,
    Value(Oid, Value),
    None,
    NotWritable,
}

impl Answer {
    /// Appends the answer's lines, each ending in `\n`.
    pub fn write_to(&self, out: &mut String) {
        use core::fmt::Write;
        // Writing into a String cannot fail.
        let _ = match self {
            Answer::Pong => writeln!(out, "PONG"),
            Answer::Value(oid, value) => {
                writeln!(out, "{oid}\n{}\n{value}", value.type_word())
            }
            Answer::None => writeln!(out, "NONE"),
            Answer::NotWritable => writeln!(out, "not-writable"),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str]) -> Vec<Command> {
        let mut p = Parser::new();
        lines.iter().filter_map(|l| p.line(l.as_bytes())).collect()
    }

    fn oid(s: &str) -> Option<Oid> {
        Some(Oid::parse(s).unwrap())
    }

    #[test]
    fn a_conversation_as_snmpd_holds_it() {
        let got = run(&[
            "PING",
            "getnext",
            ".1.3.6.1.4.1.8072.9999.9999.57",
            "PING\r",
            "get",
            ".1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0",
            "set",
            ".1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0",
            "string \"lte\"",
            "",
            "PING",
            "set",
            ".1.3",
            "integer 5",
            "PING",
            "",
        ]);
        assert_eq!(
            got,
            [
                Command::Ping,
                Command::GetNext(oid("1.3.6.1.4.1.8072.9999.9999.57")),
                Command::Ping,
                Command::Get(oid("1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0")),
                Command::Set,
                Command::Ping,
                Command::Set,
                Command::Ping,
                Command::Quit,
            ]
        );
    }

    #[test]
    fn a_bad_oid_still_gets_an_answer() {
        assert_eq!(
            run(&["get", "not an oid", "getnext", "1..2", "PING"]),
            [Command::Get(None), Command::GetNext(None), Command::Ping]
        );
        let mut p = Parser::new();
        assert_eq!(p.line(b"get"), None);
        assert_eq!(p.line(&[0xff, 0xfe, b'1']), Some(Command::Get(None)));
    }

    #[test]
    fn unknown_words_are_ignored_and_blank_quits_anywhere() {
        assert_eq!(run(&["hello", "GETNEXT", "PING"]), [Command::Ping]);
        assert_eq!(run(&["get", "   "]), [Command::Quit]);
        // Only one empty line after a set is its trailer.
        assert_eq!(
            run(&["set", "1.3", "integer 1", "", ""]),
            [Command::Set, Command::Quit]
        );
        // After a quit in the middle of a command, the parser starts afresh.
        assert_eq!(
            run(&["set", "1.3", "", "PING"]),
            [Command::Quit, Command::Ping]
        );
        let mut p = Parser::new();
        p.line(b"getnext");
        assert_eq!(p.eof(), Command::Quit);
        assert_eq!(
            p.line(b"1.3"),
            None,
            "after eof the OID line is a command word"
        );
    }

    #[test]
    fn answers_as_net_snmp_reads_them() {
        let base = Oid::parse("1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0").unwrap();
        let cases = [
            (Answer::Pong, "PONG\n"),
            (Answer::None, "NONE\n"),
            (Answer::NotWritable, "not-writable\n"),
            (
                Answer::Value(base.clone(), Value::String("wan1".into())),
                ".1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0\nstring\nwan1\n",
            ),
            (
                Answer::Value(base.clone(), Value::Counter64(u64::MAX)),
                ".1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0\ncounter64\n18446744073709551615\n",
            ),
            (
                Answer::Value(base, Value::Integer(-3)),
                ".1.3.6.1.4.1.8072.9999.9999.57.1.1.1.0\ninteger\n-3\n",
            ),
        ];
        for (answer, text) in cases {
            let mut out = String::new();
            answer.write_to(&mut out);
            assert_eq!(out, text);
        }
        let words: Vec<&str> = [
            Value::Gauge32(1),
            Value::Counter32(1),
            Value::TimeTicks(1),
            Value::String(String::new()),
        ]
        .iter()
        .map(Value::type_word)
        .collect();
        assert_eq!(words, ["gauge", "counter", "timeticks", "string"]);
    }

    #[test]
    fn display_strings_cannot_break_lines() {
        assert_eq!(display_string("wan-1.x_y z", 32), "wan-1.x_y z");
        assert_eq!(display_string("a\nb\rc\u{7f}é", 32), "a?b?c??");
        assert_eq!(display_string("abcdef", 3), "abc");
    }
}
