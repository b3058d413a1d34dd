//! Functions returning futures: the async-trait shape, `impl Future` with an `async`
//! tail (instrumented in place) and without (a span around building it).

use std::future::{Future, Ready, ready};
use std::pin::Pin;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

trait Service {
    fn call<'a>(&'a self, n: u32) -> BoxFuture<'a, Result<u32, String>>;
}

struct Doubler;

impl Service for Doubler {
    // What `#[async_trait]` generates for `async fn call(&self, n: u32) -> Result<u32, String>`.
    #[sw::trace(err, tags(n = n))]
    fn call<'a>(&'a self, n: u32) -> BoxFuture<'a, Result<u32, String>> {
        Box::pin(async move {
            if let Some(__ret) = None::<Result<u32, String>> {
                return __ret;
            }
            let __self = self;
            let __ret: Result<u32, String> = { n.checked_mul(2).ok_or_else(|| "overflow".to_owned()) };
            #[allow(unreachable_code)]
            __ret
        })
    }
}

#[sw::trace(name = "std path")]
fn std_boxed() -> Pin<Box<dyn Future<Output = ()>>> {
    ::std::boxed::Box::pin(async {})
}

#[sw::trace(err)]
fn impl_future(n: u32) -> impl Future<Output = Result<u32, String>> + Send {
    let m = n + 1;
    async move { Ok(m) }
}

// Not an `async` tail: a span around building the future.
#[sw::trace]
fn ready_future(n: u32) -> Ready<u32> {
    ready(n)
}

#[sw::trace]
fn ready_impl_future(n: u32) -> impl Future<Output = u32> {
    ready(n)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(Doubler.call(2).await, Ok(4));
    std_boxed().await;
    assert_eq!(impl_future(1).await, Ok(2));
    assert_eq!(ready_future(3).await, 3);
    assert_eq!(ready_impl_future(3).await, 3);
}
