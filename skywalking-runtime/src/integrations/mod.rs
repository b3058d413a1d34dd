//! Framework integrations, one module per cargo feature.

#[cfg(feature = "tonic")]
pub mod tonic;
