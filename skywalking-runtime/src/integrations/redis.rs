//! [redis-rs]: an exit span for each command and each pipeline sent through an async
//! connection (feature `redis`).
//!
//! redis-rs sends every command of an async connection through one trait,
//! [`redis::aio::ConnectionLike`]; [`TracedConnection`] wraps a connection that
//! implements it ([`MultiplexedConnection`], [`ConnectionManager`], or any other) and
//! implements it too, so `cmd.query_async(&mut con)`, `pipe.query_async(&mut con)` and
//! the [`AsyncCommands`](redis::AsyncCommands) methods work on it unchanged. The one line
//! a user changes is where the connection is made:
//!
//! ```no_run
//! use redis::AsyncCommands;
//! use skywalking_runtime::integrations::redis as sw_redis;
//!
//! # async fn f() -> redis::RedisResult<()> {
//! let client = redis::Client::open("redis://cache:6379/")?;
//! // instead of client.get_multiplexed_async_connection().await?
//! let mut con = sw_redis::multiplexed(&client).await?;
//! let _: () = con.set("greeting", "hello").await?; // exit span Redis/SET
//! let greeting: String = con.get("greeting").await?; // exit span Redis/GET
//! # let _ = greeting;
//! # Ok(()) }
//! ```
//!
//! [`connection_manager`] does the same for a [`ConnectionManager`]; an existing
//! connection is wrapped with [`TracedConnection::new`] (the client tells the peer) or
//! [`TracedConnection::with_peer`]. A `TracedConnection` is cheap to clone when the
//! connection is (both of these are), as they are meant to be shared.
//!
//! # Spans
//!
//! Each command is one exit span, opened when its future is first polled, as a child of
//! the span current then (or the first span of a new trace), current while the command
//! is in flight, and ended when the reply arrives:
//!
//! - operation name `Redis/<COMMAND>` (`Redis/GET`, `Redis/HSET`), as the Java agent
//!   names Redis spans (`Jedis/get`, `Lettuce/GET`) with the client's name replaced by
//!   the store's, since OAP's topology already shows the component;
//! - layer `Cache`, component 7 (`Redis`), peer the `host:port` of the server the
//!   connection was made to (the socket path for a unix socket; never empty), which OAP
//!   turns into the virtual cache node (PROTOCOL.md 3.3);
//! - tags `cache.type` = `redis`, `cache.cmd` = the command (`GET`), `cache.op` = `read`
//!   or `write` for the commands of the Java agent's lists (below), and `cache.key` (the
//!   command's first argument, cut to 128 bytes) only when `SW_PLUGIN_REDIS_TRACE_KEY`
//!   is on: keys often hold user ids or emails.
//!
//! A pipeline (or an atomic pipeline, `MULTI`/`EXEC`) is **one** span named
//! `Redis/pipeline` (`Redis/transaction`), whose `cache.cmd` lists its commands as the
//! Go agent does, `pipeline:SET/GET/INCR` (the first 10, then `/...`), and whose
//! `cache.op` is `write` when any command writes, `read` when every command reads.
//!
//! # Errors
//!
//! An error reply (`WRONGTYPE`, `NOSCRIPT`, ...; in a pipeline, any of its replies), a
//! failed connection or a timeout marks the span as an error and logs the error's text
//! (`event=error`, `error.kind`, `message`). What the caller gets is what the connection
//! returned: the wrapper never adds, changes or drops a reply or an error. A nil reply
//! (a missing key) is no error.
//!
//! # Read and write commands
//!
//! `cache.op` follows the lists of the Java agent's Jedis plugin
//! (`plugin.jedis.operation_mapping_read` / `_write`), which the Go agent's go-redis
//! plugin copies and extends with `KEYS`, `SCAN` and `HSCAN` as reads, so OAP splits
//! read and write latency the same way for every service. Their quirks are kept on
//! purpose: `STRLEN`, `SISMEMBER`, `SINTER`, `SUNION`, `SDIFF` and the `ZRANGE` family
//! count as writes there, and `SPOP`, `LPOP`, `RPOP`, `SMOVE` as reads. Other commands
//! (`EXISTS`, `EXPIRE`, `PING`, `EVAL`, ...) get no `cache.op`, as in those agents.
//!
//! With no agent running the wrapper forwards each call untouched (no span, no
//! allocation).
//!
//! [redis-rs]: https://docs.rs/redis
//! [`MultiplexedConnection`]: redis::aio::MultiplexedConnection
//! [`ConnectionManager`]: redis::aio::ConnectionManager

