//! The committed OpenAPI document describes every route the router serves, and is self-consistent.

use serde_json::Value;

const SPEC: &str = include_str!("../../../api/openapi.json");

/// Every route of `routes::router`, with its methods. A new route must be added here and to the spec.
const ROUTES: [(&str, &[&str]); 19] = [
    ("/api/v1/businesses", &["get", "post"]),
    ("/api/v1/businesses/{id}", &["get", "patch", "delete"]),
    ("/api/v1/businesses/{id}/sites", &["get", "post"]),
    ("/api/v1/businesses/{id}/flows", &["get"]),
    ("/api/v1/businesses/{id}/matches", &["get"]),
    ("/api/v1/sites", &["get"]),
    ("/api/v1/sites/{id}", &["get", "patch", "delete"]),
    ("/api/v1/flows", &["get", "post"]),
    ("/api/v1/flows/{id}", &["get", "patch", "delete"]),
    ("/api/v1/flows/{id}/matches", &["get"]),
    ("/api/v1/matches", &["get"]),
    ("/api/v1/matches/{id}", &["get", "patch"]),
    ("/api/v1/stats", &["get"]),
    ("/api/v1/categories", &["get"]),
    ("/api/v1/categories/{code}", &["get"]),
    ("/healthz", &["get"]),
    ("/readyz", &["get"]),
    ("/openapi.json", &["get"]),
    ("/metrics", &["get"]),
];

fn spec() -> Value {
    serde_json::from_str(SPEC).expect("api/openapi.json is JSON")
}

#[test]
fn every_route_is_described_and_nothing_else() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    let paths = spec["paths"].as_object().expect("paths");
    for (path, methods) in ROUTES {
        let item = paths
            .get(path)
            .unwrap_or_else(|| panic!("{path} is missing from the spec"));
        for method in methods {
            assert!(
                item.get(*method).is_some(),
                "{method} {path} is missing from the spec"
            );
        }
        let described = item
            .as_object()
            .map_or(0, |o| o.keys().filter(|k| *k != "parameters").count());
        assert_eq!(
            described,
            methods.len(),
            "{path} describes methods the router does not serve"
        );
    }
    assert_eq!(
        paths.len(),
        ROUTES.len(),
        "the spec describes routes the router does not serve"
    );
}

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target);
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

#[test]
fn every_reference_resolves() {
    let spec = spec();
    let mut refs = Vec::new();
    collect_refs(&spec, &mut refs);
    assert!(!refs.is_empty());
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {target}"));
        assert!(spec.pointer(pointer).is_some(), "{target} does not resolve");
    }
}
