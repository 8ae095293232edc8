//! Logs, traces and the flight recorder, as one tracing subscriber:
//!
//! - the log output on stderr (pretty on a terminal, JSON otherwise), filtered by `log.level` or
//!   `RUST_LOG`;
//! - the flight recorder (`telemetry.flight_recorder_capacity`, 0 = off), which keeps spans and
//!   events at `info` and above whatever the log level, so a quiet log still leaves a record;
//! - OpenTelemetry traces over OTLP/HTTP (protobuf), configured by the standard `OTEL_*`
//!   variables and off unless an endpoint is given (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//!   `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true`
//!   turns it off. When off, no exporter, thread or propagator exists. Spans at `info` and above
//!   are exported, whatever the log level.
//!
//! Spans are exported in batches (`OTEL_BSP_*`) from the SDK's own thread; the HTTP requests run
//! on the Tokio runtime through a client shared with nothing else. [`Telemetry::shutdown`] flushes
//! what is pending.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use async_trait::async_trait;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use symbiont_app::flight_recorder::FlightRecorder;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{Config, LogFormat};

/// What [`init`] installed; keep it until the end of `main` and call [`Telemetry::shutdown`].
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported over OTLP.
    pub fn exports_traces(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still queued and stops the exporter (bounded: 5 s).
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK blocks while its thread exports; keep that off the async workers.
        let flushed = tokio::task::spawn_blocking(move || {
            provider.shutdown_with_timeout(Duration::from_secs(5))
        })
        .await;
        match flushed {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: traces not flushed at shutdown: {error}"),
            Err(error) => eprintln!("warning: traces not flushed at shutdown: {error}"),
        }
    }
}

/// Installs the global tracing subscriber. Must run inside the Tokio runtime (the OTLP client
/// uses it).
pub fn init(config: &Config) -> anyhow::Result<Telemetry> {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match config.log.format {
        LogFormat::Json => true,
        LogFormat::Pretty => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let output: Box<dyn Layer<Registry> + Send + Sync> = if json {
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .boxed()
    };
    let recorder = FlightRecorder::install(config.telemetry.flight_recorder_capacity);
    let otlp = OtlpSettings::from_env();
    let provider = match &otlp {
        OtlpSettings::On { .. } => Some(tracer_provider()?),
        OtlpSettings::Off | OtlpSettings::Unsupported(_) => None,
    };
    let traces = provider.as_ref().map(|provider| {
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("symbiont"))
            .with_tracked_inactivity(false)
    });
    // Each layer has its own filter: a quiet log does not silence the recorder or the traces.
    tracing_subscriber::registry()
        .with(output.with_filter(filter))
        .with(recorder.map(|layer| layer.with_filter(LevelFilter::INFO)))
        .with(traces.map(|layer| layer.with_filter(LevelFilter::INFO)))
        .try_init()
        .context("cannot install the log subscriber")?;
    match otlp {
        OtlpSettings::On { endpoint } => {
            opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
            symbiont_app::trace_context::enable();
            tracing::info!(%endpoint, "exporting traces over OTLP/HTTP");
        }
        OtlpSettings::Unsupported(why) => {
            tracing::warn!("OpenTelemetry traces are off: {why}");
        }
        OtlpSettings::Off => {}
    }
    Ok(Telemetry { provider })
}

/// Whether to export traces, from the standard variables.
enum OtlpSettings {
    Off,
    On { endpoint: String },
    Unsupported(String),
}

impl OtlpSettings {
    fn from_env() -> Self {
        Self::from_vars(|name| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        })
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        if var("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return Self::Off;
        }
        let exporter = var("OTEL_TRACES_EXPORTER");
        match exporter.as_deref() {
            None | Some("otlp") => {}
            Some("none") => return Self::Off,
            Some(other) => {
                return Self::Unsupported(format!(
                    "OTEL_TRACES_EXPORTER={other} is not supported (only otlp)"
                ));
            }
        }
        let protocol = var("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            .or_else(|| var("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(protocol) = protocol.filter(|p| p != "http/protobuf") {
            return Self::Unsupported(format!(
                "OTLP protocol {protocol} is not supported (only http/protobuf, port 4318)"
            ));
        }
        let endpoint = var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .or_else(|| var("OTEL_EXPORTER_OTLP_ENDPOINT").map(|e| format!("{e} (+ /v1/traces)")));
        match (endpoint, exporter) {
            (Some(endpoint), _) => Self::On { endpoint },
            (None, Some(_)) => Self::On {
                endpoint: "http://localhost:4318/v1/traces".into(),
            },
            (None, None) => Self::Off,
        }
    }
}

