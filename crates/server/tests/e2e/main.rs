//! End-to-end tests of the real `symbiont` binary: each test starts it on a free loopback port with
//! a throw-away data directory (or database) and talks to it over HTTP, for what only a process
//! shows — kill -9 and restarts, SIGTERM draining, two instances over one bus, outages of Redis and
//! the bus, exported traces — the API walked end to end, and the data commands (import, export,
//! generate). One test binary, so it links once;
//! router behaviour without a process is tested in `crates/http/tests/router.rs`.

mod common;

mod api;
mod faults;
mod generate;
mod import_export;
mod lifecycle;
mod matches;
mod network;
mod redis_outage;
mod scale_out;
mod security;
mod telemetry;
