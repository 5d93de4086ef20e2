//! What `status --watch` draws: one frame of text from the status rows and the trends, and
//! how a frame replaces the previous one on the terminal. Pure.

use std::time::Duration;

use super::spark::{self, Trend};
use crate::config::format_duration;
use crate::control::render::{millis, percent, rate, span, state_cell, status_notes, table};
use crate::engine::WanStatus;

/// Latency bars are scaled to the window's highest latency, but never to less than this:
/// a 1 ms fibre line wobbling by 0.2 ms should look flat, not like a saw.
pub const LATENCY_FLOOR_US: u64 = 10_000;
/// Loss bars: the window's highest loss, but at least 10 %.
pub const LOSS_FLOOR_CENTI_PCT: u16 = 1_000;

/// Shows the cursor again: written when the watch ends, however it ends.
pub const RESTORE: &str = "\x1b[?25h";

/// Trends by WAN name, in the order the daemon reports the WANs.
#[derive(Debug, Clone)]
pub struct Trends {
    bucket: Duration,
    by_name: Vec<(String, Trend)>,
}

impl Trends {
    pub fn new(interval: Duration) -> Trends {
        Trends {
            bucket: Trend::bucket_for(interval),
            by_name: Vec::new(),
        }
    }

    /// Samples every row. A WAN that is gone from the configuration (reload) loses its
    /// trend; a new one starts with an empty line.
    pub fn record(&mut self, elapsed: Duration, rows: &[WanStatus]) {
        let mut old = core::mem::take(&mut self.by_name);
        for row in rows {
            let trend = match old.iter().position(|(n, _)| *n == row.name) {
                Some(i) => old.swap_remove(i).1,
                None => Trend::new(self.bucket),
            };
            self.by_name.push((row.name.clone(), trend));
            if let Some((_, t)) = self.by_name.last_mut() {
                t.record(elapsed, row.latency_us, row.loss_centi_pct);
            }
        }
    }

    fn get(&self, name: &str) -> Option<&Trend> {
        self.by_name.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// Everything one frame shows.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub rows: &'a [WanStatus],
    pub trends: &'a Trends,
    /// Since the watch started.
    pub elapsed: Duration,
    pub interval: Duration,
    pub utf8: bool,
}

/// The frame as lines of text, each ending in `\n`.
pub fn frame(f: &Frame<'_>) -> String {
    let active = f
        .rows
        .iter()
        .find(|r| r.active)
        .map_or("none", |r| r.name.as_str());
    let mut out = format!(
        "wanfailover status --watch  every {}  watching {}  Ctrl-C quits\nactive: {active}\n\n",
        format_duration(f.interval),
        span(u64::try_from(f.elapsed.as_millis()).unwrap_or(u64::MAX)),
    );
    if f.rows.is_empty() {
        out.push_str("no WANs configured\n");
        return out;
    }
    out.push_str(&rows_table(f.rows));
    out.push_str(&status_notes(f.rows));
    out.push('\n');
    out.push_str(&sparklines(f));
    out
}

fn rows_table(rows: &[WanStatus]) -> String {
    let header = [
        "", "NAME", "STATE", "LATENCY", "LOSS", "RX", "TX", "IN STATE",
    ];
    let right = [false, false, false, true, true, true, true, true];
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mut cells = Vec::new();
    for r in rows {
        cells.push(vec![
            if r.active { "*" } else { "" }.to_string(),
            r.name.clone(),
            state_cell(r),
            opt(r.latency_us.map(millis)),
            opt(r.loss_centi_pct.map(|c| percent(u64::from(c)))),
            opt(r.rx_bps.map(rate)),
            opt(r.tx_bps.map(rate)),
            span(r.since_ms),
        ]);
    }
    table(&header, &right, &cells)
}

/// Two lines per WAN: latency and loss over the window, each with its highest value.
fn sparklines(f: &Frame<'_>) -> String {
    let Some(first) = f.rows.first().and_then(|r| f.trends.get(&r.name)) else {
        return String::new();
    };
    let mut out = format!(
        "last {}, one column per {}, worst sample of each\n",
        span(u64::try_from(first.window().as_millis()).unwrap_or(u64::MAX)),
        format_duration(first.window() / spark::COLUMNS as u32),
    );
    let width = f
        .rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0);
    for row in f.rows {
        let Some(t) = f.trends.get(&row.name) else {
            continue;
        };
        let (mut latency, mut loss) = (Vec::new(), Vec::new());
        for b in t.buckets() {
            latency.push(b.latency_us);
            loss.push(b.loss_centi_pct.map(u64::from));
        }
        let max_latency = t.max_latency_us();
        let max_loss = t.max_loss_centi_pct();
        let lat_top = max_latency.unwrap_or(0).max(LATENCY_FLOOR_US);
        let loss_top = u64::from(max_loss.unwrap_or(0).max(LOSS_FLOOR_CENTI_PCT));
        let max_of = |v: Option<String>| format!("max {}", v.unwrap_or_else(|| "-".into()));
        out.push_str(&format!(
            "{:width$}  latency  {}  {}\n{:width$}  loss     {}  {}\n",
            row.name,
            spark::line(&latency, lat_top, f.utf8),
            max_of(max_latency.map(millis)),
            "",
            spark::line(&loss, loss_top, f.utf8),
            max_of(max_loss.map(|c| percent(u64::from(c)))),
        ));
    }
    out
}

