//! Shared by the Kafka propagation tests (rskafka and rdkafka): one mock collector and
//! agent per test binary, a tansu broker per test (it starts in milliseconds, and a
//! broker held in a static would outlive the test process), and the assertions on how a
//! producer's and a consumer's segments link up across the broker.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use skywalking_proto::v3::{
    RefType, SegmentObject, SegmentReference, SpanLayer, SpanObject, SpanType,
};
use skywalking_runtime::{Agent, Config};
use skywalking_testkit::MockCollector;
use skywalking_testkit::servers::tansu::{self, Tansu};

/// How long a test waits for something that should happen.
pub const WAIT: Duration = Duration::from_secs(15);

pub const SERVICE: &str = "kafka-svc";
pub const INSTANCE: &str = "kafka-1";

pub struct Setup {
    pub collector: MockCollector,
    _agent: Agent,
    _runtime: tokio::runtime::Runtime,
}

/// One collector and agent for the whole binary, made on a thread of its own (the async
/// tests call this from inside their runtime).
pub fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| std::thread::spawn(make_setup).join().expect("setup"))
}

fn make_setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let collector = runtime.block_on(MockCollector::start()).expect("collector");
    let agent = Agent::builder()
        .config(Config::default())
        .service(SERVICE)
        .instance(INSTANCE)
        .backend(collector.addr().to_string())
        .flush_interval(Duration::from_millis(5))
        .start()
        .expect("agent starts");
    Setup {
        collector,
        _agent: agent,
        _runtime: runtime,
    }
}

/// A broker of the test's own, stopped when dropped, or `None` (the test is skipped)
/// when tansu is not installed; under CI a missing tansu fails the test.
pub fn broker() -> Option<Tansu> {
    setup();
    tansu::start().expect("tansu starts")
}

/// A topic of its own for each test (one partition), created on the broker.
pub fn new_topic(broker: &Tansu, label: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let topic = format!(
        "sw-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    broker.create_topic(&topic, 1).expect("topic created");
    topic
}

/// The segments of `trace`, once `n` arrived.
pub async fn trace_segments(trace: &str, n: usize) -> Vec<SegmentObject> {
    setup()
        .collector
        .wait_for_trace(trace, n, WAIT)
        .await
        .expect("the trace arrives")
}

/// The segment whose first span is named `name`, once it arrives.
pub async fn segment_rooted_at(name: &str) -> SegmentObject {
    let name = name.to_owned();
    setup()
        .collector
        .wait_until(WAIT, |records| {
            records
                .segments
                .iter()
                .find(|s| {
                    s.spans
                        .iter()
                        .any(|sp| sp.span_id == 0 && sp.operation_name == name)
                })
                .cloned()
        })
        .await
        .unwrap_or_else(|e| panic!("no segment rooted at {name}: {e}"))
}

pub fn span<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    segment
        .spans
        .iter()
        .find(|s| s.operation_name == name)
        .unwrap_or_else(|| {
            let names: Vec<_> = segment.spans.iter().map(|s| &s.operation_name).collect();
            panic!("no span {name:?} in {names:?}")
        })
}

pub fn tags(span: &SpanObject) -> HashMap<&str, &str> {
    span.tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect()
}

/// The producer's exit span in `segment`, checked: name, kind, layer, component, peer
/// and tags as the Java agent's Kafka plugin records them.
pub fn assert_producer<'a>(segment: &'a SegmentObject, topic: &str, peer: &str) -> &'a SpanObject {
    let exit = span(segment, &format!("Kafka/{topic}/Producer"));
    assert_eq!(exit.span_type, SpanType::Exit as i32);
    assert_eq!(exit.span_layer, SpanLayer::Mq as i32);
    assert_eq!(exit.component_id, 40, "kafka-producer");
    assert_eq!(exit.peer, peer);
    let tags = tags(exit);
    assert_eq!(tags["mq.broker"], peer);
    assert_eq!(tags["mq.topic"], topic);
    assert!(!exit.is_error);
    exit
}

/// The consumer's entry span, the first span of `segment`, checked.
pub fn assert_consumer<'a>(
    segment: &'a SegmentObject,
    topic: &str,
    group: &str,
    peer: &str,
) -> &'a SpanObject {
    let entry = span(segment, &format!("Kafka/{topic}/Consumer/{group}"));
    assert_eq!(
        entry.span_id, 0,
        "the batch's span starts the consumer's segment"
    );
    assert_eq!(entry.parent_span_id, -1);
    assert_eq!(entry.span_type, SpanType::Entry as i32);
    assert_eq!(entry.span_layer, SpanLayer::Mq as i32);
    assert_eq!(entry.component_id, 41, "kafka-consumer");
    assert_eq!(entry.peer, peer);
    let tags = tags(entry);
    assert_eq!(tags["mq.broker"], peer);
    assert_eq!(tags["mq.topic"], topic);
    entry
}

/// `reference` names `exit` of `producer` as the span that sent the message.
pub fn assert_refers_to(reference: &SegmentReference, producer: &SegmentObject, exit: &SpanObject) {
    assert_eq!(reference.ref_type, RefType::CrossProcess as i32);
    assert_eq!(reference.trace_id, producer.trace_id);
    assert_eq!(reference.parent_trace_segment_id, producer.trace_segment_id);
    assert_eq!(reference.parent_span_id, exit.span_id);
    assert_eq!(reference.parent_service, SERVICE);
    assert_eq!(reference.parent_service_instance, INSTANCE);
    assert_eq!(reference.network_address_used_at_peer, exit.peer);
    assert!(!reference.parent_endpoint.is_empty());
}

/// The segment of `segments` holding a span named `name`.
pub fn segment_with<'a>(segments: &'a [SegmentObject], name: &str) -> &'a SegmentObject {
    segments
        .iter()
        .find(|s| s.spans.iter().any(|sp| sp.operation_name == name))
        .unwrap_or_else(|| panic!("no segment with a span {name:?}: {segments:#?}"))
}
