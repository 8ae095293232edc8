//! The web dashboard: the built files of `web/dist/` (made by `scripts/build-web` and committed),
//! embedded in the binary at compile time and served at `/` and `/assets/{file}`, so that
//! `serve` needs no Node, npm or network to show them. The dashboard itself uses only the public
//! API; nothing here knows what it shows.
//!
//! Each file is embedded with its gzipped twin (made by the build), sent to clients that accept
//! gzip. `index.html` is revalidated on every load (`no-cache` with an `ETag`); it names the other
//! files with their content hash (`?v=…`), and a request carrying the current hash may be kept for
//! a year. The pages get their own Content-Security-Policy: same-origin scripts, styles, data
//! and feed, and MapLibre's worker; the API keeps its `default-src 'none'`.

use std::sync::OnceLock;

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::SharedState;

/// What the dashboard's pages may load: only this origin, plus blob: workers and images, which
/// MapLibre makes; inline style attributes, which MapLibre and Chart.js set on elements.
const PAGE_POLICY: &str = "default-src 'self'; script-src 'self'; worker-src 'self' blob:; \
     child-src 'self' blob:; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; \
     connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
const REVALIDATE: &str = "no-cache";
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// One embedded file of `web/dist/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    gzip: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:literal) => {
        Asset {
            name: $name,
            content_type: $content_type,
            body: include_bytes!(concat!("../../../../web/dist/", $name)),
            gzip: include_bytes!(concat!("../../../../web/dist/", $name, ".gz")),
        }
    };
}

static ASSETS: [Asset; 5] = [
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("app.css", "text/css; charset=utf-8"),
    asset!("maplibre-gl-worker.js", "text/javascript; charset=utf-8"),
    asset!("basemap.json", "application/json"),
];

/// The routes of the dashboard, outside `/api/v1` and outside the OpenAPI document.
pub fn router() -> Router<SharedState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
}

async fn index(headers: HeaderMap) -> Response {
    serve(&ASSETS[0], &headers, REVALIDATE)
}

async fn asset(
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(index) = ASSETS[1..]
        .iter()
        .position(|a| a.name == file)
        .map(|i| i + 1)
    else {
        return ApiError::NotFound(format!("no dashboard file {file}")).into_response();
    };
    let asset = &ASSETS[index];
    // Only the current content's hash may be kept: an old `?v=` gets today's file, revalidated.
    let versioned = query
        .as_deref()
        .and_then(|q| q.strip_prefix("v="))
        .is_some_and(|v| v == &etags()[index][1..13]);
    serve(
        asset,
        &headers,
        if versioned { IMMUTABLE } else { REVALIDATE },
    )
}

/// Each asset's strong `ETag`: the first 12 hex digits of its SHA-256, as the build names them.
fn etags() -> &'static [String; 5] {
    static TAGS: OnceLock<[String; 5]> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .each_ref()
            .map(|a| format!("\"{}\"", content_hash(a.body)))
    })
}

fn content_hash(body: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    let digest = sha2::Sha256::digest(body);
    let mut hex = String::with_capacity(12);
    for byte in &digest[..6] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn serve(asset: &Asset, request: &HeaderMap, cache_control: &'static str) -> Response {
    let index = ASSETS
        .iter()
        .position(|a| a.name == asset.name)
        .expect("the asset is one of ASSETS");
    let etag = &etags()[index];
    let mut response = if request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else if accepts_gzip(request) {
        let mut response = asset.gzip.into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        response
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(tag) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, tag);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
}

/// Whether `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_unless_refused() {
        let with = |value: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(value));
            accepts_gzip(&h)
        };
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, gzip;q=0.8"));
        assert!(!with("gzip;q=0"));
        assert!(!with("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn the_index_names_each_asset_with_the_hash_the_server_checks() {
        let html = std::str::from_utf8(ASSETS[0].body).expect("utf-8");
        for (i, name) in [(1, "app.js"), (2, "app.css")] {
            let wanted = format!("/assets/{name}?v={}", &etags()[i][1..13]);
            assert!(
                html.contains(&wanted),
                "index.html lacks {wanted}; run scripts/build-web"
            );
        }
    }
}
