#[sw::trace(entry, exit, peer = "x:1")]
fn both() {}

fn main() {
    both();
}
