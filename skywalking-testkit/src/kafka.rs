//! Reading what an agent wrote to Kafka, as OAP's `kafka-fetcher` would (feature
//! `kafka`): the topics, record keys and values of PROTOCOL.md section 6.
//!
//! | topic (default) | key | value |
//! |---|---|---|
//! | `skywalking-segments` | the segment id | `SegmentObject` |
//! | `skywalking-managements` | `register-<instance>`: properties; else: a ping | `InstanceProperties` / `InstancePingPkg` |
//! | `skywalking-meters` | the instance | `MeterDataCollection` |
//! | `skywalking-logs` | the service | `LogData` |
//!
//! With a namespace every topic is `<namespace>-<topic>`.
//!
//! [`KafkaConsumer`] reads every partition of the four topics from their start and
//! decodes each record ([`decode`]); [`create_topics`] creates them the way OAP's fetcher
//! does when it starts (3 partitions by default). Used by the `sw-collector --kafka` mode
//! and by tests:
//!
//! ```no_run
//! # async fn demo() -> Result<(), skywalking_testkit::kafka::KafkaError> {
//! use skywalking_testkit::kafka::{KafkaConsumer, Topics, create_topics};
//! let topics = Topics::new(None);
//! create_topics("127.0.0.1:9092", &topics, 3).await?;
//! let mut consumer = KafkaConsumer::connect("127.0.0.1:9092", topics).await?;
//! let consumed = consumer.poll().await?;
//! println!("{} segments", consumed.segments.len());
//! # Ok(())
//! # }
//! # let _ = demo;
//! ```

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use prost::Message;
use rskafka::client::error::{Error as ClientError, ProtocolError};
use rskafka::client::partition::{OffsetAt, PartitionClient, UnknownTopicHandling};
use rskafka::client::{Client, ClientBuilder};
use skywalking_proto::v3::{
    InstancePingPkg, InstanceProperties, LogData, MeterDataCollection, SegmentObject,
};

use crate::Records;

/// OAP's default topic of segments.
pub const SEGMENTS: &str = "skywalking-segments";
/// OAP's default topic of instance properties and pings.
pub const MANAGEMENTS: &str = "skywalking-managements";
/// OAP's default topic of meters.
pub const METERS: &str = "skywalking-meters";
/// OAP's default topic of log records.
pub const LOGS: &str = "skywalking-logs";
/// The key prefix that marks an instance-properties record on the management topic.
pub const REGISTER_PREFIX: &str = "register-";
/// OAP's `kafka-fetcher` default number of partitions per topic.
pub const OAP_PARTITIONS: i32 = 3;

/// Why reading Kafka failed.
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    /// The client's error (connection, protocol).
    #[error("kafka: {0}")]
    Client(#[from] ClientError),
    /// Nothing answered in time.
    #[error("kafka: no answer within {0:?}")]
    Timeout(Duration),
}

/// Which of the four topics a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// Segments.
    Segments,
    /// Instance properties and pings.
    Management,
    /// Meters.
    Meters,
    /// Log records.
    Logs,
}

/// The names of the four topics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topics {
    /// Segments.
    pub segments: String,
    /// Instance properties and pings.
    pub management: String,
    /// Meters.
    pub meters: String,
    /// Log records.
    pub logs: String,
}

impl Topics {
    /// OAP's default topics, each `<namespace>-<topic>` with a namespace.
    pub fn new(namespace: Option<&str>) -> Topics {
        let name = |topic: &str| match namespace {
            Some(ns) if !ns.is_empty() => format!("{ns}-{topic}"),
            _ => topic.to_owned(),
        };
        Topics {
            segments: name(SEGMENTS),
            management: name(MANAGEMENTS),
            meters: name(METERS),
            logs: name(LOGS),
        }
    }

    /// The four topics with their kinds.
    pub fn all(&self) -> [(Kind, &str); 4] {
        [
            (Kind::Segments, &self.segments),
            (Kind::Management, &self.management),
            (Kind::Meters, &self.meters),
            (Kind::Logs, &self.logs),
        ]
    }
}

/// One decoded record.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A segment.
    Segment(SegmentObject),
    /// Instance properties (key `register-<instance>`).
    Properties(InstanceProperties),
    /// A ping (any other key on the management topic).
    Ping(InstancePingPkg),
    /// A collection of meters.
    Meters(MeterDataCollection),
    /// A log record.
    Log(LogData),
}

/// Decodes one record of `kind` as OAP's handler for its topic does: on the management
/// topic the key decides between properties and a ping. An error names what did not
/// decode.
pub fn decode(kind: Kind, key: &[u8], value: &[u8]) -> Result<Item, prost::DecodeError> {
    Ok(match kind {
        Kind::Segments => Item::Segment(SegmentObject::decode(value)?),
        Kind::Management if key.starts_with(REGISTER_PREFIX.as_bytes()) => {
            Item::Properties(InstanceProperties::decode(value)?)
        }
        Kind::Management => Item::Ping(InstancePingPkg::decode(value)?),
        Kind::Meters => Item::Meters(MeterDataCollection::decode(value)?),
        Kind::Logs => Item::Log(LogData::decode(value)?),
    })
}

