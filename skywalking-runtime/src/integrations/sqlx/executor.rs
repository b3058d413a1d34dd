//! HOT PATH. [`TracedExecutor`]: any sqlx executor whose statements are exit spans, and
//! the [`sqlx::Executor`] impl of `&TracedPool`, which runs through it. Each method
//! forwards to the same method of the executor it wraps (so a pool's `execute` is one
//! statement and one span, as without the wrapper), its future inside a
//! [`Traced`](support::Traced) call and its stream inside a [`TracedStream`].

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use ::sqlx::error::BoxDynError;
use ::sqlx::{Database, Describe, Either, Error, Execute, Executor};
use futures_core::Stream;

use super::driver::{Method, TracedDatabase};
use super::{Target, TracedPool};
use crate::integrations::support::{self, CallSpan, Inbound, Outcome, Tags, Traced};
use crate::record::{SpanKind, SpanLayer, Str, cut_bytes};
use crate::trace::call::noop;
use crate::trace::context::SpanInit;
use crate::trace::span::SpanRef;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;

/// `db.type`.
const TAG_DB_TYPE: &str = "db.type";
/// `db.instance`: the database name.
const TAG_DB_INSTANCE: &str = "db.instance";
/// `db.statement`: the SQL, cut.
const TAG_DB_STATEMENT: &str = "db.statement";
/// `db.sql.parameters`, with `SW_JDBC_TRACE_SQL_PARAMETERS` only (the Java agent's key).
const TAG_DB_PARAMETERS: &str = "db.sql.parameters";

/// A sqlx executor (a pool, `&mut *connection`, `&mut *transaction`) whose statements
/// are exit spans naming a [`TracedPool`]'s peer and database; made by
/// [`TracedPool::on`]. It implements [`sqlx::Executor`] by forwarding to the executor it
/// wraps.
pub struct TracedExecutor<'t, E> {
    inner: E,
    target: &'t Target,
}

impl<'t, E> TracedExecutor<'t, E> {
    pub(super) fn new(inner: E, target: &'t Target) -> Self {
        TracedExecutor { inner, target }
    }

    /// The wrapped executor.
    pub fn into_inner(self) -> E {
        self.inner
    }
}

impl<E: fmt::Debug> fmt::Debug for TracedExecutor<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedExecutor")
            .field("peer", &self.target.peer)
            .field("inner", &self.inner)
            .finish()
    }
}

/// The span of one statement, and the tags it gets when it opens.
struct Statement<'q> {
    init: SpanInit,
    tags: StatementTags<'q>,
}

impl<'q> Statement<'q> {
    fn new<DB: TracedDatabase>(
        method: Method,
        target: &Target,
        sql: &'q str,
        parameters: Option<String>,
    ) -> Self {
        Statement {
            init: SpanInit {
                kind: SpanKind::Exit,
                name: Cow::Borrowed(method.name::<DB>()),
                peer: target.peer.clone(),
                layer: SpanLayer::Database,
                component: DB::COMPONENT,
            },
            tags: StatementTags {
                db_type: DB::DB_TYPE,
                instance: target.instance.clone(),
                sql,
                parameters,
            },
        }
    }

    /// `future`, inside this statement's span.
    fn future<'e, T: 'e>(
        self,
        future: BoxFuture<'e, Result<T, Error>>,
    ) -> BoxFuture<'e, Result<T, Error>>
    where
        'q: 'e,
    {
        Box::pin(Traced::<_, _, Finished>::new(
            Inbound::new(future, self.tags),
            CallSpan::new(self.init, None),
        ))
    }

    /// `stream`, inside this statement's span.
    fn stream<'e, T: 'e>(
        self,
        stream: BoxStream<'e, Result<T, Error>>,
    ) -> BoxStream<'e, Result<T, Error>>
    where
        'q: 'e,
    {
        Box::pin(TracedStream {
            inner: stream,
            span: Some(CallSpan::new(self.init, None)),
            tags: Some(self.tags),
        })
    }
}

