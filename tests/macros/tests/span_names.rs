//! Default span names, as a reporter receives them: `<module path>::f` for a free
//! function, `<module path>::Type::f` in an `impl` (inherent or of a trait, generic or
//! not, sync or async), `<module path>::Trait::f` for a default method body. One test:
//! it owns the process-wide agent.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use skywalking_proto::v3::SegmentObject;
use sw::{Agent, Reporter, Span};

#[derive(Clone, Default)]
struct Memory(Arc<Mutex<Vec<SegmentObject>>>);

impl Reporter for Memory {
    fn report(&mut self, segments: Vec<SegmentObject>) {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend(segments);
    }
}

#[sw::trace]
fn free() {}

#[sw::trace]
async fn free_async() {}

#[sw::trace(name = "given")]
fn given() {}

fn outer() {
    #[sw::trace]
    fn nested() {}
    nested();
}

mod billing {
    use super::{Future, Pin};

    pub(crate) struct Cart;

    impl Cart {
        #[sw::trace]
        pub(crate) fn total(&self) {}

        #[sw::trace]
        pub(crate) async fn total_async(&self) {}

        #[sw::trace(exit, peer = "db:5432", layer = "database")]
        pub(crate) fn save(&self) {}

        #[sw::trace(err)]
        pub(crate) fn check(&self) -> Result<(), String> {
            Ok(())
        }

        #[sw::trace(skip_if = skip)]
        pub(crate) async fn maybe(&self, skip: bool) {}

        #[sw::trace]
        pub(crate) fn r#type(&self) {}

        // The shape `#[async_trait]` writes: the span times the boxed future.
        #[sw::trace]
        pub(crate) fn boxed(&self) -> Pin<Box<dyn Future<Output = u32> + Send + '_>> {
            Box::pin(async move { 1 })
        }
    }

    pub(crate) struct Wrapper<T>(pub(crate) T);

    impl<T: Send + Sync> Wrapper<T> {
        #[sw::trace]
        pub(crate) fn get(&self) -> &T {
            &self.0
        }

        #[sw::trace]
        pub(crate) async fn get_async(&self) -> &T {
            &self.0
        }
    }

    pub(crate) trait Store {
        fn load(&self) -> u32;

        #[sw::trace]
        fn load_twice(&self) -> u32 {
            self.load() * 2
        }

        #[sw::trace]
        async fn load_async(&self) -> u32 {
            self.load()
        }
    }

    impl Store for Cart {
        #[sw::trace]
        fn load(&self) -> u32 {
            1
        }
    }

    impl<T: Send + Sync> Store for Wrapper<T> {
        #[sw::trace]
        fn load(&self) -> u32 {
            2
        }

        #[sw::trace]
        async fn load_async(&self) -> u32 {
            3
        }
    }
}

use billing::{Cart, Store, Wrapper};

#[test]
fn default_names_keep_the_impl_type() {
    let memory = Memory::default();
    let agent = Agent::builder()
        .service("macros-tests")
        .instance("span-names")
        .reporter(memory.clone())
        .start()
        .expect("the agent starts");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let root = Span::local("root");
    let wrapper = Wrapper(7_u8);
    // Twice: the first call makes the name, the second reuses it.
    for _ in 0..2 {
        free();
        runtime.block_on(free_async());
        given();
        outer();
        Cart.total();
        runtime.block_on(Cart.total_async());
        Cart.save();
        Cart.check().expect("ok");
        runtime.block_on(Cart.maybe(false));
        runtime.block_on(Cart.maybe(true));
        Cart.r#type();
        assert_eq!(runtime.block_on(Cart.boxed()), 1);
        assert_eq!(*wrapper.get(), 7);
        assert_eq!(*runtime.block_on(wrapper.get_async()), 7);
        assert_eq!(Cart.load_twice(), 2);
        assert_eq!(runtime.block_on(Cart.load_async()), 1);
        assert_eq!(wrapper.load(), 2);
        assert_eq!(runtime.block_on(wrapper.load_async()), 3);
    }
    drop(root);
    drop(agent);

    let segments = memory
        .0
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert_eq!(segments.len(), 1, "one trace, under `root`");
    let mut spans = segments[0].spans.clone();
    spans.sort_by_key(|span| span.span_id);
    let names: Vec<&str> = spans
        .iter()
        .map(|span| span.operation_name.as_str())
        .collect();
    let once = [
        "span_names::free",
        "span_names::free_async",
        "given",
        "span_names::outer::nested",
        "span_names::billing::Cart::total",
        "span_names::billing::Cart::total_async",
        "span_names::billing::Cart::save",
        "span_names::billing::Cart::check",
        "span_names::billing::Cart::maybe",
        "span_names::billing::Cart::type",
        "span_names::billing::Cart::boxed",
        "span_names::billing::Wrapper::get",
        "span_names::billing::Wrapper::get_async",
        "span_names::billing::Store::load_twice",
        // Called by `load_twice`.
        "span_names::billing::Cart::load",
        "span_names::billing::Store::load_async",
        "span_names::billing::Cart::load",
        "span_names::billing::Wrapper::load",
        "span_names::billing::Wrapper::load_async",
    ];
    let expected: Vec<&str> = std::iter::once("root").chain(once).chain(once).collect();
    assert_eq!(names, expected);
}
