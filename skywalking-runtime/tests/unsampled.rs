//! An agent that samples nothing: spans record nothing and no `sw8` leaves the process
//! (only `sw8-correlation`, as the Java agent's `IgnoredTracerContext`), and any valid
//! incoming `sw8`, whatever its sample flag, is continued and recorded (Java, Go).

mod common;

use std::collections::HashMap;

use skywalking_runtime::Span;

fn memory() -> common::Memory {
    common::start_with(|b| b.sample_rate(0.0))
}

#[test]
fn unsampled_traces_report_nothing_and_send_no_sw8() {
    let memory = memory();
    let mut headers: HashMap<String, String> = HashMap::new();
    let trace = {
        let _root = Span::local("root");
        let trace = common::current_trace();
        assert!(skywalking_runtime::set_correlation("tenant", "acme"));
        let exit = Span::exit("call", "peer:80");
        assert!(!exit.is_recording());
        exit.inject(&mut headers);
        trace
    };
    assert!(
        skywalking_runtime::trace_id().is_none(),
        "the context ended with its root"
    );
    assert!(
        !headers.contains_key("sw8"),
        "an sw8 would name a segment that is never reported: {headers:?}"
    );
    assert!(!headers.contains_key("sw8-x"));
    assert!(
        headers.contains_key("sw8-correlation"),
        "correlation data still travels"
    );
    assert!(memory.trace(&trace).is_empty());
    assert!(skywalking_runtime::stats().traces_unsampled >= 1);
}

#[test]
fn an_incoming_sampled_sw8_forces_sampling() {
    let memory = memory();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_string(),
        "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_string(),
    );
    {
        let entry = Span::entry("POST /pay", &headers);
        assert!(entry.is_recording());
    }
    assert_eq!(memory.trace("trace").len(), 1);
}

#[test]
fn an_incoming_sw8_with_sample_flag_0_is_continued_as_java_and_go_do() {
    let memory = memory();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_string(),
        "0-dW5zYW1wbGVk-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_string(),
    );
    {
        let entry = Span::entry("POST /pay", &headers);
        assert!(entry.is_recording());
        assert_eq!(common::current_trace(), "unsampled");
    }
    let segments = memory.trace("unsampled");
    assert_eq!(segments.len(), 1);
    let reference = &segments[0].spans[0].refs[0];
    assert_eq!(reference.parent_trace_segment_id, "segment");
    assert_eq!(reference.parent_span_id, 3);
}

#[test]
fn a_sampled_traceparent_does_not_bypass_the_sampler() {
    let _memory = memory();
    let before = skywalking_runtime::stats().traces_unsampled;
    let mut headers = HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
    );
    {
        let entry = Span::entry("GET /w3c", &headers);
        assert!(
            !entry.is_recording(),
            "a W3C caller's `-01` goes through SW_AGENT_SAMPLE like any new trace"
        );
        // The trace id is still the caller's, for log correlation.
        assert_eq!(
            skywalking_runtime::trace_id().map(|id| id.to_string()),
            Some("0af7651916cd43dd8448eb211c80319c".to_owned())
        );
    }
    assert!(skywalking_runtime::stats().traces_unsampled > before);
}
