//! The agent's own diagnostics: short lines on stderr, filtered by `SW_LOG_LEVEL`
//! (default `warn`).
//!
//! Lines look like `skywalking-agent WARN: cannot reach the collector at 127.0.0.1:11800:
//! ...`. They are written by the reporter thread and at start-up, never on the hot path,
//! and a failing stderr is ignored. Conditions that repeat (a collector that stays down, a
//! rejected token) are logged when they start and when they end, not on every retry.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

/// How much the agent says about itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Off = 0,
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    /// Parses `off`, `error`, `warn` (or `warning`), `info`, `debug`, `trace`, any case.
    pub(crate) fn parse(value: &str) -> Option<Level> {
        Some(match value.to_ascii_lowercase().as_str() {
            "off" | "none" => Level::Off,
            "error" => Level::Error,
            "warn" | "warning" => Level::Warn,
            "info" => Level::Info,
            "debug" => Level::Debug,
            "trace" => Level::Trace,
            _ => return None,
        })
    }

    fn label(self) -> &'static str {
        match self {
            Level::Off => "OFF",
            Level::Error => "ERROR",
            Level::Warn => "WARN",
            Level::Info => "INFO",
            Level::Debug => "DEBUG",
            Level::Trace => "TRACE",
        }
    }
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);

/// Sets the level (from the configuration, when the agent starts).
pub(crate) fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether lines of `level` are written.
pub(crate) fn enabled(level: Level) -> bool {
    level != Level::Off && level as u8 <= LEVEL.load(Ordering::Relaxed)
}

/// Writes one line at `level`, if enabled.
pub(crate) fn write(level: Level, args: fmt::Arguments<'_>) {
    if enabled(level) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "skywalking-agent {}: {args}", level.label());
    }
}

/// `diag!(Warn, "format", args..)`: a diagnostic line; the arguments are only formatted
/// when the level is enabled.
macro_rules! diag {
    ($level:ident, $($arg:tt)+) => {
        if $crate::diag::enabled($crate::diag::Level::$level) {
            $crate::diag::write($crate::diag::Level::$level, format_args!($($arg)+));
        }
    };
}
pub(crate) use diag;

/// An error and its sources, joined by `: ` (tonic and rustls keep the useful part in
/// the sources).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_filter() {
        assert_eq!(Level::parse("WARNING"), Some(Level::Warn));
        assert_eq!(Level::parse("trace"), Some(Level::Trace));
        assert_eq!(Level::parse("verbose"), None);
        assert!(Level::Error < Level::Warn);
        assert!(!enabled(Level::Off));
    }

    #[test]
    fn chains_sources_without_repeating_them() {
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("transport error")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(chain(&error), "transport error: connection refused");
    }
}
