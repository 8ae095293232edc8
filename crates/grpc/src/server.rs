//! The gRPC server: `symbiont.v1.Matching`, the standard health service (`grpc.health.v1`) and
//! server reflection (`grpc.reflection.v1`, from the committed descriptor set) on one listener,
//! plain HTTP/2 by default or TLS (rustls) when a certificate and key are configured.
//!
//! It must not name a store or bus adapter; the binary hands it a started `App`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use symbiont_app::App;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::matching_service::MatchingService;
use crate::proto::matching_server::MatchingServer;
use crate::watch::WatchSettings;

/// A certificate chain and its private key, PEM-encoded.
#[derive(Clone)]
pub struct TlsIdentity {
    pub certificate_pem: Vec<u8>,
    pub private_key_pem: Vec<u8>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The key never reaches a log.
        f.debug_struct("TlsIdentity").finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
pub struct GrpcSettings {
    /// TLS with this identity; plain HTTP/2 (h2c) when `None`.
    pub tls: Option<TlsIdentity>,
    pub watch: WatchSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("the reflection service cannot read the descriptor set")]
    Reflection(#[source] tonic_reflection::server::Error),
    #[error("the TLS certificate or key is unusable")]
    Tls(#[source] tonic::transport::Error),
    #[error("the gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
}

/// How often an idle connection is pinged, and how long a ping may go unanswered before the
/// connection is closed: a peer that vanished does not hold its streams open.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// Serves gRPC on `listener` until `shutdown` resolves, then stops accepting and lets calls in
/// flight finish (streams end when the app's live feed closes).
pub async fn serve(
    app: Arc<App>,
    listener: TcpListener,
    settings: GrpcSettings,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), GrpcError> {
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<MatchingServer<MatchingService>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(GrpcError::Reflection)?;
    let mut builder = Server::builder()
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    if let Some(tls) = &settings.tls {
        let identity = Identity::from_pem(&tls.certificate_pem, &tls.private_key_pem);
        builder = builder
            .tls_config(ServerTlsConfig::new().identity(identity))
            .map_err(GrpcError::Tls)?;
    }
    let matching = MatchingServer::new(MatchingService::new(app, settings.watch));
    builder
        .add_service(health_service)
        .add_service(reflection)
        .add_service(matching)
        .serve_with_incoming_shutdown(
            TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown,
        )
        .await
        .map_err(GrpcError::Serve)
}
