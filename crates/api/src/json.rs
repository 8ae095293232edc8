//! JSON response bodies: serde_json by default, simd-json's serializer with the `simd-json`
//! feature. Handlers answer through [`response`] so the choice is made in one place.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::error::ApiError;

/// Serializes `value` to JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, ApiError> {
    #[cfg(feature = "simd-json")]
    let bytes = simd_json::serde::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()));
    #[cfg(not(feature = "simd-json"))]
    let bytes = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()));
    bytes
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_json() {
        let body = to_vec(&serde_json::json!({ "a": [1, 2.5, "x"] })).expect("serializes");
        let back: serde_json::Value = serde_json::from_slice(&body).expect("parses");
        assert_eq!(back["a"][1], 2.5);
    }
}
