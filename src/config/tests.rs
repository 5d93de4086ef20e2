//! Whole-file tests: what a user writes and what they are told.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use super::{error, Settings};

const FILE: &str = "/etc/wanfailover.conf";

/// A valid minimal file; tests append to or edit it.
const BASE: &str = r#"[defaults]
targets = ["192.0.2.53", "198.51.100.53"]

[[wan]]
name = "fiber"
interface = "eth0"
priority = 1
"#;

fn ok(text: &str) -> Config {
    match parse(text, FILE) {
        Ok(config) => config,
        Err(errors) => panic!("unexpected errors:\n{errors}"),
    }
}

/// Every error as `LINE:COL: message` (or `-: message` without a place). The routing half
/// is validated too (`parse_settings`); what the daemon's own `parse` refuses on top of it
/// is tested in `routing_keys_are_refused_until_the_daemon_applies_them`.
fn errors(text: &str) -> Vec<String> {
    let errors = parse_settings(text, FILE).expect_err("expected errors");
    assert!(!errors.is_empty());
    errors
        .iter()
        .map(|e| {
            assert_eq!(e.file, FILE);
            match (e.line, e.col) {
                (Some(l), Some(c)) => format!("{l}:{c}: {}", e.message),
                _ => format!("-: {}", e.message),
            }
        })
        .collect()
}

