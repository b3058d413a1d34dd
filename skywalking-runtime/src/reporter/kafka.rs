//! The Kafka sink (`SW_AGENT_PROTOCOL=kafka`, feature `kafka`): what the gRPC sink sends
//! to OAP, written to the topics OAP's `kafka-fetcher` reads instead (PROTOCOL.md
//! section 6), through [rskafka](https://docs.rs/rskafka) (pure Rust), on the reporter
//! thread's own small `current_thread` tokio runtime.
//!
//! | data | topic (default) | record key | record value |
//! |---|---|---|---|
//! | segments | `skywalking-segments` | the segment id | `SegmentObject` |
//! | instance properties | `skywalking-managements` | `register-<instance>` | `InstanceProperties` |
//! | heartbeats | `skywalking-managements` | the instance | `InstancePingPkg` |
//! | meters | `skywalking-meters` | the instance | `MeterDataCollection` |
//! | logs | `skywalking-logs` | the service | `LogData` |
//!
//! With a namespace (`SW_KAFKA_NAMESPACE`, OAP's `SW_NAMESPACE`) every topic is
//! `<namespace>-<topic>`, as the Java agent and OAP's `AbstractKafkaHandler` name them.
//!
//! - **Batching**: each batch the worker hands over (up to 512 segments or log records)
//!   becomes one produce request per [`MAX_REQUEST_BYTES`] of records, each to the next
//!   partition of the topic in turn, sent concurrently. Keys do not choose partitions:
//!   OAP reads every partition and keeps no state per key.
//! - **Counting**: a record counts as sent once the broker acknowledged it (rskafka
//!   asks for `acks=all`: every in-sync replica has it; the Go agent's default is `acks=1`,
//!   the leader only); the records of a failed request count as
//!   dropped.
//! - **Connection**: made lazily by the reporter thread, never by `init()`: the cluster's
//!   metadata from the bootstrap brokers, then a client per partition. The segment and
//!   management topics must exist (OAP's fetcher creates them at its start); until they
//!   do the sink is not ready and segments wait in the bounded queue. A missing meter or
//!   log topic drops (and counts) those records. After any failure the next attempt waits
//!   the same jittered backoff as gRPC (100 ms doubling to 5 s), and a new connection
//!   reads the metadata again, so a restarted broker (or a recreated topic) is picked up.
//! - **Heartbeat**: an `InstancePingPkg` every check interval, preceded by the instance
//!   properties on every new connection and then every [`PROPERTIES_EVERY`] heartbeats,
//!   as over gRPC.
//!
//! Every request has a timeout ([`CALL_TIMEOUT`], or less when a flush deadline is
//! nearer), and rskafka's own retries stop after [`RETRY_DEADLINE`], so the thread never
//! hangs on a broker that stopped answering.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use rskafka::BackoffConfig;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{Compression, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use rskafka::record::Record;
use skywalking_proto::v3::MeterData;

use super::backoff::{self, Backoff};
use super::encode::Identity;
use super::encode_logs;
use super::management::{self, PROPERTIES_EVERY};
use super::runtime::SinkRuntime;
use super::wire;
use super::worker::Sink;
use crate::config::Config;
use crate::diag::diag;
use crate::logs::LogItem;
use crate::meter;
use crate::record::SegmentRecord;
use crate::stats;

/// Longest wait for one produce round (all its requests).
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the metadata and partition leaders of a new connection.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long rskafka keeps retrying a request on its own before it reports the error.
pub(crate) const RETRY_DEADLINE: Duration = Duration::from_millis(500);
/// The most record bytes in one produce request: Kafka's default `message.max.bytes`
/// (1 MiB) less room for the batch's own framing.
pub(crate) const MAX_REQUEST_BYTES: usize = 1_000_000;
/// The client id brokers see.
const CLIENT_ID: &str = concat!("skywalking-rust-agent/", env!("CARGO_PKG_VERSION"));
/// The prefix of the key of an instance-properties record (OAP's
/// `ServiceManagementHandler` tells properties from pings by it).
pub(crate) const REGISTER_PREFIX: &str = "register-";

/// The four topics, namespaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Topics {
    pub(crate) segments: String,
    pub(crate) management: String,
    pub(crate) meters: String,
    pub(crate) logs: String,
}

impl Topics {
    /// The configured topics, each `<namespace>-<topic>` when a namespace is set.
    pub(crate) fn from_config(config: &Config) -> Topics {
        let name = |topic: &str| match &config.kafka_namespace {
            Some(namespace) => format!("{namespace}-{topic}"),
            None => topic.to_owned(),
        };
        Topics {
            segments: name(&config.kafka_topic_segment),
            management: name(&config.kafka_topic_management),
            meters: name(&config.kafka_topic_meter),
            logs: name(&config.kafka_topic_log),
        }
    }

