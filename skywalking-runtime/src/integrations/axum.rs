//! [axum]: the [`tower`](super::tower) entry-span layer, naming spans by the matched
//! route (feature `axum`).
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
//! [axum]: https://docs.rs/axum

use std::borrow::Cow;

use ::axum::extract::{MatchedPath, OriginalUri};
use http::Uri;
use http::request::Parts;
use tower_layer::Layer;

use super::http as sw_http;
use super::tower as sw_tower;
// The service and response future of `ServerLayer` are the tower integration's.
pub use super::tower::{ResponseFuture, ServerService};

/// What a span is named after its method when no route matched: `GET (unmatched)`.
pub const UNMATCHED: &str = sw_http::UNMATCHED_ROUTE;

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
    let route = match parts.extensions.get::<MatchedPath>() {
        Some(path) => path.as_str(),
        None => UNMATCHED,
    };
    // A route template: one of the router's, so its name is made once (see
    // `route_name`).
    sw_http::route_name(parts.method.as_str(), route)
}

/// The URI as the client sent it (nesting strips a prefix from `parts.uri`).
fn original_uri(parts: &Parts) -> &Uri {
    match parts.extensions.get::<OriginalUri>() {
        Some(OriginalUri(uri)) => uri,
        None => &parts.uri,
    }
}

/// A [`Layer`] that gives every request an entry span named by its axum route. Add it
/// with [`Router::layer`](::axum::Router::layer) (see the [module docs](self)).
///
/// The service it makes is the [`tower`](super::tower) one, [`ServerService`].
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
}

impl<S, C: ComponentId> Layer<S> for ServerLayer<C> {
    type Service = ServerService<S>;

    #[inline]
    fn layer(&self, inner: S) -> Self::Service {
        sw_tower::ServerLayer::new()
            .with_operation_fn(operation_name)
            .with_uri_of(original_uri)
            .with_component(self.component.id())
            .layer(inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_layer_is_zero_sized() {
        // axum boxes a clone of the layer for every request: a zero-sized one is no
        // allocation.
        assert_eq!(std::mem::size_of::<ServerLayer>(), 0);
        assert_eq!(ServerLayer::new().with_component(5).component.id(), 5);
        assert_eq!(ServerLayer::default().component.id(), 49);
    }
}
