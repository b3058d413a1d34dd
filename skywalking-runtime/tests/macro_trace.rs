//! `#[trace]` against an in-memory reporter: names, kinds, options, and the span closing
//! on every way out of a function.

mod common;

use std::collections::HashMap;

use common::YieldOnce;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use base64::Engine as _;
use skywalking_proto::v3::{RefType, SpanLayer as PbLayer, SpanObject, SpanType};
use skywalking_runtime::{Span, component, trace};

/// Every span of `trace`, across its segments.
fn spans(memory: &common::Memory, trace: &str) -> Vec<SpanObject> {
    memory
        .trace(trace)
        .into_iter()
        .flat_map(|segment| segment.spans)
        .collect()
}

fn named<'a>(spans: &'a [SpanObject], name: &str) -> &'a SpanObject {
    spans
        .iter()
        .find(|s| s.operation_name == name)
        .unwrap_or_else(|| panic!("no span {name:?} in {:?}", names(spans)))
}

fn names(spans: &[SpanObject]) -> Vec<&str> {
    spans.iter().map(|s| s.operation_name.as_str()).collect()
}

fn tags(span: &SpanObject) -> HashMap<&str, &str> {
    span.tags
        .iter()
        .map(|t| (t.key.as_str(), t.value.as_str()))
        .collect()
}

fn log_fields(span: &SpanObject) -> Vec<HashMap<&str, &str>> {
    span.logs
        .iter()
        .map(|log| {
            log.data
                .iter()
                .map(|d| (d.key.as_str(), d.value.as_str()))
                .collect()
        })
        .collect()
}

/// Runs `f` inside a root span and returns the trace id.
fn in_root(f: impl FnOnce()) -> String {
    let _root = Span::local("root");
    let trace = common::current_trace();
    f();
    trace
}

/// An `sw8` header of a caller in trace `trace`.
fn sw8(trace: &str) -> HashMap<String, String> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let value = format!(
        "1-{}-{}-3-{}-{}-{}-{}",
        b64(trace),
        b64("caller-segment"),
        b64("caller-svc"),
        b64("caller-1"),
        b64("/checkout"),
        b64("me:8080")
    );
    HashMap::from([("sw8".to_owned(), value)])
}

struct NoopWake;

impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls a future to completion on this thread (the futures here never really wait).
fn block_on<F: Future>(future: F) -> F::Output {
    let waker = Waker::from(Arc::new(NoopWake));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

#[trace]
fn plain() -> u8 {
    7
}

mod billing {
    #[skywalking_runtime::trace]
    pub(crate) async fn charge(amount: u64) -> u64 {
        super::YieldOnce(false).await;
        amount * 2
    }
}

#[test]
fn default_span_is_local_and_named_after_the_module_path() {
    let memory = common::start();
    let trace = in_root(|| {
        assert_eq!(plain(), 7);
        assert_eq!(block_on(billing::charge(21)), 42);
    });
    let spans = spans(&memory, &trace);
    assert_eq!(
        names(&spans),
        ["root", "macro_trace::plain", "macro_trace::billing::charge"]
    );
    for span in &spans[1..] {
        assert_eq!(span.span_type, SpanType::Local as i32);
        assert_eq!(span.component_id, component::RUST);
        assert_eq!(span.span_layer, PbLayer::Unknown as i32);
        assert_eq!(span.parent_span_id, 0);
        assert!(span.tags.is_empty(), "no argument is recorded by default");
        assert!(span.end_time >= span.start_time);
    }
}

static TAG_EVALUATIONS: AtomicUsize = AtomicUsize::new(0);

fn counted<T>(value: T) -> T {
    TAG_EVALUATIONS.fetch_add(1, Ordering::Relaxed);
    value
}

struct Item {
    sku: String,
}

#[trace(name = "price", tags(sku = item.sku, qty = counted(qty), db.type = "postgresql", "http.method" = "GET"))]
fn price(item: &Item, qty: u32) -> u32 {
    qty * 3
}

#[trace(
    exit,
    peer = "pg:5432",
    layer = "database",
    component = component::POSTGRESQL,
    tags(db.statement = sql)
)]
async fn query(sql: &str) -> usize {
    YieldOnce(false).await;
    sql.len()
}

