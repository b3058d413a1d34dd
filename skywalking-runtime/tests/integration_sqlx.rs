//! sqlx through `TracedPool` against real databases: SQLite in memory, PostgreSQL and
//! MariaDB started by the testkit's `servers` harness (skipped locally when not
//! installed, a failure under `CI=true`). Every statement is an exit span under the
//! caller's span, reported over real gRPC to the mock collector: layer, component, peer,
//! tags, parent; a failing statement is an error span with a log and hands the caller
//! the very error an untraced pool gives; pools report `datasource` meters.

mod integration_support;

use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::Duration;

use integration_support::tags;

use futures_core::Stream;
use http::HeaderMap;
use skywalking_proto::v3::{SegmentObject, SpanLayer, SpanObject, SpanType, meter_data::Metric};
use skywalking_runtime::integrations::sqlx::TracedPool;
use skywalking_runtime::{Agent, Config, trace};
use skywalking_testkit::MockCollector;
use skywalking_testkit::servers::{mariadb, postgres};
use sqlx::{Executor, Row};

const WAIT: Duration = Duration::from_secs(10);

/// The collector (on a runtime of its own, alive for the whole binary) and the agent.
struct Env {
    collector: MockCollector,
    _agent: Agent,
    _runtime: tokio::runtime::Runtime,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    // Made on a thread of its own: the tests call this from inside their runtimes.
    ENV.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("a runtime");
            let collector = runtime.block_on(MockCollector::start()).expect("collector");
            let agent = Agent::builder()
                .config(Config::default())
                .service("orders")
                .instance("orders-1")
                .backend(collector.addr().to_string())
                .flush_interval(Duration::from_millis(5))
                .meter_collect_interval(Duration::from_millis(300))
                .start()
                .expect("agent starts");
            Env {
                collector,
                _agent: agent,
                _runtime: runtime,
            }
        })
        .join()
        .expect("the environment starts")
    })
}

/// One PostgreSQL server for the binary; `None`: not installed (skipped).
fn pg() -> Option<&'static postgres::Postgres> {
    static PG: OnceLock<Option<postgres::Postgres>> = OnceLock::new();
    PG.get_or_init(|| postgres::start().expect("PostgreSQL starts"))
        .as_ref()
}

/// One MariaDB server for the binary; `None`: not installed (skipped).
fn mariadb() -> Option<&'static mariadb::MariaDb> {
    static DB: OnceLock<Option<mariadb::MariaDb>> = OnceLock::new();
    DB.get_or_init(|| mariadb::start().expect("MariaDB starts"))
        .as_ref()
}

/// Runs `work` in the entry span `POST /orders` (a new trace); returns its trace id.
#[trace(entry, name = "POST /orders", headers = &HeaderMap::new())]
async fn front<F: Future>(work: F) -> (String, F::Output) {
    let trace = skywalking_runtime::trace_id()
        .expect("recording")
        .to_string();
    (trace, work.await)
}

/// The one segment of `trace`, once the agent has reported it.
async fn segment(trace: &str) -> SegmentObject {
    let mut segments = env()
        .collector
        .wait_for_trace(trace, 1, WAIT)
        .await
        .expect("the trace arrives");
    assert_eq!(segments.len(), 1, "{segments:?}");
    segments.remove(0)
}

fn logs(span: &SpanObject) -> Vec<HashMap<&str, &str>> {
    span.logs
        .iter()
        .map(|l| {
            l.data
                .iter()
                .map(|kv| (kv.key.as_str(), kv.value.as_str()))
                .collect()
        })
        .collect()
}

/// The spans named `name`, in the order they opened.
fn spans_named<'a>(segment: &'a SegmentObject, name: &str) -> Vec<&'a SpanObject> {
    let mut spans: Vec<_> = segment
        .spans
        .iter()
        .filter(|s| s.operation_name == name)
        .collect();
    spans.sort_by_key(|s| s.span_id);
    spans
}

fn entry(segment: &SegmentObject) -> &SpanObject {
    let found = spans_named(segment, "POST /orders");
    assert_eq!(found.len(), 1);
    found[0]
}

/// Asserts the shape every statement span has: an exit span of layer Database, the
/// child of the entry span, with `component`, `peer` and the `db.*` tags.
fn assert_statement(
    segment: &SegmentObject,
    span: &SpanObject,
    component: i32,
    peer: &str,
    db_type: &str,
    instance: &str,
    sql: &str,
) {
    assert_eq!(span.span_type, SpanType::Exit as i32, "{span:?}");
    assert_eq!(span.span_layer, SpanLayer::Database as i32);
    assert_eq!(span.component_id, component);
    assert_eq!(span.peer, peer);
    assert_eq!(span.parent_span_id, entry(segment).span_id);
    let tags = tags(span);
    assert_eq!(tags["db.type"], db_type);
    assert_eq!(tags["db.instance"], instance);
    assert_eq!(tags["db.statement"], sql);
    assert!(
        !tags.contains_key("db.sql.parameters"),
        "parameters are off by default"
    );
}

