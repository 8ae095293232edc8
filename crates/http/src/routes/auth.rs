//! `/api/v1/auth`: sign in, refresh and sign out; who am I; API keys; self-registration.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use symbiont_store::accounts::{ApiKey, KeyScope, RefreshToken, Rotation, User};
use uuid::Uuid;

use crate::audit_trail::AuditActor;
use symbiont_app::identity::{self as auth, Credential};

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
    #[schema(value_type = crate::openapi::TokenType, inline)]
    pub token_type: &'static str,
    /// Seconds the access token is valid.
    pub expires_in: u64,
    /// Single use: a refresh returns a new one; a spent one revokes the session.
    pub refresh_token: String,
    /// Seconds the refresh token is valid.
    pub refresh_expires_in: u64,
}

/// A new login: an access token and the first refresh token of a new family.
async fn issue(state: &SharedState, user_id: Uuid) -> Result<TokenPair, ApiError> {
    let refresh_token = auth::random_secret();
    let now = Utc::now();
    state
        .store
        .accounts()
        .insert_refresh_token(&RefreshToken {
            id: Uuid::now_v7(),
            family_id: Uuid::now_v7(),
            user_id,
            token_hash: auth::digest(&refresh_token),
            expires_at: now + state.auth.refresh_ttl,
            created_at: now,
        })
        .await?;
    Ok(pair(state, user_id, refresh_token))
}

