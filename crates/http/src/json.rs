//! JSON responses: handlers answer through [`response`] (the serializer is chosen by
//! `symbiont_app::json_body`: serde_json, or simd-json with the `simd-json` feature), or through
//! `axum::Json` with their typed response structs.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// Serializes `value` to JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ApiError> {
    Ok(symbiont_app::json_body::to_vec(value)?)
}

/// An `application/json` answer.
pub fn response<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Response {
    match to_vec(value) {
        Ok(body) => {
            let mut response = (status, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(error) => error.into_response(),
    }
}
