//! What differs between the drivers: the component, the names, where a pool connects
//! (peer and database, read from its connect options) and how bound parameters read.

use std::fmt::Debug;

use crate::record::component;

/// The operation names of one database, indexed by [`Method`].
pub(crate) type Names = [&'static str; Method::COUNT];

/// The [`sqlx::Executor`] method a span is named after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    Execute,
    ExecuteMany,
    Fetch,
    FetchMany,
    FetchAll,
    FetchOne,
    FetchOptional,
    Prepare,
}

impl Method {
    const COUNT: usize = 8;

    /// The operation name of this method on `DB`: `PostgreSQL/sqlx/execute`.
    pub(crate) fn name<DB: TracedDatabase>(self) -> &'static str {
        DB::NAMES[self as usize]
    }
}

/// Declares the names of a database's spans, in [`Method`] order.
macro_rules! names {
    ($db:literal) => {
        [
            concat!($db, "/sqlx/execute"),
            concat!($db, "/sqlx/execute_many"),
            concat!($db, "/sqlx/fetch"),
            concat!($db, "/sqlx/fetch_many"),
            concat!($db, "/sqlx/fetch_all"),
            concat!($db, "/sqlx/fetch_one"),
            concat!($db, "/sqlx/fetch_optional"),
            concat!($db, "/sqlx/prepare"),
        ]
    };
}

mod sealed {
    use std::path::PathBuf;

    /// The driver facts, implemented here only.
    pub trait Driver: ::sqlx::Database {
        /// `db.type`, also the first part of the span names and the default meter name.
        const DB_TYPE: &'static str;
        /// The component id.
        const COMPONENT: i32;
        /// The span names, in `Method` order.
        const NAMES: super::Names;

        /// The peer and database name a pool with these options connects to.
        fn target(
            options: &<Self::Connection as ::sqlx::Connection>::Options,
        ) -> (String, Option<String>);

        /// The bound parameters as text, for `db.sql.parameters`: at most about `max`
        /// bytes are formatted (the caller cuts at a character boundary).
        fn parameters(arguments: &Self::Arguments<'_>, max: usize) -> String;
    }

    /// `host:port`, bracketing an IPv6 address; or the unix socket's path.
    #[cfg_attr(
        not(any(feature = "sqlx-postgres", feature = "sqlx-mysql")),
        allow(dead_code)
    )]
    pub(super) fn host_port(host: &str, port: u16, socket: Option<&PathBuf>) -> String {
        if let Some(socket) = socket {
            return socket.display().to_string();
        }
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    }
}

/// A database whose statements [`TracedPool`](super::TracedPool) traces: PostgreSQL
/// (feature `sqlx-postgres`), MySQL and MariaDB (`sqlx-mysql`), SQLite (`sqlx-sqlite`).
/// Implemented by sqlx's database types only.
pub trait TracedDatabase: sealed::Driver {}

impl<DB: sealed::Driver> TracedDatabase for DB {}

/// The arguments' `Debug` text, without the struct around their list when there is one,
/// formatted no further than `max` bytes past the list's start: a large bound value (a
/// 10 MB `bytea`) must not be formatted whole on the application's thread to keep 512
/// bytes of it.
fn debug_text(arguments: &impl Debug, max: usize) -> String {
    /// A `fmt::Write` that stops the formatting once it holds `limit` bytes.
    struct Bounded {
        text: String,
        limit: usize,
    }
    impl std::fmt::Write for Bounded {
        fn write_str(&mut self, s: &str) -> std::fmt::Result {
            let room = self.limit.saturating_sub(self.text.len());
            if s.len() <= room {
                self.text.push_str(s);
                return Ok(());
            }
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&s[..end]);
            Err(std::fmt::Error)
        }
    }
    // Room for the struct's name around the list (`SqliteArguments { values: [`).
    let mut out = Bounded {
        text: String::new(),
        limit: max.saturating_add(64),
    };
    let _ = std::fmt::write(&mut out, format_args!("{arguments:?}"));
    let text = out.text;
    match (text.find('['), text.rfind(']')) {
        (Some(start), Some(end)) if start < end && text.starts_with("Sqlite") => {
            text[start..=end].to_owned()
        }
        (Some(start), None) if text.starts_with("Sqlite") => text[start..].to_owned(),
        _ => text,
    }
}

#[cfg(feature = "sqlx-postgres")]
impl sealed::Driver for ::sqlx::Postgres {
    const DB_TYPE: &'static str = "PostgreSQL";
    const COMPONENT: i32 = component::POSTGRESQL;
    const NAMES: Names = names!("PostgreSQL");

    fn target(options: &::sqlx::postgres::PgConnectOptions) -> (String, Option<String>) {
        let peer = sealed::host_port(options.get_host(), options.get_port(), options.get_socket());
        // PostgreSQL connects to the database named as the user when none is given.
        let database = options.get_database().unwrap_or(options.get_username());
        (peer, Some(database.to_owned()))
    }

    fn parameters(arguments: &::sqlx::postgres::PgArguments, max: usize) -> String {
        debug_text(arguments, max)
    }
}

