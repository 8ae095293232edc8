//! The OpenAPI document generated from the code: the committed copy (`api/openapi.json`) is
//! current, it describes exactly the routes the router serves, and it is structurally valid
//! OpenAPI 3.1 (references resolve, path parameters are declared, operation ids are unique ...).
//!
//! Regenerate the committed copy with `UPDATE_OPENAPI=1 cargo test -p symbiont-http --test openapi`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn workspace_file(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

fn spec() -> Value {
    serde_json::from_str(symbiont_http::openapi::json()).expect("the document is JSON")
}

#[test]
fn the_committed_document_is_the_generated_one() {
    let generated = symbiont_http::openapi::json();
    let path = workspace_file("api/openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some_and(|v| v != "0") {
        std::fs::write(&path, generated).expect("write api/openapi.json");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
        panic!(
            "api/openapi.json is stale (first difference at line {}: committed {:?}, generated \
             {:?}).\nRegenerate it with:\n\n    UPDATE_OPENAPI=1 cargo test -p symbiont-http --test \
             openapi\n\nand commit it with the change that caused it.",
            line + 1,
            committed.lines().nth(line).unwrap_or("<end>"),
            generated.lines().nth(line).unwrap_or("<end>"),
        );
    }
}

/// The routes `routes::router` declares, read from its source: `.route("/path", get(a).post(b))`
/// under `/api/v1` until the `.nest("/api/v1", ...)`, at the root after it.
fn router_routes() -> BTreeMap<String, BTreeSet<String>> {
    let source = std::fs::read_to_string(workspace_file("crates/http/src/routes/mod.rs"))
        .expect("read routes/mod.rs");
    let start = source.find("pub fn router()").expect("routes::router");
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("end of routes::router")];
    let nest = body
        .find(".nest(\"/api/v1\"")
        .expect("the router nests /api/v1");
    let mut routes: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut rest = body;
    let mut offset = 0;
    while let Some(at) = rest.find(".route(") {
        let open = at + ".route".len();
        let mut depth = 0;
        let mut end = open;
        for (i, c) in rest[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let call = &rest[open + 1..end];
        let path = call.split('"').nth(1).expect("a route's path literal");
        let handlers = &call[call.find(',').expect("a route's method router")..];
        let methods = identifiers_called(handlers)
            .into_iter()
            .filter(|name| METHODS.contains(&name.as_str()))
            .collect::<BTreeSet<_>>();
        assert!(!methods.is_empty(), "no method found for route {path}");
        let prefix = if offset + at < nest { "/api/v1" } else { "" };
        routes
            .entry(format!("{prefix}{path}"))
            .or_default()
            .extend(methods);
        offset += end + 1;
        rest = &rest[end + 1..];
    }
    routes
}

/// Names directly followed by `(`: `get(a).post(b)` gives get and post (not a or b).
fn identifiers_called(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() || c == '_' {
            current.push(c);
        } else {
            if c == '(' && !current.is_empty() {
                names.push(current.clone());
            }
            current.clear();
        }
    }
    names
}

#[test]
fn every_route_of_the_router_is_described_and_nothing_else() {
    let spec = spec();
    let routes = router_routes();
    assert!(routes.len() > 25, "found only {} routes", routes.len());
    assert!(routes.contains_key("/healthz") && routes.contains_key("/api/v1/businesses"));
    let described: BTreeMap<String, BTreeSet<String>> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .expect("a path item")
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect();
    for (path, methods) in &routes {
        for method in methods {
            assert!(
                described.get(path).is_some_and(|m| m.contains(method)),
                "{} {path} is served but not described: annotate its handler with \
                 #[utoipa::path] and list it in routes/doc.rs",
                method.to_uppercase()
            );
        }
    }
    for (path, methods) in &described {
        for method in methods {
            assert!(
                routes.get(path).is_some_and(|m| m.contains(method)),
                "{} {path} is described but the router does not serve it",
                method.to_uppercase()
            );
        }
    }
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
    assert!(refs.len() > 100, "only {} references", refs.len());
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {target}"));
        assert!(spec.pointer(pointer).is_some(), "{target} does not resolve");
    }
}

/// Follows one `$ref` (parameters and responses may be references).
fn resolve<'a>(spec: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(target) => spec
            .pointer(target.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("{target} does not resolve")),
        None => value,
    }
}

