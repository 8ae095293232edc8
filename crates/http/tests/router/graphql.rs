//! `/graphql`: queries read what REST reads, mutations need the rights REST asks for and name the
//! field at fault, a stranger sees an anonymous side exactly as REST shows it (queries and
//! subscriptions), the depth and complexity limits refuse with a code, and a body that cannot be
//! read is a problem document. Subscriptions are driven over a real socket with
//! tokio-tungstenite speaking `graphql-transport-ws`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::http::StatusCode;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use symbiont_store::accounts::{KeyScope, Role};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;

use crate::harness::{
    Options, TestApp, Who, assert_bad_request, assert_invalid, business_body, heat_flow, site_body,
};

const WAIT: Duration = Duration::from_secs(10);

/// Runs `query` with `variables` as `who`; the GraphQL response (always a 200).
async fn gql(app: &TestApp, who: &Who, query: &str, variables: Value) -> Value {
    let (status, _, body) = app
        .post(
            "/graphql",
            who,
            &json!({ "query": query, "variables": variables }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The code of the first error of a GraphQL response.
#[track_caller]
fn error_code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {response}"))
}

/// A business with one site, created over REST by `who`: (business id, site id).
async fn business_with_site(app: &TestApp, who: &Who, name: &str, lat: f64) -> (String, String) {
    let business = app
        .create("/api/v1/businesses", who, &business_body(name))
        .await;
    let site = app
        .create(
            &format!("/api/v1/businesses/{business}/sites"),
            who,
            &site_body(lat, 7.0),
        )
        .await;
    (business, site)
}

/// An offer of `offerer` (anonymous or not) and a public need of `needer` that match.
async fn matched_pair(app: &TestApp, offerer: &Who, needer: &Who, anonymous: bool) -> String {
    let (_, offer_site) = business_with_site(app, offerer, "Offer Works", 51.0).await;
    let (_, need_site) = business_with_site(app, needer, "Need Works", 51.01).await;
    let mut offer = heat_flow(&offer_site, "offer", 80.0, 500.0);
    offer["anonymous"] = json!(anonymous);
    app.create("/api/v1/flows", offerer, &offer).await;
    app.create(
        "/api/v1/flows",
        needer,
        &heat_flow(&need_site, "need", 60.0, 400.0),
    )
    .await;
    let (status, _, page) = app.get("/api/v1/matches", needer).await;
    assert_eq!(status, StatusCode::OK);
    page["items"][0]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("a match in {page}"))
        .to_string()
}

#[tokio::test]
async fn queries_read_what_rest_reads() {
    let app = TestApp::start().await;
    let (_, offerer) = app.user("offerer@a.example", false).await;
    let (_, needer) = app.user("needer@b.example", false).await;
    let match_id = matched_pair(&app, &offerer, &needer, false).await;

    let answer = gql(
        &app,
        &Who::Anonymous,
        "query($id: UUID!) {
            businesses(first: 1) { nodes { id name } pageInfo { hasNextPage endCursor } }
            flows(direction: OFFER) { nodes { id direction category business { name } } }
            match(id: $id) { id score status explanation offerBusiness { name } needBusiness { name } }
            matches(first: 5, order: SAVINGS) { nodes { id } pageInfo { hasNextPage } }
            stats { businesses offers needs liveMatches }
            categories(group: \"heat\") { code group }
            networkChains { nodes { id } }
        }",
        json!({ "id": match_id }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let data = &answer["data"];
    assert_eq!(data["businesses"]["nodes"][0]["name"], "Offer Works");
    assert_eq!(data["businesses"]["pageInfo"]["hasNextPage"], true);
    let after = data["businesses"]["pageInfo"]["endCursor"].clone();
    assert_eq!(data["flows"]["nodes"][0]["business"]["name"], "Offer Works");
    assert_eq!(data["match"]["offerBusiness"]["name"], "Offer Works");
    assert_eq!(data["match"]["needBusiness"]["name"], "Need Works");
    assert_eq!(data["match"]["status"], "SUGGESTED");
    assert_eq!(data["matches"]["nodes"][0]["id"], match_id);
    assert_eq!(data["stats"]["businesses"], 2);
    assert_eq!(data["stats"]["liveMatches"], 1);
    assert!(
        data["categories"]
            .as_array()
            .is_some_and(|c| c.iter().all(|c| c["group"] == "heat"))
    );
    let (_, _, rest) = app
        .get(&format!("/api/v1/matches/{match_id}"), &Who::Anonymous)
        .await;
    assert_eq!(data["match"]["score"], rest["score"]);
    assert_eq!(data["match"]["explanation"], rest["explanation"]);

    let next = gql(
        &app,
        &Who::Anonymous,
        "query($after: String) { businesses(first: 1, after: $after) { nodes { name } pageInfo { hasNextPage } } }",
        json!({ "after": after }),
    )
    .await;
    assert_eq!(next["data"]["businesses"]["nodes"][0]["name"], "Need Works");
    assert_eq!(next["data"]["businesses"]["pageInfo"]["hasNextPage"], false);

    // Filters are checked as REST checks them, and the field is named.
    let bad = gql(
        &app,
        &Who::Anonymous,
        "{ matches(category: \"heat.nonsense\", first: 5) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&bad), "BAD_USER_INPUT", "{bad}");
    assert_eq!(bad["errors"][0]["extensions"]["field"], "category");
    let bad = gql(
        &app,
        &Who::Anonymous,
        "{ businesses(first: 0) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(bad["errors"][0]["extensions"]["field"], "first", "{bad}");
    let missing = gql(
        &app,
        &Who::Anonymous,
        "query($id: UUID!) { business(id: $id) { name } }",
        json!({ "id": uuid::Uuid::now_v7() }),
    )
    .await;
    assert_eq!(error_code(&missing), "NOT_FOUND", "{missing}");
}

#[tokio::test]
async fn mutations_need_the_rights_rest_asks_for() {
    let app = TestApp::start().await;
    let (owner_id, owner) = app.user("owner@a.example", false).await;
    let (_, stranger) = app.user("stranger@b.example", false).await;
    let create = "mutation($input: JSON!) { createBusiness(input: $input) { id name version } }";

    let refused = gql(
        &app,
        &Who::Anonymous,
        create,
        json!({ "input": business_body("Nobody's") }),
    )
    .await;
    assert_eq!(error_code(&refused), "UNAUTHENTICATED", "{refused}");
    assert!(refused["data"].is_null(), "{refused}");

    let (_, read_only) = app.api_key(owner_id, KeyScope::Read).await;
    let refused = gql(
        &app,
        &read_only,
        create,
        json!({ "input": business_body("Read Only") }),
    )
    .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");

    let mut incomplete = business_body("Half");
    incomplete.as_object_mut().map(|b| b.remove("industry"));
    let invalid = gql(&app, &owner, create, json!({ "input": incomplete })).await;
    assert_eq!(error_code(&invalid), "BAD_USER_INPUT", "{invalid}");
    assert_eq!(
        invalid["errors"][0]["extensions"]["field"],
        "input.industry"
    );
    let invalid = gql(&app, &owner, create, json!({ "input": business_body("") })).await;
    assert_eq!(
        invalid["errors"][0]["extensions"]["field"], "name",
        "{invalid}"
    );

    let created = gql(
        &app,
        &owner,
        create,
        json!({ "input": business_body("Brewery") }),
    )
    .await;
    let business = created["data"]["createBusiness"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("created: {created}"))
        .to_string();
    let (status, _, rest) = app
        .get(&format!("/api/v1/businesses/{business}"), &Who::Anonymous)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rest["name"], "Brewery");

    let update = "mutation($id: UUID!, $patch: JSON!, $v: Int) { updateBusiness(id: $id, patch: $patch, ifMatch: $v) { name version } }";
    let refused = gql(
        &app,
        &stranger,
        update,
        json!({ "id": business, "patch": { "name": "Taken Over" } }),
    )
    .await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let stale = gql(
        &app,
        &owner,
        update,
        json!({ "id": business, "patch": { "name": "Renamed" }, "v": 7 }),
    )
    .await;
    assert_eq!(error_code(&stale), "PRECONDITION_FAILED", "{stale}");
    let updated = gql(
        &app,
        &owner,
        update,
        json!({ "id": business, "patch": { "name": "Renamed" }, "v": 1 }),
    )
    .await;
    assert_eq!(updated["data"]["updateBusiness"]["version"], 2, "{updated}");

    // A site and a flow through GraphQL, then a decision only the parties may take.
    let site = gql(
        &app,
        &owner,
        "mutation($b: UUID!, $input: JSON!) { createSite(businessId: $b, input: $input) { id business { name } } }",
        json!({ "b": business, "input": site_body(51.0, 7.0) }),
    )
    .await;
    assert_eq!(
        site["data"]["createSite"]["business"]["name"], "Renamed",
        "{site}"
    );
    let site_id = site["data"]["createSite"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let flow = gql(
        &app,
        &owner,
        "mutation($input: JSON!) { createFlow(input: $input) { id direction status } }",
        json!({ "input": heat_flow(&site_id, "offer", 80.0, 500.0) }),
    )
    .await;
    assert_eq!(flow["data"]["createFlow"]["direction"], "OFFER", "{flow}");
    let (_, need_site) = business_with_site(&app, &stranger, "Greenhouse", 51.01).await;
    app.create(
        "/api/v1/flows",
        &stranger,
        &heat_flow(&need_site, "need", 60.0, 400.0),
    )
    .await;
    let (_, _, page) = app.get("/api/v1/matches", &owner).await;
    let match_id = page["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let (_, outsider) = app.user("outsider@c.example", false).await;
    let decide = "mutation($id: UUID!) { decideMatch(id: $id, status: CONTACTED, note: \"call us\") { status note decisionVersion } }";
    let refused = gql(&app, &outsider, decide, json!({ "id": match_id })).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let decided = gql(&app, &owner, decide, json!({ "id": match_id })).await;
    assert_eq!(
        decided["data"]["decideMatch"]["status"], "CONTACTED",
        "{decided}"
    );
    assert_eq!(decided["data"]["decideMatch"]["note"], "call us");
    let again = gql(&app, &owner, decide, json!({ "id": match_id })).await;
    assert_eq!(error_code(&again), "CONFLICT", "{again}");

    // Members write; only owners delete.
    let (member_id, member) = app.user("member@a.example", false).await;
    app.add_member(&business, member_id, Role::Member).await;
    let delete = "mutation($id: UUID!) { deleteBusiness(id: $id) }";
    let refused = gql(&app, &member, delete, json!({ "id": business })).await;
    assert_eq!(error_code(&refused), "FORBIDDEN", "{refused}");
    let deleted = gql(&app, &owner, delete, json!({ "id": business })).await;
    assert_eq!(deleted["data"]["deleteBusiness"], true, "{deleted}");
}

#[tokio::test]
async fn a_stranger_sees_an_anonymous_side_as_rest_shows_it() {
    let app = TestApp::start().await;
    let (_, hider) = app.user("hider@a.example", false).await;
    let (_, needer) = app.user("needer@b.example", false).await;
    let (_, stranger) = app.user("stranger@c.example", false).await;
    let match_id = matched_pair(&app, &hider, &needer, true).await;
    let (_, _, rest) = app
        .get(&format!("/api/v1/matches/{match_id}"), &stranger)
        .await;
    assert!(rest["offer_business_id"].is_null(), "{rest}");

    let answer = gql(
        &app,
        &stranger,
        "query($id: UUID!) {
            match(id: $id) {
                offerBusinessId offerFlowId offerBusiness { name } needBusiness { name }
                score distanceKm distanceBand savingsBand co2Band quantityBand redacted explanation
            }
            matches { nodes { offerBusinessId offerBusiness { name } } }
            flows(direction: OFFER) { nodes { id } }
        }",
        json!({ "id": match_id }),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let seen = &answer["data"]["match"];
    assert!(seen["offerBusinessId"].is_null() && seen["offerFlowId"].is_null());
    assert!(seen["offerBusiness"].is_null(), "{seen}");
    assert_eq!(seen["needBusiness"]["name"], "Need Works");
    assert!(seen["distanceKm"].is_null());
    assert_eq!(seen["redacted"], json!(["OFFER"]));
    for (graphql, rest_field) in [
        ("score", "score"),
        ("distanceBand", "distance_band"),
        ("savingsBand", "savings_band"),
        ("co2Band", "co2_band"),
        ("quantityBand", "quantity_band"),
        ("explanation", "explanation"),
    ] {
        assert_eq!(seen[graphql], rest[rest_field], "{graphql}");
    }
    let listed = &answer["data"]["matches"]["nodes"][0];
    assert!(listed["offerBusinessId"].is_null() && listed["offerBusiness"].is_null());
    assert_eq!(
        answer["data"]["flows"]["nodes"],
        json!([]),
        "no anonymous flow"
    );

    // Its owner sees it whole.
    let whole = gql(
        &app,
        &hider,
        "query($id: UUID!) { match(id: $id) { offerBusiness { name } redacted } }",
        json!({ "id": match_id }),
    )
    .await;
    assert_eq!(
        whole["data"]["match"]["offerBusiness"]["name"],
        "Offer Works"
    );
    assert!(whole["data"]["match"]["redacted"].is_null());
}

#[tokio::test]
async fn limits_refuse_deep_and_complex_operations_with_a_code() {
    let mut options = Options::default();
    options.http.graphql.max_depth = 4;
    options.http.graphql.max_complexity = 200;
    let app = TestApp::with(options).await;
    let fine = gql(
        &app,
        &Who::Anonymous,
        "{ matches(first: 10) { nodes { id offerBusiness { name } } } }",
        json!({}),
    )
    .await;
    assert!(fine.get("errors").is_none(), "{fine}");
    let deep = gql(
        &app,
        &Who::Anonymous,
        "{ matches(first: 1) { nodes { offerBusiness { contact { email } } } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&deep), "QUERY_TOO_DEEP", "{deep}");
    assert!(deep["data"].is_null());
    let complex = gql(
        &app,
        &Who::Anonymous,
        "{ businesses(first: 1000) { nodes { id name industry } } }",
        json!({}),
    )
    .await;
    assert_eq!(error_code(&complex), "QUERY_TOO_COMPLEX", "{complex}");
    let broken = gql(&app, &Who::Anonymous, "{ businesses { ", json!({})).await;
    assert_eq!(error_code(&broken), "GRAPHQL_VALIDATION_FAILED", "{broken}");
}

#[tokio::test]
async fn a_body_that_cannot_be_read_is_a_problem_naming_the_field() {
    let app = TestApp::start().await;
    assert_invalid(
        &app.post("/graphql", &Who::Anonymous, &json!({})).await,
        "query",
    );
    assert_invalid(
        &app.post("/graphql", &Who::Anonymous, &json!({ "query": " " }))
            .await,
        "query",
    );
    assert_invalid(
        &app.post(
            "/graphql",
            &Who::Anonymous,
            &json!({ "query": "{ stats { sites } }", "variables": [1] }),
        )
        .await,
        "variables",
    );
    let malformed = app
        .raw(
            axum::http::Method::POST,
            "/graphql",
            &Who::Anonymous,
            Some("application/json"),
            "{ not json",
        )
        .await;
    assert_bad_request(&malformed, "body");
    // A plain GET is not an upgrade.
    let (status, _, _) = app.get("/graphql", &Who::Anonymous).await;
    assert!(status.is_client_error(), "{status}");
}

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

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn graphql_socket(address: &str) -> Socket {
    let mut request = format!("ws://{address}/graphql")
        .into_client_request()
        .expect("a WebSocket URL");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the upgrade succeeds");
    assert_eq!(
        response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok()),
        Some("graphql-transport-ws")
    );
    socket
}

async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message within the wait")
            .expect("the socket is open")
            .expect("a readable message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("JSON"),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_subscription_gets_a_write_redacted_for_a_stranger_as_rest_shows_it() {
    let app = TestApp::start().await;
    let address = serve(&app).await;
    let (_, hider) = app.user("hider@a.example", false).await;
    let (_, needer) = app.user("needer@b.example", false).await;
    let (_, stranger) = app.user("stranger@c.example", false).await;
    let Who::Bearer(stranger_token) = &stranger else {
        panic!("a bearer token");
    };

    let mut socket = graphql_socket(&address).await;
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {stranger_token}") } });
    socket
        .send(Message::text(init.to_string()))
        .await
        .expect("sent");
    assert_eq!(next_json(&mut socket).await["type"], "connection_ack");
    let subscribe = json!({
        "id": "heat",
        "type": "subscribe",
        "payload": { "query": "subscription { feed(category: \"heat\") { id type data match { id offerBusinessId offerBusiness { name } redacted } } }" },
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .expect("sent");
    // The subscription is registered once its first poll ran; a write after a short pause is
    // after it.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let match_id = matched_pair(&app, &hider, &needer, true).await;
    let event = loop {
        let message = next_json(&mut socket).await;
        assert_eq!(message["type"], "next", "{message}");
        assert!(message["payload"].get("errors").is_none(), "{message}");
        let event = message["payload"]["data"]["feed"].clone();
        if event["type"] == "match.proposed" {
            break event;
        }
    };
    let (_, _, rest) = app
        .get(&format!("/api/v1/matches/{match_id}"), &stranger)
        .await;
    assert_eq!(event["data"], rest, "the event is the REST view");
    assert!(event["match"]["offerBusinessId"].is_null());
    assert!(event["match"]["offerBusiness"].is_null());
    assert_eq!(event["match"]["redacted"], json!(["OFFER"]));

    // Bad credentials in connection_init end the socket.
    let mut refused = graphql_socket(&address).await;
    let init = json!({ "type": "connection_init", "payload": { "token": "not-a-token" } });
    refused
        .send(Message::text(init.to_string()))
        .await
        .expect("sent");
    let closed = tokio::time::timeout(WAIT, refused.next())
        .await
        .expect("an answer within the wait");
    assert!(
        matches!(closed, Some(Ok(Message::Close(Some(_))))),
        "{closed:?}"
    );
}