    fn all(&self) -> [&str; 4] {
        [&self.segments, &self.management, &self.meters, &self.logs]
    }
}

/// Which topic a batch goes to (the index into [`Topics::all`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Topic {
    Segments = 0,
    Management = 1,
    Meters = 2,
    Logs = 3,
}

/// The partitions of one topic, and the next one to write to.
type Partitions = RoundRobin<Arc<PartitionClient>>;

/// Items taken in turn.
struct RoundRobin<T> {
    clients: Vec<T>,
    next: usize,
}

impl<T> Default for RoundRobin<T> {
    fn default() -> Self {
        RoundRobin {
            clients: Vec::new(),
            next: 0,
        }
    }
}

impl<T: Clone> RoundRobin<T> {
    fn take_next(&mut self) -> Option<T> {
        if self.clients.is_empty() {
            return None;
        }
        let client = self.clients[self.next % self.clients.len()].clone();
        self.next = self.next.wrapping_add(1);
        Some(client)
    }
}

/// An established connection: the client and every partition of the topics found.
struct Connection {
    /// Kept for the connections the partition clients share.
    _client: Client,
    topics: [Partitions; 4],
}

/// What went wrong, for logging it once per episode.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Trouble {
    /// No connection, or it broke.
    Unreachable,
    /// The segment or management topic does not exist.
    MissingTopic,
    /// A broker answered a produce request with an error (a topic deleted, a leader
    /// moved): read the metadata again.
    Rejected,
    /// A broker refused records as too large: they are dropped, the connection kept.
    TooLarge,
}

/// The trouble a produce error means.
fn classify(error: &ClientError) -> Trouble {
    match error {
        ClientError::ServerError {
            protocol_error:
                ProtocolError::MessageTooLarge
                | ProtocolError::RecordListTooLarge
                | ProtocolError::InvalidRecord
                | ProtocolError::CorruptMessage,
            ..
        } => Trouble::TooLarge,
        ClientError::ServerError { .. } | ClientError::InvalidResponse(_) => Trouble::Rejected,
        _ => Trouble::Unreachable,
    }
}

pub(crate) struct KafkaSink {
    runtime: SinkRuntime,
    brokers: Vec<String>,
    topics: Topics,
    connection: Option<Connection>,
    connected_before: bool,
    backoff: Backoff,
    retry_at: Option<Instant>,
    identity: Identity,
    /// The encoded size of the last segment batch, to size the next buffer.
    last_batch_bytes: usize,
    check_interval: Duration,
    next_heartbeat: Instant,
    heartbeats_since_properties: u32,
    properties_due: bool,
    trouble: Option<Trouble>,
    /// Topics found missing (meters, logs), warned about once per connection.
    warned_missing: [bool; 4],
}

impl std::fmt::Debug for KafkaSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSink")
            .field("brokers", &self.brokers)
            .field("topics", &self.topics)
            .field("connected", &self.connection.is_some())
            .finish_non_exhaustive()
    }
}

impl KafkaSink {
    /// Takes the configuration; connects nothing.
    pub(crate) fn new(config: &Config, identity: Identity) -> KafkaSink {
        KafkaSink {
            runtime: SinkRuntime::default(),
            brokers: config.kafka_bootstrap_servers.clone(),
            topics: Topics::from_config(config),
            connection: None,
            connected_before: false,
            backoff: Backoff::new(),
            retry_at: None,
            identity,
            last_batch_bytes: 0,
            check_interval: config.check_interval,
            next_heartbeat: Instant::now(),
            heartbeats_since_properties: 0,
            properties_due: true,
            trouble: None,
            warned_missing: [false; 4],
        }
    }

