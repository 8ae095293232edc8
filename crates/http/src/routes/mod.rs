//! HTTP routes of `/api/v1` and the probes, and small response helpers shared by the handlers.

mod admin;
mod auth;
mod businesses;
mod categories;
mod dashboard;
mod doc;
mod feed;
mod flight_recorder;
mod flows;
mod graphql;
mod health;
mod industry_templates;
mod invitations;
mod map;
mod match_views;
mod matches;
mod members;
mod network;
mod pages;
mod sites;
mod stats;
mod waste_codes;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;

use crate::extract::etag;
use crate::state::SharedState;

pub(crate) use doc::ApiDoc;

pub fn router() -> Router<SharedState> {
    let v1 = Router::new()
        .route(
            "/businesses",
            get(businesses::list).post(businesses::create),
        )
        .route(
            "/businesses/{id}",
            get(businesses::get)
                .patch(businesses::update)
                .delete(businesses::delete),
        )
        .route(
            "/businesses/{id}/sites",
            get(sites::list_of_business).post(sites::create),
        )
        .route("/businesses/{id}/flows", get(flows::list_of_business))
        .route("/businesses/{id}/matches", get(matches::of_business))
        .route("/flows/{id}/matches", get(matches::of_flow))
        .route("/matches", get(matches::list))
        .route("/matches/{id}", get(matches::get).patch(matches::update))
        .route("/map/sites", get(map::sites))
        .route("/map/matches", get(map::matches))
        .route("/stats", get(stats::stats))
        .route("/network/chains", get(network::chains))
        .route("/network/clusters", get(network::clusters))
        .route("/network/anchors", get(network::anchors))
        .route("/ws", get(feed::websocket))
        .route("/events", get(feed::events))
        .route("/sites", get(sites::list))
        .route(
            "/sites/{id}",
            get(sites::get).patch(sites::update).delete(sites::delete),
        )
        .route("/flows", get(flows::list).post(flows::create))
        .route(
            "/flows/{id}",
            get(flows::get).patch(flows::update).delete(flows::delete),
        )
        .route("/categories", get(categories::list))
        .route("/categories/{code}", get(categories::get))
        .route("/ewc", get(waste_codes::list))
        .route("/ewc/{code}", get(waste_codes::get))
        .route("/templates", get(industry_templates::list))
        .route("/templates/{nace}", get(industry_templates::get))
        .route(
            "/businesses/{id}/members",
            get(members::list).post(members::add),
        )
        .route(
            "/businesses/{id}/members/{user_id}",
            axum::routing::patch(members::change_role).delete(members::remove),
        )
        .route(
            "/businesses/{id}/invitations",
            get(invitations::of_business),
        )
        .route(
            "/businesses/{id}/invitations/{invitation_id}",
            axum::routing::delete(invitations::revoke),
        )
        .route("/invitations", get(invitations::mine))
        .route("/invitations/{id}/accept", post(invitations::accept))
        .route("/invitations/{id}/decline", post(invitations::decline))
        .route("/auth/login", post(auth::login))
        .route("/auth/refresh", post(auth::refresh))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/register", post(auth::register))
        .route("/auth/password", post(auth::change_password))
        .route("/auth/logout-everywhere", post(auth::logout_everywhere))
        .route("/auth/me", get(auth::me))
        .route(
            "/auth/api-keys",
            get(auth::list_api_keys).post(auth::create_api_key),
        )
        .route(
            "/auth/api-keys/{id}",
            axum::routing::delete(auth::revoke_api_key),
        );
    let admin = Router::new()
        .route(
            "/admin/flight-recorder",
            get(flight_recorder::flight_recorder),
        )
        .route("/admin/audit", get(admin::audit))
        .route("/admin/network/rebuild", post(network::rebuild))
        .route("/admin/users", get(admin::users).post(admin::create))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/users/{id}/enable", post(admin::enable_user))
        .route(
            "/admin/users/{id}/logout-everywhere",
            post(admin::end_sessions_of_user),
        )
        .route_layer(axum::middleware::from_fn(crate::authentication::admin_only));
    let v1 = v1.merge(admin);
    Router::new()
        .nest("/api/v1", v1)
        .route("/healthz", get(health::live))
        .route("/readyz", get(health::ready))
        .route("/openapi.json", get(health::openapi))
        .route("/graphql", get(graphql::websocket).post(graphql::execute))
        .route("/metrics", get(crate::metrics::render))
        // The web dashboard's files (`/`, `/assets/…`): not API, so not in the OpenAPI document.
        .merge(dashboard::router())
}

/// A JSON body with an `ETag` of the entity's version, and a `Location` when it was just created.
fn entity<T: Serialize>(
    status: StatusCode,
    value: &T,
    version: i64,
    location: Option<String>,
) -> Response {
    let mut response = crate::json::response(status, value);
    let headers = response.headers_mut();
    if let Ok(tag) = HeaderValue::from_str(&etag(version)) {
        headers.insert(header::ETAG, tag);
    }
    if let Some(location) = location.and_then(|l| HeaderValue::from_str(&l).ok()) {
        headers.insert(header::LOCATION, location);
    }
    response
}

/// Whether the client asked for GeoJSON.
fn wants_geojson(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("application/geo+json"))
}

/// An `application/geo+json` answer.
fn geojson<T: Serialize>(value: T) -> Response {
    let mut response = axum::Json(value).into_response();
    if response.status().is_success() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/geo+json"),
        );
    }
    response
}
