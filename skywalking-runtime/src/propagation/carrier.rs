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

    /// Several headers at once: sets `values[i]` to [`get`](Self::get)`(keys[i])` for
    /// each key (`keys` and `values` have the same length; extra slots are left alone).
    ///
    /// The default calls `get` once per key. A carrier where one lookup costs more than
    /// a look at every header overrides it: [`http::HeaderMap`] hashes each name it is
    /// asked for, so it reads a request's few headers once instead.
    fn get_many<'a>(&'a self, keys: &[&str], values: &mut [Option<&'a str>]) {
        for (key, value) in keys.iter().zip(values) {
            *value = self.get(key);
        }
    }
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

    fn get_many<'a>(&'a self, keys: &[&str], values: &mut [Option<&'a str>]) {
        (**self).get_many(keys, values);
    }
}

impl<T: Extractor + ?Sized> Extractor for &mut T {
    fn get(&self, key: &str) -> Option<&str> {
        (**self).get(key)
    }

    fn get_many<'a>(&'a self, keys: &[&str], values: &mut [Option<&'a str>]) {
        (**self).get_many(keys, values);
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
        let value = match known_name(key) {
            // This module's names are built at compile time: no parsing per lookup.
            Some(name) => HeaderMap::get(self, name),
            None => HeaderMap::get(self, key),
        };
        value?.to_str().ok()
    }

    /// One pass over the headers (a request has a few), comparing names by length
    /// first, rather than one hashed lookup per key; hashed lookups beyond
    /// 32 distinct names. The same values as `get`.
    fn get_many<'a>(&'a self, keys: &[&str], values: &mut [Option<&'a str>]) {
        const MAX_KEYS: usize = 8;
        if self.keys_len() > SCAN_MAX_HEADERS || keys.len() > MAX_KEYS {
            for (key, value) in keys.iter().zip(values) {
                *value = Extractor::get(self, key);
            }
            return;
        }
        let keys = &keys[..keys.len().min(values.len())];
        let mut found = [false; MAX_KEYS];
        let mut left = keys.len();
        for value in values.iter_mut().take(keys.len()) {
            *value = None;
        }
        for (name, value) in self {
            let name = name.as_str();
            for ((key, slot), found) in keys.iter().zip(values.iter_mut()).zip(&mut found) {
                // The first value of a repeated header wins, as with `get`: later ones
                // come after it in the iteration.
                if !*found && key.len() == name.len() && key.eq_ignore_ascii_case(name) {
                    *found = true;
                    *slot = value.to_str().ok();
                    left -= 1;
                }
            }
            if left == 0 {
                break;
            }
        }
    }
}

/// Distinct header names up to which [`Extractor::get_many`] on a [`HeaderMap`] scans
/// them all rather than hashing each key.
const SCAN_MAX_HEADERS: usize = 32;

/// This module's header names, built at compile time.
const NAME_SW8: HeaderName = HeaderName::from_static(SW8);
const NAME_SW8_CORRELATION: HeaderName = HeaderName::from_static(SW8_CORRELATION);
const NAME_SW8_X: HeaderName = HeaderName::from_static(SW8_X);
const NAME_TRACEPARENT: HeaderName = HeaderName::from_static(TRACEPARENT);

/// The `HeaderName` of `key` if it is one of this module's headers.
#[inline]
fn known_name(key: &str) -> Option<&'static HeaderName> {
    static NAMES: [HeaderName; 4] = [NAME_SW8, NAME_SW8_CORRELATION, NAME_SW8_X, NAME_TRACEPARENT];
    let [sw8, correlation, x, traceparent] = &NAMES;
    Some(match key {
        SW8 => sw8,
        SW8_CORRELATION => correlation,
        SW8_X => x,
        TRACEPARENT => traceparent,
        _ => return None,
    })
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
    match known_name(key) {
        Some(name) => Some(name.clone()),
        None => HeaderName::from_bytes(key.as_bytes()).ok(),
    }
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

    /// `get_many` must give what `get` gives, key by key.
    fn get_many_is_get<C: Extractor>(carrier: &C, keys: &[&str]) {
        let mut values = vec![Some("stale"); keys.len()];
        carrier.get_many(keys, &mut values);
        let expected: Vec<_> = keys.iter().map(|k| carrier.get(k)).collect();
        assert_eq!(values, expected, "{keys:?}");
    }

    #[test]
    fn get_many_reads_what_get_reads() {
        let keys = [
            SW8,
            TRACEPARENT,
            SW8_CORRELATION,
            SW8_X,
            "Sw8",
            "not a name",
            "x-a",
        ];
        let mut headers = HeaderMap::new();
        get_many_is_get(&headers, &keys);
        headers.insert("x-a", HeaderValue::from_static("a"));
        headers.append(SW8, HeaderValue::from_static("1-first"));
        headers.append(SW8, HeaderValue::from_static("1-second"));
        headers.insert(
            SW8_X,
            HeaderValue::from_bytes(b"1-\xff").expect("obs-text is a valid value"),
        );
        headers.append(SW8_X, HeaderValue::from_static("0-"));
        headers.insert(TRACEPARENT, HeaderValue::from_static("00-x"));
        get_many_is_get(&headers, &keys);
        get_many_is_get(&&headers, &keys[..2]);
        let mut values = [None; 1];
        headers.get_many(&keys, &mut values);
        assert_eq!(values, [Some("1-first")], "extra keys are ignored");
        // Many headers: hashed lookups, same answers.
        for i in 0..2 * SCAN_MAX_HEADERS {
            headers.insert(
                HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).expect("name"),
                HeaderValue::from_static("v"),
            );
        }
        get_many_is_get(&headers, &keys);
        let map: BTreeMap<String, String> = [(SW8.to_owned(), "v".to_owned())].into();
        get_many_is_get(&map, &keys);
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
