//! [rdkafka]: exit spans for sent records, entry spans for consumed batches, the trace
//! context in the messages' headers (feature `rdkafka`).
//!
//! Works with rdkafka 0.33 to 0.39 (the same header and `FutureProducer::send` APIs);
//! the application's own rdkafka dependency picks how librdkafka is built or linked.
//! rdkafka's producers and consumers are driven by librdkafka's threads and have no
//! interceptor that sees the caller's context, so the integration is a function to call
//! instead of [`FutureProducer::send`], an extension method for records sent another
//! way, and a scope around the handling of consumed messages.
//!
//! ```no_run
//! use std::time::Duration;
//! use rdkafka::ClientConfig;
//! use rdkafka::consumer::{Consumer, StreamConsumer};
//! use rdkafka::producer::{FutureProducer, FutureRecord};
//! use skywalking_runtime::integrations::kafka::rdkafka as sw_kafka;
//!
//! # async fn f() -> Result<(), rdkafka::error::KafkaError> {
//! let mut config = ClientConfig::new();
//! config.set("bootstrap.servers", "kafka:9092").set("group.id", "billing");
//! let brokers = sw_kafka::brokers(&config);
//!
//! let producer: FutureProducer = config.create()?;
//! let record = FutureRecord::to("orders").key("42").payload("{..}");
//! // Instead of `producer.send(record, Duration::from_secs(1))`:
//! sw_kafka::send(&producer, &brokers, record, Duration::from_secs(1))
//!     .await
//!     .map_err(|(error, _)| error)?;
//!
//! let consumer: StreamConsumer = config.create()?;
//! consumer.subscribe(&["orders"])?;
//! let billing = sw_kafka::subscription(&config, "orders");
//! let message = consumer.recv().await?;
//! // One entry span for what was polled (here one message), current while it is handled:
//! sw_kafka::consume_async(&billing, std::slice::from_ref(&message), async {
//!     // handle(&message).await ...
//! })
//! .await;
//! # Ok(()) }
//! ```
//!
//! # When spans are created, entered and ended
//!
//! [`send`]: on the first poll of the returned future the exit span
//! `Kafka/<topic>/Producer` opens (a child of the current span, or the first span of a
//! new trace), the trace context is **appended to the record's headers** (any `sw8`,
//! `sw8-correlation` or `sw8-x` it already had is dropped first), and the record is
//! queued. The span ends when the delivery report arrives; a delivery error marks it
//! failed and logs its text. For `BaseProducer`/`ThreadedProducer`, open the span with
//! [`producer_span`](super::producer_span) and call
//! [`RecordExt::with_trace_context`] on the record; the span then covers the enqueue.
//!
//! [`consume`] / [`consume_async`]: the entry span `Kafka/<topic>/Consumer/<group>`
//! opens before the handler runs (on its first poll) and is current while it runs; it
//! continues the trace of the first traced message and refers to every other one (see
//! the [module docs](super)). Messages are anything implementing rdkafka's
//! [`Message`]: `BorrowedMessage`s from `poll`/`recv`, or detached `OwnedMessage`s.
//!
//! [rdkafka]: https://docs.rs/rdkafka

use std::future::Future;

use ::rdkafka::ClientConfig;
use ::rdkafka::client::ClientContext;
use ::rdkafka::message::{BorrowedHeaders, Header, Headers, Message, OwnedHeaders, ToBytes};
use ::rdkafka::producer::future_producer::OwnedDeliveryResult;
use ::rdkafka::producer::{BaseRecord, FutureProducer, FutureRecord};
use ::rdkafka::util::{AsyncRuntime, IntoOpaque, Timeout};

use super::{Brokers, Consume, MessageContext, Subscription, is_enabled, producer_init, tag};
use crate::propagation::{Extractor, SW8, SW8_CORRELATION, SW8_X};
use crate::trace::future::Instrumented;
use crate::trace::span::{SpanRef, current_span};

