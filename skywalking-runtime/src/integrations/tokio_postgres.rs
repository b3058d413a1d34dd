//! [tokio-postgres]: an exit span for each query, prepare and transaction statement
//! (feature `tokio-postgres`).
//!
//! [`TracedClient`] wraps a [`Client`] (or, as [`TracedTransaction`], a
//! [`Transaction`]) and offers the methods of [`GenericClient`] with the same
//! signatures, each inside an exit span. The one line a user changes is after
//! connecting, where the client is wrapped with the [`Config`] it was made from (which
//! names the peer and the database):
//!
//! ```no_run
//! use skywalking_runtime::integrations::tokio_postgres::TracedClient;
//! use tokio_postgres::{Client, Config, Error};
//!
//! # async fn f(client: Client, config: Config) -> Result<(), Error> {
//! // let (client, connection) = config.connect(NoTls).await?;
//! // tokio::spawn(connection);
//! let mut client = TracedClient::new(client, &config);
//!
//! let rows = client
//!     .query("SELECT name FROM users WHERE id = $1", &[&7_i32]) // PostgreSQL/tokio-postgres/query
//!     .await?;
//! let insert = client.prepare("INSERT INTO audit (event) VALUES ($1)").await?; // .../prepare
//! let tx = client.transaction().await?; // .../begin
//! tx.execute(&insert, &[&"login"]).await?; // .../execute, db.statement the INSERT
//! tx.commit().await?; // .../commit
//! # let _ = rows;
//! # Ok(()) }
//! ```
//!
//! A `TracedClient` derefs to its `Client`, so `is_closed()`, `cancel_token()` or
//! `copy_in` work as before, untraced. [`prepare`](TracedClient::prepare) returns a
//! [`TracedStatement`], a [`Statement`] (it derefs to one) that remembers its SQL, so the
//! spans of the queries that run it carry the statement text; a plain `Statement`
//! prepared elsewhere works too, its spans without `db.statement`.
//!
//! # Spans
//!
//! Each call is one exit span, opened when its future is first polled, as a child of
//! the span current then (or the first span of a new trace), and ended when the call
//! returns (for `query_raw` and `query_typed_raw`, when the rows start to stream):
//!
//! - operation name `PostgreSQL/tokio-postgres/<method>`: `query`, `query_one`,
//!   `execute`, `prepare`, `batch_execute`, ..., and `begin`, `commit`, `rollback` for
//!   transactions, as the Java agent names JDBC spans after the method called
//!   (`Postgresql/JDBC/PreparedStatement/executeQuery`, `.../Connection/commit`).
//!   Never the SQL text: names are OAP endpoints and must stay few;
//! - layer `Database`, component 22 (`PostgreSQL`);
//! - peer: `host:port` of the configuration's host (the port defaulting to 5432; the
//!   socket folder for a unix socket; every host, comma-separated, when the
//!   configuration lists several to try, as the Java agent writes a multi-host JDBC URL,
//!   since a `Client` does not tell which one answered), never empty: OAP turns the peer
//!   of a Database span into the virtual database node (PROTOCOL.md 3.3);
//! - tags `db.type` = `PostgreSQL`, `db.instance` = the database name (the user name
//!   when the configuration names none, as PostgreSQL does), and `db.statement`: the
//!   SQL as written, cut at `SW_PLUGIN_JDBC_SQL_BODY_MAX_LENGTH` bytes (2048, as Java).
//!   Parameter values are **never recorded** unless `SW_JDBC_TRACE_SQL_PARAMETERS` is
//!   on; then `db.sql.parameters` holds them as `[7, "login"]` (their `Debug` form), cut
//!   at `SW_PLUGIN_JDBC_SQL_PARAMETERS_MAX_LENGTH` bytes (512). The same options drive
//!   the `sqlx` integration. The `_raw` methods take their parameters as an iterator,
//!   read once by the driver: their spans record no parameters.
//!
//! # Errors
//!
//! A failed call (a syntax error, a constraint violation, a closed connection, a
//! `query_one` that found no row) marks the span as an error and logs the error's text
//! with its cause (`db error: ERROR: syntax error at or near "SELEC"`). What the caller
//! gets is what tokio-postgres returned: the wrapper never adds, changes or drops a row
//! or an error. A transaction dropped without `commit` or `rollback` is rolled back by
//! tokio-postgres as usual, without a span.
//!
//! With no agent running each call is forwarded untouched (no span, no tag). The wrapper
//! reaches the client through [`GenericClient`], whose methods box their futures: one
//! small allocation per call, traced or not, next to a network round trip.
//!
//! [tokio-postgres]: https://docs.rs/tokio-postgres

