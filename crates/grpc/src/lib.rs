//! Symbiont's gRPC transport: the `symbiont.v1.Matching` service (`api/proto/symbiont/v1/matching.proto`)
//! over the same use cases as REST, with the standard health and reflection services, on its own
//! listener, TLS by configuration (ADR 0025).
//!
//! - [`server`]: the listener, TLS, health and reflection; [`matching_service`]: the unary calls;
//!   [`watch`]: `WatchMatches`, a server stream fed by the app's live feed;
//! - [`authentication`]: the caller from the call's metadata, as the REST gateway resolves it;
//!   [`error`]: the one mapping from `AppError` to `tonic::Status`; [`convert`]: wire messages to
//!   and from the app's values;
//! - [`proto`]: the code generated from the proto, committed (`src/generated/`), checked for
//!   staleness by `tests/grpc/proto_staleness.rs` (`UPDATE_PROTO=1` rewrites it).
//!
//! It must not hold a use case or a rule of visibility (those are `symbiont-app`'s), know HTTP
//! status codes, or name a store or bus adapter.

pub mod authentication;
pub mod convert;
pub mod error;
pub mod matching_service;
pub mod server;
pub mod watch;

/// Messages, the `Matching` server trait and a transport-neutral client, generated from
/// `api/proto/symbiont/v1/matching.proto`.
#[allow(clippy::all, clippy::unwrap_used, missing_docs)]
pub mod proto {
    include!("generated/symbiont.v1.rs");
}

/// The proto's encoded `FileDescriptorSet` (with its imports), served by the reflection service.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!("generated/symbiont.v1.descriptor.bin");

pub use server::{GrpcError, GrpcSettings, TlsIdentity, serve};
pub use watch::WatchSettings;
