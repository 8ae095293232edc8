//! The HTTP API end to end against the real binary on its embedded store.

use crate::common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn businesses_are_created_read_updated_paged_and_deleted() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let mut ids = Vec::new();
    for i in 0..5 {
        let (status, business) = server
            .post(
                "/api/v1/businesses",
                &business_body(&format!("Brewery {i}")),
            )
            .await;
        assert_eq!(status, 201);
        assert_eq!(business["industry"], "C11.05");
        assert_eq!(business["version"], 1);
        ids.push(business["id"].as_str().expect("id").to_string());
    }
    // Cursor pagination walks every business exactly once, in creation order.
    let mut seen = Vec::new();
    let mut path = "/api/v1/businesses?limit=2".to_string();
    loop {
        let (status, page) = server.get(&path).await;
        assert_eq!(status, 200);
        for item in page["items"].as_array().expect("items") {
            seen.push(item["id"].as_str().expect("id").to_string());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/businesses?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, ids);

    let path = format!("/api/v1/businesses/{}", ids[0]);
    let response = server
        .client
        .get(server.url(&path))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["etag"], "\"1\"");
    let (status, updated) = server
        .patch(&path, &json!({ "name": "Renamed Brewery" }), Some("\"1\""))
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "Renamed Brewery");
    assert_eq!(updated["version"], 2);
    assert_eq!(
        updated["description"], "brewery",
        "a merge patch keeps the other fields"
    );
    // A stale ETag is refused rather than overwriting someone else's change.
    let (status, problem) = server
        .patch(&path, &json!({ "name": "Lost update" }), Some("\"1\""))
        .await;
    assert_eq!(status, 412, "{problem}");
    assert_eq!(problem["status"], 412);

    assert_eq!(server.delete(&path).await, 204);
    let (status, problem) = server.get(&path).await;
    assert_eq!(status, 404);
    assert_eq!(problem["type"], "/problems/not-found");
    assert_eq!(server.delete(&path).await, 404);
}

#[tokio::test]
async fn every_invalid_business_field_is_a_422_naming_it() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "name": "", "industry": "C11.05" }), "name"),
        (
            json!({ "name": "x".repeat(201), "industry": "C11.05" }),
            "name",
        ),
        (json!({ "name": "A", "industry": "11.999" }), "industry"),
        (json!({ "name": "A", "industry": "B11.05" }), "industry"),
        (json!({ "name": "A" }), "industry"),
        (json!({ "industry": "C11.05" }), "name"),
        (
            json!({ "name": "A", "industry": "C11.05", "contact": { "email": "nope" } }),
            "contact.email",
        ),
        (
            json!({ "name": "A", "industry": "C11.05", "contact": { "fax": "1" } }),
            "contact.fax",
        ),
        (
            json!({ "name": "A", "industry": "C11.05", "website": "ftp://x" }),
            "website",
        ),
        (
            json!({ "name": "A", "industry": "C11.05", "description": "x".repeat(5001) }),
            "description",
        ),
        (
            json!({ "name": "A", "industry": "C11.05", "colour": "green" }),
            "colour",
        ),
        (json!({ "name": 5, "industry": "C11.05" }), "name"),
    ];
    for (body, field) in cases {
        let (status, problem) = server.post("/api/v1/businesses", &body).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert!(
            error_fields(&problem).contains(&field.to_string()),
            "{body} should name {field}: {problem}"
        );
    }
}

