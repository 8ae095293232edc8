//! `/api/v1/auth`: sign in, refresh and sign out; who am I; API keys; self-registration.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use symbiont_app::AppError;
use symbiont_app::identity;
use symbiont_app::sessions::{self, IssuedApiKey, Tokens, WhoAmI};
use symbiont_app::users::{Registration, UserDraft};
use symbiont_store::accounts::{ApiKey, KeyScope, Membership};
use uuid::Uuid;

use crate::audit_trail::AuditActor;
use crate::authentication::Authenticated;
use crate::error::ApiError;
use crate::extract::{Json, parse_id};
use crate::rate_limiting::Peer;
use crate::state::SharedState;

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TokenPair {
    /// HS256 JWT; send as `Authorization: Bearer …`.
    pub access_token: String,
    #[schema(inline)]
    pub token_type: TokenType,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    /// Single use: a refresh returns a new one; a spent one revokes the session.
    pub refresh_token: String,
    /// Seconds the refresh token is valid.
    pub refresh_expires_in: u64,
}

/// How to send an access token: always `Bearer`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub enum TokenType {
    Bearer,
}

impl From<Tokens> for TokenPair {
    fn from(tokens: Tokens) -> Self {
        TokenPair {
            access_token: tokens.access_token,
            token_type: TokenType::Bearer,
            expires_in: tokens.access_ttl.as_secs(),
            refresh_token: tokens.refresh_token,
            refresh_expires_in: tokens.refresh_ttl.as_secs(),
        }
    }
}

fn with_actor(mut response: Response, user_id: Option<Uuid>, email: &str) -> Response {
    response.extensions_mut().insert(AuditActor {
        user_id,
        email: email.to_string(),
    });
    response
}

/// `POST /api/v1/auth/login`
#[utoipa::path(
    post,
    path = "/api/v1/auth/login",
    operation_id = "login",
    tag = "auth",
    summary = "Sign in",
    description = "Returns a short-lived access token and a refresh token. Limited per client IP and per e-mail (`rate_limit.login`); every attempt is in the audit log. An e-mail over 254 or a password over 256 characters (longer than any account's) is a 422 before the attempt is counted or audited.",
    request_body(content = LoginRequest, example = json!({"email": "demo@symbiont.example", "password": "symbiont-demo"})),
    responses(
        (status = 200, description = "OK", body = TokenPair),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(()),
)]
pub async fn login(
    State(state): State<SharedState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Json(LoginRequest { email, password }): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let ip = crate::rate_limiting::client_ip(&state.limiter, &headers, peer);
    let email = sessions::login_input(&email, &password)?;
    if let Err(verdict) = state.check_login_quota(&ip, &email).await {
        state
            .metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response = ApiError::TooManyRequests {
            retry_after_secs: verdict.retry_after_secs.ceil().max(1.0) as u64,
        }
        .into_response();
        crate::rate_limiting::write_headers(&verdict, response.headers_mut());
        return Ok(with_actor(response, None, &email));
    }
    match state.login(&email, password).await {
        Ok(signed_in) => Ok(with_actor(
            axum::Json(TokenPair::from(signed_in.tokens)).into_response(),
            Some(signed_in.user_id),
            &email,
        )),
        // A refused login is audited under the e-mail it tried.
        Err(refused @ AppError::Unauthorized(_)) => Ok(with_actor(
            ApiError::from(refused).into_response(),
            None,
            &email,
        )),
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// `POST /api/v1/auth/refresh`: a new access token and a new refresh token; the old one is spent.
#[utoipa::path(
    post,
    path = "/api/v1/auth/refresh",
    operation_id = "refresh",
    tag = "auth",
    summary = "Swap a refresh token for a new pair",
    description = "A refresh token works once. Presenting a spent one revokes every token of its session (401).",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "OK", body = TokenPair),
        crate::openapi::JsonBodyErrors,
        (status = 401, response = crate::openapi::Unauthorized),
    ),
    security(()),
)]
pub async fn refresh(
    State(state): State<SharedState>,
    Json(body): Json<RefreshRequest>,
) -> Result<axum::Json<TokenPair>, ApiError> {
    let tokens = state.refresh_session(&body.refresh_token).await?;
    Ok(axum::Json(tokens.into()))
}