/// The broker list of a client configuration (`bootstrap.servers`, else
/// `metadata.broker.list`), as the spans' peer.
pub fn brokers(config: &ClientConfig) -> Brokers {
    let list = config
        .get("bootstrap.servers")
        .or_else(|| config.get("metadata.broker.list"))
        .unwrap_or("");
    Brokers::parse(list)
}

/// The [`Subscription`] of a consumer made from `config`, reading `topic` (several
/// joined by `;`): its brokers and `group.id`.
pub fn subscription(config: &ClientConfig, topic: &str) -> Subscription {
    Subscription::new(brokers(config), topic, config.get("group.id").unwrap_or(""))
}

/// The value of the last header named `key` in `headers`, if it is UTF-8 text.
fn last_value<'a, H: Headers + ?Sized>(headers: &'a H, key: &str) -> Option<&'a str> {
    let count = headers.count();
    let header = (0..count)
        .rev()
        .filter_map(|i| headers.try_get(i))
        .find(|h| h.key == key)?;
    std::str::from_utf8(header.value?).ok()
}

/// Lenient: the last header of a name wins (Kafka allows several); a value that is
/// null or not UTF-8 counts as absent.
impl Extractor for BorrowedHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        last_value(self, key)
    }
}

/// As for [`BorrowedHeaders`].
impl Extractor for OwnedHeaders {
    fn get(&self, key: &str) -> Option<&str> {
        last_value(self, key)
    }
}

/// The headers of a consumed message, which may have none.
struct MessageHeaders<'a, H>(Option<&'a H>);

impl<H: Headers> Extractor for MessageHeaders<'_, H> {
    fn get(&self, key: &str) -> Option<&str> {
        last_value(self.0?, key)
    }
}

/// Whether `name` is one of the headers the context travels in.
fn is_context_header(name: &str) -> bool {
    matches!(name, SW8 | SW8_CORRELATION | SW8_X)
}

/// `headers` with the context appended (an earlier context dropped).
fn with_context(headers: Option<OwnedHeaders>, context: &MessageContext) -> Option<OwnedHeaders> {
    if context.is_empty() {
        return headers;
    }
    let mut out = match headers {
        Some(existing) if existing.iter().any(|h| is_context_header(h.key)) => {
            let mut kept = OwnedHeaders::new_with_capacity(existing.count() + 3);
            for header in existing.iter().filter(|h| !is_context_header(h.key)) {
                kept = kept.insert(header);
            }
            kept
        }
        Some(existing) => existing,
        None => OwnedHeaders::new_with_capacity(3),
    };
    for (key, value) in context.headers() {
        out = out.insert(Header {
            key,
            value: Some(value),
        });
    }
    Some(out)
}

mod sealed {
    pub trait Sealed {}
    impl<K, P> Sealed for ::rdkafka::producer::FutureRecord<'_, K, P>
    where
        K: ::rdkafka::message::ToBytes + ?Sized,
        P: ::rdkafka::message::ToBytes + ?Sized,
    {
    }
    impl<K, P, D> Sealed for ::rdkafka::producer::BaseRecord<'_, K, P, D>
    where
        K: ::rdkafka::message::ToBytes + ?Sized,
        P: ::rdkafka::message::ToBytes + ?Sized,
        D: ::rdkafka::util::IntoOpaque,
    {
    }
}

/// Writes a span's trace context into a record's headers: for records sent through
/// `BaseProducer` or `ThreadedProducer` ([`send`] does it for `FutureProducer`).
///
/// ```
/// use rdkafka::producer::BaseRecord;
/// use skywalking_runtime::integrations::kafka::{self, Brokers, rdkafka::RecordExt};
///
/// let brokers = Brokers::parse("kafka:9092");
/// let span = kafka::producer_span(&brokers, "orders");
/// let record: BaseRecord<'_, str, str> = BaseRecord::to("orders")
///     .payload("{..}")
///     .with_trace_context(&span);
/// // producer.send(record) ...
/// # drop(record);
/// ```
pub trait RecordExt: sealed::Sealed + Sized {
    /// The record with `span`'s context appended to its headers (`sw8`,
    /// `sw8-correlation`, `sw8-x` with the send time; see
    /// [`kafka::inject`](super::inject)). Unchanged when no trace records or no agent
    /// runs.
    fn with_trace_context(self, span: &SpanRef) -> Self;
}

