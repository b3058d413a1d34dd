//! Kafka: one trace from a producer, across the broker, to its consumers (features
//! `rskafka` and `rdkafka`).
//!
//! The producer side opens an **exit span** around a send and writes the trace context
//! into each record's headers; the consumer side opens one **entry span per polled
//! batch**, which continues the trace of the batch's first traced message and carries
//! one `CrossProcess` reference per traced message, so OAP links every producer to the
//! consumer. The spans follow the Java agent's Kafka plugin (and the Python agent's,
//! which copies it), so mixed-language pipelines look alike in OAP:
//!
//! | | producer (exit) | consumer (entry) |
//! |---|---|---|
//! | name | `Kafka/<topic>/Producer` | `Kafka/<topic>/Consumer/<group>` |
//! | layer, component | `MQ`, 40 (`kafka-producer`) | `MQ`, 41 (`kafka-consumer`) |
//! | peer | the broker list, `host:port` joined by `;` ([`Brokers`]) | the same |
//! | tags | `mq.broker`, `mq.topic` | `mq.broker`, `mq.topic`, `transmission.latency` |
//! | headers | writes `sw8`, `sw8-correlation`, `sw8-x` (with the send time) | reads them |
//!
//! The peer is what OAP names the virtual MQ service after (its `VirtualMQProcessor`
//! reads an exit span's peer, and, on the consumer side, the address of the first
//! reference, else the entry span's peer), and what `sw8` carries as the address the
//! producer used; so the same broker list given to both sides names one queue in OAP's
//! topology. Its form (`;` between brokers) is the Java and Python agents'.
//!
//! - **`sw8-x`** carries the producer's send time (epoch ms), as the Java agent's MQ
//!   plugins write it (`injectSendingTimestamp`); the consumer tags its entry span
//!   `transmission.latency` (now minus that time) for the batch's first traced message,
//!   which OAP reports as the queue's latency.
//! - **References**: a batch continues the trace of its first message with a valid
//!   `sw8` (a batch with none starts a new trace, as in Java); every other traced
//!   message adds a `CrossProcess` reference to the entry span, at most
//!   [`MAX_BATCH_REFERENCES`] per batch (memory stays bounded whatever the batch size).
//!   Consecutive messages carrying the same `sw8` (one producer batch) add one.
//!   Messages without headers, or with a malformed `sw8`, are handled as usual and
//!   add nothing.
//! - **Duplicated header keys** (Kafka allows them): the last value wins, so a message
//!   forwarded with a fresh context appended is read with that context.
//! - **No agent running**: every helper only forwards the call; no span, no header read
//!   or written, no allocation.
//!
//! The client modules wrap these for each client's types: `rskafka`
//! (pure Rust) and `rdkafka` (librdkafka). For any other client, the
//! building blocks here take any header map that implements
//! [`Injector`]/[`Extractor`]:
//!
//! ```
//! use std::collections::HashMap;
//! use skywalking_runtime::integrations::kafka::{self, Brokers, Subscription};
//!
//! let brokers = Brokers::parse("kafka-1:9092,kafka-2:9092");
//! assert_eq!(brokers.as_str(), "kafka-1:9092;kafka-2:9092");
//!
//! // Producer: an exit span around the send, the context in the message's headers.
//! let mut headers: HashMap<String, String> = HashMap::new();
//! {
//!     let span = kafka::producer_span(&brokers, "orders");
//!     kafka::inject(&span, &mut headers);
//!     // client.send(topic, payload, &headers) ...
//! }
//!
//! // Consumer: an entry span current while a polled batch is handled.
//! let orders = Subscription::new(brokers, "orders", "billing");
//! let batch = vec![headers];
//! let handled = kafka::consume_batch(&orders, &batch, || batch.len());
//! assert_eq!(handled, 1);
//! ```
//!
//! [`Injector`]: crate::propagation::Injector
//! [`Extractor`]: crate::propagation::Extractor

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use pin_project_lite::pin_project;

