//! The `[auth]`, `[rate_limit]` and `[gateway]` sections of the configuration, their environment
//! variables, and their translation into the API's [`SecuritySettings`].

use std::time::Duration;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use symbiont_app::SecuritySettings;
use symbiont_app::rate_limit::{Quota, RateLimitSettings};
use symbiont_http::gateway::{Deprecation, GatewaySettings};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Lifetime of an access token (JWT).
    pub access_token_ttl_secs: u64,
    /// Lifetime of a refresh token (each refresh issues a new one).
    pub refresh_token_ttl_secs: u64,
    /// The absolute lifetime of a login, in days: however often it is refreshed, a session ends
    /// this long after the password was checked, and the user signs in again.
    pub session_max_age_days: u64,
    /// Secret that signs access tokens. Empty: one is generated once and kept in the database, so
    /// restarts and instances sharing the database accept each other's tokens.
    pub signing_secret: String,
    /// Anyone may create an account with `POST /api/v1/auth/register`.
    pub open_registration: bool,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            session_max_age_days: 90,
            signing_secret: String::new(),
            open_registration: true,
        }
    }
}

/// A rate such as `50/s`, `10/min` or `1000/h`, and the burst allowed on top.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaConfig {
    pub rate: String,
    pub burst: u32,
}

impl QuotaConfig {
    fn new(rate: &str, burst: u32) -> Self {
        Self {
            rate: rate.into(),
            burst,
        }
    }

