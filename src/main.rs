//! `wanfailover`: the daemon and its command-line client in one binary.
//!
//! Exit codes: 0 ok, 1 error (one clear line on stderr), 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use wanfailover::config;
use wanfailover::control::client;
use wanfailover::control::protocol::{Request, Response};
use wanfailover::control::render;
use wanfailover::daemon;

const USAGE: &str = "\
usage: wanfailover COMMAND [OPTIONS]

commands:
  daemon [-c FILE] [--socket PATH] [-v]   run the daemon in the foreground
  status [--json]                         one row per WAN
  history [--json]                        recent transitions and switches
  prefer NAME                             rank NAME first while it is usable
  auto                                    back to automatic ranking
  order NAME...                           new priority order (not persisted)
  reload                                  re-read the configuration
  stop                                    restore routes and stop the daemon
  check-config [-c FILE]                  validate a configuration file

options:
  -c, --config FILE   configuration file (default /etc/wanfailover.conf)
  --socket PATH       control socket (default: the config's `socket`, else /run/wanfailover.sock)
  --json              machine-readable output (status, history)
  -v, --verbose       more log output (repeat for more); RUST_LOG overrides
  -h, --help          this text
  -V, --version       print the version";

/// How long a client waits for the daemon before giving up.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default)]
struct Args {
    command: String,
    names: Vec<String>,
    config: Option<PathBuf>,
    socket: Option<PathBuf>,
    json: bool,
    verbose: u8,
}

enum Failure {
    Usage(String),
    Error(String),
}

fn main() -> ExitCode {
    match parse_args().and_then(run) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("wanfailover: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Error(msg)) => {
            eprintln!("wanfailover: {msg}");
            ExitCode::from(1)
        }
    }
}

fn parse_args() -> Result<Args, Failure> {
    use lexopt::prelude::*;
    let usage = |e: lexopt::Error| Failure::Usage(e.to_string());
    let mut parser = lexopt::Parser::from_env();
    let mut args = Args::default();
    while let Some(arg) = parser.next().map_err(usage)? {
        match arg {
            Short('h') | Long("help") => args.command = "help".into(),
            Short('V') | Long("version") => args.command = "version".into(),
            Short('c') | Long("config") => {
                args.config = Some(parser.value().map_err(usage)?.into())
            }
            Long("socket") => args.socket = Some(parser.value().map_err(usage)?.into()),
            Long("json") => args.json = true,
            Short('v') | Long("verbose") => args.verbose = args.verbose.saturating_add(1),
            Value(v) if args.command.is_empty() => {
                args.command = v
                    .into_string()
                    .map_err(|_| Failure::Usage("bad command".into()))?
            }
            Value(v) => args.names.push(
                v.into_string()
                    .map_err(|_| Failure::Usage("bad argument".into()))?,
            ),
            _ => return Err(usage(arg.unexpected())),
        }
    }
    Ok(args)
}

fn run(args: Args) -> Result<ExitCode, Failure> {
    let request = match args.command.as_str() {
        "" => return Err(Failure::Usage("no command given".into())),
        "help" => {
            println!("{USAGE}");
            return Ok(ExitCode::SUCCESS);
        }
        "version" => {
            println!("wanfailover {}", env!("CARGO_PKG_VERSION"));
            return Ok(ExitCode::SUCCESS);
        }
        "daemon" => return run_daemon(args),
        "check-config" => return check_config(&args),
        "status" => Request::Status,
        "history" => Request::History,
        "prefer" => Request::Prefer(one_name(&args)?),
        "auto" => Request::Auto,
        "order" if args.names.is_empty() => {
            return Err(Failure::Usage("order needs at least one WAN name".into()))
        }
        "order" => Request::Order(args.names.clone()),
        "reload" => Request::Reload,
        "stop" => Request::Stop,
        other => return Err(Failure::Usage(format!("unknown command '{other}'"))),
    };
    let takes_names = matches!(args.command.as_str(), "prefer" | "order");
    if !takes_names && !args.names.is_empty() {
        return Err(Failure::Usage(format!(
            "{} takes no arguments",
            args.command
        )));
    }
    client_command(&args, &request)
}

fn one_name(args: &Args) -> Result<String, Failure> {
    match args.names.as_slice() {
        [name] => Ok(name.clone()),
        _ => Err(Failure::Usage(format!(
            "{} takes exactly one WAN name",
            args.command
        ))),
    }
}

fn config_path(args: &Args) -> PathBuf {
    args.config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH))
}

fn check_config(args: &Args) -> Result<ExitCode, Failure> {
    let path = config_path(args);
    match config::load(&path) {
        Ok(cfg) => {
            println!("ok: {}", path.display());
            for wan in &cfg.wans {
                println!("  {}", wan.summary());
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{errors}");
            Ok(ExitCode::from(1))
        }
    }
}

fn run_daemon(args: Args) -> Result<ExitCode, Failure> {
    init_logging(args.verbose);
    let options = daemon::Options {
        config: config_path(&args),
        socket: args.socket,
    };
    daemon::run(options).map_err(|e| Failure::Error(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

/// The socket a client talks to: `--socket`, else the config's `socket` when the config
/// reads cleanly, else the default path.
fn client_socket(args: &Args) -> PathBuf {
    if let Some(s) = &args.socket {
        return s.clone();
    }
    config::load(&config_path(args))
        .map(|c| c.socket)
        .unwrap_or_else(|_| PathBuf::from(config::DEFAULT_SOCKET_PATH))
}

fn client_command(args: &Args, request: &Request) -> Result<ExitCode, Failure> {
    let socket = client_socket(args);
    let response = client::request(&socket, request, CLIENT_TIMEOUT)
        .map_err(|e| Failure::Error(e.to_string()))?;
    match response {
        Response::Status(rows) if args.json => {
            // A second exchange: an older daemon that does not count simply has no counters.
            let counters = match client::request(&socket, &Request::Counters, CLIENT_TIMEOUT) {
                Ok(Response::Counters(c)) => Some(c),
                _ => None,
            };
            println!("{}", render::status_json(&rows, counters.as_ref()))
        }
        Response::Status(rows) => print!("{}", render::status_table(&rows)),
        Response::History { now_us, entries } if args.json => {
            println!("{}", render::history_json(now_us, &entries))
        }
        Response::History { now_us, entries } => {
            print!("{}", render::history_lines(now_us, &entries))
        }
        Response::Error(msg) | Response::Denied(msg) => return Err(Failure::Error(msg)),
        Response::Version(v) => println!("wanfailover daemon {v}"),
        Response::Counters(_) | Response::Ok => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(level))
        .format_timestamp_millis()
        .init();
}
