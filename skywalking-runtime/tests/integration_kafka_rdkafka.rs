//! Trace context through Kafka with rdkafka (librdkafka), against a real broker (tansu)
//! and the mock collector over gRPC: a message sent through `FutureProducer` carries its
//! trace to a `StreamConsumer` in a consumer group, whose batch span refers back to the
//! producer's exit span; a batch of several traced messages (from `FutureProducer` and
//! from `BaseProducer` with `with_trace_context`) has one reference each; messages
//! without headers start a new trace.

mod kafka_support;

use std::time::Duration;

use kafka_support::{
    assert_consumer, assert_producer, assert_refers_to, broker, new_topic, segment_rooted_at,
    segment_with, span, tags, trace_segments,
};
use rdkafka::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::producer::{BaseProducer, BaseRecord, FutureProducer, FutureRecord, Producer};
use skywalking_runtime::integrations::kafka::{self, rdkafka as sw_kafka, rdkafka::RecordExt};
use skywalking_runtime::{FutureExt, Span};
use skywalking_testkit::servers::tansu::Tansu;

const SEND_TIMEOUT: Duration = Duration::from_secs(10);

fn config(broker: &Tansu) -> ClientConfig {
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", broker.bootstrap())
        .set("broker.address.family", "v4")
        .set("message.timeout.ms", "10000");
    config
}

fn producer(broker: &Tansu) -> FutureProducer {
    config(broker).create().expect("a producer")
}

/// A consumer of `topic` in consumer group `group`, reading from the start.
fn consumer(broker: &Tansu, topic: &str, group: &str) -> (StreamConsumer, ClientConfig) {
    let mut config = config(broker);
    config
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("session.timeout.ms", "6000");
    let consumer: StreamConsumer = config.create().expect("a consumer");
    consumer.subscribe(&[topic]).expect("subscribed");
    (consumer, config)
}

/// The next `n` messages.
async fn receive(consumer: &StreamConsumer, n: usize) -> Vec<BorrowedMessage<'_>> {
    let mut messages = Vec::new();
    while messages.len() < n {
        let message = tokio::time::timeout(kafka_support::WAIT, consumer.recv())
            .await
            .unwrap_or_else(|_| panic!("{n} messages expected, got {}", messages.len()))
            .expect("a message");
        messages.push(message);
    }
    messages
}

fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

/// Sends `value` through `sw_kafka::send` inside a new trace whose first span is
/// `root`; returns the trace id.
async fn send_traced(
    producer: &FutureProducer,
    brokers: &kafka::Brokers,
    topic: &str,
    root: &'static str,
    value: &str,
) -> String {
    async {
        let record: FutureRecord<'_, str, str> = FutureRecord::to(topic).payload(value);
        sw_kafka::send(producer, brokers, record, SEND_TIMEOUT)
            .await
            .map_err(|(error, _)| error)
            .expect("delivered");
        current_trace()
    }
    .in_span(root)
    .await
}

