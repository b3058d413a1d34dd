//! What the HTTP integrations share: span shapes, the tags OAP reads, the status rules,
//! and the [`Outcome`](super::support::Outcome) of a call that got a response head.
//!
//! The conventions they follow are in the [parent module's docs](super#http-conventions).

use std::borrow::Cow;
#[cfg(any(feature = "tower", feature = "reqwest", feature = "actix-web"))]
use std::fmt;

#[cfg(any(feature = "tower", feature = "actix-web"))]
use crate::record::component;
use crate::record::{SpanKind, SpanLayer};
use crate::trace::context::SpanInit;
use crate::trace::span::SpanRef;

use super::support::Tags;
#[cfg(any(feature = "tower", feature = "reqwest"))]
use super::support::{CallSpan, Outcome};

#[cfg(any(feature = "hyper", feature = "reqwest"))]
/// `HttpClient` in OAP's `component-libraries.yml`: the id the Node.js and .NET agents
/// give their HTTP client spans.
pub(crate) const HTTP_CLIENT: i32 = 2;
#[cfg(any(feature = "tower", feature = "actix-web"))]
/// `http`: the generic HTTP server id.
pub(crate) const HTTP_SERVER: i32 = component::HTTP;

/// The tag keys OAP reads or indexes.
pub(crate) const TAG_METHOD: &str = "http.method";
pub(crate) const TAG_URL: &str = "url";
pub(crate) const TAG_STATUS: &str = "http.status_code";

/// The first status that marks a span as an error, as the Java (Tomcat, HttpClient) and
/// Go (net/http) agents do: OAP's success rate counts error spans.
pub(crate) const ERROR_STATUS: u16 = 400;

#[cfg(any(feature = "axum", feature = "actix-web"))]
/// What an entry span is named when the framework matched no route (a 404 from the
/// fallback): `GET (unmatched)`. A fixed text, so that unknown paths do not each become an
/// endpoint in OAP.
pub(crate) const UNMATCHED_ROUTE: &str = "(unmatched)";

#[cfg(any(feature = "tower", feature = "actix-web"))]
/// The entry span of a server request.
pub(crate) fn entry_init(name: Cow<'static, str>, component: i32) -> SpanInit {
    SpanInit {
        kind: SpanKind::Entry,
        name,
        peer: Cow::Borrowed(""),
        layer: SpanLayer::Http,
        component,
    }
}

#[cfg(any(feature = "hyper", feature = "reqwest"))]
/// The exit span of a client request to `peer`.
pub(crate) fn exit_init(
    name: Cow<'static, str>,
    peer: Cow<'static, str>,
    component: i32,
) -> SpanInit {
    SpanInit {
        kind: SpanKind::Exit,
        name,
        peer,
        layer: SpanLayer::Http,
        component,
    }
}

/// The methods of RFC 9110 and PATCH.
pub(crate) const STANDARD_METHODS: [&str; 9] = [
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE",
];

#[cfg(feature = "axum")]
/// The index of `method` in [`STANDARD_METHODS`], `None` for an extension method (a
/// client can send any token). Compares `http`'s inner enum, not text.
#[inline]
pub(crate) fn standard_method(method: &http::Method) -> Option<usize> {
    use http::Method;
    // Most requests first.
    const BY_INDEX: [Method; 9] = [
        Method::GET,
        Method::POST,
        Method::PUT,
        Method::DELETE,
        Method::PATCH,
        Method::HEAD,
        Method::OPTIONS,
        Method::CONNECT,
        Method::TRACE,
    ];
    BY_INDEX.iter().position(|m| m == method)
}

/// A method as a tag value; the standard ones without allocating. Takes the text so
/// that both `http` 1 and actix-web's `http` 0.2 methods fit.
pub(crate) fn method_tag(method: &str) -> Cow<'static, str> {
    match STANDARD_METHODS.iter().find(|m| **m == method) {
        Some(m) => Cow::Borrowed(m),
        None => Cow::Owned(method.to_owned()),
    }
}

/// A status code as a tag value; the common ones without allocating.
pub(crate) fn status_tag(status: u16) -> Cow<'static, str> {
    Cow::Borrowed(match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        301 => "301",
        302 => "302",
        304 => "304",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        409 => "409",
        422 => "422",
        429 => "429",
        500 => "500",
        502 => "502",
        503 => "503",
        504 => "504",
        other => return Cow::Owned(other.to_string()),
    })
}

/// `METHOD route`: the operation name of an entry span. Written into a spare string
/// of this thread (see [`crate::trace::pool::take_text`]): in steady state, the text of
/// spans the reporter is done with, so naming a span allocates nothing.
pub(crate) fn operation_name(method: &str, route: &str) -> Cow<'static, str> {
    let mut name = crate::trace::pool::take_text();
    name.reserve(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    Cow::Owned(name)
}

