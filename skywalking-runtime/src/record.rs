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
    Remote(RemoteId),
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TraceId::Local(id) => fmt::Display::fmt(id, f),
            TraceId::Remote(id) => f.write_str(id),
        }
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An id another process made (a trace id or a parent segment id read from `sw8`),
/// kept verbatim as text: it reads as a `&str` (`Deref`, [`as_str`](Self::as_str)) and
/// prints as itself.
///
/// Ids of up to [`RemoteId::INLINE_LEN`] bytes, which covers what every official
/// agent writes (Java and Go `<uuid>.<thread>.<time+seq>`, 50 to 56 bytes; Python,
/// Node and this agent 32 to 39), are held inline: making, cloning and dropping one
/// allocates nothing. A longer id (up to the 150 bytes `sw8` allows) is one shared
/// heap copy, cloned by reference count.
///
/// ```
/// use skywalking_runtime::{RemoteId, TraceId};
///
/// let id = RemoteId::new("ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001");
/// assert!(id.is_inline());
/// assert_eq!(&*id, "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001");
/// let trace = TraceId::Remote(id);
/// assert_eq!(trace.to_string().len(), 53);
/// ```
#[derive(Clone)]
pub struct RemoteId(RemoteRepr);

#[derive(Clone)]
enum RemoteRepr {
    /// `bytes[..len]` is the id; the rest is zero.
    Inline {
        len: u8,
        bytes: [u8; RemoteId::INLINE_LEN],
    },
    Heap(Arc<str>),
}

impl RemoteId {
    /// The longest id held without a heap allocation, in bytes (the inline buffer and
    /// its length fill 64 bytes).
    pub const INLINE_LEN: usize = 62;

    /// The id `id`: inline when it fits [`INLINE_LEN`](Self::INLINE_LEN), else one heap
    /// copy.
    #[must_use]
    #[inline]
    pub fn new(id: &str) -> RemoteId {
        let mut bytes = [0u8; RemoteId::INLINE_LEN];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(inline), Ok(len)) => {
                inline.copy_from_slice(id.as_bytes());
                RemoteId(RemoteRepr::Inline { len, bytes })
            }
            _ => RemoteId::heap(id),
        }
    }

    /// An id written straight into the inline buffer by `write`, which returns the
    /// length it wrote and whether it wrote only ASCII (`None` for no id). `None` too
    /// when what it wrote is not UTF-8 (checked unless it said ASCII).
    #[inline]
    pub(crate) fn write_inline(
        write: impl FnOnce(&mut [u8; RemoteId::INLINE_LEN]) -> Option<(usize, bool)>,
    ) -> Option<RemoteId> {
        let mut bytes = [0u8; RemoteId::INLINE_LEN];
        let (len, ascii) = write(&mut bytes)?;
        let written = bytes.get(..len)?;
        debug_assert!(!ascii || written.is_ascii());
        if !ascii {
            std::str::from_utf8(written).ok()?;
        }
        Some(RemoteId(RemoteRepr::Inline {
            len: u8::try_from(len).ok()?,
            bytes,
        }))
    }

    /// The id in `bytes`, which are ASCII when `ascii` says so; `None` when they are
    /// not UTF-8.
    #[inline]
    pub(crate) fn from_bytes(bytes: &[u8], ascii: bool) -> Option<RemoteId> {
        if bytes.len() <= RemoteId::INLINE_LEN {
            return RemoteId::write_inline(|buf| {
                buf.get_mut(..bytes.len())?.copy_from_slice(bytes);
                Some((bytes.len(), ascii))
            });
        }
        std::str::from_utf8(bytes).ok().map(RemoteId::heap)
    }

    #[cold]
    fn heap(id: &str) -> RemoteId {
        RemoteId(RemoteRepr::Heap(Arc::from(id)))
    }

    /// The id.
    #[must_use]
    #[inline]
    pub fn as_str(&self) -> &str {
        match &self.0 {
            // Copied from a `str` whole, so always UTF-8 (checked again rather than
            // assumed: this crate has no `unsafe` for it).
            RemoteRepr::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or_default(),
            RemoteRepr::Heap(id) => id,
        }
    }

    /// Whether the id is held inline (it is at most [`INLINE_LEN`](Self::INLINE_LEN)
    /// bytes long): no heap allocation to make, clone or drop it.
    #[must_use]
    pub fn is_inline(&self) -> bool {
        matches!(self.0, RemoteRepr::Inline { .. })
    }
}