    /// Reads the cluster's metadata and opens a client per partition of each topic.
    fn connect(&mut self, deadline: Option<Instant>) -> bool {
        let brokers = self.brokers.clone();
        let topics = self.topics.clone();
        let result = self
            .runtime
            .block_on(CONNECT_TIMEOUT, deadline, async move {
                let client = ClientBuilder::new(brokers)
                    .client_id(CLIENT_ID)
                    .backoff_config(BackoffConfig {
                        init_backoff: Duration::from_millis(50),
                        max_backoff: Duration::from_millis(500),
                        base: 2.0,
                        deadline: Some(RETRY_DEADLINE),
                    })
                    .build()
                    .await
                    .map_err(|e| e.to_string())?;
                let listed = client.list_topics().await.map_err(|e| e.to_string())?;
                let mut found: [Partitions; 4] = Default::default();
                for (slot, name) in found.iter_mut().zip(topics.all()) {
                    let Some(topic) = listed.iter().find(|t| t.name == name) else {
                        continue;
                    };
                    let mut ids: Vec<i32> = topic.partitions.iter().copied().collect();
                    ids.sort_unstable();
                    for id in ids {
                        let partition = client
                            .partition_client(name, id, UnknownTopicHandling::Error)
                            .await
                            .map_err(|e| format!("{name}/{id}: {e}"))?;
                        slot.clients.push(Arc::new(partition));
                    }
                }
                Ok::<_, String>(Connection {
                    _client: client,
                    topics: found,
                })
            });
        let connection = match result {
            Some(Ok(connection)) => connection,
            Some(Err(e)) => return self.failed(Trouble::Unreachable, &e),
            None => return self.failed(Trouble::Unreachable, "timed out"),
        };
        let missing: Vec<&str> = [Topic::Segments, Topic::Management]
            .into_iter()
            .filter(|t| connection.topics[*t as usize].clients.is_empty())
            .map(|t| self.topics.all()[t as usize])
            .collect();
        if !missing.is_empty() {
            let reason = format!(
                "topic {} missing (OAP's kafka-fetcher creates its topics when it starts; \
                 check SW_KAFKA_NAMESPACE against OAP's SW_NAMESPACE)",
                missing.join(" and ")
            );
            return self.failed(Trouble::MissingTopic, &reason);
        }
        self.on_connected(connection);
        true
    }

    fn on_connected(&mut self, connection: Connection) {
        self.connection = Some(connection);
        self.retry_at = None;
        self.backoff.reset();
        self.properties_due = true;
        self.next_heartbeat = Instant::now();
        self.warned_missing = [false; 4];
        let brokers = self.brokers.join(",");
        if self.trouble.take().is_some() {
            if self.connected_before {
                stats::reconnect();
                diag!(Warn, "reconnected to the Kafka brokers {brokers}");
            } else {
                diag!(
                    Warn,
                    "connected to the Kafka brokers {brokers}, unreachable until now"
                );
            }
        } else if self.connected_before {
            stats::reconnect();
        }
        self.connected_before = true;
    }

    /// Records a failure: drops the connection, backs off, logs once per episode.
    /// Returns false, for the callers' convenience.
    fn failed(&mut self, trouble: Trouble, reason: &str) -> bool {
        stats::send_error();
        self.connection = None;
        self.retry_at = Some(Instant::now() + self.backoff.next_wait());
        if self.trouble != Some(trouble) {
            self.trouble = Some(trouble);
            let brokers = self.brokers.join(",");
            match trouble {
                Trouble::Unreachable => diag!(
                    Warn,
                    "cannot reach the Kafka brokers {brokers}: {reason}; retrying every {:?} to \
                     {:?} (jittered backoff); segments wait in the queue and are dropped \
                     (counted in stats()) when it is full",
                    backoff::MIN,
                    backoff::MAX,
                ),
                Trouble::MissingTopic => diag!(
                    Warn,
                    "Kafka at {brokers}: {reason}; segments wait in the queue and are dropped \
                     (counted in stats()) when it is full"
                ),
                Trouble::Rejected | Trouble::TooLarge => diag!(
                    Warn,
                    "Kafka at {brokers} failed a produce request: {reason}; reconnecting with \
                     backoff, the request's records are dropped (counted in stats())"
                ),
            }
        }
        false
    }

