//! The `sw8-x` header: SkyWalking's extension header.
//!
//! ```text
//! sw8-x: <tracing mode>-<client send timestamp ms>[-<future fields>]
//! ```

use std::fmt::Write as _;
use std::str::FromStr;

use super::HeaderError;

/// Header name of the SkyWalking extension header.
pub const SW8_X: &str = "sw8-x";

/// Cap on a whole `sw8-x` value, in bytes. Today's two fields take at most 21 bytes;
/// the rest leaves room for fields added later.
pub const SW8_X_MAX_LEN: usize = 256;

/// A decoded `sw8-x` header.
///
/// Field 1, the tracing mode, is empty, `0` or `1`; `1` means every span of the
/// trace is reported with `skipAnalysis = true` (OAP stores it but does not analyse
/// it), and the flag propagates downstream. Field 2 is the client's send time in
/// epoch milliseconds, for MQ and async transports: the consumer tags
/// `transmission.latency` with "now - timestamp".
///
/// Encoding follows the Java agent: `0`/`1`, `-`, then the timestamp or a single
/// space when there is none.
///
/// ```
/// use skywalking_runtime::propagation::Extension;
///
/// let ext = Extension { skip_analysis: true, send_timestamp_ms: Some(1_700_000_000_000) };
/// assert_eq!(ext.encode(), "1-1700000000000");
/// assert_eq!(Extension::default().encode(), "0- ");
/// assert_eq!(Extension::decode("1-1700000000000")?, ext);
/// // HTTP strips the trailing space of "0- ".
/// assert_eq!(Extension::decode("0-")?, Extension::default());
/// # Ok::<(), skywalking_runtime::propagation::HeaderError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Extension {
    /// Tracing mode `1`: skip analysis of this trace on OAP.
    pub skip_analysis: bool,
    /// When the client sent the message, in epoch milliseconds.
    pub send_timestamp_ms: Option<i64>,
}

impl Extension {
    /// Decodes an `sw8-x` value.
    ///
    /// Field 1 must be empty, `0` or `1`. Field 2, when present, must be blank
    /// (spaces or tabs; the Java agent writes one space when it has no timestamp) or
    /// a non-negative decimal that fits an `i64`, with optional surrounding blanks.
    /// Missing fields take their default; fields after the second are ignored,
    /// because the header is extendable.
    ///
    /// # Errors
    ///
    /// [`HeaderError::TooLong`] over [`SW8_X_MAX_LEN`] bytes,
    /// [`HeaderError::InvalidTracingMode`], [`HeaderError::InvalidTimestamp`].
    pub fn decode(value: &str) -> Result<Self, HeaderError> {
        if value.len() > SW8_X_MAX_LEN {
            return Err(HeaderError::TooLong {
                header: SW8_X,
                len: value.len(),
                max: SW8_X_MAX_LEN,
            });
        }
        let mut fields = value.split('-');
        let skip_analysis = match fields.next() {
            None | Some("" | "0") => false,
            Some("1") => true,
            Some(_) => return Err(HeaderError::InvalidTracingMode),
        };
        let send_timestamp_ms = match fields.next().map(|f| f.trim_matches([' ', '\t'])) {
            None | Some("") => None,
            Some(ts) => Some(parse_timestamp(ts)?),
        };
        Ok(Self {
            skip_analysis,
            send_timestamp_ms,
        })
    }

    /// Encodes the value as the Java agent does. A negative timestamp cannot be
    /// written in this `-`-separated format and is treated as absent.
    #[must_use]
    pub fn encode(&self) -> String {
        // "1-" plus at most 19 digits.
        let mut out = String::with_capacity(21);
        out.push_str(if self.skip_analysis { "1-" } else { "0-" });
        match self.send_timestamp_ms {
            // Writing an integer into a String cannot fail.
            Some(ts) if ts >= 0 => {
                let _ = write!(out, "{ts}");
            }
            _ => out.push(' '),
        }
        out
    }

