//! The tokio-postgres integration against a real PostgreSQL (the testkit starts one per
//! test binary on a free port) and the mock collector over gRPC: the spans' kind,
//! layer, component, peer, tags and parents; prepared statements; transactions; a
//! failing statement, whose error reaches the caller unchanged.

mod integration_support;
mod reporter_support;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::Duration;

use integration_support::{error_message, tags};

use reporter_support::{WAIT, child_role, child_value, collector_runtime, run_child};
use skywalking_proto::v3::{RefType, SegmentObject, SpanLayer, SpanObject, SpanType};
use skywalking_runtime::integrations::tokio_postgres::TracedClient;
use skywalking_runtime::{Agent, Config as AgentConfig, FutureExt, Span, trace};
use skywalking_testkit::MockCollector;
use skywalking_testkit::servers::postgres::{self as server, Postgres};
use tokio_postgres::{Client, Config, NoTls};

/// Bytes of `db.sql.parameters` this binary's agent keeps.
const PARAMETERS_MAX: usize = 40;

struct Setup {
    collector: MockCollector,
    postgres: Option<Postgres>,
    _agent: Agent,
    runtime: tokio::runtime::Runtime,
}

/// One collector, agent (recording parameters, cut at [`PARAMETERS_MAX`]) and server
/// for the whole binary, made on a thread of its own (the async tests call this from
/// inside their runtime).
fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| std::thread::spawn(make_setup).join().expect("setup"))
}

fn make_setup() -> Setup {
    let runtime = collector_runtime();
    let collector = runtime.block_on(MockCollector::start()).expect("collector");
    let agent = Agent::builder()
        .config(AgentConfig::default())
        .service("pg-svc")
        .instance("pg-1")
        .backend(collector.addr().to_string())
        .flush_interval(Duration::from_millis(5))
        .sql_trace_parameters(true)
        .sql_parameters_max_length(PARAMETERS_MAX)
        .start()
        .expect("agent starts");
    let postgres = server::start().expect("PostgreSQL starts");
    Setup {
        collector,
        postgres,
        _agent: agent,
        runtime,
    }
}

/// The shared server, or `None` (the test is skipped) when it is not installed.
fn postgres() -> Option<&'static Postgres> {
    setup().postgres.as_ref()
}

fn config(pg: &Postgres) -> Config {
    let mut config = Config::new();
    config
        .host(pg.host())
        .port(pg.port())
        .user(pg.user())
        .dbname(pg.database());
    config
}

/// A plain client of `pg` (its connection driven by a task of the current runtime).
async fn connect(pg: &Postgres) -> (Client, Config) {
    let config = config(pg);
    let stream = tokio::net::TcpStream::connect((pg.host(), pg.port()))
        .await
        .expect("the server listens");
    let (client, connection) = config.connect_raw(stream, NoTls).await.expect("connects");
    tokio::spawn(connection);
    (client, config)
}

/// A traced client of `pg`.
async fn traced(pg: &Postgres) -> TracedClient {
    let (client, config) = connect(pg).await;
    TracedClient::new(client, &config)
}

async fn trace_segments(trace: &str, n: usize) -> Vec<SegmentObject> {
    setup()
        .collector
        .wait_for_trace(trace, n, WAIT)
        .await
        .expect("the trace arrives")
}

fn spans_named<'a>(segment: &'a SegmentObject, name: &str) -> Vec<&'a SpanObject> {
    segment
        .spans
        .iter()
        .filter(|s| s.operation_name == name)
        .collect()
}

fn span<'a>(segment: &'a SegmentObject, name: &str) -> &'a SpanObject {
    match spans_named(segment, name).as_slice() {
        [one] => one,
        other => {
            let names: Vec<_> = segment.spans.iter().map(|s| &s.operation_name).collect();
            panic!("{} spans {name:?} in {names:?}", other.len())
        }
    }
}

