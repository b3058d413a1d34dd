//! The parsers of the options' values and the value types they produce.
//!
//! Each parser takes the trimmed, non-empty value of a variable and returns `None` when it
//! does not parse; the table in `options.rs` pairs it with the accepted form that the
//! [`Error::Config`](crate::Error::Config) shows. These are the crate's only parsers of
//! seconds and `host:port` addresses: the reporter and [`Config::validate`] use them too.
//!
//! [`Config::validate`]: super::Config::validate

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Level;
use crate::logs::LogLevel;

/// A value kept as given (names).
pub(crate) fn text(value: &str) -> Option<String> {
    Some(value.to_owned())
}

/// A file path.
pub(crate) fn path(value: &str) -> Option<PathBuf> {
    Some(PathBuf::from(value))
}

/// A comma-separated list; empty items are skipped.
pub(crate) fn list(value: &str) -> Option<Vec<String>> {
    Some(split_list(value))
}

/// A non-empty comma-separated list of `host:port` addresses.
pub(crate) fn host_port_list(value: &str) -> Option<Vec<String>> {
    let list = split_list(value);
    is_host_port_list(&list).then_some(list)
}

/// A sampling rate, `0.0..=1.0`.
pub(crate) fn rate(value: &str) -> Option<f64> {
    value.parse::<f64>().ok().filter(|r| is_rate(*r))
}

/// Traces per 3 seconds: any integer, where 0 or less (the Java agent's `-1`) is no cap,
/// which is kept as 0.
pub(crate) fn per_3_secs(value: &str) -> Option<u32> {
    let n = value.parse::<i64>().ok()?;
    Some(u32::try_from(n.max(0)).unwrap_or(u32::MAX))
}

/// An integer above 0.
pub(crate) fn positive(value: &str) -> Option<usize> {
    value.parse::<usize>().ok().filter(|n| *n > 0)
}

/// The largest queue bound accepted (`SW_AGENT_REPORTER_MAX_SEND_QUEUE`): queues are
/// allocated whole when the agent starts, so a bound is memory spent at once (16 bytes a
/// slot, twice: segments and log records).
pub(crate) const MAX_QUEUE_BOUND: usize = 1_000_000;

/// A queue bound: a positive integer up to [`MAX_QUEUE_BOUND`].
pub(crate) fn queue_bound(value: &str) -> Option<usize> {
    positive(value).filter(|n| *n <= MAX_QUEUE_BOUND)
}

/// The longest duration an option accepts, as the parsers of seconds below.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(999_999_999);

/// An integer, 0 or more.
pub(crate) fn non_negative(value: &str) -> Option<usize> {
    value.parse::<usize>().ok()
}

/// A positive, finite number of seconds (fractions allowed: `0.5`), below 10^9.
pub(crate) fn seconds(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

/// A finite number of seconds below 10^9 (fractions allowed), where 0 or less (the Java
/// agent's `-1`) means off, kept as [`Duration::ZERO`].
pub(crate) fn seconds_or_off(value: &str) -> Option<Duration> {
    let secs = value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s < 1e9)?;
    Some(Duration::from_secs_f64(secs.max(0.0)))
}

/// `key=value` pairs separated by commas: keys trimmed and non-empty, values trimmed
/// (possibly empty); empty items are skipped. The first `=` splits, so a value may hold
/// more of them.
pub(crate) fn key_values(value: &str) -> Option<Vec<(String, String)>> {
    split_list(value)
        .iter()
        .map(|item| {
            let (key, value) = item.split_once('=')?;
            let key = key.trim();
            (!key.is_empty()).then(|| (key.to_owned(), value.trim().to_owned()))
        })
        .collect()
}

/// An address to listen on, `ip:port` (`0.0.0.0:9464` for every interface, `[::1]:9464`).
pub(crate) fn socket_address(value: &str) -> Option<String> {
    value
        .parse::<std::net::SocketAddr>()
        .is_ok()
        .then(|| value.to_owned())
}

