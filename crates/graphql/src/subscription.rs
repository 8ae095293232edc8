//! The subscription root: the live feed (`symbiont_app::live_feed`) as a GraphQL subscription.
//! Its topics are those of the WebSocket and SSE feeds (a business, a flow, a category or family,
//! a map area), checked by the app with the same errors; each event carries the rendering the app
//! chose for this viewer (whole, or redacted as REST shows it), so a stranger subscribed sees an
//! anonymous side exactly as `GET /api/v1/matches/{id}` shows it to them.
//!
//! Bounds are the feed's: a subscriber is a position in the shared history (no buffer of its own
//! beyond one batch), one that falls behind the history ends with `TOO_SLOW`, and the feed's
//! connection limit counts each subscription. The credentials are checked again at every
//! heartbeat: the view follows membership changes, and revoked or expired credentials end the
//! subscription with `UNAUTHENTICATED`.

use std::collections::VecDeque;
use std::sync::Arc;

use async_graphql::{Context, ErrorExtensions, Json, SimpleObject, Subscription};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use serde_json::Value;
use symbiont_app::App;
use symbiont_app::identity::caller_of;
use symbiont_app::live_feed::{Delivery, FeedItem, FeedSubscriber, TopicRequest};
use symbiont_app::visibility::Viewer;
use uuid::Uuid;

use crate::error::{OrGraphql, bad_argument, graphql_error};
use crate::types::MatchNode;
use crate::{Requester, app};

/// One event of the live feed as this subscriber receives it.
#[derive(SimpleObject, Debug, Clone)]
pub struct FeedEvent {
    /// `<stream>-<number>`: pass as `lastEventId` to resume after it (on the same instance).
    pub id: String,
    /// `match.proposed`, `match.changed`, `match.withdrawn`, `match.decided`, `flow.created`,
    /// `flow.updated`, `flow.removed`; or `resync` when a resume could not be served (re-read the
    /// state; `data.reason` says why).
    #[graphql(name = "type")]
    pub kind: String,
    /// The match or flow exactly as the REST views show it to this caller.
    pub data: Json<Value>,
    /// The match of a `match.*` event, typed (null for other events).
    #[graphql(name = "match")]
    pub match_view: Option<MatchNode>,
}

impl FeedEvent {
    fn of(delivery: Delivery) -> Self {
        let data: Value = serde_json::from_str(&delivery.data).unwrap_or(Value::Null);
        let match_view = delivery
            .kind
            .starts_with("match.")
            .then(|| MatchNode::from_view(data.clone()).ok())
            .flatten();
        Self {
            id: delivery.id,
            kind: delivery.kind.to_string(),
            data: Json(data),
            match_view,
        }
    }
}

/// `extensions.code` of the feed's own endings.
pub const TOO_SLOW: &str = "TOO_SLOW";
pub const SHUTTING_DOWN: &str = "SHUTTING_DOWN";

fn ending(code: &'static str, message: String) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code))
}

pub struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Match and flow events of the topics given (at least one of `business`, `flow`, `category`,
    /// `bbox` = `[minLon, minLat, maxLon, maxLat]`), filtered and redacted for the caller;
    /// `lastEventId` resumes after an event this instance sent.
    async fn feed(
        &self,
        ctx: &Context<'_>,
        business: Option<Uuid>,
        flow: Option<Uuid>,
        category: Option<String>,
        bbox: Option<Vec<f64>>,
        last_event_id: Option<String>,
    ) -> async_graphql::Result<BoxStream<'static, async_graphql::Result<FeedEvent>>> {
        let app = Arc::clone(app(ctx)?);
        let requester = Requester::of(ctx).clone();
        let viewer = Viewer::of(requester.caller());
        let mut requests = Vec::new();
        if let Some(id) = business {
            requests.push(("business", TopicRequest::Business(id)));
        }
        if let Some(id) = flow {
            requests.push(("flow", TopicRequest::Flow(id)));
        }
        if let Some(code) = category {
            requests.push(("category", TopicRequest::Category(code)));
        }
        if let Some(bounds) = bbox {
            let bounds: [f64; 4] = bounds.try_into().map_err(|_| {
                bad_argument(
                    "bbox",
                    "expected four numbers: [minLon, minLat, maxLon, maxLat]",
                )
            })?;
            requests.push(("bbox", TopicRequest::Area(bounds)));
        }
        if requests.is_empty() {
            return Err(bad_argument(
                "subscription",
                "name at least one of business, flow, category or bbox",
            ));
        }
        let mut topics = Vec::with_capacity(requests.len());
        for (name, request) in requests {
            let topic = app
                .feed_topic(&viewer, request)
                .await
                .map_err(|error| graphql_error(error).extend_with(|_, e| e.set("field", name)))?;
            topics.push((name, topic));
        }
        let mut subscriber = app.feed_subscriber(viewer).or_graphql()?;
        for (name, topic) in topics {
            subscriber.subscribe(name, topic).or_graphql()?;
        }
        let mut pending = VecDeque::new();
        if let Some(resync) = last_event_id.and_then(|id| subscriber.resume(&id).err()) {
            let last = subscriber.last_event_id();
            pending.push_back(Ok(FeedEvent {
                id: last.clone(),
                kind: "resync".into(),
                data: Json(serde_json::json!({ "reason": resync.0, "last_event_id": last })),
                match_view: None,
            }));
        }
        let period = app.live_feed().settings().heartbeat;
        let heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        let state = Subscribed {
            app,
            requester,
            subscriber,
            pending,
            heartbeat,
            ended: false,
        };
        Ok(futures_util::stream::unfold(state, |mut state| async move {
            state.next().await.map(|item| (item, state))
        })
        .boxed())
    }
}

/// One subscription's state between events.
struct Subscribed {
    app: Arc<App>,
    requester: Requester,
    /// Holds one of the feed's connection permits until the subscription ends.
    subscriber: FeedSubscriber,
    /// Events of the last batch not yet handed out.
    pending: VecDeque<async_graphql::Result<FeedEvent>>,
    heartbeat: tokio::time::Interval,
    ended: bool,
}

impl Subscribed {
    async fn next(&mut self) -> Option<async_graphql::Result<FeedEvent>> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some(item);
            }
            if self.ended {
                return None;
            }
            // Both branches are cancel-safe: the subscriber's position moves only when it returns.
            tokio::select! {
                item = self.subscriber.next() => match item {
                    FeedItem::Events(events) => {
                        self.pending.extend(events.into_iter().map(|d| Ok(FeedEvent::of(d))));
                    }
                    FeedItem::TooSlow { behind } => {
                        self.ended = true;
                        return Some(Err(ending(
                            TOO_SLOW,
                            format!("too slow: {behind} events behind; subscribe again with lastEventId"),
                        )));
                    }
                    FeedItem::Closed => {
                        self.ended = true;
                        return Some(Err(ending(SHUTTING_DOWN, "the server is shutting down".into())));
                    }
                },
                _ = self.heartbeat.tick() => {
                    if let Err(error) = self.recheck().await {
                        self.ended = true;
                        return Some(Err(error));
                    }
                }
            }
        }
    }

    /// The credentials again (through the account cache): the view they give now, or the end.
    async fn recheck(&mut self) -> async_graphql::Result<()> {
        let Some(credential) = self.requester.credential() else {
            return Ok(());
        };
        match caller_of(&self.app, Some(credential), true).await {
            Ok(caller) => {
                self.subscriber.set_viewer(Viewer::of(&caller));
                Ok(())
            }
            Err(error) => Err(graphql_error(error)),
        }
    }
}
