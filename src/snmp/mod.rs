//! `wanfailover snmp`: a net-snmp `pass_persist` program that answers `WANFAILOVER-MIB`
//! from the daemon's control socket.
//!
//! ```text
//! # snmpd.conf
//! pass_persist .1.3.6.1.4.1.8072.9999.9999.57 /usr/bin/wanfailover snmp
//! ```
//!
//! snmpd starts the program once and keeps it; the program reads commands on stdin and
//! writes answers on stdout ([`pass_persist`]), builds the MIB's instances from one
//! `Status` answer of the daemon ([`mib`]) and keeps that answer for a second ([`agent`]),
//! so a whole walk costs the daemon one request. When the daemon does not answer within
//! [`REQUEST_TIMEOUT`] (not running, or stuck), every `get`/`getnext` is answered `NONE`
//! at once: snmpd waits for this program with a blocking read and nothing else in the
//! agent moves meanwhile, so no answer may take long.
//!
//! The program writes nothing but answers: under snmpd its stderr is the stdout pipe, and
//! any other line would be taken for an answer.
//!
//! [`oid`], [`pass_persist`], [`mib`] and [`agent`] are pure; [`run`] does the I/O.

pub mod agent;
pub mod mib;
pub mod oid;
pub mod pass_persist;

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::control::client;
use crate::control::protocol::{Request, Response};

pub use agent::Agent;
pub use mib::{Snapshot, Tree, DEFAULT_BASE};
pub use oid::Oid;
pub use pass_persist::{Answer, Command, Parser};

/// The longest the program waits for the daemon (connect and answer together). Well under
/// a manager's usual 1 s request timeout, so even a stuck daemon yields a prompt `NONE`.
pub const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

/// What `wanfailover snmp` needs.
#[derive(Debug, Clone)]
pub struct Options {
    pub socket: PathBuf,
    /// Must be the OID of the `pass_persist` line in `snmpd.conf`.
    pub base: Oid,
}

/// Serves snmpd on stdin/stdout until an empty line or end of input.
pub fn run(options: &Options) -> io::Result<()> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    serve(
        &mut stdin.lock(),
        &mut stdout.lock(),
        options,
        Instant::now,
        fetch,
    )
}

/// The loop of [`run`] over any reader and writer, clock and daemon.
pub fn serve(
    input: &mut impl BufRead,
    output: &mut impl Write,
    options: &Options,
    mut now: impl FnMut() -> Instant,
    mut fetch: impl FnMut(&std::path::Path) -> Result<Snapshot, String>,
) -> io::Result<()> {
    let mut parser = Parser::new();
    let mut agent = Agent::new(options.base.clone());
    let mut line = Vec::with_capacity(256);
    let mut text = String::new();
    loop {
        let command = match read_line(input, &mut line)? {
            Some(()) => match parser.line(&line) {
                Some(c) => c,
                None => continue,
            },
            None => parser.eof(),
        };
        // Why the daemon did not answer is not written anywhere: under snmpd, stderr is
        // the same pipe as stdout (seen with net-snmp 5.9), so a message would be read as
        // an answer, and snmpd kills a program whose answer does not parse.
        let answer = agent.answer(now(), &command, || fetch(&options.socket).ok());
        let Some(answer) = answer else {
            return Ok(());
        };
        text.clear();
        answer.write_to(&mut text);
        output.write_all(text.as_bytes())?;
        output.flush()?;
    }
}

/// Reads one line into `line` (without its `\n`), keeping at most
/// [`pass_persist::MAX_LINE`] bytes of it. `None` at end of input.
pub fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<()>> {
    line.clear();
    let mut read_any = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(read_any.then_some(()));
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = pass_persist::MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buf.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(()));
        }
    }
}

/// One `Status` request to the daemon, as a snapshot.
fn fetch(socket: &std::path::Path) -> Result<Snapshot, String> {
    match client::request(socket, &Request::Status, REQUEST_TIMEOUT) {
        Ok(Response::Status(wans)) => Ok(Snapshot {
            wans,
            ..Snapshot::default()
        }),
        Ok(Response::Error(m)) | Ok(Response::Denied(m)) => Err(m),
        Ok(other) => Err(format!("unexpected answer to status: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn options() -> Options {
        Options {
            socket: PathBuf::from("/nonexistent/wanfailover.sock"),
            base: Oid::parse(DEFAULT_BASE).unwrap(),
        }
    }

    fn one_wan() -> Snapshot {
        Snapshot {
            wans: vec![mib::test_row("wan1", "up", true)],
            ..Snapshot::default()
        }
    }

    /// Runs the loop over `input` with a fixed clock; returns stdout and how often the
    /// daemon was asked.
    fn session(input: &str, daemon: Option<Snapshot>) -> (String, u32) {
        let asked = Cell::new(0);
        let mut out = Vec::new();
        let t0 = Instant::now();
        serve(
            &mut input.as_bytes(),
            &mut out,
            &options(),
            || t0,
            |_| {
                asked.set(asked.get() + 1);
                daemon.clone().ok_or_else(|| "not running".to_string())
            },
        )
        .unwrap();
        (String::from_utf8(out).unwrap(), asked.get())
    }

    #[test]
    fn a_walk_is_one_daemon_request() {
        let base = format!(".{DEFAULT_BASE}");
        let input = format!(
            "PING\ngetnext\n{base}\nPING\ngetnext\n{base}.1.1.1.0\nget\n{base}.1.2.1.4.1\n\
             set\n{base}.1.2.1.4.1\ninteger 5\nget\n{base}.1.2.1.99.1\n\n"
        );
        let (out, asked) = session(&input, Some(one_wan()));
        let expected = format!(
            "PONG\n{base}.1.1.1.0\nstring\nwan1\n\
             PONG\n{base}.1.1.2.0\ninteger\n1\n\
             {base}.1.2.1.4.1\ninteger\n3\n\
             not-writable\nNONE\n"
        );
        assert_eq!(out, expected);
        assert_eq!(asked, 1);
    }

    #[test]
    fn a_stopped_daemon_gives_none() {
        let base = format!(".{DEFAULT_BASE}");
        let (out, _) = session(&format!("PING\ngetnext\n{base}\nget\n{base}.1.1.1.0"), None);
        assert_eq!(out, "PONG\nNONE\nNONE\n");
    }

    #[test]
    fn lines_are_bounded_and_eof_ends() {
        let long = format!("get\n{}\nPING\n", "1.".repeat(10_000));
        let (out, _) = session(&long, Some(one_wan()));
        assert_eq!(out, "NONE\nPONG\n");
        let mut input: &[u8] = b"abc";
        let mut line = Vec::new();
        assert_eq!(read_line(&mut input, &mut line).unwrap(), Some(()));
        assert_eq!(line, b"abc");
        assert_eq!(read_line(&mut input, &mut line).unwrap(), None);
    }
}