/// What a poll read, with each record's key (as text; keys are ids and names).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumed {
    /// Segments, keyed by segment id.
    pub segments: Vec<(String, SegmentObject)>,
    /// Instance properties, keyed `register-<instance>`.
    pub properties: Vec<(String, InstanceProperties)>,
    /// Pings, keyed by instance.
    pub pings: Vec<(String, InstancePingPkg)>,
    /// Meter collections, keyed by instance.
    pub meters: Vec<(String, MeterDataCollection)>,
    /// Log records, keyed by service.
    pub logs: Vec<(String, LogData)>,
    /// Records that did not decode: topic, key, error.
    pub undecodable: Vec<(String, String, String)>,
}

impl Consumed {
    /// Adds what `other` holds.
    pub fn extend(&mut self, other: Consumed) {
        self.segments.extend(other.segments);
        self.properties.extend(other.properties);
        self.pings.extend(other.pings);
        self.meters.extend(other.meters);
        self.logs.extend(other.logs);
        self.undecodable.extend(other.undecodable);
    }

    /// Whether nothing was read.
    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
            && self.properties.is_empty()
            && self.pings.is_empty()
            && self.meters.is_empty()
            && self.logs.is_empty()
            && self.undecodable.is_empty()
    }

    /// The same data as the mock collector's [`Records`] (keys dropped, meter
    /// collections flattened), for code that prints or checks either.
    pub fn to_records(&self) -> Records {
        Records {
            segments: self.segments.iter().map(|(_, s)| s.clone()).collect(),
            properties: self.properties.iter().map(|(_, p)| p.clone()).collect(),
            pings: self.pings.iter().map(|(_, p)| p.clone()).collect(),
            logs: self.logs.iter().map(|(_, l)| l.clone()).collect(),
            meters: self
                .meters
                .iter()
                .flat_map(|(_, c)| c.meter_data.iter().cloned())
                .collect(),
            ..Records::default()
        }
    }

    fn push(&mut self, topic: &str, kind: Kind, key: Vec<u8>, value: &[u8]) {
        let key_text = String::from_utf8_lossy(&key).into_owned();
        match decode(kind, &key, value) {
            Ok(Item::Segment(s)) => self.segments.push((key_text, s)),
            Ok(Item::Properties(p)) => self.properties.push((key_text, p)),
            Ok(Item::Ping(p)) => self.pings.push((key_text, p)),
            Ok(Item::Meters(m)) => self.meters.push((key_text, m)),
            Ok(Item::Log(l)) => self.logs.push((key_text, l)),
            Err(e) => self
                .undecodable
                .push((topic.to_owned(), key_text, e.to_string())),
        }
    }
}

fn client_builder(bootstrap: &str) -> ClientBuilder {
    let brokers = bootstrap
        .split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect();
    ClientBuilder::new(brokers)
        .client_id("skywalking-testkit")
        .backoff_config(rskafka::BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(500),
            base: 2.0,
            deadline: Some(Duration::from_secs(5)),
        })
}

