//! The `symbiont` binary's library: configuration, start-up wiring, demo data loading, import and
//! export. `main.rs` only parses the command line and calls into here.

pub mod config;
pub mod demo;
pub mod export;
pub mod import;
pub mod rows;
pub mod serve;