/// Asserts exactly one error, at `at` ("LINE:COL"), whose message contains `needle`.
fn one_error(text: &str, at: &str, needle: &str) {
    let errors = errors(text);
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let e = &errors[0];
    let place_ok = if at.ends_with(':') {
        e.starts_with(at)
    } else {
        e.starts_with(&format!("{at}: "))
    };
    assert!(place_ok, "want {at} {needle}\ngot {e}");
    assert!(e.contains(needle), "want {needle:?}\ngot {e}");
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn icmp(s: &str) -> Target {
    Target::Icmp(ip(s))
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn shipped_example_parses() {
    let config = ok(include_str!("../../etc/wanfailover.conf"));
    assert_eq!(config.wans.len(), 2);
    assert_eq!(config.socket, PathBuf::from("/run/wanfailover.sock"));
    let fiber = &config.wans[0];
    assert_eq!(fiber.quality.max_loss, Some(Percent(2_000)));
    assert_eq!(fiber.quality.recovery_loss, Some(Percent(500)));
    assert_eq!(
        fiber.summary(),
        "fiber: eth0, priority 1, ipv4, 2 targets every 1s (timeout 1s, down 3, up 5, hold 10s)"
    );
    assert_eq!(config.wans[1].probe.interval, ms(2_000));
}

#[test]
fn built_in_defaults() {
    let config = ok(BASE);
    assert_eq!(config.socket, PathBuf::from(DEFAULT_SOCKET_PATH));
    assert_eq!(config.hooks_dir, PathBuf::from(DEFAULT_HOOKS_DIR));
    assert_eq!(config.socket_group, None);
    assert_eq!(config.hook_timeout, Duration::from_secs(10));
    assert_eq!(
        (config.down_penalty, config.degraded_penalty),
        (20_000, 10_000)
    );
    let wan = &config.wans[0];
    assert_eq!(wan.family, FamilySet::Ipv4);
    assert_eq!(wan.gateway, Gateway::Auto);
    assert!(wan.enabled);
    let want = Probe {
        targets: vec![icmp("192.0.2.53"), icmp("198.51.100.53")],
        interval: ms(1_000),
        timeout: ms(1_000),
        failure_interval: ms(300),
        recovery_interval: ms(1_000),
        down: 3,
        up: 5,
        hold: ms(10_000),
        reliability: 1,
    };
    assert_eq!(wan.probe, want);
    assert_eq!(wan.quality, Quality::default());
}

#[test]
fn defaults_inherited_and_overridden_per_wan() {
    let text = r#"
[defaults]
targets = ["192.0.2.53", "198.51.100.53", "203.0.113.53"]
interval = "500ms"
down = 4
reliability = 2
max_latency = "300ms"
recovery_latency = "200ms"

[[wan]]
name = "fiber"
interface = "eth0"
priority = 1

[[wan]]
name = "lte"
interface = "wwan0"
priority = 2
targets = ["192.0.2.1"]
reliability = 1
interval = "2s"
max_latency = "250ms"
gateway = "192.0.2.254"
enabled = false
"#;
    let config = ok(text);
    let (fiber, lte) = (&config.wans[0], &config.wans[1]);
    assert_eq!(fiber.probe.targets.len(), 3);
    assert_eq!(fiber.probe.interval, ms(500));
    // timeout and failure_interval default to at most the interval.
    assert_eq!(fiber.probe.timeout, ms(500));
    assert_eq!(fiber.probe.failure_interval, ms(300));
    assert_eq!((fiber.probe.down, fiber.probe.reliability), (4, 2));
    assert_eq!(fiber.quality.max_latency, Some(ms(300)));
    assert_eq!(fiber.quality.recovery_latency, Some(ms(200)));
    assert_eq!(lte.probe.targets, vec![icmp("192.0.2.1")]);
    assert_eq!((lte.probe.down, lte.probe.reliability), (4, 1));
    assert_eq!(lte.probe.interval, ms(2_000));
    assert_eq!(lte.probe.timeout, ms(1_000));
    assert_eq!(lte.quality.max_latency, Some(ms(250)));
    assert_eq!(lte.quality.recovery_latency, Some(ms(200)));
    assert_eq!(lte.gateway, Gateway::Addr(ip("192.0.2.254")));
    assert!(!lte.enabled);
    assert_eq!(
        lte.summary(),
        "lte: wwan0, priority 2, ipv4, 1 target every 2s (timeout 1s, down 4, up 5, hold 10s), \
         gateway 192.0.2.254, disabled"
    );
}

#[test]
fn fast_profile_needs_only_the_interval() {
    let config = ok(&BASE.replace("[[wan]]", "interval = \"200ms\"\n\n[[wan]]"));
    let probe = &config.wans[0].probe;
    assert_eq!((probe.interval, probe.timeout), (ms(200), ms(200)));
    assert_eq!(probe.failure_interval, ms(200));
}

#[test]
fn recovery_defaults_to_the_threshold() {
    let config = ok(&format!(
        "{BASE}max_loss = \"0.5%\"\nmax_jitter = \"30ms\"\n"
    ));
    let q = config.wans[0].quality;
    assert_eq!(
        (q.max_loss, q.recovery_loss),
        (Some(Percent(50)), Some(Percent(50)))
    );
    assert_eq!(
        (q.max_jitter, q.recovery_jitter),
        (Some(ms(30)), Some(ms(30)))
    );
}

#[test]
fn both_families() {
    let text = BASE
        .replace(r#""198.51.100.53""#, r#""2001:db8::53""#)
        .replace("priority = 1", "priority = 1\nfamily = \"both\"");
    let wan = &ok(&text).wans[0];
    assert_eq!(wan.family, FamilySet::Both);
    assert_eq!(
        wan.probe.targets,
        vec![icmp("192.0.2.53"), icmp("2001:db8::53")]
    );
}

#[test]
fn invalid_duration_names_line_column_and_units() {
    one_error(
        &format!("{BASE}hold = \"10 sec\"\n"),
        "8:8",
        "invalid duration \"10 sec\": expected a number with a unit (us, ms, s, m, h)",
    );
    one_error(
        &format!("{BASE}interval = 1\n"),
        "8:12",
        "invalid duration 1 for `interval`: write it as a string with a unit, e.g. \"1s\"",
    );
    one_error(
        &format!("{BASE}interval = [\"1s\"]\n"),
        "8:12",
        "expects a duration",
    );
}

#[test]
fn absurd_intervals() {
    let cases = [
        (
            "interval = \"0s\"",
            "`interval` must be from 10ms to 1h, not 0s",
        ),
        (
            "interval = \"5ms\"",
            "`interval` must be from 10ms to 1h, not 5ms",
        ),
        ("interval = \"2h\"", "not 2h"),
        ("timeout = \"1us\"", "`timeout` must be from 10ms"),
        ("failure_interval = \"0ms\"", "`failure_interval` must be"),
        ("recovery_interval = \"61m\"", "`recovery_interval` must be"),
        ("hold = \"2h\"", "`hold` must be from 0s to 1h"),
        (
            "max_latency = \"0s\"",
            "`max_latency` must be from 1us to 1m",
        ),
    ];
    for (line, needle) in cases {
        one_error(&format!("{BASE}{line}\n"), "8:", needle);
    }
    let top = BASE.replace("[defaults]", "hook_timeout = \"0s\"\n[defaults]");
    one_error(&top, "1:16", "`hook_timeout` must be from 10ms to 1h");
}

#[test]
fn timeout_longer_than_interval_overlaps_rounds() {
    // a fast profile on a link whose RTT reaches 500 ms
    let config = ok(&format!(
        "{BASE}interval = \"200ms\"\ntimeout = \"600ms\"\n"
    ));
    let probe = &config.wans[0].probe;
    assert_eq!((probe.interval, probe.timeout), (ms(200), ms(600)));
    assert_eq!(
        probe.failure_interval,
        ms(200),
        "still at most the interval"
    );
    // up to MAX_ROUNDS (4) intervals, from [defaults] too
    let text = BASE.replace(
        "[[wan]]",
        "interval = \"250ms\"\ntimeout = \"1s\"\n\n[[wan]]",
    );
    assert_eq!(ok(&text).wans[0].probe.timeout, ms(1_000));
}

#[test]
fn timeout_of_more_rounds_than_can_be_outstanding() {
    one_error(
        &format!("{BASE}interval = \"200ms\"\ntimeout = \"801ms\"\n"),
        "9:11",
        "`timeout` (801ms) is more than 4 × `interval` (200ms) for WAN `fiber`: \
         at most 4 probe rounds can be outstanding at once, so the timeout may be at most \
         800ms",
    );
    // the timeout in [defaults], the interval in the WAN: reported where the timeout is
    let text = format!(
        "{}interval = \"100ms\"\n",
        BASE.replace("[[wan]]", "timeout = \"2s\"\n\n[[wan]]")
    );
    one_error(
        &text,
        "4:11",
        "`timeout` (2s) is more than 4 × `interval` (100ms)",
    );
    // a zero timeout would judge every probe lost before it could be answered
    one_error(
        &format!("{BASE}timeout = \"0s\"\n"),
        "8:11",
        "`timeout` must be from 10ms to 1h, not 0s",
    );
}

#[test]
fn failure_interval_longer_than_interval() {
    one_error(
        &format!("{BASE}failure_interval = \"2s\"\n"),
        "8:20",
        "`failure_interval` (2s) is longer than `interval` (1s)",
    );
}

#[test]
fn counts_out_of_range() {
    one_error(
        &format!("{BASE}down = 0\n"),
        "8:8",
        "`down` must be from 1 to 255, not 0",
    );
    one_error(
        &format!("{BASE}up = 0\n"),
        "8:6",
        "`up` must be from 1 to 255, not 0",
    );
    one_error(&format!("{BASE}up = 300\n"), "8:6", "not 300");
    one_error(&format!("{BASE}down = -1\n"), "8:8", "not -1");
    one_error(
        &format!("{BASE}down = \"3\"\n"),
        "8:8",
        "`down` expects an integer",
    );
    one_error(
        &format!("{BASE}reliability = 0\n"),
        "8:15",
        "`reliability` must be from 1 to 255",
    );
}

#[test]
fn reliability_above_target_count() {
    one_error(
        &format!("{BASE}reliability = 3\n"),
        "8:15",
        "`reliability` is 3 but WAN `fiber` has only 2 target(s)",
    );
    // Inherited from [defaults]: reported there, naming the WAN.
    one_error(
        &BASE.replace(
            "[[wan]]",
            "reliability = 2\n\n[[wan]]\ntargets = [\"192.0.2.9\"]",
        ),
        "4:15",
        "WAN `fiber` has only 1 target(s)",
    );
}

#[test]
fn priorities() {
    one_error(
        &BASE.replace("priority = 1", "priority = 0"),
        "7:12",
        "`priority` must be from 1 to 1000000, not 0",
    );
    one_error(
        &BASE.replace("priority = 1", "priority = 1000001"),
        "7:12",
        "not 1000001",
    );
    one_error(
        &BASE.replace("priority = 1", "priority = 99999999999999999999"),
        "7:",
        "`priority`",
    );
}

#[test]
fn automatic_priorities() {
    let two = |first: &str, second: &str| {
        BASE.replace("priority = 1", &format!("priority = {first}"))
            + &format!("\n[[wan]]\nname = \"lte\"\ninterface = \"wwan0\"\npriority = {second}\n")
    };
    let c = ok(&two("\"auto\"", "\"auto\""));
    assert_eq!(
        c.wans[0].priority,
        Priority::Auto,
        "several `auto` are no duplicates"
    );
    assert_eq!(c.wans[1].priority, Priority::Auto);
    assert!(
        c.wans[0].summary().contains(", priority auto,"),
        "{}",
        c.wans[0].summary()
    );
    let c = ok(&two("\"auto\"", "100"));
    assert_eq!(
        c.wans[1].priority,
        Priority::Fixed(100),
        "a fixed one beside them"
    );
    one_error(
        &two("\"auto\"", "\"Auto\""),
        "12:12",
        "invalid `priority` \"Auto\": expected \"auto\" or an integer from 1 to 1000000",
    );
    one_error(
        &BASE.replace("priority = 1", "priority = 1.5"),
        "7:12",
        "`priority` expects an integer from 1 to 1000000 or \"auto\", found a float",
    );
    one_error(
        &two("7", "7"),
        "12:12",
        "duplicate priority `7` (first used on line 7)",
    );
}

#[test]
fn penalties() {
    let with = |top: &str| BASE.replace("[defaults]", &format!("{top}\n[defaults]"));
    one_error(
        &with("down_penalty = 0"),
        "1:16",
        "`down_penalty` must be from 1 to",
    );
    one_error(
        &with("degraded_penalty = 20000"),
        "1:20",
        "`degraded_penalty` (20000) must be less than `down_penalty` (20000): \
         a degraded WAN must still rank above a dead one",
    );
    one_error(
        &with("down_penalty = 5000"),
        "1:16",
        "(10000) must be less than",
    );
    ok(&with("down_penalty = 5000\ndegraded_penalty = 100"));
}

#[test]
fn duplicates_name_interface_priority() {
    let text = format!("{BASE}\n[[wan]]\nname = \"fiber\"\ninterface = \"eth0\"\npriority = 1\n");
    assert_eq!(
        errors(&text),
        [
            "10:8: duplicate WAN name `fiber` (first used on line 5)",
            "11:13: duplicate interface `eth0` (first used on line 6)",
            "12:12: duplicate priority `1` (first used on line 7)",
        ]
    );
}

#[test]
fn names_and_interfaces() {
    let long_name = format!("name = \"{}\"", "a".repeat(MAX_NAME_LEN + 1));
    for bad in [
        "name = \"\"",
        "name = \"my wan\"",
        "name = \"wän\"",
        &long_name,
    ] {
        one_error(
            &BASE.replace("name = \"fiber\"", bad),
            "5:8",
            "invalid WAN name",
        );
    }
    ok(&BASE.replace("\"fiber\"", &format!("\"{}\"", "A-z_0.9".repeat(4))));
    for bad in [
        "\"\"",
        "\"eth/0\"",
        "\"eth0:1\"",
        "\"eth 0\"",
        "\"..\"",
        "\"sixteen-chars-xx\"",
    ] {
        one_error(
            &BASE.replace("\"eth0\"", bad),
            "6:13",
            "invalid interface name",
        );
    }
    ok(&BASE.replace("\"eth0\"", "\"fifteen-chars-x\""));
}

#[test]
fn missing_keys_point_at_the_wan_table() {
    let text = "[defaults]\ntargets = [\"192.0.2.1\"]\n\n[[wan]]\nname = \"x\"\n";
    assert_eq!(
        errors(text),
        [
            "4:1: [[wan]] without `interface`",
            "4:1: [[wan]] without `priority`"
        ]
    );
}

#[test]
fn no_wans_and_too_many() {
    assert_eq!(
        errors("[defaults]\ntargets = [\"192.0.2.1\"]\n"),
        ["-: no WANs: add at least one [[wan]] table"]
    );
    assert_eq!(errors(""), ["-: no WANs: add at least one [[wan]] table"]);
    let mut text = String::from("[defaults]\ntargets = [\"192.0.2.1\"]\n");
    for i in 0..=MAX_WANS {
        text.push_str(&format!(
            "[[wan]]\nname = \"w{i}\"\ninterface = \"e{i}\"\npriority = {}\n",
            i + 1
        ));
    }
    let line = 3 + 4 * MAX_WANS;
    one_error(&text, &format!("{line}:1"), "too many WANs: at most 32");
}

#[test]
fn targets_missing_or_too_many() {
    let text = "[[wan]]\nname = \"fiber\"\ninterface = \"eth0\"\npriority = 1\n";
    one_error(
        text,
        "1:1",
        "WAN `fiber` has no targets: set `targets` in [defaults] or in this [[wan]]",
    );
    let nine: Vec<String> = (1..=9).map(|i| format!("\"192.0.2.{i}\"")).collect();
    let text = format!("{BASE}targets = [{}]\n", nine.join(", "));
    one_error(&text, "8:11", "WAN `fiber` needs 1 to 8 targets, not 9");
    one_error(&format!("{BASE}targets = []\n"), "8:11", "not 0");
}

#[test]
fn targets_bad_duplicate_or_wrong_family() {
    one_error(
        &format!("{BASE}targets = [\"192.0.2.1\", \"example.com\"]\n"),
        "8:25",
        "invalid address \"example.com\" in `targets`: expected a unicast IPv4 or IPv6 address",
    );
    for bad in [
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "ff02::1",
        "192.0.2.1/24",
    ] {
        one_error(
            &format!("{BASE}targets = [\"{bad}\"]\n"),
            "8:12",
            "invalid address",
        );
    }
    one_error(
        &format!("{BASE}targets = [\"192.0.2.1\", \"192.0.2.1\"]\n"),
        "8:25",
        "duplicate target `192.0.2.1` (first used on line 8)",
    );
    one_error(
        &format!("{BASE}targets = [\"192.0.2.1\", \"2001:db8::1\"]\n"),
        "8:25",
        "target 2001:db8::1 is IPv6 but WAN `fiber` has family = \"ipv4\"",
    );
    // Inherited IPv4 targets on an IPv6 WAN: reported at the [defaults] entries.
    let v6 = BASE.replace("priority = 1", "priority = 1\nfamily = \"ipv6\"");
    let errors = errors(&v6);
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("2:12: target 192.0.2.53 is IPv4 but WAN `fiber`"));
    let both = BASE.replace("priority = 1", "priority = 1\nfamily = \"both\"");
    one_error(&both, "2:11", "needs at least one IPv4 and one IPv6 target");
}

#[test]
fn both_family_reliability_counts_per_family() {
    let text = BASE
        .replace(r#""198.51.100.53""#, r#""198.51.100.53", "2001:db8::53""#)
        .replace(
            "priority = 1",
            "priority = 1\nfamily = \"both\"\nreliability = 2",
        );
    one_error(&text, "9:15", "has only 1 target(s) per family");
}

#[test]
fn gateway_family() {
    let with = |family: &str, gw: &str| {
        BASE.replace(
            "priority = 1",
            &format!("priority = 1\nfamily = \"{family}\"\ngateway = \"{gw}\""),
        )
    };
    one_error(
        &with("ipv4", "fe80::1"),
        "9:11",
        "gateway fe80::1 is IPv6 but WAN `fiber`",
    );
    let v6 = with("ipv6", "192.0.2.1").replace("192.0.2.53", "2001:db8::1");
    let v6 = v6.replace("198.51.100.53", "2001:db8::2");
    one_error(
        &v6,
        "9:11",
        "gateway 192.0.2.1 is IPv4 but WAN `fiber` has family = \"ipv6\"",
    );
    one_error(&with("ipv4", "gw"), "9:11", "invalid gateway \"gw\"");
    one_error(
        &with("ipv9", "auto"),
        "8:10",
        "`family` expects \"ipv4\", \"ipv6\" or \"both\"",
    );
    let both = with("both", "192.0.2.1").replace("198.51.100.53", "2001:db8::2");
    one_error(&both, "9:11", "a fixed gateway serves one family only");
}

#[test]
fn quality_recovery_on_the_wrong_side() {
    let cases = [
        (
            "max_loss = \"5%\"\nrecovery_loss = \"20%\"",
            "9:17",
            "`recovery_loss` (20%) must not exceed `max_loss` (5%)",
        ),
        (
            "max_latency = \"100ms\"\nrecovery_latency = \"150ms\"",
            "9:20",
            "`recovery_latency` (150ms) must not exceed",
        ),
        (
            "max_jitter = \"10ms\"\nrecovery_jitter = \"11ms\"",
            "9:19",
            "`recovery_jitter` (11ms)",
        ),
        (
            "recovery_loss = \"5%\"",
            "8:17",
            "`recovery_loss` is set for WAN `fiber` but `max_loss` is not",
        ),
        (
            "max_loss = \"101%\"",
            "8:12",
            "invalid percentage \"101%\": over 100%",
        ),
        (
            "max_loss = 20",
            "8:12",
            "`max_loss` expects a percentage string such as \"20%\"",
        ),
        ("max_loss = \"0.001%\"", "8:12", "at most two decimals"),
    ];
    for (lines, at, needle) in cases {
        one_error(&format!("{BASE}{lines}\n"), at, needle);
    }
}

#[test]
fn unknown_keys_with_suggestions() {
    one_error(
        &format!("{BASE}intervall = \"1s\"\n"),
        "8:1",
        "unknown key `intervall` in [[wan]]: did you mean `interval`?",
    );
    one_error(
        &BASE.replace("[defaults]", "[defaults]\ntimout = \"1s\""),
        "2:1",
        "unknown key `timout` in [defaults]: did you mean `timeout`?",
    );
    one_error(
        &BASE.replace("[defaults]", "sockets = \"/run/x\"\n[defaults]"),
        "1:1",
        "unknown key `sockets` at the top level: did you mean `socket`?",
    );
    one_error(
        &BASE.replace("[defaults]", "[default]"),
        "1:2",
        "did you mean `defaults`?",
    );
    one_error(
        &BASE.replace("[defaults]", "[defaults]\ninterface = \"eth0\""),
        "2:1",
        "unknown key `interface` in [defaults]: it belongs in each [[wan]] table",
    );
    one_error(
        &format!("{BASE}frobnicate = true\n"),
        "8:1",
        "unknown key `frobnicate` in [[wan]]",
    );
}

#[test]
fn several_errors_in_file_order() {
    let text = format!("{BASE}hold = \"10 sec\"\ndwn = 3\nmax_loss = \"x\"\n");
    assert_eq!(
        errors(&text),
        [
            "8:8: invalid duration \"10 sec\": expected a number with a unit (us, ms, s, m, h)",
            "9:1: unknown key `dwn` in [[wan]]: did you mean `down`?",
            "10:12: invalid percentage \"x\": expected a percentage such as \"20%\" or \"0.5%\"",
        ]
    );
}

#[test]
fn top_level_values() {
    let with = |top: &str| BASE.replace("[defaults]", &format!("{top}\n[defaults]"));
    one_error(
        &with("socket = \"run/x.sock\""),
        "1:10",
        "`socket` must be an absolute path",
    );
    let long = format!("socket = \"/{}\"", "s".repeat(120));
    one_error(&with(&long), "1:10", "`socket` is longer than 107 bytes");
    one_error(
        &with("hooks_dir = \"\""),
        "1:13",
        "`hooks_dir` must be an absolute path",
    );
    one_error(
        &with("socket_group = \"net admin\""),
        "1:16",
        "`socket_group` must be a group",
    );
    one_error(
        &with("socket_group = 7"),
        "1:16",
        "`socket_group` expects a string",
    );
    let config = ok(&with(
        "socket_group = \"netadmin\"\nhook_timeout = \"2.5s\"",
    ));
    assert_eq!(config.socket_group.as_deref(), Some("netadmin"));
    assert_eq!(config.hook_timeout, ms(2_500));
}

#[test]
fn metrics_listen_is_an_address_and_a_port() {
    let with = |top: &str| BASE.replace("[defaults]", &format!("{top}\n[defaults]"));
    assert_eq!(ok(BASE).metrics_listen, None);
    let config = ok(&with("metrics_listen = \"127.0.0.1:9567\""));
    assert_eq!(
        config.metrics_listen,
        Some("127.0.0.1:9567".parse().unwrap())
    );
    let config = ok(&with("metrics_listen = \"[::1]:9567\""));
    assert_eq!(config.metrics_listen, Some("[::1]:9567".parse().unwrap()));
    let expected = "expected an address and a port from 1 to 65535";
    for bad in [
        "9567",
        "127.0.0.1",
        "127.0.0.1:0",
        "localhost:9567",
        "::1:9567",
        "",
    ] {
        let text = with(&format!("metrics_listen = \"{bad}\""));
        one_error(&text, "1:18", expected);
    }
    one_error(
        &with("metrics_listen = 9567"),
        "1:18",
        "`metrics_listen` expects an \"ADDRESS:PORT\" string, found the integer 9567",
    );
    one_error(
        &with("metrics_lsten = \"127.0.0.1:9567\""),
        "1:1",
        "did you mean `metrics_listen`?",
    );
    one_error(
        &BASE.replace(
            "priority = 1",
            "priority = 1\nmetrics_listen = \"127.0.0.1:1\"",
        ),
        "8:1",
        "it belongs at the top of the file",
    );
}

#[test]
fn wrong_shapes() {
    one_error(
        &BASE.replace("[[wan]]", "[wan]"),
        "4:1",
        "`wan` must be an array of tables: write [[wan]], not [wan]",
    );
    one_error("defaults = 3\n", "1:12", "`defaults` must be a table");
    one_error("wan = [1]\n", "1:8", "each `wan` must be a table");
    one_error(&BASE.replace("\"eth0\"", "eth0"), "6:13", "invalid TOML");
    one_error("a = 1\na = 2\n", "2:1", "invalid TOML: duplicate key `a`");
    one_error(
        "socket = 1\n",
        "1:10",
        "`socket` expects a string, found the integer 1",
    );
}

#[test]
fn hostile_files_are_errors_not_panics() {
    let deep_arrays = format!("a = {}{}", "[".repeat(100_000), "]".repeat(100_000));
    let deep_tables = format!("a = {}1{}", "{b = ".repeat(50_000), "}".repeat(50_000));
    let long_key = format!("{} = 1", "k".repeat(1_000_000));
    let huge_string = format!("{BASE}hold = \"{}\"\n", "9".repeat(1_000_000));
    let dotted = format!("{} = 1", vec!["a"; 10_000].join("."));
    let many_keys: String = (0..10_000).map(|i| format!("k{i} = 1\n")).collect();
    let many_wans = "[[wan]]\n".repeat(20_000);
    let garbage: String = (0u32..4_096)
        .filter_map(|i| char::from_u32(i * 7919 % 0x11_0000))
        .collect();
    let inputs = [
        deep_arrays,
        deep_tables,
        long_key,
        huge_string,
        dotted,
        many_keys,
        many_wans,
        garbage,
        "\u{0}\u{1}\u{7f}".into(),
        "[[wan]]\nname = \"\u{202e}x\"".into(),
        "=".into(),
        "[".into(),
        "a = \"\\uD800\"".into(),
        "wan = [[[]]]".into(),
        "x = 1979-05-27T07:32:00Z".into(),
    ];
    for text in &inputs {
        let errors = parse(text, FILE).expect_err("hostile input accepted");
        assert!(!errors.is_empty() && errors.len() <= MAX_ERRORS + 1);
        for line in errors.to_string().lines() {
            assert!(line.len() < 400, "overlong message: {line}");
        }
    }
}

#[test]
fn load_reports_unreadable_files_in_one_line() {
    let missing = Path::new("/nonexistent/wanfailover.conf");
    let errors = load(missing).expect_err("missing file");
    assert_eq!(
        errors.to_string(),
        "/nonexistent/wanfailover.conf: cannot read: No such file or directory (os error 2)"
    );
    let dir = std::env::temp_dir().join(format!("wanfailover-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.conf");
    std::fs::write(&file, b"socket = \"/run/x\"\nhooks_dir = \"\xff\"\n").unwrap();
    let errors = load(&file).expect_err("not UTF-8");
    assert_eq!(
        errors.to_string(),
        format!("{}:2:14: not UTF-8 text", file.display())
    );
    std::fs::write(&file, include_str!("../../etc/wanfailover.conf")).unwrap();
    assert_eq!(load(&file).unwrap().wans.len(), 2);
    std::fs::remove_dir_all(&dir).unwrap();
}

// ----- routing (DESIGN.md §10) -------------------------------------------------------------

/// Two WANs, `fiber` (priority 1, both families) and `lte` (priority 2, IPv4), preceded
/// by `top` at the top level; `wan` is appended to fiber's table and `tail` at the end.
fn two_wans(top: &str, wan: &str, tail: &str) -> String {
    format!(
        "{top}\n[defaults]\ntargets = [\"192.0.2.53\", \"2001:db8::53\"]\n\n\
         [[wan]]\nname = \"fiber\"\ninterface = \"eth0\"\npriority = 1\nfamily = \"both\"\n{wan}\n\
         [[wan]]\nname = \"lte\"\ninterface = \"wwan0\"\npriority = 2\n\
         targets = [\"192.0.2.53\"]\n{tail}"
    )
}

fn settings(text: &str) -> Settings {
    match parse_settings(text, FILE) {
        Ok(s) => s,
        Err(errors) => panic!("unexpected errors:\n{errors}"),
    }
}

/// "LINE:COL" of the last occurrence of `needle` in `text`; of its value when it is a
/// `key = value` line.
#[cfg_attr(not(feature = "routing"), allow(dead_code))]
fn at(text: &str, needle: &str) -> String {
    let mut offset = text.rfind(needle).expect("needle in text");
    if let Some(eq) = needle.find(" = ") {
        offset += eq + 3;
    }
    let (line, col) = error::line_col(text, offset);
    format!("{line}:{col}")
}

#[test]
fn routing_defaults() {
    let s = settings(&two_wans("", "", ""));
    let r = &s.routing;
    assert_eq!(
        (r.mode, r.sticky, r.flush_conntrack),
        (Mode::Failover, Sticky::Flow, cfg!(feature = "routing"))
    );
    let tables: Vec<_> = r.wans.iter().map(|w| (w.table, w.weight)).collect();
    assert_eq!(tables, [(101, 1), (102, 1)]);
    assert!(r.policies.is_empty());
    assert_eq!(ok(&two_wans("", "", "")), s.config);
}

#[cfg(feature = "routing")]
#[test]
fn routing_tables() {
    let s = settings(&two_wans(
        "flush_conntrack = false",
        "table = 1000",
        "table = 7",
    ));
    assert!(!s.routing.flush_conntrack);
    let tables: Vec<_> = s.routing.wans.iter().map(|w| w.table).collect();
    assert_eq!(tables, [1000, 7]);
    settings(&two_wans("", "table = 4294967295", ""));

    let text = two_wans("", "table = 102", "");
    one_error(
        &text,
        &at(&text, "table = 102"),
        "`table` 102 is also WAN `lte`'s default",
    );
    let text = two_wans("", "table = 5", "table = 5");
    let (first_line, _) = error::line_col(&text, text.find("table = 5").unwrap());
    let msg = format!("duplicate table `5` (first used on line {first_line})");
    one_error(&text, &at(&text, "table = 5"), &msg);
    for reserved in ["253", "254", "255"] {
        let text = two_wans("", &format!("table = {reserved}"), "");
        one_error(&text, &at(&text, "table = "), "the kernel's own tables");
    }
    for bad in ["0", "-1", "4294967296", "\"main\""] {
        let text = two_wans("", &format!("table = {bad}"), "");
        one_error(&text, &at(&text, "table = "), "`table`");
    }
    // 100 + priority 154 is the main table: the WAN must choose one.
    let text = two_wans("", "", "").replace("priority = 2", "priority = 154");
    one_error(
        &text,
        &at(&text, "priority = 154"),
        "needs a `table`: its default, 100 + priority = 254",
    );
    settings(&text.replace("priority = 154", "priority = 154\ntable = 2"));
}

#[cfg(feature = "balance")]
#[test]
fn balance_with_weights_and_sticky() {
    let text = two_wans(
        "mode = \"balance\"\nsticky = \"source\"",
        "weight = 3",
        "weight = 256",
    );
    let r = settings(&text).routing;
    assert_eq!((r.mode, r.sticky), (Mode::Balance, Sticky::Source));
    let weights: Vec<_> = r.wans.iter().map(|w| w.weight).collect();
    assert_eq!(weights, [3, 256]);

    for bad in ["0", "257", "\"3\"", "1.5"] {
        let text = two_wans("mode = \"balance\"", &format!("weight = {bad}"), "");
        one_error(&text, &at(&text, "weight = "), "`weight`");
    }
    let text = two_wans("mode = \"roundrobin\"", "", "");
    one_error(
        &text,
        "1:8",
        "`mode` expects \"failover\" or \"balance\", found \"roundrobin\"",
    );
    let text = two_wans("mode = \"balance\"\nsticky = \"session\"", "", "");
    one_error(&text, "2:10", "`sticky` expects \"flow\" or \"source\"");
}

#[cfg(feature = "balance")]
#[test]
fn balance_keys_in_failover_mode_are_errors() {
    let text = two_wans("sticky = \"flow\"", "weight = 2", "");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].starts_with("1:10: `sticky` only applies with mode = \"balance\""));
    let weight = at(&text, "weight = ");
    assert!(
        errors[1].starts_with(&format!("{weight}: `weight` only applies")),
        "{errors:#?}"
    );
}

/// A policy table appended to the two WANs.
#[cfg(feature = "balance")]
fn with_policy(policy: &str) -> String {
    two_wans("", "", &format!("\n[[policy]]\n{policy}\n"))
}

#[cfg(feature = "balance")]
#[test]
fn policies_parse() {
    let text = two_wans(
        "",
        "",
        r#"
[[policy]]
name = "vpn"
wan = "lte"
source = "192.0.2.128/25"
destination = "198.51.100.0/24"
protocol = "udp"
dport = 1194
sport = "1000-2000"
fwmark = "0x10/0xff"
iif = "lan0"
fallback = false

[[policy]]
name = "v6-web"
wan = "fiber"
destination = "2001:db8:ff::/48"
protocol = "tcp"
dport = "443"
"#,
    );
    let p = settings(&text).routing.policies;
    assert_eq!(p.len(), 2);
    let vpn = &p[0];
    assert_eq!(
        (vpn.name.as_str(), vpn.wan.as_str(), vpn.wan_index),
        ("vpn", "lte", 1)
    );
    assert_eq!(vpn.source, Some(parse_cidr("192.0.2.128/25").unwrap()));
    assert_eq!(
        vpn.destination.map(|d| d.to_string()).as_deref(),
        Some("198.51.100.0/24")
    );
    assert_eq!(vpn.protocol, Some(Protocol::Udp));
    assert_eq!(vpn.dport, Some(PortRange::single(1194)));
    assert_eq!(
        vpn.sport,
        Some(PortRange {
            start: 1000,
            end: 2000
        })
    );
    assert_eq!(
        vpn.fwmark,
        Some(Fwmark {
            value: 0x10,
            mask: 0xff
        })
    );
    assert_eq!(vpn.iif.as_deref(), Some("lan0"));
    assert!(!vpn.fallback);
    assert_eq!(vpn.family(), Some(crate::engine::Family::V4));
    let web = &p[1];
    assert_eq!((web.wan_index, web.fallback), (0, true));
    assert_eq!(
        web.protocol.map(|p| p.number(crate::engine::Family::V6)),
        Some(6)
    );
    assert_eq!(Protocol::Icmp.number(crate::engine::Family::V6), 58);
    // a policy by mark or interface alone is fine, of any family
    let p = settings(&with_policy(
        "name = \"marked\"\nwan = \"fiber\"\nfwmark = \"7\"",
    ))
    .routing;
    assert_eq!(p.policies[0].family(), None);
}

#[cfg(feature = "balance")]
#[test]
fn policy_mistakes_point_at_the_value() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "wan = \"lt\"\niif = \"lan0\"",
            "\"lt\"",
            "no WAN named `lt`: did you mean `lte`?",
        ),
        (
            "wan = \"dsl9000\"\niif = \"lan0\"",
            "\"dsl9000\"",
            "the WANs are `fiber`, `lte`",
        ),
        (
            "source = \"192.0.2.1/24\"",
            "\"192.0.2.1/24",
            "did you mean \"192.0.2.0/24\"",
        ),
        (
            "destination = \"192.0.2.0/40\"",
            "\"192.0",
            "prefix length must be 0 to 32",
        ),
        (
            "destination = \"example.com\"",
            "\"example",
            "expected an address or a prefix",
        ),
        (
            "protocol = \"gre\"",
            "\"gre\"",
            "\"tcp\", \"udp\" or \"icmp\"",
        ),
        ("protocol = \"tcp\"\ndport = 0", "0", "ports are 1 to 65535"),
        (
            "protocol = \"tcp\"\ndport = 70000",
            "70000",
            "ports are 1 to 65535",
        ),
        (
            "protocol = \"udp\"\nsport = \"2000-1000\"",
            "\"2000",
            "first port of a range",
        ),
        (
            "protocol = \"udp\"\nsport = \"1-2-3\"",
            "\"1-2-3",
            "such as \"1000-2000\"",
        ),
        (
            "protocol = \"udp\"\ndport = true",
            "true",
            "a port such as 1194",
        ),
        (
            "dport = 53\ndestination = \"192.0.2.0/24\"",
            "53",
            "add protocol = \"tcp\" or \"udp\"",
        ),
        (
            "protocol = \"icmp\"\nsport = 7",
            "7",
            "not with protocol = \"icmp\"",
        ),
        (
            "fwmark = \"0x100/0xff\"",
            "\"0x100",
            "bits outside the mask",
        ),
        (
            "fwmark = \"1/0\"",
            "\"1/0",
            "a mask of 0 matches every packet",
        ),
        ("fwmark = 16", "16", "a string \"VALUE/MASK\""),
        ("iif = \"lan/0\"", "\"lan/0\"", "invalid interface name"),
        (
            "iif = \"lan0\"\nfallback = \"no\"",
            "\"no\"",
            "`fallback` expects true or false",
        ),
        (
            "iif = \"lan0\"\nfalback = false",
            "falback",
            "did you mean `fallback`?",
        ),
        (
            "iif = \"lan0\"\npriority = 3",
            "priority",
            "unknown key `priority` in [[policy]]",
        ),
    ];
    for (body, place, needle) in cases {
        let text = with_policy(&format!("name = \"p\"\nwan = \"lte\"\n{body}"))
            .replace("wan = \"lte\"\nwan = ", "wan = ");
        one_error(&text, &at(&text, place), needle);
    }
}

