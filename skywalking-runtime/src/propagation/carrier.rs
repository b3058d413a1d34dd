//! Carriers: where headers are read from and written to.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::{SW8, SW8_CORRELATION, SW8_X, TRACEPARENT};

/// Read access to the headers of an incoming request or message.
///
/// Implemented for [`http::HeaderMap`], `HashMap<String, String>` and
/// `BTreeMap<String, String>`, and through `&T` / `&mut T`. Any transport with
/// string headers (gRPC metadata, Kafka or AMQP headers) needs only this one method:
///
/// ```
/// use skywalking_runtime::propagation::Extractor;
///
/// /// Headers of some message queue client.
/// struct Message {
///     headers: Vec<(String, Vec<u8>)>,
/// }
///
/// impl Extractor for Message {
///     fn get(&self, key: &str) -> Option<&str> {
///         let (_, value) = self.headers.iter().find(|(k, _)| k == key)?;
///         std::str::from_utf8(value).ok()
///     }
/// }
/// ```
pub trait Extractor {
    /// The value of header `key`, or `None` when it is absent or not text.
    ///
    /// `key` is one of the lowercase header names of this module. Case-insensitive
    /// carriers (HTTP) match any case; plain maps match exactly.
    fn get(&self, key: &str) -> Option<&str>;
}

/// Write access to the headers of an outgoing request or message.
///
/// Implemented for [`http::HeaderMap`], `HashMap<String, String>` and
/// `BTreeMap<String, String>`, and through `&mut T`. Setting a key replaces any
/// previous value. A carrier that cannot hold a value skips it silently: propagation
/// must never fail the host's request.
///
/// ```
/// use std::collections::HashMap;
/// use skywalking_runtime::propagation::{Injector, SW8_X};
///
/// let mut headers = HashMap::new();
/// headers.set(SW8_X, "1- ".to_owned());
/// assert_eq!(headers["sw8-x"], "1- ");
/// ```
pub trait Injector {
    /// Sets header `key` (one of this module's header names) to `value`.
    fn set(&mut self, key: &'static str, value: String);
}

impl<T: Extractor + ?Sized> Extractor for &T {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

impl<T: Extractor + ?Sized> Extractor for &mut T {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }
}

impl<T: Injector + ?Sized> Injector for &mut T {
    fn set(&mut self, key: &'static str, value: String) {
        (**self).set(key, value);
    }
}

/// Lenient: a value that is not visible ASCII (`HeaderValue::to_str` fails) counts as
/// absent. With repeated headers, the first one wins.
impl Extractor for HeaderMap {
    fn get(&self, key: &str) -> Option<&str> {
        HeaderMap::get(self, key)?.to_str().ok()
    }
}

/// An invalid value (one containing control characters, which the codecs of this
/// module never produce) or an invalid header name is skipped silently.
impl Injector for HeaderMap {
    fn set(&mut self, key: &'static str, value: String) {
        let Some(name) = header_name(key) else {
            return;
        };
        if let Ok(value) = HeaderValue::try_from(value) {
            self.insert(name, value);
        }
    }
}

/// The `HeaderName` for `key`, built at compile time for this module's headers.
fn header_name(key: &'static str) -> Option<HeaderName> {
    const NAME_SW8: HeaderName = HeaderName::from_static(SW8);
    const NAME_SW8_CORRELATION: HeaderName = HeaderName::from_static(SW8_CORRELATION);
    const NAME_SW8_X: HeaderName = HeaderName::from_static(SW8_X);
    const NAME_TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT);
    Some(match key {
        SW8 => NAME_SW8,
        SW8_CORRELATION => NAME_SW8_CORRELATION,
        SW8_X => NAME_SW8_X,
        TRACEPARENT => NAME_TRACEPARENT,
        other => HeaderName::from_bytes(other.as_bytes()).ok()?,
    })
}

/// Exact-match lookup.
impl<S: BuildHasher> Extractor for HashMap<String, String, S> {
    fn get(&self, key: &str) -> Option<&str> {
        HashMap::get(self, key).map(String::as_str)
    }
}

