//! With no agent running, the Kafka helpers only forward: no span records, no header is
//! written, traced headers are not even decoded, and nothing is allocated.
//!
//! This binary never starts an agent.

// The counting allocator is the one place tests need `unsafe`.
#[allow(unsafe_code)]
mod counting_alloc;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use skywalking_runtime::integrations::kafka::rskafka as sw_kafka;
use skywalking_runtime::integrations::kafka::{self, Brokers, Subscription};

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// The allocations `f` makes on this thread.
fn allocations_of<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let before = counting_alloc::allocations();
    let result = f();
    (counting_alloc::allocations() - before, result)
}

const SW8: &str = "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=";

fn traced_headers() -> BTreeMap<String, Vec<u8>> {
    BTreeMap::from([("sw8".to_owned(), SW8.as_bytes().to_vec())])
}

#[test]
fn the_producer_side_writes_and_allocates_nothing() {
    let brokers = Brokers::parse("kafka:9092");
    let mut headers = BTreeMap::<String, Vec<u8>>::new();
    let (allocations, recording) = allocations_of(|| {
        let span = kafka::producer_span(&brokers, "orders");
        kafka::inject(&span, &mut headers);
        span.is_recording()
    });
    assert!(!recording);
    assert!(headers.is_empty());
    assert_eq!(allocations, 0);
}

#[test]
fn the_consumer_side_runs_the_handler_and_allocates_nothing() {
    let billing = Subscription::new("kafka:9092", "orders", "billing");
    let batch = vec![traced_headers(), BTreeMap::new()];
    let (allocations, handled) = allocations_of(|| {
        kafka::consume_batch(&billing, &batch, || {
            skywalking_runtime::trace_id().is_none()
                && !skywalking_runtime::current_span().is_recording()
        })
    });
    assert!(handled, "no trace is active in the handler");
    assert_eq!(allocations, 0);

    let (allocations, output) = allocations_of(|| {
        let future = pin!(kafka::consume_batch_async(&billing, &batch, async { 7 }));
        future.poll(&mut Context::from_waker(Waker::noop()))
    });
    assert_eq!(output, Poll::Ready(7));
    assert_eq!(allocations, 0);
}

#[test]
fn rskafka_records_pass_through() {
    let billing = Subscription::new("kafka:9092", "orders", "billing");
    let records = vec![rskafka::record::Record {
        key: None,
        value: Some(b"v".to_vec()),
        headers: traced_headers(),
        timestamp: Default::default(),
    }];
    let (allocations, n) =
        allocations_of(|| sw_kafka::consume_batch(&billing, &records, <[_]>::len));
    assert_eq!(n, 1);
    assert_eq!(allocations, 0);
}