#[cfg(feature = "balance")]
#[test]
fn policy_rules_that_relate_values() {
    // both addresses of one family, which the WAN manages
    let text = with_policy(
        "name = \"p\"\nwan = \"fiber\"\nsource = \"192.0.2.0/24\"\ndestination = \"2001:db8::/32\"",
    );
    one_error(
        &text,
        &at(&text, "\"2001:db8::/32"),
        "of different families",
    );
    let text = with_policy("name = \"p\"\nwan = \"lte\"\ndestination = \"2001:db8::/32\"");
    one_error(
        &text,
        &at(&text, "\"2001:db8::/32"),
        "has family = \"ipv4\"",
    );
    settings(&with_policy(
        "name = \"p\"\nwan = \"fiber\"\ndestination = \"2001:db8::/32\"",
    ));
    // a policy must match something
    let text = with_policy("name = \"all\"\nwan = \"lte\"");
    one_error(&text, &at(&text, "[[policy]]"), "matches every packet");
    // names: required, valid, unique
    let text = with_policy("wan = \"lte\"\niif = \"lan0\"");
    one_error(&text, &at(&text, "[[policy]]"), "[[policy]] without `name`");
    let text = with_policy("name = \"p\"\niif = \"lan0\"");
    one_error(&text, &at(&text, "[[policy]]"), "[[policy]] without `wan`");
    let text = with_policy("name = \"a b\"\nwan = \"lte\"\niif = \"lan0\"");
    one_error(&text, &at(&text, "\"a b\""), "invalid policy name \"a b\"");
    let p = "name = \"p\"\nwan = \"lte\"\niif = \"lan0\"\n";
    let text = two_wans("", "", &format!("\n[[policy]]\n{p}\n[[policy]]\n{p}"));
    let second = text.rfind("\"p\"").unwrap();
    let (line, col) = error::line_col(&text, second);
    one_error(&text, &format!("{line}:{col}"), "duplicate policy name `p`");
    // an unknown WAN does not hide a bad match
    let text = with_policy("name = \"p\"\nwan = \"fibre\"\nprotocol = \"icmp\"\ndport = 7");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(errors[0].contains("no WAN named `fibre`: did you mean `fiber`?"));
    assert!(errors[1].contains("`dport` needs protocol tcp or udp"));
    // shapes
    let text = two_wans("policy = \"vpn\"", "", "");
    one_error(&text, "1:10", "write [[policy]], not [policy]");
    let text = two_wans("policy = [1]", "", "");
    one_error(&text, "1:11", "each `policy` must be a table");
}

