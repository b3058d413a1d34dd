//! The agent's configuration: defaults, the `SW_AGENT_*` environment, and the values the
//! [`AgentBuilder`](crate::AgentBuilder) sets on top.
//!
//! See [`Config`] for every variable, its default and its accepted form.

use std::path::PathBuf;
use std::time::Duration;

use crate::diag::Level;
use crate::error::Error;
use crate::logs::LogLevel;
use crate::settings::{self, IgnoreRules};

/// TLS to the collector (`SW_AGENT_REPORTER_GRPC_TLS_*`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    pub(crate) enable: bool,
    pub(crate) ca_path: Option<PathBuf>,
    pub(crate) client_cert_path: Option<PathBuf>,
    pub(crate) client_key_path: Option<PathBuf>,
}

/// The agent's configuration, read from the environment with [`Config::from_env`] (or any
/// lookup with [`Config::from_lookup`]) and refined with the [`AgentBuilder`]'s methods.
///
/// Precedence: defaults, then the environment, then builder methods (the builder wins).
/// Every variable is checked when the agent starts: a value that does not parse fails
/// [`init`](crate::init()) with an [`Error::Config`](crate::Error::Config) naming the variable, the value and the
/// accepted form, never a silent default.
///
/// | variable | default | accepted form |
/// |---|---|---|
/// | `SW_AGENT_NAME` | `rust-service` | any non-empty text (OAP truncates at 70 bytes) |
/// | `SW_AGENT_INSTANCE_NAME` | `<32 hex digits>@<hostname>` | any non-empty text |
/// | `SW_AGENT_COLLECTOR_BACKEND_SERVICES` (Go: `SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE`) | `127.0.0.1:11800` | comma-separated `host:port` list; the reporter fails over between them |
/// | `SW_AGENT_AUTHENTICATION` (Go: `SW_AGENT_REPORTER_GRPC_AUTHENTICATION`) | none | the token OAP expects (`SW_AUTHENTICATION` there) |
/// | `SW_AGENT_SAMPLE` | `1` | a rate in `0..=1`, as in the Go agent (the Java agent reads this name as *N per 3 s*: use `SW_AGENT_SAMPLE_N_PER_3_SECS` for that) |
/// | `SW_AGENT_SAMPLE_N_PER_3_SECS` | `-1` (no cap) | an integer; `0` or less means no cap |
/// | `SW_AGENT_REPORTER_MAX_SEND_QUEUE` (Go: `SW_AGENT_REPORTER_GRPC_MAX_SEND_QUEUE`) | `5000` | a positive integer: segments waiting to be sent; more are dropped and counted (reported log records wait in a queue of their own with the same bound) |
/// | `SW_AGENT_REPORTER_CHECK_INTERVAL` (Go: `SW_AGENT_REPORTER_GRPC_CHECK_INTERVAL`) | `30` | heartbeat (`keepAlive`) period in seconds, a positive number; instance properties go every 10 heartbeats |
/// | `SW_AGENT_REPORTER_GRPC_TLS_ENABLE` | `false` | `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`) |
/// | `SW_AGENT_REPORTER_GRPC_TLS_CA_PATH` | none (the system's roots are not loaded) | path of a PEM CA bundle that signs the collector's certificate; setting it turns TLS on |
/// | `SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH` (alias `..._CLIENT_CERT_PATH`) | none | path of the client's PEM certificate chain, for mutual TLS |
/// | `SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH` | none | path of the client's PEM private key, for mutual TLS |
/// | `SW_AGENT_SPAN_LIMIT` | `300` | a positive integer: spans per segment, then `isSizeLimited` |
/// | `SW_AGENT_TRACE_IGNORE_PATH` | none | comma-separated Ant-style paths (`/health`, `/static/**`) |
/// | `SW_AGENT_IGNORE_SUFFIX` | `.jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg` | comma-separated suffixes of first-span names (Java's default) |
/// | `SW_AGENT_CORRELATION_MAX_KEY_COUNT` | `3` | a non-negative integer |
/// | `SW_AGENT_CORRELATION_MAX_VALUE_SIZE` | `128` | a non-negative integer, bytes |
/// | `SW_AGENT_PROTOCOL` | `grpc` | `grpc` (the only transport so far) |
/// | `SW_AGENT_DISABLE` | `false` | a boolean: `true` turns every span into a no-op |
/// | `SW_AGENT_LOG_REPORTER_LEVEL` | `WARN` | `off`, `error`, `warn`, `info`, `debug` or `trace`, any case: `log` and `tracing` records at or above it are sent to OAP (features `log`, `tracing`); `off` sends none |
/// | `SW_AGENT_METER_REPORTER_ACTIVE` | `true` | a boolean: `false` sends no meter |
/// | `SW_AGENT_METER_COLLECT_INTERVAL` | `20` | a positive number of seconds between two meter reports (see [`meter`](crate::meter)) |
/// | `SW_LOG_LEVEL` | `warn` | `off`, `error`, `warn`, `info`, `debug` or `trace`: the agent's own diagnostics, on stderr |
///
/// An empty variable counts as unset. The TLS client certificate and key go together;
/// with TLS on and no CA path, the collector's certificate cannot be verified, which is an
/// error too.
///
/// ```
/// use skywalking_runtime::Config;
///
/// let env = |name: &str| match name {
///     "SW_AGENT_NAME" => Some("checkout".to_owned()),
///     "SW_AGENT_COLLECTOR_BACKEND_SERVICES" => Some("oap-1:11800, oap-2:11800".to_owned()),
///     _ => None,
/// };
/// let config = Config::from_lookup(env).expect("valid");
/// assert_eq!(config.service(), "checkout");
/// assert_eq!(config.backends(), ["oap-1:11800", "oap-2:11800"]);
///
/// let bad = Config::from_lookup(|name| (name == "SW_AGENT_SAMPLE").then(|| "2".to_owned()));
/// assert!(bad.unwrap_err().to_string().contains("SW_AGENT_SAMPLE"));
/// ```
///
/// [`AgentBuilder`]: crate::AgentBuilder
#[derive(Clone)]
#[must_use]
pub struct Config {
    pub(crate) service: String,
    pub(crate) instance: Option<String>,
    pub(crate) backends: Vec<String>,
    pub(crate) authentication: Option<String>,
    pub(crate) sample_rate: f64,
    pub(crate) sample_per_3_secs: u32,
    pub(crate) max_send_queue: usize,
    pub(crate) check_interval: Duration,
    pub(crate) tls: TlsSettings,
    pub(crate) span_limit: usize,
    pub(crate) ignore: IgnoreRules,
    pub(crate) correlation_max_keys: usize,
    pub(crate) correlation_max_value_size: usize,
    pub(crate) disabled: bool,
    pub(crate) log_level: Level,
    pub(crate) log_reporter_level: LogLevel,
    pub(crate) meter_active: bool,
    pub(crate) meter_collect_interval: Duration,
    pub(crate) flush_interval: Duration,
    pub(crate) shutdown_timeout: Duration,
}

