//! The backend's order book: an embedded SQLite database in memory (nothing to install),
//! or PostgreSQL when `DATABASE_URL` names one (`postgres://user@host:5432/db`). Each
//! statement runs through a `TracedPool`, so it is a database exit span of the trace.

use sw::integrations::sqlx::TracedPool;

use crate::service::Error;

/// The database the orders go to.
pub(crate) enum Orders {
    Sqlite(TracedPool<sqlx::Sqlite>),
    Postgres(TracedPool<sqlx::Postgres>),
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS demo_orders \
    (order_id TEXT NOT NULL, amount_cents BIGINT NOT NULL, receipt TEXT NOT NULL)";

impl Orders {
    /// Opens the database `DATABASE_URL` names, else an in-memory SQLite one, and makes
    /// the table (through the plain pool: set-up is not part of any request's trace).
    pub(crate) async fn open() -> Result<Orders, Error> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => {
                let pool = TracedPool::new(sqlx::PgPool::connect(&url).await?);
                sqlx::query(SCHEMA).execute(pool.pool()).await?;
                Ok(Orders::Postgres(pool))
            }
            _ => {
                // One connection: every connection to `:memory:` is a database of its own.
                let pool = sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect("sqlite::memory:")
                    .await?;
                let pool = TracedPool::new(pool);
                sqlx::query(SCHEMA).execute(pool.pool()).await?;
                Ok(Orders::Sqlite(pool))
            }
        }
    }

    /// Records a paid order (an exit span `SQLite/sqlx/execute -> :memory:`).
    pub(crate) async fn record(
        &self,
        order_id: &str,
        amount_cents: u64,
        receipt: &str,
    ) -> Result<(), sqlx::Error> {
        let amount = i64::try_from(amount_cents).unwrap_or(i64::MAX);
        match self {
            Orders::Sqlite(pool) => {
                sqlx::query(
                    "INSERT INTO demo_orders (order_id, amount_cents, receipt) VALUES (?, ?, ?)",
                )
                .bind(order_id)
                .bind(amount)
                .bind(receipt)
                .execute(pool)
                .await?;
            }
            Orders::Postgres(pool) => {
                sqlx::query(
                    "INSERT INTO demo_orders (order_id, amount_cents, receipt) VALUES ($1, $2, $3)",
                )
                .bind(order_id)
                .bind(amount)
                .bind(receipt)
                .execute(pool)
                .await?;
            }
        }
        Ok(())
    }
}
