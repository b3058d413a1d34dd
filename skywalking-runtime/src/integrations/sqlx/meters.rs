//! The `datasource{name, status}` gauges of traced pools, read at each meter
//! collection. A gauge is registered once per name and status and reads whichever pool
//! last took that name, weakly: a dropped pool reads 0 and is not kept alive.

use std::sync::{Arc, Mutex, Weak};

use ::sqlx::Database;

use super::Shared;
use crate::meter;

/// The meter OAP's default `datasource.yaml` rule reads.
const METER: &str = "datasource";

/// The `status` label values, as the Java agent's HikariCP plugin names them.
const STATUSES: [&str; 5] = [
    "activeConnections",
    "idleConnections",
    "totalConnections",
    "maximumPoolSize",
    "minimumIdle",
];

/// A pool's numbers, whatever its database.
trait PoolStats: Send + Sync {
    /// `[active, idle, total, max, min]`, as [`STATUSES`].
    fn read(&self) -> [f64; 5];
}

impl<DB: Database> PoolStats for Shared<DB> {
    fn read(&self) -> [f64; 5] {
        let options = self.pool.options();
        let total = self.pool.size();
        // `num_idle` counts connections in the idle queue; one taken meanwhile can make it
        // exceed a `size` read first.
        let idle = u32::try_from(self.pool.num_idle())
            .unwrap_or(u32::MAX)
            .min(total);
        [
            f64::from(total - idle),
            f64::from(idle),
            f64::from(total),
            f64::from(options.get_max_connections()),
            f64::from(options.get_min_connections()),
        ]
    }
}

/// A pool under its meter name.
type Named = (Arc<str>, Weak<dyn PoolStats>);

/// The pools by meter name.
static POOLS: Mutex<Vec<Named>> = Mutex::new(Vec::new());

/// Registers the gauges of the pool behind `pool` under `name` (replacing a pool of the
/// same name).
pub(super) fn register<DB: Database>(name: String, pool: Weak<Shared<DB>>) {
    let pool: Weak<dyn PoolStats> = pool;
    let name: Arc<str> = Arc::from(name);
    {
        let Ok(mut pools) = POOLS.lock() else { return };
        pools.retain(|(n, p)| *n != name && p.strong_count() > 0);
        pools.push((Arc::clone(&name), pool));
    }
    for (index, status) in STATUSES.into_iter().enumerate() {
        let pool_name = Arc::clone(&name);
        meter::gauge(METER)
            .label("name", name.to_string())
            .label("status", status)
            .build_fn(move || read(&pool_name, index));
    }
}

/// The value of `STATUSES[index]` for the pool named `name`; 0 when it is gone.
fn read(name: &str, index: usize) -> f64 {
    let pool = POOLS.lock().ok().and_then(|pools| {
        pools
            .iter()
            .find(|(n, _)| &**n == name)
            .and_then(|(_, p)| p.upgrade())
    });
    pool.map_or(0.0, |pool| pool.read()[index])
}
