//! [sqlx]: an exit span for each statement run on PostgreSQL, MySQL (MariaDB) or SQLite,
//! and the pool's `datasource` meters (features `sqlx-postgres`, `sqlx-mysql`,
//! `sqlx-sqlite`; `sqlx` for all three).
//!
//! sqlx has no middleware; every query runs through one trait, [`sqlx::Executor`], which
//! a pool (`&Pool`), a connection (`&mut PgConnection`) and a transaction
//! (`&mut *tx`) implement. [`TracedPool`] wraps a pool and implements `Executor` too, so
//! `query(..).execute(&pool)`, `query_as(..).fetch_all(&pool)`, `query_scalar`, the
//! `query!` macros and `QueryBuilder` work on it unchanged. The one line a user changes
//! is where the pool is made:
//!
//! ```no_run
//! # #[cfg(feature = "sqlx-sqlite")]
//! # async fn f() -> Result<(), sqlx::Error> {
//! use skywalking_runtime::integrations::sqlx::TracedPool;
//!
//! // instead of: let pool = SqlitePool::connect("sqlite:orders.db").await?;
//! let pool = TracedPool::new(sqlx::SqlitePool::connect("sqlite:orders.db").await?);
//! sqlx::query("INSERT INTO orders (sku) VALUES (?)")
//!     .bind("sku-7")
//!     .execute(&pool) // exit span SQLite/sqlx/execute
//!     .await?;
//! let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
//!     .fetch_one(&pool) // exit span SQLite/sqlx/fetch_optional
//!     .await?;
//! # let _ = n;
//! # Ok(()) }
//! ```
//!
//! A `TracedPool` derefs to its [`Pool`], so `pool.begin()`, `pool.acquire()`,
//! `pool.close()` work as before; the connections and transactions they return are
//! traced through [`TracedPool::on`]: `query.execute(pool.on(&mut *tx))`. It is cheap to
//! clone (one `Arc`).
//!
//! # Spans
//!
//! Each statement is one exit span, opened when its future (or stream) is first polled,
//! as a child of the span current then (or the first span of a new trace), and ended
//! when the result arrives (for a stream, `fetch`/`fetch_many`, when it ends or is
//! dropped):
//!
//! - operation name `<database>/sqlx/<method>`: `PostgreSQL/sqlx/execute`,
//!   `Mysql/sqlx/fetch_all`, `SQLite/sqlx/fetch_optional`, `.../prepare`, the database
//!   as OAP's component is named and the [`Executor`](::sqlx::Executor) method sqlx
//!   called, as the Java agent names JDBC spans
//!   (`Postgresql/JDBC/PreparedStatement/executeQuery`). That is the method of the
//!   query type's own choosing: `query(..).fetch_one` calls `fetch_one`, but
//!   `query_scalar(..).fetch_one` and `query_as(..).fetch_one` call `fetch_optional`.
//!   Never the SQL text: operation names become OAP endpoints and must stay few;
//! - layer `Database`; component 22 (`PostgreSQL`), 5 (`Mysql`, also for MariaDB, which
//!   the MySQL driver cannot tell apart) or 31 (`SQLite`, an id of OAP's
//!   `component-libraries.yml` listed for Java and C#: OAP draws and names the virtual
//!   database after it);
//! - peer: the `host:port` the pool connects to (`localhost:5432` by default; the socket
//!   path for a unix socket), or for SQLite the database file name (`:memory:` for an
//!   in-memory database); never empty, since OAP turns the peer of a Database span into
//!   the virtual database node and drops the client side of an exit span without one
//!   (PROTOCOL.md 3.3);
//! - tags `db.type` (`PostgreSQL`, `Mysql`, `SQLite`), `db.instance` (the database
//!   name; the user name for PostgreSQL without one, the file name for SQLite) and
//!   `db.statement`: the SQL as written, cut at `SW_PLUGIN_JDBC_SQL_BODY_MAX_LENGTH`
//!   bytes (2048, as Java). Bound **parameter values are never recorded** unless
//!   `SW_JDBC_TRACE_SQL_PARAMETERS` is on; then `db.sql.parameters` holds them, cut at
//!   `SW_PLUGIN_JDBC_SQL_PARAMETERS_MAX_LENGTH` bytes (512), as the driver keeps them:
//!   the values for SQLite (`[Int64(7), Text("sku-7")]`), their types and wire
//!   encoding for PostgreSQL and MySQL, which keep no other form.
//!
//! # Errors
//!
//! A failed statement (a syntax error, a constraint violation, a refused connection, a
//! pool timeout) marks the span as an error and logs the error's text (`event=error`,
//! `error.kind`, `message`). `RowNotFound` from `fetch_one` is no error of the
//! database's and leaves the span as it is. What the caller gets is what sqlx returned:
//! the wrapper never adds, changes or drops a row or an error, and with no agent running
//! it forwards each call untouched (no span, no allocation).
//!
//! # Pool meters
//!
//! [`TracedPool::new`] registers the pool's gauges as the Java agent does for HikariCP,
//! under the meter name OAP's default `datasource.yaml` rule reads
//! (`datasource.sum(['service', 'instance', 'name', 'status'])`, stored as
//! `meter_datasource` and shown on the General service instance dashboard):
//! `datasource{name, status}`, `name` = `<database>_<peer>` (Java's
//! `<database name>_<database peer>`; [`TracedPool::with_name`] picks another), and
//! `status`:
//!
//! | `status` | value |
//! |---|---|
//! | `activeConnections` | connections in use (`size() - num_idle()`) |
//! | `idleConnections` | idle connections (`num_idle()`) |
//! | `totalConnections` | open connections (`size()`) |
//! | `maximumPoolSize` | `max_connections` of the pool options |
//! | `minimumIdle` | `min_connections` of the pool options |
//!
//! They are read on the reporter thread at each collection; once every clone of the
//! `TracedPool` is dropped they read 0.
//!
//! [sqlx]: https://docs.rs/sqlx

