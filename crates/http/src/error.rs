//! The one place errors become HTTP responses: `application/problem+json` (RFC 9457) bodies with a
//! list of field errors where input was at fault. Handlers return `ApiError` and never build bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use symbiont_app::AppError;
use symbiont_app::error::chain;
use symbiont_core::decision::DecisionError;
use symbiont_core::{FieldError, ValidationError};
use symbiont_store::StoreError;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request could not be read (malformed JSON, bad query parameter or path segment).
    #[error("{detail}")]
    BadRequest {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The request was read but its content is invalid.
    #[error("{0}")]
    Validation(#[from] ValidationError),
    /// No credentials where they are required, or credentials that are invalid, expired or revoked.
    #[error("{0}")]
    Unauthorized(String),
    /// The caller is known but may not do this.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    /// The state of the resource forbids the request (e.g. an illegal status transition).
    #[error("{0}")]
    Conflict(String),
    /// `If-Match` did not match, or the resource changed since it was read.
    #[error("{0}")]
    PreconditionFailed(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The caller exceeded its request rate; it may retry after this many seconds.
    #[error("too many requests; retry after {retry_after_secs} s")]
    TooManyRequests { retry_after_secs: u64 },
    /// The server is at its concurrency limit and sheds this request rather than queue it.
    #[error("the server is at capacity; retry shortly")]
    Overloaded,
    /// A dependency (the store) cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::BadRequest {
            detail: format!("{field}: {message}"),
            errors: vec![FieldError::new(field, message)],
        }
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(ValidationError::single(field, message))
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::BadRequest { .. } => (
                StatusCode::BAD_REQUEST,
                "bad-request",
                "The request could not be read",
            ),
            ApiError::Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The input is invalid",
            ),
            ApiError::Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Conflict(_) => (
                StatusCode::CONFLICT,
                "conflict",
                "Conflict with the current state",
            ),
            ApiError::PreconditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "The resource has changed",
            ),
            ApiError::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            ApiError::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            ApiError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "Server at capacity",
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal error",
            ),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { .. } => ApiError::NotFound(e.to_string()),
            StoreError::VersionConflict { .. } => ApiError::PreconditionFailed(e.to_string()),
            StoreError::AlreadyExists { .. } => ApiError::Conflict(e.to_string()),
            StoreError::Unavailable(_) | StoreError::Open(_) => ApiError::Unavailable(chain(&e)),
            StoreError::Migration(_) | StoreError::Corrupt { .. } => ApiError::Internal(chain(&e)),
        }
    }
}

/// The one mapping from the use cases' errors to HTTP: each kind of [`AppError`] has its status
/// here and nowhere else. Causes of 5xx answers go to the log whole (their chain), not to clients.
impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Validation(errors) => ApiError::Validation(errors),
            AppError::BadParameter { name, message } => ApiError::bad_request(&name, message),
            AppError::Unauthorized(message) => ApiError::Unauthorized(message),
            AppError::Forbidden(message) => ApiError::Forbidden(message),
            AppError::NotFound(message) => ApiError::NotFound(message),
            AppError::Conflict(message) => ApiError::Conflict(message),
            AppError::PreconditionFailed(message) => ApiError::PreconditionFailed(message),
            AppError::Decision(
                refusal @ (DecisionError::NotAParty | DecisionError::OwnContactRequest),
            ) => ApiError::Forbidden(refusal.to_string()),
            AppError::Decision(refusal @ DecisionError::IllegalTransition { .. }) => {
                ApiError::Conflict(refusal.to_string())
            }
            AppError::Decision(refusal @ DecisionError::StaleVersion { .. }) => {
                ApiError::PreconditionFailed(refusal.to_string())
            }
            AppError::Store(store) => store.into(),
            AppError::Busy(_) => ApiError::Overloaded,
            unavailable @ AppError::Unavailable { .. } => {
                ApiError::Unavailable(chain(&unavailable))
            }
            internal @ AppError::Internal { .. } => ApiError::Internal(chain(&internal)),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A relative URI naming the kind of problem, `/problems/<slug>`: bad-request, validation,
    /// unauthorized, forbidden, not-found, conflict, precondition-failed, unsupported-media-type,
    /// payload-too-large, too-many-requests, overloaded, unavailable, internal; for errors made
    /// outside the handlers, the status's reason (method-not-allowed, request-timeout ...).
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    pub detail: String,
    /// The fields at fault, when the input was.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(required = false)]
    pub errors: Vec<FieldError>,
}

