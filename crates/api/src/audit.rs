//! The audit log: every write and every login attempt, with who (user, API key), what (action,
//! path, outcome), when and from where. Admins read it through `GET /api/v1/admin/audit`.
//!
//! The middleware records an entry after the handler answered and before the client gets the
//! answer, so an acknowledged write is in the log. Entries from concurrent requests are appended in
//! one transaction (group commit), which keeps the cost to about one store write per batch.

use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use symbiont_store::Store;
use symbiont_store::accounts::AuditEntry;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::auth::{Caller, Credential};
use crate::state::SharedState;

const BATCH: usize = 256;
/// Longest a request waits for its entry to be stored before answering anyway.
const WAIT: Duration = Duration::from_secs(5);

type Pending = (AuditEntry, oneshot::Sender<()>);

pub struct AuditLog {
    sender: mpsc::Sender<Pending>,
}

impl AuditLog {
    /// Starts the writer task; it stops when the log is dropped.
    pub fn start(store: std::sync::Arc<dyn Store>) -> Self {
        let (sender, mut receiver) = mpsc::channel::<Pending>(4 * BATCH);
        tokio::spawn(async move {
            let mut batch: Vec<Pending> = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                let entries: Vec<AuditEntry> = batch.iter().map(|(e, _)| e.clone()).collect();
                if let Err(error) = store.accounts().append_audit(&entries).await {
                    // The actions themselves stand; the log line says which entries were lost.
                    for entry in &entries {
                        tracing::error!(%error, action = %entry.action, path = %entry.path, user = ?entry.user_id, "audit entry not stored");
                    }
                }
                for (_, done) in batch.drain(..) {
                    let _ = done.send(());
                }
            }
        });
        Self { sender }
    }

    /// Stores an entry, waiting (bounded) until it is written.
    pub async fn record(&self, entry: AuditEntry) {
        let (done, stored) = oneshot::channel();
        if self.sender.send((entry, done)).await.is_err() {
            tracing::error!("audit log writer stopped; entry not stored");
            return;
        }
        if tokio::time::timeout(WAIT, stored).await.is_err() {
            tracing::warn!("audit entry not confirmed within 5 s");
        }
    }
}

/// Set by a handler on its response to name the actor where the caller was anonymous (a login).
#[derive(Debug, Clone)]
pub struct AuditActor {
    pub user_id: Option<Uuid>,
    pub email: String,
}

fn singular(word: &str) -> String {
    if let Some(stem) = word.strip_suffix("sses") {
        format!("{stem}ss")
    } else if let Some(stem) = word.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        word.strip_suffix('s').unwrap_or(word).to_string()
    }
}

/// `flow.create`, `site.update`, `match.update`, `auth.login`, `business.members.create`…:
/// the route's resource path (parameters dropped) and the method as a verb.
pub fn action_of(method: &Method, route: &str) -> String {
    let resource: Vec<String> = route
        .trim_start_matches("/api/v1/")
        .split('/')
        .filter(|s| !s.is_empty() && !s.starts_with('{'))
        .map(singular)
        .collect();
    let resource = resource.join(".");
    if resource.starts_with("auth.") && method == Method::POST && !route.ends_with("api-keys") {
        // /auth/login, /auth/refresh, /auth/logout are actions already.
        return resource;
    }
    let verb = match *method {
        Method::POST => "create",
        Method::PATCH => "update",
        Method::PUT => "replace",
        Method::DELETE => "delete",
        _ => "read",
    };
    format!("{resource}.{verb}")
}

/// Middleware (inside the router, so the matched route is known): records every request that is
/// not a read.
pub async fn record(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || request.uri().path().to_string(),
        |m| m.as_str().to_string(),
    );
    let path = request.uri().path().to_string();
    let caller = request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
    let ip = state
        .limiter
        .client_ip(request.headers(), crate::ratelimit::peer(&request));
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let mut action = action_of(&method, &route);
    let (mut user_id, mut email, mut api_key_id) = match caller.account() {
        Some(account) => (
            Some(account.user_id),
            Some(account.email.clone()),
            match account.credential {
                Credential::ApiKey { id, .. } => Some(id),
                Credential::AccessToken => None,
            },
        ),
        None => (None, None, None),
    };
    if let Some(actor) = response.extensions().get::<AuditActor>() {
        user_id = actor.user_id.or(user_id);
        email = Some(actor.email.clone());
        api_key_id = api_key_id.filter(|_| actor.user_id.is_none());
    }
    if action == "auth.login" && status >= 400 {
        action = "auth.login_failed".to_string();
    }
    state
        .audit
        .record(AuditEntry {
            seq: 0,
            at: Utc::now(),
            user_id,
            email,
            api_key_id,
            ip,
            method: method.to_string(),
            path,
            action,
            status,
            request_id,
        })
        .await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_by_resource_and_verb() {
        assert_eq!(action_of(&Method::POST, "/api/v1/flows"), "flow.create");
        assert_eq!(
            action_of(&Method::PATCH, "/api/v1/flows/{id}"),
            "flow.update"
        );
        assert_eq!(
            action_of(&Method::DELETE, "/api/v1/businesses/{id}"),
            "business.delete"
        );
        assert_eq!(
            action_of(&Method::POST, "/api/v1/businesses/{id}/members"),
            "business.member.create"
        );
        assert_eq!(action_of(&Method::POST, "/api/v1/auth/login"), "auth.login");
        assert_eq!(
            action_of(&Method::POST, "/api/v1/auth/api-keys"),
            "auth.api-key.create"
        );
    }
}
