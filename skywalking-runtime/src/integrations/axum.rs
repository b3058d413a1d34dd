//! [axum]: an entry span per request, named by the matched route (feature `axum`). The
//! spans are those of the [`tower`](super::tower) layer; the service is its own, made
//! for axum's per-request cost (axum clones and boxes a route's layered service for
//! every request): zero-sized beside the route, reading the request where it is, and
//! naming a route's spans with one `'static` string made once.
//!
//! ```
//! use axum::{Router, extract::Path, routing::get};
//! use skywalking_runtime::integrations::axum::ServerLayer;
//!
//! async fn user(Path(id): Path<u64>) -> String {
//!     format!("user {id}")
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(user))
//!     // After the routes: spans are named `GET /users/{id}`.
//!     .layer(ServerLayer::new());
//! ```
//!
//! # Where to add the layer
//!
//! The span is named `METHOD route` from axum's [`MatchedPath`], which the router puts
//! in the request's extensions when it matches a route. axum runs middleware added with
//! [`Router::layer`](::axum::Router::layer) and
//! [`Router::route_layer`](::axum::Router::route_layer) *after* routing, so both see it:
//!
//! - **`Router::layer`** (recommended): every request gets a span. Requests that match no
//!   route reach the fallback, and their spans are named `METHOD (unmatched)`
//!   ([`UNMATCHED`]): the raw path is never used, so unknown paths (scanners, typos,
//!   ids) cannot each become an endpoint in OAP.
//! - **`Router::route_layer`**: only requests that match a route get a span; 404s from
//!   the fallback are not traced.
//! - **Not** around the whole router (`ServiceBuilder::new().layer(..).service(router)`,
//!   or the router served through another layer): that runs *before* routing, sees no
//!   matched route, and names every span `METHOD (unmatched)`.
//!
//! Layers added on a router that is then [`nest`](::axum::Router::nest)ed see the full
//! route (`/api/users/{id}`). The ignore rules and the `url` tag read the request's
//! original URI, before nesting stripped its prefix.
//!
//! # When spans are created, entered and ended
//!
//! As for the [`tower`](super::tower#when-spans-are-created-entered-and-ended) layer: the
//! entry span opens when the route's future is first polled, is current during every
//! poll (so `#[sw::trace]` functions in handlers are its children) and ends with the
//! response head, tagged `http.status_code` (an error from 400 up). With no agent
//! running, the layer only calls the route.
//!
//! # What a request costs
//!
//! Per request, beyond the span itself: one look at the ignore rules, two lookups in
//! the request's extensions ([`OriginalUri`], [`MatchedPath`]), the `url` tag copied
//! into a pooled string, and one pass over the headers for `sw8` and its companions.
//! The span name of a route with a standard method is found in a small per-thread
//! cache by the address of axum's `MatchedPath`; nothing is allocated in steady state
//! (`tests/alloc_axum.rs`). See `benches/axum_layer.rs` for the figures.
//!
//! [axum]: https://docs.rs/axum

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::axum::extract::{MatchedPath, OriginalUri};
use http::request::Parts;
use http::{Extensions, Method, Request, Response, Uri};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use super::http::{self as sw_http, HttpStatus, RequestTags, STANDARD_METHODS};
use super::ignore;
use super::support::{self, CallSpan, Served};

/// What a span is named after its method when no route matched: `GET (unmatched)`.
pub const UNMATCHED: &str = sw_http::UNMATCHED_ROUTE;

/// `METHOD (unmatched)` for each of [`STANDARD_METHODS`], in its order.
const UNMATCHED_NAMES: [&str; 9] = [
    "GET (unmatched)",
    "POST (unmatched)",
    "PUT (unmatched)",
    "DELETE (unmatched)",
    "PATCH (unmatched)",
    "HEAD (unmatched)",
    "OPTIONS (unmatched)",
    "CONNECT (unmatched)",
    "TRACE (unmatched)",
];

