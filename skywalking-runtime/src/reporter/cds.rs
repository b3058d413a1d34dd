//! Dynamic configuration (CDS): OAP's `ConfigurationDiscoveryService` answers, and how
//! they change the running agent.
//!
//! # The exchange
//!
//! The gRPC reporter calls `fetchConfigurations(service, uuid)` on every new connection
//! and then every `SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL` (default 20 s,
//! as the Java agent). OAP answers an empty `Commands` when the UUID sent is the one of
//! the service's current configuration, so an unchanged configuration costs one small
//! call. Otherwise it answers one `ConfigurationDiscoveryCommand` whose arguments are
//! `UUID`, `SerialNumber` and one pair per key configured for the service (PROTOCOL.md
//! sections 1.3 and 1.7; OAP's `configuration-discovery` module reads them from its
//! dynamic configuration, key `configuration-discovery.default.agentConfigurations`).
//!
//! # The keys
//!
//! | key | value | changes |
//! |---|---|---|
//! | `agent.sample_rate` | a number from 0 to 1 (the Go agent's key) | `SW_AGENT_SAMPLE` |
//! | `agent.sample_n_per_3_secs` | an integer, 0 or less for no cap (the Java agent's key) | `SW_AGENT_SAMPLE_N_PER_3_SECS` |
//! | `agent.trace.ignore_path` | a comma-separated list of Ant-style paths (Java) | `SW_AGENT_TRACE_IGNORE_PATH` |
//! | `agent.ignore_suffix` | a comma-separated list of suffixes (Java) | `SW_AGENT_IGNORE_SUFFIX` |
//! | `agent.span_limit_per_segment` | a positive integer (Java) | `SW_AGENT_SPAN_LIMIT` |
//!
//! # The rules (those of the Java agent's `ConfigurationDiscoveryService`)
//!
//! - An answer with the UUID already applied changes nothing.
//! - A key with a good value replaces the current one; a bad value is logged (warn) and
//!   the current value kept; the other keys of the answer still apply.
//! - A key the answer leaves out goes back to the value configured locally (environment
//!   or builder), as Java's watchers receive a `DELETE` event.
//! - Unknown keys are ignored (logged at debug level: other agents' keys are normal).
//!
//! # The hot path
//!
//! Nothing new is read per span: the sampler's rate and cap are the atomics it already
//! reads once per new trace, the span limit the atomic read once per segment, and the
//! ignore rules are swapped whole (one `Arc`) in the slot the integrations already read
//! once per request, so a request sees the old rules or the new ones, never a mix.

use std::time::{Duration, Instant};

use skywalking_proto::v3::{Commands, ConfigurationSyncRequest, KeyStringValuePair};

use crate::config::{self, Config};
use crate::diag::diag;
use crate::settings::{self, IgnoreRules};
use crate::trace::sampling;

/// The command OAP answers with (`ConfigurationDiscoveryCommand.NAME`).
pub(crate) const COMMAND: &str = "ConfigurationDiscoveryCommand";
/// The argument holding the configuration's UUID.
const UUID: &str = "UUID";
/// The argument holding the command's serial number (not used).
const SERIAL_NUMBER: &str = "SerialNumber";

/// The sampling rate, `0..=1` (the Go agent's key).
pub(crate) const SAMPLE_RATE: &str = "agent.sample_rate";
/// Traces per 3 seconds (the Java agent's key).
pub(crate) const SAMPLE_N_PER_3_SECS: &str = "agent.sample_n_per_3_secs";
/// Ant-style ignored paths (the Java trace-ignore plugin's key).
pub(crate) const IGNORE_PATH: &str = "agent.trace.ignore_path";
/// Ignored suffixes (the Java agent's key).
pub(crate) const IGNORE_SUFFIX: &str = "agent.ignore_suffix";
/// Spans per segment (the Java agent's key).
pub(crate) const SPAN_LIMIT: &str = "agent.span_limit_per_segment";

/// The settings dynamic configuration can change.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Values {
    sample_rate: f64,
    sample_per_3_secs: u32,
    ignore_paths: Vec<String>,
    ignore_suffixes: Vec<String>,
    span_limit: usize,
}

impl Values {
    fn from_config(config: &Config) -> Values {
        Values {
            sample_rate: config.sample_rate,
            sample_per_3_secs: config.sample_per_3_secs,
            ignore_paths: config.trace_ignore_paths.clone(),
            ignore_suffixes: config.ignore_suffixes.clone(),
            span_limit: config.span_limit,
        }
    }
}

