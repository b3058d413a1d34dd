//! The agent's configuration: defaults, the `SW_AGENT_*` environment, and the values the
//! [`AgentBuilder`](crate::AgentBuilder) sets on top.
//!
//! See [`Config`] for every variable, its default and its accepted form. Each option is
//! declared once, as a row of the table in `options.rs`; `macros.rs` turns the table into
//! the type, and `parse.rs` holds the parsers. What a row cannot say is here: reading the
//! environment, the checks of the whole configuration, and the combined getters.

use std::time::Duration;

use crate::error::Error;
use crate::propagation::CorrelationLimits;
use crate::settings;

mod macros;
mod options;
mod parse;

pub use options::Config;
pub(crate) use options::OPTIONS;
pub(crate) use parse::Protocol;
#[cfg(any(feature = "grpc", test))]
pub(crate) use parse::strip_scheme;
// The dynamic configuration (`reporter/cds.rs`) accepts what the variables accept.
#[cfg(feature = "grpc")]
pub(crate) use parse::{per_3_secs, positive, rate, split_list};

use macros::Meta;

/// Reads variables through a lookup function, remembering which name answered.
struct Reader<F> {
    lookup: F,
}

impl<F: FnMut(&str) -> Option<String>> Reader<F> {
    /// The first non-empty value among the option's variables, with the name that held it.
    fn get(&mut self, option: &Meta) -> Option<(&'static str, String)> {
        option.vars.iter().find_map(|name| {
            (self.lookup)(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (*name, v))
        })
    }

