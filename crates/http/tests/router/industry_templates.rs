//! `/api/v1/templates` and the flows suggested when a business is registered.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn templates_answer_for_sixty_classes_and_by_any_spelling_of_one() {
    let app = TestApp::start().await;
    let (status, _, all) = app.get("/api/v1/templates", &Who::Anonymous).await;
    assert_eq!(status, 200, "{all}");
    let classes = all["items"].as_array().map_or(0, Vec::len);
    assert!(classes >= 60, "{classes} classes");
    for spelling in ["C11.05", "11.05", "c11.05"] {
        let (status, _, brewery) = app
            .get(&format!("/api/v1/templates/{spelling}"), &Who::Anonymous)
            .await;
        assert_eq!(status, 200, "{spelling}: {brewery}");
        assert_eq!(brewery["nace"], "C11.05");
        let suggested = brewery["suggested_flows"].as_array().expect("suggestions");
        assert_eq!(
            suggested.len(),
            brewery["flows"].as_array().map_or(0, Vec::len)
        );
        assert!(
            suggested
                .iter()
                .any(|f| f["category"] == "material.spent_grain")
        );
    }
}

#[tokio::test]
async fn a_class_without_a_template_is_a_404_naming_its_neighbours() {
    let app = TestApp::start().await;
    let answer = app.get("/api/v1/templates/C10.52", &Who::Anonymous).await;
    assert_problem(&answer, 404, "not-found");
    assert!(
        answer.2["detail"]
            .as_str()
            .is_some_and(|d| d.contains("C10.51")),
        "{}",
        answer.2
    );
    for bad in ["C10", "nonsense"] {
        let answer = app
            .get(&format!("/api/v1/templates/{bad}"), &Who::Anonymous)
            .await;
        assert_problem(&answer, 404, "not-found");
    }
}

#[tokio::test]
async fn a_new_business_is_suggested_its_class_flows_which_post_as_they_are() {
    let app = TestApp::start().await;
    let (_, owner) = app.user("brewer@x.example", false).await;
    let (status, _, business) = app
        .post("/api/v1/businesses", &owner, &business_body("Hafenbräu"))
        .await;
    assert_eq!(status, 201, "{business}");
    let suggested = business["suggested_flows"]
        .as_array()
        .expect("suggestions")
        .clone();
    assert!(!suggested.is_empty(), "{business}");
    let id = id_of(&business);
    let site = app
        .create(
            &format!("/api/v1/businesses/{id}/sites"),
            &owner,
            &site_body(53.55, 9.99),
        )
        .await;
    for mut flow in suggested {
        flow["site_id"] = json!(site);
        if let Some(object) = flow.as_object_mut() {
            object.remove("typical_range");
        }
        let (status, _, created) = app.post("/api/v1/flows", &owner, &flow).await;
        assert_eq!(status, 201, "{flow}: {created}");
    }
    // The business itself reads back without the suggestions.
    let (_, _, read) = app.get(&format!("/api/v1/businesses/{id}"), &owner).await;
    assert!(read.get("suggested_flows").is_none(), "{read}");
    // A class without a template gets none.
    let (_, _, other) = app
        .post(
            "/api/v1/businesses",
            &owner,
            &json!({ "name": "Consultancy", "industry": "M70.22" }),
        )
        .await;
    assert_eq!(other["suggested_flows"], json!([]), "{other}");
}
