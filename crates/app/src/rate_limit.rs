//! Rate limiting by GCRA (the generic cell rate algorithm): each key has a theoretical arrival time
//! (TAT); a request is allowed while the TAT is less than `burst` emission intervals ahead of now.
//! One number per key, no background refill.
//!
//! Keys: the API key, else the user, else the client IP; logins have their own, stricter quota per
//! IP and per e-mail. In-process by default; shared in Redis (one Lua script, Redis's clock) when
//! Redis is configured, so several instances enforce one limit. A Redis failure falls back to the
//! in-process limiter for a few seconds rather than refusing or waving through everything.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

/// A sustained rate and how many requests may come at once.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quota {
    pub per_second: f64,
    pub burst: u32,
}

impl Quota {
    fn interval(self) -> f64 {
        1.0 / self.per_second.max(1e-9)
    }
}

#[derive(Debug, Clone)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Requests without credentials, per client IP.
    pub anonymous: Quota,
    /// Per signed-in user.
    pub user: Quota,
    /// Per API key.
    pub api_key: Quota,
    /// Login attempts, per client IP and per e-mail.
    pub login: Quota,
    /// Take the client IP from the last `X-Forwarded-For` entry (behind one trusted proxy).
    pub trust_forwarded_for: bool,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            anonymous: Quota {
                per_second: 50.0,
                burst: 100,
            },
            user: Quota {
                per_second: 100.0,
                burst: 200,
            },
            api_key: Quota {
                per_second: 200.0,
                burst: 400,
            },
            login: Quota {
                per_second: 10.0 / 60.0,
                burst: 10,
            },
            trust_forwarded_for: false,
        }
    }
}

/// What the limiter decided, with the figures for the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the key is back to its full burst.
    pub reset_secs: f64,
    /// When refused: seconds until one request is allowed again.
    pub retry_after_secs: f64,
}

impl Verdict {
    fn unlimited() -> Self {
        Verdict {
            allowed: true,
            limit: 0,
            remaining: 0,
            reset_secs: 0.0,
            retry_after_secs: 0.0,
        }
    }

    /// From the TAT (relative to now) before this request.
    fn from_tat(tat_ahead: f64, quota: Quota) -> (Self, Option<f64>) {
        let interval = quota.interval();
        let tolerance = interval * f64::from(quota.burst);
        let new_tat_ahead = tat_ahead.max(0.0) + interval;
        if new_tat_ahead > tolerance + 1e-9 {
            let verdict = Verdict {
                allowed: false,
                limit: quota.burst,
                remaining: 0,
                reset_secs: tat_ahead.max(0.0),
                retry_after_secs: new_tat_ahead - tolerance,
            };
            (verdict, None)
        } else {
            let remaining = ((tolerance - new_tat_ahead) / interval + 1e-9).floor();
            let verdict = Verdict {
                allowed: true,
                limit: quota.burst,
                remaining: remaining.max(0.0) as u32,
                reset_secs: new_tat_ahead,
                retry_after_secs: 0.0,
            };
            (verdict, Some(new_tat_ahead))
        }
    }
}

/// GCRA in Redis: the TAT in milliseconds of Redis's own clock, expiring when it is in the past.
const SCRIPT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > interval * burst then
  return {0, tat - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + 1)
return {1, tat - now}
";

const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
const REDIS_BACKOFF: Duration = Duration::from_secs(5);
const LOCAL_KEYS_BEFORE_SWEEP: usize = 100_000;