/// Histogram bucket bounds in seconds: a comma-separated list of positive, finite,
/// strictly increasing numbers.
pub(crate) fn buckets(value: &str) -> Option<Vec<f64>> {
    let bounds = value
        .split(',')
        .map(|b| {
            b.trim()
                .parse::<f64>()
                .ok()
                .filter(|b| b.is_finite() && *b > 0.0)
        })
        .collect::<Option<Vec<f64>>>()?;
    (!bounds.is_empty() && bounds.windows(2).all(|w| w[0] < w[1])).then_some(bounds)
}

/// `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, any case.
pub(crate) fn boolean(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `grpc` or `kafka`, any case. Kafka parses in any build; starting the agent with it
/// in a build without the `kafka` feature is an error naming the variable.
pub(crate) fn protocol(value: &str) -> Option<Protocol> {
    if value.eq_ignore_ascii_case("grpc") {
        Some(Protocol::Grpc)
    } else if value.eq_ignore_ascii_case("kafka") {
        Some(Protocol::Kafka)
    } else {
        None
    }
}

/// Whether `name` is a legal Kafka topic name (or namespace prefix): 1 to 249 of
/// `[a-zA-Z0-9._-]`, as Kafka's `Topic.validate` demands.
pub(crate) fn is_topic_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 249
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The level of the agent's own diagnostics.
pub(crate) fn level(value: &str) -> Option<Level> {
    Level::parse(value)
}

/// The threshold of reported log records.
pub(crate) fn log_level(value: &str) -> Option<LogLevel> {
    LogLevel::parse(value)
}

/// Whether `rate` is a sampling rate.
pub(crate) fn is_rate(rate: f64) -> bool {
    (0.0..=1.0).contains(&rate)
}

/// Splits a comma-separated list, trimming items and skipping empty ones.
pub(crate) fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `addresses` is a non-empty list of `host:port`.
pub(crate) fn is_host_port_list(addresses: &[String]) -> bool {
    !addresses.is_empty() && addresses.iter().all(|a| is_host_port(a))
}

/// `host:port` (an `http://` or `https://` prefix is tolerated), with a port that parses.
pub(crate) fn is_host_port(address: &str) -> bool {
    let bare = strip_scheme(address);
    match bare.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains('/')
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        }
        None => false,
    }
}

/// The address without an `http://` or `https://` prefix.
pub(crate) fn strip_scheme(address: &str) -> &str {
    address
        .strip_prefix("http://")
        .or_else(|| address.strip_prefix("https://"))
        .unwrap_or(address)
        .trim_end_matches('/')
}

/// The transport to the collector (`SW_AGENT_PROTOCOL`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// gRPC, to the collector addresses.
    Grpc,
    /// Kafka, to the topics OAP's kafka-fetcher reads (feature `kafka`).
    Kafka,
}

/// The authentication token: its `Debug` never shows it, so it stays out of logs.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    /// The token, for the reporter's metadata.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(token: String) -> Self {
        Secret(token)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

/// The upper bounds (seconds) of the latency histogram's buckets (feature `prometheus`):
/// positive, finite and increasing, whatever a builder passed (the rest is dropped).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Buckets(Vec<f64>);

impl Buckets {
    /// The default bounds, suited to RPC latency: 1 ms to 10 s.
    pub(crate) const DEFAULT: [f64; 13] = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ];

    /// The bounds, increasing.
    #[cfg_attr(not(feature = "prometheus"), allow(dead_code))]
    pub(crate) fn bounds(&self) -> &[f64] {
        &self.0
    }
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets(Buckets::DEFAULT.to_vec())
    }
}

impl<I: IntoIterator<Item = f64>> super::macros::Take<I> for Buckets {
    fn take(value: I) -> Self {
        let mut bounds: Vec<f64> = value
            .into_iter()
            .filter(|b| b.is_finite() && *b > 0.0)
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        Buckets(bounds)
    }
}

#[cfg(test)]
mod bucket_tests {
    use super::Buckets;
    use crate::config::macros::Take;

    #[test]
    fn a_builder_s_bounds_are_kept_positive_finite_and_increasing() {
        let buckets: Buckets = Take::take(vec![1.0, f64::NAN, 0.5, -1.0, 0.5, f64::INFINITY]);
        assert_eq!(buckets.bounds(), [0.5, 1.0]);
    }
}