use std::borrow::Cow;
use std::fmt;

use ::redis::aio::{ConnectionLike, ConnectionManager, MultiplexedConnection};
use ::redis::{Arg, Client, Cmd, ConnectionAddr, Pipeline, RedisFuture, RedisResult, Value};

use super::support::{self, CallSpan, Inbound, Outcome, Tags, Traced};
use crate::record::{SpanKind, SpanLayer, Str, component};
use crate::trace::context::SpanInit;
use crate::trace::span::SpanRef;

/// `cache.type`.
const TAG_CACHE_TYPE: &str = "cache.type";
/// `cache.op`: `read` or `write`.
const TAG_CACHE_OP: &str = "cache.op";
/// `cache.cmd`: the command, or a pipeline's commands.
const TAG_CACHE_CMD: &str = "cache.cmd";
/// `cache.key`, only with `SW_PLUGIN_REDIS_TRACE_KEY`.
const TAG_CACHE_KEY: &str = "cache.key";
/// The value of `cache.type`, as the Go agent writes it.
const CACHE_TYPE: &str = "redis";
/// Bytes of a key kept in `cache.key`: the Java agent's `redis_parameter_max_length`.
const MAX_KEY_BYTES: usize = 128;
/// Commands named in a pipeline's `cache.cmd`, as the Go agent does.
const MAX_PIPELINE_COMMANDS: usize = 10;
/// Bytes of an unknown command kept in its span's name.
const MAX_COMMAND_BYTES: usize = 32;
/// The peer of a connection whose address could not be told (never empty: OAP drops
/// the client side of an exit span without one).
const UNKNOWN_PEER: &str = "unknown";

/// Makes a [`MultiplexedConnection`] to `client`'s server, wrapped so that every
/// command sent through it is an exit span (see the [module docs](self)).
///
/// ```no_run
/// # async fn f() -> redis::RedisResult<()> {
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let mut con = skywalking_runtime::integrations::redis::multiplexed(&client).await?;
/// let pong: String = redis::cmd("PING").query_async(&mut con).await?;
/// # let _ = pong;
/// # Ok(()) }
/// ```
pub async fn multiplexed(client: &Client) -> RedisResult<TracedConnection<MultiplexedConnection>> {
    let con = client.get_multiplexed_async_connection().await?;
    Ok(TracedConnection::new(con, client))
}

/// Makes a [`ConnectionManager`] (a multiplexed connection that reconnects when it
/// breaks) to `client`'s server, wrapped so that every command sent through it is an
/// exit span (see the [module docs](self)).
pub async fn connection_manager(
    client: Client,
) -> RedisResult<TracedConnection<ConnectionManager>> {
    let peer = peer_of(client.get_connection_info().addr());
    let con = ConnectionManager::new(client).await?;
    Ok(TracedConnection::with_peer(con, peer))
}

/// An async redis connection whose commands and pipelines are exit spans (see the
/// [module docs](self)). It implements [`ConnectionLike`] by forwarding to the
/// connection it wraps.
#[derive(Clone)]
pub struct TracedConnection<C> {
    inner: C,
    /// `host:port`, interned: no allocation per span.
    peer: Str,
}

