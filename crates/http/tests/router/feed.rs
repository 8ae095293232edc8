//! The live feed over a real socket: the router served on a loopback port, a WebSocket client
//! (tokio-tungstenite) and an SSE client (reqwest). A write reaches its subscribers; a stranger
//! gets anonymous sides redacted and cannot find them through any topic; a client resumes from its
//! last event id or is told to resync; a client too slow for the history is dropped with a reason;
//! connection and subscription limits and bad messages get clear answers.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use symbiont_app::live_feed::FeedSettings;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::harness::{Options, TestApp, Who, business_body, heat_flow, site_body};

const WAIT: Duration = Duration::from_secs(10);

/// Serves the app's router on a loopback port; returns `host:port`.
async fn serve(app: &TestApp) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("bound").to_string();
    let router = app.router.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    address
}

fn bearer(who: &Who) -> Option<String> {
    match who {
        Who::Bearer(token) | Who::ApiKey(token) => Some(format!("Bearer {token}")),
        Who::Authorization(value) => Some(value.clone()),
        Who::Anonymous => None,
    }
}

struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Every text message read, as sent: what a test checks for leaks.
    transcript: Vec<String>,
}

impl Ws {
    async fn connect(address: &str, who: &Who) -> Ws {
        Self::try_connect(address, who)
            .await
            .unwrap_or_else(|status| panic!("the upgrade was refused with {status}"))
    }

    async fn try_connect(address: &str, who: &Who) -> Result<Ws, u16> {
        let mut request = format!("ws://{address}/api/v1/ws")
            .into_client_request()
            .expect("a WebSocket URL");
        if let Some(value) = bearer(who) {
            request
                .headers_mut()
                .insert("authorization", value.parse().expect("a header value"));
        }
        match tokio_tungstenite::connect_async(request).await {
            Ok((stream, _)) => {
                let mut ws = Ws {
                    stream,
                    transcript: Vec::new(),
                };
                let welcome = ws.next().await;
                assert_eq!(welcome["type"], "welcome", "{welcome}");
                Ok(ws)
            }
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(other) => panic!("cannot connect: {other}"),
        }
    }

    async fn send(&mut self, message: Value) {
        self.stream
            .send(Message::text(message.to_string()))
            .await
            .expect("the message is sent");
    }

