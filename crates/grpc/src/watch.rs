//! `WatchMatches`: a server stream fed by the app's live feed (`symbiont_app::live_feed`), like
//! the WebSocket and SSE endpoints. The topics are checked by the app (`App::feed_topic`), the
//! subscriber is the feed's (its history, resume positions and per-viewer renderings), and only
//! match events are sent, each the rendering REST would give this caller.
//!
//! Bounds: a pump task moves the subscriber's events into a queue of [`WatchSettings::queue`]
//! messages; HTTP/2 flow control holds the rest. A reader that leaves the queue full for the
//! feed's send timeout, or falls further behind than the feed's history, is ended with
//! `RESOURCE_EXHAUSTED` at once (the status overtakes the queued messages). The credentials are
//! resolved again at every feed heartbeat: a revoked or expired one ends the stream with
//! `UNAUTHENTICATED`; at shutdown streams end with `UNAVAILABLE`.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use serde_json::Value;
use symbiont_app::App;
use symbiont_app::identity::Caller;
use symbiont_app::live_feed::{BoundingBox, Delivery, FeedItem, FeedSubscriber, TopicRequest};
use symbiont_app::visibility::Viewer;
use tokio::sync::{mpsc, oneshot};
use tonic::Status;

use crate::authentication::{Access, authenticate};
use crate::convert::{self, parse_id};
use crate::error::{invalid_argument, status_of, status_within};
use crate::proto as pb;

type Message = Result<pb::WatchMatchesResponse, Status>;
pub type WatchStream = Pin<Box<dyn Stream<Item = Message> + Send + 'static>>;

/// Limits of the match streams (the feed's own limits apply too: connections, topics, history,
/// send timeout, heartbeat).
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// Messages a stream holds between the feed and HTTP/2 before its pump waits.
    pub queue: usize,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self { queue: 64 }
    }
}

/// Checks the request, subscribes and starts the pump; the stream it returns ends when the client
/// goes, when the pump ends it with a status, or at shutdown.
pub async fn open(
    app: Arc<App>,
    caller: Caller,
    credential: Option<String>,
    peer: Option<SocketAddr>,
    request: pb::WatchMatchesRequest,
    settings: &WatchSettings,
) -> Result<WatchStream, Status> {
    let viewer = Viewer::of(&caller);
    if request.topics.is_empty() {
        return Err(invalid_argument(
            "topics",
            "name at least one topic: business_id, flow_id, category or bbox",
        ));
    }
    let mut topics = Vec::with_capacity(request.topics.len());
    for (index, topic) in request.topics.into_iter().enumerate() {
        let field = format!("topics[{index}]");
        let wanted = match topic.topic {
            Some(pb::topic::Topic::BusinessId(id)) => {
                TopicRequest::Business(parse_id(&format!("{field}.business_id"), &id)?)
            }
            Some(pb::topic::Topic::FlowId(id)) => {
                TopicRequest::Flow(parse_id(&format!("{field}.flow_id"), &id)?)
            }
            Some(pb::topic::Topic::Category(code)) => TopicRequest::Category(code),
            Some(pb::topic::Topic::Bbox(b)) => {
                // Checked here to name the field; the app checks the same again.
                BoundingBox::parse("bbox", [b.min_lon, b.min_lat, b.max_lon, b.max_lat])
                    .map_err(|e| status_within(e, Some(&field)))?;
                TopicRequest::Area([b.min_lon, b.min_lat, b.max_lon, b.max_lat])
            }
            None => {
                return Err(invalid_argument(
                    &field,
                    "name one of business_id, flow_id, category or bbox",
                ));
            }
        };
        let checked = app
            .feed_topic(&viewer, wanted)
            .await
            .map_err(|e| status_within(e, Some(&field)))?;
        topics.push((format!("t{index}"), checked));
    }
    let mut subscriber = app.feed_subscriber(viewer).map_err(status_of)?;
    for (name, topic) in topics {
        subscriber.subscribe(&name, topic).map_err(|e| match e {
            symbiont_app::AppError::BadParameter { message, .. } => {
                invalid_argument("topics", message)
            }
            other => status_of(other),
        })?;
    }
    let resync = request
        .last_event_id
        .and_then(|id| subscriber.resume(&id).err());
    let (queue, queued) = mpsc::channel::<Message>(settings.queue.max(1));
    let (end, ended) = oneshot::channel::<Status>();
    // The pump ends when the client goes (the queue's receiver is dropped with the response),
    // when it ends the stream with a status, or when the feed closes at shutdown
    // (`LiveFeed::close`, which every subscriber watches): it cannot outlive the server's drain.
    tokio::spawn(pump(Pump {
        app,
        subscriber,
        queue,
        end: Some(end),
        recheck: credential.map(|c| (c, peer)),
        resync: resync.map(|r| r.0),
    }));
    Ok(Box::pin(futures_util::stream::unfold(
        Some((queued, Some(ended))),
        |state| async move {
            let (mut queued, mut ended) = state?;
            // The ending status overtakes queued messages: a reader too slow for its queue gets
            // it without first reading what it could not keep up with; nothing follows it.
            let next = match ended.as_mut() {
                Some(ending) => tokio::select! {
                    biased;
                    status = ending => Next::Ending(status.ok()),
                    message = queued.recv() => Next::Queued(message),
                },
                None => Next::Queued(queued.recv().await),
            };
            let next = match next {
                Next::Ending(Some(status)) => return Some((Err(status), None)),
                // The pump ended without a status (the client went): drain and end.
                Next::Ending(None) => {
                    ended = None;
                    queued.recv().await
                }
                Next::Queued(message) => message,
            };
            next.map(|message| (message, Some((queued, ended))))
        },
    )))
}

