//! The audit layer: every HTTP request that is not a read, and every login attempt, becomes an entry
//! of the app's audit log (who, what action on which path, the outcome, when and from where),
//! recorded after the handler answered and before the client gets the answer.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use symbiont_app::identity::{Caller, Credential};
use symbiont_store::accounts::AuditEntry;
use uuid::Uuid;

use crate::state::SharedState;

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

/// Set by a handler on its response when a request made with a writing method wrote nothing (a
/// GraphQL query sent by `POST /graphql`): it is left out of the audit log.
#[derive(Debug, Clone, Copy)]
pub struct NotAWrite;

/// Routes whose action is not their resource and method: adding a member invites them, and the
/// invitee's answers are actions on the invitation.
const NAMED_ACTIONS: [(Method, &str, &str); 4] = [
    (Method::POST, "/graphql", "graphql.mutation"),
    (
        Method::POST,
        "/api/v1/businesses/{id}/members",
        "business.invitation.create",
    ),
    (
        Method::POST,
        "/api/v1/invitations/{id}/accept",
        "invitation.accept",
    ),
    (
        Method::POST,
        "/api/v1/invitations/{id}/decline",
        "invitation.decline",
    ),
];

/// `flow.create`, `site.update`, `match.update`, `auth.login`, `business.member.update`…:
/// the route's resource path (parameters dropped) and the method as a verb, unless the route's
/// action is named in [`NAMED_ACTIONS`].
pub fn action_of(method: &Method, route: &str) -> String {
    if let Some((_, _, action)) = NAMED_ACTIONS
        .iter()
        .find(|(m, r, _)| m == method && *r == route)
    {
        return (*action).to_string();
    }
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

/// Longest request path kept in an entry: an unknown route's path is the client's choice.
const MAX_AUDITED_PATH: usize = 512;

/// Middleware (a router layer, so the matched route is known when there is one; outside
/// authentication and rate limiting, so refused writes are recorded): records every request that
/// is not a read. The caller comes from the response, where authentication leaves it.
pub async fn record(State(state): State<SharedState>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || truncated(request.uri().path(), MAX_AUDITED_PATH),
        |m| m.as_str().to_string(),
    );
    let path = truncated(request.uri().path(), MAX_AUDITED_PATH);
    let ip = crate::rate_limiting::client_ip(
        &state.limiter,
        request.headers(),
        crate::rate_limiting::peer(&request),
    );
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let response = next.run(request).await;
    if response.extensions().get::<NotAWrite>().is_some() {
        return response;
    }
    let caller = response
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_default();
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

/// At most `max` bytes of `text`, cut at a character boundary.
pub(crate) fn truncated(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
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
            "business.invitation.create"
        );
        assert_eq!(
            action_of(&Method::PATCH, "/api/v1/businesses/{id}/members/{user_id}"),
            "business.member.update"
        );
        assert_eq!(
            action_of(&Method::POST, "/api/v1/invitations/{id}/accept"),
            "invitation.accept"
        );
        assert_eq!(
            action_of(&Method::POST, "/api/v1/invitations/{id}/decline"),
            "invitation.decline"
        );
        assert_eq!(
            action_of(
                &Method::DELETE,
                "/api/v1/businesses/{id}/invitations/{invitation_id}"
            ),
            "business.invitation.delete"
        );
        assert_eq!(action_of(&Method::POST, "/api/v1/auth/login"), "auth.login");
        assert_eq!(
            action_of(&Method::POST, "/api/v1/auth/api-keys"),
            "auth.api-key.create"
        );
    }
}
