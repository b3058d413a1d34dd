//! Protobuf encoding of recorded segments straight into bytes, on the reporter thread.
//!
//! Building the prost structs first would allocate a `String` for every name, peer, tag
//! and id of every span only to copy them again into the wire buffer. This writes the
//! `SegmentObject` wire format directly from the records (field numbers from
//! `Tracing.proto`), in the field order prost uses, so the output is byte for byte what
//! [`super::encode::segment`] encodes to; tests (one a proptest over random segments)
//! hold the two together.
//!
//! # Where the time goes, and how little is left
//!
//! A [`SegmentEncoder`] lives as long as its sink and is reused for every segment, so
//! that what repeats is encoded once:
//!
//! - **Service and instance** (fields 4 and 5, the same in every segment) are encoded
//!   once, when the encoder is made, and copied.
//! - **The constant part of a span** (fields 6 to 11: name, peer, type, layer,
//!   component, error) is kept from the previous span and reused when the next span has
//!   the same values, which is the rule in a segment of many spans (a loop of `child`
//!   spans) and across segments of one endpoint. A `'static` name or peer is recognised
//!   by its address and length; an owned one by its bytes.
//! - **Timestamps**: converting raw ticks to epoch milliseconds costs a 128-bit
//!   division. The conversion is monotonic, so the encoder keeps the interval of raw
//!   ticks it has seen map to one millisecond (and that millisecond's varint): a tick
//!   inside the interval needs no conversion, which is every span of a segment that
//!   lasted less than a millisecond. The interval is forgotten at each batch
//!   ([`SegmentEncoder::begin_batch`]), the point at which the reporter thread may
//!   re-anchor the clock.
//! - **A span without tags, logs or references** (the common case) is written in one
//!   go: its length is known from the lengths of its parts before any byte is written,
//!   and the bytes go through a fixed-size window at the end of the buffer (zeroed,
//!   written, then cut to the real length), so no byte costs a capacity check or a call
//!   to `memcpy`. Other spans take the general path: each nested message's length is
//!   computed, then its fields are written.
//! - **Ids** become hex with SWAR arithmetic (16 digits per 64-bit half), not a digit at
//!   a time.

use std::borrow::Cow;

use crate::id::Id;
use crate::record::{
    LogRecord, RefKind, RefRecord, SegmentRecord, SpanKind, SpanLayer, SpanRecord, Str, TraceId,
    operation_name, peer,
};

use super::encode::Identity;

const LEN: u8 = 2;
const VARINT: u8 = 0;

/// Appends the encoding of one `SegmentObject` to `out` (for a sink that does not keep
/// a [`SegmentEncoder`]: the Kafka reporter). The encoder is kept per thread, for the
/// last identity, so that nothing is allocated per segment; the timestamp interval is
/// forgotten at each call. Sorts the record's tag, log and reference buffers by span
/// (stable), which is why it takes the record mutably.
#[cfg(any(test, feature = "kafka"))]
pub(crate) fn encode_segment(record: &mut SegmentRecord, identity: &Identity, out: &mut Vec<u8>) {
    thread_local! {
        static ENCODER: std::cell::RefCell<Option<SegmentEncoder>> =
            const { std::cell::RefCell::new(None) };
    }
    ENCODER.with_borrow_mut(|slot| {
        let reusable = slot
            .as_ref()
            .is_some_and(|e| e.service == identity.service && e.instance == identity.instance);
        if !reusable {
            *slot = Some(SegmentEncoder::new(identity));
        }
        if let Some(encoder) = slot.as_mut() {
            encoder.begin_batch();
            encoder.encode(record, out);
        }
    });
}

/// Encodes segments for one service instance, remembering what repeats between spans
/// and segments (see the module docs). One per sink, used on the reporter thread.
pub(crate) struct SegmentEncoder {
    service: String,
    instance: String,
    /// Fields 4 and 5 (service, instance), encoded.
    identity_fields: Vec<u8>,
    ms: MsCache,
    constant: ConstantCache,
}

impl std::fmt::Debug for SegmentEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentEncoder")
            .field("service", &self.service)
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

/// The window a simple span is written through: its tag and length (2 bytes), fields 1
/// to 4 (at most 6 + 11 + 11 + 11 bytes), the constant fields (at most
/// [`INLINE_CONSTANT`]) and field 14 (2): at most 91 bytes, so the body's length always
/// fits the one byte of a varint below 128.
const SPAN_WINDOW: usize = 96;
/// Constant fields longer than this go through the general path.
const INLINE_CONSTANT: usize = 48;

impl SegmentEncoder {
    /// An encoder for segments of `identity`.
    pub(crate) fn new(identity: &Identity) -> SegmentEncoder {
        let mut identity_fields = Vec::new();
        string(4, &identity.service, &mut identity_fields);
        string(5, &identity.instance, &mut identity_fields);
        SegmentEncoder {
            service: identity.service.clone(),
            instance: identity.instance.clone(),
            identity_fields,
            ms: MsCache::default(),
            constant: ConstantCache::default(),
        }
    }

    /// Forgets the timestamp interval: call before each batch (the clock may have been
    /// re-anchored since the last).
    pub(crate) fn begin_batch(&mut self) {
        self.ms.forget();
    }

    /// Forgets everything remembered from earlier segments (after a panic left the
    /// encoder in an unknown state).
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn reset(&mut self) {
        self.ms = MsCache::default();
        self.constant = ConstantCache::default();
    }

