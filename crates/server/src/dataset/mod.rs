//! Business data in bulk, outside the API: the row format ([`rows`]) that `symbiont import` reads
//! ([`import`]), `symbiont export` writes ([`export`]) and `symbiont generate` writes for a
//! generated region ([`generate`]), and the demo region itself ([`demo`]: its generator, from the
//! tables in `configs/demo.json`, and its loading by `serve --demo`), and the matcher benchmark on
//! real exchanges ([`exchange_benchmark`], `symbiont eval`), which loads parks with the demo region. Nothing here holds domain
//! rules: every business, site and flow is checked by the core validators.

pub mod demo;
pub mod exchange_benchmark;
pub mod export;
pub mod generate;
pub mod import;
pub mod rows;
