//! Methods, trait implementations, `async fn` in traits.
#![allow(dead_code)]

use std::future::Future;

#[derive(Clone, Default)]
struct Counter {
    n: u32,
}

impl Counter {
    #[sw::trace]
    fn new() -> Self {
        Self::default()
    }

    #[sw::trace]
    fn get(&self) -> u32 {
        self.n
    }

    #[sw::trace]
    fn bump(&mut self) -> &mut Self {
        self.n += 1;
        self
    }

    #[sw::trace]
    fn into_inner(self) -> u32 {
        self.n
    }

    #[sw::trace]
    async fn get_async(&self) -> u32 {
        self.n
    }

    #[sw::trace]
    async fn bump_async(&mut self) -> u32 {
        self.n += 1;
        self.n
    }

    #[sw::trace]
    async fn consume(self: Box<Self>) -> u32 {
        self.n
    }
}

trait Repo {
    fn find(&self, id: u32) -> Option<u32>;

    #[sw::trace]
    async fn find_async(&self, id: u32) -> Option<u32> {
        self.find(id)
    }

    #[sw::trace]
    fn find_later(&self, id: u32) -> impl Future<Output = Option<u32>> {
        let found = self.find(id);
        async move { found }
    }
}

impl Repo for Counter {
    #[sw::trace]
    fn find(&self, id: u32) -> Option<u32> {
        (id == self.n).then_some(id)
    }

    #[sw::trace(name = "Counter::find_async")]
    async fn find_async(&self, id: u32) -> Option<u32> {
        self.find(id)
    }
}

struct Wrapper<T>(T);

impl<T: Clone + Send + Sync> Wrapper<T> {
    #[sw::trace]
    fn inner(&self) -> T {
        self.0.clone()
    }

    #[sw::trace]
    async fn inner_async(&self) -> T {
        self.0.clone()
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut c = Counter::new();
    c.bump().bump();
    assert_eq!(c.get(), 2);
    assert_eq!(c.get_async().await, 2);
    assert_eq!(c.bump_async().await, 3);
    assert_eq!(c.find_async(3).await, Some(3));
    assert_eq!(c.find_later(3).await, Some(3));
    assert_eq!(Box::new(c.clone()).consume().await, 3);
    assert_eq!(c.into_inner(), 3);
    let w = Wrapper(5);
    assert_eq!(w.inner(), 5);
    assert_eq!(w.inner_async().await, 5);
}
