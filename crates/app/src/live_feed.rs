//! The live feed: what changed in matches and flows, as events every transport (WebSocket, SSE,
//! later GraphQL subscriptions and gRPC streams) delivers to its subscribers. It knows no transport.
//!
//! - **Where events come from.** Every instance applies every bus event to its own engine
//!   (`live_matches::LiveMatches::apply_event`); the feed events are derived there, from the diff
//!   that instance's engine produced (`match.proposed`, `match.changed`, `match.withdrawn`), from
//!   decision events (`match.decided`) and from flow events (`flow.created`, `flow.updated`,
//!   `flow.removed`). So an instance delivers the events another instance's write caused, and,
//!   since the consumer drops duplicate bus events and the engine ignores stale versions, each
//!   change is published once per instance.
//! - **Ids.** Each event gets the next number of this instance's feed; its id is `<stream>-<n>`,
//!   where the stream names this start of this instance. A client that reconnects with its last id
//!   gets what it missed from the bounded history ([`FeedSettings::history`]); an id from another
//!   stream (another instance, a restart) or older than the history gets a resync instead.
//! - **Redaction.** Each match event is rendered once per way it can be seen (whole, whole without
//!   the parties' note, and with the offer, the need or both sides redacted, exactly as the REST
//!   match views are built); a subscriber gets the variant `Viewer::hidden_sides` picks for it.
//!   A hidden side never satisfies a business or flow subscription, and a map area is checked
//!   against its grid-cell centre. A change that alters no redacted variant is not sent to viewers
//!   from whom a side is hidden, so the timing of events says no more than their contents.
//! - **Bounds.** The history is the only buffer, shared by every subscriber: a subscriber is a
//!   position in it. One whose next event has left the history is dropped as too slow (the
//!   transport closes it with that reason; a write to the client that takes longer than
//!   [`FeedSettings::send_timeout`] ends it too). The number of subscribers is capped
//!   ([`FeedSettings::max_connections`]), as is the number of topics each holds.
//!
//! It must not block the engine: publishing takes one short lock and wakes the subscribers; all
//! filtering and rendering per subscriber happens on the subscriber's own task.

use std::collections::VecDeque;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use symbiont_core::{GeoPoint, MatchDecision};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::visibility::{Viewer, coarsen};

/// Limits of the live feed, per instance.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    /// Events kept, for clients that reconnect with their last event id and for subscribers that
    /// are behind: one further behind than this is dropped as too slow.
    pub history: usize,
    /// Subscribers (WebSocket and SSE connections) open at once on this instance.
    pub max_connections: usize,
    /// Topics one connection may subscribe to.
    pub max_topics: usize,
    /// How often an idle connection gets a heartbeat.
    pub heartbeat: Duration,
    /// How long one write to a client may take before the client is dropped as too slow.
    pub send_timeout: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            history: 10_000,
            max_connections: 20_000,
            max_topics: 32,
            heartbeat: Duration::from_secs(15),
            send_timeout: Duration::from_secs(10),
        }
    }
}

/// What a subscriber asks to hear about. Built by [`App::feed_topic`], which checks that the
/// viewer may ask for it.
#[derive(Debug, Clone, PartialEq)]
pub enum Topic {
    Business(Uuid),
    Flow(Uuid),
    /// A category code or a family (`heat`), on either side of a match.
    Category(String),
    Area(BoundingBox),
}

/// What a transport parsed from a subscription request, before it is checked.
#[derive(Debug, Clone, PartialEq)]
pub enum TopicRequest {
    Business(Uuid),
    Flow(Uuid),
    Category(String),
    /// `[min_lon, min_lat, max_lon, max_lat]`, as GeoJSON writes a bounding box.
    Area([f64; 4]),
}

/// A map area in WGS84 degrees; it does not cross the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoundingBox {
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
}