impl<C> fmt::Debug for TracedConnection<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracedConnection")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl<C> TracedConnection<C> {
    /// Wraps `inner`, a connection made by `client`, whose address names the peer of
    /// the spans (`host:port`).
    pub fn new(inner: C, client: &Client) -> Self {
        Self::with_peer(inner, peer_of(client.get_connection_info().addr()))
    }

    /// Wraps `inner`, naming `peer` (`host:port`) as the server its spans call; an empty
    /// `peer` becomes `unknown`.
    pub fn with_peer(inner: C, peer: impl Into<String>) -> Self {
        let peer = peer.into();
        let peer = if peer.is_empty() {
            Cow::Borrowed(UNKNOWN_PEER)
        } else {
            support::intern(peer)
        };
        TracedConnection { inner, peer }
    }

    /// The peer its spans name.
    pub fn peer(&self) -> &str {
        &self.peer
    }

    /// The wrapped connection (commands sent through it directly are not traced).
    pub fn get_ref(&self) -> &C {
        &self.inner
    }

    /// The wrapped connection, mutably (commands sent through it directly are not
    /// traced).
    pub fn get_mut(&mut self) -> &mut C {
        &mut self.inner
    }

    /// The wrapped connection.
    pub fn into_inner(self) -> C {
        self.inner
    }

    fn exit_init(&self, name: Cow<'static, str>) -> SpanInit {
        SpanInit {
            kind: SpanKind::Exit,
            name,
            peer: self.peer.clone(),
            layer: SpanLayer::Cache,
            component: component::REDIS,
        }
    }
}

impl<C: ConnectionLike + Send> ConnectionLike for TracedConnection<C> {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        if !support::is_enabled() {
            return self.inner.req_packed_command(cmd);
        }
        let command = Command::of(cmd);
        let init = self.exit_init(command.name.clone());
        let tags = CommandTags { cmd, command };
        let future = self.inner.req_packed_command(cmd);
        Box::pin(Traced::<_, _, Replied>::new(
            Inbound::new(future, tags),
            CallSpan::new(init, None),
        ))
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        if !support::is_enabled() {
            return self.inner.req_packed_commands(pipeline, offset, count);
        }
        let name = if pipeline.is_transaction() {
            "Redis/transaction"
        } else {
            "Redis/pipeline"
        };
        let init = self.exit_init(Cow::Borrowed(name));
        let future = self.inner.req_packed_commands(pipeline, offset, count);
        Box::pin(Traced::<_, _, Replied>::new(
            Inbound::new(future, PipelineTags(pipeline)),
            CallSpan::new(init, None),
        ))
    }

    fn get_db(&self) -> i64 {
        self.inner.get_db()
    }
}

/// The peer of a connection address: `host:port` (`[v6]:port`), or the socket's path.
fn peer_of(addr: &ConnectionAddr) -> String {
    let host_port = |host: &str, port: u16| {
        if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        }
    };
    match addr {
        ConnectionAddr::Tcp(host, port) => host_port(host, *port),
        ConnectionAddr::TcpTls { host, port, .. } => host_port(host, *port),
        ConnectionAddr::Unix(path) => path.display().to_string(),
        _ => UNKNOWN_PEER.to_owned(),
    }
}

/// Whether a command reads or writes (`cache.op`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

impl Op {
    fn tag(self) -> &'static str {
        match self {
            Op::Read => "read",
            Op::Write => "write",
        }
    }
}

/// What a command's span is named and tagged with.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Command {
    /// `Redis/GET`.
    name: Cow<'static, str>,
    op: Option<Op>,
}

impl Command {
    /// The command a packed `Cmd` sends: its first argument, upper-cased.
    fn of(cmd: &Cmd) -> Command {
        match cmd.args_iter().next() {
            Some(Arg::Simple(name)) => Command::named(name),
            _ => Command {
                name: Cow::Borrowed("Redis/unknown"),
                op: None,
            },
        }
    }

