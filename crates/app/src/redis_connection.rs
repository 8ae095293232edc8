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

/// Connects to `url`; each command then times out after `response_timeout`.
pub async fn connect(
    url: &str,
    response_timeout: Duration,
) -> Result<ConnectionManager, RedisConnectError> {
    let refused = |source| RedisConnectError::Refused {
        url: url.to_string(),
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
    .map_err(|_| RedisConnectError::Timeout {
        url: url.to_string(),
    })?
    .map_err(refused)
}
