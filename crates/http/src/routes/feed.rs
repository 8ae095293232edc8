//! The live feed over HTTP: `GET /api/v1/ws` (WebSocket) and `GET /api/v1/events` (Server-Sent
//! Events, for clients behind proxies that break WebSockets). Both are thin: they authenticate as
//! REST does, turn subscription requests into `symbiont_app::live_feed` topics (the app checks
//! them) and write what the app's subscriber yields. The message formats are in README's "Live
//! feed" section.
//!
//! Neither buffers without bound: a write to the client that takes longer than the feed's send
//! timeout, or a client that falls too far behind the feed, ends the connection with a reason.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use symbiont_app::AppError;
use symbiont_app::identity::Caller;
use symbiont_app::live_feed::{Delivery, FeedItem, FeedSettings, FeedSubscriber, TopicRequest};
use symbiont_app::visibility::Viewer;
use uuid::Uuid;

use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::QueryParams;
use crate::state::SharedState;

/// The largest message a WebSocket client may send (a subscription is a few hundred bytes).
const MAX_CLIENT_MESSAGE_BYTES: usize = 16 * 1024;
/// What a WebSocket connection reads the socket in (client messages are small).
const READ_BUFFER_BYTES: usize = 4 * 1024;
/// Longest subscription name a client may choose.
const MAX_SUBSCRIPTION_NAME: usize = 64;
/// Events an SSE connection holds between the feed and the socket before the feed waits.
const SSE_QUEUE: usize = 64;
/// Close code for a client dropped as too slow (the 4000–4999 range is the application's).
pub const CLOSE_TOO_SLOW: u16 = 4008;
/// Close code for credentials refused in the first message.
pub const CLOSE_UNAUTHORIZED: u16 = 4401;

/// The WebSocket endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/ws",
    operation_id = "openWebSocket",
    tag = "feed",
    summary = "Live feed over WebSocket",
    description = "Upgrades to a WebSocket carrying the live feed of match and flow events, filtered and redacted for the caller. Credentials: the `Authorization` header as in REST, or a first message `{\"type\":\"auth\",\"token\":\"…\"}`; never in the URL. Without credentials the connection gets the public (redacted) view. Client messages: `subscribe` (one of `business`, `flow`, `category`, `bbox`), `unsubscribe`, `resume` (`last_event_id`). Server messages: events `{\"type\":\"match.proposed\",\"id\":\"…\",\"data\":{…}}` and the control messages `welcome`, `authenticated`, `subscribed`, `unsubscribed`, `resumed`, `resync`, `error`. A client too slow to read is closed with code 4008; at shutdown 1001. README's \"Live feed\" section has the formats.",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 503, response = crate::openapi::Overloaded),
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
    // The connection limit is checked before upgrading, so a refusal is an HTTP answer.
    let subscriber = state.feed_subscriber(Viewer::of(&caller))?;
    let by_header = !matches!(caller, Caller::Anonymous);
    let credential = by_header.then(|| presented_credential(&headers)).flatten();
    Ok(upgrade
        // The library's defaults (a 128 KiB read buffer allocated per connection) would make each
        // idle subscriber cost over 100 KiB; clients send a few small messages.
        .read_buffer_size(READ_BUFFER_BYTES)
        .write_buffer_size(0)
        .max_message_size(MAX_CLIENT_MESSAGE_BYTES)
        .max_frame_size(MAX_CLIENT_MESSAGE_BYTES)
        .on_upgrade(move |socket| {
            Connection {
                state,
                socket,
                subscriber,
                authenticated: by_header,
                credential,
                first: true,
                peer,
            }
            .run()
        }))
}

/// The client's address, when the server was started with connect info (for rate limits on
/// credentials sent in the first message).
pub struct Peer(pub(crate) Option<SocketAddr>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Peer(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|info| info.0),
        ))
    }
}

/// What a WebSocket client sends: `type` says which of the other fields count (`auth`: `token`;
/// `subscribe`: `id` and one topic; `unsubscribe`: `id`; `resume`: `last_event_id`). One flat shape,
/// so that a parse error names the field at fault.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    business: Option<Uuid>,
    #[serde(default)]
    flow: Option<Uuid>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    bbox: Option<[f64; 4]>,
    #[serde(default)]
    last_event_id: Option<String>,
}

/// Why a connection ends.
enum End {
    Close(u16, String),
    /// The peer is gone or cannot be written to: nothing more to send.
    Gone,
}

