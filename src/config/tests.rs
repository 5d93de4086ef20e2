//! Whole-file tests: what a user writes and what they are told.

use std::net::IpAddr;
use std::time::Duration;

use super::*;

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

/// Every error as `LINE:COL: message` (or `-: message` without a place).
fn errors(text: &str) -> Vec<String> {
    let errors = parse(text, FILE).expect_err("expected errors");
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