#[cfg(feature = "balance")]
#[test]
fn too_many_policies() {
    let mut tail = String::new();
    for i in 0..=MAX_POLICIES {
        tail.push_str(&format!(
            "\n[[policy]]\nname = \"p{i}\"\nwan = \"lte\"\niif = \"lan0\"\n"
        ));
    }
    let text = two_wans("", "", &tail);
    let last = text.rfind("[[policy]]").unwrap();
    let (line, col) = error::line_col(&text, last);
    one_error(
        &text,
        &format!("{line}:{col}"),
        "too many policies: at most 64",
    );
}

#[cfg(not(feature = "balance"))]
#[test]
fn balance_keys_need_the_feature() {
    let text = two_wans(
        "mode = \"balance\"\nsticky = \"flow\"",
        "weight = 2",
        "\n[[policy]]\nname = \"p\"\nwan = \"lte\"\niif = \"lan0\"\n",
    );
    let errors = errors(&text);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("needs the `balance` feature")),
        "{errors:#?}"
    );
    assert!(errors[0].starts_with("1:8: mode = \"balance\""));
    // failover and no conntrack flush need no feature
    let r = settings(&two_wans(
        "mode = \"failover\"\nflush_conntrack = false",
        "",
        "",
    ));
    assert!(!r.routing.flush_conntrack);
}

