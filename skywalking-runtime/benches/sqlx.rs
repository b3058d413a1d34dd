//! What `TracedPool` adds to a statement: one point query (`SELECT v FROM kv WHERE k = ?`,
//! `fetch_one`) on the same pool, through the pool itself (`untraced`) and through the
//! `TracedPool` wrapping it (`traced`), on a current-thread tokio runtime:
//!
//! - `off/*`: no agent runs (the wrapper only forwards);
//! - `on/*`: a running agent whose reporter discards what it gets; `traced` is then a
//!   statement that is its own trace (a new trace, the exit span with its three tags,
//!   one segment handed to the reporter thread); `*_in_span` runs the statement inside
//!   a local span (`FutureExt::in_span`), as in a request, so `traced_in_span` minus
//!   `untraced_in_span` is the exit span alone.
//!
//! Databases: SQLite in memory (always), and PostgreSQL on loopback when the testkit's
//! harness can start one (`postgres/*`; skipped when it is not installed).
//!
//! Run with `cargo bench -p skywalking-runtime --features sqlx --bench sqlx` (short runs:
//! 2 s per case).
//!
//! For instruction counts that do not depend on the machine's load, one SQLite case runs
//! alone under callgrind with the agent on (`case:iterations`, a case of the `on` state;
//! the total of the main thread, in the file ending in `-01`, divided by the iterations
//! is one statement):
//!
//! ```text
//! SW_BENCH_CALLGRIND=traced_in_span:20000 valgrind --tool=callgrind --separate-threads=yes \
//!     --toggle-collect='*measured*' target/release/deps/sqlx-<hash> --bench
//! ```

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use skywalking_proto::v3::SegmentObject;
use skywalking_runtime::integrations::sqlx::TracedPool;
use skywalking_runtime::{Agent, Config, FutureExt, Reporter};
use sqlx::{Database, Executor, Pool};

struct Discard;

impl Reporter for Discard {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        black_box(segments);
    }
}

const POINT_SQLITE: &str = "SELECT v FROM kv WHERE k = ?";
const POINT_POSTGRES: &str = "SELECT v FROM kv WHERE k = $1";

/// One point query on `executor`.
async fn point<'c, DB, E>(executor: E, sql: &'static str) -> i64
where
    DB: Database,
    E: Executor<'c, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let row = sqlx::query(sql)
        .bind(7_i64)
        .fetch_one(executor)
        .await
        .expect("a row");
    sqlx::Row::get::<i64, _>(&row, 0)
}

/// Runs the cases of one database in one agent state.
fn cases<DB>(
    c: &mut Criterion,
    rt: &tokio::runtime::Runtime,
    label: &str,
    traced: &TracedPool<DB>,
    sql: &'static str,
    on: bool,
) where
    DB: skywalking_runtime::integrations::sqlx::TracedDatabase,
    for<'a> &'a Pool<DB>: Executor<'a, Database = DB>,
    for<'a> &'a TracedPool<DB>: Executor<'a, Database = DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Decode<'q, DB> + sqlx::Type<DB>,
    for<'q> <DB as Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let state = if on { "on" } else { "off" };
    let mut group = c.benchmark_group(format!("sqlx/{label}"));
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30);
    let pool = traced.pool();
    group.bench_function(format!("{state}/untraced"), |b| {
        b.iter(|| black_box(rt.block_on(point(pool, sql))))
    });
    group.bench_function(format!("{state}/traced"), |b| {
        b.iter(|| black_box(rt.block_on(point(traced, sql))))
    });
    if on {
        group.bench_function(format!("{state}/untraced_in_span"), |b| {
            b.iter(|| black_box(rt.block_on(point(pool, sql).in_span("request"))))
        });
        group.bench_function(format!("{state}/traced_in_span"), |b| {
            b.iter(|| black_box(rt.block_on(point(traced, sql).in_span("request"))))
        });
    }
    group.finish();
}

/// The SQLite pool of the cases: one table, one row.
async fn sqlite() -> TracedPool<sqlx::Sqlite> {
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("SQLite");
    pool.execute("CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)")
        .await
        .expect("table");
    pool.execute("INSERT INTO kv (k, v) VALUES (7, 49)")
        .await
        .expect("row");
    TracedPool::new(pool)
}

fn sqlx_statements(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let sqlite = rt.block_on(sqlite());
    let server = skywalking_testkit::servers::postgres::start().unwrap_or_else(|error| {
        eprintln!("PostgreSQL cases skipped: {error}");
        None
    });
    let postgres = server.as_ref().map(|server| {
        rt.block_on(async {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(1)
                .connect(&server.url())
                .await
                .expect("PostgreSQL");
            pool.execute("CREATE TABLE kv (k BIGINT PRIMARY KEY, v BIGINT NOT NULL)")
                .await
                .expect("table");
            pool.execute("INSERT INTO kv (k, v) VALUES (7, 49)")
                .await
                .expect("row");
            TracedPool::new(pool)
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
        cases(c, &rt, "sqlite_memory", &sqlite, POINT_SQLITE, on);
        if let Some(postgres) = &postgres {
            cases(c, &rt, "postgres", postgres, POINT_POSTGRES, on);
        }
        drop(agent);
    }
}

criterion_group!(benches, sqlx_statements);

/// Runs `iterations` statements of `case` on the SQLite pool (see the module docs).
#[inline(never)]
fn measured(
    rt: &tokio::runtime::Runtime,
    traced: &TracedPool<sqlx::Sqlite>,
    case: &str,
    iterations: u64,
) {
    let pool = traced.pool();
    for _ in 0..iterations {
        let value = match case {
            "untraced" => rt.block_on(point(pool, POINT_SQLITE)),
            "traced" => rt.block_on(point(traced, POINT_SQLITE)),
            "untraced_in_span" => rt.block_on(point(pool, POINT_SQLITE).in_span("request")),
            "traced_in_span" => rt.block_on(point(traced, POINT_SQLITE).in_span("request")),
            other => panic!("unknown case {other}"),
        };
        black_box(value);
    }
}

fn main() {
    let Ok(spec) = std::env::var("SW_BENCH_CALLGRIND") else {
        benches();
        Criterion::default().configure_from_args().final_summary();
        return;
    };
    let (case, iterations) = spec.split_once(':').expect("case:iterations");
    let iterations: u64 = iterations.parse().expect("a number of iterations");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let traced = rt.block_on(sqlite());
    let _agent = Agent::builder()
        .config(Config::default())
        .service("bench")
        .reporter(Discard)
        .start()
        .expect("agent");
    measured(&rt, &traced, case, 1000); // warm up
    measured(&rt, &traced, case, iterations);
}
