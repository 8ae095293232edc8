//! Query parameters of the list routes: an unknown or repeated parameter, a bad page size or
//! cursor, a bad `near`, a bad filter value: each a 400 problem naming the parameter.

use crate::harness::*;

/// Every route that reads query parameters.
fn list_routes(world: &World) -> Vec<String> {
    let a = &world.business_a;
    let offer = &world.offer;
    vec![
        "/api/v1/businesses".into(),
        format!("/api/v1/businesses/{a}/sites"),
        format!("/api/v1/businesses/{a}/flows"),
        format!("/api/v1/businesses/{a}/matches"),
        format!("/api/v1/flows/{offer}/matches"),
        "/api/v1/matches".into(),
        "/api/v1/stats".into(),
        "/api/v1/sites".into(),
        "/api/v1/flows".into(),
        "/api/v1/categories".into(),
        "/api/v1/admin/audit".into(),
        "/api/v1/admin/users".into(),
        "/api/v1/network/chains".into(),
        "/api/v1/network/clusters".into(),
        "/api/v1/network/anchors".into(),
    ]
}

/// The list routes that page, with their largest page.
fn paged_routes(world: &World) -> Vec<(String, u32)> {
    list_routes(world)
        .into_iter()
        .filter(|path| !path.ends_with("/stats") && !path.ends_with("/categories"))
        .map(|path| {
            let max = if path.ends_with("/admin/audit") {
                500
            } else {
                1000
            };
            (path, max)
        })
        .collect()
}

/// GETs `path?query` as the admin (who may read every route) and expects a 400 naming `field`.
async fn assert_rejected(world: &World, path: &str, query: &str, field: &str) {
    let url = format!("{path}?{query}");
    let answer = world.app.get(&url, &world.admin).await;
    assert_eq!(answer.0, 400, "GET {url}: {}", answer.2);
    assert_bad_request(&answer, field);
}

#[tokio::test]
async fn an_unknown_query_parameter_is_a_400_naming_it_on_every_list_route() {
    let world = World::new().await;
    for path in list_routes(&world) {
        assert_rejected(&world, &path, "limt=5", "limt").await;
        assert_rejected(&world, &path, "colour=blue&", "colour").await;
    }
}

#[tokio::test]
async fn a_repeated_query_parameter_is_a_400_naming_it_on_every_list_route() {
    let world = World::new().await;
    for path in list_routes(&world) {
        assert_rejected(&world, &path, "limit=1&limit=2", "limit").await;
    }
}

#[tokio::test]
async fn a_page_size_out_of_range_or_not_a_number_is_a_400_naming_limit() {
    let world = World::new().await;
    for (path, max) in paged_routes(&world) {
        for limit in [
            "0".to_string(),
            (max + 1).to_string(),
            "ten".into(),
            "-1".into(),
            "1.5".into(),
        ] {
            assert_rejected(&world, &path, &format!("limit={limit}"), "limit").await;
        }
    }
}

#[tokio::test]
async fn a_cursor_that_no_page_gave_is_a_400_naming_cursor() {
    let world = World::new().await;
    for (path, _) in paged_routes(&world) {
        assert_rejected(&world, &path, "cursor=not-a-cursor", "cursor").await;
    }
}

#[tokio::test]
async fn a_bad_near_or_radius_is_a_400_naming_it() {
    let world = World::new().await;
    let a = &world.business_a;
    let near_routes = [
        "/api/v1/sites".to_string(),
        format!("/api/v1/businesses/{a}/sites"),
        "/api/v1/flows".to_string(),
        format!("/api/v1/businesses/{a}/flows"),
    ];
    let cases = [
        ("near=abc", "near"),
        ("near=50.9", "near"),
        ("near=91,6.9", "near"),
        ("near=50.9,181", "near"),
        ("near=50.9,east", "near"),
        ("radius_km=5", "radius_km"),
        ("near=50.9,6.9&radius_km=0", "radius_km"),
        ("near=50.9,6.9&radius_km=-3", "radius_km"),
        ("near=50.9,6.9&radius_km=20001", "radius_km"),
        ("near=50.9,6.9&radius_km=far", "radius_km"),
    ];
    for path in &near_routes {
        for (query, field) in cases {
            assert_rejected(&world, path, query, field).await;
        }
    }
}

