//! Response cache for match lists and stats: in-process by default, shared in Redis when configured.
//!
//! Keys carry the engine's generation (bumped by every applied event), so a cached answer is never
//! served after a change: invalidation by match diffs, with old entries left to expire (TTL).
//! Every Redis call has a short timeout; after a failure the cache is bypassed for a few seconds, so a
//! Redis outage costs nothing but the cache — reads and writes carry on.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::ConnectionManager;

/// How long an entry lives; keys change with every engine change anyway.
const TTL: Duration = Duration::from_secs(60);
const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// After a Redis failure, skip the cache this long before trying again.
const BACKOFF: Duration = Duration::from_secs(5);
const MEMORY_ENTRIES: usize = 4096;

pub enum ResponseCache {
    Memory(Mutex<HashMap<String, (Instant, Vec<u8>)>>),
    Redis {
        manager: ConnectionManager,
        prefix: String,
        skip_until: Mutex<Option<Instant>>,
    },
}

impl ResponseCache {
    pub fn memory() -> Self {
        ResponseCache::Memory(Mutex::new(HashMap::new()))
    }

    /// Connects to Redis at `url`; `prefix` keeps deployments sharing a server apart.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(REDIS_TIMEOUT)
            .set_number_of_retries(1);
        let manager = tokio::time::timeout(
            Duration::from_secs(5),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| "timed out connecting to Redis".to_string())?
        .map_err(|e| e.to_string())?;
        Ok(ResponseCache::Redis {
            manager,
            prefix: format!("{prefix}:cache:"),
            skip_until: Mutex::new(None),
        })
    }

    fn skipping(skip_until: &Mutex<Option<Instant>>) -> bool {
        let guard = skip_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.is_some_and(|until| Instant::now() < until)
    }

    fn failed(skip_until: &Mutex<Option<Instant>>, error: &str) {
        tracing::warn!(%error, bypass_secs = BACKOFF.as_secs(), "response cache unavailable; bypassing it");
        *skip_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now() + BACKOFF);
    }

    pub async fn get(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            ResponseCache::Memory(map) => {
                let map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                map.get(key)
                    .filter(|(expires, _)| Instant::now() < *expires)
                    .map(|(_, body)| body.clone())
            }
            ResponseCache::Redis {
                manager,
                prefix,
                skip_until,
            } => {
                if Self::skipping(skip_until) {
                    return None;
                }
                let mut conn = manager.clone();
                let command = redis::cmd("GET").arg(format!("{prefix}{key}")).to_owned();
                match tokio::time::timeout(
                    REDIS_TIMEOUT,
                    command.query_async::<Option<Vec<u8>>>(&mut conn),
                )
                .await
                {
                    Ok(Ok(body)) => body,
                    Ok(Err(e)) => {
                        Self::failed(skip_until, &e.to_string());
                        None
                    }
                    Err(_) => {
                        Self::failed(skip_until, "timed out");
                        None
                    }
                }
            }
        }
    }

    pub async fn put(&self, key: &str, body: &[u8]) {
        match self {
            ResponseCache::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if map.len() >= MEMORY_ENTRIES {
                    let now = Instant::now();
                    map.retain(|_, (expires, _)| now < *expires);
                    if map.len() >= MEMORY_ENTRIES {
                        map.clear();
                    }
                }
                map.insert(key.to_string(), (Instant::now() + TTL, body.to_vec()));
            }
            ResponseCache::Redis {
                manager,
                prefix,
                skip_until,
            } => {
                if Self::skipping(skip_until) {
                    return;
                }
                let mut conn = manager.clone();
                let command = redis::cmd("SET")
                    .arg(format!("{prefix}{key}"))
                    .arg(body)
                    .arg("EX")
                    .arg(TTL.as_secs())
                    .to_owned();
                match tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<()>(&mut conn))
                    .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => Self::failed(skip_until, &e.to_string()),
                    Err(_) => Self::failed(skip_until, "timed out"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_cache_returns_what_was_put() {
        let cache = ResponseCache::memory();
        assert!(cache.get("a").await.is_none());
        cache.put("a", b"body").await;
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"body"[..]));
    }
}