impl<K, P> RecordExt for FutureRecord<'_, K, P>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
{
    fn with_trace_context(mut self, span: &SpanRef) -> Self {
        if is_enabled() {
            self.headers = with_context(self.headers.take(), &MessageContext::of(span));
        }
        self
    }
}

impl<K, P, D> RecordExt for BaseRecord<'_, K, P, D>
where
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    D: IntoOpaque,
{
    fn with_trace_context(mut self, span: &SpanRef) -> Self {
        if is_enabled() {
            self.headers = with_context(self.headers.take(), &MessageContext::of(span));
        }
        self
    }
}

/// Like [`FutureProducer::send`], inside an exit span, with the trace context written
/// into the record's headers (see the [module docs](self)).
pub fn send<'a, C, R, K, P, T>(
    producer: &'a FutureProducer<C, R>,
    brokers: &Brokers,
    record: FutureRecord<'a, K, P>,
    queue_timeout: T,
) -> impl Future<Output = OwnedDeliveryResult> + 'a
where
    C: ClientContext + 'static,
    R: AsyncRuntime,
    K: ToBytes + ?Sized,
    P: ToBytes + ?Sized,
    T: Into<Timeout>,
{
    let brokers = brokers.clone();
    let queue_timeout: Timeout = queue_timeout.into();
    async move {
        if !is_enabled() {
            return producer.send(record, queue_timeout).await;
        }
        let topic = record.topic;
        let init = producer_init(&brokers, topic);
        let send = async move {
            let span = current_span();
            tag(&span, &brokers, topic);
            let record = record.with_trace_context(&span);
            let result = producer.send(record, queue_timeout).await;
            if let Err((error, _)) = &result {
                span.record_error(error);
            }
            result
        };
        Instrumented::with_span(send, init, None).await
    }
}

/// Runs `handle` inside the entry span of the `messages` just polled for
/// `subscription` (see the [module docs](self)), passing it the messages. For a single
/// message, pass `std::slice::from_ref(&message)`.
///
/// ```no_run
/// use std::time::Duration;
/// use rdkafka::ClientConfig;
/// use rdkafka::consumer::{BaseConsumer, Consumer};
/// use skywalking_runtime::integrations::kafka::rdkafka as sw_kafka;
///
/// # fn f(config: &ClientConfig) -> Result<(), rdkafka::error::KafkaError> {
/// let consumer: BaseConsumer = config.create()?;
/// consumer.subscribe(&["orders"])?;
/// let billing = sw_kafka::subscription(config, "orders");
/// let batch: Vec<_> = (0..10)
///     .filter_map(|_| consumer.poll(Duration::from_millis(100)))
///     .collect::<Result<_, _>>()?;
/// sw_kafka::consume(&billing, &batch, |batch| {
///     for message in batch {
///         // handle(message) ...
///         let _ = message;
///     }
/// });
/// # Ok(()) }
/// ```
pub fn consume<M: Message, R>(
    subscription: &Subscription,
    messages: &[M],
    handle: impl FnOnce(&[M]) -> R,
) -> R {
    let headers = messages.iter().map(|m| MessageHeaders(m.headers()));
    super::consume_batch(subscription, headers, || handle(messages))
}

/// Runs `future` inside the entry span of the `messages` just polled for
/// `subscription` (see the [module docs](self)); the span is current during every poll
/// and ends when `future` completes. The headers are read now.
pub fn consume_async<M: Message, F: Future>(
    subscription: &Subscription,
    messages: &[M],
    future: F,
) -> Consume<F> {
    let headers = messages.iter().map(|m| MessageHeaders(m.headers()));
    super::consume_batch_async(subscription, headers, future)
}

