//! Trace context through Kafka with rskafka, against a real broker (tansu) and the mock
//! collector over gRPC: a produced message carries its trace to the consumer, whose
//! batch span refers back to the producer's exit span; a batch of several traced
//! messages has one reference each; messages without headers start a new trace.

mod kafka_support;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_support::{
    assert_consumer, assert_producer, assert_refers_to, broker, new_topic, segment_rooted_at,
    segment_with, span, tags, trace_segments,
};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::{Record, RecordAndOffset};
use skywalking_runtime::integrations::kafka::{Brokers, Subscription, rskafka as sw_kafka};
use skywalking_runtime::{FutureExt, Span};
use skywalking_testkit::servers::tansu::Tansu;

async fn client(broker: &Tansu) -> Client {
    ClientBuilder::new(vec![broker.bootstrap()])
        .build()
        .await
        .expect("rskafka connects")
}

async fn partition(client: &Client, topic: &str) -> PartitionClient {
    client
        .partition_client(topic.to_owned(), 0, UnknownTopicHandling::Retry)
        .await
        .expect("partition client")
}

fn record(value: &str) -> Record {
    Record {
        key: None,
        value: Some(value.as_bytes().to_vec()),
        headers: BTreeMap::new(),
        timestamp: Default::default(),
    }
}