impl std::fmt::Debug for Config {
    // By hand, so the token never lands in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("service", &self.service)
            .field("instance", &self.instance)
            .field("backends", &self.backends)
            .field(
                "authentication",
                &self.authentication.as_ref().map(|_| "<set>"),
            )
            .field("sample_rate", &self.sample_rate)
            .field("sample_per_3_secs", &self.sample_per_3_secs)
            .field("max_send_queue", &self.max_send_queue)
            .field("check_interval", &self.check_interval)
            .field("tls", &self.tls)
            .field("span_limit", &self.span_limit)
            .field("ignore", &self.ignore)
            .field("correlation_max_keys", &self.correlation_max_keys)
            .field(
                "correlation_max_value_size",
                &self.correlation_max_value_size,
            )
            .field("disabled", &self.disabled)
            .field("log_level", &self.log_level)
            .field("log_reporter_level", &self.log_reporter_level)
            .field("meter_active", &self.meter_active)
            .field("meter_collect_interval", &self.meter_collect_interval)
            .field("flush_interval", &self.flush_interval)
            .field("shutdown_timeout", &self.shutdown_timeout)
            .finish()
    }
}

impl Default for Config {
    /// The defaults, without reading the environment.
    fn default() -> Self {
        Config {
            service: settings::DEFAULT_SERVICE.to_owned(),
            instance: None,
            backends: vec![settings::DEFAULT_BACKEND.to_owned()],
            authentication: None,
            sample_rate: 1.0,
            sample_per_3_secs: 0,
            max_send_queue: settings::DEFAULT_MAX_SEND_QUEUE,
            check_interval: settings::DEFAULT_CHECK_INTERVAL,
            tls: TlsSettings::default(),
            span_limit: settings::DEFAULT_SPAN_LIMIT,
            ignore: IgnoreRules {
                paths: Vec::new(),
                suffixes: split_list(settings::DEFAULT_IGNORE_SUFFIX),
            },
            correlation_max_keys: crate::propagation::CorrelationLimits::DEFAULT.max_keys,
            correlation_max_value_size: crate::propagation::CorrelationLimits::DEFAULT
                .max_value_size,
            disabled: false,
            log_level: Level::Warn,
            log_reporter_level: LogLevel::Warn,
            meter_active: true,
            meter_collect_interval: settings::DEFAULT_METER_COLLECT_INTERVAL,
            flush_interval: settings::DEFAULT_FLUSH_INTERVAL,
            shutdown_timeout: settings::DEFAULT_SHUTDOWN_TIMEOUT,
        }
    }
}