use crate::propagation::{Extension, Extractor, Injector, SW8, SW8_CORRELATION, SW8_X};
use crate::record::{SpanKind, SpanLayer, component};
use crate::trace::context::{self, Context, SpanInit};
use crate::trace::future::Instrumented;
use crate::trace::span::{Span, SpanRef};

#[cfg(feature = "rdkafka")]
pub mod rdkafka;
#[cfg(feature = "rskafka")]
pub mod rskafka;

/// The most `CrossProcess` references one batch's entry span records: Kafka's default
/// `max.poll.records`, so a default poll is never cut.
pub const MAX_BATCH_REFERENCES: usize = 500;

/// Tag: the broker list.
const MQ_BROKER: &str = "mq.broker";
/// Tag: the topic.
const MQ_TOPIC: &str = "mq.topic";

/// Whether an agent runs and records: when not, the helpers skip all their work.
#[inline]
pub(crate) fn is_enabled() -> bool {
    crate::settings::is_enabled()
}

/// The brokers a client talks to, as a span's peer: `host:port` entries joined by `;`
/// (the Java and Python agents' form). Cheap to clone.
///
/// ```
/// use skywalking_runtime::integrations::kafka::Brokers;
///
/// // `bootstrap.servers` as librdkafka and the Java client take it:
/// assert_eq!(Brokers::parse("a:9092, b:9092").as_str(), "a:9092;b:9092");
/// // A list, as rskafka's `ClientBuilder::new` takes it:
/// assert_eq!(Brokers::new(["a:9092", "b:9092"]).as_str(), "a:9092;b:9092");
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Brokers {
    peer: Arc<str>,
}

impl Brokers {
    /// The brokers of a list (each trimmed; empty entries left out).
    pub fn new<I, S>(brokers: I) -> Brokers
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut peer = String::new();
        for broker in brokers {
            for part in broker.as_ref().split([',', ';']) {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                if !peer.is_empty() {
                    peer.push(';');
                }
                peer.push_str(part);
            }
        }
        Brokers { peer: peer.into() }
    }

    /// The brokers of a `bootstrap.servers` value: entries separated by `,` (or `;`).
    pub fn parse(list: &str) -> Brokers {
        Brokers::new([list])
    }

    /// The peer: `host:port` entries joined by `;`.
    pub fn as_str(&self) -> &str {
        &self.peer
    }
}

impl fmt::Debug for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.peer, f)
    }
}

impl fmt::Display for Brokers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.peer)
    }
}

impl From<&str> for Brokers {
    fn from(list: &str) -> Brokers {
        Brokers::parse(list)
    }
}

impl From<String> for Brokers {
    fn from(list: String) -> Brokers {
        Brokers::parse(&list)
    }
}

/// What a consumer reads: its brokers, topic and group, which name its batches' entry
/// spans (`Kafka/<topic>/Consumer/<group>`). Several topics are written joined by `;`,
/// as the Java agent does; a client without consumer groups (rskafka) passes any label,
/// or `""`. Cheap to clone.
///
/// ```
/// use skywalking_runtime::integrations::kafka::Subscription;
///
/// let orders = Subscription::new("kafka:9092", "orders", "billing");
/// assert_eq!(orders.operation_name(), "Kafka/orders/Consumer/billing");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Subscription {
    brokers: Brokers,
    topic: Arc<str>,
    group: Arc<str>,
}

impl Subscription {
    /// A consumer of `topic` in `group`, connected to `brokers`.
    pub fn new(brokers: impl Into<Brokers>, topic: &str, group: &str) -> Subscription {
        Subscription {
            brokers: brokers.into(),
            topic: topic.into(),
            group: group.into(),
        }
    }

    /// The brokers.
    pub fn brokers(&self) -> &Brokers {
        &self.brokers
    }

    /// The topic (or topics, joined by `;`).
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// The consumer group.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The name of a batch's entry span: `Kafka/<topic>/Consumer/<group>`.
    pub fn operation_name(&self) -> String {
        format!("Kafka/{}/Consumer/{}", self.topic, self.group)
    }
}

