//! The aggregation: finished entry and exit spans into a call counter, an error counter
//! and a latency histogram per label set, with a bound on the number of label sets.
//!
//! Runs on the reporter thread only (the [`Aggregator`] sits behind a mutex that nothing
//! else takes while spans flow). A span whose label set was seen before costs one hash
//! lookup by borrowed strings, two atomic adds and one histogram observation; only a new
//! label set allocates (its label values, once).

use std::borrow::Cow;
use std::hash::{Hash, Hasher};

use hashbrown::{Equivalent, HashMap};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::record::{self, SegmentRecord, SpanKind, SpanLayer, SpanRecord, component};

/// The label value that stands for every endpoint (and peer) past the series bound.
pub(crate) const OTHER: &str = "other";

/// The labels of the three span metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct Labels {
    /// The agent's service name.
    service: String,
    /// `entry` or `exit`.
    kind: &'static str,
    /// The span's operation name: the route template of an entry span, the operation of
    /// an exit span.
    endpoint: String,
    /// The peer of an exit span (`host:port`); empty on entry spans.
    peer: String,
    /// The span layer, lower case (`http`, `database`, `rpc_framework`, ...).
    layer: &'static str,
    /// The component's name in OAP's `component-libraries.yml`, or its id.
    component: Cow<'static, str>,
}

/// The labels of the overflow counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OverflowLabels {
    /// The agent's service name.
    service: String,
    /// `entry` or `exit`.
    kind: &'static str,
}

/// Makes the latency histograms with the configured buckets.
#[derive(Clone, Debug)]
pub(crate) struct WithBuckets(Vec<f64>);

impl MetricConstructor<Histogram> for WithBuckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// One label set's metrics: handles onto the families' entries.
#[derive(Debug)]
struct Series {
    calls: Counter,
    errors: Counter,
    duration: Histogram,
}

impl Series {
    fn record(&self, span: &SpanRecord) {
        self.calls.inc();
        if span.is_error {
            self.errors.inc();
        }
        let nanos = crate::clock::delta_ns(span.start, span.end);
        // u64 -> f64 is exact below 2^53 ns (104 days).
        #[allow(clippy::cast_precision_loss)]
        self.duration.observe(nanos as f64 / 1e9);
    }
}

/// The owned key of a label set in the aggregator's map.
#[derive(Debug, PartialEq, Eq)]
struct Key {
    kind: SpanKind,
    layer: SpanLayer,
    component: i32,
    endpoint: Box<str>,
    peer: Box<str>,
}

/// A span's label set, borrowed: what a lookup hashes. [`Key`] hashes through it, so
/// both hash alike.
#[derive(Clone, Copy)]
struct Query<'a> {
    kind: SpanKind,
    layer: SpanLayer,
    component: i32,
    endpoint: &'a str,
    peer: &'a str,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Query::from(self).hash(state);
    }
}

impl Hash for Query<'_> {
    /// Three writes: the small fields and the endpoint's length in one word, then the
    /// two strings' bytes (the length keeps `("ab", "c")` apart from `("a", "bc")`).
    /// Half the hasher calls of a derived `Hash`, on the reporter thread's per-span path.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let small = u64::from(self.kind as u8)
            | u64::from(self.layer as u8) << 8
            | (self.endpoint.len() as u64 & 0xffff) << 16
            | u64::from(self.component.cast_unsigned()) << 32;
        state.write_u64(small);
        state.write(self.endpoint.as_bytes());
        state.write(self.peer.as_bytes());
    }
}

impl<'a> From<&'a Key> for Query<'a> {
    fn from(key: &'a Key) -> Self {
        Query {
            kind: key.kind,
            layer: key.layer,
            component: key.component,
            endpoint: &key.endpoint,
            peer: &key.peer,
        }
    }
}

impl Equivalent<Key> for Query<'_> {
    fn equivalent(&self, key: &Key) -> bool {
        self.kind == key.kind
            && self.layer == key.layer
            && self.component == key.component
            && self.endpoint == &*key.endpoint
            && self.peer == &*key.peer
    }
}

