//! The web dashboard's files at `/` and `/assets/{file}`: content types, gzip, cache headers and
//! ETags, their own Content-Security-Policy (the API keeps `default-src 'none'`), and a 404 problem
//! for a file that is not there.

use axum::body::Body;
use axum::http::{Method, header};

use crate::harness::*;

fn header_of(answer: &Answer, name: header::HeaderName) -> &str {
    answer
        .1
        .get(&name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

async fn get_with(app: &TestApp, path: &str, headers: &[(header::HeaderName, &str)]) -> Answer {
    let mut request = axum::http::Request::builder().method(Method::GET).uri(path);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    app.send(request.body(Body::empty()).expect("a valid request"))
        .await
}

/// The `/assets/…?v=…` paths the page names.
fn asset_paths(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|part| part.starts_with("/assets/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn the_root_serves_the_dashboard_page_revalidated_with_its_own_policy() {
    let app = TestApp::start().await;
    let answer = app.get("/", &Who::Anonymous).await;
    assert_eq!(answer.0, 200);
    assert_eq!(
        header_of(&answer, header::CONTENT_TYPE),
        "text/html; charset=utf-8"
    );
    assert_eq!(header_of(&answer, header::CACHE_CONTROL), "no-cache");
    let policy = header_of(&answer, header::CONTENT_SECURITY_POLICY);
    assert!(
        policy.contains("script-src 'self'") && policy.contains("worker-src 'self' blob:"),
        "{policy}"
    );
    assert_eq!(header_of(&answer, header::X_FRAME_OPTIONS), "DENY");
    let html = answer.2.as_str().expect("an HTML page");
    assert!(html.contains("id=\"map\""), "the page has the map");
    let assets = asset_paths(html);
    assert!(
        assets.iter().any(|a| a.starts_with("/assets/app.js?v=")),
        "{assets:?}"
    );
    assert!(
        assets.iter().any(|a| a.starts_with("/assets/app.css?v=")),
        "{assets:?}"
    );

    // The API keeps its own, stricter policy.
    let api = app.get("/api/v1/categories", &Who::Anonymous).await;
    assert_eq!(
        header_of(&api, header::CONTENT_SECURITY_POLICY),
        "default-src 'none'; frame-ancestors 'none'"
    );
}

#[tokio::test]
async fn an_asset_named_with_its_hash_is_kept_a_year_and_gzipped_when_accepted() {
    let app = TestApp::start().await;
    let page = app.get("/", &Who::Anonymous).await;
    let script = asset_paths(page.2.as_str().expect("an HTML page"))
        .into_iter()
        .find(|a| a.starts_with("/assets/app.js"))
        .expect("the page names its script");

    let gzipped = get_with(
        &app,
        &script,
        &[(header::ACCEPT_ENCODING, "gzip, deflate, br")],
    )
    .await;
    assert_eq!(gzipped.0, 200);
    assert_eq!(
        header_of(&gzipped, header::CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header_of(&gzipped, header::CONTENT_ENCODING), "gzip");
    assert_eq!(
        header_of(&gzipped, header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(header_of(&gzipped, header::VARY), "accept-encoding");

    let plain = app.get(&script, &Who::Anonymous).await;
    assert_eq!(header_of(&plain, header::CONTENT_ENCODING), "");
    assert!(
        plain.2.as_str().is_some_and(|js| js.len() > 100_000),
        "the whole bundle, uncompressed"
    );

    // Without the hash, or with an old one, the file is revalidated each time.
    for stale in ["/assets/app.js", "/assets/app.js?v=000000000000"] {
        let answer = app.get(stale, &Who::Anonymous).await;
        assert_eq!(answer.0, 200, "{stale}");
        assert_eq!(
            header_of(&answer, header::CACHE_CONTROL),
            "no-cache",
            "{stale}"
        );
    }
}

#[tokio::test]
async fn a_request_with_the_current_etag_is_a_304_without_a_body() {
    let app = TestApp::start().await;
    for path in [
        "/",
        "/assets/basemap.json",
        "/assets/maplibre-gl-worker.js",
        "/assets/app.css",
    ] {
        let first = app.get(path, &Who::Anonymous).await;
        assert_eq!(first.0, 200, "{path}");
        let etag = header_of(&first, header::ETAG).to_string();
        assert!(etag.starts_with('"') && etag.len() == 14, "{path}: {etag}");
        let again = get_with(&app, path, &[(header::IF_NONE_MATCH, &etag)]).await;
        assert_eq!(again.0, 304, "{path}");
        assert_eq!(again.2, serde_json::Value::Null, "{path}: no body");
        assert_eq!(header_of(&again, header::ETAG), etag, "{path}");
    }
    let basemap = app.get("/assets/basemap.json", &Who::Anonymous).await;
    assert_eq!(
        header_of(&basemap, header::CONTENT_TYPE),
        "application/json"
    );
    assert_eq!(basemap.2["type"], "FeatureCollection");
}

#[tokio::test]
async fn a_file_that_is_not_part_of_the_dashboard_is_a_404_problem() {
    let app = TestApp::start().await;
    for path in [
        "/assets/nothing.js",
        "/assets/index.html",
        "/assets/app.js.gz",
        "/assets/..%2FCargo.toml",
    ] {
        let answer = app.get(path, &Who::Anonymous).await;
        assert_eq!(answer.0, 404, "{path}");
        assert_problem(&answer, 404, "not-found");
    }
}
