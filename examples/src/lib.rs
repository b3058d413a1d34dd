//! Runnable examples of skywalking-rust-auto, and the distributed-trace demo
//! (`cargo run -p skywalking-examples --bin demo`).

/// The demo's gRPC protocol (`proto/payments.proto`).
pub mod payments {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    #![allow(missing_debug_implementations)]
    tonic::include_proto!("demo.payments");
}