/// The span name of an axum request: `METHOD route` from [`MatchedPath`], or
/// `METHOD (unmatched)` ([`UNMATCHED`]) when no route matched.
///
/// ```
/// use axum::extract::MatchedPath;
/// use skywalking_runtime::integrations::axum::operation_name;
///
/// let (parts, ()) = http::Request::get("/users/7").body(()).unwrap().into_parts();
/// assert_eq!(operation_name(&parts), "GET (unmatched)");
/// ```
pub fn operation_name(parts: &Parts) -> Cow<'static, str> {
    span_name(
        &parts.method,
        sw_http::standard_method(&parts.method),
        parts.extensions.get::<MatchedPath>(),
    )
}

/// [`operation_name`] from its pieces: `method`, its index in [`STANDARD_METHODS`] and
/// the matched route. With a standard method, the name is `'static` (a route template
/// is one of the router's, so its name is made once, see [`route_name`]); with another
/// (a client can send any token), it is written per request.
#[inline]
fn span_name(
    method: &Method,
    standard: Option<usize>,
    matched: Option<&MatchedPath>,
) -> Cow<'static, str> {
    match (standard, matched) {
        (Some(index), Some(route)) => route_name(index, route),
        (Some(index), None) => Cow::Borrowed(UNMATCHED_NAMES[index]),
        (None, route) => sw_http::operation_name(
            method.as_str(),
            route.map_or(UNMATCHED, MatchedPath::as_str),
        ),
    }
}

/// Names [`route_name`] keeps per thread in its most-recent list, found by address.
const THREAD_NAMES: usize = 32;

/// A name in [`route_name`]'s most-recent list.
struct Known {
    /// An index in [`STANDARD_METHODS`].
    method: usize,
    route: MatchedPath,
    name: &'static str,
}

/// The names one thread used: the most recent ones by their route's address, and every
/// one by its route's text (up to [`MAX_ROUTE_NAMES`](sw_http::MAX_ROUTE_NAMES)), so
/// that an application with more hot routes than the recent list holds still finds
/// each name on its own thread, with no lock.
#[derive(Default)]
struct ThreadNames {
    /// Most recent last.
    recent: Vec<Known>,
    /// By route text, then by method.
    by_text: std::collections::HashMap<Box<str>, [Option<&'static str>; STANDARD_METHODS.len()]>,
}

thread_local! {
    /// The names this thread used (see [`route_name`]).
    static NAMES: RefCell<ThreadNames> = RefCell::new(ThreadNames::default());
}

/// `METHOD route` for the standard method `method` (an index in [`STANDARD_METHODS`])
/// and a route axum matched, as a `'static` string: from the names this thread used,
/// else from the process-wide table (see
/// [`shared_route_name`](sw_http::shared_route_name)), which takes a lock.
///
/// axum gives every request to a route the same [`MatchedPath`] (it clones one `Arc`
/// per route), so the recent list finds a name by the route's address before comparing
/// text. It keeps a clone of each `MatchedPath` it holds: an address it compares cannot
/// be freed and given to other text meanwhile.
#[inline]
fn route_name(method: usize, route: &MatchedPath) -> Cow<'static, str> {
    let text = route.as_str();
    let known = NAMES
        .try_with(|names| {
            let names = names.try_borrow().ok()?;
            let known = names.recent.iter().rev().find(|known| {
                known.method == method
                    && (std::ptr::eq(known.route.as_str(), text) || known.route.as_str() == text)
            })?;
            Some(known.name)
        })
        .ok()
        .flatten();
    if let Some(name) = known {
        return Cow::Borrowed(name);
    }
    remember(method, route)
}

