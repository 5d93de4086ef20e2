//! `GET /`: one self-contained HTML page for a technician's browser: each WAN's state and
//! figures now, and an inline SVG of its last hour (state, latency, loss per minute, from
//! [`super::trend`]). No script, no external file, no font: it renders the same on a
//! laptop plugged into the gateway with no internet, and the listener sends it with a
//! `Content-Security-Policy` that forbids loading anything at all. It reloads itself
//! every [`REFRESH_SECS`] seconds. Pure: status, counters and trend in, text out.

use std::fmt::Write;

use super::trend::{Bucket, Health, Series, Trend, BUCKETS};
use crate::control::protocol::Counters;
use crate::control::render::{millis, percent, rate, span};
use crate::engine::report::or_none;
use crate::engine::{Instant, WanStatus};

/// `Content-Type` of the page.
pub const CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// The page loads nothing and runs nothing; inline styles only.
pub const SECURITY_HEADERS: &str =
    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'\r\n\
     X-Content-Type-Options: nosniff\r\n";
/// The page reloads itself this often.
pub const REFRESH_SECS: u32 = 30;

/// Chart geometry, in SVG user units.
const WIDTH: u32 = 640;
const HEIGHT: u32 = 196;
/// Left edge of the plots (labels to its left) and the width of one minute.
const X0: u32 = 56;
const COLUMN: u32 = 9;
const STRIP: (u32, u32) = (6, 12);
/// Top and height of the latency and loss plots.
const LATENCY: (u32, u32) = (30, 80);
const LOSS: (u32, u32) = (128, 44);
/// The latency scale is at least 10 ms, the loss scale at least 10 %: a steady 1 ms line
/// stays low, 0.5 % loss stays small.
const MIN_LATENCY_SCALE_US: u64 = 10_000;
const MIN_LOSS_SCALE_CENTI: u64 = 1_000;

const STYLE: &str = "\
body{font:14px/1.4 system-ui,sans-serif;margin:1rem auto;max-width:700px;padding:0 .5rem;\
color:#222;background:#fafafa}\
h1{font-size:1.3rem;margin:0}header p{margin:.2rem 0 0;color:#444}\
.wan{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem .8rem;margin:.8rem 0}\
h2{font-size:1.1rem;margin:0 0 .2rem}.iface{color:#666;font-weight:normal;font-size:.9rem}\
.state{padding:0 .4rem;border-radius:3px;color:#fff;font-size:.85rem;font-weight:normal}\
.active{font-size:.85rem;color:#2e7d32;font-weight:normal}\
.now{margin:0 0 .3rem;color:#444;font-size:.9rem}\
.st-up{background:#2e7d32}.st-init{background:#1e88e5}.st-disabled{background:#757575}\
.st-degraded{background:#ef6c00}.st-down{background:#c62828}.st-unknown{background:#757575}\
svg{width:100%;height:auto;display:block}svg text{font-size:11px;fill:#555}\
svg .plot{fill:#f3f3f3}svg .h-up{fill:#43a047}svg .h-init{fill:#64b5f6}\
svg .h-disabled{fill:#bdbdbd}svg .h-degraded{fill:#fb8c00}svg .h-down{fill:#e53935}\
svg .lat-max{fill:#c5cae9}svg .lat{fill:none;stroke:#283593;stroke-width:1.5}\
svg .loss{fill:#e53935}footer{color:#777;font-size:.8rem}";

