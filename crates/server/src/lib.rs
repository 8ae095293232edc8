//! The `symbiont` binary's library: configuration, start-up wiring, demo data loading, import and
//! export. `main.rs` only parses the command line and calls into here.

pub mod accounts;
pub mod config;
pub mod dataset;
pub mod export;
pub mod generate;
pub mod import;
pub mod memory;
pub mod rows;
pub mod security_config;
pub mod serve;
pub mod telemetry;
pub mod workers;