/// Why the rate-limit state could not answer.
#[derive(Debug, thiserror::Error)]
pub enum RateLimitError {
    #[error(transparent)]
    Connect(#[from] crate::redis_connection::RedisConnectError),
    #[error("rate-limit state: timed out after {0:?}")]
    Timeout(Duration),
    #[error("rate-limit state: command failed")]
    Command(#[source] redis::RedisError),
}

/// The port: where the GCRA state of every key lives. Counting one request is one atomic step
/// (check and, if allowed, advance the key's TAT), so instances sharing the state share one budget.
#[async_trait::async_trait]
pub trait RateLimitState: Send + Sync {
    /// Counts one request against `key` under `quota`.
    async fn check(&self, key: &str, quota: Quota) -> Result<Verdict, RateLimitError>;
}

/// The state in this process: key → TAT in seconds since `epoch`, behind one short-held lock.
pub struct InProcessRateLimits {
    epoch: Instant,
    tats: Mutex<HashMap<String, f64>>,
}

impl Default for InProcessRateLimits {
    fn default() -> Self {
        Self {
            epoch: Instant::now(),
            tats: Mutex::new(HashMap::new()),
        }
    }
}

impl InProcessRateLimits {
    fn count(&self, key: &str, quota: Quota) -> Verdict {
        let now = self.epoch.elapsed().as_secs_f64();
        let mut map = self
            .tats
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if map.len() >= LOCAL_KEYS_BEFORE_SWEEP && !map.contains_key(key) {
            // Keys whose TAT has passed are back at full burst: forgetting them changes nothing.
            map.retain(|_, tat| *tat > now);
        }
        let tat = map.get(key).copied().unwrap_or(now);
        let (verdict, new_tat_ahead) = Verdict::from_tat(tat - now, quota);
        if let Some(ahead) = new_tat_ahead {
            map.insert(key.to_string(), now + ahead);
        }
        verdict
    }
}

#[async_trait::async_trait]
impl RateLimitState for InProcessRateLimits {
    async fn check(&self, key: &str, quota: Quota) -> Result<Verdict, RateLimitError> {
        Ok(self.count(key, quota))
    }
}

/// The state in Redis, shared by every instance: one Lua script per request, on Redis's clock.
pub struct RedisRateLimits {
    manager: ConnectionManager,
    script: redis::Script,
    prefix: String,
}

impl RedisRateLimits {
    /// Connects to Redis at `url`; `prefix` keeps deployments (and tests) apart.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, RateLimitError> {
        let manager = crate::redis_connection::connect(url, REDIS_TIMEOUT).await?;
        Ok(Self {
            manager,
            script: redis::Script::new(SCRIPT),
            prefix: format!("{prefix}:ratelimit:"),
        })
    }
}

#[async_trait::async_trait]
impl RateLimitState for RedisRateLimits {
    async fn check(&self, key: &str, quota: Quota) -> Result<Verdict, RateLimitError> {
        let interval_ms = (quota.interval() * 1000.0).max(1.0).round() as i64;
        let mut connection = self.manager.clone();
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!("{}{key}", self.prefix))
            .arg(interval_ms)
            .arg(quota.burst);
        let call = invocation.invoke_async::<(i64, i64)>(&mut connection);
        let (_, tat_ahead_ms) = tokio::time::timeout(REDIS_TIMEOUT, call)
            .await
            .map_err(|_| RateLimitError::Timeout(REDIS_TIMEOUT))?
            .map_err(RateLimitError::Command)?;
        // The script applied the same rule; recompute the figures from the TAT it saw.
        let quota_ms = Quota {
            per_second: 1.0 / (interval_ms as f64 / 1000.0),
            burst: quota.burst,
        };
        Ok(Verdict::from_tat(tat_ahead_ms as f64 / 1000.0, quota_ms).0)
    }
}

/// Shared state that failed: skipped until this instant.
struct Shared {
    state: Box<dyn RateLimitState>,
    skip_until: Mutex<Option<Instant>>,
}

/// The limiter the transports call: the configured quotas over shared state when there is one,
/// falling back to this process's state for a while when the shared one fails.
pub struct RateLimiter {
    pub settings: RateLimitSettings,
    local: InProcessRateLimits,
    shared: Option<Shared>,
    /// Client addresses whose failed credential lookups went past their quota, and until when
    /// they are refused without a lookup (see [`RateLimiter::credential_lookup_refused`]).
    refused_lookups: Mutex<HashMap<String, Instant>>,
}

