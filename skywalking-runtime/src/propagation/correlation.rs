//! The `sw8-correlation` header: Cross Process Correlation Headers Protocol v1.
//!
//! ```text
//! sw8-correlation: <b64 key>:<b64 value>,<b64 key>:<b64 value>
//! ```

use super::HeaderError;
use super::b64;

/// Header name of the SkyWalking correlation header.
pub const SW8_CORRELATION: &str = "sw8-correlation";

/// Smallest header cap [`CorrelationLimits::new`] computes.
const MIN_HEADER_LEN: usize = 1024;

/// Limits on correlation data, enforced on [`Correlation::insert`] and
/// [`Correlation::decode`].
///
/// The defaults are the spec's recommendation and the Java and Go agents' defaults:
/// 3 keys, values of at most 128 bytes. The third limit, `max_header_len`, caps the
/// whole encoded header *before* decoding; [`new`](Self::new) derives it from the
/// other two (room for `max_keys` entries whose key and value are both
/// `max_value_size` bytes, but never under 1 KiB), and
/// [`with_max_header_len`](Self::with_max_header_len) overrides it.
///
/// ```
/// use skywalking_runtime::propagation::CorrelationLimits;
///
/// let limits = CorrelationLimits::default();
/// assert_eq!((limits.max_keys, limits.max_value_size), (3, 128));
/// assert_eq!(limits.max_header_len, 1038);
///
/// let big = CorrelationLimits::new(8, 256).with_max_header_len(8192);
/// assert_eq!(big.max_header_len, 8192);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CorrelationLimits {
    /// Most keys held. Further new keys are refused (on insert) or skipped (on
    /// decode); existing keys can still be overwritten.
    pub max_keys: usize,
    /// Largest value, in bytes. Keys are held to the same size.
    pub max_value_size: usize,
    /// Largest encoded header accepted by [`Correlation::decode`], in bytes.
    pub max_header_len: usize,
}

impl CorrelationLimits {
    /// The defaults: 3 keys, 128-byte values, a 1038-byte header.
    pub const DEFAULT: Self = Self::new(3, 128);

    /// Limits of `max_keys` keys and `max_value_size`-byte values, with the header cap
    /// derived from them.
    #[must_use]
    pub const fn new(max_keys: usize, max_value_size: usize) -> Self {
        // `<b64 key>:<b64 value>,` with the key as long as the largest value.
        let entry = b64::encoded_len(max_value_size)
            .saturating_mul(2)
            .saturating_add(2);
        let derived = max_keys.saturating_mul(entry);
        Self {
            max_keys,
            max_value_size,
            max_header_len: if derived > MIN_HEADER_LEN {
                derived
            } else {
                MIN_HEADER_LEN
            },
        }
    }

    /// Overrides the cap on the whole encoded header.
    #[must_use]
    pub const fn with_max_header_len(mut self, max_header_len: usize) -> Self {
        self.max_header_len = max_header_len;
        self
    }
}

impl Default for CorrelationLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Correlation data: a small ordered map of string keys to string values that
/// travels with the trace.
///
/// Keys keep their insertion order; writing an existing key overwrites its value in
/// place (as in the Java agent). The map carries its [`CorrelationLimits`]. Equality
/// compares the entries only.
///
/// ```
/// use skywalking_runtime::propagation::Correlation;
///
/// let mut data = Correlation::new();
/// assert!(data.insert("tenant", "acme"));
/// assert!(data.insert("user.id", "42"));
/// assert_eq!(data.encode(), "dGVuYW50:YWNtZQ==,dXNlci5pZA==:NDI=");
///
/// let back = Correlation::decode(&data.encode(), Default::default())?;
/// assert_eq!(back.get("tenant"), Some("acme"));
/// assert_eq!(back, data);
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Correlation {
    entries: Vec<(String, String)>,
    limits: CorrelationLimits,
}

impl PartialEq for Correlation {
    fn eq(&self, other: &Self) -> bool {
        self.entries == other.entries
    }
}

impl Eq for Correlation {}

impl Correlation {
    /// An empty map with the default limits.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty map with the given limits.
    #[must_use]
    pub fn with_limits(limits: CorrelationLimits) -> Self {
        Self {
            entries: Vec::new(),
            limits,
        }
    }

    /// The limits this map enforces.
    #[must_use]
    pub fn limits(&self) -> CorrelationLimits {
        self.limits
    }

