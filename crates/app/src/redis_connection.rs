//! The one way the app's Redis adapters (response cache, rate-limit state) connect: a connection
//! manager that reconnects by itself, with short timeouts, since every caller degrades rather than
//! waits when Redis is slow or down.

use std::time::Duration;

use redis::aio::ConnectionManager;

/// How long connecting may take at start.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum RedisConnectError {
    #[error("cannot connect to Redis at {url}")]
    Refused {
        url: String,
        #[source]
        source: redis::RedisError,
    },
    #[error("timed out connecting to Redis at {url} after {CONNECT_TIMEOUT:?}")]
    Timeout { url: String },
}

/// `url` without its user and password, for messages and logs (the one function for every
/// service URL; re-exported here for the Redis adapters' callers).
pub use symbiont_bus::without_credentials;

/// Connects to `url`; each command then times out after `response_timeout`.
pub async fn connect(
    url: &str,
    response_timeout: Duration,
) -> Result<ConnectionManager, RedisConnectError> {
    let shown = without_credentials(url);
    let refused = |source| RedisConnectError::Refused {
        url: shown.clone(),
        source,
    };
    let client = redis::Client::open(url).map_err(refused)?;
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(2))
        .set_response_timeout(response_timeout)
        .set_number_of_retries(1);
    tokio::time::timeout(
        CONNECT_TIMEOUT,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    .map_err(|_| RedisConnectError::Timeout { url: shown.clone() })?
    .map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(
            without_credentials("redis://:s3cret@cache.internal:6379/0"),
            "redis://cache.internal:6379/0"
        );
        assert_eq!(without_credentials("redis://user:pw@host"), "redis://host");
        assert_eq!(
            without_credentials("redis://host:6379"),
            "redis://host:6379"
        );
    }
}