use std::borrow::Cow;
use std::error::Error as _;
use std::fmt::{self, Write as _};
use std::future::Future;
use std::ops::Deref;
use std::sync::Arc;

use ::tokio_postgres::config::Host;
use ::tokio_postgres::types::{BorrowToSql, ToSql, Type};
use ::tokio_postgres::{
    Client, Config, Error, GenericClient, Row, RowStream, SimpleQueryMessage, Statement,
    ToStatement, Transaction,
};

use super::support::{self, CallSpan, Inbound, Outcome, Tags, Traced};
use crate::record::{SpanKind, SpanLayer, Str, component, cut_bytes};
use crate::trace::context::SpanInit;
use crate::trace::span::SpanRef;

/// `db.type`.
const TAG_DB_TYPE: &str = "db.type";
/// `db.instance`: the database name.
const TAG_DB_INSTANCE: &str = "db.instance";
/// `db.statement`: the SQL, cut.
const TAG_DB_STATEMENT: &str = "db.statement";
/// `db.sql.parameters`, with `SW_JDBC_TRACE_SQL_PARAMETERS` only (the Java agent's key).
const TAG_DB_PARAMETERS: &str = "db.sql.parameters";
/// The value of `db.type`, as the Java agent's PostgreSQL plugin (and the `sqlx`
/// integration) write it.
const DB_TYPE: &str = "PostgreSQL";
/// PostgreSQL's default port.
const DEFAULT_PORT: u16 = 5432;
/// The peer of a configuration that names no host (never empty).
const UNKNOWN_PEER: &str = "unknown";

/// A tokio-postgres [`Client`] (or [`Transaction`], see [`TracedTransaction`]) whose
/// calls are exit spans (see the [module docs](self)).
pub struct TracedClient<C = Client> {
    inner: C,
    target: Arc<Target>,
}

/// A [`Transaction`] whose statements are exit spans, made by
/// [`TracedClient::transaction`].
pub type TracedTransaction<'a> = TracedClient<Transaction<'a>>;

/// Where a client's statements go: the peer and database of their spans.
#[derive(Debug, PartialEq, Eq)]
struct Target {
    /// `host:port`, never empty; interned (no allocation per span).
    peer: Str,
    /// `db.instance`, when known; interned.
    instance: Option<Str>,
}

impl TracedClient<Client> {
    /// Wraps `client`, made from `config`, whose hosts, ports and database name the
    /// spans name.
    pub fn new(client: Client, config: &Config) -> Self {
        Self::with_target(client, peer_of(config), instance_of(config))
    }

    /// Wraps `client`, naming `peer` (`host:port`) and `database` in its spans; an empty
    /// `peer` becomes `unknown`.
    pub fn with_target(client: Client, peer: impl Into<String>, database: Option<String>) -> Self {
        let peer = peer.into();
        let peer = if peer.is_empty() {
            Cow::Borrowed(UNKNOWN_PEER)
        } else {
            support::intern(peer)
        };
        TracedClient {
            inner: client,
            target: Arc::new(Target {
                peer,
                instance: database.filter(|d| !d.is_empty()).map(support::intern),
            }),
        }
    }
}

impl<C> TracedClient<C> {
    /// The peer its spans name.
    pub fn peer(&self) -> &str {
        &self.target.peer
    }

    /// The database its spans name in `db.instance`.
    pub fn database(&self) -> Option<&str> {
        self.target.instance.as_deref()
    }