impl Problem {
    pub fn new(status: StatusCode, slug: &str, title: &str, detail: String) -> Self {
        Self {
            kind: format!("/problems/{slug}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail,
            errors: vec![],
        }
    }

    pub fn into_response_with(self, status: StatusCode) -> Response {
        let body = serde_json::to_vec(&self).expect("a problem always serializes");
        let mut response = (status, body).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        response
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let retry_after = match &self {
            ApiError::TooManyRequests { retry_after_secs } => Some(*retry_after_secs),
            ApiError::Overloaded => Some(1),
            ApiError::Unavailable(_) => Some(5),
            _ => None,
        };
        let unauthorized = matches!(self, ApiError::Unauthorized(_));
        let (detail, errors) = match self {
            ApiError::BadRequest { detail, errors } => (detail, errors),
            ApiError::Validation(v) => (v.to_string(), v.0),
            ApiError::Internal(reason) => {
                // The cause goes to the log, not to the client.
                tracing::error!(%reason, "internal error");
                (
                    "An unexpected error occurred; it has been logged.".to_string(),
                    vec![],
                )
            }
            ApiError::Unavailable(reason) => {
                tracing::warn!(%reason, "dependency unavailable");
                (
                    "The data store is unavailable; try again shortly.".to_string(),
                    vec![],
                )
            }
            other => (other.to_string(), vec![]),
        };
        let mut problem = Problem::new(status, slug, title, detail);
        problem.errors = errors;
        let mut response = problem.into_response_with(status);
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if unauthorized {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"symbiont\""),
            );
        }
        response
    }
}

/// Turns error responses produced outside the handlers (unknown routes, wrong methods, timeouts,
/// body limits, axum's own extractor rejections in `text/plain`) into problem documents, so every
/// 4xx/5xx a client sees has the same shape. A rejection's text (e.g. "Invalid URL: Invalid UTF-8
/// in `id`") becomes the detail of a 4xx.
pub async fn problem_for_bare_errors(response: Response) -> Response {
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok());
    let plain_text = content_type.is_some_and(|t| t.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error())
        || (content_type.is_some() && !plain_text)
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let rejection = if plain_text && status.is_client_error() {
        axum::body::to_bytes(body, 1024)
            .await
            .ok()
            .and_then(|bytes| String::from_utf8(bytes.to_vec()).ok())
            .filter(|text| !text.trim().is_empty())
    } else {
        None
    };
    let detail = match (status, rejection) {
        (_, Some(text)) => text,
        (StatusCode::NOT_FOUND, None) => "No such resource or route.".to_string(),
        (StatusCode::METHOD_NOT_ALLOWED, None) => {
            "This method is not allowed on this resource.".to_string()
        }
        (StatusCode::REQUEST_TIMEOUT, None) => {
            "The request took too long and was stopped.".to_string()
        }
        (StatusCode::PAYLOAD_TOO_LARGE, None) => {
            "The request body is larger than the limit.".to_string()
        }
        (other, None) => other.canonical_reason().unwrap_or("Error").to_string(),
    };
    let slug = status
        .canonical_reason()
        .unwrap_or("error")
        .to_ascii_lowercase()
        .replace(' ', "-");
    let title = status.canonical_reason().unwrap_or("Error").to_string();
    let mut fresh = Problem::new(status, &slug, &title, detail).into_response_with(status);
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_LENGTH && name != header::CONTENT_TYPE {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
}
