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
        // argon2 takes tens of milliseconds of CPU and 19 MiB: off the async workers, bounded.
        let verified = self
            .password_hashing
            .run(move || identity::verify_password(&password, &hash))
            .await?;
        match user {
            // Said only to someone who knows the password.
            Some(user) if verified && user.disabled_at.is_some() => Err(AppError::Forbidden(
                "this account is disabled; ask a platform administrator".into(),
            )),
            Some(user) if verified => Ok(SignedIn {
                user_id: user.id,
                tokens: self.start_session(user.id, user.token_epoch).await?,
            }),
            _ => Err(AppError::Unauthorized(
                "the e-mail or the password is wrong".into(),
            )),
        }
    }

    /// A new session of the user's token `epoch`: an access token and the first refresh token
    /// of a new family, which ends `session_max_age` from now however often it is refreshed.
    async fn start_session(&self, user_id: Uuid, epoch: i64) -> Result<Tokens, AppError> {
        let refresh_token = identity::random_secret();
        let now = Utc::now();
        let session_expires_at = now + self.auth.session_max_age;
        let expires_at = (now + self.auth.refresh_ttl).min(session_expires_at);
        self.store
            .accounts()
            .insert_refresh_token(&RefreshToken {
                id: Uuid::now_v7(),
                family_id: Uuid::now_v7(),
                user_id,
                token_hash: identity::digest(&refresh_token),
                expires_at,
                created_at: now,
                epoch,
                session_expires_at,
            })
            .await?;
        Ok(self.tokens(user_id, epoch, refresh_token))
    }

    fn tokens(&self, user_id: Uuid, epoch: i64, refresh_token: String) -> Tokens {
        Tokens {
            access_token: identity::issue_access_token(&self.auth, user_id, epoch),
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
            // The store caps it at the family's absolute end and copies the family's epoch.
            expires_at: now + self.auth.refresh_ttl,
            created_at: now,
            epoch: 0,
            session_expires_at: now + self.auth.refresh_ttl,
        };
        let outcome = self
            .store
            .accounts()
            .rotate_refresh_token(&identity::digest(refresh_token), &next, now)
            .await?;
        match outcome {
            Rotation::Rotated { user_id, epoch } => Ok(self.tokens(user_id, epoch, next_token)),
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

    /// Changes the caller's password, given the current one, and ends every session of the user
    /// (every access and refresh token, on every device). The caller gets a fresh session back,
    /// so the device that made the change stays signed in. Needs a password session: an API key
    /// cannot change a password.
    pub async fn change_password(
        &self,
        caller: &Caller,
        current_password: String,
        new_password: String,
    ) -> Result<Tokens, AppError> {
        let account = caller.require_session()?;
        identity::check_password_rules("new_password", &new_password)?;
        let user_id = account.user_id;
        let user = self
            .store
            .accounts()
            .get_user(user_id)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the token's user no longer exists".into()))?;
        let hash = user.password_hash;
        let new_hash = self
            .password_hashing
            .run(move || {
                if identity::verify_password(&current_password, &hash) {
                    identity::hash_password(&new_password).map(Some)
                } else {
                    Ok(None)
                }
            })
            .await??
            .ok_or_else(|| AppError::invalid("current_password", "is not the current password"))?;
        let epoch = self
            .store
            .accounts()
            .set_password_hash(user_id, &new_hash)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the token's user no longer exists".into()))?;
        self.account_cache.clear();
        self.start_session(user_id, epoch).await
    }

    /// Ends every session of the caller, on every device, this one included ("sign out
    /// everywhere"). API keys are not sessions and stay valid.
    pub async fn end_all_sessions(&self, caller: &Caller) -> Result<(), AppError> {
        let account = caller.require_session()?;
        self.end_sessions_of(account.user_id).await
    }

    /// Bumps the user's token epoch: every access and refresh token issued before is refused.
    pub(crate) async fn end_sessions_of(&self, user_id: Uuid) -> Result<(), AppError> {
        self.store
            .accounts()
            .bump_token_epoch(user_id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no user {user_id}")))?;
        self.account_cache.clear();
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
