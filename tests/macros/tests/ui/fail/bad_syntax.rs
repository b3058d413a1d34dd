#[sw::trace(name)]
fn no_value() {}

#[sw::trace(name = 5)]
fn not_a_string() {}

#[sw::trace(tags(a))]
fn tag_without_value() {}

#[sw::trace(component = )]
fn empty_component() {}

#[sw::trace(err name = "x")]
fn missing_comma() -> Result<(), String> {
    Ok(())
}

fn main() {
    no_value();
    not_a_string();
    tag_without_value();
    empty_component();
    let _ = missing_comma();
}