fn pair(state: &SharedState, user_id: Uuid, refresh_token: String) -> TokenPair {
    TokenPair {
        access_token: auth::issue_access_token(&state.auth, user_id),
        token_type: "Bearer",
        expires_in: state.auth.access_ttl.as_secs(),
        refresh_token,
        refresh_expires_in: state.auth.refresh_ttl.as_secs(),
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
    description = "Returns a short-lived access token and a refresh token. Limited per client IP and per e-mail (`rate_limit.login`); every attempt is in the audit log.",
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
    let email = email.trim().to_lowercase();
    // Stricter limits on logins, per address and per account, against password guessing.
    let quota = state.limiter.settings.login;
    for key in [format!("login-ip:{ip}"), format!("login-email:{email}")] {
        let verdict = state.limiter.check(&key, quota).await;
        if !verdict.allowed {
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
    }
    let user = state.store.accounts().user_by_email(&email).await?;
    let hash = user.as_ref().map_or_else(
        || auth::dummy_password_hash().to_string(),
        |u| u.password_hash.clone(),
    );
    // argon2 takes tens of milliseconds of CPU: off the async workers.
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password check failed: {e}")))?;
    match user {
        Some(user) if verified => {
            let tokens = issue(&state, user.id).await?;
            Ok(with_actor(
                axum::Json(tokens).into_response(),
                Some(user.id),
                &email,
            ))
        }
        _ => Ok(with_actor(
            ApiError::Unauthorized("the e-mail or the password is wrong".into()).into_response(),
            None,
            &email,
        )),
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
) -> Result<Response, ApiError> {
    let next_token = auth::random_secret();
    let now = Utc::now();
    let next = RefreshToken {
        id: Uuid::now_v7(),
        family_id: Uuid::nil(),
        user_id: Uuid::nil(),
        token_hash: auth::digest(&next_token),
        expires_at: now + state.auth.refresh_ttl,
        created_at: now,
    };
    let outcome = state
        .store
        .accounts()
        .rotate_refresh_token(&auth::digest(&body.refresh_token), &next, now)
        .await?;
    match outcome {
        Rotation::Rotated { user_id } => {
            Ok(axum::Json(pair(&state, user_id, next_token)).into_response())
        }
        Rotation::Unknown => Err(ApiError::Unauthorized(
            "the refresh token is unknown".into(),
        )),
        Rotation::Expired => Err(ApiError::Unauthorized(
            "the refresh token has expired or its session was ended; sign in again".into(),
        )),
        Rotation::Reused => Err(ApiError::Unauthorized(
            "the refresh token was already used; every token of this session is now revoked; sign in again".into(),
        )),
    }
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
    state
        .store
        .accounts()
        .revoke_refresh_family(&auth::digest(&body.refresh_token))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/auth/me`
#[utoipa::path(
    get,
    path = "/api/v1/auth/me",
    operation_id = "me",
    tag = "auth",
    summary = "Who am I: the caller, its credential and memberships",
    responses((status = 200, description = "OK", body = crate::openapi::Me)),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn me(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let account = caller
        .account()
        .ok_or_else(|| ApiError::Unauthorized("sign in or send an API key".into()))?;
    let memberships = state
        .store
        .accounts()
        .memberships_of_user(account.user_id)
        .await?;
    let credential = match account.credential {
        Credential::AccessToken => json!({ "type": "access_token" }),
        Credential::ApiKey { id, scope } => {
            json!({ "type": "api_key", "id": id, "scope": scope })
        }
    };
    Ok(axum::Json(json!({
        "id": account.user_id,
        "email": account.email,
        "is_admin": account.is_admin,
        "credential": credential,
        "memberships": memberships,
    }))
    .into_response())
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
        (status = 201, description = "Created", body = crate::openapi::ApiKeyCreated, headers(("Location" = String, description = "The new resource's URL."))),
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
    let account = caller.require_session()?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    let (key, hash) = auth::new_api_key();
    let record = ApiKey {
        id: Uuid::now_v7(),
        user_id: account.user_id,
        name: name.to_string(),
        prefix: key.chars().take(auth::API_KEY_PREFIX.len() + 6).collect(),
        scope: body.scope,
        created_at: Utc::now(),
        last_used_at: None,
        revoked_at: None,
    };
    state
        .store
        .accounts()
        .insert_api_key(&record, &hash)
        .await?;
    let mut body = serde_json::to_value(&record).map_err(|e| ApiError::Internal(e.to_string()))?;
    body["key"] = json!(key);
    let mut response = (StatusCode::CREATED, axum::Json(body)).into_response();
    if let Ok(location) = format!("/api/v1/auth/api-keys/{}", record.id).parse() {
        response
            .headers_mut()
            .insert(axum::http::header::LOCATION, location);
    }
    Ok(response)
}

/// `GET /api/v1/auth/api-keys`: the caller's keys, without the keys themselves.
#[utoipa::path(
    get,
    path = "/api/v1/auth/api-keys",
    operation_id = "listApiKeys",
    tag = "auth",
    summary = "The caller's API keys (without the keys)",
    responses((status = 200, description = "OK", body = crate::openapi::ApiKeyList)),
    security(("bearer" = []), ("apiKey" = [])),
)]
pub async fn list_api_keys(
    State(state): State<SharedState>,
    Authenticated(caller): Authenticated,
) -> Result<Response, ApiError> {
    let account = caller
        .account()
        .ok_or_else(|| ApiError::Unauthorized("sign in or send an API key".into()))?;
    let keys = state
        .store
        .accounts()
        .api_keys_of_user(account.user_id)
        .await?;
    Ok(axum::Json(json!({ "items": keys })).into_response())
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
    let account = caller.require_session()?;
    let id = parse_id(&id, "API key")?;
    let changed = state
        .store
        .accounts()
        .revoke_api_key(account.user_id, id, Utc::now())
        .await?;
    state.account_cache.clear();
    if changed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!(
            "you have no active API key {id}"
        )))
    }
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

/// Creates a user after checking the e-mail and password rules.
pub async fn create_user(state: &SharedState, new: NewUser) -> Result<User, ApiError> {
    let email = auth::normalize_email("email", &new.email)?;
    auth::check_password_rules("password", &new.password)?;
    let password = new.password;
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))??;
    let user = User {
        id: Uuid::now_v7(),
        email,
        password_hash,
        is_admin: new.is_admin,
        created_at: Utc::now(),
    };
    state
        .store
        .accounts()
        .insert_user(&user)
        .await
        .map_err(|e| match e {
            symbiont_store::StoreError::AlreadyExists { .. } => {
                ApiError::Conflict(format!("a user with e-mail {} exists", user.email))
            }
            other => other.into(),
        })?;
    Ok(user)
}

/// `POST /api/v1/auth/register`: self-registration, when the platform allows it.
#[utoipa::path(
    post,
    path = "/api/v1/auth/register",
    operation_id = "register",
    tag = "auth",
    summary = "Create an account",
    description = "When `auth.open_registration` is on; otherwise 403. `is_admin` must be false here.",
    request_body = NewUser,
    responses(
        (status = 201, description = "Created", body = User),
        crate::openapi::JsonBodyErrors,
        (status = 403, response = crate::openapi::Forbidden),
        (status = 409, response = crate::openapi::Conflict),
    ),
    security(()),
)]
pub async fn register(
    State(state): State<SharedState>,
    Json(new): Json<NewUser>,
) -> Result<Response, ApiError> {
    if !state.auth.open_registration {
        return Err(ApiError::Forbidden(
            "self-registration is closed; ask a platform administrator for an account".into(),
        ));
    }
    if new.is_admin {
        return Err(ApiError::invalid(
            "is_admin",
            "only a platform administrator may create administrators",
        ));
    }
    let user = create_user(&state, new).await?;
    let email = user.email.clone();
    Ok(with_actor(
        (StatusCode::CREATED, axum::Json(user)).into_response(),
        None,
        &email,
    ))
}
