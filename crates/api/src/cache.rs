//! Response cache for match lists and stats: in-process by default, shared in Redis when configured.
//!
//! Keys carry the engine's generation (bumped by every applied event), so a cached answer is never
//! served after a change: invalidation by match diffs, with old entries left to expire (TTL).
//! Every Redis call has a short timeout; after a failure the cache is bypassed for a few seconds, so a
//! Redis outage costs nothing but the cache — reads and writes carry on.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
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

/// Cached bodies being computed, by key. A request whose body another request is computing waits
/// for that computation and shares its result instead of starting its own: a list over all matches
/// costs hundreds of milliseconds at 10,000 businesses, and the requests that miss together (after
/// an engine change, when an entry expires, at start) would otherwise each compute it.
#[derive(Default)]
pub struct SingleFlight {
    flights: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Vec<u8>>>>>,
}

/// Forgets a key's flight when its last request is done with it (also when a request is dropped).
struct Landing<'a> {
    flights: &'a Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Vec<u8>>>>>,
    key: &'a str,
    flight: Arc<tokio::sync::OnceCell<Vec<u8>>>,
}

impl Drop for Landing<'_> {
    fn drop(&mut self) {
        let mut flights = self
            .flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Clones are only taken under this lock: two are the map's and this one.
        if Arc::strong_count(&self.flight) <= 2 {
            flights.remove(self.key);
        }
    }
}

impl SingleFlight {
    /// The body under `key` in `cache`, or else `compute`'s, which is then stored. While one
    /// request computes a key, the others asking for it wait for its body; if it fails, the next
    /// waiting request computes.
    pub async fn get_or_compute<E>(
        &self,
        cache: &ResponseCache,
        key: &str,
        compute: impl Future<Output = Result<Vec<u8>, E>>,
    ) -> Result<Vec<u8>, E> {
        if let Some(body) = cache.get(key).await {
            return Ok(body);
        }
        let flight = {
            let mut flights = self
                .flights
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(flights.entry(key.to_string()).or_default())
        };
        let landing = Landing {
            flights: &self.flights,
            key,
            flight,
        };
        let body = landing
            .flight
            .get_or_try_init(|| async {
                let body = compute.await?;
                cache.put(key, &body).await;
                Ok(body)
            })
            .await?;
        Ok(body.clone())
    }

    /// Keys being computed (for tests).
    pub fn in_flight(&self) -> usize {
        self.flights
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
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

    #[tokio::test]
    async fn concurrent_misses_of_a_key_compute_it_once() {
        let cache = ResponseCache::memory();
        let flights = SingleFlight::default();
        let computed = std::sync::atomic::AtomicUsize::new(0);
        let request = || async {
            flights
                .get_or_compute(&cache, "list", async {
                    computed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    // Long enough that the other requests arrive while this one computes.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Ok::<_, String>(b"body".to_vec())
                })
                .await
        };
        let (a, b, c, d) = tokio::join!(request(), request(), request(), request());
        for body in [a, b, c, d] {
            assert_eq!(body.as_deref(), Ok(&b"body"[..]));
        }
        assert_eq!(computed.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(flights.in_flight(), 0, "a finished key is forgotten");
        assert_eq!(cache.get("list").await.as_deref(), Some(&b"body"[..]));
    }

    #[tokio::test]
    async fn a_failed_computation_leaves_the_key_to_the_next_request() {
        let cache = ResponseCache::memory();
        let flights = SingleFlight::default();
        let failed = flights
            .get_or_compute(&cache, "list", async { Err::<Vec<u8>, _>("store down") })
            .await;
        assert_eq!(failed, Err("store down"));
        assert!(cache.get("list").await.is_none());
        let body = flights
            .get_or_compute(&cache, "list", async { Ok::<_, &str>(b"body".to_vec()) })
            .await;
        assert_eq!(body.as_deref(), Ok(&b"body"[..]));
        assert_eq!(flights.in_flight(), 0);
    }
}
