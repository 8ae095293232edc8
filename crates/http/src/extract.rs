//! Request extractors whose failures are problem documents naming the field: a JSON body reader
//! that reports the path of a bad field, and helpers for query parameters, ids and `If-Match`.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use symbiont_core::GeoPoint;
use symbiont_store::{Near, PageRequest};
use uuid::Uuid;

use symbiont_app::merge_patch::{field_of, strip_position};

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: u32 = 50;
pub const MAX_PAGE_SIZE: u32 = 1000;

/// A JSON body. Malformed JSON is a 400; well-formed JSON of the wrong shape (unknown field, wrong
/// type, missing field) is a 422 whose error names the field by its path (`quality.temperature_c`).
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim().to_ascii_lowercase();
                mime == "application/json"
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as Content-Type: application/json".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge(rejection.body_text())
            } else {
                ApiError::bad_request("body", rejection.body_text())
            }
        })?;
        parse_json(&bytes).map(Json)
    }
}

/// Parses JSON with the same error mapping as the [`Json`] extractor. With the
/// `simd-json` feature the document is validated and parsed in one SIMD pass.
#[cfg(feature = "simd-json")]
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut buffer = bytes.to_vec();
    let mut deserializer = simd_json::Deserializer::from_slice(&mut buffer)
        .map_err(|e| ApiError::bad_request("body", format!("malformed JSON: {e}")))?;
    serde_path_to_error::deserialize::<_, T>(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        // simd-json wraps serde's message: `Serde("missing field `x`") at character 0`.
        let message = message
            .strip_prefix("Serde(\"")
            .and_then(|rest| rest.split_once("\")"))
            .map_or(message.clone(), |(inner, _)| inner.replace("\\\"", "\""));
        ApiError::invalid(&field_of(&path, &message), strip_position(&message))
    })
}

/// Parses JSON with the same error mapping as the [`Json`] extractor (and by the JSON benchmark).
#[cfg(not(feature = "simd-json"))]
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so `{} {}` or a cut-off body is reported as malformed rather than as its shape.
    if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(ApiError::bad_request(
            "body",
            format!("malformed JSON: {e}"),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let result = serde_path_to_error::deserialize::<_, T>(&mut deserializer);
    let error = match result {
        Ok(value) => match deserializer.end() {
            Ok(()) => return Ok(value),
            Err(trailing) => {
                return Err(ApiError::bad_request(
                    "body",
                    format!("malformed JSON: {trailing}"),
                ));
            }
        },
        Err(error) => error,
    };
    // The syntax was checked above, so whatever fails now is the shape: a 422 naming the field.
    // (serde_json reports a wrong token for an enum, `"direction": 1`, as a syntax error.)
    let path = error.path().to_string();
    let message = error.into_inner().to_string();
    Err(ApiError::invalid(
        &field_of(&path, &message),
        strip_position(&message),
    ))
}

/// Query parameters as a map; each known parameter is taken out and parsed, and any left over is an
/// error, so a typo (`limt=5`) is reported instead of silently ignored.
pub struct QueryParams(BTreeMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).map_err(|e| {
            ApiError::bad_request("query", format!("cannot read the query string: {e}"))
        })?;
        let mut map = BTreeMap::new();
        for (key, value) in pairs {
            if map.insert(key.clone(), value).is_some() {
                return Err(ApiError::bad_request(&key, "is given more than once"));
            }
        }
        Ok(QueryParams(map))
    }
}

impl QueryParams {
    pub fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).filter(|v| !v.is_empty())
    }

    pub fn take_parsed<T: std::str::FromStr>(
        &mut self,
        name: &str,
        what: &str,
    ) -> Result<Option<T>, ApiError> {
        self.take(name)
            .map(|v| {
                v.parse::<T>()
                    .map_err(|_| ApiError::bad_request(name, format!("'{v}' is not {what}")))
            })
            .transpose()
    }

    pub fn take_uuid(&mut self, name: &str) -> Result<Option<Uuid>, ApiError> {
        self.take_parsed(name, "a UUID")
    }

    /// `limit` (1..=1000, default 50) and `cursor` (the `next_cursor` of the previous page).
    pub fn take_page(&mut self) -> Result<PageRequest, ApiError> {
        let limit = self
            .take_parsed::<u32>("limit", "a whole number")?
            .unwrap_or(DEFAULT_PAGE_SIZE);
        if !(1..=MAX_PAGE_SIZE).contains(&limit) {
            return Err(ApiError::bad_request(
                "limit",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        let after = self.take_parsed::<Uuid>("cursor", "a cursor from a previous page")?;
        Ok(PageRequest { after, limit })
    }

    /// `near=lat,lon` with `radius_km` (default 10 km).
    pub fn take_near(&mut self) -> Result<Option<Near>, ApiError> {
        let radius = self.take_parsed::<f64>("radius_km", "a number of km")?;
        let Some(near) = self.take("near") else {
            return match radius {
                Some(_) => Err(ApiError::bad_request("radius_km", "needs near=lat,lon")),
                None => Ok(None),
            };
        };
        let center = near
            .split_once(',')
            .and_then(|(lat, lon)| {
                Some(GeoPoint {
                    lat: lat.trim().parse().ok()?,
                    lon: lon.trim().parse().ok()?,
                })
            })
            .filter(GeoPoint::is_valid)
            .ok_or_else(|| {
                ApiError::bad_request("near", format!("'{near}' is not lat,lon in degrees"))
            })?;
        let radius_km = radius.unwrap_or(10.0);
        if !(radius_km.is_finite() && radius_km > 0.0 && radius_km <= 20_000.0) {
            return Err(ApiError::bad_request(
                "radius_km",
                "must be between 0 and 20000",
            ));
        }
        Ok(Some(Near { center, radius_km }))
    }

    /// Fails on any parameter nobody took.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.keys().next() {
            Some(unknown) => Err(ApiError::bad_request(
                unknown,
                "is not a parameter of this endpoint",
            )),
            None => Ok(()),
        }
    }
}

/// Parses an id from a path segment.
pub fn parse_id(text: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(text)
        .map_err(|_| ApiError::NotFound(format!("no {what} with id '{text}' (ids are UUIDs)")))
}

/// The version an `If-Match` header requires, if one was sent (`"3"`, `W/"3"`; `*` means any).
pub fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    let tag = text.trim_start_matches("W/").trim_matches('"');
    tag.parse().map(Some).map_err(|_| {
        ApiError::bad_request("If-Match", format!("'{text}' is not an ETag of this API"))
    })
}

/// The ETag of an entity at `version`.
pub fn etag(version: i64) -> String {
    format!("\"{version}\"")
}