#[cfg(feature = "axum")]
/// `METHOD route` for a standard `method` (one of [`STANDARD_METHODS`]) and a route
/// template the framework matched, as a `'static` string made once per distinct name
/// and shared by every thread: routes come from the application's router, so there are
/// few, and a span named by one then costs no string per request (and the reporter
/// recognises the name by its address). The axum layer keeps the names its thread used
/// in a cache of its own and comes here on a miss. Past [`MAX_ROUTE_NAMES`] distinct
/// names (a router built per request, say), names are written per request, as
/// [`operation_name`] does.
pub(crate) fn shared_route_name(method: &'static str, route: &str) -> Cow<'static, str> {
    use std::sync::Mutex;

    static SHARED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

    let is = |name: &str| {
        name.len() == method.len() + 1 + route.len()
            && name.as_bytes().get(method.len()) == Some(&b' ')
            && name.starts_with(method)
            && name.ends_with(route)
    };
    let Ok(mut shared) = SHARED.lock() else {
        return operation_name(method, route);
    };
    match shared.iter().find(|name| is(name)) {
        Some(name) => Cow::Borrowed(*name),
        None if shared.len() < MAX_ROUTE_NAMES => {
            let name: &'static str = Box::leak(format!("{method} {route}").into_boxed_str());
            shared.push(name);
            Cow::Borrowed(name)
        }
        None => operation_name(method, route),
    }
}

#[cfg(feature = "axum")]
/// Distinct route names [`shared_route_name`] keeps for the life of the process.
pub(crate) const MAX_ROUTE_NAMES: usize = 1024;

/// The `url` tag for a request target: `scheme://authority/path` when the target names
/// them, else the path; never the query, nor credentials (`user:password@` in the
/// authority, which `http::Uri` keeps). Written into a spare string, as
/// [`operation_name`].
pub(crate) fn url_tag(
    scheme: Option<&str>,
    authority: Option<&str>,
    path: &str,
) -> Cow<'static, str> {
    let path = if path.is_empty() { "/" } else { path };
    let authority = authority.map(|a| a.rsplit_once('@').map_or(a, |(_, host)| host));
    let mut url = crate::trace::pool::take_text();
    match (scheme, authority) {
        (Some(scheme), Some(authority)) => {
            url.reserve(scheme.len() + 3 + authority.len() + path.len());
            url.push_str(scheme);
            url.push_str("://");
            url.push_str(authority);
            url.push_str(path);
        }
        _ => url.push_str(path),
    }
    Cow::Owned(url)
}

#[cfg(any(feature = "hyper", feature = "reqwest"))]
/// `host:port` for a client span's peer, the port defaulting from the scheme (80 for
/// `http`, 443 for `https`; none for other schemes without a port).
pub(crate) fn peer(scheme: Option<&str>, host: &str, port: Option<u16>) -> Cow<'static, str> {
    let port = port.or(match scheme {
        Some(s) if s.eq_ignore_ascii_case("https") || s.eq_ignore_ascii_case("wss") => Some(443),
        Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("ws") => Some(80),
        _ => None,
    });
    match port {
        Some(port) => Cow::Owned(format!("{host}:{port}")),
        None => Cow::Owned(host.to_owned()),
    }
}

#[cfg(feature = "hyper")]
/// `peer` for an `http` 1 URI, falling back to a `Host` header value when the URI has no
/// authority (an origin-form request handed to a connection).
pub(crate) fn peer_of_uri(uri: &http::Uri, host_header: Option<&str>) -> Cow<'static, str> {
    match uri.host() {
        Some(host) => peer(uri.scheme_str(), host, uri.port_u16()),
        None => match host_header {
            Some(host) => Cow::Owned(host.to_owned()),
            None => Cow::Borrowed(""),
        },
    }
}

/// Marks `span` with a response status: the tag, and the error flag from
/// [`ERROR_STATUS`] (400) up.
pub(crate) fn record_status(span: SpanRef, status: u16) {
    if !span.is_recording() {
        return;
    }
    span.add_tag(TAG_STATUS, status_tag(status));
    if status >= ERROR_STATUS {
        span.set_error(true);
    }
}

#[cfg(feature = "actix-web")]
/// Logs `error` on `span` the way [`SpanRef::record_error`] does, without marking the
/// span as failed (for an error response whose status decides that).
pub(crate) fn log_error(span: SpanRef, error: &dyn fmt::Display) {
    if span.is_recording() {
        span.add_log([
            ("event", Cow::Borrowed("error")),
            ("error.kind", Cow::Borrowed("error")),
            ("message", Cow::Owned(error.to_string())),
        ]);
    }
}

/// The tags known when a request starts, added when its span opens.
#[derive(Debug)]
pub(crate) struct RequestTags {
    pub(crate) method: Cow<'static, str>,
    pub(crate) url: Cow<'static, str>,
}

impl Tags for RequestTags {
    fn apply(self, span: SpanRef) {
        if !span.is_recording() {
            // An unsampled trace: no segment keeps the `url`. Its string goes back to
            // this thread's spares, for the next request's (see `url_tag`), instead of
            // being freed here and allocated again there.
            crate::trace::pool::give_text(self.url);
            return;
        }
        span.add_tag(TAG_METHOD, self.method);
        span.add_tag(TAG_URL, self.url);
    }
}

#[cfg(any(feature = "tower", feature = "reqwest"))]
/// A response with an HTTP status.
pub(crate) trait HasStatus {
    /// The status code.
    fn status_code(&self) -> u16;
}