    /// Appends the encoding of one `SegmentObject` to `out`. Sorts the record's tag, log
    /// and reference buffers by span (stable), which is why it takes the record mutably.
    pub(crate) fn encode(&mut self, record: &mut SegmentRecord, out: &mut Vec<u8>) {
        record.tags.sort_by_key(|(span, ..)| *span);
        record.logs.sort_by_key(|(span, _)| *span);
        record.refs.sort_by_key(|(span, _)| *span);
        let record = &*record;
        out.reserve(72 + self.identity_fields.len() + record.spans.len() * 48);
        ids(&record.trace_id, record.segment_id, out);
        let simple = record.tags.is_empty() && record.logs.is_empty() && record.refs.is_empty();
        let mut tags = &record.tags[..];
        let mut logs = &record.logs[..];
        let mut refs = &record.refs[..];
        for (index, span) in record.spans.iter().enumerate() {
            let id = index as i32;
            if simple {
                self.span(id, span, &[], &[], &[], out);
            } else {
                let span_tags = take_prefix(&mut tags, |t| t.0 == id);
                let span_logs = take_prefix(&mut logs, |l| l.0 == id);
                let span_refs = take_prefix(&mut refs, |r| r.0 == id);
                self.span(id, span, span_refs, span_tags, span_logs, out);
            }
        }
        out.extend_from_slice(&self.identity_fields);
        boolean(6, record.is_size_limited, out);
    }

    /// Field 3 of the segment: one span, its tags, logs and references.
    #[inline(always)]
    fn span(
        &mut self,
        id: i32,
        span: &SpanRecord,
        refs: &[(i32, RefRecord)],
        tags: &[(i32, Str, Str)],
        logs: &[(i32, LogRecord)],
        out: &mut Vec<u8>,
    ) {
        self.constant.select(span);
        if !(refs.is_empty()
            && tags.is_empty()
            && logs.is_empty()
            && self.simple_span(id, span, out))
        {
            self.general_span(id, span, refs, tags, logs, out);
        }
    }

    /// Writes a span without tags, logs or references in one go, through a window at the
    /// end of `out`; false (nothing written) if it does not fit the window.
    #[inline(always)]
    fn simple_span(&mut self, id: i32, span: &SpanRecord, out: &mut Vec<u8>) -> bool {
        let (start, start_len) = self.ms.varint(span.start);
        let (end, end_len) = self.ms.varint(span.end);
        let constant = self.constant.current();
        let constant_len = constant.bytes.len();
        // With the constant fields inline, the body is at most 89 bytes (see
        // `SPAN_WINDOW`): its length is one byte, written once the body is.
        if constant_len > INLINE_CONSTANT {
            return false;
        }
        let at = out.len();
        out.resize(at + SPAN_WINDOW, 0);
        let Some(w) = out
            .get_mut(at..)
            .and_then(|w| w.first_chunk_mut::<SPAN_WINDOW>())
        else {
            out.truncate(at);
            return false;
        };
        w[0] = 3 << 3 | LEN;
        let mut p = 2;
        if id != 0 {
            w[p] = 1 << 3;
            p = put_varint(w, p + 1, id as u64);
        }
        match span.parent_id {
            0 => {}
            -1 => {
                w[p..p + 11].copy_from_slice(&[
                    2 << 3,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    0xff,
                    1,
                ]);
                p += 11;
            }
            parent => {
                w[p] = 2 << 3;
                p = put_varint(w, p + 1, i64::from(parent) as u64);
            }
        }
        if start_len > 0 {
            w[p] = 3 << 3;
            w[p + 1..p + 17].copy_from_slice(&start);
            p += 1 + start_len;
        }
        if end_len > 0 {
            w[p] = 4 << 3;
            w[p + 1..p + 17].copy_from_slice(&end);
            p += 1 + end_len;
        }
        w[p..p + INLINE_CONSTANT].copy_from_slice(&constant.inline);
        p += constant_len;
        if span.skip_analysis {
            w[p] = 14 << 3;
            w[p + 1] = 1;
            p += 2;
        }
        // p <= 2 + 6 + 11 + 11 + 11 + 48 + 2 = 91.
        w[1] = (p - 2) as u8;
        out.truncate(at + p);
        true
    }

    /// Any span: the length of each nested message is computed, then its fields are
    /// written.
    #[inline(never)]
    fn general_span(
        &mut self,
        id: i32,
        span: &SpanRecord,
        refs: &[(i32, RefRecord)],
        tags: &[(i32, Str, Str)],
        logs: &[(i32, LogRecord)],
        out: &mut Vec<u8>,
    ) {
        let fields = SpanFields {
            id,
            span,
            start_ms: self.ms.ms(span.start),
            end_ms: self.ms.ms(span.end),
            refs,
            tags,
            logs,
            service: &self.service,
            instance: &self.instance,
            constant: &self.constant.current().bytes,
        };
        key(3, LEN, out);
        varint(fields.len() as u64, out);
        fields.encode(out);
    }
}

/// Writes `value` as a varint at `w[p..]`; returns the position after it.
#[inline(always)]
fn put_varint(w: &mut [u8; SPAN_WINDOW], mut p: usize, mut value: u64) -> usize {
    while value >= 0x80 {
        w[p] = (value as u8) | 0x80;
        value >>= 7;
        p += 1;
    }
    w[p] = value as u8;
    p + 1
}