/// `POST /api/v1/auth/logout`: ends the session the refresh token belongs to.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    operation_id = "logout",
    tag = "auth",
    summary = "End the session of a refresh token",
    request_body = RefreshRequest,
    responses(
        (status = 204, description = "Ended (also when the token was unknown)."),
        crate::openapi::JsonBodyErrors,
    ),
    security(()),
)]
pub async fn logout(
    State(state): State<SharedState>,
    Json(body): Json<RefreshRequest>,
) -> Result<StatusCode, ApiError> {
    state.logout(&body.refresh_token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/auth/me`
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    operation_id = "me",
    tag = "auth",
    summary = "Who am I: the caller, its credential and memberships",
    responses((status = 200, description = "OK", body = Me)),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn me(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::Json<Me>, ApiError> {
    Ok(axum::Json(state.who_am_i(&caller).await?.into()))
}

/// The caller: who it is, how it signed in, and its businesses.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    pub id: Uuid,
    pub email: String,
    pub is_admin: bool,
    pub credential: Credential,
    pub memberships: Vec<Membership>,
}

/// How the caller authenticated: an access token, or an API key (with its id and scope).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Credential {
    /// Signed in with a password: an access token.
    AccessToken,
    /// An API key, with its id and scope.
    ApiKey { id: Uuid, scope: KeyScope },
}

impl From<WhoAmI> for Me {
    fn from(me: WhoAmI) -> Self {
        Me {
            id: me.user_id,
            email: me.email,
            is_admin: me.is_admin,
            credential: match me.credential {
                identity::Credential::AccessToken => Credential::AccessToken,
                identity::Credential::ApiKey { id, scope } => Credential::ApiKey { id, scope },
            },
            memberships: me.memberships,
        }
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    #[serde(default = "read_scope")]
    #[schema(default = "read")]
    pub scope: KeyScope,
}

fn read_scope() -> KeyScope {
    KeyScope::Read
}

/// `POST /api/v1/auth/api-keys`: the key is in this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/auth/api-keys",
    operation_id = "createApiKey",
    tag = "auth",
    summary = "Create an API key; the key is shown once",
    description = "Needs an access token (a key cannot create keys).",
    request_body(content = NewApiKey, example = json!({"name": "meter gateway", "scope": "read_write"})),
    responses(
        (status = 201, description = "Created", body = ApiKeyCreated, headers(("Location" = String, description = "The new resource's URL."))),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = [])),
)]
pub async fn create_api_key(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Json(body): Json<NewApiKey>,
) -> Result<Response, ApiError> {
    let issued = state
        .create_api_key(&caller, &body.name, body.scope)
        .await?;
    let location = format!("/api/v1/auth/api-keys/{}", issued.record.id);
    let mut response =
        (StatusCode::CREATED, axum::Json(ApiKeyCreated::from(issued))).into_response();
    if let Ok(location) = location.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    Ok(response)
}

/// A new API key: the record, and the key itself, shown only in this answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyCreated {
    #[serde(flatten)]
    pub record: ApiKey,
    /// The key (`sym_…`); shown only in this answer.
    pub key: String,
}

impl From<IssuedApiKey> for ApiKeyCreated {
    fn from(IssuedApiKey { record, key }: IssuedApiKey) -> Self {
        ApiKeyCreated { record, key }
    }
}

/// `GET /api/v1/auth/api-keys`: the caller's keys, without the keys themselves.
#[utoipa::path(
    get,
    path = "/api/v1/auth/api-keys",
    operation_id = "listApiKeys",
    tag = "auth",
    summary = "The caller's API keys (without the keys)",
    responses((status = 200, description = "OK", body = ApiKeyList)),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn list_api_keys(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<axum::Json<ApiKeyList>, ApiError> {
    let items = state.api_keys(&caller).await?;
    Ok(axum::Json(ApiKeyList { items }))
}

/// The caller's API keys, without the keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ApiKeyList {
    pub items: Vec<ApiKey>,
}

/// `DELETE /api/v1/auth/api-keys/{id}`
#[utoipa::path(
    delete,
    path = "/api/v1/auth/api-keys/{id}",
    operation_id = "revokeApiKey",
    tag = "auth",
    summary = "Revoke one of your API keys",
    description = "Needs an access token.",
    params(("id" = uuid::Uuid, Path, description = "The API key's id.")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, response = crate::openapi::Forbidden),
        (status = 404, response = crate::openapi::NotFound),
    ),
    security(("bearer" = [])),
)]
pub async fn revoke_api_key(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    // A key (rather than a password session) is refused before its path is read.
    caller.require_session()?;
    let id = parse_id(&id, "API key")?;
    state.revoke_api_key(&caller, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    #[schema(format = "email")]
    pub email: String,
    #[schema(min_length = 10, max_length = 256)]
    pub password: String,
    /// Only a platform admin may create another admin.
    #[serde(default)]
    pub is_admin: bool,
}

impl From<NewUser> for UserDraft {
    fn from(new: NewUser) -> Self {
        UserDraft {
            email: new.email,
            password: new.password,
            is_admin: new.is_admin,
        }
    }
}

/// The answer to a self-registration: the same whether the address was free or already had an
/// account, so it tells a stranger nothing about who is registered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RegistrationAccepted {
    /// The e-mail to sign in with (trimmed, lower-cased).
    pub email: String,
    /// What to do next.
    pub detail: String,
}

impl From<Registration> for RegistrationAccepted {
    fn from(registration: Registration) -> Self {
        RegistrationAccepted {
            email: registration.email,
            detail: "if this address had no account, it has one now: sign in with it \
                     (POST /api/v1/auth/login)"
                .into(),
        }
    }
}

/// `POST /api/v1/auth/register`: self-registration, when the platform allows it.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "register",
    tag = "auth",
    summary = "Create an account",
    description = "When `auth.open_registration` is on; otherwise 403. `is_admin` must be false here. \
                   The answer is 202 whether or not the address already had an account, so it does \
                   not reveal who is registered; sign in to continue. Limited per client IP \
                   (`rate_limit.register`).",
    request_body = NewUser,
    responses(
        (status = 202, description = "Accepted", body = RegistrationAccepted),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(()),
)]
pub async fn register(
    State(state): State<SharedState>,
    Peer(peer): Peer,
    headers: HeaderMap,
    Json(new): Json<NewUser>,
) -> Result<Response, ApiError> {
    let ip = crate::rate_limiting::client_ip(&state.limiter, &headers, peer);
    if let Err(verdict) = state.check_register_quota(&ip).await {
        state
            .metrics
            .rate_limited
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response = ApiError::TooManyRequests {
            retry_after_secs: verdict.retry_after_secs.ceil().max(1.0) as u64,
        }
        .into_response();
        crate::rate_limiting::write_headers(&verdict, response.headers_mut());
        return Ok(response);
    }
    let accepted = RegistrationAccepted::from(state.register(new.into()).await?);
    let email = accepted.email.clone();
    Ok(with_actor(
        (StatusCode::ACCEPTED, axum::Json(accepted)).into_response(),
        None,
        &email,
    ))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    #[schema(min_length = 10, max_length = 256)]
    pub new_password: String,
}

/// `POST /api/v1/auth/password`: changes the caller's password and ends every other session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/password",
    operation_id = "changePassword",
    tag = "auth",
    summary = "Change the password",
    description = "Needs the current password and a signed-in session (not an API key). Ends every \
                   session of the account, on every device, and returns a new token pair for this \
                   one. Limited like a login (`rate_limit.login`), per client IP and per account.",
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; the new session's tokens", body = TokenPair),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 503, response = crate::openapi::Unavailable),
    ),
    security(("bearer" = [])),
)]
pub async fn change_password(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
    Peer(peer): Peer,
    headers: HeaderMap,
    Json(change): Json<PasswordChange>,
) -> Result<Response, ApiError> {
    let account = caller.require_session()?;
    // Someone holding a stolen access token may guess the current password here: the login
    // quota applies, counted for this account's e-mail.
    let ip = crate::rate_limiting::client_ip(&state.limiter, &headers, peer);
    if let Err(verdict) = state.check_login_quota(&ip, &account.email).await {
        let mut response = ApiError::TooManyRequests {
            retry_after_secs: verdict.retry_after_secs.ceil().max(1.0) as u64,
        }
        .into_response();
        crate::rate_limiting::write_headers(&verdict, response.headers_mut());
        return Ok(response);
    }
    let tokens = state
        .change_password(&caller, change.current_password, change.new_password)
        .await?;
    Ok(axum::Json(TokenPair::from(tokens)).into_response())
}

/// `POST /api/v1/auth/logout-everywhere`: ends every session of the caller.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout-everywhere",
    operation_id = "logoutEverywhere",
    tag = "auth",
    summary = "End every session of the caller, on every device",
    description = "Every access and refresh token of the account stops working, this one's too. \
                   API keys are not sessions and keep working. Needs a signed-in session.",
    responses(
        (status = 204, description = "Every session ended."),
        (status = 403, response = crate::openapi::Forbidden),
    ),
    security(("bearer" = [])),
)]
pub async fn logout_everywhere(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<StatusCode, ApiError> {
    state.end_all_sessions(&caller).await?;
    Ok(StatusCode::NO_CONTENT)
}