    /// A command by name (any case): the known ones without allocating.
    fn named(name: &[u8]) -> Command {
        let mut upper = [0u8; MAX_COMMAND_BYTES];
        let kept = name.len().min(MAX_COMMAND_BYTES);
        for (to, from) in upper.iter_mut().zip(&name[..kept]) {
            *to = from.to_ascii_uppercase();
        }
        if name.len() <= MAX_COMMAND_BYTES
            && let Ok(upper) = std::str::from_utf8(&upper[..kept])
            && let Some((name, op)) = known(upper)
        {
            return Command {
                name: Cow::Borrowed(name),
                op,
            };
        }
        let upper = String::from_utf8_lossy(&upper[..kept]);
        Command {
            name: Cow::Owned(format!("Redis/{upper}")),
            op: None,
        }
    }

    /// `GET`: the command in the name.
    fn cmd(&self) -> Cow<'static, str> {
        const PREFIX: usize = "Redis/".len();
        match &self.name {
            Cow::Borrowed(name) => Cow::Borrowed(&name[PREFIX..]),
            Cow::Owned(name) => Cow::Owned(name[PREFIX..].to_owned()),
        }
    }
}

/// The tags of a command's span, made when it opens (nothing when it records nothing).
struct CommandTags<'a> {
    cmd: &'a Cmd,
    command: Command,
}

impl Tags for CommandTags<'_> {
    fn apply(self, span: SpanRef) {
        if !span.is_recording() {
            return;
        }
        span.add_tag(TAG_CACHE_TYPE, CACHE_TYPE);
        span.add_tag(TAG_CACHE_CMD, self.command.cmd());
        if let Some(op) = self.command.op {
            span.add_tag(TAG_CACHE_OP, op.tag());
        }
        if crate::settings::redis_trace_key()
            && let Some(Arg::Simple(key)) = self.cmd.args_iter().nth(1)
        {
            span.add_tag(TAG_CACHE_KEY, cut_lossy(key, MAX_KEY_BYTES));
        }
    }
}

/// The tags of a pipeline's span.
struct PipelineTags<'a>(&'a Pipeline);

impl Tags for PipelineTags<'_> {
    fn apply(self, span: SpanRef) {
        if !span.is_recording() {
            return;
        }
        let (cmd, op) = pipeline_summary(self.0);
        span.add_tag(TAG_CACHE_TYPE, CACHE_TYPE);
        span.add_tag(TAG_CACHE_CMD, cmd);
        if let Some(op) = op {
            span.add_tag(TAG_CACHE_OP, op.tag());
        }
    }
}

/// A pipeline's `cache.cmd` (`pipeline:SET/GET`, the first 10 commands, then `/...`) and
/// `cache.op` (`write` when any command writes, `read` when all read).
fn pipeline_summary(pipeline: &Pipeline) -> (String, Option<Op>) {
    let mut cmd = String::from("pipeline:");
    let mut reads = 0;
    let mut writes = 0;
    let mut total = 0;
    for (i, command) in pipeline.cmd_iter().map(Command::of).enumerate() {
        match command.op {
            Some(Op::Read) => reads += 1,
            Some(Op::Write) => writes += 1,
            None => {}
        }
        total += 1;
        if i < MAX_PIPELINE_COMMANDS {
            if i > 0 {
                cmd.push('/');
            }
            cmd.push_str(&command.cmd());
        } else if i == MAX_PIPELINE_COMMANDS {
            cmd.push_str("/...");
        }
    }
    let op = if writes > 0 {
        Some(Op::Write)
    } else if total > 0 && reads == total {
        Some(Op::Read)
    } else {
        None
    };
    (cmd, op)
}

/// `bytes` as text (invalid UTF-8 replaced), cut to at most `max` bytes at a character
/// boundary.
fn cut_lossy(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(max + 4)]);
    crate::record::cut_bytes(&text, max).to_owned()
}

/// What a reply tells the span: an error, or an error reply, marks it failed.
enum Replied {}

impl Outcome<RedisResult<Value>> for Replied {
    type Output = RedisResult<Value>;

    fn record(output: &RedisResult<Value>, span: SpanRef) -> bool {
        match output {
            Err(error) => span.record_error(error),
            Ok(Value::ServerError(error)) => span.record_error(error),
            Ok(_) => {}
        }
        true
    }

