//! The `symbiont` binary's library: configuration, start-up wiring, and business data in bulk
//! (`dataset`: import, export, generate and the demo region). `main.rs` only parses the command
//! line and calls into here.

pub mod config;
pub mod dataset;
pub mod doctor;
pub mod memory_release;
pub mod parking;
pub mod security_config;
pub mod serve;
pub mod telemetry;
pub mod user_admin;
pub mod workers;