/// Creates the four topics with `partitions` partitions each, as OAP's fetcher does at
/// its start (it creates the ones missing with `partitions` 3 and `replicationFactor`
/// 2; a one-broker test cluster gets replication 1). Topics that exist are kept.
pub async fn create_topics(
    bootstrap: &str,
    topics: &Topics,
    partitions: i32,
) -> Result<(), KafkaError> {
    let client = client_builder(bootstrap).build().await?;
    let existing = client.list_topics().await?;
    let controller = client.controller_client()?;
    for (_, name) in topics.all() {
        if existing.iter().any(|t| t.name == name) {
            continue;
        }
        match controller.create_topic(name, partitions, 1, 5_000).await {
            Ok(()) => {}
            Err(ClientError::ServerError {
                protocol_error: ProtocolError::TopicAlreadyExists,
                ..
            }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One partition being read, and the next offset to read.
struct Reader {
    kind: Kind,
    client: PartitionClient,
    offset: i64,
}

/// Reads the four topics from their start, each [`poll`](KafkaConsumer::poll) returning
/// what arrived since the last. Topics created later are picked up by a later poll.
pub struct KafkaConsumer {
    client: Client,
    topics: Topics,
    readers: BTreeMap<(String, i32), Reader>,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("topics", &self.topics)
            .field("partitions", &self.readers.len())
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Connects to `bootstrap` (`host:port`, comma-separated for several).
    pub async fn connect(bootstrap: &str, topics: Topics) -> Result<KafkaConsumer, KafkaError> {
        let client = client_builder(bootstrap).build().await?;
        Ok(KafkaConsumer {
            client,
            topics,
            readers: BTreeMap::new(),
        })
    }

    /// The topics read.
    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    /// Opens a reader for each partition not yet read.
    async fn discover(&mut self) -> Result<(), KafkaError> {
        let listed = self.client.list_topics().await?;
        for (kind, name) in self.topics.all() {
            let Some(topic) = listed.iter().find(|t| t.name == name) else {
                continue;
            };
            for &partition in &topic.partitions {
                let slot = (name.to_owned(), partition);
                if self.readers.contains_key(&slot) {
                    continue;
                }
                let client = self
                    .client
                    .partition_client(name, partition, UnknownTopicHandling::Retry)
                    .await?;
                self.readers.insert(
                    slot,
                    Reader {
                        kind,
                        client,
                        offset: 0,
                    },
                );
            }
        }
        Ok(())
    }

    /// Reads and decodes everything written since the last poll.
    pub async fn poll(&mut self) -> Result<Consumed, KafkaError> {
        self.discover().await?;
        let mut consumed = Consumed::default();
        for ((topic, _), reader) in &mut self.readers {
            loop {
                let fetched = reader
                    .client
                    .fetch_records(reader.offset, 1..8_000_000, 10)
                    .await;
                let (records, high_watermark) = match fetched {
                    Ok(fetched) => fetched,
                    // The broker restarted with empty storage: start over.
                    Err(ClientError::ServerError {
                        protocol_error: ProtocolError::OffsetOutOfRange,
                        ..
                    }) => {
                        reader.offset = reader.client.get_offset(OffsetAt::Earliest).await?;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let before = reader.offset;
                for record in records {
                    if record.offset < reader.offset {
                        continue;
                    }
                    reader.offset = record.offset + 1;
                    let key = record.record.key.unwrap_or_default();
                    let value = record.record.value.unwrap_or_default();
                    consumed.push(topic, reader.kind, key, &value);
                }
                if reader.offset >= high_watermark || reader.offset == before {
                    break;
                }
            }
        }
        Ok(consumed)
    }

    /// Polls until `done` holds for everything read so far (returned), or `timeout`
    /// passes (then what was read is returned all the same, for the caller to assert on).
    pub async fn poll_until(
        &mut self,
        timeout: Duration,
        mut done: impl FnMut(&Consumed) -> bool,
    ) -> Result<Consumed, KafkaError> {
        let deadline = Instant::now() + timeout;
        let mut all = Consumed::default();
        loop {
            all.extend(self.poll().await?);
            if done(&all) || Instant::now() >= deadline {
                return Ok(all);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_take_the_namespace_as_a_prefix() {
        assert_eq!(Topics::new(None).segments, "skywalking-segments");
        assert_eq!(Topics::new(Some("")).logs, "skywalking-logs");
        let ns = Topics::new(Some("prod"));
        assert_eq!(ns.management, "prod-skywalking-managements");
        assert_eq!(ns.meters, "prod-skywalking-meters");
    }

    #[test]
    fn the_management_key_tells_properties_from_pings() {
        let properties = InstanceProperties {
            service: "s".into(),
            service_instance: "i".into(),
            ..Default::default()
        };
        let ping = InstancePingPkg {
            service: "s".into(),
            service_instance: "i".into(),
            ..Default::default()
        };
        assert_eq!(
            decode(Kind::Management, b"register-i", &properties.encode_to_vec()).unwrap(),
            Item::Properties(properties)
        );
        assert_eq!(
            decode(Kind::Management, b"i", &ping.encode_to_vec()).unwrap(),
            Item::Ping(ping)
        );
    }

    proptest::proptest! {
        #[test]
        fn any_record_decodes_or_is_reported(
            kind in 0..4u8,
            key in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            value in proptest::collection::vec(proptest::num::u8::ANY, 0..256),
        ) {
            let kind = [Kind::Segments, Kind::Management, Kind::Meters, Kind::Logs][kind as usize];
            let mut consumed = Consumed::default();
            consumed.push("t", kind, key, &value);
            let records = consumed.to_records();
            let decoded = consumed.segments.len() + consumed.properties.len()
                + consumed.pings.len() + consumed.meters.len() + consumed.logs.len();
            proptest::prop_assert_eq!(decoded + consumed.undecodable.len(), 1);
            proptest::prop_assert_eq!(records.segments.len(), consumed.segments.len());
        }
    }

    #[test]
    fn garbage_is_reported_not_panicked_on() {
        let mut consumed = Consumed::default();
        // A length-delimited field running past the end.
        consumed.push("t", Kind::Segments, b"k".to_vec(), &[0x0a, 0x7f, 0x01]);
        assert_eq!(consumed.undecodable.len(), 1);
        assert!(consumed.segments.is_empty());
    }
}
