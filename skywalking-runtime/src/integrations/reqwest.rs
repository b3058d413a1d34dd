//! [reqwest]: an exit span for each request, and `sw8` in its headers (feature
//! `reqwest`).
//!
//! reqwest has no middleware of its own, so the integration is a method to call instead
//! of `send()`: [`RequestBuilderExt::send_traced`], or [`execute`] for a built
//! [`reqwest::Request`] (instead of `Client::execute`). The futures they return are not
//! boxed.
//!
//! ```
//! use skywalking_runtime::integrations::reqwest::RequestBuilderExt;
//!
//! #[skywalking_runtime::trace]
//! async fn price(client: &reqwest::Client, sku: &str) -> reqwest::Result<String> {
//!     client
//!         .get(format!("http://pricing:8080/prices/{sku}"))
//!         .send_traced() // instead of .send()
//!         .await?
//!         .text()
//!         .await
//! }
//! ```
//!
//! # When spans are created, entered and ended
//!
//! Nothing happens until the returned future is first polled. On the **first poll** the
//! exit span opens, as a child of the span current then (the caller's `#[sw::trace]`
//! function, or the entry span of the request being handled) or, with no trace active,
//! as the first span of a new trace. It is named `METHOD /path`, its peer is the URL's
//! `host:port` (the port defaulting from the scheme), and it is tagged `http.method`
//! and `url` (without the query string). `sw8` is then **written into the request
//! headers** and the request is sent. The span is current while the request is in
//! flight and **ends when the response head arrives** (the body is read afterwards,
//! outside it), tagged `http.status_code`. A status of 400 or more, or a
//! `reqwest::Error` (connect failure, timeout...), whose text is logged on the span,
//! marks it as an error. A request that fails to build (a bad URL) is returned as the
//! error with no span. Exit spans are layer `Http`, component 2 (`HttpClient`). With
//! no agent running, the request is sent as `send()` would (no span, no header).
//!
//! [reqwest]: https://docs.rs/reqwest

use std::future::Future;

use ::reqwest::{Client, Request, RequestBuilder, Response, Result};
use tower_service::Service;

use super::http::{self as sw_http, HasStatus, HttpStatus, RequestTags};
use super::support::{self, CallSpan, Outbound, Traced};

mod sealed {
    pub trait Sealed {}
    impl Sealed for ::reqwest::RequestBuilder {}
}

/// Sends a [`RequestBuilder`]'s request with an exit span (see the
/// [module docs](self)).
pub trait RequestBuilderExt: sealed::Sealed {
    /// Like [`RequestBuilder::send`], inside an exit span, with the trace passed on in
    /// the request headers.
    fn send_traced(self) -> impl Future<Output = Result<Response>> + Send + 'static;
}

impl RequestBuilderExt for RequestBuilder {
    fn send_traced(self) -> impl Future<Output = Result<Response>> + Send + 'static {
        let (client, request) = self.build_split();
        traced(client, request)
    }
}

/// Like [`Client::execute`], inside an exit span, with the trace passed on in the
/// request headers (see the [module docs](self)).
///
/// ```
/// # async fn f() -> reqwest::Result<()> {
/// let client = reqwest::Client::new();
/// let request = client.get("http://127.0.0.1:8080/health").build()?;
/// let response = skywalking_runtime::integrations::reqwest::execute(&client, request).await?;
/// # let _ = response;
/// # Ok(()) }
/// ```
pub fn execute(
    client: &Client,
    request: Request,
) -> impl Future<Output = Result<Response>> + Send + 'static {
    traced(client.clone(), Ok(request))
}

/// A request that failed to build is returned as the error, with no span.
fn traced(
    client: Client,
    request: Result<Request>,
) -> impl Future<Output = Result<Response>> + Send + 'static {
    let call = request.map(|request| call(client, request));
    async move { call?.await }
}

/// The exit span of `request`, sent through `client` on the first poll: the same path
/// as the hyper client's (`integrations::hyper`).
fn call(
    mut client: Client,
    request: Request,
) -> Traced<Outbound<Client, Request, RequestTags>, <Client as Service<Request>>::Future, HttpStatus>
{
    if !support::is_enabled() {
        return Traced::running(client.call(request), CallSpan::off());
    }
    let url = request.url();
    let peer = match url.host_str() {
        Some(host) => sw_http::peer(Some(url.scheme()), host, url.port()),
        None => "".into(),
    };
    let name = sw_http::operation_name(request.method().as_str(), url.path());
    let tags = RequestTags {
        method: sw_http::method_tag(request.method().as_str()),
        url: sw_http::url_tag(Some(url.scheme()), Some(authority(url)), url.path()),
    };
    let init = sw_http::exit_init(name, peer, sw_http::HTTP_CLIENT);
    Traced::new(
        Outbound::new(client, request, tags),
        CallSpan::new(init, None),
    )
}

impl support::Carrier for Request {
    fn headers_mut(&mut self) -> &mut http::HeaderMap {
        Request::headers_mut(self)
    }
}

impl HasStatus for Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// `host[:port]` of a URL as written (`url::Url` has no authority accessor).
fn authority(url: &::reqwest::Url) -> &str {
    let after_scheme = &url.as_str()[url.scheme().len()..];
    let after_slashes = after_scheme.trim_start_matches(':').trim_start_matches('/');
    let end = after_slashes
        .find(['/', '?', '#'])
        .unwrap_or(after_slashes.len());
    let authority = &after_slashes[..end];
    // Credentials are not part of the URL tag.
    match authority.rfind('@') {
        Some(at) => &authority[at + 1..],
        None => authority,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_without_credentials() {
        let url = |s: &str| ::reqwest::Url::parse(s).unwrap();
        assert_eq!(authority(&url("http://api:8080/x?q=1")), "api:8080");
        assert_eq!(authority(&url("https://user:pw@api/x")), "api");
        assert_eq!(authority(&url("http://[::1]:9000")), "[::1]:9000");
        assert_eq!(authority(&url("http://api#frag")), "api");
    }
}