/// Asserts that `span` failed with `error`'s text logged.
fn assert_failed(span: &SpanObject, error: &sqlx::Error) {
    assert!(span.is_error, "{span:?}");
    let logs = logs(span);
    assert_eq!(logs.len(), 1, "{logs:?}");
    assert_eq!(logs[0]["event"], "error");
    assert_eq!(logs[0]["message"], error.to_string());
}

/// The next item of a stream.
async fn next<S: Stream + Unpin>(stream: &mut S) -> Option<S::Item> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await
}

async fn sqlite_pool() -> TracedPool<sqlx::Sqlite> {
    // One connection: each connection to `:memory:` is a database of its own.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect("sqlite::memory:")
        .await
        .expect("SQLite opens");
    TracedPool::new(pool)
}

const CREATE: &str = "CREATE TABLE orders (id INTEGER PRIMARY KEY, sku TEXT NOT NULL)";
const BROKEN: &str = "SELEKT sku FROM orders";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_statements_are_database_exit_spans_under_the_callers_span() {
    env();
    let pool = sqlite_pool().await;
    assert_eq!(pool.peer(), ":memory:");
    let (trace, (count, skus)) = front(async {
        sqlx::query(CREATE).execute(&pool).await.unwrap();
        sqlx::query("INSERT INTO orders (sku) VALUES (?)")
            .bind("sku-7")
            .execute(&pool)
            .await
            .unwrap();
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut skus = Vec::new();
        let mut rows = sqlx::query("SELECT sku FROM orders").fetch(&pool);
        while let Some(row) = next(&mut rows).await {
            skus.push(row.unwrap().get::<String, _>(0));
        }
        (count, skus)
    })
    .await;
    assert_eq!(count, 1);
    assert_eq!(skus, ["sku-7"]);

    let segment = segment(&trace).await;
    let sqlite = |name: &str, sql: &str| {
        let found = spans_named(&segment, name);
        assert_eq!(found.len(), 1, "{name}: {:?}", segment.spans);
        assert_statement(
            &segment, found[0], 31, ":memory:", "SQLite", ":memory:", sql,
        );
    };
    let executes = spans_named(&segment, "SQLite/sqlx/execute");
    assert_eq!(executes.len(), 2);
    assert_statement(
        &segment,
        executes[0],
        31,
        ":memory:",
        "SQLite",
        ":memory:",
        CREATE,
    );
    // `query_scalar(..).fetch_one` calls the executor's `fetch_optional`.
    sqlite("SQLite/sqlx/fetch_optional", "SELECT count(*) FROM orders");
    sqlite("SQLite/sqlx/fetch", "SELECT sku FROM orders");
    assert_eq!(
        segment.spans.len(),
        5,
        "one span per statement: {:?}",
        segment.spans
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_sqlite_statement_is_an_error_span_and_the_caller_gets_the_same_error() {
    env();
    let pool = sqlite_pool().await;
    sqlx::query(CREATE).execute(pool.pool()).await.unwrap();
    let untraced = sqlx::query(BROKEN)
        .fetch_all(pool.pool())
        .await
        .err()
        .expect("a syntax error");
    let (trace, traced) = front(async { sqlx::query(BROKEN).fetch_all(&pool).await }).await;
    let traced = traced.err().expect("a syntax error");
    assert!(matches!(traced, sqlx::Error::Database(_)), "{traced:?}");
    assert!(matches!(untraced, sqlx::Error::Database(_)));
    assert_eq!(traced.to_string(), untraced.to_string());

    let segment = segment(&trace).await;
    let span = spans_named(&segment, "SQLite/sqlx/fetch_all")[0];
    assert_statement(&segment, span, 31, ":memory:", "SQLite", ":memory:", BROKEN);
    assert_failed(span, &traced);
    // `fetch_one` finding no row is the caller's business, not a failed statement.
    let (trace, none) =
        front(async { sqlx::query("SELECT sku FROM orders").fetch_one(&pool).await }).await;
    assert!(matches!(none, Err(sqlx::Error::RowNotFound)));
    let segment = self::segment(&trace).await;
    assert!(!spans_named(&segment, "SQLite/sqlx/fetch_one")[0].is_error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_statements_are_cut_at_2048_bytes_and_a_statement_alone_starts_a_trace() {
    env();
    let pool = sqlite_pool().await;
    // 11 bytes, then 2-byte characters: byte 2048 is inside one.
    let sql = format!("SELECT 1 /*{}*/", "é".repeat(1500));
    let value: i32 = sqlx::query_scalar(&sql).fetch_one(&pool).await.unwrap();
    assert_eq!(value, 1);
    // No span was current: the statement is the first span of a trace of its own.
    let segment = env()
        .collector
        .wait_until(WAIT, |records| {
            records
                .segments
                .iter()
                .find(|s| {
                    s.spans.iter().any(|span| {
                        tags(span)
                            .get("db.statement")
                            .is_some_and(|t| t.starts_with("SELECT 1 /*é"))
                    })
                })
                .cloned()
        })
        .await
        .expect("the statement's segment");
    assert_eq!(segment.spans.len(), 1);
    let span = &segment.spans[0];
    assert_eq!(span.span_id, 0);
    assert_eq!(span.parent_span_id, -1);
    assert_eq!(span.span_type, SpanType::Exit as i32);
    let statement = tags(span)["db.statement"];
    assert_eq!(
        statement.len(),
        2047,
        "cut at a character boundary within 2048 bytes"
    );
    assert!(sql.starts_with(statement));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_statements_transactions_and_errors() {
    env();
    let Some(server) = pg() else { return };
    let pool = TracedPool::new(
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(3)
            .connect(&server.url())
            .await
            .expect("connects"),
    );
    let peer = format!("127.0.0.1:{}", server.port());
    assert_eq!(pool.peer(), peer);
    let create = "CREATE TABLE IF NOT EXISTS pg_orders (id SERIAL PRIMARY KEY, sku TEXT NOT NULL)";
    let insert = "INSERT INTO pg_orders (sku) VALUES ($1) RETURNING id";
    let update = "UPDATE pg_orders SET sku = $1 WHERE id = $2";
    let untraced = sqlx::query(BROKEN).execute(pool.pool()).await.unwrap_err();
    let (trace, (id, error)) = front(async {
        sqlx::query(create).execute(&pool).await.unwrap();
        let id: i32 = sqlx::query_scalar(insert)
            .bind("sku-7")
            .fetch_one(&pool)
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(update)
            .bind("sku-8")
            .bind(id)
            .execute(pool.on(&mut *tx))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let error = sqlx::query(BROKEN).execute(&pool).await.unwrap_err();
        (id, error)
    })
    .await;
    assert!(id > 0);
    assert!(matches!(error, sqlx::Error::Database(_)), "{error:?}");
    assert_eq!(error.to_string(), untraced.to_string());
    let sku: String = sqlx::query_scalar("SELECT sku FROM pg_orders WHERE id = $1")
        .bind(id)
        .fetch_one(pool.pool())
        .await
        .unwrap();
    assert_eq!(
        sku, "sku-8",
        "the transaction committed through the wrapper"
    );

    let segment = segment(&trace).await;
    let pg = |span: &SpanObject, sql: &str| {
        assert_statement(&segment, span, 22, &peer, "PostgreSQL", "sw_test", sql)
    };
    let executes = spans_named(&segment, "PostgreSQL/sqlx/execute");
    assert_eq!(executes.len(), 3, "{:?}", segment.spans);
    pg(executes[0], create);
    pg(executes[1], update);
    pg(executes[2], BROKEN);
    assert!(!executes[1].is_error);
    assert_failed(executes[2], &error);
    pg(
        spans_named(&segment, "PostgreSQL/sqlx/fetch_optional")[0],
        insert,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_an_error_span() {
    env();
    let port = skywalking_testkit::servers::free_port().unwrap();
    let pool = TracedPool::new(
        sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy(&format!("postgres://app@127.0.0.1:{port}/shop"))
            .unwrap(),
    );
    let (trace, result) = front(async { pool.execute("SELECT 1").await }).await;
    let error = result.unwrap_err();
    assert!(
        matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut),
        "{error:?}"
    );
    let segment = segment(&trace).await;
    let span = spans_named(&segment, "PostgreSQL/sqlx/execute")[0];
    assert_statement(
        &segment,
        span,
        22,
        &format!("127.0.0.1:{port}"),
        "PostgreSQL",
        "shop",
        "SELECT 1",
    );
    assert_failed(span, &error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_statements_and_errors() {
    env();
    let Some(server) = mariadb() else { return };
    let pool = TracedPool::new(
        sqlx::mysql::MySqlPoolOptions::new()
            .max_connections(2)
            .connect(&server.url())
            .await
            .expect("connects"),
    );
    let peer = format!("127.0.0.1:{}", server.port());
    let create = "CREATE TABLE IF NOT EXISTS my_orders (id INT AUTO_INCREMENT PRIMARY KEY, sku TEXT NOT NULL)";
    let insert = "INSERT INTO my_orders (sku) VALUES (?)";
    let select = "SELECT sku FROM my_orders";
    let untraced = sqlx::query(BROKEN).execute(pool.pool()).await.unwrap_err();
    let (trace, (rows, error)) = front(async {
        sqlx::query(create).execute(&pool).await.unwrap();
        sqlx::query(insert)
            .bind("sku-7")
            .execute(&pool)
            .await
            .unwrap();
        let rows = sqlx::query(select).fetch_all(&pool).await.unwrap();
        let error = sqlx::query(BROKEN).execute(&pool).await.unwrap_err();
        (rows.len(), error)
    })
    .await;
    assert_eq!(rows, 1);
    assert!(matches!(error, sqlx::Error::Database(_)), "{error:?}");
    assert_eq!(error.to_string(), untraced.to_string());

    let segment = segment(&trace).await;
    let my = |span: &SpanObject, sql: &str| {
        assert_statement(&segment, span, 5, &peer, "Mysql", "sw_test", sql)
    };
    let executes = spans_named(&segment, "Mysql/sqlx/execute");
    assert_eq!(executes.len(), 3, "{:?}", segment.spans);
    my(executes[0], create);
    my(executes[1], insert);
    my(executes[2], BROKEN);
    assert_failed(executes[2], &error);
    my(spans_named(&segment, "Mysql/sqlx/fetch_all")[0], select);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pools_report_datasource_meters() {
    env();
    let pool = TracedPool::with_name(
        sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(4)
            .min_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap(),
        "orders-db",
    );
    let held = pool.acquire().await.unwrap();
    let wanted = [
        ("activeConnections", 1.0),
        ("idleConnections", 0.0),
        ("totalConnections", 1.0),
        ("maximumPoolSize", 4.0),
        ("minimumIdle", 1.0),
    ];
    let values = env()
        .collector
        .wait_until(WAIT, |records| {
            let mut found = HashMap::new();
            for data in records.meters.iter().rev() {
                let Some(Metric::SingleValue(v)) = &data.metric else {
                    continue;
                };
                let labels: HashMap<_, _> = v
                    .labels
                    .iter()
                    .map(|l| (l.name.as_str(), l.value.as_str()))
                    .collect();
                if v.name == "datasource" && labels.get("name") == Some(&"orders-db") {
                    found.entry(labels["status"].to_owned()).or_insert(v.value);
                }
            }
            let matches = wanted.iter().all(|(s, v)| found.get(*s) == Some(v));
            matches.then_some(found)
        })
        .await
        .expect("the pool's meters, with one connection held");
    assert_eq!(values.len(), 5, "{values:?}");
    drop(held);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_read_in_part_ends_its_span_cleanly_and_a_failing_stream_is_an_error() {
    env();
    let pool = sqlite_pool().await;
    sqlx::query(CREATE).execute(pool.pool()).await.unwrap();
    for sku in ["a", "b", "c"] {
        sqlx::query("INSERT INTO orders (sku) VALUES (?)")
            .bind(sku)
            .execute(pool.pool())
            .await
            .unwrap();
    }
    let (trace, (first, error)) = front(async {
        let mut rows = sqlx::query("SELECT sku FROM orders ORDER BY id").fetch(&pool);
        let first: String = next(&mut rows).await.unwrap().unwrap().get(0);
        drop(rows); // stops reading after one row
        let mut broken = sqlx::query(BROKEN).fetch(&pool);
        let error = next(&mut broken)
            .await
            .unwrap()
            .err()
            .expect("a syntax error");
        (first, error)
    })
    .await;
    assert_eq!(first, "a");
    let segment = segment(&trace).await;
    let fetches = spans_named(&segment, "SQLite/sqlx/fetch");
    assert_eq!(fetches.len(), 2, "{:?}", segment.spans);
    assert_statement(
        &segment,
        fetches[0],
        31,
        ":memory:",
        "SQLite",
        ":memory:",
        "SELECT sku FROM orders ORDER BY id",
    );
    assert!(!fetches[0].is_error);
    assert!(
        fetches[0].logs.is_empty(),
        "not cancelled: {:?}",
        fetches[0].logs
    );
    assert_statement(
        &segment, fetches[1], 31, ":memory:", "SQLite", ":memory:", BROKEN,
    );
    assert_failed(fetches[1], &error);
}