    /// Produces `records` to `topic`: one request per
    /// [`MAX_REQUEST_BYTES`], each to the next partition, all at once. Returns how many
    /// records the brokers acknowledged; a failure drops the connection.
    fn produce(
        &mut self,
        topic: Topic,
        records: Vec<Record>,
        deadline: Option<Instant>,
        what: &str,
    ) -> usize {
        let Some(connection) = self.connection.as_mut() else {
            return 0;
        };
        let partitions = &mut connection.topics[topic as usize];
        let mut requests: Vec<(Arc<PartitionClient>, Vec<Record>)> = Vec::new();
        let mut chunk: Vec<Record> = Vec::new();
        let mut chunk_bytes = 0;
        for record in records {
            let size = record.approximate_size() + 32;
            if !chunk.is_empty() && chunk_bytes + size > MAX_REQUEST_BYTES {
                match partitions.take_next() {
                    Some(partition) => requests.push((partition, std::mem::take(&mut chunk))),
                    None => break,
                }
                chunk_bytes = 0;
            }
            chunk_bytes += size;
            chunk.push(record);
        }
        if !chunk.is_empty()
            && let Some(partition) = partitions.take_next()
        {
            requests.push((partition, chunk));
        }
        if requests.is_empty() {
            self.missing_topic(topic);
            return 0;
        }
        let result = self.runtime.block_on(CALL_TIMEOUT, deadline, async move {
            let mut set = tokio::task::JoinSet::new();
            for (partition, records) in requests {
                set.spawn(async move {
                    let n = records.len();
                    partition
                        .produce(records, Compression::NoCompression)
                        .await
                        .map(|_| n)
                        .map_err(|e| {
                            let text =
                                format!("{}/{}: {e}", partition.topic(), partition.partition());
                            (classify(&e), text)
                        })
                });
            }
            let mut acked = 0;
            let mut error = None;
            while let Some(joined) = set.join_next().await {
                match joined {
                    Ok(Ok(n)) => acked += n,
                    Ok(Err(e)) => error = Some(e),
                    Err(e) => error = Some((Trouble::Rejected, e.to_string())),
                }
            }
            (acked, error)
        });
        match result {
            Some((acked, None)) => {
                if matches!(self.trouble, Some(Trouble::Rejected | Trouble::TooLarge)) {
                    self.trouble = None;
                }
                acked
            }
            Some((acked, Some((Trouble::TooLarge, e)))) => {
                // The connection is fine: only these records are refused.
                stats::send_error();
                if self.trouble != Some(Trouble::TooLarge) {
                    self.trouble = Some(Trouble::TooLarge);
                    diag!(
                        Warn,
                        "Kafka refused {what} as too large ({e}); they are dropped (counted in \
                         stats()): raise the broker's message.max.bytes"
                    );
                }
                acked
            }
            Some((acked, Some((trouble, e)))) => {
                self.failed(trouble, &format!("{what}: {e}"));
                acked
            }
            None => {
                self.failed(Trouble::Unreachable, &format!("{what}: timed out"));
                0
            }
        }
    }

    fn missing_topic(&mut self, topic: Topic) {
        let index = topic as usize;
        if !self.warned_missing[index] {
            self.warned_missing[index] = true;
            diag!(
                Warn,
                "Kafka topic {} is missing: its records are dropped (counted in stats()) until \
                 it exists and the reporter reconnects",
                self.topics.all()[index]
            );
        }
    }

    fn record(&self, key: Vec<u8>, value: Vec<u8>) -> Record {
        record(key, value, crate::clock::now_epoch_ms())
    }

    fn heartbeat(&mut self, deadline: Option<Instant>) {
        if self.connection.is_none() {
            return;
        }
        let instance = self.identity.instance.clone();
        let mut records = Vec::with_capacity(2);
        let with_properties =
            self.properties_due || self.heartbeats_since_properties >= PROPERTIES_EVERY;
        if with_properties {
            let properties = management::instance_properties(&self.identity);
            records.push(self.record(
                format!("{REGISTER_PREFIX}{instance}").into_bytes(),
                properties.encode_to_vec(),
            ));
        }
        let ping = management::ping(&self.identity);
        records.push(self.record(instance.into_bytes(), ping.encode_to_vec()));
        let n = records.len();
        // One request, one partition: the properties land before the ping.
        if self.produce(Topic::Management, records, deadline, "a heartbeat") == n {
            if with_properties {
                self.properties_due = false;
                self.heartbeats_since_properties = 0;
            }
            self.heartbeats_since_properties += 1;
        }
    }

    fn heartbeat_if_due(&mut self, deadline: Option<Instant>) {
        let now = Instant::now();
        if self.connection.is_none() || now < self.next_heartbeat {
            return;
        }
        self.next_heartbeat = now + self.check_interval;
        self.heartbeat(deadline);
    }
}

/// A record with `key` and `value`, stamped `epoch_ms`.
fn record(key: Vec<u8>, value: Vec<u8>, epoch_ms: i64) -> Record {
    Record {
        key: Some(key),
        value: Some(value),
        headers: Default::default(),
        timestamp: chrono::DateTime::from_timestamp_millis(epoch_ms).unwrap_or_default(),
    }
}

impl Sink for KafkaSink {
    fn ready(&mut self, force: bool, deadline: Option<Instant>) -> Result<(), Instant> {
        if let Some(at) = self.retry_at
            && !force
            && Instant::now() < at
        {
            return Err(at);
        }
        if self.connection.is_some() || self.connect(deadline) {
            Ok(())
        } else {
            Err(self.retry_at.unwrap_or_else(Instant::now))
        }
    }