/// The exit span of a send to `topic`.
pub(crate) fn producer_init(brokers: &Brokers, topic: &str) -> SpanInit {
    SpanInit {
        kind: SpanKind::Exit,
        name: Cow::Owned(format!("Kafka/{topic}/Producer")),
        peer: Cow::Owned(brokers.as_str().to_owned()),
        layer: SpanLayer::Mq,
        component: component::KAFKA_PRODUCER,
    }
}

/// The entry span of a batch of `subscription`.
fn consumer_init(subscription: &Subscription) -> SpanInit {
    SpanInit {
        kind: SpanKind::Entry,
        name: Cow::Owned(subscription.operation_name()),
        peer: Cow::Owned(subscription.brokers.as_str().to_owned()),
        layer: SpanLayer::Mq,
        component: component::KAFKA_CONSUMER,
    }
}

/// Adds `mq.broker` and `mq.topic` to a recording span.
pub(crate) fn tag(span: &SpanRef, brokers: &Brokers, topic: &str) {
    if span.is_recording() {
        span.add_tag(MQ_BROKER, brokers.as_str().to_owned());
        span.add_tag(MQ_TOPIC, topic.to_owned());
    }
}

/// Opens the exit span of sending messages to `topic` through `brokers`
/// (`Kafka/<topic>/Producer`, see the [module docs](self)); it ends when dropped.
/// Write its context into each message with [`inject`]. A no-op span when no agent
/// runs.
///
/// In async code, keep the span out of `.await`s that may move the task to another
/// thread (or use the client modules' `produce`/`send`, which carry it).
pub fn producer_span(brokers: &Brokers, topic: &str) -> Span {
    if !is_enabled() {
        return Span::noop();
    }
    let span = Span::open(producer_init(brokers, topic));
    tag(&span, brokers, topic);
    span
}

/// The headers that carry one exit span's context to every message it sends: encoded
/// once, copied into each message.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct MessageContext {
    sw8: Option<String>,
    correlation: Option<String>,
    extension: Option<String>,
}

impl MessageContext {
    /// The context `span` passes on: `sw8` (when its trace records), `sw8-correlation`
    /// (when the trace has correlation data) and `sw8-x` with the send time (now).
    pub(crate) fn of(span: &SpanRef) -> MessageContext {
        let mut context = MessageContext::default();
        if !is_enabled() {
            return context;
        }
        span.inject(&mut context);
        if context.sw8.is_some() {
            let skip_analysis = context
                .extension
                .as_deref()
                .and_then(|v| Extension::decode(v).ok())
                .is_some_and(|e| e.skip_analysis);
            let extension = Extension {
                skip_analysis,
                send_timestamp_ms: Some(crate::clock::now_epoch_ms()),
            };
            context.extension = Some(extension.encode());
        }
        context
    }

    /// Whether there is nothing to write.
    pub(crate) fn is_empty(&self) -> bool {
        self.sw8.is_none() && self.correlation.is_none() && self.extension.is_none()
    }

    /// The headers to write, as `(name, value)`.
    pub(crate) fn headers(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            (SW8, self.sw8.as_deref()),
            (SW8_CORRELATION, self.correlation.as_deref()),
            (SW8_X, self.extension.as_deref()),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
    }

    /// Writes the headers into `carrier` (copies of the values).
    pub(crate) fn write_to<C: Injector + ?Sized>(&self, carrier: &mut C) {
        for (name, value) in self.headers() {
            carrier.set(name, value.to_owned());
        }
    }
}

impl Injector for MessageContext {
    fn set(&mut self, key: &'static str, value: String) {
        match key {
            SW8 => self.sw8 = Some(value),
            SW8_CORRELATION => self.correlation = Some(value),
            SW8_X => self.extension = Some(value),
            // `traceparent` is not written into messages.
            _ => {}
        }
    }
}

/// Writes `span`'s trace context into a message's headers: `sw8` naming `span` as the
/// producer (when its trace records), `sw8-correlation` (when the trace carries
/// correlation data) and `sw8-x` with the send time. Use it on the span of
/// [`producer_span`]. Writes nothing when no trace is active or no agent runs.
pub fn inject<C: Injector + ?Sized>(span: &SpanRef, carrier: &mut C) {
    if !is_enabled() {
        return;
    }
    MessageContext::of(span).write_to(carrier);
}

