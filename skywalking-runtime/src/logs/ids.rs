//! The ids of the trace active on this thread or task, for log lines: [`segment_id`],
//! [`span_id`] (with [`trace_id`]) and [`LogContext`], which prints
//! all three.
//!
//! Reading them costs a thread-local access and, for the trace id of a trace continued
//! from another process, one reference-count increment; nothing is allocated until the
//! value is formatted.

use std::fmt;

use crate::id::Id;
use crate::record::TraceId;
use crate::trace::context::{self, Context};

/// What a log line needs to point at a span, read by [`LogContext::current`].
///
/// Its `Display` writes `tid=<trace id> sid=<segment id> spid=<span id>`, with `N/A` for
/// each id that is missing:
///
/// | situation | output |
/// |---|---|
/// | inside a recorded span | `tid=5f1c…e2 sid=5f1c…e3 spid=1` |
/// | a trace that is not sampled, or a segment with no span open | `tid=5f1c…e2 sid=N/A spid=N/A` |
/// | no trace active | `tid=N/A sid=N/A spid=N/A` |
///
/// Ids started here are 32 lowercase hex digits; a trace continued from another process
/// keeps the caller's id verbatim.
///
/// ```
/// use skywalking_runtime::LogContext;
///
/// // No agent runs and no trace is active here.
/// assert_eq!(LogContext::current().to_string(), "tid=N/A sid=N/A spid=N/A");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogContext {
    trace_id: Option<TraceId>,
    segment_id: Option<Id>,
    span_id: Option<i32>,
}

/// Written for an id that is missing.
pub const NOT_AVAILABLE: &str = "N/A";

impl LogContext {
    /// The ids of the trace active on this thread or task (all `None` outside a trace).
    pub fn current() -> LogContext {
        context::with_current(|ctx| LogContext::of(ctx)).unwrap_or_default()
    }

    pub(crate) fn of(ctx: &Context) -> LogContext {
        let segment = ctx.segment.as_deref();
        LogContext {
            trace_id: Some(ctx.trace_id.clone()),
            segment_id: segment.map(|s| s.segment_id),
            span_id: segment.and((ctx.current >= 0).then_some(ctx.current)),
        }
    }

    /// The trace id, if a trace is active.
    pub fn trace_id(&self) -> Option<&TraceId> {
        self.trace_id.as_ref()
    }

    /// The id of the segment being recorded, if the trace is sampled and a span of it is
    /// open here.
    pub fn segment_id(&self) -> Option<Id> {
        self.segment_id
    }

    /// The id of the innermost open span in that segment (0 for its first span).
    pub fn span_id(&self) -> Option<i32> {
        self.span_id
    }

    /// Whether no trace is active.
    pub fn is_empty(&self) -> bool {
        self.trace_id.is_none()
    }
}

impl fmt::Display for LogContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tid=")?;
        match &self.trace_id {
            Some(id) => fmt::Display::fmt(id, f)?,
            None => f.write_str(NOT_AVAILABLE)?,
        }
        f.write_str(" sid=")?;
        match &self.segment_id {
            Some(id) => fmt::Display::fmt(id, f)?,
            None => f.write_str(NOT_AVAILABLE)?,
        }
        f.write_str(" spid=")?;
        match self.span_id {
            Some(id) => write!(f, "{id}"),
            None => f.write_str(NOT_AVAILABLE),
        }
    }
}

/// The id of the trace active on this thread or task, or `None`.
///
/// ```
/// assert_eq!(skywalking_runtime::trace_id(), None);
/// ```
pub fn trace_id() -> Option<TraceId> {
    context::with_current(|ctx| ctx.trace_id.clone())
}

/// The id of the segment being recorded on this thread or task, or `None` (no trace, an
/// unsampled one, or no span of it open here).
///
/// ```
/// assert_eq!(skywalking_runtime::segment_id(), None);
/// ```
pub fn segment_id() -> Option<Id> {
    context::with_current(|ctx| ctx.segment.as_ref().map(|s| s.segment_id)).flatten()
}

/// The id of the innermost open span of the trace active on this thread or task, or
/// `None`.
///
/// ```
/// assert_eq!(skywalking_runtime::span_id(), None);
/// ```
pub fn span_id() -> Option<i32> {
    context::with_current(|ctx| (ctx.segment.is_some() && ctx.current >= 0).then_some(ctx.current))
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_ids_print_as_not_available() {
        assert_eq!(
            LogContext::default().to_string(),
            "tid=N/A sid=N/A spid=N/A"
        );
        let partial = LogContext {
            trace_id: Some(TraceId::Remote("abc".into())),
            segment_id: None,
            span_id: None,
        };
        assert_eq!(partial.to_string(), "tid=abc sid=N/A spid=N/A");
        let full = LogContext {
            trace_id: Some(TraceId::Local(Id::from_u128(1))),
            segment_id: Some(Id::from_u128(2)),
            span_id: Some(3),
        };
        assert_eq!(
            full.to_string(),
            format!("tid={:032x} sid={:032x} spid=3", 1, 2)
        );
        assert!(!full.is_empty());
    }
}
