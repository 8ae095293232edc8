//! Response cache for match lists and stats: in-process by default, in Redis when configured (which
//! keeps the bodies out of the process; each instance still reads only its own, see the keys).
//!
//! Keys carry the engine's generation (bumped by every applied event) and the instance's epoch, so a
//! cached answer is never served after a change: invalidation by match diffs, with old entries left
//! to expire (TTL) or, in memory, evicted least recently used first when the cache is full.
//! Every Redis call has a short timeout; after a failure the cache is bypassed for a few seconds, so a
//! Redis outage costs nothing but the cache — reads and writes carry on.
//! Bodies are shared [`Bytes`]: a hit hands out the stored body itself, not a copy of it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use redis::aio::ConnectionManager;

/// How long an in-process entry lives. Keys change with every change of the state, so this only
/// bounds how long a list nobody changed is kept (the entry count bounds the room they take).
const MEMORY_TTL: Duration = Duration::from_secs(600);
/// How long a Redis entry lives: nothing bounds their number but this, and under writes every read
/// of a new state stores a new key, so the entries of past states must go soon.
const REDIS_TTL: Duration = Duration::from_secs(60);
const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// After a Redis failure, skip the cache this long before trying again.
const BACKOFF: Duration = Duration::from_secs(5);
const MEMORY_ENTRIES: usize = 4096;

/// An in-process entry: its body, when it expires and when it was last handed out.
pub struct Entry {
    body: Bytes,
    expires: Instant,
    used: Instant,
}

pub enum ResponseCache {
    Memory(Mutex<HashMap<String, Entry>>),
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

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        match self {
            ResponseCache::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                map.get_mut(key)
                    .filter(|entry| now < entry.expires)
                    .map(|entry| {
                        entry.used = now;
                        entry.body.clone()
                    })
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
                    Ok(Ok(body)) => body.map(Bytes::from),
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

    pub async fn put(&self, key: &str, body: Bytes) {
        match self {
            ResponseCache::Memory(map) => {
                let mut map = map.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let now = Instant::now();
                let full = map.len() >= MEMORY_ENTRIES && !map.contains_key(key);
                if full {
                    map.retain(|_, entry| now < entry.expires);
                }
                if full && map.len() >= MEMORY_ENTRIES {
                    // Full of live entries: keep the half used most recently (the lists people
                    // keep asking for), drop the rest.
                    let mut used: Vec<Instant> = map.values().map(|entry| entry.used).collect();
                    let middle = used.len() / 2;
                    let (_, &mut cutoff, _) = used.select_nth_unstable(middle);
                    map.retain(|_, entry| entry.used > cutoff);
                }
                map.insert(
                    key.to_string(),
                    Entry {
                        body,
                        expires: now + MEMORY_TTL,
                        used: now,
                    },
                );
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
                    .arg(&body[..])
                    .arg("EX")
                    .arg(REDIS_TTL.as_secs())
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
    flights: Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Bytes>>>>,
}

/// Forgets a key's flight when its last request is done with it (also when a request is dropped).
struct Landing<'a> {
    flights: &'a Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Bytes>>>>,
    key: &'a str,
    flight: Arc<tokio::sync::OnceCell<Bytes>>,
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
    ) -> Result<Bytes, E> {
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
                let body = Bytes::from(compute.await?);
                cache.put(key, body.clone()).await;
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
        cache.put("a", Bytes::from_static(b"body")).await;
        assert_eq!(cache.get("a").await.as_deref(), Some(&b"body"[..]));
    }

    #[tokio::test]
    async fn a_full_memory_cache_keeps_the_entries_used_last() {
        let cache = ResponseCache::memory();
        for i in 0..MEMORY_ENTRIES {
            cache.put(&format!("k{i}"), Bytes::from(vec![1u8; 8])).await;
        }
        // The first entry put is the oldest, but it is read again.
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert!(cache.get("k0").await.is_some());
        cache.put("new", Bytes::from_static(b"new")).await;
        assert!(cache.get("k0").await.is_some(), "recently used, kept");
        assert!(cache.get("new").await.is_some());
        assert!(
            cache.get("k1").await.is_none(),
            "least recently used, dropped"
        );
        let ResponseCache::Memory(map) = &cache else {
            unreachable!("a memory cache")
        };
        let kept = map.lock().expect("not poisoned").len();
        assert!(
            (MEMORY_ENTRIES / 2 - 1..=MEMORY_ENTRIES / 2 + 1).contains(&kept),
            "{kept} entries kept"
        );
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