#[cfg(test)]
mod tests {
    use ::rdkafka::message::OwnedMessage;
    use ::rdkafka::{Timestamp, producer::BaseRecord};

    use super::*;
    use crate::propagation::Injector;

    fn owned(headers: &[(&str, Option<&[u8]>)]) -> OwnedHeaders {
        headers.iter().fold(OwnedHeaders::new(), |h, (key, value)| {
            h.insert(Header { key, value: *value })
        })
    }

    #[test]
    fn the_last_header_of_a_name_wins() {
        let headers = owned(&[
            ("sw8", Some(b"old")),
            ("app", Some(b"x")),
            ("sw8", Some(b"new")),
            ("bad", Some(b"\xff")),
            ("null", None),
        ]);
        assert_eq!(Extractor::get(&headers, SW8), Some("new"));
        assert_eq!(Extractor::get(headers.as_borrowed(), "app"), Some("x"));
        assert_eq!(Extractor::get(&headers, "bad"), None);
        assert_eq!(Extractor::get(&headers, "null"), None);
        assert_eq!(Extractor::get(&headers, "missing"), None);
        assert_eq!(MessageHeaders::<OwnedHeaders>(None).get(SW8), None);
        assert_eq!(MessageHeaders(Some(&headers)).get(SW8), Some("new"));
    }

    #[test]
    fn an_earlier_context_is_replaced_and_other_headers_kept() {
        let mut context = MessageContext::default();
        context.set(SW8, "1-new".to_owned());
        context.set(SW8_X, "0-7".to_owned());
        let existing = owned(&[
            ("sw8", Some(b"1-old")),
            ("app", Some(b"x")),
            ("sw8-correlation", Some(b"a:b")),
        ]);
        let out = with_context(Some(existing), &context).expect("headers");
        let pairs: Vec<_> = out
            .iter()
            .map(|h| (h.key.to_owned(), h.value.map(<[u8]>::to_vec)))
            .collect();
        assert_eq!(
            pairs,
            vec![
                ("app".to_owned(), Some(b"x".to_vec())),
                ("sw8".to_owned(), Some(b"1-new".to_vec())),
                ("sw8-x".to_owned(), Some(b"0-7".to_vec())),
            ]
        );

        let plain = with_context(Some(owned(&[("app", Some(b"x"))])), &context).expect("h");
        assert_eq!(plain.count(), 3);
        let fresh = with_context(None, &context).expect("headers");
        assert_eq!(Extractor::get(&fresh, SW8), Some("1-new"));
        assert!(with_context(None, &MessageContext::default()).is_none());
    }

    #[test]
    fn config_names_brokers_and_group() {
        let mut config = ClientConfig::new();
        assert_eq!(brokers(&config).as_str(), "");
        config.set("metadata.broker.list", "m:1");
        assert_eq!(brokers(&config).as_str(), "m:1");
        config
            .set("bootstrap.servers", "a:9092,b:9092")
            .set("group.id", "billing");
        let sub = subscription(&config, "orders");
        assert_eq!(sub.brokers().as_str(), "a:9092;b:9092");
        assert_eq!(sub.operation_name(), "Kafka/orders/Consumer/billing");
    }

    #[test]
    fn without_an_agent_records_and_messages_pass_through() {
        let span = crate::Span::noop();
        let record: BaseRecord<'_, str, str> = BaseRecord::to("orders")
            .payload("p")
            .with_trace_context(&span);
        assert!(record.headers.is_none());
        let future: FutureRecord<'_, str, str> =
            FutureRecord::to("orders").with_trace_context(&span);
        assert!(future.headers.is_none());

        let message = OwnedMessage::new(
            Some(b"p".to_vec()),
            None,
            "orders".to_owned(),
            Timestamp::NotAvailable,
            0,
            1,
            Some(owned(&[("sw8", Some(b"garbage"))])),
        );
        let billing = Subscription::new("k:9092", "orders", "billing");
        assert_eq!(consume(&billing, &[message], <[OwnedMessage]>::len), 1);
    }
}
