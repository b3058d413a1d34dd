//! `fixtures/no_new_warnings.rs` (under `deny(warnings)`) in edition 2024; the
//! fixture crates of `fixtures/checks` compile it in editions 2018 and 2021.

#[path = "../../../fixtures/no_new_warnings.rs"]
pub mod cases;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(cases::async_loop(0).await, 11);
    assert_eq!(
        cases::async_loop_err(vec!["1".into(), "7".into()])
            .await
            .unwrap(),
        7
    );
    cases::async_loop_unit(3).await;
    assert_eq!(cases::sync_loop(0), 11);
    assert_eq!(cases::sync_loop_err(1).unwrap(), 16);
    assert_eq!(cases::select_return(2).await, 2);
    assert_eq!(cases::select_tail("5".into()).await.unwrap(), 5);
    assert_eq!(cases::closures(&["1", "2"]).unwrap(), 3);
    assert_eq!(cases::closures_async(vec!["1".into()]).await.unwrap(), 1);
    assert_eq!(cases::closures_option(&["1", "2"]), Some(5));
    assert_eq!(cases::impl_sync(1).to_string(), "1");
    assert_eq!(cases::impl_async(2).await.to_string(), "2");
    assert_eq!(cases::impl_in_result("3").await.unwrap().to_string(), "3");
    assert_eq!(cases::impl_future(0).await, 11);
    assert_eq!(cases::coerced(4).await.to_string(), "4");
    assert_eq!(cases::Worker { n: 0 }.run().await, 4);
    // Never return: made, not run.
    let _ = (
        cases::never as fn() -> !,
        cases::exit as fn(i32) -> !,
        cases::spins as fn() -> u32,
        cases::panics as fn() -> u32,
        cases::Worker::spin as fn(&cases::Worker) -> !,
    );
    drop((
        cases::never_async(),
        cases::spins_async(),
        cases::panics_async(),
    ));
}