/// An [`Extractor`] holding only an `sw8` value.
struct Sw8Only<'a>(&'a str);

impl Extractor for Sw8Only<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        (key == SW8).then_some(self.0)
    }
}

/// The traced messages of a batch: what the first one continues (`T`: the incoming
/// context), and the others' `sw8` values, which become references (deduplicated,
/// capped).
struct Batch<T> {
    first: Option<T>,
    /// `sw8` values of the traced messages after the first, none equal to the one
    /// before it.
    more: Vec<String>,
}

impl<T> Batch<T> {
    /// Reads a batch's headers. `continue_from` turns the first message with an `sw8`
    /// into what the batch continues; `None` (a malformed header) passes to the next.
    fn of<C, I>(carriers: I, mut continue_from: impl FnMut(&C) -> Option<T>) -> Batch<T>
    where
        C: Extractor,
        I: IntoIterator<Item = C>,
    {
        let mut batch = Batch {
            first: None,
            more: Vec::new(),
        };
        // The `sw8` of the first traced message, until a second one is kept.
        let mut first_value: Option<String> = None;
        for carrier in carriers {
            let Some(value) = carrier.get(SW8) else {
                continue;
            };
            let previous = batch.more.last().or(first_value.as_ref());
            if previous.is_some_and(|p| p == value) {
                continue;
            }
            if batch.first.is_none() {
                let value = value.to_owned();
                if let Some(first) = continue_from(&carrier) {
                    batch.first = Some(first);
                    first_value = Some(value);
                }
                continue;
            }
            if batch.more.len() + 1 >= MAX_BATCH_REFERENCES {
                break;
            }
            // Decoded when the reference is added: a malformed one adds nothing.
            batch.more.push(value.to_owned());
        }
        batch
    }
}

/// Reads a batch's headers for its entry span: the first valid `sw8` is decoded once,
/// into the context the span continues.
fn read_batch<C: Extractor, I: IntoIterator<Item = C>>(carriers: I) -> Batch<Box<Context>> {
    Batch::of(carriers, |carrier| {
        // Only an `sw8` caller: a message with a malformed `sw8` but a `traceparent`
        // is not what the batch continues.
        crate::trace::remote::incoming_context(carrier).filter(|ctx| ctx.first_ref.is_some())
    })
}

/// Adds the references of the messages after the first to `span`.
fn add_references(more: &[String], span: &SpanRef) {
    for value in more {
        span.continue_from(&Sw8Only(value));
    }
}

/// Opens the entry span of handling one polled batch of `subscription`
/// (`Kafka/<topic>/Consumer/<group>`, see the [module docs](self)), given each
/// message's headers: it continues the trace of the first traced message and refers to
/// every other one. It ends when dropped. An empty batch, or no agent running, gets a
/// no-op span.
///
/// In async code, use [`consume_batch_async`], which carries the span across `.await`.
pub fn consumer_span<I, C>(subscription: &Subscription, carriers: I) -> Span
where
    I: IntoIterator<Item = C>,
    C: Extractor,
{
    if !is_enabled() {
        return Span::noop();
    }
    let mut carriers = carriers.into_iter().peekable();
    if carriers.peek().is_none() {
        return Span::noop();
    }
    let batch = read_batch(carriers);
    let init = consumer_init(subscription);
    let span = match batch.first {
        Some(incoming) => Span::from_handle(context::open_with(incoming, init)),
        None => Span::open(init),
    };
    tag(&span, &subscription.brokers, &subscription.topic);
    add_references(&batch.more, &span);
    span
}

/// Runs `handle` inside the entry span of one polled batch (see [`consumer_span`]): the
/// spans it opens are children of the batch's span. An empty batch runs `handle` with
/// no span.
pub fn consume_batch<I, C, R>(
    subscription: &Subscription,
    carriers: I,
    handle: impl FnOnce() -> R,
) -> R
where
    I: IntoIterator<Item = C>,
    C: Extractor,
{
    let _span = consumer_span(subscription, carriers);
    handle()
}

