//! The one error type of the header codecs.

/// Why a propagation header value could not be decoded.
///
/// Returned by the typed decoders ([`Sw8::decode`](super::Sw8::decode),
/// [`Correlation::decode`](super::Correlation::decode),
/// [`Extension::decode`](super::Extension::decode),
/// [`TraceParent::decode`](super::TraceParent::decode)). The high-level
/// [`extract`](super::extract) never returns it: there, a malformed header simply
/// means "no incoming context".
///
/// `header` is the header name (for example [`SW8`](super::SW8)) and `field` a short
/// human name of the field (for example `"trace id"`), so the message alone says what
/// was wrong:
///
/// ```
/// use skywalking_runtime::propagation::{HeaderError, Sw8};
///
/// let err = Sw8::decode("1-dA==-cw==-x-c3Zj-aW5z-L2E=-aDo4MA==").unwrap_err();
/// assert_eq!(err, HeaderError::InvalidSpanId);
/// assert_eq!(
///     err.to_string(),
///     "sw8 parent span id is not a decimal number in 0..=2147483647"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The whole value is longer than the header's cap. Checked before anything else.
    #[error("{header} value is {len} bytes, over the {max}-byte limit")]
    TooLong {
        /// The header name.
        header: &'static str,
        /// The length of the value, in bytes.
        len: usize,
        /// The cap, in bytes.
        max: usize,
    },

    /// The value does not have the number of `-`-separated fields the format needs.
    #[error("{header} value has {found} `-`-separated fields, expected {expected}")]
    FieldCount {
        /// The header name.
        header: &'static str,
        /// How many fields were found (counting stops a little past `expected`).
        found: usize,
        /// How many fields the format needs.
        expected: usize,
    },

    /// A field that must carry a value is empty.
    #[error("{header} {field} is empty")]
    EmptyField {
        /// The header name.
        header: &'static str,
        /// The field name.
        field: &'static str,
    },

    /// A field is longer than its cap. Checked on the encoded length before decoding,
    /// and again on the decoded length.
    #[error("{header} {field} is longer than {max} bytes")]
    FieldTooLong {
        /// The header name.
        header: &'static str,
        /// The field name.
        field: &'static str,
        /// The cap on the decoded field, in bytes.
        max: usize,
    },

    /// A field is not Base64 (standard or URL-safe alphabet, padded or not).
    #[error("{header} {field} is not valid Base64")]
    InvalidBase64 {
        /// The header name.
        header: &'static str,
        /// The field name.
        field: &'static str,
    },

    /// A field decodes from Base64 to bytes that are not UTF-8.
    #[error("{header} {field} is not UTF-8 once decoded")]
    InvalidUtf8 {
        /// The header name.
        header: &'static str,
        /// The field name.
        field: &'static str,
    },

    /// The `sw8` sample flag (field 1) is neither `0` nor `1`.
    #[error("sw8 sample flag is not `0` or `1`")]
    InvalidSample,

    /// The `sw8` parent span id (field 4) is not a plain decimal in `0..=i32::MAX`.
    #[error("sw8 parent span id is not a decimal number in 0..=2147483647")]
    InvalidSpanId,

    /// The `sw8-x` tracing mode (field 1) is not empty, `0` or `1`.
    #[error("sw8-x tracing mode is not empty, `0` or `1`")]
    InvalidTracingMode,

    /// The `sw8-x` send timestamp (field 2) is neither blank nor a non-negative decimal
    /// that fits in an `i64`.
    #[error("sw8-x send timestamp is not blank or a non-negative decimal number")]
    InvalidTimestamp,

    /// A `traceparent` field is not lowercase hexadecimal of the right length.
    #[error("traceparent {field} is not {len} lowercase hex digits")]
    InvalidHex {
        /// The field name.
        field: &'static str,
        /// The number of hex digits the field needs.
        len: usize,
    },

    /// A `traceparent` trace id or parent id is all zeros, which the W3C spec declares
    /// invalid.
    #[error("traceparent {field} is all zeros")]
    ZeroId {
        /// The field name.
        field: &'static str,
    },

    /// The `traceparent` version is `ff`, which the W3C spec forbids.
    #[error("traceparent version ff is forbidden")]
    ForbiddenVersion,

    /// The value's layout is wrong: a separator is missing or misplaced, or the length
    /// does not fit the format.
    #[error("{header} value is malformed: {reason}")]
    Malformed {
        /// The header name.
        header: &'static str,
        /// What was wrong, in a few words.
        reason: &'static str,
    },
}
