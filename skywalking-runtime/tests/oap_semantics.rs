//! What OAP and the official agents downstream would see: one test per behaviour of
//! the crate docs' "What OAP sees" section, each checked on what reached the testkit
//! collector over gRPC (PROTOCOL.md section 10 has the sources).

mod reporter_support;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use reporter_support::{WAIT, collector_runtime};
use skywalking_proto::v3::{RefType, SegmentObject};
use skywalking_runtime::propagation::{Extension, Sw8, Sw8Ref};
use skywalking_runtime::{Agent, Config, ContextSnapshot, Span};
use skywalking_testkit::MockCollector;

const SPAN_LIMIT: usize = 5;

struct Harness {
    rt: tokio::runtime::Runtime,
    collector: MockCollector,
    agent: Agent,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let rt = collector_runtime();
        let collector = rt.block_on(MockCollector::start()).expect("collector");
        let agent = Agent::builder()
            .config(Config::default())
            .service("oap-svc")
            .instance("oap-1")
            .backend(collector.addr().to_string())
            .span_limit(SPAN_LIMIT)
            .flush_interval(Duration::from_millis(5))
            .start()
            .expect("agent starts");
        Harness {
            rt,
            collector,
            agent,
        }
    })
}

/// The segments of `trace_id` the collector received, once `n` of them arrived.
fn segments(trace_id: &str, n: usize) -> Vec<SegmentObject> {
    let h = harness();
    assert!(h.agent.flush(WAIT));
    h.rt.block_on(h.collector.wait_for_trace(trace_id, n, WAIT))
        .unwrap_or_else(|e| panic!("{n} segment(s) of {trace_id}: {e}"))
}

fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

fn sw8_header(trace: &str, segment: &str, span: i32, endpoint: &str) -> String {
    Sw8Ref {
        sample: true,
        trace_id: trace,
        parent_segment_id: segment,
        parent_span_id: span,
        parent_service: "caller",
        parent_service_instance: "caller-1",
        parent_endpoint: endpoint,
        address_used_at_client: "oap-svc:80",
    }
    .encode()
}

#[test]
fn a_trace_that_records_nothing_sends_no_sw8_downstream() {
    harness();
    // A W3C caller that did not sample: the trace continues unsampled here.
    let mut incoming = HashMap::new();
    incoming.insert(
        "traceparent".to_owned(),
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00".to_owned(),
    );
    let mut outgoing: HashMap<String, String> = HashMap::new();
    {
        let entry = Span::entry("GET /unsampled", &incoming);
        assert!(!entry.is_recording());
        assert!(skywalking_runtime::set_correlation("tenant", "acme"));
        Span::exit("GET /next", "next:80").inject(&mut outgoing);
    }
    assert!(!outgoing.contains_key("sw8"), "{outgoing:?}");
    assert_eq!(
        outgoing.get("sw8-correlation").map(String::as_str),
        Some("dGVuYW50:YWNtZQ==")
    );
}

#[test]
fn past_the_span_limit_the_header_names_the_reported_segment_and_its_nearest_span() {
    harness();
    let mut headers: HashMap<String, String> = HashMap::new();
    let trace = {
        let _root = Span::local("limited-root");
        let trace = current_trace();
        let spans: Vec<Span> = (0..SPAN_LIMIT + 2)
            .map(|i| Span::exit(format!("call-{i}"), "db:5432"))
            .collect();
        let kept_out = spans.last().expect("spans");
        assert!(!kept_out.is_recording(), "beyond the span limit");
        kept_out.inject(&mut headers);
        trace
    };
    let segments = segments(&trace, 1);
    assert_eq!(segments.len(), 1);
    assert!(segments[0].is_size_limited);
    let sw8 = Sw8::decode(&headers["sw8"]).expect("our header decodes");
    assert_eq!(sw8.parent_segment_id, segments[0].trace_segment_id);
    assert_eq!(sw8.parent_span_id, 0, "the root: the nearest recorded span");
    assert_eq!(sw8.address_used_at_client, "db:5432");
    assert_eq!(sw8.parent_endpoint, "limited-root");
}

