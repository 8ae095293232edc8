//! The attacker's suite for anonymous flows: a stranger with a public need moves its own site, in
//! small steps and in large ones, and reads the redacted match each time; a hidden site moved
//! anywhere inside its grid cell must look the same to every probe, so trilateration from any number
//! of probes places it no closer than its cell (up to `GRID_KM / √2` ≈ 3.5 km from the best
//! guess, the cell centre; ADR 0013).

use serde_json::{Value, json};
use symbiont_app::visibility::{GRID_KM, coarsen};
use symbiont_core::GeoPoint;

use crate::harness::{TestApp, Who, business_body, heat_flow, site_body};

/// A business with an anonymous heat offer, and a stranger with a public heat need.
struct Scene {
    app: TestApp,
    hider: Who,
    hidden_site: String,
    probe: Who,
    probe_site: String,
    need: String,
}

async fn scene(hidden_at: GeoPoint, probe_at: GeoPoint) -> Scene {
    let app = TestApp::start().await;
    let (_, hider) = app.user("hider@c.example", false).await;
    let (_, probe) = app.user("probe@d.example", false).await;
    let business = app
        .create("/api/v1/businesses", &hider, &business_body("Hidden Works"))
        .await;
    let hidden_site = app
        .create(
            &format!("/api/v1/businesses/{business}/sites"),
            &hider,
            &site_body(hidden_at.lat, hidden_at.lon),
        )
        .await;
    let mut offer = heat_flow(&hidden_site, "offer", 85.0, 400.0);
    offer["anonymous"] = json!(true);
    app.create("/api/v1/flows", &hider, &offer).await;
    let probe_business = app
        .create("/api/v1/businesses", &probe, &business_body("Probe Ltd"))
        .await;
    let probe_site = app
        .create(
            &format!("/api/v1/businesses/{probe_business}/sites"),
            &probe,
            &site_body(probe_at.lat, probe_at.lon),
        )
        .await;
    let need = app
        .create(
            "/api/v1/flows",
            &probe,
            &heat_flow(&probe_site, "need", 60.0, 200.0),
        )
        .await;
    Scene {
        app,
        hider,
        hidden_site,
        probe,
        probe_site,
        need,
    }
}

impl Scene {
    async fn move_site(&self, site: &str, who: &Who, at: GeoPoint) {
        let answer = self
            .app
            .patch(
                &format!("/api/v1/sites/{site}"),
                who,
                &json!({ "location": { "lat": at.lat, "lon": at.lon } }),
            )
            .await;
        assert_eq!(answer.0, 200, "{}", answer.2);
    }

    /// Every redacted view the probe can get of the match: in its need's list, in the list of all
    /// matches, and read on its own.
    async fn views(&self) -> Vec<Value> {
        let mut out = Vec::new();
        let mut id = None;
        for path in [
            format!("/api/v1/flows/{}/matches", self.need),
            "/api/v1/matches".to_string(),
        ] {
            let page = self.app.get(&path, &self.probe).await;
            assert_eq!(page.0, 200, "{}", page.2);
            let items = page.2["items"].as_array().cloned().unwrap_or_default();
            assert_eq!(items.len(), 1, "{path}: {}", page.2);
            id = items[0]["id"].as_str().map(str::to_string);
            out.push(items[0].clone());
        }
        let one = self
            .app
            .get(
                &format!("/api/v1/matches/{}", id.unwrap_or_default()),
                &self.probe,
            )
            .await;
        assert_eq!(one.0, 200, "{}", one.2);
        out.push(one.2);
        out.push(self.map_line().await);
        for view in &out {
            assert_eq!(view["redacted"], json!(["offer"]), "{view}");
        }
        out
    }
}