#[test]
fn the_document_is_structurally_valid_openapi_3_1() {
    let spec = spec();
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1.")),
        "openapi: {}",
        spec["openapi"]
    );
    assert!(spec["info"]["title"].is_string() && spec["info"]["version"].is_string());
    let schemes: BTreeSet<&str> = spec["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(schemes, BTreeSet::from(["apiKey", "bearer"]));
    let tags: BTreeSet<&str> = spec["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let mut operation_ids = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let templated: BTreeSet<&str> = path
            .split('{')
            .skip(1)
            .filter_map(|s| s.split('}').next())
            .collect();
        for (method, operation) in item.as_object().expect("a path item") {
            let at = format!("{} {path}", method.to_uppercase());
            assert!(METHODS.contains(&method.as_str()), "{at}: not a method");
            let id = operation["operationId"].as_str().expect("an operationId");
            assert!(operation_ids.insert(id), "{at}: operationId {id} is taken");
            assert!(
                operation["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{at}: no summary"
            );
            for tag in operation["tags"].as_array().expect("tags") {
                let tag = tag.as_str().expect("a tag name");
                assert!(tags.contains(tag), "{at}: tag {tag} is not declared");
            }
            // Path parameters: exactly the template's, each required; no duplicate parameters.
            let mut declared_path = BTreeSet::new();
            let mut seen = BTreeSet::new();
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let parameter = resolve(&spec, parameter);
                let name = parameter["name"].as_str().expect("a parameter name");
                let place = parameter["in"].as_str().expect("a parameter location");
                assert!(
                    ["path", "query", "header", "cookie"].contains(&place),
                    "{at}: {name} in {place}"
                );
                assert!(
                    seen.insert((name.to_ascii_lowercase(), place)),
                    "{at}: {name} twice"
                );
                assert!(
                    parameter["schema"].is_object(),
                    "{at}: {name} has no schema"
                );
                if place == "path" {
                    assert_eq!(parameter["required"], true, "{at}: {name} must be required");
                    declared_path.insert(name);
                }
            }
            assert_eq!(declared_path, templated, "{at}: path parameters");
            // Responses: a success (or the WebSocket upgrade's 101), every status a code, every
            // error a problem document.
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.keys().any(|s| s.starts_with('2') || s == "101"),
                "{at}: no success response"
            );
            for (status, response) in responses {
                let code: u16 = status
                    .parse()
                    .unwrap_or_else(|_| panic!("{at}: status {status}"));
                assert!((100..600).contains(&code), "{at}: status {status}");
                let response = resolve(&spec, response);
                assert!(
                    response["description"].is_string(),
                    "{at} {status}: no description"
                );
                if code >= 400 {
                    assert!(
                        response["content"]["application/problem+json"]["schema"]["$ref"]
                            == "#/components/schemas/Problem",
                        "{at} {status}: not a problem document"
                    );
                }
            }
            if operation["requestBody"].is_object() {
                assert!(
                    ["post", "put", "patch"].contains(&method.as_str()),
                    "{at}: a body on a {method}"
                );
                assert!(
                    responses.contains_key("415") && responses.contains_key("422"),
                    "{at}: a JSON body can be refused with 415 and 422"
                );
            }
            // Security: anonymous (`{}`) or known schemes; writes list 401 and 403 unless open.
            let security = operation["security"].as_array().expect("security");
            assert!(!security.is_empty(), "{at}: no security requirement");
            for requirement in security {
                for scheme in requirement.as_object().expect("a requirement").keys() {
                    assert!(schemes.contains(scheme.as_str()), "{at}: scheme {scheme}");
                }
            }
            assert!(responses.contains_key("401"), "{at}: no 401");
            assert!(responses.contains_key("429"), "{at}: no 429");
            let open = security
                .iter()
                .any(|r| r.as_object().is_some_and(|o| o.is_empty()));
            if method != "get" && !open {
                assert!(responses.contains_key("403"), "{at}: no 403");
            }
        }
    }
}

#[test]
fn schemas_follow_the_wire_format() {
    let spec = spec();
    let schemas = &spec["components"]["schemas"];
    // Request bodies refuse unknown fields, as their serde types do.
    for name in [
        "BusinessDraft",
        "SiteDraft",
        "FlowDraft",
        "Quality",
        "Quantity",
        "GeoPoint",
        "Contact",
        "MatchUpdate",
        "LoginRequest",
        "RefreshRequest",
        "NewApiKey",
        "NewUser",
        "NewMember",
    ] {
        assert_eq!(
            schemas[name]["additionalProperties"], false,
            "{name} accepts unknown fields"
        );
    }
    // Weekly profiles: a schedule string or 168 hourly values in; always 168 values out.
    let profile = &schemas["Profile"]["oneOf"];
    assert_eq!(profile[0]["type"], "string");
    assert_eq!(profile[1]["minItems"], 168);
    assert_eq!(profile[1]["maxItems"], 168);
    assert_eq!(
        schemas["FlowDraft"]["properties"]["profile"]["$ref"],
        "#/components/schemas/Profile"
    );
    assert_eq!(schemas["WeeklyProfile"]["type"], "array");
    assert_eq!(schemas["WeeklyProfile"]["minItems"], 168);
    // The problem document's member is `type`, not the Rust field's name.
    assert!(schemas["Problem"]["properties"]["type"].is_object());
    assert!(schemas["Problem"]["properties"]["kind"].is_null());
    // Secrets never appear in a response schema.
    assert!(schemas["User"]["properties"]["password_hash"].is_null());
    // GeoJSON alternatives.
    let sites = &spec["paths"]["/api/v1/sites"]["get"]["responses"]["200"]["content"];
    assert_eq!(
        sites["application/geo+json"]["schema"]["$ref"],
        "#/components/schemas/FeatureCollection"
    );
    assert_eq!(
        schemas["Feature"]["properties"]["geometry"]["$ref"],
        "#/components/schemas/PointGeometry"
    );
}
