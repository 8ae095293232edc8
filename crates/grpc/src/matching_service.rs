//! `symbiont.v1.Matching`: each call authenticates as REST does, turns its request into the
//! use case's arguments (ids, filters, the draft; bad input is `INVALID_ARGUMENT` naming the
//! field), calls the same `symbiont_app` use case as the REST route and converts the answer.
//!
//! It holds no rule of its own: who may read or decide what, how a match is redacted and what a
//! page contains are the app's.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use serde_json::Value;
use symbiont_app::App;
use symbiont_app::identity::Caller;
use symbiont_app::live_matches::{MatchCursor, MatchFilter, MatchSort};
use symbiont_app::match_queries::{MatchQuery, MatchScope};
use symbiont_app::visibility::Viewer;
use symbiont_store::accounts::AuditEntry;
use tonic::{Request, Response, Status};

use crate::authentication::{Access, authenticate, presented};
use crate::convert::{self, parse_id};
use crate::error::{invalid_argument, status_of, status_within};
use crate::proto as pb;
use crate::watch::WatchSettings;

/// The largest page a request may ask for (as REST); one that names none gets
/// `DEFAULT_MATCH_PAGE_SIZE`.
pub const MAX_PAGE_SIZE: u32 = 1000;

pub struct MatchingService {
    app: Arc<App>,
    watch: WatchSettings,
}

impl MatchingService {
    async fn upsert(
        &self,
        caller: &Caller,
        request: pb::UpsertFlowRequest,
    ) -> Result<pb::Flow, Status> {
        let draft = request
            .flow
            .ok_or_else(|| invalid_argument("flow", "a flow draft is required"))?;
        let draft = convert::flow_draft(draft)?;
        let written = match request.id {
            None => {
                if request.expected_version.is_some() {
                    return Err(invalid_argument(
                        "expected_version",
                        "applies only to an existing flow (with an id)",
                    ));
                }
                self.app.create_flow(caller, draft).await
            }
            Some(id) => {
                let id = parse_id("id", &id)?;
                self.app
                    .replace_flow(caller, id, draft, request.expected_version)
                    .await
            }
        };
        let flow = written.map_err(|e| status_within(e, Some("flow")))?;
        Ok(convert::flow_message(flow))
    }

    async fn decide_as(
        &self,
        caller: &Caller,
        request: pb::DecideRequest,
    ) -> Result<pb::Match, Status> {
        let id = parse_id("match_id", &request.match_id)?;
        let status = convert::status_filter("status", request.status)?.ok_or_else(|| {
            invalid_argument(
                "status",
                "name the new status: CONTACTED, NEGOTIATING, AGREED or REJECTED",
            )
        })?;
        let view = self
            .app
            .decide_match(id, status, request.note, request.expected_version, caller)
            .await
            .map_err(status_of)?;
        convert::match_of(&view)
    }

    pub fn new(app: Arc<App>, watch: WatchSettings) -> Self {
        Self { app, watch }
    }

    async fn caller<T>(&self, request: &Request<T>, access: Access) -> Result<Caller, Status> {
        let credential = presented(request.metadata())?;
        authenticate(
            &self.app,
            credential.as_deref(),
            request.remote_addr(),
            access,
        )
        .await
    }
}

/// What the audit log records of a gRPC write: `GRPC` as the method, the full method name as the
/// path, and the gRPC status code (0 for OK) as the status.
struct Audited {
    caller: Caller,
    peer: Option<std::net::SocketAddr>,
    path: &'static str,
    action: &'static str,
}

impl MatchingService {
    /// Records a write in the audit log, as REST's audit layer does, before the client is answered.
    async fn audit<T>(&self, audited: Audited, result: &Result<T, Status>) {
        let code = match result {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        };
        let account = audited.caller.account();
        self.app
            .audit
            .record(AuditEntry {
                seq: 0,
                at: chrono::Utc::now(),
                user_id: account.map(|a| a.user_id),
                email: account.map(|a| a.email.clone()),
                api_key_id: account.and_then(|a| match a.credential {
                    symbiont_app::identity::Credential::ApiKey { id, .. } => Some(id),
                    symbiont_app::identity::Credential::AccessToken => None,
                }),
                ip: audited
                    .peer
                    .map_or_else(|| "unknown".to_string(), |p| p.ip().to_string()),
                method: "GRPC".into(),
                path: audited.path.into(),
                action: audited.action.into(),
                status: code as u16,
                request_id: None,
            })
            .await;
    }
}

fn internal(context: &str, error: impl std::fmt::Display) -> Status {
    tracing::error!(%error, "{context}");
    Status::internal("an unexpected error occurred; it has been logged")
}

fn match_sort(value: i32) -> Result<MatchSort, Status> {
    match pb::MatchSort::try_from(value) {
        Ok(pb::MatchSort::Unspecified | pb::MatchSort::Score) => Ok(MatchSort::Score),
        Ok(pb::MatchSort::Savings) => Ok(MatchSort::Savings),
        Ok(pb::MatchSort::Co2) => Ok(MatchSort::Co2),
        Err(_) => Err(invalid_argument(
            "sort",
            format!("{value} is not a sort order"),
        )),
    }
}

