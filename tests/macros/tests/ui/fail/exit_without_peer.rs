#[sw::trace(exit, layer = "database")]
async fn query() {}

fn main() {
    drop(query());
}