mod driver;
mod executor;
mod meters;

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;
use std::sync::{Arc, Mutex};

use ::sqlx::{Database, Pool};

pub use driver::TracedDatabase;
pub use executor::TracedExecutor;

use crate::record::Str;

/// A sqlx pool whose statements are exit spans and whose size is reported as
/// `datasource` meters (see the [module docs](self)). It implements [`sqlx::Executor`]
/// for `&TracedPool`, and derefs to the [`Pool`] it wraps.
pub struct TracedPool<DB: Database> {
    shared: Arc<Shared<DB>>,
}

/// What the clones of a [`TracedPool`] share (and the meters read, weakly).
struct Shared<DB: Database> {
    pool: Pool<DB>,
    target: Target,
}

/// Where a pool's statements go: the peer and database of their spans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host:port`, a socket path or a file name; never empty.
    pub(crate) peer: Str,
    /// The database name (`db.instance`), when known.
    pub(crate) instance: Option<Str>,
}

impl Target {
    /// The target of `peer` and `instance`: interned (no allocation per span) while few
    /// distinct values were seen, as pools are few.
    pub(crate) fn new(peer: String, instance: Option<String>) -> Self {
        let peer = if peer.is_empty() {
            UNKNOWN_PEER.to_owned()
        } else {
            peer
        };
        Target {
            peer: intern(peer),
            instance: instance.filter(|i| !i.is_empty()).map(intern),
        }
    }
}

/// The peer of a pool whose address could not be told.
const UNKNOWN_PEER: &str = "unknown";
/// Distinct peers and database names kept for the life of the process; beyond, spans
/// copy the string.
const MAX_INTERNED: usize = 256;

