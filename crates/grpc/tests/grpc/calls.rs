//! The unary calls: the same use cases as REST with the same authorization; bad input is
//! `INVALID_ARGUMENT` naming the field.

use symbiont_grpc::proto as pb;
use symbiont_store::accounts::KeyScope;
use tonic::Code;

use crate::harness::*;

/// An offer (anonymous or not) and a need close by, written through gRPC by their owners;
/// returns (offer, need, the match's id).
async fn a_pair(
    server: &TestServer,
    supplier: &Who,
    consumer: &Who,
    anonymous_offer: bool,
) -> (pb::Flow, pb::Flow, String) {
    let (_, offer_site) = server
        .business_with_site(supplier, "Foundry", 51.30, 7.10)
        .await;
    let (_, need_site) = server
        .business_with_site(consumer, "Pool", 51.301, 7.101)
        .await;
    let mut client = server.client.clone();
    let mut offer = heat_draft(offer_site, pb::Direction::Offer, 120.0, 900.0);
    offer.anonymous = anonymous_offer;
    let offer = client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(offer),
            },
            supplier,
        ))
        .await
        .expect("the offer is created")
        .into_inner();
    let need = heat_draft(need_site, pb::Direction::Need, 55.0, 400.0);
    let need = client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(need),
            },
            consumer,
        ))
        .await
        .expect("the need is created")
        .into_inner();
    let page = client
        .list_matches(call(
            pb::ListMatchesRequest {
                flow_id: Some(need.id.clone()),
                ..Default::default()
            },
            consumer,
        ))
        .await
        .expect("the need's matches")
        .into_inner();
    assert_eq!(page.items.len(), 1, "{page:?}");
    let match_id = page.items[0].id.clone();
    (offer, need, match_id)
}

#[tokio::test]
async fn unary_calls_answer_what_the_use_cases_answer() {
    let server = TestServer::start().await;
    let (_, supplier) = server.user("supplier@grpc.test").await;
    let (_, consumer) = server.user("consumer@grpc.test").await;
    let (offer, need, match_id) = a_pair(&server, &supplier, &consumer, false).await;
    let mut client = server.client.clone();

    assert_eq!(offer.direction, pb::Direction::Offer as i32);
    assert_eq!(offer.version, 1);
    assert_eq!(offer.profile.as_ref().map(|p| p.hours.len()), Some(168));
    let read = client
        .get_flow(call(
            pb::GetFlowRequest {
                id: offer.id.clone(),
            },
            &Who::Anonymous,
        ))
        .await
        .expect("a public flow reads without credentials")
        .into_inner();
    assert_eq!(
        (&read.id, read.version, &read.quantity),
        (&offer.id, 1, &offer.quantity)
    );

    let got = client
        .get_match(call(
            pb::GetMatchRequest {
                id: match_id.clone(),
            },
            &consumer,
        ))
        .await
        .expect("the match")
        .into_inner();
    assert_eq!(got.need_flow_id.as_deref(), Some(need.id.as_str()));
    assert_eq!(got.status, pb::MatchStatus::Suggested as i32);
    assert!(got.score.is_some_and(|s| s > 0.0) && got.components.is_some());
    assert!(got.redacted.is_empty() && got.distance_band.is_none());

    // The view the app renders, field for field: none is left without a proto field.
    let viewer = symbiont_app::visibility::Viewer::of(&server.caller(&consumer).await);
    let view = server
        .app
        .match_one(got.id.parse().expect("uuid"), &viewer)
        .expect("the view");
    let mut unknown = Vec::new();
    let converted = symbiont_grpc::convert::match_message(&view, &mut unknown).expect("converted");
    assert!(
        unknown.is_empty(),
        "view fields missing from the proto: {unknown:?}"
    );
    assert_eq!(converted, got);

    let decided = client
        .decide(call(
            pb::DecideRequest {
                match_id: match_id.clone(),
                status: pb::MatchStatus::Contacted as i32,
                note: Some("Called their energy manager".into()),
                expected_version: Some(0),
            },
            &consumer,
        ))
        .await
        .expect("the need's owner contacts")
        .into_inner();
    assert_eq!(decided.status, pb::MatchStatus::Contacted as i32);
    assert_eq!(decided.decision_version, 1);
    assert_eq!(decided.note.as_deref(), Some("Called their energy manager"));
    let stale = client
        .decide(call(
            pb::DecideRequest {
                match_id: match_id.clone(),
                status: pb::MatchStatus::Rejected as i32,
                note: None,
                expected_version: Some(0),
            },
            &consumer,
        ))
        .await
        .expect_err("a stale version is refused");
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let illegal = client
        .decide(call(
            pb::DecideRequest {
                match_id: match_id.clone(),
                status: pb::MatchStatus::Agreed as i32,
                note: None,
                expected_version: None,
            },
            &consumer,
        ))
        .await
        .expect_err("contacted cannot become agreed");
    assert_eq!(illegal.code(), Code::FailedPrecondition, "{illegal:?}");

    // Replacing a flow's draft: a new version, and the stale version is refused.
    let mut draft = heat_draft(
        offer.site_id.parse().expect("uuid"),
        pb::Direction::Offer,
        130.0,
        950.0,
    );
    draft.description = "Furnace exhaust".into();
    let replaced = client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: Some(offer.id.clone()),
                expected_version: Some(1),
                flow: Some(draft.clone()),
            },
            &supplier,
        ))
        .await
        .expect("the owner replaces the draft")
        .into_inner();
    assert_eq!(replaced.version, 2);
    assert_eq!(replaced.description, "Furnace exhaust");
    let stale = client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: Some(offer.id.clone()),
                expected_version: Some(1),
                flow: Some(draft),
            },
            &supplier,
        ))
        .await
        .expect_err("version 1 is gone");
    assert_eq!(stale.code(), Code::Aborted);

    // Pages: the same filters as REST, a cursor that continues.
    let page = client
        .list_matches(call(
            pb::ListMatchesRequest {
                category: Some("heat".into()),
                limit: 1,
                ..Default::default()
            },
            &Who::Anonymous,
        ))
        .await
        .expect("a page over all matches")
        .into_inner();
    assert_eq!(page.items.len(), 1);
    let status_filtered = client
        .list_matches(call(
            pb::ListMatchesRequest {
                status: pb::MatchStatus::Agreed as i32,
                ..Default::default()
            },
            &Who::Anonymous,
        ))
        .await
        .expect("filtered by status")
        .into_inner();
    assert!(status_filtered.items.is_empty());
}