/// One variable and its aliases, first name preferred.
struct Var {
    names: &'static [&'static str],
}

impl Var {
    const fn new(names: &'static [&'static str]) -> Self {
        Var { names }
    }
}

/// Reads variables through a lookup function, remembering which name answered.
struct Reader<F> {
    lookup: F,
}

impl<F: FnMut(&str) -> Option<String>> Reader<F> {
    /// The first non-empty value among the variable's names, with the name that held it.
    fn get(&mut self, var: &Var) -> Option<(&'static str, String)> {
        var.names.iter().find_map(|name| {
            (self.lookup)(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (*name, v))
        })
    }

    fn parse<T>(
        &mut self,
        var: &Var,
        expected: &'static str,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        match self.get(var) {
            None => Ok(None),
            Some((name, value)) => match parse(&value) {
                Some(parsed) => Ok(Some(parsed)),
                None => Err(Error::Config {
                    variable: name,
                    value,
                    expected,
                }),
            },
        }
    }
}

const NAME: Var = Var::new(&["SW_AGENT_NAME"]);
const INSTANCE: Var = Var::new(&["SW_AGENT_INSTANCE_NAME"]);
const BACKENDS: Var = Var::new(&[
    "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
    "SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE",
]);
const AUTHENTICATION: Var = Var::new(&[
    "SW_AGENT_AUTHENTICATION",
    "SW_AGENT_REPORTER_GRPC_AUTHENTICATION",
]);
const SAMPLE: Var = Var::new(&["SW_AGENT_SAMPLE"]);
const SAMPLE_N: Var = Var::new(&["SW_AGENT_SAMPLE_N_PER_3_SECS"]);
const MAX_SEND_QUEUE: Var = Var::new(&[
    "SW_AGENT_REPORTER_MAX_SEND_QUEUE",
    "SW_AGENT_REPORTER_GRPC_MAX_SEND_QUEUE",
]);
const CHECK_INTERVAL: Var = Var::new(&[
    "SW_AGENT_REPORTER_CHECK_INTERVAL",
    "SW_AGENT_REPORTER_GRPC_CHECK_INTERVAL",
]);
const TLS_ENABLE: Var = Var::new(&["SW_AGENT_REPORTER_GRPC_TLS_ENABLE"]);
const TLS_CA: Var = Var::new(&["SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"]);
const TLS_CERT: Var = Var::new(&[
    "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH",
    "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_PATH",
]);
const TLS_KEY: Var = Var::new(&["SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH"]);
const SPAN_LIMIT: Var = Var::new(&["SW_AGENT_SPAN_LIMIT"]);
const IGNORE_PATH: Var = Var::new(&["SW_AGENT_TRACE_IGNORE_PATH"]);
const IGNORE_SUFFIX: Var = Var::new(&["SW_AGENT_IGNORE_SUFFIX"]);
const CORRELATION_KEYS: Var = Var::new(&["SW_AGENT_CORRELATION_MAX_KEY_COUNT"]);
const CORRELATION_VALUE: Var = Var::new(&["SW_AGENT_CORRELATION_MAX_VALUE_SIZE"]);
const PROTOCOL: Var = Var::new(&["SW_AGENT_PROTOCOL"]);
const DISABLE: Var = Var::new(&["SW_AGENT_DISABLE"]);
const LOG_LEVEL: Var = Var::new(&["SW_LOG_LEVEL"]);
const LOG_REPORTER_LEVEL: Var = Var::new(&["SW_AGENT_LOG_REPORTER_LEVEL"]);
const METER_ACTIVE: Var = Var::new(&["SW_AGENT_METER_REPORTER_ACTIVE"]);
const METER_INTERVAL: Var = Var::new(&["SW_AGENT_METER_COLLECT_INTERVAL"]);

