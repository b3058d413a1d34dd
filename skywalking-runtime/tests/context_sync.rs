//! Spans in synchronous code: nesting, ids, kinds, tags, errors and out-of-order closing.

mod common;

use std::collections::HashMap;

use skywalking_proto::v3::{RefType, SpanLayer as PbLayer, SpanType};
use skywalking_runtime::{Span, SpanLayer, component, current_span};

#[test]
fn nested_spans_form_one_segment_with_parent_links() {
    let memory = common::start();
    let trace = {
        let _root = Span::local("root");
        let trace = common::current_trace();
        {
            let _a = Span::local("a");
            let _a1 = Span::local("a1");
        }
        let _b = Span::local("b");
        trace
    };
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let segment = &segments[0];
    assert_eq!(segment.service, "test-svc");
    assert_eq!(segment.service_instance, "test-1");
    assert!(!segment.is_size_limited);
    assert_eq!(
        common::shape(segment),
        vec![
            ("root".into(), 0, -1),
            ("a".into(), 1, 0),
            ("a1".into(), 2, 1),
            ("b".into(), 3, 0),
        ]
    );
    for span in &segment.spans {
        assert_eq!(span.span_type, SpanType::Local as i32);
        assert_eq!(span.component_id, component::RUST);
        assert!(span.start_time > 1_600_000_000_000, "epoch ms");
        assert!(span.end_time >= span.start_time);
    }
    assert_ne!(segment.trace_segment_id, segment.trace_id);
}

#[test]
fn a_new_root_after_the_first_finishes_starts_a_new_trace() {
    let memory = common::start();
    let first = {
        let _s = Span::local("one");
        common::current_trace()
    };
    assert!(skywalking_runtime::trace_id().is_none());
    let second = {
        let _s = Span::local("two");
        common::current_trace()
    };
    assert_ne!(first, second);
    assert_eq!(memory.trace(&first).len(), 1);
    assert_eq!(memory.trace(&second).len(), 1);
}

#[test]
fn tags_logs_layer_component_and_errors_are_recorded() {
    let memory = common::start();
    let trace = {
        let _parent = Span::local("parent");
        current_span().add_tag("via", "current_span");
        let span = Span::exit("GET /users", "users:8080")
            .with_layer(SpanLayer::Http)
            .with_component(component::HTTP)
            .with_tag("http.method", "GET");
        span.add_log([("event", "retry")]);
        span.record_error(&"connection reset");
        // An exit span never becomes the current span: the parent still is.
        assert_eq!(current_span(), _parent.as_ref());
        common::current_trace()
    };
    let segments = memory.trace(&trace);
    let parent = &segments[0].spans[0];
    assert_eq!(parent.tags[0].key, "via");
    assert_eq!(parent.tags[0].value, "current_span");
    let span = &segments[0].spans[1];
    assert_eq!(span.span_type, SpanType::Exit as i32);
    assert_eq!(span.peer, "users:8080");
    assert_eq!(span.span_layer, PbLayer::Http as i32);
    assert_eq!(span.component_id, component::HTTP);
    assert!(span.is_error);
    let tags: HashMap<_, _> = span
        .tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(tags["http.method"], "GET");
    assert!(!tags.contains_key("via"));
    assert_eq!(span.logs.len(), 2);
    assert_eq!(span.logs[0].data[0].key, "event");
    assert_eq!(span.logs[0].data[0].value, "retry");
    let error: HashMap<_, _> = span.logs[1]
        .data
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect();
    assert_eq!(error["event"], "error");
    assert_eq!(error["message"], "connection reset");
}

#[test]
fn children_closed_after_their_parent_never_panic() {
    let memory = common::start();
    let root = Span::local("root");
    let trace = common::current_trace();
    let a = Span::local("a");
    let b = Span::local("b");
    drop(a); // out of order among siblings: fine
    let c = Span::local("c");
    drop(c);
    drop(root); // the thread's first span ends its context
    assert!(skywalking_runtime::trace_id().is_none());
    drop(b); // closes nothing now
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    let spans = &segments[0].spans;
    assert_eq!(
        common::shape(&segments[0]),
        vec![
            ("root".into(), 0, -1),
            ("a".into(), 1, 0),
            ("b".into(), 2, 1),
            ("c".into(), 3, 2),
        ]
    );
    assert!(
        spans
            .iter()
            .all(|s| s.end_time >= s.start_time && s.end_time > 0)
    );
}

