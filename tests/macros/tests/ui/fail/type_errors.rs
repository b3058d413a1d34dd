// Options whose values have the wrong type: rustc's errors, at the user's tokens.
use std::collections::HashMap;

struct NotDisplay;

#[sw::trace(err)]
fn error_without_display() -> Result<(), NotDisplay> {
    Err(NotDisplay)
}

#[sw::trace(err)]
async fn async_error_without_display() -> Result<(), NotDisplay> {
    Err(NotDisplay)
}

#[sw::trace(tags(value = NotDisplay))]
fn tag_without_display() {}

#[sw::trace(exit, peer = 5432)]
fn peer_not_a_string() {}

#[sw::trace(exit, peer = "x:1", headers = headers)]
fn headers_not_mut(headers: &HashMap<String, String>) {}

#[sw::trace(entry, headers = 5)]
fn headers_not_a_carrier() {}

#[sw::trace(skip_if = 1)]
fn skip_if_not_bool() {}

fn main() {
    let _ = error_without_display();
    drop(async_error_without_display());
    tag_without_display();
    peer_not_a_string();
    headers_not_mut(&HashMap::new());
    headers_not_a_carrier();
    skip_if_not_bool();
}