/// Asserts the shape every PostgreSQL span has: an exit span of layer Database,
/// component 22, calling the server, child of `parent`, tagged with the database.
fn assert_pg_exit(span: &SpanObject, pg: &Postgres, parent: &SpanObject) {
    assert_eq!(span.span_type, SpanType::Exit as i32, "{span:?}");
    assert_eq!(span.span_layer, SpanLayer::Database as i32, "{span:?}");
    assert_eq!(span.component_id, 22, "{span:?}");
    assert_eq!(span.peer, format!("127.0.0.1:{}", pg.port()));
    assert_eq!(span.parent_span_id, parent.span_id);
    let tags = tags(span);
    assert_eq!(tags["db.type"], "PostgreSQL");
    assert_eq!(tags["db.instance"], pg.database());
}

fn current_trace() -> String {
    skywalking_runtime::trace_id()
        .expect("a trace is active")
        .to_string()
}

/// An `sw8` header from another service's exit span, for an entry span to continue.
fn caller_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    let caller = Span::exit("GET /users", "users:8080");
    caller.inject(&mut headers);
    headers
}

/// A request handler continuing the caller's trace.
#[trace(entry, name = "GET /users/{id}", headers = &headers)]
async fn handle(headers: HashMap<String, String>, client: &TracedClient) -> (String, String) {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, name text NOT NULL); \
             DELETE FROM users",
        )
        .await
        .expect("batch");
    let insert = client
        .prepare("INSERT INTO users (id, name) VALUES ($1, $2)")
        .await
        .expect("prepare");
    let changed = client
        .execute(&insert, &[&7_i32, &"ada"])
        .await
        .expect("insert");
    assert_eq!(changed, 1);
    let plain = client
        .get_ref()
        .prepare("SELECT name FROM users WHERE id = $1")
        .await
        .expect("an untraced prepare");
    let row = client.query_one(&plain, &[&7_i32]).await.expect("select");
    let rows = client
        .query("SELECT id FROM users WHERE name = $1", &[&"ada"])
        .await
        .expect("select");
    assert_eq!(rows.len(), 1);
    (current_trace(), row.get(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_are_database_exit_spans_of_the_entry_span() {
    let Some(pg) = postgres() else { return };
    let client = traced(pg).await;
    assert_eq!(client.peer(), format!("127.0.0.1:{}", pg.port()));
    assert_eq!(client.database(), Some(pg.database()));

    let (trace, name) = handle(caller_headers(), &client).await;
    assert_eq!(name, "ada");

    let segments = trace_segments(&trace, 2).await;
    let segment = segments
        .iter()
        .find(|s| {
            s.spans
                .iter()
                .any(|s| s.operation_name == "GET /users/{id}")
        })
        .expect("the handler's segment");
    let entry = span(segment, "GET /users/{id}");
    assert_eq!(entry.refs.len(), 1, "the entry continues the caller");
    assert_eq!(entry.refs[0].ref_type, RefType::CrossProcess as i32);
    assert_eq!(
        segment.spans.len(),
        6,
        "the entry and five traced calls (the untraced prepare makes none)"
    );

    let batch = span(segment, "PostgreSQL/tokio-postgres/batch_execute");
    assert_pg_exit(batch, pg, entry);
    assert!(tags(batch)["db.statement"].starts_with("CREATE TABLE IF NOT EXISTS users"));
    assert!(!tags(batch).contains_key("db.sql.parameters"));

    let prepare = span(segment, "PostgreSQL/tokio-postgres/prepare");
    assert_pg_exit(prepare, pg, entry);
    let insert_sql = "INSERT INTO users (id, name) VALUES ($1, $2)";
    assert_eq!(tags(prepare)["db.statement"], insert_sql);

    let execute = span(segment, "PostgreSQL/tokio-postgres/execute");
    assert_pg_exit(execute, pg, entry);
    assert_eq!(
        tags(execute)["db.statement"],
        insert_sql,
        "a TracedStatement"
    );
    assert_eq!(tags(execute)["db.sql.parameters"], "[7, \"ada\"]");
    assert!(!execute.is_error);

    let query_one = span(segment, "PostgreSQL/tokio-postgres/query_one");
    assert_pg_exit(query_one, pg, entry);
    assert!(
        !tags(query_one).contains_key("db.statement"),
        "a plain Statement keeps no SQL"
    );
    assert_eq!(tags(query_one)["db.sql.parameters"], "[7]");

    let query = span(segment, "PostgreSQL/tokio-postgres/query");
    assert_pg_exit(query, pg, entry);
    assert_eq!(
        tags(query)["db.statement"],
        "SELECT id FROM users WHERE name = $1"
    );
    assert!(query.start_time >= execute.end_time, "in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_are_spans_and_their_statements_too() {
    let Some(pg) = postgres() else { return };
    let mut client = traced(pg).await;
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS stock (sku text PRIMARY KEY, n int)")
        .await
        .expect("create");
    let (trace, (kept, undone)) = async {
        let tx = client.transaction().await.expect("begin");
        tx.execute(
            "INSERT INTO stock VALUES ('a', 1) ON CONFLICT (sku) DO UPDATE SET n = 1",
            &[],
        )
        .await
        .expect("upsert");
        tx.commit().await.expect("commit");

        let mut tx = client.transaction().await.expect("begin");
        tx.execute("UPDATE stock SET n = 2 WHERE sku = $1", &[&"a"])
            .await
            .expect("update");
        let savepoint = tx.transaction().await.expect("a savepoint");
        savepoint
            .rollback()
            .await
            .expect("rollback to the savepoint");
        tx.rollback().await.expect("rollback");

        let n: i32 = client
            .query_one("SELECT n FROM stock WHERE sku = 'a'", &[])
            .await
            .expect("select")
            .get(0);
        (current_trace(), (n, n == 1))
    }
    .in_span("restock")
    .await;
    assert_eq!((kept, undone), (1, true));

    let segments = trace_segments(&trace, 1).await;
    let segment = &segments[0];
    let root = span(segment, "restock");
    let begins = spans_named(segment, "PostgreSQL/tokio-postgres/begin");
    assert_eq!(begins.len(), 3, "two transactions and a savepoint");
    for begin in &begins {
        assert_pg_exit(begin, pg, root);
        assert!(!tags(begin).contains_key("db.statement"));
    }
    assert_pg_exit(span(segment, "PostgreSQL/tokio-postgres/commit"), pg, root);
    let rollbacks = spans_named(segment, "PostgreSQL/tokio-postgres/rollback");
    assert_eq!(rollbacks.len(), 2);
    let executes = spans_named(segment, "PostgreSQL/tokio-postgres/execute");
    assert_eq!(executes.len(), 2);
    assert_pg_exit(executes[1], pg, root);
    assert_eq!(
        tags(executes[1])["db.statement"],
        "UPDATE stock SET n = 2 WHERE sku = $1"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_statement_is_an_error_span_and_reaches_the_caller_unchanged() {
    let Some(pg) = postgres() else { return };
    let client = traced(pg).await;
    let (plain, _) = connect(pg).await;
    let long_sql = format!("SELECT 1 WHERE 'x' = '{}' AND 1 = $1", "y".repeat(3000));
    let (trace, (traced_error, plain_error, missing, long)) = async {
        let traced_error = client
            .query("SELEC 1", &[])
            .await
            .expect_err("a syntax error");
        let plain_error = plain
            .query("SELEC 1", &[])
            .await
            .expect_err("a syntax error");
        let missing = client
            .query_one("SELECT 1 WHERE false", &[])
            .await
            .expect_err("no row");
        let long = client.query(&long_sql, &[&1_i32]).await.expect("runs");
        (current_trace(), (traced_error, plain_error, missing, long))
    }
    .in_span("broken")
    .await;
    assert_eq!(traced_error.to_string(), plain_error.to_string());
    assert_eq!(traced_error.code(), plain_error.code());
    assert_eq!(
        traced_error.as_db_error().map(|e| e.message()),
        plain_error.as_db_error().map(|e| e.message())
    );
    assert!(long.is_empty());

    let segments = trace_segments(&trace, 1).await;
    let segment = &segments[0];
    let root = span(segment, "broken");
    assert!(!root.is_error, "the caller decides what its own span is");
    let queries = spans_named(segment, "PostgreSQL/tokio-postgres/query");
    assert_eq!(queries.len(), 2);
    let failed = queries[0];
    assert_pg_exit(failed, pg, root);
    assert!(failed.is_error);
    assert_eq!(tags(failed)["db.statement"], "SELEC 1");
    let message = error_message(failed);
    assert!(message.starts_with("db error: "), "{message}");
    assert!(message.contains("syntax error"), "{message}");

    let query_one = span(segment, "PostgreSQL/tokio-postgres/query_one");
    assert!(query_one.is_error);
    assert_eq!(error_message(query_one), missing.to_string());

    let long_span = queries[1];
    assert!(!long_span.is_error);
    assert_eq!(
        tags(long_span)["db.statement"],
        &long_sql[..2048],
        "cut at 2 KiB"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameters_are_cut_at_their_cap() {
    let Some(pg) = postgres() else { return };
    let client = traced(pg).await;
    let long = "z".repeat(100);
    let (trace, _) = async {
        let rows = client
            .query("SELECT $1::text, $2::int", &[&long, &5_i32])
            .await
            .expect("runs");
        (current_trace(), rows)
    }
    .in_span("params")
    .await;
    let segments = trace_segments(&trace, 1).await;
    let query = span(&segments[0], "PostgreSQL/tokio-postgres/query");
    let parameters = tags(query)["db.sql.parameters"];
    assert_eq!(parameters.len(), PARAMETERS_MAX);
    assert!(parameters.starts_with("[\"zzz"));
}

/// The program side of `parameters_are_not_recorded_by_default`, in a child process
/// configured by the environment (a no-op in the parent).
#[test]
fn child() {
    let Some(role) = child_role() else { return };
    assert_eq!(role, "query");
    let port: u16 = std::env::var("SW_TEST_PG_PORT")
        .expect("the server's port")
        .parse()
        .expect("a port");
    let agent = skywalking_runtime::init().expect("init from the environment");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let trace = rt.block_on(
        async {
            let mut config = Config::new();
            config
                .host("127.0.0.1")
                .port(port)
                .user(server::USER)
                .dbname(server::DATABASE);
            let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .expect("listens");
            let (client, connection) = config.connect_raw(stream, NoTls).await.expect("connects");
            tokio::spawn(connection);
            let client = TracedClient::new(client, &config);
            client
                .query("SELECT $1::text", &[&"secret@example.com"])
                .await
                .expect("runs");
            current_trace()
        }
        .in_span("child"),
    );
    assert!(agent.flush(Duration::from_secs(5)));
    println!("trace={trace}");
}

#[test]
fn parameters_are_not_recorded_by_default() {
    if child_role().is_some() {
        return;
    }
    let Some(pg) = postgres() else { return };
    let collector = &setup().collector;
    let out = run_child(
        "child",
        "query",
        &[
            ("SW_AGENT_NAME", "pg-child".to_owned()),
            (
                "SW_AGENT_COLLECTOR_BACKEND_SERVICES",
                collector.addr().to_string(),
            ),
            ("SW_TEST_PG_PORT", pg.port().to_string()),
        ],
    );
    let trace = child_value(&out, "trace").expect("the child's trace id");
    let segments = setup()
        .runtime
        .block_on(collector.wait_for_trace(&trace, 1, WAIT))
        .expect("the child's trace arrives");
    let query = span(&segments[0], "PostgreSQL/tokio-postgres/query");
    assert_eq!(tags(query)["db.statement"], "SELECT $1::text");
    assert!(
        !tags(query).contains_key("db.sql.parameters"),
        "{:?}",
        query.tags
    );
}
