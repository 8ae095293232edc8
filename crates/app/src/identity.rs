//! Who is calling: password hashing (argon2id), access tokens (JWT, HS256), refresh tokens and API
//! keys, and turning a presented credential (a transport reads it from its headers or first
//! message) into a [`Caller`] with the permission checks every use case asks of it.
//!
//! Access tokens are short-lived and self-contained; the caller's memberships are read from the
//! store on every request, so a removed member loses access at once. Refresh tokens and API keys
//! are random 256-bit values stored as SHA-256 digests; a key is shown once, at creation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, Params};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use symbiont_store::accounts::{KeyScope, Role, User};
use uuid::Uuid;

use crate::App;
use crate::error::AppError;

/// Every API key starts with this, so a key is recognisable (and scannable in leaked text).
pub const API_KEY_PREFIX: &str = "sym_";

/// Token lifetimes and the signing secret.
#[derive(Clone)]
pub struct AuthSettings {
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// The absolute lifetime of a login: no refresh carries a session past this much time after
    /// the password was checked.
    pub session_max_age: Duration,
    /// HMAC-SHA256 key of access tokens.
    pub signing_key: Vec<u8>,
    /// Anyone may create an account (`POST /api/v1/auth/register`).
    pub open_registration: bool,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field("access_ttl", &self.access_ttl)
            .field("refresh_ttl", &self.refresh_ttl)
            .field("session_max_age", &self.session_max_age)
            .field("open_registration", &self.open_registration)
            .field("signing_key", &"<secret>")
            .finish()
    }
}

/// A random secret as URL-safe base64 (256 bits).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token or key, hex: what the store keeps.
pub fn digest(secret: &str) -> String {
    let hash = Sha256::digest(secret.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

fn argon2() -> Argon2<'static> {
    // OWASP's argon2id minimum: 19 MiB, 2 passes, 1 lane.
    let params = Params::new(19 * 1024, 2, 1, None).unwrap_or_default();
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

/// An argon2id PHC string of `password`.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal_message(format!("password hashing: {e}")))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .is_ok_and(|hash| argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A hash to verify against when the e-mail is unknown, so a login takes as long either way.
pub fn dummy_password_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password").unwrap_or_default())
}

/// Bounds the argon2 work running at once. Each hash or check holds 19 MiB and a core for tens of
/// milliseconds, so a burst of registrations or logins could otherwise exhaust memory and starve
/// every other request. Excess callers wait up to [`PasswordHashing::MAX_WAIT`] for a slot, then
/// are refused as unavailable (503) rather than queueing without end.
pub struct PasswordHashing {
    slots: tokio::sync::Semaphore,
    /// How long the last hash took, in microseconds: what an answer that skipped hashing waits
    /// so its timing matches one that did.
    last_micros: std::sync::atomic::AtomicU64,
}

impl PasswordHashing {
    /// How long a caller waits for a slot before it is refused.
    pub const MAX_WAIT: Duration = Duration::from_secs(2);

    /// `slots` hashes at once; at least one.
    pub fn new(slots: usize) -> Self {
        Self {
            slots: tokio::sync::Semaphore::new(slots.max(1)),
            // About one argon2id hash at these parameters on a 2-core machine, until measured.
            last_micros: std::sync::atomic::AtomicU64::new(50_000),
        }
    }

    /// One slot per core: more would only make each hash slower.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
    }

    /// Runs `work` (argon2) on the blocking pool once a slot is free.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let _slot = tokio::time::timeout(Self::MAX_WAIT, self.slots.acquire())
            .await
            .map_err(|elapsed| {
                AppError::unavailable(
                    "too many password checks at once; try again shortly",
                    elapsed,
                )
            })?
            .map_err(|closed| AppError::internal("password hashing slots", closed))?;
        let started = Instant::now();
        let result = tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::internal("password hashing", e))?;
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        self.last_micros
            .store(micros, std::sync::atomic::Ordering::Relaxed);
        Ok(result)
    }

    /// How long a password hash takes here, as last measured.
    pub fn typical_duration(&self) -> Duration {
        Duration::from_micros(self.last_micros.load(std::sync::atomic::Ordering::Relaxed))
    }
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self::per_core()
    }
}

/// Checks a new password; the field is named in the error.
pub fn check_password_rules(field: &str, password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < 10 {
        return Err(AppError::invalid(field, "must be at least 10 characters"));
    }
    if length > 256 {
        return Err(AppError::invalid(field, "must be at most 256 characters"));
    }
    Ok(())
}