impl BoundingBox {
    /// Checks a `[min_lon, min_lat, max_lon, max_lat]` box; the error names `field`.
    pub fn parse(
        field: &str,
        [min_lon, min_lat, max_lon, max_lat]: [f64; 4],
    ) -> Result<Self, AppError> {
        let bad = |message: &str| AppError::BadParameter {
            name: field.into(),
            message: message.into(),
        };
        if ![min_lon, min_lat, max_lon, max_lat]
            .iter()
            .all(|v| v.is_finite())
        {
            return Err(bad("every bound must be a finite number"));
        }
        if !(-180.0..=180.0).contains(&min_lon) || !(-180.0..=180.0).contains(&max_lon) {
            return Err(bad("longitudes must lie between -180 and 180"));
        }
        if !(-90.0..=90.0).contains(&min_lat) || !(-90.0..=90.0).contains(&max_lat) {
            return Err(bad("latitudes must lie between -90 and 90"));
        }
        if min_lon > max_lon || min_lat > max_lat {
            return Err(bad(
                "expected [min_lon, min_lat, max_lon, max_lat] with each minimum at most its maximum",
            ));
        }
        Ok(Self {
            min_lon,
            min_lat,
            max_lon,
            max_lat,
        })
    }

    pub fn contains(&self, point: GeoPoint) -> bool {
        (self.min_lon..=self.max_lon).contains(&point.lon)
            && (self.min_lat..=self.max_lat).contains(&point.lat)
    }
}

impl App {
    /// Checks a subscription request for `viewer`: a business that exists, a flow the viewer may
    /// see (another business's anonymous flow is not found, as in REST), a known category or
    /// family, a valid map area.
    pub async fn feed_topic(
        &self,
        viewer: &Viewer,
        request: TopicRequest,
    ) -> Result<Topic, AppError> {
        Ok(match request {
            TopicRequest::Business(id) => {
                self.business(id).await?;
                Topic::Business(id)
            }
            TopicRequest::Flow(id) => {
                self.visible_flow(id, viewer).await?;
                Topic::Flow(id)
            }
            TopicRequest::Category(code) => {
                self.check_category_filter(Some(&code))?;
                Topic::Category(code)
            }
            TopicRequest::Area(bounds) => Topic::Area(BoundingBox::parse("bbox", bounds)?),
        })
    }

    /// Opens a subscriber on this instance's feed for `viewer`, if the connection limit allows.
    pub fn feed_subscriber(&self, viewer: Viewer) -> Result<FeedSubscriber, AppError> {
        self.live_matches.feed.subscriber(viewer)
    }

    pub fn live_feed(&self) -> &LiveFeed {
        &self.live_matches.feed
    }
}

/// One side of a match, or a flow, as filters and redaction see it.
#[derive(Debug, Clone)]
pub(crate) struct Side {
    pub business_id: Uuid,
    pub flow_id: Uuid,
    pub anonymous: bool,
    pub category: Arc<str>,
    /// The site's exact location, when the engine still knows the flow.
    pub location: Option<GeoPoint>,
}

impl Side {
    /// Whether `topic` selects this side; `hidden`: the viewer may not see who holds it.
    fn selected_by(&self, topic: &Topic, hidden: bool) -> bool {
        match topic {
            Topic::Business(id) => !hidden && self.business_id == *id,
            Topic::Flow(id) => !hidden && self.flow_id == *id,
            Topic::Category(code) => crate::live_matches::category_matches(code, &self.category),
            // A hidden site is placed at its grid-cell centre, as its redacted figures are.
            Topic::Area(area) => self
                .location
                .map(|l| if hidden { coarsen(l) } else { l })
                .is_some_and(|l| area.contains(l)),
        }
    }
}

/// The renderings of one match event, one per way a viewer can see it.
#[derive(Debug)]
pub(crate) struct MatchNotice {
    pub offer: Side,
    pub need: Side,
    /// The decision as of this event (its status decides whether a hidden side is revealed).
    pub decision: Option<MatchDecision>,
    /// For the two parties and platform admins.
    pub whole: Arc<str>,
    /// For other viewers who see both sides: the parties' note left out (when there is one).
    pub whole_without_note: Option<Arc<str>>,
    /// With the offer, the need, or both sides hidden (those an anonymous flag makes possible).
    pub redacted: [Option<Arc<str>>; 3],
    /// No redacted rendering changed: viewers from whom a side is hidden are not told.
    pub quiet_when_redacted: bool,
}

impl MatchNotice {
    /// A digest of the redacted renderings: equal digests, nothing new for a viewer who gets one.
    pub fn redacted_digest(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        self.redacted.hash(&mut hasher);
        hasher.finish()
    }
}

#[derive(Debug)]
pub(crate) struct FlowNotice {
    pub flow: Side,
    pub data: Arc<str>,
}

#[derive(Debug)]
pub(crate) enum Subject {
    Match(Box<MatchNotice>),
    Flow(FlowNotice),
}

