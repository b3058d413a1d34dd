//! Joining the trace context with the header codecs: continuing an incoming trace on an
//! entry span and writing the outgoing headers for an exit span.

use crate::id::Id;
use crate::propagation::{
    Correlation, Extension, Extractor, ID_ROOM, Injector, SW8, SW8_CORRELATION, SW8_X, Sw8Fields,
    Sw8Ref, TRACEPARENT, Text, TraceParent, walk_sw8,
};
use crate::record::{RefKind, RefRecord, RemoteId, SegmentId, SegmentIdDisplay, Str, TraceId};
use crate::trace::context::{self, Context, Handle, SpanInit};
use crate::trace::pool;

/// The context an incoming request continues, or `None` (no header, a malformed one, or
/// the agent off): the entry span then starts a new trace.
///
/// The same rules as [`crate::propagation::extract`], without its owned `Sw8`: each
/// field of the header is checked while it is decoded, once, straight into the
/// reference the segment keeps ([`reference_from`]).
// Not inlined: one call per request, and a place profiles can measure.
#[inline(never)]
pub(crate) fn incoming_context<C: Extractor + ?Sized>(carrier: &C) -> Option<Box<Context>> {
    if !crate::settings::is_enabled() {
        return None;
    }
    // One look at the carrier for every header read here (an HTTP request's headers
    // are scanned once rather than hashed four times).
    let mut values = [None; 4];
    carrier.get_many(&[SW8, TRACEPARENT, SW8_CORRELATION, SW8_X], &mut values);
    let [sw8, traceparent, correlation, extension] = values;
    let mut ctx = match sw8.and_then(reference_from) {
        // Any valid `sw8` is continued and recorded, whatever its sample flag, as the
        // Java and Go agents do: the caller reported the segment it names (we never send
        // a header from a trace that records nothing, and neither do they).
        Some(reference) => {
            let mut ctx = Context::boxed(reference.trace_id.clone(), true);
            ctx.first_ref = Some(reference);
            ctx
        }
        // A W3C caller names no SkyWalking segment to refer to: the trace keeps its id
        // and starts here. A caller that did not record it (`-00`) is followed, so the
        // trace stays whole or absent across a parent-based W3C deployment; one that
        // did (`-01`) goes through this agent's own sampler, like any new trace: a
        // header must not bypass `SW_AGENT_SAMPLE` or the per-3-seconds cap.
        None => {
            let tp = traceparent.and_then(|value| TraceParent::decode(value).ok())?;
            let sampled = if tp.sampled {
                crate::trace::sampling::sample_new_trace()
            } else {
                crate::stats::trace_unsampled();
                false
            };
            Context::maybe_undecided(TraceId::Local(Id::from_u128(tp.trace_id)), sampled)
        }
    };
    if let Some(correlation) = correlation
        .and_then(|value| Correlation::decode(value, crate::settings::correlation_limits()).ok())
    {
        ctx.correlation = correlation;
    }
    if let Some(extension) = extension.and_then(|value| Extension::decode(value).ok()) {
        ctx.skip_analysis = extension.skip_analysis;
        ctx.sent_at_ms = extension.send_timestamp_ms;
    }
    Some(ctx)
}

/// The `CrossProcess` reference an `sw8` value stands for, or `None` when the value is
/// malformed (the rules of [`crate::propagation::Sw8::decode`]). One walk over the
/// value finds, checks and decodes each field ([`walk_sw8`]), which then goes
/// straight into what the segment keeps: the ids inline ([`RemoteId`]), the texts into
/// spare strings of this thread (see [`pool::take_text`]). In steady state nothing is
/// allocated.
fn reference_from(value: &str) -> Option<RefRecord> {
    let mut ids: [Option<RemoteId>; 2] = [None, None];
    let mut texts: [Option<Str>; 4] = [None, None, None, None];
    let walked = walk_sw8(value, |field, bytes, ascii| match field {
        Text::TraceId | Text::SegmentId => {
            let id = RemoteId::from_bytes(bytes, ascii);
            let ok = id.is_some();
            ids[usize::from(field == Text::SegmentId)] = id;
            ok
        }
        _ => {
            let Ok(decoded) = std::str::from_utf8(bytes) else {
                return false;
            };
            let mut text = pool::take_text();
            text.push_str(decoded);
            let slot = match field {
                Text::Service => 0,
                Text::Instance => 1,
                Text::Endpoint => 2,
                _ => 3,
            };
            texts[slot] = Some(Str::Owned(text));
            true
        }
    });
    let (
        Some((_, span_id)),
        [Some(trace_id), Some(segment_id)],
        [Some(service), Some(instance), Some(endpoint), Some(address)],
    ) = (walked, ids, texts)
    else {
        // Rejected (or, were the walk ever stricter than the rules, a second opinion).
        return reference_by_field(value);
    };
    Some(RefRecord {
        kind: RefKind::CrossProcess,
        trace_id: TraceId::Remote(trace_id),
        parent_segment_id: SegmentIdDisplay(SegmentId::Remote(segment_id)),
        parent_span_id: span_id,
        parent_service: service,
        parent_service_instance: instance,
        parent_endpoint: endpoint,
        network_address_used_at_peer: address,
    })
}