    /// The next text message as JSON; panics on close or after [`WAIT`].
    async fn next(&mut self) -> Value {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("a message within the wait")
                .expect("the connection is open")
                .expect("a readable message");
            match message {
                Message::Text(text) => {
                    self.transcript.push(text.to_string());
                    return serde_json::from_str(&text).expect("JSON");
                }
                Message::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// Reads until a message satisfies `wanted`.
    async fn until(&mut self, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let message = self.next().await;
            if wanted(&message) {
                return message;
            }
        }
    }

    async fn subscribe(&mut self, topic: Value) -> Value {
        let mut message = topic;
        message["type"] = json!("subscribe");
        self.send(message).await;
        self.until(|m| m["type"] == "subscribed" || m["type"] == "error")
            .await
    }

    /// Whatever arrives within `wait` (nothing, for a subscriber that must not hear).
    async fn drain(&mut self, wait: Duration) -> Vec<Value> {
        let mut seen = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout_at(deadline, self.stream.next()).await
        {
            if let Message::Text(text) = message {
                self.transcript.push(text.to_string());
                seen.push(serde_json::from_str(&text).expect("JSON"));
            }
        }
        seen
    }

    /// The close frame's code and reason, reading past anything before it.
    async fn closed(&mut self) -> (u16, String) {
        loop {
            let message = tokio::time::timeout(WAIT, self.stream.next())
                .await
                .expect("closed within the wait");
            match message {
                Some(Ok(Message::Close(Some(frame)))) => {
                    return (u16::from(frame.code), frame.reason.to_string());
                }
                Some(Ok(Message::Close(None))) | None => return (1005, String::new()),
                Some(Ok(_)) => continue,
                Some(Err(error)) => panic!("closed without a frame: {error}"),
            }
        }
    }
}

/// A business with one site at (lat, lon), created by `who`: (business id, site id).
async fn business_at(app: &TestApp, who: &Who, name: &str, lat: f64, lon: f64) -> (String, String) {
    let business = app
        .create("/api/v1/businesses", who, &business_body(name))
        .await;
    let site = app
        .create(
            &format!("/api/v1/businesses/{business}/sites"),
            who,
            &site_body(lat, lon),
        )
        .await;
    (business, site)
}

#[tokio::test]
async fn a_write_reaches_a_websocket_subscriber_as_the_rest_view_shows_it() {
    let app = TestApp::start().await;
    let address = serve(&app).await;
    let (_, supplier) = app.user("supplier@a.example", false).await;
    let (_, buyer) = app.user("buyer@b.example", false).await;
    let (_, supply_site) = business_at(&app, &supplier, "Foundry", 51.30, 7.10).await;
    let (buyer_business, buyer_site) = business_at(&app, &buyer, "Pool", 51.301, 7.101).await;
    app.create(
        "/api/v1/flows",
        &supplier,
        &heat_flow(&supply_site, "offer", 85.0, 400.0),
    )
    .await;

    let mut ws = Ws::connect(&address, &buyer).await;
    let subscribed = ws
        .subscribe(json!({ "id": "mine", "business": buyer_business }))
        .await;
    assert_eq!(subscribed, json!({ "type": "subscribed", "id": "mine" }));
    let need = app
        .create(
            "/api/v1/flows",
            &buyer,
            &heat_flow(&buyer_site, "need", 60.0, 200.0),
        )
        .await;

    let proposed = ws.until(|m| m["type"] == "match.proposed").await;
    assert_eq!(proposed["data"]["need_flow_id"], need.as_str());
    let match_id = proposed["data"]["id"]
        .as_str()
        .expect("a match id")
        .to_string();
    let (_, _, rest) = app
        .get(&format!("/api/v1/matches/{match_id}"), &buyer)
        .await;
    assert_eq!(proposed["data"], rest, "the event carries the REST view");

    // Its own flow's event came first, then the match; then a decision on the match.
    let created = ws.transcript.iter().any(|t| t.contains("\"flow.created\""));
    assert!(created, "{:?}", ws.transcript);
    let answer = app
        .patch(
            &format!("/api/v1/matches/{match_id}"),
            &buyer,
            &json!({ "status": "contacted" }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    let decided = ws.until(|m| m["type"] == "match.decided").await;
    assert_eq!(decided["data"]["status"], "contacted");
    let ids: Vec<u64> = ws
        .transcript
        .iter()
        .filter_map(|t| serde_json::from_str::<Value>(t).ok())
        .filter_map(|m| {
            m["id"]
                .as_str()
                .and_then(|id| id.rsplit_once('-'))
                .map(|(_, n)| n.parse().expect("a number"))
        })
        .collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "increasing ids: {ids:?}"
    );
}

/// The attacker's test: a stranger (anonymous, and a signed-in user of another business) tries
/// every topic that could reveal an anonymous business or site: its business id, its flow id, a
/// tiny box around its exact site, the category, a box around its cell. It learns nothing the
/// REST views would not show: no id of the hidden business, site or flow in anything it receives.
#[tokio::test]
async fn a_stranger_never_learns_a_hidden_business_or_site_from_the_feed() {
    let app = TestApp::start().await;
    let address = serve(&app).await;
    let (_, hider) = app.user("hider@c.example", false).await;
    let (_, buyer) = app.user("buyer@d.example", false).await;
    let (_, stranger) = app.user("stranger@e.example", false).await;
    // Off the centre of its 5 km cell, so a box around the exact site misses the centre.
    let (lat, lon) = (51.3123, 7.1234);
    let (hidden_business, hidden_site) = business_at(&app, &hider, "Hidden Works", lat, lon).await;
    let (_, buyer_site) = business_at(&app, &buyer, "Pool", 51.318, 7.131).await;
    let mut offer = heat_flow(&hidden_site, "offer", 85.0, 400.0);
    offer["anonymous"] = json!(true);
    let hidden_flow = app.create("/api/v1/flows", &hider, &offer).await;
    let centre = symbiont_app::visibility::coarsen(symbiont_core::GeoPoint { lat, lon });
    assert!((centre.lat - lat).abs() > 0.001 || (centre.lon - lon).abs() > 0.001);

    let mut clients = Vec::new();
    for who in [Who::Anonymous, stranger.clone()] {
        let mut ws = Ws::connect(&address, &who).await;
        // The hidden flow is not found, as in REST.
        let refused = ws
            .subscribe(json!({ "id": "f", "flow": hidden_flow }))
            .await;
        assert_eq!(refused["type"], "error", "{refused}");
        assert_eq!(refused["field"], "flow", "{refused}");
        for (id, topic) in [
            ("b", json!({ "business": hidden_business })),
            (
                "tiny",
                json!({ "bbox": [lon - 0.0005, lat - 0.0005, lon + 0.0005, lat + 0.0005] }),
            ),
        ] {
            let mut topic = topic;
            topic["id"] = json!(id);
            assert_eq!(ws.subscribe(topic).await["type"], "subscribed");
        }
        // What it sent itself is echoed in the answers; from here on, everything is the server's.
        ws.transcript.clear();
        clients.push(ws);
    }
    // The hider's own subscriber, to know when the events have been published.
    let mut owner = Ws::connect(&address, &hider).await;
    owner.subscribe(json!({ "category": "heat" })).await;

    // The anonymous offer changes (a write only its owner can see), and a public need matches it.
    let answer = app
        .patch(
            &format!("/api/v1/flows/{hidden_flow}"),
            &hider,
            &json!({ "description": "waste heat" }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    let need = app
        .create(
            "/api/v1/flows",
            &buyer,
            &heat_flow(&buyer_site, "need", 60.0, 200.0),
        )
        .await;
    let seen = owner.until(|m| m["type"] == "match.proposed").await;
    assert_eq!(
        seen["data"]["offer_business_id"],
        hidden_business.as_str(),
        "the owner sees its side"
    );

    for ws in &mut clients {
        // Nothing through the hidden business or the exact place.
        let heard = ws.drain(Duration::from_millis(300)).await;
        assert!(heard.is_empty(), "{heard:?}");
        // Through the category and the cell: the match, redacted exactly as REST shows it.
        ws.subscribe(json!({ "id": "c", "category": "heat" })).await;
        ws.subscribe(json!({ "id": "cell", "bbox": [centre.lon - 0.01, centre.lat - 0.01, centre.lon + 0.01, centre.lat + 0.01] })).await;
    }
    let answer = app
        .patch(
            &format!("/api/v1/flows/{need}"),
            &buyer,
            &json!({ "quantity": { "value": 250, "unit": "kW" } }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    for (ws, who) in clients.iter_mut().zip([Who::Anonymous, stranger.clone()]) {
        let event = ws
            .until(|m| m["type"] == "match.changed" || m["type"] == "match.proposed")
            .await;
        assert_eq!(event["data"]["offer_business_id"], Value::Null, "{event}");
        assert_eq!(event["data"]["offer_flow_id"], Value::Null, "{event}");
        assert_eq!(event["data"]["redacted"], json!(["offer"]), "{event}");
        let id = event["data"]["id"].as_str().expect("id");
        let (_, _, rest) = app.get(&format!("/api/v1/matches/{id}"), &who).await;
        assert_eq!(event["data"], rest, "the feed shows what REST shows");
        ws.drain(Duration::from_millis(300)).await;
        for text in &ws.transcript {
            for secret in [&hidden_business, &hidden_site, &hidden_flow] {
                assert!(!text.contains(secret.as_str()), "{secret} leaked in {text}");
            }
        }
    }
}

#[tokio::test]
async fn a_client_resumes_from_its_last_event_id_or_is_told_to_resync() {
    let app = TestApp::with(Options {
        feed: FeedSettings {
            history: 6,
            ..FeedSettings::default()
        },
        ..Options::default()
    })
    .await;
    let address = serve(&app).await;
    let (_, owner) = app.user("owner@a.example", false).await;
    let (business, site) = business_at(&app, &owner, "Works", 51.3, 7.1).await;
    let mut ws = Ws::connect(&address, &owner).await;
    ws.subscribe(json!({ "business": business })).await;
    app.create(
        "/api/v1/flows",
        &owner,
        &heat_flow(&site, "offer", 85.0, 100.0),
    )
    .await;
    let first = ws.until(|m| m["type"] == "flow.created").await;
    let last_id = first["id"].as_str().expect("an id").to_string();
    drop(ws);

    // Two flows written while the client is away.
    let mut missed = Vec::new();
    for kw in [200.0, 300.0] {
        missed.push(
            app.create(
                "/api/v1/flows",
                &owner,
                &heat_flow(&site, "offer", 85.0, kw),
            )
            .await,
        );
    }
    let mut ws = Ws::connect(&address, &owner).await;
    ws.subscribe(json!({ "business": business })).await;
    ws.send(json!({ "type": "resume", "last_event_id": last_id }))
        .await;
    assert_eq!(ws.next().await["type"], "resumed");
    for flow in &missed {
        let event = ws.next().await;
        assert_eq!(event["type"], "flow.created", "{event}");
        assert_eq!(event["data"]["id"], flow.as_str());
    }

    // SSE resumes from the Last-Event-ID header the same way.
    let response = reqwest::Client::new()
        .get(format!(
            "http://{address}/api/v1/events?business={business}"
        ))
        .header("authorization", bearer(&owner).expect("a token"))
        .header("last-event-id", &last_id)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    let text = sse_until(response, |text| {
        text.matches("event: flow.created").count() >= 2
    })
    .await;
    for flow in &missed {
        assert!(text.contains(flow.as_str()), "{text}");
    }

    // More events than the history keeps: resuming from the first id is refused with a resync.
    for kw in [400.0, 500.0, 600.0, 700.0, 800.0, 900.0] {
        app.create(
            "/api/v1/flows",
            &owner,
            &heat_flow(&site, "offer", 85.0, kw),
        )
        .await;
    }
    ws.send(json!({ "type": "resume", "last_event_id": last_id }))
        .await;
    let resync = ws.until(|m| m["type"] == "resync").await;
    assert!(
        resync["reason"].as_str().unwrap_or("").contains("history"),
        "{resync}"
    );
    ws.send(json!({ "type": "resume", "last_event_id": "0000000000000000-1" }))
        .await;
    assert_eq!(ws.until(|m| m["type"] == "resync").await["type"], "resync");
}

/// Reads an SSE body until `done` holds for what has arrived.
async fn sse_until(mut response: reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    // One deadline for the whole wait: heartbeats keep arriving while the awaited event does not.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(&text) {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .unwrap_or_else(|_| panic!("no more events within the wait; so far: {text}"))
            .expect("a readable body")
            .unwrap_or_else(|| panic!("the stream ended; so far: {text}"));
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

/// History 1: a flow matched as it is written publishes two events at once (the match and the
/// flow), so a subscriber waiting at the event before is beyond the history and too slow.
#[tokio::test]
async fn a_consumer_the_history_cannot_hold_is_dropped_with_a_reason() {
    let app = TestApp::with(Options {
        feed: FeedSettings {
            history: 1,
            ..FeedSettings::default()
        },
        ..Options::default()
    })
    .await;
    let address = serve(&app).await;
    let (_, owner) = app.user("owner@a.example", false).await;
    let (_, site) = business_at(&app, &owner, "Works", 51.3, 7.1).await;
    let (_, other) = app.user("other@b.example", false).await;
    let (_, other_site) = business_at(&app, &other, "Pool", 51.301, 7.101).await;
    app.create(
        "/api/v1/flows",
        &owner,
        &heat_flow(&site, "offer", 85.0, 400.0),
    )
    .await;
    let mut ws = Ws::connect(&address, &Who::Anonymous).await;
    ws.subscribe(json!({ "category": "heat" })).await;
    let response = reqwest::Client::new()
        .get(format!("http://{address}/api/v1/events?category=heat"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    app.create(
        "/api/v1/flows",
        &other,
        &heat_flow(&other_site, "need", 60.0, 200.0),
    )
    .await;
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4008, "{reason}");
    assert!(reason.starts_with("too slow"), "{reason}");
    let text = sse_until(response, |text| text.contains("event: close")).await;
    assert!(text.contains("too slow"), "{text}");
}

#[tokio::test]
async fn connections_and_subscriptions_are_limited_and_bad_messages_name_their_field() {
    let app = TestApp::with(Options {
        feed: FeedSettings {
            max_connections: 1,
            max_topics: 2,
            ..FeedSettings::default()
        },
        ..Options::default()
    })
    .await;
    let address = serve(&app).await;
    let mut ws = Ws::connect(&address, &Who::Anonymous).await;
    assert_eq!(
        Ws::try_connect(&address, &Who::Anonymous).await.err(),
        Some(503),
        "one connection at most"
    );
    let sse = reqwest::get(format!("http://{address}/api/v1/events?category=heat"))
        .await
        .expect("answered");
    assert_eq!(sse.status(), 503);
    assert_eq!(sse.headers()["content-type"], "application/problem+json");

    let unknown = uuid::Uuid::now_v7();
    for (message, field) in [
        (
            json!({ "type": "subscribe", "category": "heat", "flow": unknown }),
            "subscription",
        ),
        (json!({ "type": "subscribe" }), "subscription"),
        (
            json!({ "type": "subscribe", "category": "lava" }),
            "category",
        ),
        (
            json!({ "type": "subscribe", "business": unknown }),
            "business",
        ),
        (json!({ "type": "subscribe", "flow": unknown }), "flow"),
        (
            json!({ "type": "subscribe", "bbox": [8.0, 50.0, 7.0, 51.0] }),
            "bbox",
        ),
        (json!({ "type": "subscribe", "bbox": [8.0, 50.0] }), "bbox"),
        (
            json!({ "type": "subscribe", "business": "not-a-uuid" }),
            "business",
        ),
        (json!({ "type": "dance" }), "type"),
        (json!({ "type": "unsubscribe", "id": "nothing" }), "id"),
    ] {
        ws.send(message.clone()).await;
        let error = ws.next().await;
        assert_eq!(error["type"], "error", "{message} -> {error}");
        assert_eq!(error["field"], field, "{message} -> {error}");
    }
    for id in ["a", "b"] {
        let answer = ws.subscribe(json!({ "id": id, "category": "heat" })).await;
        assert_eq!(answer["type"], "subscribed", "{answer}");
    }
    let third = ws
        .subscribe(json!({ "id": "c", "category": "water" }))
        .await;
    assert_eq!(third["field"], "subscription", "{third}");
    // The connection survived every refusal.
    ws.send(json!({ "type": "unsubscribe", "id": "a" })).await;
    assert_eq!(ws.next().await["type"], "unsubscribed");
}

#[tokio::test]
async fn credentials_come_in_a_header_or_the_first_message_and_bad_ones_are_refused() {
    let app = TestApp::start().await;
    let address = serve(&app).await;
    let (_, owner) = app.user("owner@a.example", false).await;
    let Who::Bearer(token) = &owner else {
        panic!("a bearer token")
    };

    let mut ws = Ws::connect(&address, &Who::Anonymous).await;
    ws.send(json!({ "type": "auth", "token": token })).await;
    assert_eq!(ws.next().await["type"], "authenticated");

    let mut ws = Ws::connect(&address, &Who::Anonymous).await;
    ws.send(json!({ "type": "auth", "token": "not-a-token" }))
        .await;
    assert_eq!(ws.closed().await.0, 4401);

    let mut ws = Ws::connect(&address, &Who::Anonymous).await;
    ws.subscribe(json!({ "category": "heat" })).await;
    ws.send(json!({ "type": "auth", "token": token })).await;
    assert_eq!(ws.closed().await.0, 1008, "credentials only first");

    let bad = Who::Bearer("not-a-token".into());
    assert_eq!(Ws::try_connect(&address, &bad).await.err(), Some(401));

    let client = reqwest::Client::new();
    let answer = client
        .get(format!("http://{address}/api/v1/events?category=heat"))
        .header("authorization", "Bearer not-a-token")
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), 401);
    for (query, field) in [
        ("", "subscription"),
        ("?bbox=1,2", "bbox"),
        ("?category=lava", "category"),
        ("?business=nope", "business"),
        ("?topic=heat", "topic"),
    ] {
        let answer = client
            .get(format!("http://{address}/api/v1/events{query}"))
            .send()
            .await
            .expect("answered");
        assert_eq!(answer.status(), 400, "{query}");
        let problem: Value = answer.json().await.expect("a problem document");
        let named = problem["errors"]
            .as_array()
            .is_some_and(|e| e.iter().any(|e| e["field"] == field));
        assert!(named, "{query}: {problem}");
    }
}

/// The timing of events must not say what their contents do not: a hidden site moving inside its
/// grid cell changes the match's exact figures (its owner hears `match.changed`) but none of what a
/// stranger sees, so the stranger hears nothing.
#[tokio::test]
async fn a_hidden_site_moving_inside_its_cell_sends_a_stranger_nothing() {
    let app = TestApp::start().await;
    let address = serve(&app).await;
    let (_, hider) = app.user("hider@c.example", false).await;
    let (_, buyer) = app.user("buyer@d.example", false).await;
    let (lat, lon) = (51.3123, 7.1234);
    let moved = symbiont_core::GeoPoint {
        lat: lat + 0.001,
        lon: lon - 0.002,
    };
    let coarsen = symbiont_app::visibility::coarsen;
    assert_eq!(
        coarsen(symbiont_core::GeoPoint { lat, lon }),
        coarsen(moved),
        "the move stays inside the cell"
    );
    let (_, hidden_site) = business_at(&app, &hider, "Hidden Works", lat, lon).await;
    let (_, buyer_site) = business_at(&app, &buyer, "Pool", 51.318, 7.131).await;
    let mut offer = heat_flow(&hidden_site, "offer", 85.0, 400.0);
    offer["anonymous"] = json!(true);
    app.create("/api/v1/flows", &hider, &offer).await;
    let mut owner = Ws::connect(&address, &hider).await;
    owner.subscribe(json!({ "category": "heat" })).await;
    let mut stranger = Ws::connect(&address, &Who::Anonymous).await;
    stranger.subscribe(json!({ "category": "heat" })).await;
    app.create(
        "/api/v1/flows",
        &buyer,
        &heat_flow(&buyer_site, "need", 60.0, 200.0),
    )
    .await;
    owner.until(|m| m["type"] == "match.proposed").await;
    let proposed = stranger.until(|m| m["type"] == "match.proposed").await;
    assert_eq!(proposed["data"]["redacted"], json!(["offer"]), "{proposed}");

    let answer = app
        .patch(
            &format!("/api/v1/sites/{hidden_site}"),
            &hider,
            &json!({ "location": { "lat": moved.lat, "lon": moved.lon } }),
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.2);
    let changed = owner.until(|m| m["type"] == "match.changed").await;
    assert_ne!(
        changed["data"]["distance_km"], proposed["data"]["distance_km"],
        "{changed}"
    );
    let heard = stranger.drain(Duration::from_millis(500)).await;
    assert!(heard.is_empty(), "the stranger heard {heard:?}");
}

/// Credentials are checked again at every heartbeat: a user disabled by an admin loses its open
/// WebSocket (4401) and SSE stream (a `close` event) within a heartbeat or two.
#[tokio::test]
async fn a_connection_ends_when_its_credentials_are_revoked() {
    let app = TestApp::with(Options {
        feed: FeedSettings {
            heartbeat: Duration::from_millis(300),
            ..FeedSettings::default()
        },
        ..Options::default()
    })
    .await;
    let address = serve(&app).await;
    let (_, admin) = app.user("admin@a.example", true).await;
    let (user_id, user) = app.user("user@b.example", false).await;
    let mut ws = Ws::connect(&address, &user).await;
    ws.subscribe(json!({ "category": "heat" })).await;
    let sse = reqwest::Client::new()
        .get(format!("http://{address}/api/v1/events?category=heat"))
        .header("authorization", bearer(&user).expect("a token"))
        .send()
        .await
        .expect("answered");
    assert_eq!(sse.status(), 200);
    // Still open after several heartbeats while the credentials hold.
    assert!(ws.drain(Duration::from_millis(800)).await.is_empty());

    let answer = app
        .post(
            &format!("/api/v1/admin/users/{user_id}/disable"),
            &admin,
            &json!({}),
        )
        .await;
    assert!(answer.0.is_success(), "{}", answer.2);
    let (code, reason) = ws.closed().await;
    assert_eq!(code, 4401, "{reason}");
    let text = sse_until(sse, |text| text.contains("event: close")).await;
    assert!(text.contains("revoked"), "{text}");
}