/// Fields 1 and 2 of the segment: the trace id and the segment id.
#[inline]
fn ids(trace: &TraceId, segment: Id, out: &mut Vec<u8>) {
    match trace {
        TraceId::Local(trace) => {
            let mut both = [0u8; 68];
            both[0] = 1 << 3 | LEN;
            both[1] = 32;
            both[2..34].copy_from_slice(&hex32(trace.as_u128()));
            both[34] = 2 << 3 | LEN;
            both[35] = 32;
            both[36..].copy_from_slice(&hex32(segment.as_u128()));
            out.extend_from_slice(&both);
        }
        TraceId::Remote(trace) => {
            string(1, trace, out);
            id_field(2, segment, out);
        }
    }
}

/// Raw ticks to epoch milliseconds, remembering an interval of ticks known to map to one
/// millisecond (the conversion is monotonic, so every tick between two that map to `ms`
/// maps to `ms`), and that millisecond's varint. Empty (`lo > hi`) until the first
/// conversion and after [`forget`](Self::forget).
struct MsCache {
    lo: u64,
    hi: u64,
    ms: i64,
    /// The varint of `ms`, zero-padded.
    encoded: [u8; 16],
    /// Its length; 0 when `ms` is 0 (a proto3 default: the field is left out).
    encoded_len: usize,
}

impl Default for MsCache {
    fn default() -> MsCache {
        MsCache {
            lo: 1,
            hi: 0,
            ms: 0,
            encoded: [0; 16],
            encoded_len: 0,
        }
    }
}

impl MsCache {
    fn forget(&mut self) {
        self.lo = 1;
        self.hi = 0;
    }

    /// The varint of `raw`'s millisecond (zero-padded) and its length (0: leave the field
    /// out).
    #[inline]
    fn varint(&mut self, raw: u64) -> ([u8; 16], usize) {
        if !(self.lo <= raw && raw <= self.hi) {
            self.convert(raw);
        }
        (self.encoded, self.encoded_len)
    }

    /// `raw`'s millisecond.
    #[inline]
    fn ms(&mut self, raw: u64) -> i64 {
        if !(self.lo <= raw && raw <= self.hi) {
            self.convert(raw);
        }
        self.ms
    }

    #[inline(never)]
    fn convert(&mut self, raw: u64) {
        let ms = crate::clock::to_epoch_ms(raw);
        if self.lo <= self.hi && ms == self.ms {
            if raw < self.lo {
                self.lo = raw;
            } else {
                // Time moves forward: look as far again ahead, so that the spans of
                // the next segments in this millisecond need no conversion (the
                // interval doubles at each miss).
                let ahead = raw.saturating_add(raw - self.lo);
                self.hi = if crate::clock::to_epoch_ms(ahead) == ms {
                    ahead
                } else {
                    raw
                };
            }
            return;
        }
        self.lo = raw;
        self.hi = raw;
        self.ms = ms;
        self.encoded = [0; 16];
        if ms == 0 {
            self.encoded_len = 0;
            return;
        }
        let mut value = ms as u64;
        let mut n = 0;
        while value >= 0x80 {
            self.encoded[n] = (value as u8) | 0x80;
            value >>= 7;
            n += 1;
        }
        self.encoded[n] = value as u8;
        self.encoded_len = n + 1;
    }
}

/// The name or peer that constant fields were encoded from, to recognise it again.
#[derive(Default, Clone, Copy)]
struct TextKey {
    /// Address of `'static` text (0 for owned text, which is recognised by its bytes).
    address: usize,
    /// Length of the text as recorded.
    len: usize,
    /// Where the text is in the encoded bytes.
    at: usize,
    /// Whether the text was cut on its way out (then only `'static` text is recognised,
    /// by its address: the encoded bytes are not the recorded text).
    cut: bool,
}

impl TextKey {
    fn new(recorded: &Str, sent: &str, at: usize) -> TextKey {
        TextKey {
            address: match recorded {
                Cow::Borrowed(s) => s.as_ptr() as usize,
                Cow::Owned(_) => 0,
            },
            len: recorded.len(),
            at,
            cut: sent.len() != recorded.len(),
        }
    }

    /// Whether `text` is the text this key was made from (`bytes`: the encoded fields).
    #[inline(always)]
    fn matches(&self, text: &Str, bytes: &[u8]) -> bool {
        let (address, len) = match text {
            Cow::Borrowed(s) => (s.as_ptr() as usize, s.len()),
            Cow::Owned(s) => (0, s.len()),
        };
        if len != self.len {
            return false;
        }
        if address != 0 && address == self.address {
            return true;
        }
        !self.cut && bytes.get(self.at..self.at + len) == Some(text.as_bytes())
    }
}

/// Fields 6 to 11 of the last span encoded (name, peer, type, layer, component, error),
/// kept for the next span with the same values.
struct ConstantFields {
    valid: bool,
    kind: SpanKind,
    layer: SpanLayer,
    component: i32,
    is_error: bool,
    name: TextKey,
    peer: TextKey,
    bytes: Vec<u8>,
    /// `bytes`, zero-padded, when it fits.
    inline: [u8; INLINE_CONSTANT],
    /// The entry the span after the last span that used this one used: a root and its
    /// children take turns, and this is tried second.
    next: usize,
}

impl Default for ConstantFields {
    fn default() -> ConstantFields {
        ConstantFields {
            valid: false,
            kind: SpanKind::Local,
            layer: SpanLayer::Unknown,
            component: 0,
            is_error: false,
            name: TextKey::default(),
            peer: TextKey::default(),
            bytes: Vec::new(),
            inline: [0; INLINE_CONSTANT],
            next: 0,
        }
    }
}