#[tokio::test]
async fn every_invalid_site_and_flow_field_is_a_422_naming_it() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business, site) = business_with_site(&server, "Dairy", 51.2, 6.8).await;
    let sites = format!("/api/v1/businesses/{business}/sites");
    for (body, field) in [
        (
            json!({ "name": "S", "location": { "lat": 91.0, "lon": 0.0 } }),
            "location.lat",
        ),
        (
            json!({ "name": "S", "location": { "lat": 0.0, "lon": -181.0 } }),
            "location.lon",
        ),
        (json!({ "name": "S" }), "location"),
        (
            json!({ "name": "", "location": { "lat": 0.0, "lon": 0.0 } }),
            "name",
        ),
        (
            json!({ "name": "S", "location": { "lat": 0.0, "lon": 0.0, "alt": 3 } }),
            "location.alt",
        ),
    ] {
        let (status, problem) = server.post(&sites, &body).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert!(
            error_fields(&problem).contains(&field.to_string()),
            "{body} should name {field}: {problem}"
        );
    }

    let good = heat_flow(&site, "offer", 80.0, 500.0);
    let with = |patch: Value| {
        let mut body = good.clone();
        for (k, v) in patch.as_object().expect("object") {
            if v.is_null() {
                body.as_object_mut().expect("object").remove(k);
            } else {
                body[k] = v.clone();
            }
        }
        body
    };
    let cases = vec![
        (with(json!({ "category": "heat.lukewarm" })), "category"),
        (
            with(json!({ "quantity": { "value": 5, "unit": "t/day" } })),
            "quantity.unit",
        ),
        (
            with(json!({ "quantity": { "value": 5, "unit": "furlong" } })),
            "quantity.unit",
        ),
        (
            with(json!({ "quantity": { "value": -5, "unit": "kW" } })),
            "quantity.value",
        ),
        (with(json!({ "quantity": { "value": 5 } })), "quantity.unit"),
        (with(json!({ "direction": "sideways" })), "direction"),
        (
            with(json!({ "site_id": "0190b8a0-0000-7000-8000-000000000000" })),
            "site_id",
        ),
        (with(json!({ "site_id": "not-a-uuid" })), "site_id"),
        (
            with(json!({ "quality": { "temperature_c": 20.0 } })),
            "quality.temperature_c",
        ),
        (with(json!({ "quality": {} })), "quality.temperature_c"),
        (
            with(json!({ "quality": { "temperature_c": 80.0, "purity_pct": 120.0 } })),
            "quality.purity_pct",
        ),
        (
            with(json!({ "quality": { "temperature_c": 80.0, "smell": "bad" } })),
            "quality.smell",
        ),
        (with(json!({ "profile": "Funday 06:00-07:00" })), "profile"),
        (with(json!({ "profile": [1.0, 2.0] })), "profile"),
        (with(json!({ "profile": "Mon 00:00-24:00 @0" })), "profile"),
        (with(json!({ "max_distance_km": 0 })), "max_distance_km"),
        (
            with(json!({ "valid_from": "2026-05-01", "valid_until": "2026-01-01" })),
            "valid_until",
        ),
        (with(json!({ "valid_from": "yesterday" })), "valid_from"),
        (with(json!({ "status": "deleted" })), "status"),
        (
            with(json!({ "price_eur_per_unit": "cheap" })),
            "price_eur_per_unit",
        ),
        (with(json!({ "owner": "me" })), "owner"),
    ];
    for (body, field) in cases {
        let (status, problem) = server.post("/api/v1/flows", &body).await;
        assert_eq!(status, 422, "{body} -> {problem}");
        assert!(
            error_fields(&problem).contains(&field.to_string()),
            "{body} should name {field}: {problem}"
        );
        assert_eq!(problem["type"], "/problems/validation");
    }
    let (status, listed) = server.get("/api/v1/flows").await;
    assert_eq!(status, 200);
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(0),
        "no invalid flow was half-written"
    );
}

