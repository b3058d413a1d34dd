use std::future::Future;

#[sw::trace(err)]
fn option() -> Option<u8> {
    None
}

#[sw::trace(name = "unit", err)]
fn unit() {}

#[sw::trace(err)]
async fn async_u8() -> u8 {
    1
}

#[sw::trace(err)]
fn future_u8() -> impl Future<Output = u8> {
    async { 1 }
}

fn main() {
    let _ = option();
    unit();
    drop(async_u8());
    drop(future_u8());
}
