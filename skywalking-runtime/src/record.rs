//! Plain data of a segment being recorded: what the hot path writes and the reporter
//! encodes. Nothing here does I/O or takes a lock.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use crate::id::Id;

/// A string that is borrowed for `'static` names and owned otherwise.
pub(crate) type Str = Cow<'static, str>;

/// The kind of a span, as SkyWalking models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// The server side of a call: an HTTP or gRPC handler, a message consumer.
    Entry,
    /// The client side of a call: an outgoing request, a query, a produced message.
    Exit,
    /// Work inside the process.
    #[default]
    Local,
}

/// The layer of a span; OAP uses it to classify services and build virtual databases,
/// caches and queues from exit spans.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanLayer {
    /// Not classified.
    #[default]
    Unknown,
    /// A database call.
    Database,
    /// An RPC framework (gRPC, Thrift, ...).
    RpcFramework,
    /// HTTP.
    Http,
    /// A message queue.
    Mq,
    /// A cache.
    Cache,
    /// Function as a service.
    Faas,
}

/// Component ids from OAP's `component-libraries.yml`: they pick the icon and name of a
/// node in the topology. Rust has exactly one id of its own; the shared ones classify
/// better where they apply.
pub mod component {
    /// `Unknown`.
    pub const UNKNOWN: i32 = 0;
    /// `Rust`: the default for spans of this agent.
    pub const RUST: i32 = 11000;
    /// `http`: generic HTTP.
    pub const HTTP: i32 = 49;
    /// `GRPC`.
    pub const GRPC: i32 = 23;
    /// `rpc`: generic RPC.
    pub const RPC: i32 = 50;
    /// `Mysql`.
    pub const MYSQL: i32 = 5;
    /// `Redis`.
    pub const REDIS: i32 = 7;
    /// `MongoDB`.
    pub const MONGODB: i32 = 9;
    /// `PostgreSQL`.
    pub const POSTGRESQL: i32 = 22;
    /// `SQLite` (listed for Java and C#; OAP names the virtual database after it).
    pub const SQLITE: i32 = 31;
    /// `kafka-producer`.
    pub const KAFKA_PRODUCER: i32 = 40;
    /// `kafka-consumer`.
    pub const KAFKA_CONSUMER: i32 = 41;
    /// `Elasticsearch`.
    pub const ELASTICSEARCH: i32 = 47;
}

/// A trace id: generated here, or carried in from another process.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum TraceId {
    /// Started by this process.
    Local(Id),
    /// Continued from an incoming header, kept verbatim.
    Remote(Arc<str>),
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Local(id) => fmt::Display::fmt(id, f),
            TraceId::Remote(s) => f.write_str(s),
        }
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A segment id: ours, or a remote parent's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum SegmentId {
    Local(Id),
    Remote(Arc<str>),
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentId::Local(id) => fmt::Display::fmt(id, f),
            SegmentId::Remote(s) => f.write_str(s),
        }
    }
}

/// Whether a reference crosses a process or a thread/task boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RefKind {
    CrossProcess,
    CrossThread,
}

/// A link from the first span of a segment to the span it continues.
#[derive(Clone, Debug)]
pub(crate) struct RefRecord {
    pub(crate) kind: RefKind,
    pub(crate) trace_id: TraceId,
    pub(crate) parent_segment_id: SegmentIdDisplay,
    pub(crate) parent_span_id: i32,
    /// Empty for cross-thread refs: the reporter fills in this process's service.
    pub(crate) parent_service: Str,
    pub(crate) parent_service_instance: Str,
    pub(crate) parent_endpoint: Str,
    pub(crate) network_address_used_at_peer: Str,
}

/// [`SegmentId`] with a `Debug` that prints like `Display`.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SegmentIdDisplay(pub(crate) SegmentId);

impl fmt::Debug for SegmentIdDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A timestamped log on a span.
#[derive(Clone, Debug)]
pub(crate) struct LogRecord {
    pub(crate) time: u64,
    pub(crate) fields: Vec<(Str, Str)>,
}

/// One span as recorded. Times are raw clock ticks; `end == 0` means still open. Tags,
/// logs and the reference live in the segment's shared buffers, so a span with tags
/// allocates nothing once the segment's buffers have grown.
#[derive(Clone, Debug)]
pub(crate) struct SpanRecord {
    pub(crate) parent_id: i32,
    pub(crate) start: u64,
    pub(crate) end: u64,
    pub(crate) kind: SpanKind,
    pub(crate) layer: SpanLayer,
    pub(crate) component: i32,
    pub(crate) is_error: bool,
    pub(crate) skip_analysis: bool,
    pub(crate) name: Str,
    pub(crate) peer: Str,
}