#[cfg(feature = "balance")]
#[test]
fn routing_keys_are_applied_by_the_daemon() {
    let text = "mode = \"balance\"\nflush_conntrack = true\n\n[[wan]]\nname = \"a\"\n\
                interface = \"eth0\"\npriority = 1\ntargets = [\"192.0.2.1\"]\ntable = 7\n";
    assert!(parse(text, FILE).is_ok(), "the daemon's parse takes them");
    let s = parse_settings(text, FILE).expect("valid");
    assert_eq!(s.routing.mode, Mode::Balance);
    assert!(s.routing.flush_conntrack);
    assert_eq!(s.routing.wans[0].table, 7);
}

#[cfg(not(feature = "routing"))]
#[test]
fn routing_keys_need_the_feature() {
    let text = two_wans("flush_conntrack = true", "table = 9", "");
    let errors = errors(&text);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .all(|e| e.contains("needs the `routing` feature")),
        "{errors:#?}"
    );
    // what this build does anyway is fine, and the flush is off by default
    let r = settings(&two_wans(
        "mode = \"failover\"\nflush_conntrack = false",
        "",
        "",
    ));
    assert!(!r.routing.flush_conntrack);
}

// ----- check targets (DESIGN.md §9) ------------------------------------------------------

#[cfg(feature = "checks")]
mod checks {
    use super::*;
    use crate::check::dns::{Name, RecordType};
    use crate::check::url::Host;