fn header_names(message: &BorrowedMessage<'_>) -> Vec<String> {
    message
        .headers()
        .map(|h| h.iter().map(|h| h.key.to_owned()).collect())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carries_its_trace_to_the_consumer() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "rd-one");
    let peer = broker.bootstrap();
    let brokers = kafka::Brokers::parse(&peer);
    let producer = producer(broker);
    let trace = send_traced(&producer, &brokers, &topic, "place order", "order-1").await;

    let (consumer, config) = consumer(broker, &topic, "billing");
    let messages = receive(&consumer, 1).await;
    assert_eq!(header_names(&messages[0]), ["sw8", "sw8-x"]);
    let billing = sw_kafka::subscription(&config, &topic);
    let handled = sw_kafka::consume_async(&billing, &messages, async {
        let _bill = Span::local("bill");
        tokio::task::yield_now().await;
        messages.len()
    })
    .await;
    assert_eq!(handled, 1);

    let segments = trace_segments(&trace, 2).await;
    assert_eq!(segments.len(), 2, "{segments:#?}");
    let producer_segment = segment_with(&segments, "place order");
    let exit = assert_producer(producer_segment, &topic, &peer);
    let consumer_segment = segment_with(&segments, &format!("Kafka/{topic}/Consumer/billing"));
    let entry = assert_consumer(consumer_segment, &topic, "billing", &peer);
    assert_eq!(entry.refs.len(), 1, "{:?}", entry.refs);
    assert_refers_to(&entry.refs[0], producer_segment, exit);
    assert!(tags(entry).contains_key("transmission.latency"));
    assert_eq!(span(consumer_segment, "bill").parent_span_id, entry.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refers_to_each_traced_message_once() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "rd-batch");
    let peer = broker.bootstrap();
    let brokers = kafka::Brokers::parse(&peer);
    let producer = producer(broker);
    let mut traces = Vec::new();
    traces.push(send_traced(&producer, &brokers, &topic, "order a", "a").await);
    traces.push(send_traced(&producer, &brokers, &topic, "order b", "b").await);
    // A `BaseProducer` record, with the span opened by hand (a sync send).
    let base: BaseProducer = config(broker).create().expect("a base producer");
    let trace_c = {
        let _root = Span::local("order c");
        let span = kafka::producer_span(&brokers, &topic);
        let record: BaseRecord<'_, str, str> = BaseRecord::to(&topic)
            .payload("c")
            .with_trace_context(&span);
        base.send(record)
            .map_err(|(error, _)| error)
            .expect("queued");
        current_trace()
    };
    base.flush(SEND_TIMEOUT).expect("flushed");
    traces.push(trace_c);
    // A record sent without the integration has no headers.
    let plain: FutureRecord<'_, str, str> = FutureRecord::to(&topic).payload("untraced");
    producer
        .send(plain, SEND_TIMEOUT)
        .await
        .map_err(|(error, _)| error)
        .expect("delivered");

    let (consumer, config) = consumer(broker, &topic, "billing");
    let messages = receive(&consumer, 4).await;
    assert!(messages[3].headers().is_none());
    let billing = sw_kafka::subscription(&config, &topic);
    let handled = sw_kafka::consume(&billing, &messages, |batch| {
        let _bill = Span::local("bill all");
        batch.len()
    });
    assert_eq!(handled, 4);

    let segments = trace_segments(&traces[0], 2).await;
    let consumer_segment = segment_with(&segments, &format!("Kafka/{topic}/Consumer/billing"));
    let entry = assert_consumer(consumer_segment, &topic, "billing", &peer);
    assert_eq!(entry.refs.len(), 3, "{:#?}", entry.refs);
    for (i, (trace, root)) in traces
        .iter()
        .zip(["order a", "order b", "order c"])
        .enumerate()
    {
        let segments = trace_segments(trace, 1).await;
        let producer_segment = segment_with(&segments, root);
        let exit = assert_producer(producer_segment, &topic, &peer);
        assert_refers_to(&entry.refs[i], producer_segment, exit);
    }
    assert_eq!(
        span(consumer_segment, "bill all").parent_span_id,
        entry.span_id
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_headers_start_a_new_trace() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "rd-plain");
    let peer = broker.bootstrap();
    let producer = producer(broker);
    for value in ["x", "y"] {
        let record: FutureRecord<'_, str, str> = FutureRecord::to(&topic).payload(value);
        producer
            .send(record, SEND_TIMEOUT)
            .await
            .map_err(|(error, _)| error)
            .expect("delivered");
    }

    let (consumer, config) = consumer(broker, &topic, "audit");
    let messages = receive(&consumer, 2).await;
    let audit = sw_kafka::subscription(&config, &topic);
    let handled = sw_kafka::consume_async(&audit, &messages, async { messages.len() }).await;
    assert_eq!(handled, 2);

    let consumer_segment = segment_rooted_at(&format!("Kafka/{topic}/Consumer/audit")).await;
    let entry = assert_consumer(&consumer_segment, &topic, "audit", &peer);
    assert!(entry.refs.is_empty(), "{:?}", entry.refs);
    assert!(!tags(entry).contains_key("transmission.latency"));
}