/// The tags of a statement's span, added when it opens (nothing when it records
/// nothing).
struct StatementTags<'q> {
    db_type: &'static str,
    instance: Option<Str>,
    sql: &'q str,
    parameters: Option<String>,
}

impl Tags for StatementTags<'_> {
    fn apply(self, span: SpanRef) {
        if !span.is_recording() {
            return;
        }
        span.add_tag(TAG_DB_TYPE, self.db_type);
        if let Some(instance) = self.instance {
            span.add_tag(TAG_DB_INSTANCE, instance);
        }
        let sql = cut_bytes(self.sql, crate::settings::sql_body_max());
        span.add_tag(TAG_DB_STATEMENT, sql.to_owned());
        if let Some(parameters) = self.parameters {
            span.add_tag(TAG_DB_PARAMETERS, parameters);
        }
    }
}

/// What a statement's result tells its span: an error marks it failed, except
/// `RowNotFound` (a `fetch_one` that found no row: the statement itself succeeded).
enum Finished {}

impl<T> Outcome<Result<T, Error>> for Finished {
    type Output = Result<T, Error>;

    fn record(output: &Result<T, Error>, span: SpanRef) -> bool {
        if let Err(error) = output {
            record_error(error, span);
        }
        true
    }

    fn finish(output: Result<T, Error>, _: Option<CallSpan>) -> Result<T, Error> {
        output
    }
}

fn record_error(error: &Error, span: SpanRef) {
    if !matches!(error, Error::RowNotFound) {
        span.record_error(error);
    }
}

/// A query whose bound parameters were taken (to record them) before the driver takes
/// them: it hands them over unchanged, or the error taking them gave.
struct Recorded<'q, DB: Database, Q> {
    query: Q,
    taken: Option<Result<Option<DB::Arguments<'q>>, BoxDynError>>,
}

impl<'q, DB: Database, Q: Execute<'q, DB>> Execute<'q, DB> for Recorded<'q, DB, Q> {
    fn sql(&self) -> &'q str {
        self.query.sql()
    }

    fn statement(&self) -> Option<&DB::Statement<'q>> {
        self.query.statement()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments<'q>>, BoxDynError> {
        match self.taken.take() {
            Some(taken) => taken,
            None => self.query.take_arguments(),
        }
    }

    fn persistent(&self) -> bool {
        self.query.persistent()
    }
}

/// The statement of `query` run by `method` on `target`, and the query to hand to the
/// wrapped executor (its parameters taken and recorded when
/// `SW_JDBC_TRACE_SQL_PARAMETERS` is on).
fn statement<'q, DB: TracedDatabase, Q: Execute<'q, DB>>(
    method: Method,
    target: &Target,
    query: Q,
) -> (Statement<'q>, Recorded<'q, DB, Q>) {
    let parameters_max = crate::settings::sql_parameters_max();
    statement_with(method, target, query, parameters_max)
}

/// [`statement`], recording at most `parameters_max` bytes of parameters (`None`: none).
fn statement_with<'q, DB: TracedDatabase, Q: Execute<'q, DB>>(
    method: Method,
    target: &Target,
    mut query: Q,
    parameters_max: Option<usize>,
) -> (Statement<'q>, Recorded<'q, DB, Q>) {
    let (parameters, taken) = match parameters_max {
        Some(max) => {
            let taken = query.take_arguments();
            let text = match &taken {
                Ok(Some(arguments)) => Some(DB::parameters(arguments, max)),
                Ok(None) | Err(_) => None,
            };
            (text.map(|t| cut_bytes(&t, max).to_owned()), Some(taken))
        }
        None => (None, None),
    };
    let statement = Statement::new::<DB>(method, target, query.sql(), parameters);
    (statement, Recorded { query, taken })
}

