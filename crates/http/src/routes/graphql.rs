//! GraphQL over HTTP at `/graphql`: `POST` runs a query or a mutation (JSON body `{"query",
//! "operationName", "variables"}`), `GET` upgrades to a WebSocket speaking `graphql-transport-ws`
//! for subscriptions. Both are thin: the caller is resolved as for REST (the authentication layer
//! for `POST` and the upgrade's headers; the `connection_init` payload on a socket, never the URL)
//! and `symbiont_graphql::GraphqlService` does the rest.
//!
//! A body that cannot be read is a problem document like every REST 4xx; an operation that can be
//! read answers 200 with GraphQL's `data` and `errors` (each error with `extensions.code`).

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::http::{WebSocket as GraphqlWebSocket, WsMessage};
use async_graphql::parser::types::{ExecutableDocument, OperationType};
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use symbiont_app::identity::Caller;
use symbiont_graphql::Requester;

use super::feed::{Peer, presented_credential};
use crate::audit_trail::NotAWrite;
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::Json;
use crate::state::SharedState;

/// The WebSocket subprotocol spoken on `/graphql` (graphql-ws's `graphql-transport-ws`).
pub const SUBPROTOCOL: &str = "graphql-transport-ws";
/// The largest message a subscription client may send.
const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;
/// Close code for a client too slow to take what it is sent (as the live feed's sockets).
const CLOSE_TOO_SLOW: u16 = 4008;

/// A GraphQL request over HTTP.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct GraphqlBody {
    /// The operation(s), in GraphQL.
    pub query: String,
    /// Which operation of `query` to run, when it holds several.
    #[serde(default, rename = "operationName")]
    pub operation_name: Option<String>,
    /// Values of the operation's variables.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub variables: Option<serde_json::Value>,
    /// Ignored (protocol extensions such as persisted queries are not supported); accepted so
    /// clients that send it are not refused.
    #[serde(default)]
    #[allow(dead_code)]
    #[schema(value_type = Option<Object>)]
    pub extensions: Option<serde_json::Value>,
}

/// What `POST /graphql` answers once the body could be read (schema only: the answer is
/// async-graphql's response, serialized as the GraphQL specification writes it).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct GraphqlAnswer {
    /// The selected fields' values; null when the operation could not run.
    #[schema(value_type = Option<Object>)]
    pub data: Option<serde_json::Value>,
    /// Each with `message`, `locations`, `path` and `extensions.code` (and `extensions.field`
    /// where the input was at fault).
    #[schema(value_type = Option<Vec<Object>>)]
    pub errors: Option<Vec<serde_json::Value>>,
}

/// Runs a query or a mutation.
#[utoipa::path(
    post,
    path = "/graphql",
    operation_id = "graphql",
    tag = "graphql",
    summary = "Run a GraphQL query or mutation",
    description = "The schema is `api/schema.graphql`. Credentials as in REST; a mutation needs credentials that allow writing. Answers 200 with `data` and `errors` once the body could be read (every error has `extensions.code`, and `extensions.field` where the input was at fault); subscriptions use a WebSocket on the same path (`graphql-transport-ws`, credentials in `connection_init`).",
    request_body(content = GraphqlBody, example = json!({"query": "{ businesses(first: 5) { nodes { id name } pageInfo { hasNextPage endCursor } } }"})),
    responses(
        (status = 200, description = "The GraphQL response", body = GraphqlAnswer),
        crate::openapi::JsonBodyErrors,
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn execute(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    Json(body): Json<GraphqlBody>,
) -> Result<Response, ApiError> {
    if body.query.trim().is_empty() {
        return Err(ApiError::invalid("query", "must hold a GraphQL operation"));
    }
    let mut request = async_graphql::Request::new(body.query);
    if let Some(name) = body.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = body.variables {
        if !(variables.is_object() || variables.is_null()) {
            return Err(ApiError::invalid("variables", "must be an object"));
        }
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    // Only mutations write; the audit trail records them and nothing else of this route.
    let writes = request.parsed_query().is_ok_and(has_mutation);
    let credential = (!matches!(caller, Caller::Anonymous))
        .then(|| presented_credential(&headers))
        .flatten();
    let answer = state
        .graphql
        .run(request, Requester::new(caller, credential))
        .await;
    let mut response = crate::json::response(axum::http::StatusCode::OK, &answer);
    if !writes {
        response.extensions_mut().insert(NotAWrite);
    }
    Ok(response)
}

fn has_mutation(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .any(|(_, operation)| operation.node.ty == OperationType::Mutation)
}

/// Upgrades to a subscription socket.
#[utoipa::path(
    get,
    path = "/graphql",
    operation_id = "graphqlSubscriptions",
    tag = "graphql",
    summary = "GraphQL subscriptions over WebSocket",
    description = "Upgrades to a WebSocket speaking `graphql-transport-ws` (offer it in `Sec-WebSocket-Protocol`). Credentials: the `Authorization` header, or the `connection_init` payload `{\"authorization\": \"Bearer …\"}` (or `{\"token\": \"…\"}`); never the URL. Without credentials the subscriptions get the public (redacted) view. `subscription { feed(business: …) { id type data } }` streams the live feed's events as the REST views show them to the caller.",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn websocket(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Peer(peer): Peer,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let offered = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim() == SUBPROTOCOL);
    if !offered {
        return Err(ApiError::bad_request(
            "Sec-WebSocket-Protocol",
            format!("offer the {SUBPROTOCOL} subprotocol"),
        ));
    }
    let credential = (!matches!(caller, Caller::Anonymous))
        .then(|| presented_credential(&headers))
        .flatten();
    Ok(upgrade
        .protocols([SUBPROTOCOL])
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            serve_socket(state, socket, Requester::new(caller, credential), peer)
        })
        .into_response())
}

