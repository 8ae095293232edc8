//! The one place a use case's [`AppError`] becomes a GraphQL error: a message and
//! `extensions.code` (one table, below), with `extensions.field` (and `extensions.fields` when the
//! input had several faults) naming what the caller sent wrong. Errors of the GraphQL layer itself
//! (a query too deep or too complex, a syntax or validation error) get their code in
//! [`with_codes`]. The causes of internal faults go to the log, never to the client.

use async_graphql::{ErrorExtensions, ServerError};
use symbiont_app::AppError;
use symbiont_app::error::chain;
use symbiont_core::decision::DecisionError;
use symbiont_store::StoreError;

/// `extensions.code` of the GraphQL layer's own refusals.
pub const QUERY_TOO_DEEP: &str = "QUERY_TOO_DEEP";
pub const QUERY_TOO_COMPLEX: &str = "QUERY_TOO_COMPLEX";
pub const GRAPHQL_VALIDATION_FAILED: &str = "GRAPHQL_VALIDATION_FAILED";

/// The code, and whether the message may reach the client, of each kind of [`AppError`]; the
/// codes follow the REST problem types (`/problems/<slug>`), upper-cased.
fn code_of(error: &AppError) -> &'static str {
    match error {
        AppError::Validation(_) | AppError::BadParameter { .. } => "BAD_USER_INPUT",
        AppError::Unauthorized(_) => "UNAUTHENTICATED",
        AppError::Forbidden(_) => "FORBIDDEN",
        AppError::NotFound(_) => "NOT_FOUND",
        AppError::Conflict(_) => "CONFLICT",
        AppError::PreconditionFailed(_) => "PRECONDITION_FAILED",
        AppError::Decision(DecisionError::NotAParty | DecisionError::OwnContactRequest) => {
            "FORBIDDEN"
        }
        AppError::Decision(DecisionError::IllegalTransition { .. }) => "CONFLICT",
        AppError::Decision(DecisionError::StaleVersion { .. }) => "PRECONDITION_FAILED",
        AppError::Store(StoreError::NotFound { .. }) => "NOT_FOUND",
        AppError::Store(StoreError::VersionConflict { .. }) => "PRECONDITION_FAILED",
        AppError::Store(StoreError::AlreadyExists { .. }) => "CONFLICT",
        AppError::Store(StoreError::Unavailable(_) | StoreError::Open(_))
        | AppError::Unavailable { .. } => "UNAVAILABLE",
        AppError::Store(StoreError::Migration(_) | StoreError::Corrupt { .. })
        | AppError::Internal { .. } => "INTERNAL",
        AppError::Busy(_) => "OVERLOADED",
    }
}

/// A use case's error as the GraphQL answer shows it.
pub fn graphql_error(error: AppError) -> async_graphql::Error {
    let code = code_of(&error);
    let (message, fields) = match &error {
        AppError::Validation(invalid) => (
            invalid.to_string(),
            invalid
                .0
                .iter()
                .map(|f| (f.field.clone(), f.message.clone()))
                .collect(),
        ),
        AppError::BadParameter { name, message } => {
            (error.to_string(), vec![(name.clone(), message.clone())])
        }
        _ if code == "INTERNAL" => {
            tracing::error!(reason = %chain(&error), "internal error in a GraphQL resolver");
            (
                "An unexpected error occurred; it has been logged.".to_string(),
                vec![],
            )
        }
        _ if code == "UNAVAILABLE" => {
            tracing::warn!(reason = %chain(&error), "dependency unavailable in a GraphQL resolver");
            (
                "The data store is unavailable; try again shortly.".to_string(),
                vec![],
            )
        }
        _ => (error.to_string(), vec![]),
    };
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", code);
        if let Some((field, _)) = fields.first() {
            extensions.set("field", field.as_str());
        }
        if fields.len() > 1 {
            let all = serde_json::Value::Array(
                fields
                    .iter()
                    .map(|(field, message)| serde_json::json!({ "field": field, "message": message }))
                    .collect(),
            );
            let all = async_graphql::Value::from_json(all).unwrap_or_default();
            extensions.set("fields", all);
        }
    })
}

/// A refusal of an argument the GraphQL layer checks itself (a page size, an id's syntax).
pub fn bad_argument(field: &str, message: impl Into<String>) -> async_graphql::Error {
    graphql_error(AppError::BadParameter {
        name: field.into(),
        message: message.into(),
    })
}

/// `Result<T, AppError>` → `Result<T, async_graphql::Error>` through [`graphql_error`]; resolvers
/// write `.or_graphql()?` so no use-case error reaches the client uncoded.
pub trait OrGraphql<T> {
    fn or_graphql(self) -> async_graphql::Result<T>;
}

impl<T> OrGraphql<T> for Result<T, AppError> {
    fn or_graphql(self) -> async_graphql::Result<T> {
        self.map_err(graphql_error)
    }
}

/// Gives every error of a response that has no `extensions.code` one: the limits' refusals and
/// the parser's and validator's errors are made by the library, without codes.
pub fn with_codes(mut response: async_graphql::Response) -> async_graphql::Response {
    for error in &mut response.errors {
        give_code(error);
    }
    response
}

fn give_code(error: &mut ServerError) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
    {
        return;
    }
    let code = if error.message.contains("nested too deep") {
        QUERY_TOO_DEEP
    } else if error.message.contains("too complex") {
        QUERY_TOO_COMPLEX
    } else if error.path.is_empty() {
        GRAPHQL_VALIDATION_FAILED
    } else {
        // A resolver's error that did not come through `graphql_error` (an argument the library
        // could not convert): the caller's input.
        "BAD_USER_INPUT"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}
