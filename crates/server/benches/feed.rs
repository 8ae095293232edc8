//! Live feed benchmark (`scripts/bench-feed`): latency from a write to its event at WebSocket
//! subscribers, and the server memory each subscriber costs, with 1, 1,000 and 10,000 subscribers
//! on one instance, all on loopback.
//!
//! It starts the real `symbiont serve` (embedded store and bus, rate limits off) on a free port,
//! signs in, and creates one business with a site. For each subscriber count it opens that many
//! WebSocket connections (tokio-tungstenite, 256 handshakes at a time), each subscribed to the
//! business; reads the server's resident memory (`/proc/<pid>/status`) before and after; then makes
//! `FEED_BENCH_WRITES` writes (`POST /api/v1/flows`, one after the other) and records when every
//! subscriber received each write's `flow.created` event. Latencies are measured from the moment
//! the write was sent and from the moment it was acknowledged (a write answers after its event was
//! applied and published on this instance, so the event can arrive before the acknowledgement: that
//! column can be negative). The server and the clients share the machine's cores.
//!
//!   FEED_BENCH_SUBSCRIBERS=1,1000,10000 FEED_BENCH_WRITES=30 cargo bench -p symbiont-server --bench feed

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::protocol::Message;

const BIN: &str = env!("CARGO_BIN_EXE_symbiont");
const EMAIL: &str = "feed-bench@symbiont.test";
const PASSWORD: &str = "feed-bench-password";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(data_dir: &std::path::Path) -> Server {
    let created = Command::new(BIN)
        .args([
            "admin",
            "create-user",
            "--admin",
            "--email",
            EMAIL,
            "--password",
            PASSWORD,
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("SYMBIONT_LOG_LEVEL", "error")
        .env_remove("SYMBIONT_CONFIG")
        .output()
        .expect("the binary runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let mut child = Command::new(BIN)
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("SYMBIONT_LOG_LEVEL", "error")
        .env("SYMBIONT_RATE_LIMIT_ENABLED", "false")
        .env("SYMBIONT_FEED_HEARTBEAT_SECS", "300")
        .env_remove("SYMBIONT_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server starts");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let base = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(address) = line.strip_prefix("listening on ") {
                    break address.to_string();
                }
            }
            _ => panic!("the server did not start"),
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, base }
}

fn resident_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// One subscriber: connects, subscribes to `business`, reports when it is ready, then reports the
/// arrival of every write's event (`bench-<n>` in the flow's description) until the socket closes.
async fn subscriber(
    url: String,
    business: String,
    ready: mpsc::UnboundedSender<()>,
    arrivals: mpsc::UnboundedSender<(usize, Instant)>,
    handshakes: Arc<Semaphore>,
) {
    let permit = handshakes.acquire_owned().await.expect("open");
    let (mut socket, _) = match tokio_tungstenite::connect_async(url.as_str()).await {
        Ok(connected) => connected,
        Err(error) => panic!("cannot connect: {error}"),
    };
    let subscribe = json!({ "type": "subscribe", "business": business }).to_string();
    socket
        .send(Message::text(subscribe))
        .await
        .expect("subscribed");
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && text.contains("\"subscribed\"")
        {
            break;
        }
    }
    drop(permit);
    let _ = ready.send(());
    while let Some(Ok(message)) = socket.next().await {
        let Message::Text(text) = message else {
            continue;
        };
        let at = Instant::now();
        if !text.starts_with("{\"type\":\"flow.created\"") {
            continue;
        }
        let Some(start) = text.find("bench-") else {
            continue;
        };
        let digits: String = text[start + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(n) = digits.parse() {
            let _ = arrivals.send((n, at));
        }
    }
}

struct Row {
    subscribers: usize,
    connect_secs: f64,
    kib_per_subscriber: f64,
    sent_p50_ms: f64,
    sent_p99_ms: f64,
    ack_p50_ms: f64,
    ack_p99_ms: f64,
    write_p50_ms: f64,
    received: usize,
    expected: usize,
}

/// The server and what the writes need.
struct Scene {
    server: Server,
    client: reqwest::Client,
    token: String,
    business: String,
    site: String,
}

async fn run(scene: &Scene, subscribers: usize, writes: usize, first_write: usize) -> Row {
    let Scene {
        server,
        client,
        token,
        business,
        site,
    } = scene;
    let pid = server.child.id();
    let url = format!("{}/api/v1/ws", server.base.replacen("http://", "ws://", 1));
    let rest_before = resident_kib(pid);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let (arrival_tx, mut arrival_rx) = mpsc::unbounded_channel();
    let handshakes = Arc::new(Semaphore::new(256));
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for _ in 0..subscribers {
        tasks.spawn(subscriber(
            url.clone(),
            business.clone(),
            ready_tx.clone(),
            arrival_tx.clone(),
            handshakes.clone(),
        ));
    }
    drop(arrival_tx);
    for _ in 0..subscribers {
        tokio::time::timeout(Duration::from_secs(120), ready_rx.recv())
            .await
            .expect("every subscriber connects within two minutes")
            .expect("a subscriber is ready");
    }
    let connect_secs = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rest_after = resident_kib(pid);

    let mut sent_at = Vec::with_capacity(writes);
    let mut acked_at = Vec::with_capacity(writes);
    let mut write_ms = Vec::with_capacity(writes);
    for i in 0..writes {
        let n = first_write + i;
        let body = json!({
            "site_id": site, "direction": "offer", "category": "heat.low_temp",
            "description": format!("bench-{n}"),
            "quality": { "temperature_c": 80.0 }, "quantity": { "value": 100, "unit": "kW" },
        });
        let sent = Instant::now();
        let answer = client
            .post(format!("{}/api/v1/flows", server.base))
            .bearer_auth(token.as_str())
            .json(&body)
            .send()
            .await
            .expect("the write is answered");
        assert_eq!(answer.status(), 201, "{:?}", answer.text().await);
        let acked = Instant::now();
        sent_at.push(sent);
        acked_at.push(acked);
        write_ms.push((acked - sent).as_secs_f64() * 1e3);
        // Spaced, so each write's fan-out is measured on its own.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let expected = subscribers * writes;
    let mut from_sent = Vec::with_capacity(expected);
    let mut from_ack = Vec::with_capacity(expected);
    let deadline = Instant::now() + Duration::from_secs(30);
    while from_sent.len() < expected {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, arrival_rx.recv()).await {
            Ok(Some((n, at))) if n >= first_write && n < first_write + writes => {
                let i = n - first_write;
                from_sent.push((at - sent_at[i]).as_secs_f64() * 1e3);
                from_ack.push(if at >= acked_at[i] {
                    (at - acked_at[i]).as_secs_f64() * 1e3
                } else {
                    -((acked_at[i] - at).as_secs_f64() * 1e3)
                });
            }
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    // Let the server notice the closed connections before the next round measures its memory.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sort = |v: &mut Vec<f64>| v.sort_by(f64::total_cmp);
    sort(&mut from_sent);
    sort(&mut from_ack);
    sort(&mut write_ms);
    Row {
        subscribers,
        connect_secs,
        kib_per_subscriber: rest_after.saturating_sub(rest_before) as f64 / subscribers as f64,
        sent_p50_ms: percentile(&from_sent, 50.0),
        sent_p99_ms: percentile(&from_sent, 99.0),
        ack_p50_ms: percentile(&from_ack, 50.0),
        ack_p99_ms: percentile(&from_ack, 99.0),
        write_p50_ms: percentile(&write_ms, 50.0),
        received: from_sent.len(),
        expected,
    }
}

fn main() {
    let counts: Vec<usize> = std::env::var("FEED_BENCH_SUBSCRIBERS")
        .unwrap_or_else(|_| "1,1000,10000".into())
        .split(',')
        .filter_map(|c| c.trim().parse().ok())
        .collect();
    let writes: usize = std::env::var("FEED_BENCH_WRITES")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(30);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start_server(&dir.path().join("data"));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let client = reqwest::Client::new();
        let login: Value = client
            .post(format!("{}/api/v1/auth/login", server.base))
            .json(&json!({ "email": EMAIL, "password": PASSWORD }))
            .send()
            .await
            .expect("login answered")
            .json()
            .await
            .expect("JSON");
        let token = login["access_token"].as_str().expect("a token").to_string();
        let post = |path: String, body: Value| {
            let client = client.clone();
            let token = token.clone();
            let base = server.base.clone();
            async move {
                let created: Value = client
                    .post(format!("{base}{path}"))
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("answered")
                    .json()
                    .await
                    .expect("JSON");
                created["id"].as_str().expect("an id").to_string()
            }
        };
        let business = post(
            "/api/v1/businesses".into(),
            json!({ "name": "Bench Works", "industry": "C11.05", "contact": { "email": "bench@example.com" } }),
        )
        .await;
        let site = post(
            format!("/api/v1/businesses/{business}/sites"),
            json!({ "name": "Main", "address": "Hafenstraße 1", "location": { "lat": 51.3, "lon": 7.1 } }),
        )
        .await;
        println!(
            "| subscribers | connect all (s) | write → event p50 (ms) | write → event p99 (ms) | ack → event p50 (ms) | ack → event p99 (ms) | write answered p50 (ms) | server memory per subscriber (KiB) | events received |"
        );
        println!("|---|---|---|---|---|---|---|---|---|");
        let scene = Scene {
            server,
            client,
            token,
            business,
            site,
        };
        let mut first_write = 0;
        for subscribers in counts {
            let row = run(&scene, subscribers, writes, first_write).await;
            first_write += writes;
            println!(
                "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.1} | {}/{} |",
                row.subscribers,
                row.connect_secs,
                row.sent_p50_ms,
                row.sent_p99_ms,
                row.ack_p50_ms,
                row.ack_p99_ms,
                row.write_p50_ms,
                row.kib_per_subscriber,
                row.received,
                row.expected,
            );
        }
    });
}
