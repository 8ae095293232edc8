//! JSON bodies the use cases produce (match pages, cached by bytes): serde_json by default,
//! simd-json's serializer with the `simd-json` feature, chosen in this one place.

use serde::Serialize;

use crate::error::AppError;

/// Serializes `value` to JSON bytes.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, AppError> {
    #[cfg(feature = "simd-json")]
    let bytes = simd_json::serde::to_vec(value).map_err(|e| AppError::internal("a JSON body", e));
    #[cfg(not(feature = "simd-json"))]
    let bytes = serde_json::to_vec(value).map_err(|e| AppError::internal("a JSON body", e));
    bytes
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
