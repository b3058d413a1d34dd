//! The redis integration against a real `redis-server` (the testkit starts one per test
//! binary on a free port) and the mock collector over gRPC: the spans' kind, layer,
//! component, peer, tags and parents; pipelines; error replies, timeouts and a dead
//! server, whose results reach the caller unchanged.

mod integration_support;
mod reporter_support;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use integration_support::{error_message, tags};

use redis::AsyncCommands;
use redis::aio::{ConnectionManagerConfig, MultiplexedConnection};
use reporter_support::{WAIT, child_role, child_value, collector_runtime, run_child};
use skywalking_proto::v3::{RefType, SegmentObject, SpanLayer, SpanObject, SpanType};
use skywalking_runtime::integrations::redis::{self as sw_redis, TracedConnection};
use skywalking_runtime::{Agent, Config, FutureExt, Span, trace};
use skywalking_testkit::MockCollector;
use skywalking_testkit::servers::redis::{self as server, Redis};

struct Setup {
    collector: MockCollector,
    redis: Option<Redis>,
    _agent: Agent,
    _runtime: tokio::runtime::Runtime,
}

/// One collector, agent (recording keys) and Redis server for the whole binary, made on
/// a thread of its own (the async tests call this from inside their runtime).
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| std::thread::spawn(make_setup).join().expect("setup"))
}

fn make_setup() -> Setup {
    {
        let runtime = collector_runtime();
        let collector = runtime.block_on(MockCollector::start()).expect("collector");
        let agent = Agent::builder()
            .config(Config::default())
            .service("redis-svc")
            .instance("redis-1")
            .backend(collector.addr().to_string())
            .flush_interval(Duration::from_millis(5))
            .redis_trace_key(true)
            .start()
            .expect("agent starts");
        let redis = server::start().expect("redis-server starts");
        Setup {
            collector,
            redis,
            _agent: agent,
            _runtime: runtime,
        }
    }
}

/// The shared server, or `None` (the test is skipped) when it is not installed.
fn redis() -> Option<&'static Redis> {
    setup().redis.as_ref()
}

fn client(redis: &Redis) -> redis::Client {
    redis::Client::open(redis.url()).expect("a valid url")
}

/// The segments of `trace`, once `n` arrived.
async fn trace_segments(trace: &str, n: usize) -> Vec<SegmentObject> {
    setup()
        .collector
        .wait_for_trace(trace, n, WAIT)
        .await
        .expect("the trace arrives")
}

fn span<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    segment
        .spans
        .iter()
        .find(|s| s.operation_name == name)
        .unwrap_or_else(|| {
            let names: Vec<_> = segment.spans.iter().map(|s| &s.operation_name).collect();
            panic!("no span {name:?} in {names:?}")
        })
}

fn spans_named<'a>(segment: &'a SegmentObject, name: &str) -> Vec<&'a SpanObject> {
    segment
        .spans
        .iter()
        .filter(|s| s.operation_name == name)
        .collect()
}

/// Asserts the shape every Redis span has: an exit span of layer Cache, component 7
/// (`Redis`), calling `peer`, child of `parent`, tagged `cache.type=redis`.
fn assert_redis_exit(span: &SpanObject, peer: &str, parent: &SpanObject) {
    assert_eq!(span.span_type, SpanType::Exit as i32, "{span:?}");
    assert_eq!(span.span_layer, SpanLayer::Cache as i32, "{span:?}");
    assert_eq!(span.component_id, 7, "{span:?}");
    assert_eq!(span.peer, peer);
    assert_eq!(span.parent_span_id, parent.span_id);
    assert_eq!(tags(span)["cache.type"], "redis");
}

/// The current trace id.
fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

/// An `sw8` header from another service's exit span, for an entry span to continue.
fn caller_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let caller = Span::exit("GET /orders", "orders:8080");
    caller.inject(&mut headers);
    assert!(headers.contains_key("sw8"));
    headers
}