#[tonic::async_trait]
impl pb::matching_server::Matching for MatchingService {
    async fn get_match(
        &self,
        request: Request<pb::GetMatchRequest>,
    ) -> Result<Response<pb::Match>, Status> {
        let caller = self.caller(&request, Access::Read).await?;
        let id = parse_id("id", &request.get_ref().id)?;
        let view = self
            .app
            .match_one(id, &Viewer::of(&caller))
            .map_err(status_of)?;
        Ok(Response::new(convert::match_of(&view)?))
    }

    async fn list_matches(
        &self,
        request: Request<pb::ListMatchesRequest>,
    ) -> Result<Response<pb::ListMatchesResponse>, Status> {
        let caller = self.caller(&request, Access::Read).await?;
        let viewer = Viewer::of(&caller);
        let request = request.into_inner();
        let flow_id = request
            .flow_id
            .as_deref()
            .map(|id| parse_id("flow_id", id))
            .transpose()?;
        let business_id = request
            .business_id
            .as_deref()
            .map(|id| parse_id("business_id", id))
            .transpose()?;
        // As REST: a flow's or a business's matches are read through a scope the viewer may read
        // (another business's anonymous flow, an unknown business: NOT_FOUND).
        let scope = match (flow_id, business_id) {
            (Some(flow), _) => MatchScope::Flow(flow),
            (None, Some(business)) => MatchScope::Business(business),
            (None, None) => MatchScope::All,
        };
        let visible = self
            .app
            .match_scope(&viewer, scope)
            .await
            .map_err(status_of)?;
        if request.min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
            return Err(invalid_argument("min_score", "must be between 0 and 1"));
        }
        let limit = match request.limit {
            0 => symbiont_app::match_queries::DEFAULT_MATCH_PAGE_SIZE as u32,
            n if n <= MAX_PAGE_SIZE => n,
            n => {
                return Err(invalid_argument(
                    "limit",
                    format!("must be between 1 and {MAX_PAGE_SIZE}, got {n}"),
                ));
            }
        };
        let cursor = request
            .cursor
            .as_deref()
            .map(|c| {
                MatchCursor::decode(c).ok_or_else(|| {
                    invalid_argument("cursor", "is not a cursor from a previous page")
                })
            })
            .transpose()?;
        let query = MatchQuery {
            filter: MatchFilter {
                business_id,
                flow_id,
                category: request.category,
                min_score: request.min_score,
                status: convert::status_filter("status", request.status)?,
            },
            sort: match_sort(request.sort)?,
            limit: limit as usize,
            cursor,
        };
        let body = self
            .app
            .match_page(&viewer, visible, query)
            .await
            .map_err(status_of)?;
        // The page is the response cache's JSON, shared with REST.
        let page: Value =
            serde_json::from_slice(&body).map_err(|e| internal("unreadable match page", e))?;
        let items = page["items"]
            .as_array()
            .into_iter()
            .flatten()
            .map(convert::match_of)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Response::new(pb::ListMatchesResponse {
            items,
            next_cursor: page["next_cursor"].as_str().map(str::to_string),
        }))
    }

    async fn get_flow(
        &self,
        request: Request<pb::GetFlowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        let caller = self.caller(&request, Access::Read).await?;
        let id = parse_id("id", &request.get_ref().id)?;
        let flow = self
            .app
            .visible_flow(id, &Viewer::of(&caller))
            .await
            .map_err(status_of)?;
        Ok(Response::new(convert::flow_message(flow)))
    }

    async fn upsert_flow(
        &self,
        request: Request<pb::UpsertFlowRequest>,
    ) -> Result<Response<pb::Flow>, Status> {
        let peer = request.remote_addr();
        let action = if request.get_ref().id.is_some() {
            "flow.update"
        } else {
            "flow.create"
        };
        // Writes refused for their credentials are recorded too, as on REST.
        let (caller, answer) = match self.caller(&request, Access::Write).await {
            Ok(caller) => {
                let answer = self.upsert(&caller, request.into_inner()).await;
                (caller, answer)
            }
            Err(refused) => (Caller::Anonymous, Err(refused)),
        };
        let audited = Audited {
            caller,
            peer,
            path: "/symbiont.v1.Matching/UpsertFlow",
            action,
        };
        self.audit(audited, &answer).await;
        answer.map(Response::new)
    }

    async fn decide(
        &self,
        request: Request<pb::DecideRequest>,
    ) -> Result<Response<pb::Match>, Status> {
        let peer = request.remote_addr();
        let (caller, answer) = match self.caller(&request, Access::Write).await {
            Ok(caller) => {
                let answer = self.decide_as(&caller, request.into_inner()).await;
                (caller, answer)
            }
            Err(refused) => (Caller::Anonymous, Err(refused)),
        };
        let audited = Audited {
            caller,
            peer,
            path: "/symbiont.v1.Matching/Decide",
            action: "match.update",
        };
        self.audit(audited, &answer).await;
        answer.map(Response::new)
    }

    type WatchMatchesStream =
        Pin<Box<dyn Stream<Item = Result<pb::WatchMatchesResponse, Status>> + Send + 'static>>;

    async fn watch_matches(
        &self,
        request: Request<pb::WatchMatchesRequest>,
    ) -> Result<Response<Self::WatchMatchesStream>, Status> {
        let credential = presented(request.metadata())?;
        let peer = request.remote_addr();
        let caller = authenticate(&self.app, credential.as_deref(), peer, Access::Read).await?;
        let stream = crate::watch::open(
            Arc::clone(&self.app),
            caller,
            credential,
            peer,
            request.into_inner(),
            &self.watch,
        )
        .await?;
        Ok(Response::new(stream))
    }
}
