//! The answers: `GET /metrics` (the Prometheus text format, or OpenMetrics when the scraper
//! asks for it), `GET /` (a page that links it), 404 for other paths, 405 for methods other
//! than GET and HEAD, 413 for a request with a body. hyper parses HTTP; this only decides.

use super::scans::{exposition, Scans};
use crate::render::prometheus;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

pub(crate) type Body = http_body_util::Full<Bytes>;

pub(crate) const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
pub(crate) const OPENMETRICS_FORMAT: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

const INDEX: &str =
    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>stuckconn</title></head>\n\
<body><h1>stuckconn</h1><p>Stuck TCP connections of this host as Prometheus metrics: \
<a href=\"/metrics\">/metrics</a> (each scrape runs a scan).</p></body></html>\n";

fn plain(status: StatusCode, text: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(text.to_string()));
    *response.status_mut() = status;
    set(
        &mut response,
        header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    response
}

fn set(response: &mut Response<Body>, name: header::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, HeaderValue::from_static(value));
}

/// Whether a request carries a body (GET and HEAD have none: one is refused, unread).
fn has_body(headers: &HeaderMap) -> bool {
    headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0")
}

/// The answer to one request.
pub(crate) async fn respond(scans: &Scans, request: Request<Incoming>) -> Response<Body> {
    let mut response = if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET and HEAD are served\n",
        );
        set(&mut r, header::ALLOW, "GET, HEAD");
        r
    } else if has_body(request.headers()) {
        let mut r = plain(StatusCode::PAYLOAD_TOO_LARGE, "a GET has no body\n");
        set(&mut r, header::CONNECTION, "close");
        r
    } else {
        match request.uri().path() {
            "/" => {
                let mut r = Response::new(Body::from(INDEX));
                set(&mut r, header::CONTENT_TYPE, "text/html; charset=utf-8");
                r
            }
            "/metrics" => metrics(scans, request.headers()).await,
            _ => plain(
                StatusCode::NOT_FOUND,
                "not found: the metrics are at /metrics\n",
            ),
        }
    };
    set(&mut response, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(&mut response, header::CACHE_CONTROL, "no-store");
    response
}

async fn metrics(scans: &Scans, headers: &HeaderMap) -> Response<Body> {
    let Some(served) = scans.latest().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "the scan in flight did not end in time\n",
        );
    };
    let metrics = exposition(&served, scans.counters());
    let accept = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    let (text, format) = if wants_openmetrics(&accept) {
        (prometheus::encode_openmetrics(metrics), OPENMETRICS_FORMAT)
    } else {
        (prometheus::encode(metrics), TEXT_FORMAT)
    };
    let mut response = Response::new(Body::from(text));
    set(&mut response, header::CONTENT_TYPE, format);
    response
}

/// Whether an `Accept` header prefers OpenMetrics 1.0.0 (or OpenMetrics of no stated
/// version) to the Prometheus text format: its quality is above zero and at least that of
/// `text/plain` (or of `*/*` when text/plain is not named). What Prometheus sends:
/// `application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1`.
pub(crate) fn wants_openmetrics(accept: &str) -> bool {
    let (mut openmetrics, mut text, mut any) = (0.0f32, None::<f32>, 0.0f32);
    for range in accept.split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("").to_ascii_lowercase();
        let (mut quality, mut version) = (1.0f32, None);
        for param in parts {
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "q" => quality = value.parse().unwrap_or(0.0),
                "version" => version = Some(value.to_string()),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if version.as_deref().is_none_or(|v| v == "1.0.0") => {
                openmetrics = openmetrics.max(quality)
            }
            "text/plain" => text = Some(text.unwrap_or(0.0).max(quality)),
            "*/*" => any = any.max(quality),
            _ => {}
        }
    }
    openmetrics > 0.0 && openmetrics >= text.unwrap_or(any)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openmetrics_only_when_asked_for_and_preferred() {
        assert!(wants_openmetrics(
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        ));
        assert!(wants_openmetrics(
            "application/openmetrics-text; version=1.0.0"
        ));
        assert!(wants_openmetrics("application/openmetrics-text"));
        assert!(!wants_openmetrics(""));
        assert!(!wants_openmetrics("*/*"));
        assert!(!wants_openmetrics("text/plain;version=0.0.4"));
        // Prometheus with the text format first (scrape_protocols), and an older client.
        assert!(!wants_openmetrics(
            "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5"
        ));
        assert!(!wants_openmetrics(
            "application/openmetrics-text;version=0.0.1"
        ));
        assert!(!wants_openmetrics("application/openmetrics-text;q=0"));
        assert!(!wants_openmetrics("application/openmetrics-text;q=junk"));
    }
}
