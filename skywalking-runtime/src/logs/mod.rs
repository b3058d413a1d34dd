//! Log reporting (`LogReportService/collect`): application log records, at or above a
//! level, sent to OAP with the trace context they were written in.
//!
//! The `log` and `tracing` integrations call [`report`] for each record; it filters by
//! level (`SW_AGENT_LOG_REPORTER_LEVEL`, default `WARN`), reads the trace context of the
//! calling thread or task, and pushes a [`LogItem`] into a bounded queue of its own (the
//! same bound as the segment queue, `SW_AGENT_REPORTER_MAX_SEND_QUEUE`). Like segments,
//! a record that does not fit is dropped and counted ([`crate::stats()`]), never waited
//! for. The reporter thread drains the queue with the segments and streams the records
//! over the same connection.
//!
//! Records written on the reporter thread itself (by tonic, hyper or h2 while it sends)
//! are never reported, and neither is one written while a record is being captured, so
//! reporting cannot feed itself.

#![cfg_attr(not(any(feature = "log", feature = "tracing")), allow(dead_code))]

pub(crate) mod ids;

use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering};

use self::ids::LogContext;
use crate::clock;
use crate::queue::BoundedQueue;
use crate::record::{SpanKind, Str};
use crate::stats;
use crate::trace::context;

/// The severity of a log record, and the threshold of log reporting
/// (`SW_AGENT_LOG_REPORTER_LEVEL`).
///
/// Ordered from the most to the least severe: a threshold of `Warn` reports `Error` and
/// `Warn` records. `Off` as a threshold reports nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum LogLevel {
    /// Nothing (only meaningful as a threshold).
    Off = 0,
    /// Errors.
    Error = 1,
    /// Warnings: the default threshold.
    #[default]
    Warn = 2,
    /// Informational records.
    Info = 3,
    /// Debugging records.
    Debug = 4,
    /// Tracing records.
    Trace = 5,
}

impl LogLevel {
    /// Parses `off`, `error`, `warn` (or `warning`), `info`, `debug` and `trace`, in any
    /// case.
    ///
    /// ```
    /// use skywalking_runtime::LogLevel;
    /// assert_eq!(LogLevel::parse("WARNING"), Some(LogLevel::Warn));
    /// assert_eq!(LogLevel::parse("loud"), None);
    /// ```
    pub fn parse(value: &str) -> Option<LogLevel> {
        Some(match value.trim().to_ascii_lowercase().as_str() {
            "off" | "none" => LogLevel::Off,
            "error" => LogLevel::Error,
            "warn" | "warning" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            _ => return None,
        })
    }

    /// The upper-case name (`ERROR`, `WARN`, ...), as reported in the `level` tag.
    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Off => "OFF",
            LogLevel::Error => "ERROR",
            LogLevel::Warn => "WARN",
            LogLevel::Info => "INFO",
            LogLevel::Debug => "DEBUG",
            LogLevel::Trace => "TRACE",
        }
    }
}

impl std::fmt::Display for LogLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One log record, as captured on the application's thread; encoded on the reporter
/// thread.
#[derive(Debug)]
pub(crate) struct LogItem {
    /// Raw clock ticks (see [`clock`]).
    pub(crate) time: u64,
    pub(crate) level: LogLevel,
    /// The logger: the `log` target or the `tracing` target.
    pub(crate) logger: Str,
    pub(crate) file: Option<Str>,
    pub(crate) line: Option<u32>,
    pub(crate) body: String,
    /// Further tags (structured fields).
    pub(crate) tags: Vec<(Str, Str)>,
    pub(crate) context: LogContext,
    /// The name of the current segment's first entry span.
    pub(crate) endpoint: Option<Str>,
}

/// The threshold in force; `Off` while no agent runs.
static THRESHOLD: AtomicU8 = AtomicU8::new(LogLevel::Off as u8);
/// Captured records waiting for the reporter (bounded like the segment queue).
pub(crate) static RECORDS: BoundedQueue<Box<LogItem>> = BoundedQueue::new();

thread_local! {
    /// Set on the reporter thread, and while a record is being captured.
    static MUTED: Cell<bool> = const { Cell::new(false) };
}

/// Sets the threshold and the queue bound when an agent starts (the first call sizes
/// the queue; later ones can only lower the bound).
pub(crate) fn configure(threshold: LogLevel, capacity: usize) {
    RECORDS.configure(capacity);
    THRESHOLD.store(threshold as u8, Ordering::Relaxed);
}

/// Stops reporting (the agent stopped).
pub(crate) fn disable() {
    THRESHOLD.store(LogLevel::Off as u8, Ordering::Relaxed);
}

/// Whether a record of `level` written here now would be reported.
#[inline]
pub(crate) fn enabled(level: LogLevel) -> bool {
    level != LogLevel::Off
        && (level as u8) <= THRESHOLD.load(Ordering::Relaxed)
        && !MUTED.try_with(Cell::get).unwrap_or(true)
}

/// Marks the calling thread as one whose records are never reported (the reporter
/// thread and its runtime's threads).
pub(crate) fn mute_this_thread() {
    let _ = MUTED.try_with(|m| m.set(true));
}