    /// `true` when this carries nothing (no skip-analysis flag, no timestamp), in
    /// which case [`inject`](super::inject) does not send the header.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        !self.skip_analysis && self.send_timestamp_ms.is_none()
    }
}

impl FromStr for Extension {
    type Err = HeaderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Extension::decode(s)
    }
}

/// 1 to 19 ASCII digits (no sign) that fit an `i64`.
fn parse_timestamp(s: &str) -> Result<i64, HeaderError> {
    if s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HeaderError::InvalidTimestamp);
    }
    s.parse().map_err(|_| HeaderError::InvalidTimestamp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ext(skip_analysis: bool, send_timestamp_ms: Option<i64>) -> Extension {
        Extension {
            skip_analysis,
            send_timestamp_ms,
        }
    }

    #[test]
    fn decodes_what_the_java_agent_writes() {
        assert_eq!(Extension::decode("0- "), Ok(ext(false, None)));
        assert_eq!(Extension::decode("1- "), Ok(ext(true, None)));
        assert_eq!(
            Extension::decode("0-1700000000123"),
            Ok(ext(false, Some(1_700_000_000_123)))
        );
        assert_eq!(
            Extension::decode("1-1700000000123"),
            Ok(ext(true, Some(1_700_000_000_123)))
        );
    }

    #[test]
    fn optional_and_extra_fields() {
        assert_eq!(Extension::decode(""), Ok(ext(false, None)));
        assert_eq!(Extension::decode("1"), Ok(ext(true, None)));
        assert_eq!(Extension::decode("-"), Ok(ext(false, None)));
        assert_eq!(Extension::decode("-42"), Ok(ext(false, Some(42))));
        assert_eq!(Extension::decode("1- 42\t"), Ok(ext(true, Some(42))));
        assert_eq!(
            Extension::decode("1-42-future-fields"),
            Ok(ext(true, Some(42)))
        );
        assert_eq!(
            Extension::decode("0-9223372036854775807"),
            Ok(ext(false, Some(i64::MAX)))
        );
    }

    #[test]
    fn rejections() {
        for bad in ["2", "01", "true", " 1", "1 -", "x-1"] {
            assert_eq!(
                Extension::decode(bad),
                Err(HeaderError::InvalidTracingMode),
                "{bad:?}"
            );
        }
        for bad in [
            "0-x",
            "0-+1",
            "0-1.5",
            "0-9223372036854775808",
            "0-1 2",
            "0-١",
        ] {
            assert_eq!(
                Extension::decode(bad),
                Err(HeaderError::InvalidTimestamp),
                "{bad:?}"
            );
        }
        let long = format!("0-1-{}", "x".repeat(300));
        assert_eq!(
            Extension::decode(&long),
            Err(HeaderError::TooLong {
                header: SW8_X,
                len: long.len(),
                max: SW8_X_MAX_LEN
            })
        );
    }

    #[test]
    fn encodes_as_the_java_agent() {
        assert_eq!(ext(false, None).encode(), "0- ");
        assert_eq!(ext(true, None).encode(), "1- ");
        assert_eq!(ext(true, Some(5)).encode(), "1-5");
        assert_eq!(ext(false, Some(-5)).encode(), "0- ");
        assert_eq!(ext(true, Some(i64::MAX)).encode(), "1-9223372036854775807");
        assert!(ext(false, None).is_empty());
        assert!(!ext(false, Some(0)).is_empty());
    }

    proptest! {
        #[test]
        fn decode_never_panics(s in any::<String>()) {
            let _ = Extension::decode(&s);
        }

        #[test]
        fn decode_never_panics_on_latin1_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let s: String = bytes.iter().map(|&b| char::from(b)).collect();
            let _ = Extension::decode(&s);
        }

        #[test]
        fn round_trip(skip in any::<bool>(), ts in proptest::option::of(0..=i64::MAX)) {
            let e = ext(skip, ts);
            prop_assert_eq!(Extension::decode(&e.encode()), Ok(e));
            prop_assert_eq!(Extension::decode(e.encode().trim_end()), Ok(e));
        }
    }
}