    #[allow(clippy::vec_box)]
    fn send(&mut self, batch: &mut Vec<Box<SegmentRecord>>, deadline: Option<Instant>) {
        let n = batch.len();
        if self.connection.is_none() {
            stats::segments_undelivered(n as u64);
            return;
        }
        let now = crate::clock::now_epoch_ms();
        let average = self.last_batch_bytes / n.max(1);
        let mut total = 0;
        let records: Vec<Record> = batch
            .iter_mut()
            .map(|segment| {
                let mut value = Vec::with_capacity(average + average / 8);
                wire::encode_segment(segment, &self.identity, &mut value);
                total += value.len();
                record(segment.segment_id.to_string().into_bytes(), value, now)
            })
            .collect();
        self.last_batch_bytes = total;
        let sent = self.produce(Topic::Segments, records, deadline, "segments");
        stats::segments_sent(sent as u64);
        stats::segments_undelivered((n - sent) as u64);
    }

    fn send_logs(&mut self, batch: &[Box<LogItem>], deadline: Option<Instant>) {
        let n = batch.len();
        let now = crate::clock::now_epoch_ms();
        let key = self.identity.service.as_bytes();
        let records: Vec<Record> = batch
            .iter()
            .map(|item| {
                let value = encode_logs::log(item, &self.identity).encode_to_vec();
                record(key.to_vec(), value, now)
            })
            .collect();
        let sent = self.produce(Topic::Logs, records, deadline, "logs");
        stats::logs_sent(sent as u64);
        stats::logs_undelivered((n - sent) as u64);
    }

    fn send_meters(&mut self, data: Vec<MeterData>, deadline: Option<Instant>) {
        let n = data.len() as u64;
        let now = crate::clock::now_epoch_ms();
        let batches = meter::batches(data, &self.identity.service, &self.identity.instance, now);
        let key = self.identity.instance.as_bytes();
        let records: Vec<Record> = batches
            .iter()
            .map(|batch| record(key.to_vec(), batch.encode_to_vec(), now))
            .collect();
        let count = records.len();
        if self.produce(Topic::Meters, records, deadline, "meters") == count {
            stats::meters_sent(n);
        } else {
            stats::meters_dropped(n);
        }
    }

    fn tick(&mut self) {
        self.heartbeat_if_due(None);
    }

    fn flush(&mut self, deadline: Instant) {
        // A short-lived program may end before the first turn's heartbeat: introduce the
        // instance anyway.
        self.heartbeat_if_due(Some(deadline));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_take_the_namespace_as_a_prefix() {
        let mut config = Config::default();
        assert_eq!(
            Topics::from_config(&config).all(),
            [
                "skywalking-segments",
                "skywalking-managements",
                "skywalking-meters",
                "skywalking-logs"
            ]
        );
        config.kafka_namespace = Some("prod".to_owned());
        config.kafka_topic_log = "logs".to_owned();
        let topics = Topics::from_config(&config);
        assert_eq!(topics.segments, "prod-skywalking-segments");
        assert_eq!(topics.logs, "prod-logs");
    }

    #[test]
    fn records_carry_key_value_and_time() {
        let r = record(b"k".to_vec(), b"v".to_vec(), 1_700_000_000_123);
        assert_eq!(r.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(r.value.as_deref(), Some(&b"v"[..]));
        assert_eq!(r.timestamp.timestamp_millis(), 1_700_000_000_123);
    }

    #[test]
    fn errors_are_told_apart() {
        let server = |protocol_error| ClientError::ServerError {
            protocol_error,
            error_message: None,
            request: rskafka::client::error::RequestContext::Topic("t".to_owned()),
            response: None,
            is_virtual: false,
        };
        assert_eq!(
            classify(&server(ProtocolError::MessageTooLarge)),
            Trouble::TooLarge
        );
        assert_eq!(
            classify(&server(ProtocolError::UnknownTopicOrPartition)),
            Trouble::Rejected
        );
        assert_eq!(classify(&ClientError::Timeout), Trouble::Unreachable);
    }

    #[test]
    fn partitions_are_taken_in_turn() {
        let mut none = RoundRobin::<u8>::default();
        assert!(none.take_next().is_none());
        let mut three = RoundRobin {
            clients: vec![0, 1, 2],
            next: 0,
        };
        let taken: Vec<u8> = (0..7).filter_map(|_| three.take_next()).collect();
        assert_eq!(taken, [0, 1, 2, 0, 1, 2, 0]);
    }
}
