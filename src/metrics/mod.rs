//! The metrics listener (Cargo feature `metrics`, configuration `metrics_listen`): what a
//! fleet's Prometheus scrapes and a technician's browser shows, over HTTP, from the
//! daemon's own poll loop.
//!
//! | request | answer |
//! |---|---|
//! | `GET /metrics` | the status and counters in the Prometheus text format ([`exposition`]) |
//! | `GET /status` | the `wanfailover status --json` document |
//! | `GET /` | an HTML page with each WAN's last hour as inline SVG ([`page`], [`trend`]) |
//! | `HEAD` of those | the same headers, no body |
//! | another path | 404 |
//! | another method | 405 |
//!
//! Read-only: nothing here changes what the daemon does. [`http`], [`exposition`],
//! [`trend`] and [`page`] are pure; [`server`] does the I/O, and the daemon's metrics part
//! (`daemon/metrics.rs`) feeds it the engine's status.

pub mod exposition;
pub mod http;
pub mod page;
pub mod server;
pub mod trend;

use crate::control::protocol::Counters;
use crate::control::render;
use crate::engine::{Instant, RoutingStatus, WanStatus};
use http::{Method, Request, Resource, Status};
use trend::Trend;

/// `Content-Type` of `/status`.
pub const JSON: &str = "application/json";

/// What `/status` and the others are made of: the rows, the counters and (with the
/// `routing` feature) the routing half.
pub type Snapshot = (Vec<WanStatus>, Counters, Option<RoutingStatus>);

/// The whole answer to `request`, appended to `out`. `status` gives the rows, the
/// counters and the routing half; it is called only for an answer that needs them.
pub fn answer(
    request: Request,
    now: Instant,
    trend: &Trend,
    status: impl FnOnce() -> Snapshot,
    out: &mut Vec<u8>,
) {
    let head_only = request.method == Method::Head;
    if request.method == Method::Other {
        return http::write_error(Status::MethodNotAllowed, false, out);
    }
    if request.resource == Resource::Unknown {
        return http::write_error(Status::NotFound, head_only, out);
    }
    let (rows, counters, routing) = status();
    let (content_type, headers, body) = match request.resource {
        Resource::Metrics => {
            let mut text = String::with_capacity(2048 + rows.len() * 2048);
            exposition::render(&rows, &counters, &mut text);
            (exposition::CONTENT_TYPE, "", text)
        }
        Resource::Status => (
            JSON,
            "",
            render::status_json(&rows, Some(&counters), routing.as_ref()),
        ),
        Resource::Page | Resource::Unknown => {
            let page = page::render(&rows, &counters, trend, now);
            (page::CONTENT_TYPE, page::SECURITY_HEADERS, page)
        }
    };
    http::write_response(
        Status::Ok,
        content_type,
        headers,
        body.as_bytes(),
        head_only,
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(method: Method, resource: Resource) -> String {
        let mut out = Vec::new();
        let mut asked = false;
        let request = Request { method, resource };
        let status = || {
            asked = true;
            (Vec::new(), Counters::default(), None)
        };
        answer(request, Instant::ZERO, &Trend::default(), status, &mut out);
        let text = String::from_utf8(out).unwrap();
        let needs_status =
            matches!(method, Method::Get | Method::Head) && resource != Resource::Unknown;
        assert_eq!(asked, needs_status, "{method:?} {resource:?}");
        text
    }

    fn header<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        let head = text.split("\r\n\r\n").next()?;
        head.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
    }

    #[test]
    fn routes() {
        let metrics = ask(Method::Get, Resource::Metrics);
        assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"));
        assert_eq!(
            header(&metrics, "Content-Type"),
            Some(exposition::CONTENT_TYPE)
        );
        assert!(metrics.contains("\r\n\r\n# HELP wanfailover_build_info"));
        let status = ask(Method::Get, Resource::Status);
        assert_eq!(header(&status, "Content-Type"), Some(JSON));
        assert!(status.ends_with("\r\n\r\n{\"wans\":[],\"counters\":{\"decision_passes\":0,\"route_dumps\":0,\"netlink_overruns\":0,\"netlink_parse_errors\":0,\"multipath_skipped\":0,\"switches\":0,\"uptime_ms\":0,\"wans\":[]}}\n"));
        let page = ask(Method::Get, Resource::Page);
        assert_eq!(header(&page, "Content-Type"), Some(page::CONTENT_TYPE));
        assert!(header(&page, "Content-Security-Policy")
            .is_some_and(|p| p.starts_with("default-src 'none'")));
        assert!(ask(Method::Get, Resource::Unknown).starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(ask(Method::Other, Resource::Metrics)
            .starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(ask(Method::Other, Resource::Unknown).starts_with("HTTP/1.1 405 "));
    }

    #[test]
    fn head_is_get_without_the_body() {
        let get = ask(Method::Get, Resource::Metrics);
        let head = ask(Method::Head, Resource::Metrics);
        let (get_head, body) = get.split_once("\r\n\r\n").unwrap();
        assert_eq!(head, format!("{get_head}\r\n\r\n"));
        assert_eq!(
            header(&head, "Content-Length"),
            Some(body.len().to_string().as_str())
        );
        assert!(ask(Method::Head, Resource::Unknown).ends_with("\r\n\r\n"));
    }
}
