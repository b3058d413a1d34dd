//! Cross-process propagation: the headers that carry a trace from one service to
//! the next.
//!
//! # The headers
//!
//! | header | type | what it carries |
//! |---|---|---|
//! | [`sw8`](SW8) | [`Sw8`], [`Sw8Ref`], [`Sw8Header`] | the trace id and a reference to the caller's segment, span, service, instance and endpoint (SkyWalking Cross Process Propagation Headers Protocol v3) |
//! | [`sw8-correlation`](SW8_CORRELATION) | [`Correlation`] | a few user key/value pairs that travel with the trace (Cross Process Correlation Headers Protocol v1) |
//! | [`sw8-x`](SW8_X) | [`Extension`] | the skip-analysis tracing mode and the client's send timestamp |
//! | [`traceparent`](TRACEPARENT) | [`TraceParent`] | W3C Trace Context, read only as a fallback when no `sw8` is present |
//!
//! # Receiving
//!
//! [`extract`] reads every header from any [`Extractor`] (an [`http::HeaderMap`], a
//! `HashMap`, gRPC metadata, message headers...). It reads `sw8` first and falls back
//! to `traceparent` when there is no valid `sw8`. **A malformed header is treated as
//! absent**: the request starts a fresh trace and is never failed because of a
//! header. Decoding is lenient where real agents differ from the spec (see
//! [`Sw8`]) and every length is capped before any decoding work is done, so no input
//! can make the decoders panic or allocate more than a small multiple of its own size.
//!
//! ```
//! use http::HeaderMap;
//! use skywalking_runtime::propagation::{self, CorrelationLimits, Parent};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(
//!     "sw8",
//!     "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".parse()?,
//! );
//! headers.insert("sw8-correlation", "dGVuYW50:YWNtZQ==".parse()?);
//!
//! let incoming = propagation::extract(&headers, CorrelationLimits::default())
//!     .expect("a valid sw8 header");
//! let Parent::Sw8(parent) = &incoming.parent else { unreachable!() };
//! assert_eq!(parent.trace_id, "trace");
//! assert_eq!(incoming.correlation.get("tenant"), Some("acme"));
//! assert!(!incoming.extension.skip_analysis);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The typed decoders ([`Sw8::decode`], [`Correlation::decode`],
//! [`Extension::decode`], [`TraceParent::decode`]) return a [`HeaderError`] that
//! names what was wrong, for logs and tests.
//!
//! # Sending
//!
//! [`inject`] writes the headers into any [`Injector`]. `sw8` is encoded from
//! borrowed fields ([`Sw8Ref`]) into one exactly sized `String`.
//!
//! ```
//! use std::collections::HashMap;
//! use skywalking_runtime::propagation::{self, Correlation, Extension, Sw8Ref};
//!
//! let sw8 = Sw8Ref {
//!     sample: true,
//!     trace_id: "trace",
//!     parent_segment_id: "segment",
//!     parent_span_id: 3,
//!     parent_service: "svc",
//!     parent_service_instance: "instance",
//!     parent_endpoint: "/checkout",
//!     address_used_at_client: "pay:8080",
//! };
//! let mut headers = HashMap::new();
//! propagation::inject(&mut headers, &sw8, &Correlation::new(), &Extension::default());
//! assert_eq!(headers.len(), 1, "empty correlation and extension are not sent");
//! assert!(headers["sw8"].starts_with("1-dHJhY2U=-"));
//! ```

mod b64;
mod carrier;
mod correlation;
mod error;
mod extension;
mod sw8;
mod traceparent;

pub use carrier::{Extractor, Injector};
pub use correlation::{Correlation, CorrelationLimits, SW8_CORRELATION};
pub use error::HeaderError;
pub use extension::{Extension, SW8_X, SW8_X_MAX_LEN};
pub use sw8::{
    Base64Field, SW8, SW8_MAX_ADDRESS_LEN, SW8_MAX_ENDPOINT_LEN, SW8_MAX_ID_LEN,
    SW8_MAX_INSTANCE_LEN, SW8_MAX_LEN, SW8_MAX_SERVICE_LEN, Sw8, Sw8Header, Sw8Ref,
};
pub(crate) use sw8::{ID_ROOM, Sw8Fields, Text, walk as walk_sw8};
pub use traceparent::{TRACEPARENT, TRACEPARENT_MAX_LEN, TraceParent};

