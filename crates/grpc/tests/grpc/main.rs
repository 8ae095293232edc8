//! `symbiont.v1.Matching` over a real gRPC server on a loopback port, tested with the generated
//! tonic client: a started app (SQLite in a throw-away directory, the in-process bus, the event
//! pipeline running) behind `symbiont_grpc::serve`, as the binary runs it.
//!
//! - [`harness`]: the test server, callers and fixtures;
//! - [`calls`]: the unary calls, authorization, bad input and the status mapping;
//! - [`watch`]: `WatchMatches` (redaction, resume, slow readers);
//! - [`services`]: health, reflection and TLS;
//! - [`proto_staleness`]: the committed generated code is what the proto compiles to.

#[path = "harness.rs"]
mod harness;

#[path = "calls.rs"]
mod calls;
#[path = "proto_staleness.rs"]
mod proto_staleness;
#[path = "services.rs"]
mod services;
#[path = "watch.rs"]
mod watch;