impl Config {
    /// The service name when `SW_AGENT_NAME` is not set.
    pub const DEFAULT_SERVICE: &'static str = settings::DEFAULT_SERVICE;
    /// The collector address when `SW_AGENT_COLLECTOR_BACKEND_SERVICES` is not set.
    pub const DEFAULT_BACKEND: &'static str = settings::DEFAULT_BACKEND;
    /// The heartbeat period when `SW_AGENT_REPORTER_CHECK_INTERVAL` is not set.
    pub const DEFAULT_CHECK_INTERVAL: Duration = settings::DEFAULT_CHECK_INTERVAL;
    /// The meter period when `SW_AGENT_METER_COLLECT_INTERVAL` is not set.
    pub const DEFAULT_METER_COLLECT_INTERVAL: Duration = settings::DEFAULT_METER_COLLECT_INTERVAL;
    /// The suffixes ignored when `SW_AGENT_IGNORE_SUFFIX` is not set (the Java agent's).
    pub const DEFAULT_IGNORE_SUFFIX: &'static str = settings::DEFAULT_IGNORE_SUFFIX;
    /// Spans per segment when `SW_AGENT_SPAN_LIMIT` is not set.
    pub const DEFAULT_SPAN_LIMIT: usize = settings::DEFAULT_SPAN_LIMIT;
    /// The queue bound when `SW_AGENT_REPORTER_MAX_SEND_QUEUE` is not set.
    pub const DEFAULT_MAX_SEND_QUEUE: usize = settings::DEFAULT_MAX_SEND_QUEUE;
    /// How long dropping the [`Agent`](crate::Agent) waits for queued data.
    pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = settings::DEFAULT_SHUTDOWN_TIMEOUT;
    /// How often the reporter drains the queues when less than a batch waits.
    pub const DEFAULT_FLUSH_INTERVAL: Duration = settings::DEFAULT_FLUSH_INTERVAL;

    /// The defaults, without reading the environment (the same as `Config::default()`).
    pub fn new() -> Self {
        Config::default()
    }