#[tokio::test]
async fn an_id_filter_that_is_not_a_uuid_is_a_400_naming_it() {
    let world = World::new().await;
    for (path, parameter) in [
        ("/api/v1/sites", "business_id"),
        ("/api/v1/flows", "business_id"),
        ("/api/v1/flows", "site_id"),
        ("/api/v1/matches", "business_id"),
        ("/api/v1/matches", "flow_id"),
        ("/api/v1/admin/audit", "user_id"),
    ] {
        assert_rejected(&world, path, &format!("{parameter}=x"), parameter).await;
    }
}

#[tokio::test]
async fn a_filter_the_scoped_route_already_fixes_is_a_400_naming_it() {
    // `/businesses/{id}/…` fixes the business and `/flows/{id}/matches` the flow.
    let world = World::new().await;
    let (a, b, offer) = (&world.business_a, &world.business_b, &world.offer);
    for path in [
        format!("/api/v1/businesses/{a}/sites"),
        format!("/api/v1/businesses/{a}/flows"),
    ] {
        assert_rejected(&world, &path, &format!("business_id={b}"), "business_id").await;
    }
    assert_rejected(
        &world,
        &format!("/api/v1/flows/{offer}/matches"),
        &format!("flow_id={}", world.need),
        "flow_id",
    )
    .await;
}

#[tokio::test]
async fn a_bad_flow_filter_is_a_400_naming_it() {
    let world = World::new().await;
    let a = &world.business_a;
    for path in [
        "/api/v1/flows".to_string(),
        format!("/api/v1/businesses/{a}/flows"),
    ] {
        assert_rejected(&world, &path, "direction=sideways", "direction").await;
        assert_rejected(&world, &path, "status=sleeping", "status").await;
        assert_rejected(&world, &path, "category=heat.nope", "category").await;
    }
}

#[tokio::test]
async fn a_bad_match_filter_is_a_400_naming_it() {
    let world = World::new().await;
    let (a, offer) = (&world.business_a, &world.offer);
    for path in [
        "/api/v1/matches".to_string(),
        format!("/api/v1/businesses/{a}/matches"),
        format!("/api/v1/flows/{offer}/matches"),
    ] {
        assert_rejected(&world, &path, "min_score=2", "min_score").await;
        assert_rejected(&world, &path, "min_score=-0.1", "min_score").await;
        assert_rejected(&world, &path, "min_score=high", "min_score").await;
        assert_rejected(&world, &path, "status=maybe", "status").await;
        assert_rejected(&world, &path, "sort=cheapest", "sort").await;
        assert_rejected(&world, &path, "category=heat.nope", "category").await;
    }
}

#[tokio::test]
async fn a_bad_network_filter_is_a_400_naming_it() {
    let world = World::new().await;
    for path in [
        "/api/v1/network/chains",
        "/api/v1/network/clusters",
        "/api/v1/network/anchors",
    ] {
        for bbox in [
            "6.9,50.9,7.0",
            "6.9,50.9,7.0,51.0,1",
            "west,50.9,7.0,51.0",
            "7.0,50.9,6.9,51.0",
            "6.9,51.0,7.0,50.9",
            "6.9,-91,7.0,51.0",
            "181,50.9,182,51.0",
        ] {
            assert_rejected(&world, path, &format!("bbox={bbox}"), "bbox").await;
        }
        assert_rejected(&world, path, "status=maybe", "status").await;
        assert_rejected(&world, path, "status=agreed,expired", "status").await;
        assert_rejected(&world, path, "status=rejected", "status").await;
        assert_rejected(&world, path, "category=heat.nope", "category").await;
    }
}

#[tokio::test]
async fn a_query_on_a_scoped_list_of_an_unknown_owner_is_a_404_before_its_parameters() {
    let world = World::new().await;
    let unknown = uuid::Uuid::now_v7();
    for path in [
        format!("/api/v1/businesses/{unknown}/sites?colour=blue"),
        format!("/api/v1/businesses/{unknown}/flows?colour=blue"),
        format!("/api/v1/businesses/{unknown}/matches?colour=blue"),
        format!("/api/v1/flows/{unknown}/matches?colour=blue"),
    ] {
        let answer = world.app.get(&path, &world.admin).await;
        assert_problem(&answer, 404, "not-found");
    }
}
