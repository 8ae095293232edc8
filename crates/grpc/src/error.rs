//! The one mapping from the use cases' errors to gRPC statuses: each kind of [`AppError`] gets
//! its code here and nowhere else. Input at fault is `INVALID_ARGUMENT` with a `google.rpc.BadRequest`
//! detail naming each field (as a path into the request message); causes of internal and
//! unavailable errors go to the log whole, never to the client.

use symbiont_app::AppError;
use symbiont_app::error::chain;
use symbiont_core::decision::DecisionError;
use symbiont_core::{FieldError, ValidationError};
use symbiont_store::StoreError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// `INVALID_ARGUMENT` naming `field`.
pub fn invalid_argument(field: &str, message: impl Into<String>) -> Status {
    invalid_fields(&[FieldError::new(field, message)])
}

fn invalid_fields(errors: &[FieldError]) -> Status {
    let summary = ValidationError(errors.to_vec()).to_string();
    let violations: Vec<FieldViolation> = errors
        .iter()
        .map(|e| FieldViolation::new(e.field.clone(), e.message.clone()))
        .collect();
    Status::with_error_details(
        Code::InvalidArgument,
        summary,
        ErrorDetails::with_bad_request(violations),
    )
}

/// The status of `error`, with the fields of input errors named as they are in the request.
pub fn status_of(error: AppError) -> Status {
    status_within(error, None)
}

/// The status of `error` for a request that carries the checked input in its field `within`
/// (`flow` for `UpsertFlowRequest.flow`): the use case names `quantity.unit`, the client reads
/// `flow.quantity.unit`.
pub fn status_within(error: AppError, within: Option<&str>) -> Status {
    let path = |field: &str| match within {
        Some(prefix) if !field.is_empty() => format!("{prefix}.{field}"),
        Some(prefix) => prefix.to_string(),
        None => field.to_string(),
    };
    match error {
        AppError::Validation(ValidationError(errors)) => {
            let errors: Vec<FieldError> = errors
                .into_iter()
                .map(|e| FieldError::new(path(&e.field), e.message))
                .collect();
            invalid_fields(&errors)
        }
        AppError::BadParameter { name, message } => invalid_argument(&path(&name), message),
        AppError::Unauthorized(message) => Status::unauthenticated(message),
        AppError::Forbidden(message) => Status::permission_denied(message),
        AppError::NotFound(message) => Status::not_found(message),
        AppError::Conflict(message) => Status::failed_precondition(message),
        AppError::PreconditionFailed(message) => Status::aborted(message),
        AppError::Decision(
            refusal @ (DecisionError::NotAParty | DecisionError::OwnContactRequest),
        ) => Status::permission_denied(refusal.to_string()),
        AppError::Decision(refusal @ DecisionError::IllegalTransition { .. }) => {
            Status::failed_precondition(refusal.to_string())
        }
        AppError::Decision(refusal @ DecisionError::StaleVersion { .. }) => {
            Status::aborted(refusal.to_string())
        }
        AppError::Store(store) => status_of_store(store),
        AppError::Busy(message) => Status::unavailable(message),
        unavailable @ AppError::Unavailable { .. } => {
            tracing::warn!(reason = %chain(&unavailable), "dependency unavailable");
            Status::unavailable("a dependency is unavailable; try again shortly")
        }
        internal @ AppError::Internal { .. } => {
            tracing::error!(reason = %chain(&internal), "internal error");
            Status::internal("an unexpected error occurred; it has been logged")
        }
    }
}

fn status_of_store(error: StoreError) -> Status {
    match error {
        StoreError::NotFound { .. } => Status::not_found(error.to_string()),
        StoreError::VersionConflict { .. } => Status::aborted(error.to_string()),
        StoreError::AlreadyExists { .. } => Status::already_exists(error.to_string()),
        StoreError::Unavailable(_) | StoreError::Open(_) => {
            tracing::warn!(reason = %chain(&error), "store unavailable");
            Status::unavailable("the data store is unavailable; try again shortly")
        }
        StoreError::Migration(_) | StoreError::Corrupt { .. } => {
            tracing::error!(reason = %chain(&error), "internal store error");
            Status::internal("an unexpected error occurred; it has been logged")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_names_its_field_inside_the_request() {
        let status = status_within(
            AppError::invalid("quantity.unit", "unknown unit"),
            Some("flow"),
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details
            .bad_request()
            .expect("a BadRequest detail")
            .field_violations;
        assert_eq!(violations[0].field, "flow.quantity.unit");
        assert!(status.message().contains("quantity.unit"));
    }

    #[test]
    fn internal_causes_stay_out_of_the_message() {
        let status = status_of(AppError::internal(
            "secret table",
            std::io::Error::other("disk path /var/x"),
        ));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("/var/x"));
    }
}