/// The page for `rows` (configuration order), `counters` and the `trend` up to `now`.
pub fn render(rows: &[WanStatus], counters: &Counters, trend: &Trend, now: Instant) -> String {
    let mut out = String::with_capacity(4096 + rows.len() * 4096);
    let active = rows
        .iter()
        .find(|w| w.active)
        .map_or("", |w| w.name.as_str());
    let connectivity = if active.is_empty() { "none" } else { "full" };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\
         <title>wanfailover: {}</title><style>{STYLE}</style></head>\n<body>\
         <header><h1>wanfailover</h1><p>active WAN: <b id=\"active\">{}</b> · \
         connectivity <b id=\"connectivity\">{connectivity}</b> · up {} · {} switches</p>\
         </header>\n<main>\n",
        escape(or_none(active)),
        escape(or_none(active)),
        span(counters.uptime_ms),
        counters.switches,
    );
    for row in rows {
        wan_section(&mut out, row, trend.series(&row.name), now);
    }
    let _ = write!(
        out,
        "</main>\n<footer>wanfailover {}. Charts: the last hour, one column per minute; \
         the strip is the worst state of the minute, bars the highest latency and loss, \
         the line the mean latency. The page reloads every {REFRESH_SECS} s.</footer>\n\
         </body></html>\n",
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn wan_section(out: &mut String, row: &WanStatus, series: Option<&Series>, now: Instant) {
    let name = escape(&row.name);
    let state = escape(&row.state);
    let class = Health::of(&row.state).as_str();
    let active = if row.active {
        " <span class=\"active\">● active</span>"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<section class=\"wan\" data-wan=\"{name}\" data-state=\"{state}\">\
         <h2>{name} <span class=\"iface\">{}</span> \
         <span class=\"state st-{class}\">{state}</span>{active}</h2>",
        escape(&row.interface),
    );
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    let _ = writeln!(
        out,
        "<p class=\"now\">latency {} · jitter {} · loss {} · rx {} · tx {} · \
         {} in this state · priority {} · route metric {}</p>",
        opt(row.latency_us.map(millis)),
        opt(row.jitter_us.map(millis)),
        opt(row.loss_centi_pct.map(|c| percent(u64::from(c)))),
        opt(row.rx_bps.map(rate)),
        opt(row.tx_bps.map(rate)),
        span(row.since_ms),
        row.priority,
        row.metric,
    );
    let minutes: Vec<Option<Bucket>> = match series {
        Some(s) => s.minutes(now).collect(),
        None => vec![None; BUCKETS],
    };
    chart(out, &row.name, &minutes);
    out.push_str("</section>\n");
}

/// The SVG of one WAN's hour: state strip, latency, loss.
fn chart(out: &mut String, name: &str, minutes: &[Option<Bucket>]) {
    let name = escape(name);
    let _ = writeln!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{name}: state, latency and loss over the last hour\">\
         <title>{name}: the last hour</title>"
    );
    let plot_width = COLUMN * BUCKETS as u32;
    for (top, height) in [STRIP, LATENCY, LOSS] {
        let _ = write!(
            out,
            "<rect class=\"plot\" x=\"{X0}\" y=\"{top}\" width=\"{plot_width}\" height=\"{height}\"/>"
        );
    }
    state_strip(out, minutes);
    let latency = |b: &Bucket| b.latency_max_us().map(u64::from);
    let latency_scale = scale(minutes, latency, MIN_LATENCY_SCALE_US);
    bars(out, "lat-max", minutes, LATENCY, latency_scale, latency);
    latency_line(out, minutes, latency_scale);
    let loss = |b: &Bucket| b.loss_max_centi_pct().map(u64::from);
    let loss_scale = scale(minutes, loss, MIN_LOSS_SCALE_CENTI).min(10_000);
    bars(out, "loss", minutes, LOSS, loss_scale, loss);
    labels(out, latency_scale, loss_scale);
    out.push_str("</svg>\n");
}

/// One rectangle per run of minutes with the same health; nothing where no sample was.
fn state_strip(out: &mut String, minutes: &[Option<Bucket>]) {
    let mut i = 0;
    while i < minutes.len() {
        let health = minutes[i].map_or(Health::Unknown, |b| b.health());
        let run = minutes[i..]
            .iter()
            .take_while(|m| m.map_or(Health::Unknown, |b| b.health()) == health)
            .count();
        if health != Health::Unknown {
            let _ = write!(
                out,
                "<rect class=\"h-{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
                health.as_str(),
                x_of(i),
                STRIP.0,
                COLUMN * run as u32,
                STRIP.1
            );
        }
        i += run;
    }
    out.push('\n');
}