    /// The option's value parsed, `None` if unset, or an error naming the variable, the
    /// value and the option's accepted form.
    fn parse<T>(
        &mut self,
        option: &Meta,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Result<Option<T>, Error> {
        match self.get(option) {
            None => Ok(None),
            Some((name, value)) => match parse(&value) {
                Some(parsed) => Ok(Some(parsed)),
                None => Err(Error::Config {
                    variable: name,
                    value,
                    expected: option.form,
                }),
            },
        }
    }
}

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
        let mut config = Config::default();
        config.read_env(&mut Reader { lookup })?;
        Ok(config)
    }

    /// Checks what only makes sense as a whole, or what a builder method may have set
    /// out of range (called when the agent starts).
    pub(crate) fn validate(&self) -> Result<(), Error> {
        let invalid = |option: &Meta, value: String, expected: &'static str| {
            Err(Error::Config {
                variable: option.name(),
                value,
                expected,
            })
        };
        if self.service.trim().is_empty() {
            return invalid(&OPTIONS.service, self.service.clone(), "a non-empty name");
        }
        if let Some(instance) = &self.instance
            && instance.trim().is_empty()
        {
            return invalid(&OPTIONS.instance, instance.clone(), "a non-empty name");
        }
        if !parse::is_host_port_list(&self.backends) {
            let option = &OPTIONS.backends;
            return invalid(option, self.backends.join(","), option.form);
        }
        if !parse::is_rate(self.sample_rate) {
            let option = &OPTIONS.sample_rate;
            return invalid(option, self.sample_rate.to_string(), option.form);
        }
        if !(1..=parse::MAX_QUEUE_BOUND).contains(&self.max_send_queue) {
            let option = &OPTIONS.max_send_queue;
            return invalid(option, self.max_send_queue.to_string(), option.form);
        }
        // Builder methods take any `Duration`; the environment's parsers stop below 10^9
        // seconds. A longer one would overflow the reporter's `Instant` arithmetic.
        for (option, duration) in [
            (&OPTIONS.check_interval, self.check_interval),
            (&OPTIONS.cds_interval, self.cds_interval),
            (&OPTIONS.meter_collect_interval, self.meter_collect_interval),
            (&OPTIONS.flush_interval, self.flush_interval),
            (&OPTIONS.shutdown_timeout, self.shutdown_timeout),
        ] {
            if duration > parse::MAX_DURATION {
                return invalid(option, format!("{duration:?}"), "at most 999999999 seconds");
            }
        }
        if self.check_interval.is_zero() {
            let option = &OPTIONS.check_interval;
            return invalid(option, "0".to_owned(), option.form);
        }
        if self.meter_collect_interval.is_zero() {
            let option = &OPTIONS.meter_collect_interval;
            return invalid(option, "0".to_owned(), option.form);
        }
        match (&self.tls_client_cert_path, &self.tls_client_key_path) {
            (Some(_), None) => {
                return invalid(
                    &OPTIONS.tls_client_key_path,
                    String::new(),
                    "a key path whenever a client certificate is set (mutual TLS needs both)",
                );
            }
            (None, Some(_)) => {
                return invalid(
                    &OPTIONS.tls_client_cert_path,
                    String::new(),
                    "a certificate path whenever a client key is set (mutual TLS needs both)",
                );
            }
            _ => {}
        }
        self.validate_kafka()
    }

    /// The Kafka options: checked whenever Kafka is the transport; Kafka in a build
    /// without the `kafka` feature is an error naming `SW_AGENT_PROTOCOL`.
    fn validate_kafka(&self) -> Result<(), Error> {
        if self.protocol != parse::Protocol::Kafka {
            return Ok(());
        }
        if cfg!(not(feature = "kafka")) {
            return Err(Error::Config {
                variable: OPTIONS.protocol.name(),
                value: "kafka".to_owned(),
                expected: "grpc (this build of skywalking-runtime lacks its `kafka` feature)",
            });
        }
        if !parse::is_host_port_list(&self.kafka_bootstrap_servers) {
            let option = &OPTIONS.kafka_bootstrap_servers;
            return Err(Error::Config {
                variable: option.name(),
                value: self.kafka_bootstrap_servers.join(","),
                expected: option.form,
            });
        }
        let names = [
            (&OPTIONS.kafka_namespace, self.kafka_namespace.as_deref()),
            (
                &OPTIONS.kafka_topic_segment,
                Some(&*self.kafka_topic_segment),
            ),
            (
                &OPTIONS.kafka_topic_management,
                Some(&*self.kafka_topic_management),
            ),
            (&OPTIONS.kafka_topic_meter, Some(&*self.kafka_topic_meter)),
            (&OPTIONS.kafka_topic_log, Some(&*self.kafka_topic_log)),
        ];
        for (option, name) in names {
            if let Some(name) = name
                && !parse::is_topic_name(name)
            {
                return Err(Error::Config {
                    variable: option.name(),
                    value: name.to_owned(),
                    expected: "a Kafka topic name: letters, digits, '.', '_' and '-', at most 249",
                });
            }
        }
        Ok(())
    }

    /// Whether the reporter uses TLS: enabled explicitly, or implied by a CA path or a
    /// client certificate.
    #[cfg_attr(not(feature = "grpc"), allow(dead_code))]
    pub(crate) fn tls_enabled(&self) -> bool {
        self.tls_enable || self.tls_ca_path.is_some() || self.tls_client_cert_path.is_some()
    }

    /// The correlation limits (`SW_AGENT_CORRELATION_MAX_KEY_COUNT` / `_MAX_VALUE_SIZE`).
    pub fn correlation_limits(&self) -> CorrelationLimits {
        CorrelationLimits::new(self.correlation_max_keys, self.correlation_max_value_size)
    }
}

