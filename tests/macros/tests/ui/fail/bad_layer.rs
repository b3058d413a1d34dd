#[sw::trace(layer = "grpc")]
fn grpc() {}

#[sw::trace(layer = "htp")]
fn typo() {}

#[sw::trace(layer = http)]
fn not_a_string() {}

fn main() {
    grpc();
    typo();
    not_a_string();
}