/// Lower-cased and trimmed; must look like an address.
pub fn normalize_email(field: &str, email: &str) -> Result<String, AppError> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.')
        })
        && !email.chars().any(char::is_whitespace);
    if valid {
        Ok(email)
    } else {
        Err(AppError::invalid(field, "is not an e-mail address"))
    }
}

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id.
    pub sub: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub jti: Uuid,
    /// The user's token epoch when the token was signed; tokens of an older epoch are refused.
    /// Absent in tokens signed before epochs existed, which count as epoch 0.
    #[serde(default)]
    pub epoch: i64,
}

/// The clock skew an access token's expiry tolerates between instances, in seconds. Instances
/// sharing a secret are expected to run NTP; a few seconds keep a token valid on one instance
/// from being refused on the next for a clock a second behind, while never stretching the
/// lifetime by more than this.
pub const EXPIRY_LEEWAY_SECS: u64 = 5;

/// Signs an access token for `user` valid for the configured lifetime. `epoch` is the user's
/// token epoch at signing: bumping the stored one invalidates the token ([`caller_of`]).
pub fn issue_access_token(settings: &AuthSettings, user: Uuid, epoch: i64) -> String {
    issue_access_token_at(settings, user, epoch, Utc::now())
}

/// [`issue_access_token`] as if signed at `issued_at` (tests make expired tokens with it).
pub fn issue_access_token_at(
    settings: &AuthSettings,
    user: Uuid,
    epoch: i64,
    issued_at: chrono::DateTime<Utc>,
) -> String {
    let now = issued_at.timestamp();
    let claims = Claims {
        sub: user,
        iat: now,
        exp: now + i64::try_from(settings.access_ttl.as_secs()).unwrap_or(900),
        jti: Uuid::now_v7(),
        epoch,
    };
    // Encoding plain serde fields with an HMAC key cannot fail; an empty token would be refused.
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&settings.signing_key),
    )
    .unwrap_or_default()
}

/// Verifies signature (constant time), algorithm and expiry of an access token. Only HS256 is
/// accepted whatever the header says (so `none` and every public-key algorithm are refused), and
/// `exp` is required.
pub fn verify_access_token(settings: &AuthSettings, token: &str) -> Result<Claims, AppError> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = EXPIRY_LEEWAY_SECS;
    validation.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&settings.signing_key),
        &validation,
    )
    .map(|data| data.claims)
    .map_err(|e| match e.kind() {
        jsonwebtoken::errors::ErrorKind::ExpiredSignature => {
            AppError::Unauthorized("the access token has expired; refresh it".into())
        }
        _ => AppError::Unauthorized("the access token is invalid".into()),
    })
}

/// A new API key (`sym_` + 43 characters) and its digest.
pub fn new_api_key() -> (String, String) {
    let key = format!("{API_KEY_PREFIX}{}", random_secret());
    let hash = digest(&key);
    (key, hash)
}

/// How the caller proved who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    AccessToken,
    ApiKey { id: Uuid, scope: KeyScope },
}

/// An authenticated user with their memberships.
#[derive(Debug, Clone)]
pub struct Account {
    pub user_id: Uuid,
    pub email: String,
    pub is_admin: bool,
    pub businesses: HashMap<Uuid, Role>,
    pub credential: Credential,
}

/// Who is calling, resolved by [`caller_of`] from the credential a request presented.
#[derive(Debug, Clone, Default)]
pub enum Caller {
    #[default]
    Anonymous,
    Account(Box<Account>),
}

impl Caller {
    pub fn account(&self) -> Option<&Account> {
        match self {
            Caller::Anonymous => None,
            Caller::Account(account) => Some(account),
        }
    }

    pub fn user_id(&self) -> Option<Uuid> {
        self.account().map(|a| a.user_id)
    }

    pub fn is_admin(&self) -> bool {
        self.account().is_some_and(|a| a.is_admin)
    }

    pub fn is_member_of(&self, business: Uuid) -> bool {
        self.account()
            .is_some_and(|a| a.businesses.contains_key(&business))
    }

    pub fn is_owner_of(&self, business: Uuid) -> bool {
        self.account()
            .is_some_and(|a| a.businesses.get(&business) == Some(&Role::Owner))
    }

    /// Whether the caller sees everything (admins) or `Some(own businesses)` otherwise.
    pub fn visible_businesses(&self) -> Option<Vec<Uuid>> {
        match self.account() {
            Some(a) if a.is_admin => None,
            Some(a) => Some(a.businesses.keys().copied().collect()),
            None => Some(Vec::new()),
        }
    }

