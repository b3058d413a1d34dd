//! The gRPC status of a call: where it is read from, the `rpc.status_code` tag, and the
//! [`Outcome`] of a gRPC response head.

use std::borrow::Cow;

use http::HeaderMap;

use crate::trace::span::SpanRef;

/// The tag OAP reads a gRPC status from (and indexes for trace search).
pub(super) const TAG_STATUS: &str = "rpc.status_code";

/// The header (or trailer) carrying the status code, as a decimal number.
const GRPC_STATUS: &str = "grpc-status";

/// `OK`.
const OK: u16 = 0;
/// `UNKNOWN`: what a missing or unreadable status means.
const UNKNOWN: u16 = 2;

/// The names of the codes, by value, as Java's `io.grpc.Status.Code.name()` gives them
/// (and as the Java agent tags them).
const NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The name of `code`; an unknown code is `UNKNOWN`, as gRPC reads it.
pub(super) fn name(code: u16) -> &'static str {
    NAMES.get(usize::from(code)).copied().unwrap_or("UNKNOWN")
}

/// The status code in `headers` (response headers or trailers), if there is one. A value
/// that is not a number reads as `UNKNOWN`.
pub(super) fn code_in(headers: &HeaderMap) -> Option<u16> {
    let value = headers.get(GRPC_STATUS)?;
    let code = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u16>().ok())
        .unwrap_or(UNKNOWN);
    Some(code)
}

/// The code of a response that ended with no status, from its HTTP status, as gRPC
/// clients read it ("HTTP to gRPC Status Code Mapping" in the gRPC docs): a 200 without
/// a status is a truncated stream.
pub(super) fn code_of_http(status: u16) -> u16 {
    match status {
        400 => 13,                   // INTERNAL
        401 => 16,                   // UNAUTHENTICATED
        403 => 7,                    // PERMISSION_DENIED
        404 => 12,                   // UNIMPLEMENTED
        429 | 502 | 503 | 504 => 14, // UNAVAILABLE
        _ => UNKNOWN,
    }
}

/// Tags `span` with `code`'s name; any code but `OK` marks it as an error.
pub(super) fn record(span: SpanRef, code: u16) {
    if !span.is_recording() {
        return;
    }
    span.add_tag(TAG_STATUS, Cow::Borrowed(name(code)));
    if code != OK {
        span.set_error(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_named_as_java_names_them() {
        assert_eq!(name(0), "OK");
        assert_eq!(name(5), "NOT_FOUND");
        assert_eq!(name(14), "UNAVAILABLE");
        assert_eq!(name(16), "UNAUTHENTICATED");
        assert_eq!(name(17), "UNKNOWN");
        assert_eq!(name(u16::MAX), "UNKNOWN");
    }

    #[test]
    fn the_status_header_is_read_leniently() {
        let mut headers = HeaderMap::new();
        assert_eq!(code_in(&headers), None);
        headers.insert(GRPC_STATUS, "5".parse().unwrap());
        assert_eq!(code_in(&headers), Some(5));
        headers.insert(GRPC_STATUS, " 0 ".parse().unwrap());
        assert_eq!(code_in(&headers), Some(0));
        headers.insert(GRPC_STATUS, "five".parse().unwrap());
        assert_eq!(code_in(&headers), Some(UNKNOWN));
        headers.insert(GRPC_STATUS, http::HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(code_in(&headers), Some(UNKNOWN));
    }

    #[test]
    fn http_statuses_map_to_codes() {
        assert_eq!(name(code_of_http(200)), "UNKNOWN");
        assert_eq!(name(code_of_http(404)), "UNIMPLEMENTED");
        assert_eq!(name(code_of_http(503)), "UNAVAILABLE");
        assert_eq!(name(code_of_http(401)), "UNAUTHENTICATED");
    }
}