/// Where an incoming trace comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parent {
    /// A SkyWalking caller: continue its trace with a segment reference to it.
    Sw8(Sw8),
    /// A W3C Trace Context caller (no valid `sw8`): keep its trace id, but there is
    /// no SkyWalking segment to reference.
    TraceParent(TraceParent),
}

/// Everything [`extract`] found on an incoming request or message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Incoming {
    /// The caller's context.
    pub parent: Parent,
    /// The `sw8-correlation` data; empty when the header is absent or malformed.
    pub correlation: Correlation,
    /// The `sw8-x` data; the default when the header is absent or malformed.
    pub extension: Extension,
}

impl Incoming {
    /// The `sw8` parent, if the context came from a SkyWalking caller.
    #[must_use]
    pub fn sw8(&self) -> Option<&Sw8> {
        match &self.parent {
            Parent::Sw8(sw8) => Some(sw8),
            Parent::TraceParent(_) => None,
        }
    }

    /// The `traceparent` parent, if the context came from a W3C caller.
    #[must_use]
    pub fn traceparent(&self) -> Option<&TraceParent> {
        match &self.parent {
            Parent::TraceParent(tp) => Some(tp),
            Parent::Sw8(_) => None,
        }
    }
}

/// Reads the incoming context from `carrier`.
///
/// Returns `None` when there is no usable context: no `sw8` and no `traceparent`,
/// or both malformed. Never fails otherwise. In order:
///
/// 1. `sw8`, decoded by [`Sw8::decode`];
/// 2. if that is absent or malformed, `traceparent`, decoded by
///    [`TraceParent::decode`];
/// 3. when either gave a parent, `sw8-correlation` under `limits` (malformed: empty
///    map) and `sw8-x` (malformed: default).
///
/// Correlation data and the extension without a parent are ignored, as the Java agent
/// does.
#[must_use]
pub fn extract<E: Extractor + ?Sized>(carrier: &E, limits: CorrelationLimits) -> Option<Incoming> {
    let from_sw8 = carrier.get(SW8).and_then(|v| Sw8::decode(v).ok());
    let parent = match from_sw8 {
        Some(sw8) => Parent::Sw8(sw8),
        None => Parent::TraceParent(
            carrier
                .get(TRACEPARENT)
                .and_then(|v| TraceParent::decode(v).ok())?,
        ),
    };
    let correlation = carrier
        .get(SW8_CORRELATION)
        .and_then(|v| Correlation::decode(v, limits).ok())
        .unwrap_or_else(|| Correlation::with_limits(limits));
    let extension = carrier
        .get(SW8_X)
        .and_then(|v| Extension::decode(v).ok())
        .unwrap_or_default();
    Some(Incoming {
        parent,
        correlation,
        extension,
    })
}

/// Writes the outgoing context into `carrier`.
///
/// Always sets `sw8`. Sets `sw8-correlation` only when `correlation` is non-empty and
/// `sw8-x` only when `extension` carries something (the Java agent always sends
/// `sw8-x`, as `0- ` at least, which a receiver reads as the default anyway). Existing
/// values of these headers are replaced.
pub fn inject<I: Injector + ?Sized>(
    carrier: &mut I,
    sw8: &Sw8Ref<'_>,
    correlation: &Correlation,
    extension: &Extension,
) {
    carrier.set(SW8, sw8.encode());
    if !correlation.is_empty() {
        carrier.set(SW8_CORRELATION, correlation.encode());
    }
    if !extension.is_empty() {
        carrier.set(SW8_X, extension.encode());
    }
}