    fn quota(&self, key: &str) -> anyhow::Result<Quota> {
        let (count, per) = self
            .rate
            .split_once('/')
            .ok_or_else(|| anyhow::anyhow!("{key}.rate '{}' must look like 50/s", self.rate))?;
        let count: f64 = count
            .trim()
            .parse()
            .ok()
            .filter(|c: &f64| c.is_finite() && *c > 0.0)
            .ok_or_else(|| anyhow::anyhow!("{key}.rate '{}' needs a positive count", self.rate))?;
        let seconds = match per.trim() {
            "s" | "sec" | "second" => 1.0,
            "min" | "minute" => 60.0,
            "h" | "hour" => 3600.0,
            other => bail!("{key}.rate: unit '{other}' must be s, min or h"),
        };
        if self.burst == 0 {
            bail!("{key}.burst must be at least 1");
        }
        Ok(Quota {
            per_second: count / seconds,
            burst: self.burst,
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub enabled: bool,
    /// Requests without credentials, per client IP.
    pub anonymous: QuotaConfig,
    /// Per signed-in user.
    pub user: QuotaConfig,
    /// Per API key.
    pub api_key: QuotaConfig,
    /// Login attempts, per client IP and per e-mail.
    pub login: QuotaConfig,
    /// Take the client IP from the last `X-Forwarded-For` entry (only behind one trusted proxy).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            anonymous: QuotaConfig::new("50/s", 100),
            user: QuotaConfig::new("100/s", 200),
            api_key: QuotaConfig::new("200/s", 400),
            login: QuotaConfig::new("10/min", 10),
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeprecationConfig {
    pub path_prefix: String,
    pub deprecated_at: DateTime<Utc>,
    #[serde(default)]
    pub sunset: Option<DateTime<Utc>>,
    #[serde(default)]
    pub successor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Requests handled at once; more are refused with 503 and Retry-After. 0 = no limit.
    pub max_concurrent_requests: usize,
    /// Origins allowed to call the API from a browser (`*` for any); empty: no CORS.
    pub cors_allowed_origins: Vec<String>,
    /// Routes being retired: they answer with `Deprecation`, `Sunset` and `Link` headers.
    pub deprecations: Vec<DeprecationConfig>,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            max_concurrent_requests: 1024,
            cors_allowed_origins: Vec::new(),
            deprecations: Vec::new(),
        }
    }
}

/// Applies the `SYMBIONT_*` variables of these sections.
pub fn apply_env(
    auth: &mut AuthConfig,
    rate_limit: &mut RateLimitConfig,
    gateway: &mut GatewayConfig,
    var: &impl Fn(&str) -> Option<String>,
) -> anyhow::Result<()> {
    fn parse<T: std::str::FromStr>(name: &str, value: &str) -> anyhow::Result<T> {
        value
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("environment variable {name}='{value}' is invalid"))
    }
    if let Some(v) = var("SYMBIONT_SIGNING_SECRET") {
        auth.signing_secret = v;
    }
    if let Some(v) = var("SYMBIONT_ACCESS_TOKEN_TTL_SECS") {
        auth.access_token_ttl_secs = parse("SYMBIONT_ACCESS_TOKEN_TTL_SECS", &v)?;
    }
    if let Some(v) = var("SYMBIONT_SESSION_MAX_AGE_DAYS") {
        auth.session_max_age_days = parse("SYMBIONT_SESSION_MAX_AGE_DAYS", &v)?;
    }
    if let Some(v) = var("SYMBIONT_OPEN_REGISTRATION") {
        auth.open_registration = parse("SYMBIONT_OPEN_REGISTRATION", &v)?;
    }
    if let Some(v) = var("SYMBIONT_RATE_LIMIT_ENABLED") {
        rate_limit.enabled = parse("SYMBIONT_RATE_LIMIT_ENABLED", &v)?;
    }
    if let Some(v) = var("SYMBIONT_LOGIN_RATE") {
        rate_limit.login.rate = v;
    }
    if let Some(v) = var("SYMBIONT_TRUST_FORWARDED_FOR") {
        rate_limit.trust_forwarded_for = parse("SYMBIONT_TRUST_FORWARDED_FOR", &v)?;
    }
    if let Some(v) = var("SYMBIONT_MAX_CONCURRENT_REQUESTS") {
        gateway.max_concurrent_requests = parse("SYMBIONT_MAX_CONCURRENT_REQUESTS", &v)?;
    }
    if let Some(v) = var("SYMBIONT_CORS_ALLOWED_ORIGINS") {
        gateway.cors_allowed_origins = v
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
    }
    Ok(())
}

/// The settings the three sections make: the use cases' (tokens, rate limits) and the HTTP
/// gateway's.
#[derive(Debug, Clone)]
pub struct Security {
    pub app: SecuritySettings,
    pub gateway: GatewaySettings,
}

/// Checks the sections and builds the settings.
pub fn settings(
    auth: &AuthConfig,
    rate_limit: &RateLimitConfig,
    gateway: &GatewayConfig,
) -> anyhow::Result<Security> {
    if auth.access_token_ttl_secs == 0 || auth.refresh_token_ttl_secs == 0 {
        bail!("auth.access_token_ttl_secs and auth.refresh_token_ttl_secs must be at least 1");
    }
    if auth.session_max_age_days == 0 || auth.session_max_age_days > 3650 {
        bail!("auth.session_max_age_days must be between 1 and 3650");
    }
    if !auth.signing_secret.is_empty() && auth.signing_secret.len() < 32 {
        bail!("auth.signing_secret must be at least 32 characters (or empty to generate one)");
    }
    for origin in &gateway.cors_allowed_origins {
        if origin != "*" && !(origin.starts_with("http://") || origin.starts_with("https://")) {
            bail!("gateway.cors_allowed_origins: '{origin}' must be * or an http(s):// origin");
        }
    }
    for d in &gateway.deprecations {
        if !d.path_prefix.starts_with('/') {
            bail!(
                "gateway.deprecations: path_prefix '{}' must start with /",
                d.path_prefix
            );
        }
    }
    let app = SecuritySettings {
        access_ttl: Duration::from_secs(auth.access_token_ttl_secs),
        refresh_ttl: Duration::from_secs(auth.refresh_token_ttl_secs),
        session_max_age: Duration::from_secs(auth.session_max_age_days * 24 * 3600),
        signing_secret: (!auth.signing_secret.is_empty()).then(|| auth.signing_secret.clone()),
        open_registration: auth.open_registration,
        rate_limit: RateLimitSettings {
            enabled: rate_limit.enabled,
            anonymous: rate_limit.anonymous.quota("rate_limit.anonymous")?,
            user: rate_limit.user.quota("rate_limit.user")?,
            api_key: rate_limit.api_key.quota("rate_limit.api_key")?,
            login: rate_limit.login.quota("rate_limit.login")?,
            trust_forwarded_for: rate_limit.trust_forwarded_for,
        },
    };
    let gateway = GatewaySettings {
        max_concurrent_requests: gateway.max_concurrent_requests,
        cors_allowed_origins: gateway.cors_allowed_origins.clone(),
        deprecations: gateway
            .deprecations
            .iter()
            .map(|d| Deprecation {
                path_prefix: d.path_prefix.clone(),
                deprecated_at: d.deprecated_at,
                sunset: d.sunset,
                successor: d.successor.clone(),
            })
            .collect(),
    };
    Ok(Security { app, gateway })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_in_any_unit() {
        let quota = QuotaConfig::new("10/min", 5).quota("q").expect("valid");
        assert!((quota.per_second - 10.0 / 60.0).abs() < 1e-9);
        assert!(QuotaConfig::new("10/day", 5).quota("q").is_err());
        assert!(QuotaConfig::new("-1/s", 5).quota("q").is_err());
        assert!(QuotaConfig::new("5/s", 0).quota("q").is_err());
    }

    #[test]
    fn defaults_make_valid_settings() {
        let settings = settings(
            &AuthConfig::default(),
            &RateLimitConfig::default(),
            &GatewayConfig::default(),
        )
        .expect("valid");
        assert!(settings.app.rate_limit.enabled);
        assert_eq!(settings.app.rate_limit.login.burst, 10);
    }

    #[test]
    fn a_short_signing_secret_is_refused() {
        let auth = AuthConfig {
            signing_secret: "short".into(),
            ..AuthConfig::default()
        };
        assert!(
            settings(
                &auth,
                &RateLimitConfig::default(),
                &GatewayConfig::default(),
            )
            .is_err()
        );
    }
}