/// One event of the feed, before the per-subscriber filter.
#[derive(Debug)]
pub struct FeedEvent {
    seq: u64,
    kind: &'static str,
    subject: Subject,
}

impl FeedEvent {
    pub(crate) fn new(kind: &'static str, subject: Subject) -> Self {
        Self {
            seq: 0,
            kind,
            subject,
        }
    }

    /// What `viewer`, subscribed to `topics`, gets of this event, if anything.
    fn render(&self, viewer: &Viewer, topics: &[(String, Topic)]) -> Option<Arc<str>> {
        match &self.subject {
            Subject::Flow(flow) => {
                let visible = !flow.flow.anonymous || viewer.sees(flow.flow.business_id);
                (visible && topics.iter().any(|(_, t)| flow.flow.selected_by(t, false)))
                    .then(|| Arc::clone(&flow.data))
            }
            Subject::Match(m) => {
                let hidden = viewer.hidden_sides(
                    (m.offer.anonymous, m.offer.business_id),
                    (m.need.anonymous, m.need.business_id),
                    m.decision.as_ref(),
                );
                if hidden != (false, false) && m.quiet_when_redacted {
                    return None;
                }
                let wanted = topics.iter().any(|(_, t)| {
                    m.offer.selected_by(t, hidden.0) || m.need.selected_by(t, hidden.1)
                });
                if !wanted {
                    return None;
                }
                match hidden {
                    (false, false) => {
                        let party = *viewer == Viewer::All
                            || viewer.sees(m.offer.business_id)
                            || viewer.sees(m.need.business_id);
                        Some(match (&m.whole_without_note, party) {
                            (Some(public), false) => Arc::clone(public),
                            _ => Arc::clone(&m.whole),
                        })
                    }
                    (true, false) => m.redacted[0].clone(),
                    (false, true) => m.redacted[1].clone(),
                    (true, true) => m.redacted[2].clone(),
                }
            }
        }
    }
}

/// JSON text of a value (the feed's payloads are rendered once and shared by every subscriber).
pub(crate) fn text(value: &Value) -> Arc<str> {
    Arc::from(serde_json::to_string(value).unwrap_or_else(|_| "null".into()))
}

/// An event as one subscriber receives it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `<stream>-<number>`: what a client sends back to resume after it.
    pub id: String,
    /// `match.proposed`, `flow.updated`, …
    pub kind: &'static str,
    /// The JSON object the event carries: a match as `GET /api/v1/matches/{id}` shows it to this
    /// viewer, or a flow as `GET /api/v1/flows/{id}` does.
    pub data: Arc<str>,
}

/// What a subscriber's next wait ends with.
#[derive(Debug)]
pub enum FeedItem {
    /// Events for this subscriber, oldest first.
    Events(Vec<Delivery>),
    /// The subscriber fell this many events behind, further than the history reaches: the
    /// transport drops it with this reason.
    TooSlow { behind: u64 },
    /// The instance is shutting down.
    Closed,
}

/// Why a resume could not be served from the history: the client must re-read what it shows
/// (the live feed goes on from now).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Resync(pub String);

/// The feed of one instance: the bounded history, the head, the connection limit.
#[derive(Clone)]
pub struct LiveFeed {
    shared: Arc<Shared>,
}

struct Shared {
    settings: FeedSettings,
    /// Names this start of this instance; ids from another stream cannot be resumed here.
    stream: String,
    /// The last `settings.history` events, oldest first, with consecutive numbers. Written only
    /// by the bus consumer (one task), read by every subscriber: a std lock held for a push or a
    /// copy of a few `Arc`s.
    history: RwLock<VecDeque<Arc<FeedEvent>>>,
    /// Number of the last event published (0 before the first); subscribers wait on its changes.
    head: watch::Sender<u64>,
    /// One permit per open subscriber: the global connection limit.
    connections: Arc<Semaphore>,
    /// Cancelled at shutdown: every subscriber ends, so connections close and the server drains.
    closing: CancellationToken,
}

impl LiveFeed {
    pub fn new(settings: FeedSettings) -> Self {
        let settings = FeedSettings {
            history: settings.history.max(1),
            max_topics: settings.max_topics.max(1),
            ..settings
        };
        Self {
            shared: Arc::new(Shared {
                stream: format!("{:016x}", Uuid::now_v7().as_u64_pair().1),
                history: RwLock::new(VecDeque::with_capacity(settings.history.min(1024))),
                head: watch::Sender::new(0),
                connections: Arc::new(Semaphore::new(settings.max_connections)),
                closing: CancellationToken::new(),
                settings,
            }),
        }
    }