/// The credential a `connection_init` payload carries: `authorization` (`Bearer …`), `token` or
/// `apiKey`.
fn credential_in(payload: &serde_json::Value) -> Option<String> {
    let text = |key: &str| payload.get(key).and_then(|v| v.as_str()).map(str::trim);
    if let Some(value) = text("authorization").or_else(|| text("Authorization")) {
        let token = match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token,
            _ => value,
        };
        return Some(token.trim().to_string());
    }
    text("token").or_else(|| text("apiKey")).map(str::to_string)
}

async fn serve_socket(
    state: SharedState,
    socket: WebSocket,
    by_header: Requester,
    peer: Option<SocketAddr>,
) {
    let (mut sink, mut stream) = socket.split();
    // The socket is read by a task of its own, which forwards the protocol's messages and keeps
    // reading after the protocol has ended, until the client's close: the GraphQL side stops
    // polling its input once it has closed, and a message left unread would turn the socket's end
    // into a reset that can reach the client before the close frame.
    let (forward, received) = tokio::sync::mpsc::channel::<Vec<u8>>(16);
    let mut reader = tokio::spawn(async move {
        while let Some(Ok(message)) = stream.next().await {
            let payload = match message {
                Message::Text(text) => text.as_str().as_bytes().to_vec(),
                Message::Binary(bytes) => bytes.to_vec(),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            // Once the protocol has ended nobody receives: the message is dropped.
            let _ = forward.send(payload).await;
        }
    });
    let incoming = futures_util::stream::unfold(received, |mut received| async move {
        received.recv().await.map(|payload| (payload, received))
    });
    let service = state.graphql.clone();
    let on_init = {
        let state = state.clone();
        let service = service.clone();
        move |payload: serde_json::Value| async move {
            let Some(token) = credential_in(&payload) else {
                return Ok(service.connection_data(by_header));
            };
            let refused =
                || async_graphql::Error::new("the credentials are invalid, expired or revoked");
            let Ok(value) = HeaderValue::from_str(&format!("Bearer {token}")) else {
                return Err(refused());
            };
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value);
            match crate::authentication::caller_of_request(&state, &headers, peer, false).await {
                Ok(caller) => Ok(service.connection_data(Requester::new(caller, Some(token)))),
                Err(_) => Err(refused()),
            }
        }
    };
    let mut messages = Box::pin(
        GraphqlWebSocket::new(
            service,
            incoming,
            async_graphql::http::WebSocketProtocols::GraphQLWS,
        )
        .on_connection_init(on_init),
    );
    let send_timeout = state.live_feed().settings().send_timeout;
    let closing = state.live_feed().closing();
    loop {
        let next = tokio::select! {
            next = messages.next() => next,
            _ = closing.cancelled() => Some(WsMessage::Close(1001, "server shutting down".into())),
        };
        let (message, last) = match next {
            Some(WsMessage::Text(text)) => (Message::Text(Utf8Bytes::from(text)), false),
            Some(WsMessage::Close(code, reason)) => (
                Message::Close(Some(CloseFrame {
                    code,
                    reason: Utf8Bytes::from(reason),
                })),
                true,
            ),
            None => break,
        };
        match tokio::time::timeout(send_timeout, sink.send(message)).await {
            Ok(Ok(())) if !last => {}
            Ok(_) => break,
            Err(_) => {
                let frame = CloseFrame {
                    code: CLOSE_TOO_SLOW,
                    reason: Utf8Bytes::from_static("too slow: a write took too long"),
                };
                let _ = tokio::time::timeout(
                    Duration::from_secs(1),
                    sink.send(Message::Close(Some(frame))),
                )
                .await;
                break;
            }
        }
    }
    drop(messages);
    if tokio::time::timeout(Duration::from_secs(1), &mut reader)
        .await
        .is_err()
    {
        reader.abort();
    }
}
