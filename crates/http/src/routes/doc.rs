//! The list of documented operations: every handler the router serves, with the schemas and
//! responses they refer to (see [`crate::openapi`]). A route added to [`super::router`] needs its
//! handler annotated with `#[utoipa::path]` and listed here; `tests/openapi.rs` checks both.

use utoipa::OpenApi;

use super::{
    admin, auth, businesses, categories, flight_recorder, flows, health, matches, members, sites,
    stats,
};
use crate::openapi::{self as doc, Gateway};

#[derive(OpenApi)]
#[openapi(
    info(title = "Symbiont API", description = doc::INFO_DESCRIPTION),
    servers((url = "http://127.0.0.1:8080", description = "The default `server.bind`")),
    tags(
        (name = "businesses", description = "Companies on the platform"),
        (name = "sites", description = "Where businesses are; also as GeoJSON"),
        (name = "flows", description = "Offers of surplus and needs for input"),
        (name = "matches", description = "Ranked, explained exchanges and their lifecycle"),
        (name = "categories", description = "The resource taxonomy and its compatibility rules"),
        (name = "auth", description = "Sign in, tokens and API keys"),
        (name = "members", description = "Who belongs to a business"),
        (name = "admin", description = "Platform administration"),
        (name = "operations", description = "Probes, metrics and this document"),
    ),
    paths(
        businesses::list,
        businesses::create,
        businesses::get,
        businesses::update,
        businesses::delete,
        sites::list_of_business,
        sites::create,
        sites::list,
        sites::get,
        sites::update,
        sites::delete,
        flows::list_of_business,
        flows::list,
        flows::create,
        flows::get,
        flows::update,
        flows::delete,
        matches::of_business,
        matches::of_flow,
        matches::list,
        matches::get,
        matches::update,
        stats::stats,
        categories::list,
        categories::get,
        members::list,
        members::add,
        members::remove,
        auth::login,
        auth::refresh,
        auth::logout,
        auth::register,
        auth::me,
        auth::list_api_keys,
        auth::create_api_key,
        auth::revoke_api_key,
        admin::audit,
        admin::users,
        admin::create,
        flight_recorder::flight_recorder,
        health::live,
        health::ready,
        health::openapi,
        crate::metrics::render,
    ),
    components(
        schemas(
            crate::error::Problem,
            symbiont_core::schemas::ProfileInput,
            doc::MergePatch,
            super::sites::FeatureCollection,
        ),
        responses(
            doc::BadRequest,
            doc::Validation,
            doc::NotFound,
            doc::Conflict,
            doc::PreconditionFailed,
            doc::UnsupportedMediaType,
            doc::PayloadTooLarge,
            doc::Unavailable,
            doc::Unauthorized,
            doc::Forbidden,
            doc::TooManyRequests,
            doc::Overloaded,
        ),
    ),
    modifiers(&Gateway),
)]
pub(crate) struct ApiDoc;
