//! JSON responses: handlers answer through [`response`] (the serializer is chosen by
//! `symbiont_app::json_body`: serde_json, or simd-json with the `simd-json` feature), through
//! `axum::Json`, or through [`SortedKeys`].

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

/// An `application/json` answer whose object keys are sorted at every depth, as a
/// `serde_json::Value` writes them. The endpoints whose bodies were built as `Value`s before they
/// had response types answer through this, so their bodies have not changed byte for byte, while
/// the types keep their fields in reading order (the OpenAPI document lists them so). It costs
/// what building the `Value` always cost; answering with the type directly would only reorder keys.
pub struct SortedKeys<T>(pub T);

impl<T: Serialize> IntoResponse for SortedKeys<T> {
    fn into_response(self) -> Response {
        match serde_json::to_value(&self.0) {
            Ok(value) => axum::Json(value).into_response(),
            Err(error) => ApiError::Internal(format!("a response body: {error}")).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Outer {
        zebra: u8,
        inner: Inner,
        apple: Option<u8>,
    }

    #[derive(Serialize)]
    struct Inner {
        b: u8,
        a: u8,
    }

    #[tokio::test]
    async fn sorted_keys_sort_every_object_and_keep_nulls() {
        let response = SortedKeys(Outer {
            zebra: 1,
            inner: Inner { b: 2, a: 3 },
            apple: None,
        })
        .into_response();
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .expect("a small body");
        assert_eq!(
            &body[..],
            br#"{"apple":null,"inner":{"a":3,"b":2},"zebra":1}"#
        );
    }
}
