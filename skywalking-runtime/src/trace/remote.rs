//! Joining the trace context with the header codecs: continuing an incoming trace on an
//! entry span and writing the outgoing headers for an exit span.

use std::borrow::Cow;
use std::sync::Arc;

use crate::id::Id;
use crate::propagation::{
    Correlation, Extension, Extractor, Incoming, Injector, Parent, SW8, SW8_CORRELATION, SW8_X,
    Sw8Ref, TRACEPARENT, TraceParent,
};
use crate::record::{RefKind, RefRecord, SegmentId, SegmentIdDisplay, TraceId};
use crate::trace::context::{self, Context, Handle, SpanInit};

/// The context an incoming request continues, or `None` (no header, a malformed one, or
/// the agent off): the entry span then starts a new trace.
pub(crate) fn incoming_context<C: Extractor + ?Sized>(carrier: &C) -> Option<Box<Context>> {
    if !crate::settings::is_enabled() {
        return None;
    }
    let incoming = crate::propagation::extract(carrier, crate::settings::correlation_limits())?;
    Some(context_from(incoming))
}

fn context_from(incoming: Incoming) -> Box<Context> {
    let mut ctx = match incoming.parent {
        Parent::Sw8(sw8) => {
            let trace_id: Arc<str> = sw8.trace_id.into();
            let mut ctx = Context::boxed(TraceId::Remote(trace_id.clone()), sw8.sample);
            ctx.first_ref = Some(RefRecord {
                kind: RefKind::CrossProcess,
                trace_id: TraceId::Remote(trace_id),
                parent_segment_id: SegmentIdDisplay(SegmentId::Remote(
                    sw8.parent_segment_id.into(),
                )),
                parent_span_id: sw8.parent_span_id,
                parent_service: sw8.parent_service.into(),
                parent_service_instance: sw8.parent_service_instance.into(),
                parent_endpoint: sw8.parent_endpoint.into(),
                network_address_used_at_peer: sw8.address_used_at_client.into(),
            });
            ctx
        }
        // A W3C caller names no SkyWalking segment to refer to: keep its trace id and
        // sampling decision.
        Parent::TraceParent(tp) => {
            Context::boxed(TraceId::Local(Id::from_u128(tp.trace_id)), tp.sampled)
        }
    };
    if !ctx.sampled {
        crate::stats::trace_unsampled();
    }
    ctx.skip_analysis = incoming.extension.skip_analysis;
    ctx.correlation = incoming.correlation;
    ctx
}

/// Opens an entry span continuing the trace in `carrier`'s headers.
pub(crate) fn open_entry<C: Extractor + ?Sized>(init: SpanInit, carrier: &C) -> Handle {
    if context::has_current() {
        return context::open(init);
    }
    match incoming_context(carrier) {
        Some(ctx) => context::open_with(ctx, init),
        None => context::open(init),
    }
}

/// Writes `sw8` (and `sw8-correlation`, `sw8-x`, optionally `traceparent`) for the span
/// behind `handle`, or for the current context when the span records nothing (an
/// unsampled trace still propagates, with the sample flag `0`).
pub(crate) fn inject<C: Injector + ?Sized>(handle: Handle, carrier: &mut C, traceparent: bool) {
    let Some(headers) = context::with_current(|ctx| headers_for(ctx, handle, traceparent)) else {
        return;
    };
    let Some(headers) = headers else { return };
    carrier.set(SW8, headers.sw8);
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
    sw8: String,
    correlation: Option<String>,
    extension: Option<String>,
    traceparent: Option<String>,
}

fn headers_for(ctx: &mut Context, handle: Handle, with_traceparent: bool) -> Option<Headers> {
    let identity = crate::settings::identity()?;
    let trace_id = ctx.trace_id.to_string();
    let (segment_id, span_id, endpoint, peer) = match (&ctx.segment, ctx.owns(handle)) {
        (Some(segment), true) => {
            let span = usize::try_from(handle.id)
                .ok()
                .and_then(|i| segment.spans.get(i))?;
            let endpoint = segment.endpoint().cloned().unwrap_or_default();
            (segment.segment_id, handle.id, endpoint, span.peer.clone())
        }
        // Unsampled, or the span is not ours: name a segment that records nothing.
        _ => (Id::generate(), 0, Cow::Borrowed(""), Cow::Borrowed("")),
    };
    let segment_id = segment_id.to_string();
    let endpoint: &str = if endpoint.is_empty() {
        "N/A"
    } else {
        &endpoint
    };
    let peer: &str = if peer.is_empty() { "N/A" } else { &peer };
    let sw8 = Sw8Ref {
        sample: ctx.sampled,
        trace_id: &trace_id,
        parent_segment_id: &segment_id,
        parent_span_id: span_id,
        parent_service: &identity.service,
        parent_service_instance: &identity.instance,
        parent_endpoint: endpoint,
        address_used_at_client: peer,
    }
    .encode();
    let correlation = (!ctx.correlation.is_empty()).then(|| ctx.correlation.encode());
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
            sampled: ctx.sampled,
        }
        .encode()
    });
    Some(Headers {
        sw8,
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