impl Query<'_> {
    fn to_key(self) -> Key {
        Key {
            kind: self.kind,
            layer: self.layer,
            component: self.component,
            endpoint: self.endpoint.into(),
            peer: self.peer.into(),
        }
    }
}

/// Aggregates finished segments into the metric families it registered.
#[derive(Debug)]
pub(crate) struct Aggregator {
    service: String,
    max_series: usize,
    /// The label sets seen: at most `max_series` per kind, plus the `other` ones.
    series: HashMap<Key, Series>,
    /// Label sets counted against the bound (the `other` ones are not): entry, exit.
    bounded: [usize; 2],
    calls: Family<Labels, Counter>,
    errors: Family<Labels, Counter>,
    durations: Family<Labels, Histogram, WithBuckets>,
    /// Spans folded into `other`: entry, exit.
    overflow: [Counter; 2],
}

/// The metric names (the registry adds `_total` to counters and `_seconds` to the
/// histogram).
pub(crate) const CALLS: &str = "skywalking_calls";
pub(crate) const ERRORS: &str = "skywalking_call_errors";
pub(crate) const DURATION: &str = "skywalking_call_duration";
pub(crate) const OVERFLOW: &str = "skywalking_metrics_overflow";

impl Aggregator {
    /// An aggregator for `service` whose families are registered in `registry`.
    pub(crate) fn new(
        service: &str,
        buckets: &[f64],
        max_series: usize,
        registry: &mut Registry,
    ) -> Aggregator {
        let calls = Family::<Labels, Counter>::default();
        let errors = Family::<Labels, Counter>::default();
        let durations = Family::new_with_constructor(WithBuckets(buckets.to_vec()));
        let overflow = Family::<OverflowLabels, Counter>::default();
        registry.register(
            CALLS,
            "Finished entry spans (calls served, per endpoint) and exit spans (calls made, \
             per peer and operation)",
            calls.clone(),
        );
        registry.register(
            ERRORS,
            "The part of skywalking_calls_total whose span was marked as an error",
            errors.clone(),
        );
        registry.register_with_unit(
            DURATION,
            "Duration of the spans counted in skywalking_calls_total",
            Unit::Seconds,
            durations.clone(),
        );
        registry.register(
            OVERFLOW,
            "Spans counted under endpoint=\"other\" because their metric already had \
             SW_AGENT_PROMETHEUS_MAX_SERIES label sets",
            overflow.clone(),
        );
        let overflow = [SpanKind::Entry, SpanKind::Exit].map(|kind| {
            overflow.get_or_create_owned(&OverflowLabels {
                service: service.to_owned(),
                kind: kind_label(kind),
            })
        });
        Aggregator {
            service: service.to_owned(),
            max_series,
            series: HashMap::new(),
            bounded: [0; 2],
            calls,
            errors,
            durations,
            overflow,
        }
    }

    /// Counts the entry and exit spans of a finished segment. Local spans, spans marked
    /// `skipAnalysis` (OAP leaves them out of its metrics too) and spans still open are
    /// left out.
    pub(crate) fn observe(&mut self, segment: &SegmentRecord) {
        for span in &segment.spans {
            if span.kind == SpanKind::Local || span.skip_analysis || span.end == 0 {
                continue;
            }
            let query = Query {
                kind: span.kind,
                layer: span.layer,
                component: span.component,
                endpoint: endpoint(span),
                peer: match span.kind {
                    SpanKind::Exit => record::peer(&span.peer),
                    _ => "",
                },
            };
            match self.series.get(&query) {
                Some(series) => series.record(span),
                None => self.record_new(query, span),
            }
        }
    }