#[test]
fn name_kind_layer_component_and_tags() {
    let memory = common::start();
    let item = Item {
        sku: "A-1".to_owned(),
    };
    let before = TAG_EVALUATIONS.load(Ordering::Relaxed);
    let trace = in_root(|| {
        assert_eq!(price(&item, 2), 6);
        assert_eq!(block_on(query("select 1")), 8);
    });
    assert_eq!(TAG_EVALUATIONS.load(Ordering::Relaxed), before + 1);
    assert_eq!(item.sku, "A-1", "tags borrow, never move");
    let spans = spans(&memory, &trace);
    let price = named(&spans, "price");
    assert_eq!(price.span_type, SpanType::Local as i32);
    assert_eq!(
        tags(price),
        HashMap::from([
            ("sku", "A-1"),
            ("qty", "2"),
            ("db.type", "postgresql"),
            ("http.method", "GET")
        ])
    );
    let query = named(&spans, "macro_trace::query");
    assert_eq!(query.span_type, SpanType::Exit as i32);
    assert_eq!(query.peer, "pg:5432");
    assert_eq!(query.span_layer, PbLayer::Database as i32);
    assert_eq!(query.component_id, component::POSTGRESQL);
    assert_eq!(tags(query), HashMap::from([("db.statement", "select 1")]));
}

#[derive(Debug)]
struct ParseError(String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "bad number: {}", self.0)
    }
}

impl From<std::num::ParseIntError> for ParseError {
    fn from(e: std::num::ParseIntError) -> Self {
        ParseError(e.to_string())
    }
}

#[trace(err)]
fn parse(text: &str) -> Result<u32, ParseError> {
    if text.is_empty() {
        return Err(ParseError("empty".to_owned()));
    }
    let n: u32 = text.parse()?;
    Ok(n)
}

#[trace(err)]
async fn parse_async(text: &str) -> Result<u32, ParseError> {
    YieldOnce(false).await;
    if text == "early" {
        return Err(ParseError("early".to_owned()));
    }
    Ok(text.parse()?)
}

type DbResult<T> = Result<T, String>;

#[trace(err, name = "alias")]
fn alias(ok: bool) -> DbResult<()> {
    if ok { Ok(()) } else { Err("no".to_owned()) }
}

/// `&mut` arguments still lend out for the function's lifetime with `err`.
#[trace(err)]
fn first_mut(values: &mut [u8]) -> Result<&mut u8, String> {
    values.first_mut().ok_or_else(|| "empty".to_owned())
}

#[test]
fn err_marks_the_span_on_err_via_return_question_mark_and_tail() {
    let memory = common::start();
    let trace = in_root(|| {
        assert_eq!(parse("12").unwrap(), 12);
        assert!(parse("").is_err());
        assert!(parse("x").is_err());
        assert!(block_on(parse_async("early")).is_err());
        assert!(block_on(parse_async("y")).is_err());
        assert_eq!(block_on(parse_async("5")).unwrap(), 5);
        assert!(alias(false).is_err());
        *first_mut(&mut [1]).unwrap() += 1;
    });
    let spans = spans(&memory, &trace);
    let errors: Vec<(String, bool, Option<String>)> = spans
        .iter()
        .skip(1)
        .map(|s| {
            let message = log_fields(s)
                .iter()
                .find_map(|l| l.get("message").map(|m| (*m).to_owned()));
            (s.operation_name.clone(), s.is_error, message)
        })
        .collect();
    let sync = "macro_trace::parse".to_owned();
    let not_async = "macro_trace::parse_async".to_owned();
    assert_eq!(
        errors,
        vec![
            (sync.clone(), false, None),
            (sync.clone(), true, Some("bad number: empty".to_owned())),
            (
                sync,
                true,
                Some("bad number: invalid digit found in string".to_owned())
            ),
            (
                not_async.clone(),
                true,
                Some("bad number: early".to_owned())
            ),
            (
                not_async.clone(),
                true,
                Some("bad number: invalid digit found in string".to_owned())
            ),
            (not_async, false, None),
            ("alias".to_owned(), true, Some("no".to_owned())),
            ("macro_trace::first_mut".to_owned(), false, None),
        ]
    );
}

