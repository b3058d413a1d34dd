//! Joining the trace context with the header codecs: continuing an incoming trace on an
//! entry span and writing the outgoing headers for an exit span.

use std::sync::Arc;

use crate::id::Id;
use crate::propagation::{
    Base64Field, Correlation, Extension, Extractor, Injector, SW8, SW8_CORRELATION, SW8_X,
    Sw8Header, Sw8Ref, TRACEPARENT, TraceParent,
};
use crate::record::{RefKind, RefRecord, SegmentId, SegmentIdDisplay, Str, TraceId};
use crate::trace::context::{self, Context, Handle, SpanInit};
use crate::trace::pool;

/// The context an incoming request continues, or `None` (no header, a malformed one, or
/// the agent off): the entry span then starts a new trace.
///
/// The same rules as [`crate::propagation::extract`], without its owned `Sw8`: the
/// header is checked in place ([`Sw8Header`]) and each field decoded once, straight
/// into the reference the segment keeps.
pub(crate) fn incoming_context<C: Extractor + ?Sized>(carrier: &C) -> Option<Box<Context>> {
    if !crate::settings::is_enabled() {
        return None;
    }
    let sw8 = carrier
        .get(SW8)
        .and_then(|value| Sw8Header::parse(value).ok());
    let mut ctx = match sw8 {
        // Any valid `sw8` is continued and recorded, whatever its sample flag, as the
        // Java and Go agents do: the caller reported the segment it names (we never send
        // a header from a trace that records nothing, and neither do they).
        Some(header) => {
            let reference = reference_to(&header);
            let mut ctx = Context::boxed(reference.trace_id.clone(), true);
            ctx.first_ref = Some(reference);
            ctx
        }
        // A W3C caller names no SkyWalking segment to refer to: keep its trace id and
        // sampling decision.
        None => {
            let tp = carrier
                .get(TRACEPARENT)
                .and_then(|value| TraceParent::decode(value).ok())?;
            if !tp.sampled {
                crate::stats::trace_unsampled();
            }
            Context::maybe_undecided(TraceId::Local(Id::from_u128(tp.trace_id)), tp.sampled)
        }
    };
    if let Some(correlation) = carrier
        .get(SW8_CORRELATION)
        .and_then(|value| Correlation::decode(value, crate::settings::correlation_limits()).ok())
    {
        ctx.correlation = correlation;
    }
    if let Some(extension) = carrier
        .get(SW8_X)
        .and_then(|value| Extension::decode(value).ok())
    {
        ctx.skip_analysis = extension.skip_analysis;
        ctx.sent_at_ms = extension.send_timestamp_ms;
    }
    Some(ctx)
}

/// The `CrossProcess` reference an `sw8` header stands for: each field decoded once
/// into what the segment keeps.
fn reference_to(header: &Sw8Header<'_>) -> RefRecord {
    let trace_id: Arc<str> = header.trace_id().with_decoded(|id| Arc::from(id));
    let segment_id: Arc<str> = header.parent_segment_id().with_decoded(|id| Arc::from(id));
    RefRecord {
        kind: RefKind::CrossProcess,
        trace_id: TraceId::Remote(trace_id),
        parent_segment_id: SegmentIdDisplay(SegmentId::Remote(segment_id)),
        parent_span_id: header.parent_span_id(),
        parent_service: text(header.parent_service()),
        parent_service_instance: text(header.parent_service_instance()),
        parent_endpoint: text(header.parent_endpoint()),
        network_address_used_at_peer: text(header.address_used_at_client()),
    }
}

/// A field's decoded text, in a spare string of this thread (see [`pool::take_text`]):
/// in steady state the strings of the last references come back with pooled segments,
/// and decoding allocates nothing.
#[inline]
fn text(field: Base64Field<'_>) -> Str {
    if field.decoded_len() == 0 {
        return Str::Borrowed("");
    }
    let mut text = pool::take_text();
    field.decode_into(&mut text);
    Str::Owned(text)
}

/// Adds the reference `carrier`'s `sw8` names to the span behind `handle`.
pub(crate) fn add_reference<C: Extractor + ?Sized>(handle: Handle, carrier: &C) -> bool {
    if !handle.is_recording() {
        return false;
    }
    let Some(value) = carrier.get(SW8) else {
        return false;
    };
    let Ok(header) = Sw8Header::parse(value) else {
        return false;
    };
    let reference = reference_to(&header);
    context::with_current(|ctx| match ctx.segment_of(handle) {
        Some(segment) => {
            segment.refs.push((handle.id, reference));
            true
        }
        None => false,
    })
    .unwrap_or(false)
}

/// Opens an entry span continuing the trace in `carrier`'s headers. Inside an active
/// trace, the span joins it and carries the incoming reference.
pub(crate) fn open_entry<C: Extractor + ?Sized>(init: SpanInit, carrier: &C) -> Handle {
    match incoming_context(carrier) {
        Some(ctx) => context::open_with(ctx, init),
        None => context::open(init),
    }
}