    /// The wrapped client or transaction (calls made on it directly are not traced).
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped client or transaction.
    pub fn into_inner(self) -> C {
        self.inner
    }

    /// `future`, inside the span of `method` (with `sql`, and its `parameters` when they
    /// are recorded).
    fn call<'q, F: Future>(
        &self,
        method: &'static str,
        sql: Option<&'q str>,
        parameters: Parameters<'q>,
        future: F,
    ) -> Traced<Inbound<F, StatementTags<'q>>, F, Finished> {
        traced(self.span(method), &self.target, sql, parameters, future)
    }

    /// The span of `method`, or `None` when no agent runs.
    fn span(&self, method: &'static str) -> Option<SpanInit> {
        support::is_enabled().then(|| SpanInit {
            kind: SpanKind::Exit,
            name: Cow::Borrowed(method),
            peer: self.target.peer.clone(),
            layer: SpanLayer::Database,
            component: component::POSTGRESQL,
        })
    }
}

impl<C> Deref for TracedClient<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.inner
    }
}

impl<C> fmt::Debug for TracedClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedClient")
            .field("peer", &self.target.peer)
            .field("database", &self.target.instance)
            .finish_non_exhaustive()
    }
}

/// Declares a span name `PostgreSQL/tokio-postgres/<method>`.
macro_rules! names {
    ($($konst:ident = $method:literal;)*) => {
        $(const $konst: &str = concat!("PostgreSQL/tokio-postgres/", $method);)*
    };
}

names! {
    EXECUTE = "execute";
    EXECUTE_RAW = "execute_raw";
    EXECUTE_TYPED = "execute_typed";
    QUERY = "query";
    QUERY_ONE = "query_one";
    QUERY_OPT = "query_opt";
    QUERY_RAW = "query_raw";
    QUERY_TYPED = "query_typed";
    QUERY_TYPED_ONE = "query_typed_one";
    QUERY_TYPED_OPT = "query_typed_opt";
    QUERY_TYPED_RAW = "query_typed_raw";
    PREPARE = "prepare";
    PREPARE_TYPED = "prepare_typed";
    BATCH_EXECUTE = "batch_execute";
    SIMPLE_QUERY = "simple_query";
    BEGIN = "begin";
    COMMIT = "commit";
    ROLLBACK = "rollback";
}

impl<C: GenericClient + Sync> TracedClient<C> {
    /// Like [`Client::execute`]: runs a statement, returning the number of rows it
    /// changed.
    pub async fn execute<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, Error>
    where
        T: ?Sized + TracedToStatement,
    {
        let future = self.inner.execute(statement.to_statement(), params);
        self.call(EXECUTE, statement.sql(), Parameters::Plain(params), future)
            .await
    }

    /// Like [`Client::execute_raw`] (the parameters are not recorded).
    pub async fn execute_raw<P, I, T>(&self, statement: &T, params: I) -> Result<u64, Error>
    where
        T: ?Sized + TracedToStatement,
        P: BorrowToSql,
        I: IntoIterator<Item = P> + Sync + Send,
        I::IntoIter: ExactSizeIterator,
    {
        let future = self.inner.execute_raw(statement.to_statement(), params);
        self.call(EXECUTE_RAW, statement.sql(), Parameters::None, future)
            .await
    }