    /// A signed-in caller whose credential allows writes.
    pub fn writer(&self) -> Result<&Account, AppError> {
        let account = self.account().ok_or_else(|| {
            AppError::Unauthorized("sign in (POST /api/v1/auth/login) or send an API key".into())
        })?;
        if let Credential::ApiKey {
            scope: KeyScope::Read,
            ..
        } = account.credential
        {
            return Err(AppError::Forbidden(
                "this API key is read-only; writes need a read_write key".into(),
            ));
        }
        Ok(account)
    }

    /// May write the data of `business`: a member, or a platform admin.
    pub fn require_member(&self, business: Uuid) -> Result<&Account, AppError> {
        let account = self.writer()?;
        if account.is_admin || account.businesses.contains_key(&business) {
            Ok(account)
        } else {
            Err(AppError::Forbidden(format!(
                "only members of business {business} may change its data"
            )))
        }
    }

    /// May manage `business` itself (its members, deleting it): an owner, or a platform admin.
    pub fn require_owner(&self, business: Uuid) -> Result<&Account, AppError> {
        let account = self.writer()?;
        if account.is_admin || account.businesses.get(&business) == Some(&Role::Owner) {
            Ok(account)
        } else {
            Err(AppError::Forbidden(format!(
                "only owners of business {business} may do this"
            )))
        }
    }

    /// A platform administrator signed in with a password. API keys never carry admin powers: a
    /// key is long-lived and sits in scripts and CI settings, so a leaked admin key would be a
    /// standing takeover of the platform.
    pub fn require_admin(&self) -> Result<&Account, AppError> {
        let account = self
            .account()
            .ok_or_else(|| AppError::Unauthorized("sign in as a platform administrator".into()))?;
        if account.credential != Credential::AccessToken {
            return Err(AppError::Forbidden(
                "administration needs a signed-in session (POST /api/v1/auth/login), not an API key"
                    .into(),
            ));
        }
        if !account.is_admin {
            return Err(AppError::Forbidden(
                "only platform administrators may do this".into(),
            ));
        }
        Ok(account)
    }

    /// A signed-in user with an access token (not an API key): managing keys and sessions.
    pub fn require_session(&self) -> Result<&Account, AppError> {
        let account = self
            .account()
            .ok_or_else(|| AppError::Unauthorized("sign in (POST /api/v1/auth/login)".into()))?;
        if account.credential != Credential::AccessToken {
            return Err(AppError::Forbidden(
                "API keys cannot manage API keys; sign in with a password".into(),
            ));
        }
        Ok(account)
    }
}

/// Remembers when each API key was last written as used, so a busy key costs one store write a
/// minute rather than one per request.
#[derive(Default)]
pub struct KeyUsage {
    last_written: Mutex<HashMap<Uuid, Instant>>,
}

impl KeyUsage {
    const EVERY: Duration = Duration::from_secs(60);

    fn due(&self, key: Uuid) -> bool {
        let mut map = self
            .last_written
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let now = Instant::now();
        match map.get(&key) {
            Some(at) if now.duration_since(*at) < Self::EVERY => false,
            _ => {
                if map.len() > 100_000 {
                    map.retain(|_, at| now.duration_since(*at) < Self::EVERY);
                }
                map.insert(key, now);
                true
            }
        }
    }
}

async fn account_of(state: &App, user: &User, credential: Credential) -> Result<Account, AppError> {
    let memberships = state.store.accounts().memberships_of_user(user.id).await?;
    Ok(Account {
        user_id: user.id,
        email: user.email.clone(),
        // Admin powers (seeing and writing every business, administration) come only with a
        // signed-in session: an administrator's API key acts as an ordinary user's.
        is_admin: user.is_admin && credential == Credential::AccessToken,
        businesses: memberships
            .into_iter()
            .map(|m| (m.business_id, m.role))
            .collect(),
        credential,
    })
}

/// Accounts resolved for reads in the last two seconds, so a busy reader costs no store reads per
/// request. Writes always resolve afresh; any change to memberships or keys on this instance clears
/// the cache, and other instances follow within the TTL.
#[derive(Default)]
pub struct AccountCache {
    entries: Mutex<HashMap<String, (Instant, Account)>>,
}

impl AccountCache {
    const TTL: Duration = Duration::from_secs(2);
    const MAX_ENTRIES: usize = 50_000;

    fn get(&self, key: &str) -> Option<Account> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < Self::TTL)
            .map(|(_, account)| account.clone())
    }

    fn put(&self, key: String, account: &Account) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if entries.len() >= Self::MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < Self::TTL);
            if entries.len() >= Self::MAX_ENTRIES {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), account.clone()));
    }

    /// Forgets every cached account (memberships or keys changed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clear();
    }
}

