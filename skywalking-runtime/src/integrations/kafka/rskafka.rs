//! [rskafka]: exit spans for produced batches, entry spans for fetched ones, the trace
//! context in the records' headers (feature `rskafka`).
//!
//! rskafka has no interceptors, so the integration is a function to call instead of
//! [`PartitionClient::produce`], and a scope around the handling of what
//! [`PartitionClient::fetch_records`] (or rskafka's `StreamConsumer`) returned. Neither
//! the client nor its partition clients know the broker list they were built from, so
//! both take it as a [`Brokers`] (the list given to `ClientBuilder::new`).
//!
//! ```no_run
//! use rskafka::client::partition::{Compression, PartitionClient};
//! use rskafka::record::Record;
//! use skywalking_runtime::integrations::kafka::{Brokers, Subscription, rskafka as sw_kafka};
//!
//! async fn send(orders: &PartitionClient, brokers: &Brokers, records: Vec<Record>)
//!     -> Result<Vec<i64>, rskafka::client::error::Error> {
//!     // Instead of `orders.produce(records, Compression::NoCompression)`:
//!     sw_kafka::produce(orders, brokers, records, Compression::NoCompression).await
//! }
//!
//! async fn poll(orders: &PartitionClient, billing: &Subscription, offset: i64)
//!     -> Result<i64, rskafka::client::error::Error> {
//!     let (records, _high_watermark) = orders.fetch_records(offset, 1..1_000_000, 500).await?;
//!     let next = records.last().map_or(offset, |r| r.offset + 1);
//!     // One entry span for the batch, current while it is handled:
//!     sw_kafka::consume_batch_async(billing, &records, async {
//!         for record in &records {
//!             // handle(record).await ...
//!             let _ = record;
//!         }
//!     })
//!     .await;
//!     Ok(next)
//! }
//! ```
//!
//! # When spans are created, entered and ended
//!
//! [`produce`]: on the first poll of the returned future the exit span
//! `Kafka/<topic>/Producer` opens (a child of the current span, or the first span of a
//! new trace), the trace context is **written into every record's headers** (one
//! encoding for the whole batch: every record names the same exit span), and the batch
//! is sent. The span ends when the broker's answer arrives; an error marks it failed
//! and logs its text. [`consume_batch`] / [`consume_batch_async`]: the entry span
//! `Kafka/<topic>/Consumer/<group>` opens before the handler runs (on its first poll)
//! and is current while it runs; it continues the trace of the first traced record and
//! refers to every other one (see the [module docs](super)). Records are
//! [`Record`]s, [`RecordAndOffset`]s (what `fetch_records` returns) or
//! `(RecordAndOffset, i64)` pairs (what `StreamConsumer` yields).
//!
//! By hand: `BTreeMap<String, Vec<u8>>` (a record's `headers`) is an
//! [`Injector`] and an
//! [`Extractor`], so
//! [`kafka::inject`](super::inject) writes into `record.headers` directly.
//!
//! [rskafka]: https://docs.rs/rskafka

use std::collections::BTreeMap;
use std::future::Future;

use ::rskafka::client::error::Error;
use ::rskafka::client::partition::{Compression, PartitionClient};
use ::rskafka::record::{Record, RecordAndOffset};

use super::{Brokers, Consume, MessageContext, Subscription, is_enabled, producer_init, tag};
use crate::propagation::{Extractor, Injector};
use crate::trace::future::Instrumented;
use crate::trace::span::current_span;

/// Lenient: a value that is not UTF-8 counts as absent.
impl Extractor for BTreeMap<String, Vec<u8>> {
    fn get(&self, key: &str) -> Option<&str> {
        std::str::from_utf8(BTreeMap::get(self, key)?).ok()
    }
}