/// Writes `sw8` (and `sw8-x`, optionally `traceparent`) for the span behind `handle`,
/// and `sw8-correlation` whenever a trace is active.
///
/// A context that records nothing (an unsampled or ignored trace) writes no `sw8`, as
/// the Java agent's `IgnoredTracerContext`: a header naming a segment that is never
/// reported would make downstream agents refer to a missing parent. Past the span
/// limit, the header names the (size-limited) segment and its nearest recorded span.
pub(crate) fn inject<C: Injector + ?Sized>(handle: Handle, carrier: &mut C, traceparent: bool) {
    let Some(headers) = context::with_current(|ctx| headers_for(ctx, handle, traceparent)) else {
        return;
    };
    let Some(headers) = headers else { return };
    if let Some(value) = headers.sw8 {
        carrier.set(SW8, value);
    }
    if let Some(value) = headers.correlation {
        carrier.set(SW8_CORRELATION, value);
    }
    if let Some(value) = headers.extension {
        carrier.set(SW8_X, value);
    }
    if let Some(value) = headers.traceparent {
        carrier.set(TRACEPARENT, value);
    }
}

struct Headers {
    sw8: Option<String>,
    correlation: Option<String>,
    extension: Option<String>,
    traceparent: Option<String>,
}

fn headers_for(ctx: &mut Context, handle: Handle, with_traceparent: bool) -> Option<Headers> {
    let correlation = (!ctx.correlation.is_empty()).then(|| ctx.correlation.encode());
    // A recording-but-undecided trace that propagates is kept: the header names a
    // segment OAP must receive (see `keep`).
    if ctx.undecided && ctx.parent_for_header(handle).is_some() {
        ctx.keep_referenced();
    }
    let parent = if ctx.sampled {
        ctx.parent_for_header(handle)
    } else {
        None
    };
    let Some((segment, span_id, peer)) = parent else {
        return correlation.is_some().then_some(Headers {
            sw8: None,
            correlation,
            extension: None,
            traceparent: None,
        });
    };
    let identity = crate::settings::identity()?;
    let trace_id = ctx.trace_id.to_string();
    let segment_id = segment.segment_id.to_string();
    let endpoint = segment
        .endpoint()
        .map_or("", |e| crate::record::operation_name(e));
    let endpoint = if endpoint.is_empty() { "N/A" } else { endpoint };
    // Field 8 must not be empty (the Java agent rejects such a header): an exit span
    // always has a peer, but a span opened by hand may not.
    let peer: &str = if peer.is_empty() {
        "N/A"
    } else {
        crate::record::peer(peer)
    };
    let sw8 = Sw8Ref {
        sample: true,
        trace_id: &trace_id,
        parent_segment_id: &segment_id,
        parent_span_id: span_id,
        parent_service: &identity.service,
        parent_service_instance: &identity.instance,
        parent_endpoint: endpoint,
        address_used_at_client: peer,
    }
    .encode();
    let extension = ctx.skip_analysis.then(|| {
        Extension {
            skip_analysis: true,
            send_timestamp_ms: None,
        }
        .encode()
    });
    let traceparent = with_traceparent.then(|| {
        let trace_id = match &ctx.trace_id {
            TraceId::Local(id) => id.as_u128(),
            TraceId::Remote(s) => fold_to_u128(s),
        };
        TraceParent {
            trace_id,
            parent_id: (segment_id_hash(&segment_id) ^ span_id as u64).max(1),
            sampled: true,
        }
        .encode()
    });
    Some(Headers {
        sw8: Some(sw8),
        correlation,
        extension,
        traceparent,
    })
}

/// A stable 128-bit value for a trace id that is not ours (W3C needs 32 hex digits).
fn fold_to_u128(s: &str) -> u128 {
    // FNV-1a, 128-bit: stable across processes and versions, unlike std's hasher.
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut hash: u128 = 0x6c62272e07bb014262b821756295c58d;
    for byte in s.bytes() {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash.max(1)
}

fn segment_id_hash(s: &str) -> u64 {
    fold_to_u128(s) as u64
}

/// The correlation data (`sw8-correlation`) of the current trace: key/value pairs that
/// travel with the trace to every downstream service. `None` when no trace is active.
pub fn correlation() -> Option<Correlation> {
    context::with_current(|ctx| ctx.correlation.clone())
}

/// Sets a correlation value on the current trace, passed downstream from now on. Returns
/// false when no trace is active or the entry exceeds the limits (3 keys, 128-byte
/// values by default).
pub fn set_correlation(key: &str, value: &str) -> bool {
    context::with_current(|ctx| ctx.correlation.insert(key, value)).unwrap_or(false)
}