struct Connection {
    state: SharedState,
    socket: WebSocket,
    subscriber: FeedSubscriber,
    /// Credentials came with the upgrade request, or in the first message.
    authenticated: bool,
    /// Those credentials, checked again at every heartbeat.
    credential: Option<String>,
    /// No client message has been read yet (only the first may carry credentials).
    first: bool,
    peer: Option<SocketAddr>,
}

impl Connection {
    async fn run(mut self) {
        let settings = self.state.live_feed().settings().clone();
        let welcome = json!({
            "type": "welcome",
            "stream": self.state.live_feed().stream(),
            "last_event_id": self.subscriber.last_event_id(),
            "authenticated": self.authenticated,
            "heartbeat_secs": settings.heartbeat.as_secs(),
            "max_subscriptions": settings.max_topics,
        });
        let mut end = self.send_json(&welcome).await.err();
        let mut heartbeat = tokio::time::interval(settings.heartbeat);
        heartbeat.tick().await;
        while end.is_none() {
            // Both futures are cancel-safe: a message or an event is never lost to the other branch.
            let step = tokio::select! {
                incoming = self.socket.recv() => match incoming {
                    Some(Ok(Message::Text(text))) => self.on_message(text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => {
                        self.send_error(None, "messages are JSON text frames", None).await
                    }
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(()),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Err(End::Gone),
                },
                item = self.subscriber.next() => match item {
                    FeedItem::Events(events) => self.send_events(events).await,
                    FeedItem::TooSlow { behind } => Err(End::Close(
                        CLOSE_TOO_SLOW,
                        format!("too slow: {behind} events behind; reconnect and resume"),
                    )),
                    FeedItem::Closed => Err(End::Close(close_code::AWAY, "server shutting down".into())),
                },
                _ = heartbeat.tick() => self.beat().await,
            };
            end = step.err();
        }
        if let Some(End::Close(code, reason)) = end {
            let frame = CloseFrame {
                code,
                reason: Utf8Bytes::from(reason),
            };
            // The close handshake: send the frame, then read until the client's own close. Ending the
            // socket straight after sending would make a message still in flight from the client (a
            // pong) meet a closed socket, and the kernel's reset could reach the client before the
            // frame does. A client that does not answer within a second is simply dropped.
            let socket = &mut self.socket;
            let closing = async move {
                if socket.send(Message::Close(Some(frame))).await.is_err() {
                    return;
                }
                while let Some(Ok(message)) = socket.recv().await {
                    if matches!(message, Message::Close(_)) {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), closing).await;
        }
    }

    /// A heartbeat: a ping, and the credentials checked again, so the connection's view follows
    /// membership changes and ends when they expire or are revoked.
    async fn beat(&mut self) -> Result<(), End> {
        self.send(Message::Ping(Default::default())).await?;
        if let Some(credential) = &self.credential {
            match recheck(&self.state, credential, self.peer).await {
                Some(viewer) => self.subscriber.set_viewer(viewer),
                None => {
                    return Err(End::Close(
                        CLOSE_UNAUTHORIZED,
                        "the credentials have expired or been revoked".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    async fn send(&mut self, message: Message) -> Result<(), End> {
        let timeout = self.state.live_feed().settings().send_timeout;
        match tokio::time::timeout(timeout, self.socket.send(message)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Gone),
            Err(_) => Err(End::Close(
                CLOSE_TOO_SLOW,
                format!("too slow: a write took over {} s", timeout.as_secs()),
            )),
        }
    }

    async fn send_json(&mut self, value: &serde_json::Value) -> Result<(), End> {
        self.send(Message::Text(Utf8Bytes::from(value.to_string())))
            .await
    }

    async fn send_events(&mut self, events: Vec<Delivery>) -> Result<(), End> {
        for event in events {
            let text = format!(
                r#"{{"type":"{}","id":"{}","data":{}}}"#,
                event.kind, event.id, event.data
            );
            self.send(Message::Text(Utf8Bytes::from(text))).await?;
        }
        Ok(())
    }

    /// An `error` message; the connection stays open.
    async fn send_error(
        &mut self,
        field: Option<&str>,
        message: &str,
        subscription: Option<&str>,
    ) -> Result<(), End> {
        self.send_json(&json!({
            "type": "error",
            "field": field,
            "message": message,
            "id": subscription,
        }))
        .await
    }

    async fn on_message(&mut self, text: &str) -> Result<(), End> {
        let first = std::mem::replace(&mut self.first, false);
        let mut reader = serde_json::Deserializer::from_str(text);
        let message: ClientMessage = match serde_path_to_error::deserialize(&mut reader) {
            Ok(message) => message,
            Err(error) => {
                let path = error.path().to_string();
                let field = match path.as_str() {
                    "." | "" | "?" => "type".to_string(),
                    other => other.split(['.', '[']).next().unwrap_or("type").to_string(),
                };
                let message = format!("unreadable message: {}", error.inner());
                return self.send_error(Some(&field), &message, None).await;
            }
        };
        let ClientMessage {
            kind,
            token,
            id,
            business,
            flow,
            category,
            bbox,
            last_event_id,
        } = message;
        match kind.as_str() {
            "auth" => {
                let Some(token) = token else {
                    return self
                        .send_error(Some("token"), "an auth message carries a token", None)
                        .await;
                };
                if !first {
                    return Err(End::Close(
                        close_code::POLICY,
                        "credentials are accepted only in the first message".into(),
                    ));
                }
                let mut headers = HeaderMap::new();
                let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.trim())) else {
                    return Err(End::Close(
                        CLOSE_UNAUTHORIZED,
                        "the token is unreadable".into(),
                    ));
                };
                headers.insert(header::AUTHORIZATION, value);
                match crate::authentication::caller_of_request(
                    &self.state,
                    &headers,
                    self.peer,
                    false,
                )
                .await
                {
                    Ok(caller) => {
                        self.subscriber.set_viewer(Viewer::of(&caller));
                        self.authenticated = true;
                        self.credential = Some(token.trim().to_string());
                        self.send_json(&json!({ "type": "authenticated" })).await
                    }
                    Err(_) => Err(End::Close(
                        CLOSE_UNAUTHORIZED,
                        "the credentials are invalid, expired or revoked".into(),
                    )),
                }
            }
            "subscribe" => {
                let request = match topic_request(business, flow, category, bbox) {
                    Ok(request) => request,
                    Err((field, message)) => {
                        return self.send_error(Some(field), &message, id.as_deref()).await;
                    }
                };
                let name =
                    id.unwrap_or_else(|| format!("s{}", self.subscriber.topics().count() + 1));
                if name.is_empty() || name.len() > MAX_SUBSCRIPTION_NAME {
                    let message =
                        format!("a subscription id has 1 to {MAX_SUBSCRIPTION_NAME} characters");
                    return self.send_error(Some("id"), &message, None).await;
                }
                let viewer = self.subscriber.viewer().clone();
                let added = match self.state.feed_topic(&viewer, request).await {
                    Ok(topic) => self.subscriber.subscribe(&name, topic),
                    Err(error) => Err(error),
                };
                match added {
                    Ok(()) => {
                        self.send_json(&json!({ "type": "subscribed", "id": name }))
                            .await
                    }
                    Err(error) => {
                        let (field, message) = refusal(&error);
                        self.send_error(field.as_deref(), &message, Some(&name))
                            .await
                    }
                }
            }
            "unsubscribe" => {
                let Some(id) = id else {
                    return self
                        .send_error(Some("id"), "name the subscription to end", None)
                        .await;
                };
                if self.subscriber.unsubscribe(&id) {
                    self.send_json(&json!({ "type": "unsubscribed", "id": id }))
                        .await
                } else {
                    self.send_error(Some("id"), "no subscription has this id", Some(&id))
                        .await
                }
            }
            "resume" => {
                let Some(last_event_id) = last_event_id else {
                    return self
                        .send_error(Some("last_event_id"), "name the last event received", None)
                        .await;
                };
                match self.subscriber.resume(&last_event_id) {
                    Ok(()) => {
                        self.send_json(
                            &json!({ "type": "resumed", "last_event_id": last_event_id }),
                        )
                        .await
                    }
                    Err(resync) => {
                        self.send_json(&json!({
                            "type": "resync",
                            "reason": resync.0,
                            "last_event_id": self.subscriber.last_event_id(),
                        }))
                        .await
                    }
                }
            }
            other => {
                let message = format!(
                    "'{other}' is not a message type (auth, subscribe, unsubscribe, resume)"
                );
                self.send_error(Some("type"), &message, None).await
            }
        }
    }
}

/// The credential a request presented (`Authorization: Bearer …` or `X-API-Key`), as the
/// authentication layer read it.
pub(crate) fn presented_credential(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        let (_, token) = text.split_once(' ')?;
        return Some(token.trim().to_string());
    }
    headers
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(|key| key.trim().to_string())
}

/// Resolves `credential` again (through the account cache, so thousands of connections cost a
/// few store reads): the viewer it gives now, or `None` once it is expired, revoked or its user
/// disabled.
async fn recheck(
    state: &SharedState,
    credential: &str,
    peer: Option<SocketAddr>,
) -> Option<Viewer> {
    let value = HeaderValue::from_str(&format!("Bearer {credential}")).ok()?;
    let mut headers = HeaderMap::new();
    headers.insert(header::AUTHORIZATION, value);
    crate::authentication::caller_of_request(state, &headers, peer, true)
        .await
        .ok()
        .map(|caller| Viewer::of(&caller))
}

/// Exactly one topic per subscription.
fn topic_request(
    business: Option<Uuid>,
    flow: Option<Uuid>,
    category: Option<String>,
    bbox: Option<[f64; 4]>,
) -> Result<TopicRequest, (&'static str, String)> {
    let mut given = Vec::new();
    if let Some(id) = business {
        given.push(TopicRequest::Business(id));
    }
    if let Some(id) = flow {
        given.push(TopicRequest::Flow(id));
    }
    if let Some(code) = category {
        given.push(TopicRequest::Category(code));
    }
    if let Some(bounds) = bbox {
        given.push(TopicRequest::Area(bounds));
    }
    match given.len() {
        1 => Ok(given.remove(0)),
        0 => Err((
            "subscription",
            "name one of business, flow, category or bbox".into(),
        )),
        _ => Err((
            "subscription",
            "name only one of business, flow, category or bbox per subscription".into(),
        )),
    }
}

/// The field and message a refused subscription reports, in the words REST would use.
fn refusal(error: &AppError) -> (Option<String>, String) {
    match error {
        AppError::BadParameter { name, message } => (Some(name.clone()), message.clone()),
        AppError::NotFound(message) => {
            let field = if message.starts_with("flow") {
                "flow"
            } else {
                "business"
            };
            (Some(field.into()), message.clone())
        }
        AppError::Store(symbiont_store::StoreError::NotFound { entity, .. }) => {
            let field = match entity {
                symbiont_store::Entity::Flow => "flow",
                _ => "business",
            };
            (Some(field.into()), error.to_string())
        }
        other => (None, other.to_string()),
    }
}

/// The SSE endpoint.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    operation_id = "streamEvents",
    tag = "feed",
    summary = "Live feed over Server-Sent Events",
    description = "A `text/event-stream` of match and flow events, filtered and redacted for the caller (credentials as in REST; without them, the public redacted view). Each event has `id` (send it back as `Last-Event-ID` or `last_event_id` to resume), `event` (`match.proposed`, `match.changed`, `match.withdrawn`, `match.decided`, `flow.created`, `flow.updated`, `flow.removed`) and `data` (the match or flow as the REST views show it to the caller). `resync` tells the client to re-read the state; `close` (with a reason) precedes the end of the stream. Idle streams get a `: heartbeat` comment.",
    params(
        crate::openapi::FeedQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event: the `id` of the last event received."),
    ),
    responses(
        (status = 200, description = "The event stream", body = String, content_type = "text/event-stream"),
        (status = 400, response = crate::openapi::BadRequest),
        (status = 401, response = crate::openapi::Unauthorized),
        (status = 404, response = crate::openapi::NotFound),
        (status = 503, response = crate::openapi::Overloaded),
    ),
    security((), ("bearer" = []), ("apiKey" = [])),
)]
pub async fn events(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Peer(peer): Peer,
    headers: HeaderMap,
    mut query: QueryParams,
) -> Result<Response, ApiError> {
    let viewer = Viewer::of(&caller);
    let credential = (!matches!(caller, Caller::Anonymous))
        .then(|| presented_credential(&headers))
        .flatten();
    let mut requests = Vec::new();
    if let Some(id) = query.take_uuid("business")? {
        requests.push(("business", TopicRequest::Business(id)));
    }
    if let Some(id) = query.take_uuid("flow")? {
        requests.push(("flow", TopicRequest::Flow(id)));
    }
    if let Some(code) = query.take("category") {
        requests.push(("category", TopicRequest::Category(code)));
    }
    if let Some(text) = query.take("bbox") {
        requests.push(("bbox", TopicRequest::Area(parse_bbox(&text)?)));
    }
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| query.take("last_event_id"));
    query.finish()?;
    if requests.is_empty() {
        return Err(ApiError::bad_request(
            "subscription",
            "name at least one of business, flow, category or bbox",
        ));
    }
    let mut topics = Vec::with_capacity(requests.len());
    for (name, request) in requests {
        topics.push((name, state.feed_topic(&viewer, request).await?));
    }
    let mut subscriber = state.feed_subscriber(viewer)?;
    for (name, topic) in topics {
        subscriber.subscribe(name, topic)?;
    }
    let resync = last_event_id.and_then(|id| subscriber.resume(&id).err());
    let settings = state.live_feed().settings().clone();
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(SSE_QUEUE);
    // The pump ends when the client goes (its queue's receiver is dropped with the body), when the
    // client is too slow, or when the feed closes at shutdown (`LiveFeed::close`, the cancellation
    // every subscriber watches): it cannot outlive the server's drain.
    tokio::spawn(pump(
        subscriber,
        sender,
        resync.map(|r| r.0),
        settings.clone(),
        credential.map(|c| (state.clone(), c, peer)),
    ));
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver
            .recv()
            .await
            .map(|event| (Ok::<_, std::convert::Infallible>(event), receiver))
    });
    let mut response = Sse::new(stream)
        .keep_alive(
            KeepAlive::new()
                .interval(settings.heartbeat)
                .text("heartbeat"),
        )
        .into_response();
    // Proxies must pass events on as they come.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    Ok(response)
}