/// An `sw8` header as the Java agent sends it, for tests.
#[cfg(test)]
pub(crate) const JAVA_SW8: &str = "1-ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDE=\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzAuNjkuMTYxODEzMzExOTA0NzAwMDI=-3\
    -b3JkZXItc2VydmljZQ==\
    -ZGRkOTJmNTIyMDdjNDY4ZTljZDAzZGRkMTA3Y2Q1MzBAMTAuMC4wLjEy\
    -e0dFVH0vb3JkZXJzL3tpZH0=-cGF5bWVudDo4MDgw";

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use http::HeaderMap;

    use super::*;

    const TRACEPARENT_VALUE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.set(k, (*v).to_owned());
        }
        map
    }

    #[test]
    fn nothing_to_extract() {
        assert_eq!(
            extract(&HeaderMap::new(), CorrelationLimits::default()),
            None
        );
        // Correlation and extension alone are not a context.
        let only_extras = headers(&[(SW8_CORRELATION, "dGVuYW50:YWNtZQ=="), (SW8_X, "1- ")]);
        assert_eq!(extract(&only_extras, CorrelationLimits::default()), None);
        // Malformed is "no context", not an error.
        let bad = headers(&[(SW8, "1-x"), (TRACEPARENT, "00-zz")]);
        assert_eq!(extract(&bad, CorrelationLimits::default()), None);
    }

    #[test]
    fn extracts_java_headers() {
        let map = headers(&[
            (SW8, JAVA_SW8),
            (SW8_CORRELATION, "dGVuYW50:YWNtZQ==,dXNlci5pZA==:NDI="),
            (SW8_X, "1-1700000000123"),
            (TRACEPARENT, TRACEPARENT_VALUE),
        ]);
        let incoming = extract(&map, CorrelationLimits::default()).expect("context");
        let sw8 = incoming.sw8().expect("sw8 wins over traceparent");
        assert_eq!(
            sw8.trace_id,
            "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001"
        );
        assert_eq!(sw8.parent_endpoint, "{GET}/orders/{id}");
        assert_eq!(incoming.traceparent(), None);
        assert_eq!(incoming.correlation.get("user.id"), Some("42"));
        assert_eq!(
            incoming.extension,
            Extension {
                skip_analysis: true,
                send_timestamp_ms: Some(1_700_000_000_123)
            }
        );
    }

    #[test]
    fn falls_back_to_traceparent() {
        for sw8 in [
            None,
            Some("garbage"),
            Some("1-dA==-cw==--1-c3Zj-aW5z-L2E=-aDo4MA=="),
        ] {
            let mut pairs = vec![(TRACEPARENT, TRACEPARENT_VALUE)];
            if let Some(v) = sw8 {
                pairs.push((SW8, v));
            }
            let incoming = extract(&headers(&pairs), CorrelationLimits::default())
                .expect("traceparent fallback");
            assert_eq!(incoming.sw8(), None);
            let tp = incoming.traceparent().expect("traceparent");
            assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(tp.sampled);
        }
    }

    #[test]
    fn malformed_extras_degrade_to_defaults() {
        let limits = CorrelationLimits::new(3, 128).with_max_header_len(8);
        let map = headers(&[
            (SW8, JAVA_SW8),
            (SW8_CORRELATION, "dGVuYW50:YWNtZQ=="),
            (SW8_X, "7-x"),
        ]);
        let incoming = extract(&map, limits).expect("context");
        assert!(incoming.correlation.is_empty(), "over the header cap");
        assert_eq!(incoming.correlation.limits(), limits);
        assert_eq!(incoming.extension, Extension::default());
    }

    fn check_carrier<C: Injector + Extractor>(
        mut carrier: C,
        sw8: &Sw8,
        c: &Correlation,
        e: &Extension,
    ) {
        inject(&mut carrier, &sw8.view(), c, e);
        assert_eq!(carrier.get(SW8), Some(JAVA_SW8));
        let incoming = extract(&carrier, CorrelationLimits::default()).expect("context");
        assert_eq!(incoming.sw8(), Some(sw8));
        assert_eq!(&incoming.correlation, c);
        assert_eq!(&incoming.extension, e);
    }

    #[test]
    fn inject_then_extract_through_every_carrier() {
        let sw8 = Sw8::decode(JAVA_SW8).expect("valid");
        let mut correlation = Correlation::new();
        correlation.insert("tenant", "acme");
        let extension = Extension {
            skip_analysis: true,
            send_timestamp_ms: None,
        };
        check_carrier(HeaderMap::new(), &sw8, &correlation, &extension);
        check_carrier(
            HashMap::<String, String>::new(),
            &sw8,
            &correlation,
            &extension,
        );
        check_carrier(
            BTreeMap::<String, String>::new(),
            &sw8,
            &correlation,
            &extension,
        );
    }

    #[test]
    fn inject_skips_empty_extras() {
        let sw8 = Sw8::decode(JAVA_SW8).expect("valid");
        let mut map = HashMap::<String, String>::new();
        inject(
            &mut map,
            &sw8.view(),
            &Correlation::new(),
            &Extension::default(),
        );
        assert_eq!(map.len(), 1);
        // dyn carriers.
        let dyn_map: &mut dyn Injector = &mut map;
        inject(
            dyn_map,
            &sw8.view(),
            &Correlation::new(),
            &Extension::default(),
        );
        assert_eq!(
            extract(&map as &dyn Extractor, CorrelationLimits::default()).map(|i| i.parent),
            Some(Parent::Sw8(sw8))
        );
    }
}
