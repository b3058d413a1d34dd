//! What the redis and tokio-postgres wrappers add to a call: the same call through the
//! connection itself (`untraced`) and through the wrapper (`traced`), on a
//! current-thread tokio runtime:
//!
//! - `off/*`: no agent runs (the wrappers only forward);
//! - `on/*`: a running agent whose reporter discards what it gets; `traced` is then a
//!   call that is its own trace (a new trace, the exit span and its tags, one segment
//!   handed to the reporter thread); `*_in_span` runs the call inside a local span
//!   (`FutureExt::in_span`), as in a request, so `traced_in_span` minus
//!   `untraced_in_span` is the exit span alone.
//!
//! Calls:
//! - `redis_instant`: `GET k` on an in-process connection that answers at once (no
//!   I/O): the wrapper's cost without the network's noise around it;
//! - `redis`: `GET k` on a real `redis-server` on loopback;
//! - `postgres`: `SELECT v FROM kv WHERE k = $1` (`query_one`, a prepared statement)
//!   on a real PostgreSQL on loopback.
//!
//! The real servers come from the testkit's harness; their cases are skipped when the
//! server is not installed.
//!
//! Run with `cargo bench -p skywalking-runtime --features redis,tokio-postgres --bench
//! db_clients` (short runs: 2 s per case).
//!
//! For instruction counts that do not depend on the machine's load, one `redis_instant`
//! case with the agent on (`untraced`, `traced`, `untraced_in_span`, `traced_in_span`)
//! runs alone under callgrind (`case:iterations`; the total of the main thread, in the
//! file ending in `-01`, divided by the iterations is one call):
//!
//! ```text
//! SW_BENCH_CALLGRIND=traced_in_span:20000 valgrind --tool=callgrind --separate-threads=yes \
//!     --toggle-collect='*measured*' target/release/deps/db_clients-<hash> --bench
//! ```

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, criterion_group};
use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::integrations::redis::TracedConnection;
use skywalking_runtime::integrations::tokio_postgres::{TracedClient, TracedStatement};
use skywalking_runtime::{Agent, Config, FutureExt, Reporter};
use std::future::Future;

struct Discard;

impl Reporter for Discard {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        black_box(segments);
    }
}

/// A redis connection that answers every command at once with a bulk string.
#[derive(Clone)]
struct Instant;

impl ConnectionLike for Instant {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        black_box(cmd);
        Box::pin(async { Ok(Value::BulkString(b"49".to_vec())) })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        _: &'a Pipeline,
        _: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move { Ok(vec![Value::Okay; count]) })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

async fn get<C: ConnectionLike + Send>(con: &mut C) -> Option<String> {
    redis::cmd("GET")
        .arg("k")
        .query_async(con)
        .await
        .expect("GET")
}

/// The four cases of one call: `untraced` and `traced`, and inside a span when `on`.
fn cases<U, T, FU, FT>(
    group: &mut BenchmarkGroup<'_, WallTime>,
    rt: &tokio::runtime::Runtime,
    on: bool,
    mut untraced: U,
    mut traced: T,
) where
    U: FnMut() -> FU,
    T: FnMut() -> FT,
    FU: Future,
    FT: Future,
{
    let state = if on { "on" } else { "off" };
    group.bench_function(format!("{state}/untraced"), |b| {
        b.iter(|| black_box(rt.block_on(untraced())))
    });
    group.bench_function(format!("{state}/traced"), |b| {
        b.iter(|| black_box(rt.block_on(traced())))
    });
    if on {
        group.bench_function(format!("{state}/untraced_in_span"), |b| {
            b.iter(|| black_box(rt.block_on(untraced().in_span("request"))))
        });
        group.bench_function(format!("{state}/traced_in_span"), |b| {
            b.iter(|| black_box(rt.block_on(traced().in_span("request"))))
        });
    }
}

fn group<'c>(c: &'c mut Criterion, name: &str) -> BenchmarkGroup<'c, WallTime> {
    let mut group = c.benchmark_group(name);
    group
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    group
}