    /// The defaults overridden by the `SW_AGENT_*` variables of this process.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for the first variable whose value does not parse.
    pub fn from_env() -> Result<Config, Error> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`Config::from_env`], with variables read through `lookup` (for tests and
    /// for configuration held elsewhere).
    ///
    /// # Errors
    ///
    /// [`Error::Config`] for the first variable whose value does not parse.
    pub fn from_lookup(lookup: impl FnMut(&str) -> Option<String>) -> Result<Config, Error> {
        let mut env = Reader { lookup };
        let mut config = Config::default();
        if let Some((_, name)) = env.get(&NAME) {
            config.service = name;
        }
        if let Some((_, name)) = env.get(&INSTANCE) {
            config.instance = Some(name);
        }
        if let Some(backends) =
            env.parse(&BACKENDS, "a comma-separated list of host:port", |v| {
                let list = split_list(v);
                (!list.is_empty() && list.iter().all(|a| is_host_port(a))).then_some(list)
            })?
        {
            config.backends = backends;
        }
        if let Some((_, token)) = env.get(&AUTHENTICATION) {
            config.authentication = Some(token);
        }
        if let Some(rate) = env.parse(&SAMPLE, "a number from 0 to 1", |v| {
            v.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r))
        })? {
            config.sample_rate = rate;
        }
        if let Some(n) = env.parse(&SAMPLE_N, "an integer (0 or less: no cap)", |v| {
            v.parse::<i64>().ok()
        })? {
            config.sample_per_3_secs = u32::try_from(n.max(0)).unwrap_or(u32::MAX);
        }
        if let Some(n) = env.parse(&MAX_SEND_QUEUE, "a positive integer", parse_positive)? {
            config.max_send_queue = n;
        }
        if let Some(d) = env.parse(&CHECK_INTERVAL, "a positive number of seconds", |v| {
            v.parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
                .map(Duration::from_secs_f64)
        })? {
            config.check_interval = d;
        }
        if let Some(on) = env.parse(&TLS_ENABLE, BOOL_FORM, parse_bool)? {
            config.tls.enable = on;
        }
        if let Some((_, path)) = env.get(&TLS_CA) {
            config.tls.ca_path = Some(path.into());
        }
        if let Some((_, path)) = env.get(&TLS_CERT) {
            config.tls.client_cert_path = Some(path.into());
        }
        if let Some((_, path)) = env.get(&TLS_KEY) {
            config.tls.client_key_path = Some(path.into());
        }
        if let Some(n) = env.parse(&SPAN_LIMIT, "a positive integer", parse_positive)? {
            config.span_limit = n;
        }
        if let Some((_, paths)) = env.get(&IGNORE_PATH) {
            config.ignore.paths = split_list(&paths);
        }
        if let Some((_, suffixes)) = env.get(&IGNORE_SUFFIX) {
            config.ignore.suffixes = split_list(&suffixes);
        }
        if let Some(n) = env.parse(&CORRELATION_KEYS, "a non-negative integer", |v| {
            v.parse::<usize>().ok()
        })? {
            config.correlation_max_keys = n;
        }
        if let Some(n) = env.parse(&CORRELATION_VALUE, "a non-negative integer (bytes)", |v| {
            v.parse::<usize>().ok()
        })? {
            config.correlation_max_value_size = n;
        }
        // gRPC is the only transport so far: anything else is an error, never a silent
        // fallback.
        env.parse(&PROTOCOL, "grpc", |v| {
            v.eq_ignore_ascii_case("grpc").then_some(())
        })?;
        if let Some(off) = env.parse(&DISABLE, BOOL_FORM, parse_bool)? {
            config.disabled = off;
        }
        if let Some(level) = env.parse(
            &LOG_LEVEL,
            "off, error, warn, info, debug or trace",
            Level::parse,
        )? {
            config.log_level = level;
        }
        if let Some(level) = env.parse(
            &LOG_REPORTER_LEVEL,
            "off, error, warn, info, debug or trace",
            LogLevel::parse,
        )? {
            config.log_reporter_level = level;
        }
        if let Some(on) = env.parse(&METER_ACTIVE, BOOL_FORM, parse_bool)? {
            config.meter_active = on;
        }
        if let Some(d) = env.parse(&METER_INTERVAL, SECONDS_FORM, parse_seconds)? {
            config.meter_collect_interval = d;
        }
        Ok(config)
    }

    /// Checks what only makes sense as a whole (called when the agent starts).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |variable: &'static str, value: String, expected: &'static str| {
            Err(Error::Config {
                variable,
                value,
                expected,
            })
        };
        if self.service.trim().is_empty() {
            return invalid(NAME.names[0], self.service.clone(), "a non-empty name");
        }
        if let Some(instance) = &self.instance
            && instance.trim().is_empty()
        {
            return invalid(INSTANCE.names[0], instance.clone(), "a non-empty name");
        }
        if self.backends.is_empty() || !self.backends.iter().all(|a| is_host_port(a)) {
            return invalid(
                BACKENDS.names[0],
                self.backends.join(","),
                "a comma-separated list of host:port",
            );
        }
        if !(0.0..=1.0).contains(&self.sample_rate) {
            return invalid(
                SAMPLE.names[0],
                self.sample_rate.to_string(),
                "a number from 0 to 1",
            );
        }
        if self.check_interval.is_zero() {
            return invalid(
                CHECK_INTERVAL.names[0],
                "0".to_owned(),
                "a positive number of seconds",
            );
        }
        if self.meter_collect_interval.is_zero() {
            return invalid(METER_INTERVAL.names[0], "0".to_owned(), SECONDS_FORM);
        }
        match (&self.tls.client_cert_path, &self.tls.client_key_path) {
            (Some(_), None) => {
                return invalid(
                    TLS_KEY.names[0],
                    String::new(),
                    "a key path whenever a client certificate is set (mutual TLS needs both)",
                );
            }
            (None, Some(_)) => {
                return invalid(
                    TLS_CERT.names[0],
                    String::new(),
                    "a certificate path whenever a client key is set (mutual TLS needs both)",
                );
            }
            _ => {}
        }
        if self.tls_enabled() && self.tls.ca_path.is_none() {
            return invalid(
                TLS_CA.names[0],
                String::new(),
                "the path of the CA that signs the collector's certificate when TLS is on",
            );
        }
        Ok(())
    }

    /// Whether the reporter uses TLS: enabled explicitly, or implied by a CA path or a
    /// client certificate.
    pub(crate) fn tls_enabled(&self) -> bool {
        self.tls.enable || self.tls.ca_path.is_some() || self.tls.client_cert_path.is_some()
    }

    /// The service name.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The instance name, if one was set (otherwise `<uuid>@<hostname>` is made at start).
    pub fn instance(&self) -> Option<&str> {
        self.instance.as_deref()
    }

    /// The collector addresses, in failover order.
    pub fn backends(&self) -> &[String] {
        &self.backends
    }

    /// Whether an authentication token is set (the token itself is not readable back).
    pub fn has_authentication(&self) -> bool {
        self.authentication.is_some()
    }

    /// The sampling rate of new traces, `0.0..=1.0`.
    pub fn sample_rate(&self) -> f64 {
        self.sample_rate
    }

    /// The cap of new traces per 3 seconds; 0 for none.
    pub fn sample_per_3_secs(&self) -> u32 {
        self.sample_per_3_secs
    }

    /// Segments waiting to be sent before new ones are dropped.
    pub fn max_send_queue(&self) -> usize {
        self.max_send_queue
    }

    /// The heartbeat period.
    pub fn check_interval(&self) -> Duration {
        self.check_interval
    }

    /// Spans per segment.
    pub fn span_limit(&self) -> usize {
        self.span_limit
    }

    /// The ignored path patterns (`SW_AGENT_TRACE_IGNORE_PATH`).
    pub fn trace_ignore_paths(&self) -> &[String] {
        &self.ignore.paths
    }

    /// The ignored suffixes (`SW_AGENT_IGNORE_SUFFIX`).
    pub fn ignore_suffixes(&self) -> &[String] {
        &self.ignore.suffixes
    }

    /// Whether every span is a no-op (`SW_AGENT_DISABLE`).
    pub fn is_disabled(&self) -> bool {
        self.disabled
    }

    /// The threshold of log reporting (`SW_AGENT_LOG_REPORTER_LEVEL`).
    pub fn log_reporter_level(&self) -> LogLevel {
        self.log_reporter_level
    }

    /// Whether meters are reported (`SW_AGENT_METER_REPORTER_ACTIVE`).
    pub fn meter_active(&self) -> bool {
        self.meter_active
    }

    /// The period of meter reports (`SW_AGENT_METER_COLLECT_INTERVAL`).
    pub fn meter_collect_interval(&self) -> Duration {
        self.meter_collect_interval
    }

    /// The correlation limits (`SW_AGENT_CORRELATION_MAX_KEY_COUNT` / `_MAX_VALUE_SIZE`).
    pub fn correlation_limits(&self) -> crate::propagation::CorrelationLimits {
        crate::propagation::CorrelationLimits::new(
            self.correlation_max_keys,
            self.correlation_max_value_size,
        )
    }
}