/// Moves a subscriber's events into an SSE connection's queue until the client goes, the client
/// is too slow (its queue stays full for `send_timeout`, or it falls too far behind the feed), or
/// the feed closes. The subscriber (and its connection permit) is released when this ends.
async fn pump(
    mut subscriber: FeedSubscriber,
    sender: tokio::sync::mpsc::Sender<Event>,
    resync: Option<String>,
    settings: FeedSettings,
    recheck_as: Option<(SharedState, String, Option<SocketAddr>)>,
) {
    let send_timeout = settings.send_timeout;
    // The credentials are checked again at every heartbeat, as on a WebSocket.
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    let close = |reason: String| {
        Event::default()
            .event("close")
            .data(json!({ "reason": reason }).to_string())
    };
    if let Some(reason) = resync {
        let event = Event::default().event("resync").data(
            json!({ "reason": reason, "last_event_id": subscriber.last_event_id() }).to_string(),
        );
        if sender.send(event).await.is_err() {
            return;
        }
    }
    loop {
        let item = tokio::select! {
            _ = sender.closed() => return,
            item = subscriber.next() => item,
            _ = heartbeat.tick() => {
                if let Some((state, credential, peer)) = &recheck_as {
                    match recheck(state, credential, *peer).await {
                        Some(viewer) => subscriber.set_viewer(viewer),
                        None => {
                            let _ = sender.try_send(close(
                                "the credentials have expired or been revoked".into(),
                            ));
                            return;
                        }
                    }
                }
                continue;
            }
        };
        match item {
            FeedItem::Events(events) => {
                for delivery in events {
                    let event = Event::default()
                        .id(delivery.id)
                        .event(delivery.kind)
                        .data(delivery.data.as_ref());
                    if sender.send_timeout(event, send_timeout).await.is_err() {
                        // Full for too long (or gone): dropped as too slow; a last word if
                        // there is room for it.
                        let _ = sender.try_send(close(format!(
                            "too slow: no room for events for {} s",
                            send_timeout.as_secs()
                        )));
                        return;
                    }
                }
            }
            FeedItem::TooSlow { behind } => {
                let _ = sender.try_send(close(format!(
                    "too slow: {behind} events behind; reconnect and resume"
                )));
                return;
            }
            FeedItem::Closed => {
                let _ = sender.try_send(close("server shutting down".into()));
                return;
            }
        }
    }
}

/// `min_lon,min_lat,max_lon,max_lat`.
fn parse_bbox(text: &str) -> Result<[f64; 4], ApiError> {
    let numbers: Vec<f64> = text
        .split(',')
        .map(|part| part.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::bad_request(
                "bbox",
                "expected four numbers: min_lon,min_lat,max_lon,max_lat",
            )
        })?;
    numbers.try_into().map_err(|_| {
        ApiError::bad_request(
            "bbox",
            "expected four numbers: min_lon,min_lat,max_lon,max_lat",
        )
    })
}