/// A frame ready to write. On a terminal it overwrites the previous one in place: cursor
/// home, each line cleared to its end, everything below cleared (the first frame also
/// clears the screen and hides the cursor). Elsewhere (a pipe, a log) frames are printed
/// one after another with a blank line between, without escape sequences.
pub fn paint(frame: &str, tty: bool, first: bool) -> String {
    if !tty {
        return format!("{frame}\n");
    }
    let mut out = String::from(if first {
        "\x1b[?25l\x1b[H\x1b[2J"
    } else {
        "\x1b[H"
    });
    for line in frame.lines() {
        out.push_str(line);
        out.push_str("\x1b[K\n");
    }
    out.push_str("\x1b[J");
    out
}

/// Whether the locale's character set is UTF-8: the first set of `LC_ALL`, `LC_CTYPE`,
/// `LANG` decides (POSIX precedence); none set means the C locale, so ASCII.
pub fn utf8_locale(lc_all: Option<&str>, lc_ctype: Option<&str>, lang: Option<&str>) -> bool {
    let value = [lc_all, lc_ctype, lang]
        .into_iter()
        .flatten()
        .find(|v| !v.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase();
    value.contains("utf-8") || value.contains("utf8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::fixture::status_row;

    const S: Duration = Duration::from_secs(1);

    /// Two WANs sampled at 0 s, 5 s and 10 s: fiber steady at 12.3 ms with a 40 ms spike,
    /// lte losing more and more until it has no measurement at all.
    fn scene() -> (Vec<WanStatus>, Trends) {
        let mut trends = Trends::new(S);
        let mut fiber = status_row("fiber");
        let mut lte = WanStatus {
            state: "degraded".into(),
            active: false,
            preferred: true,
            ..status_row("lte")
        };
        for (t, spike, loss) in [
            (0, false, Some(0)),
            (5, true, Some(2_500)),
            (10, false, None),
        ] {
            fiber.latency_us = Some(if spike { 40_000 } else { 12_345 });
            lte.loss_centi_pct = loss;
            lte.latency_us = loss.map(|_| 85_000);
            trends.record(t * S, &[fiber.clone(), lte.clone()]);
        }
        lte.state = "down".into();
        (vec![fiber, lte], trends)
    }

    fn render(utf8: bool) -> String {
        let (rows, trends) = scene();
        frame(&Frame {
            rows: &rows,
            trends: &trends,
            elapsed: 10 * S,
            interval: S,
            utf8,
        })
    }

    #[test]
    fn frame_in_utf8() {
        let pad = " ".repeat(spark::COLUMNS - 3);
        let expected = [
            "wanfailover status --watch  every 1s  watching 10s  Ctrl-C quits",
            "active: fiber",
            "",
            "  NAME   STATE  LATENCY  LOSS          RX  TX  IN STATE",
            "* fiber  up     12.3 ms  0.0%  1.2 Mbit/s   -     3m12s",
            "  lte    down         -     -  1.2 Mbit/s   -     3m12s",
            "manual override: lte is preferred ('auto' to undo)",
            "",
            "last 4m00s, one column per 5s, worst sample of each",
            &format!("fiber  latency  {pad}▃█▃  max 40.0 ms"),
            &format!("       loss     {pad}▁▁▁  max 0.0%"),
            &format!("lte    latency  {pad}██   max 85.0 ms"),
            &format!("       loss     {pad}▁█   max 25.0%"),
        ];
        let text = render(true);
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn frame_in_ascii_is_ascii() {
        let text = render(false);
        assert!(text.is_ascii(), "{text}");
        let lines: Vec<&str> = text.lines().collect();
        let pad = " ".repeat(spark::COLUMNS - 3);
        assert_eq!(lines[9], format!("fiber  latency  {pad}-#-  max 40.0 ms"));
        assert_eq!(lines[12], format!("       loss     {pad}_#   max 25.0%"));
    }

    #[test]
    fn no_wans() {
        let trends = Trends::new(S);
        let text = frame(&Frame {
            rows: &[],
            trends: &trends,
            elapsed: Duration::ZERO,
            interval: 2 * S,
            utf8: true,
        });
        assert_eq!(
            text,
            "wanfailover status --watch  every 2s  watching 0s  Ctrl-C quits\n\
             active: none\n\nno WANs configured\n"
        );
    }

    #[test]
    fn a_wan_removed_by_a_reload_loses_its_trend() {
        let (rows, mut trends) = scene();
        trends.record(15 * S, &rows[1..]);
        assert!(trends.get("fiber").is_none());
        assert_eq!(trends.get("lte").map(|t| t.buckets().count()), Some(4));
        trends.record(20 * S, &rows);
        assert_eq!(trends.get("fiber").map(|t| t.buckets().count()), Some(1));
    }

    #[test]
    fn painting_in_place_or_as_a_log() {
        let f = "a\nbb\n";
        assert_eq!(
            paint(f, true, true),
            "\x1b[?25l\x1b[H\x1b[2Ja\x1b[K\nbb\x1b[K\n\x1b[J"
        );
        assert_eq!(paint(f, true, false), "\x1b[Ha\x1b[K\nbb\x1b[K\n\x1b[J");
        assert_eq!(paint(f, false, true), "a\nbb\n\n");
    }

    #[test]
    fn locale_decides_the_bars() {
        let cases = [
            ((None, None, None), false),
            ((None, None, Some("en_US.UTF-8")), true),
            ((None, None, Some("C.utf8")), true),
            ((None, Some("POSIX"), Some("en_US.UTF-8")), false),
            ((Some("C"), Some("en_US.UTF-8"), None), false),
            ((Some(""), Some("de_DE.utf8"), None), true),
            ((None, None, Some("C")), false),
        ];
        for ((all, ctype, lang), utf8) in cases {
            assert_eq!(
                utf8_locale(all, ctype, lang),
                utf8,
                "{all:?} {ctype:?} {lang:?}"
            );
        }
    }
}