/// The SDK's provider with a batch exporter over OTLP/HTTP; the exporter reads the endpoint,
/// headers and timeout from `OTEL_EXPORTER_OTLP_*`, the provider the sampler
/// (`OTEL_TRACES_SAMPLER`), the batch settings (`OTEL_BSP_*`) and the resource
/// (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`).
fn tracer_provider() -> anyhow::Result<SdkTracerProvider> {
    let timeout = [
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TIMEOUT",
    ]
    .iter()
    .find_map(|name| std::env::var(name).ok()?.trim().parse().ok())
    .map_or(Duration::from_secs(10), Duration::from_millis);
    let client = RuntimeHttpClient {
        client: reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .context("cannot build the OTLP HTTP client")?,
        runtime: tokio::runtime::Handle::current(),
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_http_client(client)
        .build()
        .context("invalid OpenTelemetry exporter settings")?;
    let mut resource = Resource::builder().build();
    let named = resource
        .get(&opentelemetry::Key::new("service.name"))
        .is_some_and(|name| !name.as_str().starts_with("unknown_service"));
    if !named {
        resource = Resource::builder().with_service_name("symbiont").build();
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}

/// Sends the exporter's requests on the Tokio runtime. The SDK's batch thread is not a runtime
/// thread, so the request is spawned onto the runtime and awaited from there.
#[derive(Debug)]
struct RuntimeHttpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// Unix seconds of the last export failure logged: one line a minute is enough.
static LAST_FAILURE_LOGGED: AtomicU64 = AtomicU64::new(0);

fn log_export_failure(reason: &str) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let last = LAST_FAILURE_LOGGED.load(Ordering::Relaxed);
    if now >= last + 60
        && LAST_FAILURE_LOGGED
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    {
        tracing::warn!(%reason, "trace export failed; spans are dropped (logged once a minute)");
    }
}

#[async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self
            .runtime
            .spawn(async move {
                let response = client.execute(request).await?;
                let status = response.status();
                let headers = response.headers().clone();
                let body = response.bytes().await?;
                Ok::<_, reqwest::Error>((status, headers, body))
            })
            .await;
        let (status, headers, body) = match sent {
            Ok(Ok(answer)) => answer,
            Ok(Err(error)) => {
                log_export_failure(&error.to_string());
                return Err(error.into());
            }
            Err(error) => {
                log_export_failure(&error.to_string());
                return Err(error.into());
            }
        };
        if !status.is_success() {
            log_export_failure(&format!("the collector answered {status}"));
        }
        let mut response = Response::new(body);
        *response.status_mut() = status;
        *response.headers_mut() = headers;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> OtlpSettings {
        OtlpSettings::from_vars(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn traces_are_off_unless_an_endpoint_or_exporter_is_given() {
        assert!(matches!(settings(&[]), OtlpSettings::Off));
        assert!(matches!(
            settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")]),
            OtlpSettings::On { .. }
        ));
        assert!(matches!(
            settings(&[("OTEL_TRACES_EXPORTER", "otlp")]),
            OtlpSettings::On { .. }
        ));
        assert!(matches!(
            settings(&[
                (
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "http://127.0.0.1:4318/v1/traces"
                ),
                ("OTEL_SDK_DISABLED", "TRUE"),
            ]),
            OtlpSettings::Off
        ));
        assert!(matches!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
                ("OTEL_TRACES_EXPORTER", "none"),
            ]),
            OtlpSettings::Off
        ));
    }

    #[test]
    fn unsupported_protocols_are_reported() {
        assert!(matches!(
            settings(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ]),
            OtlpSettings::Unsupported(_)
        ));
    }
}