/// The constant fields of the last few distinct kinds of span (a root and its children
/// alternate in every small segment), the most recent one tried first.
struct ConstantCache {
    entries: [ConstantFields; CONSTANT_ENTRIES],
    /// The entry the last span used.
    current: usize,
    /// The entry replaced next.
    victim: usize,
}

/// Entries of [`ConstantCache`] (a power of two).
const CONSTANT_ENTRIES: usize = 4;

impl Default for ConstantCache {
    fn default() -> ConstantCache {
        ConstantCache {
            entries: std::array::from_fn(|_| ConstantFields::default()),
            current: 0,
            victim: 0,
        }
    }
}

impl ConstantCache {
    /// Makes [`current`](Self::current) the encoding of `span`'s constant fields.
    #[inline(always)]
    fn select(&mut self, span: &SpanRecord) {
        if !self.entries[self.current % CONSTANT_ENTRIES].matches(span) {
            self.select_other(span);
        }
    }

    #[inline(always)]
    fn select_other(&mut self, span: &SpanRecord) {
        let last = self.current % CONSTANT_ENTRIES;
        let predicted = self.entries[last].next % CONSTANT_ENTRIES;
        self.current = if self.entries[predicted].matches(span) {
            predicted
        } else {
            self.search(span)
        };
        self.entries[last].next = self.current;
    }

    /// The entry for `span`, made if none matches.
    #[inline(never)]
    fn search(&mut self, span: &SpanRecord) -> usize {
        if let Some(found) = self.entries.iter().position(|e| e.matches(span)) {
            return found;
        }
        let victim = self.victim % CONSTANT_ENTRIES;
        self.victim = (victim + 1) % CONSTANT_ENTRIES;
        self.entries[victim].rebuild(span);
        victim
    }

    #[inline(always)]
    fn current(&self) -> &ConstantFields {
        &self.entries[self.current % CONSTANT_ENTRIES]
    }
}

impl ConstantFields {
    /// Whether this holds the constant fields of `span`.
    #[inline(always)]
    fn matches(&self, span: &SpanRecord) -> bool {
        self.valid
            && self.component == span.component
            && self.kind == span.kind
            && self.layer == span.layer
            && self.is_error == span.is_error
            && self.name.matches(&span.name, &self.bytes)
            && self.peer.matches(&span.peer, &self.bytes)
    }

    fn rebuild(&mut self, span: &SpanRecord) {
        let name = operation_name(&span.name);
        let peer = peer(&span.peer);
        self.valid = true;
        self.kind = span.kind;
        self.layer = span.layer;
        self.component = span.component;
        self.is_error = span.is_error;
        let out = &mut self.bytes;
        out.clear();
        string(6, name, out);
        self.name = TextKey::new(&span.name, name, out.len() - name.len());
        string(7, peer, out);
        self.peer = TextKey::new(&span.peer, peer, out.len() - peer.len());
        int32(8, span_type(span.kind), out);
        int32(9, span_layer(span.layer), out);
        int32(10, span.component, out);
        boolean(11, span.is_error, out);
        self.inline = [0; INLINE_CONSTANT];
        if let Some(inline) = self.inline.get_mut(..out.len()) {
            inline.copy_from_slice(out);
        }
    }
}

/// Splits off the leading run of `items` matching `pred`.
fn take_prefix<'a, T>(items: &mut &'a [T], pred: impl Fn(&T) -> bool) -> &'a [T] {
    let n = items.iter().take_while(|t| pred(t)).count();
    let (head, tail) = items.split_at(n);
    *items = tail;
    head
}

/// A span on the general path.
struct SpanFields<'a> {
    id: i32,
    span: &'a SpanRecord,
    start_ms: i64,
    end_ms: i64,
    refs: &'a [(i32, RefRecord)],
    tags: &'a [(i32, Str, Str)],
    logs: &'a [(i32, LogRecord)],
    service: &'a str,
    instance: &'a str,
    /// Fields 6 to 11, encoded.
    constant: &'a [u8],
}

impl SpanFields<'_> {
    fn len(&self) -> usize {
        let s = self.span;
        let mut n = int32_len(1, self.id)
            + int32_len(2, s.parent_id)
            + int64_len(3, self.start_ms)
            + int64_len(4, self.end_ms);
        for (_, r) in self.refs {
            n += nested_len(5, reference_len(r, self.service, self.instance));
        }
        n += self.constant.len();
        for (_, k, v) in self.tags {
            n += nested_len(12, pair_len(k, v));
        }
        for (_, log) in self.logs {
            n += nested_len(13, log_len(log));
        }
        n + bool_len(14, s.skip_analysis)
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let s = self.span;
        int32(1, self.id, out);
        int32(2, s.parent_id, out);
        int64(3, self.start_ms, out);
        int64(4, self.end_ms, out);
        for (_, r) in self.refs {
            key(5, LEN, out);
            varint(reference_len(r, self.service, self.instance) as u64, out);
            reference(r, self.service, self.instance, out);
        }
        out.extend_from_slice(self.constant);
        for (_, k, v) in self.tags {
            key(12, LEN, out);
            varint(pair_len(k, v) as u64, out);
            pair(k, v, out);
        }
        for (_, l) in self.logs {
            key(13, LEN, out);
            varint(log_len(l) as u64, out);
            log(l, out);
        }
        boolean(14, s.skip_analysis, out);
    }
}