    /// Like [`Client::execute_typed`].
    pub async fn execute_typed(
        &self,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<u64, Error> {
        let future = self.inner.execute_typed(statement, params);
        self.call(
            EXECUTE_TYPED,
            Some(statement),
            Parameters::Typed(params),
            future,
        )
        .await
    }

    /// Like [`Client::query`]: runs a statement, returning its rows.
    pub async fn query<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, Error>
    where
        T: ?Sized + TracedToStatement,
    {
        let future = self.inner.query(statement.to_statement(), params);
        self.call(QUERY, statement.sql(), Parameters::Plain(params), future)
            .await
    }

    /// Like [`Client::query_one`]: an error unless exactly one row is returned.
    pub async fn query_one<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, Error>
    where
        T: ?Sized + TracedToStatement,
    {
        let future = self.inner.query_one(statement.to_statement(), params);
        self.call(
            QUERY_ONE,
            statement.sql(),
            Parameters::Plain(params),
            future,
        )
        .await
    }

    /// Like [`Client::query_opt`]: an error if more than one row is returned.
    pub async fn query_opt<T>(
        &self,
        statement: &T,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, Error>
    where
        T: ?Sized + TracedToStatement,
    {
        let future = self.inner.query_opt(statement.to_statement(), params);
        self.call(
            QUERY_OPT,
            statement.sql(),
            Parameters::Plain(params),
            future,
        )
        .await
    }

    /// Like [`Client::query_raw`]; the span ends when the rows start to stream, and the
    /// parameters are not recorded.
    pub async fn query_raw<T, P, I>(&self, statement: &T, params: I) -> Result<RowStream, Error>
    where
        T: ?Sized + TracedToStatement,
        P: BorrowToSql,
        I: IntoIterator<Item = P> + Sync + Send,
        I::IntoIter: ExactSizeIterator,
    {
        let future = self.inner.query_raw(statement.to_statement(), params);
        self.call(QUERY_RAW, statement.sql(), Parameters::None, future)
            .await
    }

    /// Like [`Client::query_typed`].
    pub async fn query_typed(
        &self,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Vec<Row>, Error> {
        let future = self.inner.query_typed(statement, params);
        self.call(
            QUERY_TYPED,
            Some(statement),
            Parameters::Typed(params),
            future,
        )
        .await
    }

    /// Like [`Client::query_typed_one`].
    pub async fn query_typed_one(
        &self,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Row, Error> {
        let future = self.inner.query_typed_one(statement, params);
        let parameters = Parameters::Typed(params);
        self.call(QUERY_TYPED_ONE, Some(statement), parameters, future)
            .await
    }

    /// Like [`Client::query_typed_opt`].
    pub async fn query_typed_opt(
        &self,
        statement: &str,
        params: &[(&(dyn ToSql + Sync), Type)],
    ) -> Result<Option<Row>, Error> {
        let future = self.inner.query_typed_opt(statement, params);
        let parameters = Parameters::Typed(params);
        self.call(QUERY_TYPED_OPT, Some(statement), parameters, future)
            .await
    }

    /// Like [`Client::query_typed_raw`]; the span ends when the rows start to stream,
    /// and the parameters are not recorded.
    pub async fn query_typed_raw<P, I>(
        &self,
        statement: &str,
        params: I,
    ) -> Result<RowStream, Error>
    where
        P: BorrowToSql,
        I: IntoIterator<Item = (P, Type)> + Sync + Send,
    {
        let future = self.inner.query_typed_raw(statement, params);
        self.call(QUERY_TYPED_RAW, Some(statement), Parameters::None, future)
            .await
    }

    /// Like [`Client::prepare`], returning a [`TracedStatement`] that remembers its SQL
    /// for the spans of the queries that run it.
    pub async fn prepare(&self, query: &str) -> Result<TracedStatement, Error> {
        let future = self.inner.prepare(query);
        let statement = self
            .call(PREPARE, Some(query), Parameters::None, future)
            .await?;
        Ok(TracedStatement::new(statement, query))
    }

    /// Like [`Client::prepare_typed`], returning a [`TracedStatement`].
    pub async fn prepare_typed(
        &self,
        query: &str,
        parameter_types: &[Type],
    ) -> Result<TracedStatement, Error> {
        let future = self.inner.prepare_typed(query, parameter_types);
        let statement = self
            .call(PREPARE_TYPED, Some(query), Parameters::None, future)
            .await?;
        Ok(TracedStatement::new(statement, query))
    }

    /// Like [`Client::batch_execute`]: runs several statements separated by `;`.
    pub async fn batch_execute(&self, query: &str) -> Result<(), Error> {
        let future = self.inner.batch_execute(query);
        self.call(BATCH_EXECUTE, Some(query), Parameters::None, future)
            .await
    }

    /// Like [`Client::simple_query`].
    pub async fn simple_query(&self, query: &str) -> Result<Vec<SimpleQueryMessage>, Error> {
        let future = self.inner.simple_query(query);
        self.call(SIMPLE_QUERY, Some(query), Parameters::None, future)
            .await
    }

    /// Like [`Client::transaction`] (a savepoint, inside a transaction): a span `begin`,
    /// and a [`TracedTransaction`] whose statements are spans too.
    pub async fn transaction(&mut self) -> Result<TracedTransaction<'_>, Error> {
        let target = Arc::clone(&self.target);
        let span = self.span(BEGIN);
        let future = self.inner.transaction();
        let inner = traced(span, &target, None, Parameters::None, future).await?;
        Ok(TracedClient { inner, target })
    }

    /// The [`Client`] underneath.
    pub fn client(&self) -> &Client {
        self.inner.client()
    }
}

impl TracedClient<Transaction<'_>> {
    /// Like [`Transaction::commit`], in a span `commit`.
    pub async fn commit(self) -> Result<(), Error> {
        let span = self.span(COMMIT);
        let future = self.inner.commit();
        traced(span, &self.target, None, Parameters::None, future).await
    }

    /// Like [`Transaction::rollback`], in a span `rollback`.
    pub async fn rollback(self) -> Result<(), Error> {
        let span = self.span(ROLLBACK);
        let future = self.inner.rollback();
        traced(span, &self.target, None, Parameters::None, future).await
    }
}

/// `future` inside the span `init` (`None`: the agent is off), tagged with `target`'s
/// database, `sql` and `parameters`.
fn traced<'q, F: Future>(
    init: Option<SpanInit>,
    target: &Target,
    sql: Option<&'q str>,
    parameters: Parameters<'q>,
    future: F,
) -> Traced<Inbound<F, StatementTags<'q>>, F, Finished> {
    let Some(init) = init else {
        return Traced::running(future, CallSpan::off());
    };
    let tags = StatementTags {
        instance: target.instance.clone(),
        sql,
        parameters,
    };
    Traced::new(Inbound::new(future, tags), CallSpan::new(init, None))
}

