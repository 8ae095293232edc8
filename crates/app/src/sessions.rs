//! Signing in and staying signed in: a password for a pair of tokens (login, with its own stricter
//! rate limit), a refresh token for a new pair (rotation), the end of a session (logout); who the
//! caller is; and the caller's API keys. The credentials themselves (hashing, signing, resolving a
//! presented token) are [`crate::identity`]'s.
//!
//! Nothing here knows how a transport shows a token pair or a refused login; a refusal is an
//! [`AppError`] or, for the login quota, the limiter's [`Verdict`] (its figures go into headers).

use std::time::Duration;

use chrono::Utc;
use symbiont_store::accounts::{ApiKey, KeyScope, Membership, RefreshToken, Rotation};
use uuid::Uuid;

use crate::App;
use crate::error::AppError;
use crate::identity::{self, Caller, Credential};
use crate::rate_limit::Verdict;

/// An access token and the refresh token that renews it.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// A signed JWT (HS256), valid for `access_ttl`.
    pub access_token: String,
    pub access_ttl: Duration,
    /// Single use: a refresh returns a new one; presenting a spent one revokes the session.
    pub refresh_token: String,
    pub refresh_ttl: Duration,
}

/// A successful login: who signed in, and their first tokens.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: Uuid,
    pub tokens: Tokens,
}

/// The caller as it sees itself: who it is, how it authenticated, and its businesses.
#[derive(Debug, Clone)]
pub struct WhoAmI {
    pub user_id: Uuid,
    pub email: String,
    pub is_admin: bool,
    pub credential: Credential,
    pub memberships: Vec<Membership>,
}

/// A new API key: its stored record, and the key itself, which exists nowhere else (the store keeps
/// its digest), so it is shown once.
#[derive(Debug, Clone)]
pub struct IssuedApiKey {
    pub record: ApiKey,
    pub key: String,
}

/// The e-mail a login is for: trimmed and lower-cased, not checked (an address that cannot exist
/// fails like a wrong password).
pub fn login_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// The longest e-mail a login may name, in characters: no account can have a longer one
/// (`identity::normalize_email`, RFC 5321).
pub const LOGIN_EMAIL_MAX_CHARS: usize = 254;
/// The longest password a login may present, in characters: no account can have a longer one
/// (`identity::check_password_rules`), and hashing megabytes is work the caller would choose.
pub const LOGIN_PASSWORD_MAX_CHARS: usize = 256;

/// The e-mail of a login attempt as [`login_email`] makes it, once both fields are within what an
/// account can have. Checked before the attempt is counted against the login quota or written to
/// the audit log, so neither keys on nor stores an arbitrarily long string; the refusal names the
/// field (it reveals nothing: the limits are the documented ones for every account).
pub fn login_input(email: &str, password: &str) -> Result<String, AppError> {
    let email = login_email(email);
    if email.chars().count() > LOGIN_EMAIL_MAX_CHARS {
        return Err(AppError::invalid(
            "email",
            format!("must be at most {LOGIN_EMAIL_MAX_CHARS} characters"),
        ));
    }
    if password.chars().count() > LOGIN_PASSWORD_MAX_CHARS {
        return Err(AppError::invalid(
            "password",
            format!("must be at most {LOGIN_PASSWORD_MAX_CHARS} characters"),
        ));
    }
    Ok(email)
}

/// The longest name of an API key, in characters.
const API_KEY_NAME_MAX_CHARS: usize = 100;

impl App {
    /// The login quota, stricter than the general one, counted per client address and per account
    /// against password guessing. `Err` carries the refusing verdict (its figures are the answer's
    /// rate-limit headers); the account's count is not taken when the address is already refused.
    pub async fn check_login_quota(&self, client_ip: &str, email: &str) -> Result<(), Verdict> {
        let quota = self.limiter.settings.login;
        for key in [
            format!("login-ip:{client_ip}"),
            format!("login-email:{email}"),
        ] {
            let verdict = self.limiter.check(&key, quota).await;
            if !verdict.allowed {
                return Err(verdict);
            }
        }
        Ok(())
    }

    /// Checks a password and starts a session. An unknown e-mail and a wrong password are the same
    /// `Unauthorized`, and take the same time. `email` as [`login_email`] makes it.
    pub async fn login(&self, email: &str, password: String) -> Result<SignedIn, AppError> {
        let user = self.store.accounts().user_by_email(email).await?;
        let hash = user.as_ref().map_or_else(
            || identity::dummy_password_hash().to_string(),
            |u| u.password_hash.clone(),
        );
        // argon2 takes tens of milliseconds of CPU: off the async workers.
        let verified =
            tokio::task::spawn_blocking(move || identity::verify_password(&password, &hash))
                .await
                .map_err(|e| AppError::internal("password check", e))?;
        match user {
            Some(user) if verified => Ok(SignedIn {
                user_id: user.id,
                tokens: self.start_session(user.id).await?,
            }),
            _ => Err(AppError::Unauthorized(
                "the e-mail or the password is wrong".into(),
            )),
        }
    }