/// [`route_name`] past the recent list: the name from this thread's table by text,
/// else from the process-wide one; then kept in this thread's recent list (and table).
#[cold]
#[inline(never)]
fn remember(method: usize, route: &MatchedPath) -> Cow<'static, str> {
    let text = route.as_str();
    let on_thread = NAMES
        .try_with(|names| {
            let names = names.try_borrow().ok()?;
            names.by_text.get(text)?.get(method).copied().flatten()
        })
        .ok()
        .flatten();
    let name = match on_thread {
        Some(name) => Cow::Borrowed(name),
        None => {
            #[cfg(test)]
            tests::SHARED_LOOKUPS.with(|n| n.set(n.get() + 1));
            sw_http::shared_route_name(STANDARD_METHODS[method], text)
        }
    };
    if let Cow::Borrowed(name) = name {
        let _ = NAMES.try_with(|names| {
            if let Ok(mut names) = names.try_borrow_mut() {
                if names.recent.len() == THREAD_NAMES {
                    names.recent.remove(0);
                }
                names.recent.push(Known {
                    method,
                    route: route.clone(),
                    name,
                });
                if on_thread.is_none() {
                    let room = names.by_text.len() < sw_http::MAX_ROUTE_NAMES;
                    match names.by_text.get_mut(text) {
                        Some(methods) => methods[method] = Some(name),
                        None if room => {
                            let mut methods = [None; STANDARD_METHODS.len()];
                            methods[method] = Some(name);
                            names.by_text.insert(text.into(), methods);
                        }
                        None => {}
                    }
                }
            }
        });
    }
    name
}

/// The URI as the client sent it (nesting strips a prefix from the request's).
#[inline]
fn original_uri<'a>(extensions: &'a Extensions, uri: &'a Uri) -> &'a Uri {
    match extensions.get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri,
        None => uri,
    }
}

/// A [`Layer`] that gives every request an entry span named by its axum route. Add it
/// with [`Router::layer`](::axum::Router::layer) (see the [module docs](self)).
///
/// axum clones a route's layer for every request it serves (into a new box): the
/// default layer is zero-sized, so that clone allocates nothing. `C` is the component
/// id of the spans: [`HttpComponent`] (49, `http`) unless
/// [`with_component`](Self::with_component) set another (an `i32`).
#[derive(Clone, Copy, Debug)]
#[must_use]
pub struct ServerLayer<C = HttpComponent> {
    component: C,
}

/// The default component of the axum layer's spans, 49 (`http`), as a zero-sized type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpComponent;

/// A component id for [`ServerLayer`]: [`HttpComponent`] or an `i32`.
pub trait ComponentId: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The id (see [`component`](crate::component)).
    fn id(self) -> i32;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::HttpComponent {}
    impl Sealed for i32 {}
}

impl ComponentId for HttpComponent {
    #[inline]
    fn id(self) -> i32 {
        sw_http::HTTP_SERVER
    }
}

impl ComponentId for i32 {
    #[inline]
    fn id(self) -> i32 {
        self
    }
}

impl Default for ServerLayer {
    fn default() -> Self {
        ServerLayer::new()
    }
}

impl ServerLayer {
    /// The layer: spans named by route ([`operation_name`]), component 49 (`http`).
    pub fn new() -> Self {
        ServerLayer {
            component: HttpComponent,
        }
    }
}

impl<C: ComponentId> ServerLayer<C> {
    /// Sets the component id of the entry spans (see [`component`](crate::component));
    /// the default is 49, `http`.
    pub fn with_component(self, component: i32) -> ServerLayer<i32> {
        ServerLayer { component }
    }

    /// The same spans made by the generic [`tower`](super::tower) layer, as this layer
    /// made them before it had a service of its own (the name written per request,
    /// rather than made once per route). For the `axum_layer` bench, which compares the
    /// two in one run, and for `tests/axum_reference.rs`, which checks that both report
    /// the same; not part of the API.
    #[doc(hidden)]
    pub fn __tower_reference(self) -> super::tower::ServerLayer {
        fn uri(parts: &Parts) -> &Uri {
            original_uri(&parts.extensions, &parts.uri)
        }
        fn name(parts: &Parts) -> Cow<'static, str> {
            let route = match parts.extensions.get::<MatchedPath>() {
                Some(path) => path.as_str(),
                None => UNMATCHED,
            };
            sw_http::operation_name(parts.method.as_str(), route)
        }
        super::tower::ServerLayer::new()
            .with_operation_fn(name)
            .with_uri_of(uri)
            .with_component(self.component.id())
    }
}

