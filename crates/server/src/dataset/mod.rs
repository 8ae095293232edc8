//! Business data in bulk, outside the API: the demo region (generated from `configs/demo.json`).
//! Nothing here holds domain rules; every row is checked by the core validators.

pub mod demo;