    pub fn settings(&self) -> &FeedSettings {
        &self.shared.settings
    }

    /// The name of this instance's stream (the part of every event id before the number).
    pub fn stream(&self) -> &str {
        &self.shared.stream
    }

    /// Number of the last event published.
    pub fn head(&self) -> u64 {
        *self.shared.head.borrow()
    }

    /// Subscribers open now.
    pub fn connections(&self) -> usize {
        self.shared.settings.max_connections - self.shared.connections.available_permits()
    }

    /// Ends every subscriber (shutdown); no new one is admitted.
    pub fn close(&self) {
        self.shared.closing.cancel();
        self.shared.connections.close();
    }

    /// A token cancelled when the feed closes, for transports' own waits.
    pub fn closing(&self) -> CancellationToken {
        self.shared.closing.clone()
    }

    /// Numbers and appends events, then wakes the subscribers. Called by the bus consumer only.
    pub(crate) fn publish(&self, events: Vec<FeedEvent>) {
        if events.is_empty() {
            return;
        }
        let mut history = self
            .shared
            .history
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut head = *self.shared.head.borrow();
        for mut event in events {
            head += 1;
            event.seq = head;
            history.push_back(Arc::new(event));
            if history.len() > self.shared.settings.history {
                history.pop_front();
            }
        }
        drop(history);
        self.shared.head.send_replace(head);
    }

    fn id(&self, seq: u64) -> String {
        format!("{}-{seq}", self.shared.stream)
    }

    /// Up to `limit` events after `position`, or `None` when some of them have left the history.
    fn after(&self, position: u64, limit: usize) -> Option<Vec<Arc<FeedEvent>>> {
        let history = self
            .shared
            .history
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(oldest) = history.front().map(|e| e.seq) else {
            return Some(Vec::new());
        };
        if position + 1 < oldest {
            return None;
        }
        let start = usize::try_from(position + 1 - oldest).unwrap_or(usize::MAX);
        Some(history.iter().skip(start).take(limit).cloned().collect())
    }

    /// A subscriber for `viewer` at the head (it hears what is published from now on).
    pub fn subscriber(&self, viewer: Viewer) -> Result<FeedSubscriber, AppError> {
        let permit = Arc::clone(&self.shared.connections)
            .try_acquire_owned()
            .map_err(|_| {
                AppError::Busy(format!(
                    "this instance serves its maximum of {} live feed connections; retry later or elsewhere",
                    self.shared.settings.max_connections
                ))
            })?;
        let head = self.shared.head.subscribe();
        let position = *head.borrow();
        Ok(FeedSubscriber {
            feed: self.clone(),
            viewer,
            topics: Vec::new(),
            position,
            head,
            _permit: permit,
        })
    }
}

/// How many events a subscriber takes from the history at once.
const BATCH: usize = 256;

/// One connection's view of the feed: who is watching, what it subscribed to, how far it got.
/// Its memory is this struct and its topics; the events stay in the shared history.
pub struct FeedSubscriber {
    feed: LiveFeed,
    viewer: Viewer,
    topics: Vec<(String, Topic)>,
    /// Number of the last event this subscriber has been given (or skipped).
    position: u64,
    head: watch::Receiver<u64>,
    /// Held for the connection's lifetime: the global connection limit.
    _permit: OwnedSemaphorePermit,
}

impl FeedSubscriber {
    pub fn viewer(&self) -> &Viewer {
        &self.viewer
    }

    /// Replaces the viewer (after a WebSocket client authenticated in its first message).
    pub fn set_viewer(&mut self, viewer: Viewer) {
        self.viewer = viewer;
    }

    pub fn topics(&self) -> impl Iterator<Item = (&str, &Topic)> {
        self.topics
            .iter()
            .map(|(name, topic)| (name.as_str(), topic))
    }

