//! Probe settings of one WAN: its own keys, else `[defaults]`, else built-in defaults; then
//! the rules that relate them (targets against the family, timeout against the interval,
//! recovery thresholds against their maximum).

use std::net::IpAddr;
use std::ops::Range;
use std::time::Duration;

use super::toml::Spanned;

use super::error::Collector;
use super::raw::RawProbe;
use super::target::Target;
use super::units::format_duration;
use super::validate::{self, Ctx};
use super::values::start_of;
#[cfg(feature = "checks")]
use super::MAX_DNS_SERVERS;
use super::{FamilySet, Percent, Probe, Quality, MAX_ROUNDS, MAX_TARGETS};

/// A value and where it came from (`None`: a built-in default).
struct Picked<T> {
    value: T,
    span: Option<Range<usize>>,
}

/// The WAN's own value, else the `[defaults]` one.
fn pick<T: Copy>(own: &Option<Spanned<T>>, defaults: &Option<Spanned<T>>) -> Option<Picked<T>> {
    own.as_ref().or(defaults.as_ref()).map(|f| Picked {
        value: *f.get_ref(),
        span: Some(f.span()),
    })
}

fn or_builtin<T>(picked: Option<Picked<T>>, value: T) -> Picked<T> {
    picked.unwrap_or(Picked { value, span: None })
}

/// Where to report a problem with `p`: its own place, else the WAN's table.
fn place<T>(p: &Picked<T>, ctx: &Ctx<'_>) -> Range<usize> {
    p.span.clone().unwrap_or_else(|| start_of(ctx.span))
}

pub fn probe(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    own: &RawProbe,
    defaults: &RawProbe,
) -> Option<Probe> {
    let targets = targets(c, ctx, own, defaults);
    let interval = or_builtin(
        pick(&own.interval, &defaults.interval),
        validate::DEFAULT_INTERVAL,
    );
    let timeout = pick(&own.timeout, &defaults.timeout);
    let timeout = or_builtin(timeout, validate::DEFAULT_TIMEOUT.min(interval.value));
    let failure = pick(&own.failure_interval, &defaults.failure_interval);
    let failure = or_builtin(
        failure,
        validate::DEFAULT_FAILURE_INTERVAL.min(interval.value),
    );
    let recovery = pick(&own.recovery_interval, &defaults.recovery_interval);
    let recovery = or_builtin(recovery, validate::DEFAULT_RECOVERY_INTERVAL);
    check_timing(c, ctx, &interval, &timeout, &failure);
    let count = |p: Option<Picked<u32>>, default: u8| {
        p.map_or(default, |p| u8::try_from(p.value).unwrap_or(u8::MAX))
    };
    let reliability = or_builtin(
        pick(&own.reliability, &defaults.reliability),
        u32::from(validate::DEFAULT_RELIABILITY),
    );
    let targets = targets?;
    check_reliability(c, ctx, &reliability, &targets)?;
    Some(Probe {
        targets,
        interval: interval.value,
        timeout: timeout.value,
        failure_interval: failure.value,
        recovery_interval: recovery.value,
        down: count(pick(&own.down, &defaults.down), validate::DEFAULT_DOWN),
        up: count(pick(&own.up, &defaults.up), validate::DEFAULT_UP),
        hold: pick(&own.hold, &defaults.hold).map_or(validate::DEFAULT_HOLD, |p| p.value),
        reliability: count(Some(reliability), validate::DEFAULT_RELIABILITY),
    })
}

/// A `timeout` longer than `interval` makes rounds overlap; the engine keeps at most
/// [`MAX_ROUNDS`] of them outstanding, so the timeout may be at most that many intervals.
/// After a failed round the WAN probes faster (or as fast), never slower. (A zero or
/// sub-10 ms timeout is already refused by the range check of each value.)
fn check_timing(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    interval: &Picked<Duration>,
    timeout: &Picked<Duration>,
    failure: &Picked<Duration>,
) {
    let (i, t, f) = (
        format_duration(interval.value),
        format_duration(timeout.value),
        format_duration(failure.value),
    );
    let rounds = u32::try_from(MAX_ROUNDS).unwrap_or(u32::MAX);
    let longest = interval.value.saturating_mul(rounds);
    if timeout.value > longest {
        let msg = format!(
            "`timeout` ({t}) is more than {rounds} × `interval` ({i}) for WAN `{}`: \
             at most {rounds} probe rounds can be outstanding at once, so the timeout may be \
             at most {}",
            ctx.name,
            format_duration(longest)
        );
        c.at(&place(timeout, ctx), msg);
    }
    if failure.value > interval.value {
        let msg = format!(
            "`failure_interval` ({f}) is longer than `interval` ({i}) for WAN `{}`: \
             it exists to confirm a failure faster than the normal rounds",
            ctx.name
        );
        c.at(&place(failure, ctx), msg);
    }
}

