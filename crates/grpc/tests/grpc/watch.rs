//! `WatchMatches`: fed by the live feed, redacted per viewer, resumable, and a reader too slow to
//! keep up is ended with `RESOURCE_EXHAUSTED` instead of being buffered for.

use std::time::Duration;

use symbiont_app::live_feed::FeedSettings;
use symbiont_grpc::WatchSettings;
use symbiont_grpc::proto as pb;
use tonic::{Code, Streaming};

use crate::harness::*;

fn heat_topic() -> pb::Topic {
    pb::Topic {
        topic: Some(pb::topic::Topic::Category("heat".into())),
    }
}

async fn next(
    stream: &mut Streaming<pb::WatchMatchesResponse>,
) -> pb::watch_matches_response::Message {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a message within 10 s")
        .expect("the stream goes on")
        .expect("not ended")
        .message
        .expect("a message body")
}

#[tokio::test]
async fn a_write_reaches_a_strangers_stream_redacted() {
    let server = TestServer::start().await;
    let (_, supplier) = server.user("hidden@grpc.test").await;
    let (_, consumer) = server.user("dairy@grpc.test").await;
    let (hidden_business, hidden_site) = server
        .business_with_site(&supplier, "Hidden Works", 52.40, 9.70)
        .await;
    let (_, need_site) = server
        .business_with_site(&consumer, "Dairy", 52.401, 9.701)
        .await;

    let mut watcher = server.another_client(None).await;
    let mut stream = watcher
        .watch_matches(call(
            pb::WatchMatchesRequest {
                topics: vec![heat_topic()],
                last_event_id: None,
            },
            &Who::Anonymous,
        ))
        .await
        .expect("anyone may watch the public view")
        .into_inner();
    let pb::watch_matches_response::Message::Watching(watching) = next(&mut stream).await else {
        panic!("the stream opens with Watching");
    };

    let mut client = server.client.clone();
    let mut offer = heat_draft(hidden_site, pb::Direction::Offer, 120.0, 900.0);
    offer.anonymous = true;
    let offer = client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(offer),
            },
            &supplier,
        ))
        .await
        .expect("the anonymous offer")
        .into_inner();
    client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(heat_draft(need_site, pb::Direction::Need, 55.0, 400.0)),
            },
            &consumer,
        ))
        .await
        .expect("the need");

    let event = loop {
        if let pb::watch_matches_response::Message::Event(event) = next(&mut stream).await {
            break event;
        }
    };
    assert_eq!(event.kind, pb::MatchEventKind::Proposed as i32);
    let seen = event.r#match.clone().expect("the match");
    assert_eq!(seen.redacted, vec![pb::Side::Offer as i32]);
    assert_eq!(seen.offer_business_id, None);
    assert_eq!(seen.offer_flow_id, None);
    assert!(seen.savings_eur_per_year.is_none() && seen.savings_band.is_some());
    // Exactly what GET /api/v1/matches/{id} shows a caller without credentials.
    let rest = server
        .app
        .match_one(
            seen.id.parse().expect("uuid"),
            &symbiont_app::visibility::Viewer::Businesses(vec![]),
        )
        .expect("the REST view");
    let mut unknown = Vec::new();
    assert_eq!(
        symbiont_grpc::convert::match_message(&rest, &mut unknown).expect("converted"),
        seen
    );
    let transcript = format!("{event:?}");
    for secret in [
        hidden_business.to_string(),
        hidden_site.to_string(),
        offer.id.clone(),
    ] {
        assert!(
            !transcript.contains(&secret),
            "{secret} leaked: {transcript}"
        );
    }

    // Resuming after the Watching position replays the event; a foreign id asks for a resync.
    let mut again = server
        .another_client(None)
        .await
        .watch_matches(call(
            pb::WatchMatchesRequest {
                topics: vec![heat_topic()],
                last_event_id: Some(watching.last_event_id),
            },
            &Who::Anonymous,
        ))
        .await
        .expect("resumed")
        .into_inner();
    assert!(matches!(
        next(&mut again).await,
        pb::watch_matches_response::Message::Watching(_)
    ));
    let replayed = loop {
        if let pb::watch_matches_response::Message::Event(e) = next(&mut again).await {
            break e;
        }
    };
    assert_eq!(replayed.id, event.id);
    let mut foreign = server
        .another_client(None)
        .await
        .watch_matches(call(
            pb::WatchMatchesRequest {
                topics: vec![heat_topic()],
                last_event_id: Some("0123456789abcdef-1".into()),
            },
            &Who::Anonymous,
        ))
        .await
        .expect("opened")
        .into_inner();
    assert!(matches!(
        next(&mut foreign).await,
        pb::watch_matches_response::Message::Watching(_)
    ));
    assert!(matches!(
        next(&mut foreign).await,
        pb::watch_matches_response::Message::Resync(_)
    ));

    // The owner of the hidden flow may watch it; a stranger may not name it.
    let refused = server
        .another_client(None)
        .await
        .watch_matches(call(
            pb::WatchMatchesRequest {
                topics: vec![pb::Topic {
                    topic: Some(pb::topic::Topic::FlowId(offer.id.clone())),
                }],
                last_event_id: None,
            },
            &consumer,
        ))
        .await
        .expect_err("another business's anonymous flow");
    assert_eq!(refused.code(), Code::NotFound);
}

#[tokio::test]
async fn a_reader_too_slow_is_ended_with_resource_exhausted() {
    let server = TestServer::with(Options {
        feed: FeedSettings {
            send_timeout: Duration::from_millis(500),
            ..FeedSettings::default()
        },
        watch: WatchSettings { queue: 1 },
        ..Options::default()
    })
    .await;
    let (_, owner) = server.user("busy@grpc.test").await;
    let (_, site) = server
        .business_with_site(&owner, "Busy Works", 48.1, 11.5)
        .await;
    let (_, needs_site) = server
        .business_with_site(&owner, "Busy Homes", 48.101, 11.501)
        .await;
    // A client whose HTTP/2 window takes almost nothing: what it does not read stays with the
    // server, which must not hold more than its queue.
    let mut slow = server.another_client(Some(256)).await;
    let mut stream = slow
        .watch_matches(call(
            pb::WatchMatchesRequest {
                topics: vec![heat_topic()],
                last_event_id: None,
            },
            &owner,
        ))
        .await
        .expect("opened")
        .into_inner();
    let mut client = server.client.clone();
    client
        .upsert_flow(call(
            pb::UpsertFlowRequest {
                id: None,
                expected_version: None,
                flow: Some(heat_draft(site, pb::Direction::Offer, 120.0, 5000.0)),
            },
            &owner,
        ))
        .await
        .expect("the offer");
    for i in 0..12 {
        client
            .upsert_flow(call(
                pb::UpsertFlowRequest {
                    id: None,
                    expected_version: None,
                    flow: Some(heat_draft(
                        needs_site,
                        pb::Direction::Need,
                        50.0 + f64::from(i),
                        100.0,
                    )),
                },
                &owner,
            ))
            .await
            .expect("a need");
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut received = 0;
    let ended = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.message()).await {
            Ok(Ok(Some(_))) => received += 1,
            Ok(Err(status)) => break status,
            Ok(Ok(None)) => panic!("the stream ended without a status after {received} messages"),
            Err(_) => panic!("the slow reader was not ended ({received} messages)"),
        }
    };
    assert_eq!(ended.code(), Code::ResourceExhausted, "{ended:?}");
    assert!(ended.message().contains("too slow"), "{ended:?}");
    assert!(
        received < 14,
        "the server held back no more than its queue and windows: {received}"
    );
}
