//! The standard services beside `Matching`: health (`grpc.health.v1`), reflection
//! (`grpc.reflection.v1`), and TLS when configured.

use std::process::Command;

use symbiont_grpc::proto as pb;
use symbiont_grpc::proto::matching_client::MatchingClient;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint};

use crate::harness::*;

#[tokio::test]
async fn health_reports_the_matching_service_serving() {
    let server = TestServer::start().await;
    let channel = Endpoint::from_shared(format!("http://{}", server.address))
        .expect("uri")
        .connect()
        .await
        .expect("connected");
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    for service in ["", "symbiont.v1.Matching"] {
        let answer = health
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .expect("health answers")
            .into_inner();
        assert_eq!(
            answer.status,
            tonic_health::pb::health_check_response::ServingStatus::Serving as i32,
            "{service}"
        );
    }
}

#[tokio::test]
async fn reflection_lists_and_describes_the_matching_service() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = TestServer::start().await;
    let channel = Endpoint::from_shared(format!("http://{}", server.address))
        .expect("uri")
        .connect()
        .await
        .expect("connected");
    let mut reflection = ServerReflectionClient::new(channel);
    let requests = [
        MessageRequest::ListServices(String::new()),
        MessageRequest::FileContainingSymbol("symbiont.v1.Matching".into()),
    ]
    .map(|request| ServerReflectionRequest {
        host: String::new(),
        message_request: Some(request),
    });
    let mut answers = reflection
        .server_reflection_info(futures_util::stream::iter(requests))
        .await
        .expect("reflection answers")
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers
        .message()
        .await
        .expect("readable")
        .and_then(|a| a.message_response)
    else {
        panic!("a list of services");
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    assert!(names.contains(&"symbiont.v1.Matching"), "{names:?}");
    let Some(MessageResponse::FileDescriptorResponse(files)) = answers
        .message()
        .await
        .expect("readable")
        .and_then(|a| a.message_response)
    else {
        panic!("the file declaring the service");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

/// A self-signed certificate for `localhost` made with the openssl command line, in `dir`.
fn self_signed(dir: &std::path::Path) -> Option<(Vec<u8>, Vec<u8>)> {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            // A server certificate, not a CA: rustls refuses a CA certificate as the server's.
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=digitalSignature",
            "-addext",
            "extendedKeyUsage=serverAuth",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output();
    match made {
        Ok(output) if output.status.success() => Some((
            std::fs::read(&cert).expect("the certificate"),
            std::fs::read(&key).expect("the key"),
        )),
        other => {
            let why = format!("{other:?}");
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("openssl is required under CI=true to make a test certificate: {why}");
            }
            eprintln!("skipping: openssl could not make a test certificate ({why})");
            None
        }
    }
}

#[tokio::test]
async fn tls_serves_the_same_calls_to_a_client_trusting_the_certificate() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let Some((certificate, key)) = self_signed(dir.path()) else {
        return;
    };
    let server = TestServer::with(Options {
        tls: Some(symbiont_grpc::TlsIdentity {
            certificate_pem: certificate.clone(),
            private_key_pem: key,
        }),
        ..Options::default()
    })
    .await;
    let secure = Endpoint::from_shared(format!("https://127.0.0.1:{}", server.address.port()))
        .expect("uri")
        .tls_config(
            ClientTlsConfig::new()
                .ca_certificate(Certificate::from_pem(&certificate))
                .domain_name("localhost"),
        )
        .expect("a TLS client")
        .connect()
        .await
        .expect("a TLS connection");
    let missing = MatchingClient::new(secure)
        .get_match(call(
            pb::GetMatchRequest {
                id: uuid::Uuid::now_v7().to_string(),
            },
            &Who::Anonymous,
        ))
        .await
        .expect_err("no such match");
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");
    // Plain HTTP/2 is not served on a TLS port.
    let plain = Endpoint::from_shared(format!("http://{}", server.address))
        .expect("uri")
        .connect()
        .await;
    if let Ok(channel) = plain {
        let refused = MatchingClient::new(channel)
            .get_match(call(
                pb::GetMatchRequest {
                    id: uuid::Uuid::now_v7().to_string(),
                },
                &Who::Anonymous,
            ))
            .await
            .expect_err("no plaintext calls");
        assert_ne!(refused.code(), tonic::Code::NotFound);
    }
}