#[tokio::test]
async fn authorization_is_the_same_as_rest() {
    let server = TestServer::start().await;
    let (supplier_id, supplier) = server.user("owner@grpc.test").await;
    let (_, consumer) = server.user("buyer@grpc.test").await;
    let (_, stranger) = server.user("stranger@grpc.test").await;
    let (offer, _, match_id) = a_pair(&server, &supplier, &consumer, true).await;
    let mut client = server.client.clone();
    let site = offer.site_id.parse().expect("uuid");
    let create = |who: &Who| {
        call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(heat_draft(site, pb::Direction::Offer, 90.0, 100.0)),
            },
            who,
        )
    };

    let anonymous = client
        .upsert_flow(create(&Who::Anonymous))
        .await
        .expect_err("refused");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    let forged = client
        .upsert_flow(create(&Who::Bearer("not-a-token".into())))
        .await
        .expect_err("refused");
    assert_eq!(forged.code(), Code::Unauthenticated);
    let malformed = client
        .get_match(call(
            pb::GetMatchRequest {
                id: match_id.clone(),
            },
            &Who::Authorization("Basic abc".into()),
        ))
        .await
        .expect_err("bad credentials count even on reads");
    assert_eq!(malformed.code(), Code::Unauthenticated);
    let stranger_write = client
        .upsert_flow(create(&stranger))
        .await
        .expect_err("refused");
    assert_eq!(stranger_write.code(), Code::PermissionDenied);
    let read_only = server.api_key(supplier_id, KeyScope::Read).await;
    let read_only_write = client
        .upsert_flow(create(&read_only))
        .await
        .expect_err("refused");
    assert_eq!(read_only_write.code(), Code::PermissionDenied);
    let writing_key = server.api_key(supplier_id, KeyScope::ReadWrite).await;
    client
        .upsert_flow(create(&writing_key))
        .await
        .expect("a read_write key of a member writes");

    // Deciding is for the two businesses only.
    let outsider = client
        .decide(call(
            pb::DecideRequest {
                match_id: match_id.clone(),
                status: pb::MatchStatus::Contacted as i32,
                note: None,
                expected_version: None,
            },
            &stranger,
        ))
        .await
        .expect_err("a stranger does not decide");
    assert_eq!(outsider.code(), Code::PermissionDenied);

    // An anonymous offer: hidden from a stranger, whole for its owner.
    let hidden = client
        .get_flow(call(
            pb::GetFlowRequest {
                id: offer.id.clone(),
            },
            &stranger,
        ))
        .await
        .expect_err("another business's anonymous flow");
    assert_eq!(hidden.code(), Code::NotFound);
    let seen = client
        .get_match(call(
            pb::GetMatchRequest {
                id: match_id.clone(),
            },
            &stranger,
        ))
        .await
        .expect("a stranger sees the match redacted")
        .into_inner();
    assert_eq!(seen.offer_business_id, None);
    assert_eq!(seen.offer_flow_id, None);
    assert_eq!(seen.distance_km, None);
    assert!(seen.distance_band.is_some());
    assert_eq!(seen.redacted, vec![pb::Side::Offer as i32]);
    let viewer = symbiont_app::visibility::Viewer::of(&server.caller(&stranger).await);
    let view = server
        .app
        .match_one(seen.id.parse().expect("uuid"), &viewer)
        .expect("view");
    let mut unknown = Vec::new();
    let converted = symbiont_grpc::convert::match_message(&view, &mut unknown).expect("converted");
    assert!(
        unknown.is_empty(),
        "redacted view fields missing from the proto: {unknown:?}"
    );
    assert_eq!(converted, seen, "gRPC shows what REST shows");
    let flows = client
        .list_matches(call(
            pb::ListMatchesRequest {
                flow_id: Some(offer.id.clone()),
                ..Default::default()
            },
            &stranger,
        ))
        .await
        .expect_err("not listed through the hidden flow");
    assert_eq!(flows.code(), Code::NotFound);
    let owner_view = client
        .get_match(call(pb::GetMatchRequest { id: match_id }, &supplier))
        .await
        .expect("the owner's view")
        .into_inner();
    assert_eq!(owner_view.offer_flow_id.as_deref(), Some(offer.id.as_str()));
}