/// What an integration hands over for one record.
#[derive(Debug)]
pub(crate) struct Record {
    pub(crate) logger: Str,
    pub(crate) file: Option<Str>,
    pub(crate) line: Option<u32>,
    pub(crate) body: String,
    pub(crate) tags: Vec<(Str, Str)>,
}

/// Reports the record `build` makes, if a record of `level` passes the threshold here:
/// `build` runs (and the record is queued, with the trace context of the calling thread
/// or task) with reporting muted on this thread, so a record written meanwhile (by a
/// `Debug` impl that logs, say) is not reported. Never blocks: a full queue drops and
/// counts the record.
pub(crate) fn capture(level: LogLevel, build: impl FnOnce() -> Record) {
    struct Unmute;
    impl Drop for Unmute {
        fn drop(&mut self) {
            let _ = MUTED.try_with(|m| m.set(false));
        }
    }
    if !enabled(level) {
        return;
    }
    if MUTED.try_with(|m| m.replace(true)).unwrap_or(true) {
        return;
    }
    let _unmute = Unmute;
    let record = build();
    let time = clock::now_raw();
    let (context, endpoint) = context::with_current(|ctx| {
        // Only a trace that records points a log at it: OAP would otherwise link the
        // record to a trace (or segment) it never receives.
        if !ctx.sampled || ctx.segment.is_none() {
            return (LogContext::default(), None);
        }
        let endpoint = ctx.segment.as_deref().and_then(|segment| {
            segment
                .spans
                .iter()
                .find(|s| s.kind == SpanKind::Entry)
                .map(|s| s.name.clone())
        });
        (LogContext::of(ctx), endpoint)
    })
    .unwrap_or_default();
    submit(Box::new(LogItem {
        time,
        level,
        logger: record.logger,
        file: record.file,
        line: record.line,
        body: record.body,
        tags: record.tags,
        context,
        endpoint,
    }));
}

fn submit(item: Box<LogItem>) {
    match RECORDS.push(item) {
        Ok(()) => stats::log_queued(),
        Err(_) => stats::log_dropped(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_order_from_most_severe() {
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Warn < LogLevel::Trace);
        for level in [
            LogLevel::Off,
            LogLevel::Error,
            LogLevel::Warn,
            LogLevel::Info,
            LogLevel::Debug,
            LogLevel::Trace,
        ] {
            assert_eq!(LogLevel::parse(level.as_str()), Some(level));
        }
    }

    fn record() -> Record {
        Record {
            logger: "t".into(),
            file: None,
            line: None,
            body: String::new(),
            tags: Vec::new(),
        }
    }

    #[test]
    fn muted_threads_and_nested_captures_report_nothing() {
        let mut built = false;
        capture(LogLevel::Error, || {
            built = true;
            record()
        });
        assert!(!built, "no agent: the record is not even built");

        configure(LogLevel::Info, 16);
        let built = |mute: bool| {
            std::thread::spawn(move || {
                if mute {
                    mute_this_thread();
                }
                let mut outer = false;
                let mut inner = false;
                capture(LogLevel::Warn, || {
                    outer = true;
                    // A record written while one is being captured.
                    capture(LogLevel::Error, || {
                        inner = true;
                        record()
                    });
                    record()
                });
                let below = enabled(LogLevel::Debug);
                (outer, inner, below)
            })
            .join()
            .unwrap()
        };
        assert_eq!(built(true), (false, false, false), "the reporter thread");
        assert_eq!(built(false), (true, false, false), "an application thread");
        disable();
        let mut drained = Vec::new();
        RECORDS.drain(16, &mut drained);
        assert_eq!(drained.len(), 1);
        assert_eq!(drained[0].level, LogLevel::Warn);
        assert!(drained[0].context.is_empty());

        // Trace context only from a trace that records: a record written in an
        // unsampled trace points at nothing OAP will ever receive.
        configure(LogLevel::Info, 16);
        let contexts = std::thread::spawn(|| {
            use crate::id::Id;
            use crate::record::TraceId;
            use crate::trace::context::{Context, install};
            let mut contexts = Vec::new();
            for sampled in [false, true] {
                let mut ctx = Context::boxed(TraceId::Local(Id::generate()), sampled);
                if sampled {
                    ctx.open(crate::trace::context::SpanInit {
                        kind: SpanKind::Local,
                        name: "recording".into(),
                        peer: "".into(),
                        layer: crate::record::SpanLayer::Unknown,
                        component: 0,
                    });
                }
                install(Some(ctx));
                capture(LogLevel::Warn, record);
                contexts.push(install(None).is_some());
            }
            contexts
        })
        .join()
        .unwrap();
        assert_eq!(contexts, [true, true]);
        disable();
        let mut drained = Vec::new();
        RECORDS.drain(16, &mut drained);
        assert_eq!(drained.len(), 2);
        assert!(drained[0].context.is_empty(), "unsampled: no trace context");
        assert!(drained[0].endpoint.is_none());
        assert!(
            !drained[1].context.is_empty(),
            "recording: the trace context"
        );
    }
}