fn db_clients(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    let redis_server = skywalking_testkit::servers::redis::start().unwrap_or_else(|error| {
        eprintln!("redis cases skipped: {error}");
        None
    });
    let redis = redis_server.as_ref().map(|server| {
        rt.block_on(async {
            let client = redis::Client::open(server.url()).expect("url");
            let mut con = client
                .get_multiplexed_async_connection()
                .await
                .expect("redis");
            let _: () = redis::cmd("SET")
                .arg("k")
                .arg("49")
                .query_async(&mut con)
                .await
                .expect("SET");
            TracedConnection::new(con, &client)
        })
    });

    let pg_server = skywalking_testkit::servers::postgres::start().unwrap_or_else(|error| {
        eprintln!("PostgreSQL cases skipped: {error}");
        None
    });
    let postgres: Option<(TracedClient, TracedStatement)> = pg_server.as_ref().map(|server| {
        rt.block_on(async {
            let mut config = tokio_postgres::Config::new();
            config
                .host(server.host())
                .port(server.port())
                .user(server.user())
                .dbname(server.database());
            let stream = tokio::net::TcpStream::connect((server.host(), server.port()))
                .await
                .expect("listens");
            let (client, connection) = config
                .connect_raw(stream, tokio_postgres::NoTls)
                .await
                .expect("PostgreSQL");
            tokio::spawn(connection);
            client
                .batch_execute(
                    "CREATE TABLE kv (k BIGINT PRIMARY KEY, v BIGINT NOT NULL); \
                     INSERT INTO kv (k, v) VALUES (7, 49)",
                )
                .await
                .expect("table");
            let client = TracedClient::new(client, &config);
            // Prepared before any agent runs: no span.
            let statement = client
                .prepare("SELECT v FROM kv WHERE k = $1")
                .await
                .expect("prepare");
            (client, statement)
        })
    });

    for on in [false, true] {
        let agent = on.then(|| {
            Agent::builder()
                .config(Config::default())
                .service("bench")
                .reporter(Discard)
                .start()
                .expect("agent")
        });

        let mut g = group(c, "db_clients/redis_instant");
        let plain = Instant;
        let traced = TracedConnection::with_peer(Instant, "cache:6379");
        cases(
            &mut g,
            &rt,
            on,
            || {
                let mut con = plain.clone();
                async move { get(&mut con).await }
            },
            || {
                let mut con = traced.clone();
                async move { get(&mut con).await }
            },
        );
        g.finish();

        if let Some(traced) = &redis {
            let mut g = group(c, "db_clients/redis");
            cases(
                &mut g,
                &rt,
                on,
                || {
                    let mut con = traced.get_ref().clone();
                    async move { get(&mut con).await }
                },
                || {
                    let mut con = traced.clone();
                    async move { get(&mut con).await }
                },
            );
            g.finish();
        }

        if let Some((client, statement)) = &postgres {
            let mut g = group(c, "db_clients/postgres");
            let point = |row: tokio_postgres::Row| row.get::<_, i64>(0);
            cases(
                &mut g,
                &rt,
                on,
                || async {
                    let row = client.get_ref().query_one(statement.statement(), &[&7_i64]);
                    point(row.await.expect("a row"))
                },
                || async { point(client.query_one(statement, &[&7_i64]).await.expect("a row")) },
            );
            g.finish();
        }
        drop(agent);
    }
}

/// One `redis_instant` case, `iterations` times (the function callgrind collects in).
#[inline(never)]
fn measured(rt: &tokio::runtime::Runtime, case: &str, iterations: u64) {
    let traced = TracedConnection::with_peer(Instant, "cache:6379");
    for _ in 0..iterations {
        let mut plain = Instant;
        let mut con = traced.clone();
        match case {
            "untraced" => black_box(rt.block_on(get(&mut plain))),
            "traced" => black_box(rt.block_on(get(&mut con))),
            "untraced_in_span" => black_box(rt.block_on(get(&mut plain).in_span("request"))),
            _ => black_box(rt.block_on(get(&mut con).in_span("request"))),
        };
    }
}

criterion_group!(benches, db_clients);

fn main() {
    if let Ok(spec) = std::env::var("SW_BENCH_CALLGRIND") {
        let (case, iterations) = spec.split_once(':').unwrap_or((&spec, "20000"));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let _agent = Agent::builder()
            .config(Config::default())
            .service("bench")
            .reporter(Discard)
            .start()
            .expect("agent");
        measured(&rt, case, 0);
        for _ in 0..1000 {
            warm_up(&rt, case);
        }
        measured(&rt, case, iterations.parse().unwrap_or(20_000));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// The case once, outside the collected function (warms the pools up).
fn warm_up(rt: &tokio::runtime::Runtime, case: &str) {
    let mut plain = Instant;
    let mut con = TracedConnection::with_peer(Instant, "cache:6379");
    match case {
        "untraced" | "untraced_in_span" => black_box(rt.block_on(get(&mut plain).in_span("w"))),
        _ => black_box(rt.block_on(get(&mut con).in_span("w"))),
    };
}