/// A request handler continuing the caller's trace, sending commands through `con`.
#[trace(entry, name = "POST /orders", headers = &headers)]
async fn handle(
    headers: HashMap<String, String>,
    con: &mut TracedConnection<MultiplexedConnection>,
) -> (String, String, i64) {
    let _: () = con.set("order:7", "pending").await.expect("SET");
    let state: String = con.get("order:7").await.expect("GET");
    let count: i64 = con.hset("order:7:items", "sku-1", 2).await.expect("HSET");
    (current_trace(), state, count)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_cache_exit_spans_of_the_entry_span() {
    let Some(redis) = redis() else { return };
    let mut con = sw_redis::multiplexed(&client(redis))
        .await
        .expect("connects");
    assert_eq!(con.peer(), redis.addr());
    let _: () = con.del("order:7:items").await.expect("DEL");

    let (trace, state, count) = handle(caller_headers(), &mut con).await;
    assert_eq!((state.as_str(), count), ("pending", 1));

    // The caller's segment and the handler's.
    let segments = trace_segments(&trace, 2).await;
    let segment = segments
        .iter()
        .find(|s| s.spans.iter().any(|s| s.operation_name == "POST /orders"))
        .expect("the handler's segment");
    let entry = span(segment, "POST /orders");
    assert_eq!(entry.refs.len(), 1, "the entry continues the caller");
    assert_eq!(entry.refs[0].ref_type, RefType::CrossProcess as i32);
    assert_eq!(entry.refs[0].network_address_used_at_peer, "orders:8080");
    assert_eq!(segment.spans.len(), 4, "{:?}", segment.spans);

    let set = span(segment, "Redis/SET");
    assert_redis_exit(set, &redis.addr(), entry);
    let set_tags = tags(set);
    assert_eq!(set_tags["cache.cmd"], "SET");
    assert_eq!(set_tags["cache.op"], "write");
    assert_eq!(set_tags["cache.key"], "order:7", "the agent records keys");
    assert!(!set.is_error);

    let get = span(segment, "Redis/GET");
    assert_redis_exit(get, &redis.addr(), entry);
    assert_eq!(tags(get)["cache.op"], "read");
    assert_eq!(tags(get)["cache.cmd"], "GET");
    assert!(get.start_time >= set.end_time, "one after the other");

    let hset = span(segment, "Redis/HSET");
    assert_redis_exit(hset, &redis.addr(), entry);
    assert_eq!(tags(hset)["cache.key"], "order:7:items");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_is_one_span_naming_its_commands() {
    let Some(redis) = redis() else { return };
    let mut con = sw_redis::multiplexed(&client(redis))
        .await
        .expect("connects");
    let (trace, plain, atomic) = async {
        let plain: (i64, i64, Option<String>) = redis::pipe()
            .del("hits")
            .incr("hits", 2)
            .get("missing")
            .query_async(&mut con)
            .await
            .expect("pipeline");
        let atomic: (i64, i64) = redis::pipe()
            .atomic()
            .incr("hits", 1)
            .incr("hits", 1)
            .query_async(&mut con)
            .await
            .expect("transaction");
        (current_trace(), plain, atomic)
    }
    .in_span("checkout")
    .await;
    assert_eq!(plain.1, 2);
    assert_eq!(plain.2, None, "a missing key is nil, not an error");
    assert_eq!(atomic, (3, 4));

    let segments = trace_segments(&trace, 1).await;
    let segment = &segments[0];
    let root = span(segment, "checkout");
    assert_eq!(segment.spans.len(), 3, "one span per pipeline");

    let pipeline = span(segment, "Redis/pipeline");
    assert_redis_exit(pipeline, &redis.addr(), root);
    assert_eq!(tags(pipeline)["cache.cmd"], "pipeline:DEL/INCRBY/GET");
    assert_eq!(tags(pipeline)["cache.op"], "write");
    assert!(!tags(pipeline).contains_key("cache.key"));
    assert!(!pipeline.is_error);

    let transaction = span(segment, "Redis/transaction");
    assert_redis_exit(transaction, &redis.addr(), root);
    assert_eq!(tags(transaction)["cache.cmd"], "pipeline:INCRBY/INCRBY");
    assert!(!transaction.is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_reply_is_an_error_span_and_reaches_the_caller_unchanged() {
    let Some(redis) = redis() else { return };
    let client = client(redis);
    let mut traced = sw_redis::multiplexed(&client).await.expect("connects");
    let mut plain = client
        .get_multiplexed_async_connection()
        .await
        .expect("connects");
    let _: () = plain.set("word", "text").await.expect("SET");

    let (trace, (traced_result, plain_result, traced_pipe, plain_pipe)) = async {
        let traced_result: redis::RedisResult<i64> = traced.lpush("word", "x").await;
        let plain_result: redis::RedisResult<i64> = plain.lpush("word", "x").await;
        let pipe = {
            let mut pipe = redis::pipe();
            pipe.get("word").lpush("word", "x");
            pipe
        };
        let traced_pipe: redis::RedisResult<(String, i64)> = pipe.query_async(&mut traced).await;
        let plain_pipe: redis::RedisResult<(String, i64)> = pipe.query_async(&mut plain).await;
        (
            current_trace(),
            (traced_result, plain_result, traced_pipe, plain_pipe),
        )
    }
    .in_span("wrong type")
    .await;
    let error = traced_result.expect_err("WRONGTYPE");
    let plain_error = plain_result.expect_err("WRONGTYPE");
    assert_eq!(error.kind(), plain_error.kind());
    assert_eq!(error.to_string(), plain_error.to_string());
    assert!(error.to_string().contains("WRONGTYPE"), "{error}");
    assert_eq!(
        format!("{:?}", traced_pipe.expect_err("WRONGTYPE")),
        format!("{:?}", plain_pipe.expect_err("WRONGTYPE"))
    );

    let segments = trace_segments(&trace, 1).await;
    let segment = &segments[0];
    let root = span(segment, "wrong type");
    let lpush = span(segment, "Redis/LPUSH");
    assert_redis_exit(lpush, &redis.addr(), root);
    assert!(lpush.is_error);
    assert!(error_message(lpush).contains("WRONGTYPE"));
    let pipeline = span(segment, "Redis/pipeline");
    assert!(
        pipeline.is_error,
        "one failed reply fails the pipeline span"
    );
    assert!(error_message(pipeline).contains("WRONGTYPE"));
    assert!(!root.is_error, "the caller decides what its own span is");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_an_error_span() {
    let Some(redis) = redis() else { return };
    let client = client(redis);
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_millis(100)));
    let con = client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .expect("connects");
    let mut con = TracedConnection::new(con, &client);
    let (trace, result) = async {
        // Blocks for 2 s on an empty list: longer than the response timeout.
        let result: redis::RedisResult<Option<(String, String)>> =
            con.blpop("empty-list", 2.0).await;
        (current_trace(), result)
    }
    .in_span("slow")
    .await;
    let error = result.expect_err("the response times out");
    assert!(error.is_timeout(), "{error:?}");

    let segments = trace_segments(&trace, 1).await;
    let blpop = span(&segments[0], "Redis/BLPOP");
    assert_redis_exit(blpop, &redis.addr(), span(&segments[0], "slow"));
    assert_eq!(tags(blpop)["cache.op"], "read");
    assert!(blpop.is_error);
    assert!(!error_message(blpop).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_server_is_an_error_span() {
    if redis().is_none() {
        return;
    }
    // A server of this test's own, stopped halfway.
    let mut dying = server::start().expect("starts").expect("installed");
    let client = client(&dying);
    let config = ConnectionManagerConfig::new()
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(50))
        .set_connection_timeout(Some(Duration::from_millis(500)))
        .set_response_timeout(Some(Duration::from_secs(2)));
    let manager = redis::aio::ConnectionManager::new_with_config(client.clone(), config)
        .await
        .expect("connects");
    let mut con = TracedConnection::new(manager, &client);
    let peer = dying.addr();

    let (trace, (before, after, again)) = async {
        let before: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
        dying.stop();
        let after: redis::RedisResult<String> = redis::cmd("PING").query_async(&mut con).await;
        // The manager reconnects to a port nothing listens on any more.
        let again: redis::RedisResult<Option<String>> = con.get("k").await;
        (current_trace(), (before, after, again))
    }
    .in_span("outage")
    .await;
    assert_eq!(before.expect("the server is up"), "PONG");
    let after = after.expect_err("the server is gone");
    let again = again.expect_err("still gone");

    let segments = trace_segments(&trace, 1).await;
    let segment = &segments[0];
    let root = span(segment, "outage");
    let pings = spans_named(segment, "Redis/PING");
    assert_eq!(pings.len(), 2);
    assert!(!pings[0].is_error);
    assert!(pings[1].is_error);
    assert_redis_exit(pings[1], &peer, root);
    assert_eq!(error_message(pings[1]), after.to_string());
    let get = span(segment, "Redis/GET");
    assert_redis_exit(get, &peer, root);
    assert!(get.is_error);
    assert_eq!(error_message(get), again.to_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_outside_any_trace_is_a_trace_of_its_own() {
    let Some(redis) = redis() else { return };
    let mut con = sw_redis::connection_manager(client(redis))
        .await
        .expect("connects");
    let before = setup().collector.trace_ids().len();
    let value: Option<String> = con.get("standalone-key").await.expect("GET");
    assert_eq!(value, None);
    let collector = &setup().collector;
    let segment = collector
        .wait_until(WAIT, |records| {
            records
                .segments
                .iter()
                .find(|s| {
                    s.spans.iter().any(|span| {
                        span.operation_name == "Redis/GET"
                            && tags(span).get("cache.key") == Some(&"standalone-key")
                    })
                })
                .cloned()
        })
        .await
        .expect("its segment arrives");
    assert!(collector.trace_ids().len() > before);
    assert_eq!(segment.spans.len(), 1, "{:?}", segment.spans);
    let get = &segment.spans[0];
    assert_eq!(get.span_type, SpanType::Exit as i32);
    assert_eq!(get.parent_span_id, -1);
    assert_eq!(get.peer, redis.addr());
}

/// The program side of `keys_are_recorded_only_when_turned_on`, in a child process
/// configured by the environment (a no-op in the parent).
#[test]
fn child() {
    let Some(role) = child_role() else { return };
    assert_eq!(role, "command");
    let url = std::env::var("SW_TEST_REDIS_URL").expect("the server's url");
    let agent = skywalking_runtime::init().expect("init from the environment");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let trace = rt.block_on(
        async {
            let client = redis::Client::open(url).expect("url");
            let mut con = sw_redis::multiplexed(&client).await.expect("connects");
            let _: Option<String> = con.get("secret:user@example.com").await.expect("GET");
            current_trace()
        }
        .in_span("child"),
    );
    assert!(agent.flush(Duration::from_secs(5)));
    println!("trace={trace}");
}

#[test]
fn keys_are_recorded_only_when_turned_on() {
    if child_role().is_some() || redis().is_none() {
        return;
    }
    let Some(redis) = redis() else { return };
    let collector = &setup().collector;
    for (value, recorded) in [(None, false), (Some("true"), true)] {
        let mut env = vec![
            ("SW_AGENT_NAME", "redis-child".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                collector.addr().to_string(),
            ),
            ("SW_TEST_REDIS_URL", redis.url()),
        ];
        if let Some(value) = value {
            env.push(("SW_PLUGIN_REDIS_TRACE_KEY", value.to_owned()));
        }
        let out = run_child("child", "command", &env);
        let trace = child_value(&out, "trace").expect("the child's trace id");
        let segments = setup()
            ._runtime
            .block_on(collector.wait_for_trace(&trace, 1, WAIT))
            .expect("the child's trace arrives");
        let get = span(&segments[0], "Redis/GET");
        assert_eq!(
            tags(get).get("cache.key").copied(),
            recorded.then_some("secret:user@example.com"),
            "SW_PLUGIN_REDIS_TRACE_KEY={value:?}"
        );
        assert_eq!(tags(get)["cache.cmd"], "GET");
    }
}
