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
  status --watch [--interval 1s]          live view with latency and loss sparklines
  history [--json]                        recent transitions and switches
  health [--json]                         per WAN and target: last result, RTT, loss, cause
  prefer NAME                             rank NAME first while it is usable
  auto                                    back to automatic ranking
  order NAME...                           new priority order (not persisted)
  reload                                  re-read the configuration
  stop                                    restore routes and stop the daemon
  check-config [-c FILE]                  validate a configuration file
  snmp [--base-oid OID]                   net-snmp pass_persist program (see mibs/)

options:
  -c, --config FILE   configuration file (default /etc/wanfailover.conf)
  --socket PATH       control socket (default: the config's `socket`, else /run/wanfailover.sock)
  --json              machine-readable output (status, history, health)
  --watch             status: redraw every --interval until Ctrl-C
  --interval DURATION status --watch: refresh interval (default 1s)
  --base-oid OID      snmp: the pass_persist OID (default 1.3.6.1.4.1.8072.9999.9999.57)
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
    watch: bool,
    interval: Option<String>,
    base_oid: Option<String>,
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
            Long("watch") => args.watch = true,
            Long("interval") => args.interval = Some(string_value(&mut parser)?),
            Long("base-oid") => args.base_oid = Some(string_value(&mut parser)?),
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

fn string_value(parser: &mut lexopt::Parser) -> Result<String, Failure> {
    parser
        .value()
        .map_err(|e| Failure::Usage(e.to_string()))?
        .into_string()
        .map_err(|_| Failure::Usage("option value is not UTF-8".into()))
}

fn run(args: Args) -> Result<ExitCode, Failure> {
    check_option_use(&args)?;
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
        "snmp" => return no_names(&args).and_then(|()| snmp(&args)),
        "status" if args.watch => return no_names(&args).and_then(|()| watch(&args)),
        "status" => Request::Status,
        "history" => Request::History,
        "health" => Request::Health,
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
    if !matches!(args.command.as_str(), "prefer" | "order") {
        no_names(&args)?;
    }
    client_command(&args, &request)
}

fn no_names(args: &Args) -> Result<(), Failure> {
    if args.names.is_empty() {
        return Ok(());
    }
    Err(Failure::Usage(format!(
        "{} takes no arguments",
        args.command
    )))
}

/// Options that belong to one command are refused elsewhere.
fn check_option_use(args: &Args) -> Result<(), Failure> {
    let command = args.command.as_str();
    if args.watch && args.json {
        return Err(Failure::Usage(
            "--watch and --json do not go together".into(),
        ));
    }
    let misplaced = if args.watch && command != "status" {
        "--watch"
    } else if args.interval.is_some() && !(command == "status" && args.watch) {
        "--interval"
    } else if args.base_oid.is_some() && command != "snmp" {
        "--base-oid"
    } else {
        return Ok(());
    };
    Err(Failure::Usage(format!(
        "{misplaced} is not an option of '{command}'"
    )))
}

#[cfg(feature = "snmp")]
fn snmp(args: &Args) -> Result<ExitCode, Failure> {
    use wanfailover::snmp;
    let text = args.base_oid.as_deref().unwrap_or(snmp::DEFAULT_BASE);
    let base =
        snmp::Oid::parse(text).map_err(|e| Failure::Usage(format!("--base-oid {text}: {e}")))?;
    let options = snmp::Options {
        socket: client_socket(args),
        base,
    };
    snmp::run(&options).map_err(|e| Failure::Error(format!("snmp: {e}")))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(feature = "snmp"))]
fn snmp(_: &Args) -> Result<ExitCode, Failure> {
    Err(Failure::Error(
        "this build has no SNMP support (Cargo feature `snmp`)".into(),
    ))
}

#[cfg(feature = "watch")]
fn watch(args: &Args) -> Result<ExitCode, Failure> {
    use wanfailover::watch;
    let interval = match &args.interval {
        None => watch::DEFAULT_INTERVAL,
        Some(text) => config::parse_duration(text)
            .map_err(|e| Failure::Usage(format!("--interval {text}: {e}")))?,
    };
    if interval < watch::MIN_INTERVAL {
        return Err(Failure::Usage(format!(
            "--interval must be at least {}",
            config::format_duration(watch::MIN_INTERVAL)
        )));
    }
    let options = watch::Options {
        socket: client_socket(args),
        interval,
        timeout: CLIENT_TIMEOUT,
    };
    match watch::run(&options).map_err(|e| Failure::Error(format!("watch: {e}")))? {
        watch::End::Interrupted => Ok(ExitCode::SUCCESS),
        watch::End::DaemonGone(why) => Err(Failure::Error(format!("watch ended: {why}"))),
    }
}

#[cfg(not(feature = "watch"))]
fn watch(_: &Args) -> Result<ExitCode, Failure> {
    Err(Failure::Error(
        "this build has no live view (Cargo feature `watch`)".into(),
    ))
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
            if let Some(addr) = cfg.metrics_listen {
                println!("  metrics listener: http://{addr}/");
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
            let routing = routing_status(&socket);
            println!(
                "{}",
                render::status_json(&rows, counters.as_ref(), routing.as_ref())
            )
        }
        Response::Status(rows) => {
            print!("{}", render::status_table(&rows));
            if let Some(r) = routing_status(&socket) {
                print!("{}", render::routing_lines(&r));
            }
        }
        Response::History { now_us, entries } if args.json => {
            println!("{}", render::history_json(now_us, &entries))
        }
        Response::History { now_us, entries } => {
            print!("{}", render::history_lines(now_us, &entries))
        }
        Response::Health(wans) if args.json => println!("{}", render::health_json(&wans)),
        Response::Health(wans) => print!("{}", render::health_table(&wans)),
        // a daemon older than `health` cannot decode the request
        Response::Error(msg) if *request == Request::Health && msg.contains("malformed") => {
            return Err(Failure::Error(format!(
                "the daemon does not answer `health` (it is older than this client): {msg}"
            )))
        }
        Response::Error(msg) | Response::Denied(msg) => return Err(Failure::Error(msg)),
        Response::Version(v) => println!("wanfailover daemon {v}"),
        Response::Counters(_) | Response::Routing(_) | Response::Ok => {}
    }
    Ok(ExitCode::SUCCESS)
}

/// The routing half, asked in a second exchange: none from a daemon built without it or
/// older than it.
fn routing_status(socket: &std::path::Path) -> Option<wanfailover::engine::RoutingStatus> {
    match client::request(socket, &Request::Routing, CLIENT_TIMEOUT) {
        Ok(Response::Routing(r)) => Some(r),
        _ => None,
    }
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    // `RUST_LOG` overrides `-v`. (`RUST_LOG_STYLE`, which `Builder::from_env` would also
    // read, changes nothing in a build without env_logger's colours.)
    let filters = std::env::var("RUST_LOG").unwrap_or_else(|_| level.to_string());
    env_logger::Builder::new()
        .parse_filters(&filters)
        .format_timestamp_millis()
        .init();
}
