//! A small load client for one question: how many reads per second does the same read get over
//! gRPC (tonic client, HTTP/2) and over REST (reqwest, HTTP/1.1 keep-alive), at a fixed
//! concurrency, against a running server? Each scenario runs `--runs` times for `--seconds`,
//! alternating gRPC and REST so that neither gets the machine's better moments; every run is
//! bounded in time and prints its rate, then the median per scenario.
//!
//!   cargo run --release -p symbiont-grpc --example grpc_vs_rest -- \
//!       --http http://127.0.0.1:8080 --grpc http://127.0.0.1:50051 \
//!       --match <match id> --business <business id> [--concurrency 32] [--seconds 5] [--runs 3]
//!
//! It reads only; it is not a test (scripts/bench-grpc runs it and writes docs/BENCHMARKS.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use symbiont_grpc::proto as pb;
use symbiont_grpc::proto::matching_client::MatchingClient;
use tonic::transport::{Channel, Endpoint};

struct Options {
    http: String,
    grpc: String,
    match_id: String,
    business_id: String,
    concurrency: usize,
    seconds: u64,
    runs: usize,
    /// HTTP/2 connections the gRPC workers share, round-robin (REST opens one per worker).
    grpc_connections: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        http: "http://127.0.0.1:8080".into(),
        grpc: "http://127.0.0.1:50051".into(),
        match_id: String::new(),
        business_id: String::new(),
        concurrency: 32,
        seconds: 5,
        runs: 3,
        grpc_connections: 4,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--http" => options.http = value,
            "--grpc" => options.grpc = value,
            "--match" => options.match_id = value,
            "--business" => options.business_id = value,
            "--concurrency" => options.concurrency = number(&value)?.max(1) as usize,
            "--seconds" => options.seconds = number(&value)?.max(1),
            "--runs" => options.runs = number(&value)?.max(1) as usize,
            "--grpc-connections" => options.grpc_connections = number(&value)?.max(1) as usize,
            other => return Err(format!("unknown option {other}")),
        }
    }
    if options.match_id.is_empty() || options.business_id.is_empty() {
        return Err("--match and --business are required".into());
    }
    Ok(options)
}

#[derive(Clone, Copy, PartialEq)]
enum Read {
    OneMatch,
    BusinessMatches,
}

#[derive(Clone, Copy, PartialEq)]
enum Transport {
    Grpc,
    Rest,
}

/// Requests answered in `seconds` by `concurrency` workers, and the errors.
async fn run(
    options: &Options,
    transport: Transport,
    read: Read,
    grpc: &[MatchingClient<Channel>],
    rest: &reqwest::Client,
) -> (f64, u64) {
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let mut workers = tokio::task::JoinSet::new();
    let rest_url = match read {
        Read::OneMatch => format!("{}/api/v1/matches/{}", options.http, options.match_id),
        Read::BusinessMatches => format!(
            "{}/api/v1/businesses/{}/matches?limit=20",
            options.http, options.business_id
        ),
    };
    let started = Instant::now();
    for worker in 0..options.concurrency {
        let done = Arc::clone(&done);
        let failed = Arc::clone(&failed);
        let mut client = grpc[worker % grpc.len()].clone();
        let rest = rest.clone();
        let rest_url = rest_url.clone();
        let match_id = options.match_id.clone();
        let business_id = options.business_id.clone();
        workers.spawn(async move {
            while Instant::now() < deadline {
                let ok = match (transport, read) {
                    (Transport::Grpc, Read::OneMatch) => client
                        .get_match(pb::GetMatchRequest {
                            id: match_id.clone(),
                        })
                        .await
                        .is_ok(),
                    (Transport::Grpc, Read::BusinessMatches) => client
                        .list_matches(pb::ListMatchesRequest {
                            business_id: Some(business_id.clone()),
                            limit: 20,
                            ..Default::default()
                        })
                        .await
                        .is_ok(),
                    (Transport::Rest, _) => match rest.get(&rest_url).send().await {
                        Ok(response) => {
                            let ok = response.status().is_success();
                            // The body is read, as a client would.
                            response.bytes().await.is_ok() && ok
                        }
                        Err(_) => false,
                    },
                };
                if ok {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed().as_secs_f64();
    (
        done.load(Ordering::Relaxed) as f64 / elapsed,
        failed.load(Ordering::Relaxed),
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let options = match options() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            std::process::exit(2);
        }
    };
    let mut grpc = Vec::new();
    for _ in 0..options.grpc_connections {
        let channel = match Endpoint::from_shared(options.grpc.clone()) {
            Ok(endpoint) => endpoint.connect().await,
            Err(error) => {
                eprintln!("error: --grpc {}: {error}", options.grpc);
                std::process::exit(2);
            }
        };
        match channel {
            Ok(channel) => grpc.push(MatchingClient::new(channel)),
            Err(error) => {
                eprintln!("error: cannot connect to {}: {error}", options.grpc);
                std::process::exit(1);
            }
        }
    }
    let rest = match reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            eprintln!("error: HTTP client: {error}");
            std::process::exit(1);
        }
    };
    println!(
        "| read | transport | req/s (median of {}) | runs | errors |",
        options.runs
    );
    println!("|---|---|---:|---|---:|");
    for (read, name) in [
        (
            Read::OneMatch,
            "one match (`GetMatch` / `GET /api/v1/matches/{id}`)",
        ),
        (
            Read::BusinessMatches,
            "a business's matches, 20 (`ListMatches` / `GET /api/v1/businesses/{id}/matches?limit=20`)",
        ),
    ] {
        let mut rates = [Vec::new(), Vec::new()];
        let mut errors = [0, 0];
        for _ in 0..options.runs {
            for (slot, transport) in [(0, Transport::Grpc), (1, Transport::Rest)] {
                let (rate, failed) = run(&options, transport, read, &grpc, &rest).await;
                rates[slot].push(rate);
                errors[slot] += failed;
            }
        }
        for (slot, transport) in [(0, "gRPC"), (1, "REST")] {
            let runs: Vec<String> = rates[slot].iter().map(|r| format!("{r:.0}")).collect();
            println!(
                "| {name} | {transport} | {:.0} | {} | {} |",
                median(rates[slot].clone()),
                runs.join(", "),
                errors[slot]
            );
        }
    }
}
