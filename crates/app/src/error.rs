//! The one error type of the use cases. It says what went wrong in the domain's terms (not found,
//! not allowed, conflicting with the current state, a dependency down) and keeps the cause as its
//! `source`; the transports decide how each kind is shown (the HTTP crate maps it to a problem
//! document in one function). Nothing here knows a status code.

use std::error::Error as StdError;

use symbiont_core::ValidationError;
use symbiont_core::decision::DecisionError;
use symbiont_store::StoreError;

type Source = Box<dyn StdError + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The input is invalid; the fields at fault are named.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// A query parameter (a filter, a sort, a cursor) that cannot be used as given.
    #[error("{name}: {message}")]
    BadParameter { name: String, message: String },
    /// No credentials where they are required, or credentials that are invalid, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The state of the resource forbids the request.
    #[error("{0}")]
    Conflict(String),
    /// The caller asked for a version of the resource that is not the current one.
    #[error("{0}")]
    PreconditionFailed(String),
    /// A match lifecycle rule refused the change.
    #[error(transparent)]
    Decision(#[from] DecisionError),
    /// The store refused or failed; its error says which (not found, version conflict, down ...).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A dependency (the bus, Redis) cannot be reached.
    #[error("{context}")]
    Unavailable {
        context: String,
        #[source]
        source: Source,
    },
    /// Too much of one costly kind of work is running; the caller may retry shortly.
    #[error("{0}")]
    Busy(String),
    /// A fault of this program or its configuration.
    #[error("{context}")]
    Internal {
        context: String,
        #[source]
        source: Option<Source>,
    },
}

impl AppError {
    /// A validation error on one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        AppError::Validation(ValidationError::single(field, message))
    }

    pub fn internal(context: impl Into<String>, source: impl Into<Source>) -> Self {
        AppError::Internal {
            context: context.into(),
            source: Some(source.into()),
        }
    }

    /// An internal error with no underlying error value (the cause is in `context`).
    pub fn internal_message(context: impl Into<String>) -> Self {
        AppError::Internal {
            context: context.into(),
            source: None,
        }
    }

    pub fn unavailable(context: impl Into<String>, source: impl Into<Source>) -> Self {
        AppError::Unavailable {
            context: context.into(),
            source: source.into(),
        }
    }
}

/// An error and its causes on one line, `outer: inner: innermost`, for logs.
pub fn chain(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` repeats the inner message; say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// Checks a required version (an `If-Match` the caller sent) against the current one.
pub fn check_version(required: Option<i64>, current: i64) -> Result<(), AppError> {
    match required {
        Some(v) if v != current => Err(AppError::PreconditionFailed(format!(
            "If-Match asked for version {v}, but the resource is at version {current}; read it again"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chain_names_every_cause_once() {
        let io = std::io::Error::other("connection refused");
        let error = AppError::unavailable("event bus", io);
        assert_eq!(chain(&error), "event bus: connection refused");
        let transparent = AppError::invalid("name", "must not be empty");
        assert_eq!(chain(&transparent), transparent.to_string());
    }

    #[test]
    fn a_stale_version_is_a_failed_precondition() {
        assert!(check_version(None, 3).is_ok());
        assert!(check_version(Some(3), 3).is_ok());
        assert!(matches!(
            check_version(Some(2), 3),
            Err(AppError::PreconditionFailed(_))
        ));
    }
}