/// Resolves the credential of a request, if it carries one. Invalid credentials are a 401 even on
/// public endpoints: a client that sends a token expects it to count. `cached`: a read may use an
/// account resolved in the last seconds ([`AccountCache`]).
pub async fn caller_of(
    state: &App,
    presented: Option<&str>,
    cached: bool,
) -> Result<Caller, AppError> {
    let Some(secret) = presented else {
        return Ok(Caller::Anonymous);
    };
    let accounts = state.store.accounts();
    if secret.starts_with(API_KEY_PREFIX) {
        let hash = digest(secret);
        let cache_key = format!("key:{hash}");
        if cached && let Some(account) = state.account_cache.get(&cache_key) {
            if let Credential::ApiKey { id, .. } = account.credential {
                note_key_use(state, id);
            }
            return Ok(Caller::Account(Box::new(account)));
        }
        let key = accounts
            .api_key_by_hash(&hash)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(|| AppError::Unauthorized("the API key is unknown or revoked".into()))?;
        let user = accounts
            .get_user(key.user_id)
            .await?
            .ok_or_else(|| AppError::Unauthorized("the API key's user no longer exists".into()))?;
        if user.disabled_at.is_some() {
            return Err(AppError::Unauthorized(
                "the API key's user is disabled".into(),
            ));
        }
        note_key_use(state, key.id);
        let credential = Credential::ApiKey {
            id: key.id,
            scope: key.scope,
        };
        let account = account_of(state, &user, credential).await?;
        state.account_cache.put(cache_key, &account);
        return Ok(Caller::Account(Box::new(account)));
    }
    let claims = verify_access_token(&state.auth, secret)?;
    // The epoch is part of the key: an entry only ever vouches for tokens of the epoch it was
    // checked against.
    let cache_key = format!("user:{}:{}", claims.sub, claims.epoch);
    if cached && let Some(account) = state.account_cache.get(&cache_key) {
        return Ok(Caller::Account(Box::new(account)));
    }
    let user = accounts
        .get_user(claims.sub)
        .await?
        .ok_or_else(|| AppError::Unauthorized("the token's user no longer exists".into()))?;
    if user.disabled_at.is_some() {
        return Err(AppError::Unauthorized("this account is disabled".into()));
    }
    if user.token_epoch != claims.epoch {
        return Err(AppError::Unauthorized(
            "this session was ended (password change or sign-out everywhere); sign in again".into(),
        ));
    }
    let account = account_of(state, &user, Credential::AccessToken).await?;
    state.account_cache.put(cache_key, &account);
    Ok(Caller::Account(Box::new(account)))
}