    /// A new session: an access token and the first refresh token of a new family.
    async fn start_session(&self, user_id: Uuid) -> Result<Tokens, AppError> {
        let refresh_token = identity::random_secret();
        let now = Utc::now();
        self.store
            .accounts()
            .insert_refresh_token(&RefreshToken {
                id: Uuid::now_v7(),
                family_id: Uuid::now_v7(),
                user_id,
                token_hash: identity::digest(&refresh_token),
                expires_at: now + self.auth.refresh_ttl,
                created_at: now,
            })
            .await?;
        Ok(self.tokens(user_id, refresh_token))
    }

    fn tokens(&self, user_id: Uuid, refresh_token: String) -> Tokens {
        Tokens {
            access_token: identity::issue_access_token(&self.auth, user_id),
            access_ttl: self.auth.access_ttl,
            refresh_token,
            refresh_ttl: self.auth.refresh_ttl,
        }
    }

    /// Swaps a refresh token for a new pair; the presented token is spent. Presenting a spent one
    /// revokes every token of its session.
    pub async fn refresh_session(&self, refresh_token: &str) -> Result<Tokens, AppError> {
        let next_token = identity::random_secret();
        let now = Utc::now();
        // The store fills in the family and the user of the presented token.
        let next = RefreshToken {
            id: Uuid::now_v7(),
            family_id: Uuid::nil(),
            user_id: Uuid::nil(),
            token_hash: identity::digest(&next_token),
            expires_at: now + self.auth.refresh_ttl,
            created_at: now,
        };
        let outcome = self
            .store
            .accounts()
            .rotate_refresh_token(&identity::digest(refresh_token), &next, now)
            .await?;
        match outcome {
            Rotation::Rotated { user_id } => Ok(self.tokens(user_id, next_token)),
            Rotation::Unknown => Err(AppError::Unauthorized(
                "the refresh token is unknown".into(),
            )),
            Rotation::Expired => Err(AppError::Unauthorized(
                "the refresh token has expired or its session was ended; sign in again".into(),
            )),
            Rotation::Reused => Err(AppError::Unauthorized(
                "the refresh token was already used; every token of this session is now revoked; sign in again".into(),
            )),
        }
    }

    /// Ends the session a refresh token belongs to; an unknown token is no error (the session is
    /// over either way).
    pub async fn logout(&self, refresh_token: &str) -> Result<(), AppError> {
        self.store
            .accounts()
            .revoke_refresh_family(&identity::digest(refresh_token))
            .await?;
        Ok(())
    }

    /// Who the caller is, how it authenticated, and the businesses it belongs to.
    pub async fn who_am_i(&self, caller: &Caller) -> Result<WhoAmI, AppError> {
        let account = signed_in(caller)?;
        let memberships = self
            .store
            .accounts()
            .memberships_of_user(account.user_id)
            .await?;
        Ok(WhoAmI {
            user_id: account.user_id,
            email: account.email.clone(),
            is_admin: account.is_admin,
            credential: account.credential,
            memberships,
        })
    }

    /// Creates an API key for the caller, who must have signed in with a password (a key cannot
    /// make keys). `name` is trimmed; 1 to 100 characters.
    pub async fn create_api_key(
        &self,
        caller: &Caller,
        name: &str,
        scope: KeyScope,
    ) -> Result<IssuedApiKey, AppError> {
        let account = caller.require_session()?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > API_KEY_NAME_MAX_CHARS {
            return Err(AppError::invalid("name", "must be 1 to 100 characters"));
        }
        let (key, hash) = identity::new_api_key();
        let record = ApiKey {
            id: Uuid::now_v7(),
            user_id: account.user_id,
            name: name.to_string(),
            prefix: key
                .chars()
                .take(identity::API_KEY_PREFIX.len() + 6)
                .collect(),
            scope,
            created_at: Utc::now(),
            last_used_at: None,
            revoked_at: None,
        };
        self.store.accounts().insert_api_key(&record, &hash).await?;
        Ok(IssuedApiKey { record, key })
    }

    /// The caller's API keys (records only; the keys themselves are not kept).
    pub async fn api_keys(&self, caller: &Caller) -> Result<Vec<ApiKey>, AppError> {
        let account = signed_in(caller)?;
        Ok(self
            .store
            .accounts()
            .api_keys_of_user(account.user_id)
            .await?)
    }

    /// Revokes one of the caller's active API keys; needs a password session.
    pub async fn revoke_api_key(&self, caller: &Caller, id: Uuid) -> Result<(), AppError> {
        let account = caller.require_session()?;
        let changed = self
            .store
            .accounts()
            .revoke_api_key(account.user_id, id, Utc::now())
            .await?;
        self.account_cache.clear();
        if changed {
            Ok(())
        } else {
            Err(AppError::NotFound(format!(
                "you have no active API key {id}"
            )))
        }
    }
}

/// The caller's account, with any credential.
fn signed_in(caller: &Caller) -> Result<&identity::Account, AppError> {
    caller
        .account()
        .ok_or_else(|| AppError::Unauthorized("sign in or send an API key".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_login_email_is_trimmed_and_lower_cased() {
        assert_eq!(login_email("  Ada@Example.ORG "), "ada@example.org");
    }
}