/// Replaces any value of the same key (a record forwarded with a new context).
impl Injector for BTreeMap<String, Vec<u8>> {
    fn set(&mut self, key: &'static str, value: String) {
        self.insert(key.to_owned(), value.into_bytes());
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for ::rskafka::record::Record {}
    impl Sealed for ::rskafka::record::RecordAndOffset {}
    impl Sealed for (::rskafka::record::RecordAndOffset, i64) {}
}

/// What rskafka hands a consumer: a [`Record`], a [`RecordAndOffset`] (from
/// `fetch_records`) or a `(RecordAndOffset, high watermark)` pair (from
/// `StreamConsumer`).
pub trait ConsumedRecord: sealed::Sealed {
    /// The record.
    fn record(&self) -> &Record;
}

impl ConsumedRecord for Record {
    fn record(&self) -> &Record {
        self
    }
}

impl ConsumedRecord for RecordAndOffset {
    fn record(&self) -> &Record {
        &self.record
    }
}

impl ConsumedRecord for (RecordAndOffset, i64) {
    fn record(&self) -> &Record {
        &self.0.record
    }
}

/// Writes the context of `context` into each record's headers.
fn write_all(context: &MessageContext, records: &mut [Record]) {
    if context.is_empty() {
        return;
    }
    for record in records {
        context.write_to(&mut record.headers);
    }
}

/// Like [`PartitionClient::produce`], inside an exit span, with the trace context
/// written into every record's headers (see the [module docs](self)).
pub fn produce<'a>(
    client: &'a PartitionClient,
    brokers: &Brokers,
    mut records: Vec<Record>,
    compression: Compression,
) -> impl Future<Output = Result<Vec<i64>, Error>> + Send + 'a {
    let brokers = brokers.clone();
    async move {
        if !is_enabled() || records.is_empty() {
            return client.produce(records, compression).await;
        }
        let init = producer_init(&brokers, client.topic());
        let send = async move {
            let span = current_span();
            tag(&span, &brokers, client.topic());
            write_all(&MessageContext::of(&span), &mut records);
            let result = client.produce(records, compression).await;
            if let Err(error) = &result {
                span.record_error(error);
            }
            result
        };
        Instrumented::with_span(send, init, None).await
    }
}

/// Runs `handle` inside the entry span of one fetched batch of `subscription` (see the
/// [module docs](self)), passing it the batch.
///
/// ```no_run
/// # use rskafka::record::RecordAndOffset;
/// use skywalking_runtime::integrations::kafka::{Subscription, rskafka::consume_batch};
///
/// # fn f(records: Vec<RecordAndOffset>) {
/// let billing = Subscription::new("kafka:9092", "orders", "billing");
/// let total: usize = consume_batch(&billing, &records, |records| {
///     records.iter().map(|r| r.record.value.as_ref().map_or(0, Vec::len)).sum()
/// });
/// # let _ = total;
/// # }
/// ```
pub fn consume_batch<T: ConsumedRecord, R>(
    subscription: &Subscription,
    records: &[T],
    handle: impl FnOnce(&[T]) -> R,
) -> R {
    let headers = records.iter().map(|r| &r.record().headers);
    super::consume_batch(subscription, headers, || handle(records))
}

/// Runs `future` inside the entry span of one fetched batch of `subscription` (see the
/// [module docs](self)); the span is current during every poll and ends when `future`
/// completes. The headers are read now.
pub fn consume_batch_async<T: ConsumedRecord, F: Future>(
    subscription: &Subscription,
    records: &[T],
    future: F,
) -> Consume<F> {
    let headers = records.iter().map(|r| &r.record().headers);
    super::consume_batch_async(subscription, headers, future)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{SW8, SW8_X};

    fn record(headers: &[(&str, &[u8])]) -> Record {
        Record {
            key: None,
            value: Some(b"v".to_vec()),
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.to_vec()))
                .collect(),
            timestamp: Default::default(),
        }
    }

    #[test]
    fn record_headers_are_a_carrier() {
        let mut r = record(&[("sw8", b"old"), ("other", b"\xff")]);
        r.headers.set(SW8, "new".to_owned());
        assert_eq!(Extractor::get(&r.headers, SW8), Some("new"));
        assert_eq!(r.headers.len(), 2, "replaced, not added");
        assert_eq!(Extractor::get(&r.headers, "other"), None, "not UTF-8");
        assert_eq!(Extractor::get(&r.headers, SW8_X), None);
    }

    #[test]
    fn every_record_of_a_batch_gets_the_same_context() {
        let mut context = MessageContext::default();
        context.set(SW8, "1-a".to_owned());
        context.set(SW8_X, "0-5".to_owned());
        let mut records = vec![record(&[]), record(&[("app", b"x")])];
        write_all(&context, &mut records);
        for r in &records {
            assert_eq!(Extractor::get(&r.headers, SW8), Some("1-a"));
            assert_eq!(Extractor::get(&r.headers, SW8_X), Some("0-5"));
        }
        assert_eq!(records[1].headers["app"], b"x");
        let mut untouched = vec![record(&[])];
        write_all(&MessageContext::default(), &mut untouched);
        assert!(untouched[0].headers.is_empty());
    }

    #[test]
    fn consumed_records_of_every_shape_expose_their_record() {
        let r = record(&[("sw8", b"x")]);
        let with_offset = RecordAndOffset {
            record: r.clone(),
            offset: 3,
        };
        assert_eq!(r.record(), &r);
        assert_eq!(with_offset.record(), &r);
        assert_eq!((with_offset.clone(), 9).record(), &r);
    }

    #[test]
    fn without_an_agent_the_handler_just_runs() {
        let billing = Subscription::new("k:9092", "orders", "billing");
        let records = vec![record(&[("sw8", b"garbage")])];
        assert_eq!(consume_batch(&billing, &records, <[Record]>::len), 1);
    }
}