/// Records (at most once a minute per key, in the background) that an API key was used.
fn note_key_use(state: &App, id: Uuid) {
    if state.key_usage.due(id) {
        let store = state.store.clone();
        tokio::spawn(async move {
            if let Err(error) = store.accounts().touch_api_key(id, Utc::now()).await {
                tracing::warn!(%error, "cannot record API key use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> AuthSettings {
        AuthSettings {
            access_ttl: Duration::from_secs(60),
            refresh_ttl: Duration::from_secs(3600),
            session_max_age: Duration::from_secs(86_400),
            signing_key: b"test key".to_vec(),
            open_registration: true,
        }
    }

    /// A token with the given header and claims, signed (HMAC-SHA256 over the usual signing
    /// input) with `key`; what an attacker who knows the format can build.
    fn forge(
        header: &str,
        claims: &serde_json::Value,
        key: &[u8],
        alg: jsonwebtoken::Algorithm,
    ) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(key),
            alg,
        )
        .expect("sign");
        format!("{input}.{signature}")
    }

    fn claims_for(user: Uuid, exp_in_secs: i64) -> serde_json::Value {
        let now = Utc::now().timestamp();
        serde_json::json!({"sub": user, "iat": now, "exp": now + exp_in_secs, "jti": Uuid::now_v7(), "epoch": 0})
    }

    #[test]
    fn a_signed_token_verifies_and_carries_its_epoch() {
        let settings = settings();
        let user = Uuid::now_v7();
        let claims =
            verify_access_token(&settings, &issue_access_token(&settings, user, 7)).expect("valid");
        assert_eq!((claims.sub, claims.epoch), (user, 7));
    }

    #[test]
    fn a_tampered_payload_is_refused() {
        let settings = settings();
        let token = issue_access_token(&settings, Uuid::now_v7(), 0);
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("b64")).expect("json");
        claims["sub"] = serde_json::json!(Uuid::now_v7());
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(verify_access_token(&settings, &parts.join(".")).is_err());
        // Raising the expiry or the epoch is a tampering too.
        let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
        claims["exp"] = serde_json::json!(Utc::now().timestamp() + 86_400);
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        assert!(verify_access_token(&settings, &parts.join(".")).is_err());
        let other = AuthSettings {
            signing_key: b"other key".to_vec(),
            ..settings.clone()
        };
        assert!(verify_access_token(&other, &token).is_err());
    }

    #[test]
    fn the_none_algorithm_is_refused() {
        let settings = settings();
        let claims = claims_for(Uuid::now_v7(), 60);
        for header in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"none","typ":"JWT"}"#,
            r#"{"alg":"None"}"#,
        ] {
            let forged = format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            assert!(verify_access_token(&settings, &forged).is_err(), "{header}");
        }
    }

    #[test]
    fn a_token_of_another_algorithm_is_refused_even_with_the_right_key() {
        let settings = settings();
        let claims = claims_for(Uuid::now_v7(), 60);
        // Correctly signed with the real secret, but HS512/HS384: only HS256 is pinned.
        for alg in [
            jsonwebtoken::Algorithm::HS512,
            jsonwebtoken::Algorithm::HS384,
        ] {
            let header = format!(r#"{{"alg":"{alg:?}","typ":"JWT"}}"#);
            let forged = forge(&header, &claims, &settings.signing_key, alg);
            assert!(verify_access_token(&settings, &forged).is_err(), "{alg:?}");
        }
        // The key-confusion attack: a public-key algorithm named in the header, HMAC-signed with
        // the secret used as if it were a public key.
        let forged = forge(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            &claims,
            &settings.signing_key,
            jsonwebtoken::Algorithm::HS256,
        );
        assert!(verify_access_token(&settings, &forged).is_err());
        // The control: the same claims under the pinned header verify.
        let genuine = forge(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &claims,
            &settings.signing_key,
            jsonwebtoken::Algorithm::HS256,
        );
        assert!(verify_access_token(&settings, &genuine).is_ok());
    }

    #[test]
    fn expiry_tolerates_a_few_seconds_of_clock_skew_and_no_more() {
        let settings = settings();
        let sign = |exp_in_secs: i64| {
            forge(
                r#"{"alg":"HS256","typ":"JWT"}"#,
                &claims_for(Uuid::now_v7(), exp_in_secs),
                &settings.signing_key,
                jsonwebtoken::Algorithm::HS256,
            )
        };
        // Expired two seconds ago on this clock: another instance's clock may be behind.
        assert!(verify_access_token(&settings, &sign(-2)).is_ok());
        let leeway = i64::try_from(EXPIRY_LEEWAY_SECS).expect("small");
        let error = verify_access_token(&settings, &sign(-(leeway + 5))).expect_err("expired");
        assert!(error.to_string().contains("expired"), "{error}");
        // A token without an expiry never verifies.
        let mut no_exp = claims_for(Uuid::now_v7(), 60);
        no_exp.as_object_mut().expect("object").remove("exp");
        let forged = forge(
            r#"{"alg":"HS256","typ":"JWT"}"#,
            &no_exp,
            &settings.signing_key,
            jsonwebtoken::Algorithm::HS256,
        );
        assert!(verify_access_token(&settings, &forged).is_err());
    }

    #[tokio::test]
    async fn password_hashing_beyond_its_slots_is_refused_after_a_short_wait() {
        let gate = std::sync::Arc::new(PasswordHashing::new(1));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let holder = {
            let gate = gate.clone();
            tokio::spawn(async move {
                gate.run(move || {
                    let _ = started.send(());
                    let _ = released.recv();
                })
                .await
            })
        };
        has_started.await.expect("the first hash runs");
        let refused = gate.run(|| ()).await;
        assert!(
            matches!(refused, Err(AppError::Unavailable { .. })),
            "{refused:?}"
        );
        release.send(()).expect("the first hash is waiting");
        holder
            .await
            .expect("joined")
            .expect("the first hash finished");
        assert_eq!(gate.run(|| 7).await.expect("a free slot"), 7);
    }

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            normalize_email("email", " Ada@Example.ORG ").expect("valid"),
            "ada@example.org"
        );
        assert!(normalize_email("email", "no-at-sign").is_err());
        assert!(normalize_email("email", "a@b").is_err());
    }
}
