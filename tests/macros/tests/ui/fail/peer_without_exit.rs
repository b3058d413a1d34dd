#[sw::trace(peer = "pg:5432")]
fn local_with_peer() {}

#[sw::trace(headers = &_headers)]
fn local_with_headers(_headers: std::collections::HashMap<String, String>) {}

fn main() {
    local_with_peer();
    local_with_headers(Default::default());
}
