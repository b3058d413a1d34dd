#[sw::trace]
struct Order {
    id: u64,
}

#[sw::trace]
const fn constant() -> u8 {
    1
}

trait Store {
    #[sw::trace]
    fn load(&self) -> u8;
}

fn main() {
    let order = Order { id: 1 };
    let _ = order.id;
    let _ = constant();
}