/// The WAN's targets: present, within [`MAX_TARGETS`], unique, and of the WAN's family.
/// A `both` WAN probes each family through its own socket, so it needs targets of each.
fn targets(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    own: &RawProbe,
    defaults: &RawProbe,
) -> Option<Vec<Target>> {
    let Some(list) = own.targets.as_ref().or(defaults.targets.as_ref()) else {
        let msg = format!(
            "WAN `{}` has no targets: set `targets` in [defaults] or in this [[wan]]",
            ctx.name
        );
        c.at(&start_of(ctx.span), msg);
        return None;
    };
    let items = list.get_ref();
    if !counted(c, ctx, list, "targets", MAX_TARGETS) {
        return None;
    }
    let before = c.len();
    let refs: Vec<&Spanned<Target>> = items.iter().collect();
    validate::duplicates(c, "target", &refs);
    for t in items {
        if let Some(ip) = t.get_ref().address() {
            check_family(c, ctx, &format!("target {}", t.get_ref()), ip, &t.span());
        }
    }
    let has = |v4: bool| {
        let of = |t: &Spanned<Target>| t.get_ref().address().map(|a| a.is_ipv4());
        items.iter().any(|t| of(t) == Some(v4))
    };
    if ctx.family == FamilySet::Both && !(has(true) && has(false)) {
        let msg = format!(
            "WAN `{}` has family = \"both\" and needs at least one IPv4 and one IPv6 target",
            ctx.name
        );
        c.at(&list.span(), msg);
    }
    #[allow(unused_mut)] // filled in only with the `checks` feature
    let mut out: Vec<Target> = items.iter().map(|t| t.get_ref().clone()).collect();
    #[cfg(feature = "checks")]
    resolvers(c, ctx, own, defaults, &refs, &mut out);
    (c.len() == before).then_some(out)
}

/// Whether `list` has 1 to `most` entries; reports it if not.
fn counted<T>(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    list: &Spanned<Vec<T>>,
    what: &str,
    most: usize,
) -> bool {
    let n = list.get_ref().len();
    if (1..=most).contains(&n) {
        return true;
    }
    let msg = format!("WAN `{}` needs 1 to {most} {what}, not {n}", ctx.name);
    c.at(&list.span(), msg);
    false
}

/// A target or server of the other family than a single-family WAN cannot be reached
/// through it.
fn check_family(c: &mut Collector<'_>, ctx: &Ctx<'_>, what: &str, ip: IpAddr, span: &Range<usize>) {
    let (is, wants) = match (ctx.family, ip) {
        (FamilySet::Ipv4, IpAddr::V6(_)) => ("IPv6", "ipv4"),
        (FamilySet::Ipv6, IpAddr::V4(_)) => ("IPv4", "ipv6"),
        _ => return,
    };
    let msg = format!(
        "{what} is {is} but WAN `{}` has family = \"{wants}\"",
        ctx.name
    );
    c.at(span, msg);
}

/// The WAN's `dns` servers: checked wherever the WAN picks them up, and handed to every
/// `http` target that names a host (which needs them: never the system resolver).
#[cfg(feature = "checks")]
fn resolvers(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    own: &RawProbe,
    defaults: &RawProbe,
    items: &[&Spanned<Target>],
    out: &mut [Target],
) {
    use crate::check::url::Host;
    let dns = own.dns.as_ref().or(defaults.dns.as_ref());
    let servers = dns.map(|d| dns_servers(c, ctx, d));
    let named = |t: &Target| matches!(t, Target::Http(h) if matches!(h.url.host, Host::Name(_)));
    for t in items.iter().filter(|t| named(t.get_ref())) {
        let msg = if ctx.family == FamilySet::Both {
            format!(
                "WAN `{}` has family = \"both\": the host name in {} does not say which \
                 family to check; write an address in the URL",
                ctx.name,
                t.get_ref()
            )
        } else if dns.is_none() {
            format!(
                "{} names a host, but WAN `{}` has no `dns` servers to look it up through: \
                 set `dns = [\"…\"]` in [defaults] or in this [[wan]], or write an address",
                t.get_ref(),
                ctx.name
            )
        } else {
            continue;
        };
        c.at(&t.span(), msg);
    }
    let Some(Some(servers)) = servers else {
        return;
    };
    for t in out.iter_mut() {
        match t {
            Target::Http(h) if matches!(h.url.host, Host::Name(_)) => h.resolvers = servers.clone(),
            _ => {}
        }
    }
}