impl Scene {
    /// The match as the map draws it for the probe (`GET /map/matches`): the line's fields with
    /// its offer end, the hidden side's. The need end is the probe's own site, which moves with it.
    async fn map_line(&self) -> Value {
        let lines = self.app.get("/api/v1/map/matches", &self.probe).await;
        assert_eq!(lines.0, 200, "{}", lines.2);
        let features = lines.2["features"].as_array().cloned().unwrap_or_default();
        assert_eq!(features.len(), 1, "{}", lines.2);
        let line = &features[0];
        let hidden_end = &line["geometry"]["coordinates"][0];
        let hidden_site = self
            .app
            .get(&format!("/api/v1/sites/{}", self.hidden_site), &self.hider)
            .await;
        let at = GeoPoint {
            lat: hidden_site.2["location"]["lat"]
                .as_f64()
                .unwrap_or_default(),
            lon: hidden_site.2["location"]["lon"]
                .as_f64()
                .unwrap_or_default(),
        };
        let centre = coarsen(at);
        assert_eq!(
            *hidden_end,
            json!([centre.lon, centre.lat]),
            "the hidden end is its cell's centre"
        );
        assert_eq!(line["properties"]["offer_place"], "cell");
        assert_eq!(line["properties"]["need_place"], "site");
        for field in ["offer_business_id", "offer_flow_id"] {
            assert!(
                line["properties"].get(field).is_none_or(Value::is_null),
                "{field} in {line}"
            );
        }
        let mut view = line["properties"].clone();
        view["offer_end"] = hidden_end.clone();
        view
    }
}

/// `from` moved `north_km` north and `east_km` east.
fn offset(from: GeoPoint, north_km: f64, east_km: f64) -> GeoPoint {
    let km_per_degree = 6371.0 * std::f64::consts::PI / 180.0;
    GeoPoint {
        lat: from.lat + north_km / km_per_degree,
        lon: from.lon + east_km / (km_per_degree * from.lat.to_radians().cos()),
    }
}

/// Points inside the grid cell of `at`, around its centre (a margin from the edges).
fn inside_cell(at: GeoPoint, steps: &[(f64, f64)]) -> Vec<GeoPoint> {
    let centre = coarsen(at);
    steps
        .iter()
        .map(|(n, e)| {
            let p = offset(centre, n * GRID_KM, e * GRID_KM);
            assert_eq!(coarsen(p), centre, "{p:?} left the cell");
            p
        })
        .collect()
}

const HIDDEN: GeoPoint = GeoPoint {
    lat: 50.9412,
    lon: 6.9583,
};

#[tokio::test]
async fn a_probe_moving_its_site_150_m_at_a_time_sees_no_field_of_a_redacted_match_change() {
    let start = inside_cell(offset(HIDDEN, 1.5, 1.0), &[(-0.3, -0.3)])[0];
    let scene = scene(HIDDEN, start).await;
    let first = scene.views().await;
    // Ten steps of 150 m (north-east), staying inside the probe's cell.
    for step in 1..=10 {
        let at = offset(start, 0.106 * f64::from(step), 0.106 * f64::from(step));
        assert_eq!(coarsen(at), coarsen(start), "step {step} left the cell");
        scene.move_site(&scene.probe_site, &scene.probe, at).await;
        let now = scene.views().await;
        assert_eq!(now, first, "after step {step}");
    }
    // Nothing exact is served: no figure of the pair, no digit of the hidden distance.
    let view = &first[2];
    for field in [
        "distance_km",
        "components",
        "savings_eur_per_year",
        "co2_t_per_year",
        "temporal_overlap",
        "quality_margin",
        "allowed_distance_km",
        "offer_business_id",
        "offer_flow_id",
    ] {
        assert_eq!(view[field], Value::Null, "{field} in {view}");
    }
    let score = view["score"].as_f64().unwrap_or(-1.0);
    assert_eq!((score * 4.0).fract(), 0.0, "score {score} is not a level");
}

#[tokio::test]
async fn large_moves_of_the_probe_change_only_banded_fields() {
    let start = offset(HIDDEN, 1.0, 1.0);
    let scene = scene(HIDDEN, start).await;
    let allowed: std::collections::BTreeSet<&str> = [
        "score",
        "distance_band",
        "savings_band",
        "co2_band",
        "explanation",
        "decision_version",
    ]
    .into();
    let first = scene.views().await;
    for (north, east) in [(6.0, 0.0), (0.0, 8.0), (-4.0, -4.0)] {
        scene
            .move_site(&scene.probe_site, &scene.probe, offset(HIDDEN, north, east))
            .await;
        for (before, after) in first.iter().zip(scene.views().await) {
            for (key, value) in after.as_object().into_iter().flatten() {
                if before[key] != *value {
                    assert!(allowed.contains(key.as_str()), "{key} changed: {value}");
                }
            }
        }
    }
}