impl<S: BuildHasher> Injector for HashMap<String, String, S> {
    fn set(&mut self, key: &'static str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

/// Exact-match lookup.
impl Extractor for BTreeMap<String, String> {
    fn get(&self, key: &str) -> Option<&str> {
        BTreeMap::get(self, key).map(String::as_str)
    }
}

impl Injector for BTreeMap<String, String> {
    fn set(&mut self, key: &'static str, value: String) {
        self.insert(key.to_owned(), value);
    }
}

/// tonic request metadata (feature `grpc`), for handlers and interceptors that see a
/// `tonic::Request` rather than the HTTP request: lenient like [`HeaderMap`].
#[cfg(feature = "grpc")]
impl Extractor for tonic::metadata::MetadataMap {
    fn get(&self, key: &str) -> Option<&str> {
        tonic::metadata::MetadataMap::get(self, key)?.to_str().ok()
    }
}

/// An invalid value is skipped silently, as for [`HeaderMap`].
#[cfg(feature = "grpc")]
impl Injector for tonic::metadata::MetadataMap {
    fn set(&mut self, key: &'static str, value: String) {
        if let Ok(value) = value.parse() {
            self.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<C: Injector + Extractor>(mut carrier: C) {
        carrier.set(SW8, "1-a".to_owned());
        carrier.set(SW8, "1-b".to_owned());
        carrier.set(SW8_X, "0- ".to_owned());
        assert_eq!(Extractor::get(&carrier, SW8), Some("1-b"));
        assert_eq!(Extractor::get(&carrier, SW8_X), Some("0- "));
        assert_eq!(Extractor::get(&carrier, SW8_CORRELATION), None);
        // Forwarding impls.
        assert_eq!(Extractor::get(&&carrier, SW8), Some("1-b"));
        let mut by_ref = &mut carrier;
        Injector::set(&mut by_ref, TRACEPARENT, "00".to_owned());
        assert_eq!(Extractor::get(&by_ref, TRACEPARENT), Some("00"));
    }

    #[test]
    fn maps_round_trip() {
        round_trip(HeaderMap::new());
        round_trip(HashMap::<String, String>::new());
        round_trip(BTreeMap::<String, String>::new());
    }

    #[test]
    fn header_map_is_case_insensitive_and_lenient() {
        let mut headers = HeaderMap::new();
        headers.insert("SW8", HeaderValue::from_static("1-x"));
        headers.insert(
            SW8_X,
            HeaderValue::from_bytes(b"1-\xff").expect("obs-text is a valid value"),
        );
        assert_eq!(Extractor::get(&headers, SW8), Some("1-x"));
        assert_eq!(Extractor::get(&headers, "Sw8"), Some("1-x"));
        assert_eq!(Extractor::get(&headers, SW8_X), None, "not visible ASCII");
        assert_eq!(Extractor::get(&headers, "not a header name"), None);
    }

    #[test]
    fn header_map_skips_invalid_values_and_names() {
        let mut headers = HeaderMap::new();
        headers.set(SW8, "bad\nvalue".to_owned());
        headers.set("bad name", "x".to_owned());
        headers.set("x-custom", "ok".to_owned());
        assert!(headers.get(SW8).is_none());
        assert_eq!(headers.len(), 1);
        assert_eq!(Extractor::get(&headers, "x-custom"), Some("ok"));
    }

    #[test]
    fn plain_maps_are_exact() {
        let mut map = HashMap::<String, String>::new();
        map.insert("SW8".to_owned(), "1-x".to_owned());
        assert_eq!(Extractor::get(&map, SW8), None);
    }

    #[test]
    fn dyn_carriers_work() {
        let mut map = BTreeMap::<String, String>::new();
        let injector: &mut dyn Injector = &mut map;
        injector.set(SW8, "v".to_owned());
        let extractor: &dyn Extractor = &map;
        assert_eq!(extractor.get(SW8), Some("v"));
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn tonic_metadata_round_trips_headers() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        Injector::set(
            &mut metadata,
            SW8,
            "1-dA==-cw==-0-cw==-aQ==-ZQ==-YQ==".to_owned(),
        );
        Injector::set(&mut metadata, SW8_X, "bad\nvalue".to_owned());
        assert_eq!(
            Extractor::get(&metadata, SW8),
            Some("1-dA==-cw==-0-cw==-aQ==-ZQ==-YQ==")
        );
        assert_eq!(Extractor::get(&metadata, SW8_X), None);
        assert_eq!(Extractor::get(&metadata, TRACEPARENT), None);
    }
}
