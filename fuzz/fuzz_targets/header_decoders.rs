//! Feeds arbitrary bytes to every header decoder.
//!
//! Besides "never panics", it checks that whatever decodes re-encodes to something
//! that decodes to the same value, and that the agent's own path for an incoming `sw8`
//! (an entry span continuing the trace, through the one-walk decoder) accepts exactly
//! what `Sw8::decode` accepts, with the same trace id.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use skywalking_runtime::propagation::{
    self, Correlation, CorrelationLimits, Extension, SW8, SW8_CORRELATION, SW8_X, Sw8, TRACEPARENT,
    TraceParent,
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

/// Reports nowhere: the fuzzer only needs spans to be recorded.
struct Discard;

impl skywalking_runtime::Reporter for Discard {
    fn report(&mut self, segments: Vec<skywalking_runtime::proto::v3::SegmentObject>) {
        drop(segments);
    }
}

/// Starts an agent once, for the life of the fuzzing process.
fn agent_running() {
    static START: std::sync::Once = std::sync::Once::new();
    START.call_once(|| {
        if let Ok(agent) = skywalking_runtime::Agent::builder()
            .reporter(Discard)
            .start()
        {
            std::mem::forget(agent);
        }
    });
}

fn decode_all(s: &str) {
    let decoded = Sw8::decode(s);
    if let Ok(sw8) = &decoded {
        assert_eq!(Sw8::decode(&sw8.encode()).as_ref(), Ok(sw8));
    }
    // The agent's own path agrees with the public decoder.
    agent_running();
    let carrier = std::collections::HashMap::from([(SW8.to_owned(), s.to_owned())]);
    let entry = skywalking_runtime::Span::entry("fuzz", &carrier);
    let continued = skywalking_runtime::trace_id().map(|id| id.to_string());
    drop(entry);
    if let Ok(sw8) = &decoded {
        assert_eq!(continued.as_deref(), Some(sw8.trace_id.as_str()));
    }
    // The borrowing parser applies the same rules.
    match (propagation::Sw8Header::parse(s), &decoded) {
        (Ok(header), Ok(sw8)) => assert_eq!(&header.to_sw8(), sw8),
        (Err(_), Err(_)) => {}
        (parsed, _) => panic!("Sw8Header::parse and Sw8::decode disagree: {parsed:?}"),
    }
    let limits = CorrelationLimits::default();
    if let Ok(data) = Correlation::decode(s, limits) {
        assert_eq!(
            Correlation::decode(&data.encode(), limits).as_ref(),
            Ok(&data)
        );
    }
    if let Ok(ext) = Extension::decode(s) {
        assert_eq!(Extension::decode(&ext.encode()), Ok(ext));
    }
    if let Ok(tp) = TraceParent::decode(s) {
        assert_eq!(TraceParent::decode(&tp.encode()), Ok(tp));
    }
}