/// Trilateration: three probes around the hidden site read the match while the hidden site stands
/// at five places in its cell up to ~3 km apart; each probe sees the same views for all five, so
/// no computation on what the probes see can tell the places apart.
#[tokio::test]
async fn trilateration_from_three_probes_cannot_place_a_hidden_site_inside_its_cell() {
    let places = inside_cell(
        HIDDEN,
        &[
            (0.0, 0.0),
            (0.3, 0.3),
            (-0.3, 0.3),
            (0.3, -0.3),
            (-0.3, -0.3),
        ],
    );
    for probe_at in [
        offset(HIDDEN, 4.0, 0.0),
        offset(HIDDEN, -2.0, 3.5),
        offset(HIDDEN, -2.0, -3.5),
    ] {
        let scene = scene(places[0], probe_at).await;
        let first = scene.views().await;
        for place in &places[1..] {
            scene
                .move_site(&scene.hidden_site, &scene.hider, *place)
                .await;
            assert_eq!(scene.views().await, first, "hidden site at {place:?}");
        }
    }
}

/// Before, whether the match existed was decided on the exact distance: a probe walking outwards
/// saw it vanish exactly where its distance to the hidden site reached the 10 km limit, and three
/// such edges trilaterate the site. Now the limit is checked from the hidden site's cell centre:
/// the probe walks east across the edge in 250 m steps while the hidden site stands at five places
/// in its cell up to ~3 km apart, and sees the match appear and vanish at the same steps each time,
/// at 10 km from the cell centre.
#[tokio::test]
async fn the_edge_where_a_match_with_a_hidden_side_vanishes_says_only_the_cell() {
    let places = inside_cell(
        HIDDEN,
        &[
            (0.0, 0.0),
            (0.3, 0.3),
            (-0.3, 0.3),
            (0.3, -0.3),
            (-0.3, -0.3),
        ],
    );
    let centre = coarsen(HIDDEN);
    let walk: Vec<GeoPoint> = (0..28)
        .map(|step| offset(centre, 0.0, 6.6 + 0.25 * f64::from(step)))
        .collect();
    let scene = scene(places[0], walk[0]).await;
    let mut seen: Vec<Vec<bool>> = Vec::new();
    for place in &places {
        scene
            .move_site(&scene.hidden_site, &scene.hider, *place)
            .await;
        let mut exists = Vec::new();
        for at in &walk {
            scene.move_site(&scene.probe_site, &scene.probe, *at).await;
            let page = scene
                .app
                .get(
                    &format!("/api/v1/flows/{}/matches", scene.need),
                    &scene.probe,
                )
                .await;
            assert_eq!(page.0, 200, "{}", page.2);
            exists.push(!page.2["items"].as_array().is_none_or(Vec::is_empty));
        }
        seen.push(exists);
    }
    let edge = walk
        .iter()
        .position(|at| symbiont_core::haversine_km(centre, *at) > 10.0)
        .unwrap_or(walk.len());
    let expected: Vec<bool> = (0..walk.len()).map(|step| step < edge).collect();
    for (place, exists) in places.iter().zip(&seen) {
        assert_eq!(exists, &expected, "hidden site at {place:?}");
    }
}