/// A prepared [`Statement`] with its SQL, made by [`TracedClient::prepare`], for the
/// spans of the queries that run it (`db.statement`). It derefs to the `Statement`.
#[derive(Clone)]
pub struct TracedStatement {
    statement: Statement,
    sql: Arc<str>,
}

impl TracedStatement {
    /// `statement`, prepared from `sql`.
    pub fn new(statement: Statement, sql: &str) -> Self {
        TracedStatement {
            statement,
            sql: Arc::from(sql),
        }
    }

    /// The SQL it was prepared from.
    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }

    /// The statement.
    pub fn into_inner(self) -> Statement {
        self.statement
    }
}

impl Deref for TracedStatement {
    type Target = Statement;

    fn deref(&self) -> &Statement {
        &self.statement
    }
}

impl fmt::Debug for TracedStatement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedStatement")
            .field("sql", &self.sql)
            .field("statement", &self.statement)
            .finish()
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for str {}
    impl Sealed for String {}
    impl Sealed for tokio_postgres::Statement {}
    impl Sealed for super::TracedStatement {}
}

/// What [`TracedClient`]'s query methods run, as [`ToStatement`] for [`Client`]'s: SQL
/// text (`str`, `String`), a [`TracedStatement`], or a [`Statement`] (whose spans then
/// have no `db.statement`, as a `Statement` does not keep its SQL).
pub trait TracedToStatement: sealed::Sealed + Sync {
    /// What the driver is given.
    #[doc(hidden)]
    type Statement: ?Sized + ToStatement + Sync + Send;

    /// The statement the driver is given.
    #[doc(hidden)]
    fn to_statement(&self) -> &Self::Statement;

    /// The SQL, when known.
    #[doc(hidden)]
    fn sql(&self) -> Option<&str>;
}

impl TracedToStatement for str {
    type Statement = str;