pin_project! {
    /// A future handling a polled batch inside its entry span (see
    /// [`consume_batch_async`]).
    #[must_use = "futures do nothing unless polled"]
    pub struct Consume<F> {
        #[pin]
        inner: Instrumented<FirstPoll<F>>,
    }
}

impl<F> fmt::Debug for Consume<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Consume").finish_non_exhaustive()
    }
}

impl<F: Future> Future for Consume<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        self.project().inner.poll(cx)
    }
}

/// What a batch's entry span gets once it is open: its tags and the references of the
/// messages after the first.
struct Pending {
    brokers: Brokers,
    topic: Arc<str>,
    more: Vec<String>,
}

pin_project! {
    /// Tags the current (entry) span and adds the batch's references on the first poll.
    struct FirstPoll<F> {
        pending: Option<Pending>,
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for FirstPoll<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        if let Some(pending) = this.pending.take() {
            let span = crate::trace::span::current_span();
            tag(&span, &pending.brokers, &pending.topic);
            add_references(&pending.more, &span);
        }
        this.inner.poll(cx)
    }
}

/// Runs `future` inside the entry span of one polled batch (see [`consumer_span`]): the
/// span opens on the first poll, is current during every poll (across `.await`, on any
/// thread) and ends when the future completes. The headers are read now, so the batch
/// may be dropped or moved into `future`. An empty batch, or no agent running, runs
/// `future` as is.
///
/// ```
/// use std::collections::HashMap;
/// use skywalking_runtime::integrations::kafka::{self, Subscription};
///
/// # async fn f() {
/// let orders = Subscription::new("kafka:9092", "orders", "billing");
/// let batch: Vec<HashMap<String, String>> = vec![HashMap::new()];
/// let n = kafka::consume_batch_async(&orders, &batch, async { batch.len() }).await;
/// # assert_eq!(n, 1);
/// # }
/// ```
pub fn consume_batch_async<I, C, F>(
    subscription: &Subscription,
    carriers: I,
    future: F,
) -> Consume<F>
where
    I: IntoIterator<Item = C>,
    C: Extractor,
    F: Future,
{
    let mut carriers = carriers.into_iter().peekable();
    if !is_enabled() || carriers.peek().is_none() {
        let inner = FirstPoll {
            pending: None,
            inner: future,
        };
        return Consume {
            inner: Instrumented::with_context(inner, None),
        };
    }
    let batch = read_batch(carriers);
    let incoming = batch.first;
    let inner = FirstPoll {
        pending: Some(Pending {
            brokers: subscription.brokers.clone(),
            topic: subscription.topic.clone(),
            more: batch.more,
        }),
        inner: future,
    };
    Consume {
        inner: Instrumented::with_span(inner, consumer_init(subscription), incoming),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const SW8_A: &str = "1-dHJhY2U=-c2VnbWVudA==-3-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=";
    const SW8_B: &str = "1-dHJhY2U=-c2VnbWVudA==-4-c3Zj-aW5zdGFuY2U=-L2NoZWNrb3V0-cGF5OjgwODA=";

    fn headers(sw8: Option<&str>) -> HashMap<String, String> {
        sw8.map(|v| (SW8.to_owned(), v.to_owned()))
            .into_iter()
            .collect()
    }

    #[test]
    fn brokers_are_joined_by_semicolons() {
        assert_eq!(Brokers::parse("a:9092").as_str(), "a:9092");
        assert_eq!(Brokers::parse(" a:1 ,b:2,,c:3; ").as_str(), "a:1;b:2;c:3");
        assert_eq!(Brokers::new(["a:1", " b:2 ", ""]).as_str(), "a:1;b:2");
        assert_eq!(Brokers::new(Vec::<String>::new()).as_str(), "");
        assert_eq!(Brokers::from("x:1,y:2"), Brokers::parse("x:1;y:2"));
        assert_eq!(format!("{}", Brokers::from("x:1".to_owned())), "x:1");
        assert_eq!(format!("{:?}", Brokers::from("x:1")), "\"x:1\"");
    }

    #[test]
    fn spans_are_named_as_the_java_agent_names_them() {
        let sub = Subscription::new("k:9092", "orders;refunds", "");
        assert_eq!(sub.operation_name(), "Kafka/orders;refunds/Consumer/");
        assert_eq!(sub.topic(), "orders;refunds");
        assert_eq!(sub.group(), "");
        assert_eq!(sub.brokers().as_str(), "k:9092");
        let init = consumer_init(&sub);
        assert_eq!(init.kind, SpanKind::Entry);
        assert_eq!(init.layer, SpanLayer::Mq);
        assert_eq!(init.component, 41);
        assert_eq!(init.peer, "k:9092");

        let exit = producer_init(&Brokers::parse("a:1,b:2"), "orders");
        assert_eq!(exit.name, "Kafka/orders/Producer");
        assert_eq!(exit.kind, SpanKind::Exit);
        assert_eq!(exit.layer, SpanLayer::Mq);
        assert_eq!(exit.component, 40);
        assert_eq!(exit.peer, "a:1;b:2");
    }

    /// The first message's `sw8`, when it decodes.
    fn decoded(carrier: &&HashMap<String, String>) -> Option<String> {
        let value = Extractor::get(*carrier, SW8)?;
        crate::propagation::Sw8::decode(value).ok()?;
        Some(value.to_owned())
    }

    #[test]
    fn a_batch_continues_its_first_traced_message_and_refers_to_the_others() {
        let carriers = vec![
            headers(None),
            headers(Some("garbage")),
            headers(Some(SW8_A)),
            headers(Some(SW8_A)),
            headers(Some(SW8_B)),
            headers(None),
            headers(Some(SW8_B)),
            headers(Some(SW8_A)),
        ];
        let batch = Batch::of(&carriers, decoded);
        assert_eq!(batch.first.as_deref(), Some(SW8_A));
        // Consecutive duplicates collapse (a message without sw8 in between does not
        // separate them); the same context later in the batch counts again.
        assert_eq!(batch.more, vec![SW8_B.to_owned(), SW8_A.to_owned()]);

        let untraced = [headers(None), headers(Some("1-x"))];
        let none = Batch::of(&untraced, decoded);
        assert!(none.first.is_none() && none.more.is_empty());
    }

    #[test]
    fn a_batch_keeps_at_most_the_reference_cap() {
        let carriers: Vec<_> = (0..MAX_BATCH_REFERENCES * 2)
            .map(|i| {
                let sw8 = if i % 2 == 0 { SW8_A } else { SW8_B };
                headers(Some(sw8))
            })
            .collect();
        let batch = Batch::of(&carriers, decoded);
        assert!(batch.first.is_some());
        assert_eq!(batch.more.len() + 1, MAX_BATCH_REFERENCES);
    }

    #[test]
    fn message_context_collects_only_message_headers() {
        let mut context = MessageContext::default();
        assert!(context.is_empty());
        context.set(SW8, "a".to_owned());
        context.set(crate::propagation::TRACEPARENT, "tp".to_owned());
        context.set(SW8_X, "0-1".to_owned());
        assert!(!context.is_empty());
        let mut out = HashMap::<String, String>::new();
        context.write_to(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[SW8], "a");
        assert_eq!(out[SW8_X], "0-1");
        assert_eq!(
            context.headers().collect::<Vec<_>>(),
            vec![(SW8, "a"), (SW8_X, "0-1")]
        );
    }

    #[test]
    fn without_an_agent_nothing_is_written_or_recorded() {
        // No agent runs in unit tests.
        let brokers = Brokers::parse("k:9092");
        let span = producer_span(&brokers, "orders");
        assert!(!span.is_recording());
        let mut out = HashMap::<String, String>::new();
        inject(&span, &mut out);
        assert!(out.is_empty());
        let sub = Subscription::new(brokers, "orders", "g");
        let batch = [headers(Some(SW8_A))];
        assert!(!consumer_span(&sub, &batch).is_recording());
        assert_eq!(consume_batch(&sub, &batch, || 7), 7);
    }
}