const BOOL_FORM: &str = "true or false";
const SECONDS_FORM: &str = "a positive number of seconds";

fn parse_seconds(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s < 1e9)
        .map(Duration::from_secs_f64)
}

fn parse_bool(value: &str) -> Option<bool> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Some(true),
        "false" | "0" | "no" | "off" => Some(false),
        _ => None,
    }
}

fn parse_positive(value: &str) -> Option<usize> {
    value.parse::<usize>().ok().filter(|n| *n > 0)
}

/// Splits a comma-separated list, trimming items and skipping empty ones.
fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<Config, Error> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    fn error_of(vars: &[(&str, &str)]) -> String {
        from(vars).expect_err("should fail").to_string()
    }

    #[test]
    fn defaults_without_variables() {
        let config = from(&[]).unwrap();
        assert_eq!(config.service, settings::DEFAULT_SERVICE);
        assert_eq!(config.instance, None);
        assert_eq!(config.backends, [settings::DEFAULT_BACKEND]);
        assert_eq!(config.sample_rate, 1.0);
        assert_eq!(config.sample_per_3_secs, 0);
        assert_eq!(config.max_send_queue, 5000);
        assert_eq!(config.check_interval, Duration::from_secs(30));
        assert_eq!(config.span_limit, 300);
        assert_eq!(config.correlation_max_keys, 3);
        assert_eq!(config.correlation_max_value_size, 128);
        assert!(config.ignore.paths.is_empty());
        assert!(config.ignore.suffixes.contains(&".js".to_owned()));
        assert!(!config.disabled);
        assert!(!config.tls_enabled());
        assert_eq!(config.log_level, Level::Warn);
        assert_eq!(config.log_reporter_level, LogLevel::Warn);
        assert!(config.meter_active);
        assert_eq!(config.meter_collect_interval, Duration::from_secs(20));
        config.validate().unwrap();
    }

    #[test]
    fn every_variable_is_read() {
        let config = from(&[
            ("SW_AGENT_NAME", "checkout"),
            ("SW_AGENT_INSTANCE_NAME", "checkout-1"),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                " oap-a:11800 , oap-b:11801,",
            ),
            ("SW_AGENT_AUTHENTICATION", "s3cret"),
            ("SW_AGENT_SAMPLE", "0.25"),
            ("SW_AGENT_SAMPLE_N_PER_3_SECS", "100"),
            ("SW_AGENT_REPORTER_MAX_SEND_QUEUE", "64"),
            ("SW_AGENT_REPORTER_CHECK_INTERVAL", "0.5"),
            ("SW_AGENT_REPORTER_GRPC_TLS_ENABLE", "TRUE"),
            ("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH", "/ca.pem"),
            (
                "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH",
                "/c.pem",
            ),
            ("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH", "/k.pem"),
            ("SW_AGENT_SPAN_LIMIT", "50"),
            ("SW_AGENT_TRACE_IGNORE_PATH", "/health, /static/**"),
            ("SW_AGENT_IGNORE_SUFFIX", ".png"),
            ("SW_AGENT_CORRELATION_MAX_KEY_COUNT", "5"),
            ("SW_AGENT_CORRELATION_MAX_VALUE_SIZE", "64"),
            ("SW_AGENT_PROTOCOL", "grpc"),
            ("SW_AGENT_DISABLE", "yes"),
            ("SW_LOG_LEVEL", "DEBUG"),
            ("SW_AGENT_LOG_REPORTER_LEVEL", "info"),
            ("SW_AGENT_METER_REPORTER_ACTIVE", "false"),
            ("SW_AGENT_METER_COLLECT_INTERVAL", "2.5"),
        ])
        .unwrap();
        assert_eq!(config.service, "checkout");
        assert_eq!(config.instance.as_deref(), Some("checkout-1"));
        assert_eq!(config.backends, ["oap-a:11800", "oap-b:11801"]);
        assert_eq!(config.authentication.as_deref(), Some("s3cret"));
        assert_eq!(config.sample_rate, 0.25);
        assert_eq!(config.sample_per_3_secs, 100);
        assert_eq!(config.max_send_queue, 64);
        assert_eq!(config.check_interval, Duration::from_millis(500));
        assert!(config.tls.enable && config.tls_enabled());
        assert_eq!(config.tls.ca_path, Some(PathBuf::from("/ca.pem")));
        assert_eq!(config.tls.client_cert_path, Some(PathBuf::from("/c.pem")));
        assert_eq!(config.tls.client_key_path, Some(PathBuf::from("/k.pem")));
        assert_eq!(config.span_limit, 50);
        assert_eq!(config.ignore.paths, ["/health", "/static/**"]);
        assert_eq!(config.ignore.suffixes, [".png"]);
        assert_eq!(config.correlation_max_keys, 5);
        assert_eq!(config.correlation_max_value_size, 64);
        assert!(config.disabled);
        assert_eq!(config.log_level, Level::Debug);
        assert_eq!(config.log_reporter_level, LogLevel::Info);
        assert!(!config.meter_active);
        assert_eq!(config.meter_collect_interval, Duration::from_millis(2500));
        config.validate().unwrap();
        assert!(
            !format!("{config:?}").contains("s3cret"),
            "the token stays out of Debug"
        );
    }

    #[test]
    fn go_aliases_are_accepted_and_the_main_name_wins() {
        let config = from(&[
            ("SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE", "go:11800"),
            ("SW_AGENT_REPORTER_GRPC_MAX_SEND_QUEUE", "7"),
            ("SW_AGENT_REPORTER_GRPC_CHECK_INTERVAL", "3"),
            ("SW_AGENT_REPORTER_GRPC_AUTHENTICATION", "go-token"),
            ("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_PATH", "/alias.pem"),
        ])
        .unwrap();
        assert_eq!(config.backends, ["go:11800"]);
        assert_eq!(config.max_send_queue, 7);
        assert_eq!(config.check_interval, Duration::from_secs(3));
        assert_eq!(config.authentication.as_deref(), Some("go-token"));
        assert_eq!(
            config.tls.client_cert_path,
            Some(PathBuf::from("/alias.pem"))
        );

        let both = from(&[
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "java:11800"),
            ("SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE", "go:11800"),
        ])
        .unwrap();
        assert_eq!(both.backends, ["java:11800"]);
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = from(&[("SW_AGENT_NAME", "  "), ("SW_AGENT_SAMPLE", "")]).unwrap();
        assert_eq!(config.service, settings::DEFAULT_SERVICE);
        assert_eq!(config.sample_rate, 1.0);
    }

    #[test]
    fn bad_values_name_the_variable_the_value_and_the_form() {
        let message = error_of(&[("SW_AGENT_SAMPLE", "2")]);
        assert!(message.contains("SW_AGENT_SAMPLE"), "{message}");
        assert!(message.contains("\"2\""), "{message}");
        assert!(message.contains("from 0 to 1"), "{message}");

        for (var, value, form) in [
            ("SW_AGENT_SAMPLE", "half", "from 0 to 1"),
            ("SW_AGENT_SAMPLE_N_PER_3_SECS", "many", "integer"),
            ("SW_AGENT_REPORTER_MAX_SEND_QUEUE", "0", "positive integer"),
            ("SW_AGENT_REPORTER_MAX_SEND_QUEUE", "-5", "positive integer"),
            (
                "SW_AGENT_REPORTER_CHECK_INTERVAL",
                "0",
                "positive number of seconds",
            ),
            (
                "SW_AGENT_REPORTER_CHECK_INTERVAL",
                "30s",
                "positive number of seconds",
            ),
            (
                "SW_AGENT_REPORTER_GRPC_TLS_ENABLE",
                "maybe",
                "true or false",
            ),
            ("SW_AGENT_SPAN_LIMIT", "none", "positive integer"),
            (
                "SW_AGENT_CORRELATION_MAX_KEY_COUNT",
                "-1",
                "non-negative integer",
            ),
            (
                "SW_AGENT_CORRELATION_MAX_VALUE_SIZE",
                "1kb",
                "non-negative integer",
            ),
            ("SW_AGENT_PROTOCOL", "kafka", "grpc"),
            ("SW_AGENT_DISABLE", "nope", "true or false"),
            ("SW_LOG_LEVEL", "loud", "off, error, warn"),
            ("SW_AGENT_LOG_REPORTER_LEVEL", "fatal", "off, error, warn"),
            (
                "SW_AGENT_METER_REPORTER_ACTIVE",
                "sometimes",
                "true or false",
            ),
            (
                "SW_AGENT_METER_COLLECT_INTERVAL",
                "0",
                "positive number of seconds",
            ),
            (
                "SW_AGENT_METER_COLLECT_INTERVAL",
                "20s",
                "positive number of seconds",
            ),
            ("SW_AGENT_COLLECTOR_BACKEND_SERVICES", "oap", "host:port"),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                "oap:http",
                "host:port",
            ),
            (
                "SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE",
                "oap:0",
                "host:port",
            ),
        ] {
            let message = error_of(&[(var, value)]);
            assert!(message.contains(var), "{var}: {message}");
            assert!(message.contains(value), "{var}: {message}");
            assert!(message.contains(form), "{var}: {message}");
        }
    }

    #[test]
    fn addresses() {
        assert!(is_host_port("127.0.0.1:11800"));
        assert!(is_host_port("oap.example:11800"));
        assert!(is_host_port("http://oap:11800"));
        assert!(is_host_port("[::1]:11800"));
        assert!(!is_host_port("oap"));
        assert!(!is_host_port(":11800"));
        assert!(!is_host_port("oap:70000"));
        assert_eq!(strip_scheme("https://oap:1/"), "oap:1");
    }

    #[test]
    fn whole_config_checks() {
        let mut config = Config::default();
        config.tls.client_cert_path = Some("/c.pem".into());
        config.tls.ca_path = Some("/ca.pem".into());
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH"),
            "{message}"
        );

        let mut config = Config::default();
        config.tls.enable = true;
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"),
            "{message}"
        );

        let config = Config {
            backends: vec!["nowhere".into()],
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }
}