    fn to_statement(&self) -> &str {
        self
    }

    fn sql(&self) -> Option<&str> {
        Some(self)
    }
}

impl TracedToStatement for String {
    type Statement = String;

    fn to_statement(&self) -> &String {
        self
    }

    fn sql(&self) -> Option<&str> {
        Some(self)
    }
}

impl TracedToStatement for Statement {
    type Statement = Statement;

    fn to_statement(&self) -> &Statement {
        self
    }

    fn sql(&self) -> Option<&str> {
        None
    }
}

impl TracedToStatement for TracedStatement {
    type Statement = Statement;

    fn to_statement(&self) -> &Statement {
        &self.statement
    }

    fn sql(&self) -> Option<&str> {
        Some(&self.sql)
    }
}

/// The parameters of a call, formatted only when recorded.
#[derive(Clone, Copy)]
enum Parameters<'q> {
    None,
    Plain(&'q [&'q (dyn ToSql + Sync)]),
    Typed(&'q [(&'q (dyn ToSql + Sync), Type)]),
}

impl Parameters<'_> {
    /// `[7, "login"]`, cut to `max` bytes; `None` for no parameters.
    fn format(self, max: usize) -> Option<String> {
        let mut out = String::from("[");
        let mut first = true;
        let mut push = |value: &dyn fmt::Debug| {
            if out.len() > max {
                return;
            }
            if !first {
                out.push_str(", ");
            }
            first = false;
            let _ = write!(out, "{value:?}");
        };
        match self {
            Parameters::None => return None,
            Parameters::Plain([]) | Parameters::Typed([]) => return None,
            Parameters::Plain(values) => values.iter().for_each(|v| push(v)),
            Parameters::Typed(values) => values.iter().for_each(|(v, _)| push(v)),
        }
        out.push(']');
        let kept = cut_bytes(&out, max).len();
        out.truncate(kept);
        Some(out)
    }
}

/// The tags of a call's span, added when it opens (nothing when it records nothing).
struct StatementTags<'q> {
    instance: Option<Str>,
    sql: Option<&'q str>,
    parameters: Parameters<'q>,
}

impl Tags for StatementTags<'_> {
    fn apply(self, span: SpanRef) {
        if !span.is_recording() {
            return;
        }
        span.add_tag(TAG_DB_TYPE, DB_TYPE);
        if let Some(instance) = self.instance {
            span.add_tag(TAG_DB_INSTANCE, instance);
        }
        if let Some(sql) = self.sql {
            let sql = cut_bytes(sql, crate::settings::sql_body_max());
            span.add_tag(TAG_DB_STATEMENT, sql.to_owned());
        }
        if let Some(max) = crate::settings::sql_parameters_max()
            && let Some(parameters) = self.parameters.format(max)
        {
            span.add_tag(TAG_DB_PARAMETERS, parameters);
        }
    }
}

/// What a call's result tells its span: an error marks it failed.
enum Finished {}

impl<T> Outcome<Result<T, Error>> for Finished {
    type Output = Result<T, Error>;

    fn record(output: &Result<T, Error>, span: SpanRef) -> bool {
        if let Err(error) = output {
            span.record_error(&WithCauses(error));
        }
        true
    }

    fn finish(output: Result<T, Error>, _: Option<CallSpan>) -> Result<T, Error> {
        output
    }
}

/// An error and its causes: tokio-postgres says only `db error` and keeps the server's
/// message in the source.
struct WithCauses<'a>(&'a Error);

impl fmt::Display for WithCauses<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The database a configuration connects to: its `dbname`, else its user's name (as
/// PostgreSQL defaults it).
fn instance_of(config: &Config) -> Option<String> {
    config.get_dbname().or(config.get_user()).map(str::to_owned)
}

