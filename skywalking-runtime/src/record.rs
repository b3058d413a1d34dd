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
    pub(crate) is_size_limited: bool,
    /// Spans still open; the segment is finished when this reaches 0.
    pub(crate) open: u32,
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
            is_size_limited: false,
            open: 0,
        }
    }

    /// Clears the segment for reuse, keeping the span buffer's capacity.
    pub(crate) fn reset(&mut self, trace_id: TraceId) {
        self.trace_id = trace_id;
        self.segment_id = Id::generate();
        self.clear();
        self.is_size_limited = false;
        self.open = 0;
    }

    /// Empties the buffers, keeping their capacity.
    pub(crate) fn clear(&mut self) {
        self.spans.clear();
        self.tags.clear();
        self.logs.clear();
        self.refs.clear();
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