/// The first `n` records of the partition, once they are there.
async fn fetch(partition: &PartitionClient, n: usize) -> Vec<RecordAndOffset> {
    let deadline = tokio::time::Instant::now() + kafka_support::WAIT;
    loop {
        let (records, _) = partition
            .fetch_records(0, 1..10_000_000, 500)
            .await
            .expect("fetched");
        if records.len() >= n {
            return records;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} records expected, got {}",
            records.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

/// Produces `values` in one batch from an exit span inside a new trace whose first span
/// is `root`; returns the trace id.
async fn produce_traced(
    partition: &PartitionClient,
    brokers: &Brokers,
    root: &'static str,
    values: &[&str],
) -> String {
    let records = values.iter().map(|v| record(v)).collect();
    async {
        sw_kafka::produce(partition, brokers, records, Compression::NoCompression)
            .await
            .expect("produced");
        current_trace()
    }
    .in_span(root)
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carries_its_trace_to_the_consumer() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "one");
    let peer = broker.bootstrap();
    let brokers = Brokers::parse(&peer);
    let client = client(broker).await;
    let orders = partition(&client, &topic).await;

    let trace = produce_traced(&orders, &brokers, "place order", &["order-1"]).await;

    let records = fetch(&orders, 1).await;
    let headers = &records[0].record.headers;
    assert!(headers.contains_key("sw8"), "{headers:?}");
    assert!(headers.contains_key("sw8-x"), "the send time travels");
    let billing = Subscription::new(brokers.clone(), &topic, "billing");
    let handled = sw_kafka::consume_batch_async(&billing, &records, async {
        let _bill = Span::local("bill");
        tokio::task::yield_now().await;
        records.len()
    })
    .await;
    assert_eq!(handled, 1);

    let segments = trace_segments(&trace, 2).await;
    assert_eq!(segments.len(), 2, "{segments:#?}");
    let producer = segment_with(&segments, "place order");
    let exit = assert_producer(producer, &topic, &peer);
    assert_eq!(exit.parent_span_id, span(producer, "place order").span_id);
    let consumer = segment_with(&segments, &format!("Kafka/{topic}/Consumer/billing"));
    assert_ne!(consumer.trace_segment_id, producer.trace_segment_id);
    let entry = assert_consumer(consumer, &topic, "billing", &peer);
    assert_eq!(entry.refs.len(), 1, "{:?}", entry.refs);
    assert_refers_to(&entry.refs[0], producer, exit);
    assert_eq!(entry.refs[0].parent_endpoint, "place order");
    let latency: i64 = tags(entry)["transmission.latency"]
        .parse()
        .expect("milliseconds");
    assert!((0..10_000).contains(&latency), "{latency}");
    assert_eq!(span(consumer, "bill").parent_span_id, entry.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refers_to_each_traced_message_once() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "batch");
    let peer = broker.bootstrap();
    let brokers = Brokers::parse(&peer);
    let client = client(broker).await;
    let orders = partition(&client, &topic).await;

    let roots = ["order a", "order b", "order c"];
    let mut traces = Vec::new();
    traces.push(produce_traced(&orders, &brokers, roots[0], &["a"]).await);
    traces.push(produce_traced(&orders, &brokers, roots[1], &["b"]).await);
    // Two records of one produce call name the same exit span: one reference.
    traces.push(produce_traced(&orders, &brokers, roots[2], &["c1", "c2"]).await);
    // A record sent without the integration has no headers.
    orders
        .produce(vec![record("untraced")], Compression::NoCompression)
        .await
        .expect("produced");

    let records = fetch(&orders, 5).await;
    assert!(records[4].record.headers.is_empty());
    let billing = Subscription::new(brokers.clone(), &topic, "billing");
    let handled = sw_kafka::consume_batch(&billing, &records, |records| {
        let _bill = Span::local("bill all");
        records.len()
    });
    assert_eq!(handled, 5);

    // The batch continues the first message's trace.
    let segments = trace_segments(&traces[0], 2).await;
    let consumer = segment_with(&segments, &format!("Kafka/{topic}/Consumer/billing"));
    let entry = assert_consumer(consumer, &topic, "billing", &peer);
    assert_eq!(entry.refs.len(), 3, "{:#?}", entry.refs);
    for (i, (trace, root)) in traces.iter().zip(roots).enumerate() {
        let segments = trace_segments(trace, 1).await;
        let producer = segment_with(&segments, root);
        let exit = assert_producer(producer, &topic, &peer);
        assert_refers_to(&entry.refs[i], producer, exit);
    }
    assert_eq!(span(consumer, "bill all").parent_span_id, entry.span_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_without_headers_start_a_new_trace() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "plain");
    let peer = broker.bootstrap();
    let client = client(broker).await;
    let orders = partition(&client, &topic).await;
    orders
        .produce(vec![record("x"), record("y")], Compression::NoCompression)
        .await
        .expect("produced");

    let records = fetch(&orders, 2).await;
    let audit = Subscription::new(peer.as_str(), &topic, "audit");
    let handled = sw_kafka::consume_batch_async(&audit, &records, async { records.len() }).await;
    assert_eq!(handled, 2);

    let name = format!("Kafka/{topic}/Consumer/audit");
    let consumer = segment_rooted_at(&name).await;
    let entry = assert_consumer(&consumer, &topic, "audit", &peer);
    assert!(entry.refs.is_empty(), "{:?}", entry.refs);
    assert!(!tags(entry).contains_key("transmission.latency"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_outside_any_trace_starts_one() {
    let Some(broker) = broker() else { return };
    let broker = &broker;
    let topic = new_topic(broker, "root");
    let peer = broker.bootstrap();
    let brokers = Brokers::parse(&peer);
    let client = client(broker).await;
    let orders = partition(&client, &topic).await;
    // No span is open here: the exit span is the first span of a new trace.
    sw_kafka::produce(
        &orders,
        &brokers,
        vec![record("o")],
        Compression::NoCompression,
    )
    .await
    .expect("produced");
    assert!(skywalking_runtime::trace_id().is_none());

    let records = fetch(&orders, 1).await;
    let billing = Subscription::new(brokers, &topic, "billing");
    sw_kafka::consume_batch(&billing, &records, |_| ());

    let producer = segment_rooted_at(&format!("Kafka/{topic}/Producer")).await;
    let exit = assert_producer(&producer, &topic, &peer);
    assert_eq!(exit.span_id, 0);
    let segments = trace_segments(&producer.trace_id, 2).await;
    let consumer = segment_with(&segments, &format!("Kafka/{topic}/Consumer/billing"));
    let entry = assert_consumer(consumer, &topic, "billing", &peer);
    assert_eq!(entry.refs.len(), 1);
    assert_refers_to(&entry.refs[0], &producer, exit);
}