/// The peer of a configuration: `host:port` of each host (comma-separated when there
/// are several), the port defaulting to 5432; the addresses when no host is named.
fn peer_of(config: &Config) -> String {
    let ports = config.get_ports();
    let port = |i: usize| match ports {
        [] => DEFAULT_PORT,
        [one] => *one,
        many => many.get(i).copied().unwrap_or(DEFAULT_PORT),
    };
    let host_port = |host: &str, port: u16| {
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    };
    let peers: Vec<String> = if config.get_hosts().is_empty() {
        config
            .get_hostaddrs()
            .iter()
            .enumerate()
            .map(|(i, addr)| host_port(&addr.to_string(), port(i)))
            .collect()
    } else {
        config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(i, host)| match host {
                Host::Tcp(name) => host_port(name, port(i)),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect()
    };
    if peers.is_empty() {
        UNKNOWN_PEER.to_owned()
    } else {
        peers.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(s: &str) -> Config {
        s.parse().unwrap()
    }

    #[test]
    fn peers_name_every_host_with_its_port() {
        assert_eq!(peer_of(&config("host=db port=6543")), "db:6543");
        assert_eq!(peer_of(&config("host=db")), "db:5432");
        assert_eq!(peer_of(&config("postgres://u@a:1,b:2/orders")), "a:1,b:2");
        assert_eq!(peer_of(&config("host=a,b port=7000")), "a:7000,b:7000");
        assert_eq!(peer_of(&config("hostaddr=10.0.0.7")), "10.0.0.7:5432");
        assert_eq!(peer_of(&config("hostaddr=::1 port=7")), "[::1]:7");
        assert_eq!(peer_of(&config("host=/run/postgresql")), "/run/postgresql");
        assert_eq!(peer_of(&config("user=u")), UNKNOWN_PEER, "never empty");
    }

    #[test]
    fn the_database_defaults_to_the_user() {
        let instance = |s: &str| instance_of(&config(s));
        assert_eq!(
            instance("host=db user=app dbname=orders").as_deref(),
            Some("orders")
        );
        assert_eq!(instance("host=db user=app").as_deref(), Some("app"));
        assert_eq!(instance("host=db"), None);
    }

    #[test]
    fn parameters_are_formatted_and_cut() {
        let id = 7_i32;
        let name = "login";
        let params: [&(dyn ToSql + Sync); 2] = [&id, &name];
        assert_eq!(
            Parameters::Plain(&params).format(512).as_deref(),
            Some("[7, \"login\"]")
        );
        assert_eq!(
            Parameters::Plain(&params).format(4).as_deref(),
            Some("[7, ")
        );
        let typed = [(&id as &(dyn ToSql + Sync), Type::INT4)];
        assert_eq!(
            Parameters::Typed(&typed).format(512).as_deref(),
            Some("[7]")
        );
        assert_eq!(Parameters::Plain(&[]).format(512), None);
        assert_eq!(Parameters::None.format(512), None);
        // Formatting stops early once past the cap.
        let many: Vec<&(dyn ToSql + Sync)> = vec![&id; 10_000];
        assert_eq!(
            Parameters::Plain(&many).format(16).map(|p| p.len()),
            Some(16)
        );
    }

    /// Compiled, never run: the futures can be spawned (axum handlers, `tokio::spawn`).
    #[allow(dead_code)]
    async fn futures_are_send(mut client: TracedClient, statement: TracedStatement) {
        fn send<T: Send>(_: T) {}
        send(client.query(&statement, &[&1_i32]));
        send(client.query_one("SELECT 1", &[]));
        send(client.execute_raw("SELECT 1", Vec::<i32>::new()));
        send(client.prepare("SELECT 1"));
        send(client.batch_execute("SELECT 1"));
        send(client.transaction());
        if let Ok(tx) = client.transaction().await {
            send(tx.query("SELECT 1", &[]));
            send(tx.commit());
        }
    }

    #[test]
    fn span_names_are_java_style_and_never_sql() {
        assert_eq!(QUERY, "PostgreSQL/tokio-postgres/query");
        assert_eq!(BEGIN, "PostgreSQL/tokio-postgres/begin");
        assert_eq!(PREPARE_TYPED, "PostgreSQL/tokio-postgres/prepare_typed");
    }
}
