#[sw::trace(name = "a", err, name = "b")]
fn twice() -> Result<(), String> {
    Ok(())
}

#[sw::trace(tags(a = 1), tags(b = 2))]
fn tags_twice() {}

fn main() {
    let _ = twice();
    tags_twice();
}
