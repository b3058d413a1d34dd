#[sw::trace(nmae = "price")]
fn price() {}

fn main() {
    price();
}