/// The parent service and instance of a reference: this process's own for a
/// `CrossThread` reference, the caller's (as its header named them) for `CrossProcess`.
fn parent<'a>(r: &'a RefRecord, service: &'a str, instance: &'a str) -> (&'a str, &'a str) {
    match r.kind {
        RefKind::CrossThread => (service, instance),
        RefKind::CrossProcess => (&r.parent_service, &r.parent_service_instance),
    }
}

fn reference_len(r: &RefRecord, service: &str, instance: &str) -> usize {
    let (service, instance) = parent(r, service, instance);
    int32_len(1, ref_type(r.kind))
        + trace_id_len(2, &r.trace_id)
        + display_len(3, &r.parent_segment_id.0)
        + int32_len(4, r.parent_span_id)
        + string_len(5, service)
        + string_len(6, instance)
        + string_len(7, operation_name(&r.parent_endpoint))
        + string_len(8, peer(&r.network_address_used_at_peer))
}

fn reference(r: &RefRecord, service: &str, instance: &str, out: &mut Vec<u8>) {
    int32(1, ref_type(r.kind), out);
    trace_id(2, &r.trace_id, out);
    match &r.parent_segment_id.0 {
        crate::record::SegmentId::Local(id) => id_field(3, *id, out),
        crate::record::SegmentId::Remote(s) => string(3, s, out),
    }
    int32(4, r.parent_span_id, out);
    let (service, instance) = parent(r, service, instance);
    string(5, service, out);
    string(6, instance, out);
    string(7, operation_name(&r.parent_endpoint), out);
    string(8, peer(&r.network_address_used_at_peer), out);
}

fn pair_len(k: &str, v: &str) -> usize {
    string_len(1, k) + string_len(2, v)
}

fn pair(k: &str, v: &str, out: &mut Vec<u8>) {
    string(1, k, out);
    string(2, v, out);
}

fn log_len(l: &LogRecord) -> usize {
    int64_len(1, crate::clock::to_epoch_ms(l.time))
        + l.fields
            .iter()
            .map(|(k, v)| nested_len(2, pair_len(k, v)))
            .sum::<usize>()
}

fn log(l: &LogRecord, out: &mut Vec<u8>) {
    int64(1, crate::clock::to_epoch_ms(l.time), out);
    for (k, v) in &l.fields {
        key(2, LEN, out);
        varint(pair_len(k, v) as u64, out);
        pair(k, v, out);
    }
}

fn span_type(kind: SpanKind) -> i32 {
    match kind {
        SpanKind::Entry => 0,
        SpanKind::Exit => 1,
        SpanKind::Local => 2,
    }
}

fn span_layer(layer: SpanLayer) -> i32 {
    match layer {
        SpanLayer::Unknown => 0,
        SpanLayer::Database => 1,
        SpanLayer::RpcFramework => 2,
        SpanLayer::Http => 3,
        SpanLayer::Mq => 4,
        SpanLayer::Cache => 5,
        SpanLayer::Faas => 6,
    }
}

fn ref_type(kind: RefKind) -> i32 {
    match kind {
        RefKind::CrossProcess => 0,
        RefKind::CrossThread => 1,
    }
}

// --- primitives (proto3: fields holding the default value are omitted, as prost does) ---

fn key(field: u32, wire_type: u8, out: &mut Vec<u8>) {
    varint(u64::from(field << 3 | u32::from(wire_type)), out);
}

#[inline(always)]
fn varint(mut value: u64, out: &mut Vec<u8>) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut buf = [0u8; 10];
    let mut n = 0;
    while value >= 0x80 {
        buf[n] = (value as u8) | 0x80;
        value >>= 7;
        n += 1;
    }
    buf[n] = value as u8;
    out.extend_from_slice(&buf[..=n]);
}

fn varint_len(value: u64) -> usize {
    // 1 byte per 7 bits, at least 1.
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

fn key_len(field: u32) -> usize {
    varint_len(u64::from(field << 3))
}

fn nested_len(field: u32, len: usize) -> usize {
    key_len(field) + varint_len(len as u64) + len
}

fn string(field: u32, value: &str, out: &mut Vec<u8>) {
    if !value.is_empty() {
        key(field, LEN, out);
        varint(value.len() as u64, out);
        out.extend_from_slice(value.as_bytes());
    }
}

fn string_len(field: u32, value: &str) -> usize {
    if value.is_empty() {
        0
    } else {
        nested_len(field, value.len())
    }
}

/// int32 is sign-extended to 64 bits on the wire (-1 takes ten bytes).
fn int32(field: u32, value: i32, out: &mut Vec<u8>) {
    if value != 0 {
        key(field, VARINT, out);
        varint(i64::from(value) as u64, out);
    }
}

fn int32_len(field: u32, value: i32) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(i64::from(value) as u64)
    }
}

fn int64(field: u32, value: i64, out: &mut Vec<u8>) {
    if value != 0 {
        key(field, VARINT, out);
        varint(value as u64, out);
    }
}

fn int64_len(field: u32, value: i64) -> usize {
    if value == 0 {
        0
    } else {
        key_len(field) + varint_len(value as u64)
    }
}

fn boolean(field: u32, value: bool, out: &mut Vec<u8>) {
    if value {
        key(field, VARINT, out);
        out.push(1);
    }
}