impl<S, C: ComponentId> Layer<S> for ServerLayer<C> {
    type Service = ServerService<S, C>;

    #[inline]
    fn layer(&self, inner: S) -> Self::Service {
        ServerService {
            inner,
            component: self.component,
        }
    }
}

/// The service [`ServerLayer`] makes: the entry span of each request, around `inner`.
///
/// As small as `inner` with the default layer: axum clones it for every request.
#[derive(Clone, Copy, Debug)]
pub struct ServerService<S, C = HttpComponent> {
    inner: S,
    component: C,
}

impl<S> ServerService<S> {
    /// `inner` with the default [`ServerLayer`].
    pub fn new(inner: S) -> Self {
        ServerLayer::new().layer(inner)
    }
}

impl<S, C> ServerService<S, C> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, R, C> Service<Request<B>> for ServerService<S, C>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Error: fmt::Display,
    C: ComponentId,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    /// Names the span and reads the caller's context now, from the request as it is
    /// (nothing is taken apart or copied); the span opens when the returned future is
    /// first polled (see the [module docs](self)).
    fn call(&mut self, request: Request<B>) -> Self::Future {
        if !support::is_enabled() {
            return ResponseFuture {
                inner: Served::direct(self.inner.call(request)),
            };
        }
        let extensions = request.extensions();
        let uri = original_uri(extensions, request.uri());
        let path = uri.path();
        if ignore::is_ignored(path) {
            let future = self.inner.call(request);
            return ResponseFuture::new(future, None, support::ignored());
        }
        let method = request.method();
        let standard = sw_http::standard_method(method);
        let tags = RequestTags {
            method: match standard {
                Some(index) => Cow::Borrowed(STANDARD_METHODS[index]),
                None => Cow::Owned(method.as_str().to_owned()),
            },
            url: sw_http::url_tag(uri.scheme_str(), uri.authority().map(|a| a.as_str()), path),
        };
        let name = span_name(method, standard, extensions.get::<MatchedPath>());
        let init = sw_http::entry_init(name, self.component.id());
        let span = CallSpan::new(init, support::incoming(request.headers()));
        ResponseFuture::new(self.inner.call(request), Some(tags), span)
    }
}

pin_project! {
    /// The response future of [`ServerService`]: the inner future, run inside the
    /// request's entry span (opened on the first poll, current during each poll, ended
    /// with the response); with no agent recording, the inner future as is.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Served<F, RequestTags, HttpStatus>,
    }
}

