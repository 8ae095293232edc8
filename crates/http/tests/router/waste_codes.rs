//! `/api/v1/ewc` and flows registered by waste code: the search and its paging, each bad
//! parameter named in a 422, the category a code gives a flow, and the hazardous flag.

use serde_json::{Value, json};

use crate::harness::*;

fn codes(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .map(|items| items.iter().filter_map(|i| i["code"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_catalogue_is_searched_by_words_and_code_prefixes() {
    let app = TestApp::start().await;
    let (status, _, page) = app.get("/api/v1/ewc?q=mill%20scale", &Who::Anonymous).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(codes(&page), ["10 02 10"]);
    assert_eq!(page["items"][0]["category"], "material.mill_scale");
    assert_eq!(page["items"][0]["hazardous"], false);
    assert_eq!(page["version"], "2000/532/EC as amended by 2014/955/EU");
    let (_, _, section) = app.get("/api/v1/ewc?q=1608", &Who::Anonymous).await;
    assert_eq!(codes(&section).len(), 7, "{section}");
    let (_, _, hazardous) = app
        .get("/api/v1/ewc?q=16%2008&hazardous=true", &Who::Anonymous)
        .await;
    assert_eq!(
        codes(&hazardous),
        ["16 08 02", "16 08 05", "16 08 06", "16 08 07"]
    );
    // An entry without a category says why.
    let (_, _, health) = app.get("/api/v1/ewc?q=18%2001%2003", &Who::Anonymous).await;
    assert!(health["items"][0]["category"].is_null(), "{health}");
    assert!(health["items"][0]["no_category"].is_string(), "{health}");
    // Entries a flow of a category may carry, its own and those admitting it.
    let (_, _, pet) = app
        .get("/api/v1/ewc?category=material.plastic_pet", &Who::Anonymous)
        .await;
    assert!(codes(&pet).contains(&"15 01 02"), "{pet}");
}

#[tokio::test]
async fn the_whole_catalogue_pages_in_code_order() {
    let app = TestApp::start().await;
    let mut seen = Vec::new();
    let mut url = "/api/v1/ewc?limit=300".to_string();
    loop {
        let (status, _, page) = app.get(&url, &Who::Anonymous).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(codes(&page).into_iter().map(str::to_string));
        match page["next_cursor"].as_str() {
            Some(cursor) => url = format!("/api/v1/ewc?limit=300&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 842);
    assert!(seen.windows(2).all(|pair| pair[0] < pair[1]));
}

#[tokio::test]
async fn a_bad_catalogue_parameter_is_a_422_naming_it() {
    let app = TestApp::start().await;
    let long = "x".repeat(201);
    for (query, field) in [
        (format!("q={long}"), "q"),
        ("hazardous=maybe".into(), "hazardous"),
        ("category=material.nope".into(), "category"),
        ("cursor=not-a-code".into(), "cursor"),
        ("limit=0".into(), "limit"),
        ("limit=1001".into(), "limit"),
        ("limit=ten".into(), "limit"),
    ] {
        let answer = app
            .get(&format!("/api/v1/ewc?{query}"), &Who::Anonymous)
            .await;
        assert_invalid(&answer, field);
    }
    // As on every route, a parameter the endpoint does not know is a 400.
    let answer = app.get("/api/v1/ewc?chapter=10", &Who::Anonymous).await;
    assert_bad_request(&answer, "chapter");
}

#[tokio::test]
async fn one_entry_is_found_by_any_spelling_of_its_code() {
    let app = TestApp::start().await;
    for spelling in ["160802", "16%2008%2002", "16%2008%2002*"] {
        let (status, _, entry) = app
            .get(&format!("/api/v1/ewc/{spelling}"), &Who::Anonymous)
            .await;
        assert_eq!(status, 200, "{spelling}: {entry}");
        assert_eq!(entry["code"], "16 08 02");
        assert_eq!(entry["hazardous"], true);
        assert_eq!(entry["category"], "material.spent_catalyst_base_metal");
    }
    let answer = app.get("/api/v1/ewc/999999", &Who::Anonymous).await;
    assert_problem(&answer, 404, "not-found");
}

fn waste_flow(site: &str, change: Value) -> Value {
    let mut draft = json!({
        "site_id": site,
        "direction": "offer",
        "quantity": { "value": 120, "unit": "t/year" },
    });
    symbiont_app::merge_patch::merge_patch(&mut draft, &change);
    draft
}

#[tokio::test]
async fn a_flow_registered_by_waste_code_shows_its_category_and_hazard() {
    let world = World::new().await;
    let (status, _, flow) = world
        .app
        .post(
            "/api/v1/flows",
            &world.owner,
            &waste_flow(&world.site_a, json!({ "ewc_code": "160802" })),
        )
        .await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(flow["category"], "material.spent_catalyst_base_metal");
    assert_eq!(flow["ewc_code"], "16 08 02");
    assert_eq!(flow["hazardous"], true);
    // Changing the code alone moves the flow to the new code's category.
    let id = id_of(&flow);
    let (status, _, changed) = world
        .app
        .patch(
            &format!("/api/v1/flows/{id}"),
            &world.owner,
            &json!({ "ewc_code": "10 02 10" }),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["category"], "material.mill_scale");
    assert!(changed.get("hazardous").is_none(), "{changed}");
    // A flow registered by category alone carries neither.
    let (_, _, plain) = world
        .app
        .get(&format!("/api/v1/flows/{}", world.offer), &world.owner)
        .await;
    assert!(
        plain.get("ewc_code").is_none() && plain.get("hazardous").is_none(),
        "{plain}"
    );
}

#[tokio::test]
async fn an_unknown_code_or_a_mismatched_category_is_a_422_naming_the_field() {
    let world = World::new().await;
    for (change, field) in [
        (json!({ "ewc_code": "99 99 99" }), "ewc_code"),
        (json!({ "ewc_code": "fly ash" }), "ewc_code"),
        // Health-care waste has no matching category; without one given it cannot be registered.
        (json!({ "ewc_code": "18 01 03" }), "ewc_code"),
        (
            json!({ "ewc_code": "10 01 02", "category": "material.spent_fcc_catalyst" }),
            "category",
        ),
        (json!({}), "category"),
    ] {
        let answer = world
            .app
            .post(
                "/api/v1/flows",
                &world.owner,
                &waste_flow(&world.site_a, change.clone()),
            )
            .await;
        assert_invalid(&answer, field);
        assert_eq!(fields(&answer.2), [field], "{change}: {}", answer.2);
    }
}

#[tokio::test]
async fn a_match_on_hazardous_waste_carries_the_note_even_when_redacted() {
    let world = World::new().await;
    let offer = world
        .app
        .create(
            "/api/v1/flows",
            &world.owner,
            &waste_flow(
                &world.site_a,
                json!({ "ewc_code": "16 08 02*", "anonymous": true }),
            ),
        )
        .await;
    world
        .app
        .create(
            "/api/v1/flows",
            &world.other,
            &waste_flow(
                &world.site_b,
                json!({ "direction": "need", "category": "material.spent_catalyst_base_metal" }),
            ),
        )
        .await;
    let expected = json!({
        "ewc_code": "16 08 02*",
        "note": "hazardous waste: consignment note and permitted receiver required",
    });
    let (status, _, own) = world
        .app
        .get(&format!("/api/v1/flows/{offer}/matches"), &world.owner)
        .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["items"][0]["hazardous_waste"], expected, "{own}");
    // The receiving side sees the hazard before the anonymous owner accepts contact.
    let (_, _, theirs) = world
        .app
        .get(
            &format!("/api/v1/businesses/{}/matches", world.business_b),
            &world.other,
        )
        .await;
    let redacted = theirs["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|m| m["offer_category"] == "material.spent_catalyst_base_metal")
        })
        .unwrap_or_else(|| panic!("the need's match: {theirs}"));
    assert!(redacted["offer_flow_id"].is_null(), "redacted: {redacted}");
    assert_eq!(redacted["hazardous_waste"], expected);
}