fn bool_len(field: u32, value: bool) -> usize {
    if value { key_len(field) + 1 } else { 0 }
}

/// An id as 32 lowercase hex digits, without allocating.
fn id_field(field: u32, id: Id, out: &mut Vec<u8>) {
    key(field, LEN, out);
    out.push(32);
    out.extend_from_slice(&hex32(id.as_u128()));
}

/// `value` as 32 lowercase hex digits (what `{:032x}` prints).
#[inline]
fn hex32(value: u128) -> [u8; 32] {
    let mut out = [0u8; 32];
    out[..16].copy_from_slice(&hex16((value >> 64) as u64));
    out[16..].copy_from_slice(&hex16(value as u64));
    out
}

/// `value` as 16 lowercase hex digits, computed 16 at a time: each nibble is spread to
/// a byte of a `u128` (halving the group size at each step), then every byte is turned
/// into its ASCII digit at once.
#[inline]
fn hex16(value: u64) -> [u8; 16] {
    let x = u128::from(value);
    let x = (x | (x << 32)) & 0x0000_0000_ffff_ffff_0000_0000_ffff_ffff;
    let x = (x | (x << 16)) & 0x0000_ffff_0000_ffff_0000_ffff_0000_ffff;
    let x = (x | (x << 8)) & 0x00ff_00ff_00ff_00ff_00ff_00ff_00ff_00ff;
    let x = (x | (x << 4)) & 0x0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f_0f0f;
    // Byte i holds nibble i (from the least significant). Digits above 9 get the 39
    // that lifts `'0' + n` to `'a' + n - 10`; no byte carries into the next.
    let letters = ((x + 0x0606_0606_0606_0606_0606_0606_0606_0606) >> 4)
        & 0x0101_0101_0101_0101_0101_0101_0101_0101;
    let ascii = x + 0x3030_3030_3030_3030_3030_3030_3030_3030 + letters * 39;
    // Most significant nibble first.
    ascii.to_be_bytes()
}

fn trace_id(field: u32, id: &TraceId, out: &mut Vec<u8>) {
    match id {
        TraceId::Local(id) => id_field(field, *id, out),
        TraceId::Remote(s) => string(field, s, out),
    }
}

fn trace_id_len(field: u32, id: &TraceId) -> usize {
    match id {
        TraceId::Local(_) => nested_len(field, 32),
        TraceId::Remote(s) => string_len(field, s),
    }
}