    /// Records a span of a label set seen for the first time: in its own series while
    /// the bound allows, else in the `other` one of its kind, layer and component.
    #[cold]
    fn record_new(&mut self, query: Query<'_>, span: &SpanRecord) {
        let kind = usize::from(query.kind == SpanKind::Exit);
        let query = if self.bounded[kind] < self.max_series {
            self.bounded[kind] += 1;
            query
        } else {
            self.overflow[kind].inc();
            let other = Query {
                endpoint: OTHER,
                peer: if query.kind == SpanKind::Exit {
                    OTHER
                } else {
                    ""
                },
                ..query
            };
            if let Some(series) = self.series.get(&other) {
                series.record(span);
                return;
            }
            other
        };
        let labels = Labels {
            service: self.service.clone(),
            kind: kind_label(query.kind),
            endpoint: query.endpoint.to_owned(),
            peer: query.peer.to_owned(),
            layer: layer_label(query.layer),
            component: component_label(query.component),
        };
        let series = Series {
            calls: self.calls.get_or_create_owned(&labels),
            errors: self.errors.get_or_create_owned(&labels),
            duration: self.durations.get_or_create_owned(&labels),
        };
        series.record(span);
        self.series.insert(query.to_key(), series);
    }
}

/// The `endpoint` label: the operation name as OAP cuts it, and for an HTTP exit span
/// named `METHOD /path` (as the hyper and reqwest integrations name them, by raw path)
/// only the method, so that the ids in URLs do not make a series each.
fn endpoint(span: &SpanRecord) -> &str {
    let name = record::operation_name(&span.name);
    if span.kind == SpanKind::Exit
        && span.layer == SpanLayer::Http
        && let Some((method, path)) = name.split_once(' ')
        && path.starts_with('/')
    {
        return method;
    }
    name
}

/// The `kind` label.
fn kind_label(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Entry => "entry",
        SpanKind::Exit => "exit",
        SpanKind::Local => "local",
    }
}

/// The `layer` label: SkyWalking's layer names, lower case.
fn layer_label(layer: SpanLayer) -> &'static str {
    match layer {
        SpanLayer::Unknown => "unknown",
        SpanLayer::Database => "database",
        SpanLayer::RpcFramework => "rpc_framework",
        SpanLayer::Http => "http",
        SpanLayer::Mq => "mq",
        SpanLayer::Cache => "cache",
        SpanLayer::Faas => "faas",
    }
}

