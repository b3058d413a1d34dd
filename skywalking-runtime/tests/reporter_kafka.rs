//! The Kafka reporter (`SW_AGENT_PROTOCOL=kafka`) against a real broker (tansu, from the
//! testkit's servers), read back the way OAP's kafka-fetcher reads it (PROTOCOL.md
//! section 6): every topic is consumed and every record decoded.
//!
//! Each test runs its scenario in a child process of this binary (the agent and its
//! `stats()` are per process), with a broker of its own: tansu starts in milliseconds,
//! and the scenarios stop, restart or delay it. Topics are created as OAP's fetcher
//! creates them at its start (3 partitions), under a namespace.

mod reporter_support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use reporter_support::{WAIT, child_role, collector_runtime, run_child, segment};
use skywalking_proto::v3::RefType;
use skywalking_runtime::integrations::log::SkyWalkingLogger;
use skywalking_runtime::{Agent, Config, Span, meter};
use skywalking_testkit::kafka::{Consumed, KafkaConsumer, OAP_PARTITIONS, Topics, create_topics};
use skywalking_testkit::render_trace_tree;
use skywalking_testkit::servers::{free_port, tansu};

/// Runs `body` in a child process when this is the parent, or runs it when this is the
/// child started for `name`.
fn in_child(name: &str, body: fn()) {
    match child_role() {
        Some(role) if role == name => body(),
        Some(_) => {}
        None => {
            let out = run_child(name, name, &[]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            if stdout.contains("skipped:")
                || String::from_utf8_lossy(&out.stderr).contains("skipped:")
            {
                eprintln!("skipped: tansu is not installed");
            }
        }
    }
}

/// The configuration a user sets in the environment (the Python agent's names).
fn kafka_config(bootstrap: &str, namespace: &str) -> Config {
    Config::from_lookup(|name| match name {
        "SW_AGENT_PROTOCOL" => Some("kafka".to_owned()),
        "SW_KAFKA_BOOTSTRAP_SERVERS" => Some(bootstrap.to_owned()),
        "SW_KAFKA_NAMESPACE" => Some(namespace.to_owned()),
        _ => None,
    })
    .expect("a valid configuration")
}

/// The stats that say every queued segment was sent.
fn segments_waiting(stats: &skywalking_runtime::Stats) -> u64 {
    let undelivered = stats.segments_dropped - stats.segments_dropped_queue_full;
    stats.segments_queued - stats.segments_sent - undelivered
}

struct Discard;

impl log::Log for Discard {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        false
    }
    fn log(&self, _: &log::Record<'_>) {}
    fn flush(&self) {}
}

/// Reads the topics of `namespace` on `bootstrap` until `done` holds (or [`WAIT`]).
fn consume(
    rt: &tokio::runtime::Runtime,
    bootstrap: &str,
    namespace: &str,
    done: impl FnMut(&Consumed) -> bool,
) -> Consumed {
    rt.block_on(async {
        let mut consumer = KafkaConsumer::connect(bootstrap, Topics::new(Some(namespace)))
            .await
            .expect("a consumer");
        consumer.poll_until(WAIT, done).await.expect("polls")
    })
}

#[test]
fn segments_heartbeats_logs_and_meters_reach_their_topics() {
    in_child(
        "segments_heartbeats_logs_and_meters_reach_their_topics",
        || {
            let Some(broker) = tansu::start().expect("tansu starts") else {
                return;
            };
            let rt = collector_runtime();
            let namespace = "prod";
            rt.block_on(create_topics(
                &broker.bootstrap(),
                &Topics::new(Some(namespace)),
                OAP_PARTITIONS,
            ))
            .expect("topics");
            let agent = Agent::builder()
                .config(kafka_config(&broker.bootstrap(), namespace))
                .service("kafka-svc")
                .instance("kafka-inst")
                .check_interval(Duration::from_millis(100))
                .meter_collect_interval(Duration::from_millis(100))
                .start()
                .expect("agent starts");
            SkyWalkingLogger::new(Discard)
                .init(log::LevelFilter::Warn)
                .expect("the only logger");
            let orders = meter::counter("orders_total").build();
            orders.add(3);

            // One trace of two segments: an exit span's sw8 continues in an entry span.
            let mut headers: HashMap<String, String> = HashMap::new();
            {
                let _root = Span::local("produce-root");
                let exit = Span::exit("send", "broker:9092");
                exit.as_ref().inject(&mut headers);
            }
            {
                let _entry = Span::entry("receive", &headers);
                log::warn!("inside the consumer");
            }
            for _ in 0..200 {
                segment("bulk", 3);
            }
            // Let heartbeats and meters go out on their own period.
            std::thread::sleep(Duration::from_millis(400));
            drop(agent);
            let stats = skywalking_runtime::stats();
            assert_eq!(stats.segments_queued, 202, "{stats:?}");
            assert_eq!(stats.segments_sent, 202, "{stats:?}");
            assert_eq!(stats.segments_dropped, 0, "{stats:?}");
            assert_eq!(stats.logs_sent, 1, "{stats:?}");

            let got = consume(&rt, &broker.bootstrap(), namespace, |c| {
                c.segments.len() >= 202
                    && !c.properties.is_empty()
                    && !c.pings.is_empty()
                    && !c.logs.is_empty()
                    && !c.meters.is_empty()
            });
            assert!(got.undecodable.is_empty(), "{:?}", got.undecodable);
            assert_eq!(got.segments.len(), 202);
            for (key, segment) in &got.segments {
                assert_eq!(key, &segment.trace_segment_id, "keyed by segment id");
                assert_eq!(segment.service, "kafka-svc");
                assert_eq!(segment.service_instance, "kafka-inst");
            }
            let find = |name: &str| {
                got.segments
                    .iter()
                    .map(|(_, s)| s)
                    .find(|s| s.spans.iter().any(|span| span.operation_name == name))
                    .unwrap_or_else(|| panic!("a segment with span {name}"))
            };
            let (producer, consumer) = (find("send"), find("receive"));
            assert_eq!(producer.trace_id, consumer.trace_id);
            let reference = &consumer.spans[0].refs[0];
            assert_eq!(reference.ref_type, RefType::CrossProcess as i32);
            assert_eq!(reference.parent_trace_segment_id, producer.trace_segment_id);
            let exit = producer
                .spans
                .iter()
                .find(|s| s.operation_name == "send")
                .expect("the exit span");
            assert_eq!(reference.parent_span_id, exit.span_id);
            let tree = render_trace_tree(&[producer.clone(), consumer.clone()]);
            let indent = |name: &str| {
                tree.lines()
                    .find(|l| l.contains(name))
                    .map(|l| l.len() - l.trim_start().len())
                    .unwrap_or_else(|| panic!("{name} in\n{tree}"))
            };
            assert!(indent("receive") > indent("send"), "linked:\n{tree}");

            // Properties and pings, told apart by key.
            for (key, properties) in &got.properties {
                assert_eq!(key, "register-kafka-inst");
                assert_eq!(properties.service_instance, "kafka-inst");
                assert!(
                    properties
                        .properties
                        .iter()
                        .any(|kv| kv.key == "language" && kv.value == "rust")
                );
            }
            for (key, ping) in &got.pings {
                assert_eq!(key, "kafka-inst");
                assert_eq!(ping.service, "kafka-svc");
            }
            assert!(got.pings.len() >= 2, "a heartbeat per check interval");

            let (key, log) = &got.logs[0];
            assert_eq!(key, "kafka-svc");
            let context = log.trace_context.as_ref().expect("the log's trace context");
            assert_eq!(context.trace_id, consumer.trace_id);
            assert_eq!(context.trace_segment_id, consumer.trace_segment_id);

            let (key, collection) = &got.meters[0];
            assert_eq!(key, "kafka-inst");
            assert!(
                got.meters.iter().flat_map(|(_, c)| &c.meter_data).any(|m| {
                    matches!(&m.metric,
                    Some(skywalking_proto::v3::meter_data::Metric::SingleValue(v))
                        if v.name == "orders_total" && v.value == 3.0)
                }),
                "the counter in a MeterDataCollection"
            );
            assert_eq!(collection.meter_data[0].service, "kafka-svc");
        },
    );
}

#[test]
fn a_broker_down_at_start_gets_what_waited() {
    in_child("a_broker_down_at_start_gets_what_waited", || {
        if tansu::program().is_none() {
            let _ = tansu::start().expect("under CI a missing broker fails");
            return;
        }
        let port = free_port().expect("a port");
        let bootstrap = format!("127.0.0.1:{port}");
        // The Go agent's names this time.
        let config = Config::from_lookup(|name| match name {
            "SW_AGENT_REPORTER_TYPE" => Some("kafka".to_owned()),
            "SW_AGENT_REPORTER_KAFKA_BROKERS" => Some(bootstrap.clone()),
            "SW_KAFKA_NAMESPACE" => Some("late".to_owned()),
            _ => None,
        })
        .expect("valid");
        let agent = Agent::builder()
            .config(config)
            .service("late-svc")
            .meter_active(false)
            .start()
            .expect("starting with the broker down is fine");
        let start = Instant::now();
        for _ in 0..50 {
            segment("early", 2);
        }
        assert!(start.elapsed() < Duration::from_secs(1), "the app waited");
        while skywalking_runtime::stats().send_errors == 0 {
            assert!(start.elapsed() < WAIT, "the failed connection is counted");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(skywalking_runtime::stats().segments_sent, 0);

        let broker = tansu::start_on(port)
            .expect("tansu starts")
            .expect("installed");
        let rt = collector_runtime();
        rt.block_on(create_topics(
            &bootstrap,
            &Topics::new(Some("late")),
            OAP_PARTITIONS,
        ))
        .expect("topics");
        let got = consume(&rt, &broker.bootstrap(), "late", |c| c.segments.len() >= 50);
        assert_eq!(got.segments.len(), 50);
        drop(agent);
        let stats = skywalking_runtime::stats();
        assert_eq!(stats.segments_sent, 50, "{stats:?}");
        assert_eq!(stats.segments_dropped, 0, "{stats:?}");
    });
}

#[test]
fn a_broker_restart_is_survived_and_every_segment_accounted_for() {
    in_child(
        "a_broker_restart_is_survived_and_every_segment_accounted_for",
        || {
            let Some(mut broker) = tansu::start().expect("tansu starts") else {
                return;
            };
            let bootstrap = broker.bootstrap();
            let topics = Topics::new(Some("restart"));
            let rt = collector_runtime();
            rt.block_on(create_topics(&bootstrap, &topics, OAP_PARTITIONS))
                .expect("topics");
            let agent = Agent::builder()
                .config(kafka_config(&bootstrap, "restart"))
                .service("restart-svc")
                .meter_active(false)
                .check_interval(Duration::from_millis(100))
                .start()
                .expect("agent starts");
            for _ in 0..20 {
                segment("before", 1);
            }
            let got = consume(&rt, &bootstrap, "restart", |c| c.segments.len() >= 20);
            assert_eq!(got.segments.len(), 20);

            // An outage with traffic: requests fail (their segments dropped, counted),
            // the rest waits in the queue.
            broker.stop();
            let outage = Instant::now();
            while outage.elapsed() < Duration::from_millis(700)
                || skywalking_runtime::stats().send_errors == 0
            {
                segment("during", 1);
                assert!(outage.elapsed() < WAIT, "the outage is noticed");
                std::thread::sleep(Duration::from_millis(5));
            }
            // The broker comes back empty (memory storage): OAP's fetcher would create
            // its topics again when it restarts.
            broker.restart().expect("restart on the same port");
            rt.block_on(create_topics(&bootstrap, &topics, OAP_PARTITIONS))
                .expect("topics again");
            let back = Instant::now();
            loop {
                segment("after", 1);
                let got = consume(&rt, &bootstrap, "restart", |_| true);
                if got
                    .segments
                    .iter()
                    .any(|(_, s)| s.spans[0].operation_name == "after")
                {
                    break;
                }
                assert!(
                    back.elapsed() < WAIT,
                    "no recovery after {:?}",
                    back.elapsed()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            drop(agent);
            let stats = skywalking_runtime::stats();
            assert!(stats.reconnects >= 1, "{stats:?}");
            assert!(stats.send_errors >= 1, "{stats:?}");
            assert_eq!(segments_waiting(&stats), 0, "{stats:?}");
            eprintln!("after the restart: {stats:?}");
            assert_eq!(stats.segments_dropped_queue_full, 0, "{stats:?}");
            let after_restart = consume(&rt, &bootstrap, "restart", |_| true);
            assert!(
                after_restart.segments.len() as u64 <= stats.segments_sent - 20,
                "what the broker holds now was counted as sent: {stats:?}"
            );
        },
    );
}

#[test]
fn a_full_queue_is_bounded_and_drops_are_counted_exactly() {
    in_child(
        "a_full_queue_is_bounded_and_drops_are_counted_exactly",
        || {
            if tansu::program().is_none() {
                let _ = tansu::start().expect("under CI a missing broker fails");
                return;
            }
            const LIMIT: u64 = 10;
            let port = free_port().expect("a port");
            let bootstrap = format!("127.0.0.1:{port}");
            // Configured in code this time.
            let agent = Agent::builder()
                .config(Config::default())
                .kafka([bootstrap.clone()])
                .kafka_namespace("full")
                .service("full-svc")
                .meter_active(false)
                .max_send_queue(LIMIT as usize)
                .shutdown_timeout(Duration::from_secs(10))
                .start()
                .expect("agent starts");
            let start = Instant::now();
            for _ in 0..100 {
                segment("kept-or-dropped", 2);
            }
            assert!(start.elapsed() < Duration::from_secs(1), "the app waited");
            let stats = skywalking_runtime::stats();
            assert_eq!(stats.segments_queued, LIMIT, "{stats:?}");
            assert_eq!(stats.segments_dropped_queue_full, 100 - LIMIT, "{stats:?}");
            assert_eq!(stats.segments_dropped, 100 - LIMIT, "{stats:?}");

            // The broker arrives: exactly what waited is delivered, at the latest by the
            // shutdown's flush.
            let broker = tansu::start_on(port)
                .expect("tansu starts")
                .expect("installed");
            let rt = collector_runtime();
            rt.block_on(create_topics(
                &bootstrap,
                &Topics::new(Some("full")),
                OAP_PARTITIONS,
            ))
            .expect("topics");
            assert!(agent.flush(Duration::from_secs(10)), "flushed");
            drop(agent);
            let stats = skywalking_runtime::stats();
            assert_eq!(stats.segments_sent, LIMIT, "{stats:?}");
            assert_eq!(stats.segments_dropped, 100 - LIMIT, "{stats:?}");
            let got = consume(&rt, &broker.bootstrap(), "full", |c| {
                c.segments.len() as u64 >= LIMIT
            });
            std::thread::sleep(Duration::from_millis(200));
            let more = consume(&rt, &broker.bootstrap(), "full", |_| true);
            assert_eq!(got.segments.len() as u64, LIMIT);
            assert_eq!(
                more.segments.len() as u64,
                LIMIT,
                "no more than what was queued"
            );
        },
    );
}