/// Before, any signed-in writer got the 409 "match … has expired (distance now 61.2 km > 10 km)"
/// for any expired match id, and the hidden distance with it.
#[tokio::test]
async fn an_expired_match_tells_only_its_parties_that_it_expired_and_never_the_hidden_distance() {
    let scene = scene(HIDDEN, offset(HIDDEN, 1.0, 1.0)).await;
    let id = scene.views().await[2]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    scene
        .move_site(&scene.probe_site, &scene.probe, offset(HIDDEN, 60.0, 0.0))
        .await;
    let path = format!("/api/v1/matches/{id}");
    let (_, stranger) = scene.app.user("stranger@e.example", false).await;
    let answer = scene
        .app
        .patch(&path, &stranger, &json!({ "status": "contacted" }))
        .await;
    assert_eq!(answer.0, 404, "{}", answer.2);
    let answer = scene
        .app
        .patch(&path, &scene.probe, &json!({ "status": "contacted" }))
        .await;
    assert_eq!(answer.0, 409, "{}", answer.2);
    let detail = answer.2["detail"].as_str().unwrap_or_default().to_string();
    assert!(detail.contains("too far apart"), "{detail}");
    assert!(!detail.contains("km"), "{detail}");
    let read = scene.app.get(&path, &scene.probe).await;
    assert_eq!(read.2["status"], "expired", "{}", read.2);
    assert_eq!(
        read.2["expired_reason"], "the sites are now too far apart",
        "{}",
        read.2
    );
    // The owner of the hidden side still reads the exact reason.
    let own = scene.app.get(&path, &scene.hider).await;
    let reason = own.2["expired_reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("distance now"), "{}", own.2);
}

/// Before, a match's note (written by one party for the other) was served to every reader.
#[tokio::test]
async fn a_note_on_a_match_is_read_only_by_its_two_businesses() {
    let world = crate::harness::World::new().await;
    let path = format!("/api/v1/matches/{}", world.match_id);
    let note = "call Anna on 0221 555 0100";
    let answer = world
        .app
        .patch(
            &path,
            &world.owner,
            &json!({ "status": "contacted", "note": note }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    let (_, stranger) = world.app.user("stranger@e.example", false).await;
    let seen = world.app.get(&path, &stranger).await;
    assert_eq!(seen.0, 200, "{}", seen.2);
    assert!(seen.2.get("note").is_none(), "{}", seen.2);
    let listed = world.app.get("/api/v1/matches", &stranger).await;
    assert!(!listed.2.to_string().contains(note), "{}", listed.2);
    for party in [&world.other, &world.owner, &world.admin] {
        assert_eq!(world.app.get(&path, party).await.2["note"], note);
    }
}

/// Before, the public potential savings summed each need's best match at its exact figures, so a
/// probe moving 150 m read the change of its hidden match's exact savings in the total.
#[tokio::test]
async fn the_public_totals_do_not_move_when_a_probe_moves_inside_its_cell() {
    let start = inside_cell(offset(HIDDEN, 1.5, 1.0), &[(-0.3, -0.3)])[0];
    let scene = scene(HIDDEN, start).await;
    let totals = || async {
        let stats = scene.app.get("/api/v1/stats", &scene.probe).await;
        assert_eq!(stats.0, 200, "{}", stats.2);
        let potential = stats.2["matches"]["potential"].clone();
        assert_eq!(potential["matches"], 1, "{}", stats.2);
        potential
    };
    let first = totals().await;
    for step in 1..=5 {
        let at = offset(start, 0.106 * f64::from(step), 0.106 * f64::from(step));
        scene.move_site(&scene.probe_site, &scene.probe, at).await;
        assert_eq!(totals().await, first, "after step {step}");
    }
}

/// Before, a stranger's list put the nearer of two hidden offers first (sorted by exact score), so
/// the order compared their hidden distances. Now both sit in one cell, get the same level and bands,
/// and are ordered by match id whichever is nearer.
#[tokio::test]
async fn a_strangers_list_does_not_order_hidden_matches_by_their_exact_distance() {
    let places = inside_cell(HIDDEN, &[(0.35, 0.35), (-0.35, -0.35)]);
    let probe_at = offset(coarsen(HIDDEN), 0.5 * GRID_KM + 1.0, 0.5 * GRID_KM + 1.0);
    let scene = scene(places[0], probe_at).await;
    let (_, second) = scene.app.user("hider2@f.example", false).await;
    let business = scene
        .app
        .create("/api/v1/businesses", &second, &business_body("Other Works"))
        .await;
    let second_site = scene
        .app
        .create(
            &format!("/api/v1/businesses/{business}/sites"),
            &second,
            &site_body(places[1].lat, places[1].lon),
        )
        .await;
    let mut offer = heat_flow(&second_site, "offer", 85.0, 400.0);
    offer["anonymous"] = json!(true);
    scene.app.create("/api/v1/flows", &second, &offer).await;
    let order = || async {
        let path = format!("/api/v1/flows/{}/matches", scene.need);
        let page = scene.app.get(&path, &scene.probe).await;
        let ids: Vec<String> = page.2["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| m["id"].as_str().map(str::to_string))
            .collect();
        assert_eq!(ids.len(), 2, "{}", page.2);
        ids
    };
    let first = order().await;
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted, "ties go by id");
    // Swap which hidden site is nearer the probe: the order must not follow.
    scene
        .move_site(&scene.hidden_site, &scene.hider, places[1])
        .await;
    scene.move_site(&second_site, &second, places[0]).await;
    assert_eq!(order().await, first);
}
