//! Response cache for match lists and stats. The port is [`CacheStore`]; its adapters keep the
//! bodies in this process ([`InProcessCache`], moka: bounded, least recently used evicted first) or
//! in Redis ([`RedisCache`], which keeps the bodies out of the process; each instance still reads
//! only its own, see the keys). [`ResponseCache`] is what the use cases call.
//!
//! Keys carry the engine's generation (bumped by every applied event) and the instance's epoch, so a
//! cached answer is never served after a change: invalidation by match diffs, with old entries left
//! to expire (TTL) or be evicted.
//! Every Redis call has a short timeout; after a failure the cache is bypassed for a few seconds, so a
//! Redis outage costs nothing but the cache — reads and writes carry on.
//! Bodies are shared [`Bytes`]: a hit hands out the stored body itself, not a copy of it.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use redis::aio::ConnectionManager;

/// How long an in-process entry lives. Keys change with every change of the state, so this only
/// bounds how long a list nobody changed is kept (the byte budget bounds the room they take).
const MEMORY_TTL: Duration = Duration::from_secs(600);
/// How long a Redis entry lives: nothing bounds their number but this, and under writes every read
/// of a new state stores a new key, so the entries of past states must go soon.
const REDIS_TTL: Duration = Duration::from_secs(60);
const REDIS_TIMEOUT: Duration = Duration::from_millis(50);
/// After a Redis failure, skip the cache this long before trying again.
const BACKOFF: Duration = Duration::from_secs(5);
/// Bytes of bodies (and keys) the in-process cache holds at most: a budget in bytes rather than
/// entries, as a region's list is a hundred times a business's.
const MEMORY_BYTES: u64 = 32 * 1024 * 1024;

/// Why the cache could not answer; the cache is then bypassed, never an error to a caller.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(transparent)]
    Connect(#[from] crate::redis_connection::RedisConnectError),
    #[error("response cache: timed out after {0:?}")]
    Timeout(Duration),
    #[error("response cache: command failed")]
    Command(#[source] redis::RedisError),
}

/// The port: a key-value store of response bodies with a time to live.
#[async_trait::async_trait]
pub trait CacheStore: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError>;
    /// Stores `body` under `key` for `ttl`; may evict other entries, never this one.
    async fn put(&self, key: &str, body: Bytes, ttl: Duration) -> Result<(), CacheError>;
}

/// Bodies in this process (moka): at most `capacity_bytes` of keys and bodies, each for at most
/// its TTL.
pub struct InProcessCache {
    entries: moka::sync::Cache<String, (Bytes, Instant)>,
}

impl InProcessCache {
    pub fn new(capacity_bytes: u64) -> Self {
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity_bytes)
                .weigher(|key: &String, (body, _): &(Bytes, Instant)| {
                    u32::try_from(key.len() + body.len()).unwrap_or(u32::MAX)
                })
                .time_to_live(MEMORY_TTL)
                // Least recently used first, as the lists people keep asking for should stay;
                // moka's default (TinyLFU) may refuse a new key when the cache is full.
                .eviction_policy(moka::policy::EvictionPolicy::lru())
                .build(),
        }
    }
}

#[async_trait::async_trait]
impl CacheStore for InProcessCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let now = Instant::now();
        Ok(self
            .entries
            .get(key)
            .filter(|(_, expires)| now < *expires)
            .map(|(body, _)| body))
    }

    async fn put(&self, key: &str, body: Bytes, ttl: Duration) -> Result<(), CacheError> {
        self.entries
            .insert(key.to_string(), (body, Instant::now() + ttl));
        Ok(())
    }
}

/// Bodies in Redis under `prefix`, each with its TTL.
pub struct RedisCache {
    manager: ConnectionManager,
    prefix: String,
}

impl RedisCache {
    /// Connects to Redis at `url`; `prefix` keeps deployments sharing a server apart.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let manager = crate::redis_connection::connect(url, REDIS_TIMEOUT).await?;
        Ok(Self {
            manager,
            prefix: format!("{prefix}:cache:"),
        })
    }
}