    /// Adds (or replaces) the topic named `name`; refused past the per-connection limit.
    pub fn subscribe(&mut self, name: &str, topic: Topic) -> Result<(), AppError> {
        if let Some(slot) = self.topics.iter_mut().find(|(n, _)| n == name) {
            slot.1 = topic;
            return Ok(());
        }
        let limit = self.feed.shared.settings.max_topics;
        if self.topics.len() >= limit {
            return Err(AppError::BadParameter {
                name: "subscription".into(),
                message: format!("a connection holds at most {limit} subscriptions"),
            });
        }
        self.topics.push((name.to_string(), topic));
        Ok(())
    }

    /// Removes the topic named `name`; false when there was none.
    pub fn unsubscribe(&mut self, name: &str) -> bool {
        let before = self.topics.len();
        self.topics.retain(|(n, _)| n != name);
        self.topics.len() != before
    }

    /// Goes back to just after the event `last_event_id`, so the next items are what this client
    /// missed. Refused (and the position left at the head) when the id is from another stream, in
    /// the future, or older than the history.
    pub fn resume(&mut self, last_event_id: &str) -> Result<(), Resync> {
        let feed = &self.feed;
        let (stream, number) = last_event_id.trim().rsplit_once('-').unwrap_or(("", ""));
        let Ok(seq) = number.parse::<u64>() else {
            return Err(Resync(format!(
                "'{last_event_id}' is not an event id of this feed (expected <stream>-<number>)"
            )));
        };
        if stream != feed.stream() {
            return Err(Resync(
                "the event id is from another instance or an earlier start of this one; re-read the current state"
                    .into(),
            ));
        }
        let head = feed.head();
        if seq > head {
            return Err(Resync(format!(
                "event {seq} has not happened on this feed (its last is {head})"
            )));
        }
        if feed.after(seq, 0).is_none() {
            return Err(Resync(format!(
                "the events after {last_event_id} are no longer in the history (the last {} are kept); re-read the current state",
                feed.shared.settings.history
            )));
        }
        self.position = seq;
        Ok(())
    }

    /// The id of the last event this subscriber was given or passed over: where it would resume.
    pub fn last_event_id(&self) -> String {
        self.feed.id(self.position)
    }