#[cfg(feature = "sqlx-mysql")]
impl sealed::Driver for ::sqlx::MySql {
    const DB_TYPE: &'static str = "Mysql";
    const COMPONENT: i32 = component::MYSQL;
    const NAMES: Names = names!("Mysql");

    fn target(options: &::sqlx::mysql::MySqlConnectOptions) -> (String, Option<String>) {
        let peer = sealed::host_port(options.get_host(), options.get_port(), options.get_socket());
        (peer, options.get_database().map(str::to_owned))
    }

    fn parameters(arguments: &::sqlx::mysql::MySqlArguments, max: usize) -> String {
        debug_text(arguments, max)
    }
}

#[cfg(feature = "sqlx-sqlite")]
impl sealed::Driver for ::sqlx::Sqlite {
    const DB_TYPE: &'static str = "SQLite";
    const COMPONENT: i32 = component::SQLITE;
    const NAMES: Names = names!("SQLite");

    fn target(options: &::sqlx::sqlite::SqliteConnectOptions) -> (String, Option<String>) {
        let file = sqlite_file(&options.get_filename().to_string_lossy());
        (file.clone(), Some(file))
    }

    fn parameters(arguments: &::sqlx::sqlite::SqliteArguments<'_>, max: usize) -> String {
        debug_text(arguments, max)
    }
}

/// The peer of a SQLite database: its file name (no folder: paths differ between hosts
/// of one service and would split its virtual database), `:memory:` for sqlx's in-memory
/// databases (`file:sqlx-in-memory-<n>`).
#[cfg_attr(not(feature = "sqlx-sqlite"), allow(dead_code))]
fn sqlite_file(filename: &str) -> String {
    if filename.is_empty() || filename == ":memory:" || filename.starts_with("file:sqlx-in-memory-")
    {
        return ":memory:".to_owned();
    }
    let path = filename.strip_prefix("file:").unwrap_or(filename);
    let path = path.split('?').next().unwrap_or(path);
    match std::path::Path::new(path).file_name() {
        Some(name) => name.to_string_lossy().into_owned(),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_formatted_no_further_than_needed() {
        #[derive(Debug)]
        #[allow(dead_code)] // Read through `Debug` only.
        struct SqliteArguments {
            values: Vec<String>,
        }
        let huge = SqliteArguments {
            values: vec!["é".repeat(5_000_000)],
        };
        let text = debug_text(&huge, 512);
        assert!(text.starts_with("[\"éé"), "{}", &text[..20]);
        assert!(text.len() <= 512 + 64, "{}", text.len());
        let small = SqliteArguments {
            values: vec!["a".to_owned(), "b".to_owned()],
        };
        assert_eq!(debug_text(&small, 512), r#"["a", "b"]"#);
    }

    #[test]
    fn sqlite_peers_are_file_names_or_memory() {
        assert_eq!(sqlite_file("file:sqlx-in-memory-3"), ":memory:");
        assert_eq!(sqlite_file(":memory:"), ":memory:");
        assert_eq!(sqlite_file("/var/lib/app/orders.db"), "orders.db");
        assert_eq!(sqlite_file("file:orders.db?mode=ro"), "orders.db");
        assert_eq!(sqlite_file("orders.db"), "orders.db");
    }

    #[test]
    fn hosts_and_sockets() {
        assert_eq!(sealed::host_port("db", 5432, None), "db:5432");
        assert_eq!(sealed::host_port("::1", 5432, None), "[::1]:5432");
        let socket = std::path::PathBuf::from("/run/postgresql");
        assert_eq!(
            sealed::host_port("localhost", 5432, Some(&socket)),
            "/run/postgresql"
        );
    }

    #[cfg(feature = "sqlx-postgres")]
    #[test]
    fn postgres_targets_and_names() {
        let options: ::sqlx::postgres::PgConnectOptions =
            "postgres://app@db.internal:6543/orders".parse().unwrap();
        let (peer, db) = <::sqlx::Postgres as sealed::Driver>::target(&options);
        assert_eq!(peer, "db.internal:6543");
        assert_eq!(db.as_deref(), Some("orders"));
        let options: ::sqlx::postgres::PgConnectOptions = "postgres://app@db".parse().unwrap();
        let (peer, db) = <::sqlx::Postgres as sealed::Driver>::target(&options);
        assert_eq!(peer, "db:5432");
        assert_eq!(db.as_deref(), Some("app"));
        assert_eq!(
            Method::FetchAll.name::<::sqlx::Postgres>(),
            "PostgreSQL/sqlx/fetch_all"
        );
    }

    #[cfg(feature = "sqlx-mysql")]
    #[test]
    fn mysql_targets() {
        let options: ::sqlx::mysql::MySqlConnectOptions =
            "mysql://root@127.0.0.1:3307/shop".parse().unwrap();
        let (peer, db) = <::sqlx::MySql as sealed::Driver>::target(&options);
        assert_eq!(peer, "127.0.0.1:3307");
        assert_eq!(db.as_deref(), Some("shop"));
        assert_eq!(
            Method::Prepare.name::<::sqlx::MySql>(),
            "Mysql/sqlx/prepare"
        );
    }
}