    /// BASE with its WAN's `targets` (and more lines) set.
    fn with(lines: &str) -> String {
        format!("{BASE}{lines}\n")
    }

    fn targets(lines: &str) -> Vec<Target> {
        ok(&with(lines)).wans[0].probe.targets.clone()
    }

    #[test]
    fn kinds_mix_in_one_list() {
        let t = targets(
            r#"targets = [
    "198.51.100.53",
    { http = "http://203.0.113.80/generate_204" },
    { http = "http://203.0.113.80/", body = "NetworkManager is online" },
    { http = "http://203.0.113.80:8080/portal", status = 302 },
    { dns = "198.51.100.53", name = "Example.COM" },
    { tcp = "203.0.113.80:443" },
]"#,
        );
        assert_eq!(t.len(), 6);
        assert_eq!(t[0], icmp("198.51.100.53"));
        let http = |i: usize| match &t[i] {
            Target::Http(h) => h.clone(),
            other => panic!("not http: {other:?}"),
        };
        // NetworkManager's defaults: 204 without a body, 200 with one
        assert_eq!((http(1).status, http(1).body.as_deref()), (204, None));
        assert_eq!(
            (http(2).status, http(2).body.as_deref()),
            (200, Some("NetworkManager is online"))
        );
        assert_eq!(http(3).status, 302);
        assert_eq!(http(3).url.port, 8080);
        assert_eq!(http(1).url.host, Host::Addr(ip("203.0.113.80")));
        assert!(http(1).resolvers.is_empty());
        let Target::Dns(d) = &t[4] else { panic!() };
        assert_eq!(d.server, ip("198.51.100.53"));
        assert_eq!(*d.name, Name::from_dotted("example.com").unwrap());
        assert_eq!(d.qtype(), RecordType::A);
        assert_eq!(t[5], Target::Tcp("203.0.113.80:443".parse().unwrap()));
        let shown: Vec<String> = t.iter().map(|t| t.to_string()).collect();
        assert_eq!(
            shown,
            [
                "198.51.100.53",
                "http://203.0.113.80/generate_204",
                "http://203.0.113.80/",
                "http://203.0.113.80:8080/portal",
                "dns example.com via 198.51.100.53",
                "tcp 203.0.113.80:443",
            ]
        );
        let probe = &ok(&with(
            "targets = [\"192.0.2.1\", { tcp = \"192.0.2.2:22\" }]",
        ))
        .wans[0]
            .probe;
        assert_eq!(probe.icmp_targets().collect::<Vec<_>>(), [ip("192.0.2.1")]);
    }

    /// The commented check examples in the shipped file are valid targets.
    #[test]
    fn shipped_check_examples_parse() {
        let examples: Vec<&str> = include_str!("../../etc/wanfailover.conf")
            .lines()
            .filter_map(|l| l.strip_prefix("#   {"))
            .map(|l| l.split(" # ").next().unwrap_or(l).trim())
            .collect();
        assert_eq!(examples.len(), 5, "{examples:?}");
        let list: Vec<String> = examples.iter().map(|e| format!("{{{e}")).collect();
        let t = targets(&format!("targets = [{}]", list.join(", ")));
        let kinds: Vec<&str> = t.iter().map(Target::kind).collect();
        assert_eq!(kinds, ["http", "http", "http", "dns", "tcp"]);
    }

    #[test]
    fn host_names_resolve_through_the_wans_dns() {
        let text = BASE.replace(
            "[[wan]]",
            "dns = [\"198.51.100.53\", \"203.0.113.53\"]\n\n[[wan]]",
        );
        let t = targets_of(&format!(
            "{text}targets = [{{ http = \"http://connectivity.example.test/generate_204\" }}]\n"
        ));
        let Target::Http(h) = &t[0] else { panic!() };
        assert_eq!(
            h.url.host,
            Host::Name(Box::new(
                Name::from_dotted("connectivity.example.test").unwrap()
            ))
        );
        assert_eq!(h.resolvers, [ip("198.51.100.53"), ip("203.0.113.53")]);
        // the WAN's own list wins over [defaults]
        let own =
            format!("{text}dns = [\"192.0.2.53\"]\ntargets = [{{ http = \"http://h.test/\" }}]\n");
        let Target::Http(h) = &targets_of(&own)[0] else {
            panic!()
        };
        assert_eq!(h.resolvers, [ip("192.0.2.53")]);
    }

    fn targets_of(text: &str) -> Vec<Target> {
        ok(text).wans[0].probe.targets.clone()
    }

    #[test]
    fn host_name_without_dns_servers() {
        one_error(
            &with("targets = [{ http = \"http://h.example/\" }]"),
            "8:12",
            "http://h.example/ names a host, but WAN `fiber` has no `dns` servers to look it \
             up through: set `dns = [\"…\"]` in [defaults] or in this [[wan]], or write an \
             address",
        );
    }

    #[test]
    fn https_is_refused_with_the_reason_and_an_alternative() {
        one_error(
            &with("targets = [{ http = \"https://203.0.113.80/generate_204\" }]"),
            "8:21",
            "invalid URL \"https://203.0.113.80/generate_204\": https:// cannot be checked: \
             that needs a TLS stack, too big for this daemon; to see that the server answers, \
             use { tcp = \"203.0.113.80:443\" }",
        );
        one_error(
            &with("targets = [\"http://203.0.113.80/\"]"),
            "8:12",
            "\"http://203.0.113.80/\" is a URL: write a check target as a table, \
             { http = \"http://203.0.113.80/\" }",
        );
    }

    #[test]
    fn mistakes_in_check_tables() {
        let cases = [
            (
                "{ http = \"http://203.0.113.80/\", statsu = 204 }",
                "8:45",
                "unknown key `statsu` in an http target: did you mean `status`?",
            ),
            (
                "{ tcp = \"203.0.113.80:443\", status = 204 }",
                "8:40",
                "unknown key `status` in a tcp target: it belongs to `http` targets",
            ),
            (
                "{ tcp = \"203.0.113.80:443\", port = 1 }",
                "8:40",
                "unknown key `port` in a tcp target: a tcp target takes only `tcp`",
            ),
            (
                "{ http = \"http://203.0.113.80/\", dns = \"198.51.100.53\" }",
                "8:45",
                "unknown key `dns` in an http target: a target has one kind; write `dns` as a \
                 target of its own",
            ),
            (
                "{ status = 204 }",
                "8:12",
                "a check target needs one of `http`, `dns` or `tcp`",
            ),
            (
                "{ http = \"http://203.0.113.80/\", status = 99 }",
                "8:54",
                "`status` must be from 200 to 599, not 99",
            ),
            (
                "{ http = \"http://203.0.113.80/\", status = 600 }",
                "8:54",
                "not 600",
            ),
            (
                "{ http = \"http://203.0.113.80/\", status = \"204\" }",
                "8:54",
                "`status` expects an integer",
            ),
            (
                "{ http = \"http://203.0.113.80/\", body = \"\" }",
                "8:52",
                "`body` must be 1 to 256 bytes, not 0",
            ),
            (
                "{ http = \"http://203.0.113.80:99999/\" }",
                "8:21",
                "invalid URL \"http://203.0.113.80:99999/\": the port must be a number from 1 \
                 to 65535",
            ),
            (
                "{ http = \"ftp://203.0.113.80/\" }",
                "8:21",
                "only http:// URLs can be checked",
            ),
            (
                "{ http = 80 }",
                "8:21",
                "`http` expects a string, found the integer 80",
            ),
            (
                "{ tcp = \"203.0.113.80:0\" }",
                "8:20",
                "invalid tcp target \"203.0.113.80:0\": the port must be a number from 1 to \
                 65535",
            ),
            (
                "{ tcp = \"example.com:443\" }",
                "8:20",
                "a tcp target takes an address, not a host name",
            ),
            (
                "{ dns = \"198.51.100.53\" }",
                "8:12",
                "a dns target needs `name`, the name to look up",
            ),
            (
                "{ dns = \"198.51.100.53\", name = \"a..b\" }",
                "8:44",
                "invalid name \"a..b\" in `name`: empty label",
            ),
            (
                "{ dns = \"dns.example\", name = \"example.com\" }",
                "8:20",
                "invalid address \"dns.example\" in `dns`",
            ),
            ("7", "8:12", "`targets` expects an IP address or a check"),
        ];
        for (table, at, needle) in cases {
            one_error(&with(&format!("targets = [{table}]")), at, needle);
        }
        let long_body = format!(
            "targets = [{{ http = \"http://192.0.2.1/\", body = \"{}\" }}]",
            "x".repeat(257)
        );
        one_error(
            &with(&long_body),
            "8:",
            "`body` must be 1 to 256 bytes, not 257",
        );
    }

    #[test]
    fn families_across_kinds() {
        one_error(
            &with("targets = [{ tcp = \"[2001:db8::1]:443\" }]"),
            "8:12",
            "target tcp [2001:db8::1]:443 is IPv6 but WAN `fiber` has family = \"ipv4\"",
        );
        one_error(
            &with("targets = [{ dns = \"2001:db8::53\", name = \"example.com\" }]"),
            "8:12",
            "target dns example.com via 2001:db8::53 is IPv6",
        );
        let v6 = BASE
            .replace("priority = 1", "priority = 1\nfamily = \"ipv6\"")
            .replace("\"192.0.2.53\", \"198.51.100.53\"", "\"2001:db8::53\"");
        let t = targets_of(&format!(
            "{v6}targets = [{{ dns = \"2001:db8::53\", name = \"example.com\" }}, \
             {{ http = \"http://[2001:db8::80]/generate_204\" }}]\n"
        ));
        let Target::Dns(d) = &t[0] else { panic!() };
        assert_eq!(d.qtype(), RecordType::Aaaa);
        // a both WAN: each family needs a target, of any kind
        let both = BASE.replace("priority = 1", "priority = 1\nfamily = \"both\"");
        let mixed = format!(
            "{both}targets = [\"192.0.2.1\", {{ tcp = \"[2001:db8::1]:443\" }}]\nreliability = 1\n"
        );
        assert_eq!(targets_of(&mixed).len(), 2);
        let by_name = format!(
            "{both}dns = [\"192.0.2.53\"]\ntargets = [\"192.0.2.1\", \"2001:db8::1\", \
             {{ http = \"http://h.test/\" }}]\n"
        );
        one_error(
            &by_name,
            "10:40",
            "WAN `fiber` has family = \"both\": the host name in http://h.test/ does not say \
             which family to check; write an address in the URL",
        );
    }

    #[test]
    fn reliability_counts_every_kind() {
        let text = with(
            "targets = [\"192.0.2.1\", { tcp = \"192.0.2.2:443\" }, \
             { dns = \"192.0.2.3\", name = \"example.com\" }]\nreliability = 3",
        );
        assert_eq!(ok(&text).wans[0].probe.reliability, 3);
        one_error(
            &with("targets = [\"192.0.2.1\", { tcp = \"192.0.2.2:443\" }]\nreliability = 3"),
            "9:15",
            "`reliability` is 3 but WAN `fiber` has only 2 target(s)",
        );
    }

    #[test]
    fn duplicate_checks() {
        one_error(
            &with("targets = [{ tcp = \"192.0.2.2:443\" }, { tcp = \"192.0.2.2:443\" }]"),
            "8:39",
            "duplicate target `tcp 192.0.2.2:443` (first used on line 8)",
        );
        // the same address by ICMP and TCP is two targets
        assert_eq!(
            targets(
                "targets = [\"192.0.2.2\", { tcp = \"192.0.2.2:443\" }, \
                 { http = \"http://192.0.2.2/\" }]"
            )
            .len(),
            3
        );
    }

    #[test]
    fn dns_servers() {
        let cases = [
            (
                "dns = []",
                "8:7",
                "WAN `fiber` needs 1 to 3 `dns` servers, not 0",
            ),
            (
                "dns = [\"192.0.2.1\", \"192.0.2.2\", \"192.0.2.3\", \"192.0.2.4\"]",
                "8:7",
                "not 4",
            ),
            (
                "dns = [\"192.0.2.1\", \"192.0.2.1\"]",
                "8:21",
                "duplicate dns server `192.0.2.1` (first used on line 8)",
            ),
            (
                "dns = [\"2001:db8::53\"]",
                "8:8",
                "dns server 2001:db8::53 is IPv6 but WAN `fiber` has family = \"ipv4\"",
            ),
            (
                "dns = [\"resolver\"]",
                "8:8",
                "invalid address \"resolver\" in `dns`",
            ),
            ("dns = \"192.0.2.1\"", "8:7", "`dns` expects an array"),
        ];
        for (line, at, needle) in cases {
            one_error(&with(line), at, needle);
        }
        one_error(
            &with("dsn = [\"192.0.2.1\"]"),
            "8:1",
            "unknown key `dsn` in [[wan]]: did you mean `dns`?",
        );
    }
}

#[cfg(not(feature = "checks"))]
#[test]
fn check_targets_need_the_checks_feature() {
    one_error(
        &format!("{BASE}targets = [{{ tcp = \"192.0.2.2:443\" }}]\n"),
        "8:12",
        "HTTP, DNS and TCP checks are not in this build (built without the `checks` feature)",
    );
    one_error(
        &format!("{BASE}dns = [\"192.0.2.53\"]\n"),
        "8:7",
        "`dns` servers resolve host names of http targets, which this build leaves out",
    );
}
