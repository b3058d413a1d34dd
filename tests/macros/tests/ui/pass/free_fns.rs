//! Every kind of free function.
#![allow(dead_code)]
#![allow(unsafe_code)] // the case covers `unsafe fn`

use std::fmt::Display;

#[sw::trace]
fn unit() {}

#[sw::trace]
fn returns(x: u8) -> u8 {
    x + 1
}

#[sw::trace]
fn early_return(x: u8) -> u8 {
    if x > 3 {
        return 3;
    }
    x
}

#[sw::trace]
fn lifetimes<'a, 'b: 'a>(a: &'a str, _b: &'b str) -> &'a str {
    a
}

#[sw::trace]
fn generic<T: Clone + Default, const N: usize>(values: [T; N]) -> T {
    values.first().cloned().unwrap_or_default()
}

#[sw::trace]
fn impl_arg(value: impl Display, items: impl IntoIterator<Item = u8>) -> String {
    format!("{value}{}", items.into_iter().count())
}

#[sw::trace]
fn impl_return(x: u8) -> impl Display + Clone {
    x
}

#[sw::trace]
fn mut_ref_out(values: &mut Vec<u8>) -> &mut u8 {
    values.push(0);
    values.last_mut().unwrap()
}

#[sw::trace]
fn r#type() -> &'static str {
    "raw"
}

#[sw::trace]
fn inner_attributes() -> u8 {
    #![allow(unused_variables)]
    let unused = 1;
    2
}

#[sw::trace]
unsafe fn unsafe_fn(p: *const u8) -> u8 {
    unsafe { *p }
}

#[sw::trace]
extern "C" fn extern_c(x: u32) -> u32 {
    x
}

#[sw::trace]
pub(crate) fn never() -> ! {
    panic!("never returns")
}

#[sw::trace]
async fn async_unit() {}

#[sw::trace]
async fn async_generic<T: Display + Send>(value: T, prefix: &str) -> String {
    format!("{prefix}{value}")
}

#[sw::trace]
async fn async_impl_return(x: u8) -> impl Display {
    x
}

#[sw::trace]
async fn async_early_return(x: u8) -> Option<u8> {
    if x == 0 {
        return None;
    }
    let y = x.checked_sub(1)?;
    Some(y)
}

fn nested() -> u8 {
    #[sw::trace]
    fn inner() -> u8 {
        1
    }
    inner()
}

// Items named as the expansion's own: the body sees these.
fn __sw_here() -> u8 {
    4
}

static __SW_META: u8 = 5;

#[sw::trace]
fn same_names() -> u8 {
    __sw_here() + __SW_META
}

#[sw::trace]
async fn same_names_async() -> u8 {
    __sw_here() + __SW_META
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(same_names(), 9);
    assert_eq!(same_names_async().await, 9);
    unit();
    assert_eq!(returns(1), 2);
    assert_eq!(early_return(9), 3);
    assert_eq!(lifetimes("a", "b"), "a");
    assert_eq!(generic([4, 5]), 4);
    assert_eq!(impl_arg(1, [1, 2]), "12");
    assert_eq!(impl_return(3).to_string(), "3");
    *mut_ref_out(&mut Vec::new()) += 1;
    assert_eq!(r#type(), "raw");
    assert_eq!(inner_attributes(), 2);
    assert_eq!(unsafe { unsafe_fn(&7) }, 7);
    assert_eq!(extern_c(5), 5);
    async_unit().await;
    assert_eq!(async_generic(1, "n").await, "n1");
    assert_eq!(async_impl_return(2).await.to_string(), "2");
    assert_eq!(async_early_return(0).await, None);
    assert_eq!(nested(), 1);
}