#[cfg(test)]
mod tests {
    use super::parse::{Secret, is_host_port};
    use super::*;
    use crate::diag::Level;
    use crate::logs::LogLevel;
    use std::collections::HashMap;
    use std::path::PathBuf;

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
    fn kafka_is_chosen_by_the_python_or_the_go_variable_and_checked_at_start() {
        let config = from(&[
            ("SW_AGENT_PROTOCOL", "Kafka"),
            ("SW_KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9093"),
            ("SW_KAFKA_NAMESPACE", "prod"),
        ])
        .unwrap();
        assert_eq!(config.protocol, parse::Protocol::Kafka);
        assert_eq!(config.kafka_bootstrap_servers(), ["k1:9092", "k2:9093"]);
        assert_eq!(config.kafka_namespace(), Some("prod"));
        let go = from(&[
            ("SW_AGENT_REPORTER_TYPE", "kafka"),
            ("SW_AGENT_REPORTER_KAFKA_BROKERS", "k3:9092"),
            ("SW_AGENT_REPORTER_KAFKA_TOPIC_SEGMENT", "segs"),
        ])
        .unwrap();
        assert_eq!(go.protocol, parse::Protocol::Kafka);
        assert_eq!(go.kafka_bootstrap_servers(), ["k3:9092"]);
        assert_eq!(go.kafka_topic_segment, "segs");
        assert_eq!(from(&[]).unwrap().protocol, parse::Protocol::Grpc);

        let checked = config.validate();
        if cfg!(feature = "kafka") {
            checked.unwrap();
            let bad = from(&[
                ("SW_AGENT_PROTOCOL", "kafka"),
                ("SW_KAFKA_NAMESPACE", "a b"),
            ])
            .unwrap();
            let message = bad.validate().unwrap_err().to_string();
            assert!(message.contains("SW_KAFKA_NAMESPACE"), "{message}");
        } else {
            let message = checked.unwrap_err().to_string();
            assert!(message.contains("SW_AGENT_PROTOCOL"), "{message}");
            assert!(message.contains("`kafka` feature"), "{message}");
        }
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
        assert!(config.trace_ignore_paths.is_empty());
        assert!(config.ignore_suffixes.contains(&".js".to_owned()));
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
        assert_eq!(
            config.authentication.as_ref().map(Secret::as_str),
            Some("s3cret")
        );
        assert_eq!(config.sample_rate, 0.25);
        assert_eq!(config.sample_per_3_secs, 100);
        assert_eq!(config.max_send_queue, 64);
        assert_eq!(config.check_interval, Duration::from_millis(500));
        assert!(config.tls_enable && config.tls_enabled());
        assert_eq!(config.tls_ca_path, Some(PathBuf::from("/ca.pem")));
        assert_eq!(config.tls_client_cert_path, Some(PathBuf::from("/c.pem")));
        assert_eq!(config.tls_client_key_path, Some(PathBuf::from("/k.pem")));
        assert_eq!(config.span_limit, 50);
        assert_eq!(config.trace_ignore_paths, ["/health", "/static/**"]);
        assert_eq!(config.ignore_suffixes, [".png"]);
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
        assert_eq!(
            config.authentication.as_ref().map(Secret::as_str),
            Some("go-token")
        );
        assert_eq!(
            config.tls_client_cert_path,
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
    fn builder_values_out_of_range_are_errors_not_panics_or_huge_allocations() {
        // A queue is allocated whole when the agent starts: a huge bound is refused.
        let mut config = Config {
            max_send_queue: 1_000_000_000,
            ..Config::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("SW_AGENT_REPORTER_MAX_SEND_QUEUE"),
            "{message}"
        );
        config.max_send_queue = parse::MAX_QUEUE_BOUND;
        assert!(config.validate().is_ok());

        // Durations past what `Instant` arithmetic can add are refused by name.
        for (set, name) in [
            (
                (|c: &mut Config| c.check_interval = Duration::MAX) as fn(&mut Config),
                "SW_AGENT_REPORTER_CHECK_INTERVAL",
            ),
            (
                |c: &mut Config| c.cds_interval = Duration::MAX,
                "SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL",
            ),
            (
                |c: &mut Config| c.meter_collect_interval = Duration::MAX,
                "SW_AGENT_METER_COLLECT_INTERVAL",
            ),
            (
                |c: &mut Config| c.flush_interval = Duration::MAX,
                "flush_interval",
            ),
            (
                |c: &mut Config| c.shutdown_timeout = Duration::MAX,
                "shutdown_timeout",
            ),
        ] {
            let mut config = Config::default();
            set(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(message.contains(name), "{name}: {message}");
            assert!(message.contains("999999999 seconds"), "{message}");
        }
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
                "SW_AGENT_REPORTER_MAX_SEND_QUEUE",
                "1000000000",
                "positive integer up to 1000000",
            ),
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
            ("SW_AGENT_PROTOCOL", "http", "grpc or kafka"),
            ("SW_AGENT_REPORTER_TYPE", "pulsar", "grpc or kafka"),
            ("SW_KAFKA_BOOTSTRAP_SERVERS", "kafka", "host:port"),
            ("SW_AGENT_REPORTER_KAFKA_BROKERS", "kafka:x", "host:port"),
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
    fn instance_properties_and_the_cds_period() {
        let config = from(&[
            (
                "SW_AGENT_INSTANCE_PROPERTIES",
                "namespace=shop, pod = checkout-7d9f-x2x4q,node=,expr=a=b",
            ),
            (
                "SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL",
                "0.5",
            ),
        ])
        .unwrap();
        let pairs: Vec<(&str, &str)> = config
            .instance_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("namespace", "shop"),
                ("pod", "checkout-7d9f-x2x4q"),
                ("node", ""),
                ("expr", "a=b")
            ]
        );
        assert_eq!(config.cds_interval, Duration::from_millis(500));
        assert_eq!(Config::default().cds_interval, Duration::from_secs(20));
        // Go's name, and 0 or less for off.
        let off = from(&[("SW_AGENT_REPORTER_GRPC_CDS_FETCH_INTERVAL", "-1")]).unwrap();
        assert_eq!(off.cds_interval, Duration::ZERO);
        for (var, value) in [
            ("SW_AGENT_INSTANCE_PROPERTIES", "namespace"),
            ("SW_AGENT_INSTANCE_PROPERTIES", "=value"),
            (
                "SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL",
                "20s",
            ),
        ] {
            let message = error_of(&[(var, value)]);
            assert!(message.contains(var), "{message}");
        }
    }

    #[test]
    fn variables_lists_every_name_and_alias() {
        assert!(Config::VARIABLES.contains(&"SW_AGENT_NAME"));
        assert!(Config::VARIABLES.contains(&"SW_AGENT_REPORTER_GRPC_BACKEND_SERVICE"));
        assert!(Config::VARIABLES.contains(&"SW_AGENT_INSTANCE_PROPERTIES"));
        assert!(Config::VARIABLES.contains(&"SW_LOG_LEVEL"));
    }

    #[test]
    fn the_doc_table_shows_the_real_defaults_and_each_variable_once() {
        options::check_the_table();
    }

    #[test]
    fn debug_names_every_option_but_not_the_token() {
        let config = Config {
            authentication: Some(Secret::from("s3cret".to_owned())),
            ..Config::default()
        };
        let debug = format!("{config:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("authentication: Some(<set>)"), "{debug}");
        assert!(debug.contains("span_limit: 300"), "{debug}");
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
        let config = Config {
            tls_client_cert_path: Some("/c.pem".into()),
            tls_ca_path: Some("/ca.pem".into()),
            ..Config::default()
        };
        let message = config.validate().unwrap_err().to_string();
        assert!(
            message.contains("SW_AGENT_REPORTER_GRPC_TLS_CLIENT_KEY_PATH"),
            "{message}"
        );

        // TLS with no CA path trusts the system's roots.
        let config = Config {
            tls_enable: true,
            ..Config::default()
        };
        config.validate().unwrap();

        let config = Config {
            backends: vec!["nowhere".into()],
            ..Config::default()
        };
        assert!(config.validate().is_err());
    }
}