/// `dns`: 1 to [`MAX_DNS_SERVERS`] unique servers of the WAN's family.
#[cfg(feature = "checks")]
fn dns_servers(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    list: &Spanned<Vec<Spanned<IpAddr>>>,
) -> Option<Vec<IpAddr>> {
    let items = list.get_ref();
    if !counted(c, ctx, list, "`dns` servers", MAX_DNS_SERVERS) {
        return None;
    }
    let before = c.len();
    let refs: Vec<&Spanned<IpAddr>> = items.iter().collect();
    validate::duplicates(c, "dns server", &refs);
    for s in items {
        let ip = *s.get_ref();
        check_family(c, ctx, &format!("dns server {ip}"), ip, &s.span());
    }
    (c.len() == before).then(|| items.iter().map(|s| *s.get_ref()).collect())
}

/// A round passes when `reliability` targets answer, so there must be that many; a `both`
/// WAN judges each family on its own targets, so each family needs that many.
fn check_reliability(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    reliability: &Picked<u32>,
    targets: &[Target],
) -> Option<()> {
    // an http target by name goes by the WAN's family (a `both` WAN may not have one)
    let is_v4 = |t: &Target| {
        t.address()
            .map_or(ctx.family == FamilySet::Ipv4, |a| a.is_ipv4())
    };
    let v4 = targets.iter().filter(|t| is_v4(t)).count();
    let fewest = match ctx.family {
        FamilySet::Both => v4.min(targets.len() - v4),
        _ => targets.len(),
    };
    if reliability.value as usize <= fewest {
        return Some(());
    }
    let per = if ctx.family == FamilySet::Both {
        " per family"
    } else {
        ""
    };
    let msg = format!(
        "`reliability` is {} but WAN `{}` has only {fewest} target(s){per}",
        reliability.value, ctx.name
    );
    c.at(&place(reliability, ctx), msg);
    None
}

/// Quality thresholds; a recovery value defaults to its threshold and must not be worse.
pub fn quality(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    own: &RawProbe,
    defaults: &RawProbe,
) -> Option<Quality> {
    let before = c.len();
    let (max_latency, recovery_latency) = pair(
        c,
        ctx,
        ("max_latency", pick(&own.max_latency, &defaults.max_latency)),
        (
            "recovery_latency",
            pick(&own.recovery_latency, &defaults.recovery_latency),
        ),
        format_duration,
    );
    let (max_loss, recovery_loss) = pair(
        c,
        ctx,
        ("max_loss", pick(&own.max_loss, &defaults.max_loss)),
        (
            "recovery_loss",
            pick(&own.recovery_loss, &defaults.recovery_loss),
        ),
        |p: Percent| p.to_string(),
    );
    let (max_jitter, recovery_jitter) = pair(
        c,
        ctx,
        ("max_jitter", pick(&own.max_jitter, &defaults.max_jitter)),
        (
            "recovery_jitter",
            pick(&own.recovery_jitter, &defaults.recovery_jitter),
        ),
        format_duration,
    );
    (c.len() == before).then_some(Quality {
        max_latency,
        recovery_latency,
        max_loss,
        recovery_loss,
        max_jitter,
        recovery_jitter,
    })
}

type Named<T> = (&'static str, Option<Picked<T>>);

/// One threshold and its recovery value.
fn pair<T: Copy + Ord>(
    c: &mut Collector<'_>,
    ctx: &Ctx<'_>,
    max: Named<T>,
    recovery: Named<T>,
    show: impl Fn(T) -> String,
) -> (Option<T>, Option<T>) {
    let ((max_key, max), (rec_key, rec)) = (max, recovery);
    match (max, rec) {
        (None, None) => (None, None),
        (Some(m), None) => (Some(m.value), Some(m.value)),
        (None, Some(r)) => {
            let msg = format!(
                "`{rec_key}` is set for WAN `{}` but `{max_key}` is not",
                ctx.name
            );
            c.at(&place(&r, ctx), msg);
            (None, None)
        }
        (Some(m), Some(r)) => {
            if r.value > m.value {
                let msg = format!(
                    "`{rec_key}` ({}) must not exceed `{max_key}` ({}) for WAN `{}`: \
                     a WAN recovers when it gets back under the recovery value",
                    show(r.value),
                    show(m.value),
                    ctx.name
                );
                c.at(&place(&r, ctx), msg);
            }
            (Some(m.value), Some(r.value))
        }
    }
}