/// One path of bars, a bar per minute with a value, scaled to `scale` at the plot's top.
fn bars(
    out: &mut String,
    class: &str,
    minutes: &[Option<Bucket>],
    (top, height): (u32, u32),
    scale: u64,
    value: impl Fn(&Bucket) -> Option<u64>,
) {
    let bottom = top + height;
    let mut d = String::new();
    for (i, b) in minutes.iter().enumerate() {
        let Some(v) = b.as_ref().and_then(&value) else {
            continue;
        };
        let h = scaled(v, scale, height);
        if h > 0 {
            let _ = write!(d, "M{} {bottom}v-{h}h{}v{h}z", x_of(i), COLUMN - 1);
        }
    }
    if !d.is_empty() {
        let _ = writeln!(out, "<path class=\"{class}\" d=\"{d}\"/>");
    }
}

/// The mean latency as a line through the middle of each minute, broken where a minute
/// has none.
fn latency_line(out: &mut String, minutes: &[Option<Bucket>], scale: u64) {
    let (top, height) = LATENCY;
    let mut d = String::new();
    let mut drawing = false;
    for (i, b) in minutes.iter().enumerate() {
        let Some(us) = b.and_then(|b| b.latency_us()) else {
            drawing = false;
            continue;
        };
        let y = top + height - scaled(u64::from(us), scale, height);
        let x = x_of(i) + COLUMN / 2;
        let step = if drawing { 'L' } else { 'M' };
        let _ = write!(d, "{step}{x} {y}");
        drawing = true;
    }
    if !d.is_empty() {
        let _ = writeln!(out, "<path class=\"lat\" d=\"{d}\"/>");
    }
}

fn labels(out: &mut String, latency_scale: u64, loss_scale: u64) {
    let right = X0 + COLUMN * BUCKETS as u32;
    let bottom = HEIGHT - 6;
    let texts = [
        (X0 - 4, STRIP.0 + 10, "end", "state".to_string()),
        (X0 - 4, LATENCY.0 + 10, "end", millis(latency_scale)),
        (X0 - 4, LATENCY.0 + LATENCY.1, "end", "latency".to_string()),
        (X0 - 4, LOSS.0 + 10, "end", percent(loss_scale)),
        (X0 - 4, LOSS.0 + LOSS.1, "end", "loss".to_string()),
        (X0, bottom, "start", "60 min ago".to_string()),
        ((X0 + right) / 2, bottom, "middle", "30 min ago".to_string()),
        (right, bottom, "end", "now".to_string()),
    ];
    for (x, y, anchor, text) in texts {
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"{y}\" text-anchor=\"{anchor}\">{}</text>",
            escape(&text)
        );
    }
    out.push('\n');
}

/// The top of a plot: the highest value of the hour, at least `min`, made round.
fn scale(minutes: &[Option<Bucket>], value: impl Fn(&Bucket) -> Option<u64>, min: u64) -> u64 {
    let top = minutes
        .iter()
        .flatten()
        .filter_map(value)
        .max()
        .unwrap_or(0);
    nice_ceiling(top.max(min))
}

fn x_of(minute: usize) -> u32 {
    X0 + COLUMN * minute as u32
}

/// `value` as a height out of `height` for a scale of `scale` (clamped to the plot).
fn scaled(value: u64, scale: u64, height: u32) -> u32 {
    let h = u128::from(value.min(scale)) * u128::from(height) / u128::from(scale.max(1));
    u32::try_from(h).unwrap_or(height)
}