/// `value` as a `'static` string while fewer than [`MAX_INTERNED`] were interned.
fn intern(value: String) -> Str {
    static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let Ok(mut interned) = INTERNED.lock() else {
        return Cow::Owned(value);
    };
    if let Some(found) = interned.iter().find(|s| **s == value) {
        return Cow::Borrowed(found);
    }
    if interned.len() >= MAX_INTERNED {
        return Cow::Owned(value);
    }
    let leaked: &'static str = Box::leak(value.into_boxed_str());
    interned.push(leaked);
    Cow::Borrowed(leaked)
}

impl<DB: TracedDatabase> TracedPool<DB> {
    /// Wraps `pool`; its spans name the host, port and database of its connect options,
    /// and its meters are named `<database>_<peer>`.
    pub fn new(pool: Pool<DB>) -> Self {
        let (peer, instance) = DB::target(&pool.connect_options());
        let name = format!("{}_{peer}", instance.as_deref().unwrap_or(DB::DB_TYPE));
        Self::build(pool, Target::new(peer, instance), name)
    }

    /// Wraps `pool`, naming its `datasource` meters `name` instead of
    /// `<database>_<peer>`.
    pub fn with_name(pool: Pool<DB>, name: impl Into<String>) -> Self {
        let (peer, instance) = DB::target(&pool.connect_options());
        Self::build(pool, Target::new(peer, instance), name.into())
    }

    fn build(pool: Pool<DB>, target: Target, name: String) -> Self {
        let shared = Arc::new(Shared { pool, target });
        let weak = Arc::downgrade(&shared);
        meters::register(name, weak);
        TracedPool { shared }
    }

    /// `executor` (a connection `&mut *conn` or a transaction `&mut *tx` of this pool),
    /// whose statements become exit spans naming this pool's peer and database.
    ///
    /// ```no_run
    /// # #[cfg(feature = "sqlx-postgres")]
    /// # async fn f(pool: &skywalking_runtime::integrations::sqlx::TracedPool<sqlx::Postgres>)
    /// # -> Result<(), sqlx::Error> {
    /// let mut tx = pool.begin().await?;
    /// sqlx::query("UPDATE stock SET n = n - 1 WHERE sku = $1")
    ///     .bind("sku-7")
    ///     .execute(pool.on(&mut *tx))
    ///     .await?;
    /// tx.commit().await?;
    /// # Ok(()) }
    /// ```
    pub fn on<'c, E>(&self, executor: E) -> TracedExecutor<'_, E>
    where
        E: ::sqlx::Executor<'c, Database = DB>,
    {
        TracedExecutor::new(executor, &self.shared.target)
    }

    /// The wrapped pool (statements run on it directly are not traced).
    pub fn pool(&self) -> &Pool<DB> {
        &self.shared.pool
    }

    /// The peer its spans name.
    pub fn peer(&self) -> &str {
        &self.shared.target.peer
    }

    /// The database its spans name in `db.instance`.
    pub fn database(&self) -> Option<&str> {
        self.shared.target.instance.as_deref()
    }
}

impl<DB: Database> Clone for TracedPool<DB> {
    fn clone(&self) -> Self {
        TracedPool {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<DB: Database> Deref for TracedPool<DB> {
    type Target = Pool<DB>;

    fn deref(&self) -> &Pool<DB> {
        &self.shared.pool
    }
}

impl<DB: Database> fmt::Debug for TracedPool<DB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedPool")
            .field("peer", &self.shared.target.peer)
            .field("database", &self.shared.target.instance)
            .field("pool", &self.shared.pool)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_peer_is_unknown_and_values_are_interned() {
        let target = Target::new(String::new(), Some(String::new()));
        assert_eq!(target.peer, "unknown");
        assert_eq!(target.instance, None);
        let a = Target::new("db:5432".into(), Some("orders".into()));
        let b = Target::new("db:5432".into(), Some("orders".into()));
        assert!(matches!(a.peer, Cow::Borrowed(_)));
        match (&a.peer, &b.peer) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("not interned"),
        }
    }
}