/// What an answer did to one key, for the log.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Note {
    /// A new value.
    Set { key: &'static str, value: String },
    /// Left out of the answer: back to the local value.
    Reverted { key: &'static str, value: String },
    /// A value that does not parse: the current one is kept.
    Bad {
        key: &'static str,
        value: String,
        expected: &'static str,
        kept: String,
    },
    /// A key this agent does not know.
    Unknown { key: String },
}

/// One key: its name, its accepted form, and how it reads and writes [`Values`].
struct Key {
    name: &'static str,
    expected: &'static str,
    /// Parses a value into `values`; false if it does not parse.
    parse: fn(&str, &mut Values) -> bool,
    /// Copies the key's value from the first `Values` into the second.
    copy: fn(&Values, &mut Values),
    /// The key's value, for the log.
    show: fn(&Values) -> String,
}

const KEYS: [Key; 5] = [
    Key {
        name: SAMPLE_RATE,
        expected: "a number from 0 to 1",
        parse: |v, values| {
            config::rate(v)
                .map(|rate| values.sample_rate = rate)
                .is_some()
        },
        copy: |from, to| to.sample_rate = from.sample_rate,
        show: |values| values.sample_rate.to_string(),
    },
    Key {
        name: SAMPLE_N_PER_3_SECS,
        expected: "an integer (0 or less: no cap)",
        parse: |v, values| {
            config::per_3_secs(v)
                .map(|n| values.sample_per_3_secs = n)
                .is_some()
        },
        copy: |from, to| to.sample_per_3_secs = from.sample_per_3_secs,
        show: |values| values.sample_per_3_secs.to_string(),
    },
    Key {
        name: IGNORE_PATH,
        expected: "a comma-separated list",
        parse: |v, values| {
            values.ignore_paths = config::split_list(v);
            true
        },
        copy: |from, to| to.ignore_paths.clone_from(&from.ignore_paths),
        show: |values| values.ignore_paths.join(","),
    },
    Key {
        name: IGNORE_SUFFIX,
        expected: "a comma-separated list",
        parse: |v, values| {
            values.ignore_suffixes = config::split_list(v);
            true
        },
        copy: |from, to| to.ignore_suffixes.clone_from(&from.ignore_suffixes),
        show: |values| values.ignore_suffixes.join(","),
    },
    Key {
        name: SPAN_LIMIT,
        expected: "a positive integer",
        parse: |v, values| config::positive(v).map(|n| values.span_limit = n).is_some(),
        copy: |from, to| to.span_limit = from.span_limit,
        show: |values| values.span_limit.to_string(),
    },
];

/// The values an answer's arguments ask for, starting from `current`: see the rules in
/// the module docs. Pure: applying them is [`apply`]'s job.
fn resolve(args: &[KeyStringValuePair], current: &Values, local: &Values) -> (Values, Vec<Note>) {
    let mut next = current.clone();
    let mut notes = Vec::new();
    for key in &KEYS {
        match args.iter().rev().find(|pair| pair.key == key.name) {
            Some(pair) => {
                let mut parsed = next.clone();
                if (key.parse)(pair.value.trim(), &mut parsed) {
                    (key.copy)(&parsed, &mut next);
                    if (key.show)(&next) != (key.show)(current) {
                        notes.push(Note::Set {
                            key: key.name,
                            value: (key.show)(&next),
                        });
                    }
                } else {
                    notes.push(Note::Bad {
                        key: key.name,
                        value: pair.value.clone(),
                        expected: key.expected,
                        kept: (key.show)(current),
                    });
                }
            }
            None => {
                (key.copy)(local, &mut next);
                if (key.show)(&next) != (key.show)(current) {
                    notes.push(Note::Reverted {
                        key: key.name,
                        value: (key.show)(&next),
                    });
                }
            }
        }
    }
    for pair in args {
        let known = KEYS.iter().any(|k| k.name == pair.key);
        if !known && pair.key != UUID && pair.key != SERIAL_NUMBER {
            notes.push(Note::Unknown {
                key: pair.key.clone(),
            });
        }
    }
    (next, notes)
}

/// Makes the running agent use `new` where it differs from `old`.
fn apply(old: &Values, new: &Values) {
    if new.sample_rate != old.sample_rate {
        sampling::set_rate(new.sample_rate);
    }
    if new.sample_per_3_secs != old.sample_per_3_secs {
        sampling::set_cap(new.sample_per_3_secs);
    }
    if new.ignore_paths != old.ignore_paths || new.ignore_suffixes != old.ignore_suffixes {
        settings::replace_ignore_rules(IgnoreRules {
            paths: new.ignore_paths.clone(),
            suffixes: new.ignore_suffixes.clone(),
        });
    }
    if new.span_limit != old.span_limit {
        settings::set_span_limit(new.span_limit);
    }
}

fn log(note: &Note) {
    match note {
        Note::Set { key, value } => {
            diag!(Info, "dynamic configuration from OAP: {key} = {value:?}");
        }
        Note::Reverted { key, value } => diag!(
            Info,
            "dynamic configuration from OAP: {key} removed, back to the local value {value:?}"
        ),
        Note::Bad {
            key,
            value,
            expected,
            kept,
        } => diag!(
            Warn,
            "dynamic configuration from OAP: {key} = {value:?} ignored (expected {expected}); \
             keeping {kept:?}"
        ),
        Note::Unknown { key } => {
            diag!(
                Debug,
                "dynamic configuration from OAP: unknown key {key:?} ignored"
            );
        }
    }
}

/// The reporter's dynamic configuration state.
#[derive(Debug)]
pub(crate) struct Poller {
    interval: Duration,
    next: Instant,
    service: String,
    /// The UUID of the last configuration applied.
    uuid: Option<String>,
    /// The values configured locally (what a key left out goes back to).
    local: Values,
    /// The values in force.
    current: Values,
}

impl Poller {
    /// Polls every `SW_AGENT_COLLECTOR_GET_AGENT_DYNAMIC_CONFIG_INTERVAL` for `service`.
    pub(crate) fn new(config: &Config, service: String) -> Poller {
        let local = Values::from_config(config);
        Poller {
            interval: config.cds_interval,
            next: Instant::now(),
            service,
            uuid: None,
            current: local.clone(),
            local,
        }
    }

    /// Asks at the next turn (a new connection).
    pub(crate) fn due_now(&mut self) {
        self.next = Instant::now();
    }

    /// Whether a fetch is due at `now`.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        now >= self.next
    }

    /// A fetch was made at `now` (answered or not): the next one is a period later.
    pub(crate) fn fetched(&mut self, now: Instant) {
        self.next = now + self.interval;
    }

    /// The request: the service and the UUID of the configuration in force.
    pub(crate) fn request(&self) -> ConfigurationSyncRequest {
        ConfigurationSyncRequest {
            service: self.service.clone(),
            uuid: self.uuid.clone().unwrap_or_default(),
        }
    }

    /// Applies OAP's answer (see the rules in the module docs).
    pub(crate) fn handle(&mut self, answer: &Commands) {
        if let Some((next, uuid, notes)) = self.resolve(answer) {
            notes.iter().for_each(log);
            apply(&self.current, &next);
            self.accept(next, uuid);
        }
    }

    /// What `answer` asks for: the values, their UUID and the notes to log; `None` when
    /// it changes nothing (no command, or the UUID in force).
    fn resolve(&self, answer: &Commands) -> Option<(Values, Option<String>, Vec<Note>)> {
        let command = answer
            .commands
            .iter()
            .rev()
            .find(|c| c.command == COMMAND)?;
        let uuid = command
            .args
            .iter()
            .find(|pair| pair.key == UUID)
            .map(|pair| pair.value.clone());
        if uuid.is_some() && uuid == self.uuid {
            return None;
        }
        let (next, notes) = resolve(&command.args, &self.current, &self.local);
        Some((next, uuid, notes))
    }

    fn accept(&mut self, values: Values, uuid: Option<String>) {
        self.current = values;
        self.uuid = uuid;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<KeyStringValuePair> {
        list.iter()
            .map(|(key, value)| KeyStringValuePair {
                key: (*key).to_owned(),
                value: (*value).to_owned(),
            })
            .collect()
    }

    fn local() -> Values {
        Values::from_config(&Config {
            sample_rate: 0.5,
            sample_per_3_secs: 0,
            trace_ignore_paths: vec!["/health".to_owned()],
            ..Config::default()
        })
    }

    #[test]
    fn good_values_apply_and_unknown_keys_are_noted() {
        let local = local();
        let (next, notes) = resolve(
            &pairs(&[
                (UUID, "u1"),
                (SERIAL_NUMBER, "7"),
                (SAMPLE_RATE, " 0.25 "),
                (SAMPLE_N_PER_3_SECS, "-1"),
                (IGNORE_PATH, "/static/**, /ping"),
                (SPAN_LIMIT, "50"),
                ("plugin.jdbc.trace_sql_parameters", "true"),
            ]),
            &local,
            &local,
        );
        assert_eq!(next.sample_rate, 0.25);
        assert_eq!(next.sample_per_3_secs, 0);
        assert_eq!(next.ignore_paths, ["/static/**", "/ping"]);
        assert_eq!(next.ignore_suffixes, local.ignore_suffixes);
        assert_eq!(next.span_limit, 50);
        assert!(notes.contains(&Note::Set {
            key: SAMPLE_RATE,
            value: "0.25".to_owned()
        }));
        assert!(
            !notes
                .iter()
                .any(|n| matches!(n, Note::Set { key, .. } if *key == SAMPLE_N_PER_3_SECS)),
            "an unchanged value is not noted: {notes:?}"
        );
        assert!(notes.contains(&Note::Unknown {
            key: "plugin.jdbc.trace_sql_parameters".to_owned()
        }));
        assert!(
            !notes
                .iter()
                .any(|n| matches!(n, Note::Unknown { key } if key == UUID))
        );
    }

    #[test]
    fn a_bad_value_keeps_the_current_one_and_the_others_still_apply() {
        let local = local();
        let current = Values {
            sample_rate: 0.1,
            ..local.clone()
        };
        for bad in ["2", "-0.1", "half", "NaN", ""] {
            let (next, notes) = resolve(
                &pairs(&[(SAMPLE_RATE, bad), (IGNORE_PATH, "/x")]),
                &current,
                &local,
            );
            assert_eq!(next.sample_rate, 0.1, "{bad}");
            assert_eq!(next.ignore_paths, ["/x"]);
            assert!(
                notes
                    .iter()
                    .any(|n| matches!(n, Note::Bad { key, kept, .. } if *key == SAMPLE_RATE && kept == "0.1")),
                "{notes:?}"
            );
        }
        let (next, _) = resolve(&pairs(&[(SPAN_LIMIT, "0")]), &local, &local);
        assert_eq!(next.span_limit, local.span_limit);
    }

    #[test]
    fn a_key_left_out_goes_back_to_the_local_value() {
        let local = local();
        let current = Values {
            sample_rate: 0.0,
            ignore_paths: vec!["/x".to_owned()],
            ..local.clone()
        };
        let (next, notes) = resolve(&pairs(&[(UUID, "u2")]), &current, &local);
        assert_eq!(next, local);
        assert!(notes.contains(&Note::Reverted {
            key: SAMPLE_RATE,
            value: "0.5".to_owned()
        }));
        assert!(notes.contains(&Note::Reverted {
            key: IGNORE_PATH,
            value: "/health".to_owned()
        }));
    }

    #[test]
    fn the_request_carries_the_last_uuid_and_a_repeated_uuid_changes_nothing() {
        let config = Config {
            cds_interval: Duration::from_secs(20),
            ..Config::default()
        };
        let mut poller = Poller::new(&config, "svc".to_owned());
        assert_eq!(poller.request().uuid, "");
        assert_eq!(poller.request().service, "svc");
        let command = |uuid: &str, limit: &str| Commands {
            commands: vec![skywalking_proto::v3::Command {
                command: COMMAND.to_owned(),
                args: pairs(&[(UUID, uuid), (SPAN_LIMIT, limit)]),
            }],
        };
        // The pure part only: `handle` would change the process's settings.
        let (values, uuid, _) = poller.resolve(&command("u1", "301")).expect("a change");
        assert_eq!(values.span_limit, 301);
        poller.accept(values, uuid);
        assert_eq!(poller.request().uuid, "u1");
        assert!(
            poller.resolve(&command("u1", "302")).is_none(),
            "same UUID: nothing changes"
        );
        assert!(poller.resolve(&Commands::default()).is_none());
        let (values, _, notes) = poller.resolve(&command("u2", "300")).expect("a change");
        assert_eq!(values.span_limit, 300);
        assert_eq!(
            notes,
            [Note::Set {
                key: SPAN_LIMIT,
                value: "300".to_owned()
            }]
        );

        let now = Instant::now();
        assert!(poller.is_due(now));
        poller.fetched(now);
        assert!(!poller.is_due(now + Duration::from_secs(19)));
        assert!(poller.is_due(now + Duration::from_secs(20)));
    }
}
