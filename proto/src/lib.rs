//! The Apache SkyWalking v3 data-collect protocol for Rust.
//!
//! The `.proto` files under `protocol/` were written for this project from the field
//! tables of the protocol at tag `v10.2.0` (the revision OAP 10.2 pins). They are compiled
//! at build time by [`protox`](https://docs.rs/protox), a pure-Rust protobuf compiler, and
//! `tonic-prost-build`, so no system `protoc` is needed.
//!
//! Every message and service lives in one module, [`v3`], as in the protocol's single
//! `skywalking.v3` package. The legacy package-less "Compat" services are left out on
//! purpose: their names would clash with the real ones.
//!
//! # Features
//!
//! | feature  | default | what it adds |
//! |----------|---------|--------------|
//! | `client` | yes     | `*_client` modules: tonic clients, as an agent uses them |
//! | `server` | no      | `*_server` modules: tonic service traits, as a collector implements them |
//!
//! # Example
//!
//! ```
//! use prost::Message;
//! use skywalking_proto::v3::{SegmentObject, SpanObject, SpanType};
//!
//! let segment = SegmentObject {
//!     trace_id: "t".into(),
//!     trace_segment_id: "s".into(),
//!     spans: vec![SpanObject {
//!         span_id: 0,
//!         parent_span_id: -1,
//!         operation_name: "GET /users".into(),
//!         span_type: SpanType::Entry as i32,
//!         ..Default::default()
//!     }],
//!     service: "users".into(),
//!     service_instance: "users-1".into(),
//!     is_size_limited: false,
//! };
//! let bytes = segment.encode_to_vec();
//! assert_eq!(SegmentObject::decode(bytes.as_slice()).unwrap(), segment);
//! ```

/// Messages and services of the `skywalking.v3` protobuf package.
pub mod v3 {
    #![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]
    #![allow(missing_debug_implementations)]
    tonic::include_proto!("skywalking.v3");
}
