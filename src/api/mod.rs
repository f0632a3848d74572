//! The HTTP API: server functions under `/api/...` (JSON in, JSON out). The functions compile into
//! both the server and the WASM bundle; their bodies run on the server only, where each one reads
//! input, authenticates, calls into `domain`, and returns. The types they carry are in `proto`.

pub mod account;
pub mod apps;
pub mod client;
pub mod device;
pub mod passkeys;
pub mod qr;
pub mod security;
pub mod sessions;

#[cfg(feature = "ssr")]
mod request;
#[cfg(feature = "ssr")]
pub use request::{bearer, device};