/// A segment: the spans one trace recorded in one task or thread.
#[derive(Debug)]
pub(crate) struct SegmentRecord {
    pub(crate) trace_id: TraceId,
    pub(crate) segment_id: Id,
    pub(crate) spans: Vec<SpanRecord>,
    /// Tags of all spans, by span id.
    pub(crate) tags: Vec<(i32, Str, Str)>,
    /// Logs of all spans, by span id.
    pub(crate) logs: Vec<(i32, LogRecord)>,
    /// References by span id: span 0's when the segment continues another, and any
    /// span's that continued an incoming request inside an active trace (several per
    /// span for a batch consumer).
    pub(crate) refs: Vec<(i32, RefRecord)>,
    /// Emptied strings of this segment's last references, capacity kept: the calling
    /// thread that takes the segment from the pool decodes the next incoming reference
    /// into them (see `trace::pool::take_text`), so a continued trace allocates no text
    /// in steady state, and no text is freed on the reporter thread.
    pub(crate) spare_text: Vec<String>,
    pub(crate) is_size_limited: bool,
    /// Spans still open; the segment is finished when this reaches 0.
    pub(crate) open: u32,
    /// Whether the reporter sends it. False for a segment of an unsampled trace recorded
    /// only so that the reporter thread can observe it (feature `prometheus`): the worker
    /// drops it before encoding.
    pub(crate) report: bool,
}

impl SegmentRecord {
    /// A segment with room for `capacity` spans.
    pub(crate) fn with_capacity(capacity: usize) -> SegmentRecord {
        SegmentRecord {
            trace_id: TraceId::Local(Id::from_u128(0)),
            segment_id: Id::from_u128(0),
            spans: Vec::with_capacity(capacity),
            tags: Vec::new(),
            logs: Vec::new(),
            refs: Vec::new(),
            spare_text: Vec::new(),
            is_size_limited: false,
            open: 0,
            report: true,
        }
    }

    /// Clears the segment for reuse, keeping the span buffer's capacity.
    pub(crate) fn reset(&mut self, trace_id: TraceId) {
        self.trace_id = trace_id;
        self.segment_id = Id::generate();
        self.clear();
        self.is_size_limited = false;
        self.open = 0;
        self.report = true;
    }

    /// Empties the buffers, keeping their capacity, and owned text (span names, tag
    /// values, the texts of references: up to [`MAX_SPARE_TEXT`] strings of at most
    /// [`MAX_SPARE_TEXT_CAPACITY`] bytes) in [`spare_text`](Self::spare_text).
    pub(crate) fn clear(&mut self) {
        if self.spare_text.len() < MAX_SPARE_TEXT
            && !(self.spans.is_empty() && self.tags.is_empty() && self.refs.is_empty())
        {
            self.keep_text();
        }
        self.spans.clear();
        self.tags.clear();
        self.logs.clear();
        self.refs.clear();
    }

    /// Moves owned text out of the records into [`spare_text`](Self::spare_text), while
    /// there is room.
    fn keep_text(&mut self) {
        let spare = &mut self.spare_text;
        let mut keep = |text: &mut Str| {
            if spare.len() < MAX_SPARE_TEXT
                && let Cow::Owned(owned) = text
                && owned.capacity() > 0
                && owned.capacity() <= MAX_SPARE_TEXT_CAPACITY
            {
                let mut owned = std::mem::take(owned);
                owned.clear();
                spare.push(owned);
            }
            spare.len() < MAX_SPARE_TEXT
        };
        for (_, r) in &mut self.refs {
            let _ = keep(&mut r.parent_service)
                && keep(&mut r.parent_service_instance)
                && keep(&mut r.parent_endpoint)
                && keep(&mut r.network_address_used_at_peer);
        }
        for span in &mut self.spans {
            if !keep(&mut span.name) {
                return;
            }
        }
        for (_, _, value) in &mut self.tags {
            if !keep(value) {
                return;
            }
        }
    }

    /// The name of the first entry span, else of the first span: what a child's
    /// `parentEndpoint` should name.
    pub(crate) fn endpoint(&self) -> Option<&Str> {
        self.spans
            .iter()
            .find(|s| s.kind == SpanKind::Entry)
            .or_else(|| self.spans.first())
            .map(|s| &s.name)
    }