/// What a stream's next poll found first.
// Lives for one turn of the loop on the stack, never stored: boxing the message would cost an
// allocation per event for nothing.
#[allow(clippy::large_enum_variant)]
enum Next {
    /// The pump's ending status (`None`: it ended without one).
    Ending(Option<Status>),
    Queued(Option<Message>),
}

struct Pump {
    app: Arc<App>,
    subscriber: FeedSubscriber,
    queue: mpsc::Sender<Message>,
    end: Option<oneshot::Sender<Status>>,
    /// The credential and peer to resolve again at every heartbeat (none for anonymous callers).
    recheck: Option<(String, Option<SocketAddr>)>,
    resync: Option<String>,
}

impl Pump {
    fn finish(&mut self, status: Status) {
        if let Some(end) = self.end.take() {
            let _ = end.send(status);
        }
    }
}

fn event_kind(kind: &str) -> Option<pb::MatchEventKind> {
    match kind {
        "match.proposed" => Some(pb::MatchEventKind::Proposed),
        "match.changed" => Some(pb::MatchEventKind::Changed),
        "match.withdrawn" => Some(pb::MatchEventKind::Withdrawn),
        "match.decided" => Some(pb::MatchEventKind::Decided),
        _ => None,
    }
}

/// A delivery of the feed as a stream message; flow events are not sent on this stream.
fn event_message(delivery: &Delivery) -> Option<Message> {
    let kind = event_kind(delivery.kind)?;
    let data: Value = match serde_json::from_str(&delivery.data) {
        Ok(data) => data,
        Err(error) => {
            tracing::error!(%error, "unreadable feed event");
            return None;
        }
    };
    let withdrawn_reason = data["withdrawn_reason"].as_str().map(str::to_string);
    Some(convert::match_of(&data).map(|m| pb::WatchMatchesResponse {
        message: Some(pb::watch_matches_response::Message::Event(pb::MatchEvent {
            id: delivery.id.clone(),
            kind: kind as i32,
            r#match: Some(m),
            withdrawn_reason,
        })),
    }))
}

async fn pump(mut pump: Pump) {
    let settings = pump.app.live_feed().settings().clone();
    let send_timeout = settings.send_timeout;
    let watching = pb::WatchMatchesResponse {
        message: Some(pb::watch_matches_response::Message::Watching(
            pb::Watching {
                last_event_id: pump.subscriber.last_event_id(),
            },
        )),
    };
    if pump.queue.send(Ok(watching)).await.is_err() {
        return;
    }
    if let Some(reason) = pump.resync.take() {
        let resync = pb::WatchMatchesResponse {
            message: Some(pb::watch_matches_response::Message::Resync(pb::Resync {
                reason,
                last_event_id: pump.subscriber.last_event_id(),
            })),
        };
        if pump.queue.send(Ok(resync)).await.is_err() {
            return;
        }
    }
    let mut heartbeat = tokio::time::interval(settings.heartbeat);
    heartbeat.tick().await;
    loop {
        let item = tokio::select! {
            _ = pump.queue.closed() => return,
            item = pump.subscriber.next() => item,
            _ = heartbeat.tick() => {
                if let Some((credential, peer)) = &pump.recheck {
                    match authenticate(&pump.app, Some(credential), *peer, Access::Read).await {
                        Ok(caller) => pump.subscriber.set_viewer(Viewer::of(&caller)),
                        Err(_) => {
                            pump.finish(Status::unauthenticated(
                                "the credentials have expired or been revoked",
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
                for message in events.iter().filter_map(event_message) {
                    match pump.queue.send_timeout(message, send_timeout).await {
                        Ok(()) => {}
                        Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                            pump.finish(Status::resource_exhausted(format!(
                                "too slow: no room for events for {} s; reconnect and resume with last_event_id",
                                send_timeout.as_secs()
                            )));
                            return;
                        }
                        Err(mpsc::error::SendTimeoutError::Closed(_)) => return,
                    }
                }
            }
            FeedItem::TooSlow { behind } => {
                pump.finish(Status::resource_exhausted(format!(
                    "too slow: {behind} events behind; reconnect and resume with last_event_id"
                )));
                return;
            }
            FeedItem::Closed => {
                pump.finish(Status::unavailable("server shutting down"));
                return;
            }
        }
    }
}