    fn finish(output: RedisResult<Value>, _: Option<CallSpan>) -> RedisResult<Value> {
        output
    }
}

impl Outcome<RedisResult<Vec<Value>>> for Replied {
    type Output = RedisResult<Vec<Value>>;

    fn record(output: &RedisResult<Vec<Value>>, span: SpanRef) -> bool {
        match output {
            Err(error) => span.record_error(error),
            Ok(replies) => {
                if let Some(error) = first_error(replies) {
                    span.record_error(error);
                }
            }
        }
        true
    }

    fn finish(output: RedisResult<Vec<Value>>, _: Option<CallSpan>) -> RedisResult<Vec<Value>> {
        output
    }
}

/// The first error reply of a pipeline: among its replies, or in the last reply's items
/// (an atomic pipeline's `EXEC` answers with an array holding each command's reply).
fn first_error(replies: &[Value]) -> Option<&::redis::ServerError> {
    let nested = match replies.last() {
        Some(Value::Array(items)) => items.as_slice(),
        _ => &[],
    };
    replies.iter().chain(nested).find_map(|reply| match reply {
        Value::ServerError(error) => Some(error),
        _ => None,
    })
}

/// Declares the commands whose span names are static, with their `cache.op`.
macro_rules! commands {
    ($($name:literal => $op:expr,)*) => {
        /// A known command (upper case): its span name (`Redis/GET`) and `cache.op`.
        fn known(upper: &str) -> Option<(&'static str, Option<Op>)> {
            Some(match upper {
                $($name => (concat!("Redis/", $name), $op),)*
                _ => return None,
            })
        }

        #[cfg(test)]
        const KNOWN: &[&str] = &[$($name),*];
    };
}

const R: Option<Op> = Some(Op::Read);
const W: Option<Op> = Some(Op::Write);
const N: Option<Op> = None;

