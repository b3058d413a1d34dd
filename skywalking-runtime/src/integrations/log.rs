//! The `log` crate (feature `log`): trace ids on every record, and log reporting.
//!
//! [`SkyWalkingLogger`] wraps any [`log::Log`] (env_logger, simple_logger, a
//! `log4rs` logger, ...). For each record it
//!
//! 1. hands the inner logger the record with its message prefixed by the trace ids of
//!    the calling thread or task, `[tid=<trace> sid=<segment> spid=<span>] message`,
//!    `N/A` standing for a missing id (the format of [`LogContext`]); the target, level,
//!    file and line are unchanged, so the inner logger's own format applies;
//! 2. if the record's level is at or above `SW_AGENT_LOG_REPORTER_LEVEL` (default
//!    `WARN`; see [`AgentBuilder::log_reporter_level`](crate::AgentBuilder::log_reporter_level)),
//!    queues it for OAP's `LogReportService` with its trace context, the endpoint (the
//!    current segment's entry span), and the tags `level`, `logger` (the target), `file`
//!    and `line`.
//!
//! Reporting never blocks the caller (a full queue drops and counts the record, see
//! [`stats()`](crate::stats())). Records written by the agent's own reporter thread, or
//! while a record is being captured, are passed to the inner logger but not reported.
//!
//! ```
//! use log::LevelFilter;
//! use skywalking_runtime::integrations::log::SkyWalkingLogger;
//!
//! # struct Stderr;
//! # impl log::Log for Stderr {
//! #     fn enabled(&self, _: &log::Metadata<'_>) -> bool { true }
//! #     fn log(&self, record: &log::Record<'_>) { eprintln!("{} {}", record.level(), record.args()); }
//! #     fn flush(&self) {}
//! # }
//! // `Stderr` stands for any logger: env_logger::Logger, simple_logger::SimpleLogger, ...
//! SkyWalkingLogger::new(Stderr)
//!     .init(LevelFilter::Info)
//!     .expect("no other logger is set");
//!
//! #[skywalking_runtime::trace]
//! fn checkout() {
//!     // The inner logger prints "[tid=… sid=… spid=0] charging the card".
//!     log::info!("charging the card");
//! }
//! # checkout();
//! ```

use std::borrow::Cow;
use std::fmt;

use crate::logs::ids::LogContext;
use crate::logs::{self, LogLevel, Record as Captured};

/// A [`log::Log`] that adds the trace ids to each record's message and reports records
/// to OAP. See the [module docs](self).
pub struct SkyWalkingLogger<L> {
    inner: L,
    prefix: bool,
}

impl<L: fmt::Debug> fmt::Debug for SkyWalkingLogger<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SkyWalkingLogger")
            .field("inner", &self.inner)
            .field("prefix", &self.prefix)
            .finish()
    }
}

impl<L: log::Log> SkyWalkingLogger<L> {
    /// Wraps `inner`.
    pub fn new(inner: L) -> Self {
        SkyWalkingLogger {
            inner,
            prefix: true,
        }
    }

    /// Leaves messages as they are (reporting only), for an inner logger that prints
    /// the ids itself (through [`LogContext::current`]).
    #[must_use]
    pub fn without_ids(mut self) -> Self {
        self.prefix = false;
        self
    }

    /// Installs this logger as the `log` crate's logger and sets the maximum level.
    ///
    /// # Errors
    ///
    /// When a logger is already installed.
    pub fn init(self, max_level: log::LevelFilter) -> Result<(), log::SetLoggerError>
    where
        L: Send + Sync + 'static,
    {
        log::set_boxed_logger(Box::new(self))?;
        log::set_max_level(max_level);
        Ok(())
    }
}

/// The reporting level of a `log` level.
fn level_of(level: log::Level) -> LogLevel {
    match level {
        log::Level::Error => LogLevel::Error,
        log::Level::Warn => LogLevel::Warn,
        log::Level::Info => LogLevel::Info,
        log::Level::Debug => LogLevel::Debug,
        log::Level::Trace => LogLevel::Trace,
    }
}

/// A `&'a str` of a record as a `Cow`, borrowed when it is `'static`.
fn text(static_text: Option<&'static str>, text: Option<&str>) -> Option<Cow<'static, str>> {
    static_text
        .map(Cow::Borrowed)
        .or_else(|| text.map(|t| Cow::Owned(t.to_owned())))
}

/// Queues `record` for OAP if its level passes the threshold.
pub(crate) fn report(record: &log::Record<'_>) {
    logs::capture(level_of(record.level()), || Captured {
        logger: Cow::Owned(record.target().to_owned()),
        file: text(record.file_static(), record.file()),
        line: record.line(),
        body: record.args().to_string(),
        tags: Vec::new(),
    });
}

impl<L: log::Log> log::Log for SkyWalkingLogger<L> {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.inner.enabled(metadata) || logs::enabled(level_of(metadata.level()))
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.inner.enabled(record.metadata()) {
            if self.prefix {
                let ids = LogContext::current();
                self.inner.log(
                    &log::Record::builder()
                        .args(format_args!("[{ids}] {}", record.args()))
                        .metadata(record.metadata().clone())
                        .module_path(record.module_path())
                        .file(record.file())
                        .line(record.line())
                        .build(),
                );
            } else {
                self.inner.log(record);
            }
        }
        report(record);
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl log::Log for Lines {
        fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
            metadata.level() <= log::Level::Info
        }
        fn log(&self, record: &log::Record<'_>) {
            let line = format!("{} {} {}", record.level(), record.target(), record.args());
            self.0.lock().unwrap().push(line);
        }
        fn flush(&self) {}
    }

    #[test]
    fn messages_carry_the_ids_and_the_rest_is_untouched() {
        use log::Log as _;
        let logger = SkyWalkingLogger::new(Lines::default());
        logger.log(
            &log::Record::builder()
                .args(format_args!("hello {}", 7))
                .level(log::Level::Warn)
                .target("app::db")
                .build(),
        );
        logger.log(
            &log::Record::builder()
                .args(format_args!("hidden"))
                .level(log::Level::Debug)
                .build(),
        );
        let lines = logger.inner.0.lock().unwrap().clone();
        assert_eq!(lines, ["WARN app::db [tid=N/A sid=N/A spid=N/A] hello 7"]);

        let plain = SkyWalkingLogger::new(Lines::default()).without_ids();
        plain.log(
            &log::Record::builder()
                .args(format_args!("as is"))
                .level(log::Level::Info)
                .target("t")
                .build(),
        );
        assert_eq!(plain.inner.0.lock().unwrap()[0], "INFO t as is");
    }
}