impl<F> ResponseFuture<F> {
    #[inline]
    fn new(future: F, tags: Option<RequestTags>, span: CallSpan) -> Self {
        ResponseFuture {
            inner: Served::new(future, tags, span),
        }
    }
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
    E: fmt::Display,
{
    type Output = Result<Response<R>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    thread_local! {
        /// Lookups this thread made in the process-wide table of names.
        pub(super) static SHARED_LOOKUPS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    }

    #[test]
    fn more_hot_routes_than_the_recent_list_holds_take_no_lock_once_seen() {
        let routes: Vec<MatchedPath> = (0..3 * THREAD_NAMES)
            .map(|i| matched(&format!("/hot/{i}/{{id}}")))
            .collect();
        std::thread::spawn(move || {
            for round in 0..3 {
                let before = SHARED_LOOKUPS.with(std::cell::Cell::get);
                for (i, route) in routes.iter().enumerate() {
                    assert_eq!(route_name(1, route), format!("POST /hot/{i}/{{id}}"));
                }
                let lookups = SHARED_LOOKUPS.with(std::cell::Cell::get) - before;
                if round == 0 {
                    assert_eq!(lookups, routes.len(), "each name made or found once");
                } else {
                    assert_eq!(lookups, 0, "round {round}: every name found on the thread");
                }
            }
        })
        .join()
        .expect("the test thread");
    }

    #[test]
    fn the_default_layer_is_zero_sized() {
        // axum boxes a clone of the layer for every request: a zero-sized one is no
        // allocation.
        assert_eq!(std::mem::size_of::<ServerLayer>(), 0);
        assert_eq!(ServerLayer::new().with_component(5).component.id(), 5);
        assert_eq!(ServerLayer::default().component.id(), 49);
        assert_eq!(
            std::mem::size_of::<ServerService<u64>>(),
            std::mem::size_of::<u64>()
        );
    }

    fn parts(method: &str, route: Option<&str>) -> Parts {
        let mut request = http::Request::builder()
            .method(method)
            .uri("/x")
            .body(())
            .expect("a request");
        if let Some(route) = route {
            // `MatchedPath`'s field is axum's: take one from a router that matched.
            request.extensions_mut().insert(matched(route));
        }
        request.into_parts().0
    }

    /// The `MatchedPath` axum's router gives a request to `route`.
    fn matched(route: &str) -> MatchedPath {
        use ::axum::Router;
        use ::axum::body::Body;
        use ::axum::routing::get;
        use tower::ServiceExt;

        let path = route.replace("{id}", "7");
        let router: Router = Router::new().route(
            route,
            get(|request: http::Request<Body>| async move {
                request
                    .extensions()
                    .get::<MatchedPath>()
                    .map(|path| path.as_str().to_owned())
                    .unwrap_or_default()
            }),
        );
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let keep = seen.clone();
        let router = router.layer(tower::util::MapRequestLayer::new(
            move |request: http::Request<Body>| {
                if let Ok(mut seen) = keep.lock() {
                    *seen = request.extensions().get::<MatchedPath>().cloned();
                }
                request
            },
        ));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let request = http::Request::get(path)
            .body(Body::empty())
            .expect("a request");
        runtime
            .block_on(router.oneshot(request))
            .expect("infallible");
        let seen = seen.lock().expect("not poisoned").take();
        seen.expect("the router matched")
    }

    #[test]
    fn spans_are_named_by_method_and_route() {
        let name = operation_name(&parts("GET", Some("/users/{id}")));
        assert!(matches!(name, Cow::Borrowed("GET /users/{id}")), "{name:?}");
        // Made once: the same text, at the same address.
        let again = operation_name(&parts("GET", Some("/users/{id}")));
        assert!(std::ptr::eq(name.as_ref(), again.as_ref()));
        // Same route, other method; same length, other route: not confused.
        assert_eq!(
            operation_name(&parts("PUT", Some("/users/{id}"))),
            "PUT /users/{id}"
        );
        assert_eq!(
            operation_name(&parts("GET", Some("/users/{ix}"))),
            "GET /users/{ix}"
        );
        // A method that is not a standard one: written per request.
        let name = operation_name(&parts("PROPFIND", Some("/users/{id}")));
        assert!(matches!(&name, Cow::Owned(name) if name == "PROPFIND /users/{id}"));
        // No route matched.
        for (index, method) in STANDARD_METHODS.iter().enumerate() {
            assert_eq!(UNMATCHED_NAMES[index], format!("{method} {UNMATCHED}"));
            assert_eq!(operation_name(&parts(method, None)), UNMATCHED_NAMES[index]);
        }
        assert_eq!(
            operation_name(&parts("PROPFIND", None)),
            "PROPFIND (unmatched)"
        );
    }

    #[test]
    fn a_route_is_found_by_its_text_when_axum_made_it_anew() {
        // A nested router's `MatchedPath` is new text for each request: another address.
        let first = matched("/a/{id}");
        let second = matched("/a/{id}");
        assert!(!std::ptr::eq(first.as_str(), second.as_str()));
        let (a, b) = (route_name(0, &first), route_name(0, &second));
        assert!(std::ptr::eq(a.as_ref(), b.as_ref()));
        assert_eq!(b, "GET /a/{id}");
    }
}