/// Declares the `Executor` methods that return a future of one result.
macro_rules! future_methods {
    ($($method:ident: $variant:ident -> $output:ty;)*) => {$(
        fn $method<'e, 'q: 'e, Q>(self, query: Q) -> BoxFuture<'e, Result<$output, Error>>
        where
            'c: 'e,
            Q: 'q + Execute<'q, Self::Database>,
        {
            if !support::is_enabled() {
                return self.inner.$method(query);
            }
            let (statement, query) = statement(Method::$variant, self.target, query);
            statement.future(self.inner.$method(query))
        }
    )*};
}

/// Declares the `Executor` methods that return a stream.
macro_rules! stream_methods {
    ($($method:ident: $variant:ident -> $item:ty;)*) => {$(
        fn $method<'e, 'q: 'e, Q>(self, query: Q) -> BoxStream<'e, Result<$item, Error>>
        where
            'c: 'e,
            Q: 'q + Execute<'q, Self::Database>,
        {
            if !support::is_enabled() {
                return self.inner.$method(query);
            }
            let (statement, query) = statement(Method::$variant, self.target, query);
            statement.stream(self.inner.$method(query))
        }
    )*};
}

type QueryResult<DB> = <DB as Database>::QueryResult;
type Row<DB> = <DB as Database>::Row;

impl<'c, E> Executor<'c> for TracedExecutor<'_, E>
where
    E: Executor<'c>,
    E::Database: TracedDatabase,
{
    type Database = E::Database;

    future_methods! {
        execute: Execute -> QueryResult<Self::Database>;
        fetch_all: FetchAll -> Vec<Row<Self::Database>>;
        fetch_one: FetchOne -> Row<Self::Database>;
        fetch_optional: FetchOptional -> Option<Row<Self::Database>>;
    }

    stream_methods! {
        execute_many: ExecuteMany -> QueryResult<Self::Database>;
        fetch: Fetch -> Row<Self::Database>;
        fetch_many: FetchMany -> Either<QueryResult<Self::Database>, Row<Self::Database>>;
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [<Self::Database as Database>::TypeInfo],
    ) -> BoxFuture<'e, Result<<Self::Database as Database>::Statement<'q>, Error>>
    where
        'c: 'e,
    {
        if !support::is_enabled() {
            return self.inner.prepare_with(sql, parameters);
        }
        let statement = Statement::new::<Self::Database>(Method::Prepare, self.target, sql, None);
        statement.future(self.inner.prepare_with(sql, parameters))
    }

    /// Not traced: sqlx's query macros call it at compile time.
    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Self::Database>, Error>>
    where
        'c: 'e,
    {
        self.inner.describe(sql)
    }
}

/// Declares the `Executor` methods of `&TracedPool`, each forwarding to a
/// [`TracedExecutor`] of the pool.
macro_rules! pool_methods {
    ($($method:ident -> $output:ty;)*) => {$(
        fn $method<'e, 'q: 'e, Q>(self, query: Q) -> $output
        where
            'c: 'e,
            Q: 'q + Execute<'q, DB>,
        {
            TracedExecutor::new(&self.shared.pool, &self.shared.target).$method(query)
        }
    )*};
}

