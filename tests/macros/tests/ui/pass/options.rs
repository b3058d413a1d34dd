//! Every option, in every kind of function.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fmt;

#[derive(Debug)]
struct MyError;

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my error")
    }
}

type DbResult<T> = Result<T, MyError>;

struct Item {
    sku: String,
    qty: u32,
}

#[sw::trace(name = "price", tags(sku = item.sku, qty = item.qty, db.type = "sql", "x.y" = 1, r#type = 2))]
fn price(item: &Item) -> u32 {
    item.qty * 2
}

#[sw::trace(local)]
fn local_kind() {}

#[sw::trace(exit, peer = "pg:5432", layer = "database", component = 22)]
fn exit_literal() {}

#[sw::trace(exit, peer = host.to_owned(), layer = "rpc", component = sw::component::GRPC)]
fn exit_owned(host: &str) {}

#[sw::trace(exit, peer = "cache:6379", layer = "cache")]
async fn cache() {}

#[sw::trace(exit, peer = "kafka:9092", layer = "mq", headers = headers)]
fn produce(headers: &mut BTreeMap<String, String>) {}

#[sw::trace(exit, peer = "fn:443", layer = "faas", headers = &mut req.headers_mut())]
async fn invoke(mut req: http::Request<()>) -> http::Request<()> {
    req
}

#[sw::trace(entry, headers = &headers)]
fn consume(headers: HashMap<String, String>) {}

#[sw::trace(entry)]
fn entry_without_headers() {}

#[sw::trace(entry, layer = "http", headers = req.headers())]
async fn serve(req: http::Request<String>) -> String {
    req.into_body()
}

#[sw::trace(err)]
fn io(path: &str) -> std::io::Result<u8> {
    Err(std::io::Error::other(path.to_owned()))
}

#[sw::trace(err)]
fn alias() -> DbResult<()> {
    Err(MyError)
}

#[sw::trace(err)]
fn fmt_result(f: &mut String) -> fmt::Result {
    use std::fmt::Write;
    write!(f, "x")
}

#[sw::trace(err)]
async fn boxed_error(text: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    let n: u32 = text.parse()?;
    Ok(n)
}

#[sw::trace(err)]
async fn into_error(text: &str) -> Result<u32, String> {
    text.parse::<u32>().map_err(|e| e.to_string())
}

#[sw::trace(skip_if = n == 0)]
fn skip(n: u32) -> u32 {
    n
}

#[sw::trace(skip_if = FLAG, err, tags(n = n))]
async fn skip_async(n: u32) -> Result<u32, MyError> {
    Ok(n)
}

const FLAG: bool = true;

#[sw::trace(crate = sw)]
fn crate_path() {}

mod renamed {
    pub use sw as agent;
}

#[sw::trace(crate = crate::renamed::agent, name = "via re-export")]
async fn crate_path_async() {}

#[sw::trace(crate = ::sw,)]
fn trailing_comma() {}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let item = Item { sku: "a".into(), qty: 2 };
    assert_eq!(price(&item), 4);
    assert_eq!(item.sku, "a");
    local_kind();
    exit_literal();
    exit_owned("h");
    cache().await;
    produce(&mut BTreeMap::new());
    let _ = invoke(http::Request::new(())).await;
    consume(HashMap::new());
    entry_without_headers();
    assert_eq!(serve(http::Request::new("ok".to_owned())).await, "ok");
    assert!(io("p").is_err());
    assert!(alias().is_err());
    assert!(fmt_result(&mut String::new()).is_ok());
    assert!(boxed_error("x").await.is_err());
    assert!(into_error("x").await.is_err());
    assert_eq!(skip(0), 0);
    assert_eq!(skip_async(1).await.unwrap(), 1);
    crate_path();
    crate_path_async().await;
    trailing_comma();
}