#[trace]
fn explode() {
    panic!("kaboom");
}

#[trace]
async fn explode_async() {
    YieldOnce(false).await;
    panic!("async kaboom");
}

#[test]
fn a_panic_closes_the_span_as_an_error_with_the_message() {
    let memory = common::start();
    let trace = in_root(|| {
        assert!(std::panic::catch_unwind(explode).is_err());
        assert!(std::panic::catch_unwind(|| block_on(explode_async())).is_err());
    });
    let spans = spans(&memory, &trace);
    for (name, message) in [
        ("macro_trace::explode", "kaboom"),
        ("macro_trace::explode_async", "async kaboom"),
    ] {
        let span = named(&spans, name);
        assert!(span.is_error, "{name}");
        assert!(span.end_time > 0);
        let logs = log_fields(span);
        assert!(
            logs.iter().any(|l| l.get("message") == Some(&message)),
            "{name}: {logs:?}"
        );
    }
}

#[trace]
async fn never_finishes() {
    std::future::pending::<()>().await;
}

#[test]
fn a_dropped_future_closes_its_span_as_cancelled() {
    let memory = common::start();
    let trace = in_root(|| {
        let waker = Waker::from(Arc::new(NoopWake));
        let mut future = Box::pin(never_finishes());
        assert!(
            future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    });
    let spans = spans(&memory, &trace);
    let span = named(&spans, "macro_trace::never_finishes");
    assert_eq!(
        log_fields(span),
        vec![HashMap::from([("event", "cancelled")])]
    );
    assert!(!span.is_error);
}

#[trace(entry, name = "GET /sync", headers = &headers)]
fn handle(headers: HashMap<String, String>) -> usize {
    headers.len()
}

struct Request {
    headers: http::HeaderMap,
    body: String,
}

impl Request {
    fn headers(&self) -> &http::HeaderMap {
        &self.headers
    }
}

/// The headers borrow `req`, which the body then owns.
#[trace(entry, name = "POST /async", headers = req.headers())]
async fn handle_async(req: Request) -> String {
    YieldOnce(false).await;
    req.body
}

fn assert_continues(memory: &common::Memory, trace: &str, name: &str) {
    let segments = memory.trace(trace);
    assert_eq!(segments.len(), 1, "{name}");
    let span = &segments[0].spans[0];
    assert_eq!(span.operation_name, name);
    assert_eq!(span.span_type, SpanType::Entry as i32);
    assert_eq!(span.refs.len(), 1);
    assert_eq!(span.refs[0].ref_type, RefType::CrossProcess as i32);
    assert_eq!(span.refs[0].parent_trace_segment_id, "caller-segment");
    assert_eq!(span.refs[0].parent_endpoint, "/checkout");
}

#[test]
fn entry_continues_the_incoming_trace() {
    let memory = common::start();
    assert_eq!(handle(sw8("macro-entry-sync")), 1);
    assert_continues(&memory, "macro-entry-sync", "GET /sync");

    let mut headers = http::HeaderMap::new();
    for (k, v) in sw8("macro-entry-async") {
        headers.insert(http::HeaderName::try_from(k).unwrap(), v.parse().unwrap());
    }
    let body = block_on(handle_async(Request {
        headers,
        body: "ok".to_owned(),
    }));
    assert_eq!(body, "ok");
    assert_continues(&memory, "macro-entry-async", "POST /async");
}

#[trace(exit, peer = "stock:9000", headers = outgoing)]
fn call_stock(outgoing: &mut HashMap<String, String>) -> usize {
    outgoing.len()
}

#[trace(exit, peer = format!("{host}:80"), name = "GET /price", headers = &mut outgoing)]
async fn call_price(host: &str, mut outgoing: HashMap<String, String>) -> HashMap<String, String> {
    YieldOnce(false).await;
    outgoing
}

#[test]
fn exit_injects_its_context_into_the_carrier() {
    let memory = common::start();
    let mut outgoing = HashMap::new();
    let mut async_outgoing = HashMap::new();
    let trace = in_root(|| {
        assert_eq!(
            call_stock(&mut outgoing),
            1,
            "injected before the body runs"
        );
        async_outgoing = block_on(call_price("price", HashMap::new()));
    });
    let segments = memory.trace(&trace);
    let spans = &segments[0].spans;
    for (headers, name, peer) in [
        (&outgoing, "macro_trace::call_stock", "stock:9000"),
        (&async_outgoing, "GET /price", "price:80"),
    ] {
        let span = named(spans, name);
        assert_eq!(span.span_type, SpanType::Exit as i32);
        assert_eq!(span.peer, peer);
        let sw8 = skywalking_runtime::propagation::Sw8::decode(&headers["sw8"]).unwrap();
        assert_eq!(sw8.trace_id, trace);
        assert_eq!(
            sw8.parent_span_id, span.span_id,
            "{name} names itself as the caller"
        );
        assert_eq!(sw8.address_used_at_client, peer);
    }
}

#[trace(skip_if = !enabled, tags(evaluated = counted(1)))]
fn maybe(enabled: bool) {
    let _inner = Span::local("inner");
}

#[trace(skip_if = !enabled, err, tags(evaluated = counted(1)))]
async fn maybe_async(enabled: bool) -> Result<(), String> {
    YieldOnce(false).await;
    let _inner = Span::local("inner async");
    Err("failed".to_owned())
}

#[test]
fn skip_if_runs_the_body_without_a_span() {
    let memory = common::start();
    let trace = in_root(|| {
        maybe(false);
        let _ = block_on(maybe_async(false));
    });
    let skipped = spans(&memory, &trace);
    assert_eq!(names(&skipped), ["root", "inner", "inner async"]);
    assert!(
        skipped
            .iter()
            .all(|s| s.parent_span_id <= 0 && s.tags.is_empty() && !s.is_error)
    );

    let trace = in_root(|| {
        maybe(true);
        let _ = block_on(maybe_async(true));
    });
    let spans = spans(&memory, &trace);
    assert_eq!(
        names(&spans),
        [
            "root",
            "macro_trace::maybe",
            "inner",
            "macro_trace::maybe_async",
            "inner async"
        ]
    );
    assert!(named(&spans, "macro_trace::maybe_async").is_error);
}

struct Cart {
    items: Vec<u32>,
}

impl Cart {
    #[trace]
    fn total(&self) -> u32 {
        self.items.iter().sum()
    }

    #[trace(tags(n = self.items.len()))]
    async fn clear(&mut self) -> usize {
        YieldOnce(false).await;
        std::mem::take(&mut self.items).len()
    }
}

trait Store {
    fn get(&self, key: u32) -> Option<u32>;

    #[trace(name = "Store::load")]
    async fn load(&self, key: u32) -> Option<u32> {
        YieldOnce(false).await;
        self.get(key)
    }
}

struct MapStore;

impl Store for MapStore {
    #[trace(name = "MapStore::get")]
    fn get(&self, key: u32) -> Option<u32> {
        Some(key + 1)
    }
}

#[trace]
fn largest<T: PartialOrd + Copy>(values: &[T]) -> Option<T> {
    values.iter().copied().fold(None, |max, v| match max {
        Some(m) if m >= v => Some(m),
        _ => Some(v),
    })
}

#[trace]
fn describe(value: impl std::fmt::Display) -> impl std::fmt::Display {
    format!("<{value}>")
}

/// The shape `#[async_trait]` gives a method: the span times the boxed future.
#[trace(name = "boxed")]
fn boxed(n: u32) -> Pin<Box<dyn Future<Output = u32> + Send>> {
    Box::pin(async move {
        YieldOnce(false).await;
        let _inner = Span::local("inside boxed");
        n + 1
    })
}

#[trace(name = "impl future", tags(n = n))]
fn returns_future(n: u32) -> impl Future<Output = u32> {
    let doubled = n * 2;
    async move {
        YieldOnce(false).await;
        let _inner = Span::local("inside impl future");
        doubled
    }
}

#[test]
fn methods_traits_generics_and_future_returning_fns() {
    let memory = common::start();
    let mut cart = Cart {
        items: vec![1, 2, 3],
    };
    let trace = in_root(|| {
        assert_eq!(cart.total(), 6);
        assert_eq!(block_on(cart.clear()), 3);
        assert_eq!(block_on(MapStore.load(1)), Some(2));
        assert_eq!(largest(&[1.5, 3.0, 2.0]), Some(3.0));
        assert_eq!(largest(&["a", "c", "b"]), Some("c"));
        assert_eq!(describe(5).to_string(), "<5>");
        let future = boxed(1);
        let _unrelated = Span::local("between");
        drop(_unrelated);
        assert_eq!(block_on(future), 2);
        assert_eq!(block_on(returns_future(4)), 8);
    });
    let spans = spans(&memory, &trace);
    assert_eq!(
        names(&spans),
        [
            "root",
            "macro_trace::Cart::total",
            "macro_trace::Cart::clear",
            "Store::load",
            "MapStore::get",
            "macro_trace::largest",
            "macro_trace::largest",
            "macro_trace::describe",
            "between",
            "boxed",
            "inside boxed",
            "impl future",
            "inside impl future",
        ]
    );
    assert_eq!(
        tags(named(&spans, "macro_trace::Cart::clear")),
        HashMap::from([("n", "3")])
    );
    assert_eq!(
        tags(named(&spans, "impl future")),
        HashMap::from([("n", "4")])
    );
    let id = |name: &str| named(&spans, name).span_id;
    assert_eq!(
        named(&spans, "MapStore::get").parent_span_id,
        id("Store::load")
    );
    // The span opens when the future is first polled, not when it is built.
    assert_eq!(named(&spans, "inside boxed").parent_span_id, id("boxed"));
    assert!(id("boxed") > id("between"));
    assert_eq!(
        named(&spans, "inside impl future").parent_span_id,
        id("impl future")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_spans_nest_across_tasks_and_threads() {
    let memory = common::start();
    #[trace(name = "outer")]
    async fn outer() -> String {
        let trace = common::current_trace();
        for _ in 0..3 {
            inner().await;
            tokio::task::yield_now().await;
        }
        trace
    }
    #[trace(name = "inner")]
    async fn inner() {
        tokio::task::yield_now().await;
    }
    let trace = tokio::spawn(outer()).await.unwrap();
    let segments = memory.trace(&trace);
    assert_eq!(segments.len(), 1);
    assert_eq!(
        common::shape(&segments[0]),
        vec![
            ("outer".into(), 0, -1),
            ("inner".into(), 1, 0),
            ("inner".into(), 2, 0),
            ("inner".into(), 3, 0),
        ]
    );
}

#[tokio::test]
async fn an_async_panic_in_a_task_marks_the_span() {
    let memory = common::start();
    static TRACE: Mutex<Option<String>> = Mutex::new(None);
    #[trace(name = "task")]
    async fn task() {
        *TRACE.lock().unwrap() = Some(common::current_trace());
        tokio::task::yield_now().await;
        panic!("task failed");
    }
    assert!(tokio::spawn(task()).await.is_err());
    let trace = TRACE.lock().unwrap().clone().unwrap();
    let spans = spans(&memory, &trace);
    let span = named(&spans, "task");
    assert!(span.is_error);
    assert!(
        log_fields(span)
            .iter()
            .any(|l| l.get("message") == Some(&"task failed"))
    );
}