#[cfg(feature = "tower")]
impl<B> HasStatus for http::Response<B> {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

#[cfg(any(feature = "tower", feature = "reqwest"))]
/// The [`Outcome`] of an HTTP call: the status tag, an error from 400 up, or the error
/// (logged on the span) of a call that got no response. The call is over with the
/// response head.
#[derive(Debug)]
pub(crate) enum HttpStatus {}

#[cfg(any(feature = "tower", feature = "reqwest"))]
impl<T: HasStatus, E: fmt::Display> Outcome<Result<T, E>> for HttpStatus {
    type Output = Result<T, E>;

    fn record(output: &Result<T, E>, span: SpanRef) -> bool {
        match output {
            Ok(response) => record_status(span, response.status_code()),
            Err(error) => span.record_error(error),
        }
        true
    }

    fn finish(output: Result<T, E>, _: Option<CallSpan>) -> Result<T, E> {
        output
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_without_allocation_for_common_values() {
        assert!(matches!(method_tag("GET"), Cow::Borrowed("GET")));
        assert_eq!(method_tag("PROPFIND"), "PROPFIND");
        assert!(matches!(status_tag(404), Cow::Borrowed("404")));
        assert_eq!(status_tag(418), "418");
    }

    #[test]
    fn urls_never_carry_the_query() {
        let uri: http::Uri = "/users/7?token=secret".parse().unwrap();
        assert_eq!(url_tag(uri.scheme_str(), None, uri.path()), "/users/7");
        let uri: http::Uri = "http://api:8080/users/7?token=secret".parse().unwrap();
        assert_eq!(
            url_tag(
                uri.scheme_str(),
                uri.authority().map(|a| a.as_str()),
                uri.path()
            ),
            "http://api:8080/users/7"
        );
        assert_eq!(url_tag(Some("http"), Some("a"), ""), "http://a/");
        let uri: http::Uri = "http://user:secret@db.internal:8080/x?token=1"
            .parse()
            .expect("a URI with credentials");
        assert_eq!(
            url_tag(
                uri.scheme_str(),
                uri.authority().map(|a| a.as_str()),
                uri.path()
            ),
            "http://db.internal:8080/x",
            "no credentials in the url tag"
        );
    }

    #[cfg(feature = "hyper")]
    #[test]
    fn peers_have_a_port() {
        let peer_of = |s: &str| peer_of_uri(&s.parse().unwrap(), None);
        assert_eq!(peer_of("http://api/x"), "api:80");
        assert_eq!(peer_of("https://api/x"), "api:443");
        assert_eq!(peer_of("http://api:8080/x"), "api:8080");
        assert_eq!(peer_of("http://[::1]:9000/x"), "[::1]:9000");
        assert_eq!(
            peer_of_uri(&"/x".parse().unwrap(), Some("api:81")),
            "api:81"
        );
        assert_eq!(peer_of_uri(&"/x".parse().unwrap(), None), "");
    }

    #[test]
    fn the_url_of_a_span_that_records_nothing_serves_the_next_request() {
        let tags = RequestTags {
            method: method_tag("GET"),
            url: url_tag(None, None, "/users/7"),
        };
        tags.apply(crate::trace::call::noop());
        // This thread's spare strings had none (a test runs on a thread of its own):
        // the one it has now is the `url`, emptied, with its capacity.
        let spare = crate::trace::pool::take_text();
        assert!(spare.is_empty());
        assert!(spare.capacity() >= "/users/7".len(), "the url's string");
    }

    #[test]
    fn operation_names() {
        assert_eq!(operation_name("GET", "/users/{id}"), "GET /users/{id}");
    }

    #[cfg(feature = "axum")]
    #[test]
    fn route_names_are_made_once_and_shared() {
        let (a, b) = (
            shared_route_name("GET", "/users/{id}"),
            shared_route_name("GET", "/users/{id}"),
        );
        match (&a, &b) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("not shared: {a:?} {b:?}"),
        }
        assert_eq!(a, "GET /users/{id}");
        // Same length, other text: not confused.
        assert_eq!(shared_route_name("PUT", "/users/{id}"), "PUT /users/{id}");
        assert_eq!(shared_route_name("GET", "/users/{ix}"), "GET /users/{ix}");
        // From another thread: the shared name.
        let other = std::thread::spawn(|| match shared_route_name("GET", "/users/{id}") {
            Cow::Borrowed(name) => name as *const str as *const u8 as usize,
            Cow::Owned(_) => 0,
        })
        .join()
        .expect("joined");
        assert_eq!(other, a.as_ptr() as usize);
    }

    #[cfg(feature = "axum")]
    #[test]
    fn standard_methods_are_found_by_index() {
        for (index, name) in STANDARD_METHODS.iter().enumerate() {
            let method = http::Method::from_bytes(name.as_bytes()).expect("a method");
            assert_eq!(standard_method(&method), Some(index), "{name}");
        }
        let method = http::Method::from_bytes(b"PROPFIND").expect("a method");
        assert_eq!(standard_method(&method), None);
    }
}