/// The smallest 1, 2 or 5 times a power of ten at or above `v`.
fn nice_ceiling(v: u64) -> u64 {
    let mut unit = 1u64;
    loop {
        for m in [1, 2, 5] {
            let candidate = unit.saturating_mul(m);
            if candidate >= v || candidate == u64::MAX {
                return candidate;
            }
        }
        unit = unit.saturating_mul(10);
    }
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::report::test_row as row;

    fn minute(m: u64) -> Instant {
        Instant::from_millis(m * 60_000)
    }

    #[test]
    fn one_section_and_one_chart_per_wan() {
        let rows = [row("fiber", "down", false), row("lte", "up", true)];
        let mut trend = Trend::default();
        for m in 0..90 {
            trend.sample(minute(m), &rows);
        }
        let page = render(&rows, &Counters::default(), &trend, minute(90));
        assert!(page.starts_with("<!DOCTYPE html>\n"));
        assert!(page.ends_with("</html>\n"));
        assert_eq!(page.matches("<section class=\"wan\"").count(), 2);
        assert_eq!(page.matches("<svg ").count(), 2);
        assert!(page.contains("data-wan=\"fiber\" data-state=\"down\""));
        assert!(page.contains("<span class=\"state st-down\">down</span>"));
        assert!(page.contains("<b id=\"active\">lte</b>"));
        assert!(page.contains("connectivity <b id=\"connectivity\">full</b>"));
        // an hour of minutes: one run of state each, 60 latency points each
        assert_eq!(page.matches("<rect class=\"h-down\"").count(), 1);
        assert_eq!(page.matches("<rect class=\"h-up\"").count(), 1);
        // self-contained: nothing to fetch, nothing to run
        for outside in [
            "<script", "src=", "href=", "url(", "@import", "http://", "https://",
        ] {
            assert!(!page.contains(outside), "{outside}");
        }
    }

    #[test]
    fn a_gap_in_the_samples_breaks_the_line_and_the_strip() {
        let rows = [row("a", "up", true)];
        let mut trend = Trend::default();
        for m in [0, 1, 2, 5, 6] {
            trend.sample(minute(m), &rows);
        }
        let page = render(&rows, &Counters::default(), &trend, minute(6));
        let line = page
            .lines()
            .find(|l| l.starts_with("<path class=\"lat\""))
            .unwrap();
        assert_eq!(line.matches('M').count(), 2, "{line}");
        assert_eq!(line.matches('L').count(), 3, "{line}");
        assert_eq!(page.matches("<rect class=\"h-up\"").count(), 2);
    }

    #[test]
    fn a_wan_without_history_still_gets_its_chart() {
        let page = render(
            &[row("new", "init", false)],
            &Counters::default(),
            &Trend::default(),
            minute(1),
        );
        assert_eq!(page.matches("<svg ").count(), 1);
        assert!(page.contains("<b id=\"active\">none</b>"));
        assert!(page.contains("connectivity <b id=\"connectivity\">none</b>"));
        assert!(!page.contains("<path"), "nothing to draw");
    }

    #[test]
    fn names_are_escaped() {
        let mut odd = row("x", "up", true);
        odd.interface = "<b>\"&'".into();
        let page = render(&[odd], &Counters::default(), &Trend::default(), minute(0));
        assert!(page.contains("&lt;b&gt;&quot;&amp;&#39;"));
        assert!(!page.contains("<b>\""));
    }

    #[test]
    fn scales() {
        let table = [(0, 1), (1, 1), (3, 5), (10_000, 10_000), (10_001, 20_000)];
        for (v, nice) in table.into_iter().chain([(u64::MAX, u64::MAX)]) {
            assert_eq!(nice_ceiling(v), nice, "{v}");
        }
        assert_eq!(scaled(5, 10, 80), 40);
        assert_eq!(scaled(50, 10, 80), 80, "clamped to the plot");
        assert_eq!(scaled(1, 0, 80), 0, "no division by zero");
    }
}