    /// The value of `key`, if present.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Sets `key` to `value`, overwriting an existing value in place.
    ///
    /// As in the Java agent, an empty `value` removes the key. Returns `false`, and
    /// changes nothing, when the key is empty, the key or the value is longer than
    /// `max_value_size` bytes, or the key is new and the map already holds
    /// `max_keys` keys. (The Java agent does not limit keys; capping them here keeps
    /// every map this type can hold encodable under the derived header cap.)
    ///
    /// ```
    /// use skywalking_runtime::propagation::{Correlation, CorrelationLimits};
    ///
    /// let mut data = Correlation::with_limits(CorrelationLimits::new(1, 4));
    /// assert!(data.insert("a", "1"));
    /// assert!(!data.insert("b", "2"), "full");
    /// assert!(data.insert("a", "2"), "overwrite");
    /// assert!(!data.insert("a", "12345"), "too long");
    /// assert_eq!(data.get("a"), Some("2"));
    /// ```
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        let max = self.limits.max_value_size;
        if key.is_empty() || key.len() > max || value.len() > max {
            return false;
        }
        if value.is_empty() {
            self.remove(key);
            return true;
        }
        if let Some((_, v)) = self.entries.iter_mut().find(|(k, _)| k == key) {
            value.clone_into(v);
            return true;
        }
        if self.entries.len() >= self.limits.max_keys {
            return false;
        }
        self.entries.push((key.to_owned(), value.to_owned()));
        true
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<String> {
        let at = self.entries.iter().position(|(k, _)| k == key)?;
        Some(self.entries.remove(at).1)
    }

    /// Number of keys.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when there are no keys.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, in insertion order.
    #[must_use = "iterators are lazy"]
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Decodes an `sw8-correlation` value under `limits`.
    ///
    /// Lenient, entry by entry, because the data is optional and one bad entry should
    /// not lose the others. Entries are read in order and fed to
    /// [`insert`](Self::insert); an entry is **skipped** when it is not `key:value`,
    /// either side is not Base64 of UTF-8 text, the key is empty, the key or the value
    /// is over `max_value_size` (checked before decoding), or the key is new and `max_keys`
    /// keys are already held. Spaces around entries are ignored. An empty value
    /// gives an empty map.
    ///
    /// # Errors
    ///
    /// [`HeaderError::TooLong`] when the value is over `limits.max_header_len` bytes:
    /// nothing is decoded then.
    pub fn decode(value: &str, limits: CorrelationLimits) -> Result<Self, HeaderError> {
        if value.len() > limits.max_header_len {
            return Err(HeaderError::TooLong {
                header: SW8_CORRELATION,
                len: value.len(),
                max: limits.max_header_len,
            });
        }
        let mut data = Self::with_limits(limits);
        for entry in value.split(',') {
            let Some((key, val)) = entry.trim_matches([' ', '\t']).split_once(':') else {
                continue;
            };
            let Ok(key) = b64::decode_field(key, SW8_CORRELATION, "key", limits.max_value_size)
            else {
                continue;
            };
            let Ok(val) = b64::decode_field(val, SW8_CORRELATION, "value", limits.max_value_size)
            else {
                continue;
            };
            data.insert(&key, &val);
        }
        Ok(data)
    }

    /// Encodes the entries as an `sw8-correlation` value (standard padded Base64),
    /// into one `String` of exactly [`encoded_len`](Self::encoded_len) bytes. An empty
    /// map encodes to `""`, which should not be sent.
    #[must_use]
    pub fn encode(&self) -> String {
        let mut buf = b64::AsciiBuf::with_capacity(self.encoded_len());
        for (i, (key, value)) in self.entries.iter().enumerate() {
            if i > 0 {
                buf.push(b',');
            }
            buf.push_b64(key);
            buf.push(b':');
            buf.push_b64(value);
        }
        buf.into_string()
    }