/// The `component` label: the name OAP shows for the ids this crate uses
/// (`component-libraries.yml`, PROTOCOL.md section 4.3), the id itself otherwise.
fn component_label(id: i32) -> Cow<'static, str> {
    Cow::Borrowed(match id {
        component::UNKNOWN => "Unknown",
        2 => "HttpClient",
        component::MYSQL => "Mysql",
        component::REDIS => "Redis",
        component::MONGODB => "MongoDB",
        component::POSTGRESQL => "PostgreSQL",
        31 => "SQLite",
        component::GRPC => "GRPC",
        27 => "Kafka",
        component::KAFKA_PRODUCER => "kafka-producer",
        component::KAFKA_CONSUMER => "kafka-consumer",
        component::ELASTICSEARCH => "Elasticsearch",
        component::HTTP => "http",
        component::RPC => "rpc",
        component::RUST => "Rust",
        _ => return Cow::Owned(id.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use prometheus_client::encoding::text::encode;

    use super::*;
    use crate::id::Id;
    use crate::record::TraceId;

    fn span(kind: SpanKind, name: &'static str, peer: &'static str, error: bool) -> SpanRecord {
        let start = crate::clock::now_raw();
        SpanRecord {
            parent_id: -1,
            start,
            end: start + 1,
            kind,
            layer: SpanLayer::Http,
            component: component::HTTP,
            is_error: error,
            skip_analysis: false,
            name: Cow::Borrowed(name),
            peer: Cow::Borrowed(peer),
        }
    }

    fn segment(spans: Vec<SpanRecord>) -> SegmentRecord {
        let mut segment = SegmentRecord::with_capacity(spans.len());
        segment.reset(TraceId::Local(Id::from_u128(1)));
        segment.spans = spans;
        segment
    }

    fn exposition(registry: &Registry) -> String {
        let mut text = String::new();
        encode(&mut text, registry).unwrap();
        text
    }

    #[test]
    fn entry_and_exit_spans_are_counted_per_label_set_and_local_ones_are_not() {
        let mut registry = Registry::default();
        let mut agg = Aggregator::new("svc", &[0.1, 1.0], 10, &mut registry);
        agg.observe(&segment(vec![
            span(SpanKind::Entry, "GET /users/{id}", "", false),
            span(SpanKind::Entry, "GET /users/{id}", "", true),
            span(SpanKind::Exit, "client GET", "db:5432", false),
            span(SpanKind::Local, "work", "", true),
        ]));
        let text = exposition(&registry);
        assert!(text.contains(
            "skywalking_calls_total{service=\"svc\",kind=\"entry\",endpoint=\"GET /users/{id}\",\
             peer=\"\",layer=\"http\",component=\"http\"} 2"
        ), "{text}");
        assert!(text.contains(
            "skywalking_call_errors_total{service=\"svc\",kind=\"entry\",endpoint=\"GET /users/{id}\",\
             peer=\"\",layer=\"http\",component=\"http\"} 1"
        ), "{text}");
        assert!(text.contains(
            "skywalking_call_errors_total{service=\"svc\",kind=\"exit\",endpoint=\"client GET\",\
             peer=\"db:5432\",layer=\"http\",component=\"http\"} 0"
        ), "{text}");
        assert!(
            text.contains(
                "skywalking_call_duration_seconds_count{service=\"svc\",kind=\"exit\",\
             endpoint=\"client GET\",peer=\"db:5432\",layer=\"http\",component=\"http\"} 1"
            ),
            "{text}"
        );
        assert!(
            !text.contains("work"),
            "local spans are not counted: {text}"
        );
        assert_eq!(agg.series.len(), 2);
    }

    #[test]
    fn past_the_bound_new_label_sets_fold_into_other_and_are_counted() {
        let mut registry = Registry::default();
        let mut agg = Aggregator::new("svc", &[1.0], 2, &mut registry);
        let spans = ["/a", "/b", "/c", "/d", "/c"]
            .iter()
            .map(|p| span(SpanKind::Entry, p, "", false))
            .chain(["q1", "q2", "q3"].map(|q| span(SpanKind::Exit, q, "x:1", false)))
            .collect();
        agg.observe(&segment(spans));
        let text = exposition(&registry);
        for kept in ["/a", "/b", "q1", "q2"] {
            assert!(
                text.contains(&format!("endpoint=\"{kept}\"")),
                "{kept}: {text}"
            );
        }
        for folded in ["/c", "/d", "q3"] {
            assert!(
                !text.contains(&format!("endpoint=\"{folded}\"")),
                "{folded}: {text}"
            );
        }
        let entry_other = "skywalking_calls_total{service=\"svc\",kind=\"entry\",\
                           endpoint=\"other\",peer=\"\",layer=\"http\",component=\"http\"} 3";
        let exit_other = "skywalking_calls_total{service=\"svc\",kind=\"exit\",\
                          endpoint=\"other\",peer=\"other\",layer=\"http\",component=\"http\"} 1";
        let overflow = |kind: &str, n: u32| {
            format!("skywalking_metrics_overflow_total{{service=\"svc\",kind=\"{kind}\"}} {n}")
        };
        assert!(text.contains(entry_other), "{text}");
        assert!(
            text.contains(exit_other),
            "exits have a budget of their own: {text}"
        );
        assert!(text.contains(&overflow("entry", 3)), "{text}");
        assert!(text.contains(&overflow("exit", 1)), "{text}");
        // Per kind, 2 label sets and the `other` one, whatever else arrives.
        agg.observe(&segment(
            (0..50)
                .map(|i| {
                    span(
                        SpanKind::Entry,
                        if i % 2 == 0 { "/e" } else { "/f" },
                        "",
                        false,
                    )
                })
                .collect(),
        ));
        assert_eq!(agg.series.len(), 6);
    }

    #[test]
    fn http_exit_spans_named_by_raw_path_count_under_their_method() {
        let mut registry = Registry::default();
        let mut agg = Aggregator::new("svc", &[1.0], 10, &mut registry);
        let mut grpc = span(SpanKind::Exit, "/pkg.Svc/Call", "h:1", false);
        grpc.layer = SpanLayer::RpcFramework;
        agg.observe(&segment(vec![
            span(SpanKind::Exit, "POST /orders/1001/pay", "h:1", false),
            span(SpanKind::Exit, "POST /orders/1002/pay", "h:1", true),
            span(SpanKind::Exit, "client GET", "h:1", false),
            span(SpanKind::Entry, "GET /users/{id}", "", false),
            grpc,
        ]));
        let text = exposition(&registry);
        let post = "skywalking_calls_total{service=\"svc\",kind=\"exit\",endpoint=\"POST\",\
                    peer=\"h:1\",layer=\"http\",component=\"http\"} 2";
        assert!(text.contains(post), "{text}");
        assert!(!text.contains("/orders/"), "{text}");
        assert!(text.contains("endpoint=\"client GET\""), "{text}");
        assert!(
            text.contains("endpoint=\"GET /users/{id}\""),
            "entry names are kept: {text}"
        );
        assert!(text.contains("endpoint=\"/pkg.Svc/Call\""), "{text}");
    }

    #[test]
    fn skipped_and_open_spans_are_left_out_and_durations_land_in_buckets() {
        let mut registry = Registry::default();
        let mut agg = Aggregator::new("svc", &[0.5, 2.0], 10, &mut registry);
        let mut skipped = span(SpanKind::Entry, "/skipped", "", false);
        skipped.skip_analysis = true;
        let mut open = span(SpanKind::Entry, "/open", "", false);
        open.end = 0;
        let mut slow = span(SpanKind::Entry, "/slow", "", false);
        // 0.6 s of raw ticks, measured: between the two bounds.
        let start = crate::clock::now_raw();
        std::thread::sleep(std::time::Duration::from_millis(600));
        slow.start = start;
        slow.end = crate::clock::now_raw();
        agg.observe(&segment(vec![skipped, open, slow]));
        let text = exposition(&registry);
        assert!(
            !text.contains("/skipped") && !text.contains("/open"),
            "{text}"
        );
        let bucket = |le: &str| {
            format!(
                "skywalking_call_duration_seconds_bucket{{le=\"{le}\",service=\"svc\",\
                 kind=\"entry\",endpoint=\"/slow\",peer=\"\",layer=\"http\",component=\"http\"}}"
            )
        };
        assert!(text.contains(&format!("{} 0", bucket("0.5"))), "{text}");
        assert!(text.contains(&format!("{} 1", bucket("2.0"))), "{text}");
    }

    #[test]
    fn long_names_are_cut_as_oap_cuts_them_and_components_are_named() {
        let mut registry = Registry::default();
        let mut agg = Aggregator::new("svc", &[1.0], 10, &mut registry);
        let long: &'static str = Box::leak("x".repeat(200).into_boxed_str());
        let mut grpc = span(SpanKind::Exit, "/pkg.Svc/Call", "10.0.0.1:50051", false);
        grpc.component = component::GRPC;
        grpc.layer = SpanLayer::RpcFramework;
        let mut custom = span(SpanKind::Entry, "/c", "", false);
        custom.component = 12345;
        agg.observe(&segment(vec![
            span(SpanKind::Entry, long, "", false),
            grpc,
            custom,
        ]));
        let text = exposition(&registry);
        assert!(
            text.contains(&format!("endpoint=\"{}\"", "x".repeat(150))),
            "{text}"
        );
        assert!(!text.contains(&"x".repeat(151)), "{text}");
        assert!(
            text.contains("layer=\"rpc_framework\",component=\"GRPC\""),
            "{text}"
        );
        assert!(text.contains("component=\"12345\""), "{text}");
    }
}