#[async_trait::async_trait]
impl CacheStore for RedisCache {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, CacheError> {
        let mut conn = self.manager.clone();
        let command = redis::cmd("GET")
            .arg(format!("{}{key}", self.prefix))
            .to_owned();
        let body = tokio::time::timeout(
            REDIS_TIMEOUT,
            command.query_async::<Option<Vec<u8>>>(&mut conn),
        )
        .await
        .map_err(|_| CacheError::Timeout(REDIS_TIMEOUT))?
        .map_err(CacheError::Command)?;
        Ok(body.map(Bytes::from))
    }

    async fn put(&self, key: &str, body: Bytes, ttl: Duration) -> Result<(), CacheError> {
        let mut conn = self.manager.clone();
        let command = redis::cmd("SET")
            .arg(format!("{}{key}", self.prefix))
            .arg(&body[..])
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
            .to_owned();
        tokio::time::timeout(REDIS_TIMEOUT, command.query_async::<()>(&mut conn))
            .await
            .map_err(|_| CacheError::Timeout(REDIS_TIMEOUT))?
            .map_err(CacheError::Command)
    }
}

/// The cache the use cases call: a [`CacheStore`] that is bypassed for a while after it fails.
pub struct ResponseCache {
    store: Box<dyn CacheStore>,
    ttl: Duration,
    skip_until: Mutex<Option<Instant>>,
}

impl ResponseCache {
    pub fn new(store: Box<dyn CacheStore>, ttl: Duration) -> Self {
        Self {
            store,
            ttl,
            skip_until: Mutex::new(None),
        }
    }

    /// In this process (the embedded default).
    pub fn memory() -> Self {
        Self::new(Box::new(InProcessCache::new(MEMORY_BYTES)), MEMORY_TTL)
    }

    /// In Redis at `url`; `prefix` keeps deployments sharing a server apart.
    pub async fn redis(url: &str, prefix: &str) -> Result<Self, CacheError> {
        let store = RedisCache::connect(url, prefix).await?;
        Ok(Self::new(Box::new(store), REDIS_TTL))
    }

    fn skipping(&self) -> bool {
        let guard = self
            .skip_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.is_some_and(|until| Instant::now() < until)
    }

    fn failed(&self, error: &CacheError) {
        tracing::warn!(error = %crate::error::chain(error), bypass_secs = BACKOFF.as_secs(), "response cache unavailable; bypassing it");
        *self
            .skip_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Instant::now() + BACKOFF);
    }

    pub async fn get(&self, key: &str) -> Option<Bytes> {
        if self.skipping() {
            return None;
        }
        match self.store.get(key).await {
            Ok(body) => body,
            Err(error) => {
                self.failed(&error);
                None
            }
        }
    }

    pub async fn put(&self, key: &str, body: Bytes) {
        if self.skipping() {
            return;
        }
        if let Err(error) = self.store.put(key, body, self.ttl).await {
            self.failed(&error);
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
                let mut body = compute.await?;
                // The cache weighs a body by its length: without its spare capacity (up to half
                // of a serialized body), what it holds in memory is what it counts.
                body.shrink_to_fit();
                let body = Bytes::from(body);
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
    async fn the_in_process_cache_stays_within_its_byte_budget() {
        let cache = InProcessCache::new(64 * 1024);
        for i in 0..1000 {
            let key = format!("k{i}");
            let put = cache.put(&key, Bytes::from(vec![1u8; 1000]), MEMORY_TTL);
            put.await.expect("in-process puts do not fail");
        }
        cache.entries.run_pending_tasks();
        assert!(cache.entries.weighted_size() <= 64 * 1024);
        assert!(cache.entries.entry_count() >= 32, "it holds what fits");
        let last = cache
            .get("k999")
            .await
            .expect("in-process gets do not fail");
        assert!(last.is_some(), "the entry just put is kept");
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
