//! The router's answers to bad requests, route by route, tested in-process: the real router over a
//! started app (SQLite in a throw-away directory, the in-process bus and cache, the event pipeline
//! running), called with `oneshot`, no server and no network. Every 4xx a route can give is a
//! problem document (`application/problem+json`) with its status and `/problems/<slug>` type, and
//! names the field at fault where the input was.
//!
//! - [`harness`]: the test app, callers, fixtures and problem assertions;
//! - [`gateway`]: what every route shares (credentials, content type, body size, unknown routes,
//!   wrong methods, rate limits);
//! - [`ids`], [`queries`]: unknown ids and bad query parameters on every route that takes them;
//! - one module per resource for the answers only it gives.

#[path = "router/harness.rs"]
mod harness;

#[path = "router/accounts.rs"]
mod accounts;
#[path = "router/admin.rs"]
mod admin;
#[path = "router/auth.rs"]
mod auth;
#[path = "router/businesses.rs"]
mod businesses;
#[path = "router/dashboard.rs"]
mod dashboard;
#[path = "router/feed.rs"]
mod feed;
#[path = "router/flows.rs"]
mod flows;
#[path = "router/gateway.rs"]
mod gateway;
#[path = "router/graphql.rs"]
mod graphql;
#[path = "router/ids.rs"]
mod ids;
#[path = "router/industry_templates.rs"]
mod industry_templates;
#[path = "router/invitations.rs"]
mod invitations;
#[path = "router/map.rs"]
mod map;
#[path = "router/matches.rs"]
mod matches;
#[path = "router/members.rs"]
mod members;
#[path = "router/network.rs"]
mod network;
#[path = "router/queries.rs"]
mod queries;
#[path = "router/redaction.rs"]
mod redaction;
#[path = "router/sites.rs"]
mod sites;
#[path = "router/waste_codes.rs"]
mod waste_codes;