commands! {
    // The Java agent's read list (Jedis `OPERATION_MAPPING_READ`), and the Go agent's
    // additions (KEYS, SCAN, HSCAN).
    "GET" => R, "GETRANGE" => R, "GETBIT" => R, "MGET" => R, "HVALS" => R, "HKEYS" => R,
    "HLEN" => R, "HEXISTS" => R, "HGET" => R, "HGETALL" => R, "HMGET" => R, "BLPOP" => R,
    "BRPOP" => R, "LINDEX" => R, "LLEN" => R, "LPOP" => R, "LRANGE" => R, "RPOP" => R,
    "SCARD" => R, "SRANDMEMBER" => R, "SPOP" => R, "SSCAN" => R, "SMOVE" => R,
    "ZLEXCOUNT" => R, "ZSCORE" => R, "ZSCAN" => R, "ZCARD" => R, "ZCOUNT" => R,
    "XGET" => R, "XREAD" => R, "XLEN" => R, "XRANGE" => R, "XREVRANGE" => R,
    "KEYS" => R, "SCAN" => R, "HSCAN" => R,
    // The Java agent's write list (Jedis `OPERATION_MAPPING_WRITE`).
    "GETSET" => W, "SET" => W, "SETBIT" => W, "SETEX" => W, "SETNX" => W, "SETRANGE" => W,
    "STRLEN" => W, "MSET" => W, "MSETNX" => W, "PSETEX" => W, "INCR" => W, "INCRBY" => W,
    "INCRBYFLOAT" => W, "DECR" => W, "DECRBY" => W, "APPEND" => W, "HMSET" => W,
    "HSET" => W, "HSETNX" => W, "HINCRBY" => W, "HINCRBYFLOAT" => W, "HDEL" => W,
    "RPOPLPUSH" => W, "RPUSH" => W, "RPUSHX" => W, "LPUSH" => W, "LPUSHX" => W,
    "LREM" => W, "LTRIM" => W, "LSET" => W, "BRPOPLPUSH" => W, "LINSERT" => W,
    "SADD" => W, "SDIFF" => W, "SDIFFSTORE" => W, "SINTERSTORE" => W, "SISMEMBER" => W,
    "SREM" => W, "SUNION" => W, "SUNIONSTORE" => W, "SINTER" => W, "ZADD" => W,
    "ZINCRBY" => W, "ZINTERSTORE" => W, "ZRANGE" => W, "ZRANGEBYLEX" => W,
    "ZRANGEBYSCORE" => W, "ZRANK" => W, "ZREM" => W, "ZREMRANGEBYLEX" => W,
    "ZREMRANGEBYRANK" => W, "ZREMRANGEBYSCORE" => W, "ZREVRANGE" => W,
    "ZREVRANGEBYSCORE" => W, "ZREVRANK" => W, "ZUNIONSTORE" => W, "XADD" => W,
    "XDEL" => W, "DEL" => W, "XTRIM" => W,
    // Common commands in neither list: a static name, no `cache.op`.
    "PING" => N, "ECHO" => N, "EXISTS" => N, "EXPIRE" => N, "PEXPIRE" => N,
    "EXPIREAT" => N, "PEXPIREAT" => N, "TTL" => N, "PTTL" => N, "PERSIST" => N,
    "TYPE" => N, "UNLINK" => N, "RENAME" => N, "GETDEL" => N, "GETEX" => N,
    "SMEMBERS" => N, "SMISMEMBER" => N, "HSTRLEN" => N, "HINCR" => N, "ZMSCORE" => N,
    "LPOS" => N, "LMOVE" => N, "BLMOVE" => N, "PUBLISH" => N, "SUBSCRIBE" => N,
    "EVAL" => N, "EVALSHA" => N, "SCRIPT" => N, "FCALL" => N, "MULTI" => N, "EXEC" => N,
    "DISCARD" => N, "WATCH" => N, "UNWATCH" => N, "SELECT" => N, "AUTH" => N,
    "HELLO" => N, "CLIENT" => N, "INFO" => N, "DBSIZE" => N, "FLUSHDB" => N,
    "FLUSHALL" => N, "CONFIG" => N, "TIME" => N, "XACK" => N, "XGROUP" => N,
    "XREADGROUP" => N, "XCLAIM" => N, "XAUTOCLAIM" => N, "XPENDING" => N, "XINFO" => N,
    "PFADD" => N, "PFCOUNT" => N, "GEOADD" => N, "GEOSEARCH" => N, "OBJECT" => N,
    "MEMORY" => N, "WAIT" => N,
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn commands_are_named_in_upper_case_and_known_ones_borrow() {
        let get = Command::of(::redis::cmd("get").arg("k"));
        assert_eq!(get.name, "Redis/GET");
        assert!(matches!(get.name, Cow::Borrowed(_)));
        assert_eq!(get.op, Some(Op::Read));
        assert_eq!(get.cmd(), "GET");

        let set = Command::of(::redis::cmd("SET").arg("k").arg("v"));
        assert_eq!((set.name.as_ref(), set.op), ("Redis/SET", Some(Op::Write)));

        let ping = Command::of(&::redis::cmd("Ping"));
        assert_eq!((ping.name.as_ref(), ping.op), ("Redis/PING", None));
    }

    #[test]
    fn unknown_commands_are_named_and_cut() {
        let custom = Command::of(&::redis::cmd("json.get"));
        assert_eq!((custom.name.as_ref(), custom.op), ("Redis/JSON.GET", None));
        assert_eq!(custom.cmd(), "JSON.GET");

        let long = "x".repeat(100);
        let cut = Command::of(&::redis::cmd(&long));
        assert_eq!(cut.name, format!("Redis/{}", "X".repeat(MAX_COMMAND_BYTES)));
        // A long name whose first bytes spell a known command is not that command.
        let padded = format!("GET{}", "T".repeat(40));
        assert!(!Command::of(&::redis::cmd(&padded)).name.ends_with("/GET"));

        let invalid = Command::named(&[0xff, b'a']);
        assert_eq!(invalid.name, "Redis/\u{fffd}A");
        assert_eq!(Command::of(&Cmd::new()).name, "Redis/unknown");
    }

    #[test]
    fn the_java_lists_are_kept_and_no_command_is_listed_twice() {
        let unique: HashSet<_> = KNOWN.iter().collect();
        assert_eq!(unique.len(), KNOWN.len());
        for (name, op) in [
            ("HGETALL", R),
            ("XREVRANGE", R),
            ("SCAN", R),
            ("HSET", W),
            ("ZRANGE", W),
            ("DEL", W),
            ("EXPIRE", N),
        ] {
            assert_eq!(known(name).map(|k| k.1), Some(op), "{name}");
        }
        for name in KNOWN {
            assert_eq!(
                known(name).map(|k| k.0),
                Some(format!("Redis/{name}").as_str())
            );
            assert_eq!(name.to_ascii_uppercase(), *name);
        }
    }

    #[test]
    fn a_pipeline_lists_its_first_ten_commands_and_its_op() {
        let mut pipe = ::redis::pipe();
        pipe.set("a", 1).get("a");
        assert_eq!(
            pipeline_summary(&pipe),
            ("pipeline:SET/GET".to_owned(), Some(Op::Write))
        );

        let mut reads = ::redis::pipe();
        reads.get("a").hgetall("h");
        assert_eq!(pipeline_summary(&reads).1, Some(Op::Read));

        let mut other = ::redis::pipe();
        other.get("a").cmd("PING");
        assert_eq!(pipeline_summary(&other).1, None);

        let mut long = ::redis::pipe();
        for i in 0..12 {
            long.get(i);
        }
        let (cmd, _) = pipeline_summary(&long);
        assert_eq!(cmd, format!("pipeline:{}/...", ["GET"; 10].join("/")));

        assert_eq!(
            pipeline_summary(&::redis::pipe()),
            ("pipeline:".to_owned(), None)
        );
    }

    #[test]
    fn peers_are_host_port_or_the_socket_path() {
        let peer = |url: &str| {
            let client = Client::open(url).unwrap();
            peer_of(client.get_connection_info().addr())
        };
        assert_eq!(peer("redis://cache:6380/"), "cache:6380");
        assert_eq!(peer("redis://cache/"), "cache:6379");
        assert_eq!(peer("redis://[::1]:7000/"), "[::1]:7000");
        assert_eq!(peer("redis+unix:///run/redis.sock"), "/run/redis.sock");
        assert_eq!(
            TracedConnection::with_peer((), "").peer(),
            UNKNOWN_PEER,
            "never empty"
        );
    }

    #[test]
    fn keys_are_cut_at_a_character_boundary() {
        assert_eq!(cut_lossy(b"user:7", 128), "user:7");
        let long = "é".repeat(100); // 200 bytes
        let cut = cut_lossy(long.as_bytes(), MAX_KEY_BYTES);
        assert_eq!(cut.len(), 128);
        assert!(long.starts_with(&cut));
        assert_eq!(cut_lossy(&[b'a', 0xff], 128), "a\u{fffd}");
    }

    #[test]
    fn error_replies_are_found_in_a_pipeline_and_an_exec_reply() {
        let reply = |wire: &[u8]| ::redis::parse_redis_value(wire).unwrap();
        let error = reply(b"-WRONGTYPE Operation against a key\r\n");
        assert!(matches!(error, Value::ServerError(_)));
        let ok = reply(b"+OK\r\n");

        assert!(first_error(&[ok.clone(), ok.clone()]).is_none());
        assert!(first_error(&[]).is_none());
        let found = first_error(&[ok.clone(), error.clone()]).map(|e| e.to_string());
        assert!(found.is_some_and(|e| e.contains("WRONGTYPE")));
        // MULTI/EXEC: one reply, an array of each command's reply.
        let exec = Value::Array(vec![ok.clone(), error]);
        assert!(first_error(&[exec]).is_some());
        assert!(first_error(&[Value::Array(vec![ok])]).is_none());
    }
}