    /// Closes every span still open at `end` (used when a segment's owner goes away).
    pub(crate) fn close_all(&mut self, end: u64) {
        for span in &mut self.spans {
            if span.end == 0 {
                span.end = end.max(span.start);
            }
        }
        self.open = 0;
    }
}

/// Strings a pooled segment keeps for reuse: the four texts of one reference, and a
/// few names and tag values (an HTTP entry span's name and `url`).
pub(crate) const MAX_SPARE_TEXT: usize = 8;
/// The largest string a pooled segment keeps for reuse: an `sw8` field is at most this
/// long in practice (longer ones are freed, not kept).
pub(crate) const MAX_SPARE_TEXT_CAPACITY: usize = 512;

/// Operation names are cut to this many characters, as the Java agent cuts them; OAP's
/// endpoint names have the same limit.
pub(crate) const MAX_OPERATION_NAME_CHARS: usize = 150;
/// Peers are cut to this many bytes (a DNS name, a port and room to spare), the most an
/// `sw8` address field may hold.
pub(crate) const MAX_PEER_BYTES: usize = crate::propagation::SW8_MAX_ADDRESS_LEN;

/// An operation name as it leaves the process (on the wire or in a header): cut to
/// [`MAX_OPERATION_NAME_CHARS`]. The hot path stores names as given; the cut happens
/// here, on the reporter thread or when a header is written, and costs one length
/// comparison for a name of at most 150 bytes.
#[inline]
pub(crate) fn operation_name(name: &str) -> &str {
    if name.len() <= MAX_OPERATION_NAME_CHARS {
        return name;
    }
    match name.char_indices().nth(MAX_OPERATION_NAME_CHARS) {
        Some((at, _)) => &name[..at],
        None => name,
    }
}

/// A peer as it leaves the process: cut to [`MAX_PEER_BYTES`] at a character boundary.
#[inline]
pub(crate) fn peer(peer: &str) -> &str {
    cut_bytes(peer, MAX_PEER_BYTES)
}

/// The longest prefix of `s` of at most `max_bytes` bytes that ends on a character
/// boundary.
#[inline]
pub(crate) fn cut_bytes(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut at = max_bytes;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    &s[..at]
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    #[test]
    fn names_are_cut_by_characters_and_peers_by_bytes_at_boundaries() {
        assert_eq!(operation_name("short"), "short");
        let long = "é".repeat(200);
        assert_eq!(operation_name(&long).chars().count(), 150);
        let ascii = "a".repeat(151);
        assert_eq!(operation_name(&ascii).len(), 150);
        assert_eq!(peer("db:5432"), "db:5432");
        let wide = format!("{}é", "h".repeat(299));
        assert_eq!(peer(&wide), "h".repeat(299), "never inside a character");
    }
}

#[cfg(test)]
mod spare_text_tests {
    use super::*;

    fn span(name: Str) -> SpanRecord {
        SpanRecord {
            parent_id: -1,
            start: 1,
            end: 2,
            kind: SpanKind::Entry,
            layer: SpanLayer::Http,
            component: component::HTTP,
            is_error: false,
            skip_analysis: false,
            name,
            peer: Cow::Borrowed(""),
        }
    }

    #[test]
    fn clearing_keeps_a_bounded_number_of_owned_emptied_strings() {
        let mut segment = SegmentRecord::with_capacity(4);
        segment.spans.push(span(Cow::Borrowed("static")));
        segment
            .spans
            .push(span(Cow::Owned("GET /users/{id}".to_owned())));
        segment
            .spans
            .push(span(Cow::Owned("x".repeat(MAX_SPARE_TEXT_CAPACITY + 1))));
        for i in 0..MAX_SPARE_TEXT + 2 {
            segment
                .tags
                .push((1, Cow::Borrowed("url"), Cow::Owned(format!("/users/{i}"))));
        }
        segment.clear();
        assert!(segment.spans.is_empty() && segment.tags.is_empty());
        assert_eq!(segment.spare_text.len(), MAX_SPARE_TEXT, "bounded");
        assert!(
            segment.spare_text.iter().all(|s| s.is_empty()
                && s.capacity() > 0
                && s.capacity() <= MAX_SPARE_TEXT_CAPACITY)
        );
        // Full: what comes later is freed, not kept.
        segment
            .tags
            .push((0, Cow::Borrowed("k"), Cow::Owned("v".to_owned())));
        segment.clear();
        assert_eq!(segment.spare_text.len(), MAX_SPARE_TEXT);
    }
}