#[tokio::test]
async fn bad_input_is_invalid_argument_naming_the_field() {
    let server = TestServer::start().await;
    let (_, owner) = server.user("fields@grpc.test").await;
    let (_, site) = server.business_with_site(&owner, "Mill", 50.0, 8.0).await;
    let mut client = server.client.clone();

    let cases: Vec<(tonic::Status, &str)> = vec![
        (
            client
                .get_match(call(pb::GetMatchRequest { id: "nope".into() }, &owner))
                .await
                .expect_err("bad id"),
            "id",
        ),
        (
            client
                .get_flow(call(pb::GetFlowRequest { id: String::new() }, &owner))
                .await
                .expect_err("no id"),
            "id",
        ),
        (
            client
                .list_matches(call(
                    pb::ListMatchesRequest {
                        limit: 5000,
                        ..Default::default()
                    },
                    &owner,
                ))
                .await
                .expect_err("too large a page"),
            "limit",
        ),
        (
            client
                .list_matches(call(
                    pb::ListMatchesRequest {
                        min_score: Some(2.0),
                        ..Default::default()
                    },
                    &owner,
                ))
                .await
                .expect_err("a score above 1"),
            "min_score",
        ),
        (
            client
                .list_matches(call(
                    pb::ListMatchesRequest {
                        category: Some("heat.nonsense".into()),
                        ..Default::default()
                    },
                    &owner,
                ))
                .await
                .expect_err("an unknown category"),
            "category",
        ),
        (
            client
                .list_matches(call(
                    pb::ListMatchesRequest {
                        cursor: Some("???".into()),
                        ..Default::default()
                    },
                    &owner,
                ))
                .await
                .expect_err("a forged cursor"),
            "cursor",
        ),
        (
            client
                .upsert_flow(call(
                    pb::UpsertFlowRequest {
                        id: None,
                        expected_version: None,
                        flow: None,
                    },
                    &owner,
                ))
                .await
                .expect_err("no draft"),
            "flow",
        ),
        (
            client
                .upsert_flow(call(
                    pb::UpsertFlowRequest {
                        id: None,
                        expected_version: None,
                        flow: Some(pb::FlowDraft {
                            direction: 0,
                            ..heat_draft(site, pb::Direction::Offer, 90.0, 10.0)
                        }),
                    },
                    &owner,
                ))
                .await
                .expect_err("no direction"),
            "flow.direction",
        ),
        (
            client
                .upsert_flow(call(
                    pb::UpsertFlowRequest {
                        id: None,
                        expected_version: None,
                        flow: Some(pb::FlowDraft {
                            quantity: Some(pb::Quantity {
                                value: 3.0,
                                unit: "bananas".into(),
                            }),
                            ..heat_draft(site, pb::Direction::Offer, 90.0, 10.0)
                        }),
                    },
                    &owner,
                ))
                .await
                .expect_err("an unknown unit"),
            "flow.quantity.unit",
        ),
        (
            client
                .upsert_flow(call(
                    pb::UpsertFlowRequest {
                        id: None,
                        expected_version: None,
                        flow: Some(pb::FlowDraft {
                            valid_from: Some("yesterday".into()),
                            ..heat_draft(site, pb::Direction::Offer, 90.0, 10.0)
                        }),
                    },
                    &owner,
                ))
                .await
                .expect_err("not a date"),
            "flow.valid_from",
        ),
        (
            client
                .upsert_flow(call(
                    pb::UpsertFlowRequest {
                        id: None,
                        expected_version: None,
                        flow: Some(pb::FlowDraft {
                            site_id: uuid::Uuid::now_v7().to_string(),
                            ..heat_draft(site, pb::Direction::Offer, 90.0, 10.0)
                        }),
                    },
                    &owner,
                ))
                .await
                .expect_err("no such site"),
            "flow.site_id",
        ),
        (
            client
                .decide(call(
                    pb::DecideRequest {
                        match_id: uuid::Uuid::now_v7().to_string(),
                        status: 0,
                        note: None,
                        expected_version: None,
                    },
                    &owner,
                ))
                .await
                .expect_err("no status"),
            "status",
        ),
        (
            client
                .watch_matches(call(
                    pb::WatchMatchesRequest {
                        topics: vec![],
                        last_event_id: None,
                    },
                    &owner,
                ))
                .await
                .expect_err("no topic"),
            "topics",
        ),
        (
            client
                .watch_matches(call(
                    pb::WatchMatchesRequest {
                        topics: vec![pb::Topic {
                            topic: Some(pb::topic::Topic::Bbox(pb::BoundingBox {
                                min_lon: 8.0,
                                min_lat: 50.0,
                                max_lon: 7.0,
                                max_lat: 51.0,
                            })),
                        }],
                        last_event_id: None,
                    },
                    &owner,
                ))
                .await
                .expect_err("an inverted box"),
            "topics[0].bbox",
        ),
    ];
    for (status, field) in cases {
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            violated_fields(&status).iter().any(|f| f == field),
            "{field} not named: {:?} ({status:?})",
            violated_fields(&status)
        );
    }
    let missing = client
        .get_match(call(
            pb::GetMatchRequest {
                id: uuid::Uuid::now_v7().to_string(),
            },
            &owner,
        ))
        .await
        .expect_err("no such match");
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn rate_limits_apply_to_grpc_callers() {
    let server = TestServer::with(Options {
        rate_limit: symbiont_app::rate_limit::RateLimitSettings {
            enabled: true,
            anonymous: symbiont_app::rate_limit::Quota {
                per_second: 0.01,
                burst: 2,
            },
            ..Default::default()
        },
        ..Options::default()
    })
    .await;
    let mut client = server.client.clone();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let answer = client
            .get_match(call(
                pb::GetMatchRequest {
                    id: uuid::Uuid::now_v7().to_string(),
                },
                &Who::Anonymous,
            ))
            .await;
        codes.push(answer.expect_err("no such match").code());
    }
    assert_eq!(codes[..2], [Code::NotFound, Code::NotFound]);
    assert_eq!(codes[3], Code::ResourceExhausted, "{codes:?}");
}