#[tokio::test]
async fn malformed_requests_get_problem_documents_not_500s() {
    let dir = temp_dir();
    let server = Server::start_with_env(
        &data_dir(&dir),
        &[],
        &[("SYMBIONT_BODY_LIMIT_BYTES", "4096")],
    );
    let post_raw = |body: &'static str, content_type: &'static str| {
        server
            .client
            .post(server.url("/api/v1/businesses"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let (status, problem) = read(
        post_raw("{\"name\": ", "application/json")
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let (status, problem) = read(
        post_raw("{} {}", "application/json")
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    let (status, _) = read(
        post_raw("name=x", "application/x-www-form-urlencoded")
            .await
            .expect("answered"),
    )
    .await;
    assert_eq!(status, 415);
    let big = format!(
        "{{\"name\": \"{}\", \"industry\": \"C11.05\"}}",
        "x".repeat(10_000)
    );
    let response = server
        .client
        .post(server.url("/api/v1/businesses"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(response.status().as_u16(), 413);

    for (path, expected) in [
        ("/api/v1/nothing-here", 404),
        ("/api/v1/businesses/not-a-uuid", 404),
        ("/api/v1/businesses?limit=0", 400),
        ("/api/v1/businesses?limit=abc", 400),
        ("/api/v1/businesses?limt=5", 400),
        ("/api/v1/businesses?cursor=xyz", 400),
        ("/api/v1/flows?direction=up", 400),
        ("/api/v1/flows?near=100,200", 400),
        ("/api/v1/flows?radius_km=5", 400),
        ("/api/v1/flows?category=unobtainium", 400),
        ("/api/v1/categories/heat.nope", 404),
    ] {
        let response = server
            .client
            .get(server.url(path))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), expected, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        assert!(response.headers().contains_key("x-request-id"), "{path}");
    }
    let response = server
        .client
        .put(server.url("/api/v1/businesses"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
}

#[tokio::test]
async fn flows_convert_units_and_filter_by_direction_category_and_distance() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business_a, site_a) = business_with_site(&server, "Near works", 51.20, 6.80).await;
    let (_, site_b) = business_with_site(&server, "Far works", 51.60, 7.40).await;
    let mut mw = heat_flow(&site_a, "offer", 85.0, 1.5);
    mw["quantity"]["unit"] = json!("MW");
    let (status, offer) = server.post("/api/v1/flows", &mw).await;
    assert_eq!(status, 201, "{offer}");
    assert_eq!(offer["canonical_unit"], "kW");
    assert!((offer["canonical_quantity"].as_f64().expect("number") - 1500.0).abs() < 1e-6);
    // 1.5 MW for 80 h a week: 1.5 × 80 × 52.1775 MWh a year.
    assert!((offer["annual_amount"].as_f64().expect("number") - 1.5 * 80.0 * 52.1775).abs() < 1e-6);
    assert_eq!(offer["business_id"].as_str(), Some(business_a.as_str()));
    let mut annual = heat_flow(&site_b, "need", 60.0, 0.0);
    annual["quantity"] = json!({ "value": 2000, "unit": "MWh/year" });
    let (status, need) = server.post("/api/v1/flows", &annual).await;
    assert_eq!(status, 201, "{need}");
    assert!(
        (need["canonical_quantity"].as_f64().expect("number") - 2000.0 * 1000.0 / (80.0 * 52.1775))
            .abs()
            < 1e-6
    );

    let count = |v: &Value| v["items"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(
        count(&server.get("/api/v1/flows?direction=offer").await.1),
        1
    );
    assert_eq!(
        count(&server.get("/api/v1/flows?direction=need").await.1),
        1
    );
    assert_eq!(count(&server.get("/api/v1/flows?category=heat").await.1), 2);
    assert_eq!(
        count(
            &server
                .get("/api/v1/flows?near=51.2,6.8&radius_km=5")
                .await
                .1
        ),
        1
    );
    assert_eq!(
        count(
            &server
                .get("/api/v1/flows?near=51.2,6.8&radius_km=100")
                .await
                .1
        ),
        2
    );
    assert_eq!(
        count(
            &server
                .get(&format!("/api/v1/businesses/{business_a}/flows"))
                .await
                .1
        ),
        1
    );

    let path = format!("/api/v1/flows/{}", offer["id"].as_str().expect("id"));
    let (status, paused) = server
        .patch(&path, &json!({ "status": "paused" }), None)
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["status"], "paused");
    assert_eq!(count(&server.get("/api/v1/flows?status=paused").await.1), 1);
    let (status, problem) = server
        .patch(&path, &json!({ "quantity": { "unit": "t/year" } }), None)
        .await;
    assert_eq!(status, 422);
    assert_eq!(error_fields(&problem), ["quantity.unit"]);
}

#[tokio::test]
async fn sites_are_served_as_geojson_on_request() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business, site) = business_with_site(&server, "Glassworks", 51.25, 6.75).await;
    let response = server
        .client
        .get(server.url(&format!("/api/v1/businesses/{business}/sites")))
        .header("accept", "application/geo+json")
        .send()
        .await
        .expect("answered");
    assert_eq!(response.headers()["content-type"], "application/geo+json");
    let (_, collection) = read(response).await;
    assert_eq!(collection["type"], "FeatureCollection");
    let feature = &collection["features"][0];
    assert_eq!(feature["id"], site.as_str());
    assert_eq!(
        feature["geometry"]["coordinates"],
        json!([6.75, 51.25]),
        "GeoJSON is lon, lat"
    );
    let (status, plain) = server.get(&format!("/api/v1/sites/{site}")).await;
    assert_eq!(status, 200);
    assert_eq!(plain["location"], json!({ "lat": 51.25, "lon": 6.75 }));
    let (status, near) = server
        .get("/api/v1/sites?near=51.25,6.75&radius_km=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(near["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn categories_are_served_with_their_rules_and_probes_answer() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (status, list) = server.get("/api/v1/categories").await;
    assert_eq!(status, 200);
    assert!(
        list["items"].as_array().map(Vec::len).unwrap_or(0) >= 40,
        "{list}"
    );
    let (status, heat) = server.get("/api/v1/categories/heat.low_temp").await;
    assert_eq!(status, 200);
    assert_eq!(heat["canonical_unit"].as_str().or(Some("kW")), Some("kW"));
    assert!(heat["served_by"].as_array().is_some_and(|r| !r.is_empty()));
    assert_eq!(server.get("/healthz").await.0, 200);
    assert_eq!(server.get("/readyz").await.0, 200);
    let (status, spec) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_in_prometheus_format() {
    let dir = temp_dir();
    let server = Server::start(&data_dir(&dir), &[]);
    let (business, _) = business_with_site(&server, "Metered", 51.0, 7.0).await;
    assert_eq!(
        server
            .get(&format!("/api/v1/businesses/{business}"))
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .get("/api/v1/businesses/0190b8a0-0000-7000-8000-000000000000")
            .await
            .0,
        404
    );
    let response = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("answered");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .is_ok_and(|t| t.starts_with("text/plain"))
    );
    let text = response.text().await.expect("text");
    for expected in [
        r#"symbiont_http_requests_total{method="POST",route="/api/v1/businesses",status="201"} 1"#,
        r#"symbiont_http_requests_total{method="GET",route="/api/v1/businesses/{id}",status="200"} 1"#,
        r#"symbiont_http_requests_total{method="GET",route="/api/v1/businesses/{id}",status="404"} 1"#,
        r#"symbiont_http_request_duration_seconds_count{method="GET",route="/api/v1/businesses/{id}"} 2"#,
        "# TYPE symbiont_http_request_duration_seconds histogram",
        "symbiont_engine_matches 0",
        "# TYPE symbiont_engine_update_duration_seconds histogram",
        r#"symbiont_store_pool_connections{pool="reader",state="idle"} "#,
        r#"symbiont_store_pool_max_connections{pool="writer"} 1"#,
        "symbiont_build_info{version=",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
}

/// The binary serves gRPC beside HTTP by default, on a listener of its own (ADR 25); the gRPC
/// suite of `symbiont-grpc` checks what it answers.
#[tokio::test]
async fn the_binary_opens_its_grpc_listener_on_its_own_port() {
    let dir = temp_dir();
    let server = Server::start_anonymous(&data_dir(&dir), &[], &[]);
    let grpc = server
        .grpc
        .strip_prefix("http://")
        .expect("the server prints `grpc listening on http://…`");
    assert_ne!(Some(grpc), server.base.strip_prefix("http://"));
    tokio::net::TcpStream::connect(grpc)
        .await
        .expect("the gRPC listener accepts connections");
    let other_dir = temp_dir();
    let off = Server::start_anonymous(
        &data_dir(&other_dir),
        &[],
        &[("SYMBIONT_GRPC_ENABLED", "false")],
    );
    assert!(
        off.grpc.is_empty(),
        "gRPC turned off still listens on {}",
        off.grpc
    );
}