#[test]
fn an_entry_span_inside_an_active_trace_records_its_caller() {
    harness();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_owned(),
        sw8_header("other-trace", "caller-seg", 4, "POST /produce"),
    );
    let trace = {
        let _task = Span::local("worker loop");
        let trace = current_trace();
        {
            let entry = Span::entry("orders consume", &headers);
            // A batch: two more messages from other producers on the same span.
            let mut second = HashMap::new();
            second.insert(
                "sw8".to_owned(),
                sw8_header("trace-2", "seg-2", 1, "POST /a"),
            );
            assert!(entry.continue_from(&second));
            assert!(!entry.continue_from(&HashMap::<String, String>::new()));
        }
        trace
    };
    let segments = segments(&trace, 1);
    let entry = segments[0]
        .spans
        .iter()
        .find(|s| s.operation_name == "orders consume")
        .expect("entry span");
    assert_eq!(entry.refs.len(), 2, "{:?}", entry.refs);
    let first = &entry.refs[0];
    assert_eq!(first.ref_type, RefType::CrossProcess as i32);
    assert_eq!(first.trace_id, "other-trace");
    assert_eq!(first.parent_trace_segment_id, "caller-seg");
    assert_eq!(first.parent_span_id, 4);
    assert_eq!(first.parent_service, "caller");
    assert_eq!(
        first.parent_service_instance, "caller-1",
        "the caller's instance, never ours"
    );
    assert_eq!(first.network_address_used_at_peer, "oap-svc:80");
    assert_eq!(entry.refs[1].parent_trace_segment_id, "seg-2");
}

#[test]
fn names_and_peers_are_cut_and_every_header_we_write_decodes() {
    harness();
    let long_name = "é".repeat(400);
    let long_peer = format!("{}:80", "h".repeat(400));
    let mut headers: HashMap<String, String> = HashMap::new();
    let trace = {
        let _root = Span::entry(long_name.clone(), &HashMap::<String, String>::new());
        let trace = current_trace();
        Span::exit(long_name.clone(), long_peer).inject(&mut headers);
        trace
    };
    let segments = segments(&trace, 1);
    for span in &segments[0].spans {
        assert_eq!(span.operation_name.chars().count(), 150);
        assert!(span.peer.len() <= 300);
    }
    let sw8 = Sw8::decode(&headers["sw8"]).expect("decodes with our decoder");
    assert_eq!(sw8.parent_endpoint.chars().count(), 150);
    assert!(sw8.address_used_at_client.len() <= 300);
}

#[test]
fn a_header_without_instance_or_address_starts_a_new_trace() {
    harness();
    // The Node agent's empty address: Java's ContextCarrier.isValid rejects it.
    let mut headers = HashMap::new();
    headers.insert("sw8".to_owned(), "1-dA==-cw==-0-c3Zj-aQ==-L3g=-".to_owned());
    let trace = {
        let _entry = Span::entry("GET /node", &headers);
        current_trace()
    };
    assert_ne!(trace, "t");
    let segments = segments(&trace, 1);
    assert!(segments[0].spans[0].refs.is_empty());
}

