//! Feeds arbitrary bytes to every header decoder.
//!
//! Besides "never panics", it checks that whatever decodes re-encodes to something
//! that decodes to the same value.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use skywalking_runtime::propagation::{
    self, Correlation, CorrelationLimits, Extension, SW8, SW8_CORRELATION, SW8_X, Sw8,
    TRACEPARENT, TraceParent,
};

fuzz_target!(|data: &[u8]| {
    // As UTF-8 when it is, and always as Latin-1 (every byte a char), so non-UTF-8
    // input still reaches the decoders as odd multi-byte text.
    if let Ok(s) = std::str::from_utf8(data) {
        decode_all(s);
    }
    let latin1: String = data.iter().map(|&b| char::from(b)).collect();
    decode_all(&latin1);

    // Through an HTTP carrier, where values need not be UTF-8.
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        for name in [SW8, SW8_CORRELATION, SW8_X, TRACEPARENT] {
            headers.insert(name, value.clone());
        }
        let _ = propagation::extract(&headers, CorrelationLimits::default());
    }
});

fn decode_all(s: &str) {
    if let Ok(sw8) = Sw8::decode(s) {
        assert_eq!(Sw8::decode(&sw8.encode()).as_ref(), Ok(&sw8));
    }
    let limits = CorrelationLimits::default();
    if let Ok(data) = Correlation::decode(s, limits) {
        assert_eq!(Correlation::decode(&data.encode(), limits).as_ref(), Ok(&data));
    }
    if let Ok(ext) = Extension::decode(s) {
        assert_eq!(Extension::decode(&ext.encode()), Ok(ext));
    }
    if let Ok(tp) = TraceParent::decode(s) {
        assert_eq!(TraceParent::decode(&tp.encode()), Ok(tp));
    }
}