#[test]
fn a_span_moved_to_another_thread_does_not_keep_the_context_alive() {
    let memory = common::start();
    let root = Span::local("root");
    let trace = common::current_trace();
    let child = Span::local("moved");
    std::thread::spawn(move || drop(child)).join().unwrap();
    drop(root);
    assert!(skywalking_runtime::trace_id().is_none());
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].spans.len(), 2);
}

#[test]
fn entry_span_continues_an_incoming_sw8_with_a_cross_process_ref() {
    let memory = common::start();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_string(),
        // 1-trace-segment-3-svc-instance-/checkout-pay:8080
        "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=".to_string(),
    );
    {
        let _entry = Span::entry("POST /pay", &headers);
        assert_eq!(common::current_trace(), "trace");
    }
    let segments = memory.trace("trace");
    assert_eq!(segments.len(), 1);
    let span = &segments[0].spans[0];
    assert_eq!(span.span_type, SpanType::Entry as i32);
    assert_eq!(span.refs.len(), 1);
    let r = &span.refs[0];
    assert_eq!(r.ref_type, RefType::CrossProcess as i32);
    assert_eq!(r.trace_id, "trace");
    assert_eq!(r.parent_trace_segment_id, "segment");
    assert_eq!(r.parent_span_id, 3);
    assert_eq!(r.parent_service, "svc");
    assert_eq!(r.parent_service_instance, "instance");
    assert_eq!(r.parent_endpoint, "/checkout");
    assert_eq!(r.network_address_used_at_peer, "pay:8080");
}

#[test]
fn a_malformed_sw8_starts_a_new_trace() {
    let memory = common::start();
    let mut headers = HashMap::new();
    headers.insert("sw8".to_string(), "1-not base64-!!-x".to_string());
    let trace = {
        let _entry = Span::entry("GET /", &headers);
        common::current_trace()
    };
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    assert!(segments[0].spans[0].refs.is_empty());
    assert_eq!(trace.len(), 32);
}

#[test]
fn exit_span_injects_an_sw8_naming_itself_and_the_first_entry() {
    let memory = common::start();
    let mut outgoing: HashMap<String, String> = HashMap::new();
    let trace = {
        let _entry = Span::entry("GET /orders", &HashMap::<String, String>::new());
        let _local = Span::local("load");
        let exit = Span::exit("GET /stock", "stock:9000");
        exit.inject(&mut outgoing);
        common::current_trace()
    };
    let sw8 = skywalking_runtime::propagation::Sw8::decode(&outgoing["sw8"]).unwrap();
    let segments = memory.trace(&trace);
    let segment = &segments[0];
    assert!(sw8.sample);
    assert_eq!(sw8.trace_id, trace);
    assert_eq!(sw8.parent_segment_id, segment.trace_segment_id);
    assert_eq!(sw8.parent_span_id, 2);
    assert_eq!(
        segment
            .spans
            .iter()
            .find(|s| s.span_id == 2)
            .unwrap()
            .operation_name,
        "GET /stock"
    );
    assert_eq!(sw8.parent_service, "test-svc");
    assert_eq!(sw8.parent_service_instance, "test-1");
    assert_eq!(sw8.parent_endpoint, "GET /orders");
    assert_eq!(sw8.address_used_at_client, "stock:9000");
}

#[test]
fn inject_can_write_traceparent_too() {
    let _memory = common::start();
    let mut outgoing: HashMap<String, String> = HashMap::new();
    let trace = {
        let exit = Span::exit("call", "peer:1");
        exit.inject_with_traceparent(&mut outgoing);
        common::current_trace()
    };
    let tp = &outgoing["traceparent"];
    assert!(tp.starts_with(&format!("00-{trace}-")), "{tp}");
    assert!(tp.ends_with("-01"));
}

#[test]
fn no_context_no_injection() {
    let _memory = common::start();
    let mut outgoing: HashMap<String, String> = HashMap::new();
    Span::noop().inject(&mut outgoing);
    assert!(outgoing.is_empty());
}