/// [`reference_from`] a field at a time: the value split first, then each field
/// checked while it is decoded ([`Sw8Fields`]), as `Sw8::decode` does. The path of a
/// rejected value.
#[cold]
fn reference_by_field(value: &str) -> Option<RefRecord> {
    let fields = Sw8Fields::split(value).ok()?;
    let trace_id = remote_id(&fields, Text::TraceId)?;
    let segment_id = remote_id(&fields, Text::SegmentId)?;
    Some(RefRecord {
        kind: RefKind::CrossProcess,
        trace_id: TraceId::Remote(trace_id),
        parent_segment_id: SegmentIdDisplay(SegmentId::Remote(segment_id)),
        parent_span_id: fields.parent_span_id,
        parent_service: text(&fields, Text::Service)?,
        parent_service_instance: text(&fields, Text::Instance)?,
        parent_endpoint: text(&fields, Text::Endpoint)?,
        network_address_used_at_peer: text(&fields, Text::Address)?,
    })
}

/// An id field, decoded straight into the [`RemoteId`]'s inline buffer when it fits
/// (every official agent's ids do), else through a buffer on the stack.
#[inline]
fn remote_id(fields: &Sw8Fields<'_>, field: Text) -> Option<RemoteId> {
    if fields.room(field) <= RemoteId::INLINE_LEN {
        RemoteId::write_inline(|buf| fields.decode_bytes(field, buf).ok())
    } else {
        let mut buf = [0u8; ID_ROOM];
        fields.decode_str(field, &mut buf).ok().map(RemoteId::new)
    }
}

/// A text field decoded into a spare string of this thread (see [`pool::take_text`]):
/// in steady state the strings of the last references come back with pooled segments,
/// and decoding allocates nothing.
#[inline]
fn text(fields: &Sw8Fields<'_>, field: Text) -> Option<Str> {
    let mut text = pool::take_text();
    fields.decode_string(field, &mut text).ok()?;
    Some(Str::Owned(text))
}

/// Adds the reference `carrier`'s `sw8` names to the span behind `handle`.
pub(crate) fn add_reference<C: Extractor + ?Sized>(handle: Handle, carrier: &C) -> bool {
    if !handle.is_recording() {
        return false;
    }
    let Some(value) = carrier.get(SW8) else {
        return false;
    };
    let Some(reference) = reference_from(value) else {
        return false;
    };
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
    let identity = crate::settings::identity();
    let identity = identity.as_deref()?;
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::propagation::{JAVA_SW8, Sw8};

    /// The reference must hold what `Sw8::decode` reads, and exist exactly when it
    /// succeeds.
    fn agrees_with_decode(value: &str) -> Result<(), TestCaseError> {
        let expected = Sw8::decode(value).ok();
        let got = reference_from(value);
        prop_assert_eq!(got.is_some(), expected.is_some(), "{:?}", value);
        if let (Some(got), Some(sw8)) = (got, expected) {
            prop_assert_eq!(got.kind, RefKind::CrossProcess);
            prop_assert_eq!(got.trace_id, TraceId::Remote(sw8.trace_id.as_str().into()));
            prop_assert_eq!(
                got.parent_segment_id,
                SegmentIdDisplay(SegmentId::Remote(sw8.parent_segment_id.as_str().into()))
            );
            prop_assert_eq!(got.parent_span_id, sw8.parent_span_id);
            prop_assert_eq!(got.parent_service, sw8.parent_service);
            prop_assert_eq!(got.parent_service_instance, sw8.parent_service_instance);
            prop_assert_eq!(got.parent_endpoint, sw8.parent_endpoint);
            prop_assert_eq!(got.network_address_used_at_peer, sw8.address_used_at_client);
        }
        Ok(())
    }

    #[test]
    fn a_java_header_becomes_an_inline_reference() {
        let reference = reference_from(JAVA_SW8).expect("valid");
        let TraceId::Remote(trace_id) = &reference.trace_id else {
            panic!("a remote trace id");
        };
        assert!(trace_id.is_inline());
        assert_eq!(
            &**trace_id,
            "ddd92f52207c468e9cd03ddd107cd530.69.16181331190470001"
        );
        assert_eq!(reference.parent_endpoint, "{GET}/orders/{id}");
        agrees_with_decode(JAVA_SW8).expect("agrees");
        // Ids past the inline size, up to the cap, are kept too.
        let long = "i".repeat(crate::propagation::SW8_MAX_ID_LEN);
        let header = Sw8Ref {
            sample: true,
            trace_id: &long,
            parent_segment_id: &long,
            parent_span_id: 0,
            parent_service: "s",
            parent_service_instance: "i",
            parent_endpoint: "e",
            address_used_at_client: "a",
        }
        .encode();
        let reference = reference_from(&header).expect("valid");
        assert_eq!(reference.trace_id.to_string(), long);
        agrees_with_decode(&header).expect("agrees");
    }

    proptest! {
        #[test]
        fn references_agree_with_decode_on_header_shaped_input(
            parts in proptest::collection::vec("[A-Za-z0-9+/=_]{0,12}", 8..9)
        ) {
            agrees_with_decode(&parts.join("-"))?;
        }

        #[test]
        fn references_agree_with_decode_on_encoded_headers(
            trace_id in "\\PC{0,70}",
            segment_id in "[a-z0-9.]{0,70}",
            text in "\\PC{0,40}",
            span_id in 0..=i32::MAX,
        ) {
            let header = Sw8Ref {
                sample: true,
                trace_id: &trace_id,
                parent_segment_id: &segment_id,
                parent_span_id: span_id,
                parent_service: &text,
                parent_service_instance: "instance",
                parent_endpoint: &text,
                address_used_at_client: "host:80",
            }
            .encode();
            agrees_with_decode(&header)?;
        }

        #[test]
        fn references_agree_with_decode_on_any_text(s in any::<String>()) {
            agrees_with_decode(&s)?;
        }
    }
}