/// How many refused addresses are kept before the expired ones are swept.
const REFUSED_LOOKUPS_BEFORE_SWEEP: usize = 10_000;

impl RateLimiter {
    pub fn in_process(settings: RateLimitSettings) -> Self {
        Self {
            settings,
            local: InProcessRateLimits::default(),
            shared: None,
            refused_lookups: Mutex::default(),
        }
    }

    /// Shares the limits through `state` (Redis), keeping this process's as the fallback.
    pub fn shared(settings: RateLimitSettings, state: Box<dyn RateLimitState>) -> Self {
        Self {
            shared: Some(Shared {
                state,
                skip_until: Mutex::new(None),
            }),
            ..Self::in_process(settings)
        }
    }

    /// Shares the limits through Redis at `url`; `prefix` keeps deployments apart.
    pub async fn redis(
        settings: RateLimitSettings,
        url: &str,
        prefix: &str,
    ) -> Result<Self, RateLimitError> {
        let state = RedisRateLimits::connect(url, prefix).await?;
        Ok(Self::shared(settings, Box::new(state)))
    }

    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether a credential (an API key) presented from `client_ip` may be looked up in the store:
    /// `Some(verdict)` refuses it while the address's failed lookups are past the login quota.
    /// Unknown `sym_…` keys cost a store query each and are checked before any per-caller limit
    /// (the caller is what the lookup finds), so without this a client could make the store work
    /// at wire speed; the check itself touches no store and no Redis. Only failures count, so a
    /// busy client with a valid key is never slowed.
    pub fn credential_lookup_refused(&self, client_ip: &str) -> Option<Verdict> {
        if !self.settings.enabled {
            return None;
        }
        let refused = self
            .refused_lookups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let until = *refused.get(client_ip)?;
        let now = Instant::now();
        (until > now).then(|| Verdict {
            allowed: false,
            limit: self.settings.login.burst,
            remaining: 0,
            reset_secs: (until - now).as_secs_f64(),
            retry_after_secs: (until - now).as_secs_f64(),
        })
    }

    /// Counts a failed credential lookup (an unknown or revoked key) from `client_ip` against the
    /// login quota; past it, the address's next lookups are refused until the quota allows one.
    pub async fn count_failed_lookup(&self, client_ip: &str) {
        let verdict = self
            .check(&format!("credential-ip:{client_ip}"), self.settings.login)
            .await;
        if verdict.allowed {
            return;
        }
        let now = Instant::now();
        let until = now + Duration::from_secs_f64(verdict.retry_after_secs.max(0.0));
        let mut refused = self
            .refused_lookups
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if refused.len() >= REFUSED_LOOKUPS_BEFORE_SWEEP {
            refused.retain(|_, until| *until > now);
        }
        refused.insert(client_ip.to_string(), until);
    }

    /// Counts one request against `key` under `quota`.
    pub async fn check(&self, key: &str, quota: Quota) -> Verdict {
        if !self.settings.enabled {
            return Verdict::unlimited();
        }
        if let Some(shared) = &self.shared {
            let skipping = shared
                .skip_until
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .is_some_and(|until| Instant::now() < until);
            if !skipping {
                match shared.state.check(key, quota).await {
                    Ok(verdict) => return verdict,
                    Err(error) => {
                        tracing::warn!(error = %crate::error::chain(&error), "shared rate limiting failed; limiting in-process for a while");
                        *shared
                            .skip_until
                            .lock()
                            .unwrap_or_else(|poisoned| poisoned.into_inner()) =
                            Some(Instant::now() + REDIS_BACKOFF);
                    }
                }
            }
        }
        self.local.count(key, quota)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn disabled_limits_allow_everything() {
        let limiter = RateLimiter::in_process(RateLimitSettings {
            enabled: false,
            ..RateLimitSettings::default()
        });
        let quota = Quota {
            per_second: 0.001,
            burst: 1,
        };
        for _ in 0..10 {
            assert!(limiter.check("k", quota).await.allowed);
        }
    }
}