#[test]
fn snapshots_refer_to_our_own_segment_or_to_nothing() {
    let h = harness();
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_owned(),
        sw8_header("snap-trace", "remote-seg", 2, "GET /remote"),
    );
    // A snapshot taken inside a span: a CrossThread reference to that span.
    let snapshot = {
        let _entry = Span::entry("GET /snap", &headers);
        let snapshot = ContextSnapshot::current().expect("in a trace");
        snapshot.clone().run(|| drop(Span::local("child task")));
        snapshot
    };
    // A snapshot taken where the trace is active but no span of ours is open: there is
    // nothing of ours to refer to, so the next segment has no reference.
    let later =
        h.rt.block_on(snapshot.attach(async { ContextSnapshot::current() }))
            .expect("the trace is still active");
    later.run(|| drop(Span::local("grandchild task")));

    let segments = segments("snap-trace", 3);
    let by_first = |name: &str| {
        segments
            .iter()
            .find(|s| s.spans[0].operation_name == name)
            .unwrap_or_else(|| panic!("a segment starting with {name}"))
    };
    let parent = by_first("GET /snap");
    assert_eq!(
        parent.spans[0].refs[0].ref_type,
        RefType::CrossProcess as i32
    );
    let reference = &by_first("child task").spans[0].refs[0];
    assert_eq!(reference.ref_type, RefType::CrossThread as i32);
    assert_eq!(reference.parent_trace_segment_id, parent.trace_segment_id);
    assert_eq!(reference.parent_service, "oap-svc");
    assert_eq!(reference.parent_service_instance, "oap-1");
    assert_eq!(reference.parent_endpoint, "GET /snap");
    assert!(
        by_first("grandchild task").spans[0].refs.is_empty(),
        "no reference relabelled from another segment"
    );
}

#[test]
fn a_spawned_segment_that_starts_with_an_exit_starts_with_a_stable_local_span() {
    harness();
    let trace = {
        let _entry = Span::entry("GET /orders/{id}", &HashMap::<String, String>::new());
        let trace = current_trace();
        let snapshot = ContextSnapshot::current().expect("in a trace");
        snapshot.run(|| drop(Span::exit("GET /items/8812", "items:80")));
        trace
    };
    let segments = segments(&trace, 2);
    let spawned = segments
        .iter()
        .find(|s| !s.spans[0].refs.is_empty())
        .expect("the spawned segment");
    let first = &spawned.spans[0];
    assert_eq!(first.operation_name, "Thread/GET /orders/{id}");
    assert_eq!(first.refs[0].ref_type, RefType::CrossThread as i32);
    assert_eq!(spawned.spans[1].operation_name, "GET /items/8812");
    assert_eq!(spawned.spans[1].parent_span_id, 0);
}

#[test]
fn the_senders_timestamp_becomes_transmission_latency() {
    harness();
    let sent_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_millis() as i64
        - 250;
    let mut headers = HashMap::new();
    headers.insert(
        "sw8".to_owned(),
        sw8_header("latency-trace", "seg", 1, "POST /send"),
    );
    headers.insert(
        "sw8-x".to_owned(),
        Extension {
            skip_analysis: false,
            send_timestamp_ms: Some(sent_at),
        }
        .encode(),
    );
    drop(Span::entry("POST /receive", &headers));
    let segments = segments("latency-trace", 1);
    let latency: i64 = segments[0].spans[0]
        .tags
        .iter()
        .find(|t| t.key == "transmission.latency")
        .expect("transmission.latency tag")
        .value
        .parse()
        .expect("milliseconds");
    assert!((200..5_000).contains(&latency), "{latency}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the span state (any names and peers, nesting, the span limit reached),
    /// the `sw8` we write decodes with our own (Java-strict) decoder.
    #[test]
    fn every_header_we_write_decodes(
        name in "\\PC{0,300}",
        peer in "\\PC{0,400}",
        depth in 0usize..6,
        past_the_limit in proptest::bool::ANY,
    ) {
        harness();
        let mut headers: HashMap<String, String> = HashMap::new();
        {
            let _root = Span::entry(name.clone(), &HashMap::<String, String>::new());
            let _nested: Vec<Span> = (0..depth).map(|_| Span::local(name.clone())).collect();
            let _filler: Vec<Span> = if past_the_limit {
                (0..SPAN_LIMIT).map(|_| Span::exit("filler", "db:1")).collect()
            } else {
                Vec::new()
            };
            Span::exit(name.clone(), peer.clone()).inject(&mut headers);
        }
        let sw8 = headers.get("sw8");
        proptest::prop_assert!(sw8.is_some(), "a recorded trace always propagates");
        let decoded = Sw8::decode(sw8.map_or("", String::as_str));
        proptest::prop_assert!(decoded.is_ok(), "{:?}: {:?}", sw8, decoded);
    }
}
