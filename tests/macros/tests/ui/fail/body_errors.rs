// Errors in the body are the user's, reported at the user's tokens.

#[sw::trace]
async fn wrong_type() -> u8 {
    "not a number"
}

#[sw::trace(err)]
fn wrong_error() -> Result<u8, String> {
    let n: u8 = "1".parse()?;
    Ok(n)
}

#[sw::trace(tags(missing = not_in_scope))]
fn bad_tag() {}

fn main() {
    drop(wrong_type());
    let _ = wrong_error();
    bad_tag();
}