impl std::ops::Deref for RemoteId {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for RemoteId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::borrow::Borrow<str> for RemoteId {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for RemoteId {
    fn from(id: &str) -> RemoteId {
        RemoteId::new(id)
    }
}

impl From<String> for RemoteId {
    fn from(id: String) -> RemoteId {
        RemoteId::new(&id)
    }
}

impl PartialEq for RemoteId {
    fn eq(&self, other: &RemoteId) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for RemoteId {}

impl PartialEq<str> for RemoteId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RemoteId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::hash::Hash for RemoteId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RemoteId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A segment id: ours, or a remote parent's.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum SegmentId {
    Local(Id),
    Remote(RemoteId),
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SegmentId::Local(id) => fmt::Display::fmt(id, f),
            SegmentId::Remote(id) => f.write_str(id),
        }
    }
}

#[cfg(test)]
mod remote_id_tests {
    use super::*;

    #[test]
    fn short_ids_are_inline_and_long_ones_shared() {
        let java = "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001";
        let id = RemoteId::new(java);
        assert!(id.is_inline());
        assert_eq!(id, java);
        assert_eq!(id.to_string(), java);
        assert_eq!(format!("{id:?}"), format!("{java:?}"));

        let at_cap = "x".repeat(RemoteId::INLINE_LEN);
        assert!(RemoteId::new(&at_cap).is_inline());
        assert_eq!(RemoteId::new(&at_cap), at_cap.as_str());

        let long = "y".repeat(RemoteId::INLINE_LEN + 1);
        let id = RemoteId::new(&long);
        assert!(!id.is_inline());
        assert_eq!(id.clone().as_str(), long);

        let written = RemoteId::write_inline(|buf| {
            buf[..3].copy_from_slice(b"abc");
            Some((3, true))
        });
        assert_eq!(written, Some(RemoteId::new("abc")));
        let written = RemoteId::write_inline(|buf| {
            buf[..2].copy_from_slice("é".as_bytes());
            Some((2, false))
        });
        assert_eq!(written, Some(RemoteId::new("é")));
        let written = RemoteId::write_inline(|buf| {
            buf[0] = 0xff;
            Some((1, false))
        });
        assert_eq!(written, None, "not UTF-8");
        assert_eq!(
            RemoteId::write_inline(|_| Some((RemoteId::INLINE_LEN + 1, true))),
            None
        );

        let empty = RemoteId::new("");
        assert!(empty.is_inline());
        assert_eq!(empty, "");
        assert_eq!(RemoteId::new("服务.1"), "服务.1");
    }

    #[test]
    fn equality_and_hash_follow_the_text_whatever_the_storage() {
        use std::collections::hash_map::DefaultHasher;
        use std::hash::{Hash, Hasher};
        let hash = |id: &TraceId| {
            let mut h = DefaultHasher::new();
            id.hash(&mut h);
            h.finish()
        };
        let a = TraceId::Remote("abc".into());
        let b = TraceId::Remote(RemoteId::from("abc".to_owned()));
        assert_eq!(a, b);
        assert_eq!(hash(&a), hash(&b));
        assert_ne!(a, TraceId::Remote("abd".into()));
        assert_eq!(a.to_string(), "abc");
    }

    #[test]
    fn a_trace_id_stays_small() {
        // Context, segment and reference each hold one: the inline id, its tag in a
        // niche, 64 bytes in all (32 with an `Arc<str>`).
        assert_eq!(std::mem::size_of::<TraceId>(), 64);
        assert_eq!(std::mem::size_of::<RemoteId>(), 64);
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
    /// The next segment of a chain of pooled segments (see `trace::pool`): cleared
    /// segments travel back to the application's threads a chain at a time. Always
    /// `None` while the segment is in use.
    pub(crate) next: Option<Box<SegmentRecord>>,
    /// Segments in the chain this one heads, while it is in the shared pool (the pool
    /// is bounded by segments, not chains; see `trace::pool`).
    pub(crate) chain_len: u32,
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
            next: None,
            chain_len: 0,
            report: true,
        }
    }

    /// Readies the segment for `trace_id`, keeping the buffers' capacity. A pooled
    /// segment was cleared when it was given back (on the reporter thread), so the
    /// calling thread only checks that its buffers are empty.
    #[inline]
    pub(crate) fn reset(&mut self, trace_id: TraceId) {
        self.trace_id = trace_id;
        self.segment_id = Id::generate();
        if !(self.spans.is_empty()
            && self.tags.is_empty()
            && self.logs.is_empty()
            && self.refs.is_empty())
        {
            self.clear();
        }
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
