//! Every option of the agent, declared once: the row makes the [`Config`] field and its
//! default, the variables it is read from, the parser and the accepted form of its error,
//! the getter, the [`AgentBuilder`](crate::AgentBuilder) setter, the `Debug` field and the
//! row of the doc table below. The columns are described in `macros.rs`.
//!
//! Adding an option: one row here (its place is the order variables are checked in and
//! the order of the doc table), plus a parser in `parse.rs` if none fits.

use std::path::PathBuf;
use std::time::Duration;

use super::macros::options;
use super::parse::{self, Buckets, Protocol, Secret};
use crate::diag::Level;
use crate::logs::LogLevel;
use crate::propagation::CorrelationLimits;
use crate::settings;

options! {
    /// The agent's configuration, read from the environment with [`Config::from_env`] (or
    /// any lookup with [`Config::from_lookup`]) and refined with the [`AgentBuilder`]'s
    /// methods.
    ///
    /// Precedence: defaults, then the environment, then builder methods (the builder wins).
    /// Every variable is checked when the agent starts: a value that does not parse fails
    /// [`init`](crate::init()) with an [`Error::Config`](crate::Error::Config) naming the
    /// variable, the value and the accepted form (the column below), never a silent
    /// default. A variable's second name (the Go agent's, mostly) is read when the first
    /// is not set.
    ///
    /// | variable | default | accepted form | meaning |
    /// |---|---|---|---|
    table {
        service: String = settings::DEFAULT_SERVICE.to_owned(), "rust-service", ["SW_AGENT_NAME"], text "any non-empty text", get(service -> &str), set(service(name: impl Into<String>)), "The service name (OAP truncates it at 70 bytes).";
        instance: Option<String> = None, _, ["SW_AGENT_INSTANCE_NAME"], text "any non-empty text", get(instance -> Option<&str>), set(instance(name: impl Into<String>)), "The instance name; without one, `<32 hex digits>@<ipv4>` is made at start, as the Java and Go agents name instances (the host name, cut to OAP's 70-byte limit, on a host with no IPv4 address).";
        backends: Vec<String> = vec![settings::DEFAULT_BACKEND.to_owned()], "127.0.0.1:11800", ["SW_AGENT_COLLECTOR_BACKEND_SERVICES", "SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE"], host_port_list "a comma-separated list of host:port", get(backends -> &[String]), set(backends(addresses: list)), "The collector addresses (an `http://` or `https://` prefix is tolerated), tried in this order when one fails.";
        authentication: Option<Secret> = None, _, ["SW_AGENT_AUTHENTICATION", "SW_AGENT_REPORTER_GRPC_AUTHENTICATION"], text "any non-empty text", get(has_authentication -> bool), set(authentication(token: impl Into<String>)), "The token sent as `authentication` metadata, which OAP checks against its `SW_AUTHENTICATION`; it is never shown by `Debug`, and the getter only says whether one is set.";
        sample_rate: f64 = 1.0, "1", ["SW_AGENT_SAMPLE"], rate "a number from 0 to 1", get(sample_rate -> f64), set(sample_rate(rate: f64)), "The share of new traces recorded, as in the Go agent (the Java agent reads this name as *N per 3 s*: use `SW_AGENT_SAMPLE_N_PER_3_SECS` for that).";
        sample_per_3_secs: u32 = 0, "-1", ["SW_AGENT_SAMPLE_N_PER_3_SECS"], per_3_secs "an integer (0 or less: no cap)", get(sample_per_3_secs -> u32), set(sample_per_3_secs(n: u32)), "At most this many new traces recorded per 3 seconds; 0 for no cap.";
        keep_errors: bool = false, "false", ["SW_AGENT_KEEP_ERRORS"], boolean "true or false", get(keep_errors -> bool), set(keep_errors(on: bool)), "Record the traces sampling drops too, and report each of their segments that has a failed span (HTTP status from 400, an `Err` with `#[trace(err)]`, a panic); the others are discarded at the segment's end. A recording trace that sends `sw8` downstream or is carried into another task is kept whole from then on. Off by default: recording an unsampled trace costs what a sampled one costs on the calling thread.";
        keep_slow_ms: usize = 0, "0", ["SW_AGENT_KEEP_SLOW_MS"], non_negative "a non-negative integer (milliseconds; 0: off)", get(keep_slow_ms -> usize), set(keep_slow_ms(ms: usize)), "Like `SW_AGENT_KEEP_ERRORS`, for segments that took longer than this many milliseconds; 0 turns it off (the default, for the same reason).";
        max_send_queue: usize = settings::DEFAULT_MAX_SEND_QUEUE, "5000", ["SW_AGENT_REPORTER_MAX_SEND_QUEUE", "SW_AGENT_REPORTER_GRPC_MAX_SEND_QUEUE"], queue_bound "a positive integer up to 1000000", get(max_send_queue -> usize), set(max_send_queue(n: usize)), "Segments waiting to be sent; beyond it the newest segment is dropped and counted, so what waits keeps its order. Reported log records wait in a queue of their own with the same bound. The first agent of a process sizes the queue; a later one can only lower the bound.";
        check_interval: Duration = settings::DEFAULT_CHECK_INTERVAL, "30", ["SW_AGENT_REPORTER_CHECK_INTERVAL", "SW_AGENT_REPORTER_GRPC_CHECK_INTERVAL"], seconds "a positive number of seconds", get(check_interval -> Duration), set(check_interval(interval: Duration)), "The heartbeat (`keepAlive`) period; instance properties are re-sent every 10 heartbeats.";
        instance_properties: Vec<(String, String)> = Vec::new(), _, ["SW_AGENT_INSTANCE_PROPERTIES"], key_values "a comma-separated list of key=value", get(instance_properties -> &[(String, String)]), set(), "Extra instance properties reported to OAP after the agent's own (`language`, `hostname`, `ipv4`, ...), such as the Kubernetes namespace, pod and node from the downward API: `namespace=$(POD_NAMESPACE),pod=$(POD_NAME)`.";
        cds_interval: Duration = settings::DEFAULT_CDS_INTERVAL, "20", ["SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL", "SW_AGENT_REPORTER_GRPC_CDS_FETCH_INTERVAL"], seconds_or_off "a number of seconds (0 or less: off)", get(cds_interval -> Duration), set(cds_interval(interval: Duration)), "How often OAP's dynamic configuration (`ConfigurationDiscoveryService`) is fetched, as the Java agent's `collector.get_agent_dynamic_config_interval`; zero turns it off. The keys applied are listed under *Dynamic configuration* in the crate docs.";
        tls_enable: bool = false, "false", ["SW_AGENT_REPORTER_GRPC_TLS_ENABLE"], boolean "true or false", get(), set(), "Whether the reporter uses TLS (`1`/`0`, `yes`/`no` and `on`/`off` work too); a CA path or a client certificate turns it on as well.";
        tls_ca_path: Option<PathBuf> = None, _, ["SW_AGENT_REPORTER_GRPC_TLS_CA_PATH"], path "a path", get(), set(), "The PEM CA bundle that signs the collector's certificate; setting it turns TLS on. With TLS on and no CA path, the operating system's trust store is used (plus Mozilla's roots with the feature `tls-webpki-roots`), as for an OAP behind a public certificate.";
        tls_client_cert_path: Option<PathBuf> = None, _, ["SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_CHAIN_PATH", "SW_AGENT_REPORTER_GRPC_TLS_CLIENT_CERT_PATH"], path "a path", get(), set(), "The client's PEM certificate chain, for mutual TLS (with the key).";
        tls_client_key_path: Option<PathBuf> = None, _, ["SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH"], path "a path", get(), set(), "The client's PEM private key, for mutual TLS (with the certificate chain).";
        span_limit: usize = settings::DEFAULT_SPAN_LIMIT, "300", ["SW_AGENT_SPAN_LIMIT"], positive "a positive integer", get(span_limit -> usize), set(span_limit(limit: usize)), "Spans per segment; further spans are dropped and the segment is marked `isSizeLimited`.";
        trace_ignore_paths: Vec<String> = Vec::new(), _, ["SW_AGENT_TRACE_IGNORE_PATH"], list "a comma-separated list", get(trace_ignore_paths -> &[String]), set(trace_ignore_paths(patterns: list)), "Ant-style paths (`/health`, `/static/**`) whose traces are not recorded.";
        ignore_suffixes: Vec<String> = parse::split_list(settings::DEFAULT_IGNORE_SUFFIX), ".jpg,.jpeg,.js,.css,.png,.bmp,.gif,.ico,.mp3,.mp4,.html,.svg", ["SW_AGENT_IGNORE_SUFFIX"], list "a comma-separated list", get(ignore_suffixes -> &[String]), set(ignore_suffixes(suffixes: list)), "First-span name suffixes whose traces are not recorded (by default the Java agent's list).";
        correlation_max_keys: usize = CorrelationLimits::DEFAULT.max_keys, "3", ["SW_AGENT_CORRELATION_MAX_KEY_COUNT"], non_negative "a non-negative integer", get(), set(), "Keys of `sw8-correlation` data kept per trace.";
        correlation_max_value_size: usize = CorrelationLimits::DEFAULT.max_value_size, "128", ["SW_AGENT_CORRELATION_MAX_VALUE_SIZE"], non_negative "a non-negative integer (bytes)", get(), set(), "Bytes per `sw8-correlation` value.";
        protocol: Protocol = Protocol::Grpc, "grpc", ["SW_AGENT_PROTOCOL", "SW_AGENT_REPORTER_TYPE"], protocol "grpc or kafka", get(), set(), "The transport: gRPC to the collector addresses, or Kafka (feature `kafka`) to the topics OAP's kafka-fetcher reads; anything else is an error, never a silent fallback.";
        kafka_bootstrap_servers: Vec<String> = vec![settings::DEFAULT_KAFKA_BOOTSTRAP.to_owned()], "localhost:9092", ["SW_KAFKA_BOOTSTRAP_SERVERS", "SW_AGENT_REPORTER_KAFKA_BROKERS"], host_port_list "a comma-separated list of host:port", get(kafka_bootstrap_servers -> &[String]), set(kafka_bootstrap_servers(addresses: list)), "With `SW_AGENT_PROTOCOL=kafka`: the Kafka brokers first asked for the cluster's metadata.";
        kafka_namespace: Option<String> = None, _, ["SW_KAFKA_NAMESPACE"], text "any non-empty text", get(kafka_namespace -> Option<&str>), set(kafka_namespace(namespace: impl Into<String>)), "With Kafka: a prefix of every topic, `<namespace>-<topic>`, matching OAP's `SW_NAMESPACE`.";
        kafka_topic_segment: String = "skywalking-segments".to_owned(), "skywalking-segments", ["SW_KAFKA_TOPIC_SEGMENT", "SW_AGENT_REPORTER_KAFKA_TOPIC_SEGMENT"], text "a topic name", get(), set(), "With Kafka: the topic of segments (record key: the segment id).";
        kafka_topic_management: String = "skywalking-managements".to_owned(), "skywalking-managements", ["SW_KAFKA_TOPIC_MANAGEMENT", "SW_AGENT_REPORTER_KAFKA_TOPIC_MANAGEMENT"], text "a topic name", get(), set(), "With Kafka: the topic of instance properties (key `register-<instance>`) and heartbeats (key: the instance).";
        kafka_topic_meter: String = "skywalking-meters".to_owned(), "skywalking-meters", ["SW_KAFKA_TOPIC_METER", "SW_AGENT_REPORTER_KAFKA_TOPIC_METER"], text "a topic name", get(), set(), "With Kafka: the topic of meters (one `MeterDataCollection` per record, key: the instance).";
        kafka_topic_log: String = "skywalking-logs".to_owned(), "skywalking-logs", ["SW_KAFKA_TOPIC_LOG", "SW_AGENT_REPORTER_KAFKA_TOPIC_LOGGING"], text "a topic name", get(), set(), "With Kafka: the topic of log records (`LogData`, key: the service).";
        disabled: bool = false, "false", ["SW_AGENT_DISABLE"], boolean "true or false", get(is_disabled -> bool), set(disabled(disabled: bool)), "Turns every span into a no-op and starts no reporter.";
        log_level: Level = Level::Warn, "warn", ["SW_LOG_LEVEL"], level "off, error, warn, info, debug or trace", get(), set(), "The agent's own diagnostics, on stderr (any case).";
        log_reporter_level: LogLevel = LogLevel::Warn, "WARN", ["SW_AGENT_LOG_REPORTER_LEVEL"], log_level "off, error, warn, info, debug or trace", get(log_reporter_level -> LogLevel), set(log_reporter_level(level: LogLevel)), "Records of the `log` and `tracing` integrations at or above this level (any case) are sent to OAP with their trace context; `off` sends none.";
        meter_active: bool = true, "true", ["SW_AGENT_METER_REPORTER_ACTIVE"], boolean "true or false", get(meter_active -> bool), set(meter_active(active: bool)), "Whether meters are reported.";
        meter_collect_interval: Duration = settings::DEFAULT_METER_COLLECT_INTERVAL, "20", ["SW_AGENT_METER_COLLECT_INTERVAL"], seconds "a positive number of seconds", get(meter_collect_interval -> Duration), set(meter_collect_interval(interval: Duration)), "The period of meter collection and reports (see [`meter`](crate::meter)).";
        prometheus_active: bool = true, "true", ["SW_AGENT_PROMETHEUS_ACTIVE"], boolean "true or false", get(prometheus_active -> bool), set(prometheus_active(active: bool)), "Feature `prometheus`: whether the reporter thread aggregates entry and exit spans into Prometheus metrics (see the `prometheus` module).";
        prometheus_listen: Option<String> = None, _, ["SW_AGENT_PROMETHEUS_LISTEN"], socket_address "an address ip:port", get(prometheus_listen -> Option<&str>), set(prometheus_listen(address: impl Into<String>)), "Feature `prometheus`: where the agent's own thread serves the metrics at `/metrics` (`127.0.0.1:9464`, `0.0.0.0:9464` for every interface); unset, nothing listens and the application may serve them itself.";
        prometheus_buckets: Buckets = Buckets::default(), "0.001,0.0025,0.005,0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10", ["SW_AGENT_PROMETHEUS_BUCKETS"], buckets "a comma-separated list of increasing positive seconds", get(), set(prometheus_buckets(bounds: Vec<f64>)), "Feature `prometheus`: the upper bounds, in seconds, of the latency histogram's buckets.";
        prometheus_max_series: usize = 500, "500", ["SW_AGENT_PROMETHEUS_MAX_SERIES"], positive "a positive integer", get(prometheus_max_series -> usize), set(prometheus_max_series(n: usize)), "Feature `prometheus`: label sets per metric for entry spans, and as many for exit spans (endpoint, or peer and operation, with layer and component); spans beyond them are counted under `endpoint=\"other\"` and in `skywalking_metrics_overflow_total`.";
        redis_trace_key: bool = false, "false", ["SW_PLUGIN_REDIS_TRACE_KEY"], boolean "true or false", get(redis_trace_key -> bool), set(redis_trace_key(on: bool)), "Feature `redis`: whether a command's span records its key (the first argument, cut to 128 bytes) in `cache.key`, as the Java agent's `plugin.jedis.trace_redis_parameters`; off by default, since keys often hold user ids.";
        sql_body_max_length: usize = settings::DEFAULT_SQL_BODY_MAX_LENGTH, "2048", ["SW_PLUGIN_JDBC_SQL_BODY_MAX_LENGTH", "SW_JDBC_SQL_BODY_MAX_LENGTH"], positive "a positive integer (bytes)", get(sql_body_max_length -> usize), set(sql_body_max_length(bytes: usize)), "Features `sqlx`, `tokio-postgres`: bytes of a statement kept in `db.statement` (cut at a character boundary), as the Java agent's `plugin.jdbc.sql_body_max_length`.";
        sql_trace_parameters: bool = false, "false", ["SW_JDBC_TRACE_SQL_PARAMETERS", "SW_PLUGIN_JDBC_TRACE_SQL_PARAMETERS"], boolean "true or false", get(sql_trace_parameters -> bool), set(sql_trace_parameters(on: bool)), "Features `sqlx`, `tokio-postgres`: whether a statement's span records its bound parameters in `db.sql.parameters`, as the Java agent's `plugin.jdbc.trace_sql_parameters`; off by default, since parameters often hold personal data.";
        sql_parameters_max_length: usize = settings::DEFAULT_SQL_PARAMETERS_MAX_LENGTH, "512", ["SW_PLUGIN_JDBC_SQL_PARAMETERS_MAX_LENGTH", "SW_JDBC_SQL_PARAMETERS_MAX_LENGTH"], positive "a positive integer (bytes)", get(sql_parameters_max_length -> usize), set(sql_parameters_max_length(bytes: usize)), "With `SW_JDBC_TRACE_SQL_PARAMETERS`: bytes of `db.sql.parameters` kept, as the Java agent's `plugin.jdbc.sql_parameters_max_length`.";
        flush_interval: Duration = settings::DEFAULT_FLUSH_INTERVAL, "0.02", [], seconds "a positive number of seconds", get(), set(flush_interval(interval: Duration)), "How often the reporter thread drains the queues when less than a batch (512 segments) is waiting.";
        shutdown_timeout: Duration = settings::DEFAULT_SHUTDOWN_TIMEOUT, "5", [], seconds "a positive number of seconds", get(), set(shutdown_timeout(timeout: Duration)), "How long dropping the [`Agent`](crate::Agent) waits for queued data to be sent.";
    }
    ///
    /// An empty variable counts as unset. The TLS client certificate and key go together.
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
}