impl<'c, DB> Executor<'c> for &'c TracedPool<DB>
where
    DB: TracedDatabase,
    for<'a> &'a mut DB::Connection: Executor<'a, Database = DB>,
{
    type Database = DB;

    pool_methods! {
        execute -> BoxFuture<'e, Result<QueryResult<DB>, Error>>;
        fetch_all -> BoxFuture<'e, Result<Vec<Row<DB>>, Error>>;
        fetch_one -> BoxFuture<'e, Result<Row<DB>, Error>>;
        fetch_optional -> BoxFuture<'e, Result<Option<Row<DB>>, Error>>;
        execute_many -> BoxStream<'e, Result<QueryResult<DB>, Error>>;
        fetch -> BoxStream<'e, Result<Row<DB>, Error>>;
        fetch_many -> BoxStream<'e, Result<Either<QueryResult<DB>, Row<DB>>, Error>>;
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>>
    where
        'c: 'e,
    {
        TracedExecutor::new(&self.shared.pool, &self.shared.target).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>>
    where
        'c: 'e,
    {
        self.shared.pool.describe(sql)
    }
}

/// The stream of a statement (`fetch`, `fetch_many`, `execute_many`) inside its exit
/// span: the span opens on the first poll, is current during each, records an error
/// item, and ends when the stream does, or when it is dropped (a caller that stops
/// reading early, with `fetch(..).next()`, is no failure).
struct TracedStream<'q, S> {
    inner: S,
    span: Option<CallSpan>,
    tags: Option<StatementTags<'q>>,
}

impl<S> fmt::Debug for TracedStream<'_, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedStream")
            .field("span", &self.span)
            .finish_non_exhaustive()
    }
}

impl<T, S> Stream for TracedStream<'_, S>
where
    S: Stream<Item = Result<T, Error>> + Unpin,
{
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let Some(span) = this.span.as_mut() else {
            return Pin::new(&mut this.inner).poll_next(cx);
        };
        let inner = &mut this.inner;
        let tags = &mut this.tags;
        let polled = span.scope(|span| {
            if let Some(tags) = tags.take() {
                tags.apply(span.unwrap_or_else(noop));
            }
            let polled = Pin::new(inner).poll_next(cx);
            if let (Poll::Ready(Some(Err(error))), Some(span)) = (&polled, span) {
                record_error(error, span);
            }
            polled
        });
        if let Poll::Ready(None) = polled
            && let Some(span) = this.span.take()
        {
            span.end();
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<S> Drop for TracedStream<'_, S> {
    fn drop(&mut self) {
        if let Some(mut span) = self.span.take() {
            span.finish();
        }
    }
}

#[cfg(all(test, feature = "sqlx-sqlite"))]
mod tests {
    use ::sqlx::{Arguments, Sqlite};

    use super::*;

    fn arguments() -> ::sqlx::sqlite::SqliteArguments<'static> {
        let mut arguments = ::sqlx::sqlite::SqliteArguments::default();
        arguments.add(7_i64).unwrap();
        arguments.add("sku-7").unwrap();
        arguments
    }

    #[test]
    fn parameters_are_recorded_only_when_on_cut_and_handed_over_unchanged() {
        let target = Target::new("orders.db".into(), Some("orders.db".into()));
        let query = ("UPDATE orders SET sku = ? WHERE id = ?", Some(arguments()));
        let (off, mut query) = statement_with::<Sqlite, _>(Method::Execute, &target, query, None);
        assert_eq!(off.tags.parameters, None);
        assert_eq!(off.tags.sql, "UPDATE orders SET sku = ? WHERE id = ?");
        assert_eq!(off.init.name, "SQLite/sqlx/execute");
        assert_eq!(off.init.peer, "orders.db");
        assert_eq!(off.init.component, 31);
        assert_eq!(query.take_arguments().unwrap().unwrap().len(), 2);

        let query = ("SELECT ?, ?", Some(arguments()));
        let (on, mut query) =
            statement_with::<Sqlite, _>(Method::FetchAll, &target, query, Some(512));
        assert_eq!(
            on.tags.parameters.as_deref(),
            Some(r#"[Int64(7), Text("sku-7")]"#)
        );
        assert_eq!(query.take_arguments().unwrap().unwrap().len(), 2);
        assert!(
            query.take_arguments().unwrap().is_none(),
            "handed over once"
        );

        let query = ("SELECT ?, ?", Some(arguments()));
        let (cut, _) = statement_with::<Sqlite, _>(Method::FetchAll, &target, query, Some(9));
        assert_eq!(cut.tags.parameters.as_deref(), Some("[Int64(7)"));
    }
}