fn display_len(field: u32, id: &crate::record::SegmentId) -> usize {
    match id {
        crate::record::SegmentId::Local(_) => nested_len(field, 32),
        crate::record::SegmentId::Remote(s) => string_len(field, s),
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use proptest::prelude::*;
    use prost::Message;
    use skywalking_proto::v3;

    use super::*;
    use crate::record::{SegmentId, SegmentIdDisplay};

    fn span(parent: i32, name: &'static str) -> SpanRecord {
        SpanRecord {
            parent_id: parent,
            start: crate::clock::now_raw(),
            end: crate::clock::now_raw() + 1,
            kind: SpanKind::Exit,
            layer: SpanLayer::Database,
            component: 22,
            is_error: true,
            skip_analysis: parent >= 0,
            name: Cow::Borrowed(name),
            peer: Cow::Owned("db:5432".into()),
        }
    }

    fn record() -> SegmentRecord {
        let mut record = SegmentRecord::with_capacity(4);
        record.reset(TraceId::Remote("remote-trace".into()));
        record.spans.push(span(-1, "root"));
        record.spans.push(span(0, ""));
        record.spans.push(span(1, "deep"));
        record.tags.push((2, "b".into(), "2".into()));
        record.tags.push((0, "a".into(), "1".into()));
        record.tags.push((2, "c".into(), "".into()));
        record.logs.push((
            1,
            LogRecord {
                time: crate::clock::now_raw(),
                fields: vec![("event".into(), "x".into())],
            },
        ));
        record.refs.push((
            0,
            RefRecord {
                kind: RefKind::CrossThread,
                trace_id: TraceId::Local(Id::generate()),
                parent_segment_id: SegmentIdDisplay(SegmentId::Local(Id::generate())),
                parent_span_id: 300,
                parent_service: Cow::Borrowed(""),
                parent_service_instance: Cow::Borrowed("other"),
                parent_endpoint: Cow::Borrowed("GET /x"),
                network_address_used_at_peer: Cow::Borrowed(""),
            },
        ));
        // Several references on one span, and one on a later span (an entry span that
        // continued a request inside an active trace).
        for span in [1, 1] {
            record.refs.push((
                span,
                RefRecord {
                    kind: RefKind::CrossProcess,
                    trace_id: TraceId::Remote("remote-trace".into()),
                    parent_segment_id: SegmentIdDisplay(SegmentId::Remote("seg".into())),
                    parent_span_id: 2,
                    parent_service: Cow::Borrowed("caller"),
                    parent_service_instance: Cow::Borrowed("caller-1"),
                    parent_endpoint: Cow::Borrowed("GET /y"),
                    network_address_used_at_peer: Cow::Borrowed("me:80"),
                },
            ));
        }
        record.is_size_limited = true;
        record
    }

    #[test]
    fn bytes_decode_to_what_the_struct_encoder_builds() {
        let identity = Identity {
            service: "svc".into(),
            instance: "inst".into(),
        };
        let mut record = record();
        let mut bytes = Vec::new();
        encode_segment(&mut record, &identity, &mut bytes);
        let decoded = v3::SegmentObject::decode(bytes.as_slice()).expect("valid protobuf");
        let expected = super::super::encode::segment(&record, &identity);
        assert_eq!(decoded, expected);
        // And byte for byte what prost writes.
        assert_eq!(bytes, expected.encode_to_vec());
        assert_eq!(decoded.spans[2].tags.len(), 2);
        assert_eq!(decoded.spans[0].refs[0].parent_service, "svc");
    }

    fn identity() -> Identity {
        Identity {
            service: "svc".into(),
            instance: "inst".into(),
        }
    }

    /// Encodes `record` with `encoder` and checks the bytes against prost's encoding of
    /// the struct encoder's message (after the encoder sorted the record's buffers).
    fn check(encoder: &mut SegmentEncoder, record: &mut SegmentRecord) -> Result<(), String> {
        let mut bytes = vec![0xee; 3]; // appends: what is already there stays
        encoder.encode(record, &mut bytes);
        if bytes[..3] != [0xee; 3] {
            return Err("overwrote the bytes before it".into());
        }
        let expected = super::super::encode::segment(record, &identity());
        let decoded = v3::SegmentObject::decode(&bytes[3..]).map_err(|e| e.to_string())?;
        if decoded != expected {
            return Err(format!("decoded {decoded:?}\nexpected {expected:?}"));
        }
        if bytes[3..] != expected.encode_to_vec()[..] {
            return Err("decodes right but differs from prost's bytes".into());
        }
        Ok(())
    }

    #[test]
    fn the_per_thread_encoder_follows_the_identity() {
        for service in ["a", "b", "a"] {
            let identity = Identity {
                service: service.into(),
                instance: "i".into(),
            };
            let mut record = record();
            let mut bytes = Vec::new();
            encode_segment(&mut record, &identity, &mut bytes);
            let decoded = v3::SegmentObject::decode(bytes.as_slice()).unwrap();
            assert_eq!(decoded, super::super::encode::segment(&record, &identity));
            assert_eq!(decoded.service, service);
        }
    }

    #[test]
    fn hex_digits_are_what_format_prints() {
        for value in [
            0u128,
            1,
            9,
            10,
            15,
            0x0123_4567_89ab_cdef_fedc_ba98_7654_3210,
            u128::from(u64::MAX),
            u128::MAX,
            u128::MAX - 0xa,
        ] {
            assert_eq!(
                hex32(value),
                format!("{value:032x}").as_bytes(),
                "{value:x}"
            );
        }
        let mut x = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834_u128;
        for _ in 0..1000 {
            x = x.wrapping_mul(0x2545_f491_4f6c_dd1d).rotate_left(17) ^ 0xdead_beef;
            assert_eq!(hex32(x), format!("{x:032x}").as_bytes());
        }
    }

    #[test]
    fn one_encoder_for_many_segments_writes_what_prost_writes() {
        let mut encoder = SegmentEncoder::new(&identity());
        // The same names and times again and again (every cache hits), then changes.
        let now = crate::clock::now_raw();
        for round in 0..3 {
            let mut record = SegmentRecord::with_capacity(8);
            record.reset(TraceId::Local(Id::generate()));
            for i in 0..200 {
                let mut s = span(i - 1, if i % 50 == 49 { "other" } else { "child" });
                s.start = now + (i as u64) * 10;
                s.end = now + (i as u64) * 10 + 5;
                s.is_error = i % 7 == 0;
                s.skip_analysis = false;
                s.peer = Cow::Borrowed(if round == 1 { "" } else { "db:5432" });
                record.spans.push(s);
            }
            if round == 2 {
                encoder.begin_batch();
            }
            check(&mut encoder, &mut record).unwrap();
        }
    }

    #[test]
    fn owned_text_reused_at_the_same_address_is_not_taken_for_the_last() {
        // A pooled segment's name buffer comes back with other bytes of the same length
        // at the same address: the encoder must compare bytes, not addresses.
        let mut encoder = SegmentEncoder::new(&identity());
        let mut text = String::with_capacity(16);
        for name in ["GET /a", "GET /b", "GET /b", "PUT /c"] {
            text.clear();
            text.push_str(name);
            let mut record = SegmentRecord::with_capacity(2);
            record.reset(TraceId::Local(Id::generate()));
            let mut s = span(-1, "");
            s.name = Cow::Owned(std::mem::take(&mut text));
            record.spans.push(s);
            check(&mut encoder, &mut record).unwrap();
            // Take the same allocation back.
            if let Some(SpanRecord {
                name: Cow::Owned(owned),
                ..
            }) = record.spans.pop()
            {
                text = owned;
            }
        }
    }

    #[test]
    fn long_names_and_peers_take_the_general_path() {
        let mut encoder = SegmentEncoder::new(&identity());
        let mut record = SegmentRecord::with_capacity(4);
        record.reset(TraceId::Local(Id::generate()));
        let long = "n".repeat(100);
        let longer = "é".repeat(200); // cut to 150 characters
        for (i, name) in [long.clone(), longer, "x".repeat(60), String::new()]
            .into_iter()
            .enumerate()
        {
            let mut s = span(i as i32 - 1, "");
            s.name = Cow::Owned(name);
            s.peer = Cow::Owned(long.clone());
            s.component = 11000;
            record.spans.push(s);
        }
        check(&mut encoder, &mut record).unwrap();
    }

    /// A name from a small set, `'static` or owned: the constant-fields cache sees hits,
    /// misses, and equal text from both sources.
    fn text() -> impl Strategy<Value = Str> {
        prop_oneof![
            prop::sample::select(vec!["", "child", "GET /users/{id}", "db:5432", "é"])
                .prop_map(Cow::Borrowed),
            prop::sample::select(vec!["", "child", "GET /x", "é"])
                .prop_map(|s| Cow::Owned(s.to_owned())),
            "[a-zé/ ]{0,80}".prop_map(Cow::Owned),
        ]
    }

    /// Raw ticks near now (spans in the same millisecond or a few apart), far away, or 0
    /// (a span still open).
    fn ticks() -> impl Strategy<Value = u64> {
        let now = crate::clock::now_raw();
        prop_oneof![
            8 => (0u64..2_000).prop_map(move |d| now + d),
            4 => (0u64..50_000_000).prop_map(move |d| now + d),
            1 => any::<u64>(),
            1 => Just(0u64),
        ]
    }

    fn any_span() -> impl Strategy<Value = SpanRecord> {
        let kind = prop::sample::select(vec![SpanKind::Entry, SpanKind::Exit, SpanKind::Local]);
        let layer = prop::sample::select(vec![
            SpanLayer::Unknown,
            SpanLayer::Database,
            SpanLayer::RpcFramework,
            SpanLayer::Http,
            SpanLayer::Mq,
            SpanLayer::Cache,
            SpanLayer::Faas,
        ]);
        let component = prop_oneof![Just(0), Just(11000), Just(49), any::<i32>()];
        let parent = prop_oneof![Just(-1), 0..300i32, any::<i32>()];
        (
            parent,
            ticks(),
            ticks(),
            kind,
            layer,
            component,
            any::<bool>(),
            any::<bool>(),
            text(),
            text(),
        )
            .prop_map(
                |(
                    parent_id,
                    start,
                    end,
                    kind,
                    layer,
                    component,
                    is_error,
                    skip_analysis,
                    name,
                    peer,
                )| {
                    SpanRecord {
                        parent_id,
                        start,
                        end,
                        kind,
                        layer,
                        component,
                        is_error,
                        skip_analysis,
                        name,
                        peer,
                    }
                },
            )
    }

    fn any_ref() -> impl Strategy<Value = RefRecord> {
        (
            any::<bool>(),
            any::<u128>(),
            any::<bool>(),
            any::<i32>(),
            text(),
            text(),
            text(),
            text(),
        )
            .prop_map(
                |(
                    cross_thread,
                    id,
                    local,
                    parent_span_id,
                    service,
                    instance,
                    endpoint,
                    address,
                )| RefRecord {
                    kind: if cross_thread {
                        RefKind::CrossThread
                    } else {
                        RefKind::CrossProcess
                    },
                    trace_id: if local {
                        TraceId::Local(Id::from_u128(id))
                    } else {
                        TraceId::Remote(format!("{id:x}.remote").as_str().into())
                    },
                    parent_segment_id: SegmentIdDisplay(if local {
                        SegmentId::Local(Id::from_u128(id.rotate_left(7)))
                    } else {
                        SegmentId::Remote("seg.1.2".into())
                    }),
                    parent_span_id,
                    parent_service: service,
                    parent_service_instance: instance,
                    parent_endpoint: endpoint,
                    network_address_used_at_peer: address,
                },
            )
    }

    fn any_segment() -> impl Strategy<Value = SegmentRecord> {
        let spans = prop::collection::vec(any_span(), 0..40);
        let tags = prop::collection::vec((0..45i32, text(), text()), 0..6);
        let logs = prop::collection::vec(
            (
                0..45i32,
                ticks(),
                prop::collection::vec((text(), text()), 0..3),
            ),
            0..3,
        );
        let refs = prop::collection::vec((0..45i32, any_ref()), 0..3);
        let limited = any::<bool>();
        let trace = prop_oneof![
            any::<u128>().prop_map(|id| TraceId::Local(Id::from_u128(id))),
            "[0-9a-f.]{1,60}".prop_map(|s| TraceId::Remote(s.as_str().into())),
        ];
        (trace, spans, tags, logs, refs, limited).prop_map(
            |(trace, spans, tags, logs, refs, limited)| {
                let mut record = SegmentRecord::with_capacity(spans.len());
                record.reset(trace);
                record.spans = spans;
                record.tags = tags;
                record.logs = logs
                    .into_iter()
                    .map(|(span, time, fields)| (span, LogRecord { time, fields }))
                    .collect();
                record.refs = refs;
                record.is_size_limited = limited;
                record
            },
        )
    }

    proptest! {
        /// Random segments, several through one encoder (so that what it remembers from
        /// one segment meets the next), sometimes with a batch boundary between them.
        #[test]
        fn random_segments_encode_to_what_prost_writes(
            segments in prop::collection::vec((any_segment(), any::<bool>()), 1..6)
        ) {
            let mut encoder = SegmentEncoder::new(&identity());
            for (mut record, new_batch) in segments {
                if new_batch {
                    encoder.begin_batch();
                }
                if let Err(e) = check(&mut encoder, &mut record) {
                    prop_assert!(false, "{}", e);
                }
            }
        }
    }

    #[test]
    fn varint_lengths_match_the_encoding() {
        for value in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let mut out = Vec::new();
            varint(value, &mut out);
            assert_eq!(out.len(), varint_len(value), "{value}");
        }
    }
}