    /// Waits for the next events this subscriber should get. Cancel-safe: dropping the future
    /// loses nothing (the position moves only when events are returned).
    pub async fn next(&mut self) -> FeedItem {
        loop {
            if self.feed.shared.closing.is_cancelled() {
                return FeedItem::Closed;
            }
            let head = *self.head.borrow_and_update();
            if head > self.position {
                let Some(events) = self.feed.after(self.position, BATCH) else {
                    return FeedItem::TooSlow {
                        behind: head - self.position,
                    };
                };
                let mut out = Vec::new();
                for event in &events {
                    self.position = event.seq;
                    if let Some(data) = event.render(&self.viewer, &self.topics) {
                        out.push(Delivery {
                            id: self.feed.id(event.seq),
                            kind: event.kind,
                            data,
                        });
                    }
                }
                if !out.is_empty() {
                    return FeedItem::Events(out);
                }
                continue;
            }
            tokio::select! {
                _ = self.feed.shared.closing.cancelled() => return FeedItem::Closed,
                changed = self.head.changed() => {
                    if changed.is_err() {
                        return FeedItem::Closed;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow_event(business: Uuid, anonymous: bool, location: GeoPoint) -> FeedEvent {
        FeedEvent::new(
            "flow.created",
            Subject::Flow(FlowNotice {
                flow: Side {
                    business_id: business,
                    flow_id: Uuid::now_v7(),
                    anonymous,
                    category: Arc::from("heat.low_temp"),
                    location: Some(location),
                },
                data: Arc::from("{}"),
            }),
        )
    }

    const HERE: GeoPoint = GeoPoint {
        lat: 51.3,
        lon: 7.1,
    };

    fn settings(history: usize) -> FeedSettings {
        FeedSettings {
            history,
            ..FeedSettings::default()
        }
    }

    #[tokio::test]
    async fn a_subscriber_hears_what_its_topics_select_with_increasing_ids() {
        let feed = LiveFeed::new(FeedSettings::default());
        let business = Uuid::now_v7();
        let mut sub = feed.subscriber(Viewer::Businesses(vec![])).expect("room");
        sub.subscribe("mine", Topic::Business(business))
            .expect("topic");
        feed.publish(vec![
            flow_event(Uuid::now_v7(), false, HERE),
            flow_event(business, false, HERE),
            flow_event(business, false, HERE),
        ]);
        let FeedItem::Events(events) = sub.next().await else {
            panic!("events expected");
        };
        let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                format!("{}-2", feed.stream()),
                format!("{}-3", feed.stream())
            ]
        );
    }

    #[tokio::test]
    async fn an_anonymous_flow_is_heard_only_by_its_owner() {
        let feed = LiveFeed::new(FeedSettings::default());
        let owner = Uuid::now_v7();
        let area = Topic::Area(BoundingBox::parse("bbox", [7.0, 51.0, 7.2, 51.5]).expect("box"));
        let mut stranger = feed.subscriber(Viewer::Businesses(vec![])).expect("room");
        stranger.subscribe("map", area.clone()).expect("topic");
        let mut member = feed
            .subscriber(Viewer::Businesses(vec![owner]))
            .expect("room");
        member.subscribe("map", area).expect("topic");
        feed.publish(vec![flow_event(owner, true, HERE)]);
        assert!(matches!(member.next().await, FeedItem::Events(e) if e.len() == 1));
        let waited = tokio::time::timeout(Duration::from_millis(50), stranger.next()).await;
        assert!(waited.is_err(), "the stranger hears nothing");
    }

    #[tokio::test]
    async fn resuming_replays_the_missed_events_or_asks_for_a_resync() {
        let feed = LiveFeed::new(settings(3));
        let business = Uuid::now_v7();
        let topic = Topic::Business(business);
        let mut first = feed.subscriber(Viewer::All).expect("room");
        first.subscribe("b", topic.clone()).expect("topic");
        feed.publish(vec![flow_event(business, false, HERE)]);
        let FeedItem::Events(seen) = first.next().await else {
            panic!("events expected");
        };
        let last = seen[0].id.clone();
        drop(first);
        feed.publish((0..2).map(|_| flow_event(business, false, HERE)).collect());

        let mut again = feed.subscriber(Viewer::All).expect("room");
        again.subscribe("b", topic.clone()).expect("topic");
        again.resume(&last).expect("in the history");
        assert!(matches!(again.next().await, FeedItem::Events(e) if e.len() == 2));

        feed.publish((0..3).map(|_| flow_event(business, false, HERE)).collect());
        let mut late = feed.subscriber(Viewer::All).expect("room");
        assert!(late.resume(&last).is_err(), "beyond the history");
        assert!(late.resume("0123456789abcdef-1").is_err(), "another stream");
        assert!(
            late.resume(&format!("{}-99", feed.stream())).is_err(),
            "the future"
        );
        assert!(late.resume("nonsense").is_err());
    }

    #[tokio::test]
    async fn a_subscriber_too_far_behind_is_told_to_go() {
        let feed = LiveFeed::new(settings(10));
        let business = Uuid::now_v7();
        let mut sub = feed.subscriber(Viewer::All).expect("room");
        sub.subscribe("b", Topic::Business(business))
            .expect("topic");
        feed.publish((0..11).map(|_| flow_event(business, false, HERE)).collect());
        assert!(matches!(sub.next().await, FeedItem::TooSlow { behind: 11 }));
    }

    #[tokio::test]
    async fn connections_and_topics_are_limited_and_closing_ends_subscribers() {
        let feed = LiveFeed::new(FeedSettings {
            max_connections: 1,
            max_topics: 1,
            ..FeedSettings::default()
        });
        let mut sub = feed.subscriber(Viewer::All).expect("room");
        assert!(matches!(
            feed.subscriber(Viewer::All),
            Err(AppError::Busy(_))
        ));
        sub.subscribe("a", Topic::Category("heat".into()))
            .expect("first");
        sub.subscribe("a", Topic::Category("water".into()))
            .expect("replaced");
        assert!(sub.subscribe("b", Topic::Category("heat".into())).is_err());
        feed.close();
        assert!(matches!(sub.next().await, FeedItem::Closed));
    }

    #[test]
    fn a_bounding_box_names_its_field_when_wrong() {
        for bad in [
            [7.2, 51.0, 7.0, 51.5],
            [f64::NAN, 0.0, 1.0, 1.0],
            [0.0, -91.0, 1.0, 1.0],
            [-181.0, 0.0, 1.0, 1.0],
        ] {
            let error = BoundingBox::parse("bbox", bad).expect_err("refused");
            assert!(matches!(error, AppError::BadParameter { ref name, .. } if name == "bbox"));
        }
    }
}