    /// The exact length in bytes of [`encode`](Self::encode)'s output.
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        let separators = (self.entries.len() * 2).saturating_sub(1);
        self.entries.iter().fold(separators, |len, (k, v)| {
            len.saturating_add(b64::encoded_len(k.len()))
                .saturating_add(b64::encoded_len(v.len()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entries(data: &Correlation) -> Vec<(&str, &str)> {
        data.iter().collect()
    }

    #[test]
    fn default_limits_match_the_java_and_go_agents() {
        let limits = CorrelationLimits::default();
        assert_eq!(limits.max_keys, 3);
        assert_eq!(limits.max_value_size, 128);
        // 3 * (2 * 172 + 2)
        assert_eq!(limits.max_header_len, 1038);
        assert_eq!(CorrelationLimits::new(0, 0).max_header_len, 1024);
        assert_eq!(
            CorrelationLimits::new(usize::MAX, usize::MAX).max_header_len,
            usize::MAX
        );
    }

    #[test]
    fn decodes_java_style_header() {
        // tenant=acme, user.id=42, region=eu-west-1.
        let data = Correlation::decode(
            "dGVuYW50:YWNtZQ==,dXNlci5pZA==:NDI=,cmVnaW9u:ZXUtd2VzdC0x",
            CorrelationLimits::default(),
        )
        .expect("valid");
        assert_eq!(
            entries(&data),
            [
                ("tenant", "acme"),
                ("user.id", "42"),
                ("region", "eu-west-1")
            ]
        );
        assert_eq!(
            data.encode(),
            "dGVuYW50:YWNtZQ==,dXNlci5pZA==:NDI=,cmVnaW9u:ZXUtd2VzdC0x"
        );
        assert_eq!(data.encoded_len(), data.encode().len());
    }

    #[test]
    fn decode_skips_entries_beyond_max_keys_but_still_overwrites() {
        // tenant, user.id, region, canary=true, then tenant again (= "true").
        let header = "dGVuYW50:YWNtZQ==,dXNlci5pZA==:NDI=,cmVnaW9u:ZXUtd2VzdC0x,\
                      Y2FuYXJ5:dHJ1ZQ==,dGVuYW50:dHJ1ZQ==";
        let data = Correlation::decode(header, CorrelationLimits::default()).expect("valid");
        assert_eq!(
            entries(&data),
            [
                ("tenant", "true"),
                ("user.id", "42"),
                ("region", "eu-west-1")
            ]
        );
    }

    #[test]
    fn decode_skips_bad_entries() {
        let header = " dGVuYW50:YWNtZQ== , junk ,:NDI=,dXNlci5pZA==:,a:b:c,!!:NDI=,\
                      c2NlbmU=:Y2hlY2tvdXQ=,//79:NDI=,Y2FuYXJ5:dHJ1ZQ";
        let data = Correlation::decode(header, CorrelationLimits::new(10, 128)).expect("valid");
        // Unpadded Base64 is accepted for "canary"; the rest are skipped.
        assert_eq!(
            entries(&data),
            [
                ("tenant", "acme"),
                ("scene", "checkout"),
                ("canary", "true")
            ]
        );
    }

    #[test]
    fn decode_skips_values_over_the_size_limit() {
        let limits = CorrelationLimits::new(3, 6);
        // "tenant" and "acme" fit, "checkout" does not, nor does the key "region!".
        let data = Correlation::decode(
            "dGVuYW50:YWNtZQ==,c2NlbmU=:Y2hlY2tvdXQ=,cmVnaW9uIQ==:NDI=",
            limits,
        )
        .expect("valid");
        assert_eq!(entries(&data), [("tenant", "acme")]);
        assert_eq!(data.limits(), limits);
    }

    #[test]
    fn decode_rejects_a_header_over_the_cap() {
        let limits = CorrelationLimits::default();
        let long = "dGVuYW50:YWNtZQ==,".repeat(100);
        assert_eq!(
            Correlation::decode(&long, limits),
            Err(HeaderError::TooLong {
                header: SW8_CORRELATION,
                len: long.len(),
                max: limits.max_header_len,
            })
        );
    }

    #[test]
    fn empty_header_is_empty_map() {
        let data = Correlation::decode("", CorrelationLimits::default()).expect("valid");
        assert!(data.is_empty());
        assert_eq!(data.encode(), "");
        assert_eq!(data.encoded_len(), 0);
    }

    #[test]
    fn insert_rules() {
        let mut data = Correlation::with_limits(CorrelationLimits::new(2, 5));
        assert!(!data.insert("", "x"), "empty key");
        assert!(data.insert("a", "1"));
        assert!(data.insert("b", "2"));
        assert!(!data.insert("c", "3"), "full");
        assert!(data.insert("a", "11"), "overwrite keeps position");
        assert!(!data.insert("a", "123456"), "value too long");
        assert!(!data.insert("abcdef", "1"), "key too long");
        assert_eq!(entries(&data), [("a", "11"), ("b", "2")]);
        assert!(data.insert("a", ""), "empty value removes");
        assert_eq!(entries(&data), [("b", "2")]);
        assert!(data.insert("c", "3"));
        assert_eq!(data.remove("b").as_deref(), Some("2"));
        assert_eq!(data.remove("b"), None);
        assert_eq!(data.len(), 1);
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        any::<String>().prop_map(move |mut s| {
            while s.len() > max {
                s.pop();
            }
            s
        })
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in any::<String>(), keys in 0usize..8, size in 0usize..300) {
            let _ = Correlation::decode(&s, CorrelationLimits::new(keys, size));
        }

        #[test]
        fn decode_never_panics_on_latin1_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..1100)) {
            let s: String = bytes.iter().map(|&b| char::from(b)).collect();
            let _ = Correlation::decode(&s, CorrelationLimits::default());
        }

        #[test]
        fn decoded_map_respects_limits(
            parts in proptest::collection::vec("[A-Za-z0-9+/=]{0,16}:[A-Za-z0-9+/=]{0,16}", 0..20),
            keys in 0usize..5,
            size in 0usize..12,
        ) {
            let limits = CorrelationLimits::new(keys, size);
            if let Ok(data) = Correlation::decode(&parts.join(","), limits) {
                prop_assert!(data.len() <= keys);
                for (k, v) in data.iter() {
                    prop_assert!(!k.is_empty() && k.len() <= size);
                    prop_assert!(!v.is_empty() && v.len() <= size);
                }
            }
        }

        #[test]
        fn round_trip(pairs in proptest::collection::vec((text(128), text(128)), 0..6)) {
            let mut data = Correlation::new();
            for (k, v) in &pairs {
                data.insert(k, v);
            }
            let header = data.encode();
            prop_assert_eq!(header.len(), data.encoded_len());
            prop_assert!(header.len() <= CorrelationLimits::DEFAULT.max_header_len);
            let back = Correlation::decode(&header, CorrelationLimits::default());
            prop_assert_eq!(back, Ok(data));
        }
    }
}
